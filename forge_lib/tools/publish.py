"""Hand-outs and a website made from the course notebooks.

    python -m forge_lib.tools.publish student OUT_DIR   # notebooks for learners, solutions removed
    python -m forge_lib.tools.publish site OUT_DIR      # the executed notebooks as a static HTML site
    python -m forge_lib.tools.publish workshop          # refresh the timing table in WORKSHOP.md

Student edition: every cell tagged `solution` becomes an empty exercise cell holding one comment
that says what to write; the outputs of the exercise cells (those solution cells and the
self-check cells that call `fl.check.`) are cleared. Every other cell is copied unchanged,
outputs included, so a learner sees the lesson's numbers and plots before running anything.

Site: nbconvert's `lab` template renders each executed notebook to one self-contained page
(figures embedded as data URIs), with an index in reading order. Nothing is fetched from a
network: require.js and mermaid are left out (no notebook uses widgets or diagrams) and math is
typeset by a local copy of MathJax 2.7 taken from the `jupyter-server-mathjax` package (HTML-CSS
output, STIX-Web fonts), so it works from `file://` too. Without that package the pages show
math as TeX source. Open OUT_DIR/index.html in a browser.
"""

from __future__ import annotations

import ast
import copy
import html
import math
import re
import shutil
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

def _defined_names(source: str) -> list[str]:
    """Top-level functions (with their arguments) and variables a solution cell defines."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(f"{node.name}({', '.join(a.arg for a in node.args.args)})")
        elif isinstance(node, ast.ClassDef):
            names.append(f"class {node.name}")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _exercise_label(cells: list[nbformat.NotebookNode], index: int) -> str:
    """'Exercise 2' when the nearest markdown cell above names one, else 'Exercise'."""
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            found = re.search(r"Exercise\s+(\d+)", cell.source)
            return f"Exercise {found.group(1)}" if found else "Exercise"
    return "Exercise"


def _stub_source(label: str, solution: str) -> str:
    names = _defined_names(solution)
    what = f"define {', '.join(f'`{n}`' for n in names)}" if names else "write your answer"
    return (f"# {label}: {what} here, as the task above asks.\n"
            f"# Then run the self-check cell below; it prints 'Correct' or a hint.\n")


def student_edition(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of `nb` for learners: solution cells emptied to a one-comment exercise cell, the
    outputs of exercise cells (solutions and self-checks) cleared, every other cell unchanged.

    >>> v4 = nbformat.v4
    >>> nb = v4.new_notebook(cells=[v4.new_markdown_cell("**Exercise 1.** Write f."),
    ...     v4.new_code_cell("def f(x):\\n    return 2 * x", metadata={"tags": ["solution"]}),
    ...     v4.new_code_cell("fl.check.double(f)")])
    >>> print(student_edition(nb).cells[1].source)
    # Exercise 1: define `f(x)` here, as the task above asks.
    # Then run the self-check cell below; it prints 'Correct' or a hint.
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

MATHJAX_DIR = "static/mathjax"
_MATHJAX_COMBINED = "TeX-AMS-MML_HTMLorMML-full"  # TeX input + HTML-CSS output in one file
# What MathJax 2.7's combined TeX + HTML-CSS configuration with the STIX-Web fonts needs (the
# package ships those fonts only, as the classic notebook used them); the rest (speech-rule
# maps, 40 localizations, an incomplete SVG output) is megabytes that a page never loads.
_MATHJAX_PARTS = ["MathJax.js", "LICENSE", f"config/{_MATHJAX_COMBINED}.js", "extensions",
                  "jax/input/TeX", "jax/element", "jax/output/HTML-CSS", "fonts/HTML-CSS/STIX-Web"]
_MATHJAX_CONFIG = r"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  tex2jax: {inlineMath: [["$", "$"], ["\\(", "\\)"]], displayMath: [["$$", "$$"], ["\\[", "\\]"]],
            processEscapes: true, processEnvironments: true},
  "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
               linebreaks: {automatic: true},
               // MathJax's probe font is url('about:blank'), which Chromium reports as a
               // blocked request; a local() name that does not exist probes the same way.
               styles: {"@font-face": {"font-family": "MathJax_Blank",
                                       src: "local('MathJax Blank Probe')"}}},
  messageStyle: "none", showMathMenu: false, menuSettings: {zoom: "None"}
});
</script>
<script src="static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"></script>"""
_NO_MATH_NOTE = "<!-- MathJax not installed: math is shown as TeX source. -->"

_PAGE_TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}{{ resources.forge_math }}{%- endblock html_head_js_mathjax -%}
{% block extra_css %}<style>{{ resources.forge_css }}</style>{% endblock extra_css %}
{%- block body_header -%}{{ super() }}{{ resources.forge_nav }}{%- endblock body_header -%}
{% block body_footer %}{{ resources.forge_nav }}{{ super() }}{% endblock body_footer %}
{% block error -%}<div class="forge-error-output">{{ super() }}</div>{%- endblock error %}
"""

_CSS = """
nav.forge-nav { display: flex; gap: 1.5em; padding: 0.6em 1em; margin: 0 0 1em 0;
  font-family: var(--jp-ui-font-family, sans-serif); font-size: 14px;
  border-bottom: 1px solid #ddd; background: #f7f7f7; }
nav.forge-nav a { text-decoration: none; }
nav.forge-nav .forge-home { font-weight: bold; margin-right: auto; }
"""

_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Metrics Forge</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 52em;
  margin: 2em auto; padding: 0 1em; line-height: 1.5; color: #222; }}
ol.forge-index {{ list-style: none; padding: 0; }}
ol.forge-index li {{ margin: 0 0 1.2em 0; }}
.forge-num {{ display: inline-block; width: 2em; color: #888; font-variant-numeric: tabular-nums; }}
.forge-meta {{ color: #666; font-size: 0.9em; margin-left: 2em; }}
.forge-learn {{ margin: 0.2em 0 0 2em; font-size: 0.95em; }}
.forge-learn p {{ margin: 0; }}
</style>
{math}
</head>
<body>
<h1>Metrics Forge</h1>
<p>A course on how training is measured, one notebook a topic. Read in order; every number on
these pages was printed by a cell of the executed notebook. Run times are measured on 2 CPU
cores; reading times are estimates (prose at 180 words a minute, code at 60).</p>
<ol class="forge-index">
{items}
</ol>
</body>
</html>
"""


def _learn_paragraph(nb: nbformat.NotebookNode) -> str:
    """The 'What you will learn' paragraph of the first cell, without its bold label."""
    for paragraph in nb.cells[0].source.split("\n\n"):
        if paragraph.lstrip().startswith("**What you will learn"):
            return re.sub(r"^\s*\*\*What you will learn\.?\*\*\.?\s*", "", paragraph)
    return ""


def _markdown_html(text: str) -> str:
    import mistune  # nbconvert's markdown renderer

    return mistune.create_markdown(escape=True)(text)


def _mathjax_source() -> Path | None:
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    return static if (static / "MathJax.js").exists() else None


def _copy_mathjax(out: Path) -> bool:
    source = _mathjax_source()
    if source is None:
        return False
    target = out / MATHJAX_DIR
    for part in _MATHJAX_PARTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True,  # speech-rule maps: 2.8 MB, unused
                            ignore=shutil.ignore_patterns("mathmaps"))
        elif src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return True


def _nav(pages: list[tuple[str, str]], index: int) -> str:
    links = ['<a class="forge-home" href="index.html">Metrics Forge</a>']
    if index > 0:
        links.append(f'<a class="forge-prev" href="{pages[index - 1][0]}">&larr; '
                     f'{html.escape(pages[index - 1][1])}</a>')
    if index + 1 < len(pages):
        links.append(f'<a class="forge-next" href="{pages[index + 1][0]}">'
                     f'{html.escape(pages[index + 1][1])} &rarr;</a>')
    return f'<nav class="forge-nav">{"".join(links)}</nav>'


def _link_notebooks(page: str, names: set[str]) -> str:
    """Point links at the course's notebooks (notebooks/NN_x.ipynb or NN_x.ipynb) to their pages."""
    def swap(match: re.Match) -> str:
        stem = match.group(2)
        return f'href="{stem}.html{match.group(3) or ""}"' if stem in names else match.group(0)

    return re.sub(r'href="((?:\.?/)?(?:notebooks/)?)(\d\d_[\w-]+)\.ipynb(#[^"]*)?"', swap, page)


def render_page(nb: nbformat.NotebookNode, *, nav: str = "", math: bool = True) -> str:
    """One notebook as a standalone HTML page (nbconvert's lab template, figures embedded).

    >>> v4 = nbformat.v4
    >>> page = render_page(v4.new_notebook(cells=[v4.new_markdown_cell("# A title")]), math=False)
    >>> "<title>A title</title>" in page
    True
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    nb.metadata["title"] = notebook_title(nb)  # the lab template's <title>
    exporter = HTMLExporter(template_name="lab", template_file="forge_page.html.j2",
                            extra_loaders=[DictLoader({"forge_page.html.j2": _PAGE_TEMPLATE})])
    resources = {"forge_nav": nav, "forge_css": _CSS,
                 "forge_math": _MATHJAX_CONFIG if math else _NO_MATH_NOTE}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def build_site(out_dir: str | Path, notebooks: list[Path] | None = None) -> list[Path]:
    """Render the executed notebooks into `out_dir`: index.html, one NN_topic.html each, and
    static/mathjax when jupyter-server-mathjax is installed. Returns the pages, index first.

    >>> import tempfile
    >>> pages = build_site(tempfile.mkdtemp(), notebook_paths()[:1])
    >>> [p.name for p in pages]
    ['index.html', '00_start_here.html']
    """
    out = _check_out_dir(out_dir)
    paths = notebook_paths() if notebooks is None else [Path(p) for p in notebooks]
    if not paths:
        raise ValueError("build_site: no notebooks to render.")
    math = _copy_mathjax(out)
    nbs = [nbformat.read(p, as_version=4) for p in paths]
    pages = [(f"{p.stem}.html", notebook_title(nb)) for p, nb in zip(paths, nbs, strict=True)]
    stems = {p.stem for p in paths}
    written, items = [], []
    for i, (path, nb) in enumerate(zip(paths, nbs, strict=True)):
        page = render_page(nb, nav=_nav(pages, i), math=math)
        target = out / pages[i][0]
        target.write_text(_link_notebooks(page, stems), encoding="utf-8")
        written.append(target)
        run = f"run time {run_time_text(nb)}"
        n_ex = _exercise_count(nb)
        exercises = f" &middot; {n_ex} exercise{'s' if n_ex > 1 else ''}" if n_ex else ""
        items.append(f'<li><span class="forge-num">{path.name[:2]}</span>'
                     f'<a href="{pages[i][0]}">{html.escape(pages[i][1])}</a>'
                     f'<div class="forge-meta">{run} &middot; about {reading_minutes(nb)} min to '
                     f'read{exercises}</div>'
                     f'<div class="forge-learn">{_markdown_html(_learn_paragraph(nb))}</div></li>')
    index = out / "index.html"
    index.write_text(_INDEX.format(items="\n".join(items),
                                   math=_MATHJAX_CONFIG if math else _NO_MATH_NOTE),
                     encoding="utf-8")
    return [index, *written]


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
        pages = build_site(out_dir)
        math = (Path(out_dir) / MATHJAX_DIR / "MathJax.js").exists()
        print(f"wrote {len(pages)} pages to {out_dir}; open {Path(out_dir) / 'index.html'}"
              + ("" if math else " (jupyter-server-mathjax is not installed: math stays as TeX)"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
