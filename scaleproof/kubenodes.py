"""Nodes through the Kubernetes access layer: read, list, cordon/uncordon, the pods of a node, the
watchable node list, the Deployment's tolerations.

Layer 2, beside `scaleproof.kube` (it goes through `kube.apis` and `kube.call`). Nodes are
cluster-scoped, and a drain moves every pod of its node whatever its namespace; these calls are what
the chaos-runner ClusterRole grants (k8s/base/rbac.yaml, tests/unit/test_rbac.py):

* nodes get/list/watch: the safety checks, the plan, the node timeline;
* nodes patch: cordon and uncordon (`spec.unschedulable`), nothing else of the node;
* pods list (all namespaces, field selector `spec.nodeName`): what the drain would move;
* pods/eviction create (any namespace): the drain's evictions, budgets checked by the API server.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from scaleproof import kube

__all__ = [
    "deployment_tolerations",
    "list_nodes",
    "node",
    "node_list_fn",
    "pdbs_in",
    "pods_on_node",
    "set_unschedulable",
    "set_deployment_tolerations",
]


def node(name: str, configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Node (raw dict); NotFound naming it."""
    return kube.call(kube.apis(configuration).core.read_node, name, what=f"node {name}")


def list_nodes(configuration: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    body = kube.call(kube.apis(configuration).core.list_node, what="nodes")
    return list(body.get("items") or [])


def pods_on_node(name: str, configuration: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every pod bound to node `name`, in every namespace (as `kubectl drain` lists them)."""
    body = kube.call(
        kube.apis(configuration).core.list_pod_for_all_namespaces,
        field_selector=f"spec.nodeName={name}",
        what=f"pods on node {name}",
    )
    return list(body.get("items") or [])


def set_unschedulable(name: str, unschedulable: bool, configuration: Mapping[str, Any] | None = None) -> bool:
    """Cordon (True) or uncordon (False) node `name`. Returns the value it had before."""
    before = bool((node(name, configuration).get("spec") or {}).get("unschedulable"))
    if before != unschedulable:
        kube.call(
            kube.apis(configuration).core.patch_node,
            name,
            {"spec": {"unschedulable": unschedulable or None}},
            what=f"{'cordon' if unschedulable else 'uncordon'} node {name}",
        )
    return before


def node_list_fn(configuration: Mapping[str, Any] | None = None) -> Callable[..., Any]:
    """`list_node` shaped like a namespaced list (`fn(namespace, **kw)`) for `kube.list_then_watch`;
    the namespace is ignored (nodes are cluster-scoped). Keeps the client method's signature and
    docstring, from which the watch reads the object type."""
    list_node = kube.apis(configuration).core.list_node

    @functools.wraps(list_node)
    def fn(*args: Any, **kw: Any) -> Any:
        kw.pop("namespace", None)
        return list_node(**kw)

    return fn


def deployment_tolerations(
    name: str, namespace: str, configuration: Mapping[str, Any] | None = None
) -> list[Any]:
    """The pod template's tolerations of Deployment `namespace/name` ([] when it has none)."""
    d = kube.deployment(name, namespace, configuration)
    return list((((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get("tolerations") or [])


def set_deployment_tolerations(
    name: str, namespace: str, tolerations: list[Any], configuration: Mapping[str, Any] | None = None
) -> None:
    """Replace the pod template's tolerations (a JSON merge patch replaces the list whole; an empty
    list removes them). The Deployment rolls its pods: the caller waits for the rollout."""
    kube.call(
        kube.apis(configuration).apps.patch_namespaced_deployment,
        name,
        namespace,
        {"spec": {"template": {"spec": {"tolerations": tolerations or None}}}},
        what=f"patch tolerations of deployment {namespace}/{name}",
    )


def pdbs_in(namespace: str, configuration: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every PodDisruptionBudget of `namespace` (a drain's pods may live in any namespace)."""
    body = kube.call(
        kube.apis(configuration).policy.list_namespaced_pod_disruption_budget,
        namespace,
        what=f"poddisruptionbudgets in {namespace}",
    )
    return list(body.get("items") or [])
