"""The Qdrant adapter on the live recordings of 2026-12-07 (issue 23, findings 5 and 6): a peer that
does not answer is named as down, a counter that restarted is a reset with its shard, the spread
after a restart, and the replica states as each surviving peer sees them (replication recordings).

Real HTTP servers answer with the verbatim responses (tests/fixtures/qdrant/live-2026-12-07/ and
replication-2026-12-07/, see their README.md); a peer that is down is a server that was closed, so
qdrant-client meets a refused connection as it did on the cluster."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from probes import vectorstore
from probes.stores import qdrant
from scaleproof.errors import VectorStoreError
from tests.unit import kubefake
from tests.unit.qdrant_recorded import FIXTURES, Peers, endpoint_slice, recorded_peers
from tests.unit.test_stores_qdrant import figures

pytestmark = pytest.mark.unit

LIVE = FIXTURES / "live-2026-12-07"
REPLICATION = FIXTURES / "replication-2026-12-07"
# pod qdrant-N's peer id on the live cluster (index.json: peers_first_cluster)
LIVE_IDS = {
    json.loads((LIVE / "index.json").read_text())["peers_first_cluster"][f"qdrant-{i}"]: i for i in range(3)
}
Q0, Q1, Q2 = (str(p) for p in LIVE_IDS)
RF2W = json.loads((REPLICATION / "rf2-write-during-outage" / "run-meta.json").read_text())
R0, R1, R2 = (str(RF2W["peer_ids"][str(i)]) for i in range(3))


@pytest.fixture
def live():
    with recorded_peers() as p:
        p.folder = LIVE / "pre-peerkill"
        yield p


def discovered(peers: Peers, monkeypatch: pytest.MonkeyPatch, without: int | None = None) -> dict:
    """Discovery through the headless Service, whose EndpointSlice lost the deleted pod's address."""
    fake = kubefake.install(monkeypatch)
    sl = endpoint_slice(peers)
    sl["endpoints"] = [e for i, e in enumerate(sl["endpoints"]) if i != without]  # type: ignore[index]
    fake.slices = [sl]
    return {"store": "qdrant", "namespace": "scaleproof"}


# ------------------------------------------------------------------------------- finding 5: a peer down
def test_a_deleted_peer_is_named_down_not_sent_for_more_urls(live, monkeypatch):
    """The live case: `kubectl delete pod qdrant-1` during a burst, discovery in use: the headless
    Service published 2 addresses while the cluster still listed 3 peers."""
    live.stop_peer(1)
    c = discovered(live, monkeypatch, without=1)
    for probe in (vectorstore.healthy_nodes, vectorstore.shard_spread_now):
        with pytest.raises(VectorStoreError) as exc:
            probe(configuration=c)
        msg = str(exc.value)
        assert f"peer(s) {Q1} (http://qdrant-1.qdrant-headless:6335/) down or unreachable" in msg
        assert "the headless Service publishes an address for 2" in msg
        assert "give every peer's URL" not in msg and "not asked" not in msg


def test_a_given_url_that_refuses_is_named_down(live):
    live.stop_peer(1)
    c = {"store": "qdrant", "qdrant_urls": ",".join(live.urls)}
    with pytest.raises(VectorStoreError) as exc:
        vectorstore.healthy_nodes(configuration=c)
    msg = str(exc.value)
    assert f"peer at {live.urls[1]} does not answer (ConnectError: " in msg and "down or unreachable" in msg
    assert f"peer(s) {Q1} (http://qdrant-1.qdrant-headless:6335/) down or unreachable" in msg
    assert "give every peer's URL" not in msg


def test_the_leaders_failed_sends_corroborate_a_down_peer():
    """Replication recording: peer 1 killed for 30 s; the Raft leader (peer 0) failed 157 sends to it."""
    with recorded_peers("Docs_rf2w") as peers:
        peers.folder = REPLICATION / "rf2-write-during-outage" / "peer1-down-end"
        peers.stop_peer(1)
        store = qdrant.open_store({}, urls=peers.urls)
        with pytest.raises(VectorStoreError) as exc:
            store.healthy_nodes()
    assert f"{R1} (http://127.0.0.1:16345/), which the Raft leader failed to reach 157 time(s)" in str(
        exc.value
    )


def test_only_given_urls_that_all_answer_but_miss_a_peer_ask_for_every_url(live):
    with pytest.raises(
        VectorStoreError, match=r"asked 2 peer\(s\) but the cluster reports 3.*give every peer's URL"
    ):
        qdrant.open_store({}, urls=[live.urls[0], live.urls[2]]).healthy_nodes()


# -------------------------------------------------------------------------- finding 6: a counter reset
def test_a_restart_between_the_snapshots_is_a_reset_with_its_shard(live, tmp_path):
    """Shard 1's counter went from 10,448 to 739 (qdrant-1 restarted): a reset, not a delta of -9,709;
    shards 0 and 2 moved by 838 each."""
    c = {"store": "qdrant", "qdrant_urls": ",".join(live.urls), "scaleproof_run_dir": str(tmp_path)}
    vectorstore.record_shards("before", configuration=c)
    live.folder = LIVE / "final"
    vectorstore.record_shards("after", configuration=c)
    got, ev = figures(tmp_path)
    rows = {r["shard"]: r for r in ev["timelines"]["shards"]["per_shard"]}
    assert {s: r["queries"] for s, r in rows.items()} == {"0": 838.0, "1": None, "2": 838.0}
    assert rows["1"]["counter_reset"] == {"before": 10448.0, "after": 739.0} and rows["1"]["node"] == Q1
    assert got["shards_queried"] == 3, "739 searches ran on shard 1 after its restart, inside the window"
    now = vectorstore.shard_spread_now(configuration=c)
    (reset,) = [w for w in now["warnings"] if "went down" in w]
    assert reset.startswith(f"shard 1 ({Q1}): its query counter went down from 10448 to 739")


def test_the_spread_after_the_restart_is_unchanged(live):
    """The restarted peer kept its peer id and its shard: 26/42/32 points on 3 peers."""
    live.folder = LIVE / "final"
    spread = vectorstore.shard_spread_now(
        configuration={"store": "qdrant", "qdrant_urls": ",".join(live.urls)}
    )
    assert (spread["shards_with_data"], spread["nodes_with_shards"], spread["documents_total"]) == (3, 3, 100)
    assert {r["shard"]: (r["node"], r["objects"]) for r in spread["per_shard"]} == {
        "0": (Q2, 32),
        "1": (Q1, 42),
        "2": (Q0, 26),
    }


# ------------------------------------------------------------------------------------- replica states
def _states(folder: Path, collection: str, down: int | None = None) -> dict:
    with recorded_peers(collection) as peers:
        peers.folder = folder
        if down is not None:
            peers.stop_peer(down)
        with contextlib.closing(qdrant.open_store({}, urls=peers.urls)) as store:
            return dict(store.replica_states(collection))


def test_replica_states_every_peer_sees_every_replica_active():
    got = _states(REPLICATION / "rf2" / "before", "Docs_rf2")
    assert got["unanswered"] == []
    assert len(got["replicas"]) == 18, "3 peers x 6 replicas (3 shards, replication factor 2)"
    assert {r["state"] for r in got["replicas"]} == {"Active"}


def test_replica_states_of_a_dead_peer_as_the_survivors_see_them():
    """After a write during the outage both survivors mark peer 1's replicas (shards 0 and 2) Dead."""
    got = _states(REPLICATION / "rf2-write-during-outage" / "peer1-down-end", "Docs_rf2w", down=1)
    dead = {(r["seen_by"], r["shard"], r["node"]) for r in got["replicas"] if r["state"] != "Active"}
    assert dead == {(R0, "0", R1), (R0, "2", R1), (R2, "0", R1), (R2, "2", R1)}
    assert {r["state"] for r in got["replicas"] if r["state"] != "Active"} == {"Dead"}
    assert {r["seen_by"] for r in got["replicas"]} == {R0, R2}
    assert any(
        f"{R1} (http://127.0.0.1:16345/)" in line and "down or unreachable" in line
        for line in got["unanswered"]
    )
    recovered = _states(REPLICATION / "rf2-write-during-outage" / "recovery-after", "Docs_rf2w")
    assert {r["state"] for r in recovered["replicas"]} == {"Active"} and recovered["unanswered"] == []
