"""What a process cost the machine: CPU seconds, resident memory, wall time (psutil; the resident
high-water mark from /proc, which psutil does not read).

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


def _status_kib(pid: int, field: str) -> float | None:
    """A `/proc/<pid>/status` field in KiB. Kept for VmHWM, the resident high-water mark: psutil has
    no reading of it (its `memory_full_info` gives uss/pss/swap, not the peak)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def process_usage(pid: int | str = "self") -> ProcessUsage | None:
    """CPU seconds, wall seconds and memory of `pid` (default: this process), read with psutil
    (`cpu_times`, `create_time`, `memory_info`), the peak from /proc; None when there is no such
    process. A zombie has CPU times but no memory (None)."""
    import psutil

    try:
        proc = psutil.Process(None if pid == "self" else int(pid))
        with proc.oneshot():
            cpu, created = proc.cpu_times(), proc.create_time()
            zombie = proc.status() == psutil.STATUS_ZOMBIE
            rss = None if zombie else proc.memory_info().rss / 1024
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    peak = None if zombie else _status_kib(proc.pid, "VmHWM")
    return ProcessUsage(
        pid=proc.pid,
        cores=machine_cores(),
        cpu_s=round(cpu.user + cpu.system, 2),
        children_cpu_s=round(cpu.children_user + cpu.children_system, 2),
        wall_s=round(time.time() - created, 2),
        rss_mib=round(rss / 1024, 1) if rss is not None else None,
        rss_peak_mib=round(peak / 1024, 1) if peak is not None else None,
    )
