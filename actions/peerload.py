"""A bounded query load on a FIXED query set, through the app AND straight to the store, for a store
peer loss: every answer is compared with the same query's answer at baseline (before the fault).

`start_query_load` first asks every query of the set once on each path (the baseline: result ids
per query; a baseline query that fails stops the run before the fault, the store is not healthy),
then runs one thread per path that sends the set round and round, paced by `interval_s`, and
appends one line per query to `<run_dir>/peer-queries.jsonl` (`ts` wall clock, `via`, `q`,
`outcome` answered/partial/failed, `latency_ms`, `hits`, `baseline_hits`, `error` in the store's
own words). Each thread stops by itself after `max_queries` queries or `run_time_s` seconds, or at
`stop_query_load` (the rollback), or on SIGINT/SIGTERM (`undo.ABORT`).

Paths: `app` = the app's `POST /search` (text queries of `loadgen.runner.load_queries`, result ids
from `results[].id`); `store` = the store adapter's `vector_queries` (Weaviate gRPC `near_vector`,
Qdrant `query_points`; the vectors of the collection's first objects). Load goes only to 127.0.0.0/8
or to hosts of `load_allowed_hosts` (e.g. 198.18.0.0/15, the addresses our own cluster made).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from loadgen.runner import allowed_hosts, check_host, load_queries
from probes import stores
from probes.claims import run_dir_of
from scaleproof import undo
from scaleproof.errors import LoadError, ScaleproofError
from scaleproof.peerloss import classify

__all__ = ["QUERIES_FILE", "BASELINE_FILE", "PathQueries", "start_query_load", "stop_query_load"]

logger = logging.getLogger(__name__)

QUERIES_FILE = "peer-queries.jsonl"
BASELINE_FILE = "peer-baseline.json"


@dataclass
class PathQueries:
    """One path of the load: `one(i)` sends query i of the set and returns its result ids (raises
    one of `errors` on a failure, read into one line by `describe`)."""

    via: str
    size: int
    one: Callable[[int], list[str]]
    errors: tuple[type[BaseException], ...]
    describe: Callable[[BaseException], str]
    baseline: list[int] = field(default_factory=list)  # result ids per query at baseline
    sampler: stores.StoreAdapter | None = None  # reads the replica states during the load


@dataclass
class _Running:
    stop: threading.Event
    threads: list[threading.Thread]
    stack: contextlib.ExitStack
    path: Path
    counts: dict[str, dict[str, int]]


_RUNNING: _Running | None = None
_LOCK = threading.Lock()
_WRITE = threading.Lock()  # the path threads append to one file


def _app_path(cfg: Mapping[str, Any], n: int, top_k: int, timeout_s: float) -> PathQueries:
    url = check_host(str(cfg.get("app_url") or "http://127.0.0.1:30080").rstrip("/"), allowed_hosts(cfg))
    texts = load_queries(n, 11)
    session = requests.Session()

    def one(i: int) -> list[str]:
        r = session.post(url + "/search", json={"query": texts[i], "top_k": top_k}, timeout=timeout_s)
        if r.status_code != 200:
            raise LoadError(f"HTTP {r.status_code}: {r.text.strip().splitlines()[0][:200] if r.text else ''}")
        return [str(x.get("id")) for x in r.json().get("results") or []]

    def describe(exc: BaseException) -> str:
        return str(exc) if isinstance(exc, LoadError) else f"{type(exc).__name__}: {str(exc)[:200]}"

    return PathQueries("app", n, one, (requests.RequestException, LoadError, ValueError), describe)


def _store_path(
    adapter: stores.StoreAdapter, stack: contextlib.ExitStack, collection: str, n: int, top_k: int
) -> PathQueries:
    vectors, query, errors, describe = stack.enter_context(adapter.vector_queries(collection, n, top_k))
    return PathQueries("store", len(vectors), lambda i: query(vectors[i]), errors, describe)


def _baseline(p: PathQueries) -> None:
    """Every query once; a failure or an empty answer stops the run before the fault."""
    p.baseline = []
    for i in range(p.size):
        try:
            ids = p.one(i)
        except p.errors as exc:
            raise ScaleproofError(
                f"baseline query {i} through the {p.via} failed before any fault ({p.describe(exc)}): "
                "the store or the app is not healthy; fix that first"
            ) from exc
        if not ids:
            raise ScaleproofError(f"baseline query {i} through the {p.via} found nothing: ingest first")
        p.baseline.append(len(ids))


def _one_query(p: PathQueries, i: int) -> dict[str, Any]:
    ts = time.time()
    t0 = time.monotonic()
    ids: list[str] | None = None
    error = None
    try:
        ids = p.one(i)
    except p.errors as exc:
        error = p.describe(exc)
    hits = None if ids is None else len(ids)
    return {
        "ts": round(ts, 4),
        "via": p.via,
        "q": i,
        "outcome": classify(ids is not None, hits, p.baseline[i]),
        "latency_ms": round((time.monotonic() - t0) * 1000, 2),
        "hits": hits,
        "baseline_hits": p.baseline[i],
        "error": error,
    }


def _loop(
    p: PathQueries, out: Path, stop: threading.Event, limits: tuple[int, float, float], counts: dict[str, int]
) -> None:
    """Send the set round and round until `max_queries`, `run_time_s`, stop or abort."""
    max_queries, run_time_s, interval_s = limits
    end = time.monotonic() + run_time_s
    for k in range(max_queries):
        if stop.is_set() or undo.ABORT.is_set() or time.monotonic() >= end:
            break
        rec = _one_query(p, k % p.size)
        counts[rec["outcome"]] = counts.get(rec["outcome"], 0) + 1
        with _WRITE, out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        stop.wait(interval_s)


def _sample_states(
    adapter: stores.StoreAdapter,
    collection: str,
    out: Path,
    stop: threading.Event,
    limits: tuple[int, float, float],
) -> None:
    """The store's own account during the load: its replica states once a second, to
    `peer-replicas.jsonl` (label `load`); a reading that fails is recorded as such."""
    end = time.monotonic() + limits[1]
    while not (stop.is_set() or undo.ABORT.is_set() or time.monotonic() >= end):
        rec: dict[str, Any] = {"ts": round(time.time(), 4), "label": "load"}
        try:
            rec.update(adapter.replica_states(collection))
        except ScaleproofError as exc:
            rec["error"] = str(exc).splitlines()[0][:300]
        with _WRITE, out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        stop.wait(1.0)


def _paths(
    via: Sequence[str], cfg: Mapping[str, Any], stack: contextlib.ExitStack, spec: tuple[str, int, int, float]
) -> list[PathQueries]:
    collection, n, top_k, timeout_s = spec
    paths = []
    if "app" in via:
        paths.append(_app_path(cfg, n, top_k, timeout_s))
    if "store" in via:
        adapter = stack.enter_context(stores.opened(None, cfg, None, timeout_s))
        check_host(adapter.url, allowed_hosts(cfg))
        paths.append(_store_path(adapter, stack, collection, n, top_k))
        # a second adapter (own clients) for the state readings of the sampler thread
        paths[-1].sampler = stack.enter_context(stores.opened(None, cfg, None, timeout_s))
    if not paths:
        raise ScaleproofError(f"via must name 'app', 'store' or both (comma list), got {','.join(via)!r}")
    return paths


def start_query_load(
    collection: str = "Documents",
    queries: int = 10,
    top_k: int = 10,
    via: str = "app,store",
    interval_s: float = 0.05,
    run_time_s: float = 300.0,
    max_queries: int = 20000,
    request_timeout_s: float = 2.0,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Take the baseline, then start the load threads (bounded: `max_queries` per path, `run_time_s`).
    Returns `{"paths": {via: {"queries", "baseline_hits"}}, "file"}`."""
    if not (1 <= int(queries) <= 100 and 1 <= int(max_queries) <= 100000 and 0 < float(run_time_s) <= 3600):
        raise ScaleproofError("queries must be in 1..100, max_queries in 1..100000, run_time_s in (0, 3600]")
    cfg = configuration or {}
    run = run_dir_of(cfg)
    if run is None:
        raise ScaleproofError("the peer query load records into the run directory: run it under chaos run")
    stack = contextlib.ExitStack()
    try:
        spec = (collection, int(queries), int(top_k), float(request_timeout_s))
        paths = _paths([v.strip() for v in via.split(",")], cfg, stack, spec)
        for p in paths:
            _baseline(p)
    except BaseException:
        stack.close()
        raise
    baseline = {p.via: {"queries": p.size, "baseline_hits": p.baseline} for p in paths}
    (run / BASELINE_FILE).write_text(json.dumps({"ts": time.time(), "paths": baseline}, indent=1))
    limits = (int(max_queries), float(run_time_s), float(interval_s))
    _start_threads(paths, run, collection, stack, limits)
    return {"paths": baseline, "file": str(run / QUERIES_FILE)}


def _start_threads(
    paths: list[PathQueries],
    run: Path,
    collection: str,
    stack: contextlib.ExitStack,
    limits: tuple[int, float, float],
) -> None:
    global _RUNNING
    stop = threading.Event()
    out = run / QUERIES_FILE
    counts: dict[str, dict[str, int]] = {p.via: {} for p in paths}
    threads = [
        threading.Thread(
            target=_sample_states,
            args=(p.sampler, collection, run / "peer-replicas.jsonl", stop, limits),
            name="peerload-states",
            daemon=True,
        )
        for p in paths
        if p.sampler is not None
    ]
    threads += [
        threading.Thread(
            target=_loop, args=(p, out, stop, limits, counts[p.via]), name=f"peerload-{p.via}", daemon=True
        )
        for p in paths
    ]
    with _LOCK:
        if _RUNNING is not None:
            stack.close()
            raise ScaleproofError("a peer query load is already running: stop_query_load first")
        _RUNNING = _Running(stop, threads, stack, out, counts)
    for t in threads:
        t.start()


def stop_query_load(grace_s: float = 10.0) -> dict[str, Any]:
    """Stop the load (the rollback; idempotent) and return the outcome counts per path."""
    global _RUNNING
    with _LOCK:
        running, _RUNNING = _RUNNING, None
    if running is None:
        return {"stopped": False, "reason": "no peer query load running"}
    running.stop.set()
    deadline = time.monotonic() + float(grace_s)
    for t in running.threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in running.threads if t.is_alive()]
    running.stack.close()
    if alive:
        logger.warning("peer query load threads still finishing a request: %s", ", ".join(alive))
    return {"stopped": True, "counts": running.counts, "file": str(running.path), "still_running": alive}
