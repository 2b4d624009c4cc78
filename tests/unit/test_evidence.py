"""scaleproof.evidence: the evidence block from a recorded run dir, criteria, verdicts, control hooks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scaleproof import evidence, rundir
from tests.unit import eventlog as tt

pytestmark = pytest.mark.unit
DOWN = "http://127.0.0.1:9"  # nothing listens on the discard port: Prometheus "down"

POD_KILL_CRITERIA = [
    "mttr_p95_s <= 10",
    "failed_requests_per_kill_max <= 0",
    "kills >= 1",
    "kills_unrecovered <= 0",
]


def journal(kind: str, crit: list[str], **over) -> dict:
    j = {
        "chaoslib-version": "1.44.0",
        "experiment": {"title": "t", "extensions": [{"name": "scaleproof", "kind": kind, "criteria": crit}]},
        "start": "2025-11-28T12:03:00+00:00",
        "end": "2025-11-28T12:05:00+00:00",
        "status": "completed",
        "deviated": False,
        "steady_states": {"before": {"steady_state_met": True, "probes": []}, "after": None, "during": []},
        "run": [{"activity": {"name": "kill"}, "status": "succeeded"}],
        "rollbacks": [],
    }
    j.update(over)
    return j


def pod_kill_run_dir(path: Path, failures: int = 0) -> Path:
    for e in tt.simple_kill_log():
        rundir.append_event(path, e)
    rundir.append_event(
        path,
        {"kind": "Pod", "name": "searchapp-a", "uid": "a", "action": "delete", "t": tt.T0},
        name="touched.jsonl",
    )
    reqs = {str(int(tt.T0) + i): 30 for i in range(8)}
    fails = {str(int(tt.T0) + 1): failures} if failures else {}
    Path(path / "load_final.json").write_text(
        json.dumps([{"num_reqs_per_sec": reqs, "num_fail_per_sec": fails}])
    )
    rundir.write_json_atomic(
        path / "run.json",
        {"run_id": path.name, "kind": "pod-kill", "experiment_path": None, "experiment_sha256": None},
    )
    rundir.write_json_atomic(
        path / "specs.json",
        {
            "specs": {"hpa": {"minReplicas": 1}},
            "images": {"searchapp": "img:1"},
            "kubernetes_server": "v1.35.4",
            "errors": {},
        },
    )
    return path


def test_pod_kill_evidence_passes_with_figures(tmp_path):
    d = pod_kill_run_dir(tmp_path)
    ev = evidence.build_evidence(journal("pod-kill", POD_KILL_CRITERIA), d, {"prometheus_url": DOWN})
    m = ev["metrics"]
    assert m["mttr_p95_s"]["value"] == pytest.approx(3.6) and m["mttr_p95_s"]["unit"] == "s"
    assert m["mttr_p95_s"]["resolution_s"] == 0.001 and m["mttr_p95_s"]["samples"] == 1
    assert m["kills"]["value"] == 1 and m["failed_requests_per_kill_max"]["value"] == 0
    assert m["min_ready_replicas"]["value"] == 2
    assert ev["verdict"] == "pass", ev["verdict_reasons"]
    assert ev["version"] == 1 and ev["name"] == "scaleproof"
    assert ev["timelines"]["kills"][0]["replacement_uid"] == "d"
    assert ev["touched"][0]["uid"] == "a" and ev["images"] == {"searchapp": "img:1"}
    assert ev["versions"]["kubernetes_server"] == "v1.35.4" and ev["versions"]["chaostoolkit-lib"]
    assert "unavailable" in ev["prometheus"]  # Prometheus down is recorded, not fatal
    assert len(ev["load"]["per_second"]) == 8


def test_failed_requests_fail_the_verdict(tmp_path):
    d = pod_kill_run_dir(tmp_path, failures=3)
    ev = evidence.build_evidence(journal("pod-kill", POD_KILL_CRITERIA), d, prometheus=False)
    assert ev["metrics"]["failed_requests_per_kill_max"]["value"] == 3
    assert ev["verdict"] == "fail"
    assert any("failed_requests_per_kill_max" in r for r in ev["verdict_reasons"])


def test_missing_metric_is_inconclusive(tmp_path):
    d = pod_kill_run_dir(tmp_path)
    ev = evidence.build_evidence(
        journal("pod-kill", POD_KILL_CRITERIA + ["time_to_scale_s <= 120"]), d, prometheus=False
    )
    assert ev["verdict"] == "inconclusive"


@pytest.mark.parametrize(
    "over",
    [
        {"status": "interrupted"},
        {"deviated": True},
        {"steady_states": {"before": {"steady_state_met": False, "probes": []}, "after": None, "during": []}},
        {
            "steady_states": {
                "before": None,
                "after": None,
                "during": [{"steady_state_met": False, "probes": []}],
            }
        },
        {"run": [{"activity": {"name": "kill"}, "status": "failed"}]},
        {"rollbacks": [{"activity": {"name": "stop-load"}, "status": "failed"}]},
    ],
)
def test_journal_state_failures_win(tmp_path, over):
    d = pod_kill_run_dir(tmp_path)
    ev = evidence.build_evidence(journal("pod-kill", POD_KILL_CRITERIA, **over), d, prometheus=False)
    assert ev["verdict"] == "fail"


def test_no_kill_recorded_is_inconclusive_not_pass(tmp_path):
    rundir.write_json_atomic(tmp_path / "run.json", {"run_id": "r", "kind": "pod-kill"})
    ev = evidence.build_evidence(journal("pod-kill", ["mttr_p95_s <= 10"]), tmp_path, prometheus=False)
    assert ev["metrics"]["mttr_p95_s"]["value"] is None and ev["metrics"]["mttr_p95_s"]["reason"]
    assert ev["verdict"] == "inconclusive"


def test_vector_shards_evidence(tmp_path):
    rows = [
        {"shard": "s1", "node": "w0", "objects": 34},
        {"shard": "s2", "node": "w1", "objects": 33},
        {"shard": "s3", "node": "w2", "objects": 33},
    ]
    rundir.append_event(
        tmp_path,
        {
            "label": "before",
            "collection": "Documents",
            "per_shard": rows,
            "counters": {"s1": 5, "s2": 5, "s3": 5},
        },
        name="shards.jsonl",
    )
    rundir.append_event(
        tmp_path,
        {
            "label": "after",
            "collection": "Documents",
            "per_shard": rows,
            "counters": {"s1": 25, "s2": 19, "s3": 5},
        },
        name="shards.jsonl",
    )
    crit = ["shards_min >= 2", "nodes_with_shards >= 2", "documents_total == 100", "shards_queried >= 2"]
    ev = evidence.build_evidence(journal("vector-shards", crit), tmp_path, prometheus=False)
    m = ev["metrics"]
    assert (
        m["shards_min"]["value"],
        m["nodes_with_shards"]["value"],
        m["documents_total"]["value"],
        m["shards_queried"]["value"],
    ) == (3, 3, 100, 2)
    assert ev["verdict"] == "pass", ev["verdict_reasons"]
    assert {r["shard"]: r["queries"] for r in ev["timelines"]["shards"]["per_shard"]} == {
        "s1": 20,
        "s2": 14,
        "s3": 0,
    }


def test_hpa_scale_evidence(tmp_path):
    log, load = tt.scale_log()
    for e in log:
        rundir.append_event(tmp_path, e)
    reqs = {str(int(r["t"])): r["requests"] for r in load}
    (tmp_path / "load_final.json").write_text(
        json.dumps([{"num_reqs_per_sec": reqs, "num_fail_per_sec": {}}])
    )
    ev = evidence.build_evidence(
        journal("hpa-scale", ["time_to_scale_s <= 120", "max_ready_replicas >= 3", "error_rate <= 0.01"]),
        tmp_path,
        prometheus=False,
    )
    # no users column without the CSV history: load_reached falls back to the Load STARTED record
    assert ev["metrics"]["time_to_scale_s"]["value"] == pytest.approx(42.0)
    assert ev["metrics"]["error_rate"]["value"] == 0.0 and ev["verdict"] == "pass"


def test_controls_create_run_dir_and_append_block(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(rundir.ENV_VAR, raising=False)
    monkeypatch.setattr(evidence.undo, "install_signal_guard", lambda: True)
    hooks = []
    monkeypatch.setattr(evidence.undo, "install_exit_hook", lambda d, c=None: hooks.append(d))
    cfg: dict = {}
    exp = {
        "title": "t",
        "extensions": [{"name": "scaleproof", "kind": "pod-kill", "criteria": ["kills >= 1"]}],
    }
    evidence.configure_control(configuration=cfg, experiment=exp, runs_root="journals/runs")
    run_dir = Path(cfg[rundir.CONFIG_KEY])
    assert run_dir.is_absolute() and hooks == [run_dir]
    assert run_dir.parent == tmp_path / "journals/runs" and run_dir.name.split("-", 1)[1].startswith(
        "pod-kill"
    )
    assert json.loads((run_dir / "run.json").read_text())["kind"] == "pod-kill"
    state = journal(
        "pod-kill", ["kills >= 1"], extensions=[{"name": "scaleproof", "stale": True}, {"name": "other"}]
    )
    evidence.after_experiment_control(state=state, configuration=cfg, prometheus=False)
    names = [e["name"] for e in state["extensions"]]
    assert names == ["other", "scaleproof"] and "stale" not in state["extensions"][1]
    assert state["extensions"][1]["verdict"] == "fail"  # kills = 0
    assert json.loads((run_dir / "evidence.json").read_text())["run_id"] == run_dir.name


def test_after_control_never_raises(monkeypatch, tmp_path):
    monkeypatch.setattr(evidence, "build_evidence", lambda *a, **k: 1 / 0)
    state: dict = {}
    evidence.after_experiment_control(state=state, configuration={rundir.CONFIG_KEY: str(tmp_path)})
    assert state["extensions"][0]["verdict"] == "inconclusive"
    assert "ZeroDivisionError" in state["extensions"][0]["verdict_reasons"][0]


def _scale_dir(path: Path) -> Path:
    log, load = tt.scale_log()
    for e in log:
        rundir.append_event(path, e)
    reqs = {str(int(r["t"])): r["requests"] for r in load}
    (path / "load_final.json").write_text(json.dumps([{"num_reqs_per_sec": reqs, "num_fail_per_sec": {}}]))
    return path


def test_configured_target_replicas_wins_over_the_extension_literal(tmp_path):
    """SCALEPROOF_TARGET_REPLICAS=2 with an extension still saying 3: time-to-2, not time-to-3."""
    j = journal("hpa-scale", ["max_ready_replicas >= 2"])
    j["experiment"]["extensions"][0]["target_replicas"] = 3
    ev = evidence.build_evidence(j, _scale_dir(tmp_path), {"target_replicas": 2}, prometheus=False)
    # b is the 2nd Ready pod at +40 (load STARTED at +0); time-to-3 (c) would be 42
    assert ev["metrics"]["time_to_scale_s"]["value"] == pytest.approx(40.0)
    assert "2 pods Ready" in ev["metrics"]["time_to_scale_s"]["method"]


def test_criteria_are_templates_filled_from_the_configuration(tmp_path):
    from scaleproof import verdict

    crit = ["time_to_scale_s <= ${max_time_to_scale_s}", "max_ready_replicas >= ${target_replicas}"]
    j = journal("hpa-scale", crit)
    j["experiment"]["extensions"][0]["target_replicas"] = "${target_replicas}"
    cfg = {"target_replicas": 3, "max_time_to_scale_s": 120.0, "kube_token": "s3cret"}
    ev = evidence.build_evidence(j, _scale_dir(tmp_path), cfg, prometheus=False)
    assert [c["expr"] for c in ev["criteria"]] == ["time_to_scale_s <= 120.0", "max_ready_replicas >= 3"]
    assert ev["verdict"] == "pass" and ev["configuration"]["target_replicas"] == 3
    assert "kube_token" not in ev["configuration"]  # credentials never land in the journal
    j["extensions"] = [ev]
    v = verdict.verdict(j)
    assert v.outcome == "pass", v.reasons  # the CLI verdict fills the same templates
    ev5 = evidence.build_evidence(j, tmp_path, {**cfg, "target_replicas": 5}, prometheus=False)
    assert ev5["verdict"] == "fail" and "max_ready_replicas >= 5" in " ".join(ev5["verdict_reasons"])


# ------------------------------------------------------------------- one verdict (issue 11)
REPO = Path(__file__).resolve().parents[2]
COMMITTED = sorted(REPO.glob("journals/*/*.json"))


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_control_and_cli_judge_committed_journals_alike(path):
    """The control's verdict (judging the block it writes) equals the recorded one and the CLI's."""
    from scaleproof import verdict

    j = json.loads(path.read_text())
    (block,) = [e for e in j["extensions"] if e.get("name") == "scaleproof"]
    written = {k: v for k, v in block.items() if k not in ("verdict", "verdict_reasons")}
    in_progress = {**j, "extensions": []}
    assert verdict.verdict(in_progress, evidence=written).outcome == block["verdict"]
    assert verdict.verdict(j).outcome == block["verdict"]


def _breach(name: str) -> dict:
    return {
        "steady_state_met": False,
        "probes": [{"activity": {"name": name}, "status": "succeeded", "tolerance_met": False, "output": 0}],
    }


def test_control_names_the_probes_that_breached(tmp_path):
    d = pod_kill_run_dir(tmp_path)
    ss = {
        "before": None,
        "after": None,
        "during": [_breach("ready-replicas-at-least-1"), {"steady_state_met": True}],
    }
    ev = evidence.build_evidence(
        journal("pod-kill", POD_KILL_CRITERIA, steady_states=ss), d, prometheus=False
    )
    assert ev["verdict"] == "fail"
    assert (
        "steady state breached during the method in 1 of 2 samples (not reflected in `deviated`): "
        "ready-replicas-at-least-1"
    ) in ev["verdict_reasons"]


def test_control_inconclusive_when_the_method_ran_fewer_activities(tmp_path):
    d = pod_kill_run_dir(tmp_path)
    j = journal("pod-kill", POD_KILL_CRITERIA)
    j["experiment"]["method"] = [{"type": "action", "name": "kill"}, {"type": "action", "name": "wait"}]
    ev = evidence.build_evidence(j, d, prometheus=False)
    assert ev["verdict"] == "inconclusive"
    assert "method ran 1 of 2 declared activities" in ev["verdict_reasons"]


def test_control_inconclusive_when_any_metric_is_null(tmp_path):
    """Before issue 11 the control passed a run whose null metric no criterion named."""
    d = pod_kill_run_dir(tmp_path)
    (d / "load_final.json").unlink()  # no load: failed_requests_per_kill_max has no value
    ev = evidence.build_evidence(journal("pod-kill", ["mttr_p95_s <= 10", "kills >= 1"]), d, prometheus=False)
    assert ev["metrics"]["failed_requests_per_kill_max"]["value"] is None
    assert ev["verdict"] == "inconclusive"
    assert any(
        r.startswith("metric failed_requests_per_kill_max could not be computed")
        for r in ev["verdict_reasons"]
    )


def test_criterion_failure_carries_the_metrics_reason_in_both_paths(tmp_path):
    from scaleproof import verdict

    d = pod_kill_run_dir(tmp_path, failures=3)
    j = journal("pod-kill", POD_KILL_CRITERIA)
    ev = evidence.build_evidence(j, d, prometheus=False)
    ev["metrics"]["failed_requests_per_kill_max"]["reason"] = "the kill window had a rollout"
    j["extensions"] = [evidence._judged(j, {k: v for k, v in ev.items() if k != "verdict"})]
    expected = (
        "criterion `failed_requests_per_kill_max <= 0` not met: value 3 requests "
        "(the kill window had a rollout)"
    )
    assert expected in j["extensions"][0]["verdict_reasons"]
    assert expected in verdict.verdict(j).reasons


def test_journal_judged_before_its_status_is_set_is_inconclusive_not_fail(tmp_path):
    d = pod_kill_run_dir(tmp_path)
    ev = evidence.build_evidence(journal("pod-kill", POD_KILL_CRITERIA, status=None), d, prometheus=False)
    assert ev["verdict"] == "inconclusive"
    assert "journal not finished when judged (no status yet)" in ev["verdict_reasons"]


def test_measurement_cost_from_the_run_dir_and_per_kill(tmp_path):
    """The chaos process' usage (cost.json, written by the control at the run's end) and Locust's (on
    the Load STOPPED line) become shares of the machine; the event log is counted per kill."""
    d = pod_kill_run_dir(tmp_path)
    rundir.write_json_atomic(
        d / evidence.COST_FILE, {"pid": 7, "cores": 2, "cpu_s": 30.0, "wall_s": 100.0, "rss_peak_mib": 150.0}
    )
    rundir.append_event(
        d,
        {
            "t": tt.T0 + 9,
            "source": "action",
            "kind": "Load",
            "type": "STOPPED",
            "pid": 8,
            "usage": {"pid": 8, "cores": 2, "cpu_s": 50.0, "wall_s": 50.0},
        },
    )
    ev = evidence.build_evidence(journal("pod-kill", POD_KILL_CRITERIA), d, {"prometheus_url": ""})
    cost = ev["cost"]
    size = (d / rundir.EVENTS_FILE).stat().st_size
    assert cost["cores"] == 2 and cost["chaos_process"]["machine_share"] == 0.15
    assert cost["load_generator"]["machine_share"] == 0.5
    assert cost["kills"] == 1 and cost["events_bytes"] == size and cost["events_bytes_per_kill"] == size


def test_after_control_records_the_chaos_process_cost(tmp_path, monkeypatch):
    d = tmp_path / "run"
    d.mkdir()
    pod_kill_run_dir(d)
    state = journal("pod-kill", POD_KILL_CRITERIA)
    evidence.after_experiment_control(
        state=state, configuration={rundir.CONFIG_KEY: str(d), "prometheus_url": ""}, prometheus=False
    )
    block = next(e for e in state["extensions"] if e["name"] == evidence.EVIDENCE_NAME)
    me = block["cost"]["chaos_process"]
    assert me["pid"] == os.getpid() and me["cpu_s"] > 0 and 0 < me["machine_share"] <= 1
