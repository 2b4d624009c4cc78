"""probes.vectorstore and probes.prometheus with faked HTTP: shards, counters, qdrant guards, errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import requests

from probes import prometheus, vectorstore
from scaleproof import rundir
from scaleproof.errors import PrometheusUnavailable, VectorStoreError

pytestmark = pytest.mark.unit

NODES = {
    "nodes": [
        {
            "name": "weaviate-0",
            "status": "HEALTHY",
            "shards": [
                {"name": "s1", "class": "Documents", "objectCount": 34},
                {"name": "x", "class": "Other", "objectCount": 9},
            ],
        },
        {
            "name": "weaviate-1",
            "status": "HEALTHY",
            "shards": [{"name": "s2", "class": "Documents", "objectCount": 33}],
        },
        {
            "name": "weaviate-2",
            "status": "UNHEALTHY",
            "shards": [{"name": "s3", "class": "Documents", "objectCount": 33}],
        },
    ]
}
METRICS = """# HELP queries_filtered_vector_durations_ms Duration of queries in milliseconds
# TYPE queries_filtered_vector_durations_ms summary
queries_filtered_vector_durations_ms_count{class_name="Documents",operation="filter",shard_name="s1"} 50
queries_filtered_vector_durations_ms_count{class_name="Documents",operation="vector",shard_name="s1"} 12
queries_filtered_vector_durations_ms_count{class_name="Documents",operation="vector",shard_name="s2"} 7
queries_filtered_vector_durations_ms_count{class_name="Other",operation="vector",shard_name="zz"} 99
object_count{class_name="Documents",shard_name="s1"} 34
"""


class Resp:
    def __init__(self, status=200, body=None, text=""):
        self.status_code, self._body, self.text = status, body, text
        self.headers = {"content-type": "application/json"}

    def json(self):
        if self._body is None:
            raise ValueError("no json")
        return self._body

    def raise_for_status(self):
        if self.status_code >= 400:
            raise requests.HTTPError(str(self.status_code))


@pytest.fixture
def http(monkeypatch):
    routes: dict[str, Resp | Exception] = {}

    def get(url, params=None, timeout=None, **kw):
        for key, resp in routes.items():
            if key in url:
                if isinstance(resp, Exception):
                    raise resp
                return resp
        raise requests.ConnectionError(f"connection refused: {url}")

    monkeypatch.setattr(requests, "get", get)
    return routes


def test_weaviate_shards_and_health(http):
    http["/v1/nodes"] = Resp(body=NODES)
    rows = vectorstore.weaviate_shards("Documents", "http://127.0.0.1:30081")
    assert [(r["shard"], r["node"], r["objects"]) for r in rows] == [
        ("s1", "weaviate-0", 34),
        ("s2", "weaviate-1", 33),
        ("s3", "weaviate-2", 33),
    ]
    assert vectorstore.weaviate_healthy_nodes("http://127.0.0.1:30081") == 2
    with pytest.raises(VectorStoreError, match="no shard"):
        vectorstore.weaviate_shards("Missing", "http://127.0.0.1:30081")


def test_weaviate_unreachable_is_a_clear_error(http):
    with pytest.raises(VectorStoreError, match="unreachable at http://127.0.0.1:30081"):
        vectorstore.weaviate_shards(weaviate_url="http://127.0.0.1:30081")
    http["/v1/nodes"] = Resp(status=503, text="not ready")
    with pytest.raises(VectorStoreError, match="503"):
        vectorstore.weaviate_shards(weaviate_url="http://127.0.0.1:30081")


def test_query_counters_from_pod_metrics_prefer_vector_operation(http):
    http["10.0.0.1:2112"] = Resp(text=METRICS)
    c = vectorstore.weaviate_query_counters("Documents", metrics_urls="http://10.0.0.1:2112/metrics")
    assert c == {"s1": 12.0, "s2": 7.0}


def test_query_counters_through_prometheus(http):
    http["/api/v1/query"] = Resp(
        body={
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {"metric": {"shard_name": "s1", "operation": "vector"}, "value": [1, "4"]},
                    {"metric": {"shard_name": "s3", "operation": "vector"}, "value": [1, "2"]},
                ],
            },
        }
    )
    assert vectorstore.weaviate_query_counters(
        configuration={"prometheus_url": "http://127.0.0.1:30090"}
    ) == {"s1": 4.0, "s3": 2.0}


def test_record_shards_keeps_snapshot_when_counters_are_unavailable(http, tmp_path):
    http["/v1/nodes"] = Resp(body=NODES)
    snap = vectorstore.record_shards(
        "before",
        run_dir=str(tmp_path),
        configuration={"weaviate_url": "http://127.0.0.1:30081", "prometheus_url": "http://127.0.0.1:9"},
    )
    assert snap["counters"] is None and "Prometheus" in snap["counters_error"]
    (saved,) = rundir.read_jsonl(tmp_path / "shards.jsonl")
    assert saved["label"] == "before" and len(saved["per_shard"]) == 3


@pytest.mark.parametrize("url", [":memory:", None, "", "/var/lib/qdrant", "./local.db"])
def test_qdrant_local_mode_refused(url):
    with pytest.raises(VectorStoreError, match="local"):
        vectorstore.check_qdrant_url(url)


def test_qdrant_shards_ask_every_peer():
    def info(peer, shards):
        return SimpleNamespace(
            peer_id=peer,
            local_shards=[SimpleNamespace(shard_id=s, points_count=n, state="Active") for s, n in shards],
        )

    answers = {"http://q0:6333": info(1, [(0, 52)]), "http://q1:6333": info(2, [(1, 48)])}

    def factory(url):
        return SimpleNamespace(collection_cluster_info=lambda c: answers[url])

    rows = vectorstore.qdrant_shards("Documents", "http://q0:6333,http://q1:6333", client_factory=factory)
    assert [(r["shard"], r["node"], r["objects"]) for r in rows] == [("0", "1", 52), ("1", "2", 48)]


def test_prometheus_unreachable_and_error_messages(http):
    with pytest.raises(PrometheusUnavailable, match="unreachable at http://127.0.0.1:30090"):
        prometheus.query("up")
    http["/api/v1/query_range"] = Resp(
        status=400, body={"status": "error", "errorType": "bad_data", "error": "parse error"}
    )
    with pytest.raises(PrometheusUnavailable, match="parse error"):
        prometheus.query_range("up{", 0, 10)
    http["/api/v1/query_range"] = Resp(
        body={
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [{"metric": {"job": "searchapp"}, "values": [[1, "1"], [6, "3"]]}],
            },
        }
    )
    (s,) = prometheus.query_range("up", 0, 10)
    assert s["values"] == [[1.0, 1.0], [6.0, 3.0]]
    assert prometheus.is_up("http://127.0.0.1:9") is False
