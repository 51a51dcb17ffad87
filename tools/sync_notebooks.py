"""Keep every notebook's Colab badge and setup cell identical to course_utils/colab.py (and its RISE settings).

    python -m tools.sync_notebooks          # rewrite the notebooks and README in place where they drifted
    python -m tools.sync_notebooks --check  # only report drift (exit 1), as the tests do

What it keeps in sync: notebooks/*.ipynb, each homework's master (homework/<hw>/<name>.ipynb, whose badge opens the
student notebook notebooks/<name>.ipynb) and the Colab links of README.md's lecture table, all at the course
version of course_utils/colab.py (``make release`` writes a new one, then runs this).

Layout every notebook follows: cell 0 is markdown starting with the title line "# ..." and the badge on the
next line; cell 1 is the setup code cell.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat

from course_utils.colab import SETUP_CELL, colab_badge, colab_url

ROOT = Path(__file__).resolve().parents[1]

BADGE_PREFIX = "[![Open In Colab]"
SETUP_METADATA = {"tags": ["setup"], "slideshow": {"slide_type": "skip"}}
# RISE (jupyterlab-rise, live slides in JupyterLab): let a slide taller than the screen scroll instead of clipping it.
RISE_METADATA = {"scroll": True}


def expected_header(badge_path: Path, title_cell: str) -> str:
    lines = [line for line in title_cell.splitlines() if not line.startswith(BADGE_PREFIX)]
    badge = colab_badge(badge_path.relative_to(ROOT).as_posix())
    return "\n".join([lines[0], badge, *lines[1:]])


def sync(nb_path: Path, write: bool, badge_path: Path | None = None) -> list[str]:
    """Return the problems found in one notebook; fix them in place when ``write``.

    ``badge_path`` is the notebook the badge opens (default: ``nb_path`` itself; a homework master's badge opens
    the generated student notebook)."""
    nb = nbformat.read(nb_path, as_version=4)
    problems = []
    if not nb.cells or nb.cells[0].cell_type != "markdown" or not nb.cells[0].source.startswith("# "):
        return [f"{nb_path.name}: cell 0 must be a markdown cell starting with '# Title'"]
    header = expected_header(badge_path or nb_path, nb.cells[0].source)
    if nb.cells[0].source != header:
        problems.append(f"{nb_path.name}: the Colab badge under the title is missing or out of date")
        nb.cells[0].source = header
    if len(nb.cells) < 2 or nb.cells[1].cell_type != "code" or "setup" not in nb.cells[1].metadata.get("tags", []):
        problems.append(f"{nb_path.name}: cell 1 must be the setup code cell (tag 'setup')")
        nb.cells.insert(1, nbformat.v4.new_code_cell(SETUP_CELL, metadata=SETUP_METADATA))
    elif nb.cells[1].source != SETUP_CELL:
        problems.append(f"{nb_path.name}: the setup cell differs from course_utils/colab.py")
        nb.cells[1].source = SETUP_CELL
    rise = nb.metadata.get("rise", {})
    if any(rise.get(key) != value for key, value in RISE_METADATA.items()):
        problems.append(f"{nb_path.name}: notebook metadata 'rise' must contain {RISE_METADATA}")
        nb.metadata["rise"] = {**rise, **RISE_METADATA}
    if write and problems:
        nbformat.write(nb, nb_path)
    return problems


README_COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^\s)]+?/(notebooks/[^\s)/]+\.ipynb)")


def sync_readme(readme: Path, write: bool) -> list[str]:
    """README's Colab links (its lecture table) must open each notebook at the course version."""
    text = readme.read_text()
    fixed = README_COLAB_LINK.sub(lambda m: colab_url(m.group(1)), text)
    if fixed == text:
        return []
    if write:
        readme.write_text(fixed)
    return [f"{readme.name}: Colab links that do not open {colab_url('notebooks/...')}"]


def masters() -> list[tuple[Path, Path]]:
    """(master notebook, the student notebook its badge opens) of every homework that has both."""
    return [(m, ROOT / "notebooks" / m.name) for m in sorted((ROOT / "homework").glob("*/*.ipynb"))
            if (ROOT / "notebooks" / m.name).is_file()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report drift without rewriting")
    args = parser.parse_args()
    problems = []
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        problems += sync(nb_path, write=not args.check)
    for master, student in masters():
        problems += sync(master, write=not args.check, badge_path=student)
    if (ROOT / "README.md").is_file():
        problems += sync_readme(ROOT / "README.md", write=not args.check)
    for p in problems:
        print(("drift: " if args.check else "fixed: ") + p)
    return 1 if (problems and args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())
