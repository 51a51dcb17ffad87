"""The one place that knows where the course lives on GitHub, and the setup cell built from it.

Every notebook starts with :data:`SETUP_CELL` and a badge from :func:`colab_badge`; ``make sync`` (that is,
``python -m tools.sync_notebooks``) rewrites them from here, and a test fails when a notebook drifts.
A fork changes :data:`REPOSITORY` (and ``BRANCH``) and runs ``make sync``.
"""

from __future__ import annotations

REPOSITORY = "dl-course/conv-autoencoders"  # GitHub owner/name
BRANCH = "main"
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"

SETUP_CELL = f'''\
# Setup, the same in every notebook. In Colab it installs this course's helper package (course_utils)
# from GitHub and leaves Colab's own torch and torchvision alone; on your machine (after `make lab`)
# it does nothing. COURSE_REPO may point at a fork or a local clone (git+file:///path/to/clone).
import os
import subprocess
import sys

COURSE_REPO = os.environ.get("COURSE_REPO", "git+{REPOSITORY_URL}@{BRANCH}")
if "google.colab" in sys.modules or os.environ.get("COURSE_SETUP") == "colab":
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", COURSE_REPO], check=True)'''


def colab_url(notebook_path: str) -> str:
    """The address that opens ``notebooks/<name>.ipynb`` of this repository in Colab."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{notebook_path}"


def colab_badge(notebook_path: str) -> str:
    """Markdown for the "Open in Colab" badge of a notebook, e.g. ``colab_badge("notebooks/01_x.ipynb")``."""
    return (
        f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook_path)})"
    )
