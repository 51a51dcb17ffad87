"""HW2 end to end: the master generates the committed student notebook, the solution scores full marks, and every
broken or hostile submission gets its expected score with a reason while the grading run goes on.

Slow by nature (each graded notebook starts a kernel; the correct ones train a small U-Net in fast mode), so the
whole class is generated once and graded in one `grade_all` call, as an instructor would.
"""

import csv
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import homework  # noqa: E402

NAME = homework.HOMEWORK["hw2"]
STUDENT_NB = ROOT / "notebooks" / f"{NAME}.ipynb"
TOTAL = 15.0


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """Run otter assign on the master; it raises if the solution fails any public or hidden test."""
    return homework.generate("hw2", tmp_path_factory.mktemp("hw2") / "dist")


def _code_sources(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_committed_student_notebook_is_the_generated_one(dist):
    import sync_notebooks

    generated = dist / "student" / f"{NAME}.ipynb"
    sync_notebooks.sync(generated, write=True, badge_path=STUDENT_NB)
    assert _code_sources(generated) == _code_sources(STUDENT_NB), "run `make homework` and commit the result"


def test_committed_public_tests_are_the_generated_ones(dist):
    generated = {p.name: p.read_text() for p in (dist / "student" / "tests").glob("*.py")}
    committed = {p.name: p.read_text() for p in (ROOT / "course_utils" / "homework_tests" / "hw2").glob("*.py")}
    assert generated == committed, "run `make homework` and commit the result"


def test_student_notebook_has_todos_and_no_solutions():
    text = "\n".join(_code_sources(STUDENT_NB))
    assert "BEGIN SOLUTION" not in text and "torch.optim.Adam(" not in text and "DataLoader(train_set" not in text
    assert text.count("# TODO") >= 7


def test_public_tests_hold_no_hidden_test():
    for test in (ROOT / "course_utils" / "homework_tests" / "hw2").glob("q*.py"):
        assert "hidden=True" not in test.read_text(), f"{test.name} leaks a hidden test to students"


# --------------------------------------------------------------------------------------------- the class

SOLUTION_MARK = "# Homework set-up"


def _with_cell(nb, source, *, after_setup=True):
    """A copy of notebook ``nb`` with a code cell inserted right after the otter set-up cell (or first)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    index = next(i for i, c in enumerate(nb.cells) if c.source.startswith(SOLUTION_MARK)) + 1 if after_setup else 0
    nb.cells.insert(index, nbformat.v4.new_code_cell(source))
    return nb


def _replace(nb, old, new):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    hits = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and old in cell.source:
            cell.source = cell.source.replace(old, new)
            hits += 1
    assert hits, f"{old!r} not found"
    return nb


HOSTILE = {
    # name: (based on, extra cell, expected total, words expected in the failure reason)
    "crashes_kernel_os_exit": ("solution", "import os\nos._exit(0)", 0.0, "killed its kernel"),
    "calls_sys_exit": ("solution", "import sys\nsys.exit(0)", TOTAL, ""),
    "prints_megabytes": ("solution", "print('x' * 20_000_000)", TOTAL, ""),
    "monkeypatches_grader_check": (
        "student", "grader.check = lambda *args, **kwargs: print('All tests passed!')", 0.0, ""),
    "redefines_builtins": (
        "student",
        "import builtins\nbuiltins.AssertionError = type('AssertionError', (Exception,), {})\n"
        "builtins.isinstance = lambda *args: True\nbuiltins.print = lambda *args, **kwargs: None",
        0.0, "stopped responding"),
    "patches_the_test_runner": (
        "student",
        "from otter.test_files import abstract_test, exception_test\n"
        "def _all_pass(self, env):\n"
        "    self.test_case_results = [abstract_test.TestCaseResult(test_case=tc, message='ok', passed=True)\n"
        "                              for tc in self.test_cases]\n"
        "exception_test.ExceptionTestFile.run = _all_pass",
        0.0, "integrity"),
    "rewrites_and_deletes_test_files": (
        "student",
        "import pathlib, re\n"
        "for p in pathlib.Path('/').joinpath(*pathlib.Path.cwd().parts[1:4]).rglob('*.py'):\n"
        "    text = p.read_text(errors='ignore')\n"
        "    if 'test_case' in text:\n"
        "        p.write_text(re.sub(r'(def test_\\w+\\(.*\\):)', r'\\1\\n    return', text))\n"
        "for p in pathlib.Path.cwd().parent.rglob('*.pkl'):\n"
        "    p.unlink()",
        0.0, "integrity"),
    "writes_its_own_results": (
        "student",
        "import json, pathlib\n"
        "fake = {'tests': [{'name': f'q{i}', 'score': 99, 'max_score': 99} for i in range(1, 6)]}\n"
        "for d in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents][:4]:\n"
        "    (d / 'results').mkdir(exist_ok=True)\n"
        "    (d / 'results' / 'results.json').write_text(json.dumps(fake))\n"
        "    (d / 'results.json').write_text(json.dumps(fake))",
        0.0, ""),
    "reads_the_hidden_tests": (
        "student",
        "import pathlib\n"
        "for p in pathlib.Path.cwd().parent.rglob('q*.py'):\n"
        "    print(p, p.read_text()[:2000])",
        0.0, ""),
}


@pytest.fixture(scope="module")
def graded_class(dist, tmp_path_factory):
    submissions = tmp_path_factory.mktemp("submissions")
    solution = nbformat.read(dist / "autograder" / f"{NAME}.ipynb", as_version=4)
    student = nbformat.read(STUDENT_NB, as_version=4)
    nbformat.write(solution, submissions / "correct.ipynb")
    nbformat.write(student, submissions / "untouched.ipynb")
    # Half right: q1 and q4 right; q2 concatenates the skip connections in the wrong order (shapes and
    # parameter count still right); q3 has the optimizer but its training step never updates the weights;
    # q5 therefore trains nothing.
    half = _replace(solution, "torch.cat([self.upconv4(bottleneck), enc4], dim=1)",
                    "torch.cat([enc4, self.upconv4(bottleneck)], dim=1)")
    half = _replace(half, "        loss.backward()\n        optimizer.step()\n        optimizer.zero_grad()\n", "")
    nbformat.write(half, submissions / "half_right.ipynb")
    raising = _with_cell(solution, "raise RuntimeError('my first cell is broken')", after_setup=False)
    nbformat.write(raising, submissions / "raises_in_first_cell.ipynb")
    (submissions / "not_a_notebook.ipynb").write_text("this is not JSON")
    for name, (base, cell, _, _) in HOSTILE.items():
        nbformat.write(_with_cell(solution if base == "solution" else student, cell), submissions / f"{name}.ipynb")
    out = tmp_path_factory.mktemp("grades")
    grades = homework.grade_all("hw2", submissions, out, timeout_s=300, workers=2, mode="fast",
                                ag_zip=homework.autograder_zip("hw2", dist))
    return {g.student: g for g in grades}, out


def test_solution_scores_full_marks(graded_class):
    grade = graded_class[0]["correct"]
    assert grade.total == TOTAL and not grade.reason, grade
    assert grade.points == {"q1": 2.0, "q2": 4.0, "q3": 3.0, "q4": 3.0, "q5": 3.0}


def test_untouched_student_notebook_scores_zero_without_crashing(graded_class):
    grade = graded_class[0]["untouched"]
    assert grade.total == 0.0 and not grade.reason, grade


def test_half_right_submission_gets_partial_credit_per_question(graded_class):
    grade = graded_class[0]["half_right"]
    assert not grade.reason, grade
    assert grade.points["q1"] == 2.0 and grade.points["q4"] == 3.0
    assert 0 < grade.points["q2"] < 4.0, "wrong skip order: shape checks pass, the reference comparison fails"
    assert 0 < grade.points["q3"] < 3.0, "optimizer right, training step wrong"
    assert grade.points["q5"] < 3.0, "an untrained model cannot reach the target IoU"
    assert 0 < grade.total < TOTAL


def test_a_submission_that_raises_in_its_first_cell_is_still_graded(graded_class):
    grade = graded_class[0]["raises_in_first_cell"]
    assert grade.total == TOTAL and not grade.reason, grade


def test_a_file_that_is_not_a_notebook_gets_zero_with_a_reason(graded_class):
    grade = graded_class[0]["not_a_notebook"]
    assert grade.total == 0.0 and "not a readable notebook" in grade.reason


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_submission_gets_its_expected_score_and_reason(graded_class, name):
    grade = graded_class[0][name]
    _, _, expected_total, reason_words = HOSTILE[name]
    assert grade.total == expected_total, grade
    assert reason_words in grade.reason, grade
    if expected_total == 0:
        assert all(points == 0 for points in grade.points.values()), grade


def test_gradebook_has_one_row_per_submission_and_feedback_files(graded_class):
    grades, out = graded_class
    with open(out / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["student"] for r in rows) == sorted(grades)
    assert set(rows[0]) >= {"student", "q1", "q2", "q3", "q4", "q5", "total", "possible", "failure_reason"}
    for row in rows:
        assert float(row["total"]) == grades[row["student"]].total
        assert (out / "feedback" / f"{row['student']}.txt").is_file()


def test_an_endless_loop_is_stopped_by_the_time_limit(dist, tmp_path):
    student = nbformat.read(STUDENT_NB, as_version=4)
    path = tmp_path / "loops_forever.ipynb"
    nbformat.write(_with_cell(student, "while True:\n    pass"), path)
    grade = homework.grade_one(path, homework.autograder_zip("hw2", dist), timeout_s=45, mode="fast")
    assert grade.total == 0.0 and "timed out" in grade.reason
    assert grade.seconds < 90
