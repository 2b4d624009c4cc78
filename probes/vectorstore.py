"""Vector store probes: where the data lives (per shard, per node) and whether queries reach every shard.

Weaviate (the reference deployment):

* `weaviate_shards`: `GET /v1/nodes?output=verbose` → per node, the shards of the collection with
  `objectCount` (one row per shard replica).
* `weaviate_query_counters`: per-shard query counters from Weaviate's Prometheus metrics (port 2112),
  read directly from the pods' metrics URLs or through Prometheus. Weaviate labels only *filtered*
  vector searches per shard (`queries_filtered_vector_durations_ms{class_name, shard_name, operation}`,
  observed in `Shard.ObjectVectorSearch` when a filter is present), so the query burst
  (`actions.data.query_burst(via="weaviate")`) sends filtered `nearObject` queries. The delta of these
  counters over the burst says which shards served it. Prometheus scrapes every N s: wait one scrape
  interval before the "after" snapshot when reading through Prometheus.
* `app_collection`: the app's `GET /collection` (count + per-shard info), a cross-check.

Qdrant (users' clusters): `qdrant_shards` through qdrant-client's `collection_cluster_info` on every
peer URL (a peer only reports `points_count` for its local shards). qdrant-client local mode
(`:memory:` or a path) has no shards at all and is refused.

`record_shards` appends a labelled snapshot to `<run_dir>/shards.jsonl`; the evidence control turns
the "before"/"after" pair into `scaleproof.timing.shard_spread`.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict
from urllib.parse import urlparse

import requests

from scaleproof import rundir
from scaleproof.errors import ScaleproofError, VectorStoreError

__all__ = [
    "DEFAULT_COUNTER",
    "ShardRow",
    "app_collection",
    "check_qdrant_url",
    "parse_prometheus_text",
    "qdrant_shards",
    "record_shards",
    "weaviate_healthy_nodes",
    "weaviate_query_counters",
    "weaviate_shards",
]

logger = logging.getLogger(__name__)

DEFAULT_WEAVIATE_URL = "http://127.0.0.1:30081"
DEFAULT_COUNTER = "queries_filtered_vector_durations_ms_count"


class ShardRow(TypedDict, total=False):
    shard: str
    node: str
    objects: int | None
    status: str | None


def _weaviate_url(weaviate_url: str | None, configuration: Mapping[str, Any] | None) -> str:
    return str(weaviate_url or (configuration or {}).get("weaviate_url") or DEFAULT_WEAVIATE_URL).rstrip("/")


def _get_json(url: str, timeout_s: float, what: str, **kw: Any) -> Any:
    try:
        r = requests.get(url, timeout=timeout_s, **kw)
    except requests.RequestException as exc:
        raise VectorStoreError(f"{what} unreachable at {url}: {type(exc).__name__}: {exc}") from exc
    if r.status_code != 200:
        raise VectorStoreError(f"{what} at {url} answered HTTP {r.status_code}: {r.text[:300]}")
    try:
        return r.json()
    except ValueError as exc:
        raise VectorStoreError(f"{what} at {url} did not answer JSON") from exc


def _nodes(
    weaviate_url: str | None, timeout_s: float, configuration: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    url = _weaviate_url(weaviate_url, configuration) + "/v1/nodes?output=verbose"
    return list((_get_json(url, timeout_s, "Weaviate") or {}).get("nodes") or [])


def weaviate_shards(
    collection: str = "Documents",
    weaviate_url: str | None = None,
    timeout_s: float = 10.0,
    configuration: Mapping[str, Any] | None = None,
) -> list[ShardRow]:
    """One row per shard replica of `collection`: `{"shard", "node", "objects" (count), "status"}`."""
    rows: list[ShardRow] = []
    for node in _nodes(weaviate_url, timeout_s, configuration):
        for sh in node.get("shards") or []:
            if sh.get("class") != collection:
                continue
            rows.append(
                {
                    "shard": str(sh.get("name")),
                    "node": str(node.get("name")),
                    "objects": sh.get("objectCount"),
                    "status": sh.get("vectorIndexingStatus"),
                }
            )
    if not rows:
        raise VectorStoreError(
            f"collection {collection!r} has no shard on any Weaviate node: was it created?"
        )
    return rows


def weaviate_healthy_nodes(
    weaviate_url: str | None = None, timeout_s: float = 5.0, configuration: Mapping[str, Any] | None = None
) -> int:
    """Number of Weaviate nodes reporting status HEALTHY."""
    return sum(1 for n in _nodes(weaviate_url, timeout_s, configuration) if n.get("status") == "HEALTHY")


_LINE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_prometheus_text(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Parse the Prometheus text exposition format into (name, labels, value) samples."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        try:
            v = float(m.group("value"))
        except ValueError:
            continue
        out.append((m.group("name"), dict(_LABEL.findall(m.group("labels") or "")), v))
    return out


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


def weaviate_query_counters(
    collection: str = "Documents",
    metrics_urls: Sequence[str] | str | None = None,
    prometheus_url: str | None = None,
    metric: str = DEFAULT_COUNTER,
    timeout_s: float = 10.0,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """Per-shard query counter `{shard_name: count}` of `collection` (a cumulative counter: compare
    two snapshots). Reads `metrics_urls` (each Weaviate pod's `:2112/metrics`, comma list allowed)
    when given, else Prometheus (`sum by (shard_name)`)."""
    cfg = configuration or {}
    urls = metrics_urls if metrics_urls is not None else cfg.get("weaviate_metrics_urls")
    if isinstance(urls, str):
        urls = [u.strip() for u in urls.split(",") if u.strip()]
    samples: list[tuple[dict[str, str], float]] = []
    if urls:
        for u in urls:
            try:
                r = requests.get(u, timeout=timeout_s)
                r.raise_for_status()
            except requests.RequestException as exc:
                raise VectorStoreError(f"Weaviate metrics unreachable at {u}: {exc}") from exc
            samples += [(lb, v) for name, lb, v in parse_prometheus_text(r.text) if name == metric]
        return _by_shard(samples, collection)
    from probes import prometheus

    q = f'sum by (shard_name, operation) ({metric}{{class_name="{collection}"}})'
    try:
        res = prometheus.query(
            q, prometheus_url=prometheus_url, timeout_s=timeout_s, configuration=configuration
        )
    except ScaleproofError as exc:
        raise VectorStoreError(f"cannot read Weaviate query counters through Prometheus: {exc}") from exc
    return _by_shard([(r["labels"], r["value"]) for r in res], collection)


def app_collection(
    app_url: str | None = None, timeout_s: float = 10.0, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The app's `GET /collection` body (document count and per-shard info)."""
    url = str(app_url or (configuration or {}).get("app_url") or "http://127.0.0.1:30080").rstrip("/")
    return dict(_get_json(url + "/collection", timeout_s, "searchapp"))


# ---------------------------------------------------------------------------------------------- Qdrant
def check_qdrant_url(url: str | None) -> str:
    """Refuse qdrant-client local mode (`:memory:`, a filesystem path): it has no shards at all."""
    if not url or url.strip() == ":memory:":
        raise VectorStoreError(
            "qdrant-client local mode (':memory:') has no shards or cluster: give the URL of a Qdrant "
            "server, e.g. http://127.0.0.1:6333"
        )
    u = urlparse(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise VectorStoreError(
            f"{url!r} looks like a local path (qdrant-client local mode: no shards, cluster calls fail): "
            "give the http(s) URL of a Qdrant server"
        )
    return url.rstrip("/")


def qdrant_shards(
    collection: str,
    peer_urls: Sequence[str] | str,
    api_key: str | None = None,
    timeout_s: float = 10.0,
    client_factory: Any = None,
    configuration: Mapping[str, Any] | None = None,
) -> list[ShardRow]:
    """One row per local shard of every peer: `{"shard", "node" (peer id), "objects" (points), "status"}`.
    Ask every peer (a peer reports `points_count` only for its local shards)."""
    urls = [u.strip() for u in peer_urls.split(",")] if isinstance(peer_urls, str) else list(peer_urls)
    urls = [check_qdrant_url(u) for u in urls if u]
    if not urls:
        raise VectorStoreError("no Qdrant peer URL given")
    if client_factory is None:
        from qdrant_client import QdrantClient

        def client_factory(url: str) -> Any:  # noqa: ANN401
            return QdrantClient(url=url, api_key=api_key, timeout=int(timeout_s))

    rows: list[ShardRow] = []
    for url in urls:
        try:
            info = client_factory(url).collection_cluster_info(collection)
        except Exception as exc:
            raise VectorStoreError(
                f"Qdrant at {url}: collection_cluster_info({collection!r}) failed: {exc}"
            ) from exc
        for sh in getattr(info, "local_shards", None) or []:
            rows.append(
                {
                    "shard": str(sh.shard_id),
                    "node": str(info.peer_id),
                    "objects": sh.points_count,
                    "status": str(getattr(sh, "state", None)),
                }
            )
    return rows


# --------------------------------------------------------------------------------------------- records
def record_shards(
    label: str,
    collection: str = "Documents",
    store: str = "weaviate",
    with_counters: bool = True,
    peer_urls: Sequence[str] | str | None = None,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Probe: snapshot per-shard objects (and query counters) into `<run_dir>/shards.jsonl` under
    `label` (e.g. "before"/"after" a query burst). Returns the snapshot. A counter source that is
    unavailable is recorded as `counters_error` instead of failing the snapshot."""
    path = rundir.resolve(run_dir, configuration)
    snap: dict[str, Any] = {"t": time.time(), "label": label, "collection": collection, "store": store}
    if store == "weaviate":
        snap["per_shard"] = weaviate_shards(collection, configuration=configuration)
        if with_counters:
            try:
                snap["counters"] = weaviate_query_counters(collection, configuration=configuration)
            except VectorStoreError as exc:
                snap["counters"], snap["counters_error"] = None, str(exc)
    elif store == "qdrant":
        urls = peer_urls or (configuration or {}).get("qdrant_urls") or ""
        snap["per_shard"] = qdrant_shards(collection, urls, configuration=configuration)
        snap["counters"] = None
        snap["counters_error"] = "per-shard query counters: use Qdrant /telemetry (not implemented)"
    else:
        raise VectorStoreError(f"unknown store {store!r}: weaviate or qdrant")
    rundir.append_event(path, snap, name="shards.jsonl")
    return snap
