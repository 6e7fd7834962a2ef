"""The student edition (solutions removed, exercise outputs cleared, the rest intact), the Sphinx
site's files (without a browser: tests/tools/test_browser.py loads it in one) and WORKSHOP.md's
table and agendas."""

import copy
import re
import subprocess
import sys

import nbformat
import pytest

from forge_lib.tools import publish, site

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
    assert first.source == (
        "# Exercise 1: replace the body below with your answer, as the task above asks.\n"
        "# Then run the self-check cell below; it prints 'Correct' or a hint.\n"
        "def double(x):\n"
        "    raise NotImplementedError(\"Exercise 1: replace this line with your code\")\n")
    assert second.source.endswith("answer = None  # replace None with your answer\n")
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
            stub = [line for line in after.source.splitlines() if not line.startswith("#")]
            assert all(line.startswith("def ") or "raise NotImplementedError" in line
                       for line in stub if line), "a stub holds only signatures and raises"
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


def test_a_symlink_named_like_a_notebook_is_replaced_not_written_through(tmp_path):
    # Issue 19 section 5: nbformat.write followed the link and overwrote whatever it pointed at
    # (a learner's own notebook, or the course's).
    victim = tmp_path / "elsewhere.ipynb"
    victim.write_text("precious")
    out = tmp_path / "student"
    out.mkdir()
    (out / NOTEBOOKS[0].name).symlink_to(victim)
    [written] = publish.write_student_edition(out, [NOTEBOOKS[0]])
    assert victim.read_text() == "precious"
    assert not written.is_symlink() and nbformat.read(written, as_version=4).cells
    assert sorted(p.name for p in out.iterdir()) == [NOTEBOOKS[0].name]  # no temporary left
    plain = tmp_path / "plain.txt"
    plain.write_text("")  # the permissions any new file gets here (the umask's)
    assert written.stat().st_mode == plain.stat().st_mode


def test_student_edition_rejects_bad_input_by_name(tmp_path):
    empty = tmp_path / "00_empty.ipynb"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"notebooks\[0\]: expected a Jupyter notebook .*an empty file"):
        publish.write_student_edition(tmp_path / "out", [empty])
    a_file = tmp_path / "out.txt"
    a_file.write_text("not a folder")
    with pytest.raises(ValueError, match="out_dir: expected a folder .*which is a file"):
        publish.write_student_edition(a_file, [NOTEBOOKS[0]])
    with pytest.raises(TypeError, match="notebooks: expected a list of notebook paths .*a single path"):
        publish.write_student_edition(tmp_path / "out", NOTEBOOKS[0])
    with pytest.raises(TypeError, match=r"notebooks\[0\]: expected a file path .*got int"):
        publish.write_student_edition(tmp_path / "out", [3])
    with pytest.raises(TypeError, match="nb: expected a notebook .*got a plain dict; .*from_dict"):
        publish.student_edition(dict(nbformat.read(NOTEBOOKS[0], as_version=4)))
    with pytest.raises(TypeError, match="out_dir: expected a file path"):
        publish.write_student_edition(None, [NOTEBOOKS[0]])
    (tmp_path / "out2" / NOTEBOOKS[0].name).mkdir(parents=True)
    with pytest.raises(ValueError, match="is a folder"):
        publish.write_student_edition(tmp_path / "out2", [NOTEBOOKS[0]])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_tools_import_in_one_direction():
    # Issue 19 section 6: publish and site imported each other; now notebooks <- site <- publish.
    import ast

    from forge_lib.tools import notebooks

    def imports(module):
        tree = ast.parse(open(module.__file__).read())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
            f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
            for a in n.names}
    assert not any("tools.publish" in m for m in imports(site) | imports(notebooks))
    assert not any("tools.site" in m for m in imports(notebooks))
    assert publish.student_edition is notebooks.student_edition  # the old names still work


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
    page.write_text(f"intro\n{publish.TABLE_START}\nold\n{publish.TABLE_END}\nmiddle\n"
                    f"{publish.AGENDA_START}\nold agenda\n{publish.AGENDA_END}\noutro\n")
    lengths = publish.write_workshop_table(page)
    text = page.read_text()
    assert "old" not in text and publish.workshop_table() in text and text.endswith("outro\n")
    assert publish.agendas_markdown() in text and len(lengths) == len(publish.AGENDAS)
    page.write_text(f"{publish.TABLE_START}\n{publish.TABLE_END}\nno agenda markers")
    with pytest.raises(ValueError, match="markers"):
        publish.write_workshop_table(page)


def _minutes(clock):
    hours, minutes = clock.split(":")
    return 60 * int(hours) + int(minutes)


def _duration_minutes(text):
    found = re.fullmatch(r"(?:(\d+) h)? ?(?:(\d+) min)?", text)
    return 60 * int(found.group(1) or 0) + int(found.group(2) or 0)


def _agendas(page):
    """[(heading, [(start, label, minutes or None)])] for each agenda table in WORKSHOP.md."""
    body = page.split(publish.AGENDA_START)[1].split(publish.AGENDA_END)[0]
    agendas = []
    for section in re.split(r"^## ", body, flags=re.M)[1:]:
        heading = section.splitlines()[0]
        rows = [line.strip("|").split("|") for line in section.splitlines()
                if re.match(r"\| \d+:\d\d \|", line)]
        agendas.append((heading, [(_minutes(r[0].strip()), r[1].strip(), r[2].strip()) for r in rows]))
    return agendas


def test_workshop_agendas_add_up_the_slots_of_the_table():
    # Issue 18: the hand-written agendas said 0:10 + 55 min = 0:55, and 03 (75 min) from 2:00
    # ended at 3:05. Read back from WORKSHOP.md itself: each start is the previous start plus its
    # minutes, a notebook row lasts the sum of its notebooks' slots in the table above, and the
    # heading's length is the end.
    page = publish.WORKSHOP.read_text()
    slots = {m.group(1): int(m.group(2)) for m in
             re.finditer(r"^\| (\d\d) \| .* \| (\d+) min \|$", page, flags=re.M)}
    assert sorted(slots) == [p.name[:2] for p in NOTEBOOKS]
    agendas = _agendas(page)
    assert [h.split(" (")[0] for h, _ in agendas] == [a.title for a in publish.AGENDAS]
    for (heading, rows), agenda in zip(agendas, publish.AGENDAS, strict=True):
        assert rows[0][0] == 0 and rows[-1][1].startswith("end")
        for (start, label, minutes), (next_start, _, _) in zip(rows, rows[1:], strict=False):
            assert next_start - start == int(minutes), f"{heading}: {label} at {start} min"
        for (_, label, minutes), block in zip(rows, agenda.blocks, strict=False):
            if block.notebooks:
                assert int(minutes) == sum(slots[n] for n in block.notebooks), label
            for notebooks, phrase in block.instead:  # the alternative's own length, as printed
                assert f"{phrase} ({sum(slots[n] for n in notebooks)} min)" in label
        total, teaching = re.search(r"\((.*?), (.*?) of it notebooks\)", heading).groups()
        assert _duration_minutes(total) == rows[-1][0], heading
        pauses = sum(int(m) for _, label, m in rows[:-1]
                     if label in ("break", "lunch", "wrap-up"))
        assert _duration_minutes(teaching) == rows[-1][0] - pauses, heading


def test_workshop_md_agendas_are_current():
    assert publish.agendas_markdown() in publish.WORKSHOP.read_text(), \
        "run `python -m forge_lib.tools.publish workshop`"


def test_a_hand_edited_agenda_that_does_not_add_up_is_caught(tmp_path, monkeypatch):
    """The adding-up test can fail: a start time one minute off is found."""
    page = publish.WORKSHOP.read_text()
    broken = page.replace("| 0:10 | 01 perplexity", "| 0:11 | 01 perplexity", 1)
    assert broken != page
    monkeypatch.setattr(publish, "WORKSHOP", tmp_path / "W.md")
    publish.WORKSHOP.write_text(broken)
    with pytest.raises(AssertionError):
        test_workshop_agendas_add_up_the_slots_of_the_table()


def test_agenda_blocks_name_course_notebooks():
    block = publish.Block("99 missing", "", ("99",))
    with pytest.raises(ValueError, match=r"names notebooks \['99'\]"):
        publish.agenda_minutes(publish.Agenda("x", "y", "", (block,)))


# --- the site's HTML ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_site(tmp_path_factory):
    """Notebooks 00, 01 and 09 (progress bars), both editions; the browser test builds them all."""
    chosen = [p for p in NOTEBOOKS if p.name[:2] in ("00", "01", "09")]
    out = tmp_path_factory.mktemp("site")
    return out, chosen, publish.build_site(out, chosen)


def test_site_has_a_landing_page_and_two_sphinx_editions(small_site):
    out, chosen, pages = small_site
    assert pages == [out / "index.html", *(out / e / "index.html" for e in site.EDITIONS)]
    landing = pages[0].read_text()
    assert all(f'href="{e}/index.html"' in landing for e in site.EDITIONS)
    for edition in site.EDITIONS:
        folder = out / edition
        for name in ["search.html", "searchindex.js", "_static/mathjax/tex-chtml.js",
                     "_static/mathjax/input/tex/extensions/textmacros.js",
                     *(f"{p.stem}.html" for p in chosen)]:
            assert (folder / name).is_file(), f"{edition}/{name} is missing"
        assert not (out / "jupyter_execute").exists()  # myst-nb's scratch folder stays out


def test_site_pages_fetch_nothing_and_show_no_prompts_or_progress_bars(small_site):
    out, _, _ = small_site
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        remote = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="((?:https?:)?//[^"]*)"', text)
        assert remote == [], f"{page.relative_to(out)} loads {remote}"
        assert not re.search(r"\bIn&nbsp;\[|\bIn \[\d*\]:", text), page
        assert "it/s]" not in text, f"{page.relative_to(out)} shows a tqdm progress bar"


def test_site_downloads_are_the_notebooks_of_their_edition(small_site):
    out, chosen, _ = small_site
    for path in chosen:
        assert (out / "teacher" / "_sources" / path.name).read_bytes() == path.read_bytes()
        student = nbformat.read(out / "student" / "_sources" / path.name, as_version=4)
        assert student == publish.student_edition(nbformat.read(path, as_version=4))
        page = (out / "student" / f"{path.stem}.html").read_text(encoding="utf-8")
        assert f'href="_sources/{path.name}"' in page  # the download button's .ipynb


def test_index_lists_the_notebooks_in_reading_order():
    nbs = [nbformat.read(p, as_version=4) for p in NOTEBOOKS]
    text = site.index_markdown(NOTEBOOKS, nbs, "student", other="teacher")
    entries = [line for line in text.splitlines() if re.match(r"\d\d · .* <\d\d_\w+>$", line)]
    assert [e.rsplit("<", 1)[1].rstrip(">") for e in entries] == [p.stem for p in NOTEBOOKS]
    assert ":hidden:" in text and 'href="../teacher/index.html"' in text
    assert f"| 01 | [{publish.notebook_title(nbs[1])}](01_perplexity.ipynb) |" in text


def test_only_progress_bars_are_dropped_from_stderr():
    bar = v4.new_output("stream", name="stderr",
                        text="\rfit:   0%|          | 0/300 [00:00<?, ?it/s]\r"
                             "fit:  40%|████      | 120/300 [00:01<00:01, 116.65it/s, loss=3.9]")
    warning = v4.new_output("stream", name="stderr", text="UserWarning: the mask is empty\n")
    stdout = v4.new_output("stream", name="stdout", text=" 40%|████      | 120/300 [00:01]")
    assert site.is_progress_bar(bar)
    assert not site.is_progress_bar(warning) and not site.is_progress_bar(stdout)
    mixed = v4.new_output("stream", name="stderr", text=bar.text + "\nUserWarning: careful\n")
    assert not site.is_progress_bar(mixed)
    widget = {"application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2},
              "text/plain": "fit: 100%|##########| 300/300 [00:02<00:00, 131.44it/s, loss=3.807]"}
    assert site.is_progress_bar(v4.new_output("display_data", data=widget))
    slider = dict(widget, **{"text/plain": "IntSlider(value=3)"})
    assert not site.is_progress_bar(v4.new_output("display_data", data=slider))


def test_build_site_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="editions must be some of"):
        site.build_site(tmp_path, NOTEBOOKS[:1], editions=("pdf",))
    with pytest.raises(ValueError, match="at least one notebook"):
        site.build_site(tmp_path, [])
    with pytest.raises(ValueError, match="expected one of"):
        site.edition_notebook(v4.new_notebook(), "draft")


def test_a_sphinx_warning_fails_the_build(tmp_path):
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# Broken\n\n```{no-such-directive}\n```")])
    path = tmp_path / "00_broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(RuntimeError, match="(?s)Sphinx failed.*no-such-directive.*Fix the notebooks"):
        site.build_site(tmp_path / "out", [path], editions=("teacher",))


def test_site_command_delegates_to_the_sphinx_build(tmp_path, monkeypatch, capsys):
    calls = []
    pages = [tmp_path / "index.html", tmp_path / "teacher" / "index.html"]
    monkeypatch.setattr(site, "build_site", lambda out, notebooks=None: calls.append(out) or pages)
    assert publish.main(["site", str(tmp_path)]) == 0
    assert calls == [str(tmp_path)] and "1 editions: teacher" in capsys.readouterr().out
