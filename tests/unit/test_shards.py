"""scaleproof.shards: the spread over shards and nodes, and query counter deltas."""

from __future__ import annotations

import pytest

from scaleproof import shards

pytestmark = pytest.mark.unit


def test_shard_spread_dedupes_replicas_and_counts_queries():
    rows = [
        {"shard": "s1", "node": "w0", "objects": 34, "queries": 10},
        {"shard": "s1", "node": "w1", "objects": 34, "queries": None},  # replica of s1
        {"shard": "s2", "node": "w1", "objects": 33, "queries": 0},
        {"shard": "s3", "node": "w2", "objects": 33, "queries": 7},
        {"shard": "s4", "node": "w2", "objects": 0, "queries": None},
    ]
    s = shards.shard_spread(rows)
    assert s["shards"] == 4 and s["shards_with_data"] == 3
    assert s["documents_total"] == 100 and s["nodes_with_shards"] == 3
    assert s["shards_queried"] == 2


def test_shard_spread_without_query_figures():
    s = shards.shard_spread([{"shard": "s1", "node": "w0", "objects": 100}])
    assert s["shards_queried"] is None and s["nodes_with_shards"] == 1


def test_query_deltas_report_a_counter_that_went_down_as_a_reset():
    deltas, resets = shards.query_deltas({"0": 10.0, "1": 10448.0}, {"0": 848.0, "1": 739.0, "2": 5.0})
    assert deltas == {"0": 838.0, "1": None, "2": 5.0}
    assert resets == [{"shard": "1", "before": 10448.0, "after": 739.0}]


def test_a_reset_shard_counts_as_queried_only_when_searched_since_its_restart():
    rows = [
        {"shard": "0", "node": "a", "objects": 5, "queries": 3.0},
        {
            "shard": "1",
            "node": "b",
            "objects": 5,
            "queries": None,
            "counter_reset": {"before": 9, "after": 4},
        },
        {
            "shard": "2",
            "node": "c",
            "objects": 5,
            "queries": None,
            "counter_reset": {"before": 9, "after": 0},
        },
    ]
    s = shards.shard_spread(rows)
    assert s["shards_queried"] == 2
    assert [r["shard"] for r in s["counter_resets"]] == ["1", "2"]
    assert s["per_shard"][1]["counter_reset"] == {"before": 9, "after": 4}
    assert "counter_resets" not in shards.shard_spread(rows[:1])


def test_nodes_with_shards_counts_kubernetes_nodes_when_every_row_names_one():
    """Three store nodes on one machine are one fault domain: the spread counts Kubernetes nodes."""
    rows = [{"shard": f"s{i}", "node": f"weaviate-{i}", "objects": 30 + i} for i in range(3)]
    one_machine = shards.shard_spread([r | {"k8s_node": "node-1"} for r in rows])
    assert (one_machine["nodes_with_shards"], one_machine["store_nodes_with_shards"]) == (1, 3)
    spread = shards.shard_spread([r | {"k8s_node": f"node-{i}"} for i, r in enumerate(rows)])
    assert spread["nodes_with_shards"] == 3
    assert [r["k8s_node"] for r in spread["per_shard"]] == ["node-0", "node-1", "node-2"]
    unknown = shards.shard_spread([rows[0] | {"k8s_node": None}, rows[1] | {"k8s_node": "node-1"}])
    assert unknown["nodes_with_shards"] == 2, "a row without its machine: store nodes are counted"
