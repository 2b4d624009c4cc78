"""actions.pods: kill safety rules, victim records, undo plan before the fault, dry run."""

from __future__ import annotations

import json
import random

import pytest

from actions import pods
from scaleproof import rundir, undo
from scaleproof.errors import DeadlineExceeded, ScaleproofError, UnsafeTarget
from tests.unit.kubefake import install, pod

pytestmark = pytest.mark.unit
SEL = "app.kubernetes.io/name=searchapp"


@pytest.fixture
def fake(monkeypatch):
    f = install(monkeypatch)
    f.pods = [pod("a"), pod("b"), pod("c")]
    monkeypatch.setattr(undo, "ABORT", undo.threading.Event())

    def replicaset_replaces(name, ns, body):  # as the real ReplicaSet controller does, at once
        f.pods = [p for p in f.pods if p["metadata"]["name"] != name] + [pod(name + "-r")]

    f.on_delete.append(replicaset_replaces)
    return f


def deletes(fake):
    """Every disruption request: evictions (the default) and plain deletes."""
    return [c for c in fake.calls if c[0] in ("delete_pod", "evict_pod")]


def budget(name="searchapp", allowed=0, selector=None):
    sel = {"matchLabels": {"app.kubernetes.io/name": "searchapp"}} if selector is None else selector
    return {"metadata": {"name": name}, "spec": {"selector": sel}, "status": {"disruptionsAllowed": allowed}}


@pytest.mark.parametrize(
    ("ns", "sel"), [("kube-system", SEL), ("kube-public", SEL), ("scaleproof", ""), ("", SEL)]
)
def test_refuses_system_namespaces_and_empty_selector(fake, tmp_path, ns, sel):
    with pytest.raises(UnsafeTarget):
        pods.kill_pods(ns, sel, run_dir=str(tmp_path))
    assert deletes(fake) == []


def test_kills_one_ready_pod_through_an_eviction_with_uid_precondition_and_records_it(fake, tmp_path):
    res = pods.kill_pods("scaleproof", SEL, count=1, seed=1, run_dir=str(tmp_path))
    (call,) = deletes(fake)
    (v,) = res["victims"]
    assert call[0] == "evict_pod" and call[2] == v["name"]
    assert call[3]["apiVersion"] == "policy/v1" and call[3]["kind"] == "Eviction"
    assert call[3]["deleteOptions"]["preconditions"] == {"uid": v["uid"]}
    assert v["owner_uid"] == "rs-1" and v["t_request"] <= v["t_accepted"] and v["method"] == "eviction"
    (k,) = [e for e in rundir.read_events(tmp_path) if e["kind"] == "Kill"]
    assert k["type"] == "EVICTION_ACCEPTED"
    assert k["victim"]["uid"] == v["uid"] and k["t"] == pytest.approx(v["t_accepted"], abs=1e-5)
    touched = rundir.read_jsonl(tmp_path / "touched.jsonl")
    assert touched[0]["uid"] == v["uid"] and touched[0]["action"] == "evict"


def test_respect_pdb_false_sends_a_plain_delete_that_no_budget_limits(fake, tmp_path):
    fake.pdbs = [budget(allowed=0)]
    res = pods.kill_pods("scaleproof", SEL, respect_pdb=False, run_dir=str(tmp_path))
    (call,) = deletes(fake)
    assert call[0] == "delete_pod" and call[3]["preconditions"] == {"uid": res["victims"][0]["uid"]}
    (k,) = [e for e in rundir.read_events(tmp_path) if e["kind"] == "Kill"]
    assert k["type"] == "DELETE_ACCEPTED" and res["method"] == "delete" and res["kills"] == 1


def test_undo_plan_is_on_disk_before_the_first_delete(fake, tmp_path):
    seen = []
    fake.on_delete.append(lambda name, ns, body: seen.append((tmp_path / "undo.json").exists()))
    pods.kill_pods("scaleproof", SEL, run_dir=str(tmp_path))
    assert seen == [True]


def test_percentage_and_count_caps(fake, tmp_path):
    with pytest.raises(UnsafeTarget, match="caps allow 1"):
        pods.kill_pods("scaleproof", SEL, count=2, max_percent=50, run_dir=str(tmp_path))  # floor(1.5) = 1
    with pytest.raises(UnsafeTarget, match="caps allow 1"):
        pods.kill_pods("scaleproof", SEL, count=2, max_percent=100, max_count=1, run_dir=str(tmp_path))
    fake.pods = [pod("a")]
    with pytest.raises(UnsafeTarget, match="no pod may be killed"):
        pods.kill_pods("scaleproof", SEL, count=1, max_percent=50, run_dir=str(tmp_path))
    assert deletes(fake) == []


def test_terminating_and_unready_pods_are_never_victims():
    ps = [pod("a", terminating=True), pod("b", ready=False), pod("c"), pod("d")]
    for seed in range(20):
        victims, info = pods.select_victims(ps, 1, 5, 50, random.Random(seed))
        assert victims[0]["metadata"]["name"] in ("c", "d")
    assert info["terminating_skipped"] == 1 and info["cap_percent"] == 1  # floor(3 live * 50 %)


def test_a_budget_refusing_the_eviction_is_a_recorded_outcome_and_nothing_is_deleted(fake, tmp_path):
    fake.pdbs = [budget("searchapp-zero", allowed=0)]
    before = [p["metadata"]["uid"] for p in fake.pods]
    res = pods.kill_pods("scaleproof", SEL, repetitions=3, pdb_wait_s=0, run_dir=str(tmp_path))
    assert res["kills"] == 0 and res["victims"] == [] and res["pdbs"] == ["searchapp-zero"]
    assert "searchapp-zero" in res["refused"]["message"] and "disruption budget" in res["refused"]["message"]
    assert [p["metadata"]["uid"] for p in fake.pods] == before  # nothing deleted
    assert len(deletes(fake)) == 1  # one attempt, then the action stops (no repetition 2 and 3)
    events = rundir.read_events(tmp_path)
    assert not [e for e in events if e["kind"] == "Kill"]
    (r,) = [e for e in events if e["kind"] == "Eviction"]
    assert r["type"] == "REFUSED" and "searchapp-zero" in r["message"] and r["victim"]["uid"] in before


def test_a_refusal_is_retried_while_the_budget_catches_up(fake, tmp_path):
    fake.pdbs = [budget(allowed=0)]
    sleeps = []

    def budget_recovers(s):
        sleeps.append(s)
        fake.pdbs[0]["status"]["disruptionsAllowed"] = 1

    res = pods.kill_pods("scaleproof", SEL, pdb_wait_s=30, run_dir=str(tmp_path), sleep=budget_recovers)
    assert res["kills"] == 1 and res["refused"] is None and sleeps == [2.0]
    assert [c[0] for c in deletes(fake)] == ["evict_pod", "evict_pod"]


def test_an_empty_selector_budget_selects_every_pod_and_is_honoured(fake, tmp_path):
    fake.pdbs = [budget("all-pods", allowed=0, selector={})]
    res = pods.kill_pods("scaleproof", SEL, pdb_wait_s=0, run_dir=str(tmp_path))
    assert res["kills"] == 0 and "all-pods" in res["refused"]["message"] and res["pdbs"] == ["all-pods"]


def test_budgets_are_looked_up_for_every_victim_not_only_the_first(fake):
    fake.pdbs = [budget("canary-only", selector={"matchLabels": {"track": "canary"}})]
    a = pod("a")
    b = pod("b", labels={"app.kubernetes.io/name": "searchapp", "track": "canary"})
    assert pods._pdb_names("scaleproof", [a, b], None) == ["canary-only"]
    assert pods._pdb_names("scaleproof", [a], None) == []


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        (None, {"app": "x"}, False),  # a null selector selects nothing (policy/v1)
        ({}, {"app": "x"}, True),  # an empty selector selects every pod (policy/v1)
        ({}, {}, True),
        ({"matchLabels": {"app": "x"}}, {"app": "x", "v": "1"}, True),
        ({"matchLabels": {"app": "x"}}, {"app": "y"}, False),
        ({"matchExpressions": [{"key": "v", "operator": "In", "values": ["1"]}]}, {"v": "1"}, True),
        (
            {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "v", "operator": "Exists"}]},
            {"app": "x"},
            False,
        ),
    ],
)
def test_selector_semantics_of_budgets(selector, labels, selected):
    from scaleproof import kube

    assert kube.selector_matches(selector, labels) is selected


def test_dry_run_touches_nothing_and_prints_plan(fake, tmp_path, capsys):
    res = pods.kill_pods("scaleproof", SEL, dry_run=True, run_dir=str(tmp_path))
    assert res["dry_run"] is True and len(res["victims"]) == 1
    assert deletes(fake) == [] and not (tmp_path / "events.jsonl").exists()
    out = json.loads(capsys.readouterr().out)
    assert out["victims"][0]["uid"] == res["victims"][0]["uid"] and "undo_plan" in out


def test_repetitions_wait_for_recovery_and_space_kills(fake, tmp_path, monkeypatch):
    waits, sleeps = [], []
    monkeypatch.setattr(
        pods.kube,
        "wait_for_ready_replicas",
        lambda ns, sel, min_ready, timeout_s, configuration=None, check=None: waits.append(min_ready),
    )

    res = pods.kill_pods(
        "scaleproof", SEL, repetitions=3, interval_s=7, run_dir=str(tmp_path), sleep=sleeps.append
    )
    # a wait before each later repetition, and one after the last kill for its replacement
    assert res["kills"] == 3 and waits == [3, 3, 3] and sleeps == [7, 7]
    assert [v["kill_id"] for v in res["victims"]] == ["kill-1", "kill-2", "kill-3"]


def test_abort_flag_stops_further_kills(fake, tmp_path):
    undo.ABORT.set()
    with pytest.raises(ScaleproofError, match="aborted"):
        pods.kill_pods("scaleproof", SEL, run_dir=str(tmp_path))
    assert deletes(fake) == []


def test_deadline_bounds_repetitions(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(pods.kube, "wait_for_ready_replicas", lambda *a, **k: None)
    with pytest.raises(DeadlineExceeded):
        pods.kill_pods(
            "scaleproof", SEL, repetitions=3, deadline_s=0, run_dir=str(tmp_path), sleep=lambda s: None
        )
    assert len(deletes(fake)) == 1
