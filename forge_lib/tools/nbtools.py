"""Execute the course notebooks in place and report their run times.

    python -m forge_lib.tools.nbtools run notebooks/01_perplexity.ipynb   # one or more notebooks
    python -m forge_lib.tools.nbtools run                                 # all of them, in order
    python -m forge_lib.tools.nbtools map                                 # rewrite the README's map
    python -m forge_lib.tools.nbtools kernels                             # tests on other CPU kernels

A notebook is committed exactly as this leaves it: executed top to bottom in a fresh kernel,
outputs saved, execution counts in order. The wall time is printed and stored in the notebook's
metadata (`forge.run_time_s`), which is where the README's map takes its run times from.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from forge_lib.tools.notebooks import (
    NOTEBOOK_DIR,
    ROOT,
    notebook_paths,
    notebook_title,
    replace_between,
    run_time_text,
)

README = ROOT / "README.md"
RUN_TIME = re.compile(r"(\*\*Run time:\*\* )about \d+ s")
MAP_START, MAP_END = "<!-- map:start -->", "<!-- map:end -->"

# Other CPUs pick other float32 kernels; these settings make PyTorch (ATen), MKL and oneDNN do
# the same on this one, and change the thread count. "portable" is an old x86 CPU (SSE only,
# one thread) without Linux's /proc peak memory, as on macOS; "avx2" is a common laptop CPU.
KERNEL_SETTINGS = {
    "portable": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
                 "ONEDNN_MAX_CPU_ISA": "SSE41", "OMP_NUM_THREADS": "1", "FORGE_NO_PROC_PEAK": "1"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "OMP_NUM_THREADS": "2"},
}
KERNEL_TESTS = ["notebooks", "tests/test_doctests.py"]  # what depends on the kernels


def _coalesce_streams(outputs: list) -> list:
    """Join consecutive stdout (or stderr) chunks into one output: how a kernel splits a cell's
    printing depends on timing, and a busy machine would otherwise commit a different file."""
    joined = []
    for out in outputs:
        previous = joined[-1] if joined else None
        if (out.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == out.name):
            previous.text += out.text
        else:
            joined.append(out)
    return joined


def _state_run_time(nb: nbformat.NotebookNode) -> bool:
    """Make the title cell's "**Run time:** about N s" say the recorded measurement, as the map
    does (one number, two places); True if it changed."""
    stated = RUN_TIME.sub(rf"\g<1>about {run_time_text(nb)}", nb.cells[0].source, count=1)
    changed, nb.cells[0].source = stated != nb.cells[0].source, stated
    return changed


def execute(nb: nbformat.NotebookNode, folder: Path, *, timeout: int = 300,
            allow_errors: bool = False) -> nbformat.NotebookNode:
    """Run every cell of `nb` in a fresh python3 kernel started in `folder`, in place; return nb.

    allow_errors=True keeps going past a failing cell (its error output is kept), to report
    every error of a notebook at once instead of the first."""
    from nbclient import NotebookClient

    # Run from the notebook's folder, as JupyterLab and nbval do, so relative paths agree.
    # record_timing=False: per-cell timestamps would make every re-run a diff of the notebook.
    # store_widget_state=False: tqdm.auto's progress widgets would store ~35 KB of state with
    # random ids per run, and make nbconvert pages fetch the widget script from a CDN; their
    # text fallback (the finished bar) is what the file keeps.
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   store_widget_state=False, allow_errors=allow_errors,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def run_notebook(path: Path, timeout: int = 300) -> float:
    """Execute the notebook file in place, record its run time and state it in the title cell."""
    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    execute(nb, path.parent, timeout=timeout)
    elapsed = time.perf_counter() - started
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    elapsed = round(elapsed, 1)
    nb.metadata.setdefault("forge", {})["run_time_s"] = elapsed
    _state_run_time(nb)
    nbformat.write(nb, path)
    return elapsed


def notebook_map(link_folder: str = "notebooks/") -> str:
    """The map of the course: number, title (linked) and recorded run time, one row a notebook.

    Links are relative to where the map is shown: "notebooks/" from the README, "" from 00.
    """
    rows = ["| # | notebook | run time |", "|---|---|---|"]
    for path in notebook_paths(NOTEBOOK_DIR):
        nb = nbformat.read(path, as_version=4)
        rows.append(f"| {path.name[:2]} | [{notebook_title(nb)}]({link_folder}{path.name}) | "
                    f"{run_time_text(nb)} |")
    return "\n".join(rows)


def write_map() -> None:
    """Write the map into the README and into the markdown cell of 00 that holds the markers,
    and make every title cell state the run time the map shows."""
    for path in notebook_paths(NOTEBOOK_DIR):
        nb = nbformat.read(path, as_version=4)
        if _state_run_time(nb):
            nbformat.write(nb, path)

    README.write_text(replace_between(README.read_text(), MAP_START, MAP_END, notebook_map(),
                                      where="README.md"))
    start_here = next(NOTEBOOK_DIR.glob("00_*.ipynb"))
    nb = nbformat.read(start_here, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and MAP_START in c.source)
    cell.source = replace_between(cell.source, MAP_START, MAP_END, notebook_map(""),
                                  where=start_here.name)
    nbformat.write(nb, start_here)


def run_other_kernels(names: list[str]) -> int:
    """Run the notebooks and doctests under each named kernel setting; 0 when all pass."""
    failed = []
    for name in names or list(KERNEL_SETTINGS):
        settings = KERNEL_SETTINGS[name]
        print(f"== {name}: " + " ".join(f"{k}={v}" for k, v in settings.items()), flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, "-m", "pytest", "-q", *KERNEL_TESTS], cwd=ROOT,
                               env={**os.environ, **settings})
        print(f"== {name}: {'passed' if code == 0 else 'FAILED'} in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    return 1 if failed else 0


def main(argv: list[str]) -> None:
    if argv[:1] == ["map"]:
        return write_map()
    if argv[:1] == ["kernels"]:
        unknown = set(argv[1:]) - set(KERNEL_SETTINGS)
        if unknown:
            sys.exit(f"unknown kernel setting(s) {sorted(unknown)}; known: {list(KERNEL_SETTINGS)}")
        sys.exit(run_other_kernels(argv[1:]))
    if argv[:1] != ["run"]:
        sys.exit(__doc__)
    paths = [Path(p) for p in argv[1:]] or notebook_paths(NOTEBOOK_DIR)
    for path in paths:
        print(f"{path.name:<40} {run_notebook(path):6.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
