"""The student edition's own checks (written by the instructors' `make student-edition`): the package installs from
this repository with what the notebooks need, and everything a student opens names one course version."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import asset_hashes, colab

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_course_utils_installs_from_this_repository_with_the_homework_self_checks_and_the_checkpoint_table(tmp_path):
    target = tmp_path / "site-packages"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    probe = ("import json, course_utils, course_utils.colab as c, course_utils.asset_hashes as h\n"
             "from course_utils.homework import available_homework, public_tests_dir\n"
             "print(json.dumps({'file': course_utils.__file__, 'version': c.VERSION, 'table': h.VERSION, "
             "'homework': {hw: sorted(p.name for p in __import__('pathlib').Path(public_tests_dir(hw)).glob('q*.py'))"
             " for hw in available_homework()}}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(target)},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    installed = json.loads(out.stdout)
    assert Path(installed["file"]).is_relative_to(target), installed["file"]
    assert installed["version"] == installed["table"] == colab.VERSION
    assert installed["homework"] and all(installed["homework"].values()), installed["homework"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_the_setup_cell_and_badge_of_this_course_version(path):
    cells = json.loads(path.read_text())["cells"]
    source = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells[:2]]
    assert colab.colab_url(f"notebooks/{path.name}") in source[0], "the Colab badge opens another version"
    assert source[1] == colab.SETUP_CELL, "the setup cell installs another version of course_utils"


def test_every_checkpoint_is_the_one_the_course_version_recorded():
    files = {p.name: p for p in (ROOT / "assets").iterdir() if p.is_file()}
    assert files.keys() == asset_hashes.SHA256.keys()
    for name, path in files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == asset_hashes.SHA256[name], name
