"""Drain a node under load, as an upgrade or a scale-down does: cordon, then evict every pod on it
through the policy/v1 Eviction API, and time what the users of the target Deployment see.

The plan (`scaleproof.nodeplan`) is decided before anything is touched: the node (named, or the
eligible node running the most Ready target pods), what moves (DaemonSet and mirror pods skipped,
emptyDir and unowned pods refused unless configured, as `kubectl drain`), the budgets that would
block. Safety refusals (`UnsafeTarget`, one line): unknown node, one-node cluster, control-plane
node, the chaos runner's own node, a node outside `node_selector`, a node without a target pod.

Every eviction carries the pod's uid as precondition. A 429 (a PodDisruptionBudget refuses) is
retried every `retry_interval_s` until `pdb_wait_s`; each refusal is an `Eviction`/`REFUSED` line
naming the budget, so the timeline says which budget held the drain, how often and how long. A drain
still refused at its deadline ends `BLOCKED` (not an error: the after-claims then fail and the report
names the budget). The cordon's undo is in the run's undo plan BEFORE the cordon; `uncordon_node` in
the rollbacks, the exit hook and `scaleproof recover` replay it.

Lines written to `<run_dir>/events.jsonl` (read by `scaleproof.nodetimeline`):
`Drain` PLANNED / CORDONED / DONE / BLOCKED, a `Kill` EVICTION_ACCEPTED line per evicted target pod
(shaped as pod-kill's, so the pod timelines pair its replacement through its owner), an `Eviction`
ACCEPTED line per other evicted pod, an `Eviction` REFUSED line per refusal.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actions import pods as podkill
from actions.nodesafety import NodeTarget, check_scope, flag, node_target, planned_moves, wait_at_rest
from scaleproof import kobjects, kube, kubenodes, nodeplan, nodeundo, rundir, undo
from scaleproof.nodeplan import DrainPlan, PodMove

__all__ = ["drain_node", "uncordon_node"]

logger = logging.getLogger(__name__)

_BUDGET_NAME = re.compile(r"disruption budget (\S+?)(?:\s|$)")


@dataclass
class _Drain:
    """One drain in progress."""

    target: NodeTarget
    path: Path
    grace_period_s: int | None
    retry_interval_s: float
    pending: dict[str, PodMove] = field(default_factory=dict)  # uid -> move
    pods: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # uid -> pod object
    evicted: list[str] = field(default_factory=list)
    refusals: int = 0


def budget_of(message: str, fallback: Sequence[str]) -> list[str]:
    """The budget names a 429 refusal names (`The disruption budget X needs …`), else `fallback`
    (the budgets the plan found covering the pod)."""
    found = sorted(set(_BUDGET_NAME.findall(message or "")))
    return found or sorted(fallback)


def drain_node(
    namespace: str,
    selector: str,
    node: str = "",
    node_selector: str = "",
    scope: str = "node",
    delete_emptydir_data: bool = False,
    force: bool = False,
    grace_period_s: int | None = None,
    pdb_wait_s: float = 120.0,
    retry_interval_s: float = 2.0,
    wait_recovered_s: float = 180.0,
    runner_node: str = "",
    dry_run: bool = False,
    replicas: Any = None,
    settle_s: float = 120.0,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Once the target is at rest (`nodesafety.wait_at_rest`: ≤ `settle_s`), cordon `node` (or the
    chosen one) and evict its pods; returns `{"node", "evicted": [uid],
    "target_evicted": n, "blocked": bool, "pending": [PodMove], "refusals": n, "drain_s": seconds,
    "plan": DrainPlan}`. `scope`: "node" evicts every pod of the node (as `kubectl drain`), "namespace"
    only the pods of `namespace` on it, "workload" only the target's (what the target alone costs).
    Waits (≤ `wait_recovered_s`) until as many target pods are Ready as before the drain."""
    undo.check_abort("draining a node")
    check_scope(scope)
    if not flag(dry_run):
        wait_at_rest(namespace, selector, replicas, settle_s, run_dir, configuration, "the drain")
    target = node_target(namespace, selector, node, node_selector, runner_node, configuration)
    plan = planned_moves(target, scope, flag(delete_emptydir_data), flag(force), configuration)
    if flag(dry_run):
        print(json.dumps({"dry_run": True, "plan": plan}, indent=2, default=str))
        return {"dry_run": True, "node": target.node, "plan": plan}
    run = _Drain(target, rundir.resolve(run_dir, configuration), grace_period_s, retry_interval_s)
    return _drain(run, plan, pdb_wait_s, wait_recovered_s, configuration)


def _drain(
    run: _Drain,
    plan: DrainPlan,
    pdb_wait_s: float,
    wait_recovered_s: float,
    configuration: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Record the plan, the cordon's undo, cordon, evict, then wait for the replacements."""
    target, path = run.target, run.path
    run.pending = {m["uid"]: m for m in plan["pods"] if m["decision"] == "evict"}
    run.pods = {str(p["metadata"]["uid"]): p for p in target.node_pods}
    guarantee = _guarantee(target, configuration)
    _event(path, "PLANNED", target.node, plan=plan, ready_before=target.ready_before, guarantee=guarantee)
    undo.record_cordon(target.node, target.was_unschedulable, path)  # the undo exists before the cordon
    kubenodes.set_unschedulable(target.node, True, configuration)
    t_start = time.time()
    _event(path, "CORDONED", target.node)
    _evict_until(run, plan, pdb_wait_s, configuration)
    blocked = bool(run.pending)
    pending = sorted(run.pending.values(), key=lambda m: (m["namespace"], m["name"]))
    _event(path, "BLOCKED" if blocked else "DONE", target.node, pending=pending, evicted=len(run.evicted))
    drain_s = round(time.time() - t_start, 3)
    if not blocked:
        _wait_recovered(target, wait_recovered_s, configuration)
    return {
        "node": target.node,
        "evicted": run.evicted,
        "target_evicted": sum(1 for u in run.evicted if u in target.target_uids),
        "blocked": blocked,
        "pending": pending,
        "refusals": run.refusals,
        "drain_s": drain_s,
        "plan": plan,
        "dry_run": False,
    }


def _evict_until(
    run: _Drain, plan: DrainPlan, pdb_wait_s: float, configuration: Mapping[str, Any] | None
) -> None:
    """Rounds over the pending pods (as `kubectl drain` evicts them all at once, each retried): each
    round tries every pending pod once; refused ones wait `retry_interval_s` for the next round,
    until none is pending or `pdb_wait_s` passed."""
    budgets = {b["name"]: b for b in plan["budgets"]}
    end = time.monotonic() + float(pdb_wait_s)
    while run.pending:
        for uid in list(run.pending):
            undo.check_abort("evicting the next pod of the drain")
            _evict_one(run, run.pending[uid], sorted(budgets), configuration)
        if not run.pending or time.monotonic() >= end:
            return
        undo.ABORT.wait(min(run.retry_interval_s, max(0.0, end - time.monotonic())))


def _evict_one(
    run: _Drain, move: PodMove, budgets: list[str], configuration: Mapping[str, Any] | None
) -> None:
    pod = run.pods[move["uid"]]
    v = podkill._victim(pod, move["namespace"])
    v["t_request"] = time.time()
    refused = kubenodes.evict_pod(v["name"], move["namespace"], v["uid"], run.grace_period_s, configuration)
    if refused is not None:
        run.refusals += 1
        rundir.append_event(
            run.path,
            {
                "t": round(time.time(), 6),
                "source": "action",
                "kind": "Eviction",
                "type": "REFUSED",
                "drain": run.target.node,
                "victim": {k: v.get(k) for k in ("name", "namespace", "uid", "owner_uid")},
                "target": move["target"],
                "budgets": budget_of(refused, budgets),
                "message": refused,
            },
        )
        return
    v["t_accepted"] = time.time()
    del run.pending[move["uid"]]
    run.evicted.append(move["uid"])
    if move["target"]:
        v["kill_id"] = f"evict-{sum(1 for u in run.evicted if u in run.target.target_uids)}"
        v["round"] = 1
        v["method"] = "eviction"
        podkill._record_kill(run.path, v, {"drain": run.target.node})
    else:
        rundir.append_event(
            run.path,
            {
                "t": round(v["t_accepted"], 6),
                "source": "action",
                "kind": "Eviction",
                "type": "ACCEPTED",
                "drain": run.target.node,
                "victim": dict(v),
            },
        )


def _guarantee(target: NodeTarget, configuration: Mapping[str, Any] | None = None) -> int:
    """Ready target pods the target's budgets guarantee (of those Ready before the drain)."""
    labels = next(
        (
            kobjects.meta(p).get("labels") or {}
            for p in target.target_pods
            if kobjects.uid(p) in target.target_uids
        ),
        {},
    )
    return nodeplan.budget_guarantee(
        kube.pdbs_for(target.namespace, labels, configuration), target.ready_before
    )


def _event(path: Path, etype: str, node: str, **extra: Any) -> None:
    rundir.append_event(
        path,
        {
            "t": round(time.time(), 6),
            "source": "action",
            "kind": "Drain",
            "type": etype,
            "node": node,
            **extra,
        },
    )


def _wait_recovered(target: NodeTarget, wait_s: float, configuration: Mapping[str, Any] | None) -> None:
    """Until as many target pods are Ready as before the drain (the replacements are on other
    nodes: the drained one is cordoned)."""
    if wait_s <= 0 or target.ready_before < 1:
        return
    kube.wait_for_ready_replicas(
        target.namespace,
        target.selector,
        min_ready=target.ready_before,
        timeout_s=wait_s,
        configuration=configuration,
        check=undo.check_abort,
    )


def uncordon_node(
    run_dir: str | None = None, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Rollback: uncordon every node the run cordoned (not one that was cordoned before it). Returns
    `{"steps": [{"step", "ok", "detail"}]}`; raises when one failed (the undo plan keeps it for
    `scaleproof recover`)."""
    plan = undo.load_plan(run_dir, configuration)
    if not plan or not plan.get("cordons"):
        return {"steps": [], "detail": "this run cordoned no node"}
    steps = [s for s in nodeundo.replay_nodes({"cordons": plan["cordons"]}, configuration, False)]
    bad = [s for s in steps if not s["ok"]]
    if bad:
        raise undo.ScaleproofError("uncordon failed: " + "; ".join(str(s["detail"]) for s in bad))
    return {"steps": steps}
