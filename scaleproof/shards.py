"""Shard figures: how a vector-store collection is spread over shards and nodes, and which shards a
query burst reached. Pure: the store adapters (`probes/stores/`) read the rows, this counts them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["shard_spread"]


def shard_spread(per_shard: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Spread of a collection over shards and nodes.

    `per_shard`: `[{"shard", "node", "objects", "queries"?}]`, one row per shard replica (`queries` is
    a counter delta over a query burst, None when unknown). Replicas of one shard are counted once
    (max objects, sum of queries). Returns `shards` (distinct shards), `shards_with_data` (holding ≥ 1
    object), `nodes_with_shards` (distinct nodes holding a shard with data), `documents_total` (sum
    over distinct shards), `shards_queried` (distinct shards whose query delta > 0; None if no shard
    had a query figure) and `per_shard` (normalised rows)."""
    rows = [dict(r) for r in per_shard]
    objects: dict[str, int] = {}
    queries: dict[str, float | None] = {}
    nodes_with_data: set[str] = set()
    norm: list[dict[str, Any]] = []
    for r in rows:
        shard = str(r.get("shard") or r.get("name") or "?")
        node = str(r.get("node") or "?")
        obj = r.get("objects", r.get("object_count"))
        obj_i = int(obj) if isinstance(obj, int | float) else 0
        objects[shard] = max(objects.get(shard, 0), obj_i)
        q = r.get("queries")
        if isinstance(q, int | float):
            queries[shard] = (queries.get(shard) or 0) + float(q)
        else:
            queries.setdefault(shard, None)
        if obj_i > 0:
            nodes_with_data.add(node)
        norm.append({"shard": shard, "node": node, "objects": obj if obj is None else obj_i, "queries": q})
    known_q = {s: q for s, q in queries.items() if q is not None}
    return {
        "shards": len(objects),
        "shards_with_data": sum(1 for v in objects.values() if v > 0),
        "nodes_with_shards": len(nodes_with_data),
        "documents_total": sum(objects.values()),
        "shards_queried": (sum(1 for q in known_q.values() if q > 0) if known_q else None),
        "per_shard": norm,
    }
