"""HW2 is fair to every correct student: a corpus of submissions (tests/hw2_corpus.py), correct ones in the styles
students write and subtly wrong ones, each earns exactly its expected points, each lost point comes with feedback
that names its cause, and the public self-checks catch the mistakes whose rule the text states.

Cheap by design: one trained run of the solution (fast mode), then every submission
* is run as its notebook runs, in this process, with the training replaced by that run's weights (what the
  grader's cell then saves: the weights and test_mean_iou), with the public self-checks called as
  `grader.check` calls them;
* is probed, all of them in one fresh process that has run none of their top-level code, by the grader's own
  probe step (hw2_probes.main, as `make grade` and the command line call it), and checked by hw2_hidden.check_all.
A few entries are also graded end to end by `make grade`'s path, with their notebook run training for real (one of
them, a tensor test_mean_iou, through the Gradescope zip as well): they are part of the class that
tests/test_hw2_grading.py grades (CORPUS_END_TO_END and GRADESCOPE_CLASS there).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import hw2_corpus as corpus
import nbformat
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
HW2 = ROOT / "homework" / "hw2"
PUBLIC_TESTS = ROOT / "course_utils" / "homework_tests" / "hw2"


hidden = corpus.load_grader_module("hw2_hidden")

# What the public self-checks (0 points, in the student's notebook) must say for each entry: question -> words of
# the first failure; a question not listed passes. Correct entries pass every check.
PUBLIC_FAILURES = {
    "clamp_iou": {"q4": "so iou_per_class is undefined for it: return float('nan') there, got 0.0"},
    "one_for_absent_classes": {"q4": "return float('nan') there, got 1.0"},
    "mean_counts_nan_as_zero": {"q4": "mean_iou gives 0.3889, expected 0.5833"},
    "mean_returns_tensor": {"q4": "mean_iou must return a Python float (use .item()), got Tensor"},
    "fixed_four_classes": {"q4": "must return 2 values (one per class), got shape (4,)"},
    "double_conv_with_bias": {"q2": "the convolutions take bias=False"},
    "forgot_zero_grad": {"q3": "so that they do not add up over the batches"},
    "batch_size_16": {"q1": "the batch size must be 8, got 16"},
}
SKIPPED_CELLS = ("grader.check(", "fig = ", "fig, ax = ", "per_class = ", "# Homework set-up")  # self-checks, figures


# ------------------------------------------------------------------------------------------- the runs


def _run_cells(nb, env, until=None, skip_training=False):
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.source.startswith(SKIPPED_CELLS):
            continue
        if skip_training and cell.source.startswith(corpus.CELLS["train"]):
            yield "train"
            continue
        exec(compile(cell.source, "<cell>", "exec"), env)
        if until and cell.source.startswith(corpus.CELLS[until]):
            return


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread while this module trains and probes: the grader's setting too (a busy machine's
    threads waiting for each other make two slower than one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained_weights(tmp_path_factory, one_thread):
    """One trained run of the solution, in fast mode: its cells up to the training loop, run here; the weights
    as the grader's cell saves them."""
    env = {"__name__": "__main__"}
    with torch.random.fork_rng(devices=[]):
        list(_run_cells(corpus.build("solution"), env, until="train"))
    path = tmp_path_factory.mktemp("trained") / "model.pt"
    torch.save({k: v.detach().cpu() for k, v in env["model"].state_dict().items()}, path)
    return path


def _public_checks(env):
    """Run the committed public self-checks as grader.check does; {question: first failure message or None}."""
    from otter.test_files.exception_test import ExceptionTestFile

    verdicts = {}
    for question in corpus.FULL:
        test_file = ExceptionTestFile.from_file(str(PUBLIC_TESTS / f"{question}.py"))
        test_file.run(env)
        failed = [r.message for r in test_file.test_case_results if not r.passed]
        verdicts[question] = failed[0] if failed else None
    return verdicts


def _emulate_run(name, nb, weights, state_dir):
    """The notebook's run, with its training replaced by the trained weights: every cell but the figures and the
    self-checks, in order; the state the grader's cell saves; and the public self-checks' verdicts."""
    env = {"__name__": "__main__"}
    with torch.random.fork_rng(devices=[]):
        for step in _run_cells(nb, env, skip_training=True):
            if step == "train":
                try:
                    env["model"].load_state_dict(torch.load(weights, weights_only=True))
                except RuntimeError:  # another architecture: it keeps its untrained weights here
                    assert not corpus.CORPUS[name].same_training, name
        state_dir.mkdir(parents=True)
        torch.save({k: v.detach().cpu() for k, v in env["model"].state_dict().items()}, state_dir / "model.pt")
        value = env["test_mean_iou"]
        (state_dir / "reported.json").write_text(json.dumps(
            {"test_mean_iou": value if isinstance(value, float) else repr(value)}))  # as the grader's cell does
        return _public_checks(env)


@pytest.fixture(scope="module")
def graded_by_probes(trained_weights, tmp_path_factory):
    """Every entry: its run emulated here, its code probed in one fresh process, the probes' outputs checked."""
    root = tmp_path_factory.mktemp("corpus")
    inputs, secrets = hidden.make_inputs("fast")
    np.savez(root / "inputs.npz", **inputs)
    jobs, public = [], {}
    for name in corpus.CORPUS:
        nb = corpus.build(name)
        nbformat.write(nb, root / f"{name}.ipynb")
        public[name] = _emulate_run(name, nb, trained_weights, root / name / "state")
        jobs.append([str(root / f"{name}.ipynb"), str(root / "inputs.npz"), str(root / name / "state"),
                     str(root / name / "out")])
    (root / "jobs.json").write_text(json.dumps(jobs))
    env = {**os.environ, "COURSE_FAST": "1", "COURSE_OFFLINE": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, str(Path(corpus.__file__)), "probe", str(root / "jobs.json")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    graded = {}
    for name in corpus.CORPUS:
        outputs, notes = corpus.read_outputs(root / name / "out")
        results = hidden.check_all(outputs, inputs, secrets, "fast")
        sources = [c.source for c in nbformat.read(root / f"{name}.ipynb", as_version=4).cells
                   if c.cell_type == "code"]
        for question, why in hidden.reference_uses(sources).items():  # as the grader does
            for result in results:
                if result["question"] == question:
                    result.update(points=0.0, passed=False, message=why)
        points = dict.fromkeys(corpus.FULL, 0.0)
        for result in results:
            points[result["question"]] += result["points"]
        graded[name] = {"points": points, "results": {r["name"]: r for r in results}, "notes": notes}
    return graded, public


def _feedback(graded):
    return "\n".join(f"{r['name']}: {r['points']:g}/{r['max']:g} {r['message']}" for r in graded["results"].values()) \
        + "\nnotes: " + "; ".join(graded["notes"])


# ----------------------------------------------------------------------------------------- the corpus


def test_the_corpus_has_the_styles_and_mistakes_it_promises():
    correct = [n for n, e in corpus.CORPUS.items() if e.points == corpus.FULL]
    wrong = [n for n, e in corpus.CORPUS.items() if e.points != corpus.FULL]
    assert len(correct) >= 11 and len(wrong) >= 8, (correct, wrong)
    assert set(corpus.CORRECT) == set(correct), "a correct style earns full marks"
    for name in wrong:
        assert sum(corpus.FULL.values()) - sum(corpus.CORPUS[name].points.values()) >= 1, name
        assert corpus.CORPUS[name].feedback, f"{name}: say which message names its mistake"


def test_write_corpus_writes_every_notebook_and_the_table(tmp_path):
    table = corpus.write_corpus(tmp_path)
    assert sorted(p.stem for p in tmp_path.glob("*.ipynb")) == sorted(corpus.CORPUS)
    assert json.loads((tmp_path / "expected_points.json").read_text()) == table
    nb = nbformat.read(tmp_path / "constant_in_double_conv.ipynb", as_version=4)
    nbformat.validate(nb)
    text = "\n".join(c.source for c in nb.cells)
    assert "KERNEL_SIZE = 3" in text and "# BEGIN SOLUTION" not in text and "# TODO: create the optimizer" in text


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(corpus.CORPUS))
def test_each_submission_earns_its_points_with_feedback_that_names_the_cause(graded_by_probes, name):
    graded = graded_by_probes[0][name]
    entry = corpus.CORPUS[name]
    questions = [q for q in corpus.FULL if q != "q5" or entry.same_training]  # q5 needs its own training
    assert {q: graded["points"][q] for q in questions} == {q: entry.points[q] for q in questions}, _feedback(graded)
    for check, words in entry.feedback.items():
        assert words in graded["results"][check]["message"], (check, words, _feedback(graded))
    if entry.points == corpus.FULL:
        assert graded["notes"] == [], graded["notes"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(corpus.CORPUS))
def test_public_self_checks_pass_correct_code_and_catch_the_stated_rules(graded_by_probes, name):
    verdicts = graded_by_probes[1][name]
    expected = PUBLIC_FAILURES.get(name, {})
    for question, message in verdicts.items():
        if question in expected:
            assert message is not None and expected[question] in message, (question, message)
        else:
            assert message is None, (question, message)
