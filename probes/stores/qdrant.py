"""Qdrant: the peers, the cluster's consensus, where the shards live, the replica states and which
shards served searches, asked of EVERY peer (a peer reports `points_count` and search counters for
its local shards only, so one URL, e.g. the Service, gives a partial answer).

Built against real Qdrant 1.18.3 responses (tests/fixtures/qdrant/, recorded on a 3-peer cluster;
the live and replication recordings of 2026-12-07 under tests/fixtures/qdrant/live-2026-12-07/ and
replication-2026-12-07/):

* `GET /cluster` (qdrant-client's typed `cluster_status`): `peers`, `raft_info.{leader, role,
  pending_operations}`, `consensus_thread_status`, `message_send_failures` (per peer URI, on the
  Raft leader: how often it failed to reach a peer). The cluster is formed when every peer lists the
  same peers and the same leader, with nothing pending. A killed peer stays listed (same peers, same
  leader): a peer is down when it does not answer, and the leader's send failures corroborate it.
* `GET /collections/{c}/cluster` (`collection_cluster_info`): `local_shards[].{shard_id,
  points_count, state}`, `remote_shards[].{shard_id, peer_id, state}`, `shard_count`. Replica states
  (Active, Dead, Partial, …) as each peer sees them; with reads only, Qdrant keeps a dead peer's
  replicas Active (only a failed write marks them Dead), and a restarted peer first reports its own
  replicas from stale state: read the survivors' views.
* `GET /telemetry?details_level=4`: `collections.collections[].shards[].local.segments[]
  .vector_index_searches[].<variant>.count` counts searches run on that local shard; every segment
  of a shard sees every search of the shard, so a shard's count is the MAX over its segments (not
  the sum). At `details_level=3` only `shards[].remote[].searches.count` exists: searches a peer
  fanned out to a remote shard (the entry peer's own local shard has no counter at that level),
  kept as a cross-check. qdrant-client 1.20's typed telemetry models reject 1.18.3's telemetry
  (e.g. missing `app.system.container_runtime`, `unfiltered_hnsw`), so telemetry is read as plain
  JSON through the client's own HTTP layer (same URL, API key and timeout). The counters live in
  the peer's memory: a restarted peer starts them again from 0 (seen live: shard 1 went from 10,448
  to 739), which `scaleproof.shards.query_deltas` reports as a reset.
* `/metrics` has no per-shard search metric.

Qdrant does not rebalance: shards placed while only one peer had joined stay on it for good. The
readers say so with the remedy instead of returning figures that look like a cluster.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlparse

from probes.stores import ReplicaStates, Replication, Search, Snapshot, VectorQueries
from probes.stores import _qdrant_peerloss as _peerloss
from probes.stores._qdrant_readings import (
    REMEDY,
    ClusterView,
    Peers,
    cluster_problems,
    down_peers,
    fanout_search_counters,
    local_search_counters,
    replica_rows,
    shard_rows,
    spread_warnings,
)
from scaleproof import credentials, undo
from scaleproof.errors import ScaleproofError, VectorStoreError
from scaleproof.waiting import wait_until

__all__ = [
    "REMEDY",
    "ClusterView",
    "Peers",
    "Qdrant",
    "check_qdrant_url",
    "cluster_problems",
    "cluster_views",
    "fanout_search_counters",
    "local_search_counters",
    "new_client_factory",
    "open_store",
    "peer_urls",
    "replica_rows",
    "search_counters",
    "shard_rows",
    "spread_warnings",
    "wait_formed",
]

logger = logging.getLogger(__name__)

DEFAULT_HEADLESS_SERVICE = "qdrant-headless"
DEFAULT_PORT_NAME = "http"

ClientFactory = Callable[[str], Any]


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
    """Every peer's HTTP URL (see `find_peers`)."""
    return find_peers(qdrant_urls, configuration, timeout_s).urls


def find_peers(
    qdrant_urls: Sequence[str] | str | None = None,
    configuration: Mapping[str, Any] | None = None,
    timeout_s: float = 10.0,
) -> Peers:
    """`qdrant_urls` (argument, else configuration `qdrant_urls`, comma list), else discovered from
    the EndpointSlices of the headless Service (configuration `qdrant_headless_service`, default
    `qdrant-headless`, in `namespace`), not-ready peers included (the headless Service publishes
    them: a probe must see every peer, ready or not)."""
    cfg = configuration or {}
    explicit = _split(qdrant_urls if qdrant_urls else cfg.get("qdrant_urls"))
    if explicit:
        return Peers(explicit)
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
    found = _urls_from_slices(body.get("items") or [], str(cfg.get("qdrant_port_name") or DEFAULT_PORT_NAME))
    return Peers([found[k] for k in sorted(found)], True, {u: k for k, u in found.items()})


def _urls_from_slices(slices: Sequence[Mapping[str, Any]], port_name: str) -> dict[str, str]:
    """Pod name → HTTP URL of every endpoint with an address."""
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
    return found


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


def _no_answer(exc: BaseException) -> str:
    """What a failed request says about the peer: no answer at all (transport), or an HTTP error."""
    cause = exc.__cause__ or exc
    inner = cause.args[0] if type(cause).__name__ == "ResponseHandlingException" and cause.args else cause
    status = getattr(cause, "status_code", None)
    if status is not None:
        return f"answered HTTP {status}"
    return f"does not answer ({type(inner).__name__}: {inner})"


# ----------------------------------------------------------------------------------------- cluster
def _view(url: str, client: Any) -> ClusterView:
    try:
        res = client.cluster_status()
    except Exception as exc:
        raise _fail(url, "GET /cluster", exc) from exc
    raft = getattr(res, "raft_info", None)
    role = getattr(raft, "role", None)
    thread = getattr(res, "consensus_thread_status", None)
    failures = getattr(res, "message_send_failures", None) or {}
    return {
        "url": url,
        "status": str(getattr(res, "status", "disabled")),
        "peer_id": str(res.peer_id) if getattr(res, "peer_id", None) is not None else None,
        "peers": {str(k): str(v.uri) for k, v in (getattr(res, "peers", None) or {}).items()},
        "leader": str(raft.leader) if raft is not None and raft.leader is not None else None,
        "role": str(getattr(role, "value", role)) if role is not None else None,
        "pending_operations": int(raft.pending_operations) if raft is not None else None,
        "consensus": str(getattr(thread, "consensus_thread_status", None)) if thread else None,
        "send_failures": {str(u): int(getattr(f, "count", 0) or 0) for u, f in failures.items()},
    }


def cluster_views(
    urls: Sequence[str], client_factory: ClientFactory
) -> tuple[list[ClusterView], dict[str, str]]:
    """`GET /cluster` of every peer URL: the views of the peers that answered, and for each URL that
    did not, what happened (`does not answer (ConnectError: …)`, `answered HTTP 503`)."""
    views: list[ClusterView] = []
    unanswered: dict[str, str] = {}
    for u in urls:
        try:
            views.append(_view(u, client_factory(u)))
        except VectorStoreError as exc:
            unanswered[u] = _no_answer(exc)
    return views, unanswered


def wait_formed(
    qdrant_urls: Sequence[str] | str | None = None,
    expected_peers: int = 1,
    deadline_s: float = 120.0,
    interval_s: float = 2.0,
    api_key: str | None = None,
    client_factory: ClientFactory | None = None,
    configuration: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] | None = None,
) -> int:
    """Block until the entry peer's `GET /cluster` lists `expected_peers` peers and a leader (what a
    collection needs before it is created). Returns the peer count; raises DeadlineExceeded."""
    urls = peer_urls(qdrant_urls, configuration)
    entry = (client_factory or new_client_factory(api_key, 5.0))(urls[0])

    def peers_and_leader() -> tuple[int, bool, str]:
        try:
            view = _view(urls[0], entry)
        except ScaleproofError as exc:
            return 0, False, str(exc)
        n = len(view["peers"]) if view["status"] == "enabled" else 1
        return n, bool(view["leader"] or view["status"] != "enabled"), f"{n} peer(s), leader {view['leader']}"

    waited = wait_until(
        peers_and_leader,
        deadline_s,
        interval_s,
        done=lambda r: r[0] >= int(expected_peers) and r[1],
        abort=lambda: undo.check_abort("waiting for the Qdrant peers"),
        wake=undo.ABORT,
        on_timeout=lambda r: (
            f"Qdrant at {urls[0]} did not list {expected_peers} peers within {deadline_s} s "
            f"(last: {r[2]}); check the peers' logs (bootstrap DNS, p2p port 6335)"
        ),
        clock=clock,
        sleep=sleep,
    )
    return waited.value[0]


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


# ---------------------------------------------------------------------------------------- counters
def _telemetry(url: str, client: Any, level: int) -> dict[str, Any]:
    try:
        body = client.http.client.request(
            type_=dict, method="GET", url="/telemetry", params={"details_level": level}
        )
    except Exception as exc:
        raise _fail(url, f"GET /telemetry?details_level={level}", exc) from exc
    return dict(body.get("result") or {}) if isinstance(body, Mapping) else {}


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


# ----------------------------------------------------------------------------------------- adapter
class Qdrant:
    """The Qdrant adapter (`probes.stores.StoreAdapter`): peers found once, one client per peer for
    the adapter's life (several requests per peer)."""

    name = "qdrant"
    burst_via = "app"  # Qdrant counts every search on each local shard: the app's searches do

    def __init__(
        self,
        find: Callable[[], Peers],
        client_factory: ClientFactory,
        expected_peers: int | None = None,
        query_url: str | None = None,
        read_consistency: str = "",
    ) -> None:
        self._find = find
        self._query_url = query_url
        self.read_consistency = read_consistency
        self._factory = client_factory
        self._peers: Peers | None = None
        self._clients: dict[str, Any] = {}
        self.expected_peers = expected_peers

    @property
    def peers(self) -> Peers:
        if self._peers is None:
            self._peers = self._find()
        return self._peers

    @property
    def url(self) -> str:
        return self.peers.urls[0]

    def make(self, url: str) -> Any:
        if url not in self._clients:
            self._clients[url] = self._factory(url)
        return self._clients[url]

    def close(self) -> None:
        for c in self._clients.values():
            close = getattr(c, "close", None)
            if callable(close):
                close()
        self._clients.clear()

    def formed_views(self, expected_peers: int | None = None) -> list[ClusterView]:
        """Every peer's view of one formed cluster; raises VectorStoreError naming each problem (a
        peer that does not answer named as down or unreachable)."""
        views, unanswered = cluster_views(self.peers.urls, self.make)
        problems = cluster_problems(views, expected_peers, unanswered, self.peers)
        if problems or not views:
            raise VectorStoreError(
                "Qdrant cluster not healthy: " + "; ".join(problems or ["no peer answered"])
            )
        return views

    def healthy_nodes(self) -> int:
        """Peers of a formed cluster (same peers and leader everywhere, nothing pending, every peer
        answering)."""
        return len(self.formed_views(self.expected_peers)[0]["peers"])

    def snapshot(self, collection: str, with_counters: bool) -> Snapshot:
        views = self.formed_views()
        peers = len(views[0]["peers"])
        snap: Snapshot = {
            "peers": peers,
            "per_shard_source": f"Qdrant GET /collections/{collection}/cluster of each of the {peers} peers "
            "(local_shards[].points_count)",
        }
        infos = collection_cluster(collection, self.peers.urls, self.make)
        if infos is None:
            snap["per_shard"], snap["warnings"] = [], []
            snap["missing"] = f"collection {collection!r} does not exist in Qdrant"
            return snap
        rows = shard_rows(infos, views[0]["peers"])
        snap["per_shard"] = rows  # type: ignore[typeddict-item]
        snap["warnings"] = spread_warnings(rows, peers, collection)
        if with_counters:
            c = search_counters(collection, self.peers.urls, self.make)
            snap["counters"], snap["counters_fanout"] = c["counters"], c["fanout"]
            snap["counters_source"] = c["source"]
        return snap

    def replica_states(self, collection: str) -> ReplicaStates:
        """The replicas of every shard as each peer that answers sees them; the peers that do not
        answer are named as down or unreachable (their own view is missing, not guessed)."""
        views, unanswered = cluster_views(self.peers.urls, self.make)
        infos = []
        for v in views:
            try:
                infos.append(self.make(v["url"]).collection_cluster_info(collection))
            except Exception as exc:
                if _is_missing(exc):
                    raise VectorStoreError(f"collection {collection!r} does not exist in Qdrant") from exc
                unanswered[v["url"]] = _no_answer(_fail(v["url"], "GET /collections/…/cluster", exc))
        return {
            "replicas": replica_rows(infos),
            "unanswered": down_peers(views, unanswered, self.peers),
            "source": f"Qdrant GET /collections/{collection}/cluster of every peer that answers "
            "(local_shards[].state, remote_shards[].state)",
        }

    def wait_formed(self, deadline_s: float) -> int | None:
        return wait_formed(self.peers.urls, self.expected_peers or 1, deadline_s, client_factory=self.make)

    @contextlib.contextmanager
    def searches(self, collection: str, top_k: int) -> Iterator[Search]:
        raise VectorStoreError("Qdrant counts the app's searches: send the burst through the app (via: app)")
        yield  # pragma: no cover - a generator for contextmanager

    # ------------------------------------------------------------------------------ peer loss
    @property
    def query_url(self) -> str:
        """Where the load's direct queries go: configuration `qdrant_query_url` (the Service, as the
        app's client goes), else the first peer."""
        return self._query_url or self.url

    def vector_queries(self, collection: str, n: int, top_k: int) -> AbstractContextManager[VectorQueries]:
        """See `probes.stores._qdrant_peerloss.vector_queries` (its own client: the load's thread)."""
        return _peerloss.vector_queries(
            self._factory(self.query_url), self.query_url, collection, n, top_k, self.read_consistency
        )

    def document_ids(self, collection: str, limit: int) -> list[str]:
        return _peerloss.document_ids(self.make(self.query_url), collection, limit)

    def replication(self, collection: str) -> Replication:
        return _peerloss.replication(self.make(self.url), self.url, collection)


def _api_key(secrets: Mapping[str, Any] | None) -> str | None:
    """The provider's `qdrant_api_key` secret, else the run's `vectorstore.api_key` (credentials)."""
    return str((secrets or {}).get("qdrant_api_key") or "") or credentials.get("vectorstore", "api_key")


def open_store(
    configuration: Mapping[str, Any],
    secrets: Mapping[str, Any] | None = None,
    timeout_s: float = 10.0,
    urls: Sequence[str] | str | None = None,
    client_factory: ClientFactory | None = None,
    expected_peers: int | None = None,
) -> Qdrant:
    """The adapter, from the configuration keys `qdrant_urls` (else discovery: `namespace`,
    `qdrant_headless_service`, `qdrant_port_name`) and `qdrant_expected_peers`, the secret
    `qdrant_api_key` (else the `vectorstore.api_key` credential)."""
    raw = configuration.get("qdrant_expected_peers")
    expected = (
        expected_peers
        if expected_peers is not None
        else (int(raw) if raw not in (None, "", 0, "0") else None)
    )
    query_url = configuration.get("qdrant_query_url")
    return Qdrant(
        lambda: find_peers(urls, configuration, timeout_s),
        client_factory or new_client_factory(_api_key(secrets), timeout_s),
        expected,
        check_qdrant_url(str(query_url)) if query_url else None,
        str(configuration.get("store_read_consistency") or ""),
    )
