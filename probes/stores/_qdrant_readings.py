"""Pure readings of Qdrant's responses (no I/O): a peer's view of the cluster, what is wrong with a
set of views (a peer that does not answer named as down), shard and replica rows from
`GET /collections/{c}/cluster`, and the per-shard search counters in `/telemetry`. Private to the
Qdrant adapter (`probes.stores.qdrant`, whose docstring says what each response means)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from probes.stores import ReplicaState
from scaleproof.errors import VectorStoreError

REMEDY = (
    "Qdrant does not rebalance shards by itself: recreate the collection once every peer has joined "
    "(DELETE /collections/{c}, then create it with an explicit shard_number; the app does this when "
    "QDRANT_EXPECTED_PEERS is set) or move shards with POST /collections/{c}/cluster "
    '{"move_shard": {"shard_id": ..., "from_peer_id": ..., "to_peer_id": ...}}'
)


class ClusterView(TypedDict):
    """What one peer says about the cluster (`GET /cluster`)."""

    url: str
    status: str
    peer_id: str | None
    peers: dict[str, str]
    leader: str | None
    role: str | None
    pending_operations: int | None
    consensus: str | None
    send_failures: dict[str, int]  # peer URI → messages the peer failed to send to it


@dataclass(frozen=True)
class Peers:
    """The peer URLs to ask, and how they were found."""

    urls: list[str]
    discovered: bool = False  # from the headless Service's EndpointSlices (else given)
    names: dict[str, str] = field(default_factory=dict)  # URL → pod name (discovery)


def _consensus_problems(views: Sequence[ClusterView]) -> list[str]:
    """Cluster mode, leader, pending operations, consensus thread, agreement on members and leader."""
    problems: list[str] = []
    for v in views:
        if v["status"] != "enabled":
            problems.append(f"{v['url']}: cluster mode is {v['status']!r} (not a Qdrant cluster)")
        if v["leader"] is None:
            problems.append(f"{v['url']}: no Raft leader known")
        if v["pending_operations"]:
            problems.append(f"{v['url']}: {v['pending_operations']} consensus operation(s) pending")
        if v["consensus"] not in (None, "working"):
            problems.append(f"{v['url']}: consensus thread is {v['consensus']!r}")
    if len({tuple(sorted(v["peers"])) for v in views}) > 1:
        problems.append(
            "peers disagree on the membership: "
            + "; ".join(f"{v['url']} sees {sorted(v['peers'])}" for v in views)
        )
    leaders = {v["leader"] for v in views if v["leader"] is not None}
    if len(leaders) > 1:
        problems.append(f"peers disagree on the leader: {sorted(leaders)}")
    return problems


def down_peers(views: Sequence[ClusterView], unanswered: Mapping[str, str], peers: Peers) -> list[str]:
    """One line per peer that does not answer: a URL that failed, and every peer id the cluster
    reports that no URL answered as. Such a peer is named as down or unreachable (with the Raft
    leader's failed sends to it); only given URLs that all answered but miss a peer ask for more URLs."""
    lines = [
        f"peer at {url}{f' (pod {peers.names[url]})' if url in peers.names else ''} {why}: "
        "it is down or unreachable"
        for url, why in unanswered.items()
    ]
    ids = {v["peer_id"] for v in views if v["peer_id"] is not None}
    known = set().union(*(set(v["peers"]) for v in views)) if views else set()
    missing = sorted(known - ids)
    if not missing:
        return lines
    uris = {p: u for v in views for p, u in v["peers"].items()}
    sends = {u: n for v in views for u, n in v["send_failures"].items()}

    def named(p: str) -> str:
        n = sends.get(uris.get(p, ""))
        return f"{p} ({uris.get(p)})" + (f", which the Raft leader failed to reach {n} time(s)" if n else "")

    who = ", ".join(named(p) for p in missing)
    if unanswered:
        lines.append(
            f"the cluster reports {len(known)} peers and {len(ids)} answered: "
            f"peer(s) {who} down or unreachable"
        )
    elif peers.discovered:
        lines.append(
            f"peer(s) {who} down or unreachable: the cluster reports {len(known)} peers but the headless "
            f"Service publishes an address for {len(ids)} (the pod is gone or not yet recreated)"
        )
    else:
        lines.append(
            f"asked {len(ids)} peer(s) but the cluster reports {len(known)}: peer(s) {who} not asked; a "
            "partial answer would hide their shards: give every peer's URL (`qdrant_urls`) or let "
            "discovery find them"
        )
    return lines


def cluster_problems(
    views: Sequence[ClusterView],
    expected_peers: int | None = None,
    unanswered: Mapping[str, str] | None = None,
    peers: Peers | None = None,
) -> list[str]:
    """Why these views are not one formed cluster fully asked (empty list: formed, every peer asked).
    Pure: cluster mode, the same peer set and leader everywhere, nothing pending, a working consensus
    thread, one URL per peer, every peer answering (`down_peers`), `expected_peers` when given."""
    problems = _consensus_problems(views)
    ids = [v["peer_id"] for v in views]
    dupes = sorted({i for i in ids if i is not None and ids.count(i) > 1})
    if dupes:
        problems.append(
            f"several URLs answered as the same peer {dupes} (a Service URL load-balances): give one URL "
            "per peer"
        )
    problems += down_peers(views, unanswered or {}, peers or Peers([v["url"] for v in views]))
    known = set().union(*(set(v["peers"]) for v in views)) if views else set()
    if expected_peers and len(known) < int(expected_peers):
        problems.append(
            f"the cluster has {len(known)} peer(s), {expected_peers} expected: not formed yet "
            "(a collection created now would put every shard on the peers present, for good)"
        )
    return problems


def _state(sh: Any) -> str:
    return str(getattr(sh.state, "value", sh.state))


def shard_rows(infos: Sequence[Any], peer_uris: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per local shard replica: `{"shard", "node" (peer id), "objects" (points), "status",
    "peer_uri"}`. Raises VectorStoreError when a shard is local to no peer asked (partial answer)."""
    rows: list[dict[str, Any]] = []
    owners: dict[str, set[str]] = {}
    shard_count = 0
    for info in infos:
        peer = str(info.peer_id)
        shard_count = max(shard_count, int(getattr(info, "shard_count", 0) or 0))
        for sh in info.local_shards or []:
            rows.append(
                {
                    "shard": str(sh.shard_id),
                    "node": peer,
                    "objects": int(sh.points_count or 0),
                    "status": _state(sh),
                    "peer_uri": (peer_uris or {}).get(peer),
                }
            )
        for sh in info.remote_shards or []:
            owners.setdefault(str(sh.shard_id), set()).add(str(sh.peer_id))
    seen = {r["shard"] for r in rows}
    unseen = {s: sorted(p) for s, p in owners.items() if s not in seen}
    if unseen or (shard_count and len(seen) < shard_count):
        raise VectorStoreError(
            f"partial answer: {len(seen)} of {max(shard_count, len(seen | set(unseen)))} shards seen; "
            + ", ".join(f"shard {s} lives on peer(s) {p}, not asked" for s, p in sorted(unseen.items()))
            + " — ask every peer (`qdrant_urls`, or discovery through the headless Service)"
        )
    return rows


def replica_rows(infos: Sequence[Any]) -> list[ReplicaState]:
    """Every replica each answering peer knows of, with its state as that peer sees it: its local
    shards and the remote ones (`seen_by` = the reporting peer)."""
    rows: list[ReplicaState] = []
    for info in infos:
        me = str(info.peer_id)
        for sh in info.local_shards or []:
            rows.append({"shard": str(sh.shard_id), "node": me, "state": _state(sh), "seen_by": me})
        for sh in info.remote_shards or []:
            rows.append(
                {"shard": str(sh.shard_id), "node": str(sh.peer_id), "state": _state(sh), "seen_by": me}
            )
    return sorted(
        rows, key=lambda r: (r["seen_by"], int(r["shard"]) if r["shard"].isdigit() else 0, r["node"])
    )


def spread_warnings(rows: Sequence[Mapping[str, Any]], peers: int, collection: str) -> list[str]:
    """Placement problems Qdrant will never fix by itself, each with the remedy (pure)."""
    holders = {str(r["node"]) for r in rows}
    if peers >= 2 and rows and len(holders) < 2:
        shards = sorted({str(r["shard"]) for r in rows}, key=lambda s: (len(s), s))
        return [
            f"all {len(shards)} shard(s) of {collection} ({', '.join(shards)}) are on one peer "
            f"({', '.join(sorted(holders))}) of {peers}: the collection was created before the cluster "
            "formed. " + REMEDY.replace("{c}", collection)
        ]
    return []


def _collection_shards(telemetry: Mapping[str, Any], collection: str) -> list[Mapping[str, Any]]:
    cols = ((telemetry.get("collections") or {}).get("collections")) or []
    for c in cols:
        if isinstance(c, Mapping) and c.get("id") == collection:
            return list(c.get("shards") or [])
    return []


def _segment_searches(segment: Mapping[str, Any]) -> int:
    """Searches one segment ran: the sum over its vector indexes and search variants (a search takes
    one variant: unfiltered_plain, unfiltered_hnsw, filtered_*...)."""
    total = 0
    for index in segment.get("vector_index_searches") or []:
        for key, stat in index.items():
            if key != "index_name" and isinstance(stat, Mapping) and isinstance(stat.get("count"), int):
                total += int(stat["count"])
    return total


def local_search_counters(
    telemetries: Sequence[Mapping[str, Any]], collection: str
) -> dict[str, float] | None:
    """Level 4: `{shard_id: searches run on that shard}`, max over a shard's segments, summed over
    replicas (peers). None when no peer exposes segment counters (details_level 4 unsupported)."""
    out: dict[str, float] = {}
    any_segments = False
    for tel in telemetries:
        for sh in _collection_shards(tel, collection):
            local = sh.get("local")
            if not isinstance(local, Mapping) or "segments" not in local:
                continue
            any_segments = True
            per_segment = [_segment_searches(seg) for seg in local.get("segments") or []]
            out[str(sh.get("id"))] = out.get(str(sh.get("id")), 0.0) + float(max(per_segment, default=0))
    return out if any_segments else None


def fanout_search_counters(telemetries: Sequence[Mapping[str, Any]], collection: str) -> dict[str, float]:
    """Level 3: `{shard_id: searches fanned out to it from another peer}` (summed over peers); the
    entry peer's own local shard is not counted at this level."""
    out: dict[str, float] = {}
    for tel in telemetries:
        for sh in _collection_shards(tel, collection):
            for rem in sh.get("remote") or []:
                n = (rem.get("searches") or {}).get("count")
                if isinstance(n, int):
                    key = str(rem.get("shard_id", sh.get("id")))
                    out[key] = out.get(key, 0.0) + float(n)
    return out


def error_line(body: str | bytes | None, status: int | None = None) -> str:
    """The store's own words for a failed request, one line: Qdrant's `status.error` (up to its first
    line break: "Service internal error: 1 of 1 read operations failed:"), else the HTTP status."""
    import json

    text = body.decode(errors="replace") if isinstance(body, bytes) else (body or "")
    try:
        err = json.loads(text).get("status", {}).get("error")
    except (ValueError, AttributeError):
        err = None
    head = f"HTTP {status}: " if status is not None else ""
    if isinstance(err, str) and err.strip():
        return head + err.strip().splitlines()[0].rstrip(":")
    return head + (text.strip().splitlines()[0][:200] if text.strip() else "no body")


def replication_of(info: Mapping[str, Any], collection: str) -> dict[str, Any]:
    """`replication_factor` and `write_consistency_factor` from a `GET /collections/{c}` body (the
    store's own account, read back, not our settings)."""
    params = ((info.get("result") or info).get("config") or {}).get("params") or {}
    if "replication_factor" not in params:
        raise VectorStoreError(
            f"Qdrant GET /collections/{collection} has no config.params.replication_factor: "
            "is this a Qdrant server (1.x)?"
        )
    return {
        "factor": int(params["replication_factor"]),
        "write_consistency_factor": int(params.get("write_consistency_factor") or 1),
        "shards": int(params.get("shard_number") or 1),
        "source": f"Qdrant GET /collections/{collection} (config.params.replication_factor, "
        "write_consistency_factor)",
    }
