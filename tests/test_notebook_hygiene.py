"""DESIGN.md's notebook rules, enforced on the committed notebooks."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])/(?:[\w.-]+/){2,}[\w.-]+|[A-Z]:\\\\Users")
IGNORE_TAG = "nbval-ignore-output"


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def output_text(output) -> str:
    if "text" in output:
        return "".join(output["text"])
    return "".join("".join(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))


def test_notebooks_exist_and_are_numbered_without_gaps():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers, "no notebooks found"
    assert numbers == list(range(len(numbers))), f"numbering has gaps or repeats: {numbers}"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def nb(request):
    return json.loads(request.param.read_text())


def test_executed_top_to_bottom(nb):
    counts = [c["execution_count"] for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), f"execution counts {counts}"


def test_no_errors_and_no_absolute_paths(nb):
    for cell in code_cells(nb):
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"error output in: {cell['source'][:80]}"
            text = output_text(output)
            assert not ABSOLUTE_PATH.search(text), f"absolute path in output: {text[:200]}"
            assert "/root" not in text and "/home/" not in text


def test_no_stderr_in_compared_cells(nb):
    """Warnings in compared cells make nbval depend on warning text; fix or tag them."""
    for cell in code_cells(nb):
        if IGNORE_TAG in cell["metadata"].get("tags", []):
            continue
        for output in cell["outputs"]:
            assert output.get("name") != "stderr", f"stderr in compared cell: {cell['source'][:80]}"


def test_template_sections_present(nb):
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert nb["cells"][0]["cell_type"] == "markdown"
    assert "".join(nb["cells"][0]["source"]).startswith("# "), "first cell must be the title"
    for heading in ("What you will learn", "Prerequisites", "Run time", "Key takeaways"):
        assert heading.lower() in markdown.lower(), f"missing section: {heading}"


def test_exercises_have_self_checks(nb, request):
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    if "start here" in "".join(nb["cells"][0]["source"]).lower():
        pytest.skip("the start-here notebook has no exercises")
    assert "exercise" in markdown.lower()
    sources = ["".join(c["source"]) for c in code_cells(nb)]
    assert any("fl.check." in s for s in sources), "no self-check cell calling fl.check"


def test_no_network_or_hub_access(nb):
    for cell in code_cells(nb):
        source = "".join(cell["source"])
        assert "from_pretrained(" not in source or "local_files_only=True" in source, \
            "hub downloads are not allowed; load from the local cache only"
        assert "urlopen" not in source and "requests.get" not in source


def test_readme_map_is_current():
    """The README's notebook map is generated from the notebooks; regenerate it after changes."""
    from forge_lib.tools import nbtools

    table = nbtools.notebook_map()
    start_here = json.loads(next(nbtools.NOTEBOOK_DIR.glob("00_*.ipynb")).read_text())
    markdown = "\n".join("".join(c["source"]) for c in start_here["cells"])
    assert table in nbtools.README.read_text(), "run `python -m forge_lib.tools.nbtools map`"
    assert nbtools.notebook_map("") in markdown, "00's map is stale: run nbtools map"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def nb_path(request):
    return request.param


def test_measured_run_time_under_60_s(nb_path):
    seconds = json.loads(nb_path.read_text())["metadata"].get("forge", {}).get("run_time_s")
    assert seconds is not None, "execute with `python -m forge_lib.tools.nbtools run` to record it"
    assert seconds < 60
    title = "".join(json.loads(nb_path.read_text())["cells"][0]["source"])
    stated = re.search(r"\*\*Run time:\*\* about (\d+) s", title)
    assert stated, "the title cell must say '**Run time:** about N s'"
    assert f"{stated.group(1)} s" == f"{seconds:.0f} s", "stated run time is not the map's: run nbtools map"
