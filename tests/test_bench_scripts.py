"""The benchmark scripts start: each answers --help, and bench/csv.py never hides the standard
library's csv module from the portal's code they import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("[!_]*.py"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_benchmark_answers_help(script):
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_with_bench_first_on_the_path_csv_is_the_standard_librarys():
    # A script's own folder comes first on sys.path, as bench/ does for every benchmark.
    probe = (
        f"import sys; sys.path.insert(0, {str(BENCH)!r}); import _common; "
        "from portal.services import consent_csv; import csv; "
        "print(csv.__file__, hasattr(csv, 'field_size_limit'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=BENCH
    )
    assert done.returncode == 0, done.stderr
    where, has_limit = done.stdout.split()
    assert Path(where).parent != BENCH and has_limit == "True"
