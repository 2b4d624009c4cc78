"""The HPA's scale-down stabilisation window during hpa-scale: what is recorded, what is patched, what
restores it. Pure functions over the HPA's `spec` (autoscaling/v2); the action and the undo plan call
the API.

Why the window is set to 0 for the run (issue 22). An HPA keeps, in the controller's memory, its
recommendations of the last `behavior.scaleDown.stabilizationWindowSeconds` (default 300 s) and never
scales below the highest of them. An HPA created (or re-created) while its Deployment runs 3 replicas
holds 3 for 300 s: scaling the Deployment to the HPA minimum is undone within one sync (`New size: 3;
reason:` with an empty reason), and the measured "scale-up" would be that window, not the load.
Waiting for the window to drain instead costs up to the team's window (300 s by default, hours if
they set it so) on every run, and the controller's memory is not readable through the API, so the
wait could only be a guess. With the window at 0 the controller uses the current recommendation at
once (the stored ones are outside a 0 s window), the reset to the minimum holds, and the rise under
load is the metric's. The window stays 0 until the rollbacks: set back to 300 s before the load, the
old recommendations of the last 300 s (still in the controller's memory) would count again.

Only `scaleDown.stabilizationWindowSeconds` is changed. The API server fills a `behavior` that had
none with the defaults (scaleUp: 0 s window, 100 % or 4 pods per 15 s, the larger), which is the
behaviour an HPA without `behavior` has anyway: scale-up is untouched. The restore puts back exactly
what was there: no `behavior` at all, a `behavior` without `scaleDown`, or the window it had.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

__all__ = ["ScaleDownRecord", "current_window", "record", "restore_patch", "restored", "zero_patch"]

DEFAULT_WINDOW_S = 300  # the API server's default for scaleDown.stabilizationWindowSeconds


class ScaleDownRecord(TypedDict):
    behavior: bool  # spec.behavior was set
    scaleDown: bool  # spec.behavior.scaleDown was set
    stabilizationWindowSeconds: int | None  # its window (None: not set, the default applies)


def _scale_down(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    b = spec.get("behavior")
    return b.get("scaleDown") if isinstance(b, Mapping) else None


def record(spec: Mapping[str, Any]) -> ScaleDownRecord:
    """What the HPA has now, to put back after the run."""
    sd = _scale_down(spec)
    w = sd.get("stabilizationWindowSeconds") if isinstance(sd, Mapping) else None
    return {
        "behavior": isinstance(spec.get("behavior"), Mapping),
        "scaleDown": isinstance(sd, Mapping),
        "stabilizationWindowSeconds": None if w is None else int(w),
    }


def current_window(spec: Mapping[str, Any]) -> int:
    """The window the controller applies (the default when none is set)."""
    w = record(spec)["stabilizationWindowSeconds"]
    return DEFAULT_WINDOW_S if w is None else w


def zero_patch() -> dict[str, Any]:
    """The patch for the run: scale-down stabilisation off, nothing else."""
    return {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}


def restore_patch(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The patch (strategic merge: null deletes) that puts back what `record` saw."""
    if not rec.get("behavior"):
        return {"behavior": None}
    if not rec.get("scaleDown"):
        return {"behavior": {"scaleDown": None}}
    return {"behavior": {"scaleDown": {"stabilizationWindowSeconds": rec.get("stabilizationWindowSeconds")}}}


def restored(spec: Mapping[str, Any], rec: Mapping[str, Any]) -> bool:
    """True when the HPA's scale-down window is what `rec` recorded (nothing left to restore)."""
    now = record(spec)
    if not rec.get("behavior"):
        return not now["behavior"]
    if not rec.get("scaleDown"):
        return not now["scaleDown"]
    return now["stabilizationWindowSeconds"] == rec.get("stabilizationWindowSeconds")
