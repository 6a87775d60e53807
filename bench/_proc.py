"""What a process uses, read from Linux's /proc: memory now and at its peak, CPU time so far.

Not a benchmark itself (`make bench` skips the `_` files): the scripts use it.
"""

from __future__ import annotations

import os
from pathlib import Path


def status_mb(name: str) -> float:
    """A size line of /proc/self/status (VmRSS, VmHWM...) in MB; 0.0 if it has none."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mb() -> float:
    """This process's resident set size now (VmRSS), in MB."""
    return status_mb("VmRSS")


def peak_rss_mb() -> float:
    """The largest resident set size this process has had (VmHWM, in MB). Not ru_maxrss: a
    spawned process inherits its parent's figure there through fork and exec."""
    return status_mb("VmHWM")


def cpu_seconds(pid: int | str) -> float:
    """CPU time (user + system) a process has used so far, or 0.0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU time of every PostgreSQL process on this machine (a backend that exits within a
    round takes its share with it, so this is a lower bound)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                total += cpu_seconds(entry.name)
        except OSError:
            continue
    return total


if __name__ == "__main__":
    print("bench/_proc.py holds shared helpers for the benchmarks; nothing to run.")
