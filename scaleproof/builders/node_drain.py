"""node-drain: the drain's figures (pure): whether a budget blocked it and which, each evicted target
pod's recovery (pod-kill's timeline plus its replacement's node), Ready against the budgets' guarantee,
the target pods left on the node (`scaleproof.nodetimeline.drain_figures`)."""

from __future__ import annotations

from typing import Any

from scaleproof import nodetimeline, phases
from scaleproof.builders.common import Builder, Recording, metric
from scaleproof.contract import Figures

__all__ = ["BUILDER", "build"]


def _pod_metrics(f: Any, figures: Figures) -> None:
    m = figures["metrics"]
    pods = f["pods"]
    mttrs = [float(p["mttr_s"]) for p in pods if p.get("mttr_s") is not None]
    method = "eviction accepted → ready endpoints back to full, per evicted target pod (watch receive times)"
    m["evicted_target_pods"] = metric(
        len(pods), "pods", "target pods the drain evicted (Kill lines)", None, len(pods)
    )
    m["evicted_pods_unrecovered"] = metric(
        sum(1 for p in pods if not p.get("recovered")),
        "pods",
        "evicted target pods not serving again",
        None,
        len(pods),
    )
    m["pod_recovery_max_s"] = metric(
        max(mttrs) if mttrs and len(mttrs) == len(pods) else None,
        "s",
        method,
        phases.LOCAL_RESOLUTION_S,
        len(mttrs),
        "no evicted target pod" if not pods else "an evicted target pod did not recover",
    )
    m["pod_recovery_p50_s"] = metric(
        phases.percentile(mttrs, 50), "s", method, phases.LOCAL_RESOLUTION_S, len(mttrs), "no recovered pod"
    )


def build(rec: Recording, figures: Figures) -> None:
    """The drain's figures from the recorded events and the load."""
    f = nodetimeline.drain_figures(rec.events, rec.load or None)
    m = figures["metrics"]
    m["drain_blocked"] = metric(
        int(f["blocked"]), "bool", "1 when a budget still refused evictions at the drain's deadline", None, 1
    )
    m["drain_s"] = metric(
        f["drain_s"],
        "s",
        "cordon → every pod evicted (or given up)",
        phases.LOCAL_RESOLUTION_S,
        1,
        "no cordon or no end of the drain recorded",
    )
    m["target_pods_left_on_node"] = metric(
        len(f["left_on_node"]),
        "pods",
        "target pods still bound to the drained node at the end of the record",
        None,
        1,
    )
    below = (
        None
        if f["min_ready_during"] is None
        else max(0, int(f["guarantee"] or 0) - int(f["min_ready_during"]))
    )
    m["ready_below_budget"] = metric(
        below,
        "pods",
        "budgets' guarantee − fewest Ready target pods from the cordon to the recovery (≥ 0)",
        phases.LOCAL_RESOLUTION_S,
        1,
        "no Ready series during the drain",
    )
    m["budget_refusals"] = metric(
        sum(b["refusals"] for b in f["budgets"]),
        "requests",
        "evictions a PodDisruptionBudget refused (429)",
        None,
        len(f["budgets"]),
    )
    _pod_metrics(f, figures)
    figures["timelines"]["drain"] = dict(f)


def _detect(rec: Recording) -> bool:
    return any(e.get("kind") == "Drain" for e in rec.events)


BUILDER = Builder("node-drain", build, _detect, with_load=True)
