"""HTTP contract of the search app, against an in-memory test double of the vector store."""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
import urllib.request
from typing import Any

import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from searchapp.api import create_app
from searchapp.backends import (
    BackendRejected,
    BackendStatus,
    BackendUnavailable,
    CollectionMissing,
    SearchHit,
    ShardInfo,
    StoredDocument,
    doc_uuid,
)
from searchapp.lifecycle import DrainingServer, StoreHealth
from searchapp.settings import Settings

from loadgen.corpus import load_documents
from loadgen.ingest import ingest

pytestmark = pytest.mark.unit


class FakeBackend:
    """In-memory VectorBackend double: exact cosine search, switchable outages."""

    name = "fake"

    def __init__(self, collection: str = "Documents") -> None:
        self.collection = collection
        self.docs: dict[str, StoredDocument] = {}
        self.exists = False
        self.down = False
        self.reject = False
        self.ensure_calls: list[tuple[str, int, int, int]] = []
        self.search_gate: threading.Event | None = None
        self.warmed = 0
        self.fail_searches = 0  # the next N searches answer "unavailable" (a peer not yet marked dead)
        self.searches = 0
        self.fail_counts = 0  # the next N counts answer "unavailable"
        self.fail_listings = 0  # the next N shard listings answer "unavailable" (a peer going away)

    def _check(self) -> None:
        if self.down:
            raise BackendUnavailable("fake store is down")
        if self.reject:
            raise BackendRejected("fake store rejects")

    def ensure_collection(self, name: str, dim: int, shards: int, replication: int) -> bool:
        self.ensure_calls.append((name, dim, shards, replication))
        self._check()
        created = not self.exists
        self.exists = True
        return created

    def upsert(self, docs: list[StoredDocument]) -> int:
        self._check()
        if not self.exists:
            raise CollectionMissing("no collection")
        for d in docs:
            self.docs[doc_uuid(d["id"])] = d
        return len(docs)

    def search(self, vector: list[float], top_k: int) -> list[SearchHit]:
        if self.search_gate is not None:
            self.search_gate.wait(5)
        self.searches += 1
        if self.fail_searches > 0:
            self.fail_searches -= 1
            raise BackendUnavailable("remote shard on a dead peer")
        self._check()
        if not self.exists:
            raise CollectionMissing("no collection")
        q = np.asarray(vector)
        q = q / np.linalg.norm(q)
        hits = [
            {"id": d["id"], "score": float(np.dot(q, d["vector"])), "text": d["text"]}
            for d in self.docs.values()
        ]
        hits.sort(key=lambda h: -float(h["score"]))
        return hits[:top_k]  # type: ignore[return-value]

    def count(self) -> int:
        if self.fail_counts > 0:
            self.fail_counts -= 1
            raise BackendUnavailable("aggregate: remote shard on a dead peer")
        self._check()
        return len(self.docs)

    def shard_info(self) -> list[ShardInfo]:
        if self.fail_listings > 0:
            self.fail_listings -= 1
            raise BackendUnavailable("nodes: a peer did not answer")
        self._check()
        return [{"name": "s0", "node": "n0", "object_count": len(self.docs), "state": "READY", "local": True}]

    def ping(self) -> BackendStatus:
        if self.down:
            return {"reachable": False, "collection_exists": False, "detail": "connection refused"}
        return {"reachable": True, "collection_exists": self.exists, "detail": "ok"}

    def warm(self) -> None:
        self.warmed += 1

    def close(self) -> None:
        pass


def make(**overrides: Any) -> tuple[TestClient, FakeBackend]:
    backend = FakeBackend()
    settings = Settings(**{"embed_rounds": 32, "max_batch": 8, "ensure_retry_s": 0.05, **overrides})
    return TestClient(create_app(settings, backend=backend)), backend


def metric(text: str, name: str, **labels: str) -> float:
    """Value of one sample in Prometheus text format (0.0 if absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:]+)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return 0.0


DOCS = [
    {
        "id": "k8s",
        "text": "Kubernetes rollout undo returns a Deployment to its previous revision after a bad release.",
    },
    {
        "id": "bread",
        "text": "Knead the bread dough for ten minutes and let it rise slowly in a cool kitchen.",
    },
    {"id": "nile", "text": "The Nile flows north through eleven countries into the Mediterranean Sea."},
]


def test_ingest_then_search_ranks_the_relevant_document_first() -> None:
    client, backend = make()
    with client:
        r = client.post("/documents", json={"documents": DOCS})
        assert r.status_code == 200 and r.json() == {"ingested": 3}
        assert backend.ensure_calls[0] == ("Documents", 384, 1, 1)
        r = client.post("/search", json={"query": "how to roll back a kubernetes deployment", "top_k": 2})
        assert r.status_code == 200
        body = r.json()
        assert [h["id"] for h in body["results"]][0] == "k8s"
        assert len(body["results"]) == 2
        assert body["results"][0]["score"] > body["results"][1]["score"]
        assert body["results"][0]["text"] == DOCS[0]["text"]
        assert isinstance(body["took_ms"], float) and body["took_ms"] >= 0


def test_reingest_same_id_overwrites_instead_of_duplicating() -> None:
    client, backend = make()
    with client:
        client.post("/documents", json={"documents": DOCS})
        r = client.post(
            "/documents", json={"documents": [{"id": "nile", "text": "The Danube reaches the Black Sea."}]}
        )
        assert r.json() == {"ingested": 1}
        assert client.get("/collection").json()["count"] == 3
        assert backend.docs[doc_uuid("nile")]["text"] == "The Danube reaches the Black Sea."
    # UUID5 of the id is fixed forever: changing it would duplicate every stored document.
    assert doc_uuid("doc-001") == doc_uuid("doc-001") != doc_uuid("doc-002")
    assert doc_uuid("doc-001") == "1d944940-bbfa-54d3-a430-1331f716520f"


def test_search_by_vector_finds_the_document_with_that_vector() -> None:
    client, backend = make()
    with client:
        client.post("/documents", json={"documents": DOCS})
        vec = backend.docs[doc_uuid("bread")]["vector"]
        r = client.post("/search", json={"vector": vec, "top_k": 1})
        assert r.status_code == 200
        hit = r.json()["results"][0]
        assert hit["id"] == "bread" and hit["score"] == pytest.approx(1.0, abs=1e-5)


def test_metadata_is_passed_to_the_store() -> None:
    client, backend = make()
    with client:
        doc = {
            "id": "m",
            "text": "Tennis scoring goes from fifteen to thirty.",
            "metadata": {"topic": "sports", "n": 2},
        }
        assert client.post("/documents", json={"documents": [doc]}).status_code == 200
        assert backend.docs[doc_uuid("m")]["metadata"] == {"topic": "sports", "n": 2}


BAD_REQUESTS = [
    ("/search", "{not json", 400, "malformed_json"),
    ("/documents", '{"documents": [', 400, "malformed_json"),
    ("/search", "[]", 422, "invalid_request"),
    ("/search", "{}", 422, "invalid_request"),
    ("/search", '{"query": "   "}', 422, "invalid_request"),
    ("/search", '{"query": "?!?"}', 422, "invalid_request"),
    ("/search", '{"query": "x", "top_k": 0}', 422, "invalid_request"),
    ("/search", '{"query": "x", "top_k": 51}', 422, "invalid_request"),
    ("/search", '{"query": "x", "vector": [1.0]}', 422, "invalid_request"),
    ("/search", '{"vector": [1.0, 2.0, 3.0]}', 422, "invalid_vector"),
    ("/search", '{"vector": [NaN, 1.0]}', 422, "invalid_request"),
    ("/search", json.dumps({"vector": [0.0] * 384}), 422, "invalid_vector"),
    ("/search", '{"query": "x", "topk": 3}', 422, "invalid_request"),
    ("/search", '{"query": "x", "collection": "Other"}', 404, "unknown_collection"),
    ("/documents", '{"documents": []}', 422, "invalid_request"),
    ("/documents", '{"documents": [{"id": "a", "text": ""}]}', 422, "invalid_request"),
    ("/documents", '{"documents": [{"id": "a", "text": "   "}]}', 422, "invalid_request"),
    ("/documents", '{"documents": [{"id": "", "text": "hello"}]}', 422, "invalid_request"),
    ("/documents", '{"documents": [{"text": "hello"}]}', 422, "invalid_request"),
    ("/documents", '{"documents": [{"id": "a", "text": "..."}]}', 422, "invalid_request"),
    (
        "/documents",
        '{"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}',
        422,
        "duplicate_id",
    ),
    ("/documents", '{"documents": [{"id": "a", "text": "x", "metadata": 3}]}', 422, "invalid_request"),
    (
        "/documents",
        '{"documents": [{"id": "a", "text": "x"}], "collection": "Nope"}',
        404,
        "unknown_collection",
    ),
    (
        "/documents",
        json.dumps({"documents": [{"id": f"d{i}", "text": "some text"} for i in range(9)]}),
        413,
        "batch_too_large",
    ),
]


@pytest.mark.parametrize(("path", "body", "status", "code"), BAD_REQUESTS)
def test_bad_requests_get_4xx_with_a_clear_message_and_write_nothing(
    path: str, body: str, status: int, code: str
) -> None:
    client, backend = make()
    with client:
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == status, r.text
        payload = r.json()
        assert payload["error"] == code
        assert isinstance(payload["message"], str) and len(payload["message"]) > 5
        assert backend.docs == {}


def test_oversized_batch_message_names_the_limit_and_unknown_collection_on_get() -> None:
    client, _ = make(max_batch=2)
    with client:
        docs = [{"id": str(i), "text": "words here"} for i in range(3)]
        r = client.post("/documents", json={"documents": docs})
        assert (
            r.status_code == 413
            and "MAX_BATCH=2" in r.json()["message"]
            and "3 documents" in r.json()["message"]
        )
        r = client.get("/collection", params={"name": "Other"})
        assert r.status_code == 404 and r.json()["error"] == "unknown_collection"
        assert client.get("/nowhere").status_code == 404
        assert client.get("/search").status_code == 405


@pytest.mark.parametrize(
    ("retries", "failures", "status", "tries", "retried"),
    [(2, 2, 200, 3, 2), (1, 5, 503, 2, 1)],
    ids=["tried-again-until-it-answers", "bounded-and-the-last-failure-is-the-answer"],
)
def test_a_search_the_store_answers_unavailable_is_tried_again_and_counted(
    retries: int, failures: int, status: int, tries: int, retried: int
) -> None:
    client, backend = make(search_retries=retries, search_retry_delay_s=0.001)
    with client:
        client.post("/documents", json={"documents": DOCS})
        backend.fail_searches, backend.searches = failures, 0
        r = client.post("/search", json={"query": "nile river"})
        assert r.status_code == status, r.json()
        assert r.json()["results"] if status == 200 else "dead peer" in r.json()["message"]
        assert backend.searches == tries
        assert metric(client.get("/metrics").text, "searchapp_backend_retries_total") == retried


def test_the_collection_view_tries_its_reads_again_and_survives_a_missing_listing() -> None:
    # a whole-node drain at replication 2 failed only GET /collection (11 x 503 in 4 s, 2026-12-08):
    # its count and per-node listing were not tried again, and a failed listing failed the answer
    client, backend = make(search_retries=2, search_retry_delay_s=0.001)
    with client:
        client.post("/documents", json={"documents": DOCS})
        backend.fail_counts, backend.fail_listings = 2, 2
        r = client.get("/collection")
        assert r.status_code == 200 and r.json()["count"] == len(DOCS)
        assert r.json()["shards"][0]["object_count"] == len(DOCS)
        assert metric(client.get("/metrics").text, "searchapp_backend_retries_total") == 4
        backend.fail_listings = 5  # the listing still fails after its tries: the count still answers
        r = client.get("/collection")
        assert r.status_code == 200 and r.json()["count"] == len(DOCS)
        assert r.json()["shards"] is None and "did not answer" in r.json()["shards_error"]
        backend.fail_counts = 5  # the count itself is the answer: 503 after its tries
        assert client.get("/collection").status_code == 503


def test_a_rejected_search_is_not_tried_again() -> None:
    client, backend = make(search_retries=2, search_retry_delay_s=0.001)
    with client:
        client.post("/documents", json={"documents": DOCS})
        backend.reject, backend.searches = True, 0
        assert client.post("/search", json={"query": "nile river"}).status_code == 502
        assert backend.searches == 1


def test_backend_down_gives_503_everywhere_but_liveness() -> None:
    client, backend = make()
    with client:
        client.post("/documents", json={"documents": DOCS})
        backend.down = True
        r = client.post("/search", json={"query": "nile river"})
        assert r.status_code == 503 and r.json()["error"] == "backend_unavailable"
        assert "fake store is down" in r.json()["message"]
        assert client.post("/documents", json={"documents": DOCS}).status_code == 503
        assert client.get("/collection").status_code == 503
        r = client.get("/readyz")
        assert r.status_code == 503 and "unreachable" in r.json()["reason"]
        assert client.get("/healthz").status_code == 200
        backend.down = False
        assert client.get("/readyz").status_code == 200


def test_backend_rejection_is_502_not_500() -> None:
    client, backend = make()
    with client:
        backend.reject = True
        r = client.post("/search", json={"query": "anything at all"})
        assert r.status_code == 502 and r.json()["error"] == "backend_error"


def test_readyz_creates_a_missing_collection_and_reports_create_failures() -> None:
    client, backend = make(store_unready_after_s=0)  # every failed check counts
    with client:
        assert client.get("/readyz").status_code == 200
        backend.exists = False  # e.g. someone deleted the collection
        r = client.post("/search", json={"query": "bread dough"})
        assert r.status_code == 503 and r.json()["error"] == "collection_not_ready"
        assert client.get("/readyz").status_code == 200  # self-healed by create-if-missing
        assert backend.exists is True
        backend.exists = False
        backend.reject = True
        r = client.get("/readyz")
        assert r.status_code == 503 and "create failed" in r.json()["reason"]


def test_once_ready_a_failed_store_check_keeps_the_replica_ready_within_the_grace() -> None:
    client, backend = make(store_unready_after_s=30)
    with client:
        backend.down = True
        assert client.get("/readyz").status_code == 503, "never Ready before the store answered"
        backend.down = False
        assert client.get("/readyz").status_code == 200
        backend.down = True  # one check reached a store peer on a dead node
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["store"].startswith("failing for "), r.json()
        assert "unreachable" in r.json()["store"]


def test_store_health_turns_readiness_off_after_the_grace_and_on_at_the_first_answer() -> None:
    now = [100.0]
    health = StoreHealth(10.0, clock=lambda: now[0])
    assert health.ready(False) is False  # not answered yet: a starting pod is not Ready
    assert health.ready(True) is True
    assert health.ready(False) is True and health.failing_for_s() == 0.0
    now[0] = 109.9
    assert health.ready(False) is True
    now[0] = 110.0
    assert health.ready(False) is False and health.failing_for_s() == 10.0
    assert health.ready(True) is True and health.failing_for_s() == 0.0
    assert StoreHealth(0.0).ready(True) and not StoreHealth(0.0).ready(False)


def test_the_client_is_warmed_once_after_the_first_ready_answer_not_before() -> None:
    """Warming the store's client (its import: CPU) starts only once the pod is Ready, and once."""
    client, backend = make()
    with client:
        backend.down = True
        assert client.get("/readyz").status_code == 503
        time.sleep(0.2)
        assert backend.warmed == 0, "not warmed while the store does not answer"
        backend.down = False
        backend.exists = True
        assert client.get("/readyz").status_code == 200
        assert client.get("/readyz").status_code == 200
        deadline = time.monotonic() + 5
        while backend.warmed == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert backend.warmed == 1


def test_startup_with_store_down_becomes_ready_when_store_comes_up() -> None:
    client, backend = make()
    backend.down = True
    with client:
        assert client.get("/readyz").status_code == 503
        backend.down = False
        boot = client.app.state.bootstrapper  # type: ignore[attr-defined]
        assert boot.ensured.wait(2.0), "background bootstrap did not retry"
        assert backend.exists is True
        assert client.get("/readyz").status_code == 200


def test_drain_hook_flips_readiness_but_keeps_serving() -> None:
    client, _ = make()
    with client:
        client.post("/documents", json={"documents": DOCS})
        assert client.get("/readyz").status_code == 200
        client.app.state.lifecycle.begin_drain()  # type: ignore[attr-defined]
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "draining"
        r = client.post("/search", json={"query": "nile"})
        assert r.status_code == 200 and r.headers["connection"] == "close"
        assert client.get("/healthz").json() == {"status": "ok", "draining": True}
        assert metric(client.get("/metrics").text, "searchapp_draining") == 1.0


def test_collection_endpoint_reports_count_and_shards() -> None:
    client, _ = make(shards=3, replication_factor=2)
    with client:
        client.post("/documents", json={"documents": DOCS})
        body = client.get("/collection").json()
        assert body["count"] == 3 and body["configured_shards"] == 3 and body["replication_factor"] == 2
        assert body["shards"] == [
            {"name": "s0", "node": "n0", "object_count": 3, "state": "READY", "local": True}
        ]


def test_metrics_count_requests_by_endpoint_and_status_and_time_embeddings() -> None:
    client, _ = make()
    with client:
        client.post("/documents", json={"documents": DOCS})
        for _ in range(4):
            assert client.post("/search", json={"query": "bread"}).status_code == 200
        client.post("/search", json={"query": "x", "top_k": 0})
        text = client.get("/metrics").text
    assert metric(text, "searchapp_requests_total", endpoint="/search", method="POST", status="200") == 4
    assert metric(text, "searchapp_requests_total", endpoint="/search", method="POST", status="422") == 1
    assert metric(text, "searchapp_requests_total", endpoint="/documents", method="POST", status="200") == 1
    assert metric(text, "searchapp_request_duration_seconds_count", endpoint="/search", method="POST") == 5
    assert metric(text, "searchapp_embedding_duration_seconds_count", kind="query") == 4
    assert metric(text, "searchapp_embedding_duration_seconds_count", kind="document") == 3
    assert metric(text, "searchapp_documents_ingested_total") == 3
    # Only the /metrics request itself is in flight while the page is rendered.
    assert metric(text, "searchapp_requests_in_flight") == 1


def test_in_flight_gauge_counts_a_blocked_request() -> None:
    client, backend = make()
    with client:
        client.post("/documents", json={"documents": DOCS})
        backend.search_gate = threading.Event()
        t = threading.Thread(target=lambda: client.post("/search", json={"query": "nile"}))
        t.start()
        try:
            deadline = time.monotonic() + 3
            value = 0.0
            while time.monotonic() < deadline:
                value = metric(client.get("/metrics").text, "searchapp_requests_in_flight")
                if value >= 2:
                    break
                time.sleep(0.02)
            assert value == 2  # the blocked search + this /metrics request
        finally:
            backend.search_gate.set()
            t.join(5)
        assert metric(client.get("/metrics").text, "searchapp_requests_in_flight") == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_real_server_ingest_search_and_sigterm_drain() -> None:
    """uvicorn on 127.0.0.1: ingest the corpus over HTTP, then SIGTERM -> drain -> exit."""
    backend = FakeBackend()
    settings = Settings(embed_rounds=16, ensure_retry_s=0.05)
    app = create_app(settings, backend=backend)
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = DrainingServer(config, app.state.lifecycle, drain_seconds=0.6)
    thread = threading.Thread(target=server.run, daemon=True)  # not the main thread: no signal handlers
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        docs = load_documents()
        result = ingest(base, docs, batch_size=40)
        assert result["ingested"] == len(docs) and result["batches"] == 4 and result["retries"] == 0
        assert len(backend.docs) == len(docs)
        req = urllib.request.Request(
            base + "/search",
            data=json.dumps({"query": "deepest lake in the world", "top_k": 3}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            hits = json.loads(r.read())["results"]
        assert "Baikal" in hits[0]["text"]

        server.handle_exit(signal.SIGTERM, None)  # the hook uvicorn installs for SIGTERM
        t_sig = time.monotonic()
        assert _get(base + "/readyz") == 503
        assert _get(base + "/healthz") == 200  # still serving during the drain
        assert not server.should_exit
        thread.join(10)
        assert not thread.is_alive()
        assert time.monotonic() - t_sig >= 0.6  # did not stop before the drain period
    finally:
        server.should_exit = True
        thread.join(5)


def test_second_sigterm_or_zero_drain_stops_immediately() -> None:
    app = create_app(Settings(embed_rounds=4), backend=FakeBackend())
    server = DrainingServer(uvicorn.Config(app), app.state.lifecycle, drain_seconds=30)
    server.handle_exit(signal.SIGTERM, None)
    assert app.state.lifecycle.draining and not server.should_exit
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit

    app2 = create_app(Settings(embed_rounds=4), backend=FakeBackend())
    server2 = DrainingServer(uvicorn.Config(app2), app2.state.lifecycle, drain_seconds=0)
    server2.handle_exit(signal.SIGTERM, None)
    assert server2.should_exit and app2.state.lifecycle.draining
