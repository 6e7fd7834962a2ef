"""The course in a real browser: Debian's chromium, headless, driven by Playwright's Python package.

1. The static site (`python -m forge_lib.tools.publish site`): every page loads from file:// with its
   title, its figures decoded, its math typeset, no error output, no console error, and no request
   leaving the machine.
2. JupyterLab: `jupyter lab` on 127.0.0.1 with a token, notebook 01 opened in the browser, its
   first cells run with Shift+Enter, their outputs checked against the committed ones.

Both skip with the reason when /usr/bin/chromium or the playwright package is missing (.ci/run
installs both; Playwright's own browser download is not used). Set FORGE_SCREENSHOTS=DIR to
keep screenshots of the index, every page and the JupyterLab run.
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from forge_lib.tools import publish

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
        page.on("requestfailed", lambda r: page.forge_log.append(f"failed: {r.url} {r.failure}"))
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


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    pages = publish.build_site(out)  # index first, then one page a notebook, in reading order
    return out, [p.name for p in pages[1:]]


def _expected(nb):
    figures = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if any(k in o.get("data", {}) for k in ("image/png", "image/jpeg")))
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    math = bool(re.search(r"\$[^$\s][^$]*\$", markdown))
    return figures, math


def page_problems(browser, path: Path, title: str, figures: int, math: bool) -> list[str]:
    """Everything wrong with one page as the browser shows it (an empty list when it is right)."""
    page = browser.new_page()
    blocked_before = len(browser.blocked)
    problems = []
    try:
        page.goto(path.as_uri(), wait_until="load")
        # MathJax typesets after load; its queue resolves once every formula is done.
        page.wait_for_function("() => !window.MathJax || (window.MathJax.Hub && "
                               "window.MathJax.isReady)", timeout=30_000)
        page.evaluate("() => new Promise(done => window.MathJax && window.MathJax.Hub ? "
                      "window.MathJax.Hub.Queue(done) : done())")
        if page.title() != title:
            problems.append(f"title {page.title()!r}, expected {title!r}")
        heading = page.locator("h1").first.inner_text()
        if title not in heading.replace("¶", "").strip():
            problems.append(f"first heading {heading!r} does not show the title")
        images = page.evaluate("() => [...document.querySelectorAll('.jp-OutputArea-output img')]"
                               ".map(i => [i.complete, i.naturalWidth])")
        if len(images) != figures:
            problems.append(f"{len(images)} figures on the page, the notebook has {figures}")
        broken = [i for i, (complete, width) in enumerate(images) if not complete or width == 0]
        if broken:
            problems.append(f"figures {broken} did not decode (naturalWidth 0)")
        errors = page.locator(".forge-error-output").count()
        if errors:
            problems.append(f"{errors} error outputs")
        if math:
            typeset = page.locator(".MathJax, .MathJax_Display").count()
            failed = page.locator(".MathJax .merror, .noError").count()
            if typeset == 0 or failed:
                problems.append(f"math: {typeset} formulas typeset, {failed} failed")
        _shot(page, f"site_{path.stem}")
    finally:
        page.close()
    problems += page.forge_log
    problems += [f"tried the network: {u}" for u in browser.blocked[blocked_before:]]
    return problems


def test_index_lists_every_notebook_in_order_and_its_links_resolve(browser, site):
    site, built = site
    page = browser.new_page()
    try:
        page.goto((site / "index.html").as_uri(), wait_until="load")
        assert page.title() == "Metrics Forge"
        hrefs = page.evaluate("() => [...document.querySelectorAll('ol.forge-index a')]"
                              ".map(a => a.getAttribute('href'))")
        _shot(page, "site_index")
    finally:
        page.close()
    assert hrefs == built and len(built) == len(publish.notebook_paths())
    assert all((site / h).exists() for h in hrefs)
    assert page.forge_log == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_site_page_loads_with_title_figures_and_no_errors(browser, site, path):
    site, _ = site
    nb = nbformat.read(path, as_version=4)
    figures, math = _expected(nb)
    problems = page_problems(browser, site / f"{path.stem}.html", publish.notebook_title(nb),
                             figures, math)
    assert problems == []


def test_page_check_catches_a_broken_page(browser, site):
    """The checks above can fail: a page with an error output, a figure that does not decode, an
    external script and the wrong count of figures is reported on each count."""
    site, _ = site
    v4 = nbformat.v4
    bad_png = v4.new_output("display_data", data={"image/png": "bm90IGFuIGltYWdl", "text/plain": ""})
    error = v4.new_output("error", ename="ValueError", evalue="boom", traceback=["ValueError: boom"])
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# Broken page\n\n$x^2$"),
                                v4.new_code_cell("plot()", outputs=[bad_png, error])])
    page = publish.render_page(nb).replace(
        "</head>", '<script src="https://example.invalid/x.js"></script></head>')
    path = site / "zz_broken.html"
    path.write_text(page)
    problems = "\n".join(page_problems(browser, path, "Broken page", 2, True))
    path.unlink()
    assert "1 figures on the page, the notebook has 2" in problems
    assert "did not decode" in problems
    assert "1 error outputs" in problems
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
