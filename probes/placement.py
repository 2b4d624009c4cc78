"""Where a vector store's peers run in Kubernetes: store node name → its pod → the pod's spec.nodeName.

"Shards on ≥ 2 nodes" should mean Kubernetes nodes (machines that fail apart), not only store nodes
(which may all sit on one machine). The store adapters report shards per *store* node; this maps each
store node to the Kubernetes node its pod runs on. Weaviate names its nodes after their pods
(CLUSTER_HOSTNAME = metadata.name); Qdrant peers are named by URI, whose host is the pod's DNS name
(`<pod>.<headless service>…`) or its IP. Read-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from scaleproof import kube

__all__ = ["pod_of", "kubernetes_nodes", "with_kubernetes_nodes", "distinct_kubernetes_nodes"]


def pod_of(store_node: str, pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The pod a store node names: its pod name, a DNS name starting with it, or its pod IP."""
    host = urlparse(store_node).hostname if "://" in store_node else store_node
    host = host or store_node
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "")
        ip = (pod.get("status") or {}).get("podIP")
        if host == name or host.startswith(f"{name}.") or (ip and host == ip):
            return pod
    return None


def kubernetes_nodes(
    store_nodes: Iterable[str],
    namespace: str,
    selector: str,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, str | None]:
    """Probe: store node name → the Kubernetes node its pod runs on (None when no pod matches)."""
    pods = kube.list_pods(namespace, selector, configuration)
    out: dict[str, str | None] = {}
    for name in store_nodes:
        pod = pod_of(name, pods)
        out[name] = ((pod or {}).get("spec") or {}).get("nodeName")
    return out


def with_kubernetes_nodes(
    rows: Sequence[Mapping[str, Any]], mapping: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    """Shard rows (`{"shard", "node", …}`) with `k8s_node`: where the row's store node runs."""
    return [{**row, "k8s_node": mapping.get(str(row.get("node")))} for row in rows]


def distinct_kubernetes_nodes(rows: Sequence[Mapping[str, Any]]) -> int:
    """How many Kubernetes nodes hold at least one shard replica (rows from `with_kubernetes_nodes`)."""
    return len({r["k8s_node"] for r in rows if r.get("k8s_node")})
