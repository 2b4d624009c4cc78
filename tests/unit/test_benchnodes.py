"""`scaleproof bench node-loss` / `node-drain`: phases over runs, side by side per tolerationSeconds,
recomputed from the run directory when the evidence block has no node timeline."""

from __future__ import annotations

import json

import pytest

from scaleproof import bench
from tests.unit.test_nodetimeline import node_loss_log

pytestmark = pytest.mark.unit


def _run(tmp_path, name: str, toleration: int, shift: float) -> str:
    d = tmp_path / name
    d.mkdir()
    lines = node_loss_log()
    for e in lines:
        if e.get("kind") == "NodeFault" and e.get("type") == "PLANNED":
            e["toleration_seconds"] = toleration
        if e["t"] >= 1052.0:  # eviction and everything after it comes `shift` s later
            e["t"] += shift
    (d / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    ev = {
        "name": "scaleproof",
        "run_id": name,
        "run_dir": str(d),
        "verdict": "pass",
        "experiment": {"kind": "node-loss"},
        "timelines": {},
    }
    (d / "evidence.json").write_text(json.dumps(ev))
    return str(d)


def test_bench_node_loss_prints_the_phases_per_toleration(tmp_path, capsys):
    paths = [_run(tmp_path, "a", 10, 0.0), _run(tmp_path, "b", 300, 290.0), _run(tmp_path, "c", 10, 2.0)]
    assert bench.main(["node-loss", *paths]) == 0
    out = capsys.readouterr().out
    assert "node-loss: 3 run(s)" in out and "tolerationSeconds 10" in out and "tolerationSeconds 300" in out
    assert bench.main(["node-loss", *paths, "--json"]) == 0
    fig = json.loads(capsys.readouterr().out)
    groups = fig["by_toleration"]
    assert groups["10"]["runs"] == 2 and groups["300"]["runs"] == 1
    assert groups["10"]["mttr_s"]["median"] == pytest.approx(55.6) and groups["300"]["mttr_s"][
        "max"
    ] == pytest.approx(344.6)
    assert groups["300"]["phases"]["pods_evicted"]["median"] == pytest.approx(299.9)


def test_bench_node_loss_without_runs_says_how_to_make_one(tmp_path, capsys):
    assert bench.main(["node-loss", str(tmp_path)]) == 2
    assert "experiments/node-loss.yaml" in capsys.readouterr().err
