"""Vector store probes: where the data lives (per shard, per node), whether queries reach every
shard, and the state of every replica, for the store the experiment names (`store`, configuration
`store` = SCALEPROOF_STORE). Written once against the store adapters of `probes.stores` (one module
per store: `probes/stores/weaviate.py`, `probes/stores/qdrant.py`); nothing here knows a store.

`record_shards` appends a labelled snapshot (per-shard objects and cumulative query counters) to
`<run_dir>/shards.jsonl`; the evidence control turns the "before"/"after" pair into
`scaleproof.shards.shard_spread` (a counter that went down in between is a reset, reported with its
shard: `attach_query_deltas`). `shard_spread_now` (the hypothesis probe) reads the same figures
live, and `spread_claim_holds` (its tolerance) judges them by the phase of the run (see that
function). `replica_states` reads every replica's state as each node that answers sees it.
`app_collection` is the app's own view, a cross-check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from probes import placement, stores
from probes.claims import record_check, run_dir_of
from scaleproof import progress, rundir, shards, undo
from scaleproof.builders.vector_shards import attach_query_deltas
from scaleproof.errors import VectorStoreError
from scaleproof.waiting import wait_until

__all__ = [
    "app_collection",
    "attach_query_deltas",
    "healthy_nodes",
    "record_shards",
    "replica_states",
    "run_phase",
    "shard_spread_now",
    "spread_claim_holds",
    "wait_store_documents",
]

logger = logging.getLogger(__name__)


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
def healthy_nodes(
    store: str | None = None,
    timeout_s: float = 5.0,
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> int:
    """The configured store's healthy nodes (Weaviate: nodes HEALTHY; Qdrant: peers of a formed
    cluster, every peer answering: a peer that does not is named as down in the error)."""
    with stores.opened(store, configuration, secrets, timeout_s) as s:
        return s.healthy_nodes()


def replica_states(
    collection: str = "Documents",
    store: str | None = None,
    timeout_s: float = 5.0,
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every replica of every shard of `collection` with its state as each node that answers sees it
    (`replicas`: `{"shard", "node", "state", "seen_by"}`), the nodes that do not answer named as
    down or unreachable (`unanswered`), and the store and source."""
    with stores.opened(store, configuration, secrets, timeout_s) as s:
        return {"store": s.name, "collection": collection, **s.replica_states(collection)}


def record_shards(
    label: str,
    collection: str = "Documents",
    store: str | None = None,
    with_counters: bool = True,
    run_dir: str | None = None,
    namespace: str = "",
    store_selector: str = "",
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Probe: snapshot per-shard objects (and query counters) of the configured store into
    `<run_dir>/shards.jsonl` under `label` (e.g. "before"/"after" a query burst). Returns the
    snapshot. A counter source that is unavailable is recorded as `counters_error`. With `namespace`
    and `store_selector` (the store's pods), each row also names the Kubernetes node its store node
    runs on (`k8s_node`)."""
    path = rundir.resolve(run_dir, configuration)
    with stores.opened(store, configuration, secrets) as s:
        snap: dict[str, Any] = {"t": time.time(), "label": label, "collection": collection, "store": s.name}
        snap.update(s.snapshot(collection, with_counters))
    _place(snap, namespace, store_selector.replace("${store}", s.name), configuration)
    if snap.get("missing"):
        raise VectorStoreError(f"{snap['missing']}: was it created?")
    for w in snap.get("warnings") or []:
        logger.warning("%s", w)
    rundir.append_event(path, snap, name="shards.jsonl")
    progress.step(shards_line(snap))
    return snap


def _place(
    snap: dict[str, Any], namespace: str, selector: str, configuration: Mapping[str, Any] | None
) -> None:
    """Tag the snapshot's shard rows with the Kubernetes node of their store node (`k8s_node`); a
    mapping that cannot be read leaves the rows as they are, with a warning saying why."""
    rows = snap.get("per_shard") or []
    if not (namespace and selector and rows):
        return
    try:
        nodes = placement.kubernetes_nodes(
            {str(r.get("node")) for r in rows}, namespace, selector, configuration
        )
    except Exception as exc:  # noqa: BLE001 - the spread is still read over store nodes
        snap.setdefault("warnings", []).append(
            f"Kubernetes nodes of the store's pods ({namespace}, {selector}) not read: {exc}"
        )
        return
    snap["per_shard"] = placement.with_kubernetes_nodes(rows, nodes)


def shards_line(snap: Mapping[str, Any]) -> str:
    """One progress line for a shard snapshot: shards, nodes, objects and query counters per shard."""
    rows = snap.get("per_shard") or []
    shards = sorted({str(r.get("shard")) for r in rows})
    nodes = sorted({str(r.get("k8s_node") or r.get("node") or r.get("peer")) for r in rows})
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
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Block until the store's own per-shard view accounts for >= `documents` objects; returns
    `{"documents_total", "seconds"}`, raises DeadlineExceeded. Why: Weaviate's per-shard objectCount
    (`/v1/nodes`) is its "eventually consistent" async count (`Shard.ObjectCountAsync`: flushed LSM
    segments only), 0 on a fresh store until the memtables flush; Qdrant's points_count is exact."""
    with stores.opened(store, configuration, secrets) as s:

        def total() -> int:
            return int(
                shards.shard_spread(s.snapshot(collection, False).get("per_shard") or [])["documents_total"]
            )

        waited = wait_until(
            total,
            deadline_s,
            interval_s,
            done=lambda n: n >= int(documents),
            abort=lambda: undo.check_abort("waiting for the store to count the documents"),
            wake=undo.ABORT,
            on_timeout=lambda n: (
                f"{s.name}'s per-shard view shows {n} of {documents} objects of {collection} after "
                f"{deadline_s} s: the documents are not (yet) accounted for in its shards"
            ),
            clock=clock,
            sleep=sleep,
        )
    return {"documents_total": waited.value, "seconds": waited.waited_s}


# -------------------------------------------------------------------------------- steady-state claim
def _records(run: Path | None, name: str) -> list[dict[str, Any]]:
    return rundir.read_jsonl(run / name) if run is not None and (run / name).exists() else []


def _phase_of(run: Path | None, queried_label: str) -> dict[str, bool]:
    events = _records(run, rundir.EVENTS_FILE)
    ingested = any(
        e.get("kind") == "Ingest" and e.get("type") in ("DONE", "FAILED", "SKIPPED") for e in events
    )
    queried = any(s.get("label") == queried_label for s in _records(run, "shards.jsonl"))
    return {"ingested": ingested, "queried": queried}


def run_phase(
    queried_label: str = "after", configuration: Mapping[str, Any] | None = None
) -> dict[str, bool]:
    """Where this run stands, from its own records: `ingested` (an ingest action ended, ok, failed or
    skipped: `actions.data.ingest_corpus` writes an `Ingest` event) and `queried` (a `record_shards`
    snapshot labelled `queried_label` exists, i.e. the burst is over and its counters settled)."""
    return _phase_of(run_dir_of(configuration), queried_label)


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


def _reset_lines(resets: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        f"shard {r['shard']} ({r.get('node')}): its query counter went down from {r['before']:g} to "
        f"{r['after']:g} (its node restarted); searches on it since the baseline are unknown, at least "
        f"{r['after']:g}"
        for r in resets
    ]


def _spread(snap: Mapping[str, Any], base: Mapping[str, Any] | None) -> dict[str, Any]:
    """The live figures against the baseline snapshot's counters, in the probe's output order."""
    rows = attach_query_deltas(
        snap.get("per_shard") or [], (base or {}).get("counters"), snap.get("counters")
    )
    spread = shards.shard_spread(rows)
    keys = ("shards", "shards_with_data", "nodes_with_shards", "documents_total", "shards_queried")
    return {k: spread[k] for k in keys} | {
        "baseline": base.get("label") if base else None,
        "missing": snap.get("missing"),
        "warnings": [*(snap.get("warnings") or []), *_reset_lines(spread.get("counter_resets") or [])],
        "counters_error": snap.get("counters_error"),
        "per_shard": spread["per_shard"],
    }


def shard_spread_now(
    collection: str = "Documents",
    store: str | None = None,
    min_shards: int = 2,
    min_nodes: int = 2,
    min_shards_queried: int = 2,
    baseline_label: str = "before",
    queried_label: str = "after",
    namespace: str = "",
    store_selector: str = "",
    secrets: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Hypothesis probe: the spread read live from the store (`shards_with_data`, `nodes_with_shards`,
    `documents_total`, `shards_queried` = shards whose search counter rose since this run's
    `baseline_label` snapshot, None before it exists; `warnings` with remedies, counter resets
    included; `missing` when the collection does not exist yet) and `claim`: the claim judged for
    the phase of THIS run.

    Chaos Toolkit has one hypothesis for before, during and after the method, and before it the store
    is empty (or holds an earlier run's data, which proves nothing about this run), so the claim is
    read by phase from the run's own records (`run_phase`): at rest (no ingest ended yet) nothing is
    claimed, the store must only answer; once the ingest ended (ok or failed), >= `min_shards` shards
    hold data on >= `min_nodes` nodes (Kubernetes nodes when `namespace` and `store_selector` name
    the store's pods, else store nodes); once the `queried_label` snapshot exists (the burst is over,
    its counters settled), >= `min_shards_queried` shards were queried too. Never writes to the store;
    each claimed figure's check goes to the run's `claims.jsonl` (where each claim was checked)."""
    run = run_dir_of(configuration)
    with stores.opened(store, configuration, secrets) as s:
        name, snap = s.name, dict(s.snapshot(collection, True))
    # Chaos Toolkit does not fill one configuration entry's default from another: `${store}` here
    _place(snap, namespace, store_selector.replace("${store}", name), configuration)
    snaps = _records(run, "shards.jsonl")
    base = next((b for b in reversed(snaps) if b.get("label") == baseline_label), None)
    out: dict[str, Any] = {"store": name, "collection": collection, **_spread(snap, base)}
    phase = _phase_of(run, queried_label)
    reasons = _judge(out, phase, min_shards, min_nodes, min_shards_queried)
    label = "queried" if phase["queried"] else "ingested" if phase["ingested"] else "at rest"
    out["claim"] = {
        "phase": label,
        "claimed": {"shards_with_data": int(min_shards), "nodes_with_shards": int(min_nodes)}
        | ({"shards_queried": int(min_shards_queried)} if phase["queried"] else {}),
        "met": not reasons,
        "reasons": reasons,
    }
    _record_claims(out, out["claim"]["claimed"], run)
    return out


def _record_claims(value: Mapping[str, Any], claimed: Mapping[str, int], run: Path | None) -> None:
    """One `claims.jsonl` line per figure claimed in this phase (none at rest)."""
    if value["claim"]["phase"] == "at rest":
        return
    for key, threshold in claimed.items():
        got = value.get(key)
        record_check(run, key, got, threshold, got is not None and int(got) >= int(threshold))


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
