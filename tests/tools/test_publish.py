"""The student edition (solutions removed, exercise outputs cleared, the rest intact), the static
site's HTML (without a browser: tests/tools/test_browser.py loads it in one) and WORKSHOP.md's table."""

import copy
import re
import subprocess
import sys

import nbformat
import pytest

from forge_lib.tools import publish

NOTEBOOKS = publish.notebook_paths()
v4 = nbformat.v4


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _image_outputs(nb):
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if any(k in o.get("data", {}) for k in ("image/png", "image/jpeg")))


def _exercise_notebook():
    return v4.new_notebook(cells=[
        v4.new_markdown_cell("# Toy\n\n**What you will learn.** Doubling."),
        v4.new_code_cell("x = 2\nprint(x)", execution_count=1,
                         outputs=[v4.new_output("stream", name="stdout", text="2\n")]),
        v4.new_markdown_cell("## Exercises\n\n**Exercise 1.** Write `double`."),
        v4.new_code_cell("def double(x):\n    return 2 * x", execution_count=2,
                         metadata={"tags": ["solution", "keep-me"]}),
        v4.new_code_cell("fl.check.double(double);", execution_count=3,
                         outputs=[v4.new_output("stream", name="stdout", text="Correct: ...\n")]),
        v4.new_markdown_cell("**Exercise 2.** Store the answer in `answer`."),
        v4.new_code_cell("answer = 42", execution_count=4, metadata={"tags": ["solution"]}),
        v4.new_code_cell("fl.check.answer(answer)", execution_count=5,
                         outputs=[v4.new_output("stream", name="stdout", text="Correct\n")]),
        v4.new_markdown_cell("## Key takeaways\n\n- Doubling doubles."),
    ])


# --- student edition ---------------------------------------------------------------------------


def test_student_edition_of_a_toy_notebook():
    nb = _exercise_notebook()
    student = publish.student_edition(nb)
    first, second = student.cells[3], student.cells[6]
    assert first.source == ("# Exercise 1: define `double(x)` here, as the task above asks.\n"
                            "# Then run the self-check cell below; it prints 'Correct' or a hint.\n")
    assert second.source.startswith("# Exercise 2: define `answer` here")
    assert _tags(first) == ["keep-me", "exercise"] and _tags(second) == ["exercise"]
    for index in (3, 4, 6, 7):  # solutions and self-checks: outputs and counts cleared
        assert student.cells[index].outputs == []
        assert student.cells[index].execution_count is None
    assert student.cells[4].source == nb.cells[4].source  # the self-check itself is kept
    assert student.cells[1] == nb.cells[1]  # an ordinary cell keeps its output and count
    assert nb.cells[3].source.startswith("def double")  # the input is not modified
    assert student.metadata["forge"]["edition"] == "student"


def test_unparsable_solution_gets_a_generic_stub():
    nb = v4.new_notebook(cells=[v4.new_code_cell("def (", metadata={"tags": ["solution"]})])
    assert publish.student_edition(nb).cells[0].source.startswith("# Exercise: write your answer")


def test_solution_tag_on_a_markdown_cell_is_rejected():
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("the answer", metadata={"tags": ["solution"]})])
    with pytest.raises(ValueError, match="only code cells hold solutions"):
        publish.student_edition(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_edition_of_each_course_notebook(path):
    nb = nbformat.read(path, as_version=4)
    student = publish.student_edition(nb)
    assert len(student.cells) == len(nb.cells)
    code_sources = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    for before, after in zip(nb.cells, student.cells, strict=True):
        if "solution" in _tags(before):
            assert "solution" not in _tags(after) and "exercise" in _tags(after)
            assert all(line.startswith("#") for line in after.source.splitlines())
            assert after.outputs == [] and after.execution_count is None
            body = "\n".join(line for line in before.source.splitlines()
                             if line.strip() and not line.lstrip().startswith("#"))
            assert body not in code_sources, "solution code survived in the student edition"
        elif before.cell_type == "code" and "fl.check." in before.source:
            assert after.source == before.source
            assert after.outputs == [] and after.execution_count is None
        else:
            assert after == before, "a cell outside the exercises changed"
    rest = copy.deepcopy(student.metadata)
    assert rest["forge"].pop("edition") == "student"
    if not rest["forge"] and "forge" not in nb.metadata:  # a notebook not executed yet
        del rest["forge"]
    assert rest == nb.metadata


def test_student_command_writes_every_notebook(tmp_path):
    result = subprocess.run([sys.executable, "-m", "forge_lib.tools.publish", "student", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in tmp_path.glob("*.ipynb"))
    assert written == [p.name for p in publish.notebook_paths()]
    for path in tmp_path.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert not any("solution" in _tags(c) for c in nb.cells)


def test_out_dir_must_not_be_the_course_itself():
    with pytest.raises(ValueError, match="overwrite the course"):
        publish.write_student_edition(publish.NOTEBOOK_DIR)
    with pytest.raises(ValueError, match="overwrite the course"):
        publish.build_site(publish.ROOT)


def test_bad_usage_prints_help():
    result = subprocess.run([sys.executable, "-m", "forge_lib.tools.publish", "pdf"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "student OUT_DIR" in result.stderr


def test_notebook_helpers_reject_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        publish.notebook_paths(tmp_path / "missing")
    with pytest.raises(ValueError, match="'# <title>'"):
        publish.notebook_title(v4.new_notebook(cells=[v4.new_code_cell("1")]))


# --- reading time and WORKSHOP.md ---------------------------------------------------------------


def test_reading_minutes_counts_prose_code_and_figures():
    png = v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("word " * 180),  # 1 min of prose
                                v4.new_code_cell("x " * 60, outputs=[png, png])])  # 1 min + 2 x 0.5
    # "<Figure>" is one word of output read as code: 3 min + 1/60 rounds up to 4.
    assert publish.reading_minutes(nb) == 4
    assert publish.reading_minutes(v4.new_notebook()) == 1


def test_workshop_table_lists_every_notebook_with_its_measured_run_time():
    rows = publish.workshop_table().splitlines()[2:]
    assert [r.split(" | ")[0].strip("| ") for r in rows] == [p.name[:2] for p in NOTEBOOKS]
    for row, path in zip(rows, NOTEBOOKS, strict=True):
        seconds = nbformat.read(path, as_version=4).metadata.get("forge", {}).get("run_time_s")
        assert (f"| {seconds:.0f} s |" if seconds is not None else "| not measured |") in row


def test_workshop_md_table_is_current():
    assert publish.workshop_table() in publish.WORKSHOP.read_text(), \
        "run `python -m forge_lib.tools.publish workshop`"


def test_write_workshop_table_needs_markers(tmp_path):
    page = tmp_path / "W.md"
    page.write_text(f"intro\n{publish.TABLE_START}\nold\n{publish.TABLE_END}\noutro\n")
    publish.write_workshop_table(page)
    text = page.read_text()
    assert "old" not in text and publish.workshop_table() in text and text.endswith("outro\n")
    page.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        publish.write_workshop_table(page)


# --- the site's HTML ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_site(tmp_path_factory):
    """Notebook 00 and the first notebook with figures (the browser test builds all of them)."""
    with_figures = [p for p in NOTEBOOKS[1:] if _image_outputs(nbformat.read(p, as_version=4))][:1]
    out = tmp_path_factory.mktemp("site")
    return out, publish.build_site(out, NOTEBOOKS[:1] + with_figures)


def test_site_has_an_index_in_reading_order(small_site):
    out, pages = small_site
    assert pages[0].name == "index.html"
    index = pages[0].read_text()
    positions = [index.index(f'href="{p.name}"') for p in pages[1:]]
    assert positions == sorted(positions)
    for page in pages[1:]:
        title = publish.notebook_title(nbformat.read(publish.NOTEBOOK_DIR / f"{page.stem}.ipynb", 4))
        assert f"<title>{_escaped(title)}</title>" in page.read_text()
        assert _escaped(title) in index


def _escaped(text):
    import html

    return html.escape(text, quote=False)


def test_site_pages_embed_their_figures_and_fetch_nothing(small_site):
    out, pages = small_site
    for page in pages:
        text = page.read_text()
        external = re.findall(r'(?:src|href)="(https?:[^"]*)"', text)
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', text)
        assert all(not s.startswith(("http:", "https:", "//")) for s in scripts), scripts
        assert not [u for u in external if "cdn" in u], external
        if page.name != "index.html":
            nb = nbformat.read(publish.NOTEBOOK_DIR / f"{page.stem}.ipynb", as_version=4)
            assert len(re.findall(r'<img[^>]* src="data:image/', text)) == _image_outputs(nb)
    assert (out / publish.MATHJAX_DIR / "MathJax.js").exists()
    assert (out / publish.MATHJAX_DIR / "config" / "TeX-AMS-MML_HTMLorMML-full.js").exists()


def test_rendered_error_outputs_are_marked():
    error = v4.new_output("error", ename="ValueError", evalue="boom", traceback=["ValueError: boom"])
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# Broken"), v4.new_code_cell("1/0", outputs=[error])])
    page = publish.render_page(nb, math=False)
    assert 'class="forge-error-output"' in page and "<title>Broken</title>" in page
    assert "MathJax not installed" in page
    clean = publish.render_page(v4.new_notebook(cells=[v4.new_markdown_cell("# Fine")]))
    assert "forge-error-output" not in clean and "static/mathjax/MathJax.js" in clean


def test_links_to_notebooks_point_at_pages():
    page = ('<a href="notebooks/01_perplexity.ipynb">x</a> <a href="02_label_shifting.ipynb#top">y</a>'
            ' <a href="99_missing.ipynb">z</a>')
    linked = publish._link_notebooks(page, {"01_perplexity", "02_label_shifting"})
    assert 'href="01_perplexity.html"' in linked and 'href="02_label_shifting.html#top"' in linked
    assert 'href="99_missing.ipynb"' in linked
