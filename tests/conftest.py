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
import sys

import pytest

os.environ["COURSE_FAST"] = "1"
os.environ["COURSE_OFFLINE"] = "1"
os.environ["MPLBACKEND"] = "Agg"

# fixture -> marker: a test that uses one of these fixtures gets the marker
FIXTURE_MARKERS = {
    "dist": "slow",  # test_hw2_grading: `otter assign` runs the solution notebook
    "graded_class": "slow",  # test_hw2_grading: a class of notebooks graded in the sandbox
    "gradescope_class": "slow",  # test_hw2_grading: the same class through the Gradescope zip
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


# ---------------------------------------------------------------------------------------------- shared fixtures


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state, as every notebook starts with ``cu.seed_everything(0)``."""
    import torch

    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _close_figures():
    """No figure outlives its test (pyplot keeps every open figure, and warns after twenty)."""
    yield
    if "matplotlib.pyplot" in sys.modules:  # not imported just to close nothing
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture(scope="session")
def dist(tmp_path_factory):
    """HW2 built as `make homework` builds it, into a temporary folder (otter assign runs the master's solution
    and raises if it fails any public or hidden test): student notebook, public tests, the autograder zip with
    a fresh secret. Shared by the grading tests of both paths (`make grade` and the Gradescope zip)."""
    from tools import autograder

    return autograder.generate("hw2", tmp_path_factory.mktemp("hw2") / "dist")


@pytest.fixture(scope="session")
def mnist_train():
    """The training digits a notebook sees in fast mode (``ImageData``: images (N, 1, 28, 28), labels, source).
    Shared by the whole run: do not change its tensors in place."""
    import course_utils as cu

    return cu.load_mnist("train", verbose=False)


@pytest.fixture(scope="session")
def mnist_test():
    """The test digits a notebook sees in fast mode (``ImageData``); shared, read-only like ``mnist_train``."""
    import course_utils as cu

    return cu.load_mnist("test", verbose=False)


@pytest.fixture(scope="session")
def mnist_test_images(mnist_test):
    """``mnist_test.images``: (N, 1, 28, 28) floats in [0, 1]."""
    return mnist_test.images
