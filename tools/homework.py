"""Homework tooling around otter-grader: generate the student notebook, and grade a class safely.

    python tools/homework.py assign hw2
        Runs `otter assign` on homework/hw2/<name>.ipynb (the instructor's master with solutions and tests):
        writes homework/hw2/dist/ (autograder zip for Gradescope, solution notebook, all tests), checks that the
        solution passes every test, then copies the student notebook to notebooks/ (with its Colab badge and
        setup cell) and the public tests into course_utils/homework_tests/hw2/ (so Colab has them too).

    python tools/homework.py grade hw2 SUBMISSIONS_DIR [--out DIR] [--timeout S] [--workers N] [--mode full|fast]
        Grades every *.ipynb in SUBMISSIONS_DIR with `otter run` and the hidden tests, writes DIR/grades.csv
        (student, points per question, total, failure reason) and DIR/feedback/<student>.txt.

Otter runs a submission's code and the tests in the same Python process, so on its own a broken or hostile
notebook can crash the grader or fake its score. This wrapper adds, per submission:
* a separate process group with a time limit (killed as a whole: kernel included), output sent to a file; a run
  whose processes stop computing for 30 s without finishing (a kernel broken by the notebook) is ended early;
* a private temporary directory, removed afterwards, so a submission cannot touch other submissions' files;
* an integrity canary: a hidden test with a random name that must fail; if it is missing or passes, the
  results were tampered with (test runner patched, test files rewritten, results forged) and the score is 0;
* checks on the results file itself: written by this run, every question present, no score above its maximum.
A submission that crashes its kernel, runs out of time or tampers gets 0 with the reason in the gradebook, and
grading goes on with the next one. Limits: the canary catches blanket tampering, not an attack written against
this grader's source; for high stakes, also review flagged and perfect submissions by hand.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOMEWORK = {"hw2": "hw2_unet_segmentation"}
FEEDBACK_OUTPUT_CHARS = 4000
IDLE_LIMIT_S = 30  # a grading run whose processes use under 2% of a core for this long is stuck (see _wait)


def _homework_dir(hw: str) -> Path:
    if hw not in HOMEWORK:
        raise SystemExit(f"unknown homework {hw!r}; known: {', '.join(HOMEWORK)}")
    return ROOT / "homework" / hw


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


# ------------------------------------------------------------------------------------------------ assign


def generate(hw: str, dist: Path) -> Path:
    """Run `otter assign` on the master into ``dist``; it fails unless the solution passes every test."""
    hw_dir, name = _homework_dir(hw), HOMEWORK[hw]
    dist = Path(dist).resolve()
    shutil.rmtree(dist, ignore_errors=True)
    sys.path.insert(0, str(ROOT / "tools"))
    import sync_notebooks

    master = hw_dir / f"{name}.ipynb"
    sync_notebooks.sync(master, write=True, badge_path=ROOT / "notebooks" / f"{name}.ipynb")
    env = dict(os.environ, COURSE_FAST="1", COURSE_OFFLINE="1", MPLBACKEND="Agg", TQDM_DISABLE="1",
               PYTHONPATH=str(ROOT))
    # otter assign executes the solution notebook against every test (run_tests: true) and fails otherwise.
    subprocess.run([_bin("otter"), "assign", master.name, str(dist)], cwd=hw_dir, env=env, check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return dist


def publish(hw: str, dist: Path) -> None:
    """Copy the generated student notebook to notebooks/ and its public tests into the package."""
    name = HOMEWORK[hw]
    student_nb = ROOT / "notebooks" / f"{name}.ipynb"
    shutil.copy(Path(dist) / "student" / f"{name}.ipynb", student_nb)
    tests_dir = ROOT / "course_utils" / "homework_tests" / hw
    shutil.rmtree(tests_dir, ignore_errors=True)
    tests_dir.mkdir(parents=True)
    for test in sorted((Path(dist) / "student" / "tests").glob("*.py")):
        shutil.copy(test, tests_dir / test.name)
    import sync_notebooks

    sync_notebooks.sync(student_nb, write=True)
    print(f"student notebook: {student_nb.relative_to(ROOT)}; public tests: {tests_dir.relative_to(ROOT)}")


def assign(hw: str) -> Path:
    """Generate homework/<hw>/dist/, check the solution scores full marks, publish the student version."""
    dist = generate(hw, _homework_dir(hw) / "dist")
    publish(hw, dist)
    print(f"autograder (upload to Gradescope): {autograder_zip(hw).relative_to(ROOT)}")
    return dist


def autograder_zip(hw: str, dist: Path | None = None) -> Path:
    dist = Path(dist) if dist is not None else _homework_dir(hw) / "dist"
    zips = sorted((dist / "autograder").glob("*-autograder_*.zip"))
    if not zips:
        raise SystemExit(f"no autograder zip for {hw}: run `python tools/homework.py assign {hw}` first")
    return zips[-1]


# ------------------------------------------------------------------------------------------------ grade


@dataclass
class Grade:
    student: str
    points: dict[str, float] = field(default_factory=dict)
    total: float = 0.0
    possible: float = 0.0
    reason: str = ""
    feedback: str = ""
    seconds: float = 0.0


def _with_canary(zip_path: Path, workdir: Path) -> tuple[Path, str]:
    """Copy the autograder zip and add a hidden test that must fail, under a random name."""
    canary = f"integrity_{secrets.token_hex(6)}"
    test = (
        "from otter.test_files import test_case\n\nOK_FORMAT = False\n\n"
        f'name = "{canary}"\npoints = 1\n\n'
        "@test_case(points=1, hidden=True)\n"
        f"def test_{canary}(env):\n"
        f'    assert "{secrets.token_hex(8)}" == "{secrets.token_hex(8)}", "expected failure"\n'
    )
    out = workdir / "autograder.zip"
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr(f"tests/{secrets.token_hex(6)}.py", test)
    return out, canary


def _question_maxima(zip_path: Path) -> dict[str, float]:
    """Maximum points of each question, read from the test files in the autograder zip."""
    maxima = {}
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            if info.filename.startswith("tests/") and info.filename.endswith(".py"):
                env: dict = {}
                exec(compile(zf.read(info).decode(), info.filename, "exec"), env)  # our own test files
                maxima[env["name"]] = float(env.get("points") or 0)
    return dict(sorted(maxima.items()))


def _process_tree(root: int) -> dict[int, float]:
    """CPU seconds used so far by process ``root`` and each of its descendants, by pid (Linux ``/proc``; empty
    where there is no ``/proc``). The kernel that otter starts runs in a session of its own, so it is found here
    as a child of the otter process, not by its process group."""
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process has just exited
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (name) ": state ppid pgrp ... utime stime
        pid = int(stat.parent.name)
        parent[pid], cpu[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in cpu and pid not in tree:
            tree[pid] = cpu[pid]
            todo += [child for child, ppid in parent.items() if ppid == pid]
    return tree


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL otter, its process group and every descendant (the kernel and anything the notebook started)."""
    for pid in _process_tree(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _wait(proc: subprocess.Popen, timeout_s: float, idle_s: float) -> int | str:
    """Otter's exit code, or "timeout" after ``timeout_s``, or "stuck" when otter and its kernel together used
    less than 2% of a core over the last ``idle_s`` seconds while still running: a kernel that can no longer
    answer (e.g. with ``isinstance`` or ``print`` replaced in builtins) neither finishes nor computes, and would
    otherwise sit out the whole time limit. (Otter itself only polls the kernel meanwhile, well under 1%.)"""
    deadline = time.monotonic() + timeout_s
    history: collections.deque[tuple[float, dict[int, float]]] = collections.deque()
    while True:
        try:
            return proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if now >= deadline:
            return "timeout"
        tree = _process_tree(proc.pid)
        if history and history[-1][1].keys() != tree.keys():
            history.clear()  # a process started or ended (the kernel, say): that is activity
        history.append((now, tree))
        while len(history) > 1 and history[1][0] <= now - idle_s:
            history.popleft()
        then, old = history[0]
        if tree and now - then >= idle_s:
            used = sum(cpu - old.get(pid, 0.0) for pid, cpu in tree.items())
            if used < 0.02 * (now - then):
                return "stuck"


def _run_otter(submission: Path, ag_zip: Path, workdir: Path, timeout_s: float, mode: str, threads: int,
               idle_s: float = IDLE_LIMIT_S) -> tuple[int | str, str]:
    """Run `otter run` in its own process group; return (exit code, or "timeout" / "stuck"; the output's tail).
    ``threads``: CPU threads for the submission's torch (cores / parallel submissions: more would oversubscribe the
    cores, and two kernels that each use every core run several times slower than one after the other)."""
    out_dir = workdir / "out"
    out_dir.mkdir()
    tmp = workdir / "tmp"
    tmp.mkdir()
    env = dict(os.environ, COURSE_FAST="1" if mode == "fast" else "0", COURSE_OFFLINE="1", MPLBACKEND="Agg",
               TQDM_DISABLE="1", PYTHONUNBUFFERED="1", TMPDIR=str(tmp),
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    log_path = workdir / "otter.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [_bin("otter"), "run", "--no-logo", "-a", str(ag_zip), "-o", str(out_dir), str(submission)],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = _wait(proc, timeout_s, idle_s)
        finally:
            _kill_tree(proc)
    size = log_path.stat().st_size
    with open(log_path, "rb") as f:
        f.seek(max(0, size - FEEDBACK_OUTPUT_CHARS))
        tail = f.read().decode("utf-8", "replace")
    return code, tail


def _score(results: dict, canary: str, maxima: dict[str, float]) -> tuple[dict[str, float], str]:
    """Points per question from otter's results.json, or a reason why the results cannot be trusted."""
    per_question: dict[str, float] = {}
    for test in results.get("tests", []):
        question = str(test.get("name", "")).split(" - ")[0].strip()
        if question == "Public Tests" and "score" not in test:
            continue  # otter's summary of the public tests; the scores are in the per-question entries
        score = test.get("score")
        if not isinstance(score, (int, float)):
            return {}, f"results file has a non-numeric score for {question!r}"
        per_question[question] = per_question.get(question, 0.0) + float(score)
    if canary not in per_question:
        return {}, "integrity check failed: the grading results were tampered with (canary test missing)"
    if per_question.pop(canary) != 0:
        return {}, "integrity check failed: a test that must fail passed (test runner or test files tampered with)"
    missing = [q for q in maxima if q != canary and q not in per_question]
    if missing:
        return {}, f"results are missing question(s) {', '.join(missing)}"
    for q, points in per_question.items():
        if q not in maxima or points > maxima[q] + 1e-9 or points < 0:
            return {}, f"results give an impossible score for {q!r}: {points}"
    return per_question, ""


def grade_one(submission: Path, ag_zip: Path, timeout_s: float = 300, mode: str = "full",
              threads: int | None = None) -> Grade:
    """Grade one notebook. Never raises for a bad submission: the reason goes into ``Grade.reason``.
    ``threads``: CPU threads its kernel may use (default: all cores)."""
    grade = Grade(student=submission.stem)
    start = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=f"grade-{submission.stem}-"))
    try:
        zip_with_canary, canary = _with_canary(ag_zip, workdir)
        maxima = {q: m for q, m in _question_maxima(zip_with_canary).items() if q != canary}
        grade.possible = sum(maxima.values())
        grade.points = dict.fromkeys(maxima, 0.0)
        local_copy = workdir / submission.name
        shutil.copy(submission, local_copy)
        try:
            json.loads(local_copy.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            grade.reason = f"not a readable notebook ({type(err).__name__})"
            return grade
        started = time.time()
        code, tail = _run_otter(local_copy, zip_with_canary, workdir, timeout_s, mode, threads or os.cpu_count() or 1)
        grade.feedback = tail
        results_path = workdir / "out" / "results.json"
        if code == "timeout":
            grade.reason = f"timed out after {timeout_s:.0f} s (an endless loop, or far too slow)"
        elif code == "stuck":
            grade.reason = (f"the kernel stopped responding (no computation for {IDLE_LIMIT_S} s): the notebook "
                            "broke Python or Jupyter itself, e.g. by replacing builtins")
        elif code != 0:
            crashed = "DeadKernelError" in tail or "Kernel died" in tail
            grade.reason = ("the notebook killed its kernel (os._exit, a crash or running out of memory)"
                            if crashed else f"the grader could not finish (exit code {code})")
        elif not results_path.is_file() or results_path.stat().st_mtime < started:
            grade.reason = "no results were written by this grading run"
        else:
            try:
                results = json.loads(results_path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                grade.reason = "the results file is not valid JSON (tampered with?)"
            else:
                points, grade.reason = _score(results, canary, maxima)
                if not grade.reason:
                    grade.points = points
                    grade.total = sum(points.values())
                    grade.feedback = _feedback_from_results(results, canary)
        return grade
    except Exception as err:  # noqa: BLE001 -- the grader itself must go on with the next submission
        grade.reason = f"grader error: {type(err).__name__}: {err}"
        return grade
    finally:
        grade.seconds = time.perf_counter() - start
        shutil.rmtree(workdir, ignore_errors=True)


def _feedback_from_results(results: dict, canary: str) -> str:
    lines = []
    for test in results.get("tests", []):
        if canary in str(test.get("name", "")) or "score" not in test:
            continue
        lines.append(f"{test.get('name')}: {test.get('score')} / {test.get('max_score')}")
        output = str(test.get("output") or "").strip()
        if output:
            lines.append("    " + output.replace("\n", "\n    "))
    return "\n".join(lines)


def grade_all(hw: str, submissions_dir: Path, out_dir: Path, timeout_s: float = 300, workers: int | None = None,
              mode: str = "full", ag_zip: Path | None = None) -> list[Grade]:
    """Grade every notebook in ``submissions_dir``; write grades.csv and feedback/ under ``out_dir``."""
    ag_zip = ag_zip or autograder_zip(hw)
    submissions = sorted(Path(submissions_dir).glob("*.ipynb"))
    if not submissions:
        raise SystemExit(f"no .ipynb files in {submissions_dir}")
    workers = workers or max(1, min(len(submissions), (os.cpu_count() or 2) // 2 or 1))
    print(f"grading {len(submissions)} submission(s) of {hw} with {workers} worker(s), {mode} mode, "
          f"time limit {timeout_s:.0f} s each")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        threads = max(1, (os.cpu_count() or 1) // workers)
        grades = list(pool.map(lambda s: grade_one(s, ag_zip, timeout_s, mode, threads), submissions))
    out_dir = Path(out_dir)
    (out_dir / "feedback").mkdir(parents=True, exist_ok=True)
    questions = sorted({q for g in grades for q in g.points})
    with open(out_dir / "grades.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *questions, "total", "possible", "seconds", "failure_reason"])
        for g in grades:
            writer.writerow([g.student, *(g.points.get(q, 0.0) for q in questions), g.total, g.possible,
                             f"{g.seconds:.1f}", g.reason])
    for g in grades:
        text = f"{g.student}: {g.total:g} / {g.possible:g} points\n"
        if g.reason:
            text += f"Not graded normally: {g.reason}\n"
        (out_dir / "feedback" / f"{g.student}.txt").write_text(text + "\n" + g.feedback + "\n")
        print(f"  {g.student:30s} {g.total:5g} / {g.possible:g}  ({g.seconds:.0f} s) {g.reason}")
    print(f"gradebook: {out_dir / 'grades.csv'}")
    return grades


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_assign = sub.add_parser("assign", help="generate the student notebook and the autograder")
    p_assign.add_argument("hw", choices=sorted(HOMEWORK))
    p_grade = sub.add_parser("grade", help="grade a folder of submitted notebooks")
    p_grade.add_argument("hw", choices=sorted(HOMEWORK))
    p_grade.add_argument("submissions", type=Path)
    p_grade.add_argument("--out", type=Path, default=Path("grades"))
    p_grade.add_argument("--timeout", type=float, default=300.0, help="seconds per submission (default 300)")
    p_grade.add_argument("--workers", type=int, default=None, help="parallel submissions (default: cores / 2)")
    p_grade.add_argument("--mode", choices=["full", "fast"], default="full",
                         help="full: the real targets (default); fast: the quick test-mode targets")
    args = parser.parse_args(argv)
    if args.command == "assign":
        assign(args.hw)
    else:
        grade_all(args.hw, args.submissions, args.out, args.timeout, args.workers, args.mode)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
