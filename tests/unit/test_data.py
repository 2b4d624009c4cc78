"""actions.data: ingest through the corpus helper's API, bounded query bursts, host allowlist."""

from __future__ import annotations

import contextlib
import sys
from types import ModuleType, SimpleNamespace

import pytest
import requests

from actions import data
from probes.stores import weaviate
from scaleproof import undo
from scaleproof.errors import DeadlineExceeded, LoadError, ScaleproofError

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_abort(monkeypatch):
    monkeypatch.setattr(undo, "ABORT", undo.threading.Event())


@pytest.fixture
def corpus(monkeypatch):
    calls = []
    c, i = ModuleType("loadgen.corpus"), ModuleType("loadgen.ingest")
    c.load_documents = lambda: [{"id": f"d{n}", "text": f"doc {n}"} for n in range(120)]
    c.queries = lambda n, seed: [f"q{k}" for k in range(n)]
    i.ingest = lambda base_url, documents, batch_size, timeout_s, allow_hosts=(): (
        calls.append((base_url, len(documents), batch_size, timeout_s)) or {"ingested": len(documents)}
    )
    monkeypatch.setitem(sys.modules, "loadgen.corpus", c)
    monkeypatch.setitem(sys.modules, "loadgen.ingest", i)
    return calls


def test_ingest_first_n_documents(corpus):
    res = data.ingest_corpus(documents=100, batch_size=50, app_url="http://127.0.0.1:30080")
    assert corpus == [("http://127.0.0.1:30080", 100, 50, 120.0)] and res["documents"] == 100


def test_ingest_refuses_remote_hosts_and_short_corpus(corpus):
    with pytest.raises(ScaleproofError, match="refusing"):
        data.ingest_corpus(app_url="http://203.0.113.9")
    with pytest.raises(ScaleproofError, match="120 documents, 500 requested"):
        data.ingest_corpus(documents=500, app_url="http://127.0.0.1:30080")


def test_query_burst_via_weaviate_sends_filtered_near_object(monkeypatch):
    """Through weaviate-client (a fake client here; the e2e vector-shards run sends them to the real
    cluster over gRPC): filtered nearObject searches around the collection's objects, top_k each."""
    sent = []

    class Query:
        def fetch_objects(self, limit):
            assert limit == 20
            return SimpleNamespace(objects=[SimpleNamespace(uuid="u1"), SimpleNamespace(uuid="u2")])

        def near_object(self, near_object, limit, filters):
            sent.append((near_object, limit, filters))

    used = []

    @contextlib.contextmanager
    def client(base, grpc, timeout_s):
        def use(name):
            used.append(name)
            return SimpleNamespace(query=Query())

        yield SimpleNamespace(collections=SimpleNamespace(use=use))

    monkeypatch.setattr(weaviate, "client", client)
    res = data.query_burst(
        queries=5, via="weaviate", top_k=3, configuration={"weaviate_url": "http://127.0.0.1:30081"}
    )
    assert res == {**res, "sent": 5, "ok": 5, "failed": 0, "via": "weaviate"} and used == ["Documents"]
    assert [n for n, _, _ in sent] == ["u1", "u2", "u1", "u2", "u1"] and {k for _, k, _ in sent} == {3}
    f = sent[0][2]
    assert (f.target, f.operator.value, f.value) == ("_id", "NotEqual", weaviate.NIL_UUID)
    with pytest.raises(LoadError):
        data.query_burst(
            queries=1, via="weaviate", configuration={"weaviate_url": "http://198.51.100.7:8080"}
        )


def test_query_burst_bounds(monkeypatch):
    with pytest.raises(ScaleproofError):
        data.query_burst(queries=0)
    with pytest.raises(LoadError):
        data.query_burst(queries=1, via="app", configuration={"app_url": "http://198.51.100.7"})
    monkeypatch.setattr(requests, "post", lambda *a, **k: type("R", (), {"status_code": 200})())
    with pytest.raises(DeadlineExceeded):
        data.query_burst(
            queries=3, via="app", deadline_s=0, configuration={"app_url": "http://127.0.0.1:30080"}
        )
