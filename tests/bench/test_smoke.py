"""`python -m bench --smoke`: every benchmark runs (small) and the table has its rows."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = (
    "a. cost per 1M tasks",
    "b. cold start",
    "c. local throughput",
    "d. worker batch",
    "e. stream latency",
    "f. finishing a large batch",
    "g. long task",
    "h. idempotent submits",
    "i. start estimates",
    "j. provider batch",
    "k. density",
)

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(300)
def test_every_benchmark_runs_and_prints_its_row():
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout[done.stdout.index("asyncinfer benchmarks") :]
    for row in ROWS:
        line = next(line for line in table.splitlines() if line.startswith(row))
        assert re.search(r"\s(met|MISSED)\s", line), line
        assert "[" in line and "]" in line, "each row shows its target"
    assert f"{len(ROWS)} rows in" in table
