"""Probes of the node faults: the target pods still bound to the faulted node, the Ready pods the
target's disruption budgets guarantee, the nodes' state (every node Ready and schedulable).

The faulted node is the one the run's node action planned (its `Drain`/`NodeFault` PLANNED line in
`<run_dir>/events.jsonl`), unless `node` names it; before any fault there is none (the count is 0).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from probes import claims
from scaleproof import kobjects, kube, kubenodes, nodeplan, rundir

__all__ = ["faulted_node", "nodes_ready_and_schedulable", "ready_at_least_guarantee", "target_pods_on_node"]


def faulted_node(run: Path | None) -> str | None:
    """The node of the run's latest Drain/NodeFault PLANNED line (None before any)."""
    path = None if run is None else run / rundir.EVENTS_FILE
    if path is None or not path.exists():
        return None
    found = None
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if '"PLANNED"' not in line:
                continue
            rec = json.loads(line)
            if rec.get("kind") in ("Drain", "NodeFault") and rec.get("type") == "PLANNED":
                found = rec.get("node")
    return found


def target_pods_on_node(
    namespace: str, selector: str, node: str = "", configuration: Mapping[str, Any] | None = None
) -> int:
    """Target pods (namespace + selector, not terminating) bound to the faulted node; 0 when no node
    was faulted yet."""
    name = node or faulted_node(claims.run_dir_of(configuration))
    if not name:
        return 0
    return sum(
        1
        for p in kube.list_pods(namespace, selector, configuration)
        if (p.get("spec") or {}).get("nodeName") == name and not kobjects.terminating(p)
    )


def ready_at_least_guarantee(
    value: Any = None,
    namespace: str = "",
    selector: str = "",
    replicas: Any = None,
    before: Any = None,
    after: Any = None,
    configuration: Mapping[str, Any] | None = None,
) -> bool:
    """Tolerance: Ready pods ≥ `before` at rest, ≥ what the target's PodDisruptionBudgets guarantee of
    `replicas` during the faults (0 without a budget: the claim then only says the budgets were
    respected), ≥ `after` after them."""
    pods = kube.list_pods(namespace, selector, configuration)
    labels = (kobjects.meta(pods[0]).get("labels") or {}) if pods else {}
    guarantee = nodeplan.budget_guarantee(kube.pdbs_for(namespace, labels, configuration), int(replicas or 0))
    return claims.at_least_in_phase(
        value, "ready_vs_budget", before=before, faults=guarantee, after=after, configuration=configuration
    )


def nodes_ready_and_schedulable(configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`{"ok": bool, "nodes": {name: "Ready" | "Ready=<status>" | "cordoned"}}` over every node."""
    state: dict[str, str] = {}
    for n in kubenodes.list_nodes(configuration):
        ready = nodeplan.node_ready(n)
        cordoned = bool((n.get("spec") or {}).get("unschedulable"))
        state[str(kobjects.meta(n).get("name"))] = (
            "Ready"
            if ready == "True" and not cordoned
            else ("cordoned" if ready == "True" else f"Ready={ready}")
        )
    return {"ok": all(v == "Ready" for v in state.values()), "nodes": state}
