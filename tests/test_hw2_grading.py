"""HW2 end to end: the master generates the committed student notebook, the solution scores full marks, and every
broken or dishonest submission gets exactly the points it earned, with a reason, while nothing outside its own
run folder changes (the repository, the virtual environment, the submissions folder, the grader's processes).

Slow by nature (each graded notebook starts a kernel; the correct ones train a small U-Net in fast mode), so the
class is generated once and graded in one `grade_all` call, as an instructor would. Attacks that aim at points are
planted into a notebook where they would show: into the solution, or into one that lacks the answer they try to
fake, so that a successful attack would raise the score above what the work earns.
"""

import csv
import hashlib
import json
import os
import secrets
from pathlib import Path

import hw2_corpus as corpus
import nbformat
import pytest

from tools import autograder as homework
from tools import sandbox

ROOT = Path(__file__).resolve().parents[1]

NAME = homework.HOMEWORK["hw2"]
STUDENT_NB = ROOT / "notebooks" / f"{NAME}.ipynb"
FULL = {"q1": 2.0, "q2": 4.0, "q3": 3.0, "q4": 3.0, "q5": 3.0}
ORPHAN = f"hw2-orphan-{secrets.token_hex(4)}"
INSTRUCTOR_SECRET = f"instructor-secret-{secrets.token_hex(4)}"



def _require_sandbox():
    """Grading needs bubblewrap: without it these tests skip and say why, except in CI, where they fail."""
    problem = sandbox.bwrap_problem()
    if problem and not os.environ.get("CI"):
        pytest.skip(f"bubblewrap cannot run here ({problem}): apt-get install bubblewrap")


def _code_sources(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_committed_student_notebook_is_the_generated_one(dist):
    from tools import sync_notebooks

    generated = dist / "student" / f"{NAME}.ipynb"
    sync_notebooks.sync(generated, write=True, badge_path=STUDENT_NB)
    assert _code_sources(generated) == _code_sources(STUDENT_NB), "run `make homework` and commit the result"


def test_regenerating_gives_the_committed_student_notebook_byte_for_byte(dist, tmp_path):
    """Cell ids are derived from the content, so `make homework` without a change leaves no diff."""
    from tools import sync_notebooks

    generated = tmp_path / f"{NAME}.ipynb"
    generated.write_bytes((dist / "student" / f"{NAME}.ipynb").read_bytes())
    sync_notebooks.sync(generated, write=True, badge_path=STUDENT_NB)
    homework.stable_cell_ids(generated)
    assert generated.read_bytes() == STUDENT_NB.read_bytes(), "run `make homework` and commit the result"


def test_committed_public_tests_are_the_generated_ones(dist):
    generated = {p.name: p.read_text() for p in (dist / "student" / "tests").glob("*.py")}
    committed = {p.name: p.read_text() for p in (ROOT / "course_utils" / "homework_tests" / "hw2").glob("*.py")}
    assert generated == committed, "run `make homework` and commit the result"


def test_student_notebook_has_todos_and_no_solutions():
    text = "\n".join(_code_sources(STUDENT_NB))
    assert "BEGIN SOLUTION" not in text and "torch.optim.Adam(" not in text and "DataLoader(train_set" not in text
    assert text.count("# TODO") >= 7


def test_public_tests_hold_no_hidden_test_and_no_points():
    for test in (ROOT / "course_utils" / "homework_tests" / "hw2").glob("q*.py"):
        text = test.read_text()
        assert "hidden=True" not in text and "hw2_hidden" not in text, f"{test.name} leaks a hidden test"
        assert "points=0" in text and "points=1" not in text, f"{test.name}: public tests carry no points"


def test_the_hidden_tests_ship_in_the_autograder_only(dist):
    import zipfile

    names = set(zipfile.ZipFile(homework.autograder_zip("hw2", dist)).namelist())
    hw2 = {f"grader/homework/hw2/{n}" for n in ("grading.py", "hw2_hidden.py", "hw2_probes.py", "hidden_secret.txt")}
    assert hw2 <= names and {"setup.sh", "run_autograder", "grader/tools/autograder.py"} <= names
    assert not any(n.endswith(".ipynb") or "grading_mode" in n or "run_otter" in n for n in names), names
    assert not any((dist / "student").rglob("hw2_hidden.py"))
    assert not any((dist / "student").rglob(homework.SECRET_FILE))
    assert not list((dist / "autograder").glob("*autograder_*.zip")), "otter's own zip must not be left to upload"


@pytest.mark.slow  # otter assign runs the master notebook
def test_a_failing_solution_shows_otters_own_output(tmp_path, monkeypatch):
    master = tmp_path / "hw2"
    master.mkdir()
    for path in (ROOT / "homework" / "hw2").iterdir():
        if path.is_file():
            (master / path.name).write_bytes(path.read_bytes())
    nb = nbformat.read(master / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        cell.source = cell.source.replace("batch_size=8, shuffle=True)", "batch_size=4, shuffle=True)")
    nbformat.write(nb, master / f"{NAME}.ipynb")
    from tools import sync_notebooks

    in_copy = homework.homework("hw2", master)
    monkeypatch.setattr(homework, "homework", lambda hw, folder=None: in_copy)
    monkeypatch.setattr(sync_notebooks, "sync", lambda *args, **kwargs: [])  # the badge of a copy outside the repo
    with pytest.raises(SystemExit, match=r"(?s)otter assign failed.*the batch size must be 8"):
        homework.generate("hw2", tmp_path / "dist")


# --------------------------------------------------------------------------------------------- the class

SOLUTION_MARK = "# Homework set-up"


def _copy(nb):
    return nbformat.from_dict(json.loads(json.dumps(nb)))


def _with_cell(nb, source, *, where="after_setup"):
    """A copy of ``nb`` with a code cell added after the otter set-up cell, first, or last."""
    nb = _copy(nb)
    if where == "last":
        index = len(nb.cells)
    elif where == "first":
        index = 0
    else:
        index = next(i for i, c in enumerate(nb.cells) if c.source.startswith(SOLUTION_MARK)) + 1
    nb.cells.insert(index, nbformat.v4.new_code_cell(source))
    return nb


def _replace(nb, old, new):
    nb = _copy(nb)
    hits = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and old in cell.source:
            cell.source = cell.source.replace(old, new)
            hits += 1
    assert hits, f"{old!r} not found"
    return nb


def _with_students_cell(solution, student, marker):
    """The solution with the cell that contains ``marker`` put back as the student got it (the TODO version)."""
    nb = _copy(solution)
    todo = next(c for c in student.cells if c.cell_type == "code" and marker in c.source)
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and marker in c.source)
    nb.cells[index] = nbformat.from_dict(json.loads(json.dumps(todo)))
    return nb


SYSTEM_ATTACKS = f'''
import glob, os, pathlib, site, subprocess, sys, time
import course_utils
repo = pathlib.Path(course_utils.__file__).resolve().parents[1]
report = []
# 1. write into the virtual environment and the user site: a .pth file runs at every later Python start
for folder in [*site.getsitepackages(), site.getusersitepackages()]:
    try:
        pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
        (pathlib.Path(folder) / "zz_hw2_attack.pth").write_text("# planted by a submission\\n")
        report.append(f"WROTE {{folder}}")
    except OSError as err:
        report.append(f"blocked {{folder}}: {{type(err).__name__}}")
# 2. write into the repository
for target in (repo / "course_utils" / "__init__.py", repo / "planted.txt"):
    try:
        with open(target, "a") as f:
            f.write("# planted\\n")
        report.append(f"WROTE {{target}}")
    except OSError as err:
        report.append(f"blocked {{target}}: {{type(err).__name__}}")
# 3. every notebook it can find outside its own folder: could it open it for writing? (checked, not emptied)
scanned = read_only = 0
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev", "/usr")]
    for name in files:
        scanned += 1
        path = os.path.join(root, name)
        if path.startswith(os.getcwd()):
            continue
        if name.endswith(".ipynb"):
            try:
                open(path, "r+").close()
                report.append(f"WRITABLE {{path}}")
            except OSError:
                read_only += 1
        if name in ("hw2_hidden.py", "grades.csv", "grading_state.json") or name.endswith("autograder.zip") \
                or (name.endswith(".zip") and "autograder" in name):
            report.append(f"FOUND {{path}}")
# 4. the instructor's environment and the network
report.append("environment: " + " ".join(f"{{k}}={{v}}" for k, v in sorted(os.environ.items())))
report.append("interfaces: " + " ".join(line.split(":")[0].strip()
                                        for line in open("/proc/net/dev").read().splitlines()[2:]))
# 5. a double-forked daemon that calls setsid and outlives the run
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "{ORPHAN}"])
    os._exit(0)
time.sleep(1)
print("\\n".join(report))
print(f"scanned {{scanned}} files; {{read_only}} notebooks outside its folder were read-only")
'''

ISSUE_ATTACK = """import sys, types
_fake = types.ModuleType("hw2_hidden")
_fake.otter_check = lambda name, env: None
sys.modules["hw2_hidden"] = _fake"""

# On Gradescope the grader and the student's code share a container: read the hidden tests and the secret, write
# the results file, and leave a daemon that keeps rewriting it after the grader wrote it.
GRADESCOPE_ATTACKS = """
import json, os, time
report = []
for path in ("/autograder/source", "/autograder/source/grader/homework/hw2/hidden_secret.txt",
             "/autograder/source/grader/homework/hw2/hw2_hidden.py", "/autograder/submission_metadata.json",
             "/autograder/submission"):
    try:
        report.append(f"READ {path}: {os.listdir(path) if os.path.isdir(path) else open(path).read()[:80]!r}")
    except OSError as err:
        report.append(f"blocked {path}: {type(err).__name__}")
fake = json.dumps({"score": 99, "tests": [{"name": "q1", "score": 99, "max_score": 1}]})
for path in ("/autograder/results/results.json", "/autograder/run_autograder", "/autograder/source/setup.sh"):
    try:
        with open(path, "w") as f:
            f.write(fake)
        report.append(f"WROTE {path}")
    except OSError as err:
        report.append(f"blocked {path}: {type(err).__name__}")
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(3000):
            try:
                with open("/autograder/results/results.json", "w") as f:
                    f.write(fake)
            except OSError:
                pass
            time.sleep(0.1)
    os._exit(0)
time.sleep(1)
print("\\n".join(report))
"""

# Submissions graded at once, by make grade's workers and by as many Gradescope rehearsals: one per core (the suite's
# time is bounded in CI), at least 2, at most 4 (each notebook may use a few GB).
AT_ONCE = max(2, min(4, os.cpu_count() or 2))

# Entries of the style corpus (tests/hw2_corpus.py; test_hw2_corpus.py grades all of them at probe level) that
# this class also grades end to end (make grade's path; GRADESCOPE_CLASS says which go through the zip too): the
# three ways correct code lost points in issue 25, and a test_mean_iou that is a tensor (saved by the grader's cell
# as the number it is), which probe-level grading cannot show. Each earns the points hw2_corpus gives it, with the
# feedback that names its cause.
CORPUS_END_TO_END = ("constant_in_double_conv", "constant_as_default_argument", "float32_vectorised_iou",
                     "mean_returns_tensor")

# name: (base, planted cell, where, expected points, words in the failure reason, words in the feedback)
CLASS = {
    "correct": ("solution", None, None, FULL, "", ["q5 q5_target_on_hidden_test_set: 2 / 2"]),
    "untouched": ("student", None, None, dict.fromkeys(FULL, 0.0), "", ["q2 q2_equals_reference: 0 / 2"]),
    "raises_in_first_cell": ("solution", "raise RuntimeError('my first cell is broken')", "first", FULL, "",
                             ["RuntimeError: my first cell is broken"]),
    "crashes_kernel_os_exit": ("solution", "import os\nos._exit(0)", "after_setup", dict.fromkeys(FULL, 0.0),
                               "killed its kernel", []),
    "calls_sys_exit": ("solution", "import sys\nsys.exit(0)", "after_setup", FULL, "", ["SystemExit"]),
    "prints_megabytes": ("solution", "print('x' * 20_000_000)", "after_setup", FULL, "", []),
    "redefines_builtins": (
        "solution",
        "import builtins\nbuiltins.AssertionError = type('AssertionError', (Exception,), {})\n"
        "builtins.isinstance = lambda *args: True\nbuiltins.print = lambda *args, **kwargs: None",
        "after_setup", dict.fromkeys(FULL, 0.0), "stopped responding", []),
    # Attacks on points, planted into notebooks that lack the answer they fake: a successful attack would show.
    "monkeypatches_grader_check": (
        "no_q2", "grader.check = lambda *args, **kwargs: print('All tests passed!')", "after_setup",
        {**FULL, "q2": 0.0, "q5": 0.0}, "", ["q2 q2_equals_reference: 0 / 2"]),
    "patches_the_test_runner": (
        "no_q2",
        "from otter.test_files import abstract_test, exception_test\n"
        "def _all_pass(self, env):\n"
        "    self.test_case_results = [abstract_test.TestCaseResult(test_case=tc, message='ok', passed=True)\n"
        "                              for tc in self.test_cases]\n"
        "exception_test.ExceptionTestFile.run = _all_pass",
        "after_setup", {**FULL, "q2": 0.0, "q5": 0.0}, "", ["q2 q2_equals_reference: 0 / 2"]),
    "rewrites_and_deletes_test_files": (
        "no_q2",
        "import pathlib, re\n"
        "import course_utils\n"
        "for p in [*pathlib.Path('/tmp').rglob('*.py'), *pathlib.Path(course_utils.__file__).parent.rglob('*.py')]:\n"
        "    try:\n"
        "        text = p.read_text(errors='ignore')\n"
        "        if 'test_case' in text or 'def check_' in text:\n"
        "            p.write_text(re.sub(r'(def \\w+\\(.*\\):)', r'\\1\\n    return True, \"ok\"', text))\n"
        "    except OSError:\n"
        "        pass",
        "after_setup", {**FULL, "q2": 0.0, "q5": 0.0}, "", ["q2 q2_equals_reference: 0 / 2"]),
    "writes_its_own_results": (
        "no_q2",
        "import json, os, pathlib\n"
        "os.symlink('/root', 'state')  # the grader must not follow a link its run folder holds\n"
        "fake = {'probes': {}, 'tests': [{'name': f'q{i}', 'score': 99, 'max_score': 99} for i in range(1, 6)]}\n"
        "for d in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents][:4]:\n"
        "    for sub in ('results', 'probe/out', 'out'):\n"
        "        try:\n"
        "            (d / sub).mkdir(parents=True, exist_ok=True)\n"
        "            (d / sub / 'results.json').write_text(json.dumps(fake))\n"
        "            (d / sub / 'outputs.json').write_text(json.dumps(fake))\n"
        "        except OSError:\n"
        "            pass",
        "after_setup", {**FULL, "q2": 0.0, "q5": 0.0}, "", ["q2 q2_equals_reference: 0 / 2"]),
    "imports_the_reference_unet": (
        "no_q2", "from course_utils.unet import UNet", "last", {**FULL, "q2": 0.0, "q5": 0.0}, "",
        ["q2 q2_equals_reference: 0 / 2  uses the course's reference (from course_utils.unet import ...)"]),
    "imports_the_reference_metrics": (
        "no_q4", "from course_utils.metrics import iou_per_class, dice_per_class, mean_iou", "after_setup",
        {**FULL, "q4": 0.0, "q5": 0.0}, "",
        # the reference metrics are not in the student's package, so the import itself fails: the grader must
        # still name the attempt in q4, and q5 (which needs mean_iou) gets nothing
        ["q4 q4_iou: 0 / 1  uses the course's reference (from course_utils.metrics import ...)",
         "cannot import name 'iou_per_class' from 'course_utils.metrics'"]),
    "replaces_the_test_data_and_the_model": (
        "untrained",
        "test_data = test_data._replace(masks=torch.zeros_like(test_data.masks))\n"
        "class Background(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(1, 4, 1)\n"
        "    def forward(self, x):\n"
        "        out = torch.zeros(len(x), 4, *x.shape[-2:])\n"
        "        out[:, 0] = 1.0\n"
        "        return out\n"
        "model = Background()",
        "before_q5_evaluation", {**FULL, "q5": 0.0}, "",
        ["q5 q5_target_on_hidden_test_set: 0 / 2", "do not load into UNet(1, 4, 8)"]),
    "patches_the_functions_a_test_uses": (
        "untrained",
        "import numpy, torch\n"
        "numpy.nanmean = lambda *args, **kwargs: 1.0\n"
        "torch.nanmean = lambda *args, **kwargs: torch.tensor(1.0)\n"
        "torch.testing.assert_close = lambda *args, **kwargs: None\n"
        "class _Patches:  # a class body runs again when the grader rebuilds the submission's classes\n"
        "    numpy.nanmean = lambda *args, **kwargs: 1.0\n"
        "    numpy.allclose = lambda *args, **kwargs: True",
        "after_setup", {**FULL, "q5": 0.0}, "",
        ["q5 q5_target_on_hidden_test_set: 0 / 2  the trained model's mean IoU on the grader's hidden test images",
         "q5 q5_reported_mean_iou: 0 / 1  test_mean_iou is 1.000, but the trained model's test mean IoU is"]),
    "escapes_the_sandbox": ("solution", SYSTEM_ATTACKS, "last", FULL, "", ["scanned"]),
    # The attack of issue 25: under otter's zip the hidden tests imported hw2_hidden in the notebook's own process,
    # so this cell made the unsolved notebook score 15/15 (checked by hand with `otter run`). Here no hidden test
    # runs in the notebook's process, on either path.
    "replaces_the_hidden_tests_module": ("student", ISSUE_ATTACK, "after_setup", dict.fromkeys(FULL, 0.0), "",
                                         ["q2 q2_equals_reference: 0 / 2"]),
    "attacks_the_gradescope_layout": ("student", GRADESCOPE_ATTACKS, "after_setup", dict.fromkeys(FULL, 0.0), "",
                                      ["blocked /autograder/results/results.json"]),
}


def _hash_tree(root: Path, skip=("__pycache__", ".git")) -> str:
    """A digest of every file's path, size and modification time under ``root`` (fast enough for a venv)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                stat = path.lstat()
            except OSError:
                continue
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _watched() -> dict[str, Path]:
    import site

    return {"repository": ROOT, "site-packages": Path(site.getsitepackages()[0]),
            "user site": Path(site.getusersitepackages())}


def _bases(dist):
    solution = nbformat.read(dist / "autograder" / f"{NAME}.ipynb", as_version=4)
    student = nbformat.read(STUDENT_NB, as_version=4)
    training_step = "train_losses.append(train_one_epoch(model, train_loader, optimizer, loss_fn, device))"
    untrained = _replace(solution, training_step, "train_losses.append(0.0)  # never trains")
    return {"solution": solution, "student": student, "untrained": untrained,
            "no_q2": _with_students_cell(solution, student, "class UNet(nn.Module):"),
            "no_q4": _with_students_cell(solution, student, "def iou_per_class(pred, target, num_classes):")}


def _plant(nb, cell, where):
    if cell is None:
        return _copy(nb)
    if where == "before_q5_evaluation":
        nb = _copy(nb)
        index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "test_mean_iou =" in c.source)
        before, marker, after = nb.cells[index].source.partition("model.eval()\nwith torch.no_grad():")
        assert marker, "the solution's evaluation of the test set was not found"
        nb.cells[index].source = before + cell + "\n" + marker + after
        return nb
    return _with_cell(nb, cell, where=where)


@pytest.fixture(scope="module")
def graded_class(dist, tmp_path_factory):
    _require_sandbox()
    submissions = tmp_path_factory.mktemp("submissions")
    bases = _bases(dist)
    for name, (base, cell, where, _, _, _) in CLASS.items():
        nbformat.write(_plant(bases[base], cell, where), submissions / f"{name}.ipynb")
    # Half right: q1 and q4 right; q2 concatenates the skip connections in the wrong order (shapes and
    # parameter count still right); q3 has the optimizer but its training step never updates the weights;
    # q5 therefore trains nothing, but reports its test mean IoU truthfully.
    half = _replace(bases["solution"], "torch.cat([self.upconv4(bottleneck), enc4], dim=1)",
                    "torch.cat([enc4, self.upconv4(bottleneck)], dim=1)")
    half = _replace(half, "        loss.backward()\n        optimizer.step()\n        optimizer.zero_grad()\n", "")
    nbformat.write(half, submissions / "half_right.ipynb")
    (submissions / "not_a_notebook.ipynb").write_text("this is not JSON")
    (submissions / "=1+2.ipynb").write_text("a name a spreadsheet would read as a formula")
    (submissions / "links_to_the_solution.ipynb").symlink_to(dist / "autograder" / f"{NAME}.ipynb")
    corpus.write_corpus(submissions, names=CORPUS_END_TO_END)  # with expected_points.json, which is not graded
    watched = {**_watched(), "submissions": submissions}
    before = {k: _hash_tree(v) for k, v in watched.items()}
    out = tmp_path_factory.mktemp("grades")
    os.environ["HW2_TEST_INSTRUCTOR_TOKEN"] = INSTRUCTOR_SECRET
    try:
        grades = homework.grade_all("hw2", submissions, out, timeout_s=300, workers=AT_ONCE, mode="fast",
                                    ag_zip=homework.autograder_zip("hw2", dist))
    finally:
        del os.environ["HW2_TEST_INSTRUCTOR_TOKEN"]
    after = {k: _hash_tree(v) for k, v in watched.items()}
    return {g.student: g for g in grades}, out, before, after, submissions


def test_solution_scores_full_marks(graded_class):
    grade = graded_class[0]["correct"]
    assert grade.total == 15.0 and not grade.reason, grade
    assert grade.points == FULL and grade.sandbox == "bubblewrap"


def test_half_right_submission_gets_partial_credit_per_question(graded_class):
    grade = graded_class[0]["half_right"]
    assert not grade.reason, grade
    assert grade.points["q1"] == 2.0 and grade.points["q4"] == 3.0
    assert grade.points["q2"] == 2.0, "wrong skip order: layers and shapes right, the reference comparison fails"
    assert grade.points["q3"] == 1.0, "optimizer right, training step wrong"
    assert grade.points["q5"] == 1.0, "an untrained model misses the target; its reported IoU is still its own"
    assert "the weights never changed" in grade.feedback


def test_a_file_that_is_not_a_notebook_gets_zero_with_a_reason(graded_class):
    grade = graded_class[0]["not_a_notebook"]
    assert grade.total == 0.0 and "not a readable notebook" in grade.reason


def test_a_submission_that_is_a_symbolic_link_is_refused(graded_class):
    """It pointed at the solution notebook in dist/: graded as what it points to, it scored 15/15."""
    grade = graded_class[0]["links_to_the_solution"]
    assert grade.total == 0.0 and "not a regular file" in grade.reason and "symbolic link" in grade.reason


def test_gradebook_cells_are_spreadsheet_safe(graded_class):
    _, out, *_ = graded_class
    with open(out / "grades.csv") as f:
        students = [row["student"] for row in csv.DictReader(f)]
    assert "'=1+2" in students and "=1+2" not in students


@pytest.mark.parametrize("name", sorted(CLASS))
def test_each_submission_gets_the_points_it_earned_and_its_reason(graded_class, name):
    grade = graded_class[0][name]
    _, _, _, points, reason, feedback = CLASS[name]
    assert grade.points == points, (grade.points, grade.reason, grade.feedback[:3000])
    assert (reason in grade.reason) if reason else not grade.reason, grade.reason
    for words in feedback:
        assert words in grade.feedback, (words, grade.feedback[:3000])


@pytest.mark.parametrize("name", CORPUS_END_TO_END)
def test_make_grade_awards_the_corpus_points(graded_class, name):
    grade = graded_class[0][name]
    assert not grade.reason and grade.points == corpus.CORPUS[name].points, (grade.points, grade.reason,
                                                                            grade.feedback[:3000])
    for check, words in corpus.CORPUS[name].feedback.items():
        assert words in grade.feedback, (check, words, grade.feedback[:3000])


@pytest.mark.parametrize("watched", ["repository", "site-packages", "user site", "submissions"])
def test_nothing_outside_the_run_folders_changed(graded_class, watched):
    _, _, before, after, _ = graded_class
    assert before[watched] == after[watched], f"grading changed files in the {watched}"


def test_the_sandbox_blocked_every_write_read_and_escape(graded_class):
    feedback = graded_class[0]["escapes_the_sandbox"].feedback
    assert "scanned" in feedback and "blocked" in feedback, feedback[-3000:]
    wrote = [line for line in feedback.splitlines() if line.startswith("WROTE")]
    for line in wrote:
        if line.startswith("WROTE /tmp/home/"):
            continue
        # a repository cloned under /tmp shows inside the sandbox as folders of its private /tmp (a tmpfs): a write
        # there is allowed only if it never reached this machine's file
        path = Path(line.removeprefix("WROTE "))
        assert str(path).startswith("/tmp/"), f"wrote outside its private HOME and /tmp: {line}"
        target = path / "zz_hw2_attack.pth" if path.is_dir() else path
        reached = target.is_file() and "planted" in target.read_text(errors="ignore")
        assert not reached, f"the write reached this machine: {line}"
    assert "WRITABLE" not in feedback and "FOUND" not in feedback, feedback[-3000:]
    assert INSTRUCTOR_SECRET not in feedback and "HW2_TEST_INSTRUCTOR_TOKEN" not in feedback
    environment = next(line for line in feedback.splitlines() if line.startswith("environment: "))
    assert "COURSE_FAST=1" in environment and "HOME=/tmp/home" in environment, environment
    assert "interfaces: lo" in feedback and "eth" not in feedback.split("interfaces:")[1].splitlines()[0]


def test_no_process_of_a_submission_outlives_its_run(graded_class):
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert ORPHAN.encode() not in cmdline.read_bytes(), f"process {cmdline.parent.name} outlived its run"
        except OSError:
            continue


def test_gradebook_has_one_row_per_submission_and_feedback_files(graded_class):
    grades, out, *_ = graded_class
    with open(out / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    shown = {homework.spreadsheet_safe(name): name for name in grades}  # "=1+2" is written as "'=1+2"
    assert sorted(r["student"] for r in rows) == sorted(shown)
    assert set(rows[0]) >= {"student", "q1", "q2", "q3", "q4", "q5", "total", "possible", "sandbox", "failure_reason"}
    for row in rows:
        assert float(row["total"]) == grades[shown[row["student"]]].total
        assert (out / "feedback" / f"{shown[row['student']]}.txt").is_file()


def test_grading_the_same_folder_again_resumes(graded_class, dist, capsys):
    grades, out, _, _, submissions = graded_class
    (submissions / "late_copy.ipynb").write_bytes((submissions / "untouched.ipynb").read_bytes())
    try:
        again = homework.grade_all("hw2", submissions, out, timeout_s=120, workers=1, mode="fast",
                                   ag_zip=homework.autograder_zip("hw2", dist))
    finally:
        (submissions / "late_copy.ipynb").unlink()
    printed = capsys.readouterr().out
    assert f"grading 1 submission(s) of hw2 ({len(grades)} unchanged, kept from the last run)" in printed
    assert {g.student: g.total for g in again} == {**{s: g.total for s, g in grades.items()}, "late_copy": 0.0}


# ------------------------------------------------------------------- the same class through the Gradescope zip

GRADESCOPE_BWRAP = ("attacks_the_gradescope_layout", "replaces_the_hidden_tests_module")
# What the Gradescope pass grades again: the submissions whose grading can differ on Gradescope, because they attack
# what differs there (the machine and its files, the layout under /autograder, the kernel and its processes, the
# way results are written: student code runs as the user hw-student, without bubblewrap), or because they show
# the scoring end to end (full marks, partial credit per question, a lost point with its cause, each refusal).
# The rest of the class (wrong answers, imports of the reference, in-notebook patches of the checks, the corpus's
# correct styles) is scored by the same probe and check code on both paths: make grade's pass above grades them,
# and test_hw2_corpus.py grades every style with the grader's own probe step. Grading them twice cost about five
# minutes of the suite's twenty.
GRADESCOPE_CLASS = ("correct", "half_right", "mean_returns_tensor", "not_a_notebook", "=1+2", "links_to_the_solution",
                    "crashes_kernel_os_exit", "redefines_builtins", "prints_megabytes", "escapes_the_sandbox",
                    "writes_its_own_results", "rewrites_and_deletes_test_files", "patches_the_functions_a_test_uses",
                    *GRADESCOPE_BWRAP)


def _require_rehearsal():
    """The Gradescope rehearsal runs its steps as root (or through sudo without a password), as Gradescope does,
    in bubblewrap: without them it skips and says why, except in CI, where it fails."""
    from tools import gradescope

    _require_sandbox()
    if gradescope.root_prefix() is None:
        if os.environ.get("CI"):
            pytest.fail("the Gradescope rehearsal needs root or sudo without a password in CI")
        pytest.skip("the Gradescope rehearsal needs root (or sudo -n), as Gradescope runs its steps as root")


@pytest.fixture(scope="module")
def gradescope_class(graded_class, dist, tmp_path_factory):
    """The class of ``graded_class``, each notebook graded by the autograder zip laid out as Gradescope does, one
    after the other in one container, in a container whose /proc keeps bubblewrap from running (as Docker's
    does), so student code runs as the user hw-student alone; ``AT_ONCE`` such rehearsals at once, each with its
    share of the class; and one more where bubblewrap works, for the attacks on the Gradescope layout."""
    from concurrent.futures import ThreadPoolExecutor

    from tools import gradescope

    _require_rehearsal()
    submissions = graded_class[4]
    notebooks = sorted(p for p in submissions.iterdir() if p.suffix == ".ipynb" and p.stem in GRADESCOPE_CLASS)
    assert len(notebooks) == len(GRADESCOPE_CLASS), "a submission named in GRADESCOPE_CLASS is not in the class"
    zip_path = homework.autograder_zip("hw2", dist)
    runs = [(notebooks[i::AT_ONCE], False) for i in range(AT_ONCE)]
    runs.append(([submissions / f"{name}.ipynb" for name in GRADESCOPE_BWRAP], True))
    out = tmp_path_factory.mktemp("gradescope")

    def rehearse(run):
        folder = out / ("bwrap" if run[1] else "user")
        return gradescope.rehearse(zip_path, run[0], folder, mode="fast", threads=1, bwrap_in_container=run[1])

    with ThreadPoolExecutor(len(runs)) as pool:
        parts = list(pool.map(rehearse, runs))
    user = {Path(name).stem: result for part in parts[:-1] for name, result in part.items()}
    bwrap = {Path(name).stem: result for name, result in parts[-1].items()}
    logs = {p.name.removesuffix(".ipynb.log"): p.read_text() for p in (out / "user").glob("*.log")}
    return user, bwrap, logs


@pytest.mark.parametrize("name", sorted(GRADESCOPE_CLASS))
def test_gradescope_gives_each_submission_the_points_make_grade_gives(graded_class, gradescope_class, name):
    local, results = graded_class[0][name], gradescope_class[0][name]
    assert results is not None, f"no results.json: {gradescope_class[2][name][-3000:]}"
    assert results["extra_data"]["points"] == local.points, (results["output"][-3000:], local.feedback[-2000:])
    assert results["score"] == local.total == sum(t["score"] for t in results["tests"] or [{"score": 0.0}])
    assert results["extra_data"]["sandbox"] == "user hw-student (no bubblewrap)"


def test_gradescope_refuses_what_make_grade_refuses_with_the_same_reason(graded_class, gradescope_class):
    for name in ("not_a_notebook", "links_to_the_solution", "crashes_kernel_os_exit", "redefines_builtins"):
        reason = graded_class[0][name].reason
        assert reason and f"Not graded normally: {reason}" in gradescope_class[0][name]["output"], name


def test_on_gradescope_student_code_cannot_read_the_grader_or_write_the_results(gradescope_class):
    """As the user hw-student (files of root only) and, where bubblewrap works, in a sandbox that does not even
    show /autograder: nothing of the grader read, nothing written, and the results file is the grader's (the
    daemon that kept rewriting it was ended before the grader wrote it)."""
    user, bwrap, _ = gradescope_class
    for isolation, results in (("user", user), ("bwrap", bwrap)):
        output = results["attacks_the_gradescope_layout"]["output"]
        attempts = [line for line in output.splitlines() if line.startswith(("READ", "WROTE", "blocked"))]
        assert len(attempts) == 8 and all(line.startswith("blocked") for line in attempts), (isolation, output)
        assert results["attacks_the_gradescope_layout"]["score"] == 0.0
    assert bwrap["attacks_the_gradescope_layout"]["extra_data"]["sandbox"] == "bubblewrap, user hw-student"


def test_the_issues_attack_gets_zero_through_the_gradescope_zip(gradescope_class):
    user, bwrap, _ = gradescope_class
    for results in (user, bwrap):
        assert results["replaces_the_hidden_tests_module"]["score"] == 0.0


def test_on_gradescope_no_process_of_the_student_user_survives_a_submission(gradescope_class):
    logs = gradescope_class[2]
    assert logs and all("processes of hw-student left: 0" in log for log in logs.values()), logs


# ------------------------------------------------------------------------- one at a time, with own limits


# name: (base, planted cell, where, grading mode, options of grade_one). Each needs its own mode or limits, so each
# gets its own grader; they run at the same time (each uses one core at most), not one after the other.
ONE_AT_A_TIME = {
    "sets_fast_mode": ("solution", "import os\nos.environ['COURSE_FAST'] = '1'", "first", "full",
                       {"timeout_s": 300}),
    "loops_forever": ("student", "while True:\n    pass", "after_setup", "fast", {"timeout_s": 45}),
    "hogs_memory": ("student", "import time\nhog = []\nfor _ in range(40):\n"
                               "    hog.append(b'x' * (100 * 2**20))\n    time.sleep(0.2)", "after_setup", "fast",
                    {"timeout_s": 120, "memory_gb": 1.5}),
}


@pytest.fixture(scope="module")
def graded_one_at_a_time(dist, tmp_path_factory):
    from concurrent.futures import ThreadPoolExecutor

    _require_sandbox()
    folder = tmp_path_factory.mktemp("one-at-a-time")
    bases = {"solution": nbformat.read(dist / "autograder" / f"{NAME}.ipynb", as_version=4),
             "student": nbformat.read(STUDENT_NB, as_version=4)}

    def grade(name):
        base, cell, where, mode, options = ONE_AT_A_TIME[name]
        path = folder / f"{name}.ipynb"
        nbformat.write(_with_cell(bases[base], cell, where=where), path)
        autograder = homework.Autograder(homework.autograder_zip("hw2", dist), mode)
        try:
            return homework.grade_one(path, autograder, **options)
        finally:
            autograder.close()

    with ThreadPoolExecutor(len(ONE_AT_A_TIME)) as pool:
        return dict(zip(ONE_AT_A_TIME, pool.map(grade, ONE_AT_A_TIME)))


def test_setting_fast_mode_in_the_notebook_does_not_lower_the_target(graded_one_at_a_time):
    grade = graded_one_at_a_time["sets_fast_mode"]
    assert "(target 0.85)" in grade.feedback or "below the target 0.85" in grade.feedback, grade.feedback
    assert "target 0.45" not in grade.feedback
    assert grade.points["q5"] < 3.0, "a fast-trained model reported on the fast test split cannot earn all of q5"


def test_an_endless_loop_is_stopped_by_the_time_limit(graded_one_at_a_time):
    grade = graded_one_at_a_time["loops_forever"]
    assert grade.total == 0.0 and "timed out after 45 s" in grade.reason
    assert grade.seconds < 90


def test_a_submission_over_the_memory_limit_is_stopped_with_its_reason(graded_one_at_a_time):
    grade = graded_one_at_a_time["hogs_memory"]
    assert grade.total == 0.0 and "used more than 1.5 GB of memory" in grade.reason, grade.reason


def test_grading_stops_with_one_message_when_the_sandbox_cannot_import_course_utils(dist, tmp_path, monkeypatch):
    """course_utils where the sandbox's Python does not find it (what an editable install from another folder
    did: every submission scored 0 with "No module named 'course_utils'"): the pre-flight check stops grading
    with what to fix, and no gradebook of zeros is written."""
    _require_sandbox()
    empty = tmp_path / "elsewhere" / "course_utils"
    empty.mkdir(parents=True)
    monkeypatch.setattr(homework, "_course_utils_dir", lambda: empty)
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "untouched.ipynb").write_bytes(STUDENT_NB.read_bytes())
    with pytest.raises(homework.GraderFailure, match=r"(?s)nothing was graded.*cannot import course_utils"):
        homework.grade_all("hw2", tmp_path / "class", tmp_path / "grades", mode="fast",
                           ag_zip=homework.autograder_zip("hw2", dist))
    assert not (tmp_path / "grades" / "grades.csv").exists()


def test_grading_stops_with_the_options_when_bubblewrap_cannot_run(monkeypatch, tmp_path):
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda *args: "the `bwrap` command is not installed")
    (tmp_path / "a.ipynb").write_text("{}")
    with pytest.raises(SystemExit, match=r"(?s)apt-get install bubblewrap.*Gradescope.*--no-sandbox"):
        homework.grade_all("hw2", tmp_path, tmp_path / "out")


def test_bubblewrap_runs_here_in_ci():
    if os.environ.get("CI"):
        assert sandbox.bwrap_problem() is None, "CI must grade in the sandbox: .ci/run installs bubblewrap"


def test_default_workers_is_one_per_core_as_far_as_memory_and_the_class_allow(monkeypatch):
    monkeypatch.setattr(homework.os, "cpu_count", lambda: 8)
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 24 * 1024**3 // 4096}  # a 24 GB machine
    monkeypatch.setattr(homework.os, "sysconf", lambda name: pages[name])
    assert homework.default_workers(30, 6.0) == 4  # four 6 GB limits fit in 24 GB
    assert homework.default_workers(30, 1.0) == 8  # one per core
    assert homework.default_workers(3, 1.0) == 3  # no more than there are submissions
    assert homework.default_workers(0, 100.0) == 1  # at least one, even when no limit fits
