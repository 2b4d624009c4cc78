"""probes.placement: store node → pod → Kubernetes node, for the per-shard node mapping."""

from __future__ import annotations

import pytest

from probes import placement

pytestmark = pytest.mark.unit


def _pod(name: str, node: str, ip: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"nodeName": node}, "status": {"podIP": ip}}


PODS = [_pod("weaviate-0", "n1", "198.18.1.5"), _pod("weaviate-1", "n2", "198.18.2.7")]


@pytest.mark.parametrize(
    ("store_node", "pod"),
    [
        ("weaviate-1", "weaviate-1"),  # Weaviate: CLUSTER_HOSTNAME is the pod name
        ("http://weaviate-0.weaviate-headless.scaleproof.svc:6335", "weaviate-0"),  # Qdrant peer URI
        ("198.18.2.7", "weaviate-1"),
        ("weaviate-10", None),  # a longer name is not a prefix match
    ],
)
def test_pod_of(store_node: str, pod: str | None) -> None:
    found = placement.pod_of(store_node, PODS)
    assert (found["metadata"]["name"] if found else None) == pod


def test_kubernetes_nodes_per_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(placement.kube, "list_pods", lambda ns, sel, cfg=None: PODS)
    mapping = placement.kubernetes_nodes(["weaviate-0", "weaviate-1", "gone"], "scaleproof", "app=w")
    assert mapping == {"weaviate-0": "n1", "weaviate-1": "n2", "gone": None}
    rows = [
        {"shard": "a", "node": "weaviate-0"},
        {"shard": "b", "node": "weaviate-1"},
        {"shard": "c", "node": "gone"},
    ]
    out = placement.with_kubernetes_nodes(rows, mapping)
    assert [r["k8s_node"] for r in out] == ["n1", "n2", None]
    assert placement.distinct_kubernetes_nodes(out) == 2
    assert placement.distinct_kubernetes_nodes(placement.with_kubernetes_nodes(rows[:1] * 3, mapping)) == 1
