"""Shard figures: how a vector-store collection is spread over shards and nodes, and which shards a
query burst reached. Pure: the store adapters (`probes/stores/`) read the rows, this counts them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

__all__ = ["CounterReset", "query_deltas", "shard_spread"]


class CounterReset(TypedDict):
    """A per-shard query counter that went down between two snapshots: the counter restarted (its
    node restarted), so the searches since the first snapshot are unknown; at least `after` ran
    since the restart, which is after the first snapshot."""

    shard: str
    before: float
    after: float


def query_deltas(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, float | None], list[CounterReset]]:
    """Per shard of `after`: the counter delta since `before` (a shard absent from `before` counts
    from 0), None for a shard whose counter went down (a reset, listed with its shard: never a
    negative or a too-small delta)."""
    deltas: dict[str, float | None] = {}
    resets: list[CounterReset] = []
    for shard in after:
        a, b = float(after.get(shard, 0.0)), float(before.get(shard, 0.0))
        if a < b:
            resets.append({"shard": str(shard), "before": b, "after": a})
            deltas[str(shard)] = None
        else:
            deltas[str(shard)] = a - b
    return deltas, resets


def shard_spread(per_shard: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Spread of a collection over shards and nodes.

    `per_shard`: `[{"shard", "node", "objects", "queries"?, "k8s_node"?}]`, one row per shard replica
    (`queries` is a counter delta over a query burst, None when unknown; `k8s_node` the Kubernetes
    node the store node's pod runs on). Replicas of one shard are counted once (max objects, sum of
    queries). Returns `shards` (distinct shards), `shards_with_data` (holding ≥ 1 object),
    `nodes_with_shards` (distinct nodes holding a shard with data: Kubernetes nodes when every row
    names one, machines that fail apart; store nodes otherwise, and `store_nodes_with_shards` beside
    it either way), `documents_total` (sum
    over distinct shards), `shards_queried` (distinct shards whose query delta > 0; None if no shard
    had a query figure) and `per_shard` (normalised rows). A row whose counter was reset
    (`counter_reset`: `{"before", "after"}`, see `query_deltas`) has no delta; its shard counts as
    queried when searches ran on it since the restart (`after` > 0), and `counter_resets` lists it."""
    rows = [dict(r) for r in per_shard]
    objects: dict[str, int] = {}
    queries: dict[str, float | None] = {}
    nodes_with_data: set[str] = set()
    k8s_with_data: set[str] = set()
    resets: dict[str, dict[str, Any]] = {}
    norm: list[dict[str, Any]] = []
    for r in rows:
        shard = str(r.get("shard") or r.get("name") or "?")
        node = str(r.get("node") or "?")
        obj = r.get("objects", r.get("object_count"))
        obj_i = int(obj) if isinstance(obj, int | float) else 0
        objects[shard] = max(objects.get(shard, 0), obj_i)
        q = r.get("queries")
        reset = r.get("counter_reset")
        if isinstance(reset, Mapping):
            resets[shard] = {"shard": shard, "node": node, **reset}
        if isinstance(q, int | float):
            queries[shard] = (queries.get(shard) or 0) + float(q)
        else:
            queries.setdefault(shard, None)
        if obj_i > 0:
            nodes_with_data.add(node)
            k8s_with_data.add(str(r.get("k8s_node") or ""))
        norm.append({"shard": shard, "node": node, "objects": obj if obj is None else obj_i, "queries": q})
        if "k8s_node" in r:
            norm[-1]["k8s_node"] = r["k8s_node"]
        if isinstance(reset, Mapping):
            norm[-1]["counter_reset"] = dict(reset)
    known_q = {s: q for s, q in queries.items() if q is not None}
    queried = {s for s, q in known_q.items() if q > 0} | {s for s, r in resets.items() if r["after"] > 0}
    out: dict[str, Any] = {
        "shards": len(objects),
        "shards_with_data": sum(1 for v in objects.values() if v > 0),
        "nodes_with_shards": len(k8s_with_data)
        if k8s_with_data and "" not in k8s_with_data
        else len(nodes_with_data),
        "store_nodes_with_shards": len(nodes_with_data),
        "documents_total": sum(objects.values()),
        "shards_queried": len(queried) if known_q or resets else None,
        "per_shard": norm,
    }
    if resets:
        out["counter_resets"] = list(resets.values())
    return out
