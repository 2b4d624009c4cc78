"""scaleproof.procgroup on real processes (psutil underneath): what counts as alive, and the pid-reuse
guard that lets it signal only a group leader running the expected command."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from scaleproof import procgroup

pytestmark = pytest.mark.unit


def _wait_zombie(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return
        time.sleep(0.05)
    raise AssertionError(f"{pid} did not become a zombie")


def test_a_zombie_not_started_by_us_counts_as_gone_and_a_reaped_pid_too() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # not in CHILDREN: read through psutil
    _wait_zombie(child.pid)
    assert procgroup.alive(child.pid) is False
    child.wait()
    assert procgroup.alive(child.pid) is False
    assert procgroup.alive(os.getpid()) is True


def test_the_guard_wants_a_group_leader_running_the_command() -> None:
    leader = subprocess.Popen(["sleep", "30"], start_new_session=True)
    member = subprocess.Popen(["sleep", "30"])  # in our process group, not leading one
    try:
        assert procgroup._leads_group_running(leader.pid, "sleep") is True
        assert procgroup._leads_group_running(leader.pid, "locust") is False, "another command"
        assert procgroup._leads_group_running(member.pid, "sleep") is False, "not a group leader"
        res = procgroup.stop(member.pid, command="sleep")
        assert res["stopped"] is False and "not a Sleep process group leader" in res["reason"]
        assert member.poll() is None, "nothing was signalled"
    finally:
        for p in (leader, member):
            p.kill()
            p.wait()
    assert procgroup._leads_group_running(leader.pid, "sleep") is False, "a reaped pid"
