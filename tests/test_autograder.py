"""The grader's own rules, without grading a notebook (fast): the autograder zip's layout and freshness, the secret
of the hidden test data, the gradebook (rows kept, spreadsheet-safe cells), refusals, the reasons the gradebook
gives for each limit, stopping when the grader itself cannot run, and the number test_mean_iou is read as.
The end-to-end grading of a class, on both paths, is in test_hw2_grading.py."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tools import autograder, gradescope, sandbox

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hw2():
    return autograder.homework("hw2")


@pytest.fixture(scope="module")
def two_zips(hw2, tmp_path_factory):
    """Two autograder zips built as `make homework` builds them (a fresh secret each), without otter's check."""
    folder = tmp_path_factory.mktemp("zips")
    return [autograder.build_zip(hw2, folder / f"build{i}" / "hw2-autograder.zip", autograder.new_secret())
            for i in (1, 2)]


@pytest.fixture(scope="module")
def graders(two_zips):
    built = [autograder.Autograder(z, "fast") for z in two_zips]
    yield built
    for grader in built:
        grader.close()


# ------------------------------------------------------------------------------------------ the zip


def test_the_zip_has_gradescopes_layout_and_this_grader(two_zips, hw2):
    names = set(zipfile.ZipFile(two_zips[0]).namelist())
    assert {"setup.sh", "run_autograder", "requirements.txt"} <= names
    assert {f"grader/tools/{n}" for n in autograder.GRADER_FILES} <= names
    assert {f"grader/homework/hw2/{n}" for n in [*hw2.support_files, autograder.SECRET_FILE,
                                                 autograder.BUILD_FILE]} <= names
    assert not any(n.endswith(".ipynb") for n in names), "no notebook (the master holds the solutions)"
    with zipfile.ZipFile(two_zips[0]) as zf:
        assert zf.getinfo("run_autograder").external_attr >> 16 == 0o755
        run = zf.read("run_autograder").decode()
    assert "gradescope.main" in run and "otter" not in run, "the hidden tests never run in the student's process"
    for name in ("grader/tools/autograder.py", "grader/tools/sandbox.py", "grader/homework/hw2/hw2_hidden.py"):
        source = name.replace("grader/", "", 1)
        assert zipfile.ZipFile(two_zips[0]).read(name) == (ROOT / source).read_bytes(), name


def test_a_zip_built_from_another_master_is_refused(two_zips, hw2, tmp_path):
    autograder.check_zip_is_current(two_zips[0], hw2)  # built from the repository as it is: accepted
    copy = tmp_path / "hw2"
    shutil.copytree(hw2.dir, copy, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    master = copy / hw2.master.name
    master.write_text(master.read_text().replace("batch_size=8", "batch_size=16"))
    with pytest.raises(SystemExit, match=r"built on .* from a master or hidden tests that differ.*make homework"):
        autograder.check_zip_is_current(two_zips[0], autograder.homework("hw2", copy))
    old = tmp_path / "old.zip"  # a zip from before build records (otter's): refused too
    with zipfile.ZipFile(old, "w") as zf:
        zf.writestr("files/hw2_hidden.py", "")
    with pytest.raises(SystemExit, match="make homework"):
        autograder.check_zip_is_current(old, hw2)


def test_without_a_zip_grading_says_to_build_the_homework_and_builds_nothing(tmp_path):
    with pytest.raises(SystemExit, match=r"make homework.*never builds it"):
        autograder.autograder_zip("hw2", tmp_path / "dist")
    assert not (tmp_path / "dist").exists()


def test_make_grade_never_runs_assign():
    """`make grade` must not rewrite committed files: building the homework is `make homework`'s job."""
    dry = subprocess.run(["make", "-n", "grade", "SUBMISSIONS=/tmp"], cwd=ROOT, capture_output=True, text=True)
    assert "tools.autograder grade hw2" in dry.stdout and "assign" not in dry.stdout, dry.stdout


# ------------------------------------------------------------------------------------------ the secret


def test_two_builds_draw_different_hidden_data(graders):
    first, second = graders
    for key in ("q5_hidden_images", "q2_x", "q3_images", "q4_pred_3", "q2_weight/encoder1.0.weight"):
        assert not np.array_equal(first.inputs[key], second.inputs[key]), key
    assert not np.array_equal(first.secrets["q5_hidden_masks"], second.secrets["q5_hidden_masks"])
    np.testing.assert_array_equal(first.inputs["q5_public_images"], second.inputs["q5_public_images"])  # public


def test_the_committed_files_determine_neither_builds_hidden_data(graders, two_zips):
    """What a student can read (the repository) holds neither secret, and the data the committed code makes
    without a secret are not the graded ones."""
    committed, _ = graders[0].hidden.make_inputs("fast")  # no secret: only what the repository determines
    for grader, zip_path in zip(graders, two_zips):
        secret = zipfile.ZipFile(zip_path).read(f"grader/homework/hw2/{autograder.SECRET_FILE}").decode().strip()
        assert len(secret) == 32
        found = subprocess.run(["git", "grep", "-I", "-F", "-l", secret], cwd=ROOT, capture_output=True, text=True)
        assert found.returncode == 1 and not found.stdout, f"the secret is in committed files: {found.stdout}"
        for key in ("q5_hidden_images", "q2_x", "q4_pred_3"):
            assert not np.array_equal(committed[key], grader.inputs[key]), key
    for kept in ("hw2-autograder.zip", autograder.SECRET_FILE):  # where `make homework` keeps them
        ignored = subprocess.run(["git", "check-ignore", "-q", f"homework/hw2/dist/autograder/{kept}"], cwd=ROOT)
        assert ignored.returncode == 0, f"dist/autograder/{kept} must be git-ignored"


def test_a_zip_without_a_secret_is_refused(hw2, tmp_path):
    path = autograder.build_zip(hw2, tmp_path / "a.zip", "x" * 32)
    stripped = tmp_path / "b.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(stripped, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith(autograder.SECRET_FILE):
                dst.writestr(item, src.read(item.filename))
    with pytest.raises(SystemExit, match="no secret"):
        autograder.Autograder(stripped, "fast")


# ------------------------------------------------------------------------------------- the gradebook


def test_gradebook_cells_that_a_spreadsheet_would_evaluate_are_quoted():
    for value in ("=1+2", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert autograder.spreadsheet_safe(value) == "'" + value
    assert autograder.spreadsheet_safe("alice") == "alice" and autograder.spreadsheet_safe(3.0) == 3.0


def _fake_grading(graders, monkeypatch, points):
    """grade_all with no pre-flight check, zip or kernel: one grader, and _fake_grade_one's grades."""
    monkeypatch.setattr(autograder, "preflight", lambda *args: None)
    monkeypatch.setattr(autograder, "Autograder", lambda *args, **kwargs: graders[0])
    monkeypatch.setattr(graders[0], "close", lambda: None)
    monkeypatch.setattr(autograder, "check_zip_is_current", lambda *args: None)
    monkeypatch.setattr(autograder, "grade_one", _fake_grade_one(points))


def _fake_grade_one(points):
    def grade_one(submission, grader, **kwargs):
        g = autograder.Grade(student=submission.stem, points={"q1": points}, total=points, possible=15.0)
        if submission.read_text() == "grader failure":
            g.reason = "running the notebook: the grader could not finish (exit code 1)"
        return g
    return grade_one


def test_grading_a_second_folder_into_the_same_gradebook_keeps_the_first_folders_rows(graders, tmp_path,
                                                                                       monkeypatch):
    _fake_grading(graders, monkeypatch, 1.0)
    for folder, names in (("monday", ["alice", "bob"]), ("tuesday", ["carol"])):
        (tmp_path / folder).mkdir()
        for name in names:
            (tmp_path / folder / f"{name}.ipynb").write_text("{}")
        autograder.grade_all("hw2", tmp_path / folder, tmp_path / "grades", ag_zip=tmp_path / "unused.zip",
                             mode="fast", use_sandbox=False)
    with open(tmp_path / "grades" / "grades.csv") as f:
        assert [line.split(",")[0] for line in f.read().splitlines()[1:]] == ["alice", "bob", "carol"]
    autograder.grade_all("hw2", tmp_path / "tuesday", tmp_path / "grades", ag_zip=tmp_path / "unused.zip",
                         mode="fast", regrade=True, use_sandbox=False)
    with open(tmp_path / "grades" / "grades.csv") as f:
        assert len(f.read().splitlines()) == 4, "regrading one folder keeps the others' rows"


def test_the_same_grader_failure_on_the_first_submissions_stops_without_recording_zeros(graders, tmp_path,
                                                                                        monkeypatch):
    _fake_grading(graders, monkeypatch, 0.0)
    (tmp_path / "class").mkdir()
    for i in range(5):
        (tmp_path / "class" / f"s{i}.ipynb").write_text("grader failure")
    with pytest.raises(autograder.GraderFailure, match=r"first 3 submissions all failed the same way"):
        autograder.grade_all("hw2", tmp_path / "class", tmp_path / "grades", ag_zip=tmp_path / "unused.zip",
                             mode="fast", workers=1, use_sandbox=False)
    assert not (tmp_path / "grades" / "grades.csv").exists()
    # one such failure among graded submissions is that submission's: recorded with its reason
    (tmp_path / "class" / "s0.ipynb").write_text("{}")
    (tmp_path / "class" / "s1.ipynb").write_text("{}")
    grades = autograder.grade_all("hw2", tmp_path / "class", tmp_path / "grades", ag_zip=tmp_path / "unused.zip",
                                  mode="fast", workers=1, use_sandbox=False)
    assert len(grades) == 5 and sum(autograder.is_grader_failure(g) for g in grades) == 3


def test_a_submission_that_is_not_a_regular_file_is_refused_with_a_reason(graders, tmp_path):
    (tmp_path / "real.ipynb").write_text("{}")
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "real.ipynb")
    (tmp_path / "folder.ipynb").mkdir()
    for name in ("link", "folder"):
        grade = autograder.grade_one(tmp_path / f"{name}.ipynb", graders[0], isolation=sandbox.Isolation())
        assert grade.total == 0.0 and grade.reason.startswith("not a regular file"), grade.reason


@pytest.mark.parametrize("outcome, words", [
    ("timeout", "timed out after 300 s"), ("memory", "used more than 6 GB of memory (its processes and the files"),
    ("tmpfs", "filled its temporary folder /tmp or /dev/shm (each 1 GB, kept in memory)"),
    ("disk", "wrote more than 2 GB of files"), ("files", "created more than 50,000 files"),
    ("stuck", "stopped responding"), (3, "killed its kernel")])
def test_each_limit_has_its_own_reason(hw2, outcome, words):
    assert words in autograder._phase_reason(outcome, "running the notebook", hw2.limits, "")


# ---------------------------------------------------------------------------- what the notebook reports


@pytest.mark.parametrize("value, is_float", [("0.75", True), ("np.float64(0.75)", True),
                                             ("np.float32(0.75)", False), ("torch.tensor(0.75)", False),
                                             ("torch.tensor(0.75, dtype=torch.float64)", False)])
def test_test_mean_iou_is_read_as_the_number_it_is(hw2, tmp_path, value, is_float):
    """A 0-d tensor or a numpy float is saved as its number (it used to become "your code raised an error"); the
    check then judges the value and, where it asks for a Python float, says so."""
    import torch

    probes = autograder._load_module(hw2.dir / hw2.config.PROBES, "hw2_probes_for_test")
    namespace = {"np": np, "torch": torch, "model": torch.nn.Conv2d(1, 4, 1)}
    namespace["test_mean_iou"] = eval(value, namespace)
    exec(hw2.config.EXPORT_CELL.format(state=str(tmp_path / "state")), namespace)
    reported = json.loads((tmp_path / "state" / "reported.json").read_text())
    out = probes.probe_reported({probes.REPORTED: reported}, {})
    assert out["is_float"] is is_float and out["value"] == pytest.approx(0.75), out
    assert out["type"] == "float" if is_float else out["type"].startswith(("numpy.", "torch.")), out


def test_a_test_mean_iou_that_is_no_number_says_what_it_is(hw2, tmp_path):
    import torch

    probes = autograder._load_module(hw2.dir / hw2.config.PROBES, "hw2_probes_for_test")
    namespace = {"model": torch.nn.Conv2d(1, 4, 1), "test_mean_iou": "high"}
    exec(hw2.config.EXPORT_CELL.format(state=str(tmp_path / "state")), namespace)
    reported = json.loads((tmp_path / "state" / "reported.json").read_text())
    out = probes.run_probe("reported", {probes.REPORTED: reported}, {})
    assert out == {"is_float": False, "type": "builtins.str", "value": None}
    checks = autograder._load_module(hw2.dir / hw2.config.CHECKS, "hw2_hidden_for_test")
    assert checks.check_reported_mean_iou(out, {}, {}, "fast") == (
        False, "test_mean_iou is not a number (got builtins.str): compute it with your mean_iou")


# ----------------------------------------------------------------------------------------- Gradescope


def test_gradescope_picks_the_submitted_notebook(tmp_path):
    assert gradescope._pick_submission(tmp_path, "hw2_unet_segmentation")[0] is None
    (tmp_path / "mine.ipynb").write_text("{}")
    assert gradescope._pick_submission(tmp_path, "hw2_unet_segmentation")[0].name == "mine.ipynb"
    (tmp_path / "other.ipynb").write_text("{}")
    assert "several notebooks" in gradescope._pick_submission(tmp_path, "hw2_unet_segmentation")[1]
    (tmp_path / "hw2_unet_segmentation.ipynb").write_text("{}")
    assert gradescope._pick_submission(tmp_path, "hw2_unet_segmentation")[0].name == "hw2_unet_segmentation.ipynb"


def test_gradescope_results_hold_each_check_and_the_sandbox():
    grade = autograder.Grade(student="s", points={"q1": 1.0}, total=1.0, possible=15.0, sandbox="bubblewrap",
                             results=[{"name": "q1_a", "question": "q1", "points": 1.0, "max": 1.0, "message": "ok"}])
    results = gradescope._results(grade)
    assert results["score"] == 1.0 and results["tests"][0] == {"name": "q1 q1_a", "score": 1.0, "max_score": 1.0,
                                                               "output": "ok", "visibility": "visible"}
    assert results["extra_data"]["sandbox"] == "bubblewrap"


@pytest.mark.slow  # seconds of real processes: out of `make unit`, in `make test`
def test_the_grader_finds_course_utils_where_the_sandbox_python_imports_it(tmp_path):
    """course_utils installed from another folder than the repository the grader runs from: the folder the
    sandbox's interpreter really imports it from is bound (binding the repository's copy gave every submission
    "No module named 'course_utils'")."""
    isolation = sandbox.Isolation(bwrap=sandbox.find_bwrap())
    if sandbox.bwrap_problem(isolation.bwrap):
        pytest.skip("needs bubblewrap")
    other = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "course_utils", other / "course_utils", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "aa_course_utils_elsewhere.pth").write_text(f"{other}\n")  # as an old-style editable install
    packages = Path(np.__file__).parents[1]  # torch, numpy, ... of the course's environment
    (site / "zz_packages.pth").write_text(f"{packages}\n")
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from tools import autograder, sandbox
found = autograder._course_utils_dir()
work = Path({str(tmp_path)!r}) / "work"
work.mkdir()
code, tail = sandbox.run([sys.executable, "-c", "import course_utils; print('imported', course_utils.__file__)"],
                         workdir=work, env={{"PATH": "/usr/bin"}}, log_path=work.parent / "log",
                         limits=sandbox.Limits(),
                         isolation=sandbox.Isolation(bwrap={isolation.bwrap!r}),
                         read_only=[found, Path({str(packages)!r})])
print("found", found, "| sandbox:", code, tail)
"""
    done = subprocess.run([str(venv / "bin" / "python"), "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert f"found {other / 'course_utils'}" in done.stdout, done.stdout + done.stderr
    assert f"sandbox: 0 imported {other / 'course_utils'}" in done.stdout, done.stdout + done.stderr


def test_rehearsals_at_once_get_user_ids_of_their_own():
    """The grader kills a submission's processes by user: rehearsals started together (before any of their
    processes exists) got the same free id, so one could kill the other's student processes."""
    from tools import gradescope

    assert len({gradescope._free_uid() for _ in range(3)}) == 3
