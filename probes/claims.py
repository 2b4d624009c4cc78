"""Claims checked inside the steady-state hypothesis, with a threshold per phase of the run.

Chaos Toolkit has one hypothesis for the gate (before the method), the continuous samples (during)
and the deviation check (after). Our claims are not the same in each: hpa-scale's "≥ 3 Ready" is
false at rest and while the HPA is still reacting, and must be true once the method has waited for
it (the load is still on then: it stops in the rollbacks). The `scaleproof.evidence` control records
the run's phase (`before` → `method` → `after`; an action that starts the faults moves it to
`faults`), and these tolerance functions pick their threshold from it. An after-hypothesis that
fails makes `chaos run` end `deviated` with exit code 1 on its own.

Every check is appended to `<run_dir>/claims.jsonl` (phase, value, threshold, met), so the report
can say where each claim was checked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scaleproof import rundir

__all__ = ["at_least_in_phase", "phase"]

logger = logging.getLogger(__name__)


def run_dir_of(configuration: Mapping[str, Any] | None) -> Path | None:
    """The run directory of the provider's configuration (None outside a run): resolved once per
    provider call, then handed down."""
    try:
        return rundir.resolve(None, configuration, create=False)
    except Exception:
        return None


def phase(configuration: Mapping[str, Any] | None = None) -> str:
    """The run's current phase (`before` when no run directory is known)."""
    return phase_of(run_dir_of(configuration))


def phase_of(run: Path | None) -> str:
    try:
        return str(rundir.read_phase(run)) if run is not None else "before"
    except Exception:
        return "before"


def _threshold(thresholds: Mapping[str, Any], current: str) -> float | None:
    """The threshold of `current`; `faults` falls back to `method`, which falls back to `before`."""
    for key in {"faults": ("faults", "method", "before"), "method": ("method", "before")}.get(
        current, (current,)
    ):
        if thresholds.get(key) not in (None, ""):
            return float(thresholds[key])
    return None


def _record(run: Path | None, rec: dict[str, Any]) -> None:
    try:
        if run is not None and run.is_dir():
            rundir.append_event(run, rec, name="claims.jsonl")
    except Exception as exc:  # a claim is still judged when it cannot be recorded
        logger.debug("claim not recorded: %s", exc)


def record_check(
    run: Path | None,
    claim: str,
    value: Any,
    threshold: Any,
    met: bool,
    op: str = ">=",
    in_phase: str | None = None,
) -> None:
    """Append one check of `claim` to `<run>/claims.jsonl` (`run`: `run_dir_of(configuration)`), in
    `in_phase` (default: the run's current phase; probes that judge their claim themselves, e.g. the
    shard spread, leave it to this)."""
    _record(
        run,
        {
            "t": round(time.time(), 6),
            "claim": claim,
            "phase": in_phase if in_phase is not None else _sample_phase(run),
            "value": value,
            "op": op,
            "threshold": threshold,
            "met": met,
        },
    )


def _sample_phase(run: Path | None) -> str:
    """The phase whose threshold judges this check. Chaos Toolkit runs the continuous samples in a
    pool thread and the gate and the after-hypothesis in the main thread; a sample still in flight
    when the method ends would read `after` although its value was read during the method (seen:
    hpa-scale's "≥ 3 Ready" judged on a count of 2 read just before the third replica was Ready).
    Off the main thread, `after` is therefore judged as the method's last phase: `faults` when the
    run entered it, else `method` (vector-shards injects no fault: its samples are not "faults")."""
    current = phase_of(run)
    if current == "after" and threading.current_thread() is not threading.main_thread():
        return "faults" if "faults" in _reached(run) else "method"
    return current


def _reached(run: Path | None) -> list[str]:
    """The phases the run entered (`rundir.set_phase` keeps them); a run directory written before
    that list existed counts as having had its faults, as it was judged then."""
    rec = rundir.read_phase(run, full=True) if run is not None else {}
    return list(rec.get("reached") or ["faults"])


def _check(claim: str, value: Any, op: str, thresholds: Mapping[str, Any], configuration: Any) -> bool:
    run = run_dir_of(configuration)
    current = _sample_phase(run)
    limit = _threshold(thresholds, current)
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError):
        number = None
    if limit is None:
        met = True  # no claim in this phase
    elif number is None:
        met = False
    else:
        met = number >= limit if op == ">=" else number <= limit
    record_check(run, claim, value, limit, met, op, in_phase=current)
    return met


def at_least_in_phase(
    value: Any = None,
    claim: str = "value",
    before: Any = None,
    method: Any = None,
    faults: Any = None,
    after: Any = None,
    fault_allowance: Any = 0,
    configuration: Mapping[str, Any] | None = None,
) -> bool:
    """Tolerance: `value >= threshold` of the run's phase (an empty threshold claims nothing there).
    During the faults the threshold is lowered by `fault_allowance` (e.g. the pods killed at once:
    only a drop below what the fault itself explains is a breach)."""
    if faults not in (None, ""):
        faults = float(faults) - float(fault_allowance or 0)
    limits = {"before": before, "method": method, "faults": faults, "after": after}
    return _check(claim, value, ">=", limits, configuration)
