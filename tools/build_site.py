"""Build the course website from the committed notebooks: ``python -m tools.build_site [OUT]`` (``make site``).

The site (default ``_build/site``) is a static folder: Sphinx with myst-nb renders every lecture from its stored
outputs (nothing is executed), sphinx-book-theme lays it out (its fonts and icons ship inside the package), MathJax
3 comes from the npm registry through the slide builder's vendor cache (:func:`tools.build_slides.fetch_vendor`)
and is copied beside the pages, and Sphinx writes the full-text search index (``searchindex.js``). No page asks
the network for anything.

Nothing here is a second copy of the course's text. The build writes a Sphinx source folder (``build/site-src``,
git-ignored) from the repository on every run:

* ``index.md``, the home page: the README's title and introduction, one line (from each notebook's title cell),
  one stored figure and an "Open in Colab" badge per lecture, in the order of the README's lecture table, and the
  README's set-up section;
* ``notebooks/*.ipynb``: hard links to the committed notebooks (HW2 is the generated student notebook); while
  Sphinx reads them, :func:`prepare_notebook` points the Colab badge at a local image, adds a download link,
  swaps each live widget for the figure stored in its state, and gives every figure alt text
  (:func:`figure_alt`);
* ``instructors.md`` and ``BENCHMARKS.md``: the README's instructor section and the benchmark table;
* ``licence.md``: the README's licence and data sections plus the ``Data:`` line each lecture printed.

Sphinx's configuration is ``tools/site/conf.py``; its stylesheet and the badge are in ``tools/site/_static``.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from course_utils.colab import REPOSITORY, VERSION, colab_url
from tools.build_slides import CACHE, _copy_tree, fetch_vendor

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = Path(__file__).resolve().parent / "site"
SOURCE = ROOT / "build" / "site-src"
OUT = ROOT / "_build" / "site"

# npm packages the site serves itself (see build_slides.fetch_vendor); copied to OUT/_static/vendor/.
PACKAGES = {
    "mathjax@3.2.2": ("mathjax3", ["es5/tex-mml-chtml.js", "es5/output/chtml/fonts/woff-v2/", "es5/input/",
                                   "es5/ui/", "es5/a11y/", "es5/sre/", "es5/adaptors/"]),
}
MATHJAX_PATH = "vendor/mathjax3/es5/tex-mml-chtml.js"  # relative to _static/, as Sphinx's mathjax_path wants
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
LOCAL_BADGE = "colab-badge.svg"  # copied from tools/site/_static to the source folder's root
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
BLOB_URL = f"https://github.com/{REPOSITORY}/blob/{VERSION}/"


class SiteError(RuntimeError):
    """The repository does not hold what the site is built from (e.g. a lecture missing from the README)."""


# ----------------------------------------------------------------------------------------- the course's order

def course_order(readme: str | None = None) -> list[dict]:
    """The README's lecture table, in order: ``[{"label": "01", "title": ..., "path": "notebooks/01_x.ipynb"}]``."""
    readme = (ROOT / "README.md").read_text() if readme is None else readme
    rows = re.findall(r"^\| *(\w+) *\| *\[([^\]]+)\]\((notebooks/[^)]+\.ipynb)\)", readme, flags=re.M)
    return [{"label": label, "title": title, "path": path} for label, title, path in rows]


def missing_from_readme(readme: str | None = None) -> list[str]:
    """Lecture notebooks (``notebooks/0*.ipynb``) and homework notebooks that the README's table does not list."""
    listed = {row["path"] for row in course_order(readme)}
    return [f"notebooks/{p.name}" for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
            if f"notebooks/{p.name}" not in listed]


# ------------------------------------------------------------------------------------------- figure alt text

def _string_value(node: ast.AST) -> str | None:
    """The text of a string literal; in an f-string each ``{expression}`` becomes "…" (its value is not known)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "…" for v in node.values)
    return None


def code_titles(source: str) -> list[str]:
    """Figure titles a cell's code sets, in order: ``suptitle(...)``, ``set_title(...)``, ``title(...)`` and any
    ``title=`` or ``suptitle=`` keyword (``ax.set(title=...)``, the ``course_utils.plot`` helpers)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    titles = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in ("suptitle", "set_title", "title") and node.args:
            titles.append((node.lineno, node.col_offset, _string_value(node.args[0])))
        titles += [(kw.value.lineno, kw.value.col_offset, _string_value(kw.value))
                   for kw in node.keywords if kw.arg in ("title", "suptitle")]
    seen = []
    for *_, text in sorted(titles, key=lambda t: t[:2]):
        text = " ".join((text or "").split())
        if text and text not in seen:
            seen.append(text)
    return seen


def _plain(markdown: str) -> str:
    text = re.sub(r"\$([^$]*)\$", r"\1", markdown)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return " ".join(re.sub(r"[*_`#]", "", text).split())


def figure_alt(cells: list[dict], index: int) -> str:
    """Alt text for the figures of code cell ``index``. The titles its code gives them, when at least one is fixed
    text (not only an f-string whose values are unknown here); failing that, the section the figure is in and the
    first "What to notice" sentence after it; failing that, the f-string titles or the section alone."""
    titles = [t for t in code_titles(_source(cells[index])) if len(re.findall(r"\w", t.replace("…", ""))) >= 3]
    if any("…" not in t for t in titles):
        return "Figure: " + "; ".join(titles)
    section = next((_plain(m.group(1)) for cell in reversed(cells[:index]) if cell["cell_type"] == "markdown"
                    for m in [re.search(r"^#+ (.+)$", _source(cell), flags=re.M)] if m), "")
    where = f"Figure in the section {section}" if section else "Figure"
    for cell in cells[index + 1 : index + 3]:
        text = _source(cell)
        if cell["cell_type"] == "markdown" and "What to notice" in text:
            sentence = _plain(text.split("What to notice", 1)[1]).lstrip(":* ")
            return f"{where}. What to notice: " + re.split(r"(?<=[.!?])\s", sentence, maxsplit=1)[0]
    return "Figure: " + "; ".join(titles) if titles else where


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


# ----------------------------------------------------------------------------------- a notebook as a web page

def _widget_figures(state: dict, model_id: str) -> list[dict]:
    """The outputs stored in the Output widgets under ``model_id`` (its children, their children, ...)."""
    found, todo, seen = [], [model_id], set()
    while todo:
        key = todo.pop(0)
        if key in seen or key not in state:
            continue
        seen.add(key)
        model = state[key]
        if model.get("model_name") == "OutputModel":
            found += [o for o in model["state"].get("outputs", []) if "image/png" in o.get("data", {})]
        children = model.get("state", {}).get("children", [])
        todo += [c.removeprefix("IPY_MODEL_") for c in children if isinstance(c, str)]
    return found


def prepare_notebook(nb: dict, filename: str) -> dict:
    """The notebook as the site shows it (the file on disk is not changed): local Colab badge and a download
    link in the title cell, the setup cell folded, each live widget replaced by the figure stored in its state plus
    its own text, the widget state dropped (no widget JavaScript is loaded), and alt text on every figure."""
    cells = nb["cells"]
    if cells and cells[0]["cell_type"] == "markdown":
        title = _source(cells[0]).replace(BADGE_IMAGE, f"/{LOCAL_BADGE}")
        lines = title.split("\n")
        badge = next((i for i, line in enumerate(lines) if f"/{LOCAL_BADGE}" in line), 0)
        lines.insert(badge + 1, f"{{download}}`Download the notebook ({filename}) <{filename}>`\n")
        cells[0]["source"] = "\n".join(lines)
    for cell in cells:  # the setup cell is plumbing (the slides skip it): folded away, one click opens it
        if "setup" in cell.get("metadata", {}).get("tags", []):
            cell["metadata"]["tags"] = [*cell["metadata"]["tags"], "hide-input"]
    state = nb.get("metadata", {}).pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(out)
                continue
            outputs += [{"output_type": "display_data", "metadata": {}, "data": {"image/png": o["data"]["image/png"]}}
                        for o in _widget_figures(state, view["model_id"])]
            note = ("*Interactive widget: its controls move only in a running notebook (open it in Colab with the "
                    "badge at the top, or download it); the figure above is the state it was stored in.*")
            outputs.append({"output_type": "display_data", "metadata": {}, "data": {"text/markdown": note}})
        cell["outputs"] = outputs
        if any("image/png" in o.get("data", {}) for o in outputs):
            meta = cell.setdefault("metadata", {}).setdefault("mystnb", {})
            meta.setdefault("image", {})["alt"] = figure_alt(cells, i)
    return nb


def on_source_read(app, docname: str, source: list[str]) -> None:
    """Sphinx ``source-read`` hook (tools/site/conf.py): notebooks are shown through :func:`prepare_notebook`."""
    if docname.startswith("notebooks/"):
        nb = prepare_notebook(json.loads(source[0]), Path(docname).name + ".ipynb")
        source[0] = json.dumps(nb)


# ------------------------------------------------------------------------------------ pages from the README

def readme_section(readme: str, heading: str) -> str:
    """The body of the README's ``## <heading>...`` section (up to the next ``## ``)."""
    match = re.search(rf"^## {re.escape(heading)}[^\n]*\n(.*?)(?=^## |\Z)", readme, flags=re.M | re.S)
    if match is None:
        raise SiteError(f"README.md has no section '## {heading}', which the site shows")
    return match.group(1).strip()


def _link_outside(text: str, source: Path) -> str:
    """Relative links to files the site does not hold (CONTRIBUTING.md, homework/...) go to GitHub instead."""
    def fix(match):
        target, anchor = match.group(1), match.group(2) or ""
        if "://" in target or target.startswith(("#", "/", "mailto:")) or (source / target).exists():
            return match.group(0)
        return f"]({BLOB_URL}{target}{anchor})"
    return re.sub(r"\]\(([^)#\s]+)(#[^)\s]*)?\)", fix, text)


def _first_figure(nb: dict) -> tuple[bytes, str] | None:
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            if "image/png" in out.get("data", {}):
                return base64.b64decode(out["data"]["image/png"]), figure_alt(nb["cells"], i)
    return None


def _one_line(nb: dict) -> str:
    """The sentence under the title and badge of a notebook's first cell, without the course's name."""
    text = _source(nb["cells"][0]).split("\n")
    body = " ".join(line for line in text[1:] if line.strip() and "colab" not in line.lower())
    line = re.sub(r"^\*[^*]+\*\s*[—-]\s*", "", " ".join(body.split()))
    return line[:1].upper() + line[1:]


def home_page(readme: str, source: Path) -> str:
    title = re.search(r"^# (.+)$", readme, flags=re.M).group(1)
    intro = readme.split("\n", 1)[1].split("\n## ", 1)[0].strip()
    parts = [f"# {title}", intro, "## Who it is for",
             "Students who read Python and know a little calculus and linear algebra, and want to understand "
             "convolutional networks and autoencoders from the formula up: every lecture page below is a notebook "
             "with its outputs, and opens in Colab to run. Instructors find how to assign and grade the homework "
             "in the [instructor guide](instructors.md).",
             "## Lectures, in course order"]
    (source / "_thumbs").mkdir(exist_ok=True)
    for row in course_order(readme):
        nb = json.loads((ROOT / row["path"]).read_text())
        label = f"Lecture {row['label']}" if row["label"][:1].isdigit() else row["label"]
        parts.append(f"### [{label} · {row['title']}]({row['path']})")
        parts.append(_one_line(nb))
        figure = _first_figure(nb)
        if figure:
            png, alt = figure
            thumb = f"_thumbs/{Path(row['path']).stem}.png"
            (source / thumb).write_bytes(png)
            parts.append(f"```{{image}} {thumb}\n:alt: {alt}\n:class: lecture-figure\n```")
        parts.append(f"[![Open in Colab: {row['title']}](/{LOCAL_BADGE})]({colab_url(row['path'])}) · "
                     f"[read it here]({row['path']})")
    parts += ["## Set-up: two commands", re.sub(r"^###", "####", readme_section(readme, "Set-up"), flags=re.M)]
    parts.append("```{toctree}\n:hidden:\n:caption: Lectures\n\n"
                 + "\n".join(row["path"].removesuffix(".ipynb") for row in course_order(readme)) + "\n```")
    parts.append("```{toctree}\n:hidden:\n:caption: For instructors\n\ninstructors\nBENCHMARKS\nlicence\n```")
    return _link_outside("\n\n".join(parts) + "\n", source)


def _data_lines(nb: dict) -> list[str]:
    lines = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            text = out.get("text", "")
            for line in ("".join(text) if isinstance(text, list) else text).splitlines():
                if line.startswith("Data:") and line not in lines:
                    lines.append(line)
    return lines


def licence_page(readme: str, source: Path) -> str:
    rows = ["| lecture | what it printed |", "|---|---|"]
    for row in course_order(readme):
        lines = _data_lines(json.loads((ROOT / row["path"]).read_text()))
        shown = "<br>".join(line.removeprefix("Data:").strip() for line in lines) or "(the notebook is stored "\
            "without outputs: it prints its `Data:` line when run)"
        rows.append(f"| [{row['label']} · {row['title']}]({row['path']}) | {shown} |")
    parts = ["# Licences and data", "## Code and text", readme_section(readme, "Licence"),
             "## Where the data comes from", readme_section(readme, "Where the data comes from"),
             "## What each lecture used", "Every notebook prints one `Data:` line; these are the lines stored in "
             "the notebooks this site shows.", "\n".join(rows),
             "## This site", "Built with [Sphinx](https://www.sphinx-doc.org) (BSD licence), "
             "[myst-nb](https://myst-nb.readthedocs.io) (BSD), "
             "[sphinx-book-theme](https://sphinx-book-theme.readthedocs.io) and the PyData Sphinx theme (BSD, with "
             "Font Awesome Free icons: CC BY 4.0 icons, SIL OFL fonts) and [MathJax](https://www.mathjax.org) "
             "(Apache 2.0), all served from this site's own folder."]
    return _link_outside("\n\n".join(parts) + "\n", source)


def write_sources(source: Path = SOURCE) -> Path:
    """Write the Sphinx source folder (see the module docstring); returns it."""
    readme = (ROOT / "README.md").read_text()
    missing = missing_from_readme(readme)
    if missing:
        raise SiteError(f"README.md's lecture table does not list {missing}: the site's table of contents is the "
                        "README's table, so add a row for each (see CONTRIBUTING.md, 'A new lecture NN')")
    shutil.rmtree(source, ignore_errors=True)
    (source / "notebooks").mkdir(parents=True)
    for row in course_order(readme):
        _copy_tree_file(ROOT / row["path"], source / row["path"])
    shutil.copy2(CONF_DIR / "_static" / LOCAL_BADGE, source / LOCAL_BADGE)
    (source / "BENCHMARKS.md").write_text(_link_outside((ROOT / "BENCHMARKS.md").read_text(), source))
    instructors = readme_section(readme, "For instructors")
    heading = re.search(r"^## (For instructors[^\n]*)", readme, flags=re.M).group(1)
    (source / "instructors.md").write_text(_link_outside(f"# {heading}\n\n{instructors}\n", source))
    (source / "licence.md").write_text(licence_page(readme, source))
    (source / "index.md").write_text(home_page(readme, source))
    return source


def _copy_tree_file(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _doctrees(parent: Path) -> Path:
    """Sphinx's cache of parsed pages, kept between builds (a rebuild re-reads only changed notebooks) but keyed by
    this file and the configuration: Sphinx cannot see that :func:`prepare_notebook` changed, only the notebooks."""
    key = hashlib.sha256(b"".join(p.read_bytes() for p in [Path(__file__), *sorted(CONF_DIR.rglob("*.*"))]))
    keep = parent / f"site-doctrees-{key.hexdigest()[:12]}"
    for old in parent.glob("site-doctrees*"):
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    return keep


def build_site(out: Path = OUT, timeout: float = 600) -> Path:
    """Write the site into ``out`` (see the module docstring); returns ``out``. Sphinx warnings are errors."""
    out = Path(out)
    start = time.perf_counter()
    source = write_sources()
    cache = fetch_vendor(CACHE, packages=PACKAGES)
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going", "-c", str(CONF_DIR),
           "-d", str(_doctrees(source.parent)), str(source), str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise SiteError(f"sphinx-build failed:\n{(done.stdout + done.stderr)[-5000:]}")
    for name, _ in PACKAGES.values():
        _copy_tree(cache / name, out / "_static" / "vendor" / name)
    print(f"Site built in {time.perf_counter() - start:.0f} s: {out}/index.html")
    return out


if __name__ == "__main__":
    build_site(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
