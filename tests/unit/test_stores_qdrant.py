"""The Qdrant path of the vector-shards providers, fed the responses of a real Qdrant 1.18.3 cluster
(tests/fixtures/qdrant/) through real HTTP servers and the real qdrant-client: data spread, the race
state, partial answers, the telemetry counters at both levels, discovery, the hypothesis claim."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import pytest

from actions import data
from probes import vectorstore
from probes.stores import qdrant
from scaleproof import evidence, rundir
from scaleproof.errors import DeadlineExceeded, VectorStoreError
from tests.unit import kubefake
from tests.unit.qdrant_recorded import FIXTURES, PEER_IDS, Peers, endpoint_slice, recorded_peers
from tests.unit.test_evidence import journal

pytestmark = pytest.mark.unit

P0, P1, P2 = PEER_IDS
CRITERIA = ["shards_min >= 2", "nodes_with_shards >= 2", "documents_total == 100", "shards_queried >= 2"]


@pytest.fixture
def peers():
    with recorded_peers() as p:
        yield p


def cfg(peers: Peers, run_dir: Path | None = None, **extra) -> dict:
    c = {"store": "qdrant", "qdrant_urls": ",".join(peers.urls), **extra}
    if run_dir is not None:
        c[rundir.CONFIG_KEY] = str(run_dir)
    return c


def snapshot(collection: str = "Documents", urls=None, configuration: dict | None = None) -> dict:
    """The Qdrant adapter's snapshot (no counters), opened as a provider opens it."""
    with contextlib.closing(qdrant.open_store(configuration or {}, None, 10.0, urls=urls)) as store:
        return dict(store.snapshot(collection, False))


def shard_rows(collection: str = "Documents", urls=None, configuration: dict | None = None) -> list:
    return list(snapshot(collection, urls, configuration)["per_shard"])


def record_burst(peers: Peers, run_dir: Path, before: str = "before", after: str = "after") -> None:
    peers.phase = before
    vectorstore.record_shards("before", configuration=cfg(peers, run_dir))
    peers.phase = after
    vectorstore.record_shards("after", configuration=cfg(peers, run_dir))


def figures(run_dir: Path) -> tuple[dict, dict]:
    ev = evidence.build_evidence(journal("vector-shards", CRITERIA), run_dir, prometheus=False)
    return {k: ev["metrics"][k]["value"] for k in ev["metrics"]}, ev


# ------------------------------------------------------------------------------------------ acceptance
def test_spread_state_gives_3_shards_3_nodes_100_documents_3_queried(peers, tmp_path):
    record_burst(peers, tmp_path)
    got, ev = figures(tmp_path)
    assert (
        got["shards_min"],
        got["nodes_with_shards"],
        got["documents_total"],
        got["shards_queried"],
    ) == (3, 3, 100, 3)
    assert ev["verdict"] == "pass", ev["verdict_reasons"]
    per_shard = {
        r["shard"]: (r["node"], r["objects"], r["queries"]) for r in ev["timelines"]["shards"]["per_shard"]
    }
    # exactly what the recordings say: shard 1 -> 42 @ peer 0, shard 0 -> 32 @ peer 1, shard 2 -> 26 @ peer 2;
    # 60 app searches between "before" (4 each) and "after" (64 each) on every local shard
    assert per_shard == {"1": (P0, 42, 60.0), "0": (P1, 32, 60.0), "2": (P2, 26, 60.0)}
    # the evidence names the store actually used and what its counters mean
    assert ev["timelines"]["shards"]["store"] == "qdrant"
    assert (
        "Qdrant" in ev["metrics"]["shards_min"]["method"]
        and "Weaviate" not in ev["metrics"]["shards_min"]["method"]
    )
    assert "details_level=4" in ev["metrics"]["shards_queried"]["method"]
    assert "max over its segments" in ev["metrics"]["shards_queried"]["method"]


def test_race_state_reports_one_node_and_fails_with_the_remedy(peers, tmp_path):
    peers.state = "race"
    record_burst(peers, tmp_path)
    got, ev = figures(tmp_path)
    assert got["nodes_with_shards"] == 1 and got["shards_min"] == 3 and got["documents_total"] == 100
    failed = [c for c in ev["criteria"] if c["passed"] is False]
    assert [c["expr"] for c in failed] == ["nodes_with_shards >= 2"]
    reason = next(r for r in ev["verdict_reasons"] if "nodes_with_shards" in r)
    assert "not rebalance" in reason and "move_shard" in reason and P0 in reason
    assert ev["verdict"] == "fail"


def test_initial_race_state_is_already_flagged_before_any_data(peers):
    peers.state = "initial"
    spread = vectorstore.shard_spread_now(configuration=cfg(peers))
    assert (spread["shards"], spread["shards_with_data"], spread["documents_total"]) == (3, 0, 0)
    (warning,) = spread["warnings"]
    assert "all 3 shard(s) of Documents (0, 1, 2) are on one peer" in warning and "recreate" in warning


# ----------------------------------------------------------------------------------------- partial answers
def test_one_url_is_a_partial_answer_and_fails_loudly(peers):
    with pytest.raises(VectorStoreError, match=r"asked 1 peer\(s\) but the cluster reports 3") as exc:
        shard_rows("Documents", urls=peers.urls[0])
    assert P1 in str(exc.value) and "qdrant-2.qdrant-headless" in str(exc.value)


def test_the_same_peer_twice_is_refused(peers):
    with pytest.raises(VectorStoreError, match="same peer"):
        shard_rows("Documents", urls=[peers.urls[0], peers.urls[0], peers.urls[1]])


def test_shard_rows_refuse_a_shard_no_asked_peer_holds():
    infos = [json.loads((FIXTURES / "collection-cluster-peer0.json").read_text())["result"]]
    from qdrant_client.http import models

    parsed = [models.CollectionClusterInfo(**i) for i in infos]
    with pytest.raises(VectorStoreError, match=r"partial answer: 1 of 3 shards seen; shard 0 lives on peer"):
        qdrant.shard_rows(parsed)


def test_every_peer_gives_the_recorded_rows(peers):
    rows = shard_rows("Documents", urls=peers.urls)
    assert [(r["shard"], r["node"], r["objects"], r["status"], r["peer_uri"]) for r in rows] == [
        ("1", P0, 42, "Active", "http://qdrant-0.qdrant-headless:6335/"),
        ("0", P1, 32, "Active", "http://qdrant-1.qdrant-headless:6335/"),
        ("2", P2, 26, "Active", "http://qdrant-2.qdrant-headless:6335/"),
    ]
    collection_calls = [p for p, path in peers.requests if path == "/collections/Documents/cluster"]
    assert sorted(collection_calls) == [0, 1, 2]
    # check_compatibility=False: no version request (GET /) to any peer
    assert not [path for _, path in peers.requests if path == "/"]


def test_app_collection_flags_its_partial_view(monkeypatch):
    body = json.loads((FIXTURES / "app-collection.json").read_text())

    class R:
        status_code = 200

        def json(self):
            return body

    monkeypatch.setattr(vectorstore.requests, "get", lambda url, timeout=None, **kw: R())
    out = vectorstore.app_collection("http://127.0.0.1:30080")
    assert out["partial"] is True and "0, 2" in out["partial_reason"] and out["count"] == 100


# -------------------------------------------------------------------------------------------- counters
def _telemetry(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())["result"]


def test_level4_counts_searches_per_local_shard_max_over_segments():
    before = qdrant.local_search_counters(
        [_telemetry(f"telemetry-peer{i}.level4.before.json") for i in range(3)], "Documents"
    )
    after = qdrant.local_search_counters(
        [_telemetry(f"telemetry-peer{i}.level4.after.json") for i in range(3)], "Documents"
    )
    # each shard has 2 segments, each showing the full count: max, not sum (4 and 64, not 8 and 128)
    assert before == {"1": 4.0, "0": 4.0, "2": 4.0}
    assert after == {"1": 64.0, "0": 64.0, "2": 64.0}
    vsq = qdrant.local_search_counters(
        [_telemetry(f"telemetry-peer{i}.level4.vsq-after.json") for i in range(3)], "Documents"
    )
    assert vsq == {"1": 124.0, "0": 124.0, "2": 124.0}


def test_level3_counts_only_fanout_to_remote_shards():
    before = qdrant.fanout_search_counters(
        [_telemetry(f"telemetry-peer{i}.before.json") for i in range(3)], "Documents"
    )
    after = qdrant.fanout_search_counters(
        [_telemetry(f"telemetry-peer{i}.after.json") for i in range(3)], "Documents"
    )
    # the app's entry peer was peer 0: it fanned out to shards 0 and 2; its local shard 1 has no counter
    assert before == {"0": 4.0, "1": 0.0, "2": 4.0}
    assert after == {"0": 64.0, "1": 0.0, "2": 64.0}
    vsq = qdrant.fanout_search_counters(
        [_telemetry(f"telemetry-peer{i}.vsq-after.json") for i in range(3)], "Documents"
    )
    # 59 more searches entered at peer 0, one at peer 1 (the Service balances): 124 per shard in all
    assert vsq == {"0": 123.0, "1": 1.0, "2": 124.0}
    assert qdrant.local_search_counters([_telemetry("telemetry-peer0.after.json")], "Documents") is None


def test_counters_fall_back_to_level3_when_level4_has_no_segments(peers, tmp_path):
    peers.level4 = False
    record_burst(peers, tmp_path)
    (after,) = [s for s in rundir.read_jsonl(tmp_path / "shards.jsonl") if s["label"] == "after"]
    assert "details_level=3 only" in after["counters_source"]
    got, _ = figures(tmp_path)
    assert got["shards_queried"] == 2  # the entry peer's local shard is invisible at level 3


def test_vsq_burst_moves_every_shard(peers, tmp_path):
    record_burst(peers, tmp_path, before="vsq-before", after="vsq-after")
    got, ev = figures(tmp_path)
    assert got["shards_queried"] == 3
    assert {r["shard"]: r["queries"] for r in ev["timelines"]["shards"]["per_shard"]} == {
        "0": 60.0,
        "1": 60.0,
        "2": 60.0,
    }


# --------------------------------------------------------------------------------------------- cluster
def test_cluster_of_three_agreeing_peers_is_healthy(peers):
    assert qdrant.open_store({}, urls=peers.urls, expected_peers=3).healthy_nodes() == 3
    assert vectorstore.healthy_nodes(configuration=cfg(peers)) == 3


def test_cluster_problems_are_named():
    views = [qdrant._view(f"http://p{i}", _Fake(i)) for i in range(3)]
    assert qdrant.cluster_problems(views, expected_peers=3) == []
    assert "4 expected" in " ".join(qdrant.cluster_problems(views, expected_peers=4))
    views[2]["peers"].pop(P0)
    views[1]["pending_operations"] = 2
    views[1]["leader"] = P1
    problems = " | ".join(qdrant.cluster_problems(views))
    assert "disagree on the membership" in problems
    assert "2 consensus operation(s) pending" in problems
    assert "disagree on the leader" in problems


class _Fake:
    """A client whose /cluster is the recorded one (typed by the real qdrant-client model)."""

    def __init__(self, peer: int) -> None:
        from qdrant_client.http import models

        body = json.loads((FIXTURES / f"cluster-peer{peer}.json").read_text())
        self.res = models.InlineResponse2003(**body).result

    def cluster_status(self):
        return self.res


def test_wait_formed_waits_for_the_expected_peers(peers):
    now = [0.0]
    with pytest.raises(DeadlineExceeded, match="did not list 4 peers"):
        qdrant.wait_formed(
            peers.urls,
            expected_peers=4,
            deadline_s=5,
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )
    assert qdrant.wait_formed(peers.urls, expected_peers=3, deadline_s=5) == 3


@pytest.mark.parametrize("url", [":memory:", None, "", "/var/lib/qdrant", "./local.db"])
def test_local_mode_refused(url):
    with pytest.raises(VectorStoreError, match="local"):
        qdrant.check_qdrant_url(url)


# ------------------------------------------------------------------------------------------- discovery
def test_peers_discovered_through_the_headless_service(peers, monkeypatch):
    fake = kubefake.install(monkeypatch)
    fake.slices = [endpoint_slice(peers)]
    c = {"store": "qdrant", "namespace": "scaleproof"}
    assert qdrant.peer_urls(configuration=c) == peers.urls  # not-ready qdrant-2 included
    rows = shard_rows(configuration=c)
    assert sorted(r["node"] for r in rows) == sorted(PEER_IDS)


def test_no_url_and_no_namespace_says_what_to_set():
    with pytest.raises(VectorStoreError, match="qdrant_urls"):
        qdrant.peer_urls(configuration={})


# --------------------------------------------------------------------------------- the hypothesis claim
def test_claim_by_phase_of_the_run(peers, tmp_path, caplog):
    c = cfg(peers, tmp_path)

    def now(**claimed):
        return vectorstore.shard_spread_now(configuration=c, **claimed)

    peers.state, peers.phase = "initial", "before"
    at_rest = now(min_shards=9)
    assert at_rest["claim"] == {
        "phase": "at rest",
        "claimed": {"shards_with_data": 9, "nodes_with_shards": 2},
        "met": True,
        "reasons": [],
    }, "before the ingest nothing is claimed"
    assert vectorstore.spread_claim_holds(at_rest)
    rundir.append_event(tmp_path, {"t": 1, "source": "action", "kind": "Ingest", "type": "DONE"})
    empty = now()
    assert empty["claim"]["phase"] == "ingested" and not empty["claim"]["met"]
    assert "0 shard(s) hold data, 2 claimed" in empty["claim"]["reasons"]
    assert any("recreate the collection" in r for r in empty["claim"]["reasons"]), (
        "the remedy is in the journal"
    )
    peers.state = "spread"
    vectorstore.record_shards("before", configuration=c)
    ingested = now()
    assert ingested["shards_queried"] == 0 and ingested["baseline"] == "before"
    assert ingested["claim"]["met"], "queries are not claimed until the burst's snapshot"
    assert now(min_shards=9)["claim"]["reasons"] == ["3 shard(s) hold data, 9 claimed"]
    peers.phase = "after"
    vectorstore.record_shards("after", configuration=c)
    final = now()
    assert (final["shards_with_data"], final["nodes_with_shards"], final["shards_queried"]) == (3, 3, 3)
    assert final["claim"]["phase"] == "queried" and final["claim"]["met"]
    assert final["claim"]["claimed"]["shards_queried"] == 2
    assert not now(min_shards_queried=4)["claim"]["met"]
    peers.state = "race"
    caplog.set_level(logging.WARNING, logger="probes.vectorstore")
    race = now()
    assert not vectorstore.spread_claim_holds(race)
    assert race["claim"]["reasons"][0] == "1 node(s) hold shards with data, 2 claimed"
    assert "move_shard" in race["claim"]["reasons"][1] and "move_shard" in caplog.text
    assert not vectorstore.spread_claim_holds(None)


def test_missing_collection_is_zero_at_rest(peers):
    spread = vectorstore.shard_spread_now(collection="Missing", configuration=cfg(peers))
    assert spread["missing"] and spread["shards"] == 0
    assert "does not exist" in snapshot("Missing", urls=peers.urls)["missing"]


def test_ingest_waits_for_the_cluster_and_is_recorded(peers, tmp_path, monkeypatch):
    import loadgen.ingest

    seen = []
    monkeypatch.setattr(
        loadgen.ingest, "ingest", lambda url, docs, **kw: seen.append(len(docs)) or {"ok": len(docs)}
    )
    c = {**cfg(peers, tmp_path, qdrant_expected_peers=3), "app_url": "http://127.0.0.1:30080"}
    out = data.ingest_corpus(documents=10, configuration=c)
    assert out["peers"] == 3 and seen == [10]
    assert vectorstore.run_phase(configuration=c) == {"ingested": True, "queried": False}
    with pytest.raises(DeadlineExceeded):
        data.ingest_corpus(documents=10, timeout_s=0, configuration={**c, "qdrant_expected_peers": 5})
    (failed,) = [e for e in rundir.read_events(tmp_path) if e.get("type") == "FAILED"]
    assert "did not list 5 peers" in failed["error"]


# ----------------------------------------------------------------------------- the app waits for peers
class _AppClient:
    """collection_exists/create_collection recorded; cluster_status is peer 0's recorded /cluster,
    optionally cut down to its first `keep` peers (the race: peers 1 and 2 had not joined)."""

    def __init__(self, keep: int = 3) -> None:
        from qdrant_client.http import models

        body = json.loads((FIXTURES / "cluster-peer0.json").read_text())
        body["result"]["peers"] = dict(list(body["result"]["peers"].items())[:keep])
        self.status = models.InlineResponse2003(**body).result
        self.created: dict = {}

    def collection_exists(self, name):
        return bool(self.created)

    def cluster_status(self):
        return self.status

    def create_collection(self, **kw):
        self.created = kw


def test_app_creates_the_collection_only_once_the_cluster_formed():
    from searchapp.backends import BackendUnavailable
    from searchapp.backends.qdrant_backend import QdrantBackend

    b = QdrantBackend(collection="Documents", url="http://127.0.0.1:1", expected_peers=3)
    b._client = _AppClient(keep=1)
    with pytest.raises(BackendUnavailable, match="1 of 3 peers.*does not rebalance"):
        b.ensure_collection("Documents", 384, 3, 1)
    assert b._client.created == {}
    b._client = _AppClient(keep=3)
    assert b.ensure_collection("Documents", 384, 3, 1) is True
    assert b._client.created["shard_number"] == 3


def test_a_skipped_ingest_starts_the_claim_too(tmp_path):
    """The workload brings its own data (`ingest` empty): the spread is claimed after that step."""
    c = {rundir.CONFIG_KEY: str(tmp_path)}
    assert vectorstore.run_phase(configuration=c)["ingested"] is False
    assert "skipped" in data.ingest_corpus(ingest="", configuration=c)
    assert vectorstore.run_phase(configuration=c) == {"ingested": True, "queried": False}
