"""The one place that knows where the course lives on GitHub and which version of it students get, and the setup
cell built from them.

:data:`VERSION` is the course version: a git tag per term (``"2025-fall"``), or ``"main"`` before the first
release. Everything a student opens names it: the setup cell (:data:`SETUP_CELL`) installs ``course_utils`` from
that tag, the Colab badges (:func:`colab_badge`) open that tag's notebooks, and checkpoints download from that tag's
``assets/`` (:mod:`course_utils.checkpoints`, checked against :mod:`course_utils.asset_hashes`). So a notebook a
student saved in week 2 still installs and loads the same code and weights in week 9, whatever happened on main.

``make release VERSION=...`` (``python -m tools.release``) writes :data:`VERSION` here, rewrites every setup cell
and badge (``make sync``), records the checkpoints' hashes and checks that everything names the same version; a
test fails when a notebook drifts. A fork changes :data:`REPOSITORY` (the repository students use: in the
instructor's private repository, the public student repository it publishes) and runs ``make release``.
"""

from __future__ import annotations

REPOSITORY = "dl-course/conv-autoencoders"  # GitHub owner/name
VERSION = "main"  # the course version students get: a git tag of REPOSITORY; written by `make release VERSION=...`
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"

SETUP_CELL = f'''\
# Setup, the same in every notebook. In Colab it installs this course's helper package (course_utils)
# from GitHub and leaves Colab's own torch and torchvision alone; on your machine (after `make lab`)
# it does nothing. COURSE_REPO may point at a fork or a local clone (git+file:///path/to/clone).
import os
import subprocess
import sys

COURSE_REPO = os.environ.get("COURSE_REPO", "git+{REPOSITORY_URL}@{VERSION}")
if "google.colab" in sys.modules or os.environ.get("COURSE_SETUP") == "colab":
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", COURSE_REPO], check=True)'''


def colab_url(notebook_path: str) -> str:
    """The address that opens ``notebooks/<name>.ipynb`` of this repository, at :data:`VERSION`, in Colab."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{VERSION}/{notebook_path}"


def colab_badge(notebook_path: str) -> str:
    """Markdown for the "Open in Colab" badge of a notebook, e.g. ``colab_badge("notebooks/01_x.ipynb")``."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook_path)})"
    )
