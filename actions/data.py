"""Put the corpus into the app, and send a bounded query burst.

Ingest goes through the app (`loadgen.ingest.ingest`, the corpus helper's API) so the app embeds the
documents; ids are stable, so re-ingesting is idempotent and needs no undo. The ingest first waits
until the store can spread a new collection over every node (the store adapter's `wait_formed`:
Qdrant waits until the entry peer's `GET /cluster` lists `qdrant_expected_peers` peers, since a
collection created earlier would keep every shard on the peers present). The ingest's end (ok or
failed) is recorded as an `Ingest` event in the run directory: the vector-shards hypothesis
asserts the spread from then on.

`query_burst` sends a bounded number of queries, through the app (`via="app"`, unfiltered `POST
/search`) or straight to a store with its adapter's own searches (`via="weaviate"`: filtered
`nearObject` searches over gRPC, the only ones that move Weaviate's per-shard query counters);
`via="store"` takes the configured store adapter's `burst_via` (Weaviate: `weaviate`; Qdrant
counts every search on each local shard, so `app`). Hosts must be on 127.0.0.0/8 or explicitly
allowed (same rule as the load).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from loadgen.runner import allowed_hosts, check_host, load_queries
from probes import stores
from scaleproof import rundir, undo
from scaleproof.errors import DeadlineExceeded, LoadError, RunDirError, ScaleproofError, VectorStoreError

__all__ = ["ingest_corpus", "query_burst"]

logger = logging.getLogger(__name__)


def _record_ingest(configuration: Mapping[str, Any] | None, status: str, **fields: Any) -> None:
    """The `Ingest` event the spread hypothesis reads; skipped outside an experiment (no run dir)."""
    try:
        path = rundir.resolve(None, configuration)
    except RunDirError:
        return
    rundir.append_event(
        path, {"t": time.time(), "source": "action", "kind": "Ingest", "type": status, **fields}
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
    with stores.opened(store, cfg, secrets, 5.0) as adapter:
        peers = adapter.wait_formed(float(timeout_s))  # Qdrant: until every peer joined; else None
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
        with stores.opened(None, cfg) as adapter:
            via = adapter.burst_via
    if via == "app":
        return _app_burst(int(queries), top_k, end, deadline_s, request_timeout_s, cfg)
    if via not in stores.names():
        raise ScaleproofError(
            f"via must be 'store', 'app' or one of {', '.join(stores.names())}, got {via!r}"
        )
    with stores.opened(via, cfg, None, request_timeout_s) as adapter:
        check_host(adapter.url, allowed_hosts(cfg))
        with adapter.searches(collection, top_k) as (one, errors):
            return _send(int(queries), one, end, deadline_s, via, errors)


def _app_burst(
    queries: int, top_k: int, end: float, deadline_s: float, timeout_s: float, cfg: Mapping[str, Any]
) -> dict[str, Any]:
    """Unfiltered `POST /search` through the app (Qdrant counts these on every local shard)."""
    url = str(cfg.get("app_url") or "http://127.0.0.1:30080").rstrip("/")
    check_host(url, allowed_hosts(cfg))
    qs = load_queries(queries, 11)

    def one(i: int) -> bool:
        r = requests.post(url + "/search", json={"query": qs[i % len(qs)], "top_k": top_k}, timeout=timeout_s)
        return r.status_code == 200

    return _send(queries, one, end, deadline_s, "app", (requests.RequestException,))


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
