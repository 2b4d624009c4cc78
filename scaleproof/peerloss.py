"""Pure figures of a store peer loss: what the queries saw each second, and whether data was lost.

Layer 1 (no I/O). The load (`actions.peerload`) records one `QueryOutcome` per query it sent, on
two paths: `app` (the app's `POST /search`) and `store` (straight to the store through its adapter).
Every outcome is judged against the SAME query's answer at baseline, before the fault:

* `answered`: an answer with at least as many result ids as at baseline;
* `partial`: an answer with FEWER result ids than at baseline (a store that answers 200 with less);
* `failed`: an error, a timeout or a non-200 answer.

Availability is measured from these outcomes, never from the store's replica states: Qdrant 1.18.3
keeps a dead peer's replicas `Active` while only reads arrive (the replication recordings of
2026-12-07), so the states are the store's own account, which may lag, and are recorded beside.

`tally_of` reads a collection's ids as a count and a checksum (sha256 of the sorted ids), so that
"nothing lost" is checked on the ids, not only on a count that a duplicate could mask.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from scaleproof.errors import ScaleproofError
from scaleproof.phases import percentile

__all__ = [
    "DocTally",
    "LossFigures",
    "Outcome",
    "PathFigures",
    "PeerLossInputs",
    "QueryOutcome",
    "Second",
    "Window",
    "check_replication",
    "classify",
    "documents_lost",
    "from_fault",
    "path_figures",
    "per_second",
    "recovery_s",
    "tally_of",
    "unavailable_window",
]

Outcome = Literal["answered", "partial", "failed"]


class QueryOutcome(TypedDict, total=False):
    """One query of the fixed set, as the load recorded it (one line of `peer-queries.jsonl`)."""

    t: float  # seconds from the fault (negative before it), when the query was sent
    via: str  # "app" or "store"
    q: int  # index in the fixed query set
    outcome: Outcome
    latency_ms: float
    hits: int | None  # result ids in the answer (None when it failed)
    baseline_hits: int  # result ids the same query gave at baseline
    error: str | None  # the failure, one line (the store's own words when it gave them)


class DocTally(TypedDict):
    """A collection's documents: how many, and a checksum of their ids."""

    count: int
    checksum: str  # sha256 over the sorted ids, one per line
    source: str


@dataclass(frozen=True)
class Second:
    """What one path's queries saw in one second (t_s = floor of seconds from the fault)."""

    t_s: int
    via: str
    sent: int
    answered: int
    partial: int
    failed: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class Window:
    """From the first failed or partial query after the fault to the last one."""

    start_s: float
    end_s: float
    seconds: float  # end - start
    bad_seconds: int  # seconds (per_second rows) with at least one failed or partial query


@dataclass(frozen=True)
class PathFigures:
    via: str
    sent: int
    answered: int
    partial: int
    failed: int
    baseline_p50_ms: float | None  # before the fault
    fault_p50_ms: float | None  # from the fault on
    fault_p95_ms: float | None
    fault_p99_ms: float | None
    unavailable: Window | None
    first_error: str | None  # the first failure's text (e.g. Qdrant's "1 of 1 read operations failed")


@dataclass(frozen=True)
class LossFigures:
    before: int
    after: int
    lost: int  # documents missing after recovery (0 when the ids are the same)
    same_ids: bool  # the checksums are equal


def classify(ok: bool, hits: int | None, baseline_hits: int) -> Outcome:
    """The outcome of one query against its baseline answer (see the module docstring)."""
    if not ok or hits is None:
        return "failed"
    return "partial" if hits < baseline_hits else "answered"


def _pcts(latencies: Sequence[float]) -> tuple[float | None, float | None, float | None]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 2)

    return r(percentile(latencies, 50)), r(percentile(latencies, 95)), r(percentile(latencies, 99))


def per_second(outcomes: Iterable[QueryOutcome]) -> list[Second]:
    """One row per path and second (floor of `t`), sorted by second then path. The latency
    percentiles are over every query of the second, failed ones included (a failure's latency is
    the time the caller waited for it)."""
    groups: dict[tuple[int, str], list[QueryOutcome]] = {}
    for o in outcomes:
        groups.setdefault((int(o["t"] // 1), str(o["via"])), []).append(o)
    rows = []
    for (t_s, via), os_ in sorted(groups.items()):
        n = {k: sum(1 for o in os_ if o["outcome"] == k) for k in ("answered", "partial", "failed")}
        p50, p95, p99 = _pcts([float(o.get("latency_ms") or 0.0) for o in os_])
        rows.append(Second(t_s, via, len(os_), n["answered"], n["partial"], n["failed"], p50, p95, p99))
    return rows


def unavailable_window(outcomes: Iterable[QueryOutcome], via: str) -> Window | None:
    """The window of failed or partial queries of path `via` from the fault on (None: there was none)."""
    bad = sorted(
        float(o["t"]) for o in outcomes if o["via"] == via and o["t"] >= 0 and o["outcome"] != "answered"
    )
    if not bad:
        return None
    seconds = {int(t // 1) for t in bad}
    return Window(round(bad[0], 3), round(bad[-1], 3), round(bad[-1] - bad[0], 3), len(seconds))


def path_figures(outcomes: Sequence[QueryOutcome], via: str) -> PathFigures:
    """Totals of one path from the fault on, latency before and during, the unavailable window."""
    mine = [o for o in outcomes if o["via"] == via]
    before = [float(o.get("latency_ms") or 0.0) for o in mine if o["t"] < 0]
    after = [o for o in mine if o["t"] >= 0]
    p50, p95, p99 = _pcts([float(o.get("latency_ms") or 0.0) for o in after])
    errors = [str(o.get("error")) for o in after if o["outcome"] == "failed" and o.get("error")]
    return PathFigures(
        via=via,
        sent=len(after),
        answered=sum(1 for o in after if o["outcome"] == "answered"),
        partial=sum(1 for o in after if o["outcome"] == "partial"),
        failed=sum(1 for o in after if o["outcome"] == "failed"),
        baseline_p50_ms=_pcts(before)[0],
        fault_p50_ms=p50,
        fault_p95_ms=p95,
        fault_p99_ms=p99,
        unavailable=unavailable_window(mine, via),
        first_error=errors[0] if errors else None,
    )


def recovery_s(peer_ready_s: float | None, store_healthy_s: float | None) -> float | None:
    """Seconds from the fault until the peer is Ready AND the store reports every shard and replica
    healthy (both measured from the fault); None when either never happened."""
    if peer_ready_s is None or store_healthy_s is None:
        return None
    return round(max(peer_ready_s, store_healthy_s), 3)


def tally_of(ids: Iterable[object], source: str) -> DocTally:
    """Count and checksum of a collection's ids (order-free: the ids are sorted as strings)."""
    keys = sorted(str(i) for i in ids)
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()
    return {"count": len(keys), "checksum": digest, "source": source}


def documents_lost(before: Mapping[str, object], after: Mapping[str, object]) -> LossFigures:
    """Documents lost between two tallies of the same collection. A different checksum with the same
    count means ids were replaced: counted as lost (at least one), never as 0."""
    b, a = int(str(before["count"])), int(str(after["count"]))
    same = before["checksum"] == after["checksum"]
    lost = 0 if same else max(b - a, 1)
    return LossFigures(before=b, after=a, lost=lost, same_ids=same)


def check_replication(factor: int, peers: int, collection: str, store: str) -> None:
    """Bad input, one line: a replication factor (read back from the store) above the peer count."""
    if factor > peers:
        raise ScaleproofError(
            f"{store} collection {collection!r} has replication factor {factor} but the store has "
            f"{peers} peer(s): a factor above the peer count cannot place its replicas; recreate the "
            f"collection with a factor <= {peers} or add peers (store_replicas)"
        )


def from_fault(lines: Iterable[Mapping[str, object]], fault_ts: float) -> list[QueryOutcome]:
    """The recorded query lines (wall-clock `ts`, seconds since the epoch) with `t` = seconds from the
    fault (the kill's wall-clock time), sorted by `t`."""
    out: list[QueryOutcome] = []
    for line in lines:
        o: QueryOutcome = {k: v for k, v in line.items() if k != "ts"}  # type: ignore[assignment]
        o["t"] = round(float(str(line["ts"])) - float(fault_ts), 3)
        out.append(o)
    return sorted(out, key=lambda o: o["t"])


class PeerLossInputs(TypedDict, total=False):
    """What a store-peer-loss run recorded (read from its run directory by the evidence control)."""

    queries: Sequence[Mapping[str, Any]]  # peer-queries.jsonl (wall-clock `ts`)
    kill: Mapping[str, object]  # peer-kill.json (ts_accepted, ts_ready, pod, chosen_by…)
    replication: Mapping[str, object] | None  # peer-replication.json (read back from the store)
    documents: Sequence[Mapping[str, Any]]  # peer-documents.jsonl (labels before / after)
    healthy: Mapping[str, object] | None  # peer-healthy.json (ts_healthy)
    replicas: Sequence[Mapping[str, Any]]  # peer-replicas.jsonl (the store's own account)
