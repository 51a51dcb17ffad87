"""Test settings and what the test files share.

* Fast mode, offline data, no plotting window: set before anything imports course_utils, and inherited by the
  notebook kernels that nbval starts.
* Markers by cost (registered in pyproject.toml): ``slow`` (HW2 grading, notebooks under nbval, model training,
  the Colab simulation) and ``browser`` (headless Chromium, JupyterLab, the npm-built slide decks).
  ``make unit`` runs ``-m "not slow and not browser"``; ``make test`` runs everything. A test file marks its own
  training tests with ``@pytest.mark.slow``; the marks below follow from what a test uses, so that a new test
  that needs the graded class or a browser is marked without anyone remembering to.
"""

import os

import pytest

os.environ["COURSE_FAST"] = "1"
os.environ["COURSE_OFFLINE"] = "1"
os.environ["MPLBACKEND"] = "Agg"

# fixture -> marker: a test that uses one of these fixtures gets the marker
FIXTURE_MARKERS = {
    "dist": "slow",  # test_hw2_grading: `otter assign` runs the solution notebook
    "graded_class": "slow",  # test_hw2_grading: a class of notebooks graded in the sandbox
    "colab": "slow",  # test_colab_setup: a fresh virtual environment, pip, every notebook's first cells
    "decks": "browser",  # test_slides: decks built with reveal.js from npm
    "browser": "browser",  # test_slides: headless Chromium
    "jupyterlab": "browser",  # test_browser_widgets: JupyterLab driven by Chromium
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.suffix == ".ipynb":  # a notebook cell under nbval: the notebook runs top to bottom
            item.add_marker(pytest.mark.slow)
        for name in set(getattr(item, "fixturenames", ())) & FIXTURE_MARKERS.keys():
            item.add_marker(FIXTURE_MARKERS[name])
