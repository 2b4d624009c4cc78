"""actions.peers: which store peer is killed, the undo plan before the delete, the wait until the
StatefulSet's pod is back with a new uid."""

from __future__ import annotations

import json
import threading

import pytest

from actions import peers
from scaleproof import rundir, undo
from scaleproof.errors import DeadlineExceeded, UnsafeTarget
from tests.unit.kubefake import install, pod

pytestmark = pytest.mark.unit

SEL = "app.kubernetes.io/name=weaviate"


def sts_pod(name: str, ready: bool = True, uid: str | None = None) -> dict:
    p = pod(
        name,
        ready=ready,
        uid=uid,
        labels={"app.kubernetes.io/name": "weaviate", "statefulset.kubernetes.io/pod-name": name},
    )
    p["metadata"]["ownerReferences"] = [
        {"kind": "StatefulSet", "name": "weaviate", "uid": "sts-1", "controller": True}
    ]
    return p


@pytest.fixture
def fake(monkeypatch):
    f = install(monkeypatch)
    f.statefulsets = [{"metadata": {"name": "weaviate", "namespace": "scaleproof"}, "spec": {"replicas": 3}}]
    f.pods = [sts_pod(f"weaviate-{i}") for i in range(3)]
    monkeypatch.setattr(undo, "ABORT", threading.Event())
    monkeypatch.setattr(peers, "_holders", lambda *a: ["weaviate-1", "weaviate-2"])
    return f


def cfg(tmp_path) -> dict:
    return {rundir.CONFIG_KEY: str(tmp_path)}


def test_choose_peer_by_configuration_by_shard_holder_else_highest_ordinal() -> None:
    pods = ["db-0", "db-1", "db-2"]
    assert peers.choose_peer(pods, "db", "1", []) == ("db-1", "configuration")
    assert peers.choose_peer(pods, "db", "db-2", ["db-0"])[0] == "db-2"
    assert peers.choose_peer(pods, "db", "", ["db-1", "db-2"])[0] == "db-1"
    assert peers.choose_peer(pods, "db", "", []) == ("db-2", "highest ordinal")
    with pytest.raises(UnsafeTarget, match="not a pod of StatefulSet db"):
        peers.choose_peer(pods, "db", "db-7", [])


def test_shard_holders_from_weaviate_nodes_and_qdrant_peer_uris() -> None:
    rows = [
        {"shard": "a", "node": "weaviate-2", "objects": 30},
        {
            "shard": "b",
            "node": "777",
            "objects": 12,
            "peer_uri": "http://qdrant-1.qdrant-headless.scaleproof:6335/",
        },
        {"shard": "c", "node": "weaviate-0", "objects": 0},  # holds nothing
    ]
    assert peers.shard_holders(rows) == ["qdrant-1", "weaviate-2"]


def test_kill_writes_the_plan_before_the_delete_with_uid_precondition(fake, tmp_path) -> None:
    seen = []
    fake.on_delete.append(
        lambda name, ns, body: seen.append(json.loads((tmp_path / peers.PEER_FILE).read_text()))
    )
    res = peers.kill_peer("scaleproof", "weaviate", SEL, configuration=cfg(tmp_path))
    assert res["pod"] == "weaviate-1" and res["chosen_by"].startswith("holds shards")
    (delete,) = [c for c in fake.calls if c[0] == "delete_pod"]
    assert delete[3]["preconditions"] == {"uid": "uid-weaviate-1"}
    assert seen and seen[0]["pod"] == "weaviate-1" and "ts_accepted" not in seen[0]
    assert res["ts_request"] <= res["ts_accepted"]
    assert [e["kind"] for e in rundir.read_events(tmp_path)] == ["PeerKill"]


def test_a_crash_is_a_delete_with_grace_period_0_recorded_in_the_plan(fake, tmp_path) -> None:
    res = peers.kill_peer("scaleproof", "weaviate", SEL, grace_period_s="0", configuration=cfg(tmp_path))
    (delete,) = [c for c in fake.calls if c[0] == "delete_pod"]
    assert delete[3]["gracePeriodSeconds"] == 0 and res["grace_period_s"] == 0


def test_an_empty_grace_period_leaves_the_pods_own(fake, tmp_path) -> None:
    res = peers.kill_peer("scaleproof", "weaviate", SEL, grace_period_s="", configuration=cfg(tmp_path))
    (delete,) = [c for c in fake.calls if c[0] == "delete_pod"]
    assert "gracePeriodSeconds" not in delete[3] and res["grace_period_s"] is None


def test_a_bad_grace_period_is_one_line_and_kills_nothing(fake, tmp_path) -> None:
    with pytest.raises(UnsafeTarget, match="SCALEPROOF_PEER_GRACE_PERIOD_S"):
        peers.kill_peer("scaleproof", "weaviate", SEL, grace_period_s="soon", configuration=cfg(tmp_path))
    assert not [c for c in fake.calls if c[0] == "delete_pod"]


def test_refuses_a_store_not_at_full_strength(fake, tmp_path) -> None:
    fake.pods[0] = sts_pod("weaviate-0", ready=False)
    with pytest.raises(UnsafeTarget, match="2 of 3 peers Ready"):
        peers.kill_peer("scaleproof", "weaviate", SEL, configuration=cfg(tmp_path))
    assert not [c for c in fake.calls if c[0] == "delete_pod"]


def test_wait_peer_back_needs_a_new_uid_ready(fake, tmp_path) -> None:
    fake.on_delete.append(
        lambda name, ns, body: fake.pods.remove(next(p for p in fake.pods if p["metadata"]["name"] == name))
    )
    peers.kill_peer("scaleproof", "weaviate", SEL, peer="2", configuration=cfg(tmp_path))
    with pytest.raises(DeadlineExceeded, match="weaviate-2 not back Ready"):
        peers.wait_peer_back(deadline_s=0.05, interval_s=0.01, configuration=cfg(tmp_path))
    fake.pods.append(sts_pod("weaviate-2", uid="uid-new"))
    res = peers.wait_peer_back(deadline_s=1, interval_s=0.01, configuration=cfg(tmp_path))
    assert res["waited"] and res["seconds_after_kill"] >= 0
    plan = json.loads((tmp_path / peers.PEER_FILE).read_text())
    assert plan["new_uid"] == "uid-new" and plan["ts_ready"] >= plan["ts_accepted"]
    assert peers.wait_peer_back(configuration=cfg(tmp_path))["waited"] is False  # the rollback: done


def test_wait_peer_back_without_a_kill_is_a_no_op(tmp_path) -> None:
    assert peers.wait_peer_back(configuration=cfg(tmp_path))["waited"] is False
