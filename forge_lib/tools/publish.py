"""Hand-outs and a website made from the course notebooks.

    python -m forge_lib.tools.publish student OUT_DIR   # notebooks for learners, solutions removed
    python -m forge_lib.tools.publish site OUT_DIR      # the course website, teacher and student editions
    python -m forge_lib.tools.publish workshop          # refresh the timing table in WORKSHOP.md

Student edition: every cell tagged `solution` becomes a stub, the function the task asks for
with a body that raises NotImplementedError (nbgrader's convention), so "Run All" runs to the
end and each self-check answers "Not yet: define ..."; the outputs of the exercise cells (the
stubs and the self-check cells that call `fl.check.`) are cleared. Every other cell is copied
unchanged, outputs included, so a learner sees the lesson's numbers and plots before running
anything.

Site: forge_lib.tools.site builds the course with Sphinx, myst-nb and sphinx-book-theme from
the executed notebooks (never re-run), as OUT_DIR/teacher/ and OUT_DIR/student/ with
OUT_DIR/index.html linking them; math by a local MathJax 3, nothing fetched.
"""

from __future__ import annotations

import ast
import copy
import math
import re
import sys
from pathlib import Path

import nbformat

__all__ = ["notebook_paths", "notebook_title", "recorded_run_time", "run_time_text",
           "replace_between", "student_edition", "write_student_edition",
           "reading_minutes", "workshop_slot", "build_site", "workshop_table",
           "write_workshop_table"]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
WORKSHOP = ROOT / "WORKSHOP.md"
SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"
SELF_CHECK = "fl.check."
TABLE_START, TABLE_END = "<!-- workshop:start -->", "<!-- workshop:end -->"


# --- Reading the notebooks ---------------------------------------------------------------------

def notebook_paths(folder: str | Path = NOTEBOOK_DIR) -> list[Path]:
    """The course notebooks NN_topic.ipynb in `folder`, in reading order.

    >>> [p.name for p in notebook_paths()][:1]
    ['00_start_here.ipynb']
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"notebook_paths: expected a folder of NN_topic.ipynb notebooks, "
                                f"got {str(folder)!r}, which is not a folder.")
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def notebook_title(nb: nbformat.NotebookNode) -> str:
    """The title: the first line of the first cell, without its leading '# '.

    >>> notebook_title(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Hi\\ntext")]))
    'Hi'
    """
    if not nb.cells or nb.cells[0].cell_type != "markdown" or not nb.cells[0].source.startswith("# "):
        raise ValueError("notebook_title: expected the first cell to be markdown starting with "
                         "'# <title>' (the course template), got something else.")
    return nb.cells[0].source.splitlines()[0][2:].strip()


def recorded_run_time(nb: nbformat.NotebookNode) -> float | None:
    """The wall time in seconds of the notebook's last run by nbtools, or None if never timed."""
    return nb.metadata.get("forge", {}).get("run_time_s")


def run_time_text(nb: nbformat.NotebookNode) -> str:
    """The recorded run time as the tables show it: "12 s", or "not measured"."""
    seconds = recorded_run_time(nb)
    return f"{seconds:.0f} s" if seconds is not None else "not measured"


def replace_between(text: str, start: str, end: str, body: str, *, where: str) -> str:
    """`text` with what lies between the markers `start` and `end` replaced by `body`.

    >>> print(replace_between("a <s> old <e> b", "<s>", "<e>", "new", where="x"))
    a <s>
    new
    <e> b
    """
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"replace_between: {where} must hold the markers {start} ... {end} "
                         f"exactly once each, found {text.count(start)} and {text.count(end)}.")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{body}\n{end}{tail}"


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _is_self_check(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and SELF_CHECK in cell.source


# --- Student edition ---------------------------------------------------------------------------

def _stub_definitions(source: str, label: str) -> list[str]:
    """The solution's top-level functions as stubs that raise NotImplementedError (nbgrader's
    convention: running the cell works, calling the function says it is not written yet); when
    it defines no function, its variables set to None. The demo lines after a function are
    left out: they call the function, and would raise before the self-check could answer."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    functions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if functions:
        return [f"def {node.name}({ast.unparse(node.args)}):\n"
                f"    raise NotImplementedError(\"{label}: replace this line with your code\")\n"
                for node in functions]
    variables = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        variables += [f"{t.id} = None  # replace None with your answer\n"
                      for t in targets if isinstance(t, ast.Name)]
    return variables


def _exercise_label(cells: list[nbformat.NotebookNode], index: int) -> str:
    """'Exercise 2' when the nearest markdown cell above names one, else 'Exercise'."""
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            found = re.search(r"Exercise\s+(\d+)", cell.source)
            return f"Exercise {found.group(1)}" if found else "Exercise"
    return "Exercise"


def _stub_source(label: str, solution: str) -> str:
    definitions = _stub_definitions(solution, label)
    if not definitions:
        return (f"# {label}: write your answer here, as the task above asks.\n"
                f"# Then run the self-check cell below; it prints 'Correct' or a hint.\n")
    return (f"# {label}: replace the body below with your answer, as the task above asks.\n"
            f"# Then run the self-check cell below; it prints 'Correct' or a hint.\n"
            + "\n\n".join(definitions))


def student_edition(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` for learners: solution cells emptied to a one-comment exercise cell, the
    outputs of exercise cells (solutions and self-checks) cleared, every other cell unchanged.

    >>> v4 = nbformat.v4
    >>> nb = v4.new_notebook(cells=[v4.new_markdown_cell("**Exercise 1.** Write f."),
    ...     v4.new_code_cell("def f(x):\\n    return 2 * x", metadata={"tags": ["solution"]}),
    ...     v4.new_code_cell("fl.check.double(f)")])
    >>> print(student_edition(nb).cells[1].source)
    # Exercise 1: replace the body below with your answer, as the task above asks.
    # Then run the self-check cell below; it prints 'Correct' or a hint.
    def f(x):
        raise NotImplementedError("Exercise 1: replace this line with your code")
    <BLANKLINE>
    """
    out = copy.deepcopy(nb)
    for index, cell in enumerate(out.cells):
        if SOLUTION_TAG in _tags(cell):
            if cell.cell_type != "code":
                raise ValueError(f"student_edition: cell {index} is tagged {SOLUTION_TAG!r} but is "
                                 f"{cell.cell_type}; only code cells hold solutions.")
            tags = [t for t in _tags(cell) if t != SOLUTION_TAG] + [EXERCISE_TAG]
            cell.source = _stub_source(_exercise_label(out.cells, index), cell.source)
            cell.metadata["tags"] = tags
        if cell.cell_type == "code" and (EXERCISE_TAG in _tags(cell) or _is_self_check(cell)):
            cell.outputs, cell.execution_count = [], None
    out.metadata.setdefault("forge", {})["edition"] = "student"
    nbformat.validate(out)
    return out


def _check_out_dir(out_dir: str | Path) -> Path:
    out = Path(out_dir).resolve()
    if out == NOTEBOOK_DIR.resolve() or out == ROOT.resolve():
        raise ValueError(f"publish: OUT_DIR must be a new folder, not {str(out_dir)!r}: writing "
                         f"there would overwrite the course itself. Try `student/` or `site/`.")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_student_edition(out_dir: str | Path, notebooks: list[Path] | None = None) -> list[Path]:
    """Write the student edition of every notebook (or of `notebooks`) into `out_dir`.

    >>> import tempfile
    >>> [p.name for p in write_student_edition(tempfile.mkdtemp())][:1]
    ['00_start_here.ipynb']
    """
    out = _check_out_dir(out_dir)
    written = []
    for path in notebook_paths() if notebooks is None else [Path(p) for p in notebooks]:
        target = out / path.name
        nbformat.write(student_edition(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


# --- Reading time and the workshop table -------------------------------------------------------

WORDS_PER_MINUTE_TEXT = 180  # explanatory prose, read closely
WORDS_PER_MINUTE_CODE = 60   # code is read token by token
MINUTES_PER_FIGURE = 0.5


def reading_minutes(nb: nbformat.NotebookNode) -> int:
    """Estimated minutes to read a notebook closely: prose at 180 words a minute, code at 60,
    half a minute a figure; rounded up. Outputs other than figures are counted as code.

    >>> v4 = nbformat.v4
    >>> reading_minutes(v4.new_notebook(cells=[v4.new_markdown_cell("word " * 360)]))
    2
    """
    text = code = figures = 0
    for cell in nb.cells:
        words = len(cell.source.split())
        if cell.cell_type == "markdown":
            text += words
        elif cell.cell_type == "code":
            code += words
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                if any(k.startswith("image/") for k in data):
                    figures += 1
                code += len(str(output.get("text", data.get("text/plain", ""))).split())
    minutes = text / WORDS_PER_MINUTE_TEXT + code / WORDS_PER_MINUTE_CODE + figures * MINUTES_PER_FIGURE
    return max(1, math.ceil(minutes))


def _exercise_count(nb: nbformat.NotebookNode) -> int:
    return sum(SOLUTION_TAG in _tags(c) for c in nb.cells)


MINUTES_PER_EXERCISE = 5


def workshop_slot(nb: nbformat.NotebookNode) -> int:
    """Minutes to plan for a notebook in a workshop: reading, 5 a exercise and the run time,
    rounded up to 5 minutes.

    >>> workshop_slot(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("word " * 360)]))
    5
    """
    seconds = recorded_run_time(nb) or 0
    minutes = reading_minutes(nb) + MINUTES_PER_EXERCISE * _exercise_count(nb) + seconds / 60
    return 5 * math.ceil(minutes / 5)


def workshop_table(notebooks: list[Path] | None = None) -> str:
    """WORKSHOP.md's table: run time (measured, from the notebook's metadata), reading time
    (estimated by reading_minutes), exercises and the slot to plan (workshop_slot).

    >>> workshop_table().splitlines()[0]
    '| # | notebook | run time | reading time | exercises | slot |'
    """
    rows = ["| # | notebook | run time | reading time | exercises | slot |",
            "|---|---|---|---|---|---|"]
    for path in notebook_paths() if notebooks is None else notebooks:
        nb = nbformat.read(path, as_version=4)
        rows.append(f"| {path.name[:2]} | [{notebook_title(nb)}](notebooks/{path.name}) | "
                    f"{run_time_text(nb)} | "
                    f"{reading_minutes(nb)} min | {_exercise_count(nb)} | {workshop_slot(nb)} min |")
    return "\n".join(rows)


def write_workshop_table(path: Path = WORKSHOP) -> None:
    """Replace the table between the workshop markers of WORKSHOP.md with a fresh one."""
    path.write_text(replace_between(path.read_text(), TABLE_START, TABLE_END, workshop_table(),
                                    where=path.name))


# --- The static site ---------------------------------------------------------------------------

def build_site(out_dir: str | Path, notebooks: list[Path] | None = None) -> list[Path]:
    """The course website, both editions (Sphinx + myst-nb): see forge_lib.tools.site.build_site.
    Returns the index pages, out_dir/index.html first."""
    from forge_lib.tools import site  # imported on use: it imports this module, and Sphinx

    return site.build_site(out_dir, notebooks)


# --- Command line ------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    if argv[:1] == ["workshop"] and len(argv) == 1:
        write_workshop_table()
        print(f"rewrote the table in {WORKSHOP.name}")
        return 0
    if len(argv) != 2 or argv[0] not in ("student", "site"):
        print(__doc__, file=sys.stderr)
        return 2
    command, out_dir = argv
    if command == "student":
        written = write_student_edition(out_dir)
        print(f"wrote {len(written)} student notebooks to {out_dir}")
    else:
        landing, *editions = build_site(out_dir)
        print(f"wrote the site to {out_dir}: open {landing} ({len(editions)} editions: "
              f"{', '.join(p.parent.name for p in editions)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
