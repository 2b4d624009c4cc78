"""The node timelines replayed over event logs recorded by real runs on the 3-node local cluster
(tests/fixtures/events/README.md): the figures they give are the ones the committed journals of
those runs carry, and their phases add up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaleproof import nodetimeline

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "fixtures" / "events"


def _events(name: str) -> list[dict]:
    return [json.loads(line) for line in (EVENTS / name).read_text().splitlines() if line.strip()]


def _metrics(journal: str) -> dict:
    doc = json.loads((ROOT / "journals" / "evidence" / journal).read_text())
    ev = next(e for e in doc["extensions"] if e["name"] == "scaleproof")
    return {k: (m or {}).get("value") for k, m in ev["metrics"].items()}


def test_a_recorded_whole_node_drain_gives_its_journals_figures() -> None:
    """node-3 drained under load with an app pod and a Weaviate peer on it (2026-12-08)."""
    f = nodetimeline.drain_figures(_events("node-drain-events.jsonl"))
    m = _metrics("node-drain-20261208T001728Z.json")
    assert f["node"] == "scaleproof-node-3" and not f["blocked"] and f["left_on_node"] == []
    assert f["drain_s"] == m["drain_s"] and f["evicted_target"] == m["evicted_target_pods"] == 1
    # the other pod it evicted: the store peer, which the target's figures do not count
    assert f["evicted_other"] == 1 and f["guarantee"] == 1 and f["ready_before"] == 3
    assert f["min_ready_during"] is not None and f["min_ready_during"] >= f["guarantee"]
    (pod,) = f["pods"]
    assert pod["replacement_node"] not in (None, "scaleproof-node-3") and pod["recovered"]
    assert pod["mttr_s"] == m["pod_recovery_max_s"]


def test_a_recorded_node_loss_with_the_default_toleration_gives_its_journals_figures() -> None:
    """scaleproof-node-2 frozen under load, holding 2 of the 3 app pods after an earlier drain, the
    pods' default 300 s unreachable toleration (2026-12-08)."""
    f = nodetimeline.node_loss_figures(_events("node-loss-events.jsonl"))
    m = _metrics("node-loss-20261208T001822Z.json")
    assert f["node"] == "scaleproof-node-2" and len(f["dead_pods"]) == 2 and f["recovered"]
    for fig, metric in [
        ("mttr_s", "node_loss_mttr_s"),
        ("grace_observed_s", "grace_observed_s"),
        ("eviction_observed_s", "eviction_observed_s"),
        ("dead_endpoint_s", "dead_endpoint_s"),
        ("toleration_seconds", "toleration_seconds"),
    ]:
        assert f[fig] == m[metric], fig
    # the chain of phases adds up to the MTTR, and the toleration, not the grace period, dominates it
    assert [p["name"] for p in f["phases"]] == list(nodetimeline.NODE_LOSS_PHASES)
    assert abs(sum(p["duration_s"] for p in f["phases"]) - f["mttr_s"]) <= sum(
        p["resolution_s"] for p in f["phases"]
    )
    assert f["eviction_observed_s"] > 5 * f["grace_observed_s"]
    # both replacements were scheduled on the one node left with room: the spread is not restored
    assert set(f["replacement_nodes"].values()) == {"scaleproof-node-3"}
