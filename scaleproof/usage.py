"""What a process cost the machine: CPU seconds, resident memory, wall time (psutil), and its peak
resident memory (VmHWM, read from /proc: psutil has no reading of it).

Why: a measurement that takes a large share of a 2-core machine changes what it measures. The
evidence records the chaos process' own cost (the recorder's watches run in it as threads) and the
load generator's (Locust, a subprocess), so the report can say how much of the machine they took.
Every reader returns None where the process is gone (a reaped process) or cannot be read.

psutil rather than our own /proc parser (issue 21): measured on this machine with timeit (5,000 calls
each, the test process itself), one reading costs 121 us with psutil (`oneshot()` plus the VmHWM
line) against 144 us by hand, with the same figures; and psutil owns the /proc/<pid>/stat parsing
(command names with spaces or parentheses, clock ticks, boot time).
"""

from __future__ import annotations

import os
import time
from typing import TypedDict

import psutil

__all__ = ["ProcessUsage", "machine_cores", "process_usage"]


class ProcessUsage(TypedDict, total=False):
    pid: int
    cores: int  # CPUs this process may run on (machine_cores)
    cpu_s: float  # user + system of the process itself
    children_cpu_s: float  # user + system of its children that it has waited for
    wall_s: float  # since the process started
    rss_mib: float | None  # resident now (None for a zombie)
    rss_peak_mib: float | None  # high-water mark (VmHWM)


def machine_cores() -> int:
    """CPUs this process may run on (the share of the machine is taken against these)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _peak_kib(pid: int) -> float | None:
    """VmHWM of /proc/<pid>/status (kB): the peak resident set, which psutil does not read."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def process_usage(pid: int | str = "self") -> ProcessUsage | None:
    """CPU seconds, wall seconds and memory of `pid` (default: this process); None when there is no
    such process (or it cannot be read). A zombie has no memory left: its rss readings are None."""
    n = os.getpid() if pid == "self" else int(pid)
    try:
        proc = psutil.Process(n)
        with proc.oneshot():
            cpu = proc.cpu_times()
            started = proc.create_time()
            zombie = proc.status() == psutil.STATUS_ZOMBIE
            rss = None if zombie else proc.memory_info().rss / 1024
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    peak = None if zombie else _peak_kib(n)
    return ProcessUsage(
        pid=n,
        cores=machine_cores(),
        cpu_s=round(cpu.user + cpu.system, 2),
        children_cpu_s=round(cpu.children_user + cpu.children_system, 2),
        wall_s=round(time.time() - started, 2),
        rss_mib=round(rss / 1024, 1) if rss is not None else None,
        rss_peak_mib=round(peak / 1024, 1) if peak is not None else None,
    )
