"""The setup cell does in Colab what the README promises: installs course_utils, leaves torch alone.

Colab is simulated by a fresh virtual environment that already holds everything Colab preinstalls. Reinstalling
PyTorch (~3 GB) for that would be slow, so the new environment *sees* .venv's packages read-only instead: a folder
of symbolic links to every package in .venv's site-packages except course_utils itself (and its editable-install
hook), put on the new environment's path by a ``.pth`` file. For pip those packages are installed, but outside
its environment, so it could not upgrade or remove them in place. The setup cell then runs with
``COURSE_SETUP=colab`` and ``COURSE_REPO=git+file://<a clone of this repository>``, with pip told to use no index
(``PIP_NO_INDEX``) and no build isolation, so the test is offline and any attempt to download anything
(a newer torch, say) fails it. Then every notebook's first cells (imports, seed, the `Device:` and `Mode:` lines;
the homework's otter set-up) run in that environment, each in a fresh process as in a fresh Colab kernel.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from course_utils.colab import SETUP_CELL

ROOT = Path(__file__).resolve().parents[1]
VENV_SITE = Path(sysconfig.get_paths()["purelib"])
HIDDEN = ("course_utils", "course_utils-", "__editable__", "__pycache__")  # the package under test stays out
TIMEOUT = 300

PROBE = """
import importlib.metadata as md, json, os, sys
import torch, torchvision
info = {}
for name, module in (("torch", torch), ("torchvision", torchvision)):
    dist = md.distribution(name)
    record = dist.locate_file(f"{dist.metadata['Name'].replace('-', '_')}-{dist.version}.dist-info/RECORD")
    init = os.path.realpath(module.__file__)
    info[name] = {"version": dist.version, "file": init, "mtime": os.stat(init).st_mtime,
                  "record_mtime": os.stat(os.path.realpath(record)).st_mtime}
try:
    import course_utils
    info["course_utils"] = course_utils.__file__
except ImportError:
    info["course_utils"] = None
print(json.dumps(info))
"""

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _first_cells(path) -> str:
    """A notebook's code cells after the setup cell, up to the one that prints the mode line (imports, seed, device;
    the homework's otter set-up), as one script."""
    cells = []
    for cell in nbformat.read(path, as_version=4).cells[2:]:
        if cell.cell_type == "code":
            cells.append(cell.source)
            if "mode_line()" in cell.source:
                return "\n\n".join(cells)
    raise AssertionError(f"{path.name} never prints cu.mode_line()")


def _run(python, code, cwd, env=None):
    done = subprocess.run([str(python), "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """(python of the simulated Colab, a folder outside the repository to run it in)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed (pip needs it for git+file:// URLs)")
    tmp = tmp_path_factory.mktemp("colab")
    # 1. What Colab preinstalls: .venv's packages, minus course_utils, as links.
    preinstalled = tmp / "preinstalled"
    preinstalled.mkdir()
    for entry in VENV_SITE.iterdir():
        if not entry.name.startswith(HIDDEN) and entry.suffix != ".pth":
            (preinstalled / entry.name).symlink_to(entry)
    # 2. A fresh environment on the same interpreter; pip comes from the preinstalled packages, as in Colab.
    env_dir = tmp / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=TIMEOUT)
    python = env_dir / "bin" / "python"
    site = Path(_run(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])", tmp).strip())
    (site / "colab_preinstalled.pth").write_text(f"{preinstalled}\n")
    # 3. The course as Colab gets it from GitHub: the committed files only.
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=TIMEOUT)
    return python, tmp / "work", site, clone


@pytest.fixture(scope="module")
def colab_after_setup(colab):
    """Run the setup cell once in the simulated Colab; what was there before and after, and the environment."""
    python, work, site, clone = colab
    work.mkdir(exist_ok=True)
    freeze = "import subprocess, sys; subprocess.run([sys.executable, '-m', 'pip', 'freeze'])"
    before, freeze_before = json.loads(_run(python, PROBE, work)), _run(python, freeze, work)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env.update(COURSE_SETUP="colab", COURSE_REPO=f"git+file://{clone}", PIP_NO_INDEX="1",
               PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1", MPLBACKEND="Agg")
    _run(python, SETUP_CELL, work, env)
    after, freeze_after = json.loads(_run(python, PROBE, work)), _run(python, freeze, work)
    return {"python": python, "work": work, "site": site, "env": env, "before": before, "after": after,
            "freeze_before": freeze_before, "freeze_after": freeze_after}


def test_setup_cell_installs_course_utils_from_git_and_leaves_torch_untouched(colab_after_setup):
    run = colab_after_setup
    before, after, site = run["before"], run["after"], run["site"]
    assert before["course_utils"] is None, "course_utils must not be importable before the setup cell"
    installed = Path(after["course_utils"]).resolve()
    assert installed.is_relative_to(site), f"course_utils imported from {installed}, not the environment's site"
    assert not installed.is_relative_to(ROOT), "course_utils came from the working tree, not from the install"
    for name in ("torch", "torchvision"):
        assert after[name] == before[name], f"{name} was reinstalled or upgraded: {before[name]} -> {after[name]}"
        assert Path(after[name]["file"]).is_relative_to(VENV_SITE.resolve())
    assert not list(site.glob("torch*")), "pip wrote a torch into the new environment"

    added = set(run["freeze_after"].splitlines()) - set(run["freeze_before"].splitlines())
    removed = set(run["freeze_before"].splitlines()) - set(run["freeze_after"].splitlines())
    assert not removed, f"the setup cell changed preinstalled packages: {sorted(removed)}"
    assert [line.split(" @ ")[0].split("==")[0] for line in added] == ["course-utils"], sorted(added)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_first_cells_run_after_the_setup_cell(colab_after_setup, path):
    run = colab_after_setup
    out = _run(run["python"], _first_cells(path), run["work"], run["env"])
    assert "Device:" in out and "Mode:" in out, out


def test_setup_cell_does_nothing_outside_colab(colab):
    python, work, _, clone = colab
    work.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "COURSE_SETUP"}
    env.update(COURSE_REPO=f"git+file://{clone}/does-not-exist", PIP_NO_INDEX="1")
    _run(python, SETUP_CELL, work, env)  # would fail if it tried to install
