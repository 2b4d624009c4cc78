"""actions.scaling.reset_to_hpa_minimum: undo plan first, scale to the HPA minimum, wait for rest."""

from __future__ import annotations

import json

import pytest

from actions import scaling
from scaleproof import undo
from scaleproof.errors import DeadlineExceeded
from tests.unit.kubefake import install, pod

pytestmark = pytest.mark.unit
SEL = "app.kubernetes.io/name=searchapp"


@pytest.fixture
def fake(monkeypatch):
    f = install(monkeypatch)
    f.add_deployment(replicas=3)
    f.add_hpa(min_r=1)
    f.pods = [pod("a"), pod("b"), pod("c")]
    monkeypatch.setattr(undo, "ABORT", undo.threading.Event())
    return f


def test_scales_down_to_minimum_after_writing_the_undo_plan(fake, tmp_path):
    seen_plan = []

    def sleep(_s: float) -> None:  # the ReplicaSet removes the surplus pods while we wait
        seen_plan.append((tmp_path / "undo.json").exists())
        fake.pods = fake.pods[:1]

    res = scaling.reset_to_hpa_minimum("searchapp", "scaleproof", SEL, run_dir=str(tmp_path), sleep=sleep)
    assert res["from"] == 3 and res["to"] == 1
    assert ("scale_deployment", "scaleproof", "searchapp", {"spec": {"replicas": 1}}) in fake.calls
    assert seen_plan and all(seen_plan)
    assert undo.load_plan(str(tmp_path))["deployment"]["replicas"] == 3


def test_already_at_minimum_changes_nothing(fake, tmp_path):
    fake.deployments[("scaleproof", "searchapp")]["spec"]["replicas"] = 1
    fake.pods = [pod("a")]
    res = scaling.reset_to_hpa_minimum(
        "searchapp", "scaleproof", SEL, run_dir=str(tmp_path), sleep=lambda s: None
    )
    assert (res["from"], res["to"]) == (1, 1)
    assert not [c for c in fake.calls if c[0] == "scale_deployment"]


def test_terminating_pods_keep_it_waiting_until_the_deadline(fake, tmp_path):
    fake.deployments[("scaleproof", "searchapp")]["spec"]["replicas"] = 1
    fake.pods = [pod("a"), pod("b", terminating=True)]  # Ready count is 1, but one pod still drains
    with pytest.raises(DeadlineExceeded, match="expected exactly 1"):
        scaling.reset_to_hpa_minimum(
            "searchapp", "scaleproof", SEL, timeout_s=0, run_dir=str(tmp_path), sleep=lambda s: None
        )


def test_pinning_above_the_hpa_maximum_is_refused_and_no_hpa_is_a_no_op(fake, tmp_path):
    from actions import scaling as sc
    from scaleproof.errors import UnsafeTarget

    with pytest.raises(UnsafeTarget, match="allows at most 5 replicas; refusing to pin it to 8"):
        sc.set_hpa_bounds(
            "searchapp", "scaleproof", SEL, min_replicas=8, max_replicas=8, run_dir=str(tmp_path)
        )
    assert fake.hpas[("scaleproof", "searchapp")]["spec"]["minReplicas"] == 1
    res = sc.set_hpa_bounds("", "scaleproof", SEL, min_replicas=3, max_replicas=3, run_dir=str(tmp_path))
    assert "no HPA configured" in res["skipped"] and not [c for c in fake.calls if c[0] == "patch_hpa"]


# --------------------------------------------------- issue 22: the reset survives HPA stabilisation
def _hpa(fake):
    return fake.hpas[("scaleproof", "searchapp")]


def test_reset_turns_scale_down_stabilisation_off_after_recording_it(fake, tmp_path):
    order = []
    fake.maybe_fail = lambda what: order.append((what, (tmp_path / "undo.json").exists()))

    def sleep(_s: float) -> None:
        fake.pods = fake.pods[:1]

    res = scaling.reset_to_hpa_minimum("searchapp", "scaleproof", SEL, run_dir=str(tmp_path), sleep=sleep)
    patches = [c[3] for c in fake.calls if c[0] == "patch_hpa"]
    assert patches == [{"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}}}}]  # no scaleUp
    assert ("patch_hpa", True) in order  # the plan was on disk before the patch
    assert res["scale_down_stabilization"]["before_s"] == 300 and res["scale_down_stabilization"]["changed"]
    recorded = json.loads((tmp_path / "hpa-behavior.json").read_text())  # in the evidence's artifacts
    assert recorded["before_s"] == 300 and recorded["spec_behavior_before"] is None
    plan = undo.load_plan(str(tmp_path))
    assert plan["hpa"]["scaleDown"] == {
        "behavior": False,
        "scaleDown": False,
        "stabilizationWindowSeconds": None,
    }
    # the rollback (and `scaleproof recover`) puts back exactly what was there: no behavior at all
    fake.hpas[("scaleproof", "searchapp")]["spec"]["behavior"]["scaleUp"] = {"stabilizationWindowSeconds": 0}
    assert undo.rollback(str(tmp_path))["ok"]
    assert "behavior" not in _hpa(fake)["spec"]
    assert "already" in undo.rollback(str(tmp_path))["steps"][0]["detail"]  # idempotent


def test_a_team_window_is_restored_to_its_value_and_a_second_capture_keeps_it(fake, tmp_path):
    _hpa(fake)["spec"]["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": 120}}
    fake.pods = [pod("a")]
    fake.deployments[("scaleproof", "searchapp")]["spec"]["replicas"] = 1
    scaling.reset_to_hpa_minimum("searchapp", "scaleproof", SEL, run_dir=str(tmp_path), sleep=lambda s: None)
    assert _hpa(fake)["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 0
    undo.capture_plan("scaleproof", SEL, deployment="searchapp", hpa="searchapp", run_dir=str(tmp_path))
    assert undo.load_plan(str(tmp_path))["hpa"]["scaleDown"]["stabilizationWindowSeconds"] == 120
    undo.rollback(str(tmp_path))
    assert _hpa(fake)["spec"]["behavior"] == {"scaleDown": {"stabilizationWindowSeconds": 120}}


def test_replicas_held_up_by_the_hpa_stop_the_run_as_a_precondition_with_the_hpa_reason(fake, tmp_path):
    from scaleproof import stops, verdict

    _hpa(fake)["status"] = {
        "desiredReplicas": 3,
        "conditions": [
            {
                "type": "AbleToScale",
                "status": "True",
                "reason": "ScaleDownStabilized",
                "message": "recent recommendations were higher than current one",
            }
        ],
    }
    with pytest.raises(DeadlineExceeded, match="ScaleDownStabilized"):  # the HPA keeps 3 pods
        scaling.reset_to_hpa_minimum(
            "searchapp", "scaleproof", SEL, timeout_s=0, run_dir=str(tmp_path), sleep=lambda s: None
        )
    stop = stops.read_stop(tmp_path)["precondition"]
    assert "recent recommendations were higher" in stop["problems"][0]
    block = {"version": 1, "metrics": {}, "criteria": [], "precondition": stop}
    v = verdict.verdict({"status": "interrupted"}, evidence=block)
    assert v.outcome == "inconclusive" and v.reasons[0].startswith("precondition at the reset")


def test_check_at_rest_passes_at_the_minimum_and_stops_the_run_otherwise(fake, tmp_path):
    from scaleproof import stops
    from scaleproof.errors import ScaleproofError

    fake.pods = [pod("a")]
    assert scaling.check_at_rest("searchapp", "scaleproof", SEL, run_dir=str(tmp_path))["ready"] == 1
    assert stops.read_stop(tmp_path) == {}
    fake.pods = [pod("a"), pod("b"), pod("c")]
    with pytest.raises(ScaleproofError, match="3 Ready of 3 pods, the HPA minimum is 1.*no load was started"):
        scaling.check_at_rest("searchapp", "scaleproof", SEL, run_dir=str(tmp_path))
    assert "not at rest" in stops.read_stop(tmp_path)["precondition"]["problems"][0]


def test_a_new_hpa_without_a_recommendation_yet_is_at_rest(fake, tmp_path):
    """A fresh HPA whose pods have no metrics sample yet reports desiredReplicas 0 (ScalingActive
    False): it wants nothing above its minimum, so the run starts (seen on agnhost in a new namespace:
    the check stopped a run that was at rest)."""
    from scaleproof import stops

    fake.pods = [pod("a")]
    fake.hpas[("scaleproof", "searchapp")]["status"] = {"desiredReplicas": 0, "currentReplicas": 1}
    assert scaling.check_at_rest("searchapp", "scaleproof", SEL, run_dir=str(tmp_path))["desired"] == 0
    assert stops.read_stop(tmp_path) == {}
    fake.hpas[("scaleproof", "searchapp")]["status"] = {"desiredReplicas": 3, "currentReplicas": 1}
    with pytest.raises(Exception, match="not at rest"):
        scaling.check_at_rest("searchapp", "scaleproof", SEL, run_dir=str(tmp_path))
