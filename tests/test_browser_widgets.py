"""Lecture 01's filter widget works in a real browser: JupyterLab, a live kernel, a slider moved by "hand".

JupyterLab (from this environment) is started on 127.0.0.1 with a random token and port, in a temporary copy of
the notebook; headless Chromium runs all cells, moves the σ slider with the keyboard and checks that the figure
below it is redrawn. Screenshots before and after go to _build/screenshots/.
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
from browser_helpers import TIMEOUT_MS, chromium, deadline, free_port, require_chromium, screenshot_path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_convolution_by_hand.ipynb"
JUPYTER = Path(sys.executable).with_name("jupyter")


@pytest.fixture
def jupyterlab(tmp_path):
    """(base URL, token) of a JupyterLab serving a copy of lecture 01; the server is always stopped."""
    require_chromium()
    if not JUPYTER.exists():
        pytest.skip(f"{JUPYTER} not found: JupyterLab is not installed in this environment")
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
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
        yield base, token
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


FIGURE = ".jp-Cell .jupyter-widgets-output-area img, .jp-Cell .widget-output img"


def test_moving_the_sigma_slider_redraws_the_filter_figure(jupyterlab):
    base, token = jupyterlab
    with deadline(200), chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        try:
            page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={token}")
            page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                                   timeout=60_000)
            page.wait_for_function("window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus"
                                   " === 'idle'", timeout=60_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            slider = page.locator(".jp-Cell .widget-slider", has_text="σ").first
            slider.wait_for(state="attached", timeout=120_000)
            figure = page.locator(FIGURE).first
            figure.wait_for(state="attached", timeout=60_000)
            slider.scroll_into_view_if_needed()
            figure.scroll_into_view_if_needed()
            before = figure.get_attribute("src")
            page.screenshot(path=str(screenshot_path("01_widget_before.png")))

            handle = slider.locator(".noUi-handle").first
            handle.focus()
            handle.press("ArrowRight")  # σ: 2.0 -> 2.5
            page.wait_for_function(
                "([sel, old]) => { const i = document.querySelector(sel); return i && i.src !== old; }",
                arg=[FIGURE, before], timeout=60_000)
            after = page.locator(FIGURE).first
            after.scroll_into_view_if_needed()
            assert after.get_attribute("src") != before
            assert "2.50" in slider.inner_text(), f"slider reads {slider.inner_text()!r}"
            page.wait_for_function("window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus"
                                   " === 'idle'", timeout=60_000)
            page.screenshot(path=str(screenshot_path("01_widget_after.png")))
        finally:
            page.close()
    assert not errors, errors
