"""actions.scaling.reset_to_hpa_minimum: undo plan first, scale to the HPA minimum, wait for rest."""

from __future__ import annotations

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
    assert res == {"from": 1, "to": 1, "waited_s": res["waited_s"]}
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
