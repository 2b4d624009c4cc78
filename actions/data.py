"""Put the corpus into the app, and send a bounded query burst.

Ingest goes through the app (`loadgen.ingest.ingest`, the corpus helper's API) so the app embeds the
documents; ids are stable, so re-ingesting is idempotent and needs no undo. With Qdrant
(configuration `store: qdrant`) the ingest first waits until the entry peer's `GET /cluster` lists
`qdrant_expected_peers` peers: a collection created earlier would keep every shard on the peers
present (Qdrant does not rebalance). The ingest's end (ok or failed) is recorded as an `Ingest`
event in the run directory: the vector-shards hypothesis asserts the spread from then on.

`query_burst` sends a bounded number of queries, through the app (`via="app"`, unfiltered `POST
/search`) or straight to Weaviate (`via="weaviate"`, filtered `nearObject` searches over its gRPC
API with weaviate-client: only filtered searches move Weaviate's per-shard query counters, see
`probes.vectorstore`); `via="store"` picks the one the configured store counts (Weaviate:
`weaviate`; Qdrant counts every search on each local shard, so `app`). Hosts must be on
127.0.0.0/8 or explicitly allowed (same rule as the load).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from loadgen.runner import allowed_hosts, check_host, load_queries
from probes import weaviate
from scaleproof import credentials, rundir, undo
from scaleproof.errors import DeadlineExceeded, LoadError, RunDirError, ScaleproofError, VectorStoreError

__all__ = ["ingest_corpus", "query_burst"]

logger = logging.getLogger(__name__)

NIL_UUID = "00000000-0000-0000-0000-000000000000"


def _record_ingest(configuration: Mapping[str, Any] | None, status: str, **fields: Any) -> None:
    """The `Ingest` event the spread hypothesis reads; skipped outside an experiment (no run dir)."""
    try:
        path = rundir.resolve(None, configuration)
    except RunDirError:
        return
    rundir.append_event(
        path, {"t": time.time(), "source": "action", "kind": "Ingest", "type": status, **fields}
    )


def _wait_qdrant_formed(
    configuration: Mapping[str, Any], secrets: Mapping[str, Any] | None, deadline_s: float
) -> int:
    from probes import qdrant

    expected = int(configuration.get("qdrant_expected_peers") or 1)
    key = str((secrets or {}).get("qdrant_api_key") or "") or credentials.get("vectorstore", "api_key")
    return qdrant.wait_formed(
        expected_peers=expected, deadline_s=deadline_s, api_key=key, configuration=configuration
    )


def ingest_corpus(
    documents: int = 100,
    batch_size: int = 50,
    timeout_s: float = 120.0,
    app_url: str | None = None,
    ingest: str | None = "corpus",
    store: str | None = None,
    settle_s: float = 0.0,
    collection: str = "Documents",
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Ingest the first `documents` corpus documents through the app (configuration `ingest:
    corpus`, the reference app's POST /documents; Qdrant: once the cluster has formed); with
    `settle_s` > 0, then wait up to that long until the store's per-shard view accounts for them
    (`probes.vectorstore.wait_store_documents`: Weaviate's per-shard counts lag). An empty `ingest`
    skips the step (the data is the workload's own; recorded as `SKIPPED`, so the spread claim
    applies from then on). Returns `{"documents": n requested, "result", "seconds", "peers"?,
    "settled"?}`."""
    if not ingest:
        _record_ingest(configuration, "SKIPPED")
        return {"skipped": "no ingest configured (configuration `ingest` is empty)"}
    if ingest != "corpus":
        raise ScaleproofError(
            f"configuration `ingest` (SCALEPROOF_INGEST): {ingest!r} is not `corpus` or empty"
        )
    undo.check_abort("ingesting")
    try:
        out = _ingest(documents, batch_size, timeout_s, app_url, store, secrets, configuration)
        if float(settle_s) > 0:
            from probes import vectorstore

            out["settled"] = vectorstore.wait_store_documents(
                int(documents),
                collection,
                store,
                deadline_s=float(settle_s),
                secrets=secrets,
                configuration=configuration,
            )
    except Exception as exc:
        _record_ingest(configuration, "FAILED", error=str(exc)[:300])
        raise
    _record_ingest(configuration, "DONE", documents=out["documents"], seconds=out["seconds"])
    return out


def _ingest(
    documents: int,
    batch_size: int,
    timeout_s: float,
    app_url: str | None,
    store: str | None,
    secrets: Mapping[str, Any] | None,
    configuration: Mapping[str, Any] | None,
) -> dict[str, Any]:
    cfg = configuration or {}
    peers = None
    if str(store or cfg.get("store") or "weaviate").lower() == "qdrant":
        peers = _wait_qdrant_formed(cfg, secrets, float(timeout_s))
    url = str(app_url or cfg.get("app_url") or "")
    if not url:
        raise ScaleproofError("configuration `app_url` (SCALEPROOF_APP_URL) is required for the ingest")
    try:
        check_host(url, allowed_hosts(configuration))
    except LoadError as exc:
        raise ScaleproofError(str(exc)) from exc
    try:
        from loadgen.corpus import load_documents  # type: ignore[attr-defined]
        from loadgen.ingest import ingest as ingest_documents  # type: ignore[attr-defined]
    except ImportError as exc:
        raise ScaleproofError(
            f"the corpus helper (loadgen.corpus / loadgen.ingest) is not available: {exc}"
        ) from exc
    docs = list(load_documents())[: int(documents)]
    if len(docs) < int(documents):
        raise ScaleproofError(f"the corpus has {len(docs)} documents, {documents} requested")
    t0 = time.monotonic()
    try:
        result = ingest_documents(
            url,
            docs,
            batch_size=int(batch_size),
            timeout_s=float(timeout_s),
            allow_hosts=allowed_hosts(configuration),
        )
    except Exception as exc:
        raise ScaleproofError(f"ingest into {url} failed: {type(exc).__name__}: {exc}") from exc
    out = {"documents": len(docs), "result": result, "seconds": round(time.monotonic() - t0, 3)}
    return out | ({"peers": peers} if peers is not None else {})


def query_burst(
    queries: int = 60,
    via: str = "weaviate",
    collection: str = "Documents",
    top_k: int = 5,
    deadline_s: float = 60.0,
    request_timeout_s: float = 5.0,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Send `queries` queries (bounded count and `deadline_s` seconds). Returns `{"sent", "ok",
    "failed", "seconds", "via"}`; raises DeadlineExceeded when the deadline stops the burst early."""
    if not 1 <= int(queries) <= 5000:
        raise ScaleproofError(f"queries must be in 1..5000, got {queries}")
    cfg = configuration or {}
    end = time.monotonic() + float(deadline_s)
    if via == "store":
        via = "app" if str(cfg.get("store") or "weaviate").lower() == "qdrant" else "weaviate"
    if via == "weaviate":
        return _weaviate_burst(int(queries), collection, top_k, end, deadline_s, request_timeout_s, cfg)
    if via != "app":
        raise ScaleproofError(f"via must be 'store', 'app' or 'weaviate', got {via!r}")
    url = str(cfg.get("app_url") or "http://127.0.0.1:30080").rstrip("/")
    check_host(url, allowed_hosts(cfg))
    qs = load_queries(int(queries), 11)

    def one(i: int) -> bool:
        r = requests.post(
            url + "/search", json={"query": qs[i % len(qs)], "top_k": top_k}, timeout=request_timeout_s
        )
        return r.status_code == 200

    return _send(int(queries), one, end, deadline_s, via, (requests.RequestException,))


def _send(
    queries: int,
    one: Callable[[int], bool],
    end: float,
    deadline_s: float,
    via: str,
    errors: tuple[type[BaseException], ...],
) -> dict[str, Any]:
    """Call `one(i)` for i < `queries` until `end` (monotonic); a query raising one of `errors` (or
    VectorStoreError) is a failed query, logged."""
    ok = 0
    failures: tuple[type[BaseException], ...] = (*errors, VectorStoreError)
    t0 = time.monotonic()
    for i in range(queries):
        undo.check_abort("sending more queries")
        if time.monotonic() >= end:
            raise DeadlineExceeded(
                f"query burst stopped by its {deadline_s} s deadline after {i} queries ({ok} ok)"
            )
        try:
            ok += 1 if one(i) else 0
        except failures as exc:
            logger.warning("query %d failed: %s", i, exc)
    return {
        "sent": queries,
        "ok": ok,
        "failed": queries - ok,
        "seconds": round(time.monotonic() - t0, 3),
        "via": via,
    }


def _weaviate_burst(
    queries: int,
    collection: str,
    top_k: int,
    end: float,
    deadline_s: float,
    timeout_s: float,
    cfg: Mapping[str, Any],
) -> dict[str, Any]:
    """Filtered `nearObject` searches over Weaviate's gRPC API (weaviate-client), each near one of
    the collection's first 20 objects; the filter (id != nil) is what makes Weaviate count the search
    per shard (`queries_filtered_vector_durations_ms`)."""
    from weaviate.classes.query import Filter
    from weaviate.exceptions import WeaviateBaseError

    url = weaviate.weaviate_url(cfg)
    check_host(url, allowed_hosts(cfg))
    with weaviate.client(cfg, timeout_s) as c:
        docs = c.collections.use(collection)
        try:
            ids = [o.uuid for o in docs.query.fetch_objects(limit=20).objects]
        except WeaviateBaseError as exc:
            raise VectorStoreError(
                f"cannot list {collection} objects at {url} (gRPC port {weaviate.grpc_port(cfg)}, "
                f"SCALEPROOF_WEAVIATE_GRPC_PORT): {exc}"
            ) from exc
        if not ids:
            raise VectorStoreError(f"collection {collection} has no objects at {url}: ingest first")
        not_nil = Filter.by_id().not_equal(NIL_UUID)

        def one(i: int) -> bool:
            docs.query.near_object(near_object=ids[i % len(ids)], limit=top_k, filters=not_nil)
            return True

        return _send(queries, one, end, deadline_s, "weaviate", (WeaviateBaseError,))
