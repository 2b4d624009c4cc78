"""A node that runs a target pod goes dark under load; the rollback brings it back.

How the node goes dark (`fault`):

* `local` (or `auto` when the node is one of the local cluster's, `scaleproof cluster up --nodes N`):
  the cgroup freezer plus the link down (`scaleproof.cluster.faults.freeze`); its undo (thaw) is
  in the run's undo plan before it acts;
* `command` (or `auto` on any other cluster): the user's `fault_command` (their cloud CLI's "stop the
  instance", a firewall rule…) run through the shell with `SCALEPROOF_NODE` set, bounded by
  `command_timeout_s`; `restore_command` is written to the undo plan BEFORE the fault runs. Without
  both, the action refuses with one line: we cannot make a node of someone else's cluster go dark.

Lines in `<run_dir>/events.jsonl` (read by `scaleproof.nodetimeline.node_loss_timeline`):
`NodeFault` PLANNED (the node, the target pods on it: the ones that die), APPLIED (`t`: the fault
completed, `t_request`: it started), RECOVERED or NOT_RECOVERED, RESTORED (rollback).

`set_unreachable_toleration` patches the Deployment's pod template for the run (the
`node.kubernetes.io/unreachable` toleration's `tolerationSeconds`: how long pods stay bound to a dead
node before they are evicted, 300 s by default through the DefaultTolerationSeconds admission
plugin), the original tolerations in the undo plan first.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from actions.nodesafety import NodeTarget, flag, node_target, wait_at_rest
from scaleproof import kobjects, kube, kubenodes, nodeplan, rundir, undo
from scaleproof.errors import DeadlineExceeded, ScaleproofError, UnsafeTarget
from scaleproof.waiting import wait_until

__all__ = ["fault_mode", "lose_node", "restore_node", "set_unreachable_toleration"]

logger = logging.getLogger(__name__)


def _is_local_node(name: str) -> bool:
    from scaleproof.cluster import nodes
    from scaleproof.cluster.config import ClusterConfig

    try:
        return any(n.name == name for n in nodes.registered(ClusterConfig()))
    except Exception:  # no local cluster state on this machine
        return False


def fault_mode(fault: str, node: str, fault_command: str, restore_command: str) -> str:
    """ "local" or "command"; UnsafeTarget (one line) when the node cannot be faulted as configured."""
    if fault not in ("auto", "local", "command"):
        raise UnsafeTarget(f"fault {fault!r}: choose auto, local or command")
    if fault == "local" or (fault == "auto" and not fault_command and _is_local_node(node)):
        if not _is_local_node(node):
            raise UnsafeTarget(
                f"node {node} is not a node of the local cluster: fault 'local' cannot freeze it"
            )
        return "local"
    if not fault_command.strip() or not restore_command.strip():
        raise UnsafeTarget(
            f"node {node} is not a local-cluster node: node-loss needs `node_fault_command` and "
            "`node_restore_command` (SCALEPROOF_NODE_FAULT_COMMAND / SCALEPROOF_NODE_RESTORE_COMMAND, e.g. "
            "your cloud CLI's stop and start of the instance; $SCALEPROOF_NODE names the node)"
        )
    return "command"


def _run_command(command: str, node: str, timeout_s: float, what: str) -> str:
    env = {**os.environ, "SCALEPROOF_NODE": node}
    try:
        done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise DeadlineExceeded(
            f"{what} of node {node} did not finish within {timeout_s} s: {command}"
        ) from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-300:]
        raise ScaleproofError(f"{what} of node {node} exited {done.returncode}: {tail}")
    return done.stdout.strip()[-300:]


def _event(path: Path, etype: str, node: str, **extra: Any) -> None:
    rundir.append_event(
        path,
        {
            "t": round(time.time(), 6),
            "source": "action",
            "kind": "NodeFault",
            "type": etype,
            "node": node,
            **extra,
        },
    )


def _dead_pods(target: NodeTarget) -> list[dict[str, Any]]:
    return [
        {
            "name": kobjects.meta(p).get("name"),
            "uid": kobjects.uid(p),
            "owner_uid": kobjects.controller_ref(p).get("uid"),
            "ready": kobjects.pod_ready(p),
        }
        for p in target.target_pods
        if kobjects.uid(p) in target.target_uids
    ]


def lose_node(
    namespace: str,
    selector: str,
    node: str = "",
    node_selector: str = "",
    fault: str = "auto",
    fault_command: str = "",
    restore_command: str = "",
    command_timeout_s: float = 120.0,
    wait_recovered_s: float = 600.0,
    runner_node: str = "",
    dry_run: bool = False,
    replicas: Any = None,
    settle_s: float = 120.0,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Once the target is at rest (`nodesafety.wait_at_rest`: ≤ `settle_s`), make `node` (or the
    chosen one) go dark, then wait (≤ `wait_recovered_s`) until as many target pods are Ready as
    before, none of them on the lost node. Returns `{"node", "mode", "dead_pods", "t_fault",
    "recovered": bool, "waited_s"}` (not recovering in time is a result, not an error: the
    after-claims judge it)."""
    undo.check_abort("making a node go dark")
    if not flag(dry_run):
        wait_at_rest(namespace, selector, replicas, settle_s, run_dir, configuration, "the node loss")
    target = node_target(namespace, selector, node, node_selector, runner_node, configuration)
    mode = fault_mode(fault, target.node, fault_command, restore_command)
    dead = _dead_pods(target)
    if flag(dry_run):
        plan = {
            "dry_run": True,
            "node": target.node,
            "mode": mode,
            "dead_pods": dead,
            "undo": restore_command or "thaw",
        }
        print(json.dumps(plan, indent=2, default=str))
        return plan
    path = rundir.resolve(run_dir, configuration)
    _event(
        path,
        "PLANNED",
        target.node,
        mode=mode,
        dead_pods=dead,
        ready_before=target.ready_before,
        toleration_seconds=_toleration_of(target),
    )
    t_fault = _apply(target.node, mode, fault_command, restore_command, command_timeout_s, path)
    recovered, waited = _wait_moved(target, wait_recovered_s, configuration)
    _event(path, "RECOVERED" if recovered else "NOT_RECOVERED", target.node, waited_s=waited)
    return {
        "node": target.node,
        "mode": mode,
        "dead_pods": dead,
        "t_fault": t_fault,
        "recovered": recovered,
        "waited_s": waited,
        "dry_run": False,
    }


def _toleration_of(target: NodeTarget) -> int | None:
    """The dead pods' unreachable `tolerationSeconds` (None: none, or they differ)."""
    found = {
        nodeplan.unreachable_toleration_seconds(p)
        for p in target.target_pods
        if kobjects.uid(p) in target.target_uids
    }
    return found.pop() if len(found) == 1 else None


def _apply(
    node: str, mode: str, fault_command: str, restore_command: str, timeout_s: float, path: Path
) -> float:
    """Make the node go dark, its undo on record first; an APPLIED line; returns when it completed."""
    t_request = time.time()
    if mode == "local":
        from scaleproof.cluster import faults

        faults.freeze(node, run_dir=path)  # records its thaw in the undo plan first
    else:
        undo.record_node_command(node, restore_command, timeout_s, path)
        _run_command(fault_command, node, timeout_s, "the fault command")
    t_fault = time.time()
    _event(path, "APPLIED", node, t_request=round(t_request, 6), mode=mode)
    return t_fault


def _moved(target: NodeTarget, configuration: Mapping[str, Any] | None) -> int:
    """Ready target pods that are not on the lost node."""
    pods = kube.list_pods(target.namespace, target.selector, configuration)
    return sum(
        1 for p in pods if kobjects.pod_ready(p) and (p.get("spec") or {}).get("nodeName") != target.node
    )


def _wait_moved(
    target: NodeTarget, wait_s: float, configuration: Mapping[str, Any] | None
) -> tuple[bool, float]:
    waited = wait_until(
        lambda: _moved(target, configuration),
        wait_s,
        2.0,
        done=lambda n: n >= target.ready_before,
        abort=lambda: undo.check_abort("waiting for the lost node's pods to move"),
        wake=undo.ABORT,
    )
    return waited.done, waited.waited_s


def _lost_node(plan: Mapping[str, Any]) -> tuple[str, str] | None:
    """(node, "local" | "command") of the run's latest node fault still in its undo plan."""
    faults = [
        (f["t"], f["node"], "local") for f in plan.get("node_faults") or [] if f.get("fault") == "freeze"
    ]
    commands = [(c["t"], c["node"], "command") for c in plan.get("node_commands") or []]
    latest = sorted(faults + commands)
    return (latest[-1][1], latest[-1][2]) if latest else None


def restore_node(
    wait_ready_s: float = 240.0, run_dir: str | None = None, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Rollback: thaw (local) or run the restore command, then wait until the node is Ready and no
    pod bound to it is still terminating (the evicted pods of the dark node are removed once its
    kubelet answers again). Returns `{"node", "ready_s", "steps"}`; a run without a node fault is a
    no-op."""
    path = rundir.resolve(run_dir, configuration)
    plan = undo.load_plan(path)
    lost = _lost_node(plan or {})
    if plan is None or lost is None:
        return {"node": None, "steps": [], "detail": "this run faulted no node"}
    node, mode = lost
    steps = undo.replay(_only_node(plan), configuration)["steps"]
    if not all(s["ok"] for s in steps):
        raise ScaleproofError(
            "node restore failed: " + "; ".join(str(s["detail"]) for s in steps if not s["ok"])
        )
    if mode == "command":  # restored: a later replay must not run the user's command again
        plan["node_commands"] = []
        undo.write_plan(plan, path)
    waited = wait_until(
        lambda: _node_state(node, configuration),
        wait_ready_s,
        2.0,
        done=lambda s: s == "ready",
        abort=None,
        on_timeout=lambda s: f"node {node} not back within {wait_ready_s} s: {s}",
    )
    _event(path, "RESTORED", node, ready_s=waited.waited_s, steps=steps)
    return {"node": node, "ready_s": waited.waited_s, "steps": steps}


def _only_node(plan: undo.UndoPlan) -> undo.UndoPlan:
    """The node faults of the plan alone (no run_dir: replaying it does not mark the plan done)."""
    only: undo.UndoPlan = {}
    if plan.get("node_faults"):
        only["node_faults"] = plan["node_faults"]
    if plan.get("node_commands"):
        only["node_commands"] = plan["node_commands"]
    return only


def _node_state(node: str, configuration: Mapping[str, Any] | None) -> str:
    ready = nodeplan.node_ready(kubenodes.node(node, configuration))
    if ready != "True":
        return f"Ready={ready}"
    stale = [
        kobjects.meta(p).get("name")
        for p in kubenodes.pods_on_node(node, configuration)
        if kobjects.terminating(p)
    ]
    return (
        f"{len(stale)} stale pod(s) still terminating: {', '.join(map(str, stale[:5]))}" if stale else "ready"
    )


def set_unreachable_toleration(
    namespace: str,
    deployment: str,
    selector: str,
    toleration_seconds: Any = "",
    wait_s: float = 240.0,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Give the Deployment's pods `tolerationSeconds` for `node.kubernetes.io/unreachable` for the run
    (empty: leave the pods' own, 300 s by default) and wait until its rollout completed. Returns
    `{"toleration_seconds", "before", "after", "patched": bool}`."""
    namespace, selector = kube.check_target(namespace, selector)
    try:
        seconds = kobjects.whole_seconds(toleration_seconds)
    except ValueError as exc:
        raise UnsafeTarget(f"toleration_seconds (SCALEPROOF_TOLERATION_SECONDS) {exc}") from exc
    if seconds is None:
        return {"toleration_seconds": None, "patched": False}
    kube.check_owned(namespace, selector, deployment, configuration)
    before = kube.deployment_tolerations(deployment, namespace, configuration)
    after = nodeplan.with_unreachable_toleration(before, seconds)
    undo.record_tolerations(namespace, deployment, before, run_dir, configuration)  # the original, first
    kube.set_deployment_tolerations(deployment, namespace, after, configuration)
    _wait_rollout(namespace, deployment, wait_s, configuration)
    return {"toleration_seconds": seconds, "before": before, "after": after, "patched": True}


def _wait_rollout(namespace: str, name: str, wait_s: float, configuration: Mapping[str, Any] | None) -> None:
    def state() -> str:
        d = kube.deployment(name, namespace, configuration)
        spec, st = d.get("spec") or {}, d.get("status") or {}
        want = spec.get("replicas") or 0
        if (st.get("observedGeneration") or 0) < (kobjects.meta(d).get("generation") or 0):
            return "generation not observed yet"
        got = (st.get("updatedReplicas"), st.get("readyReplicas"), st.get("replicas"))
        return "done" if got == (want, want, want) else f"updated/ready/total {got} of {want}"

    wait_until(
        state,
        wait_s,
        2.0,
        done=lambda s: s == "done",
        abort=lambda: undo.check_abort("waiting for the toleration rollout"),
        wake=undo.ABORT,
        on_timeout=lambda s: f"deployment {namespace}/{name} rollout not complete within {wait_s} s: {s}",
    )
