"""Sphinx configuration of the course website; ``python -m tools.build_site`` (``make site``) runs Sphinx with it
on the source folder that it writes (see tools/build_site.py). Every asset a page loads is served from the site."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from course_utils.colab import REPOSITORY, VERSION  # noqa: E402
from tools import build_site  # noqa: E402

project = "Convolution, CNNs and autoencoders"
author = "the course's authors"
copyright = "the course's authors, MIT licence"
extensions = ["myst_nb"]
exclude_patterns = ["_thumbs"]

# Notebooks are shown with the outputs they were committed with; nothing runs.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # live widgets are replaced by their stored figures (build_site.prepare_notebook)
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_sourcelink_suffix = ""
html_last_updated_fmt = None
# Light unless the reader picks dark: the stored figures are drawn on white (and an unset mode logs a console error).
html_context = {"default_mode": "light"}
html_theme_options = {
    "repository_url": f"https://github.com/{REPOSITORY}",
    "repository_branch": VERSION,
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "navigation_with_keys": False,
}
# MathJax 3 from npm, copied to _static/vendor/ by the build (Sphinx's default loads it from a CDN).
mathjax_path = build_site.MATHJAX_PATH


def setup(app):
    app.connect("source-read", build_site.on_source_read)
