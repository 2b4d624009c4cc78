"""Node faults of the local cluster, as Python functions (the node-fault experiments call these; the
`scaleproof cluster node` commands are thin wrappers).

- `stop` / `start`: orderly. The kubelet stops, then the node's containers (SIGTERM, SIGKILL after a
  grace), kube-proxy and containerd. The Node turns Ready=Unknown once the node-monitor grace period
  passes without a heartbeat; `start` brings the three back and the kubelet re-creates its pods.
- `freeze` / `thaw`: the node goes dark, as on a power loss or a partition. Every process of the node
  (daemons, shims, containers: the node's cgroup subtree) is frozen with the cgroup v1 freezer and its
  link goes down; `thaw` reverses both.

Every fault writes its undo into the run's undo plan (`scaleproof.undo`) BEFORE it acts, so the
experiment's rollbacks, the exit hook, or `scaleproof recover` after a crash thaw/start the node. No
fault is ever applied to the node that holds the control plane, and bad input changes nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict

from scaleproof import rundir, undo

from . import nodes
from .config import ClusterConfig, ClusterError

__all__ = ["FaultResult", "freeze", "thaw", "stop", "start", "default_run_dir"]

log = logging.getLogger(__name__)


class FaultResult(TypedDict):
    node: str
    action: str  # freeze | thaw | stop | start
    t: float  # wall-clock time the action completed
    seconds: float  # how long it took
    undo_plan: str | None  # the plan that holds its undo (faults only)
    detail: list[str]


def _cluster_dirs(cfg: ClusterConfig) -> dict[str, str]:
    return {"state_dir": str(cfg.state_dir), "cache_dir": str(cfg.cache_dir), "run_dir": str(cfg.run_dir)}


def default_run_dir(action: str, root: str | os.PathLike[str] = "journals/runs") -> Path:
    """A run directory of its own for a fault applied by hand (where `scaleproof recover` looks)."""
    return Path(root) / rundir.new_run_id(f"node-{action}")


def _plan(
    node: nodes.NodeSpec,
    fault: str,
    cfg: ClusterConfig,
    run_dir: str | os.PathLike[str] | None,
    configuration: Mapping[str, Any] | None,
) -> str:
    if (
        run_dir is None
        and not (configuration or {}).get(rundir.CONFIG_KEY)
        and not os.environ.get(rundir.ENV_VAR)
    ):
        run_dir = default_run_dir(fault)
    return str(undo.record_node_fault(node.name, fault, _cluster_dirs(cfg), run_dir, configuration))


def _done(node: str, action: str, t0: float, plan: str | None, detail: list[str]) -> FaultResult:
    return {
        "node": node,
        "action": action,
        "t": time.time(),
        "seconds": round(time.monotonic() - t0, 3),
        "undo_plan": plan,
        "detail": detail,
    }


def freeze(
    node: str,
    run_dir: str | os.PathLike[str] | None = None,
    configuration: Mapping[str, Any] | None = None,
    cfg: ClusterConfig | None = None,
) -> FaultResult:
    """Freeze every process of `node` and take its link down (undo plan written first)."""
    cfg = cfg or ClusterConfig()
    spec = nodes.find(cfg, node, fault=True)
    state = nodes.freezer_state(spec)
    if state != "THAWED":
        raise ClusterError(f"{node} is already {state.lower()}: thaw it first")
    if spec.freezer_cgroup is None or not spec.freezer_cgroup.is_dir():
        raise ClusterError(f"{node} is not running (no freezer cgroup {spec.freezer_cgroup}): start it first")
    t0 = time.monotonic()
    plan = _plan(spec, "freeze", cfg, run_dir, configuration)
    nodes.freeze(cfg, spec)
    return _done(node, "freeze", t0, plan, [f"froze {spec.freezer_cgroup}", f"link {spec.host_veth} down"])


def thaw(node: str, cfg: ClusterConfig | None = None) -> FaultResult:
    """Thaw a frozen `node`: its link comes up, its processes run again."""
    cfg = cfg or ClusterConfig()
    spec = nodes.find(cfg, node, fault=True)
    if nodes.freezer_state(spec) == "THAWED":
        raise ClusterError(f"{node} is not frozen: nothing to thaw")
    t0 = time.monotonic()
    nodes.thaw(cfg, spec)
    return _done(node, "thaw", t0, None, [f"thawed {spec.freezer_cgroup}", f"link {spec.host_veth} up"])


def stop(
    node: str,
    run_dir: str | os.PathLike[str] | None = None,
    configuration: Mapping[str, Any] | None = None,
    cfg: ClusterConfig | None = None,
) -> FaultResult:
    """Orderly stop of `node`: kubelet, containers, kube-proxy, containerd (undo plan written first)."""
    cfg = cfg or ClusterConfig()
    spec = nodes.find(cfg, node, fault=True)
    if nodes.freezer_state(spec) != "THAWED":
        raise ClusterError(f"{node} is frozen: thaw it before stopping it")
    if all(nodes.node_status(cfg, spec)["processes"][d]["pid"] is None for d in nodes.NODE_DAEMONS):  # type: ignore[index]
        raise ClusterError(f"{node} is not running: nothing to stop")
    t0 = time.monotonic()
    plan = _plan(spec, "stop", cfg, run_dir, configuration)
    return _done(node, "stop", t0, plan, nodes.stop_node(cfg, spec))


def start(
    node: str, cfg: ClusterConfig | None = None, progress: Callable[[str], None] | None = None
) -> FaultResult:
    """Start a stopped `node` (a no-op for each process that already runs healthy)."""
    cfg = cfg or ClusterConfig()
    spec = nodes.find(cfg, node, fault=True)
    t0 = time.monotonic()
    nodes.start_node(cfg, spec, progress or (lambda m: log.info("%s", m)))
    return _done(node, "start", t0, None, [f"{d} running" for d in nodes.NODE_DAEMONS])
