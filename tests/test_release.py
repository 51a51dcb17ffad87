"""Releases (``make release VERSION=...``, tools/release.py): the setup cells, the Colab badges, the README's links
and the checkpoint table all name the course version of course_utils/colab.py, and the table matches assets/."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils import asset_hashes, colab
from tools import release

ROOT = Path(__file__).resolve().parents[1]


def test_everything_names_the_course_version_and_the_checkpoint_table_matches_assets():
    problems = release.check_release()
    assert not problems, "\n".join(problems) + f"\n-> run `make release VERSION={colab.VERSION}`"
    assert asset_hashes.VERSION == colab.VERSION
    assert f"@{colab.VERSION}\"" in colab.SETUP_CELL and f"/blob/{colab.VERSION}/" in colab.colab_url("x")


def _fake_repository(root: Path, version: str = "2031-spring") -> Path:
    """The files check_release reads, in a temporary folder: colab.py at ``version``, two assets and their table, a
    README link, a lecture and a homework master with its student notebook."""
    (root / "course_utils").mkdir(parents=True)
    (root / "course_utils" / "colab.py").write_text(
        release.VERSION_LINE.sub(f'VERSION = "{version}"', (ROOT / "course_utils" / "colab.py").read_text()))
    colab_ns = __import__("runpy").run_path(str(root / "course_utils" / "colab.py"))
    (root / "assets").mkdir()
    (root / "assets" / "a.pt").write_bytes(b"a")
    (root / "assets" / "b.pt").write_bytes(b"b")
    release.write_hash_table(version, root)
    badge = colab_ns["colab_badge"]("notebooks/01_x.ipynb")
    (root / "README.md").write_text(f"| 01 | [x](notebooks/01_x.ipynb) | {badge} |\n")
    for folder, name in (("notebooks", "01_x"), ("notebooks", "hw9_y"), ("homework/hw9", "hw9_y")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_markdown_cell(f"# Title\n{colab_ns['colab_badge'](f'notebooks/{name}.ipynb')}\n\ntext"),
            nbformat.v4.new_code_cell(colab_ns["SETUP_CELL"], metadata={"tags": ["setup"]}),
            nbformat.v4.new_code_cell("x = 1")])
        nbformat.write(nb, root / folder / f"{name}.ipynb")
    return root


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1))


def test_a_consistent_release_passes_the_check(tmp_path):
    assert release.check_release(_fake_repository(tmp_path)) == []


@pytest.mark.parametrize("plant", ["setup cell", "badge", "master", "readme", "table version", "retrained",
                                   "new checkpoint", "removed checkpoint", "install line"])
def test_each_way_a_release_can_drift_is_reported(tmp_path, plant):
    root = _fake_repository(tmp_path)
    nb, master = root / "notebooks" / "01_x.ipynb", root / "homework" / "hw9" / "hw9_y.ipynb"
    if plant == "setup cell":
        _replace(nb, "conv-autoencoders@2031-spring", "conv-autoencoders@main")
    elif plant == "badge":
        _replace(nb, "/blob/2031-spring/", "/blob/main/")
    elif plant == "master":
        _replace(master, "/blob/2031-spring/", "/blob/2030-fall/")
    elif plant == "readme":
        _replace(root / "README.md", "/blob/2031-spring/", "/blob/main/")
    elif plant == "table version":
        _replace(root / release.TABLE, 'VERSION = "2031-spring"', 'VERSION = "2030-fall"')
    elif plant == "retrained":
        (root / "assets" / "a.pt").write_bytes(b"retrained")
    elif plant == "new checkpoint":
        (root / "assets" / "c.pt").write_bytes(b"c")
    elif plant == "removed checkpoint":
        (root / "assets" / "b.pt").unlink()
    elif plant == "install line":  # a cell that installs another version by hand
        cells = json.loads(nb.read_text())
        cells["cells"][2]["source"] = "!pip install git+https://github.com/dl-course/conv-autoencoders@main"
        nb.write_text(json.dumps(cells))
    problems = release.check_release(root)
    assert len(problems) == (2 if plant == "setup cell" else 1), problems  # a changed setup cell also installs @main
    assert "make release" in problems[0] or "2031-spring" in problems[0], problems


@pytest.mark.parametrize("version", ["", "main branch", "../x", "v1..2", "-x", "x.lock"])
def test_a_version_that_is_not_a_tag_name_is_refused(version):
    with pytest.raises(release.ReleaseError, match="git tag name"):
        release.check_version(version)


@pytest.mark.slow
def test_make_release_rewrites_setup_cells_badges_and_the_table_of_a_copy_and_touches_nothing_else(tmp_path):
    """The whole command on a copy of the repository: a new version everywhere, the other cells unchanged, and a
    retrained checkpoint that fails the check until the command runs again."""
    copy = tmp_path / "repo"
    for name in ("course_utils", "tools", "notebooks", "homework", "assets"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "dist"))
    shutil.copy(ROOT / "README.md", copy / "README.md")
    before = {p.relative_to(copy): nbformat.read(p, as_version=4) for p in sorted(copy.rglob("*.ipynb"))}
    env = dict(os.environ, PYTHONPATH=str(copy))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "tools.release", *args], cwd=copy, env=env, capture_output=True,
                              text=True, timeout=600)

    done = run("2031-spring")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Everything names course version 2031-spring" in done.stdout and "git tag -a 2031-spring" in done.stdout
    assert release.check_release(copy) == []
    for rel, old in before.items():
        new = nbformat.read(copy / rel, as_version=4)
        assert "git+https://github.com/dl-course/conv-autoencoders@2031-spring" in new.cells[1].source, rel
        assert "/blob/2031-spring/notebooks/" in new.cells[0].source, rel
        assert [c.source for c in new.cells[2:]] == [c.source for c in old.cells[2:]], f"{rel}: other cells changed"
        assert [c.get("outputs") for c in new.cells] == [c.get("outputs") for c in old.cells], f"{rel}: outputs"
    assert "/blob/main/" not in (copy / "README.md").read_text()
    assert 'VERSION = "2031-spring"' in (copy / release.TABLE).read_text()

    (copy / "assets" / "judge_mnist.pt").write_bytes(b"retrained")
    assert run("--check").returncode == 1
    assert run("2031-spring").returncode == 0 and release.check_release(copy) == []
    bad = run("not a tag")
    assert bad.returncode == 2 and "git tag name" in bad.stderr
