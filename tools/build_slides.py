"""Build the lecture slide decks so that they work offline: ``python -m tools.build_slides [OUT] [NOTEBOOK ...]``.

``make slides`` calls this; ``tests/test_slides.py`` imports it. The decks are made by ``jupyter nbconvert --to
slides`` from the committed, executed notebooks (nothing is re-executed). nbconvert's decks load reveal.js,
require.js, jQuery, MathJax and the widget renderer from CDNs; here every one of them comes from the npm registry
(``npm pack``, pinned versions, cached in ``build/slides-vendor/``, which git ignores) and is copied next to the
decks into ``OUT/vendor/``, so that ``OUT`` (default ``_build/slides``) is a folder you can carry to a lecture hall
and open without a network. The one script nbconvert does not let us point elsewhere (mermaid) is dropped by the
template in ``tools/slides_template/offline_reveal``; the lectures draw no mermaid diagrams.

A code cell tagged ``hide-input`` (code that only draws a figure or formats a table; CONTRIBUTING.md) shows its output
without its code on the slides (nbconvert's ``TagRemovePreprocessor``); the website folds the same code instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "slides-vendor"
TEMPLATE_DIR = Path(__file__).resolve().parent / "slides_template"
LECTURES = sorted((ROOT / "notebooks").glob("0*.ipynb"))

# npm package -> folder under vendor/, and what of it the decks need (members of the npm tarball, under package/).
PACKAGES = {
    "reveal.js@4.6.1": ("reveal.js", ["dist/", "plugin/notes/"]),
    "requirejs@2.3.8": ("requirejs", ["require.js"]),
    "jquery@3.8.0": ("jquery", ["dist/jquery.min.js"]),
    "mathjax@2.7.9": ("mathjax", ["MathJax.js", "config/", "extensions/", "jax/input/TeX/", "jax/output/CommonHTML/",
                                  "jax/element/", "fonts/HTML-CSS/TeX/woff/"]),
    "@jupyter-widgets/html-manager@1.0.15": ("html-manager", ["dist/"]),
}

# What the decks point at, relative to the deck's folder. Theme: reveal's `white` ships its fonts; nbconvert's
# default (`simple`) fetches them from Google Fonts.
SETTINGS = {
    "SlidesExporter.reveal_url_prefix": "vendor/reveal.js",
    "SlidesExporter.reveal_theme": "white",
    # A slide taller than the screen (prose, code, then its figure) scrolls with the mouse wheel or trackpad;
    # without this reveal.js cuts it off at the bottom and a figure below its code can never be shown.
    "SlidesExporter.reveal_scroll": "True",
    "HTMLExporter.require_js_url": "vendor/requirejs/require.js",
    "HTMLExporter.jquery_url": "vendor/jquery/dist/jquery.min.js",
    "HTMLExporter.mathjax_url": "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
    "HTMLExporter.widget_renderer_url": "vendor/html-manager/dist/embed-amd.js",
    # Cells tagged hide-input only draw: the slide shows their figure, not the plotting code above it.
    "TagRemovePreprocessor.enabled": "True",
    "TagRemovePreprocessor.remove_input_tags": "hide-input",
}
HIDE_INPUT = "hide-input"  # the tag (CONTRIBUTING.md: a code cell whose code only draws a figure or formats a table)


class VendorUnavailable(RuntimeError):
    """npm is missing, or the registry could not be reached and nothing is cached."""


def fetch_vendor(cache: Path = CACHE, timeout: float = 300, packages: dict | None = None) -> Path:
    """Download (once) and unpack the pinned npm ``packages`` (default: the decks' :data:`PACKAGES`; the site and
    its tests pass their own, in the same form) into ``cache``; returns ``cache``."""
    for spec, (name, members) in (PACKAGES if packages is None else packages).items():
        target = cache / name
        stamp = target / f".{spec.replace('/', '_')}"
        if stamp.exists():
            continue
        npm = shutil.which("npm")
        if npm is None:
            raise VendorUnavailable("npm is not installed (needed once, to fetch reveal.js and friends)")
        cache.mkdir(parents=True, exist_ok=True)
        try:
            out = subprocess.run([npm, "pack", "--silent", spec], cwd=cache, capture_output=True, text=True,
                                 timeout=timeout, check=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            raise VendorUnavailable(f"`npm pack {spec}` failed: {getattr(err, 'stderr', '') or err}") from err
        tarball = cache / out.stdout.strip().splitlines()[-1]
        shutil.rmtree(target, ignore_errors=True)
        with tarfile.open(tarball) as tar:
            wanted = [m for m in tar.getmembers() if m.isfile() and any(
                m.name.removeprefix("package/").startswith(prefix) for prefix in members)]
            for member in wanted:
                member.name = member.name.removeprefix("package/")
            tar.extractall(target, members=wanted, filter="data")
        tarball.unlink()
        stamp.touch()
    return cache


def _copy_tree(src: Path, dst: Path) -> None:
    """Hard-link where possible (fast, no space), copy otherwise; a second build into the same folder keeps the
    links it made before and replaces files that changed."""
    def link_or_copy(a, b):
        if os.path.lexists(b):
            if os.path.samefile(a, b):
                return
            os.unlink(b)
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)
    shutil.copytree(src, dst, copy_function=link_or_copy, dirs_exist_ok=True)


def nbconvert_command(notebooks: list[Path], out: Path) -> list[str]:
    """The ``jupyter nbconvert --to slides`` command line that writes offline decks of ``notebooks`` into ``out``."""
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter) if jupyter.exists() else "jupyter", "nbconvert", "--to", "slides",
           f"--TemplateExporter.extra_template_basedirs={TEMPLATE_DIR}", "--template", "offline_reveal",
           "--output-dir", str(out)]
    cmd += [f"--{key}={value}" for key, value in SETTINGS.items()]
    return cmd + [str(p) for p in notebooks]


def build_slides(out: Path = ROOT / "_build" / "slides", notebooks: list[Path] | None = None,
                 timeout: float = 300) -> list[Path]:
    """Write one ``<lecture>.slides.html`` per notebook, plus ``vendor/``, into ``out``; returns the decks."""
    notebooks = LECTURES if notebooks is None else [Path(p) for p in notebooks]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _copy_tree(fetch_vendor(), out / "vendor")
    done = subprocess.run(nbconvert_command(notebooks, out), timeout=timeout, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"jupyter nbconvert --to slides failed:\n{done.stderr[-3000:]}")
    return [out / f"{p.stem}.slides.html" for p in notebooks]


if __name__ == "__main__":
    args = sys.argv[1:]
    target = Path(args[0]) if args else ROOT / "_build" / "slides"
    for deck in build_slides(target, args[1:] or None):
        print(deck.relative_to(Path.cwd()) if deck.is_relative_to(Path.cwd()) else deck)
