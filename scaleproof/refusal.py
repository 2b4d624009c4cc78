"""`chaos run` refuses what `scaleproof validate` refuses, before the first change (issue 22).

Chaos Toolkit loads the configuration before any scaleproof code runs; a value of the wrong type is
refused there by `scaleproof.validate.install_chaoslib_guard` (chaos run exits 1, no journal). Ranges
and cross-field rules (kills ≥ 1, kill_count ≤ replicas, positive durations, …) are checked here, from
the evidence control's `before_experiment_control`: the first scaleproof hook of a run, before the
spec snapshot (the first Kubernetes call), the gate, the HPA pin, the load and any kill. A refused run
records `refused.json` (`scaleproof.stops`) and interrupts Chaos Toolkit: the journal is written with
status `interrupted`, the rollbacks have nothing to undo, and the verdict is `refused`.

`stop_before_next_activity` is the other half: a method step that found the system not ready for the
measurement (`precondition.json`, e.g. hpa-scale's replicas not at rest) stops the method before the
next step (the load), instead of letting Chaos Toolkit go on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scaleproof import stops, validate

__all__ = ["refuse_invalid_configuration", "stop_before_next_activity"]

logger = logging.getLogger("chaostoolkit")  # the `chaos` console shows this logger

_STOPPED: set[str] = set()  # run dirs whose method was already stopped (rollbacks must still run)


def _interrupt(message: str) -> None:
    from chaoslib.exceptions import InterruptExecution

    raise InterruptExecution(message)


def refuse_invalid_configuration(
    experiment: Mapping[str, Any] | None, configuration: Mapping[str, Any] | None, run_dir: Path | None
) -> None:
    """Raise InterruptExecution (after recording the refusal) when the loaded configuration breaks a
    rule of `scaleproof validate`; one log line per problem, as `scaleproof validate` prints them."""
    info = (experiment or {}).get("configuration") or {}
    problems = validate.configuration_refusal(info, configuration or {})
    if not problems:
        return
    stops.write_stop("refused", "configuration, before any change", problems, run_dir)
    for line in problems:
        logger.error("refused: %s", line)
    if run_dir is not None:
        _STOPPED.add(str(run_dir))
    _interrupt(
        f"run refused before any change: {len(problems)} configuration problem(s) "
        "(no HPA pin, no load, no kill); fix them, `scaleproof validate` lists the same"
    )


def stop_before_next_activity(run_dir: Path | None, in_method: bool) -> None:
    """Interrupt the method (once, main thread) when an earlier step recorded a stop."""
    if run_dir is None or not in_method or threading.current_thread() is not threading.main_thread():
        return
    if str(run_dir) in _STOPPED:
        return
    stop = stops.read_stop(run_dir)
    if not stop:
        return
    _STOPPED.add(str(run_dir))
    kind, record = next(iter(stop.items()))
    reason = "; ".join(record.get("problems") or []) or "no reason recorded"
    logger.error("stopping the method (%s at %s): %s", kind, record.get("stage"), reason)
    _interrupt(f"method stopped before its next step ({kind}): {reason}")
