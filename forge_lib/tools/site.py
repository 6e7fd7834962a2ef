"""The course website: Sphinx + myst-nb + sphinx-book-theme, built offline from the executed notebooks.

    python -m forge_lib.tools.publish site OUT_DIR     # both editions (calls build_site below)

It builds on forge_lib.tools.notebooks (titles, times, the student edition) and never imports
publish, which calls it.

OUT_DIR/index.html links the two editions, each a complete Sphinx site:

    OUT_DIR/teacher/   the committed notebooks, solutions and every output included
    OUT_DIR/student/   notebooks.student_edition() of each notebook: solutions removed

Each edition has the course in reading order in the left sidebar, the page's sections on the
right, previous/next links, Sphinx's full-text search, and a download button whose .ipynb is that
edition's notebook, byte for byte. The notebooks are never re-executed (myst-nb's
`nb_execution_mode = "off"`); tqdm's progress bars (stderr text or tqdm.auto widgets) are
dropped before the build; any other stderr output is kept. Math is
typeset by MathJax 3 copied from the sphinx-mathjax-offline package into each edition's
_static/, so nothing is fetched when the site is built or viewed, from a web server or from
file://. Sphinx's settings are in site_assets/conf.py.
"""

from __future__ import annotations

import copy
import html
import importlib.metadata
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import nbformat

from forge_lib.tools.notebooks import (
    check_out_dir,
    exercise_count,
    notebook_paths,
    notebook_title,
    reading_minutes,
    run_time_text,
    student_edition,
)

__all__ = ["EDITIONS", "build_site", "edition_notebook", "is_progress_bar", "index_markdown"]

EDITIONS = ("teacher", "student")
ASSETS = Path(__file__).with_name("site_assets")  # conf.py and _static/ for Sphinx
MATHJAX_PACKAGE = "sphinx-mathjax-offline"
# What tex-chtml.js loads: TeX extensions on demand (autoload, textmacros), the CHTML fonts, the
# menu and its assistive MathML. Left out: other combined builds and the 4 MB speech-rule engine,
# which only the menu's opt-in "explorer" would load.
MATHJAX_PARTS = ["tex-chtml.js", "input/tex", "output/chtml", "ui", "a11y"]
# One tqdm line: "desc:  40%|████      | 120/300 [00:01<00:01, 116.65it/s, loss=3.9]".
_TQDM_LINE = re.compile(r"^.*\d+%\|.*\|\s*[\d.]+[kMG]?/[\d.]+[kMG]?\s*\[.*\]\s*$")


# --- The notebooks of an edition -----------------------------------------------------------------

def edition_notebook(nb: nbformat.NotebookNode, edition: str) -> nbformat.NotebookNode:
    """The notebook as `edition` shows it: itself for "teacher", its student_edition for "student".

    >>> v4 = nbformat.v4
    >>> nb = v4.new_notebook(cells=[v4.new_code_cell("x = 1", metadata={"tags": ["solution"]})])
    >>> edition_notebook(nb, "student").cells[0].source.startswith("# Exercise")
    True
    """
    if edition not in EDITIONS:
        raise ValueError(f"edition: expected one of {EDITIONS}, got {edition!r}.")
    return student_edition(nb) if edition == "student" else nb


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def is_progress_bar(output: nbformat.NotebookNode) -> bool:
    """True for a tqdm progress bar: a stderr stream holding only tqdm lines (redrawn with
    carriage returns), or a tqdm.auto widget whose text fallback is one.

    >>> out = nbformat.v4.new_output("stream", name="stderr", text="\\rfit:  50%|█  | 1/2 [00:01<00:01]")
    >>> is_progress_bar(out), is_progress_bar(nbformat.v4.new_output("stream", name="stderr", text="oops"))
    (True, False)
    """
    if output.get("output_type") == "stream" and output.get("name") == "stderr":
        text = output.get("text", "")
    elif WIDGET_VIEW in output.get("data", {}):
        text = output["data"].get("text/plain", "")
    else:
        return False
    lines = [line for line in re.split(r"[\r\n]", text) if line.strip()]
    return bool(lines) and all(_TQDM_LINE.match(line) for line in lines)


def _without_progress_bars(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    # A progress bar is a live display: on a static page a stderr bar is a pink block of stale
    # redraws, and a widget whose state is not stored an empty box. The page leaves them out.
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not is_progress_bar(o)]
    return out


# --- The index page --------------------------------------------------------------------------------

_INTRO = """A course on how training is measured, one notebook a topic. Read in order; every number
on these pages was printed by a cell of the executed notebook. Run times are measured on 2 CPU
cores; reading times are estimates (prose at 180 words a minute, code at 60)."""

_EDITION_NOTE = {
    "teacher": "This is the **teacher edition**: every notebook as committed, exercise solutions and "
               "all outputs included.",
    "student": "This is the **student edition**: each exercise cell is empty, for you to fill in. "
               "Download a notebook with the download button at the top of its page "
               "(<i class=\"fas fa-download\"></i>, then .ipynb) and run it in JupyterLab.",
}


def index_markdown(paths: list[Path], nbs: list[nbformat.NotebookNode], edition: str,
                   other: str | None = None) -> str:
    """The edition's index.md: the course intro, a table of the notebooks, and the hidden toctree
    that puts them in the sidebar in reading order. `other` names the edition to link to."""
    rows = ["| # | notebook | run time | reading time | exercises |", "|---|---|---|---|---|"]
    toctree = []
    for path, nb in zip(paths, nbs, strict=True):
        title = notebook_title(nb)
        rows.append(f"| {path.name[:2]} | [{title}]({path.name}) | {run_time_text(nb)} | "
                    f"{reading_minutes(nb)} min | {exercise_count(nb)} |")
        toctree.append(f"{path.name[:2]} · {title} <{path.stem}>")
    link = f' The <a href="../{other}/index.html">{other} edition</a> is beside this one.' if other else ""
    return "\n\n".join([
        "# Metrics Forge", _INTRO, _EDITION_NOTE[edition] + link,
        "```{table}\n:class: forge-map\n\n" + "\n".join(rows) + "\n```",
        "```{toctree}\n:hidden:\n:maxdepth: 2\n\n" + "\n".join(toctree) + "\n```",
    ]) + "\n"


_LANDING = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Metrics Forge</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto;
  padding: 0 1em; line-height: 1.5; }} li {{ margin-bottom: 0.8em; }}</style></head>
<body><h1>Metrics Forge</h1>
<p>A course on how training is measured, in {n} notebooks. Two editions of the same pages:</p>
<ul class="forge-editions">{items}</ul>
</body></html>
"""
_LANDING_ITEM = {
    "teacher": "the complete notebooks, with the exercise solutions and every output",
    "student": "the exercises left empty for learners, solutions removed",
}


def _landing_page(editions: tuple[str, ...], n_notebooks: int) -> str:
    items = "".join(f'<li><a href="{e}/index.html">{e.capitalize()} edition</a>: '
                    f"{html.escape(_LANDING_ITEM[e])}</li>" for e in editions)
    return _LANDING.format(n=n_notebooks, items=items)


# --- Building ---------------------------------------------------------------------------------------

def _mathjax_source() -> Path:
    try:
        dist = importlib.metadata.distribution(MATHJAX_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            f"build_site: the site typesets math with the MathJax 3 that the {MATHJAX_PACKAGE} "
            f"package ships, and it is not installed. Fix: pip install -r requirements.txt "
            f"(or pip install -e '.[site]').") from None
    return Path(dist.locate_file(f"{MATHJAX_PACKAGE}/static/mathjax"))


def _copy_mathjax(static: Path) -> None:
    source = _mathjax_source()
    for part in MATHJAX_PARTS:
        src, dst = source / part, static / "mathjax" / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def _run_sphinx(src: Path, out: Path, doctrees: Path, title: str, whole_course: bool) -> None:
    try:
        from sphinx.cmd.build import build_main
        from sphinx.deprecation import RemovedInSphinx11Warning
    except ImportError:
        raise ModuleNotFoundError("build_site: Sphinx is not installed. Fix: pip install -r "
                                  "requirements.txt (or pip install -e '.[site]').") from None
    log = src / "sphinx-warnings.txt"
    # -W --keep-going: a warning (a broken link, an unknown output type) fails the build, as a
    # changed output fails nbval, but only after every warning has been reported.
    args = ["-b", "html", "-q", "-W", "--keep-going", "-c", str(ASSETS), "-d", str(doctrees),
            "-w", str(log), "-D", f"html_title={title}", str(src), str(out)]
    if not whole_course:  # a part of the course: its links to the other notebooks cannot resolve
        args[-2:-2] = ["-D", "suppress_warnings=myst.xref_missing"]
    with warnings.catch_warnings():  # the theme's and myst's use of APIs Sphinx 11 removes: not ours
        warnings.simplefilter("ignore", RemovedInSphinx11Warning)
        status = build_main(args)
    if status != 0:
        raise RuntimeError(
            f"build_site: Sphinx failed on the {title!r} pages; every warning fails the build:\n"
            f"{log.read_text()}Fix the notebooks named above (notebooks/NAME.ipynb; myst-nb's "
            f"line N is cell N // 10000, line N % 10000 of that cell's source).")


def _build_edition(edition: str, paths: list[Path], nbs: list[nbformat.NotebookNode], target: Path,
                   other: str | None) -> Path:
    whole_course = [p.name for p in paths] == [p.name for p in notebook_paths()]
    with tempfile.TemporaryDirectory(prefix=f"forge-site-{edition}-") as work:
        # myst-nb writes beside the output folder (outdir/../jupyter_execute): build in a
        # private folder, then move only the pages into place.
        src, out = Path(work) / "src", Path(work) / "html"
        src.mkdir()
        shown = [edition_notebook(nb, edition) for nb in nbs]
        for path, nb in zip(paths, shown, strict=True):
            nbformat.write(_without_progress_bars(nb), src / path.name)
        (src / "index.md").write_text(index_markdown(paths, shown, edition, other), encoding="utf-8")
        _run_sphinx(src, out, Path(work) / "doctrees", f"Metrics Forge ({edition} edition)",
                    whole_course)
        for path, nb in zip(paths, shown, strict=True):  # the download: the edition's notebook
            if edition == "teacher":
                shutil.copyfile(path, out / "_sources" / path.name)
            else:
                nbformat.write(nb, out / "_sources" / path.name)
        _copy_mathjax(out / "_static")
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(out), str(target))
    return target / "index.html"


def build_site(out_dir: str | Path, notebooks: list[Path] | None = None,
               editions: tuple[str, ...] = EDITIONS) -> list[Path]:
    """Build the site of `notebooks` (default: the course) into `out_dir`, one Sphinx site per
    edition in out_dir/EDITION/ and out_dir/index.html linking them. Returns the index pages,
    the landing page first. Both editions of the whole course take about 10 s on 2 cores.

    >>> import tempfile
    >>> pages = build_site(tempfile.mkdtemp(), notebook_paths()[:1], editions=("student",))
    >>> [p.relative_to(p.parents[1]).as_posix() for p in pages[1:]]
    ['student/index.html']
    """
    out = check_out_dir(out_dir)
    paths = notebook_paths() if notebooks is None else [Path(p) for p in notebooks]
    if not paths:
        raise ValueError("build_site: expected at least one notebook, got none. Check the folder "
                         "holds NN_topic.ipynb files.")
    unknown = [e for e in editions if e not in EDITIONS]
    if unknown or not editions:
        raise ValueError(f"build_site: editions must be some of {EDITIONS}, got {editions!r}.")
    nbs = [nbformat.read(p, as_version=4) for p in paths]
    pages = []
    for edition in editions:
        other = next((e for e in editions if e != edition), None)
        pages.append(_build_edition(edition, paths, nbs, out / edition, other))
    landing = out / "index.html"
    landing.write_text(_landing_page(tuple(editions), len(paths)), encoding="utf-8")
    return [landing, *pages]
