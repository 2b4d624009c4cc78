"""scaleproof.undo: plan capture, replay (idempotent, selector-guarded), recover command, signal guard."""

from __future__ import annotations

import json
import signal

import pytest
from click.testing import CliRunner

from actions import scaling
from scaleproof import undo
from scaleproof.errors import ScaleproofError, UnsafeTarget
from tests.unit.kubefake import install, pod

pytestmark = pytest.mark.unit
SEL = "app.kubernetes.io/name=searchapp"


@pytest.fixture
def fake(monkeypatch):
    f = install(monkeypatch)
    f.add_deployment(replicas=1)
    f.add_hpa(min_r=1, max_r=5)
    f.pods = [pod("a")]  # the Deployment's pod: capture checks the selector's pods are its own
    monkeypatch.setattr(undo, "ABORT", undo.threading.Event())
    return f


def patches(fake):
    return [c for c in fake.calls if c[0] in ("patch_hpa", "scale_deployment")]


def test_set_hpa_bounds_writes_plan_before_patching_and_restore_replays(fake, tmp_path):
    order = []
    orig = fake.autoscaling.patch_namespaced_horizontal_pod_autoscaler

    def spy(*a, **k):
        order.append(("patch", (tmp_path / "undo.json").exists()))
        return orig(*a, **k)

    fake.autoscaling.patch_namespaced_horizontal_pod_autoscaler = spy
    res = scaling.set_hpa_bounds("searchapp", "scaleproof", SEL, min_replicas=3, run_dir=str(tmp_path))
    assert order == [("patch", True)]
    assert res["before"] == {"name": "searchapp", "minReplicas": 1, "maxReplicas": 5}
    assert fake.hpas[("scaleproof", "searchapp")]["spec"]["minReplicas"] == 3
    plan = json.loads((tmp_path / "undo.json").read_text())
    assert plan["deployment"] == {"name": "searchapp", "replicas": 1} and plan["rolled_back"] is False
    fake.deployments[("scaleproof", "searchapp")]["spec"]["replicas"] = 3  # the HPA scaled it
    out = scaling.restore(run_dir=str(tmp_path))
    assert out["ok"] is True
    assert fake.hpas[("scaleproof", "searchapp")]["spec"]["minReplicas"] == 1
    assert fake.deployments[("scaleproof", "searchapp")]["spec"]["replicas"] == 1
    assert undo.load_plan(tmp_path)["rolled_back"] is True
    n = len(patches(fake))
    assert undo.rollback(run_dir=str(tmp_path))["ok"] is True
    assert len(patches(fake)) == n  # idempotent: nothing left to change


def test_replay_never_touches_a_deployment_outside_the_selector(fake, tmp_path):
    undo.capture_plan("scaleproof", SEL, deployment="searchapp", run_dir=str(tmp_path))
    fake.deployments[("scaleproof", "searchapp")]["spec"]["selector"]["matchLabels"] = {"app": "other"}
    fake.deployments[("scaleproof", "searchapp")]["spec"]["replicas"] = 4
    with pytest.raises(ScaleproofError, match="restore-deployment"):
        undo.rollback(run_dir=str(tmp_path))
    assert patches(fake) == [] and undo.load_plan(tmp_path)["rolled_back"] is False


def test_capture_refuses_mismatching_deployment_and_system_namespace(fake, tmp_path):
    with pytest.raises(UnsafeTarget):
        undo.capture_plan("scaleproof", "app=other", deployment="searchapp", run_dir=str(tmp_path))
    with pytest.raises(UnsafeTarget):
        undo.capture_plan("kube-system", SEL, run_dir=str(tmp_path))


def test_one_failing_step_does_not_skip_the_others(fake, tmp_path):
    undo.capture_plan("scaleproof", SEL, deployment="searchapp", hpa="searchapp", run_dir=str(tmp_path))
    fake.hpas[("scaleproof", "searchapp")]["spec"]["maxReplicas"] = 9
    fake.deployments[("scaleproof", "searchapp")]["spec"]["replicas"] = 4
    fake.fail["patch_hpa"] = RuntimeError("boom")
    res = undo.replay(undo.load_plan(tmp_path))
    assert [s["ok"] for s in res["steps"]] == [False, True]
    assert fake.deployments[("scaleproof", "searchapp")]["spec"]["replicas"] == 1


def test_dry_run_changes_nothing(fake, tmp_path):
    undo.capture_plan("scaleproof", SEL, deployment="searchapp", hpa="searchapp", run_dir=str(tmp_path))
    fake.deployments[("scaleproof", "searchapp")]["spec"]["replicas"] = 4
    res = undo.replay(undo.load_plan(tmp_path), dry_run=True)
    assert "would scale" in res["steps"][1]["detail"] and patches(fake) == []


def test_recover_command_replays_latest_pending_plan(fake, tmp_path):
    root = tmp_path / "runs"
    for rid, rolled in (("20261128T100000Z-pod-kill-aaaa", False), ("20261128T110000Z-pod-kill-bbbb", True)):
        undo.write_plan(
            {
                "version": 1,
                "namespace": "scaleproof",
                "selector": SEL,
                "deployment": {"name": "searchapp", "replicas": 2},
                "hpa": None,
                "load": None,
                "rolled_back": rolled,
            },
            root / rid,
        )
    assert undo.find_pending(root).name.endswith("aaaa")
    r = CliRunner().invoke(undo.recover_command, ["--runs-root", str(root)])
    assert r.exit_code == 0, r.output
    assert fake.deployments[("scaleproof", "searchapp")]["spec"]["replicas"] == 2
    assert undo.find_pending(root) is None
    r2 = CliRunner().invoke(undo.recover_command, ["--runs-root", str(root)])
    assert "nothing to recover" in r2.output


def test_rollback_without_plan_is_a_noop(tmp_path):
    assert undo.rollback(run_dir=str(tmp_path))["steps"] == []


def test_signal_guard_sets_abort_and_chains_previous_handler(monkeypatch):
    monkeypatch.setattr(undo, "ABORT", undo.threading.Event())
    seen = []
    old_term = signal.signal(signal.SIGTERM, lambda s, f: seen.append(s))
    old_int = signal.getsignal(signal.SIGINT)
    try:
        assert undo.install_signal_guard() is True
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)
        assert undo.ABORT.is_set() and seen == [signal.SIGTERM]
        with pytest.raises(ScaleproofError, match="aborted"):
            undo.check_abort("killing pods")
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)


def test_reading_a_plan_never_creates_the_run_dir(tmp_path):
    missing = tmp_path / "journals" / "runs" / "gone"
    assert undo.load_plan(missing) is None and not missing.exists()
