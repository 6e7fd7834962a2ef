"""ruff over the library, the tests, the benchmarks and the notebooks (ruff reads .ipynb natively)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    if shutil.which("ruff") is None and subprocess.run(
            [sys.executable, "-m", "ruff", "--version"], capture_output=True).returncode != 0:
        pytest.skip("ruff is not installed (it is pinned in requirements.txt)")
    paths = ("forge_lib", "scripts", "tests", "benchmarks", "notebooks", "conftest.py")
    targets = [p for p in paths if (ROOT / p).exists()]
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *targets],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
