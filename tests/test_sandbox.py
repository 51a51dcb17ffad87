"""Supervision of untrusted runs (tools/sandbox.py), on tiny child processes with small limits: each limit stops a
run with its own reason, every process a run started ends with it, and the sandbox starts the grader's Python
wherever it really lives. Fast: no notebook, no kernel."""

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from tools import sandbox

MB = 1024**2
SMALL = sandbox.Limits(timeout_s=60, memory_bytes=400 * MB, tmpfs_bytes=32 * MB, disk_bytes=40 * MB, max_files=500,
                       idle_s=60)


def _bwrap():
    """The bubblewrap isolation: these tests need it; outside CI they skip where it cannot run."""
    bwrap = sandbox.find_bwrap()
    problem = sandbox.bwrap_problem(bwrap)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must be able to run bubblewrap: {problem}")
        pytest.skip(f"bubblewrap cannot run here ({problem}): apt-get install bubblewrap")
    return sandbox.Isolation(bwrap=bwrap)


def _run(tmp_path, code, isolation, limits=SMALL, python=sys.executable):
    """Run Python ``code`` in a fresh folder; return (outcome, output tail, seconds)."""
    workdir = tmp_path / f"run-{time.monotonic_ns()}"
    workdir.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp/home", "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.monotonic()
    outcome, tail = sandbox.run([python, "-S", "-c", textwrap.dedent(code)], workdir=workdir, env=env,
                                log_path=tmp_path / "log.txt", limits=limits, isolation=isolation)
    return outcome, tail, time.monotonic() - start


@pytest.fixture
def own_user(monkeypatch):
    """(isolation as a user of its own without bubblewrap, a world-readable Python, a folder it can reach): the
    grader must be root, and the user must be able to run the interpreter (this one may live under /root)."""
    if os.geteuid() != 0:
        pytest.skip("running as a user of its own needs root (as on Gradescope)")
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        pytest.skip("no system Python in /usr/bin that another user can run")
    monkeypatch.setattr(sandbox, "PYTHON", python)
    uid = 61000 + (os.getpid() * 7 + time.monotonic_ns()) % 3000  # a user no process on this machine has
    assert not sandbox.user_processes(uid)
    base = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    os.chmod(base, 0o755)
    yield sandbox.Isolation(bwrap=None, user=(uid, uid, "test")), python, base
    shutil.rmtree(base, ignore_errors=True)


MARKER = "import sys; sys.argv.append('sandbox-test-daemon-{tag}')"
DAEMON = """
    import os, sys, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-S", "-c", "import time; time.sleep(120)", "{marker}"])
        os._exit(0)
    time.sleep(1)
    print("daemon started")
"""


def _alive(marker: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def test_a_run_that_ends_by_itself_gives_its_exit_code_and_output(tmp_path):
    outcome, tail, _ = _run(tmp_path, "print('hello from the sandbox'); raise SystemExit(7)", _bwrap())
    assert outcome == 7 and "hello from the sandbox" in tail


@pytest.mark.slow  # seconds of real processes: out of `make unit`, in `make test`
def test_the_time_limit_stops_an_endless_loop(tmp_path):
    outcome, _, seconds = _run(tmp_path, "while True: pass", _bwrap(), sandbox.Limits(timeout_s=2, idle_s=60))
    assert outcome == "timeout" and seconds < 15


@pytest.mark.slow  # seconds of real processes: out of `make unit`, in `make test`
def test_a_run_that_stopped_computing_is_stopped_as_stuck(tmp_path):
    outcome, _, seconds = _run(tmp_path, "import time; time.sleep(60)", _bwrap(),
                               sandbox.Limits(timeout_s=60, idle_s=2))
    assert outcome == "stuck" and seconds < 20


@pytest.mark.slow  # seconds of real processes: out of `make unit`, in `make test`
def test_the_memory_limit_counts_resident_memory(tmp_path):
    code = "import time\nhog = []\nfor _ in range(60):\n    hog.append(bytearray(20 * 2**20))\n    time.sleep(0.05)\n" \
           "time.sleep(30)"
    outcome, _, _ = _run(tmp_path, code, _bwrap(), dataclasses.replace(SMALL, memory_bytes=200 * MB))
    assert outcome == "memory"


@pytest.mark.parametrize("sized", [True, False], ids=["sized tmpfs", "bubblewrap without --size"])
def test_files_in_the_private_tmpfs_count_as_memory(tmp_path, sized):
    """tmpfs pages belong to no process: 100 MB written to /tmp and /dev/shm (each under its 64 MB size) by a
    process that itself holds little must still hit a 100 MB memory limit, also where bubblewrap is too old to
    bound a tmpfs's size (before 0.7: Ubuntu 22.04)."""
    code = """
        import time
        for folder in ("/tmp", "/dev/shm"):
            with open(folder + "/filler", "wb") as f:
                for _ in range(50):
                    f.write(b"x" * 2**20)
        time.sleep(30)
    """
    limits = sandbox.Limits(timeout_s=60, memory_bytes=100 * MB, tmpfs_bytes=64 * MB, idle_s=60)
    outcome, tail, _ = _run(tmp_path, code, dataclasses.replace(_bwrap(), sized_tmpfs=sized), limits)
    assert outcome == "memory", tail


def test_a_full_private_tmpfs_stops_the_run_with_its_reason(tmp_path):
    code = """
        import time
        try:
            with open("/tmp/filler", "wb") as f:
                for _ in range(100):
                    f.write(b"x" * 2**20)
        except OSError as err:
            print("write failed:", err)
        time.sleep(30)
    """
    outcome, tail, _ = _run(tmp_path, code, _bwrap())
    assert outcome == "tmpfs", tail


def test_bytes_written_into_the_run_folder_are_bounded(tmp_path):
    code = """
        import time
        for i in range(8):
            with open(f"part{i}", "wb") as f:
                f.write(b"x" * 10 * 2**20)
        time.sleep(30)
    """
    outcome, tail, _ = _run(tmp_path, code, _bwrap())
    assert outcome == "disk", tail


def test_one_file_cannot_outgrow_the_disk_limit_between_two_looks(tmp_path):
    """RLIMIT_FSIZE: the kernel refuses to write a file past the disk limit, however fast it is written."""
    code = """
        try:
            with open("big", "wb") as f:
                f.write(b"x" * 60 * 2**20)
        except OSError as err:
            print("refused:", err)
    """
    outcome, tail, _ = _run(tmp_path, code, _bwrap(), sandbox.Limits(disk_bytes=20 * MB, tmpfs_bytes=8 * MB))
    assert "refused: [Errno 27] File too large" in tail or outcome == "disk", (outcome, tail)


def test_the_number_of_files_is_bounded(tmp_path):
    code = "import time\nfor i in range(2000):\n    open(f'f{i}', 'w').close()\ntime.sleep(30)"
    outcome, _, _ = _run(tmp_path, code, _bwrap())
    assert outcome == "files"


def test_writes_outside_the_run_folder_are_refused(tmp_path):
    code = """
        import os
        for path in ("/usr/planted", "/planted", "/dev/planted", os.path.expanduser("~/ok"), "/tmp/tmp/ok"):
            try:
                open(path, "w").close()
                print("WROTE", path)
            except OSError as err:
                print("blocked", path, type(err).__name__)
    """
    outcome, tail, _ = _run(tmp_path, code, _bwrap())
    wrote = sorted(line.split()[1] for line in tail.splitlines() if line.startswith("WROTE"))
    assert outcome == 0 and wrote == ["/tmp/home/ok", "/tmp/tmp/ok"], tail


@pytest.mark.slow  # seconds of real processes: out of `make unit`, in `make test`
def test_a_double_forked_daemon_ends_with_its_run(tmp_path):
    marker = f"sandbox-test-daemon-{os.getpid()}-{time.monotonic_ns()}"
    outcome, tail, _ = _run(tmp_path, DAEMON.format(marker=marker), _bwrap())
    assert outcome == 0 and "daemon started" in tail
    time.sleep(0.5)
    assert _alive(marker) == [], "a daemon outlived its sandbox"


@pytest.mark.slow  # seconds of real processes: out of `make unit`, in `make test`
def test_without_bubblewrap_a_user_of_its_own_still_ends_every_process(own_user):
    """Gradescope's fallback where the container forbids user namespaces: a daemon that left the process tree
    is still its user's, and kill(-1) sent as that user ends it; what it left in /tmp is deleted."""
    isolation, python, base = own_user
    uid = isolation.user[0]
    marker = f"sandbox-test-daemon-{os.getpid()}-{time.monotonic_ns()}"
    code = textwrap.dedent(DAEMON.format(marker=marker))
    code += f"\nopen('/tmp/sandbox-test-left-behind-{uid}', 'w').close()\n"
    outcome, tail, _ = _run(base, code, isolation, python=python)
    assert outcome == 0 and "daemon started" in tail, tail
    assert _alive(marker) == [] and not sandbox.user_processes(uid)
    assert not Path(f"/tmp/sandbox-test-left-behind-{uid}").exists()


@pytest.mark.slow  # seconds of real processes: out of `make unit`, in `make test`
def test_without_bubblewrap_the_shared_tmpfs_counts_as_the_users_memory(own_user):
    isolation, python, base = own_user
    code = """
        import time
        with open("/dev/shm/sandbox-test-filler", "wb") as f:
            for _ in range(120):
                f.write(b"x" * 2**20)
        time.sleep(30)
    """
    limits = sandbox.Limits(timeout_s=60, memory_bytes=100 * MB, disk_bytes=400 * MB, idle_s=60)
    outcome, tail, _ = _run(base, code, isolation, limits, python=python)
    assert outcome == "memory", tail
    assert not Path("/dev/shm/sandbox-test-filler").exists()


def test_the_sandbox_runs_the_bwrap_that_the_check_found(tmp_path, monkeypatch):
    """Not whatever `bwrap` PATH names when a run starts: the path the pre-flight check resolved."""
    real = _bwrap().bwrap
    wrapper = tmp_path / "bin" / "bwrap"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\ntouch {tmp_path}/wrapper-used\nexec {real} \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    found = sandbox.find_bwrap()
    assert found == str(wrapper) and sandbox.bwrap_problem(found) is None
    monkeypatch.setenv("PATH", "/nowhere")  # what PATH names later does not matter
    outcome, _, _ = _run(tmp_path, "print('ok')", sandbox.Isolation(bwrap=found))
    assert outcome == 0 and (tmp_path / "wrapper-used").exists()


def test_a_virtual_environment_reached_through_a_symbolic_link_runs_in_the_sandbox(tmp_path):
    """The grader started as LINK/bin/python (a venv in a linked folder): the sandbox binds the venv both where it
    really is and where it is named, so the interpreter starts and finds its packages."""
    isolation = _bwrap()
    link = tmp_path / "linked-venv"
    link.symlink_to(Path(sys.prefix).resolve())
    python = link / "bin" / Path(sys.executable).name
    root = Path(__file__).resolve().parents[1]
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(root)!r})
        from pathlib import Path
        from tools import sandbox
        assert sys.prefix.startswith({str(link)!r}), sys.prefix
        work = Path({str(tmp_path)!r}) / "work"
        work.mkdir()
        code, tail = sandbox.run([sys.executable, "-c", "import numpy; print('numpy', numpy.__name__)"],
                                 workdir=work, env={{"PATH": "/usr/bin"}}, log_path=work.parent / "inner.log",
                                 limits=sandbox.Limits(timeout_s=60),
                                 isolation=sandbox.Isolation(bwrap={isolation.bwrap!r}))
        print("inner:", code, tail)
    """)
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=120, cwd="/")
    assert "inner: 0" in done.stdout and "numpy numpy" in done.stdout, done.stdout + done.stderr


def test_bind_pairs_name_the_real_path_and_the_linked_one(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert sandbox._binds(tmp_path / "link") == [(str(real), str(real)), (str(real), str(tmp_path / "link"))]
    assert sandbox._binds(real) == [(str(real), str(real))]


def test_bwrap_problem_names_a_missing_bwrap(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "not installed" in sandbox.bwrap_problem()
