"""What the benchmarks share on the command line and in their printed lines: the parser built
from a table of options, the checks' verdict word, excerpts of a child's log.

Not a benchmark itself (`make bench` skips the `_` files): the scripts use it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _common  # noqa: F401  (first: it keeps bench/csv.py from shadowing the csv module)


def option(name: str, default, help: str, **extra) -> tuple[str, dict]:
    """An option for parser(): typed like its default when that is a number, else text."""
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        extra.setdefault("type", type(default))
    return name, {"default": default, "help": help, **extra}


def flag(name: str, help: str) -> tuple[str, dict]:
    """An on/off option for parser(), off unless given."""
    return name, {"action": "store_true", "help": help}


def parser(doc: str, options, epilog: str | None = None) -> argparse.ArgumentParser:
    """A benchmark's parser: its docstring's first paragraph, `options` (from option() and
    flag()) in order, each with its default shown in --help, then `epilog`."""
    made = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog=epilog,
    )
    for name, settings in options:
        made.add_argument(name, **settings)
    return made


def verdict(ok: bool) -> str:
    """The word that ends a benchmark's checks line."""
    return "OK" if ok else "FAILED"


def log_lines(log: Path, words: tuple[str, ...] = ()) -> list[str]:
    """The log's non-blank lines, or with `words` only those holding one of them."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return [line for line in lines if any(w in line for w in words)] if words else lines


def show_tail(log: Path, label: str, lines: int = 15) -> None:
    """The end of a child's log on stderr, to explain a failure (nothing if it has none)."""
    if log.exists():
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print(f"{label} log, last lines:\n  " + "\n  ".join(tail), file=sys.stderr)


if __name__ == "__main__":
    print("bench/_cli.py holds shared helpers for the benchmarks; nothing to run.")
