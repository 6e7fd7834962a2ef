"""The course notebooks as files: where they are, their titles and recorded run times, an
estimate of their reading time, and the student edition (solutions removed).

    >>> from forge_lib.tools import notebooks
    >>> notebooks.notebook_paths()[0].name
    '00_start_here.ipynb'

This is the bottom of forge_lib.tools: site.py (the website) and publish.py (the command line,
WORKSHOP.md's table and agendas) build on it, and it imports neither, so the tools import in one
direction (tests/test_layout.py checks that no forge_lib modules import each other in a cycle).

Student edition: every cell tagged `solution` becomes a stub, the function the task asks for
with a body that raises NotImplementedError (nbgrader's convention), so "Run All" runs to the
end and each self-check answers "Not yet: define ..."; the outputs of the exercise cells (the
stubs and the self-check cells that call `fl.check.`) are cleared. Every other cell is copied
unchanged, outputs included, so a learner sees the lesson's numbers and plots before running
anything.
"""

from __future__ import annotations

import ast
import copy
import math
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path

import nbformat

from forge_lib.metrics import validation

__all__ = ["ROOT", "NOTEBOOK_DIR", "SOLUTION_TAG", "EXERCISE_TAG", "notebook_paths",
           "notebook_title", "recorded_run_time", "run_time_text", "replace_between",
           "student_edition", "write_student_edition", "check_out_dir", "reading_minutes",
           "exercise_count"]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
SOLUTION_TAG = "solution"
EXERCISE_TAG = "exercise"
SELF_CHECK = "fl.check."


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
    out = copy.deepcopy(_notebook_node(nb, "nb"))
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


def _notebook_node(nb: object, name: str) -> nbformat.NotebookNode:
    """`nb` if it is a notebook as nbformat reads it; a TypeError that says how to get one if not."""
    if isinstance(nb, nbformat.NotebookNode):
        return nb
    given = "a plain dict" if isinstance(nb, Mapping) else type(nb).__name__
    fix = ("convert it with nbformat.from_dict(...)" if isinstance(nb, Mapping)
           else "read one with nbformat.read(path, as_version=4)")
    raise TypeError(f"{name}: expected a notebook (an nbformat.NotebookNode), got {given}; {fix}.")


def check_out_dir(out_dir: object) -> Path:
    """`out_dir` as a folder to write into, created if missing; never the course itself.

    >>> check_out_dir(ROOT)
    Traceback (most recent call last):
    ...
    ValueError: out_dir: expected a new folder, got ...: writing there would overwrite the course...
    """
    out = validation.path(out_dir, "out_dir").resolve()
    if out == NOTEBOOK_DIR.resolve() or out == ROOT.resolve():
        raise ValueError(f"out_dir: expected a new folder, got {str(out_dir)!r}: writing "
                         f"there would overwrite the course itself. Try `student/` or `site/`.")
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir: expected a folder (new or existing), got {str(out_dir)!r}, "
                         f"which is a file. Name a folder, e.g. `student/`.")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _notebook_list(notebooks: object) -> list[Path]:
    """The `notebooks` argument as a list of paths: a list or tuple of str/Path, or None (all)."""
    if notebooks is None:
        return notebook_paths()
    if not isinstance(notebooks, (list, tuple)):
        given = f"a single path {str(notebooks)!r}" if isinstance(notebooks, (str, os.PathLike)) \
            else type(notebooks).__name__
        raise TypeError(f"notebooks: expected a list of notebook paths (or None for the whole "
                        f"course), got {given}. Wrap one notebook in a list: [path].")
    return [validation.path(p, f"notebooks[{i}]") for i, p in enumerate(notebooks)]


def _read_notebook(path: Path, name: str) -> nbformat.NotebookNode:
    """The notebook at `path`; a ValueError naming the file when it is empty or not a notebook."""
    if not path.is_file():
        raise ValueError(f"{name}: expected a notebook file, got {str(path)!r}, which "
                         f"{'is a folder' if path.is_dir() else 'does not exist'}.")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises NotJSONError, a bare ValueError or KeyError
        what = "an empty file" if path.stat().st_size == 0 else f"not a notebook ({error})"
        raise ValueError(f"{name}: expected a Jupyter notebook (.ipynb JSON), got {str(path)!r}: "
                         f"{what}.") from None


def _write_replacing(nb: nbformat.NotebookNode, target: Path) -> None:
    """Write `nb` to `target` through a new file renamed over it: a symlink named like the
    notebook is replaced, never written through (its target, perhaps the course's own notebook,
    is left alone), and a reader never sees half a file."""
    if target.is_dir() and not target.is_symlink():
        raise ValueError(f"out_dir: expected to write the notebook {target.name}, but "
                         f"{str(target)!r} is a folder. Remove it or choose another out_dir.")
    # os.open with 0o666 lets the kernel apply the umask (mkstemp would make it 0o600).
    tmp = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            nbformat.write(nb, handle)
        os.replace(tmp, target)  # rename(2) replaces the link itself, not what it points to
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_student_edition(out_dir: str | Path, notebooks: list[Path] | None = None) -> list[Path]:
    """Write the student edition of every notebook (or of the list `notebooks`) into `out_dir`.
    A file or symlink already there under a notebook's name is replaced, never written through.

    >>> import tempfile
    >>> [p.name for p in write_student_edition(tempfile.mkdtemp())][:1]
    ['00_start_here.ipynb']
    """
    paths = _notebook_list(notebooks)
    out = check_out_dir(out_dir)
    written = []
    for index, path in enumerate(paths):
        nb = _read_notebook(path, f"notebooks[{index}]" if notebooks is not None else "notebook")
        target = out / path.name
        _write_replacing(student_edition(nb), target)
        written.append(target)
    return written


# --- Reading time -------------------------------------------------------

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


def exercise_count(nb: nbformat.NotebookNode) -> int:
    """The number of exercises: cells tagged `solution`."""
    return sum(SOLUTION_TAG in _tags(c) for c in nb.cells)
