"""The student edition runs top to bottom, as a participant's "Run All" does: no cell raises, every
lesson cell works without the solutions, and every self-check answers "Not yet" (a hint, not a
traceback). WORKSHOP.md's hand-out steps are the ones tested here."""

import re

import nbformat
import pytest

from forge_lib.tools import nbtools, publish

NOTEBOOKS = publish.notebook_paths()
SELF_CHECK_CALL = re.compile(r"fl\.check\.\w+\((\w+)")


@pytest.fixture(scope="module")
def student_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student")
    publish.write_student_edition(folder)
    return folder


def _execute(path):
    nb = nbformat.read(path, as_version=4)
    # allow_errors: collect every error output, so a failure lists them all instead of the first.
    return nbtools.execute(nb, path.parent, allow_errors=True)


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_student_notebook_runs_top_to_bottom(student_folder, name):
    nb = _execute(student_folder / name)
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, cell in enumerate(nb.cells)
              if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors, "the student edition raised:\n" + "\n".join(errors)
    for cell in nb.cells:
        called = SELF_CHECK_CALL.search(cell.source) if cell.cell_type == "code" else None
        if called is None:
            continue
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert printed.startswith("Not yet:") and f"`{called.group(1)}`" in printed, (
            f"the self-check of {called.group(1)} should say 'Not yet' and name it, printed "
            f"{printed!r}")


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
