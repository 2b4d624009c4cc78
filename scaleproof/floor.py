"""The cluster's floor: how much of a pod-kill recovery is the application's and how much the cluster's.

The floor is the same pod-kill, on the same cluster, against a workload that is Ready as soon as it
listens (Kubernetes' own agnhost netexec, `scaleproof bench floor`). Its recovery phases are what the
control plane, kubelet and containerd cost; whatever the application's recovery takes beyond them is
the application's. Pure figures over kill timelines (`scaleproof.podtimeline.kill_timelines`): no I/O.

Per phase the comparison uses medians over the recovered kills (robust to one slow kill); the
app-attributable time is app MTTR mean − floor MTTR mean (the medians of the phases need not add up
to either mean). The dominant phase is the one with the largest app − floor excess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scaleproof import podtimeline
from scaleproof.phases import percentile

__all__ = ["ADVICE", "MTTR_PHASES", "compare", "phase_medians"]

#: the phases that make up MTTR (user_recovered comes after it, at 1 s resolution)
MTTR_PHASES = tuple(p for p in podtimeline.KILL_PHASES if p != "user_recovered")

#: one line of advice per dominant phase: where the excess over the floor usually comes from
ADVICE: dict[str, str] = {
    "replacement_created": "replacement created dominates: the ReplicaSet controller reacts late "
    "(controller-manager or API-server load, a quota or admission webhook on pod creation)",
    "scheduled": "scheduled dominates: scheduling waits (node capacity for the pod's requests, "
    "affinity or topology spread constraints, scheduler load)",
    "containers_started": "containers started dominates: image size (pull and unpack), init "
    "containers, volume mounts or a slow container runtime hook",
    "ready": "Ready dominates: start-up work before the app listens, or readiness "
    "`initialDelaySeconds`/`periodSeconds` (the first probe that can succeed)",
    "endpoints_ready": "endpoints dominate: EndpointSlice propagation (many endpoints, API-server "
    "or controller-manager load)",
}


def phase_medians(kills: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Median duration (s) of each MTTR phase over the recovered kills; None for a phase never seen."""
    out: dict[str, float | None] = {}
    for name in MTTR_PHASES:
        values = [
            float(p["duration_s"])
            for k in kills
            if k.get("recovered")
            for p in k.get("phases") or []
            if p.get("name") == name and p.get("duration_s") is not None
        ]
        med = percentile(values, 50)
        out[name] = None if med is None else round(med, 3)
    return out


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 3)


def compare(
    app_kills: Sequence[Mapping[str, Any]], floor_kills: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """App vs floor: MTTR summaries, per-phase medians and excess, app-attributable time, dominant phase.

    `app_attributable_s` = app MTTR mean − floor MTTR mean (None with `reason` when either has no
    mean, e.g. an unrecovered kill); `dominant_phase` is the phase with the largest positive excess
    (None when no phase exceeds the floor), `advice` its line from ADVICE."""
    app, flo = podtimeline.mttr_summary(app_kills), podtimeline.mttr_summary(floor_kills)
    am, fm = phase_medians(app_kills), phase_medians(floor_kills)
    phases: list[dict[str, Any]] = [
        {"name": n, "app_median_s": am[n], "floor_median_s": fm[n], "excess_s": _minus(am[n], fm[n])}
        for n in MTTR_PHASES
        if am[n] is not None or fm[n] is not None
    ]
    excess = [p for p in phases if p["excess_s"] is not None and p["excess_s"] > 0]
    dominant = max(excess, key=lambda p: p["excess_s"], default=None)
    reason = None
    if app["mean"] is None or flo["mean"] is None:
        reason = "; ".join(
            f"{who}: {s.get('reason') or 'no MTTR'}"
            for who, s in (("app", app), ("floor", flo))
            if s["mean"] is None
        )
    return {
        "app": app,
        "floor": flo,
        "phases": phases,
        "app_attributable_s": _minus(app["mean"], flo["mean"]),
        "app_attributable_p95_s": _minus(app["p95"], flo["p95"]),
        "dominant_phase": dominant["name"] if dominant else None,
        "dominant_excess_s": dominant["excess_s"] if dominant else None,
        "dominant_share": (
            round(dominant["excess_s"] / sum(p["excess_s"] for p in excess), 3) if dominant else None
        ),
        "advice": ADVICE.get(dominant["name"]) if dominant else None,
        "reason": reason,
    }
