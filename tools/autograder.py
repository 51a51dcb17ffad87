"""Homework tooling: generate the student notebook and the autograder, and grade a class safely.

    python -m tools.autograder assign hw2
        Runs `otter assign` on homework/hw2/<NOTEBOOK>.ipynb (the instructor's master with solutions and tests),
        which checks that the solution passes every test, into homework/hw2/dist/ (git-ignored); draws a new
        secret for the hidden test data; writes the autograder zip for Gradescope (dist/autograder/hw2-autograder.zip:
        this grader, the hidden tests, the secret); and copies the student notebook to notebooks/ (with its Colab
        badge and setup cell) and the public tests into course_utils/homework_tests/hw2/ (so Colab has them too).

    python -m tools.autograder grade hw2 SUBMISSIONS_DIR [--out DIR] [--mode full|fast] [--timeout S]
                                        [--workers N] [--memory-gb G] [--regrade] [--no-sandbox]
        Grades every *.ipynb in SUBMISSIONS_DIR with the hidden tests of the autograder zip and writes
        DIR/grades.csv (student, points per question, total, failure reason) and DIR/feedback/<student>.txt,
        after every submission; run again to resume. Never writes a committed file: run `assign` first.

What a homework is: a folder homework/<hw>/ with a ``grading.py`` that names its master notebook, its hidden
tests (a trusted ``CHECKS`` module and an untrusted ``PROBES`` script), the cell the grader appends, and its
limits (see homework/hw2/grading.py). Nothing here is specific to one homework.

How a submission is graded, the same way by `make grade` and by the Gradescope zip (tools/gradescope.py):
1. *Run*: the notebook is executed top to bottom in a sandbox (tools/sandbox.py) with limits on time, memory,
   temporary files and disk, by tools/notebook_runner.py. The cell the grader appends saves what the hidden
   tests evaluate (for HW2: the trained ``model``'s weights and ``test_mean_iou``).
2. *Probe*: a fresh Python process, in a new sandbox, that ran none of the notebook's top-level code, rebuilds
   the student's functions and classes from the notebook's source, loads what step 1 saved, and calls the
   student's code on inputs made by the grader: it writes plain arrays and numbers.
3. *Check*: the grader's own process compares those with references computed by its own code (for HW2: the
   reference U-Net, IoU in numpy, the hidden test masks, which never enter a sandbox) and awards the points. No
   student code runs in this process, and the hidden test data come from a secret drawn by `assign`.
So a notebook that patches functions, replaces data, sets environment variables or fakes result files changes
only what its own sandboxed processes see.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import io
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from types import ModuleType

from tools import sandbox

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tools" / "notebook_runner.py"
FEEDBACK_OUTPUT_CHARS = 3000
STATE_FILE = "grading_state.json"
MODE_FILE = "grading_mode.txt"  # written for otter assign's own check of the solution only (fast mode)
SECRET_FILE = "hidden_secret.txt"  # the secret the hidden test data are drawn from: in the zip and dist/ only
BUILD_FILE = "build.json"  # in the zip: which homework, and the digest of the files it was built from
ZIP_SUFFIX = "-autograder.zip"
# The grader's own files that go into the autograder zip (under grader/tools/), so that Gradescope runs this code.
GRADER_FILES = ("__init__.py", "autograder.py", "sandbox.py", "gradescope.py", "notebook_runner.py")
GRADER_FAILURES_TO_STOP = 3  # the same grader failure on the first this many submissions stops the run


# ------------------------------------------------------------------------------------------------ homework


@dataclass(frozen=True)
class Homework:
    """A homework's folder and its ``grading.py``."""

    name: str
    dir: Path
    config: ModuleType

    @property
    def master(self) -> Path:
        return self.dir / f"{self.config.NOTEBOOK}.ipynb"

    @property
    def support_files(self) -> tuple[str, ...]:
        """The files of the hidden tests, shipped in the autograder zip only (grading.py first)."""
        return ("grading.py", self.config.CHECKS, self.config.PROBES)

    @property
    def limits(self) -> sandbox.Limits:
        return sandbox.Limits(**getattr(self.config, "LIMITS", {}))


def _load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def known_homework(root: Path = ROOT) -> list[str]:
    return sorted(p.parent.name for p in (root / "homework").glob("*/grading.py"))


def homework(hw: str, folder: Path | None = None) -> Homework:
    """The homework ``hw`` from ``folder`` (default: homework/<hw>/ of this repository)."""
    folder = Path(folder) if folder is not None else ROOT / "homework" / hw
    if not (folder / "grading.py").is_file():
        raise SystemExit(f"unknown homework {hw!r} (no {folder / 'grading.py'}); known: "
                         f"{', '.join(known_homework()) or 'none'}")
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:12]
    return Homework(hw, folder, _load_module(folder / "grading.py", f"grading_{hw}_{digest}"))


HOMEWORK = {hw: homework(hw).config.NOTEBOOK for hw in known_homework()}  # homework -> its notebook's name


def _homework_dir(hw: str) -> Path:
    return homework(hw).dir


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def build_digest(hw: Homework) -> str:
    """Digest of the files an autograder zip is built from: the master and the hidden tests."""
    digest = hashlib.sha256()
    for path in [hw.master, *(hw.dir / name for name in hw.support_files)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


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


def generate(hw: str, dist: Path, secret: str | None = None) -> Path:
    """Run `otter assign` on the master into ``dist``; it fails unless the solution passes every test (run in
    fast mode, with the fast-mode target). Then draw the secret of the hidden test data (``secret``: only for
    tests) and write the autograder zip, which grades in full mode on Gradescope."""
    from tools import sync_notebooks

    hw = homework(hw)
    dist = Path(dist).resolve()
    shutil.rmtree(dist, ignore_errors=True)
    sync_notebooks.sync(hw.master, write=True, badge_path=ROOT / "notebooks" / hw.master.name)
    with tempfile.TemporaryDirectory(prefix=f"assign-{hw.name}-") as build:
        build = Path(build)
        for path in hw.dir.iterdir():
            if path.is_file():
                shutil.copy(path, build / path.name)
        (build / MODE_FILE).write_text("fast\n")  # for otter's own check of the solution only
        env = dict(os.environ, COURSE_FAST="1", COURSE_OFFLINE="1", MPLBACKEND="Agg", TQDM_DISABLE="1",
                   PYTHONPATH=str(ROOT))
        # otter assign executes the solution notebook against every test (run_tests: true) and fails otherwise.
        run = subprocess.run([_bin("otter"), "assign", hw.master.name, str(dist)], cwd=build, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if run.returncode != 0:
        raise SystemExit(f"otter assign failed (exit status {run.returncode}); its output:\n"
                         f"{run.stdout[-6000:]}\nFix the master notebook {hw.master} and run again.")
    for folder in ("autograder", "student"):
        (dist / folder / MODE_FILE).unlink(missing_ok=True)
        for notebook in (dist / folder).glob("*.ipynb"):
            stable_cell_ids(notebook)
    for otter_zip in (dist / "autograder").glob("*.zip"):
        otter_zip.unlink()  # otter's zip runs the hidden tests in the student's own process: never upload that
    secret = secret or new_secret()
    (dist / "autograder" / SECRET_FILE).write_text(secret + "\n")
    build_zip(hw, dist / "autograder" / f"{hw.name}{ZIP_SUFFIX}", secret)
    return dist


def new_secret() -> str:
    """The secret a build's hidden test data are drawn from: 128 random bits, kept in the zip and dist/ only."""
    return secrets.token_hex(16)


def build_zip(hw: Homework, zip_path: Path, secret: str) -> Path:
    """The autograder zip in Gradescope's layout (setup.sh, run_autograder, requirements.txt at its top; this
    grader under grader/tools/, the homework's grading files, secret and build record under
    grader/homework/<hw>/). Gradescope unpacks it into /autograder/source."""
    from tools import gradescope

    build = {"homework": hw.name, "digest": build_digest(hw), "notebook": hw.config.NOTEBOOK,
             "built": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    members = {
        "setup.sh": gradescope.SETUP_SH,
        "run_autograder": gradescope.RUN_AUTOGRADER,
        "requirements.txt": "\n".join([*gradescope.GRADER_REQUIREMENTS, *hw.config.REQUIREMENTS]) + "\n",
        **{f"grader/tools/{name}": (ROOT / "tools" / name).read_text() for name in GRADER_FILES},
        **{f"grader/homework/{hw.name}/{name}": (hw.dir / name).read_text() for name in hw.support_files},
        f"grader/homework/{hw.name}/{SECRET_FILE}": secret + "\n",
        f"grader/homework/{hw.name}/{BUILD_FILE}": json.dumps(build, indent=1) + "\n",
    }
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)
    return zip_path


def publish(hw: str, dist: Path) -> None:
    """Copy the generated student notebook to notebooks/ and its public tests into the package."""
    from tools import sync_notebooks

    name = homework(hw).config.NOTEBOOK
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
    path = dist / "autograder" / f"{hw}{ZIP_SUFFIX}"
    if not path.is_file():
        raise SystemExit(f"no autograder zip for {hw} ({path}): build the homework first with `make homework` "
                         f"(python -m tools.autograder assign {hw}); `make grade` never builds it")
    return path


def check_zip_is_current(zip_path: Path, hw: Homework) -> None:
    """Refuse a zip built from another master or other hidden tests than the repository's (an older build, or
    one made elsewhere): grading with it would silently use hidden tests that no longer match the homework."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            build = json.loads(zf.read(f"grader/homework/{hw.name}/{BUILD_FILE}"))
    except (KeyError, ValueError, OSError, zipfile.BadZipFile):
        raise SystemExit(f"{zip_path} is not an autograder zip of this grader (no {BUILD_FILE}): rebuild it with "
                         "`make homework`") from None
    if build.get("digest") != build_digest(hw):
        raise SystemExit(f"{zip_path} was built on {build.get('built', '?')} from a master or hidden tests that "
                         f"differ from {hw.master.relative_to(ROOT) if hw.master.is_relative_to(ROOT) else hw.master}"
                         f" and {', '.join(hw.support_files[1:])} as they are now: rebuild it with `make homework` "
                         "(and upload the new zip to Gradescope too)")


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
    results: list[dict] = field(default_factory=list)  # each check's verdict (for Gradescope's results.json)


class GraderFailure(SystemExit):
    """The grader itself cannot grade here (not the submission's fault): stop, record nothing."""


class Autograder:
    """The trusted side of grading: the hidden tests and the secret from an autograder zip (or, on Gradescope,
    from the folder it was unpacked into), kept in a private folder no sandbox can see, and the probes' inputs and
    the checks' secrets for one grading mode."""

    def __init__(self, source: Path, mode: str, hw: str | None = None):
        self.mode = mode
        self.dir = _private_dir("autograder-")
        source = Path(source)
        digest = hashlib.sha256()
        if source.is_dir():  # Gradescope: grader/homework/<hw>/ of the unpacked zip
            files = {p.name: p.read_bytes() for p in source.iterdir() if p.is_file()}
            name = hw or source.name
        else:
            with zipfile.ZipFile(source) as zf:
                names = [n for n in zf.namelist() if n.startswith("grader/homework/") and not n.endswith("/")]
                if not names:
                    raise SystemExit(f"{source} is not an autograder zip of this grader: rebuild it with "
                                     "`make homework`")
                name = names[0].split("/")[2]
                files = {Path(n).name: zf.read(n) for n in names if n.split("/")[2] == name}
        for file_name, data in files.items():
            (self.dir / file_name).write_bytes(data)
        if SECRET_FILE not in files:
            raise SystemExit(f"{source} holds no secret for the hidden test data: rebuild it with `make homework`")
        self.homework = homework(name, self.dir)
        missing = [n for n in self.homework.support_files if n not in files]
        if missing:
            raise SystemExit(f"{source} lacks {', '.join(missing)}: rebuild it with `make homework`")
        for file_name in [*self.homework.support_files, SECRET_FILE]:
            digest.update(files[file_name])
        self.version = f"{digest.hexdigest()[:16]}-{mode}"
        secret = files[SECRET_FILE].decode().strip()
        config = self.homework.config
        self.hidden = _load_module(self.dir / config.CHECKS, f"autograder_{name}_hidden_{self.version}")
        self.inputs, self.secrets = self.hidden.make_inputs(mode, secret=secret)
        self.probes = self.dir / config.PROBES
        import matplotlib
        import numpy as np

        np.savez(self.dir / "inputs.npz", **self.inputs)
        import matplotlib.font_manager  # noqa: F401 -- builds matplotlib's font list once, shared with every run

        self.font_cache = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
        self.maxima: dict[str, float] = {}
        for check in self.hidden.CHECKS:
            self.maxima[check.question] = self.maxima.get(check.question, 0.0) + check.points

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def isolation_for(use_sandbox: bool = True, user: tuple[int, int, str] | None = None) -> sandbox.Isolation:
    """The isolation a grading run uses: bubblewrap (the executable the pre-flight check found), or none with
    ``use_sandbox`` false; raises SystemExit with the options where bubblewrap cannot run."""
    if not use_sandbox:
        return sandbox.Isolation(bwrap=None, user=user)
    bwrap = sandbox.find_bwrap()
    if problem := sandbox.bwrap_problem(bwrap, user):
        raise SystemExit(sandbox.NO_BWRAP_HELP.format(why=f" ({problem})"))
    return sandbox.Isolation(bwrap=bwrap, user=user, sized_tmpfs=sandbox.sizes_tmpfs(bwrap))


def _sandbox_env(workdir: Path, mode: str, threads: int, isolation: sandbox.Isolation) -> dict[str, str]:
    """The only environment variables a submission sees (none of the instructor's: no tokens, no SSH agent).
    ``workdir`` holds the grader's font list for matplotlib (``.matplotlib``)."""
    private = Path("/tmp") if isolation.bwrap else workdir / "private"  # bubblewrap's /tmp is its own
    if not isolation.bwrap:
        for name in ("home", "tmp"):
            (private / name).mkdir(parents=True, exist_ok=True)
    return {"MPLCONFIGDIR": str(workdir / ".matplotlib"),
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(private / "home"),
            "TMPDIR": str(private / "tmp"), "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
            "COURSE_FAST": "1" if mode == "fast" else "0", "COURSE_OFFLINE": "1", "TQDM_DISABLE": "1",
            "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
            "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


@cache
def _course_utils_dir() -> Path:
    """Where the sandbox's Python imports course_utils from: asked of that interpreter itself, started as the
    sandbox starts it (outside the repository, no PYTHONPATH), so that an editable install from another folder
    binds that folder, not the repository's copy the grader happens to import."""
    try:
        found = subprocess.run([sys.executable, "-c", "import importlib.util as u; s = u.find_spec('course_utils'); "
                                "print(s.origin if s and s.origin else '')"],
                               cwd="/", env={"PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"},
                               capture_output=True, text=True, timeout=120).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        found = ""
    if found:
        return Path(found).parent
    spec = importlib.util.find_spec("course_utils")  # the pre-flight check then says what is wrong
    return Path(spec.origin).parent


def _phase_reason(code: int | str, phase: str, limits: sandbox.Limits, tail: str) -> str:
    gb = 1024**3
    if code == "timeout":
        return f"{phase}: timed out after {limits.timeout_s:.0f} s (an endless loop, or far too slow)"
    if code == "memory":
        return (f"{phase}: used more than {limits.memory_bytes / gb:g} GB of memory (its processes and the files "
                "it wrote into its in-memory temporary folders) and was stopped")
    if code == "tmpfs":
        return (f"{phase}: filled its temporary folder /tmp or /dev/shm (each {limits.tmpfs_bytes / gb:g} GB, "
                "kept in memory) and was stopped")
    if code == "disk":
        return f"{phase}: wrote more than {limits.disk_bytes / gb:g} GB of files and was stopped"
    if code == "files":
        return f"{phase}: created more than {limits.max_files:,} files and was stopped"
    if code == "stuck":
        return (f"{phase}: the kernel stopped responding (no computation for {limits.idle_s:.0f} s): the notebook "
                "broke Python or Jupyter itself, e.g. by replacing builtins")
    if code == 3 or "DeadKernelError" in tail or "Kernel died" in tail:
        return f"{phase}: the notebook killed its kernel (os._exit, a crash or running out of memory)"
    return f"{phase}: the grader could not finish (exit code {code})"


def _notebook_report(executed: Path) -> str:
    """The errors of each cell and the tail of what the notebook printed, for the feedback file."""
    try:
        nb = json.loads(_read_plain(executed).decode("utf-8"))
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


def _read_plain(path: Path, limit: int = 512 * 1024**2) -> bytes:
    """The bytes of a plain file: not a symbolic link (a link in a folder the submission could write to could
    point at one of the grader's files), not a hard link to another file, at most ``limit`` bytes; else OSError."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > limit:
            raise OSError(f"{path} is not a plain file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1)
    finally:
        os.close(fd)


def _regular_file(path: Path) -> bool:
    """True for a plain file that is not a symbolic link: files a submission could have planted are read only then."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _private_dir(prefix: str, mode: int = 0o700) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, mode)
    return path


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.write_bytes(data)
    os.chmod(path, mode)


def grade_one(submission: Path, autograder: Autograder, timeout_s: float | None = None, threads: int | None = None,
              use_sandbox: bool = True, memory_gb: float | None = None, *,
              isolation: sandbox.Isolation | None = None, limits: sandbox.Limits | None = None) -> Grade:
    """Grade one notebook. Never raises for a bad submission: the reason goes into ``Grade.reason``.

    Folders: ``private`` is the grader's own (the logs); ``given`` holds what the sandboxes may read (the
    submission, the runner, the probes and their inputs; readable by a sandbox user of its own, never writable);
    ``run`` is the only folder the notebook may write to; ``probe`` the only one its code may write to when
    probed. The grader never writes into a folder a submission could write to, and reads back only plain files."""
    isolation = isolation or isolation_for(use_sandbox)
    limits = limits or autograder.homework.limits
    if timeout_s is not None:
        limits = replace(limits, timeout_s=timeout_s)
    if memory_gb is not None:
        limits = replace(limits, memory_bytes=memory_gb * 1024**3)
    grade = Grade(student=submission.stem, sandbox=isolation.label)
    grade.points = dict.fromkeys(sorted(autograder.maxima), 0.0)
    grade.possible = sum(autograder.maxima.values())
    start = time.perf_counter()
    shared = 0o755 if isolation.user else 0o700
    private, given = _private_dir("grade-"), _private_dir("grade-in-", shared)
    run, probe = _private_dir("grade-run-"), _private_dir("grade-probe-")
    try:
        import nbformat

        try:
            data = _read_plain(Path(submission), limit=64 * 1024**2)
        except OSError:
            grade.reason = ("not a regular file (a symbolic link, a folder or a special file; or over 64 MB): "
                            "refused; submit the notebook file itself")
            return grade
        original = given / "submission.ipynb"
        _write(original, data)
        try:
            nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        except Exception as err:  # noqa: BLE001 -- any unreadable file
            grade.reason = f"not a readable notebook ({type(err).__name__})"
            return grade
        sources = _code_sources(nb)
        mode, threads = autograder.mode, threads or os.cpu_count() or 1
        config = autograder.homework.config
        runner, probes, inputs = given / "notebook_runner.py", given / "probes.py", given / "inputs.npz"
        _write(runner, RUNNER.read_bytes())
        for folder in (run, probe):  # the grader's font list, so that matplotlib does not rebuild it every run
            (folder / ".matplotlib").mkdir()
            for font_list in autograder.font_cache:
                shutil.copy(font_list, folder / ".matplotlib" / font_list.name)
        # 1. run the notebook as submitted, plus the grader's cell that saves what the hidden tests evaluate
        env = _sandbox_env(run, mode, threads, isolation)
        state = run / "state"
        nb.cells.append(nbformat.v4.new_code_cell(config.EXPORT_CELL.format(state=str(state))))
        nbformat.write(nb, run / "run.ipynb")
        code, tail = sandbox.run([sys.executable, str(runner), "run.ipynb", "executed.ipynb"], workdir=run,
                                 env=env, log_path=private / "run.log", limits=limits, isolation=isolation,
                                 read_only=[_course_utils_dir(), runner])
        report = _notebook_report(run / "executed.ipynb")
        if code != 0:
            grade.reason = _phase_reason(code, "running the notebook", limits, tail)
            grade.feedback = report or tail
            return grade
        # 2. probe the student's code in a fresh process (sandboxed; inputs made by the grader, read-only: of the
        # autograder's folder only the probes and their inputs are given, never the checks or the secret; given
        # only now, when every process of the notebook's run has ended)
        _write(probes, autograder.probes.read_bytes())
        _write(inputs, (autograder.dir / "inputs.npz").read_bytes())
        state_ok = os.path.lexists(state) and stat.S_ISDIR(os.lstat(state).st_mode)
        env = _sandbox_env(probe, mode, threads, isolation)
        remaining = max(30.0, limits.timeout_s - (time.perf_counter() - start))
        code, tail = sandbox.run([sys.executable, str(probes), str(original), str(inputs),
                                  str(state if state_ok else probe / "no-state"), str(probe / "out")],
                                 workdir=probe, env=env, log_path=private / "probe.log",
                                 limits=replace(limits, timeout_s=remaining), isolation=isolation,
                                 read_only=[_course_utils_dir(), probes, inputs, original,
                                            *([state] if state_ok else [])])
        outputs, notes = _read_probe_outputs(probe / "out")
        if code != 0:
            grade.reason = _phase_reason(code, "checking the notebook's code", replace(limits, timeout_s=remaining),
                                         tail)
        # 3. check, with the grader's own code and references
        results = autograder.hidden.check_all(outputs, autograder.inputs, autograder.secrets, mode)
        for question, why in autograder.hidden.reference_uses(sources).items():
            for result in results:
                if result["question"] == question:
                    result.update(points=0.0, passed=False, message=why)
        for result in results:
            grade.points[result["question"]] += result["points"]
        grade.total = sum(grade.points.values())
        grade.results = results
        grade.feedback = _feedback(results, notes, report)
        return grade
    except Exception as err:  # noqa: BLE001 -- the grader itself must go on with the next submission
        grade.reason = f"grader error: {type(err).__name__}: {err}"
        return grade
    finally:
        grade.seconds = time.perf_counter() - start
        for folder in (private, given, run, probe):
            shutil.rmtree(folder, ignore_errors=True)


def _code_sources(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _read_probe_outputs(out_dir: Path) -> tuple[dict[str, dict], list[str]]:
    """The probes' outputs, read as plain data (JSON, and arrays without pickles)."""
    import numpy as np

    outputs: dict[str, dict] = {}
    notes: list[str] = []
    try:
        data = json.loads(_read_plain(out_dir / "outputs.json").decode("utf-8"))
        arrays_data = _read_plain(out_dir / "outputs.npz")
        outputs = {str(k): dict(v) for k, v in data.get("probes", {}).items() if isinstance(v, dict)}
        notes = [str(n) for n in data.get("notes", [])][:20]
        with np.load(io.BytesIO(arrays_data), allow_pickle=False) as arrays:
            for key in arrays.files:
                probe, _, name = key.partition("/")
                outputs.setdefault(probe, {})[name] = arrays[key]
    except (OSError, ValueError, AttributeError, TypeError, zipfile.BadZipFile):
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


# ------------------------------------------------------------------------------------ the grader can run


def preflight(autograder: Autograder, isolation: sandbox.Isolation, limits: sandbox.Limits) -> None:
    """Run a two-cell notebook through the sandbox exactly as a submission runs; raise :class:`GraderFailure`
    with what to fix if it cannot run (then a whole class would otherwise get zeros for the grader's fault)."""
    import nbformat

    folder = _private_dir("grade-preflight-")
    try:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("import course_utils, numpy, torch\nprint('grader-preflight-ok')")]
        (folder / "submission.ipynb").write_text(nbformat.writes(nb))
        grade = grade_one(folder / "submission.ipynb", autograder, isolation=isolation,
                          limits=replace(limits, timeout_s=min(limits.timeout_s, 180)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    text = grade.reason + "\n" + grade.feedback
    if not grade.reason and "grader-preflight-ok" in text and "Errors while running the notebook" not in text:
        return
    hints = []
    if "No module named" in text:
        module = text.split("No module named", 1)[1].split("\n")[0].strip(" :'\"")
        hints.append(f"the sandbox's Python ({sys.executable}) cannot import {module}: install it into the "
                     "environment that runs the grader (`make install`), as a regular or editable install")
    if isolation.user:
        hints.append(f"the user {isolation.user[2]} must be able to read and run {sys.executable} and its packages "
                     "(a Python installed under /root is not readable by other users)")
    hints.append("try one submission by hand: python -m tools.autograder grade HW FOLDER --workers 1")
    raise GraderFailure(
        f"the grader cannot run notebooks here ({isolation.label}), so nothing was graded and no grade recorded.\n"
        f"What happened: {grade.reason or 'the test notebook did not print what it should'}\n"
        f"{(grade.feedback or '').strip()[-1500:]}\n"
        "How to fix:\n" + "\n".join(f"  * {h}" for h in hints))


def is_grader_failure(grade: Grade) -> bool:
    return grade.reason.startswith("grader error") or "the grader could not finish" in grade.reason


# ------------------------------------------------------------------------------------------- gradebook


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(_read_plain(path, limit=64 * 1024**2)).hexdigest()
    except OSError:
        return "not-a-plain-file"


def spreadsheet_safe(value):
    """A gradebook cell that a spreadsheet shows as text: a string starting with = + - @ (or a tab or carriage
    return) would be read as a formula, so it gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _write_gradebook(out_dir: Path, state: dict, questions: list[str]) -> None:
    """grades.csv (every submission graded into this folder so far, from any submissions folder, by name) and
    the resume state, each replaced atomically."""
    rows = [state[s]["grade"] for s in sorted(state)]
    questions = sorted({*questions, *(q for g in rows for q in g["points"])})
    tmp = out_dir / "grades.csv.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *questions, "total", "possible", "seconds", "sandbox", "failure_reason"])
        for g in rows:
            writer.writerow([spreadsheet_safe(v) for v in (
                g["student"], *(g["points"].get(q, 0.0) for q in questions), g["total"], g["possible"],
                f"{g['seconds']:.1f}", g["sandbox"], g["reason"])])
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


def grade_all(hw: str, submissions_dir: Path, out_dir: Path, timeout_s: float | None = None,
              workers: int | None = None, mode: str = "full", ag_zip: Path | None = None, use_sandbox: bool = True,
              memory_gb: float | None = None, regrade: bool = False) -> list[Grade]:
    """Grade every notebook in ``submissions_dir``; write grades.csv and feedback/ under ``out_dir`` after every
    submission. Notebooks graded before (same file, same autograder and mode) are kept, unless ``regrade``; rows
    of other folders graded into ``out_dir`` before are kept too."""
    isolation = isolation_for(use_sandbox)
    submissions = sorted(Path(submissions_dir).glob("*.ipynb"))
    if not submissions:
        raise SystemExit(f"no .ipynb files in {submissions_dir}")
    zip_path = Path(ag_zip) if ag_zip else autograder_zip(hw)
    check_zip_is_current(zip_path, homework(hw))
    out_dir = Path(out_dir)
    autograder = Autograder(zip_path, mode)
    limits = autograder.homework.limits
    if timeout_s is not None:
        limits = replace(limits, timeout_s=timeout_s)
    if memory_gb is not None:
        limits = replace(limits, memory_bytes=memory_gb * 1024**3)
    questions = sorted(autograder.maxima)
    state_path = out_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}  # rows of earlier runs stay
    students = [s.stem for s in submissions]
    keys = {s.stem: f"{_sha256(s)}-{autograder.version}-{isolation.label}" for s in submissions}
    todo = [s for s in submissions if regrade or state.get(s.stem, {}).get("key") != keys[s.stem]]
    workers = workers or default_workers(len(todo), limits.memory_bytes / 1024**3)
    threads = max(1, (os.cpu_count() or 1) // workers)
    kept = len(submissions) - len(todo)
    try:
        if todo:
            preflight(autograder, isolation, limits)
    except SystemExit:
        autograder.close()
        raise
    (out_dir / "feedback").mkdir(parents=True, exist_ok=True)
    print(f"grading {len(todo)} submission(s) of {hw} ({kept} unchanged, kept from the last run) with {workers} "
          f"worker(s), {mode} mode, time limit {limits.timeout_s:.0f} s, memory limit "
          f"{limits.memory_bytes / 1024**3:g} GB each, sandbox: "
          f"{isolation.label if isolation.bwrap else 'NONE (--no-sandbox: submissions run with your rights)'}")
    lock = threading.Lock()
    held: list[Grade] = []  # grader failures not yet recorded: the first ones may be the grader's own fault
    recorded = [0]

    def record(g: Grade) -> None:
        state[g.student] = {"key": keys[g.student], "grade": asdict(g)}
        text = f"{g.student}: {g.total:g} / {g.possible:g} points\n"
        if g.reason:
            text += f"Not graded normally: {g.reason}\n"
        (out_dir / "feedback" / f"{g.student}.txt").write_text(text + "\n" + g.feedback + "\n")
        _write_gradebook(out_dir, state, questions)
        recorded[0] += 1
        print(f"  {g.student:30s} {g.total:5g} / {g.possible:g}  ({g.seconds:.0f} s) {g.reason}", flush=True)

    def work(submission: Path) -> Grade:
        g = grade_one(submission, autograder, threads=threads, isolation=isolation, limits=limits)
        with lock:
            if recorded[0] == 0 and is_grader_failure(g):
                held.append(g)
                if len(held) >= GRADER_FAILURES_TO_STOP and len({h.reason for h in held}) == 1:
                    raise GraderFailure(
                        f"the first {len(held)} submissions all failed the same way, which is the grader's "
                        f"problem, not theirs: {g.reason}\n{g.feedback.strip()[-1500:]}\nNothing was recorded for "
                        "them; fix the grader's environment and run again.")
                return g
            for h in held:
                record(h)
            held.clear()
            record(g)
        return g

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        list(pool.map(work, todo))
        with lock:
            for h in held:
                record(h)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        sandbox.Running.kill_all()
        raise SystemExit(f"interrupted: {len(state)} graded submission(s) are saved in {out_dir / 'grades.csv'}; "
                         "run the same command again to grade the rest") from None
    except GraderFailure:
        pool.shutdown(wait=False, cancel_futures=True)
        sandbox.Running.kill_all()
        raise
    finally:
        pool.shutdown(wait=True)
        autograder.close()
    _write_gradebook(out_dir, state, questions)
    print(f"gradebook: {out_dir / 'grades.csv'}")
    return [Grade(**state[s]["grade"]) for s in students]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_assign = sub.add_parser("assign", help="generate the student notebook and the autograder")
    p_assign.add_argument("hw", choices=known_homework())
    p_grade = sub.add_parser("grade", help="grade a folder of submitted notebooks")
    p_grade.add_argument("hw", choices=known_homework())
    p_grade.add_argument("submissions", type=Path)
    p_grade.add_argument("--out", type=Path, default=Path("grades"))
    p_grade.add_argument("--timeout", type=float, default=None, help="seconds per submission (default 300)")
    p_grade.add_argument("--workers", type=int, default=None,
                         help="parallel submissions (default: one per core, as many as the memory limits fit)")
    p_grade.add_argument("--memory-gb", type=float, default=None, help="memory per submission (default 6 GB)")
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
