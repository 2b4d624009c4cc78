"""Nodes through the Kubernetes access layer: read, list, cordon/uncordon, the pods of a node and
their budgets in any namespace, their eviction, the watchable node list.

Layer 2, beside `scaleproof.kube` (it goes through `kube.apis` and `kube.call`). Nodes are
cluster-scoped, and a drain moves every pod of its node whatever its namespace; these calls are what
the chaos-runner-nodes ClusterRole grants (k8s/base/rbac.yaml; tests/unit/test_rbac.py derives it from
the client calls of this module, cluster-scoped or not):

* nodes get/list/watch: the safety checks, the plan, the node timeline;
* nodes patch: cordon and uncordon (`spec.unschedulable`), nothing else of the node;
* pods list (all namespaces, field selector `spec.nodeName`): what the drain would move;
* pods/eviction create (any namespace): the drain's evictions, budgets checked by the API server;
* poddisruptionbudgets list (any namespace): the budgets that would block, for the plan.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from scaleproof import kube
from scaleproof.errors import ScaleproofError

__all__ = [
    "eviction_refusal",
    "evict_pod",
    "list_nodes",
    "node",
    "cluster_scoped",
    "pdbs_in",
    "pods_on_node",
    "set_unschedulable",
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


def cluster_scoped(list_fn: Callable[..., Any]) -> Callable[..., Any]:
    """A cluster-scoped list method (`core.list_node`) shaped like a namespaced one (`fn(namespace,
    **kw)`) for `kube.list_then_watch`: the namespace is dropped. Keeps the client method's docstring
    and signature (`functools.wraps`), from which the watch reads the object type, and `__self__`."""

    @functools.wraps(list_fn)
    def fn(*args: Any, **kw: Any) -> Any:
        kw.pop("namespace", None)
        return list_fn(**kw)

    fn.__self__ = getattr(list_fn, "__self__", None)  # type: ignore[attr-defined]
    return fn


def pdbs_in(namespace: str, configuration: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every PodDisruptionBudget of `namespace` (a drain's pods may live in any namespace)."""
    body = kube.call(
        kube.apis(configuration).policy.list_namespaced_pod_disruption_budget,
        namespace,
        what=f"poddisruptionbudgets in {namespace}",
    )
    return list(body.get("items") or [])


def eviction_refusal(exc: BaseException) -> str | None:
    """The API's explanation when `exc` (raised by `kube.call`) is an eviction refused by a budget
    (429: `Cannot evict pod as it would violate the pod's disruption budget.` plus its causes, which
    name the budget), else None."""
    cause = exc.__cause__
    if getattr(cause, "status", None) != 429:
        return None
    try:
        body = json.loads(getattr(cause, "body", None) or "{}")
    except (TypeError, ValueError):
        body = {}
    causes = [
        str(c.get("message")) for c in (body.get("details") or {}).get("causes") or [] if c.get("message")
    ]
    msg = str(body.get("message") or getattr(cause, "reason", "") or "eviction refused (429)")
    return "; ".join([msg, *causes])


def evict_pod(
    name: str,
    namespace: str,
    uid: str,
    grace_period_s: int | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> str | None:
    """Evict pod `namespace/name` through policy/v1 with its uid as precondition (never a same-named
    successor). None when accepted, the refusal text when a PodDisruptionBudget refused (429)."""
    options: dict[str, Any] = {"preconditions": {"uid": uid}}
    if grace_period_s is not None:
        options["gracePeriodSeconds"] = int(grace_period_s)
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
        "deleteOptions": options,
    }
    try:
        kube.call(
            kube.apis(configuration).core.create_namespaced_pod_eviction,
            name,
            namespace,
            body=body,
            what=f"evict pod {namespace}/{name}",
        )
    except ScaleproofError as exc:
        refused = eviction_refusal(exc)
        if refused is None:
            raise
        return refused
    return None
