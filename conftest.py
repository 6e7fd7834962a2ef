"""The rounding-margin audit: every number a compared notebook cell prints is far from a rounding edge.

nbval compares printed text, and a number printed with 4 digits changes its text when a last-bit
difference (another CPU's float32 kernels) pushes it across a rounding edge: 0.0700149 prints
0.07001, 0.0700151 prints 0.07002. While pytest executes the notebooks, every kernel logs each
value that `fl.fmt` rounds (forge_lib/metrics/fmt.py, FORGE_FMT_AUDIT) and this plugin attributes the log
to the cell that printed it. A compared cell fails when one of its values lies closer to its
rounding edge than MIN_MARGIN, relative to the value; cells tagged nbval-ignore-output are
exempt, since their text is not compared.

Why 1e-5: between this CPU's native kernels and the alternate settings of README "How the
outputs are tested", the largest relative change measured for a compared float32 result was
6.8e-6 (a small softmax probability of the float32 tiny model, notebook 02); float32's epsilon
is 1.2e-7, and float64 results agree to about 1e-14. 1e-5 covers the measured noise with a
margin of 1.5x. A value printed with 4 digits sits at most 5e-5 to 5e-4 from an edge, so a few
percent of values fall below 1e-5 by chance: the audit finds them, and they are printed with
fewer digits or replaced by a stable verdict. Amplified values (a difference of nearly equal
numbers moved by 4.2e-5 in notebook 03) are printed with fewer digits from the start; the
alternate-kernel passes check that they hold.

A cell whose every printed value comes from float64 arithmetic that is not chaotic (the float64
training runs of notebooks 09-12, exact formulas) may carry the cell tag `float64-values`; its
values need a margin of FLOAT64_MARGIN = 1e-9 only: such results agree to about 1e-14 across
kernel settings (a 300-step training run included), so 1e-9 is still 1e5 times the noise.

The smallest margin of each notebook is printed at the end of the run. FORGE_FMT_AUDIT_KEEP=path
keeps every record there (notebook, cell, value, text, margin) for a closer look.

Parallel runs (the end of this file): `pytest` runs on pytest-xdist workers (pyproject's addopts,
`-n auto --dist loadfile`: every cell of a notebook on one worker, in order). Each worker keeps
its own audit log, and sends its smallest margins back to the summary. The cores are shared, not
multiplied: workers x threads per worker never exceeds the CPU count, since a kernel that starts
as many OpenMP threads as there are cores, next to another one doing the same, runs several
times slower.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from forge_lib.metrics.fmt import AUDIT_ENV

pytest_plugins = ["pytester"]  # tests/test_rounding_audit.py runs this plugin on a notebook

MIN_MARGIN = 1e-5
FLOAT64_MARGIN = 1e-9
FLOAT64_TAG = "float64-values"
_state: dict = {"log": None, "offset": 0, "smallest": {}, "kept": []}


def pytest_configure(config: pytest.Config) -> None:
    # Set before any kernel starts, so every notebook kernel inherits it.
    handle, path = tempfile.mkstemp(prefix="forge_fmt_audit_", suffix=".jsonl")
    os.close(handle)
    os.environ[AUDIT_ENV] = path
    _state["log"] = Path(path)
    _share_the_cores()


def _new_records() -> list[dict]:
    """The records the kernels appended since the last call (written and flushed per value)."""
    with _state["log"].open() as log:
        log.seek(_state["offset"])
        text = log.read()
    complete = text[:text.rfind("\n") + 1]  # a line still being written waits for the next call
    _state["offset"] += len(complete.encode())
    return [json.loads(line) for line in complete.splitlines()]


def _printed_text(item: pytest.Item) -> str:
    """The text outputs of the cell as this run produced them (nbval keeps them)."""
    parts = []
    for output in item.test_outputs or []:
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(p if isinstance(p, str) else "".join(p) for p in parts)


def _is_notebook_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "options")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    if not _is_notebook_cell(item):
        yield
        return
    _new_records()  # anything logged before this cell (unit tests, earlier cells) is not its own
    outcome = yield
    records = _new_records()
    compared = item.options["check"] and not item.options["skip"]
    notebook = Path(str(item.fspath)).name
    for record in records:
        record.update(notebook=notebook, cell=item.cell_num, compared=compared)
    if os.environ.get("FORGE_FMT_AUDIT_KEEP"):
        _state["kept"].extend(records)
    if not compared or not records or outcome.excinfo is not None:
        return
    printed = _printed_text(item)
    # Only what the cell printed is compared: a value fmt rounded for a string that was never
    # shown (a summary built but not printed) cannot change the output.
    rounded = [r for r in records if not r["exact"] and r["text"] in printed]
    if not rounded:
        return
    float64 = FLOAT64_TAG in item.cell.metadata.get("tags", [])
    worst = min(rounded, key=lambda r: r["margin"])
    worst["float64"] = float64
    if worst["margin"] < _state["smallest"].get(notebook, {"margin": 1.0})["margin"]:
        _state["smallest"][notebook] = worst
    needed = FLOAT64_MARGIN if float64 else MIN_MARGIN
    too_close = [r for r in rounded if r["margin"] < needed]
    if too_close:
        from nbval.plugin import NbCellError

        lines = "\n".join(f"  {r['value']!r} printed as {r['text']}: margin {r['margin']:.2g}"
                          for r in too_close)
        outcome.force_exception(NbCellError(
            item.cell_num,
            f"{len(too_close)} printed value(s) lie within {needed:g} (relative) of a rounding "
            f"edge, so a last-bit change on another CPU would change the text:\n{lines}\n"
            "Print fewer digits (fl.fmt(x, 3)), choose an example away from the edge, or move "
            "the value to an nbval-ignore-output cell with a stable verdict beside it.",
            item.cell.source))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker: hand the margins back
        session.config.workeroutput["forge_smallest"] = json.dumps(_state["smallest"])


@pytest.hookimpl(optionalhook=True)  # xdist's hooks: known only where xdist is installed
def pytest_testnodedown(node, error) -> None:
    """On the controller, as each worker ends: keep the smaller margin of every notebook."""
    for notebook, record in json.loads(node.workeroutput.get("forge_smallest", "{}")).items():
        if record["margin"] < _state["smallest"].get(notebook, {"margin": 1.0})["margin"]:
            _state["smallest"][notebook] = record


def pytest_terminal_summary(terminalreporter) -> None:
    smallest = _state["smallest"]
    if smallest:
        terminalreporter.section("rounding margins (smallest per notebook, compared cells)")
        for notebook, r in sorted(smallest.items()):
            kind = " (float64-values)" if r.get("float64") else ""
            terminalreporter.write_line(f"{notebook:<36} {r['margin']:.2g}  cell {r['cell']}{kind}: "
                                        f"{r['value']!r} -> {r['text']}")
    keep = os.environ.get("FORGE_FMT_AUDIT_KEEP")
    if keep:
        Path(keep).write_text("".join(json.dumps(r) + "\n" for r in _state["kept"]))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _state["log"] is not None:
        _state["log"].unlink(missing_ok=True)


# --- Parallel runs: how many workers, how many threads each ------------------------------------

MAX_WORKERS = 4  # each worker may hold a real model (notebook 17: about 1 GB); a laptop's RAM


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: as many workers as the cores allow at the threads each one is given (an
    explicit OMP_NUM_THREADS=2, the avx2 kernel pass, gets one worker on 2 cores)."""
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    return max(1, min(MAX_WORKERS, _cpus() // threads))


def _share_the_cores() -> None:
    """In a worker, unless OMP_NUM_THREADS says otherwise: its share of the cores, for the
    worker's own torch and for every notebook kernel it starts (they inherit the variable)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers and "OMP_NUM_THREADS" not in os.environ:
        import torch

        threads = max(1, _cpus() // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)
