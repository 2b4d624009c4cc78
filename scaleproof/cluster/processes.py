"""Host processes of the local cluster: start detached with a log file and a pid file, wait until
healthy, stop by pid. Everything the cluster starts is found again through its pid file, so `down`
stops exactly what `up` started and nothing else.
"""

from __future__ import annotations

import logging
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scaleproof.procgroup import alive

__all__ = ["Component", "ComponentFailed", "start", "stop", "pid_of", "http_ok", "wait_until"]

log = logging.getLogger(__name__)


class ComponentFailed(RuntimeError):
    """A component did not start or become healthy; names it and its log file."""

    def __init__(self, name: str, log_file: Path, why: str) -> None:
        tail = ""
        try:
            lines = log_file.read_text(errors="replace").splitlines()[-15:]
            tail = "\n    ".join(lines)
        except OSError:
            pass
        super().__init__(f"{name} failed: {why}\n  log: {log_file}\n  last lines:\n    {tail}")
        self.name = name
        self.log_file = log_file


@dataclass
class Component:
    name: str
    argv: list[str]
    health: Callable[[], bool]
    timeout_s: float = 60.0
    env: dict[str, str] | None = None
    #: run inside this network namespace (a bind-mounted nsfs file such as /run/netns/NAME)
    netns: Path | None = None
    #: cgroup directories (v1, one per hierarchy) the process joins before it runs: its children
    #: (containerd's shims) are born there too
    cgroups: tuple[Path, ...] = ()


_CLONE_NEWNET = 0x40000000


def _enter(netns: Path | None, cgroups: tuple[Path, ...]) -> Callable[[], None] | None:
    """A preexec function: join the cgroups, then the network namespace (in the child, before exec)."""
    if netns is None and not cgroups:
        return None

    def enter() -> None:
        import ctypes

        for cg in cgroups:
            (cg / "cgroup.procs").write_text(f"{os.getpid()}\n")
        if netns is not None:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(netns, os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {netns}: {os.strerror(err)}")
            finally:
                os.close(fd)

    return enter


def pid_of(pid_dir: Path, name: str) -> int | None:
    """The pid of a running component, or None (stale pid files are ignored)."""
    pf = pid_dir / f"{name}.pid"
    try:
        pid = int(pf.read_text().strip())
    except (OSError, ValueError):
        return None
    # gone or a zombie: not running (a process of another user counts as running, e.g. `cluster
    # status` run without sudo against a cluster started as root; the cmdline check below decides)
    if not alive(pid):
        return None
    # a recycled pid would have another command line
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return None
    expected = (pid_dir / f"{name}.exe").read_text().strip() if (pid_dir / f"{name}.exe").exists() else ""
    if expected and cmd != expected:
        return None
    return pid


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval_s)
    return check()


def start(comp: Component, pid_dir: Path, log_dir: Path) -> int:
    """Start `comp` detached (own session) unless already running and healthy; wait for health."""
    pid_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = log_dir / f"{comp.name}.log"
    running = pid_of(pid_dir, comp.name)
    # a process started with other flags (an older layout, another node count) is restarted
    if running is not None and _cmdline(running) == comp.argv and comp.health():
        return running
    if running is not None:
        stop(comp.name, pid_dir)
    if not Path(comp.argv[0]).exists():
        raise ComponentFailed(comp.name, log_file, f"binary {comp.argv[0]} does not exist")
    with log_file.open("ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(comp.argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            comp.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(comp.env or {})},
            preexec_fn=_enter(comp.netns, comp.cgroups),  # before exec, in the child
        )
    (pid_dir / f"{comp.name}.pid").write_text(f"{proc.pid}\n")
    (pid_dir / f"{comp.name}.exe").write_text(comp.argv[0] + "\n")

    def healthy() -> bool:
        if proc.poll() is not None:
            raise ComponentFailed(comp.name, log_file, f"exited with code {proc.returncode}")
        return comp.health()

    if not wait_until(healthy, comp.timeout_s):
        raise ComponentFailed(comp.name, log_file, f"not healthy after {comp.timeout_s:.0f} s")
    return proc.pid


def stop(name: str, pid_dir: Path, grace_s: float = 10.0) -> bool:
    """SIGTERM the component's process group, SIGKILL after `grace_s`; True if something was stopped."""
    pid = pid_of(pid_dir, name)
    for suffix in (".pid", ".exe"):
        (pid_dir / f"{name}{suffix}").unlink(missing_ok=True)
    if pid is None:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        # reap if it is our child; a zombie of another parent has exited: the machine's init may
        # reap it seconds later (measured here: ~2 s a process, 30 s of a 3-node `cluster down`)
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def http_ok(
    url: str, *, ca: Path | None = None, cert: tuple[Path, Path] | None = None, timeout_s: float = 2.0
) -> bool:
    """True when GET url answers 200 (TLS verified against `ca` when given)."""
    ctx = None
    if url.startswith("https"):
        ctx = ssl.create_default_context(cafile=str(ca)) if ca else ssl._create_unverified_context()
        if cert:
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=ctx) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False
