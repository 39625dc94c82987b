"""The benchmarks still run against the code they measure: each bench script answers --help (its imports,
its arguments) in its own process, as `python bench/<name>.py` runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
# scripts a benchmark imports (no command line of their own)
HELPERS = {"world.py", "server.py", "bare.py"}


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py") if p.name not in HELPERS))
def test_bench_script_imports_and_answers_help(script: str) -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"], cwd=BENCH, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage" in out.stdout.lower()
