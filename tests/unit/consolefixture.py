"""Providers for the console-output test (test_console.py): a pod-kill-shaped run with no cluster.

The method calls the real progress code (`actions.killprogress.KillProgress`) for 10 kill rounds with
stand-in victims (their Kill lines written as `actions.pods` writes them, but no pod watch: the
evidence sees 10 kills and no replacement, so the verdict is a fail), while Locust's live CSV (written
here, one row per second) holds a failure in two of the kill windows. The continuous hypothesis
samples four probes every 0.05 s, like pod-kill's four.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from actions.killprogress import KillProgress
from scaleproof import rundir

HEADER = "Timestamp,User Count,Type,Name,Total Request Count,Total Failure Count\n"


def answer(value: Any = True) -> Any:
    return value


def ten_kills(kills: int = 10, gap_s: float = 1.0, configuration: Any = None) -> dict[str, Any]:
    """Kill rounds `gap_s` apart with stand-in victims, each back after `gap_s / 2`; Locust's live CSV
    gets one row per round (20 requests, a failure in rounds 4 and 8)."""
    run_dir = rundir.resolve(None, configuration)
    csv = Path(run_dir) / "load_stats_history.csv"
    reqs = fails = 0
    csv.write_text(HEADER + f"{int(time.time()) - 1},10,,Aggregated,0,0\n")
    reporter = KillProgress(kills, run_dir, ready=3)
    for i in range(kills):
        t_accepted = time.time()
        victim = {
            "name": f"orders-7d9f-{i:05d}",
            "uid": f"uid-{i}",
            "owner_uid": "rs-1",
            "t_accepted": t_accepted,
        }
        rundir.append_event(  # the Kill line `actions.pods` writes (no watch: no replacement is seen)
            run_dir,
            {"t": t_accepted, "t_request": t_accepted - 0.01, "source": "action", "kind": "Kill",
             "type": "EVICTION_ACCEPTED", "kill_id": f"kill-{i + 1}", "victim": victim},
        )  # fmt: skip
        reporter.killed([victim])
        reqs, fails = reqs + 20, fails + (1 if i in (3, 7) else 0)
        with csv.open("a") as fh:
            fh.write(f"{int(t_accepted) + 1},10,,Aggregated,{reqs},{fails}\n")
        time.sleep(gap_s / 2)
        reporter.recovered()
        time.sleep(gap_s / 2)
    reporter.flush()
    return {"kills": kills}


def not_at_rest(configuration: Any = None) -> None:
    """Stand-in for `actions.scaling.check_at_rest` finding 3 Ready pods where the HPA minimum is 1."""
    from scaleproof import stops
    from scaleproof.errors import ScaleproofError

    why = "not at rest when the load was about to start: 3 Ready of 3 pods, the HPA minimum is 1"
    stops.write_stop("precondition", "just before the load", [why], rundir.resolve(None, configuration))
    raise ScaleproofError(why)


def start_load(marker: str) -> bool:
    """Stand-in for the load: leaves a file, which must never exist after a failed precondition."""
    Path(marker).write_text("load started")
    return True
