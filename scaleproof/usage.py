"""What a process cost the machine, read from /proc: CPU seconds, resident memory, wall time.

Why: a measurement that takes a large share of a 2-core machine changes what it measures. The
evidence records the chaos process' own cost (the recorder's watches run in it as threads) and the
load generator's (Locust, a subprocess), so the report can say how much of the machine they took.
Linux only; every reader returns None where /proc does not answer (another OS, a reaped process).
"""

from __future__ import annotations

import os
import time
from typing import TypedDict

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


def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _status_kib(pid: int | str, field: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def process_usage(pid: int | str = "self") -> ProcessUsage | None:
    """CPU seconds, wall seconds and memory of `pid` (default: this process); None when /proc has no
    such process. Fields of /proc/<pid>/stat after the command name: utime 14, stime 15, cutime 16,
    cstime 17, starttime 22 (clock ticks), numbered as in proc(5)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    tick = float(os.sysconf("SC_CLK_TCK"))
    utime, stime, cutime, cstime = (int(fields[i - 3]) for i in (14, 15, 16, 17))
    started = int(fields[22 - 3]) / tick
    boot = _boot_time()
    rss, peak = _status_kib(pid, "VmRSS"), _status_kib(pid, "VmHWM")
    return ProcessUsage(
        pid=os.getpid() if pid == "self" else int(pid),
        cores=machine_cores(),
        cpu_s=round((utime + stime) / tick, 2),
        children_cpu_s=round((cutime + cstime) / tick, 2),
        wall_s=round(time.time() - (boot + started), 2) if boot is not None else 0.0,
        rss_mib=round(rss / 1024, 1) if rss is not None else None,
        rss_peak_mib=round(peak / 1024, 1) if peak is not None else None,
    )
