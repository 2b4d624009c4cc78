"""The Weaviate adapter (probes/stores/weaviate.py) on the recorded Weaviate, the vector-store probes
written against it (probes.vectorstore), and probes.prometheus with faked HTTP."""

from __future__ import annotations

import copy

import pytest
import requests

from probes import prometheus, vectorstore
from probes.stores import weaviate as wv
from scaleproof import credentials, rundir
from scaleproof.errors import DeadlineExceeded, PrometheusUnavailable, VectorStoreError
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


def test_record_shards_keeps_snapshot_when_counters_are_unavailable(http, weaviate, tmp_path):
    snap = vectorstore.record_shards(
        "before",
        run_dir=str(tmp_path),
        configuration={"weaviate_url": weaviate.url, "prometheus_url": "http://127.0.0.1:9"},
    )
    assert snap["counters"] is None and "Prometheus" in snap["counters_error"]
    (saved,) = rundir.read_jsonl(tmp_path / "shards.jsonl")
    assert saved["label"] == "before" and len(saved["per_shard"]) == 3


def test_record_shards_names_the_store_and_its_sources(http, weaviate, tmp_path):
    http["10.0.0.1:2112"] = Resp(text=METRICS)
    c = {"weaviate_url": weaviate.url, "weaviate_metrics_urls": "http://10.0.0.1:2112/metrics"}
    snap = vectorstore.record_shards("before", run_dir=str(tmp_path), configuration=c)
    assert snap["store"] == "weaviate" and snap["counters"] == {"s1": 12.0, "s2": 7.0}
    assert "/v1/nodes" in snap["per_shard_source"] and "pod :2112 metrics" in snap["counters_source"]
    with pytest.raises(VectorStoreError, match="SCALEPROOF_STORE"):
        vectorstore.record_shards("x", store="chroma", run_dir=str(tmp_path), configuration=c)


def test_weaviate_spread_claim_follows_the_run(http, weaviate, tmp_path):
    c = {
        "weaviate_url": weaviate.url,
        "weaviate_metrics_urls": "http://10.0.0.1:2112/metrics",
        rundir.CONFIG_KEY: str(tmp_path),
    }
    recorded = weaviate.nodes["nodes"]
    weaviate.nodes["nodes"] = [{**recorded[0], "shards": []}]  # a node before the collection exists
    http["10.0.0.1:2112"] = Resp(text="")
    empty = vectorstore.shard_spread_now(configuration=c)
    assert empty["missing"] and empty["shards"] == 0
    assert vectorstore.spread_claim_holds(empty), "an empty store passes the gate"
    weaviate.nodes["nodes"] = recorded
    named = METRICS.replace('"s1"', '"FK01LgfnadNa"').replace('"s2"', '"vg0mt2sTt3ir"')  # recorded shards
    http["10.0.0.1:2112"] = Resp(text=named)
    rundir.append_event(tmp_path, {"t": 1, "source": "action", "kind": "Ingest", "type": "DONE"})
    vectorstore.record_shards("before", configuration=c)
    vectorstore.record_shards("after", configuration=c)
    spread = vectorstore.shard_spread_now(configuration=c)
    assert (spread["shards_with_data"], spread["nodes_with_shards"], spread["shards_queried"]) == (3, 3, 0)
    assert spread["claim"]["reasons"] == ["0 shard(s) queried since the baseline snapshot, 2 claimed"]
    assert not vectorstore.spread_claim_holds(spread), "no shard counter moved"
    http["10.0.0.1:2112"] = Resp(text=named.replace("} 12", "} 30").replace("} 7", "} 9"))
    assert vectorstore.spread_claim_holds(vectorstore.shard_spread_now(configuration=c))
    assert vectorstore.healthy_nodes(configuration=c) == 3
    weaviate.nodes["nodes"][2]["status"] = "UNHEALTHY"
    assert vectorstore.healthy_nodes(configuration=c) == 2
    # each claimed figure's check is in claims.jsonl (none at rest), as the evidence summarises it
    from scaleproof.evidence import claims_summary

    rows = {r["claim"]: r for r in claims_summary(rundir.read_jsonl(tmp_path / "claims.jsonl"))}
    assert set(rows) == {"shards_with_data", "nodes_with_shards", "shards_queried"}
    assert (rows["shards_with_data"]["checks"], rows["shards_with_data"]["met"]) == (2, 2)
    assert (rows["shards_queried"]["checks"], rows["shards_queried"]["met"]) == (2, 1)
    assert rows["shards_queried"]["threshold"] == 2


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


def test_ingest_waits_until_the_store_counts_the_documents(weaviate):
    """Weaviate's /v1/nodes objectCount is its async count (flushed segments only): on a fresh store it
    stays 0 for a while after an ingest (seen on the real cluster: 0 for > 15 s, 100 later)."""
    recorded = copy.deepcopy(weaviate.nodes)
    zero = copy.deepcopy(recorded)
    for node in zero["nodes"]:
        for shard in node["shards"]:
            shard["objectCount"] = 0
    answers = [zero, zero, recorded]
    weaviate.nodes = answers[0]
    t = [0.0]

    def sleep(s):
        t[0] += s
        weaviate.nodes = answers[min(int(t[0] // 2), 2)]

    c = {"weaviate_url": weaviate.url}
    got = vectorstore.wait_store_documents(100, configuration=c, clock=lambda: t[0], sleep=sleep)
    assert got == {"documents_total": 100, "seconds": 4.0}
    weaviate.nodes = zero
    with pytest.raises(DeadlineExceeded, match="shows 0 of 100 objects"):
        vectorstore.wait_store_documents(
            100, configuration=c, deadline_s=6, clock=lambda: t[0], sleep=lambda s: t.__setitem__(0, t[0] + s)
        )
