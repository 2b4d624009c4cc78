"""The vector-store probes (probes.vectorstore, written once against the store adapters) on the
recorded Weaviate, and probes.prometheus with faked HTTP."""

from __future__ import annotations

import copy

import pytest

from probes import prometheus, vectorstore
from scaleproof import rundir
from scaleproof.errors import DeadlineExceeded, PrometheusUnavailable, VectorStoreError
from tests.unit import test_stores_weaviate as sw

pytestmark = pytest.mark.unit

METRICS, Resp = sw.METRICS, sw.Resp
http, weaviate = sw.http, sw.weaviate  # the faked HTTP and the recorded Weaviate (fixtures)


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


def test_record_shards_names_the_kubernetes_node_of_each_shard(http, weaviate, tmp_path, monkeypatch):
    """Issue 18: each shard row names the Kubernetes node its store node's pod runs on (Weaviate names
    its nodes after their pods), and a mapping that cannot be read is a warning, not a failure."""
    c = {"weaviate_url": weaviate.url, "prometheus_url": "http://127.0.0.1:9"}
    asked: list[tuple[str, str]] = []
    plain = vectorstore.record_shards("plain", run_dir=str(tmp_path), configuration=c)
    names = sorted({r["node"] for r in plain["per_shard"]})
    assert "k8s_node" not in plain["per_shard"][0], "without the store's pods: store nodes only"

    def pods(namespace, selector, configuration=None):
        asked.append((namespace, selector))
        return [{"metadata": {"name": n}, "spec": {"nodeName": f"node-{i}"}} for i, n in enumerate(names)]

    monkeypatch.setattr("probes.placement.kube.list_pods", pods)
    snap = vectorstore.record_shards(
        "before", run_dir=str(tmp_path), namespace="db", store_selector="app=${store}", configuration=c
    )
    assert asked == [("db", "app=weaviate")]
    assert sorted({r["k8s_node"] for r in snap["per_shard"]}) == ["node-0", "node-1", "node-2"]
    (saved,) = [s for s in rundir.read_jsonl(tmp_path / "shards.jsonl") if s["label"] == "before"]
    assert all(r["k8s_node"] for r in saved["per_shard"])
    assert "Kubernetes node" in vectorstore.shards_line(saved) or "3 node(s)" in vectorstore.shards_line(
        saved
    )

    def refused(namespace, selector, configuration=None):
        raise PermissionError("pods is forbidden")

    monkeypatch.setattr("probes.placement.kube.list_pods", refused)
    snap = vectorstore.record_shards(
        "after", run_dir=str(tmp_path), namespace="db", store_selector="app=weaviate", configuration=c
    )
    assert "k8s_node" not in snap["per_shard"][0]
    assert any("not read: pods is forbidden" in w for w in snap["warnings"])
