"""The store-peer-loss builder (scaleproof/builders/store_peer_loss.py) through `builders.build`, on
the REAL recordings of a 3-peer Qdrant 1.18.3 cluster losing one peer (replication 1 and 2), laid
out as the load writes them: the declared criteria are judged once, rf 2 passes, rf 1 fails on its
failed queries with the factor read back as 1."""

from __future__ import annotations

from typing import Any

import pytest

from scaleproof import builders
from scaleproof.peerloss import tally_of
from tests.unit.test_peerloss import REC, _load, replay

pytestmark = pytest.mark.unit

CRITERIA = [
    "peers_killed >= 1",
    "failed_queries_app <= 0",
    "failed_queries_store <= 0",
    "partial_queries_app <= 0",
    "partial_queries_store <= 0",
    "documents_lost <= 0",
]


def _peer_loss(run: str, lost: int = 0) -> dict[str, Any]:
    """The recorded queries as the load would have written them (wall clock = 1000 s + t; the app
    path answering like the store: the recordings have no app), the kill at 1000 s."""
    from probes.stores._qdrant_readings import replication_of

    lines: list[dict[str, Any]] = []
    for o in replay(run, "default") + replay(run, "default", "recovery"):
        for via in ("app", "store"):
            lines.append({**{k: v for k, v in o.items() if k != "t"}, "ts": 1000.0 + o["t"], "via": via})
    meta = _load(REC / run / "run-meta.json")
    dead = {"shard": "0", "node": "p1", "state": "Dead", "seen_by": "p0"}
    return {
        "queries": lines,
        "kill": {
            "ts_accepted": 1000.0,
            "ts_ready": 1000.0 + meta["t_restart"],
            "pod": "qdrant-1",
            "chosen_by": "configuration",
        },
        "replication": replication_of(_load(REC / run / "before" / "collection-info-peer0.json"), "Docs"),
        "documents": [
            {"label": "before", **tally_of(range(1, 101), "t")},
            {"label": "after", **tally_of(range(1 + lost, 101), "t")},
        ],
        "healthy": {"ts_healthy": 1000.0 + meta["t_all_active_poll"]},
        "replicas": [{"ts": 999.0, "replicas": [dead]}, {"ts": 1005.0, "replicas": [dead], "unanswered": []}],
    }


def _build(peer_loss: dict[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rec = builders.Recording(
        kind="store-peer-loss",
        declared={"criteria": CRITERIA},
        configuration={},
        events=[],
        load=[],
        peer_loss=peer_loss,
    )
    figures, judged = builders.build(rec)
    return dict(figures), [dict(c) for c in judged]


def _values(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get("value") for k, m in figures["metrics"].items()}


def test_rf2_passes_every_criterion() -> None:
    figures, judged = _build(_peer_loss("rf2"))
    v = _values(figures)
    assert all(c["passed"] for c in judged), judged
    assert (v["replication_factor"], v["failed_queries_store"], v["partial_queries_store"]) == (2, 0, 0)
    assert v["recovery_s"] == 31.395 and v["unavailable_s_store"] == 0.0 and v["documents_lost"] == 0
    tl = figures["timelines"]["store_peer_loss"]
    assert tl["store_reported_not_serving"] == ["shard 0 on p1: Dead"]  # after the fault only
    assert {r["via"] for r in tl["per_second"]} == {"app", "store"}


def test_rf1_fails_on_failed_queries_with_the_factor_read_back() -> None:
    figures, judged = _build(_peer_loss("rf1"))
    v = _values(figures)
    assert [c["metric"] for c in judged if c["passed"] is False] == [
        "failed_queries_app",
        "failed_queries_store",
    ]
    assert (v["failed_queries_store"], v["partial_queries_store"], v["replication_factor"]) == (620, 0, 1)
    assert v["unavailable_s_store"] > 30
    first = figures["timelines"]["store_peer_loss"]["paths"]["store"]["first_error"]
    assert first == "HTTP 500: Service internal error: 1 of 1 read operations failed"


def test_lost_documents_fail_the_claim() -> None:
    _, judged = _build(_peer_loss("rf2", lost=3))
    assert [(c["metric"], c["value"]) for c in judged if c["passed"] is False] == [("documents_lost", 3)]


def test_no_kill_recorded_fails_peers_killed_and_leaves_the_rest_inconclusive() -> None:
    figures, judged = _build({"queries": [], "kill": {}})
    assert figures["metrics"]["peers_killed"]["value"] == 0
    assert judged[0]["passed"] is False and all(c["passed"] is None for c in judged[1:])


def test_detected_without_a_declared_kind_only_when_the_run_wrote_peer_files() -> None:
    rec = builders.Recording(kind="run", declared={}, configuration={}, events=[], load=[], peer_loss=None)
    assert "store-peer-loss" not in [b.kind for b in builders.builders_for(rec)]
    rec = builders.Recording(
        kind="run", declared={}, configuration={}, events=[], load=[], peer_loss={"kill": {}}
    )
    assert "store-peer-loss" in [b.kind for b in builders.builders_for(rec)]


def test_report_section_renders_the_numbers_the_builder_computed() -> None:
    from scaleproof.report.kinds import TIMELINE_SECTIONS

    figures, _ = _build(_peer_loss("rf1"))
    md = "\n".join(TIMELINE_SECTIONS["store_peer_loss"](None, figures["timelines"]["store_peer_loss"], {}))  # type: ignore[arg-type]
    assert "### Store peer loss: `qdrant-1` killed (configuration; graceful delete)" in md
    assert "Replication factor 1, read back from the store (Qdrant GET /collections/Docs" in md
    assert "| store | 740 | 120 | 0 | 620 | 30.5 |" in md and "1 of 1 read operations failed" in md
    assert "| 0 | store | 20 | 0 | 0 | 20 |" in md  # the first second after the kill
    assert "(" in md and "more seconds in the evidence block" in md  # 31 s x 2 paths > 40 rows
    assert "shard 0 on p1: Dead" in md and "100 after recovery, ids identical" in md
    figures2, _ = _build(_peer_loss("rf2"))
    md2 = "\n".join(TIMELINE_SECTIONS["store_peer_loss"](None, figures2["timelines"]["store_peer_loss"], {}))  # type: ignore[arg-type]
    assert "No second from the kill on had a failed or partial query." in md2


def test_bench_puts_rf1_and_rf2_side_by_side(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from scaleproof.bench import bench_command

    for run, verdict in (("rf1", "fail"), ("rf2", "pass")):
        figures, judged = _build(_peer_loss(run))
        d = tmp_path / f"store-peer-loss-{run}"
        d.mkdir()
        block = {
            "name": "scaleproof",
            "version": 1,
            "run_id": d.name,
            "experiment": {"kind": "store-peer-loss"},
            "metrics": figures["metrics"],
            "timelines": figures["timelines"],
            "criteria": judged,
            "verdict": verdict,
        }
        (d / "evidence.json").write_text(json.dumps(block))
    res = CliRunner().invoke(
        bench_command,
        [
            "store-peer-loss",
            str(tmp_path / "store-peer-loss-rf1"),
            str(tmp_path / "store-peer-loss-rf2"),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    fig = json.loads(res.output)
    assert fig["by_factor"]["1"]["failed_queries_store"] == 620 and fig["by_factor"]["1"]["verdicts"] == {
        "fail": 1
    }
    assert fig["by_factor"]["2"]["failed_queries_store"] == 0 and fig["by_factor"]["2"]["documents_lost"] == 0
    text = CliRunner().invoke(
        bench_command,
        ["store-peer-loss", str(tmp_path / "store-peer-loss-rf1"), str(tmp_path / "store-peer-loss-rf2")],
    )
    assert "side by side (worst run per replication factor)" in text.output and "replication 2" in text.output
