"""The node faults' part of the undo plan (`scaleproof.undo`): what each entry holds and how it is
replayed — uncordon a node the run cordoned, run the user's restore command of a node it made go dark,
give the Deployment back the tolerations it had before the run.

Each step is idempotent (an uncordoned node, tolerations already as before, are left alone) and
independent (one failing does not skip the others). Layer 2, beside the undo plan; nodes through
`scaleproof.kubenodes`, the Deployment through `scaleproof.kube`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import Any, TypedDict

from scaleproof import kube, kubenodes
from scaleproof.errors import ScaleproofError, UnsafeTarget

__all__ = [
    "CordonUndo",
    "NodeCommandUndo",
    "TolerationsUndo",
    "replay_nodes",
    "restore_command",
    "restore_tolerations",
    "uncordon",
]


class CordonUndo(TypedDict):
    node: str
    was_unschedulable: bool  # a node cordoned before the run stays cordoned


class NodeCommandUndo(TypedDict):
    node: str
    restore: str  # the user's restore command (run through the shell, like the fault command)
    timeout_s: float
    t: float


class TolerationsUndo(TypedDict):
    namespace: str
    deployment: str
    tolerations: list[Any]  # the pod template's tolerations before the run


def uncordon(entry: CordonUndo, configuration: Mapping[str, Any] | None, dry_run: bool) -> str:
    if entry.get("was_unschedulable"):
        return f"node {entry['node']} was cordoned before the run: left cordoned"
    spec = kubenodes.node(entry["node"], configuration).get("spec") or {}
    if not spec.get("unschedulable"):
        return f"node {entry['node']} already schedulable"
    if dry_run:
        return f"would uncordon node {entry['node']}"
    kubenodes.set_unschedulable(entry["node"], False, configuration)
    return f"uncordoned node {entry['node']}"


def restore_command(entry: NodeCommandUndo, dry_run: bool) -> str:
    if dry_run:
        return f"would run the restore command of {entry['node']}: {entry['restore']}"
    done = subprocess.run(
        entry["restore"],
        shell=True,
        env={**os.environ, "SCALEPROOF_NODE": entry["node"]},  # as the fault command had it
        capture_output=True,
        text=True,
        timeout=float(entry["timeout_s"]),
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-300:]
        raise ScaleproofError(f"restore command of {entry['node']} exited {done.returncode}: {tail}")
    return f"restored node {entry['node']} ({entry['restore']})"


def restore_tolerations(
    entry: TolerationsUndo, configuration: Mapping[str, Any] | None, dry_run: bool
) -> str:
    ns = entry["namespace"]
    if ns in kube.FORBIDDEN_NAMESPACES:
        raise UnsafeTarget(f"plan namespace {ns!r} is a system namespace: not touching it")
    cur = kube.deployment_tolerations(entry["deployment"], ns, configuration)
    if cur == entry["tolerations"]:
        return f"deployment {entry['deployment']} tolerations already as before the run"
    if dry_run:
        return f"would restore the tolerations of deployment {entry['deployment']}"
    kube.set_deployment_tolerations(entry["deployment"], ns, entry["tolerations"], configuration)
    return f"restored the tolerations of deployment {entry['deployment']} (its pods roll)"


def replay_nodes(
    plan: Mapping[str, Any], configuration: Mapping[str, Any] | None, dry_run: bool
) -> list[dict[str, Any]]:
    """Restore the user's node faults (`node_commands`, latest first), uncordon (`cordons`), restore the
    Deployment's tolerations (`tolerations`) of an undo plan: one step each, `{"step", "ok", "detail"}`."""
    steps: list[dict[str, Any]] = []
    todo: list[tuple[str, Any]] = [
        *(
            ("restore-node", lambda e=e: restore_command(e, dry_run))
            for e in reversed(plan.get("node_commands") or [])
        ),
        *(
            ("uncordon-node", lambda e=e: uncordon(e, configuration, dry_run))
            for e in plan.get("cordons") or []
        ),
    ]
    tol = plan.get("tolerations")
    if tol:
        todo.append(("restore-tolerations", lambda: restore_tolerations(tol, configuration, dry_run)))
    for step, fn in todo:
        try:
            steps.append({"step": step, "ok": True, "detail": fn()})
        except Exception as exc:  # one failing step does not skip the others
            steps.append({"step": step, "ok": False, "detail": f"{type(exc).__name__}: {exc}"})
    return steps
