"""Execute the course notebooks in place and report their run times.

    python -m forge_lib.nbtools run notebooks/01_perplexity.ipynb   # one or more notebooks
    python -m forge_lib.nbtools run                                 # all of them, in order

A notebook is committed exactly as this leaves it: executed top to bottom in a fresh kernel,
outputs saved, execution counts in order. The wall time is printed and stored in the notebook's
metadata (`forge.run_time_s`), which is where the README's map takes its run times from.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def run_notebook(path: Path, timeout: int = 300) -> float:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    # Run from the notebooks folder, as JupyterLab and nbval do, so relative paths agree.
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - started
    nb.metadata.setdefault("forge", {})["run_time_s"] = round(elapsed, 1)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> None:
    if not argv or argv[0] != "run":
        sys.exit(__doc__)
    paths = [Path(p) for p in argv[1:]] or sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"{path.name:<40} {run_notebook(path):6.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
