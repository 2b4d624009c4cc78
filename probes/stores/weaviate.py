"""Weaviate through its own client (weaviate-client v4): the cluster's nodes and shards over REST,
the per-shard query counters from its Prometheus metrics, and the filtered `nearObject` searches of
the query burst over gRPC.

Why the client and not raw HTTP: it owns the wire formats (REST node/shard models, the gRPC search
API that replaces GraphQL), authentication (`vectorstore.api_key` credential → API key header) and
timeouts, so a team's Weaviate behind an API key works without code of ours. The client is built
with `skip_init_checks`: connecting reads `/v1/meta` (the server version) but makes no gRPC health
call, so reading the nodes needs only the HTTP port; the gRPC port (configuration
`weaviate_grpc_port`, SCALEPROOF_WEAVIATE_GRPC_PORT, default 30051 = the local overlay's NodePort)
is used by searches.

* shards: `GET /v1/nodes?output=verbose` (`cluster.nodes(output="verbose")`): one row per shard
  replica with its node and object count.
* query counters: Weaviate labels only *filtered* vector searches per shard
  (`queries_filtered_vector_durations_ms{class_name, shard_name, operation}`, observed in
  `Shard.ObjectVectorSearch` when a filter is present), so the burst sends filtered `nearObject`
  queries. Read from each pod's `:2112/metrics` (configuration `weaviate_metrics_urls`) or through
  Prometheus (`sum by (shard_name)`; wait one scrape interval before the "after" snapshot).
* replica states: each shard's `vectorIndexingStatus` and its node's `status`, as `/v1/nodes` says.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from probes.stores import ReplicaStates, Replication, Search, ShardRow, Snapshot, VectorQueries
from scaleproof import credentials
from scaleproof.errors import ScaleproofError, VectorStoreError

if TYPE_CHECKING:
    from weaviate import WeaviateClient
    from weaviate.collections.classes.cluster import NodeVerbose

__all__ = [
    "DEFAULT_COUNTER",
    "DEFAULT_GRPC_PORT",
    "DEFAULT_WEAVIATE_URL",
    "Weaviate",
    "client",
    "grpc_port",
    "open_store",
    "parse_prometheus_text",
    "weaviate_url",
]

DEFAULT_WEAVIATE_URL = "http://127.0.0.1:30081"
DEFAULT_GRPC_PORT = 30051
DEFAULT_COUNTER = "queries_filtered_vector_durations_ms_count"
NIL_UUID = "00000000-0000-0000-0000-000000000000"

PromQuery = Callable[[str], list[dict[str, Any]]]


def weaviate_url(configuration: Mapping[str, Any] | None, override: str | None = None) -> str:
    """The REST base URL: `override`, else configuration `weaviate_url`, else the local NodePort."""
    return str(override or (configuration or {}).get("weaviate_url") or DEFAULT_WEAVIATE_URL).rstrip("/")


def grpc_port(configuration: Mapping[str, Any] | None) -> int:
    raw = (configuration or {}).get("weaviate_grpc_port") or DEFAULT_GRPC_PORT
    try:
        port = int(raw)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise ScaleproofError(
            f"weaviate_grpc_port must be a TCP port (1..65535), got {raw!r}: "
            "set SCALEPROOF_WEAVIATE_GRPC_PORT to the port of Weaviate's gRPC API (50051 in the pod)"
        )
    return port


@contextlib.contextmanager
def client(base: str, grpc: int, timeout_s: float) -> Iterator[WeaviateClient]:
    """A connected client for the REST URL `base` and gRPC port `grpc`, closed on exit; any client
    error inside becomes a VectorStoreError that names the URL."""
    import weaviate
    from weaviate.classes.init import AdditionalConfig, Auth, Timeout
    from weaviate.connect import ConnectionParams
    from weaviate.exceptions import WeaviateBaseError

    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScaleproofError(f"weaviate_url must be an http(s) URL with a host, got {base!r}")
    secure = parts.scheme == "https"
    key = credentials.get("vectorstore", "api_key")
    t = max(1, round(timeout_s))
    c = weaviate.WeaviateClient(
        connection_params=ConnectionParams.from_params(
            http_host=parts.hostname,
            http_port=parts.port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=parts.hostname,
            grpc_port=grpc,
            grpc_secure=secure,
        ),
        auth_client_secret=Auth.api_key(key) if key else None,
        additional_config=AdditionalConfig(timeout=Timeout(init=t, query=t, insert=t)),
        skip_init_checks=True,
    )
    try:
        c.connect()
        yield c
    except WeaviateBaseError as exc:
        raise VectorStoreError(f"Weaviate at {base}: {type(exc).__name__}: {exc}") from exc
    finally:
        c.close()


def parse_prometheus_text(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Parse the Prometheus text exposition format into (sample name, labels, value), with
    prometheus_client's own parser (a summary's `_count`/`_sum` samples keep their names)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        return [
            (smp.name, dict(smp.labels), float(smp.value))
            for fam in text_string_to_metric_families(text)
            for smp in fam.samples
        ]
    except ValueError as exc:
        raise VectorStoreError(f"unparseable Prometheus metrics text: {exc}") from exc


def _by_shard(samples: Sequence[tuple[dict[str, str], float]], collection: str) -> dict[str, float]:
    mine = [
        (lb, v) for lb, v in samples if lb.get("class_name") in (collection, None) and lb.get("shard_name")
    ]
    if any(lb.get("operation") == "vector" for lb, _ in mine):
        mine = [(lb, v) for lb, v in mine if lb.get("operation") == "vector"]
    out: dict[str, float] = {}
    for lb, v in mine:
        if not math.isnan(v):
            out[lb["shard_name"]] = out.get(lb["shard_name"], 0.0) + v
    return out


@dataclass
class Weaviate:
    """The Weaviate adapter (`probes.stores.StoreAdapter`)."""

    url: str
    grpc_port: int
    timeout_s: float
    metrics_urls: list[str]
    prometheus_query: PromQuery
    metric: str = DEFAULT_COUNTER
    read_consistency: str = ""  # the load's direct queries (configuration `store_read_consistency`)
    name: str = "weaviate"
    burst_via: str = "weaviate"

    def nodes(self) -> list[NodeVerbose]:
        """Every node with its shards and their object counts (`GET /v1/nodes?output=verbose`)."""
        with client(self.url, self.grpc_port, self.timeout_s) as c:
            return list(c.cluster.nodes(output="verbose"))

    def shard_rows(self, collection: str) -> list[ShardRow]:
        """One row per shard replica: `{"shard", "node", "objects" (count), "status"}`."""
        rows: list[ShardRow] = [
            {
                "shard": sh.name,
                "node": node.name,
                "objects": sh.object_count,
                "status": sh.vector_indexing_status,
            }
            for node in self.nodes()
            for sh in node.shards or []
            if sh.collection == collection
        ]
        if not rows:
            raise VectorStoreError(
                f"collection {collection!r} has no shard on any Weaviate node: was it created?"
            )
        return rows

    def healthy_nodes(self) -> int:
        """Number of Weaviate nodes reporting status HEALTHY."""
        return sum(1 for n in self.nodes() if n.status == "HEALTHY")

    def query_counters(self, collection: str) -> dict[str, float]:
        """Per-shard query counter `{shard_name: count}` (cumulative: compare two snapshots), from
        the pods' metrics URLs when configured, else through Prometheus."""
        if self.metrics_urls:
            samples: list[tuple[dict[str, str], float]] = []
            for u in self.metrics_urls:
                try:
                    r = requests.get(u, timeout=self.timeout_s)
                    r.raise_for_status()
                except requests.RequestException as exc:
                    raise VectorStoreError(f"Weaviate metrics unreachable at {u}: {exc}") from exc
                samples += [(lb, v) for name, lb, v in parse_prometheus_text(r.text) if name == self.metric]
            return _by_shard(samples, collection)
        q = f'sum by (shard_name, operation) ({self.metric}{{class_name="{collection}"}})'
        try:
            res = self.prometheus_query(q)
        except ScaleproofError as exc:
            raise VectorStoreError(f"cannot read Weaviate query counters through Prometheus: {exc}") from exc
        return _by_shard([(r["labels"], r["value"]) for r in res], collection)

    def snapshot(self, collection: str, with_counters: bool) -> Snapshot:
        snap: Snapshot = {"per_shard_source": "Weaviate GET /v1/nodes?output=verbose (objectCount per shard)"}
        try:
            snap["per_shard"] = self.shard_rows(collection)
        except VectorStoreError as exc:
            if "has no shard" not in str(exc):
                raise
            snap["per_shard"], snap["missing"] = [], str(exc)
        snap["warnings"] = []
        if with_counters:
            via = "pod :2112 metrics" if self.metrics_urls else "through Prometheus"
            snap["counters_source"] = (
                f"Weaviate {self.metric} per shard ({via}): filtered vector searches on the shard"
            )
            try:
                snap["counters"] = self.query_counters(collection)
            except VectorStoreError as exc:
                snap["counters"], snap["counters_error"] = None, str(exc)
        return snap

    def replica_states(self, collection: str) -> ReplicaStates:
        """Each shard replica's `vectorIndexingStatus` with its node's status, as `/v1/nodes` says
        (the node that answered speaks for the cluster: `seen_by` is "cluster")."""
        replicas = [
            {
                "shard": str(sh.name),
                "node": str(node.name),
                "state": str(sh.vector_indexing_status),
                "seen_by": "cluster",
                "node_status": str(node.status),
            }
            for node in self.nodes()
            for sh in node.shards or []
            if sh.collection == collection
        ]
        down = [
            f"Weaviate node {r['node']} is {r['node_status']}"
            for r in replicas
            if r["node_status"] != "HEALTHY"
        ]
        source = "Weaviate GET /v1/nodes?output=verbose (vectorIndexingStatus per shard, status per node)"
        return {"replicas": replicas, "unanswered": sorted(set(down)), "source": source}  # type: ignore[typeddict-item]

    def wait_formed(self, deadline_s: float) -> int | None:
        return None  # Weaviate places a new collection's shards on the nodes present and moves them later

    @contextlib.contextmanager
    def searches(self, collection: str, top_k: int) -> Iterator[Search]:
        """Filtered `nearObject` searches over gRPC, each near one of the collection's first 20
        objects; the filter (id != nil) is what makes Weaviate count the search per shard."""
        from weaviate.classes.query import Filter
        from weaviate.exceptions import WeaviateBaseError

        with client(self.url, self.grpc_port, self.timeout_s) as c:
            docs = c.collections.use(collection)
            try:
                ids = [o.uuid for o in docs.query.fetch_objects(limit=20).objects]
            except WeaviateBaseError as exc:
                raise VectorStoreError(
                    f"cannot list {collection} objects at {self.url} (gRPC port {self.grpc_port}, "
                    f"SCALEPROOF_WEAVIATE_GRPC_PORT): {exc}"
                ) from exc
            if not ids:
                raise VectorStoreError(f"collection {collection} has no objects at {self.url}: ingest first")
            not_nil = Filter.by_id().not_equal(NIL_UUID)

            def one(i: int) -> bool:
                docs.query.near_object(near_object=ids[i % len(ids)], limit=top_k, filters=not_nil)
                return True

            yield one, (WeaviateBaseError,)

    # ------------------------------------------------------------------------------ peer loss
    @contextlib.contextmanager
    def vector_queries(self, collection: str, n: int, top_k: int) -> Iterator[VectorQueries]:
        """One client for the whole load: the vectors of the collection's first `n` objects (the
        fixed query set) and `near_vector` over gRPC returning the result uuids, at the read
        consistency `read_consistency` (ONE, QUORUM, ALL; empty: the client's default)."""
        from weaviate.exceptions import WeaviateBaseError

        with client(self.url, self.grpc_port, self.timeout_s) as c:
            docs = _consistent(self._existing(c, collection), self.read_consistency)
            try:
                objs = docs.query.fetch_objects(limit=int(n), include_vector=True).objects
            except WeaviateBaseError as exc:
                raise VectorStoreError(f"cannot read {collection} vectors at {self.url}: {exc}") from exc
            vectors = [_vector(o.vector) for o in objs if o.vector]
            if not vectors:
                raise VectorStoreError(f"collection {collection} has no objects at {self.url}: ingest first")

            def one(vec: Sequence[float]) -> list[str]:
                res = docs.query.near_vector(near_vector=list(vec), limit=int(top_k))
                return [str(o.uuid) for o in res.objects]

            yield vectors, one, (WeaviateBaseError,), _one_line

    def document_ids(self, collection: str, limit: int) -> list[str]:
        """Every object's uuid (the gRPC cursor, `collection.iterator()`), at most `limit`."""
        from weaviate.exceptions import WeaviateBaseError

        with client(self.url, self.grpc_port, self.timeout_s) as c:
            docs = _consistent(self._existing(c, collection), "ALL")
            ids: list[str] = []
            try:
                for o in docs.iterator(return_properties=[]):
                    ids.append(str(o.uuid))
                    if len(ids) > limit:
                        raise VectorStoreError(
                            f"{collection} holds more than {limit} objects: raise max_documents"
                        )
            except WeaviateBaseError as exc:
                raise VectorStoreError(
                    f"cannot list {collection} ids at {self.url}: {_one_line(exc)}"
                ) from exc
            return ids

    def replication(self, collection: str) -> Replication:
        """The collection's `replicationConfig.factor` and shard count, from its schema."""
        with client(self.url, self.grpc_port, self.timeout_s) as c:
            cfg = self._existing(c, collection).config.get()
        return {
            "factor": int(cfg.replication_config.factor),
            "write_consistency_factor": None,
            "shards": int(cfg.sharding_config.desired_count) if cfg.sharding_config else 1,
            "source": f"Weaviate schema of {collection} (replicationConfig.factor, "
            "shardingConfig.desiredCount)",
        }

    def _existing(self, c: WeaviateClient, collection: str) -> Any:
        if not c.collections.exists(collection):
            raise VectorStoreError(
                f"unknown collection {collection!r} in Weaviate at {self.url}: set SCALEPROOF_COLLECTION "
                "to one of " + ", ".join(sorted(c.collections.list_all())[:10])
            )
        return c.collections.use(collection)

    def close(self) -> None:
        pass  # a client per call: nothing held between calls


def _consistent(docs: Any, level: str) -> Any:
    from weaviate.classes.config import ConsistencyLevel

    level = (level or "").strip().upper()
    if not level:
        return docs
    if level not in ConsistencyLevel.__members__:
        raise ScaleproofError(f"Weaviate read consistency must be ONE, QUORUM or ALL, got {level!r}")
    return docs.with_consistency_level(ConsistencyLevel[level])


def _vector(v: Any) -> list[float]:
    """An object's vector: the default named vector (v4 returns {"default": [...]})."""
    if isinstance(v, Mapping):
        v = v.get("default") or next(iter(v.values()))
    return [float(x) for x in v]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


def _split(urls: Sequence[str] | str | None) -> list[str]:
    if isinstance(urls, str):
        return [u.strip() for u in urls.split(",") if u.strip()]
    return [str(u) for u in urls or []]


def open_store(
    configuration: Mapping[str, Any],
    secrets: Mapping[str, Any] | None = None,
    timeout_s: float = 10.0,
    url: str | None = None,
    metrics_urls: Sequence[str] | str | None = None,
    prometheus_url: str | None = None,
) -> Weaviate:
    """The adapter, from the configuration keys `weaviate_url`, `weaviate_grpc_port`,
    `weaviate_metrics_urls` and `prometheus_url` (the API key comes from the credentials)."""
    from probes import prometheus

    def prom(q: str) -> list[dict[str, Any]]:
        return prometheus.query(
            q, prometheus_url=prometheus_url, timeout_s=timeout_s, configuration=configuration
        )

    urls = metrics_urls if metrics_urls is not None else configuration.get("weaviate_metrics_urls")
    return Weaviate(
        url=weaviate_url(configuration, url),
        grpc_port=grpc_port(configuration),
        timeout_s=timeout_s,
        metrics_urls=_split(urls),
        prometheus_query=prom,
        read_consistency=str(configuration.get("store_read_consistency") or ""),
    )
