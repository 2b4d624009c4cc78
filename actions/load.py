"""Start/stop the Locust load (a bounded subprocess) and collect its per-second stats.

`start_load` records the Locust pid in the run's undo plan at once, so every ending (rollback,
exit hook, `scaleproof recover`) can stop it; Locust also stops by itself after `run_time_s`.
Stats land in `<run_dir>/load_*` (CSV history with `--csv-full-history`, final JSON, log).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from loadgen import runner
from loadgen.spec import check_load
from scaleproof import procgroup, rundir, undo, usage
from scaleproof.errors import LoadError
from scaleproof.waiting import wait_until

__all__ = ["collect_stats", "start_load", "stop_load", "wait_for_users"]

logger = logging.getLogger(__name__)

PREFIX = "load"


def start_load(
    users: int = 10,
    spawn_rate: float = 5.0,
    run_time_s: int = 120,
    host: str | None = None,
    allowed_hosts: list[str] | str | None = None,
    locustfile: str | None = None,
    requests: str | None = None,
    load_env: Any = None,
    phase: str | None = None,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Start Locust headless (`users` users, bounded by `run_time_s` seconds) against `host`
    (default configuration `app_url`) with the team's locustfile or request mix (`check_load`).
    `phase` (e.g. `faults`) moves the run's phase once the load runs (see `probes.claims`).
    Returns the handle `{"pid", "csv_prefix", "started", ...}`."""
    undo.check_abort("starting load")
    path = rundir.resolve(run_dir, configuration)
    host = host or (configuration or {}).get("app_url")
    if not host:
        raise LoadError("configuration `app_url` (SCALEPROOF_APP_URL) is required: where the load goes")
    spec = check_load(locustfile, requests, load_env, configuration, import_check=False)
    prev = (undo.load_plan(path) or {}).get("load") or {}
    if prev.get("pid") and procgroup.alive(int(prev["pid"])):
        raise LoadError(f"a load (pid {prev['pid']}) is already running for this run; stop it first")
    handle = runner.start(
        str(host),
        int(users),
        float(spawn_rate),
        int(run_time_s),
        str(path / PREFIX),
        locustfile=spec["locustfile"],
        allowed_hosts=runner.allowed_hosts(configuration, allowed_hosts),
        env=spec["env"],
    )
    undo.record_load(handle, path)
    rundir.append_event(
        path,
        {
            "t": round(handle["started"], 6),
            "source": "action",
            "kind": "Load",
            "type": "STARTED",
            "users": int(users),
            "pid": handle["pid"],
            "host": host,
            "load": spec["source"],
        },
    )
    if phase:
        rundir.set_phase(path, phase)
    logger.info("started Locust pid %s: %s users against %s for %s s", handle["pid"], users, host, run_time_s)
    return dict(handle)


def stop_load(
    grace_s: float = 15.0, run_dir: str | None = None, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Stop the run's Locust (SIGTERM to its group, SIGKILL after `grace_s` s); idempotent.
    Returns the stop result plus `seconds` of per-second stats collected."""
    path = rundir.resolve(run_dir, configuration)
    plan = undo.load_plan(path)
    pid = ((plan or {}).get("load") or {}).get("pid")
    if not pid:
        return {"stopped": False, "reason": "no load was started in this run"}
    # what the load generator took from the machine, read before the stop reaps it (a process that
    # already ended and was reaped has nothing left to read: None)
    cost = usage.process_usage(int(pid))
    res = runner.stop(int(pid), grace_s=grace_s)
    rundir.append_event(
        path,
        {
            "t": round(time.time(), 6),
            "source": "action",
            "kind": "Load",
            "type": "STOPPED",
            "pid": pid,
            "result": res,
            "usage": cost,
        },
    )
    res["seconds"] = len(runner.per_second(str(path / PREFIX)))
    return res


def collect_stats(
    run_dir: str | None = None, configuration: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Per-second load stats of the run (see `loadgen.runner.per_second`)."""
    return [dict(r) for r in runner.per_second(str(rundir.resolve(run_dir, configuration) / PREFIX))]


def wait_for_users(
    users: int,
    timeout_s: float = 60.0,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    sleep=None,
    clock=time.monotonic,
) -> dict[str, Any]:
    """Block until Locust reports `users` running users (CSV history), at most `timeout_s` seconds.
    Returns `{"users", "waited_s"}`; raises DeadlineExceeded."""
    path = rundir.resolve(run_dir, configuration)

    def running() -> int:
        hist = runner.read_history(str(path / PREFIX))
        return int(float(hist[-1].get("User Count") or 0)) if hist else 0

    waited = wait_until(
        running,
        timeout_s,
        0.5,
        done=lambda n: n >= users,
        abort=lambda: undo.check_abort("waiting for Locust users"),
        wake=undo.ABORT,
        on_timeout=lambda n: (
            f"Locust reached {n} of {users} users within {timeout_s} s (see {path}/load_locust.log)"
        ),
        clock=clock,
        sleep=sleep,
    )
    return {"users": waited.value, "waited_s": waited.waited_s}
