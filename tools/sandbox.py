"""Run an untrusted command (a student's notebook, or code from it) in a bubblewrap sandbox.

What the sandbox gives the command (Linux, `bwrap` from Debian's `bubblewrap` package, no daemon):
* a read-only view of the system (/usr and a few files of /etc), of the Python installation, of the virtual
  environment and of the package folders named by the caller (course_utils); nothing else of the machine: not
  the repository's other folders, not the other submissions, not the gradebook, not the autograder;
* one writable folder, the run's own (its working directory), and a private, empty /tmp and HOME;
* no network (its own network namespace with only loopback, which the Jupyter kernel needs);
* its own PID namespace: when the command ends or is killed, every process it started ends too, including
  double-forked daemons that called setsid;
* a minimal environment: only the variables the caller passes (no tokens, SSH agent or the instructor's HOME).

Not provided by bubblewrap: CPU and memory limits (the grader watches time, CPU use and memory from outside and
kills the run), and protection from kernel exploits (the sandbox shares the machine's Linux kernel).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime", "passwd", "group",
             "nsswitch.conf", "hosts", "mime.types", "ssl/openssl.cnf")

NO_BWRAP_HELP = (
    "grading needs a sandbox, and bubblewrap could not run here{why}.\n"
    "Options:\n"
    "  * install it: `sudo apt-get install bubblewrap` (Debian/Ubuntu; `dnf install bubblewrap` on Fedora); in a\n"
    "    container, user namespaces must be allowed (e.g. `sysctl kernel.unprivileged_userns_clone=1`, or run\n"
    "    the grader as root);\n"
    "  * on macOS or Windows: upload the autograder zip (homework/<hw>/dist/autograder/) to Gradescope, which\n"
    "    runs each submission in a container of its own;\n"
    "  * or grade with `--no-sandbox` (make grade ... SANDBOX=no) and accept the risk: a submission then runs\n"
    "    with your user's rights and can read or change your files; the gradebook records it."
)


def bwrap_problem() -> str | None:
    """None when bubblewrap works here, else why not (one line)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap runs on Linux only (this is {sys.platform})"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "the `bwrap` command is not installed"
    try:
        probe = subprocess.run([bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"`bwrap` did not start ({err})"
    if probe.returncode != 0:
        return f"`bwrap` failed: {probe.stderr.strip()[:200] or probe.returncode} (are user namespaces allowed?)"
    return None


def _python_paths() -> list[Path]:
    """The Python installation and the virtual environment the grader runs in."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    return sorted(p for p in paths if not str(p).startswith("/usr"))


def bwrap_command(argv: list[str], *, workdir: Path, read_only: list[Path], env: dict[str, str]) -> list[str]:
    """The bwrap command line that runs ``argv`` in ``workdir`` (the only writable folder besides a private /tmp,
    where its HOME is made) with ``env`` only."""
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
           "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/tmp/home", "--tmpfs", "/tmp/tmp",
           "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin", "lib32", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            cmd += ["--symlink", str(path.readlink()), str(path)]
        elif path.is_dir():
            cmd += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            cmd += ["--ro-bind", str(path), str(path)]
    for path in [*_python_paths(), *read_only]:
        path = Path(path).resolve()
        cmd += ["--ro-bind", str(path), str(path)]
    # The sandbox's own root and /tmp (where bwrap made the folders for the binds above, e.g. a repository that
    # lives under /tmp) become read-only: the run's folder and the private HOME and TMPDIR (/tmp/home, /tmp/tmp)
    # are its only writable places.
    workdir = Path(workdir).resolve()
    cmd += ["--remount-ro", "/", "--bind", str(workdir), str(workdir), "--remount-ro", "/tmp",
            "--chdir", str(workdir)]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return [*cmd, "--", *argv]
