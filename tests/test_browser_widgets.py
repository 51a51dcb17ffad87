"""The lectures' widgets work in a real browser: JupyterLab, a live kernel, a slider moved by "hand".

JupyterLab (from this environment) is started on 127.0.0.1 with a random token and port, in a temporary copy of
the notebook; headless Chromium runs all cells in fast mode, moves a slider with the keyboard and checks that the
figure below it is redrawn: lecture 01's filter widget (σ) and lecture 04's denoising widget (noise σ).
Screenshots before and after go to _build/screenshots/. The same JupyterLab must offer the RISE slideshow that
`make lab` installs (jupyterlab-rise), so an instructor can present the notebook live.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_helpers import TIMEOUT_MS, chromium, deadline, free_port, require_chromium, screenshot_path, unavailable

ROOT = Path(__file__).resolve().parents[1]
JUPYTER = Path(sys.executable).with_name("jupyter")


@pytest.fixture
def jupyterlab(tmp_path):
    """(base URL, token, folder) of a JupyterLab serving ``tmp_path``; the server is always stopped."""
    require_chromium()
    if not JUPYTER.exists():
        unavailable(f"{JUPYTER} not found: JupyterLab is not installed in this environment")
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel draws inline, as for a student
    env.update(COURSE_FAST="1", COURSE_OFFLINE="1", JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    log = open(tmp_path / "jupyterlab.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [str(JUPYTER), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(tmp_path / 'jupyterlab.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within a minute")
        yield base, token, tmp_path
    finally:
        _stop(server)
        log.close()


def _stop(server):
    """SIGTERM the server's process group (server and kernels), SIGKILL it if it does not exit in 15 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            pass
        try:
            server.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


FIGURE = ".jupyter-widgets-output-area img, .widget-output img"  # inside the widget's box

# notebook, the slider's label, what its read-out says after one step to the right
WIDGETS = [
    ("01_convolution_by_hand.ipynb", "σ", "2.50"),  # σ: 2.0 -> 2.5
    ("04_denoising_autoencoders.ipynb", "noise σ", "0.60"),  # noise σ: 0.5 -> 0.6
]


@pytest.mark.parametrize(("notebook", "label", "after_step"), WIDGETS, ids=[w[0][:2] for w in WIDGETS])
def test_moving_a_slider_redraws_the_widget_figure(jupyterlab, notebook, label, after_step):
    base, token, folder = jupyterlab
    shutil.copy(ROOT / "notebooks" / notebook, folder / notebook)
    stem = notebook[:2]
    with deadline(420), chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(f"{base}/lab/tree/{notebook}?token={token}")
            page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                                   timeout=60_000)
            assert page.evaluate("window.jupyterapp.commands.hasCommand('RISE:slideshow')"), (
                "JupyterLab has no RISE slideshow command: is jupyterlab-rise installed (`make lab`)?")
            page.wait_for_function("window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus"
                                   " === 'idle'", timeout=60_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            # the widget's box: the slider above, its figure below
            box = page.locator(".jp-Cell .widget-vbox").filter(
                has=page.locator(".widget-slider", has_text=label)).first
            box.wait_for(state="attached", timeout=300_000)
            slider = box.locator(".widget-slider", has_text=label).first
            figure = box.locator(FIGURE).first
            figure.wait_for(state="attached", timeout=60_000)
            slider.scroll_into_view_if_needed()
            figure.scroll_into_view_if_needed()
            before = figure.get_attribute("src")
            page.screenshot(path=str(screenshot_path(f"{stem}_widget_before.png")))

            handle = slider.locator(".noUi-handle").first
            handle.focus()
            handle.press("ArrowRight")
            redrawn = time.monotonic() + 60  # the output area is cleared and refilled: look the figure up anew
            while figure.get_attribute("src") == before and time.monotonic() < redrawn:
                time.sleep(0.25)
            assert figure.get_attribute("src") != before, "the figure was not redrawn within a minute"
            assert after_step in slider.inner_text(), f"slider reads {slider.inner_text()!r}"
            page.wait_for_function("window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus"
                                   " === 'idle'", timeout=60_000)
            figure.scroll_into_view_if_needed()
            page.screenshot(path=str(screenshot_path(f"{stem}_widget_after.png")))
        finally:
            page.close()
    assert not errors, errors
