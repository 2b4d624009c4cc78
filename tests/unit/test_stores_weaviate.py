"""The Weaviate adapter (probes/stores/weaviate.py) through the real weaviate-client against the
recorded Weaviate (tests/unit/weaviate_recorded.py), its query counters with faked HTTP, and the
Prometheus text parser it uses."""

from __future__ import annotations

import pytest
import requests

from probes.stores import weaviate as wv
from scaleproof import credentials
from scaleproof.errors import VectorStoreError
from tests.unit.qdrant_recorded import FIXTURES
from tests.unit.weaviate_recorded import recorded_weaviate

pytestmark = pytest.mark.unit


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


def adapter(url: str | None = None, **configuration: str) -> wv.Weaviate:
    """The Weaviate adapter as a provider opens it, from these configuration keys."""
    return wv.open_store({**configuration, **({"weaviate_url": url} if url else {})}, None, 10.0)


@pytest.fixture
def weaviate():
    with recorded_weaviate() as store:
        yield store


RECORDED = [  # tests/fixtures/weaviate/nodes-verbose.json: (shard, node, objects)
    ("FK01LgfnadNa", "weaviate-0", 32),
    ("vg0mt2sTt3ir", "weaviate-1", 38),
    ("NB1GZvnVoUzQ", "weaviate-2", 30),
]


def test_weaviate_shards_and_health(weaviate):
    """The recorded 3-node cluster through the real weaviate-client: one row per shard, its node and
    object count; a node reporting UNHEALTHY is not counted."""
    rows = adapter(weaviate.url).shard_rows("Documents")
    assert [(r["shard"], r["node"], r["objects"]) for r in rows] == RECORDED
    assert {r["status"] for r in rows} == {"READY"}
    assert adapter(weaviate.url).healthy_nodes() == 3
    weaviate.nodes["nodes"][2]["status"] = "UNHEALTHY"
    assert adapter(weaviate.url).healthy_nodes() == 2
    with pytest.raises(VectorStoreError, match="no shard"):
        adapter(weaviate.url).shard_rows("Missing")
    asked = {(path, query) for path, query, _ in weaviate.seen}
    assert asked == {("/v1/meta", ""), ("/v1/nodes", "output=verbose")}


def test_weaviate_api_key_is_sent_from_the_credentials(weaviate, monkeypatch):
    adapter(weaviate.url).shard_rows("Documents")
    assert weaviate.seen[-1][2] is None, "no key configured: no Authorization header"
    monkeypatch.setenv(credentials.ENV_FALLBACK[("vectorstore", "api_key")], "k-123")
    adapter(weaviate.url).shard_rows("Documents")
    assert weaviate.seen[-1][2] == "Bearer k-123"


def test_weaviate_unreachable_is_a_clear_error(weaviate):
    with pytest.raises(VectorStoreError, match="Weaviate at http://127.0.0.1:9"):
        adapter("http://127.0.0.1:9").shard_rows("Documents")
    weaviate.status = 503
    with pytest.raises(VectorStoreError, match=f"Weaviate at {weaviate.url}.*503"):
        adapter(weaviate.url).shard_rows("Documents")


def test_query_counters_from_pod_metrics_prefer_vector_operation(http):
    http["10.0.0.1:2112"] = Resp(text=METRICS)
    c = adapter(weaviate_metrics_urls="http://10.0.0.1:2112/metrics").query_counters("Documents")
    assert c == {"s1": 12.0, "s2": 7.0}


def test_label_values_with_braces_and_commas_are_parsed(http):
    odd = 'class_name="Documents",operation="vector",shard_name="s}1,x=\\"y\\""'
    text = METRICS + f"queries_filtered_vector_durations_ms_count{{{odd}}} 5\n"
    samples = wv.parse_prometheus_text(text)
    assert (
        "queries_filtered_vector_durations_ms_count",
        {"class_name": "Documents", "operation": "vector", "shard_name": 's}1,x="y"'},
        5.0,
    ) in samples
    http["10.0.0.1:2112"] = Resp(text=text)
    c = adapter(weaviate_metrics_urls="http://10.0.0.1:2112/metrics").query_counters("Documents")
    assert c == {"s1": 12.0, "s2": 7.0, 's}1,x="y"': 5.0}


def test_recorded_metrics_with_braces_in_label_values():
    # Qdrant's real /metrics: endpoint="/collections/{collection_name}/points/query"
    text = (FIXTURES / "metrics-peer0.txt").read_text()
    samples = wv.parse_prometheus_text(text)
    by_key = {(name, tuple(sorted(lb.items()))): v for name, lb, v in samples}
    query = (
        ("endpoint", "/collections/{collection_name}/points/query"),
        ("method", "POST"),
        ("status", "200"),
    )
    assert by_key[("rest_responses_total", query)] == 64.0
    assert by_key[("collection_points", (("id", "Documents"),))] == 42.0
    assert by_key[("app_info", (("name", "qdrant"), ("version", "1.18.3")))] == 1.0
    assert len(samples) == sum(1 for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))


def test_unparseable_metrics_text_is_a_vector_store_error():
    with pytest.raises(VectorStoreError, match="unparseable Prometheus metrics text"):
        wv.parse_prometheus_text('queries_count{shard_name="s1} 3\n')


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
    assert adapter(prometheus_url="http://127.0.0.1:30090").query_counters("Documents") == {
        "s1": 4.0,
        "s3": 2.0,
    }
