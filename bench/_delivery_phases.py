"""The two timed sides of bench/delivery.py, run in turns: the portal's worker processes
delivering due cases to a loopback sink, and a bare smtplib loop resending the same messages.

Not a benchmark itself (`make bench` runs it and only gets a note): delivery.py uses it.
"""

from __future__ import annotations

import queue
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common as common
from _proc import cpu_seconds, peak_rss_mb, postgres_cpu, rss_mb


# --- results ---------------------------------------------------------------------------------


@dataclass
class Phase:
    """What one side sent, how long its sends took, and what its sink received."""

    label: str
    seconds: float = 0.0
    received: int = 0
    recipients: set = field(default_factory=set)
    outcomes: dict = field(default_factory=dict)
    rounds: list = field(default_factory=list)  # (emails, seconds) per round
    samples: list = field(default_factory=list)  # (emails so far, VmRSS MB), largest worker
    signed: int = 0  # messages the sink received with a DKIM signature
    stripe_calls: int = 0  # the portal's send-time Stripe calls, and their wall time
    stripe_seconds: float = 0.0
    worker_peak: float = 0.0  # the largest worker's VmHWM, MB
    cpu: dict = field(default_factory=dict)  # CPU seconds while timed: workers, sandbox, sink...

    @property
    def per_s(self) -> float:
        return self.received / self.seconds if self.seconds else 0.0

    def add(self, name: str, value: float) -> None:
        self.cpu[name] = self.cpu.get(name, 0.0) + value


def harvest(sink, phase: Phase, spool=None) -> int:
    """Count (and spool, length-prefixed) what the sink received so far, and take it out of the
    sink's list so the list does not grow with N. Safe while the sink is receiving: the slice
    taken and the slice deleted are the same first `n` entries; later ones stay for next time."""
    n = len(sink.messages)
    batch = sink.messages[:n]
    del sink.messages[:n]
    for received in batch:
        phase.recipients.update(received.rcpt_tos)
        if received.data.startswith(b"DKIM-Signature:"):
            phase.signed += 1
        if spool is not None:
            spool.write(struct.pack("!I", len(received.data)) + received.data)
    phase.received += n
    return n


# --- the portal side: worker processes -------------------------------------------------------


class StripeTimer:
    """Adds up the wall time of the gateway's two send-time calls (re-check and line items) in
    the process that makes it."""

    NAMES = ("later_session_status", "line_items")

    def __init__(self):
        from portal.services import stripe_gateway

        self.seconds, self.calls = 0.0, 0
        for name in self.NAMES:
            setattr(stripe_gateway, name, self._timed(getattr(stripe_gateway, name)))

    def _timed(self, original):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        return timed


@dataclass
class _Life:
    """A worker's emails so far, and its VmRSS every `every` of them (from its start)."""

    every: int
    done: int = 0
    samples: list = field(default_factory=lambda: [(0, rss_mb())])

    def count(self) -> None:
        self.done += 1
        if self.done % self.every == 0:
            self.samples.append((self.done, rss_mb()))


def _run_share(app, process, share: list[int], life: _Life, timer, profiler) -> dict:
    """`process` each case of `share` in its own app context, like RQ jobs; the round report:
    outcomes, the worker's CPU time and its Stripe calls (count, wall time)."""
    outcomes, cpu, calls, seconds = {}, time.process_time(), timer.calls, timer.seconds
    if profiler is not None:
        profiler.enable()
    for case_id in share:
        with app.app_context():
            outcome = process(case_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        life.count()
    if profiler is not None:
        profiler.disable()
    stripe = (timer.calls - calls, timer.seconds - seconds)
    return {"outcomes": outcomes, "cpu": time.process_time() - cpu, "stripe": stripe}


def worker_main(env: dict, every: int, tasks, results, profile_path: str | None) -> None:
    """One worker process, started fresh like `flask worker`: for each list of case ids it is
    given, an app context per case around `recovery.process`; then its round report. RSS is
    sampled every `every` emails over its whole life."""
    import cProfile

    from portal.mail import delivery
    from portal.services import recovery

    app, timer = common.make_app(env), StripeTimer()
    profiler = cProfile.Profile() if profile_path else None
    life = _Life(every)
    results.put(("ready", None))
    while (share := tasks.get()) is not None:
        results.put(("round", _run_share(app, recovery.process, share, life, timer, profiler)))
    delivery.close_all()  # QUIT on the worker's one connection
    if profiler is not None:
        profiler.dump_stats(profile_path)
    samples = life.samples + [(life.done, rss_mb())]
    results.put(("done", {"samples": samples, "peak": peak_rss_mb()}))


class Workers:
    """`count` worker processes kept for every round; the sink stays in this process."""

    def __init__(self, env: dict, count: int, every: int, profile_dir: Path | None):
        import multiprocessing

        spawn = multiprocessing.get_context("spawn")
        self.results = spawn.Queue()
        self.tasks = [spawn.Queue() for _ in range(count)]
        self.profiles = (
            [str(profile_dir / f"worker-{i}.prof") for i in range(count)] if profile_dir else []
        )
        self.procs = [
            spawn.Process(
                target=worker_main,
                args=(
                    env,
                    every,
                    tasks,
                    self.results,
                    self.profiles[i] if self.profiles else None,
                ),
            )
            for i, tasks in enumerate(self.tasks)
        ]
        for proc in self.procs:
            proc.start()
        self._reports("ready", timeout=120)

    def run(self, case_ids: list[int], phase: Phase, sink, spool, sandbox_pid: int) -> None:
        """Deal `case_ids` to the workers in turn (as they would take queued jobs) and time them
        from the start until the last one reports; harvest the sink meanwhile."""
        before = (cpu_seconds(sandbox_pid), time.process_time(), postgres_cpu())
        received, started = phase.received, time.perf_counter()
        for i, tasks in enumerate(self.tasks):
            tasks.put(case_ids[i :: len(self.tasks)])
        reports = self._reports("round", sink=sink, phase=phase, spool=spool)
        seconds = time.perf_counter() - started
        harvest(sink, phase, spool)
        after = (cpu_seconds(sandbox_pid), time.process_time(), postgres_cpu())
        phase.seconds += seconds
        phase.rounds.append((phase.received - received, seconds))
        for name, used in zip(
            ("sandbox", "sink", "postgres"), (b - a for a, b in zip(before, after))
        ):
            phase.add(name, used)
        for report in reports:
            for outcome, n in report["outcomes"].items():
                phase.outcomes[outcome] = phase.outcomes.get(outcome, 0) + n
            phase.add("workers", report["cpu"])
            phase.stripe_calls += report["stripe"][0]
            phase.stripe_seconds += report["stripe"][1]

    def close(self, phase: Phase) -> None:
        """Stop the workers; their RSS samples (the largest worker at each count) and peaks."""
        for tasks in self.tasks:
            tasks.put(None)
        by_count: dict[int, float] = {}
        for report in self._reports("done"):
            for count, mb in report["samples"]:
                by_count[count] = max(by_count.get(count, 0.0), mb)
            phase.worker_peak = max(phase.worker_peak, report["peak"])
        phase.samples = sorted(by_count.items())
        self.kill()

    def kill(self) -> None:
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()

    def _reports(self, kind: str, timeout: float = 120, sink=None, phase=None, spool=None) -> list:
        """One report of `kind` from every worker (harvesting `sink` while waiting); a worker
        that dies, or `timeout` seconds without a report or a message, fails the run."""
        reports, deadline = [], time.monotonic() + timeout
        while len(reports) < len(self.procs):
            try:
                got, report = self.results.get(timeout=0.2)
                if got != kind:
                    raise RuntimeError(f"a worker sent {got!r} while {kind!r} was awaited")
                reports.append(report)
                deadline = time.monotonic() + timeout
            except queue.Empty:
                dead = [p.exitcode for p in self.procs if p.exitcode not in (None, 0)]
                if dead or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"workers failed (exit codes {dead}) or went silent"
                    ) from None
            if sink is not None and harvest(sink, phase, spool):
                deadline = time.monotonic() + timeout  # still sending: progress, not silence
        return reports


# --- the baseline: a bare smtplib loop -------------------------------------------------------


def read_chunk(spool, count: int) -> list:
    """Up to `count` spooled messages, parsed into EmailMessage objects (not timed)."""
    from email import message_from_bytes, policy

    messages = []
    while len(messages) < count:
        head = spool.read(4)
        if len(head) < 4:
            break
        messages.append(
            message_from_bytes(spool.read(struct.unpack("!I", head)[0]), policy=policy.SMTP)
        )
    return messages


class Baseline:
    """Its own sink, kept for every round, and one smtplib connection to it per round (a
    connection left idle while the portal's round runs would be closed by the sink)."""

    def __enter__(self) -> Baseline:
        from smtp_sink import SmtpSink

        self.sink = SmtpSink().__enter__()
        return self

    def run(self, spool_path: Path, phase: Phase, chunk: int) -> None:
        """Send the spooled messages; only the send_message() calls are timed (messages are
        parsed `chunk` at a time in between, the connection is opened before)."""
        import smtplib

        received, seconds = phase.received, 0.0
        with (
            open(spool_path, "rb") as spool,
            smtplib.SMTP("127.0.0.1", self.sink.port, timeout=30) as smtp,
        ):
            smtp.ehlo()
            while messages := read_chunk(spool, chunk):
                started = time.perf_counter()
                for message in messages:
                    smtp.send_message(message)
                seconds += time.perf_counter() - started
                harvest(self.sink, phase)
        phase.seconds += seconds
        phase.rounds.append((phase.received - received, seconds))

    def __exit__(self, *exc) -> None:
        self.sink.__exit__(*exc)
