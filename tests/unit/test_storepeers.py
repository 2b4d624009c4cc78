"""probes.storepeers: the gate's bad inputs (one line each), the claim over the recorded run files,
and the Qdrant adapter's peer-loss readings against REAL Qdrant 1.18.3 bodies (served verbatim by a
local HTTP server to the real qdrant-client)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from probes import storepeers
from probes.stores import qdrant
from scaleproof import rundir
from scaleproof.errors import ScaleproofError, VectorStoreError

pytestmark = pytest.mark.unit

REC = Path(__file__).resolve().parents[1] / "fixtures" / "qdrant" / "replication-2026-12-07"


class FakeStore:
    name = "weaviate"

    def __init__(self, factor: int = 2, shards: int = 3, unanswered: list[str] | None = None, nodes: int = 3):
        self.factor, self.shards, self.nodes = factor, shards, nodes
        self.unanswered = unanswered or []

    def replication(self, collection: str) -> dict[str, Any]:
        if collection != "Documents":
            raise VectorStoreError(f"unknown collection {collection!r} in Weaviate at http://127.0.0.1:30081")
        return {"factor": self.factor, "write_consistency_factor": None, "shards": self.shards, "source": "s"}

    def replica_states(self, collection: str) -> dict[str, Any]:
        reps = [
            {
                "shard": s,
                "node": f"weaviate-{i}",
                "state": "READY",
                "seen_by": "cluster",
                "node_status": "HEALTHY",
            }
            for i, s in enumerate(("a", "b", "c"))
        ]
        return {"replicas": reps, "unanswered": self.unanswered, "source": "s"}

    def healthy_nodes(self) -> int:
        return self.nodes


@pytest.fixture
def store(monkeypatch):
    holder = {"store": FakeStore()}

    @contextlib.contextmanager
    def opened(*a: Any, **k: Any):
        yield holder["store"]

    monkeypatch.setattr(storepeers.stores, "opened", opened)
    return holder


def test_gate_passes_and_records_the_factor_read_back(store, tmp_path) -> None:
    cfg = {rundir.CONFIG_KEY: str(tmp_path)}
    assert storepeers.gate("Documents", 3, 2, configuration=cfg)
    rec = json.loads((tmp_path / "peer-replication.json").read_text())
    assert (rec["factor"], rec["peers"], rec["store"]) == (2, 3, "weaviate")


@pytest.mark.parametrize(
    ("store_", "collection", "expected"),
    [
        (FakeStore(factor=4), "Documents", "replication factor 4 but the store has 3 peer(s)"),
        (FakeStore(), "Nope", "unknown collection 'Nope'"),
        (
            FakeStore(unanswered=["Weaviate node weaviate-2 is UNHEALTHY"]),
            "Documents",
            "answers for only part",
        ),
        (FakeStore(nodes=2), "Documents", "2 healthy node(s), store_replicas=3"),
        (FakeStore(shards=1), "Documents", "fewer than min_shards=2"),
    ],
)
def test_gate_bad_inputs_are_one_line(store, store_, collection, expected) -> None:
    store["store"] = store_
    with pytest.raises(ScaleproofError) as exc:
        storepeers.gate(collection, 3, 2)
    assert expected in str(exc.value) and "\n" not in str(exc.value)


def test_replica_problems_name_a_lagging_or_silent_peer() -> None:
    states = {
        "replicas": [
            {"shard": "0", "node": "p1", "state": "Dead", "seen_by": "p0"},
            {"shard": "0", "node": "p2", "state": "Active", "seen_by": "p0"},
        ],
        "unanswered": ["peer http://q-1 does not answer"],
        "source": "s",
    }
    got = storepeers.replica_problems(states, 3)  # type: ignore[arg-type]
    assert got[0].startswith("peer http://q-1") and "shard 0 on p1: Dead" in got[1]
    assert "only 1 of 3 peers answered" in got[2]


def _write_run(tmp: Path, lines: list[dict[str, Any]], after_ids: range) -> dict[str, Any]:
    (tmp / "peer-kill.json").write_text(json.dumps({"ts_accepted": 1000.0}))
    (tmp / "peer-replication.json").write_text(json.dumps({"factor": 1}))
    with (tmp / "peer-queries.jsonl").open("w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    from scaleproof.peerloss import tally_of

    for label, ids in (("before", range(100)), ("after", after_ids)):
        rundir.append_event(tmp, {"label": label, **tally_of(ids, "t")}, name="peer-documents.jsonl")
    return {rundir.CONFIG_KEY: str(tmp)}


def test_claim_fails_with_failed_queries_and_lost_documents(tmp_path, caplog) -> None:
    q = {"via": "store", "q": 0, "latency_ms": 400.0, "baseline_hits": 10}
    lines = [
        {**q, "ts": 999.5, "outcome": "answered", "hits": 10},
        {
            **q,
            "ts": 1000.4,
            "outcome": "failed",
            "hits": None,
            "error": "HTTP 500: 1 of 1 read operations failed",
        },
        {**q, "ts": 1001.0, "outcome": "partial", "hits": 4},
    ]
    cfg = _write_run(tmp_path, lines, range(98))
    v = storepeers.peer_loss_figures(cfg)
    assert v["store"]["failed"] == 1 and v["store"]["partial"] == 1 and v["documents_lost"] == 2
    assert not storepeers.peer_loss_within_budget(v, max_failed=0, max_partial=5, configuration=cfg)
    assert "replication factor 1 read back" in caplog.text and "1 of 1 read operations failed" in caplog.text
    claims = {c["claim"]: c["met"] for c in rundir.read_jsonl(tmp_path / "claims.jsonl")}
    assert claims == {
        "failed_queries_app": True,
        "partial_queries_app": True,
        "failed_queries_store": False,
        "partial_queries_store": True,
        "documents_lost": False,
    }
    assert storepeers.peer_loss_within_budget({**v, "documents_lost": 0}, 1, 1, configuration=cfg)


# ------------------------------------------------------------ the Qdrant adapter on recorded bodies
class _Recorded(BaseHTTPRequestHandler):
    run = "rf1"
    down = False

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith(f"/collections/Docs_{self.run}"):
            return self._send(200, (REC / self.run / "before" / "collection-info-peer0.json").read_bytes())
        self._send(404, b'{"status":{"error":"Not found: Collection `x` doesn\'t exist!"},"time":0.0}')

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        doc = json.loads((REC / self.run / "peer1-down" / "queries.json").read_text())
        if self.down:
            first = next(e for e in doc["entries"] if e.get("body_raw"))
            return self._send(500, first["body_raw"].encode())
        rows = json.loads((REC / self.run / "before" / "query-peer0.default.json").read_text())
        self._send(200, json.dumps(rows[0]["response"]).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorded():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_qdrant_replication_read_back_and_unknown_collection(recorded) -> None:
    _Recorded.run = "rf2"
    a = qdrant.open_store({"qdrant_urls": recorded})
    rep = a.replication("Docs_rf2")
    assert (rep["factor"], rep["write_consistency_factor"], rep["shards"]) == (2, 1, 3)
    with pytest.raises(VectorStoreError, match="unknown collection 'Other'"):
        a.replication("Other")


def test_qdrant_query_ids_and_its_failure_in_qdrants_words(recorded) -> None:
    from qdrant_client.http.exceptions import UnexpectedResponse

    _Recorded.run, _Recorded.down = "rf1", False
    c = qdrant.new_client_factory(None, 5.0)(recorded)
    res = c.query_points("Docs_rf1", query=[0.1] * 64, limit=10)
    assert len(res.points) == 10 and res.points[0].id == 72
    _Recorded.down = True
    t0 = time.monotonic()
    with pytest.raises(UnexpectedResponse) as exc:
        c.query_points("Docs_rf1", query=[0.1] * 64, limit=10)
    assert time.monotonic() - t0 < 5
    assert (
        qdrant._peerloss.query_error(exc.value)
        == "HTTP 500: Service internal error: 1 of 1 read operations failed"
    )
    _Recorded.down = False


def test_gate_checks_nothing_while_the_peer_is_down_on_purpose(store, tmp_path) -> None:
    cfg = {rundir.CONFIG_KEY: str(tmp_path)}
    store["store"] = FakeStore(unanswered=["Weaviate node weaviate-1 is UNHEALTHY"], nodes=2)
    rundir.set_phase(tmp_path, "method")
    assert storepeers.gate("Documents", 3, 2, configuration=cfg) is True
    rundir.set_phase(tmp_path, "after")
    with pytest.raises(VectorStoreError, match=r"only part of the store \(after the fault\)"):
        storepeers.gate("Documents", 3, 2, configuration=cfg)
    assert not (tmp_path / "peer-replication.json").exists()  # read back at the gate, before
