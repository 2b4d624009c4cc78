"""Host processes: start detached with pid/log files, wait for health, find again by pid file, stop.

Real (tiny) processes in temporary directories; the cluster's own pid dir is never used.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scaleproof.cluster import processes
from scaleproof.cluster.processes import Component, ComponentFailed, http_ok, pid_of, start, stop, wait_until

pytestmark = pytest.mark.unit

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dirs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(pid_dir, log_dir); whatever a test left running is stopped through its pid file."""
    pid_dir, log_dir = tmp_path / "pids", tmp_path / "logs"
    yield pid_dir, log_dir
    for pf in pid_dir.glob("*.pid") if pid_dir.exists() else []:
        stop(pf.stem, pid_dir, grace_s=2)


def http_server(tmp_path: Path, name: str = "web") -> tuple[Component, int]:
    port = free_port()
    argv = [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    return Component(name, argv, lambda: http_ok(f"http://127.0.0.1:{port}/", timeout_s=1), timeout_s=5), port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/cmdline").read_bytes() != b""  # a zombie has an empty cmdline


def test_start_find_restart_idempotently_and_stop(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    pid_dir, log_dir = dirs
    comp, port = http_server(tmp_path)
    pid = start(comp, pid_dir, log_dir)
    assert alive(pid)
    assert http_ok(f"http://127.0.0.1:{port}/")
    assert (pid_dir / "web.pid").read_text() == f"{pid}\n"
    assert (pid_dir / "web.exe").read_text() == f"{PY}\n"
    assert pid_of(pid_dir, "web") == pid
    assert os.getpgid(pid) == pid  # own session: stop() can signal the whole group

    assert start(comp, pid_dir, log_dir) == pid  # already running and healthy: nothing started
    log = (log_dir / "web.log").read_text()
    assert log.count("starting:") == 1 and "http.server" in log

    assert stop("web", pid_dir, grace_s=4) is True
    assert not alive(pid)
    assert not (pid_dir / "web.pid").exists() and not (pid_dir / "web.exe").exists()
    assert pid_of(pid_dir, "web") is None
    assert stop("web", pid_dir) is False  # nothing left to stop


def test_a_running_but_unhealthy_component_is_replaced(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    pid_dir, log_dir = dirs
    comp, port = http_server(tmp_path)
    first = start(comp, pid_dir, log_dir)
    checks: list[bool] = []

    def flaky() -> bool:  # unhealthy when start() looks at the running one, healthy afterwards
        checks.append(True)
        return len(checks) > 1 and http_ok(f"http://127.0.0.1:{port}/", timeout_s=1)

    second = start(Component("web", comp.argv, flaky, timeout_s=5), pid_dir, log_dir)
    assert second != first
    assert not alive(first)
    assert pid_of(pid_dir, "web") == second
    assert (log_dir / "web.log").read_text().count("starting:") == 2


def test_a_component_that_exits_at_once_names_itself_and_its_log(dirs: tuple[Path, Path]) -> None:
    pid_dir, log_dir = dirs
    argv = [PY, "-c", "import sys; print('fatal: bad flag --frobnicate', flush=True); sys.exit(3)"]
    with pytest.raises(ComponentFailed) as err:
        start(Component("crasher", argv, lambda: False, timeout_s=4), pid_dir, log_dir)
    exc = err.value
    assert exc.name == "crasher"
    assert exc.log_file == log_dir / "crasher.log"
    msg = str(exc)
    assert msg.startswith("crasher failed: exited with code 3")
    assert str(log_dir / "crasher.log") in msg
    assert "fatal: bad flag --frobnicate" in msg  # the log tail
    assert pid_of(pid_dir, "crasher") is None  # its pid file is stale now


def test_a_component_that_never_becomes_healthy(dirs: tuple[Path, Path]) -> None:
    pid_dir, log_dir = dirs
    argv = [PY, "-c", "import time; time.sleep(30)"]
    with pytest.raises(ComponentFailed, match=r"sleeper failed: not healthy after 1 s"):
        start(Component("sleeper", argv, lambda: False, timeout_s=0.6), pid_dir, log_dir)
    # still running and findable, so `down` can stop it
    pid = pid_of(pid_dir, "sleeper")
    assert pid is not None and alive(pid)
    assert stop("sleeper", pid_dir, grace_s=4) is True
    assert not alive(pid)


def test_a_missing_binary(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    pid_dir, log_dir = dirs
    comp = Component("ghost", [str(tmp_path / "no-such-binary"), "--flag"], lambda: True)
    with pytest.raises(ComponentFailed, match=r"ghost failed: binary .*no-such-binary does not exist") as err:
        start(comp, pid_dir, log_dir)
    assert err.value.log_file == log_dir / "ghost.log"
    assert not (pid_dir / "ghost.pid").exists()


def test_the_log_tail_is_the_last_fifteen_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(40)))
    msg = str(ComponentFailed("x", log, "why"))
    assert "line 39" in msg and "line 25" in msg and "line 24" not in msg
    assert "last lines" in str(ComponentFailed("y", tmp_path / "missing.log", "why"))


# --- pid_of -----------------------------------------------------------------------------------------


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process of PY; waits for it to talk, since /proc/<pid>/cmdline is empty during exec."""
    code = "import time; print('ready', flush=True); time.sleep(60)"
    proc = subprocess.Popen([PY, "-c", code], start_new_session=True, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    yield proc
    proc.kill()
    proc.wait(timeout=5)


def write_pid(pid_dir: Path, name: str, pid: int | str, exe: str | None) -> None:
    pid_dir.mkdir(parents=True, exist_ok=True)
    (pid_dir / f"{name}.pid").write_text(f"{pid}\n")
    if exe is not None:
        (pid_dir / f"{name}.exe").write_text(exe + "\n")


def test_pid_of_a_live_process_with_the_expected_executable(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    write_pid(tmp_path, "x", sleeper.pid, PY)
    assert pid_of(tmp_path, "x") == sleeper.pid


def test_pid_of_ignores_a_recycled_pid(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    # the pid now belongs to another executable than the one we started
    write_pid(tmp_path, "etcd", sleeper.pid, "/var/cache/scaleproof/bin/etcd")
    assert pid_of(tmp_path, "etcd") is None


def test_pid_of_ignores_a_stale_pid(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    write_pid(tmp_path, "x", dead.pid, "true")
    assert pid_of(tmp_path, "x") is None


@pytest.mark.parametrize("content", ["", "not-a-pid", "12 34"])
def test_pid_of_ignores_a_garbled_pid_file(tmp_path: Path, content: str) -> None:
    write_pid(tmp_path, "x", content, PY)
    assert pid_of(tmp_path, "x") is None


def test_pid_of_without_a_pid_file(tmp_path: Path) -> None:
    assert pid_of(tmp_path / "nowhere", "x") is None


def test_pid_of_a_process_of_another_user(
    tmp_path: Path, sleeper: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cluster status` without sudo: signal 0 to a root process fails with EPERM, yet it runs."""
    real_kill = os.kill

    def kill(pid: int, sig: int) -> None:
        if pid == sleeper.pid and sig == 0:
            raise PermissionError(1, "Operation not permitted")
        real_kill(pid, sig)

    monkeypatch.setattr(processes.os, "kill", kill)
    write_pid(tmp_path, "ours", sleeper.pid, PY)
    assert pid_of(tmp_path, "ours") == sleeper.pid
    write_pid(tmp_path, "recycled", sleeper.pid, "/usr/bin/other")
    assert pid_of(tmp_path, "recycled") is None


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([PY, "-c", code], start_new_session=True, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"  # SIGTERM is ignored now
        write_pid(tmp_path, "stubborn", proc.pid, PY)
        assert stop("stubborn", tmp_path, grace_s=0.3) is True
        assert proc.wait(timeout=4) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait(timeout=5)


# --- helpers ---------------------------------------------------------------------------------------


def test_wait_until_returns_as_soon_as_the_check_passes() -> None:
    calls: list[int] = []
    assert wait_until(lambda: calls.append(1) or len(calls) >= 3, timeout_s=4, interval_s=0.01) is True
    assert len(calls) == 3


def test_wait_until_gives_up() -> None:
    calls: list[int] = []
    assert wait_until(lambda: calls.append(1) or False, timeout_s=0.05, interval_s=0.01) is False
    assert len(calls) >= 2  # checked again at the deadline


def test_http_ok(tmp_path: Path, dirs: tuple[Path, Path]) -> None:
    comp, port = http_server(tmp_path)
    start(comp, *dirs)
    assert http_ok(f"http://127.0.0.1:{port}/") is True
    assert http_ok(f"http://127.0.0.1:{port}/no-such-file") is False  # 404
    assert http_ok(f"http://127.0.0.1:{free_port()}/", timeout_s=1) is False  # nothing listens


# a parent that starts `sleep` in a session of its own, prints its pid, then never reaps it: the
# situation of every cluster component, whose parent is the machine's init (which reaps late)
UNREAPING_PARENT = """
import subprocess, sys, time
child = subprocess.Popen(["sleep", "60"], start_new_session=True)
print(child.pid, flush=True)
time.sleep(30)
"""


def test_stop_counts_a_zombie_of_another_parent_as_stopped(tmp_path: Path) -> None:
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    parent = subprocess.Popen([PY, "-c", UNREAPING_PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        (pid_dir / "sleeper.pid").write_text(str(pid))
        (pid_dir / "sleeper.exe").write_text("sleep")
        assert pid_of(pid_dir, "sleeper") == pid
        t0 = time.monotonic()
        assert stop("sleeper", pid_dir, grace_s=5)
        took = time.monotonic() - t0
        assert Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # not reaped: still a zombie
        assert took < 2, f"stop waited {took:.1f} s for a process that had exited"
        (pid_dir / "sleeper.pid").write_text(str(pid))
        assert pid_of(pid_dir, "sleeper") is None  # a zombie does not run
    finally:
        parent.kill()
        parent.wait()
