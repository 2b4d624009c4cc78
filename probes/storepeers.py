"""Probes of a store peer loss: the gate before the fault, the store's own account (replication read
back, replica states), the documents before and after, the wait until the store is whole again,
and the claim (failed and partial queries within budget, 0 documents lost).

What each file of the run directory holds (written here and by `actions.peerload`/`actions.peers`):
`peer-replication.json` (the factor as the store reports it), `peer-documents.jsonl` (a count and
checksum of ids per label), `peer-replicas.jsonl` (replica states as each answering node reports
them, one line per reading), `peer-healthy.json` (when the store reported every replica healthy).

Replica states are the store's own account and may lag (Qdrant 1.18.3 keeps a dead peer's replicas
`Active` under reads): availability is judged from the queries' outcomes (`scaleproof.peerloss`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from probes import stores
from probes.claims import phase_of, record_check, run_dir_of
from scaleproof import peerloss, rundir, undo
from scaleproof.errors import ScaleproofError, VectorStoreError
from scaleproof.waiting import wait_until

__all__ = [
    "HEALTHY_STATES",
    "gate",
    "peer_loss_figures",
    "peer_loss_within_budget",
    "record_documents",
    "record_replicas",
    "replica_problems",
    "wait_store_healthy",
]

logger = logging.getLogger(__name__)

# a replica the store itself calls serving: Qdrant `Active`; Weaviate shard READY on a HEALTHY node
HEALTHY_STATES = frozenset({"Active", "READY"})


def replica_problems(states: stores.ReplicaStates, expected_nodes: int) -> list[str]:
    """What keeps the store from being whole, one line each (empty: every replica healthy, every
    node answering, `expected_nodes` nodes holding or reporting replicas)."""
    problems = list(states["unanswered"])
    for r in states["replicas"]:
        status = r.get("node_status")
        if r.get("state") not in HEALTHY_STATES or status not in (None, "HEALTHY"):
            problems.append(
                f"shard {r['shard']} on {r['node']}: {r.get('state')} (seen by {r.get('seen_by')})"
            )
    seen = {str(r.get("seen_by")) for r in states["replicas"]} - {"cluster"}
    if seen and len(seen) < expected_nodes:
        problems.append(f"only {len(seen)} of {expected_nodes} peers answered for the collection")
    return problems


def gate(
    collection: str = "Documents",
    store_replicas: int = 3,
    min_shards: int = 2,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> bool:
    """Before the fault: the collection exists, the store answers for all `store_replicas` peers
    with every replica healthy, the replication factor READ BACK from the store is <= the peer count
    and the collection has >= `min_shards` shards. Writes `peer-replication.json`; each bad input
    raises one line. During the method (the peer is down on purpose) it checks nothing: the
    continuous samples judge the queries, not the store's wholeness."""
    cfg = configuration or {}
    run = run_dir_of(cfg)
    current = phase_of(run)
    if current == "method" or (
        current == "after" and threading.current_thread() is not threading.main_thread()
    ):
        return True
    with stores.opened(None, cfg, secrets) as adapter:
        rep = adapter.replication(collection)  # unknown collection: one line from the adapter
        states = adapter.replica_states(collection)
        name = adapter.name
        nodes = adapter.healthy_nodes()  # Qdrant: raises naming a peer that does not answer
    problems = replica_problems(states, int(store_replicas))
    if nodes < int(store_replicas):
        problems.append(f"{nodes} healthy node(s), store_replicas={store_replicas}")
    if problems:
        raise VectorStoreError(
            f"{name} answers for only part of the store ({current} the fault): {'; '.join(problems[:4])}"
        )
    peerloss.check_replication(rep["factor"], int(store_replicas), collection, name)
    if rep["shards"] < int(min_shards):
        raise ScaleproofError(
            f"{name} collection {collection!r} has {rep['shards']} shard(s), "
            f"fewer than min_shards={min_shards}"
        )
    if run is not None and current == "before":
        rundir.write_json_atomic(
            run / "peer-replication.json", {**rep, "store": name, "peers": int(store_replicas)}
        )
    return True


def record_replicas(
    label: str, collection: str = "Documents", configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One reading of the replica states, appended to `peer-replicas.jsonl` with `label`."""
    cfg = configuration or {}
    with stores.opened(None, cfg) as adapter:
        states = adapter.replica_states(collection)
        try:
            nodes: int | str = adapter.healthy_nodes()
        except ScaleproofError as exc:
            nodes = str(exc)
    rec = {"ts": time.time(), "label": label, "healthy_nodes": nodes, **states}
    run = run_dir_of(cfg)
    if run is not None:
        rundir.append_event(run, rec, name="peer-replicas.jsonl")
    return rec


def record_documents(
    label: str,
    collection: str = "Documents",
    max_documents: int = 1_000_000,
    configuration: Mapping[str, Any] | None = None,
) -> peerloss.DocTally:
    """Count and checksum of every id of the collection (read at the strongest consistency the store
    offers), appended to `peer-documents.jsonl` with `label` ("before", "after")."""
    cfg = configuration or {}
    with stores.opened(None, cfg, None, 30.0) as adapter:
        ids = adapter.document_ids(collection, int(max_documents))
        source = f"{adapter.name} ids of {collection} (every id, sha256 of the sorted ids)"
    tally = peerloss.tally_of(ids, source)
    run = run_dir_of(cfg)
    if run is not None:
        rundir.append_event(run, {"ts": time.time(), "label": label, **tally}, name="peer-documents.jsonl")
    return tally


def wait_store_healthy(
    collection: str = "Documents",
    store_replicas: int = 3,
    deadline_s: float = 300.0,
    interval_s: float = 1.0,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Wait until every node answers and reports every replica healthy (the survivors' and the
    restarted peer's views alike); each reading goes to `peer-replicas.jsonl`, the time to
    `peer-healthy.json`. Raises DeadlineExceeded naming what is still wrong."""
    cfg = configuration or {}
    run = run_dir_of(cfg)

    def read() -> list[str]:
        try:
            rec = record_replicas("recovery", collection, cfg)
        except ScaleproofError as exc:
            return [str(exc)]
        problems = replica_problems(rec, int(store_replicas))  # type: ignore[arg-type]
        nodes = rec["healthy_nodes"]
        if not isinstance(nodes, int) or nodes < int(store_replicas):
            problems.append(f"healthy nodes: {nodes} of {store_replicas}")
        return problems

    waited = wait_until(
        read,
        deadline_s,
        interval_s,
        done=lambda p: not p,
        abort=lambda: undo.check_abort("waiting for the store to be whole"),
        wake=undo.ABORT,
        on_timeout=lambda p: f"the store is not whole after {deadline_s} s: {'; '.join(p[:4])}",
    )
    out = {"ts_healthy": time.time(), "waited_s": waited.waited_s}
    if run is not None:
        rundir.write_json_atomic(run / "peer-healthy.json", out)
    return out


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def peer_loss_figures(configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The figures so far, from the run directory (the hypothesis probe; the claim is its tolerance):
    per path failed/partial/answered since the fault, documents lost (when both tallies exist)."""
    run = run_dir_of(configuration or {})
    if run is None:
        raise ScaleproofError("peer_loss_figures reads the run directory: run it under chaos run")
    kill = _read_json(run / "peer-kill.json") or {}
    fault = kill.get("ts_accepted")
    lines = rundir.read_jsonl(run / "peer-queries.jsonl") if (run / "peer-queries.jsonl").exists() else []
    out: dict[str, Any] = {
        "fault": fault is not None,
        "replication": _read_json(run / "peer-replication.json"),
    }
    outcomes = peerloss.from_fault(lines, fault) if fault is not None else []
    for via in ("app", "store"):
        f = peerloss.path_figures(outcomes, via)
        out[via] = {"sent": f.sent, "failed": f.failed, "partial": f.partial, "first_error": f.first_error}
    docs = (
        {d["label"]: d for d in rundir.read_jsonl(run / "peer-documents.jsonl")}
        if (run / "peer-documents.jsonl").exists()
        else {}
    )
    if "before" in docs and "after" in docs:
        out["documents_lost"] = peerloss.documents_lost(docs["before"], docs["after"]).lost
    return out


def peer_loss_within_budget(
    value: Mapping[str, Any] | None = None,
    max_failed: int = 0,
    max_partial: int = 0,
    configuration: Mapping[str, Any] | None = None,
) -> bool:
    """Tolerance: on every path, failed <= `max_failed` and partial <= `max_partial` since the fault,
    and 0 documents lost once both tallies exist. Each check goes to claims.jsonl; a breach is
    logged with its reason (the path, the count, the store's first error, the factor read back)."""
    v = value or {}
    run = run_dir_of(configuration or {})
    met = True
    factor = (v.get("replication") or {}).get("factor")
    for via in ("app", "store"):
        p = v.get(via) or {}
        for what, limit in (("failed", max_failed), ("partial", max_partial)):
            ok = int(p.get(what) or 0) <= int(limit)
            record_check(run, f"{what}_queries_{via}", int(p.get(what) or 0), int(limit), ok, "<=")
            if not ok:
                logger.warning(
                    "claim breached: %d %s queries through the %s (budget %d; replication factor %s read "
                    "back from the store; first error: %s)",
                    p.get(what),
                    what,
                    via,
                    limit,
                    factor,
                    p.get("first_error"),
                )
            met = met and ok
    if "documents_lost" in v:
        ok = int(v["documents_lost"]) == 0
        record_check(run, "documents_lost", int(v["documents_lost"]), 0, ok, "<=")
        met = met and ok
    return met
