"""vector-shards: how the vector store spreads the collection over shards and nodes, and which
shards a query burst reached (pure, over the recorded shard snapshots)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scaleproof import shards
from scaleproof.builders.common import Builder, Recording, metric
from scaleproof.contract import Figures

__all__ = ["BUILDER", "build", "attach_query_deltas"]

FIGURE_NAMES = ("shards_min", "nodes_with_shards", "documents_total", "shards_queried")


def attach_query_deltas(rows: Sequence[Mapping[str, Any]], before: Any, after: Any) -> list[dict[str, Any]]:
    """Rows with `queries` = counter delta per shard between two counter snapshots (attached to one
    replica row per shard: counters are per shard); a shard whose counter went down gets `queries`
    None and `counter_reset` `{"before", "after"}` instead (`scaleproof.shards.query_deltas`). Rows
    unchanged when either snapshot is missing. (`probes.vectorstore.attach_query_deltas` is this.)"""
    out = [dict(r) for r in rows]
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return out
    seen: set[str] = set()
    wanted = {str(r.get("shard")): float(after.get(str(r.get("shard")), 0.0)) for r in out}
    deltas, resets = shards.query_deltas(before, wanted)
    reset_of = {r["shard"]: r for r in resets}
    for r in out:
        sh = str(r.get("shard"))
        r["queries"] = None if sh in seen else deltas.get(sh)
        if sh in reset_of and sh not in seen:
            r["counter_reset"] = {"before": reset_of[sh]["before"], "after": reset_of[sh]["after"]}
        seen.add(sh)
    return out


def _spread_figures(
    snaps: list[dict[str, Any]], after: Mapping[str, Any], last: Mapping[str, Any], figures: Figures
) -> None:
    m = figures["metrics"]
    spreads = [shards.shard_spread(s.get("per_shard") or []) for s in snaps]
    store = str(after.get("store") or "weaviate")
    data_src = after.get("per_shard_source") or "/v1/nodes verbose"
    m["shards_min"] = metric(
        min(s["shards_with_data"] for s in spreads),
        "shards",
        f"min over snapshots of distinct shards holding ≥ 1 object ({store}: {data_src})",
        None,
        len(snaps),
    )
    placed = all("k8s_node" in r for s in snaps for r in s.get("per_shard") or [])
    where = "Kubernetes nodes (the store pods' spec.nodeName)" if placed else "store nodes"
    m["nodes_with_shards"] = metric(
        min(s["nodes_with_shards"] for s in spreads),
        "nodes",
        f"min over snapshots of distinct {where} holding a shard with data ({store})",
        None,
        len(snaps),
    )
    warnings = [w for s in snaps for w in s.get("warnings") or []]
    if warnings:
        m["nodes_with_shards"]["reason"] = warnings[-1]
    m["documents_total"] = metric(
        last["documents_total"],
        "objects",
        f"sum of objects over distinct shards, last snapshot ({store})",
        None,
        1,
    )


def build(rec: Recording, figures: Figures) -> None:
    """Spread over the snapshots, per-shard objects and queries of the last one."""
    snaps = rec.shards or []
    if not snaps:
        for k in FIGURE_NAMES:
            figures["metrics"][k] = metric(
                None, "shards", "vector-store shard snapshots", None, 0, "no shard snapshot recorded"
            )
        return
    before = next((s for s in snaps if s.get("label") == "before"), snaps[0])
    after = next((s for s in reversed(snaps) if s.get("label") == "after"), snaps[-1])
    # each snapshot names its store and sources (journals older than that were Weaviate's)
    store = str(after.get("store") or "weaviate")
    counter_src = after.get("counters_source") or "Weaviate :2112 metrics"
    rows = attach_query_deltas(
        after.get("per_shard") or [],
        before.get("counters") if before is not after else None,
        after.get("counters"),
    )
    last = shards.shard_spread(rows)
    _spread_figures(snaps, after, last, figures)
    why = after.get("counters_error") or before.get("counters_error") or "no before/after query counters"
    figures["metrics"]["shards_queried"] = metric(
        last["shards_queried"],
        "shards",
        f"shards whose search counter rose over the burst ({counter_src})",
        None,
        len(rows),
        why,
    )
    figures["timelines"]["shards"] = {
        "store": store,
        "collection": after.get("collection"),
        "per_shard": last["per_shard"],
        "snapshots": [{"label": s.get("label"), "t": s.get("t")} for s in snaps],
    }


def _detect(rec: Recording) -> bool:
    return rec.shards is not None


BUILDER = Builder("vector-shards", build, _detect)
