"""The student edition runs top to bottom, as a participant's "Run All" does: no cell raises, every
lesson cell works without the solutions, and every self-check answers "Not yet" (a hint, not a
traceback). WORKSHOP.md's hand-out steps are the ones tested here.

Re-executing all 17 student notebooks would repeat what the teacher run under nbval already
proves (about 7 of the suite's 14 minutes on 2 cores), so the proof is split:
- the student edition changes only exercise cells: every other cell is the teacher's, source and
  outputs, and nbval executes that cell in the teacher notebook;
- no lesson cell uses a name that only a solution defines (read from the code, conservatively:
  a name used anywhere in the cell, function bodies included), so removing the solutions cannot
  change what a lesson cell does;
- each stub and its self-check, run together, print "Not yet" and name the function;
- one student notebook really runs top to bottom in a kernel, the mechanism end to end.
"""

import ast
import contextlib
import io
import re

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

import forge_lib
from forge_lib.tools import nbtools, publish
from forge_lib.tools import notebooks as course

NOTEBOOKS = course.notebook_paths()
NAMES = [p.name for p in NOTEBOOKS]
SELF_CHECK_CALL = re.compile(r"fl\.check\.\w+\((\w+)")
END_TO_END = "01_perplexity.ipynb"  # the first notebook with exercises a participant meets


def _editions(name):
    teacher = nbformat.read(course.NOTEBOOK_DIR / name, as_version=4)
    return teacher, course.student_edition(teacher)


def _is_exercise(cell) -> bool:
    return course.EXERCISE_TAG in cell.metadata.get("tags", [])


def _python(cell) -> ast.Module:
    """The cell's code as Python (IPython's own translation of %magics and !commands)."""
    return ast.parse(TransformerManager().transform_cell(cell.source))


def _bound(tree: ast.Module) -> set[str]:
    """Names a cell binds at the notebook's top level."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            names.update(n.id for n in ast.walk(node)
                         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return names


def _used(tree: ast.Module) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def solution_names_used_by_lessons(teacher) -> list[str]:
    """'cell i uses x' for each lesson cell that reads a name whose latest binding is a solution's.
    Self-check cells are exempt: calling the solution is their job."""
    from_solution, found = set(), []
    for index, cell in enumerate(teacher.cells):
        if cell.cell_type != "code":
            continue
        tree = _python(cell)
        if course.SOLUTION_TAG in cell.metadata.get("tags", []):
            from_solution |= _bound(tree)
            continue
        if not course._is_self_check(cell):
            found += [f"cell {index} uses {name}" for name in sorted(_used(tree) & from_solution)]
        from_solution -= _bound(tree)
    return found


@pytest.mark.parametrize("name", NAMES)
def test_student_edition_changes_only_exercise_cells(name):
    teacher, student = _editions(name)
    assert len(student.cells) == len(teacher.cells)
    for index, (mine, theirs) in enumerate(zip(student.cells, teacher.cells, strict=True)):
        if _is_exercise(mine) or course._is_self_check(mine):
            continue
        assert mine.source == theirs.source, f"cell {index}: the lesson's source changed"
        assert mine.get("outputs") == theirs.get("outputs"), f"cell {index}: its outputs changed"


@pytest.mark.parametrize("name", NAMES)
def test_no_lesson_cell_needs_a_solution(name):
    teacher, _ = _editions(name)
    found = solution_names_used_by_lessons(teacher)
    assert not found, ("in the student edition these lesson cells would raise NameError (or see "
                       "another value), since the solutions are stubs:\n" + "\n".join(found))


def test_the_lesson_rule_catches_a_lesson_that_calls_a_solution():
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_code_cell("import math\nx = 2", metadata={}),
        v4.new_code_cell("def f(v):\n    return v * x", metadata={"tags": ["solution"]}),
        v4.new_code_cell("fl.check.double(f)"),
        v4.new_code_cell("def g():\n    return f(1)\nprint(g(), math.pi)"),
        v4.new_code_cell("f = abs"),  # a lesson that rebinds f first...
        v4.new_code_cell("print(f(-1))")])  # ...makes the later use its own
    assert solution_names_used_by_lessons(nb) == ["cell 3 uses f"]


def _self_check_pairs(student):
    """(stub cell, self-check cell) for each exercise: the self-check follows its stub."""
    cells = [c for c in student.cells if c.cell_type == "code"]
    return [(stub, check) for stub, check in zip(cells, cells[1:], strict=False)
            if _is_exercise(stub) and course._is_self_check(check)]


@pytest.mark.parametrize("name", NAMES)
def test_every_self_check_says_not_yet_to_its_stub(name):
    _, student = _editions(name)
    pairs = _self_check_pairs(student)
    assert len(pairs) == sum(_is_exercise(c) for c in student.cells), "an exercise without its check"
    for stub, check in pairs:
        namespace = {"fl": forge_lib}
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(stub.source, namespace)  # noqa: S102 - the course's own cells
            exec(check.source, namespace)  # noqa: S102
        called = SELF_CHECK_CALL.search(check.source).group(1)
        assert printed.getvalue().startswith("Not yet:") and f"`{called}`" in printed.getvalue(), (
            f"the self-check of {called} should say 'Not yet' and name it, printed "
            f"{printed.getvalue()!r}")


def test_one_student_notebook_runs_top_to_bottom(tmp_path):
    (path,) = course.write_student_edition(tmp_path, [course.NOTEBOOK_DIR / END_TO_END])
    # allow_errors: collect every error output, so a failure lists them all instead of the first.
    nb = nbtools.execute(nbformat.read(path, as_version=4), path.parent, allow_errors=True)
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, cell in enumerate(nb.cells)
              if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors, "the student edition raised:\n" + "\n".join(errors)
    checks = [c for c in nb.cells if c.cell_type == "code" and course._is_self_check(c)]
    assert checks and all(
        "".join(o.get("text", "") for o in c.outputs).startswith("Not yet:") for c in checks)


def test_workshop_hands_out_the_student_edition_where_pytest_does_not_look():
    """WORKSHOP.md's commands are the ones this file tests, and the folder they write is one
    that `pytest` skips, so a participant's checkout still tests the full notebooks."""
    text = publish.WORKSHOP.read_text()
    assert "python -m forge_lib.tools.publish student student/" in text
    assert "jupyter lab student/00_start_here.ipynb" in text
    assert "as `notebooks/`" not in text, "copying over notebooks/ makes pytest fail"
    skipped = re.search(r"^norecursedirs = \[(.*)\]$", (publish.ROOT / "pyproject.toml").read_text(),
                        re.MULTILINE)
    assert skipped and '"student"' in skipped.group(1)
