"""Homework tooling: generate the student notebook and the autograder, and grade a class safely.

    python -m tools.autograder assign hw2
        Runs `otter assign` on homework/hw2/<name>.ipynb (the instructor's master with solutions and tests):
        writes homework/hw2/dist/ (autograder zip for Gradescope, solution notebook, all tests), checks that the
        solution passes every test, then copies the student notebook to notebooks/ (with its Colab badge and
        setup cell) and the public tests into course_utils/homework_tests/hw2/ (so Colab has them too).

    python -m tools.autograder grade hw2 SUBMISSIONS_DIR [--out DIR] [--mode full|fast] [--timeout S]
                                        [--workers N] [--memory-gb G] [--regrade] [--no-sandbox]
        Grades every *.ipynb in SUBMISSIONS_DIR and writes DIR/grades.csv (student, points per question, total,
        failure reason) and DIR/feedback/<student>.txt, after every submission; run again to resume.

How a submission is graded (the hidden tests are homework/hw2/hw2_hidden.py and hw2_probes.py, read from the
autograder zip):
1. *Run*: the notebook is executed top to bottom in a sandbox (tools/sandbox.py: bubblewrap; read-only system,
   venv and course_utils, one writable folder of its own, no network, its own PID namespace, a minimal
   environment) with a time limit, a memory limit and a watch for a kernel that stopped computing. A cell the
   grader adds at the end saves the trained ``model``'s weights and ``test_mean_iou``.
2. *Probe*: a fresh Python process, in a new sandbox, rebuilds the student's functions and classes from the
   notebook's source (not its top-level statements), loads the saved weights, and calls the student's code on
   inputs made by the grader: it writes plain arrays and numbers.
3. *Check*: the grader compares those with references computed by its own code (the reference U-Net, IoU in
   numpy, the hidden test masks, which never enter a sandbox) and awards the points. No student code runs here.
So a notebook that patches functions, replaces data, sets environment variables or fakes result files changes
only what its own sandboxed processes see.
"""

from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tools import sandbox

ROOT = Path(__file__).resolve().parents[1]
HOMEWORK = {"hw2": "hw2_unet_segmentation"}
SUPPORT_FILES = ("hw2_hidden.py", "hw2_probes.py")  # the hidden tests, shipped in the autograder zip only
MODE_FILE = "grading_mode.txt"
RUNNER = ROOT / "tools" / "notebook_runner.py"
FEEDBACK_OUTPUT_CHARS = 3000
IDLE_LIMIT_S = 30  # a grading run whose processes use under 2% of a core for this long is stuck (see _wait)
STATE_FILE = "grading_state.json"
EXPORT_CELL = '''# Added by the grader: save what the hidden tests evaluate (the trained model and test_mean_iou).
import json as _grader_json
import pathlib as _grader_path

import torch as _grader_torch

_grader_state = _grader_path.Path({state!r})
_grader_state.mkdir(exist_ok=True)
try:
    _grader_torch.save({{k: v.detach().cpu() for k, v in model.state_dict().items()}}, _grader_state / "model.pt")
except Exception as _grader_error:
    print("grader: could not save `model`:", repr(_grader_error))
try:
    _grader_value = test_mean_iou if isinstance(test_mean_iou, float) else repr(test_mean_iou)
    (_grader_state / "reported.json").write_text(_grader_json.dumps({{"test_mean_iou": _grader_value}}))
except Exception as _grader_error:
    print("grader: could not save `test_mean_iou`:", repr(_grader_error))
'''


def _homework_dir(hw: str) -> Path:
    if hw not in HOMEWORK:
        raise SystemExit(f"unknown homework {hw!r}; known: {', '.join(HOMEWORK)}")
    return ROOT / "homework" / hw


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


# ------------------------------------------------------------------------------------------------ assign


def stable_cell_ids(path: Path) -> None:
    """Give every cell an id derived from its position and content, so that regenerating an unchanged
    homework gives byte-identical notebooks (otter assign makes new random ids each time)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        digest = hashlib.sha1(f"{index}\n{cell.cell_type}\n{cell.source}".encode()).hexdigest()
        cell["id"] = digest[:8]
    nbformat.write(nb, path)


def _zip_without(zip_path: Path, name: str) -> None:
    """Rewrite ``zip_path`` without member ``name`` (the hidden tests then grade in full mode)."""
    tmp = zip_path.with_suffix(".tmp")
    with zipfile.ZipFile(zip_path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if Path(item.filename).name != name:
                dst.writestr(item, src.read(item.filename))
    tmp.replace(zip_path)


def generate(hw: str, dist: Path) -> Path:
    """Run `otter assign` on the master into ``dist``; it fails unless the solution passes every test (run in
    fast mode, with the fast-mode target). The autograder zip it leaves grades in full mode."""
    from tools import sync_notebooks

    hw_dir, name = _homework_dir(hw), HOMEWORK[hw]
    dist = Path(dist).resolve()
    shutil.rmtree(dist, ignore_errors=True)
    master = hw_dir / f"{name}.ipynb"
    sync_notebooks.sync(master, write=True, badge_path=ROOT / "notebooks" / f"{name}.ipynb")
    with tempfile.TemporaryDirectory(prefix=f"assign-{hw}-") as build:
        build = Path(build)
        for path in hw_dir.iterdir():
            if path.is_file():
                shutil.copy(path, build / path.name)
        (build / MODE_FILE).write_text("fast\n")  # for otter's own check of the solution only
        env = dict(os.environ, COURSE_FAST="1", COURSE_OFFLINE="1", MPLBACKEND="Agg", TQDM_DISABLE="1",
                   PYTHONPATH=str(ROOT))
        # otter assign executes the solution notebook against every test (run_tests: true) and fails otherwise.
        run = subprocess.run([_bin("otter"), "assign", master.name, str(dist)], cwd=build, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if run.returncode != 0:
        raise SystemExit(f"otter assign failed (exit status {run.returncode}); its output:\n"
                         f"{run.stdout[-6000:]}\nFix the master notebook {master} and run again.")
    for folder in ("autograder", "student"):
        (dist / folder / MODE_FILE).unlink(missing_ok=True)
        for notebook in (dist / folder).glob("*.ipynb"):
            stable_cell_ids(notebook)
    for zip_path in (dist / "autograder").glob("*.zip"):
        _zip_without(zip_path, MODE_FILE)
    return dist


def publish(hw: str, dist: Path) -> None:
    """Copy the generated student notebook to notebooks/ and its public tests into the package."""
    from tools import sync_notebooks

    name = HOMEWORK[hw]
    student_nb = ROOT / "notebooks" / f"{name}.ipynb"
    shutil.copy(Path(dist) / "student" / f"{name}.ipynb", student_nb)
    tests_dir = ROOT / "course_utils" / "homework_tests" / hw
    shutil.rmtree(tests_dir, ignore_errors=True)
    tests_dir.mkdir(parents=True)
    for test in sorted((Path(dist) / "student" / "tests").glob("*.py")):
        shutil.copy(test, tests_dir / test.name)
    sync_notebooks.sync(student_nb, write=True)
    stable_cell_ids(student_nb)
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
        raise SystemExit(f"no autograder zip for {hw}: run `python -m tools.autograder assign {hw}` first")
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
    sandbox: str = "bubblewrap"


class Autograder:
    """The trusted side of grading: the hidden tests from the autograder zip, unpacked into a private folder
    that no sandbox can see, and the inputs and secrets of the probes for one grading mode."""

    def __init__(self, zip_path: Path, mode: str):
        self.mode = mode
        self.dir = _private_dir("autograder-")
        digest = hashlib.sha256()
        with zipfile.ZipFile(zip_path) as zf:
            names = {Path(n).name: n for n in zf.namelist()}
            for support in SUPPORT_FILES:
                if support not in names:
                    raise SystemExit(f"{zip_path} has no {support}: regenerate it with `make homework`")
                data = zf.read(names[support])
                digest.update(data)
                (self.dir / support).write_bytes(data)
        self.version = f"{digest.hexdigest()[:16]}-{mode}"
        name = f"autograder_hw2_hidden_{self.version}"
        spec = importlib.util.spec_from_file_location(name, self.dir / "hw2_hidden.py")
        self.hidden = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.hidden)
        self.inputs, self.secrets = self.hidden.make_inputs(mode)
        import matplotlib
        import numpy as np

        np.savez(self.dir / "inputs.npz", **self.inputs)
        import matplotlib.font_manager  # noqa: F401 -- builds matplotlib's font list once, shared with every run

        self.font_cache = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
        self.maxima: dict[str, float] = collections.defaultdict(float)
        for check in self.hidden.CHECKS:
            self.maxima[check.question] += check.points

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _process_tree(root: int) -> dict[int, tuple[float, int]]:
    """(CPU seconds, resident bytes) of process ``root`` and each of its descendants, by pid (Linux ``/proc``;
    empty where there is none). Sandboxed processes are seen here with their pids outside the sandbox."""
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    parent, usage = {}, {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat_file.read_text()
            rss = int((stat_file.parent / "statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):  # the process has just exited
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (name) ": state ppid pgrp ... utime stime
        pid = int(stat_file.parent.name)
        parent[pid], usage[pid] = int(fields[1]), ((int(fields[11]) + int(fields[12])) / tick, rss)
    children = collections.defaultdict(list)
    for pid, ppid in parent.items():
        children[ppid].append(pid)
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in usage and pid not in tree:
            tree[pid] = usage[pid]
            todo += children[pid]
    return tree


def _kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the run and every descendant (in a sandbox, killing its first process ends its PID namespace)."""
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


def _wait(proc: subprocess.Popen, timeout_s: float, idle_s: float, memory_bytes: float) -> int | str:
    """The exit code, or "timeout" after ``timeout_s``, or "memory" when the run's processes together hold more
    than ``memory_bytes``, or "stuck" when they used less than 2% of a core over the last ``idle_s`` seconds
    while still running: a kernel that can no longer answer (e.g. with ``isinstance`` or ``print`` replaced in
    builtins) neither finishes nor computes, and would otherwise sit out the whole time limit."""
    deadline = time.monotonic() + timeout_s
    history: collections.deque[tuple[float, dict[int, float]]] = collections.deque()
    while True:
        try:
            return proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if now >= deadline:
            return "timeout"
        usage = _process_tree(proc.pid)
        if sum(rss for _, rss in usage.values()) > memory_bytes:
            return "memory"
        tree = {pid: cpu for pid, (cpu, _) in usage.items()}
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


class _Running:
    """The processes being graded right now, so that Ctrl-C can end them all."""

    procs: set[subprocess.Popen] = set()
    lock = threading.Lock()


def _run_sandboxed(argv: list[str], workdir: Path, read_only: list[Path], env: dict[str, str], log_path: Path,
                   timeout_s: float, memory_bytes: float, use_sandbox: bool,
                   idle_s: float = IDLE_LIMIT_S) -> tuple[int | str, str]:
    """Run ``argv`` in ``workdir`` (sandboxed unless ``use_sandbox`` is false); return (exit code or "timeout" /
    "memory" / "stuck", the tail of its output)."""
    if use_sandbox:
        cmd = sandbox.bwrap_command(argv, workdir=workdir, read_only=read_only, env=env)
        env = {}
    else:
        cmd, env = argv, env
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        with _Running.lock:
            _Running.procs.add(proc)
        try:
            code = _wait(proc, timeout_s, idle_s, memory_bytes)
        finally:
            _kill_tree(proc)
            with _Running.lock:
                _Running.procs.discard(proc)
    size = log_path.stat().st_size
    with open(log_path, "rb") as f:
        f.seek(max(0, size - FEEDBACK_OUTPUT_CHARS))
        tail = f.read().decode("utf-8", "replace")
    return code, tail


def _sandbox_env(workdir: Path, mode: str, threads: int, use_sandbox: bool) -> dict[str, str]:
    """The only environment variables a submission sees (none of the instructor's: no tokens, no SSH agent).
    ``workdir`` holds the grader's font list for matplotlib (``.matplotlib``)."""
    private = Path("/tmp") if use_sandbox else workdir / "private"  # the sandbox's /tmp is its own
    if not use_sandbox:
        for name in ("home", "tmp"):
            (private / name).mkdir(parents=True, exist_ok=True)
    return {"MPLCONFIGDIR": str(workdir / ".matplotlib"),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(private / "home"),
            "TMPDIR": str(private / "tmp"), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
            "COURSE_FAST": "1" if mode == "fast" else "0", "COURSE_OFFLINE": "1", "TQDM_DISABLE": "1",
            "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
            "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


def _course_utils_dir() -> Path:
    spec = importlib.util.find_spec("course_utils")
    return Path(spec.origin).parent


def _phase_reason(code: int | str, phase: str, timeout_s: float, memory_gb: float, tail: str) -> str:
    if code == "timeout":
        return f"{phase}: timed out after {timeout_s:.0f} s (an endless loop, or far too slow)"
    if code == "memory":
        return f"{phase}: used more than {memory_gb:g} GB of memory and was stopped"
    if code == "stuck":
        return (f"{phase}: the kernel stopped responding (no computation for {IDLE_LIMIT_S} s): the notebook "
                "broke Python or Jupyter itself, e.g. by replacing builtins")
    if code == 3 or "DeadKernelError" in tail or "Kernel died" in tail:
        return f"{phase}: the notebook killed its kernel (os._exit, a crash or running out of memory)"
    return f"{phase}: the grader could not finish (exit code {code})"


def _notebook_report(executed: Path) -> str:
    """The errors of each cell and the tail of what the notebook printed, for the feedback file."""
    try:
        nb = json.loads(executed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    errors, printed = [], []
    for index, cell in enumerate(c for c in nb.get("cells", []) if c.get("cell_type") == "code"):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"  code cell {index + 1}: {out.get('ename')}: {str(out.get('evalue'))[:300]}")
            elif out.get("output_type") == "stream":
                text = out.get("text", "")
                printed.append("".join(text) if isinstance(text, list) else str(text))
    report = "Errors while running the notebook:\n" + "\n".join(errors) + "\n" if errors else ""
    output = "".join(printed)[-FEEDBACK_OUTPUT_CHARS:]
    return report + ("What the notebook printed (end):\n" + output if output else "")


def _regular_file(path: Path) -> bool:
    """True for a plain file that is not a symbolic link: files a submission could have planted are read only then
    (a link in its folder could point at one of the instructor's files)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _private_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o700)
    return path


def grade_one(submission: Path, autograder: Autograder, timeout_s: float = 300, threads: int | None = None,
              use_sandbox: bool = True, memory_gb: float = 6.0) -> Grade:
    """Grade one notebook. Never raises for a bad submission: the reason goes into ``Grade.reason``.

    Folders: ``private`` is the grader's own (the original notebook, the logs); ``run`` is the
    only folder the notebook may write to; ``probe`` the only one its code may write to when probed. The grader
    never writes into a folder a submission could write to, and reads back only plain files, never links."""
    grade = Grade(student=submission.stem, sandbox="bubblewrap" if use_sandbox else "none (--no-sandbox)")
    grade.points = dict.fromkeys(sorted(autograder.maxima), 0.0)
    grade.possible = sum(autograder.maxima.values())
    start = time.perf_counter()
    private, run, probe = _private_dir("grade-"), _private_dir("grade-run-"), _private_dir("grade-probe-")
    try:
        import nbformat

        original = private / "submission.ipynb"
        shutil.copy(submission, original)
        try:
            nb = nbformat.read(original, as_version=4)
        except Exception as err:  # noqa: BLE001 -- any unreadable file
            grade.reason = f"not a readable notebook ({type(err).__name__})"
            return grade
        sources = _code_sources(nb)
        mode, threads = autograder.mode, threads or os.cpu_count() or 1
        memory = memory_gb * 1024**3
        for folder in (run, probe):  # the grader's font list, so that matplotlib does not rebuild it every run
            (folder / ".matplotlib").mkdir()
            for font_list in autograder.font_cache:
                shutil.copy(font_list, folder / ".matplotlib" / font_list.name)
        # 1. run the notebook as submitted, plus the grader's cell that saves the model and test_mean_iou
        env = _sandbox_env(run, mode, threads, use_sandbox)
        state = run / "state"
        nb.cells.append(nbformat.v4.new_code_cell(EXPORT_CELL.format(state=str(state))))
        nbformat.write(nb, run / "run.ipynb")
        code, tail = _run_sandboxed([sys.executable, str(RUNNER), "run.ipynb", "executed.ipynb"], run,
                                    [_course_utils_dir(), RUNNER], env, private / "run.log", timeout_s, memory,
                                    use_sandbox)
        executed = run / "executed.ipynb"
        report = _notebook_report(executed) if _regular_file(executed) else ""
        if code != 0:
            grade.reason = _phase_reason(code, "running the notebook", timeout_s, memory_gb, tail)
            grade.feedback = report or tail
            return grade
        # 2. probe the student's code in a fresh process (sandboxed; inputs made by the grader, read-only: of the
        # autograder's folder only these two files are bound, never the hidden tests)
        probes, inputs = autograder.dir / "hw2_probes.py", autograder.dir / "inputs.npz"
        state_ok = stat.S_ISDIR(os.lstat(state).st_mode) if os.path.lexists(state) else False
        read_only = [_course_utils_dir(), probes, inputs, original, *([state] if state_ok else [])]
        env = _sandbox_env(probe, mode, threads, use_sandbox)
        remaining = max(30.0, timeout_s - (time.perf_counter() - start))
        code, tail = _run_sandboxed([sys.executable, str(probes), str(original), str(inputs),
                                     str(state if state_ok else probe / "no-state"), str(probe / "out")], probe,
                                    read_only, env, private / "probe.log", remaining, memory, use_sandbox)
        outputs, notes = _read_probe_outputs(probe / "out")
        if code != 0:
            grade.reason = _phase_reason(code, "checking the notebook's code", remaining, memory_gb, tail)
        # 3. check, with the grader's own code and references
        results = autograder.hidden.check_all(outputs, autograder.inputs, autograder.secrets, mode)
        for question, why in autograder.hidden.reference_uses(sources).items():
            for result in results:
                if result["question"] == question:
                    result.update(points=0.0, passed=False, message=why)
        for result in results:
            grade.points[result["question"]] += result["points"]
        grade.total = sum(grade.points.values())
        grade.feedback = _feedback(results, notes, report)
        return grade
    except Exception as err:  # noqa: BLE001 -- the grader itself must go on with the next submission
        grade.reason = f"grader error: {type(err).__name__}: {err}"
        return grade
    finally:
        grade.seconds = time.perf_counter() - start
        for folder in (private, run, probe):
            shutil.rmtree(folder, ignore_errors=True)


def _code_sources(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _read_probe_outputs(out_dir: Path) -> tuple[dict[str, dict], list[str]]:
    """The probes' outputs, read as plain data (JSON, and arrays without pickles)."""
    import numpy as np

    outputs: dict[str, dict] = {}
    notes: list[str] = []
    if not (_regular_file(out_dir / "outputs.json") and _regular_file(out_dir / "outputs.npz")):
        return outputs, notes
    try:
        data = json.loads((out_dir / "outputs.json").read_text(encoding="utf-8"))
        outputs = {str(k): dict(v) for k, v in data.get("probes", {}).items() if isinstance(v, dict)}
        notes = [str(n) for n in data.get("notes", [])][:20]
        with np.load(out_dir / "outputs.npz", allow_pickle=False) as arrays:
            for key in arrays.files:
                probe, _, name = key.partition("/")
                outputs.setdefault(probe, {})[name] = arrays[key]
    except (OSError, ValueError, AttributeError, TypeError):
        pass
    return outputs, notes


def _feedback(results: list[dict], notes: list[str], report: str) -> str:
    lines = []
    for r in results:
        lines.append(f"{r['question']} {r['name']}: {r['points']:g} / {r['max']:g}  {r['message']}")
    if notes:
        lines += ["", "Notes on your code:", *(f"  {n}" for n in notes)]
    if report:
        lines += ["", report]
    return "\n".join(lines)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_gradebook(out_dir: Path, state: dict, students: list[str], questions: list[str]) -> None:
    """grades.csv (one row per submission graded so far) and the resume state, each replaced atomically."""
    rows = [state[s]["grade"] for s in students if s in state]
    tmp = out_dir / "grades.csv.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *questions, "total", "possible", "seconds", "sandbox", "failure_reason"])
        for g in rows:
            writer.writerow([g["student"], *(g["points"].get(q, 0.0) for q in questions), g["total"],
                             g["possible"], f"{g['seconds']:.1f}", g["sandbox"], g["reason"]])
    tmp.replace(out_dir / "grades.csv")
    tmp = out_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(out_dir / STATE_FILE)


def default_workers(submissions: int, memory_gb: float) -> int:
    """One submission per core, each on one thread (small convolutions gain little from a second thread, so two
    one-thread runs finish sooner than one two-thread run), but no more at once than the memory limits fit in
    this machine's memory, and no more than there are submissions."""
    cores = os.cpu_count() or 1
    try:
        total_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): trust the cores
        total_gb = cores * memory_gb
    return max(1, min(submissions or 1, cores, int(total_gb // memory_gb)))


def grade_all(hw: str, submissions_dir: Path, out_dir: Path, timeout_s: float = 300, workers: int | None = None,
              mode: str = "full", ag_zip: Path | None = None, use_sandbox: bool = True, memory_gb: float = 6.0,
              regrade: bool = False) -> list[Grade]:
    """Grade every notebook in ``submissions_dir``; write grades.csv and feedback/ under ``out_dir`` after every
    submission. Notebooks graded before (same file, same autograder and mode) are kept, unless ``regrade``."""
    if use_sandbox and (problem := sandbox.bwrap_problem()):
        raise SystemExit(sandbox.NO_BWRAP_HELP.format(why=f" ({problem})"))
    submissions = sorted(Path(submissions_dir).glob("*.ipynb"))
    if not submissions:
        raise SystemExit(f"no .ipynb files in {submissions_dir}")
    out_dir = Path(out_dir)
    (out_dir / "feedback").mkdir(parents=True, exist_ok=True)
    autograder = Autograder(ag_zip or autograder_zip(hw), mode)
    questions = sorted(autograder.maxima)
    state_path = out_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() and not regrade else {}
    students = [s.stem for s in submissions]
    keys = {s.stem: f"{_sha256(s)}-{autograder.version}-{'sandbox' if use_sandbox else 'none'}" for s in submissions}
    todo = [s for s in submissions if state.get(s.stem, {}).get("key") != keys[s.stem]]
    state = {k: v for k, v in state.items() if k in keys}
    workers = workers or default_workers(len(todo), memory_gb)
    threads = max(1, (os.cpu_count() or 1) // workers)
    kept = len(submissions) - len(todo)
    print(f"grading {len(todo)} submission(s) of {hw} ({kept} unchanged, kept from the last run) with {workers} "
          f"worker(s), {mode} mode, time limit {timeout_s:.0f} s, memory limit {memory_gb:g} GB each, "
          f"sandbox: {'bubblewrap' if use_sandbox else 'NONE (--no-sandbox: submissions run with your rights)'}")
    lock = threading.Lock()

    def work(submission: Path) -> Grade:
        g = grade_one(submission, autograder, timeout_s, threads, use_sandbox, memory_gb)
        with lock:
            state[g.student] = {"key": keys[g.student], "grade": asdict(g)}
            text = f"{g.student}: {g.total:g} / {g.possible:g} points\n"
            if g.reason:
                text += f"Not graded normally: {g.reason}\n"
            (out_dir / "feedback" / f"{g.student}.txt").write_text(text + "\n" + g.feedback + "\n")
            _write_gradebook(out_dir, state, students, questions)
            print(f"  {g.student:30s} {g.total:5g} / {g.possible:g}  ({g.seconds:.0f} s) {g.reason}", flush=True)
        return g

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        list(pool.map(work, todo))
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        with _Running.lock:
            for proc in list(_Running.procs):
                _kill_tree(proc)
        raise SystemExit(f"interrupted: {len(state)} graded submission(s) are saved in {out_dir / 'grades.csv'}; "
                         "run the same command again to grade the rest") from None
    finally:
        pool.shutdown(wait=True)
        autograder.close()
    _write_gradebook(out_dir, state, students, questions)
    print(f"gradebook: {out_dir / 'grades.csv'}")
    return [Grade(**state[s]["grade"]) for s in students]


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
    p_grade.add_argument("--workers", type=int, default=None,
                         help="parallel submissions (default: one per core, as many as the memory limits fit)")
    p_grade.add_argument("--memory-gb", type=float, default=6.0, help="memory per submission (default 6 GB)")
    p_grade.add_argument("--mode", choices=["full", "fast"], default="full",
                         help="full: the real targets (default); fast: the quick test-mode targets")
    p_grade.add_argument("--regrade", action="store_true", help="grade every notebook again, changed or not")
    p_grade.add_argument("--no-sandbox", action="store_true",
                         help="run submissions without bubblewrap (they can then read and change your files)")
    args = parser.parse_args(argv)
    if args.command == "assign":
        assign(args.hw)
    else:
        grade_all(args.hw, args.submissions, args.out, args.timeout, args.workers, args.mode,
                  use_sandbox=not args.no_sandbox, memory_gb=args.memory_gb, regrade=args.regrade)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
