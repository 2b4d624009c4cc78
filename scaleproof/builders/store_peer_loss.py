"""store-peer-loss: what the fixed query set saw while one store peer was down, how long the store
took to be whole again, and whether a document was lost (pure, over the run's peer-* files).

Availability comes from the queries' outcomes (`scaleproof.peerloss`: answered / partial / failed
against the same query's baseline answer), per path: `app` (the app's POST /search) and `store`
(straight to the store). The replica states are the store's own account and may lag (Qdrant 1.18.3
keeps a dead peer's replicas `Active` under reads): they are shown, never counted as availability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scaleproof import peerloss
from scaleproof.builders.common import Builder, Recording, metric
from scaleproof.contract import Figures, Metric

__all__ = ["BUILDER", "FIGURE_NAMES", "build"]

FIGURE_NAMES = (
    "peers_killed",
    "failed_queries_app",
    "failed_queries_store",
    "partial_queries_app",
    "partial_queries_store",
    "unavailable_s_app",
    "unavailable_s_store",
    "recovery_s",
    "documents_lost",
    "replication_factor",
)
HEALTHY = ("Active", "READY")


def _not_serving(replicas: Sequence[Mapping[str, Any]], fault: float) -> list[str]:
    """Replicas the store itself reported not serving after the fault (its own account)."""
    seen: set[str] = set()
    for rec in replicas:
        if float(rec.get("ts") or 0) < fault:
            continue
        for r in rec.get("replicas") or []:
            if r.get("state") not in HEALTHY or r.get("node_status") not in (None, "HEALTHY"):
                seen.add(f"shard {r.get('shard')} on {r.get('node')}: {r.get('state')}")
        for line in rec.get("unanswered") or []:
            seen.add(str(line))
    return sorted(seen)


def _path_metrics(paths: Mapping[str, peerloss.PathFigures]) -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    for via, p in paths.items():
        how = f"queries of the fixed set through the {via} from the kill on, vs the same query at baseline"
        why = f"no query sent through the {via} after the kill"
        out[f"failed_queries_{via}"] = metric(p.failed if p.sent else None, "queries", how, None, p.sent, why)
        out[f"partial_queries_{via}"] = metric(
            p.partial if p.sent else None, "queries", how + " (fewer result ids)", None, p.sent, why
        )
        window = (p.unavailable.seconds if p.unavailable else 0.0) if p.sent else None
        out[f"unavailable_s_{via}"] = metric(
            window, "s", f"first to last failed or partial query through the {via}", None, p.sent, why
        )
    return out


def _recovery(kill: Mapping[str, Any], healthy: Mapping[str, Any] | None, fault: float) -> Metric:
    ready = kill.get("ts_ready")
    whole = (healthy or {}).get("ts_healthy")
    rec = peerloss.recovery_s(
        float(ready) - fault if ready is not None else None,
        float(whole) - fault if whole is not None else None,
    )
    return metric(
        rec,
        "s",
        "kill to the peer's pod Ready with a new uid AND every replica healthy in the store's own account",
        None,
        1 if rec is not None else 0,
        "the peer or the store was not seen whole again",
    )


def _documents(docs: Mapping[str, Mapping[str, Any]]) -> Metric:
    if not {"before", "after"} <= set(docs):
        return metric(None, "documents", "ids before vs after", None, 0, "no before/after document tally")
    lost = peerloss.documents_lost(docs["before"], docs["after"])
    return metric(
        lost.lost,
        "documents",
        f"ids before the kill ({lost.before}) vs after recovery ({lost.after}): "
        "count and sha256 of the sorted ids",
        None,
        2,
    )


def build(rec: Recording, figures: Figures) -> None:
    """The figures of the peer loss and `timelines.store_peer_loss`."""
    inp: Mapping[str, Any] = rec.peer_loss or {}
    kill: Mapping[str, Any] = inp.get("kill") or {}
    m = figures["metrics"]
    if kill.get("ts_accepted") is None:
        m["peers_killed"] = metric(0, "peers", "peer-kill.json", None, 0)
        return
    fault = float(kill["ts_accepted"])
    outcomes = peerloss.from_fault(inp.get("queries") or [], fault)
    paths = {via: peerloss.path_figures(outcomes, via) for via in ("app", "store")}
    m["peers_killed"] = metric(
        1, "peers", f"pod {kill.get('pod')} {_how(kill)} ({kill.get('chosen_by')})", None, 1
    )
    m.update(_path_metrics(paths))
    m["recovery_s"] = _recovery(kill, inp.get("healthy"), fault)
    docs = {str(d.get("label")): d for d in inp.get("documents") or []}
    m["documents_lost"] = _documents(docs)
    rep: Mapping[str, Any] = inp.get("replication") or {}
    m["replication_factor"] = metric(
        rep.get("factor"),
        "replicas",
        str(rep.get("source") or "read back from the store"),
        None,
        1,
        "not read back",
    )
    figures["timelines"]["store_peer_loss"] = {
        "per_second": [s.__dict__ for s in peerloss.per_second(outcomes)],
        "paths": {
            v: p.__dict__ | {"unavailable": p.unavailable.__dict__ if p.unavailable else None}
            for v, p in paths.items()
        },
        "kill": dict(kill),
        "replication": dict(rep),
        "documents": {k: dict(v) for k, v in docs.items()},
        "store_reported_not_serving": _not_serving(inp.get("replicas") or [], fault),
    }


def _detect(rec: Recording) -> bool:
    return rec.peer_loss is not None


BUILDER = Builder("store-peer-loss", build, _detect)


def _how(kill: Mapping[str, Any]) -> str:
    """How the peer went: a graceful delete (its own grace period) or a crash (grace period 0)."""
    grace = kill.get("grace_period_s")
    if grace is None:
        return "deleted (its own grace period)"
    return "crashed (deleted with grace period 0)" if int(grace) == 0 else f"deleted (grace period {grace} s)"
