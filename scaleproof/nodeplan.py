"""The plan of a node fault, decided before anything is touched: which node, which pods move, which
budgets would block, and the safety refusals (one clear line each).

Layer 1: pure functions over objects as the API server serves them (camelCase dicts); no client, no
clock. `actions.nodes` reads the cluster, asks these functions, prints the plan on a dry run and
acts on it otherwise.

What `kubectl drain` does, and we do the same (k8s.io/kubectl/pkg/drain/filters.go): DaemonSet pods
are skipped (their controller ignores `unschedulable` and would recreate them on the node), mirror
(static) pods are skipped (the API server cannot delete them: the kubelet owns them), pods that have
already finished (Succeeded/Failed) are deleted without a budget check upstream and simply skipped
here, pods with an `emptyDir` volume are refused unless `delete_emptydir_data` (their data is lost,
`--delete-emptydir-data`), and pods that no controller owns are refused unless `force` (nothing
recreates them, `--force`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from scaleproof import kobjects
from scaleproof.errors import UnsafeTarget

__all__ = [
    "CONTROL_PLANE_LABELS",
    "MIRROR_ANNOTATION",
    "UNREACHABLE_TAINT",
    "BudgetBlock",
    "DrainPlan",
    "PodMove",
    "budget_guarantee",
    "check_node",
    "choose_node",
    "classify_pods",
    "blocking_budgets",
    "is_control_plane",
    "node_ready",
    "node_taints",
    "unreachable_toleration_seconds",
    "with_unreachable_toleration",
]

CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


class PodMove(TypedDict):
    namespace: str
    name: str
    uid: str
    owner_kind: str | None
    owner_name: str | None
    target: bool  # one of the experiment's pods (namespace + selector)
    decision: str  # "evict" | "skip" | "refuse"
    reason: str


class BudgetBlock(TypedDict):
    namespace: str
    name: str
    disruptions_allowed: int
    pods_on_node: int  # pods of this node it covers that the drain would evict
    blocks: bool  # more pods to evict than the budget allows now: the drain waits on it


class DrainPlan(TypedDict):
    node: str
    pods: list[PodMove]
    budgets: list[BudgetBlock]


def is_control_plane(node: Mapping[str, Any]) -> bool:
    """The node carries a control-plane role label or taint (kubeadm's and the local cluster's)."""
    labels = kobjects.meta(node).get("labels") or {}
    if any(k in labels for k in CONTROL_PLANE_LABELS):
        return True
    return any(t.get("key") in CONTROL_PLANE_LABELS for t in node_taints(node))


def node_taints(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((node.get("spec") or {}).get("taints") or [])


def node_ready(node: Mapping[str, Any]) -> str | None:
    """The status of the node's Ready condition: "True", "False", "Unknown"; None without one."""
    c = kobjects.condition(node, "Ready")
    return None if c is None else str(c.get("status"))


def _name(obj: Mapping[str, Any]) -> str:
    return str(kobjects.meta(obj).get("name") or "?")


def check_node(
    name: str,
    nodes: Sequence[Mapping[str, Any]],
    node_labels_selector: Mapping[str, str] | None = None,
    runner_node: str | None = None,
) -> Mapping[str, Any]:
    """The node called `name`, or UnsafeTarget with one line saying why it may not be faulted:
    unknown, a one-node cluster, a control-plane node, the node the chaos runner runs on, outside
    the configured node selector (`{label: value}`, every pair must match)."""
    by_name = {_name(n): n for n in nodes}
    if name not in by_name:
        raise UnsafeTarget(
            f"no node {name!r} in the cluster; its nodes: {', '.join(sorted(by_name)) or 'none'}"
        )
    if len(nodes) < 2:
        raise UnsafeTarget(
            f"the cluster has one node ({name}): draining or losing it leaves the pods nowhere to go; "
            "a node fault needs ≥ 2 nodes (local cluster: `scaleproof cluster up --nodes 3`)"
        )
    node = by_name[name]
    if is_control_plane(node):
        raise UnsafeTarget(f"{name} is a control-plane node: node faults only target workers")
    if runner_node and name == runner_node:
        raise UnsafeTarget(f"{name} runs the chaos runner itself (this pod): fault another node")
    labels = kobjects.meta(node).get("labels") or {}
    wrong = {k: v for k, v in (node_labels_selector or {}).items() if labels.get(k) != v}
    if wrong:
        raise UnsafeTarget(f"{name} is outside the configured node selector (does not carry {wrong})")
    return node


def choose_node(
    target_pods: Sequence[Mapping[str, Any]],
    nodes: Sequence[Mapping[str, Any]],
    node_labels_selector: Mapping[str, str] | None = None,
    runner_node: str | None = None,
) -> str:
    """The node to fault when none is named: the eligible node running the most Ready target pods
    (ties by name). UnsafeTarget when no eligible node runs one."""
    counts: dict[str, int] = {}
    for p in target_pods:
        host = (p.get("spec") or {}).get("nodeName")
        if host and kobjects.pod_ready(p):
            counts[host] = counts.get(host, 0) + 1
    eligible = []
    for host, n in counts.items():
        try:
            check_node(host, nodes, node_labels_selector, runner_node)
        except UnsafeTarget:
            continue
        eligible.append((-n, host))
    if not eligible:
        raise UnsafeTarget(
            f"no eligible node runs a Ready target pod (target pods per node: {counts or 'none'}); "
            "name one with `node`"
        )
    return sorted(eligible)[0][1]


def _decide(pod: Mapping[str, Any], delete_emptydir_data: bool, force: bool) -> tuple[str, str]:
    meta = kobjects.meta(pod)
    owner = kobjects.controller_ref(pod)
    if MIRROR_ANNOTATION in (meta.get("annotations") or {}):
        return "skip", "mirror (static) pod: the kubelet owns it"
    if owner.get("kind") == "DaemonSet":
        return "skip", "DaemonSet pod: its controller ignores the cordon"
    if meta.get("deletionTimestamp"):
        return "skip", "already terminating"
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return "skip", "finished"
    if (
        any("emptyDir" in v for v in (pod.get("spec") or {}).get("volumes") or [])
        and not delete_emptydir_data
    ):
        return "refuse", "uses emptyDir (its data would be lost): set delete_emptydir_data to evict it"
    if not owner and not force:
        return "refuse", "no controller owns it (nothing would recreate it): set force to evict it"
    return "evict", "evicted through the Eviction API"


def classify_pods(
    pods: Sequence[Mapping[str, Any]],
    target_uids: set[str],
    delete_emptydir_data: bool = False,
    force: bool = False,
) -> list[PodMove]:
    """What a drain does with each pod of the node, in namespace/name order."""
    out: list[PodMove] = []
    for p in pods:
        meta = kobjects.meta(p)
        owner = kobjects.controller_ref(p)
        decision, reason = _decide(p, delete_emptydir_data, force)
        out.append(
            {
                "namespace": str(meta.get("namespace") or ""),
                "name": str(meta.get("name") or "?"),
                "uid": str(meta.get("uid") or ""),
                "owner_kind": owner.get("kind"),
                "owner_name": owner.get("name"),
                "target": str(meta.get("uid")) in target_uids,
                "decision": decision,
                "reason": reason,
            }
        )
    return sorted(out, key=lambda m: (m["namespace"], m["name"]))


def blocking_budgets(
    moves: Sequence[PodMove],
    pods: Sequence[Mapping[str, Any]],
    pdbs: Sequence[Mapping[str, Any]],
    selects: Any,
) -> list[BudgetBlock]:
    """Per budget covering a pod to evict: how many of them it covers and whether it blocks now
    (`status.disruptionsAllowed` below that count). `selects(pdb_selector, labels) -> bool` is the
    label-selector semantics (`scaleproof.kube.selector_matches`, policy/v1)."""
    labels = {kobjects.uid(p): (kobjects.meta(p).get("labels") or {}) for p in pods}
    evicted = [m for m in moves if m["decision"] == "evict"]
    out: list[BudgetBlock] = []
    for pdb in pdbs:
        ns = str(kobjects.meta(pdb).get("namespace") or "")
        sel = (pdb.get("spec") or {}).get("selector")
        covered = [m for m in evicted if m["namespace"] == ns and selects(sel, labels.get(m["uid"]) or {})]
        if not covered:
            continue
        allowed = int((pdb.get("status") or {}).get("disruptionsAllowed") or 0)
        out.append(
            {
                "namespace": ns,
                "name": _name(pdb),
                "disruptions_allowed": allowed,
                "pods_on_node": len(covered),
                "blocks": allowed < len(covered),
            }
        )
    return sorted(out, key=lambda b: (b["namespace"], b["name"]))


def _int_or_percent(value: Any, total: int, round_up: bool) -> int:
    text = str(value)
    if text.endswith("%"):
        x = total * float(text[:-1]) / 100.0
        return math.ceil(x) if round_up else math.floor(x)
    return int(value)


def budget_guarantee(pdbs: Sequence[Mapping[str, Any]], replicas: int) -> int:
    """Ready pods the budgets guarantee out of `replicas` during voluntary disruptions: the highest
    `minAvailable` (a percentage rounds up, as the disruption controller does) or `replicas -
    maxUnavailable` (a percentage rounds up too); 0 without a budget."""
    best = 0
    for pdb in pdbs:
        spec = pdb.get("spec") or {}
        if spec.get("minAvailable") is not None:
            best = max(best, _int_or_percent(spec["minAvailable"], replicas, round_up=True))
        elif spec.get("maxUnavailable") is not None:
            best = max(best, replicas - _int_or_percent(spec["maxUnavailable"], replicas, round_up=True))
    return max(0, min(best, replicas))


def with_unreachable_toleration(
    tolerations: Sequence[Mapping[str, Any]], seconds: int
) -> list[dict[str, Any]]:
    """`tolerations` with the `node.kubernetes.io/unreachable:NoExecute` toleration set to `seconds`
    (added when absent; every other toleration kept as it was)."""
    others = [
        dict(t)
        for t in tolerations
        if not (t.get("key") == UNREACHABLE_TAINT and t.get("effect") in (None, "", "NoExecute"))
    ]
    mine = {
        "key": UNREACHABLE_TAINT,
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": int(seconds),
    }
    return [*others, mine]


def unreachable_toleration_seconds(pod: Mapping[str, Any]) -> int | None:
    """How long `pod` stays bound to an unreachable node before it is evicted: its
    `node.kubernetes.io/unreachable` NoExecute toleration's `tolerationSeconds` (the
    DefaultTolerationSeconds admission plugin adds 300 s); None when it tolerates it forever or has
    no such toleration."""
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("key") == UNREACHABLE_TAINT and t.get("effect") in (None, "", "NoExecute"):
            secs = t.get("tolerationSeconds")
            return None if secs is None else int(secs)
    return None
