"""The benchmark scripts start and run: each answers --help, finishes a small run with its
baseline and ratio, and bench/csv.py never hides the standard library's csv module."""

from __future__ import annotations

import json
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


# Each benchmark at a small size, as `make bench` runs them: it must finish and end with one JSON
# object holding its baseline and the ratio (figures are not judged here; timings never are).
SMALL_RUNS = {
    "csv.py": (["--rows", "300"], ("copy_s", "import_ratio", "export_ratio")),
    "dashboard.py": (
        ["--sessions", "200", "--recoveries", "20", "--requests", "2", "--warmup", "0"],
        ("baseline_p95_ms", "ratio"),
    ),
    "delivery.py": (
        ["--emails", "8", "--rounds", "1", "--sample-every", "4"],
        ("baseline_per_s", "ratio"),
    ),
    "ingest.py": (
        ["--events", "40", "--rounds", "1", "--warmup", "5", "--concurrency", "2"],
        ("baseline_rps", "ratio"),
    ),
    "pipeline.py": (["--events", "60"], ("baseline_per_s", "ratio")),
}


def test_every_benchmark_has_a_small_run():
    assert sorted(SMALL_RUNS) == SCRIPTS


@pytest.mark.parametrize("script", sorted(SMALL_RUNS))
def test_each_benchmark_runs_small_and_ends_with_its_baseline_and_ratio(script):
    args, keys = SMALL_RUNS[script]
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in keys:
        assert isinstance(result[key], (int, float)) and result[key] > 0, (key, result)
