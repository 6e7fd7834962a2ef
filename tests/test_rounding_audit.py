"""The rounding-margin audit (conftest.py at the root) fails exactly the compared cells it should."""

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def _cell(source: str, printed: str, tags: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, execution_count=None)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def test_audit_fails_a_compared_value_near_its_rounding_edge(pytester):
    # 0.0700149 prints 0.07001 here, but is 1.4e-6 (relative) from the edge 0.070015.
    cells = [
        _cell("import forge_lib as fl\nprint(fl.fmt(0.0700149))", "0.07001\n"),
        _cell("print(fl.fmt(0.0700149))", "0.07001\n", ("nbval-ignore-output",)),
        _cell("print(fl.fmt(0.0700149))", "0.07001\n", ("float64-values",)),
        _cell("unused = fl.fmt(0.0700149)\nprint('not printed')", "not printed\n"),
        _cell("print(fl.fmt(0.0700100))", "0.07001\n"),  # exactly the printed value
        _cell("print(fl.fmt(0.0700190), fl.fmt(2))", "0.07002 2\n"),  # far from any edge
    ]
    for number, cell in enumerate(cells, start=1):
        cell.execution_count = number
    notebook = nbformat.v4.new_notebook(cells=cells)
    nbformat.write(notebook, pytester.path / "audit.ipynb")
    pytester.makeconftest((ROOT / "conftest.py").read_text())
    result = pytester.runpytest_subprocess("--nbval", "--nbval-current-env", "-p",
                                           "no:cacheprovider", "audit.ipynb")
    result.assert_outcomes(failed=1, passed=5)
    result.stdout.fnmatch_lines(["*audit.ipynb::Cell 0*", "*0.0700149 printed as 0.07001: margin 1.4e-06*"])
    result.stdout.fnmatch_lines(["*rounding margins*", "audit.ipynb*cell 0*"])
