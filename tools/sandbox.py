"""Run untrusted code (a student's notebook, or code from it) in a sandbox, under limits, and end all of it.

Used by tools/autograder.py on both grading paths (`make grade` on the instructor's machine, and the Gradescope
autograder zip), so that supervision is written once. It knows nothing about a particular homework.

Isolation (:class:`Isolation`), strongest first:
* **bubblewrap** (Linux, `bwrap` from Debian's `bubblewrap` package, no daemon): a read-only view of the system
  (/usr and a few files of /etc), of the Python installation, of the virtual environment and of the folders the
  caller names (course_utils, the runner); nothing else of the machine (not the repository's other folders, not
  the other submissions, not the gradebook, not the hidden tests); one writable folder, the run's own; a private
  /tmp (with HOME and TMPDIR in it) and /dev/shm, each a tmpfs of bounded size; no network (loopback only, which
  the Jupyter kernel needs); its own PID namespace, so that every process it started, double-forked daemons too,
  ends with it; only the environment variables the caller passes.
* **a user of its own** (``Isolation.user``, when the grader runs as root, as on Gradescope): the command runs
  with that user's rights, so it cannot read files that only root may read (the hidden tests, the results file)
  nor signal the grader; every process of that user is killed when a run ends (``kill(-1)`` sent as that user, so
  a daemon that left the process tree ends too), and the files it left in the shared temporary folders are
  deleted. Combined with bubblewrap where the container allows it; alone where it does not.
* **none** (``--no-sandbox``): the command runs with the grader's rights; the limits below still hold.

Limits (:class:`Limits`), watched from outside every half second, each with its own reason: wall time, memory
(resident memory of all the run's processes *plus* what they wrote into their in-memory temporary folders: tmpfs
pages belong to no process, so a watch of processes alone misses them), bytes and files written into the run's
folder (and, without bubblewrap, into the shared temporary folders), a run that stopped computing, the size of
any one file (``RLIMIT_FSIZE``) and, for a user of its own, its number of processes (``RLIMIT_NPROC``).

Not provided: protection from kernel exploits (the sandbox shares the machine's Linux kernel), and CPU shares
(a run may use its cores fully for its whole time limit).
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime", "passwd", "group",
             "nsswitch.conf", "hosts", "mime.types", "ssl/openssl.cnf")
# Folders anyone may write to on a standard Debian/Ubuntu image: without bubblewrap, what a user of its own
# writes there is counted against its limits and deleted after its run.
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
POLL_S = 0.5
PYTHON = sys.executable  # runs the launcher that applies the kernel's limits, and kill(-1) as a run's user

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


# ------------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Limits:
    """What one run may use. Sizes in bytes."""

    timeout_s: float = 300.0
    memory_bytes: float = 6 * 1024**3  # resident memory of its processes + its in-memory temporary files
    tmpfs_bytes: int = 1024**3  # the size of each private tmpfs (/tmp and /dev/shm) under bubblewrap
    disk_bytes: float = 2 * 1024**3  # written into its folder (and, without bubblewrap, shared temporary folders)
    max_files: int = 50_000  # files and folders it may create there
    idle_s: float = 30.0  # stopped when its processes used < 2% of a core for this long
    processes: int = 512  # RLIMIT_NPROC, only for a user of its own (the limit counts every process of a user)


@dataclass(frozen=True)
class Isolation:
    """How a run is isolated. ``bwrap``: the path of the bubblewrap executable that :func:`bwrap_problem` checked
    (None: no namespaces); ``user``: (uid, gid, name) of a user of its own to run as (the grader must be root)."""

    bwrap: str | None = None
    user: tuple[int, int, str] | None = None
    sized_tmpfs: bool = True  # bubblewrap 0.7+ bounds the private tmpfs (see sizes_tmpfs)

    @property
    def label(self) -> str:
        """For the gradebook's ``sandbox`` column."""
        if self.bwrap and self.user:
            return f"bubblewrap, user {self.user[2]}"
        if self.bwrap:
            return "bubblewrap"
        if self.user:
            return f"user {self.user[2]} (no bubblewrap)"
        return "none (--no-sandbox)"


def find_bwrap() -> str | None:
    """The absolute path of `bwrap` on PATH (the one every run then uses), or None."""
    found = shutil.which("bwrap")
    return str(Path(found).resolve()) if found else None


def _popen_user(user: tuple[int, int, str] | None) -> dict:
    return {} if user is None else {"user": user[0], "group": user[1], "extra_groups": []}


def bwrap_problem(bwrap: str | None = None, user: tuple[int, int, str] | None = None) -> str | None:
    """None when ``bwrap`` (default: the one on PATH) can run the sandbox here (as ``user``, if given), else why
    not (one line). It runs the options every graded run uses: sized tmpfs, a read-only /dev, new namespaces."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap runs on Linux only (this is {sys.platform})"
    bwrap = bwrap or find_bwrap()
    if bwrap is None:
        return "the `bwrap` command is not installed"
    cmd = bwrap_command(bwrap, ["/bin/sh", "-c", "exit 0"], workdir=None, read_only=[], env={},
                        tmpfs_bytes=1024**2 if sizes_tmpfs(bwrap) else None, python=False)
    try:
        probe = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                               **_popen_user(user))
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"`{bwrap}` did not start ({err})"
    if probe.returncode != 0:
        who = f" as user {user[2]}" if user else ""
        return (f"`{bwrap}` failed{who}: {probe.stderr.strip()[:200] or probe.returncode} "
                "(are user namespaces allowed?)")
    return None


# ------------------------------------------------------------------------------------------- bubblewrap


def sizes_tmpfs(bwrap: str) -> bool:
    """Whether this bubblewrap can bound a tmpfs's size (``--size``, bubblewrap 0.7 and newer). Without it the
    private /tmp and /dev/shm are still counted as memory by the watch; only the hard bound is missing."""
    try:
        done = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--size" in done.stdout + done.stderr


def python_paths() -> list[Path]:
    """The Python installation and the virtual environment the grader runs in (outside /usr, which is bound
    anyway), each as named and as really found on disk."""
    named = {Path(os.path.abspath(sys.base_prefix)), Path(os.path.abspath(sys.prefix)),
             Path(os.path.abspath(sys.executable)).parent}
    paths = set()
    for path in named:
        paths |= {path, path.resolve()}
    return sorted(p for p in paths if not str(p).startswith("/usr"))


def _binds(path: Path) -> list[tuple[str, str]]:
    """(source, destination) pairs that make ``path`` visible in the sandbox at its real location and, when it is
    reached through a symbolic link (a virtual environment in a linked folder, say), also where it is named."""
    named = Path(os.path.abspath(path))
    real = named.resolve()
    pairs = [(str(real), str(real))]
    if named != real:
        pairs.append((str(real), str(named)))
    return pairs


def system_dirs() -> list[str]:
    """bwrap arguments that show /bin, /lib, /lib64, /sbin, /lib32 and /libx32 as on this machine, read-only: as
    the same symbolic links where they are links (merged /usr), else as bound folders; the ones missing are left out."""
    args = []
    for name in ("bin", "lib", "lib64", "sbin", "lib32", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", str(path.readlink()), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def bwrap_command(bwrap: str, argv: list[str], *, workdir: Path | None, read_only: list[Path],
                  env: dict[str, str], tmpfs_bytes: int | None, python: bool = True) -> list[str]:
    """The bwrap command line that runs ``argv`` in ``workdir`` (writable; None: no folder of its own) with
    ``env`` only; its /tmp (holding HOME and TMPDIR, /tmp/home and /tmp/tmp) and /dev/shm are private tmpfs of
    ``tmpfs_bytes`` each (None: of the kernel's default size, for bubblewrap before 0.7, which has no --size)."""
    size = ["--size", str(tmpfs_bytes)] if tmpfs_bytes else []
    cmd = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
           "--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", *size, "--tmpfs", "/dev/shm",
           *size, "--tmpfs", "/tmp", "--dir", "/tmp/home", "--dir", "/tmp/tmp", "--ro-bind", "/usr", "/usr"]
    cmd += system_dirs()
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            cmd += ["--ro-bind", str(path), str(path)]
    seen = set()
    for path in [*(python_paths() if python else []), *read_only]:
        for source, dest in _binds(Path(path)):
            if dest not in seen:
                seen.add(dest)
                cmd += ["--ro-bind", source, dest]
    if workdir is not None:
        for source, dest in _binds(Path(workdir)):
            cmd += ["--bind", source, dest]
        cmd += ["--chdir", str(Path(os.path.abspath(workdir)))]
    # The sandbox's root becomes read-only (bwrap made the folders for the binds above in it; the mounts on it keep
    # their own modes): the run's folder and the private tmpfs are its only writable places.
    cmd += ["--remount-ro", "/"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return [*cmd, "--", *argv]


# ------------------------------------------------------------------------------------------ measuring


def _proc_stat(pid: int) -> tuple[int, float, int, str] | None:
    """(parent pid, CPU seconds, resident bytes, state) of a process, or None if it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (name) ": state ppid pgrp ... utime stime
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), rss, fields[0]


def _uid_of(pid: int) -> set[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return {int(x) for x in line.split()[1:]}
    except (OSError, ValueError):
        pass
    return set()


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def process_tree(root: int) -> dict[int, tuple[float, int]]:
    """(CPU seconds, resident bytes) of process ``root`` and each of its descendants, by pid (Linux ``/proc``;
    empty where there is none). Sandboxed processes are seen here with their pids outside the sandbox."""
    parent, usage = {}, {}
    for pid in _pids():
        stat = _proc_stat(pid)
        if stat is not None:
            parent[pid], usage[pid] = stat[0], (stat[1], stat[2])
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


def user_processes(uid: int) -> dict[int, tuple[float, int]]:
    """(CPU seconds, resident bytes) of every live process (not a zombie) whose real, effective or saved user
    is ``uid``."""
    found = {}
    for pid in _pids():
        if uid in _uid_of(pid) and (stat := _proc_stat(pid)) is not None and stat[3] != "Z":
            found[pid] = (stat[1], stat[2])
    return found


def folder_usage(root: Path, uid: int | None = None, stop_at: int = 10**9, skip: tuple[str, ...] = ()
                 ) -> tuple[int, int]:
    """(bytes allocated, entries) under ``root``, symbolic links not followed, folders in ``skip`` left out; only
    entries owned by ``uid`` if given. Stops counting entries at ``stop_at``."""
    total = entries = 0
    todo = [str(root)]
    while todo and entries < stop_at:
        try:
            with os.scandir(todo.pop()) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if entry.is_dir(follow_symlinks=False) and entry.path not in skip:
                        todo.append(entry.path)
                    if uid is None or st.st_uid == uid:
                        total += st.st_blocks * 512
                        entries += 1
        except OSError:
            continue
    return total, entries


def _tmpfs_mounts() -> set[str]:
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return set()
    return {line.split()[1] for line in lines if len(line.split()) > 2 and line.split()[2] == "tmpfs"}


def private_tmpfs(pids, outer: int) -> tuple[int, bool] | None:
    """(bytes used in the sandbox's private /tmp and /dev/shm together, whether one of them is full), read
    through ``/proc/PID/root`` of a process inside it whose mounts are set up (its /tmp and /dev/shm are other
    file systems than the grader's), or None before that."""
    outside = set()
    for mount in ("/tmp", "/dev/shm"):
        try:
            outside.add(os.stat(mount).st_dev)
        except OSError:
            pass
    for pid in sorted(p for p in pids if p != outer):
        used, full = 0, False
        for mount in ("tmp", "dev/shm"):
            try:
                if os.stat(f"/proc/{pid}/root/{mount}").st_dev in outside:
                    break
                st = os.statvfs(f"/proc/{pid}/root/{mount}")
            except OSError:
                break
            size = st.f_blocks * st.f_frsize
            used += (st.f_blocks - st.f_bfree) * st.f_frsize
            full |= st.f_bavail * st.f_frsize < min(size // 8, 4 * 1024**2)
        else:
            return used, full
    return None


# ---------------------------------------------------------------------------------------------- running


class Running:
    """The runs in progress, so that Ctrl-C can end them all."""

    procs: dict[subprocess.Popen, Isolation] = {}
    lock = threading.Lock()

    @classmethod
    def kill_all(cls) -> None:
        with cls.lock:
            items = list(cls.procs.items())
        for proc, isolation in items:
            kill(proc, isolation)


def kill_user(uid: int, gid: int) -> None:
    """End every process of user ``uid``: ``kill(-1, SIGKILL)`` sent *as that user* reaches each of them, those
    that left the grader's process tree included, and cannot be outrun by a fork; repeated until none is left."""
    for _ in range(100):
        if not user_processes(uid):
            return
        subprocess.run([PYTHON, "-S", "-c", "import os, signal\ntry:\n os.kill(-1, signal.SIGKILL)\n"
                        "except ProcessLookupError:\n pass"], user=uid, group=gid, extra_groups=[],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        time.sleep(0.05)
    raise RuntimeError(f"processes of user {uid} survived 100 rounds of kill(-1)")


def remove_user_files(uid: int, keep: tuple[str, ...] = (), roots=SHARED_WRITABLE) -> None:
    """Delete what user ``uid`` left in the shared writable folders, except under the folders in ``keep`` (its
    run is over: none of its processes is alive to race with this)."""
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root, topdown=False):
            if any(dirpath == k or dirpath.startswith(k + os.sep) for k in keep):
                continue
            for name in [*filenames, *dirnames]:
                path = os.path.join(dirpath, name)
                if path in keep:
                    continue
                try:
                    if os.lstat(path).st_uid == uid:
                        (os.rmdir if os.path.isdir(path) and not os.path.islink(path) else os.unlink)(path)
                except OSError:
                    pass


def kill(proc: subprocess.Popen, isolation: Isolation) -> None:
    """SIGKILL the run and every descendant (in bubblewrap, killing its first process ends its PID namespace),
    and every process of its user, if it has one of its own."""
    for pid in process_tree(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    if isolation.user:
        kill_user(isolation.user[0], isolation.user[1])


# Applies the resource limits that the kernel enforces, then runs the command: `python -S -c LAUNCHER LIMITS ...`.
LAUNCHER = """import json, os, resource, sys
for name, value in json.loads(sys.argv[1]).items():
    resource.setrlimit(getattr(resource, name), (value, value))
os.execv(sys.argv[2], sys.argv[2:])
"""


class Watch:
    """What a run uses, measured from outside: its processes, its in-memory temporary files, its folders."""

    def __init__(self, proc: subprocess.Popen, workdir: Path, limits: Limits, isolation: Isolation):
        self.proc, self.workdir, self.limits, self.isolation = proc, workdir, limits, isolation
        self.shared: list[tuple[str, bool]] = []  # (folder, in memory) it may write to besides its own
        if isolation.user and not isolation.bwrap:
            tmpfs = _tmpfs_mounts()
            self.shared = [(root, any(root == m or root.startswith(m + "/") for m in tmpfs))
                           for root in SHARED_WRITABLE if os.path.isdir(root)]
        self.history: collections.deque[tuple[float, dict[int, float]]] = collections.deque()
        self.last_walk, self.disk, self.files, self.tmpfs, self.tmpfs_full = -1e9, 0, 0, 0, False

    def processes(self) -> dict[int, tuple[float, int]]:
        tree = process_tree(self.proc.pid)
        if self.isolation.user and not self.isolation.bwrap:  # daemons that left the tree are still its user's
            tree.update(user_processes(self.isolation.user[0]))
        return tree

    def verdict(self, now: float) -> str | None:
        """None while within its limits, else "memory", "tmpfs", "disk", "files" or "stuck"."""
        limits, usage = self.limits, self.processes()
        if self.isolation.bwrap and (state := private_tmpfs(usage, self.proc.pid)):
            self.tmpfs, self.tmpfs_full = state
        if now - self.last_walk >= 1.0:  # walking folders costs more than reading /proc: once a second
            self.last_walk = now
            skip = (str(self.workdir),)
            self.disk, self.files = folder_usage(self.workdir, stop_at=limits.max_files + 1)
            if self.shared:
                in_memory = 0
                for root, is_tmpfs in self.shared:
                    size, count = folder_usage(Path(root), self.isolation.user[0], limits.max_files + 1, skip)
                    self.files += count
                    if is_tmpfs:
                        in_memory += size
                    else:
                        self.disk += size
                self.tmpfs = in_memory
        if sum(rss for _, rss in usage.values()) + self.tmpfs > limits.memory_bytes:
            return "memory"
        if self.tmpfs_full:
            return "tmpfs"
        if self.disk > limits.disk_bytes:
            return "disk"
        if self.files > limits.max_files:
            return "files"
        return self._stuck(now, {pid: cpu for pid, (cpu, _) in usage.items()})

    def _stuck(self, now: float, tree: dict[int, float]) -> str | None:
        """A kernel that can no longer answer (e.g. with ``isinstance`` or ``print`` replaced in builtins) neither
        finishes nor computes, and would otherwise sit out the whole time limit."""
        idle_s, history = self.limits.idle_s, self.history
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
        return None


def run(argv: list[str], *, workdir: Path, env: dict[str, str], log_path: Path, limits: Limits,
        isolation: Isolation, read_only: list[Path] = ()) -> tuple[int | str, str]:
    """Run ``argv`` in ``workdir`` under ``isolation`` and ``limits``; return (its exit code, or the limit that
    stopped it: "timeout", "memory", "tmpfs", "disk", "files" or "stuck"; the tail of its output, from
    ``log_path``). Every process it started has ended when this returns."""
    workdir = Path(workdir)
    if isolation.user:  # its folder, as the grader prepared it, becomes its user's
        for dirpath, dirnames, filenames in os.walk(workdir):
            for name in [".", *dirnames, *filenames]:
                os.chown(os.path.join(dirpath, name), isolation.user[0], isolation.user[1], follow_symlinks=False)
    if isolation.bwrap:
        cmd = bwrap_command(isolation.bwrap, argv, workdir=workdir, read_only=list(read_only), env=env,
                            tmpfs_bytes=limits.tmpfs_bytes if isolation.sized_tmpfs else None)
        env = {}
    else:
        cmd = argv
    rlimits = {"RLIMIT_CORE": 0, "RLIMIT_FSIZE": int(max(limits.disk_bytes, limits.tmpfs_bytes)) + 1}
    if isolation.user:
        rlimits["RLIMIT_NPROC"] = limits.processes
    cmd = [PYTHON, "-S", "-c", LAUNCHER, json.dumps(rlimits), *cmd]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, **_popen_user(isolation.user))
        with Running.lock:
            Running.procs[proc] = isolation
        try:
            code = _wait(proc, Watch(proc, workdir, limits, isolation), limits.timeout_s)
        finally:
            kill(proc, isolation)
            if isolation.user and not isolation.bwrap:
                remove_user_files(isolation.user[0], keep=(str(workdir), *map(str, read_only)))
            with Running.lock:
                Running.procs.pop(proc, None)
    size = log_path.stat().st_size
    with open(log_path, "rb") as f:
        f.seek(max(0, size - 3000))
        tail = f.read().decode("utf-8", "replace")
    return code, tail


def _wait(proc: subprocess.Popen, watch: Watch, timeout_s: float) -> int | str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return proc.wait(timeout=POLL_S)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if now >= deadline:
            return "timeout"
        if (verdict := watch.verdict(now)) is not None:
            return verdict
