"""probes.watch: the recorder lists before returning, appends receive-time lines, stops, is bounded."""

from __future__ import annotations

import pytest

from probes import watch
from scaleproof import rundir
from scaleproof.errors import UnsafeTarget
from tests.unit.kubefake import install, pod

pytestmark = pytest.mark.unit
SEL = "app.kubernetes.io/name=searchapp"


def test_recorder_lists_first_then_records_watch_events(monkeypatch, tmp_path):
    fake = install(monkeypatch)
    fake.pods = [pod("a"), pod("b")]
    fake.add_deployment()
    fake.add_hpa()
    fake.watch_scripts["list_namespaced_pod"] = [[{"type": "ADDED", "object": pod("c", ready=False)}]]
    info = watch.start_recording(
        "scaleproof",
        SEL,
        deployment="searchapp",
        service="searchapp",
        hpa="searchapp",
        run_dir=str(tmp_path),
        max_duration_s=30,
    )
    # the initial state is on disk when start returns: the recorder is open before any fault
    at_return = rundir.read_events(tmp_path)
    synced = {(e["kind"], e["object"]["metadata"]["name"]) for e in at_return if e.get("type") == "SYNC"}
    assert {("Pod", "a"), ("Pod", "b")} <= synced
    assert ("Deployment", "searchapp") in synced and ("HorizontalPodAutoscaler", "searchapp") in synced
    res = watch.stop_recording(run_dir=str(tmp_path))
    assert res["stopped"] is True
    events = rundir.read_events(tmp_path)
    added = [e for e in events if e.get("type") == "ADDED"]
    assert added and added[0]["object"]["metadata"]["name"] == "c" and isinstance(added[0]["t"], float)
    assert "managedFields" not in added[0]["object"]["metadata"]
    assert events[-1]["type"] == "STOPPED"
    assert info["kinds"] == list(watch.DEFAULT_KINDS)
    assert watch.stop_recording(run_dir=str(tmp_path / "other"))["stopped"] is False


def test_recorder_refuses_system_namespace(monkeypatch, tmp_path):
    install(monkeypatch)
    with pytest.raises(UnsafeTarget):
        watch.start_recording("kube-system", SEL, run_dir=str(tmp_path))


def test_trim_keeps_server_timestamps_and_conditions():
    p = pod("a", terminating=True)
    p["metadata"]["managedFields"] = [{"big": "x"}]
    t = watch.trim("Pod", p)
    assert t["metadata"]["deletionTimestamp"] and t["status"]["conditions"]
    assert "managedFields" not in t["metadata"]


def test_recorder_fails_fast_when_the_initial_list_fails(monkeypatch, tmp_path):
    from scaleproof.errors import ClusterUnreachable

    fake = install(monkeypatch)
    fake.fail["list_pods"] = ConnectionRefusedError("connection refused")
    with pytest.raises(ClusterUnreachable, match="recorder not started: cannot list Pod"):
        watch.start_recording("scaleproof", SEL, run_dir=str(tmp_path), ready_timeout_s=10)
