"""Real-browser test: JupyterLab + headless Chromium render AlignPanel, and a click on Run trains and shows scores.

Starts JupyterLab on 127.0.0.1 (a free port, a token, a temporary copy of
``notebooks/01_quickstart.ipynb`` with small settings, isolated config, data and runtime folders),
opens the notebook in Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright
install``) in a 1,400-px-wide window, runs all cells, then in the page: chooses the ``ot`` coupling
(the panel picks the ``prototype`` bridge; with the bridge set to none, Run is disabled and the
panel says why), checks that every label is shown in full with its tooltip and that no two read
alike, sets the steps, clicks **Run**, follows the panel's progress bar to the end, waits for the
scores and checks that no figure overflows the output area. It saves screenshots of the panel
(``align_panel.png`` after the run, ``align_panel_no_bridge.png`` with Run disabled; their paths are
printed; ``FLOWALIGN_SCREENSHOT_DIR`` chooses the folder, default the test's temporary folder, which
also gets one of the whole page). It fails when a widget does not render ("Error displaying
widget", no widget manager).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb"
SMALL = ('TASK = "synthetic"\nTASK_OPTIONS = {"n_train": 300, "n_test": 100}\nCOUPLING = "exemplar"\n'
         "LABEL_FRACTION = 0.2\nSTEPS = 40\nBATCH_SIZE = 64\nSEED = 0")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BROWSER_STEPS = 60  # typed into the panel's steps field before clicking Run
WINDOW_WIDTH = 1400
#: every visible label of the panel: text, whether it is cut (wider than its box) and its tooltip
LABELS = """panel => [...panel.querySelectorAll('label.widget-label')].filter(l => l.offsetParent !== null)
    .map(l => ({text: l.textContent, cut: l.scrollWidth > l.clientWidth + 1,
                title: l.title}))"""
#: right edges of the panel's visible images and of the output area holding the panel, and whether the panel scrolls sideways
OVERFLOW = """panel => {
    const area = panel.closest('.jp-OutputArea-output').getBoundingClientRect();
    const images = [...panel.querySelectorAll('img')].filter(i => i.offsetParent !== null);
    return {area: area.right, images: images.map(i => i.getBoundingClientRect().right),
            scrolls: panel.scrollWidth > panel.clientWidth + 1};
}"""
KERNEL_CONNECTED = """() => {
    const notebook = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = notebook && notebook.sessionContext && notebook.sessionContext.session && notebook.sessionContext.session.kernel;
    return Boolean(kernel) && kernel.connectionStatus === "connected";
}"""

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is absent (Debian: apt-get install -y chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def small_notebook(folder: Path) -> Path:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    [cell] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    cell.source = SMALL
    path = folder / NOTEBOOK.name
    nbformat.write(nb, path)
    return path


def wait_for_server(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer {url} within {timeout} s:\n{log.read_text()[-3000:]}")


def shutdown(base: str, token: str, process: subprocess.Popen) -> None:
    """Ask the server to shut down (kernels included); terminate it if it does not within 30 s."""
    try:
        request = urllib.request.Request(f"{base}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"})
        urllib.request.urlopen(request, timeout=10).close()
        process.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def jupyter_lab(tmp_path):
    """A JupyterLab server over a temporary folder holding the small notebook; yields (base url, token, folder)."""
    root = tmp_path / "root"
    root.mkdir()
    small_notebook(root)
    port, token = free_port(), uuid.uuid4().hex
    labconfig = tmp_path / "config" / "labconfig"
    labconfig.mkdir(parents=True)  # no news toast over the panel
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_DATA_DIR": str(tmp_path / "data"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "IPYTHONDIR": str(tmp_path / "ipython")}
    log = tmp_path / "jupyter.log"
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
               "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False", "--allow-root"]
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(f"{base}/api/status?token={token}", process, log)
        yield base, token, tmp_path
    finally:
        shutdown(base, token, process)
    assert process.returncode is not None


def widget_errors(page) -> list[str]:
    text = page.inner_text("body")
    return [needle for needle in ("Error displaying widget", "No widget manager", "Failed to load model class")
            if needle.lower() in text.lower()]


def test_align_panel_renders_and_trains_in_a_real_browser(jupyter_lab):
    from playwright.sync_api import sync_playwright

    base, token, folder = jupyter_lab
    screenshots = Path(os.environ.get("FLOWALIGN_SCREENSHOT_DIR", folder))
    screenshots.mkdir(parents=True, exist_ok=True)
    console = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(folder / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": WINDOW_WIDTH, "height": 2200})
        try:
            page = context.new_page()
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}", timeout=120_000)
            page.wait_for_function(KERNEL_CONNECTED, timeout=120_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            # the last cell prints the coupling's same-class share: every cell has run (or one failed)
            errors = page.locator(".jp-OutputArea-output", has_text="Traceback (most recent call last)")
            page.locator(".jp-OutputArea-output", has_text="same-class share of the plan").or_(errors).first.wait_for(timeout=240_000)
            assert errors.count() == 0, f"a notebook cell failed:\n{errors.first.inner_text()}"
            run = page.locator(".jupyter-widgets button", has_text="Run").first
            run.wait_for(timeout=30_000)
            assert not widget_errors(page), f"widgets failed to render: {widget_errors(page)}; console: {console[-20:]}"
            page.locator(".jupyter-widgets", has_text="done: 40 steps").first.wait_for(timeout=30_000)  # the notebook's foreground run
            panel = run.locator("xpath=ancestor::div[contains(@class, 'widget-vbox')][last()]")

            def dropdown(label):
                return panel.locator(".widget-dropdown", has=page.locator("label", has_text=re.compile(f"^{label}$"))).locator("select")

            # a coupling that needs a bridge gets the default one; without one Run is disabled and says why
            dropdown("coupling").select_option("ot")
            page.wait_for_function("select => select.value === 'posterior'", arg=dropdown("bridge").element_handle(), timeout=30_000)
            assert run.is_enabled()
            dropdown("bridge").select_option("(none)")
            reason = panel.locator(".widget-html", has_text="choose a bridge (posterior is FlowAligner's default)")
            reason.wait_for(timeout=30_000)
            assert run.is_disabled() and "compares items of the two spaces through a bridge cost" in reason.inner_text()
            panel.scroll_into_view_if_needed()
            panel.screenshot(path=str(screenshots / "align_panel_no_bridge.png"))
            dropdown("bridge").select_option("prototype")
            page.wait_for_function("button => !button.disabled", arg=run.element_handle(), timeout=30_000)

            # labels in full, with the docstring sentence as tooltip, no two alike (the two batch sizes)
            labels = panel.evaluate(LABELS)
            texts = [label["text"] for label in labels]
            assert {"full_plan_max", "num_iter_max", "mask_penalty", "pairs per step", "plan_size"} <= set(texts), texts
            assert [label["text"] for label in labels if label["cut"]] == []
            assert len(texts) == len(set(texts)), f"labels read alike: {texts}"
            tips = {label["text"]: label["title"] for label in labels}
            assert tips["num_iter_max"] == "Network-simplex iterations; POT's default (1e5) stops short of optimal at n >= 1,000."
            # plan_size (default None) is a text field: its tooltip is set on the widget (tests/test_widgets.py) but
            # this ipywidgets version does not render a text field's tooltip on its label
            assert tips["pairs per step"].startswith("FlowAligner batch_size: source-target pairs")

            steps = panel.locator(".widget-inline-hbox", has=page.locator("label", has_text="training steps")).locator("input").first
            steps.fill(str(BROWSER_STEPS))
            steps.press("Enter")
            run.click()
            progress = panel.locator(".widget-hprogress").first
            progress.wait_for(state="visible", timeout=60_000)  # the panel's own progress bar, shown from the start of the run
            page.locator(".jupyter-widgets", has_text=f"done: {BROWSER_STEPS} steps").first.wait_for(timeout=180_000)
            assert panel.locator(".widget-label", has_text=f"{BROWSER_STEPS} / {BROWSER_STEPS} steps, loss").count() == 1
            page.wait_for_function("bar => bar.getBoundingClientRect().width >= 0.99 * bar.parentElement.getBoundingClientRect().width",
                                   arg=progress.locator(".progress-bar").element_handle(), timeout=30_000)
            results = page.locator(".jupyter-widgets table").first
            results.wait_for(timeout=30_000)
            assert "flow (aligned)" in results.inner_text() and "ceiling" in results.inner_text()

            # both figures (loss, before/after) fit the output area of a 1,400-px window
            page.wait_for_function("panel => [...panel.querySelectorAll('img')].filter(i => i.offsetParent !== null && i.complete).length == 2",
                                   arg=panel.element_handle(), timeout=30_000)
            fit = panel.evaluate(OVERFLOW)
            assert len(fit["images"]) == 2 and max(fit["images"]) <= fit["area"] + 1 and not fit["scrolls"], fit
            panel.scroll_into_view_if_needed()
            shot = screenshots / "align_panel.png"
            panel.screenshot(path=str(shot))
            page.screenshot(path=str(folder / "align_panel_page.png"), full_page=True)
            print(f"\nAlignPanel screenshots: {shot}, {screenshots / 'align_panel_no_bridge.png'} (whole page: {folder / 'align_panel_page.png'})")
            assert not widget_errors(page), f"widgets failed to render: {widget_errors(page)}"
            assert shot.stat().st_size > 10_000
            # the mode toggle swaps the task fields for the source / target modality fields
            source = page.locator(".widget-dropdown", has=page.locator("label", has_text="source")).first
            assert not source.is_visible()
            page.locator(".jupyter-widgets button", has_text="source / target modality").first.click()
            source.wait_for(state="visible", timeout=30_000)
            assert not page.locator(".widget-dropdown", has=page.locator("label", has_text="task")).first.is_visible()
        finally:
            context.close()
