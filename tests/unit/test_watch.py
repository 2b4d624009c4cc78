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


def test_recorder_relists_after_a_gone_watch_as_sync_lines_of_one_receive_time(monkeypatch, tmp_path):
    """The timing code tells listed from created objects: after a 410 the recorder writes the whole
    relist as SYNC lines (one receive time), keeps the error, and watches on."""
    import time

    from tests.unit.kubefake import FakeApiException

    fake = install(monkeypatch)
    fake.pods = [pod("a")]
    fake.watch_scripts["list_namespaced_pod"] = [[FakeApiException(410, "too old resource version")]]
    watch.start_recording("scaleproof", SEL, kinds=["Pod"], run_dir=str(tmp_path), max_duration_s=30)
    fake.pods = [pod("a"), pod("r")]  # created while the watch is down

    def synced():
        return [e for e in rundir.read_events(tmp_path) if e.get("type") == "SYNC"]

    limit = time.monotonic() + 10
    while len(synced()) < 3 and time.monotonic() < limit:
        time.sleep(0.05)
    res = watch.stop_recording(run_dir=str(tmp_path))
    first, relist = synced()[:1], synced()[1:]
    assert [e["object"]["metadata"]["name"] for e in first] == ["a"]
    assert [e["object"]["metadata"]["name"] for e in relist] == ["a", "r"]
    assert len({e["t"] for e in relist}) == 1 and relist[0]["t"] > first[0]["t"]
    assert "too old resource version" in res["errors"]["Pod"]
