"""The pure peer-loss figures (scaleproof/peerloss.py), on synthetic outcomes and on the REAL
responses of a 3-peer Qdrant 1.18.3 cluster while one peer was killed (tests/fixtures/qdrant/
replication-2026-12-07/, recorded 2026-12-07): every recorded query is classified against the
same query's recorded baseline answer, its error text read by the Qdrant adapter's own reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from probes.stores._qdrant_readings import error_line, replication_of
from scaleproof.errors import ScaleproofError
from scaleproof.peerloss import (
    QueryOutcome,
    check_replication,
    classify,
    documents_lost,
    path_figures,
    per_second,
    recovery_s,
    tally_of,
    unavailable_window,
)

REC = Path(__file__).resolve().parents[1] / "fixtures" / "qdrant" / "replication-2026-12-07"


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def _baseline(run: str, peer: int, consistency: str) -> dict[int, int]:
    rows = _load(REC / run / "before" / f"query-peer{peer}.{consistency}.json")
    return {r["q"]: len(r["response"]["result"]["points"]) for r in rows}


def _body(entry: dict[str, Any], messages: list[str]) -> str:
    """The verbatim error body (index.json: every body is exactly this; the first keeps body_raw)."""
    if entry.get("body_raw"):
        return str(entry["body_raw"])
    msg = json.dumps(messages[entry["error_id"]])
    return '{"status":{"error":' + msg + '},"time":' + entry["qdrant_time_raw"] + "}"


def replay(run: str, consistency: str, part: str = "peer1-down") -> list[QueryOutcome]:
    """The recorded queries of one consistency level as the load would have recorded them."""
    doc = _load(REC / run / part / "queries.json")
    messages = doc.get("error_messages") or []
    out: list[QueryOutcome] = []
    for e in doc["entries"]:
        if e["consistency"] != consistency:
            continue
        base = _baseline(run, e["peer"], consistency)[e["q"]]
        ok = e["status"] == 200
        out.append(
            {
                "t": e["t"],
                "via": "store",
                "q": e["q"],
                "outcome": classify(ok, e.get("hits"), base),
                "latency_ms": e["latency_ms"],
                "hits": e.get("hits"),
                "baseline_hits": base,
                "error": None if ok else error_line(_body(e, messages), e["status"]),
            }
        )
    return out


def test_rf1_every_query_fails_with_qdrants_words_and_never_partial() -> None:
    outcomes = replay("rf1", "default")
    f = path_figures(outcomes, "store")
    assert (f.sent, f.failed, f.partial, f.answered) == (620, 620, 0, 0)
    assert f.first_error == "HTTP 500: Service internal error: 1 of 1 read operations failed"
    assert f.unavailable is not None and f.unavailable.bad_seconds == 31
    assert f.unavailable.start_s < 0.1 and f.unavailable.end_s > 30
    before = [r for r in per_second(outcomes) if r.t_s < 0]
    assert [(r.sent, r.failed) for r in before] == [(20, 0)] * 3


def test_rf2_default_consistency_loses_nothing() -> None:
    outcomes = replay("rf2", "default")
    f = path_figures(outcomes, "store")
    assert (f.sent, f.answered, f.failed, f.partial) == (620, 620, 0, 0)
    assert f.unavailable is None and f.first_error is None
    down = [r for r in per_second(outcomes) if 0 <= r.t_s <= 30]
    assert len(down) == 31 and all(r.sent == 20 and r.answered == 20 for r in down)


def test_rf2_consistency_all_fails_every_query() -> None:
    f = path_figures(replay("rf2", "all"), "store")
    assert (f.sent, f.failed, f.partial) == (620, 620, 0)
    assert f.first_error is not None and "1 of 2 read operations failed" in f.first_error


def test_recovery_queries_all_answered_in_both_runs() -> None:
    for run in ("rf1", "rf2"):
        outcomes = replay(run, "default", "recovery")
        assert outcomes and all(o["outcome"] == "answered" for o in outcomes)


def test_replication_read_back_from_the_collection_info() -> None:
    for run, factor in (("rf1", 1), ("rf2", 2)):
        got = replication_of(_load(REC / run / "before" / "collection-info-peer0.json"), "Docs")
        assert (got["factor"], got["write_consistency_factor"], got["shards"]) == (factor, 1, 3)


def test_a_short_answer_is_partial_and_counts_in_the_window() -> None:
    base = {"via": "app", "q": 0, "latency_ms": 10.0, "baseline_hits": 5}
    outcomes: list[QueryOutcome] = [
        {**base, "t": -0.5, "outcome": classify(True, 5, 5), "hits": 5},  # type: ignore[typeddict-item]
        {**base, "t": 1.2, "outcome": classify(True, 3, 5), "hits": 3},  # type: ignore[typeddict-item]
        {**base, "t": 4.7, "outcome": classify(False, None, 5), "hits": None},  # type: ignore[typeddict-item]
        {**base, "t": 6.0, "outcome": classify(True, 5, 5), "hits": 5},  # type: ignore[typeddict-item]
    ]
    w = unavailable_window(outcomes, "app")
    assert w is not None and (w.start_s, w.end_s, w.seconds, w.bad_seconds) == (1.2, 4.7, 3.5, 2)
    f = path_figures(outcomes, "app")
    assert (f.sent, f.answered, f.partial, f.failed) == (3, 1, 1, 1)
    assert unavailable_window(outcomes, "store") is None


def test_documents_lost_compares_ids_not_only_counts() -> None:
    a = tally_of(range(1, 101), "t")
    assert documents_lost(a, tally_of(reversed(range(1, 101)), "t")).lost == 0
    assert documents_lost(a, tally_of(range(1, 99), "t")).lost == 2
    swapped = documents_lost(a, tally_of([*range(1, 100), 1000], "t"))
    assert (swapped.lost, swapped.same_ids, swapped.after) == (1, False, 100)


def test_recovery_is_the_later_of_peer_ready_and_store_healthy() -> None:
    assert recovery_s(12.5, 13.25) == 13.25
    assert recovery_s(14.0, 13.25) == 14.0
    assert recovery_s(None, 3.0) is None


def test_replication_above_peer_count_is_one_clear_line() -> None:
    check_replication(2, 3, "Docs", "weaviate")
    with pytest.raises(ScaleproofError) as exc:
        check_replication(4, 3, "Docs", "qdrant")
    assert "replication factor 4" in str(exc.value) and "3 peer(s)" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_error_line_without_a_json_body() -> None:
    assert error_line("upstream connect error\nmore", 503) == "HTTP 503: upstream connect error"
    assert error_line(b"", None) == "no body"
