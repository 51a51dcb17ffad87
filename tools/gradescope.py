"""The Gradescope autograder: the same grading as `make grade`, in Gradescope's layout, and a local rehearsal.

Gradescope unpacks the autograder zip (written by `make homework`, tools/autograder.py's ``build_zip``) into
/autograder/source, runs ``setup.sh`` there once, as root, when it builds the image, then, for every submission,
``/autograder/run_autograder`` as root in a fresh container, with the student's files in /autograder/submission,
and shows /autograder/results/results.json. Here:

* ``setup.sh`` installs bubblewrap and a Python environment with the grader's packages (a virtual environment in
  /opt/grader-venv, readable by every user), then ``python gradescope.py setup``: creates the user ``hw-student``
  that student code runs as, and makes /autograder/source (this grader, the hidden tests, the secret of the hidden
  test data) readable by root only.
* ``run_autograder`` runs ``python gradescope.py run``, the trusted step, as root: it hides the submission folder
  and the submission's metadata from other users, then grades the one notebook with tools/autograder.py's
  ``grade_one``, exactly as `make grade` does: the notebook runs in one sandboxed process as ``hw-student``, the
  probes in a fresh one that ran none of its top-level code, and the checks, with the hidden data, in this
  process, which never runs student code. Only this process writes results.json (its folder is root's).
  Isolation: bubblewrap as ``hw-student`` where the container allows user namespaces; otherwise ``hw-student``
  alone (every process of that user is killed after each step, and what it left in the shared temporary folders
  deleted); results.json's ``extra_data.sandbox`` says which.
  If the grader itself cannot run (the pre-flight check fails), it writes no results.json (Gradescope then shows
  an autograder error, not a zero) and says what to fix.

The local rehearsal (``python -m tools.gradescope ZIP NOTEBOOK... --out DIR``, root and bubblewrap needed; the
tests use it): lays the zip out in a temporary folder as Gradescope does and mounts it at /autograder in a
namespace that looks like a fresh container (bubblewrap as root: the system and this machine's Python read-only,
a writable copy of /etc so that ``setup.sh`` can create its user, private /tmp, /var and /dev/shm, its own PID
namespace; nothing else of the machine), runs ``setup.sh`` with this machine's Python (installing nothing), then
``run_autograder`` for each notebook in turn, as Gradescope would, and copies each results.json out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

USER = "hw-student"
AUTOGRADER = Path("/autograder")
# What the grader itself needs on Gradescope, besides the homework's own REQUIREMENTS (grading.py).
GRADER_REQUIREMENTS = ["--extra-index-url https://download.pytorch.org/whl/cpu", "torch", "numpy", "nbformat",
                       "nbclient", "ipykernel", "matplotlib"]

_LAUNCH = ('import sys; sys.path.insert(0, "/autograder/source/grader"); from tools import gradescope; '
           'raise SystemExit(gradescope.main(sys.argv[1:]))')

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (tools/gradescope.py explains all).
set -euo pipefail
if [ -z "${{GRADER_PYTHON:-}}" ]; then  # the local rehearsal passes its own Python and installs nothing
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q bubblewrap python3 python3-venv python3-pip
  python3 -m venv /opt/grader-venv
  /opt/grader-venv/bin/pip install --quiet -r /autograder/source/requirements.txt
  chmod -R a+rX /opt/grader-venv
  GRADER_PYTHON=/opt/grader-venv/bin/python
fi
echo "$GRADER_PYTHON" > /autograder/source/python.txt
"$GRADER_PYTHON" -I -B -c '{_LAUNCH}' setup
"""

RUN_AUTOGRADER = f"""#!/usr/bin/env bash
# Gradescope runs this as root for every submission: the trusted step (tools/gradescope.py explains all).
set -euo pipefail
cd /autograder/source
exec "$(cat /autograder/source/python.txt)" -I -B -c '{_LAUNCH}' run "$@"
"""


# --------------------------------------------------------------------------------------- on Gradescope


def _user() -> tuple[int, int, str]:
    import pwd

    entry = pwd.getpwnam(USER)
    return entry.pw_uid, entry.pw_gid, USER


def setup(root: Path = AUTOGRADER) -> int:
    """Create the user student code runs as, and make the grader's files root's alone."""
    import pwd

    try:
        pwd.getpwnam(USER)
    except KeyError:
        uid = os.environ.get("GRADER_USER_ID")  # the local rehearsal picks one no process has
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", *(["--uid", uid] if uid else []), USER], check=True)
    source = root / "source"
    for dirpath, dirnames, filenames in os.walk(source):
        for name in [".", *dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            os.chown(path, 0, 0, follow_symlinks=False)
            if not os.path.islink(path):
                os.chmod(path, 0o700 if os.path.isdir(path) or name in ("setup.sh", "run_autograder") else 0o600)
    from tools import autograder

    # The check that the grader can run notebooks here, once, on the image every submission's container starts
    # from: if it fails, the image build fails with what to fix, before any student is graded.
    _work_dir(root)
    isolation, problem = _isolation()
    grader = autograder.Autograder(_homework_dir(root), "full")
    try:
        autograder.preflight(grader, isolation, grader.homework.limits)
    except autograder.GraderFailure as failure:
        print(failure, file=sys.stderr)
        return 1
    finally:
        grader.close()
        shutil.rmtree(root / "work", ignore_errors=True)
    print(f"autograder set up: student code runs as {USER}, "
          + ("in bubblewrap" if problem is None else f"without bubblewrap ({problem})"))
    return 0


def _isolation():
    """(the isolation student code runs in here, why bubblewrap cannot run or None)."""
    from tools import sandbox

    bwrap = sandbox.find_bwrap()
    problem = sandbox.bwrap_problem(bwrap, _user())
    return sandbox.Isolation(bwrap=None if problem else bwrap, user=_user(),
                             sized_tmpfs=bool(bwrap) and sandbox.sizes_tmpfs(bwrap)), problem


def _homework_dir(root: Path) -> Path:
    found = sorted(p.parent for p in (root / "source" / "grader" / "homework").glob("*/build.json"))
    if len(found) != 1:
        raise SystemExit("the autograder zip must hold exactly one homework: rebuild it with `make homework`")
    return found[0]


def _lock_down(root: Path) -> None:
    """Before any student code runs: the grader's and the student's files readable by root only, the results
    folder root's (so only this process can write results.json)."""
    os.chmod(root, 0o711)
    for name in ("source", "submission"):
        if (root / name).is_dir():
            os.chmod(root / name, 0o700)
    for path in root.glob("submission_metadata*.json"):
        os.chmod(path, 0o600)
    results = root / "results"
    if results.is_symlink() or (results.exists() and not results.is_dir()):
        results.unlink()
    results.mkdir(exist_ok=True)
    os.chown(results, 0, 0)
    os.chmod(results, 0o755)
    _work_dir(root)


def _work_dir(root: Path) -> None:
    """The grader's temporary folders, in a folder of root's that only root may list, outside the folders anyone
    may write to (what student code leaves there is deleted after each step)."""
    work = root / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o711)
    os.chmod(work, 0o711)
    tempfile.tempdir = str(work)


def _results(grade, output: str = "") -> dict:
    tests = [{"name": f"{r['question']} {r['name']}", "score": r["points"], "max_score": r["max"],
              "output": r["message"], "visibility": "visible"} for r in grade.results]
    text = (f"Not graded normally: {grade.reason}\n\n" if grade.reason else "") + (grade.feedback or "")
    return {"score": grade.total, "output": (output + text)[-20_000:], "tests": tests,
            "extra_data": {"sandbox": grade.sandbox, "points": grade.points, "seconds": round(grade.seconds, 1)}}


def _write_results(root: Path, results: dict) -> None:
    tmp = root / "results" / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(root / "results" / "results.json")


def _pick_submission(folder: Path, notebook: str) -> tuple[Path | None, str]:
    """The notebook to grade among the submitted files, or None and why not."""
    names = sorted(p for p in folder.iterdir() if p.name.endswith(".ipynb")) if folder.is_dir() else []
    if not names:
        return None, "no .ipynb file was submitted: upload your notebook (the .ipynb file)"
    if len(names) == 1:
        return names[0], ""
    same = [p for p in names if p.name == f"{notebook}.ipynb"]
    if same:
        return same[0], ""
    return None, (f"several notebooks were submitted ({', '.join(p.name for p in names)}): upload only "
                  f"{notebook}.ipynb")


def run(root: Path = AUTOGRADER, mode: str = "full", threads: int | None = None) -> int:
    """Grade the submission in ``root``/submission and write ``root``/results/results.json (the trusted step)."""
    from tools import autograder

    if os.geteuid() != 0:
        print("run_autograder must run as root (as Gradescope runs it)", file=sys.stderr)
        return 2
    _lock_down(root)
    isolation, problem = _isolation()
    grader = autograder.Autograder(_homework_dir(root), mode)
    try:
        limits = grader.homework.limits
        submission, why = _pick_submission(root / "submission", grader.homework.config.NOTEBOOK)
        if submission is None:
            grade = autograder.Grade(student="submission", reason=why, sandbox=isolation.label)
            grade.points = dict.fromkeys(sorted(grader.maxima), 0.0)
            grade.possible = sum(grader.maxima.values())
        else:
            grade = autograder.grade_one(submission, grader, threads=threads or os.cpu_count() or 1,
                                         isolation=isolation, limits=limits)
        if autograder.is_grader_failure(grade):  # not the student's doing: no zero, an autograder error
            print(f"the grader could not grade this submission: {grade.reason}\n{grade.feedback[-3000:]}\n"
                  "(no results.json written: Gradescope shows an autograder error, not a zero; run it again, and "
                  "rebuild the zip with `make homework` if it persists)", file=sys.stderr)
            return 1
        note = f"(bubblewrap is not available here: {problem}; student code ran as the user {USER})\n" \
            if problem else ""
        _write_results(root, _results(grade, note))
        print(f"{grade.total:g} / {grade.possible:g} points  {grade.reason}")
        return 0
    finally:
        grader.close()
        shutil.rmtree(root / "work", ignore_errors=True)


# ---------------------------------------------------------------------------------- the local rehearsal


def _container(python: str, own_pids: bool) -> list[str]:
    """bwrap options for a file system like a fresh Gradescope container's: the system (/usr), this machine's
    Python and the folders it imports from, read-only; a private /tmp, /var and /dev/shm (1777, as in Docker).
    Run as root, without a user namespace: root inside is root. ``own_pids``: a PID namespace and /proc of its own,
    which, as Docker's masked /proc does, keeps bubblewrap from mounting a /proc inside; else this machine's."""
    from tools import autograder, sandbox

    cmd = ["--unshare-pid", "--proc", "/proc"] if own_pids else ["--bind", "/proc", "/proc"]
    cmd += ["--unshare-ipc", "--die-with-parent", "--dev", "/dev",
            "--perms", "1777", "--size", str(256 * 1024**2), "--tmpfs", "/dev/shm",
            "--perms", "1777", "--tmpfs", "/tmp", "--tmpfs", "/var", "--perms", "1777", "--dir", "/var/tmp",
            "--dir", "/var/log", "--ro-bind", "/usr", "/usr"]
    cmd += sandbox.system_dirs()
    named = Path(os.path.abspath(python))
    folders = [*sandbox.python_paths(), named.parent.parent, named.resolve().parent.parent,
               autograder._course_utils_dir()]
    made, binds = {"/", "/usr", "/var", "/tmp", "/dev", "/proc"}, []
    for folder in folders:
        for source, dest in sandbox._binds(folder):
            if dest.startswith("/usr") or dest in made:
                continue
            for parent in reversed(Path(dest).parents):  # readable by every user, as in an image
                if str(parent) not in made:
                    made.add(str(parent))
                    cmd += ["--perms", "0755", "--dir", str(parent)]
            made.add(dest)
            binds += ["--ro-bind", source, dest]
    return cmd + binds


_GIVEN_UIDS: set[int] = set()  # ids this process gave to rehearsals: two at once must not share one
_GIVEN_UIDS_LOCK = threading.Lock()


def _free_uid() -> int:
    """A user id that no process on this machine has, /etc/passwd does not name and no other rehearsal of this
    process was given (for the rehearsal's student user, whose processes the grader kills by user: rehearsals
    that run at once, before any of their processes exists, would otherwise get the same id and kill each
    other's)."""
    import pwd

    taken = {p.pw_uid for p in pwd.getpwall()}
    from tools import sandbox

    with _GIVEN_UIDS_LOCK:
        for uid in range(62000, 64000):
            if uid not in taken and uid not in _GIVEN_UIDS and not sandbox.user_processes(uid):
                _GIVEN_UIDS.add(uid)
                return uid
    raise RuntimeError("no free user id in 62000-64000")


def rehearse(zip_path: Path, notebooks: list[Path], out: Path, *, mode: str = "full", threads: int | None = None,
             python: str | None = None, bwrap_in_container: bool = True, timeout_s: float = 3600) -> dict[str, dict]:
    """Grade ``notebooks`` one after the other with the autograder zip laid out as Gradescope does; return each
    results.json (None where none was written), by notebook file name, and leave them in ``out``.
    ``bwrap_in_container`` false gives the container its own PID namespace and /proc, which keeps bubblewrap from
    running inside it, as Docker's masked /proc does (student code then runs as ``hw-student`` alone)."""
    from tools import sandbox

    as_root = root_prefix()
    if as_root is None:
        raise SystemExit("the Gradescope rehearsal needs root, or sudo without a password (Gradescope runs its "
                         "steps as root)")
    bwrap = sandbox.find_bwrap()
    if bwrap is None:
        raise SystemExit("the Gradescope rehearsal needs bubblewrap (`apt-get install bubblewrap`)")
    python = python or sys.executable
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="gradescope-"))
    try:
        root, etc, inbox = base / "autograder", base / "etc", base / "inbox"
        for folder in (root / "source", root / "submission", root / "results", inbox):
            folder.mkdir(parents=True)
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(root / "source")
        for name in ("setup.sh", "run_autograder"):
            os.chmod(root / "source" / name, 0o755)
        shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
        shutil.copytree("/etc", etc, symlinks=True, ignore_dangling_symlinks=True,
                        ignore=lambda d, names: [n for n in names if not os.access(os.path.join(d, n), os.R_OK)])
        names = []
        for i, notebook in enumerate(notebooks):
            folder = inbox / f"{i:03d}"
            folder.mkdir()
            target = folder / Path(notebook).name
            if os.path.islink(notebook):  # a link stays a link, as a submission that is one would arrive
                os.symlink(os.readlink(notebook), target)
            else:
                shutil.copy(notebook, target)
            names.append(Path(notebook).name)
        flags = f"--mode {mode}" + (f" --threads {threads}" if threads else "")
        script = f"""set -u
GRADER_PYTHON={python} GRADER_USER_ID={_free_uid()} bash /autograder/source/setup.sh > /rehearsal/setup.log 2>&1 \\
  || {{ cat /rehearsal/setup.log; exit 3; }}
for d in /rehearsal/inbox/*; do
  rm -rf /autograder/submission /autograder/results
  mkdir /autograder/submission /autograder/results
  cp -P "$d"/* /autograder/submission/
  out="/rehearsal/out-$(basename "$d")"
  /autograder/run_autograder {flags} > "$out.log" 2>&1
  if [ -f /autograder/results/results.json ]; then cp /autograder/results/results.json "$out.json"; fi
  left=0
  for p in /proc/[0-9]*; do [ "$(stat -c %U "$p" 2>/dev/null)" = {USER} ] && left=$((left + 1)); done
  echo "rehearsal: processes of {USER} left: $left" >> "$out.log"
done
"""
        (base / "run.sh").write_text(script)
        cmd = [bwrap, *_container(python, own_pids=not bwrap_in_container), "--bind", str(etc), "/etc",
               "--bind", str(root), "/autograder", "--bind", str(base), "/rehearsal"]
        cmd += ["--", "bash", "/rehearsal/run.sh"]
        done = subprocess.run([*as_root, *cmd], capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"the rehearsal failed (exit {done.returncode}): {done.stdout[-3000:]}"
                               f"{done.stderr[-3000:]}")
        results = {}
        for i, name in enumerate(names):
            log = base / f"out-{i:03d}.log"
            shutil.copy(log, out / f"{name}.log")
            found = base / f"out-{i:03d}.json"
            results[name] = json.loads(found.read_text()) if found.is_file() else None
            if found.is_file():
                shutil.copy(found, out / f"{name}.json")
        return results
    finally:
        if as_root:  # the container wrote root's files into it
            subprocess.run([*as_root, "rm", "-rf", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)


def root_prefix() -> list[str] | None:
    """How to run a command as root here: [] as root, ``sudo -n`` where that needs no password, else None."""
    if os.geteuid() == 0:
        return []
    try:
        if subprocess.run(["sudo", "-n", "true"], capture_output=True, timeout=30).returncode == 0:
            return ["sudo", "-n"]
    except (OSError, subprocess.TimeoutExpired):
        pass
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["setup"]:
        return setup()
    if argv[:1] == ["run"]:
        parser = argparse.ArgumentParser(prog="run_autograder")
        parser.add_argument("--mode", choices=["full", "fast"], default="full")
        parser.add_argument("--threads", type=int, default=None)
        args = parser.parse_args(argv[1:])
        return run(mode=args.mode, threads=args.threads)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zip", type=Path)
    parser.add_argument("notebooks", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=Path("gradescope-results"))
    parser.add_argument("--mode", choices=["full", "fast"], default="full")
    args = parser.parse_args(argv)
    for name, result in rehearse(args.zip, args.notebooks, args.out, mode=args.mode).items():
        print(f"{name}: " + (f"{result['score']:g} points" if result else "no results.json (see its .log)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
