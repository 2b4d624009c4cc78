"""Qdrant readers: the peers, the cluster's consensus, where the shards live and which shards served
searches, asked of EVERY peer (a peer reports `points_count` and search counters for its local shards
only, so one URL, e.g. the Service, gives a partial answer).

Built against real Qdrant 1.18.3 responses (tests/fixtures/qdrant/, recorded on a 3-peer cluster):

* `GET /cluster` (qdrant-client's typed `cluster_status`): `peers`, `raft_info.{leader, role,
  pending_operations}`, `consensus_thread_status`. The cluster is formed when every peer lists the
  same peers and the same leader, with nothing pending.
* `GET /collections/{c}/cluster` (`collection_cluster_info`): `local_shards[].{shard_id,
  points_count, state}`, `remote_shards[].{shard_id, peer_id}`, `shard_count`.
* `GET /telemetry?details_level=4`: `collections.collections[].shards[].local.segments[]
  .vector_index_searches[].<variant>.count` counts searches run on that local shard; every segment
  of a shard sees every search of the shard, so a shard's count is the MAX over its segments (not
  the sum). At `details_level=3` only `shards[].remote[].searches.count` exists: searches a peer
  fanned out to a remote shard (the entry peer's own local shard has no counter at that level),
  kept as a cross-check. qdrant-client 1.20's typed telemetry models reject 1.18.3's telemetry
  (e.g. missing `app.system.container_runtime`, `unfiltered_hnsw`), so telemetry is read as plain
  JSON through the client's own HTTP layer (same URL, API key and timeout).
* `/metrics` has no per-shard search metric.

Qdrant does not rebalance: shards placed while only one peer had joined stay on it for good. The
readers say so with the remedy instead of returning figures that look like a cluster.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict
from urllib.parse import urlparse

from scaleproof.errors import DeadlineExceeded, ScaleproofError, VectorStoreError

__all__ = [
    "REMEDY",
    "ClusterView",
    "check_qdrant_url",
    "new_client_factory",
    "cluster_problems",
    "cluster_views",
    "collection_cluster",
    "healthy_peers",
    "local_search_counters",
    "fanout_search_counters",
    "peer_urls",
    "search_counters",
    "shard_rows",
    "spread_warnings",
    "wait_formed",
]

logger = logging.getLogger(__name__)

DEFAULT_HEADLESS_SERVICE = "qdrant-headless"
DEFAULT_PORT_NAME = "http"
REMEDY = (
    "Qdrant does not rebalance shards by itself: recreate the collection once every peer has joined "
    "(DELETE /collections/{c}, then create it with an explicit shard_number; the app does this when "
    "QDRANT_EXPECTED_PEERS is set) or move shards with POST /collections/{c}/cluster "
    '{"move_shard": {"shard_id": ..., "from_peer_id": ..., "to_peer_id": ...}}'
)

ClientFactory = Callable[[str], Any]


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


# ------------------------------------------------------------------------------------------- peers
def check_qdrant_url(url: str | None) -> str:
    """Refuse qdrant-client local mode (`:memory:`, a filesystem path): it has no shards at all."""
    if not url or url.strip() == ":memory:":
        raise VectorStoreError(
            "qdrant-client local mode (':memory:') has no shards or cluster: give the URL of a Qdrant "
            "server, e.g. http://127.0.0.1:6333"
        )
    u = urlparse(url.strip())
    if u.scheme not in ("http", "https") or not u.hostname:
        raise VectorStoreError(
            f"{url!r} looks like a local path (qdrant-client local mode: no shards, cluster calls fail): "
            "give the http(s) URL of a Qdrant server"
        )
    return url.strip().rstrip("/")


def _split(urls: Sequence[str] | str | None) -> list[str]:
    if urls is None:
        return []
    items = urls.split(",") if isinstance(urls, str) else list(urls)
    return [check_qdrant_url(u) for u in (str(x).strip() for x in items) if u]


def peer_urls(
    qdrant_urls: Sequence[str] | str | None = None,
    configuration: Mapping[str, Any] | None = None,
    timeout_s: float = 10.0,
) -> list[str]:
    """Every peer's HTTP URL: `qdrant_urls` (argument, else configuration `qdrant_urls`, comma list),
    else discovered from the EndpointSlices of the headless Service (configuration
    `qdrant_headless_service`, default `qdrant-headless`, in `namespace`), not-ready peers included
    (the headless Service publishes them: a probe must see every peer, ready or not)."""
    cfg = configuration or {}
    explicit = _split(qdrant_urls if qdrant_urls else cfg.get("qdrant_urls"))
    if explicit:
        return explicit
    namespace = cfg.get("namespace")
    service = str(cfg.get("qdrant_headless_service") or DEFAULT_HEADLESS_SERVICE)
    if not namespace:
        raise VectorStoreError(
            "no Qdrant peer URL: set configuration `qdrant_urls` (SCALEPROOF_QDRANT_URLS, one URL per "
            "peer) or `namespace` to discover the peers through the headless Service's EndpointSlices"
        )
    from scaleproof import kube

    body = kube.call(
        kube.apis(cfg).discovery.list_namespaced_endpoint_slice,
        namespace,
        label_selector=f"kubernetes.io/service-name={service}",
        timeout_s=timeout_s,
        what=f"EndpointSlices of Service {namespace}/{service}",
    )
    return _urls_from_slices(body.get("items") or [], str(cfg.get("qdrant_port_name") or DEFAULT_PORT_NAME))


def _urls_from_slices(slices: Sequence[Mapping[str, Any]], port_name: str) -> list[str]:
    found: dict[str, str] = {}
    for sl in slices:
        port = next((p.get("port") for p in sl.get("ports") or [] if p.get("name") == port_name), None)
        if port is None:
            continue
        for ep in sl.get("endpoints") or []:
            if not ep.get("addresses"):
                continue
            name = str((ep.get("targetRef") or {}).get("name") or ep["addresses"][0])
            host = ep["addresses"][0]
            host = f"[{host}]" if ":" in host else host
            found[name] = f"http://{host}:{port}"
    if not found:
        raise VectorStoreError(
            f"the headless Service's EndpointSlices list no Qdrant peer with a port named {port_name!r}: "
            "is the StatefulSet running, or set `qdrant_urls`"
        )
    return [found[k] for k in sorted(found)]


def new_client_factory(api_key: str | None, timeout_s: float) -> ClientFactory:
    """A qdrant-client per peer URL (REST; no version check: one request less per peer, no warning on a
    client/server version gap)."""

    def make(url: str) -> Any:
        from qdrant_client import QdrantClient

        return QdrantClient(
            url=url, api_key=api_key or None, timeout=max(1, round(timeout_s)), check_compatibility=False
        )

    return make


def _fail(url: str, what: str, exc: Exception) -> VectorStoreError:
    return VectorStoreError(f"Qdrant peer {url}: {what} failed: {type(exc).__name__}: {exc}")


# ----------------------------------------------------------------------------------------- cluster
def _view(url: str, client: Any) -> ClusterView:
    try:
        res = client.cluster_status()
    except Exception as exc:
        raise _fail(url, "GET /cluster", exc) from exc
    raft = getattr(res, "raft_info", None)
    role = getattr(raft, "role", None)
    thread = getattr(res, "consensus_thread_status", None)
    return {
        "url": url,
        "status": str(getattr(res, "status", "disabled")),
        "peer_id": str(res.peer_id) if getattr(res, "peer_id", None) is not None else None,
        "peers": {str(k): str(v.uri) for k, v in (getattr(res, "peers", None) or {}).items()},
        "leader": str(raft.leader) if raft is not None and raft.leader is not None else None,
        "role": str(getattr(role, "value", role)) if role is not None else None,
        "pending_operations": int(raft.pending_operations) if raft is not None else None,
        "consensus": str(getattr(thread, "consensus_thread_status", None)) if thread else None,
    }


def cluster_views(urls: Sequence[str], client_factory: ClientFactory) -> list[ClusterView]:
    """`GET /cluster` of every peer URL."""
    return [_view(u, client_factory(u)) for u in urls]


def cluster_problems(views: Sequence[ClusterView], expected_peers: int | None = None) -> list[str]:
    """Why these views are not one formed cluster fully asked (empty list: formed, every peer asked).
    Pure: checks cluster mode, the same peer set and leader everywhere, no pending operation, a
    working consensus thread, one URL per peer, and `expected_peers` when given."""
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
    peer_sets = {tuple(sorted(v["peers"])) for v in views}
    if len(peer_sets) > 1:
        problems.append(
            "peers disagree on the membership: "
            + "; ".join(f"{v['url']} sees {sorted(v['peers'])}" for v in views)
        )
    leaders = {v["leader"] for v in views if v["leader"] is not None}
    if len(leaders) > 1:
        problems.append(f"peers disagree on the leader: {sorted(leaders)}")
    ids = [v["peer_id"] for v in views]
    dupes = sorted({i for i in ids if i is not None and ids.count(i) > 1})
    if dupes:
        problems.append(
            f"several URLs answered as the same peer {dupes} (a Service URL load-balances): give one URL "
            "per peer"
        )
    known = set().union(*(set(v["peers"]) for v in views)) if views else set()
    missing = sorted(known - {i for i in ids if i is not None})
    if missing:
        uris = {p: u for v in views for p, u in v["peers"].items()}
        problems.append(
            f"asked {len(set(ids))} peer(s) but the cluster reports {len(known)}: peer(s) "
            + ", ".join(f"{p} ({uris.get(p)})" for p in missing)
            + " not asked; a partial answer would hide their shards: give every peer's URL "
            "(`qdrant_urls`) or let discovery find them"
        )
    if expected_peers and len(known) < int(expected_peers):
        problems.append(
            f"the cluster has {len(known)} peer(s), {expected_peers} expected: not formed yet "
            "(a collection created now would put every shard on the peers present, for good)"
        )
    return problems


def healthy_peers(
    qdrant_urls: Sequence[str] | str | None = None,
    expected_peers: int | None = None,
    api_key: str | None = None,
    timeout_s: float = 5.0,
    client_factory: ClientFactory | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> int:
    """Number of peers of a formed, consistent cluster, every peer asked. Raises VectorStoreError
    naming each problem (disagreeing membership or leader, pending operations, a peer not asked)."""
    urls = peer_urls(qdrant_urls, configuration, timeout_s)
    views = cluster_views(urls, client_factory or new_client_factory(api_key, timeout_s))
    problems = cluster_problems(views, expected_peers)
    if problems:
        raise VectorStoreError("Qdrant cluster not healthy: " + "; ".join(problems))
    return len(views[0]["peers"])


def wait_formed(
    qdrant_urls: Sequence[str] | str | None = None,
    expected_peers: int = 1,
    deadline_s: float = 120.0,
    interval_s: float = 2.0,
    api_key: str | None = None,
    client_factory: ClientFactory | None = None,
    configuration: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Block until the entry peer's `GET /cluster` lists `expected_peers` peers and a leader (what a
    collection needs before it is created). Returns the peer count; raises DeadlineExceeded."""
    urls = peer_urls(qdrant_urls, configuration)
    entry = (client_factory or new_client_factory(api_key, 5.0))(urls[0])
    end = clock() + float(deadline_s)
    last = "no answer yet"
    while True:
        try:
            view = _view(urls[0], entry)
            n = len(view["peers"]) if view["status"] == "enabled" else 1
            if n >= int(expected_peers) and (view["leader"] or view["status"] != "enabled"):
                return n
            last = f"{n} peer(s), leader {view['leader']}"
        except ScaleproofError as exc:
            last = str(exc)
        if clock() >= end:
            raise DeadlineExceeded(
                f"Qdrant at {urls[0]} did not list {expected_peers} peers within {deadline_s} s "
                f"(last: {last}); check the peers' logs (bootstrap DNS, p2p port 6335)"
            )
        sleep(interval_s)


# ------------------------------------------------------------------------------------------ shards
def _is_missing(exc: Exception) -> bool:
    return getattr(exc, "status_code", None) == 404


def collection_cluster(
    collection: str, urls: Sequence[str], client_factory: ClientFactory
) -> list[Any] | None:
    """`collection_cluster_info` of every peer; None when the collection does not exist (404)."""
    infos = []
    for url in urls:
        try:
            infos.append(client_factory(url).collection_cluster_info(collection))
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise _fail(url, f"GET /collections/{collection}/cluster", exc) from exc
    return infos


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
            state = getattr(sh.state, "value", sh.state)
            rows.append(
                {
                    "shard": str(sh.shard_id),
                    "node": peer,
                    "objects": int(sh.points_count or 0),
                    "status": str(state),
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


# ---------------------------------------------------------------------------------------- counters
def _telemetry(url: str, client: Any, level: int) -> dict[str, Any]:
    try:
        body = client.http.client.request(
            type_=dict, method="GET", url="/telemetry", params={"details_level": level}
        )
    except Exception as exc:
        raise _fail(url, f"GET /telemetry?details_level={level}", exc) from exc
    return dict(body.get("result") or {}) if isinstance(body, Mapping) else {}


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


def search_counters(collection: str, urls: Sequence[str], client_factory: ClientFactory) -> dict[str, Any]:
    """Cumulative per-shard search counters of every peer: `{"counters" (level 4, or level 3 when
    level 4 has no segments), "fanout" (level 3), "source"}`; compare two snapshots."""
    clients = [client_factory(u) for u in urls]
    level4 = [_telemetry(u, c, 4) for u, c in zip(urls, clients, strict=True)]
    local = local_search_counters(level4, collection)
    fanout = fanout_search_counters(level4, collection)
    if local is not None:
        source = (
            "Qdrant /telemetry?details_level=4 of every peer: per local shard, the max over its segments "
            "of vector_index_searches[].*.count (searches run on the shard); fan-out cross-check: "
            "shards[].remote[].searches.count"
        )
        return {"counters": local, "fanout": fanout, "source": source}
    source = (
        "Qdrant /telemetry details_level=3 only (no segment counters at level 4): "
        "shards[].remote[].searches.count, searches fanned out to remote shards; the entry peer's "
        "local shard is not counted"
    )
    return {"counters": fanout, "fanout": fanout, "source": source}
