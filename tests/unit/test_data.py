"""actions.data: ingest through the corpus helper's API, bounded query bursts, host allowlist."""

from __future__ import annotations

import sys
from types import ModuleType

import pytest
import requests

from actions import data
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
    sent = []

    class R:
        status_code = 200
        headers = {"content-type": "application/json"}

        def __init__(self, body):
            self.body = body

        def json(self):
            return self.body

    monkeypatch.setattr(
        requests, "get", lambda url, params=None, timeout=None: R({"objects": [{"id": "u1"}]})
    )
    monkeypatch.setattr(
        requests, "post", lambda url, json=None, timeout=None: sent.append(json["query"]) or R({})
    )
    res = data.query_burst(
        queries=5, via="weaviate", configuration={"weaviate_url": "http://127.0.0.1:30081"}
    )
    assert res == {**res, "sent": 5, "ok": 5, "failed": 0}
    assert 'nearObject: {id: "u1"}' in sent[0] and "operator: NotEqual" in sent[0]


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
