"""The course in a real browser: Debian's chromium, headless, driven by Playwright's Python package.

1. The static site (`python -m forge_lib.tools.publish site`, Sphinx), both editions served from
   127.0.0.1: every page loads with its title, its figures decoded, its math typeset (no TeX left
   as text, no MathJax error), no error output, no progress bar, no `In [n]:` prompt, no console
   error, no failed request and no request leaving the machine; the sidebar lists the course in
   reading order; previous/next links; the download is that edition's notebook; search finds
   "perplexity"; the student pages hold no solution code.
2. JupyterLab: `jupyter lab` on 127.0.0.1 with a token, notebook 01 opened in the browser, its
   first cells run with Shift+Enter, their outputs checked against the committed ones.

Both skip with the reason when /usr/bin/chromium or the playwright package is missing (.ci/run
installs both; Playwright's own browser download is not used). Set FORGE_SCREENSHOTS=DIR to
keep screenshots of the indexes, pages 01, 09 and 13, the search page and the JupyterLab run.
"""

import functools
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest

from forge_lib.tools import publish
from forge_lib.tools import site as site_pages

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = os.environ.get("FORGE_SCREENSHOTS")
NOTEBOOKS = publish.notebook_paths()
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")

try:
    import playwright.sync_api  # noqa: F401

    HAVE_PLAYWRIGHT = True
except ImportError:
    HAVE_PLAYWRIGHT = False

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: install Debian's "
                       "chromium package (apt-get install chromium; .ci/run does it)"),
    pytest.mark.skipif(not HAVE_PLAYWRIGHT, reason="the playwright package is not installed "
                       "(it is pinned in requirements.txt)"),
]


def _navigated_away(request) -> bool:
    """A request the page dropped because it moved on (a font MathJax was still loading when the
    test went to the next page): not a fault. A missing file answers 404, logged as a response;
    a request off the machine is aborted by the route above and listed in `blocked`."""
    return "ERR_ABORTED" in (request.failure or "") and request.url.startswith("http://127.0.0.1")


class Browser:
    """One headless chromium with a fresh profile; requests off this machine are blocked and
    recorded, so a page that needs the network fails the test instead of hanging it."""

    def __init__(self, playwright, profile: Path):
        self.allowed = list(LOCAL_SCHEMES)
        self.blocked: list[str] = []
        self.context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=FLAGS, headless=True,
            viewport={"width": 1280, "height": 900}, timeout=60_000)
        self.context.set_default_timeout(30_000)
        self.context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if url.startswith(tuple(self.allowed)):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def new_page(self):
        page = self.context.new_page()
        page.forge_log = []  # console errors, uncaught exceptions, failed requests
        page.on("console", lambda m: m.type == "error" and page.forge_log.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: page.forge_log.append(f"exception: {e}"))
        page.on("requestfailed", lambda r: _navigated_away(r) or page.forge_log.append(
            f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and page.forge_log.append(f"{r.status}: {r.url}"))
        return page


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        b = Browser(playwright, tmp_path_factory.mktemp("chromium-profile"))
        yield b
        b.context.close()


def _shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


# --- the static site -------------------------------------------------------------------------

SHOT_PAGES = {"01", "09", "13"}  # FORGE_SCREENSHOTS: a text page, progress bars, math and images
# A backslash before a letter or "_" in the page's prose (code blocks left out) is TeX that
# MathJax did not turn into math: a formula left as source, or \text{data\_range} shown as is.
LITERAL_TEX = re.compile(r"\\(?:[A-Za-z]+|_)")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line a request would bury pytest's output
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # A page closed while a file was still being sent (the tests move on quickly) is a
        # broken pipe here, not a fault of the site; anything else is printed as usual.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def site(tmp_path_factory, browser):
    """Both editions built once into a temporary folder and served from 127.0.0.1 (search and
    downloads are tested as a web server delivers them); yields its origin URL and folder."""
    out = tmp_path_factory.mktemp("site")
    site_pages.build_site(out)
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    browser.allowed.append(origin + "/")
    yield origin, out
    browser.allowed.remove(origin + "/")
    server.shutdown()
    server.server_close()


def _solution_bodies(nb) -> list[str]:
    """The code lines of each solution cell, comments left out."""
    return ["\n".join(line for line in c.source.splitlines()
                      if line.strip() and not line.lstrip().startswith("#"))
            for c in nb.cells if "solution" in c.get("metadata", {}).get("tags", [])]


def expected_page(path: Path, edition: str) -> dict:
    """What the page of notebook `path` must show in `edition`, counted from the notebook."""
    nb = site_pages.edition_notebook(nbformat.read(path, as_version=4), edition)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return {"title": publish.notebook_title(nb), "edition": edition,
            "figures": sum(any(k in o.get("data", {}) for k in ("image/png", "image/jpeg"))
                           for o in outputs),
            "stderr": sum(o.get("name") == "stderr" and not site_pages.is_progress_bar(o)
                          for o in outputs),
            "math": bool(re.search(r"\$[^$\s][^$]*\$", markdown)),
            "sections": bool(re.search(r"^## ", markdown, re.MULTILINE)),
            "hidden": _solution_bodies(nbformat.read(path, as_version=4)) if edition == "student" else []}


def _wait_for_math(page):
    # MathJax 3 typesets after load; startup.promise resolves once every formula is done.
    page.wait_for_function("() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)")
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")


def _math_problems(page) -> list[str]:
    typeset = page.locator("mjx-container").count()
    failed = page.locator("mjx-merror").count()  # MathJax 3 typesets a TeX error as <merror>
    problems = [f"math: {failed} formulas failed"] if failed else []
    if typeset == 0:
        problems.append("math: no formula typeset")
    prose = page.evaluate("""() => { const a = document.querySelector('article').cloneNode(true);
        a.querySelectorAll('pre, code, .highlight, script, style').forEach(e => e.remove());
        return a.textContent; }""")
    literal = sorted(set(m.group(0) for m in LITERAL_TEX.finditer(prose)))
    if literal:
        problems.append(f"math: literal TeX on the page: {literal}")
    return problems


def _download_problem(page, url: str, path: Path, edition: str) -> str | None:
    """None when the page's download button serves this edition's notebook."""
    links = page.locator(".dropdown-download-buttons a[href$='.ipynb']")
    if links.count() != 1:
        return f"{links.count()} .ipynb download links, expected 1"
    response = page.request.get(urllib.parse.urljoin(url, links.first.get_attribute("href")))
    if not response.ok:
        return f"the download answered {response.status}"
    committed = nbformat.read(path, as_version=4)
    expected = site_pages.edition_notebook(committed, edition)
    if nbformat.reads(response.text(), as_version=4) != expected:
        return f"the download is not the {edition} edition of {path.name}"
    if edition == "teacher" and response.body() != path.read_bytes():
        return "the teacher download is not the committed file byte for byte"
    return None


def page_problems(browser, url: str, expected: dict, shot: str | None = None) -> list[str]:
    """Everything wrong with one page as the browser shows it (an empty list when it is right)."""
    page = browser.new_page()
    blocked_before = len(browser.blocked)
    problems = []
    try:
        page.goto(url, wait_until="load")
        _wait_for_math(page)
        title = f"{expected['title']} — Metrics Forge ({expected['edition']} edition)"
        if page.title() != title:
            problems.append(f"title {page.title()!r}, expected {title!r}")
        heading = page.locator("article h1").first.inner_text()
        if expected["title"] not in heading.replace("#", "").strip():
            problems.append(f"first heading {heading!r} does not show the title")
        images = page.evaluate("() => [...document.querySelectorAll('.cell_output img')]"
                               ".map(i => [i.complete, i.naturalWidth])")
        if len(images) != expected["figures"]:
            problems.append(f"{len(images)} figures on the page, the notebook has {expected['figures']}")
        broken = [i for i, (complete, width) in enumerate(images) if not complete or width == 0]
        if broken:
            problems.append(f"figures {broken} did not decode (naturalWidth 0)")
        errors = page.locator(".cell_output .traceback").count()
        if errors:
            problems.append(f"{errors} error outputs")
        stderr = page.locator(".cell_output .stderr").count()
        if stderr != expected["stderr"]:
            problems.append(f"{stderr} stderr blocks, expected {expected['stderr']} (tqdm bars dropped)")
        text = page.locator("article").inner_text()
        if re.search(r"\b(In|Out) ?\[\d*\]:", text):
            problems.append("input/output prompts (In [n]:) on the page")
        if expected["math"]:
            problems += _math_problems(page)
        if expected["sections"] and page.locator("#pst-page-toc-nav a").count() == 0:
            problems.append("no in-page contents in the secondary sidebar")
        code = "\n".join(page.locator(".cell_input").all_inner_texts())
        problems += [f"solution code on the page: {body[:40]!r}" for body in expected["hidden"]
                     if body in code]
        if shot and SHOTS:
            _shot(page, shot)
            for part, selector in (("figure", ".cell_output img"), ("math", "article mjx-container")):
                first = page.locator(selector).first
                if first.count():  # one more shot where the first figure and formula are
                    first.scroll_into_view_if_needed()
                    _shot(page, f"{shot}_{part}")
    finally:
        page.close()
    problems += page.forge_log
    problems += [f"tried the network: {u}" for u in browser.blocked[blocked_before:]]
    return problems


def test_landing_page_links_both_editions(browser, site):
    site, _ = site
    page = browser.new_page()
    try:
        page.goto(f"{site}/index.html", wait_until="load")
        assert page.title() == "Metrics Forge"
        hrefs = page.evaluate("() => [...document.querySelectorAll('ul.forge-editions a')]"
                              ".map(a => a.getAttribute('href'))")
        assert hrefs == [f"{e}/index.html" for e in site_pages.EDITIONS]
        assert all(page.request.get(f"{site}/{h}").ok for h in hrefs)
        _shot(page, "site_landing")
    finally:
        page.close()
    assert page.forge_log == []


@pytest.mark.parametrize("edition", site_pages.EDITIONS)
def test_sidebar_lists_the_course_in_reading_order(browser, site, edition):
    site, _ = site
    page = browser.new_page()
    try:
        page.goto(f"{site}/{edition}/index.html", wait_until="load")
        _wait_for_math(page)
        assert page.title() == f"Metrics Forge — Metrics Forge ({edition} edition)"
        hrefs = page.evaluate("() => [...document.querySelectorAll('nav.bd-docs-nav "
                              "ul.bd-sidenav:not(.bd-sidenav__home-link) > li > a')]"
                              ".map(a => a.getAttribute('href'))")
        labels = page.locator("nav.bd-docs-nav ul.bd-sidenav:not(.bd-sidenav__home-link) > li > a")
        titles = [" ".join(t.split()) for t in labels.all_inner_texts()]
        other = next(e for e in site_pages.EDITIONS if e != edition)
        assert page.locator(f"article a[href='../{other}/index.html']").count() == 1
        _shot(page, f"site_{edition}_index")
    finally:
        page.close()
    assert hrefs == [f"{p.stem}.html" for p in NOTEBOOKS] and len(hrefs) == 18
    for path, title in zip(NOTEBOOKS, titles, strict=True):
        assert title == f"{path.name[:2]} · {publish.notebook_title(nbformat.read(path, 4))}"
    assert page.forge_log == []


@pytest.mark.parametrize("edition", site_pages.EDITIONS)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_site_page_shows_the_notebook_and_fetches_nothing(browser, site, path, edition):
    site, _ = site
    url = f"{site}/{edition}/{path.stem}.html"
    shot = f"site_{edition}_{path.stem}" if path.name[:2] in SHOT_PAGES else None
    assert page_problems(browser, url, expected_page(path, edition), shot) == []


@pytest.mark.parametrize("edition", site_pages.EDITIONS)
def test_site_pages_link_previous_next_and_their_download(browser, site, edition):
    site, _ = site
    page = browser.new_page()
    problems = []
    try:
        stems = ["index", *(p.stem for p in NOTEBOOKS)]
        for i, path in enumerate(NOTEBOOKS, start=1):
            url = f"{site}/{edition}/{path.stem}.html"
            page.goto(url, wait_until="domcontentloaded")
            prev = page.locator(".prev-next-area a.left-prev").get_attribute("href")
            following = page.locator(".prev-next-area a.right-next")
            next_href = following.get_attribute("href") if following.count() else None
            want_next = f"{stems[i + 1]}.html" if i + 1 < len(stems) else None
            if (prev, next_href) != (f"{stems[i - 1]}.html", want_next):
                problems.append(f"{path.stem}: previous/next {prev}, {next_href}")
            problem = _download_problem(page, url, path, edition)
            if problem:
                problems.append(f"{path.stem}: {problem}")
    finally:
        page.close()
    assert problems + page.forge_log == []


@pytest.mark.parametrize("edition", site_pages.EDITIONS)
def test_search_finds_perplexity(browser, site, edition):
    site, _ = site
    page = browser.new_page()
    blocked_before = len(browser.blocked)
    try:
        page.goto(f"{site}/{edition}/search.html?q=perplexity", wait_until="load")
        results = page.locator("#search-results ul.search li a")
        results.first.wait_for(timeout=30_000)  # Sphinx searches in JavaScript, after load
        hrefs = results.evaluate_all("links => links.map(a => a.getAttribute('href'))")
        _shot(page, f"site_{edition}_search")
    finally:
        page.close()
    assert any(h.startswith("01_perplexity.html") for h in hrefs), hrefs
    assert page.forge_log == [] and browser.blocked[blocked_before:] == []


def test_page_check_catches_a_broken_page(browser, site):
    """The checks above can fail: a copy of page 01 with a figure that does not decode, an error
    output, a prompt, a formula MathJax cannot typeset, TeX outside math, \\text{data\\_range}
    typeset without the textmacros package, solution code where the student edition must have
    none, and an external script is reported on each count."""
    origin, out = site
    html = (out / "teacher" / "01_perplexity.html").read_text(encoding="utf-8")
    first_image = re.search(r'<img[^>]* src="([^"]+)"', html).group(1)
    math = '<span class="math notranslate nohighlight">\\({}\\)</span>'
    bad_formula, no_textmacros = math.format("\\frac{1}"), math.format("\\text{data\\_range}")
    faults = ('<div class="cell_output"><div class="output traceback"><pre>ValueError</pre></div>'
              f"</div><p>In [3]: \\frac{{a}}{{b}} {bad_formula} {no_textmacros}</p></article>")
    broken = (html.replace(f'src="{first_image}"', 'src="_images/missing.png"', 1)
              .replace('"[tex]/textmacros"', "").replace('["textmacros"]', "[]")
              .replace("</head>", '<script src="https://example.invalid/x.js"></script></head>')
              .replace("</article>", faults))
    path = out / "teacher" / "zz_broken.html"
    path.write_text(broken, encoding="utf-8")
    try:  # page 01 checked as if it were the student edition: its solutions must be missing
        expected = expected_page(NOTEBOOKS[1], "student") | {"edition": "teacher"}
        problems = "\n".join(page_problems(browser, f"{origin}/teacher/zz_broken.html", expected))
    finally:
        path.unlink()
    assert "did not decode" in problems and "404" in problems
    assert "1 error outputs" in problems
    assert "prompts (In [n]:)" in problems
    assert "math: 1 formulas failed" in problems
    literal = next((line for line in problems.splitlines() if "literal TeX" in line), "")
    assert "'\\\\_'" in literal and "'\\\\frac'" in literal  # data\\_range, and \\frac in prose
    assert "solution code on the page" in problems
    assert "tried the network: https://example.invalid/x.js" in problems


# --- JupyterLab smoke test -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(port: int, token: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status",
                                     headers={"Authorization": f"token {token}"})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # 127.0.0.1 only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer on 127.0.0.1:{port} within {timeout:g} s")


def _wait_for_connected_kernel(page, origin: str, token: str, timeout: float = 120) -> None:
    # Polled through Playwright, never time.sleep: the route handler that screens every request
    # runs only while Playwright is called, so a Python-side sleep would stall the page.
    deadline, kernels = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        kernels = page.request.get(f"{origin}/api/kernels",
                                   headers={"Authorization": f"token {token}"}).json()
        # A kernel still starting can make jupyter_server answer with an error object (its
        # last_activity is not set yet) instead of the list: not ready, ask again.
        if isinstance(kernels, list) and any(k["execution_state"] == "idle" and k["connections"] > 0
                                             for k in kernels):
            return
        page.wait_for_timeout(500)
    raise TimeoutError(f"no kernel was idle and connected within {timeout:g} s: {kernels}")


def _stop_server(port: int, token: str, proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/shutdown", method="POST",
                                         headers={"Authorization": f"token {token}"})
        urllib.request.urlopen(request, timeout=10).close()
        proc.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def _stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs
                   if o.output_type == "stream" and o.get("name") == "stdout")


def test_jupyterlab_opens_notebook_01_and_runs_its_first_cells(browser, tmp_path):
    source = next((p for p in NOTEBOOKS if p.name.startswith("01_")), NOTEBOOKS[0])
    nb = nbformat.read(source, as_version=4)
    # A copy, so that nothing JupyterLab saves can touch the committed notebook.
    work = tmp_path / "course"
    (work / "notebooks").mkdir(parents=True)
    shutil.copy(source, work / "notebooks" / source.name)
    settings = tmp_path / "lab-settings"
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))  # every cell in the DOM
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no "Jupyter news?" prompt, no fetch
    env = os.environ | {"JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
                        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
                        "JUPYTERLAB_SETTINGS_DIR": str(settings),
                        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    port, token = _free_port(), secrets.token_hex(16)
    jupyter = Path(sys.executable).with_name("jupyter")
    command = [str(jupyter), "lab"] if jupyter.exists() else [sys.executable, "-m", "jupyterlab"]
    command += ["--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
                f"--ServerApp.token={token}", f"--ServerApp.root_dir={work}",
                "--allow-root",  # CI containers run as root; harmless otherwise
                # Nothing that would reach the internet: no update check, no PyPI extension list.
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly"]
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    # Which cells to run: up to the third code cell, so imports and two lessons' cells run.
    code_indices = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"][:3]
    origin = f"http://127.0.0.1:{port}"
    browser.allowed.append(origin + "/")
    blocked_before = len(browser.blocked)
    page = None
    try:
        _wait_for_server(port, token, proc)
        page = browser.new_page()
        page.goto(f"{origin}/lab/tree/notebooks/{source.name}?token={token}")
        cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
        page.wait_for_function(f"() => document.querySelectorAll("
                               f"'.jp-NotebookPanel .jp-Notebook .jp-Cell').length == {len(nb.cells)}",
                               timeout=90_000)
        # Ready means: the server's kernel is idle with the page connected to it, and the page
        # says so too. The toolbar's idle dot alone shows before the kernel has connected, and
        # a Shift+Enter sent then is silently dropped.
        _wait_for_connected_kernel(page, origin, token)
        page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first.wait_for(timeout=120_000)
        cells.first.click()  # select the title cell (command mode)
        page.keyboard.press("Escape")
        active = ("() => [...document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')]"
                  ".findIndex(c => c.classList.contains('jp-mod-active'))")
        for step in range(code_indices[-1] + 1):  # Shift+Enter: run the cell, select the next
            assert page.evaluate(active) == step, "the notebook did not take the key press"
            page.keyboard.press("Shift+Enter")
            page.wait_for_function(f"() => ({active})() == {step + 1}", timeout=10_000)
        for index in code_indices:  # "[*]:" while queued or running, "[n]:" when done
            page.wait_for_function(
                f"() => /^\\[\\d+\\]:$/.test(document.querySelectorAll('.jp-NotebookPanel "
                f".jp-Notebook .jp-Cell')[{index}].querySelector('.jp-InputPrompt')"
                f".textContent.trim())", timeout=120_000)
        checked = 0
        for index in code_indices:
            committed, shown = nb.cells[index], cells.nth(index)
            if "nbval-ignore-output" in committed.metadata.get("tags", []):
                continue
            expected = _stream_text(committed)
            if expected:
                got = shown.locator(".jp-OutputArea-output").all_inner_texts()
                assert " ".join(expected.split()) in " ".join(" ".join(got).split())
                checked += 1
            for _ in range(sum("image/png" in o.get("data", {}) for o in committed.outputs)):
                widths = shown.locator(".jp-OutputArea-output img").evaluate_all(
                    "imgs => imgs.map(i => i.naturalWidth)")
                assert widths and all(w > 0 for w in widths)
                checked += 1
            assert shown.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        assert checked >= 1, "none of the first cells has an output to compare"
        _shot(page, "jupyterlab_run")
    except Exception:
        if page is not None:
            _shot(page, "jupyterlab_failure")
        log.flush()
        print("jupyter lab log, last lines:\n" + "\n".join(
            (tmp_path / "lab.log").read_text().splitlines()[-30:]))
        raise
    finally:
        if page is not None:
            page.close()
        _stop_server(port, token, proc)
        log.close()
        browser.allowed.remove(origin + "/")
    assert browser.blocked[blocked_before:] == [], "JupyterLab tried to reach another host"
    assert nbformat.read(source, as_version=4) == nb  # the committed notebook is untouched
