"""pod-kill (and the floor and scale benches, which are pod-kill runs): MTTR per kill, the kills,
the failed requests per kill, the fewest Ready pods after the first kill (pure)."""

from __future__ import annotations

from typing import Any

from scaleproof import phases, podtimeline
from scaleproof.builders.common import Builder, Recording, metric
from scaleproof.contract import Figures

__all__ = ["BUILDER", "build"]


def _mttr_figures(s: Any, figures: Figures, mttr_to: str) -> None:
    method = (
        f"{s.get('definition') or 'delete accepted → ' + mttr_to}; watch receive times; "
        "ownerReference pairing; p50/p95 linear interpolation"
    )
    m = figures["metrics"]
    for key, stat in (
        ("mttr_mean_s", "mean"),
        ("mttr_p50_s", "p50"),
        ("mttr_p95_s", "p95"),
        ("mttr_max_s", "max"),
    ):
        m[key] = metric(s[stat], "s", method, s["resolution_s"], s["recovered"], s.get("reason"))
    m["kills"] = metric(s["count"], "kills", "Kill records (delete accepted by the API)", None, s["count"])
    m["kills_unrecovered"] = metric(
        s["unrecovered"], "kills", "kills without a recovered timeline", None, s["count"]
    )


def build(rec: Recording, figures: Figures) -> None:
    """MTTR per kill from the recorded events (paired through owner references) and the load."""
    events, load = rec.events, rec.load
    mttr_to = str(rec.declared.get("mttr_to") or "endpoints_ready")
    tls = podtimeline.kill_timelines(events, load or None, mttr_to=mttr_to)  # type: ignore[arg-type]
    s = podtimeline.mttr_summary(tls)
    _mttr_figures(s, figures, mttr_to)
    per_kill = [t.get("failed_requests") for t in tls]
    known = [int(x) for x in per_kill if x is not None]
    figures["metrics"]["failed_requests_per_kill_max"] = metric(
        max(known) if known and len(known) == len(tls) else None,
        "requests",
        "max over kills of Locust failures in [delete accepted, next kill)",
        phases.LOAD_RESOLUTION_S,
        len(known),
        "no kill recorded" if not tls else "no per-second load stats for some kill window",
    )
    series = podtimeline.ready_series(events)
    t_first = min((float(e["t"]) for e in events if e.get("kind") == "Kill"), default=None)
    window = [p["ready"] for p in series if t_first is not None and p["t"] >= t_first]
    figures["metrics"]["min_ready_replicas"] = metric(
        min(window) if window else None,
        "pods",
        "minimum Ready pods (condition, no deletionTimestamp) after the first kill",
        phases.LOCAL_RESOLUTION_S,
        len(window),
        "no pod events after a kill",
    )
    figures["timelines"]["kills"] = tls  # type: ignore[typeddict-item]
    figures["timelines"]["mttr"] = s  # type: ignore[typeddict-item]


def _detect(rec: Recording) -> bool:
    return any(e.get("kind") == "Kill" for e in rec.events)


BUILDER = Builder("pod-kill", build, _detect, with_load=True)
