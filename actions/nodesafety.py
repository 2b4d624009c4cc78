"""The node a node fault may touch, read once from the cluster and checked (`scaleproof.nodeplan`):
shared by the drain (`actions.drain`) and the node loss (`actions.nodeloss`).

The chaos runner's own node: `runner_node` (configuration `runner_node`, env SCALEPROOF_RUNNER_NODE,
set from the downward API `spec.nodeName` when the runner is a pod). Running inside a cluster
(KUBERNETES_SERVICE_HOST set) without it is refused: the runner could fault its own node.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scaleproof import kobjects, kube, kubenodes, nodeplan, progress, rundir, stops, undo
from scaleproof.errors import ScaleproofError, UnsafeTarget
from scaleproof.nodeplan import DrainPlan

__all__ = [
    "SCOPES",
    "NodeTarget",
    "check_scope",
    "flag",
    "node_target",
    "parse_node_selector",
    "planned_moves",
    "wait_at_rest",
]


def flag(value: Any) -> bool:
    """A yes/no configuration value: Chaos Toolkit hands env entries over as strings ("false" is not
    False); true/yes/1/on are yes, false/no/0/off/"" no, anything else one clear line."""
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off", ""):
        return False
    raise UnsafeTarget(f"expected true or false, got {value!r}")


@dataclass(frozen=True)
class NodeTarget:
    namespace: str
    selector: str
    node: str
    target_pods: list[kube.PodBody]  # the experiment's pods (namespace + selector), every node
    target_uids: set[str]  # of those, the ones on `node`
    node_pods: list[dict[str, Any]]  # every pod bound to `node`
    ready_before: int  # Ready target pods before the fault
    was_unschedulable: bool


def parse_node_selector(text: str) -> dict[str, str]:
    """`zone=a,pool=workers` → {"zone": "a", "pool": "workers"}; UnsafeTarget on a pair without `=`."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        if "=" not in part:
            raise UnsafeTarget(f"node_selector {text!r}: write label=value pairs, comma-separated")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _runner_node(runner_node: str) -> str | None:
    name = runner_node or os.environ.get("SCALEPROOF_RUNNER_NODE", "")
    if not name and os.environ.get("KUBERNETES_SERVICE_HOST"):
        raise UnsafeTarget(
            "the chaos runner runs inside the cluster but its node is unknown: set SCALEPROOF_RUNNER_NODE "
            "from the downward API (spec.nodeName) so that a node fault never hits the runner's own node"
        )
    return name or None


def node_target(
    namespace: str,
    selector: str,
    node: str,
    node_selector: str,
    runner_node: str,
    configuration: Mapping[str, Any] | None,
) -> NodeTarget:
    """Read the nodes and pods, choose or check the node; UnsafeTarget (one line) when it may not be
    faulted or runs no target pod."""
    namespace, selector = kube.check_target(namespace, selector)
    labels = parse_node_selector(node_selector)
    runner = _runner_node(runner_node)
    nodes = kubenodes.list_nodes(configuration)
    targets = kube.list_pods(namespace, selector, configuration)
    name = node or nodeplan.choose_node(targets, nodes, labels, runner)
    chosen = nodeplan.check_node(name, nodes, labels, runner)
    on_node = {str(kobjects.uid(p)) for p in targets if (p.get("spec") or {}).get("nodeName") == name}
    if not on_node:
        raise UnsafeTarget(
            f"node {name} runs no pod of {selector!r} in {namespace}: nothing of the target would move"
        )
    return NodeTarget(
        namespace=namespace,
        selector=selector,
        node=name,
        target_pods=targets,
        target_uids=on_node,
        node_pods=kubenodes.pods_on_node(name, configuration),
        ready_before=sum(1 for p in targets if kobjects.pod_ready(p)),
        was_unschedulable=bool((chosen.get("spec") or {}).get("unschedulable")),
    )


def _rest_state(namespace: str, selector: str, configuration: Mapping[str, Any] | None) -> dict[str, int]:
    pods = kube.list_pods(namespace, selector, configuration)
    live = [p for p in pods if not kobjects.terminating(p)]
    return {"pods": len(pods), "live": len(live), "ready": sum(1 for p in live if kobjects.pod_ready(p))}


def wait_at_rest(
    namespace: str,
    selector: str,
    replicas: Any,
    settle_s: float,
    run_dir: str | None,
    configuration: Mapping[str, Any] | None,
    before: str,
) -> dict[str, int]:
    """Just before a node fault: every target pod Ready, none terminating and, when `replicas` is set,
    exactly that many (the HPA was pinned to it). A fault on a workload still rolling out or scaling
    would time that rollout, not the fault (seen: an HPA scale-down from 5 to 3 and a pod not yet Ready
    on the lost node, 2026-12-08). Waits up to `settle_s`; otherwise the run's precondition fails
    (`scaleproof.stops`: verdict inconclusive, nothing faulted). Returns the last reading."""
    from scaleproof.waiting import wait_until

    want = int(replicas) if str(replicas if replicas is not None else "").strip() else None
    waited = wait_until(
        lambda: _rest_state(namespace, selector, configuration),
        float(settle_s),
        1.0,
        done=lambda s: s["pods"] == s["live"] == s["ready"] and want in (None, s["live"]),
        abort=lambda: undo.check_abort(f"waiting for the target to be at rest before {before}"),
        wake=undo.ABORT,
    )
    s = waited.value
    if waited.done:
        if waited.waited_s >= 1:
            progress.step(f"at rest after {waited.waited_s:.0f} s: {s['ready']} Ready, none terminating")
        return s
    why = (
        f"not at rest before {before} after {float(settle_s):.0f} s: {s['ready']} Ready of {s['live']} "
        f"pods ({s['pods'] - s['live']} terminating)"
        + (f", {want} wanted (the pinned replicas)" if want is not None else "")
        + "; nothing was faulted"
    )
    stops.write_stop("precondition", before, [why], rundir.resolve(run_dir, configuration))
    raise ScaleproofError(why)


SCOPES = ("node", "namespace", "workload")


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise UnsafeTarget(f"scope {scope!r}: choose {', '.join(SCOPES)} (node: every pod, as kubectl drain)")


def _in_scope(pod: Mapping[str, Any], scope: str, target: NodeTarget) -> bool:
    """node: every pod of the node; namespace: the target's namespace's; workload: the target's pods."""
    if scope == "workload":
        return str(kobjects.uid(pod)) in target.target_uids
    return scope == "node" or kobjects.meta(pod).get("namespace") == target.namespace


def planned_moves(
    target: NodeTarget,
    scope: str,
    delete_emptydir_data: bool,
    force: bool,
    configuration: Mapping[str, Any] | None,
) -> DrainPlan:
    """The drain's plan; UnsafeTarget listing the pods a drain would refuse (emptyDir, unowned),
    before anything is touched, as `kubectl drain` does."""
    check_scope(scope)
    pods = [p for p in target.node_pods if _in_scope(p, scope, target)]
    moves = nodeplan.classify_pods(pods, target.target_uids, delete_emptydir_data, force)
    refused = [m for m in moves if m["decision"] == "refuse"]
    if refused:
        raise UnsafeTarget(
            f"node {target.node} cannot be drained: "
            + "; ".join(f"{m['namespace']}/{m['name']} {m['reason']}" for m in refused)
        )
    namespaces = sorted({m["namespace"] for m in moves if m["decision"] == "evict"})
    pdbs = [b for ns in namespaces for b in kubenodes.pdbs_in(ns, configuration)]
    budgets = nodeplan.blocking_budgets(moves, pods, pdbs, kube.selector_matches)
    return {"node": target.node, "pods": moves, "budgets": budgets}
