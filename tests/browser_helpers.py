"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright, never a downloaded one.

Install it with ``apt-get install -y chromium`` (CI: see .ci/run). Tests that need it call :func:`require_chromium`,
which skips them with the reason when the browser or the playwright package is missing, and fails them instead when
the environment variable ``CI`` is set (:func:`unavailable`), so that CI cannot pass without running them.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

CHROMIUM = Path(os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
]
TIMEOUT_MS = 30_000  # any single browser step; nothing waits longer
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"


def unavailable(reason: str) -> NoReturn:
    """Skip a browser or slide test whose tool is missing, saying which; in CI (``CI`` set) fail it instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}. CI is set, so this test must run, not skip: .ci/run installs chromium and npm "
                    "(apt-get install -y chromium npm)", pytrace=False)
    pytest.skip(reason)


def require_chromium():
    """The playwright sync API, or skip (in CI: fail) the test saying what is missing."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} not found: install Debian's browser with `apt-get install -y chromium`")
    try:
        import playwright.sync_api as sync_api
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    return sync_api


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium browser (playwright ``Browser``) that is always closed."""
    sync_api = require_chromium()
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
                                    timeout=TIMEOUT_MS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def http_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) in a thread; yields the base URL ``http://127.0.0.1:PORT``."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def is_local(url: str) -> bool:
    return url.startswith(("http://127.0.0.1", "data:", "blob:", "about:"))


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name


class Deadline(Exception):
    """A browser test ran past its deadline."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`Deadline` in the main thread after ``seconds``: a last guard so that no browser test can hang
    (playwright's own timeouts do not cover everything, e.g. a page's promise that never settles)."""
    def expire(signum, frame):
        raise Deadline(f"gave up after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def open_browser() -> Iterator[object]:
    """Headless Chromium for a test module or session (skips without it), started and closed under deadlines."""
    require_chromium()
    with deadline(60):
        context = chromium()
        browser = context.__enter__()
    try:
        yield browser
    finally:
        with deadline(30):
            context.__exit__(None, None, None)


# The lecture whose cells tagged hide-input (code that only draws) the site and slide tests look at: its drawing cells
# are tagged, its lesson code is not.
HIDE_INPUT_LECTURE = ROOT / "notebooks" / "01_convolution_by_hand.ipynb"


def marked_and_teaching_cells(path: Path = HIDE_INPUT_LECTURE) -> tuple[list[dict], dict]:
    """A lecture's code cells tagged hide-input that store a figure, and one teaching cell (exported lesson code);
    each as {"id", "key"}, where key is the cell's longest line of code (to find the cell on a page)."""
    cells = json.loads(path.read_text())["cells"]

    def described(cell):
        return {"id": cell.get("id"), "key": max("".join(cell["source"]).splitlines(), key=len).strip()}

    marked = [described(c) for c in cells if c["cell_type"] == "code" and "hide-input" in c["metadata"].get("tags", [])
              and any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    teaching = next(described(c) for c in cells if "export" in c["metadata"].get("tags", [])
                    and "def conv2d_by_hand" in "".join(c["source"]))
    assert marked, f"{path.name} tags no drawing cell hide-input: nothing to test"
    return marked, teaching
