"""scaleproof.usage reads what a real process cost from /proc (no fakes: this machine's kernel)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from scaleproof import usage

pytestmark = pytest.mark.unit

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\ntime.sleep(30)\n"


def test_a_busy_child_shows_its_cpu_seconds_and_memory() -> None:
    child = subprocess.Popen([sys.executable, "-c", BURN])
    try:
        deadline = time.monotonic() + 20
        u = usage.process_usage(child.pid)
        while u is not None and u["cpu_s"] < 0.4 and time.monotonic() < deadline:
            time.sleep(0.1)
            u = usage.process_usage(child.pid)
        assert u is not None and u["pid"] == child.pid
        assert 0.4 <= u["cpu_s"] < 5.0, u
        assert 0 < u["wall_s"] < 60 and u["rss_mib"] and u["rss_peak_mib"] >= u["rss_mib"] > 1
    finally:
        child.kill()
        child.wait()
    assert usage.process_usage(child.pid) is None, "a reaped process has nothing left to read"


def test_self_and_cores() -> None:
    me = usage.process_usage()
    assert me is not None and me["cpu_s"] > 0 and me["rss_peak_mib"] and me["rss_peak_mib"] > 10
    assert 1 <= usage.machine_cores() <= 1024


def test_a_zombie_keeps_its_cpu_seconds_but_has_no_memory_left() -> None:
    """psutil reads a zombie's status and times; its memory is gone (None, not 0)."""
    child = subprocess.Popen([sys.executable, "-c", BURN.replace("time.sleep(30)", "")])
    deadline = time.monotonic() + 20
    u = usage.process_usage(child.pid)
    while u is not None and u.get("rss_mib") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
        u = usage.process_usage(child.pid)
    try:
        assert u is not None and u["rss_mib"] is None and u["rss_peak_mib"] is None
        assert u["cpu_s"] >= 0.4, u
    finally:
        child.wait()


def test_a_process_named_with_spaces_and_parentheses_is_read_right() -> None:
    """The command name in /proc/<pid>/stat may hold spaces and ')' (psutil parses it for us)."""
    code = "import ctypes, time; ctypes.CDLL(None).prctl(15, b'a) b (c', 0, 0, 0); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"/proc/{child.pid}/comm") as fh:
                if fh.read().strip() == "a) b (c":
                    break
            time.sleep(0.05)
        u = usage.process_usage(child.pid)
        assert u is not None and u["pid"] == child.pid and 0 <= u["wall_s"] < 30 and u["rss_mib"]
    finally:
        child.kill()
        child.wait()
