"""Why a run stopped before its measurement: written to the run directory by whoever stopped it, read
by the evidence control into the evidence block, judged by the verdict.

Two kinds, each one JSON file in `<run_dir>`:

* `refused.json` — the run's configuration or target is invalid: a value `scaleproof validate` refuses
  (range, cross-field rule, name, selector, misspelt variable), checked by the evidence control before
  anything else; or the gate's target check (`probes.target.target_ok`) found that the configured
  workload, HPA, Service, selector or load is not what the configuration says. Verdict `refused`
  (its own exit code): the configuration is wrong, not the application. An application that does not
  answer its readiness path at the gate is NOT refused: that stays a failed gate (verdict `fail`).
* `precondition.json` — the run was configured right but the system was not in the state the
  measurement needs (hpa-scale: the replicas are not at the HPA's resting count when the load is about
  to start). Verdict `inconclusive` with that reason; the load never started.

The evidence control turns either into an `InterruptExecution` at the end of the activity that wrote
it, so Chaos Toolkit skips the rest of the method (no load, no kill) and plays the rollbacks.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Literal

from scaleproof import rundir

__all__ = ["KINDS", "Stop", "read_stop", "write_stop"]

Stop = Literal["refused", "precondition"]
KINDS: tuple[Stop, ...] = ("refused", "precondition")


def _dir(run_dir: str | os.PathLike[str] | None) -> Path | None:
    p = run_dir or os.environ.get(rundir.ENV_VAR)
    return Path(p) if p else None


def write_stop(
    kind: Stop, stage: str, problems: list[str], run_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """Record why the run stops (`stage`: where it was found). The first stop of a run wins.
    Returns the record, None when there is no run directory (a provider called outside a run)."""
    d = _dir(run_dir)
    if d is None or not d.is_dir():
        return None
    existing = read_stop(d)
    if existing:
        return existing[next(iter(existing))]
    record = {"stage": stage, "problems": list(problems), "t": time.time()}
    rundir.write_json_atomic(d / f"{kind}.json", record)
    return record


def read_stop(run_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    """`{"refused": record}` or `{"precondition": record}` (empty when the run was not stopped)."""
    d = _dir(run_dir)
    if d is None:
        return {}
    for kind in KINDS:
        path = d / f"{kind}.json"
        if path.exists():
            try:
                return {kind: json.loads(path.read_text(encoding="utf-8"))}
            except ValueError:
                return {kind: {"stage": "unknown", "problems": [f"{path} is not valid JSON"]}}
    return {}
