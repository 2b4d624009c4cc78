"""scaleproof.builders: one pure builder per kind; figures from a Recording alone, criteria judged once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scaleproof import builders, criteria, evidence, rundir
from scaleproof.builders import BUILDERS, Recording
from tests.unit import eventlog as tt
from tests.unit.test_evidence import POD_KILL_CRITERIA, journal, pod_kill_run_dir

pytestmark = pytest.mark.unit

CADENCE = {"hpa_sync_period_s": 15.0, "metrics_resolution_s": 15.0, "sources": {}}


def _recording(kind: str, events: list[dict[str, Any]], **over: Any) -> Recording:
    declared = {"kind": kind, "criteria": over.pop("crit", [])}
    return Recording(kind, declared, {}, events, over.pop("load", []), cadence=CADENCE, **over)


def test_pod_kill_builder_needs_nothing_but_the_recording() -> None:
    figures, results = builders.build(_recording("pod-kill", tt.simple_kill_log(), crit=["kills >= 1"]))
    m = figures["metrics"]
    assert m["kills"]["value"] == 1 and m["kills_unrecovered"]["value"] == 0
    assert m["mttr_p95_s"]["value"] is not None and len(figures["timelines"]["kills"]) == 1
    # a pod-kill run's criteria need the load figures even when Locust recorded nothing
    assert m["error_rate"]["value"] is None and m["error_rate"]["reason"] == "no request recorded by Locust"
    assert [(r["expr"], r["passed"]) for r in results] == [("kills >= 1", True)]
    assert "time_to_scale_s" not in m and "shards_min" not in m


def test_the_control_builds_the_same_figures_from_the_run_dir(tmp_path: Path) -> None:
    """The I/O (evidence.recording) and the pure builder give what build_evidence records."""
    d = pod_kill_run_dir(tmp_path)
    j = journal("pod-kill", POD_KILL_CRITERIA)
    figures, results = builders.build(evidence.recording(j, d, {}))
    ev = evidence.build_evidence(j, d, prometheus=False)
    assert figures["metrics"] == ev["metrics"] and results == ev["criteria"]


def test_a_declared_kind_decides_an_undeclared_one_is_detected() -> None:
    log, load = tt.scale_log()
    assert [b.kind for b in builders.builders_for(_recording("pod-kill", log, load=load))] == ["pod-kill"]
    found = builders.builders_for(_recording("my-own", [*log, *tt.simple_kill_log()], shards=[]))
    assert [b.kind for b in found] == ["pod-kill", "hpa-scale", "vector-shards"]
    assert builders.builders_for(_recording("my-own", [])) == []


def test_vector_shards_without_a_snapshot_says_so() -> None:
    figures, _ = builders.build(_recording("vector-shards", [], shards=[]))
    assert {k: m["reason"] for k, m in figures["metrics"].items()} == dict.fromkeys(
        ("shards_min", "nodes_with_shards", "documents_total", "shards_queried"), "no shard snapshot recorded"
    )


def test_every_kind_has_its_builder() -> None:
    assert set(BUILDERS) == {"pod-kill", "hpa-scale", "vector-shards", "store-peer-loss"}
    assert all(b.kind == k for k, b in BUILDERS.items())


def test_the_control_judges_each_criterion_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One run: the builder evaluates the declared criteria; the verdict the control records reads
    them (it was judged three times per run before issue 21)."""
    d = tmp_path / "run"
    d.mkdir()
    pod_kill_run_dir(d)
    judged: list[str] = []
    real = criteria.evaluate

    def counting(crit: Any, metrics: Any) -> Any:
        results = real(crit, metrics)
        judged.extend(r["expr"] for r in results)
        return results

    monkeypatch.setattr(criteria, "evaluate", counting)
    state = journal("pod-kill", POD_KILL_CRITERIA)
    evidence.after_experiment_control(
        state=state, configuration={rundir.CONFIG_KEY: str(d), "prometheus_url": ""}, prometheus=False
    )
    assert sorted(judged) == sorted(POD_KILL_CRITERIA)
    block = state["extensions"][-1]
    assert block["verdict"] == "pass" and [c["expr"] for c in block["criteria"]] == POD_KILL_CRITERIA
