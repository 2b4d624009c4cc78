"""node-loss: the lost node's phases from the fault to full endpoints, the MTTR they add up to, the
cluster's waits as observed beside the configured ones, the users' failed requests and their window
(pure; `scaleproof.nodetimeline.node_loss_figures`)."""

from __future__ import annotations

from typing import Any

from scaleproof import nodetimeline, phases
from scaleproof.builders.common import Builder, Recording, metric
from scaleproof.contract import Figures

__all__ = ["BUILDER", "build"]


def _waits(f: Any, rec: Recording, figures: Figures) -> None:
    m = figures["metrics"]
    res = phases.LOCAL_RESOLUTION_S
    m["grace_observed_s"] = metric(
        f["grace_observed_s"], "s", "fault → node Ready≠True", res, 1, "never observed"
    )
    m["eviction_observed_s"] = metric(
        f["eviction_observed_s"], "s", "unreachable taint → the dead pods evicted", res, 1, "never observed"
    )
    m["dead_endpoint_s"] = metric(
        f["dead_endpoint_s"],
        "s",
        "fault → the dead pods out of the ready endpoints",
        res,
        1,
        "never observed",
    )
    m["toleration_seconds"] = metric(
        f["toleration_seconds"],
        "s",
        "the dead pods' node.kubernetes.io/unreachable tolerationSeconds",
        None,
        1,
        "not recorded, or the dead pods differ",
    )
    grace = rec.configuration.get("node_monitor_grace_period_s")
    m["node_monitor_grace_period_s"] = metric(
        float(grace) if grace not in (None, "") else None,
        "s",
        "the kube-controller-manager setting as configured for the run (declared, not measured)",
        None,
        1,
        "not configured",
    )


def build(rec: Recording, figures: Figures) -> None:
    """The lost node's figures from the recorded events and the load."""
    f = nodetimeline.node_loss_figures(rec.events, rec.load or None)
    m = figures["metrics"]
    total = sum(p["duration_s"] for p in f["phases"])
    m["node_loss_mttr_s"] = metric(
        f["mttr_s"],
        "s",
        "fault → ready endpoints back to full, no dead pod among them (watch receive times)",
        phases.LOCAL_RESOLUTION_S,
        1,
        f["reason"],
    )
    m["node_loss_unrecovered"] = metric(
        int(not f["recovered"]), "bool", "1 when the endpoints never came back", None, 1
    )
    m["node_loss_phase_gap_s"] = metric(
        None if f["mttr_s"] is None else round(abs(f["mttr_s"] - total), 3),
        "s",
        "|MTTR − sum of the phases| (0 by construction; > the resolution means a broken chain)",
        phases.LOCAL_RESOLUTION_S,
        len(f["phases"]),
        f["reason"],
    )
    m["node_loss_failure_window_s"] = metric(
        f["failure_window_s"] or 0.0 if rec.load else None,
        "s",
        "first to last second with failed requests after the fault",
        phases.LOAD_RESOLUTION_S,
        len(rec.load),
        "no load recorded",
    )
    _waits(f, rec, figures)
    figures["timelines"]["node_loss"] = dict(f)


def _detect(rec: Recording) -> bool:
    return any(e.get("kind") == "NodeFault" and e.get("type") == "APPLIED" for e in rec.events)


BUILDER = Builder("node-loss", build, _detect, with_load=True)
