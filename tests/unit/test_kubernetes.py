"""probes.kubernetes against a fake API: readiness by condition, errors, snapshots, event-driven wait."""

from __future__ import annotations

import json

import pytest

from probes import kubernetes as kube
from scaleproof import kube as kube_layer
from scaleproof.errors import ClusterUnreachable, DeadlineExceeded, UnsafeTarget
from tests.unit.kubefake import FakeTime, install, pod

pytestmark = pytest.mark.unit
SEL = "app.kubernetes.io/name=searchapp"


@pytest.fixture
def fake(monkeypatch):
    return install(monkeypatch)


def test_ready_replicas_uses_ready_condition_and_ignores_terminating(fake):
    fake.pods = [
        pod("a"),
        pod("b", ready=False),
        pod("c", terminating=True),
        pod("other", labels={"app": "x"}),
    ]
    assert kube.ready_replicas("scaleproof", SEL) == 1  # c is phase Running but terminating
    assert kube.ready_pods("scaleproof", SEL) == ["a"]


@pytest.mark.parametrize(
    ("ns", "sel", "msg"),
    [
        ("kube-system", SEL, "system namespace"),
        ("", SEL, "explicit namespace"),
        ("scaleproof", "", "label selector"),
        ("scaleproof", "  ", "label selector"),
        ("kube-node-lease", SEL, "system"),
        (None, SEL, "namespace"),
    ],
)
def test_unsafe_targets_refused(fake, ns, sel, msg):
    with pytest.raises(UnsafeTarget, match=msg):
        kube.ready_replicas(ns, sel)
    assert fake.calls == []  # nothing was even listed


def test_connection_error_is_cluster_unreachable(fake):
    fake.fail["list_pods"] = ConnectionRefusedError("connection refused")
    with pytest.raises(ClusterUnreachable, match="unreachable"):
        kube.ready_replicas("scaleproof", SEL)


def test_hpa_snapshot_and_specs_file(fake, tmp_path):
    fake.add_deployment(replicas=2)
    fake.add_hpa(min_r=1, max_r=5)
    fake.pdbs = [
        {
            "metadata": {"name": "searchapp"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "searchapp"}}},
            "status": {"disruptionsAllowed": 1},
        },
        {"metadata": {"name": "other"}, "spec": {"selector": {"matchLabels": {"app": "x"}}}},
    ]
    snap = kube.snapshot_specs("scaleproof", "searchapp", hpa_name="searchapp", run_dir=str(tmp_path))
    saved = json.loads((tmp_path / "specs.json").read_text())
    assert saved["images"] == {"searchapp": "localhost/scaleproof/searchapp:0.1.0"}
    assert saved["specs"]["hpa"]["minReplicas"] == 1 and saved["specs"]["hpa"]["maxReplicas"] == 5
    assert saved["specs"]["hpa"]["controller_sync_period_s"]["value"] == 15
    assert [p["name"] for p in saved["specs"]["pdb"]] == ["searchapp"]
    assert snap["kubernetes_server"] == "v1.35.4"
    snap2 = kube.snapshot_specs("scaleproof", "searchapp", hpa_name="missing")
    assert "not found" in snap2["errors"]["hpa"]


def test_wait_for_ready_replicas_is_event_driven(fake):
    fake.pods = [pod("a")]
    fake.watch_scripts["list_namespaced_pod"] = [
        [
            {"type": "ADDED", "object": pod("b", ready=False)},
            {"type": "MODIFIED", "object": pod("b")},
            {"type": "MODIFIED", "object": pod("a", terminating=True)},  # a leaves: still 1
            {"type": "ADDED", "object": pod("c")},
            {"type": "ADDED", "object": pod("d")},
        ]
    ]
    res = kube.wait_for_ready_replicas("scaleproof", SEL, min_ready=3, timeout_s=30)
    assert res["ready"] == 3


def test_wait_for_ready_replicas_deadline_with_fake_clock(fake, monkeypatch):
    fake.pods = [pod("a")]
    # every look at the clock costs 10 s of fake time; the wait runs in the access layer
    monkeypatch.setattr(kube_layer, "time", FakeTime(step_s=10.0))
    with pytest.raises(DeadlineExceeded, match="only 1 of 3"):
        kube.wait_for_ready_replicas("scaleproof", SEL, min_ready=3, timeout_s=25)


def test_ready_replicas_at_least_tolerance():
    assert kube.ready_replicas_at_least(value=3, minimum=3) is True
    assert kube.ready_replicas_at_least(value=2, minimum=3) is False
    assert kube.ready_replicas_at_least(value=None, minimum=1) is False
