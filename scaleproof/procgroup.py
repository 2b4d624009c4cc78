"""The process groups a run starts (Locust, by `loadgen.runner`) and how to stop one safely.

In the core, not in `loadgen`, because the undo plan (`scaleproof.undo`) must stop a run's load after
a crash or at exit without importing a provider. A group is stopped with SIGTERM (Locust then writes
its final stats), SIGKILL after a grace period; a pid this process did not start is signalled only
when it still leads its own group and runs the expected command (pid reuse guard).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

from scaleproof.waiting import wait_until

__all__ = ["CHILDREN", "alive", "stop"]

#: pid -> Popen of every group leader this process started (reaped by `stop`)
CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def alive(pid: int) -> bool:
    """The process runs (a zombie of another parent counts as gone)."""
    import psutil

    proc = CHILDREN.get(pid)
    if proc is not None:
        return proc.poll() is None
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _leads_group_running(pid: int, command: str) -> bool:
    """Guard against pid reuse: the process must lead its own group and run `command`."""
    import psutil

    try:
        return command in " ".join(psutil.Process(pid).cmdline()) and os.getpgid(pid) == pid
    except (psutil.Error, OSError):
        return False


def stop(
    pid: int, grace_s: float = 15.0, sleep=time.sleep, clock=time.monotonic, command: str = "locust"
) -> dict[str, Any]:
    """SIGTERM the process group `pid`, SIGKILL after `grace_s` seconds. Idempotent.

    Returns `{"stopped": bool, "signal": "SIGTERM" | "SIGKILL" | None, "exit_code": int | None,
    "reason"?: str}`."""
    if not alive(pid):
        proc = CHILDREN.pop(pid, None)
        return {
            "stopped": False,
            "signal": None,
            "exit_code": proc.returncode if proc else None,
            "reason": "not running (already finished or stopped)",
        }
    if pid not in CHILDREN and not _leads_group_running(pid, command):
        return {
            "stopped": False,
            "signal": None,
            "exit_code": None,
            "reason": f"pid {pid} is not a {command.capitalize()} process group leader: not signalling it",
        }
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return {"stopped": False, "signal": None, "exit_code": None, "reason": "vanished"}
    sig = "SIGTERM"
    if not wait_until(lambda: not alive(pid), grace_s, 0.1, clock=clock, sleep=sleep).done:
        sig = "SIGKILL"
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_until(lambda: not alive(pid), 5.0, 0.05, clock=clock, sleep=sleep)
    proc = CHILDREN.pop(pid, None)
    code = proc.wait(timeout=5) if proc is not None else None
    return {"stopped": True, "signal": sig, "exit_code": code}
