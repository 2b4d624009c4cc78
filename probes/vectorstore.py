"""Vector store probes: where the data lives (per shard, per node) and whether queries reach every
shard, for the store the experiment names (`store`, configuration `store` = SCALEPROOF_STORE:
`weaviate` or `qdrant`).

Weaviate (the reference deployment):

* `weaviate_shards`: the nodes' shards of the collection with their object counts (weaviate-client's
  `cluster.nodes(output="verbose")`, i.e. `GET /v1/nodes?output=verbose`; one row per shard replica).
* `weaviate_query_counters`: per-shard query counters from Weaviate's Prometheus metrics (port 2112),
  read directly from the pods' metrics URLs or through Prometheus. Weaviate labels only *filtered*
  vector searches per shard (`queries_filtered_vector_durations_ms{class_name, shard_name, operation}`,
  observed in `Shard.ObjectVectorSearch` when a filter is present), so the query burst
  (`actions.data.query_burst(via="weaviate")`) sends filtered `nearObject` queries. The delta of these
  counters over the burst says which shards served it. Prometheus scrapes every N s: wait one scrape
  interval before the "after" snapshot when reading through Prometheus.
* `app_collection`: the app's `GET /collection` (count + per-shard info), a cross-check.

Qdrant (`probes.qdrant`): every peer is asked (explicit `qdrant_urls` or the headless Service's
EndpointSlices), `collections/{c}/cluster` for the data, `/telemetry` for the searches per shard.
qdrant-client local mode (`:memory:` or a path) has no shards at all and is refused.

`record_shards` appends a labelled snapshot to `<run_dir>/shards.jsonl`; the evidence control turns
the "before"/"after" pair into `scaleproof.timing.shard_spread`. `shard_spread_now` (the hypothesis
probe) reads the same figures live, and `spread_claim_holds` (its tolerance) judges them by the
phase of the run (see that function).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import requests

from probes import qdrant, weaviate
from scaleproof import credentials, progress, rundir, timing
from scaleproof.errors import ScaleproofError, VectorStoreError

__all__ = [
    "DEFAULT_COUNTER",
    "STORES",
    "ShardRow",
    "app_collection",
    "check_qdrant_url",
    "healthy_nodes",
    "parse_prometheus_text",
    "qdrant_healthy_peers",
    "qdrant_query_counters",
    "qdrant_shards",
    "record_shards",
    "run_phase",
    "shard_spread_now",
    "spread_claim_holds",
    "wait_store_documents",
    "weaviate_healthy_nodes",
    "weaviate_query_counters",
    "weaviate_shards",
]

logger = logging.getLogger(__name__)

DEFAULT_COUNTER = "queries_filtered_vector_durations_ms_count"
STORES = ("weaviate", "qdrant")
check_qdrant_url = qdrant.check_qdrant_url


class ShardRow(TypedDict, total=False):
    shard: str
    node: str
    objects: int | None
    status: str | None
    peer_uri: str | None


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


def weaviate_shards(
    collection: str = "Documents",
    weaviate_url: str | None = None,
    timeout_s: float = 10.0,
    configuration: Mapping[str, Any] | None = None,
) -> list[ShardRow]:
    """One row per shard replica of `collection`: `{"shard", "node", "objects" (count), "status"}`."""
    rows: list[ShardRow] = [
        {
            "shard": sh.name,
            "node": node.name,
            "objects": sh.object_count,
            "status": sh.vector_indexing_status,
        }
        for node in weaviate.nodes(configuration, timeout_s, weaviate_url)
        for sh in node.shards or []
        if sh.collection == collection
    ]
    if not rows:
        raise VectorStoreError(
            f"collection {collection!r} has no shard on any Weaviate node: was it created?"
        )
    return rows


def weaviate_healthy_nodes(
    weaviate_url: str | None = None, timeout_s: float = 5.0, configuration: Mapping[str, Any] | None = None
) -> int:
    """Number of Weaviate nodes reporting status HEALTHY."""
    return sum(1 for n in weaviate.nodes(configuration, timeout_s, weaviate_url) if n.status == "HEALTHY")


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
    body = dict(_get_json(url + "/collection", timeout_s, "searchapp"))
    blind = [s for s in body.get("shards") or [] if isinstance(s, Mapping) and s.get("object_count") is None]
    if blind:
        # Qdrant: the answering peer counts its local shards only; say so instead of a silent partial view
        body["partial"] = True
        body["partial_reason"] = (
            f"{len(blind)} shard(s) without a count ({', '.join(str(s.get('name')) for s in blind)}): the "
            "store node that answered the app counts its local shards only; record_shards asks every node"
        )
    return body


# ---------------------------------------------------------------------------------------------- stores
def _store(store: str | None, configuration: Mapping[str, Any] | None) -> str:
    s = str(store or (configuration or {}).get("store") or "weaviate").strip().lower()
    if s not in STORES:
        raise VectorStoreError(
            f"unknown store {s!r}: set SCALEPROOF_STORE (configuration `store`) to " + " or ".join(STORES)
        )
    return s


def _qdrant_key(secrets: Mapping[str, Any] | None) -> str | None:
    """The provider's `qdrant_api_key` secret, else the run's `vectorstore.api_key` (credentials)."""
    return str((secrets or {}).get("qdrant_api_key") or "") or credentials.get("vectorstore", "api_key")


def _expected_peers(configuration: Mapping[str, Any] | None) -> int | None:
    raw = (configuration or {}).get("qdrant_expected_peers")
    return int(raw) if raw not in (None, "", 0, "0") else None


def qdrant_healthy_peers(
    qdrant_urls: Sequence[str] | str | None = None,
    expected_peers: int | None = None,
    timeout_s: float = 5.0,
    client_factory: qdrant.ClientFactory | None = None,
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> int:
    """Peers of a formed Qdrant cluster (same peers and leader everywhere, nothing pending, every
    peer asked); raises VectorStoreError naming what is wrong."""
    return qdrant.healthy_peers(
        qdrant_urls,
        expected_peers if expected_peers is not None else _expected_peers(configuration),
        _qdrant_key(secrets),
        timeout_s,
        client_factory,
        configuration,
    )


def healthy_nodes(
    store: str | None = None,
    timeout_s: float = 5.0,
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> int:
    """The configured store's healthy nodes: Weaviate nodes HEALTHY, or peers of a formed Qdrant cluster."""
    if _store(store, configuration) == "qdrant":
        return qdrant_healthy_peers(timeout_s=timeout_s, secrets=secrets, configuration=configuration)
    return weaviate_healthy_nodes(timeout_s=timeout_s, configuration=configuration)


class _Qdrant:
    """Peer URLs + a client per URL, resolved once per probe call."""

    def __init__(
        self,
        qdrant_urls: Sequence[str] | str | None,
        timeout_s: float,
        client_factory: qdrant.ClientFactory | None,
        secrets: Mapping[str, Any] | None,
        configuration: Mapping[str, Any] | None,
    ) -> None:
        self.urls = qdrant.peer_urls(qdrant_urls, configuration, timeout_s)
        self._factory = client_factory or qdrant.new_client_factory(_qdrant_key(secrets), timeout_s)
        self._clients: dict[str, Any] = {}

    def make(self, url: str) -> Any:
        """One client per peer for the whole probe call (several requests per peer)."""
        if url not in self._clients:
            self._clients[url] = self._factory(url)
        return self._clients[url]

    def close(self) -> None:
        for c in self._clients.values():
            close = getattr(c, "close", None)
            if callable(close):
                close()
        self._clients.clear()


def _qdrant_snapshot(q: _Qdrant, collection: str, with_counters: bool) -> dict[str, Any]:
    views = qdrant.cluster_views(q.urls, q.make)
    problems = qdrant.cluster_problems(views)
    if problems:
        raise VectorStoreError("Qdrant: refusing a partial or inconsistent answer: " + "; ".join(problems))
    peers = len(views[0]["peers"])
    snap: dict[str, Any] = {
        "peers": peers,
        "per_shard_source": f"Qdrant GET /collections/{collection}/cluster of each of the {peers} peers "
        "(local_shards[].points_count)",
    }
    infos = qdrant.collection_cluster(collection, q.urls, q.make)
    if infos is None:
        snap.update(per_shard=[], missing=f"collection {collection!r} does not exist in Qdrant", warnings=[])
        return snap
    rows = qdrant.shard_rows(infos, views[0]["peers"])
    snap["per_shard"] = rows
    snap["warnings"] = qdrant.spread_warnings(rows, peers, collection)
    if with_counters:
        c = qdrant.search_counters(collection, q.urls, q.make)
        snap.update(counters=c["counters"], counters_fanout=c["fanout"], counters_source=c["source"])
    return snap


def _weaviate_snapshot(
    collection: str, with_counters: bool, configuration: Mapping[str, Any] | None
) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "per_shard_source": "Weaviate GET /v1/nodes?output=verbose (objectCount per shard)"
    }
    try:
        snap["per_shard"] = weaviate_shards(collection, configuration=configuration)
    except VectorStoreError as exc:
        if "has no shard" not in str(exc):
            raise
        snap.update(per_shard=[], missing=str(exc))
    snap["warnings"] = []
    if with_counters:
        direct = bool((configuration or {}).get("weaviate_metrics_urls"))
        snap["counters_source"] = (
            f"Weaviate {DEFAULT_COUNTER} per shard "
            f"({'pod :2112 metrics' if direct else 'through Prometheus'}): "
            "filtered vector searches on the shard"
        )
        try:
            snap["counters"] = weaviate_query_counters(collection, configuration=configuration)
        except VectorStoreError as exc:
            snap["counters"], snap["counters_error"] = None, str(exc)
    return snap


def _snapshot(
    store: str,
    collection: str,
    with_counters: bool,
    qdrant_urls: Sequence[str] | str | None,
    secrets: Mapping[str, Any] | None,
    configuration: Mapping[str, Any] | None,
    client_factory: qdrant.ClientFactory | None = None,
) -> dict[str, Any]:
    if store == "qdrant":
        q = _Qdrant(qdrant_urls, 10.0, client_factory, secrets, configuration)
        try:
            return _qdrant_snapshot(q, collection, with_counters)
        finally:
            q.close()
    return _weaviate_snapshot(collection, with_counters, configuration)


def qdrant_shards(
    collection: str = "Documents",
    qdrant_urls: Sequence[str] | str | None = None,
    timeout_s: float = 10.0,
    client_factory: qdrant.ClientFactory | None = None,
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> list[ShardRow]:
    """One row per local shard replica of every peer: `{"shard", "node" (peer id), "objects" (points),
    "status", "peer_uri"}`. Every peer is asked; fewer peers asked than the cluster reports, or a
    shard no asked peer holds, raises VectorStoreError instead of a partial answer."""
    q = _Qdrant(qdrant_urls, timeout_s, client_factory, secrets, configuration)
    try:
        snap = _qdrant_snapshot(q, collection, with_counters=False)
    finally:
        q.close()
    if snap.get("missing"):
        raise VectorStoreError(f"{snap['missing']}: was it created?")
    for w in snap["warnings"]:
        logger.warning("%s", w)
    return list(snap["per_shard"])


def qdrant_query_counters(
    collection: str = "Documents",
    qdrant_urls: Sequence[str] | str | None = None,
    timeout_s: float = 10.0,
    client_factory: qdrant.ClientFactory | None = None,
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Cumulative searches per shard of every peer (`probes.qdrant.search_counters`): `{"counters",
    "fanout", "source"}`; compare two snapshots."""
    q = _Qdrant(qdrant_urls, timeout_s, client_factory, secrets, configuration)
    try:
        return qdrant.search_counters(collection, q.urls, q.make)
    finally:
        q.close()


# --------------------------------------------------------------------------------------------- records
def attach_query_deltas(rows: Sequence[Mapping[str, Any]], before: Any, after: Any) -> list[dict[str, Any]]:
    """Rows with `queries` = counter delta per shard between two counter snapshots (attached to one
    replica row per shard: counters are per shard). Rows unchanged when either snapshot is missing."""
    out = [dict(r) for r in rows]
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return out
    seen: set[str] = set()
    for r in out:
        sh = str(r.get("shard"))
        r["queries"] = None if sh in seen else float(after.get(sh, 0.0)) - float(before.get(sh, 0.0))
        seen.add(sh)
    return out


def record_shards(
    label: str,
    collection: str = "Documents",
    store: str | None = None,
    with_counters: bool = True,
    qdrant_urls: Sequence[str] | str | None = None,
    run_dir: str | None = None,
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Probe: snapshot per-shard objects (and query counters) of the configured store into
    `<run_dir>/shards.jsonl` under `label` (e.g. "before"/"after" a query burst). Returns the
    snapshot. A Weaviate counter source that is unavailable is recorded as `counters_error`."""
    path = rundir.resolve(run_dir, configuration)
    s = _store(store, configuration)
    snap: dict[str, Any] = {"t": time.time(), "label": label, "collection": collection, "store": s}
    snap.update(_snapshot(s, collection, with_counters, qdrant_urls, secrets, configuration))
    if snap.get("missing"):
        raise VectorStoreError(f"{snap['missing']}: was it created?")
    for w in snap.get("warnings") or []:
        logger.warning("%s", w)
    rundir.append_event(path, snap, name="shards.jsonl")
    progress.step(shards_line(snap))
    return snap


def shards_line(snap: Mapping[str, Any]) -> str:
    """One progress line for a shard snapshot: shards, nodes, objects and query counters per shard."""
    rows = snap.get("per_shard") or []
    shards = sorted({str(r.get("shard")) for r in rows})
    nodes = sorted({str(r.get("node") or r.get("peer")) for r in rows})
    counters = snap.get("counters")
    queried = (
        f"; query counters {dict(sorted(counters.items()))}"
        if isinstance(counters, Mapping)
        else (f"; counters unavailable ({snap.get('counters_error')})" if snap.get("counters_error") else "")
    )
    return (
        f"shards queried ({snap.get('label')}, {snap.get('store')}): {len(shards)} shard(s) on "
        f"{len(nodes)} node(s){queried}"
    )


def wait_store_documents(
    documents: int,
    collection: str = "Documents",
    store: str | None = None,
    deadline_s: float = 120.0,
    interval_s: float = 2.0,
    qdrant_urls: Sequence[str] | str | None = None,
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
    clock: Any = time.monotonic,
    sleep: Any = time.sleep,
) -> dict[str, Any]:
    """Block until the store's own per-shard view accounts for >= `documents` objects; returns
    `{"documents_total", "seconds"}`, raises DeadlineExceeded. Why: Weaviate's per-shard objectCount
    (`/v1/nodes`) is its "eventually consistent" async count (`Shard.ObjectCountAsync`: flushed LSM
    segments only), 0 on a fresh store until the memtables flush; Qdrant's points_count is exact."""
    from scaleproof.errors import DeadlineExceeded

    s = _store(store, configuration)
    t0 = clock()
    total = 0
    while True:
        snap = _snapshot(s, collection, False, qdrant_urls, secrets, configuration)
        total = int(timing.shard_spread(snap.get("per_shard") or [])["documents_total"])
        if total >= int(documents):
            return {"documents_total": total, "seconds": round(clock() - t0, 3)}
        if clock() - t0 >= float(deadline_s):
            raise DeadlineExceeded(
                f"{s}'s per-shard view shows {total} of {documents} objects of {collection} after "
                f"{deadline_s} s: the documents are not (yet) accounted for in its shards"
            )
        sleep(interval_s)


# -------------------------------------------------------------------------------- steady-state claim
def _records(configuration: Mapping[str, Any] | None, name: str) -> list[dict[str, Any]]:
    try:
        path = rundir.resolve(None, configuration, create=False)
    except ScaleproofError:
        return []
    return rundir.read_jsonl(path / name) if (path / name).exists() else []


def run_phase(
    queried_label: str = "after", configuration: Mapping[str, Any] | None = None
) -> dict[str, bool]:
    """Where this run stands, from its own records: `ingested` (an ingest action ended, ok, failed or
    skipped: `actions.data.ingest_corpus` writes an `Ingest` event) and `queried` (a `record_shards`
    snapshot labelled `queried_label` exists, i.e. the burst is over and its counters settled)."""
    events = _records(configuration, rundir.EVENTS_FILE)
    ingested = any(
        e.get("kind") == "Ingest" and e.get("type") in ("DONE", "FAILED", "SKIPPED") for e in events
    )
    queried = any(s.get("label") == queried_label for s in _records(configuration, "shards.jsonl"))
    return {"ingested": ingested, "queried": queried}


def _judge(
    value: Mapping[str, Any], phase: Mapping[str, bool], min_shards: int, min_nodes: int, min_queried: int
) -> list[str]:
    """Why the claim fails in this phase (empty: it holds). At rest nothing is claimed."""
    if not phase["ingested"]:
        return []
    why: list[str] = []
    if int(value.get("shards_with_data") or 0) < int(min_shards):
        why.append(f"{value.get('shards_with_data')} shard(s) hold data, {min_shards} claimed")
    if int(value.get("nodes_with_shards") or 0) < int(min_nodes):
        why.append(f"{value.get('nodes_with_shards')} node(s) hold shards with data, {min_nodes} claimed")
    if phase["queried"]:
        q = value.get("shards_queried")
        if q is None or int(q) < int(min_queried):
            why.append(f"{q} shard(s) queried since the baseline snapshot, {min_queried} claimed")
    return why + [str(w) for w in value.get("warnings") or []] if why else []


def shard_spread_now(
    collection: str = "Documents",
    store: str | None = None,
    min_shards: int = 2,
    min_nodes: int = 2,
    min_shards_queried: int = 2,
    baseline_label: str = "before",
    queried_label: str = "after",
    qdrant_urls: Sequence[str] | str | None = None,
    client_factory: qdrant.ClientFactory | None = None,
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Hypothesis probe: the spread read live from the store (`shards_with_data`, `nodes_with_shards`,
    `documents_total`, `shards_queried` = shards whose search counter rose since this run's
    `baseline_label` snapshot, None before it exists; `warnings` with remedies; `missing` when the
    collection does not exist yet) and `claim`: the claim judged for the phase of THIS run.

    Chaos Toolkit has one hypothesis for before, during and after the method, and before it the store
    is empty (or holds an earlier run's data, which proves nothing about this run), so the claim is
    read by phase from the run's own records (`run_phase`): at rest (no ingest ended yet) nothing is
    claimed, the store must only answer; once the ingest ended (ok or failed), >= `min_shards` shards
    hold data on >= `min_nodes` nodes; once the `queried_label` snapshot exists (the burst is over,
    its counters settled), >= `min_shards_queried` shards were queried too. Never writes to the store;
    each claimed figure's check goes to the run's `claims.jsonl` (where each claim was checked)."""
    s = _store(store, configuration)
    snap = _snapshot(s, collection, True, qdrant_urls, secrets, configuration, client_factory)
    base = next(
        (b for b in reversed(_records(configuration, "shards.jsonl")) if b.get("label") == baseline_label),
        None,
    )
    rows = attach_query_deltas(
        snap.get("per_shard") or [], (base or {}).get("counters"), snap.get("counters")
    )
    spread = timing.shard_spread(rows)
    out: dict[str, Any] = {
        "store": s,
        "collection": collection,
        "shards": spread["shards"],
        "shards_with_data": spread["shards_with_data"],
        "nodes_with_shards": spread["nodes_with_shards"],
        "documents_total": spread["documents_total"],
        "shards_queried": spread["shards_queried"],
        "baseline": baseline_label if base else None,
        "missing": snap.get("missing"),
        "warnings": snap.get("warnings") or [],
        "counters_error": snap.get("counters_error"),
        "per_shard": spread["per_shard"],
    }
    phase = run_phase(queried_label, configuration)
    reasons = _judge(out, phase, min_shards, min_nodes, min_shards_queried)
    name = "queried" if phase["queried"] else "ingested" if phase["ingested"] else "at rest"
    out["claim"] = {
        "phase": name,
        "claimed": {"shards_with_data": int(min_shards), "nodes_with_shards": int(min_nodes)}
        | ({"shards_queried": int(min_shards_queried)} if phase["queried"] else {}),
        "met": not reasons,
        "reasons": reasons,
    }
    _record_claims(out, out["claim"]["claimed"], configuration)
    return out


def _record_claims(
    value: Mapping[str, Any], claimed: Mapping[str, int], configuration: Mapping[str, Any] | None
) -> None:
    """One `claims.jsonl` line per figure claimed in this phase (none at rest)."""
    from probes.claims import record_check

    if value["claim"]["phase"] == "at rest":
        return
    for key, threshold in claimed.items():
        got = value.get(key)
        record_check(configuration, key, got, threshold, got is not None and int(got) >= int(threshold))


def spread_claim_holds(value: Mapping[str, Any] | None = None) -> bool:
    """Tolerance of `shard_spread_now`: its `claim.met` (the reasons are in the probe's output, i.e.
    in the journal)."""
    claim = (value or {}).get("claim") if isinstance(value, Mapping) else None
    if not isinstance(claim, Mapping):
        logger.warning("spread claim: no claim in the probe output (%r)", value)
        return False
    if not claim.get("met"):
        logger.warning(
            "spread claim not met (%s): %s", claim.get("phase"), "; ".join(claim.get("reasons") or [])
        )
    return bool(claim.get("met"))
