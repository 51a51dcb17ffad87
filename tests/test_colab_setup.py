"""The setup cell does in Colab what the README promises: installs course_utils, leaves torch alone.

Colab is simulated by a fresh virtual environment that already holds everything Colab preinstalls. Reinstalling
PyTorch (~3 GB) for that would be slow, so the new environment *sees* .venv's packages read-only instead: a folder
of symbolic links to every package in .venv's site-packages except course_utils itself (and its editable-install
hook), put on the new environment's path by a ``.pth`` file. For pip those packages are installed, but outside
its environment, so it could not upgrade or remove them in place. The setup cell then runs with
``COURSE_SETUP=colab`` and ``COURSE_REPO=git+file://<a clone of this repository>``, with pip told to use no index
(``PIP_NO_INDEX``) and no build isolation, so the test is offline and any attempt to download anything
(a newer torch, say) fails it.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

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

# The imports of a lecture notebook, as a student's second cell runs them.
IMPORT_CELL = """
import course_utils as cu
from course_utils.plot import show_images
cu.seed_everything(0)
print(cu.mode_line())
"""


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


def test_setup_cell_installs_course_utils_from_git_and_leaves_torch_untouched(colab):
    python, work, site, clone = colab
    work.mkdir(exist_ok=True)
    before = json.loads(_run(python, PROBE, work))
    assert before["course_utils"] is None, "course_utils must not be importable before the setup cell"
    freeze_before = _run(python, "import subprocess, sys; subprocess.run([sys.executable, '-m', 'pip', 'freeze'])",
                         work)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env.update(COURSE_SETUP="colab", COURSE_REPO=f"git+file://{clone}", PIP_NO_INDEX="1",
               PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1")
    _run(python, SETUP_CELL, work, env)

    after = json.loads(_run(python, PROBE, work))
    installed = Path(after["course_utils"]).resolve()
    assert installed.is_relative_to(site), f"course_utils imported from {installed}, not the environment's site"
    assert not installed.is_relative_to(ROOT), "course_utils came from the working tree, not from the install"
    for name in ("torch", "torchvision"):
        assert after[name] == before[name], f"{name} was reinstalled or upgraded: {before[name]} -> {after[name]}"
        assert Path(after[name]["file"]).is_relative_to(VENV_SITE.resolve())
    assert not list(site.glob("torch*")), "pip wrote a torch into the new environment"

    freeze_after = _run(python, "import subprocess, sys; subprocess.run([sys.executable, '-m', 'pip', 'freeze'])",
                        work)
    added = set(freeze_after.splitlines()) - set(freeze_before.splitlines())
    removed = set(freeze_before.splitlines()) - set(freeze_after.splitlines())
    assert not removed, f"the setup cell changed preinstalled packages: {sorted(removed)}"
    assert [line.split(" @ ")[0].split("==")[0] for line in added] == ["course-utils"], sorted(added)

    out = _run(python, IMPORT_CELL, work, env)
    assert "Mode:" in out


def test_setup_cell_does_nothing_outside_colab(colab):
    python, work, _, clone = colab
    work.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "COURSE_SETUP"}
    env.update(COURSE_REPO=f"git+file://{clone}/does-not-exist", PIP_NO_INDEX="1")
    _run(python, SETUP_CELL, work, env)  # would fail if it tried to install
