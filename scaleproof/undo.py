"""The undo plan: what to restore after a run, written to `<run_dir>/undo.json` BEFORE any fault.

The plan holds the Deployment's replica count, the HPA's min/max replicas (and, when hpa-scale's
reset turned it off, the HPA's scale-down stabilisation window: `scaleproof.hpabehavior`), the Locust
pid of the run, inside one namespace + label selector, and the node faults applied to the local
cluster (a frozen node is thawed, a stopped node started again: `scaleproof.cluster.nodes`, host
plumbing only; a cordoned node uncordoned; a Deployment's tolerations restored). `replay(plan)`
restores them (idempotent; never touches anything outside the namespace, nor a Deployment whose
selector does not match the plan's selector).
It reads and writes through the Kubernetes access layer (`scaleproof.kube`) and stops the load through
`scaleproof.procgroup`: no provider is imported, so the exit hook and `scaleproof recover` need none.

When it is replayed:

1. by the experiment's rollbacks (`scaleproof.undo` `rollback` action) on every ending: experiments
   pin `runtime.rollbacks.strategy: always`, and chaostoolkit-lib 1.44 then plays rollbacks after a
   failed gate, a failed action, a deviation, SIGINT and SIGTERM — verified on the installed version
   (docs/evidence-schema.md "Safety"). Caveat found there: a SIGTERM that arrives while a Python
   activity runs is caught by chaoslib as *that activity's* failure, and the method goes on with the
   next activity (status `completed`, exit 0). `install_signal_guard` (installed by the evidence
   control) therefore also sets `ABORT`; every scaleproof fault/wait checks it (`check_abort`) and
   refuses to start or continue, so the rest of the method falls through quickly to the rollbacks;
2. by an `atexit` hook the evidence control installs (`install_exit_hook`): covers the endings where
   Chaos Toolkit skips rollbacks (SIGUSR2 / `exit_ungracefully`, an exception in the runner);
3. by `scaleproof recover [RUN_DIR]` after a crash or SIGKILL: replays the latest plan that was not
   rolled back.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import click

from scaleproof import hpabehavior, kube, nodeundo, procgroup, rundir
from scaleproof.errors import NotFound, ScaleproofError, UnsafeTarget
from scaleproof.nodeundo import CordonUndo, NodeCommandUndo, TolerationsUndo

__all__ = [
    "ABORT",
    "UNDO_FILE",
    "check_abort",
    "install_signal_guard",
    "received_signals",
    "set_phase",
    "UndoPlan",
    "capture_plan",
    "find_pending",
    "install_exit_hook",
    "load_plan",
    "record_load",
    "record_node_fault",
    "record_cordon",
    "record_node_command",
    "record_tolerations",
    "recover_command",
    "replay",
    "rollback",
    "write_plan",
]

logger = logging.getLogger(__name__)

UNDO_FILE = "undo.json"
PLAN_VERSION = 1

ABORT = threading.Event()
_ABORT_REASON: list[str] = []
_SIGNALS: list[dict[str, Any]] = []  # {"signal", "t", "phase"} per SIGINT/SIGTERM received
_PHASE: list[str] = ["before the experiment"]


def set_phase(label: str) -> None:
    """Name what the run is doing now (set by the evidence control's hooks, main thread only), so
    that a signal can be reported with the phase it arrived in."""
    if threading.current_thread() is threading.main_thread():
        _PHASE[0] = label


def received_signals() -> list[dict[str, Any]]:
    """Every SIGINT/SIGTERM this process received during the run, oldest first."""
    return [dict(s) for s in _SIGNALS]


def check_abort(what: str) -> None:
    """Raise (fail the activity) when a SIGTERM/SIGINT was received, or an earlier method step of the
    run failed: no new fault, no more waiting."""
    if ABORT.is_set():
        raise ScaleproofError(
            f"aborted ({', '.join(_ABORT_REASON) or 'signal'}): not {what}; rollbacks follow"
        )
    rundir.check_method_ok(None, what)


def install_signal_guard() -> bool:
    """Chain a handler on SIGTERM and SIGINT that sets `ABORT`, then calls the previous handler
    (chaoslib's: InterruptExecution / KeyboardInterrupt), or raises what the default would (also when
    the signal was ignored before). Main thread only; returns False elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for sig in (signal.SIGTERM, signal.SIGINT):
        prev = signal.getsignal(sig)
        if getattr(prev, "_scaleproof_guard", False):
            continue

        def handler(signum: int, frame: Any, _prev: Any = prev) -> None:
            _ABORT_REASON.append(signal.Signals(signum).name)
            _SIGNALS.append({"signal": signal.Signals(signum).name, "t": time.time(), "phase": _PHASE[0]})
            ABORT.set()
            if callable(_prev):
                _prev(signum, frame)
            # SIG_IGN too: inherited from a parent that started us without job control (a script's
            # background job ignores SIGINT); the guard replaced it, so the signal is the operator's
            # and must stop the run like Ctrl-C, not only set ABORT while a long activity goes on
            elif signum == signal.SIGINT:
                raise KeyboardInterrupt
            else:
                raise SystemExit(128 + signum)

        handler._scaleproof_guard = True  # type: ignore[attr-defined]
        signal.signal(sig, handler)
    return True


class DeploymentUndo(TypedDict):
    name: str
    replicas: int | None


class HpaUndo(TypedDict):
    name: str
    minReplicas: int | None
    maxReplicas: int | None
    # set only by a run that changes the scale-down stabilisation window (hpa-scale's reset)
    scaleDown: NotRequired[hpabehavior.ScaleDownRecord]


class LoadUndo(TypedDict, total=False):
    pid: int
    pgid: int
    csv_prefix: str


class NodeFaultUndo(TypedDict):
    node: str
    fault: str  # "freeze" (undo: thaw) or "stop" (undo: start)
    t: float
    cluster: dict[str, str]  # the local cluster's state_dir, cache_dir and run_dir


class UndoPlan(TypedDict, total=False):
    version: int
    run_dir: str
    created: float
    namespace: str
    selector: str
    deployment: DeploymentUndo | None
    deployment_selector: dict[str, Any]  # the Deployment's own spec.selector at capture time
    hpa: HpaUndo | None
    load: LoadUndo | None
    node_faults: list[NodeFaultUndo]
    cordons: list[CordonUndo]
    node_commands: list[NodeCommandUndo]
    tolerations: TolerationsUndo | None
    rolled_back: bool
    replays: list[dict[str, Any]]


def _path(
    run_dir: str | os.PathLike[str] | None, configuration: Mapping[str, Any] | None, create: bool = True
) -> Path:
    return rundir.resolve(run_dir, configuration, create=create) / UNDO_FILE


def write_plan(
    plan: UndoPlan,
    run_dir: str | os.PathLike[str] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> Path:
    """Persist the plan atomically (fsync + rename); returns its path."""
    path = _path(run_dir or plan.get("run_dir"), configuration)
    plan["run_dir"] = str(path.parent)
    rundir.write_json_atomic(path, plan)
    return path


def load_plan(
    run_dir: str | os.PathLike[str] | None = None, configuration: Mapping[str, Any] | None = None
) -> UndoPlan | None:
    """The plan of a run, None when the run has none."""
    import json

    path = _path(run_dir, configuration, create=False)
    if not path.exists():
        return None
    try:
        plan: UndoPlan = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ScaleproofError(f"{path} is not valid JSON: {exc}") from exc
    plan["run_dir"] = str(path.parent)
    return plan


def capture_plan(
    namespace: str,
    selector: str,
    deployment: str | None = None,
    hpa: str | None = None,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> UndoPlan:
    """Action: read the current Deployment replicas and HPA bounds and write the undo plan (before
    any fault). Merges with an existing plan of the run (keeps its load pid). Returns the plan."""
    namespace, selector = kube.check_target(namespace, selector)
    existing = load_plan(run_dir, configuration) or {}
    plan: UndoPlan = {
        "version": PLAN_VERSION,
        "created": time.time(),
        "namespace": namespace,
        "selector": selector,
        "deployment": None,
        "hpa": None,
        "load": existing.get("load"),
        "rolled_back": False,
        "replays": list(existing.get("replays") or []),
    }
    for key in ("node_faults", "cordons", "node_commands", "tolerations"):  # a node fault already on record
        if existing.get(key):
            plan[key] = existing[key]  # type: ignore[literal-required]
    if deployment:
        d = kube.deployment(deployment, namespace, configuration)
        kube.check_owned(namespace, selector, deployment, configuration)  # evaluated by the API server
        spec = d.get("spec") or {}
        plan["deployment"] = {"name": deployment, "replicas": spec.get("replicas")}
        plan["deployment_selector"] = spec.get("selector") or {}
    if hpa:
        b = kube.hpa_bounds(hpa, namespace, configuration)
        hpa_undo: HpaUndo = {"name": hpa, "minReplicas": b["minReplicas"], "maxReplicas": b["maxReplicas"]}
        prev: Mapping[str, Any] = existing.get("hpa") or {}
        if prev.get("name") == hpa and prev.get("scaleDown") is not None:
            hpa_undo["scaleDown"] = prev["scaleDown"]  # the window before the run, not our 0
        plan["hpa"] = hpa_undo
    write_plan(plan, run_dir, configuration)
    return plan


def record_load(
    handle: Mapping[str, Any],
    run_dir: str | os.PathLike[str] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> None:
    """Add the Locust pid to the run's plan (creating a minimal plan if none exists yet)."""
    plan: UndoPlan = load_plan(run_dir, configuration) or {
        "version": PLAN_VERSION,
        "created": time.time(),
        "rolled_back": False,
        "replays": [],
    }
    plan["load"] = {
        "pid": int(handle["pid"]),
        "pgid": int(handle.get("pgid", handle["pid"])),
        "csv_prefix": str(handle.get("csv_prefix", "")),
    }
    plan["rolled_back"] = False
    write_plan(plan, run_dir, configuration)


NODE_FAULTS = {"freeze": "thaw", "stop": "start"}


def record_node_fault(
    node: str,
    fault: str,
    cluster: Mapping[str, str],
    run_dir: str | os.PathLike[str] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> Path:
    """Add a node fault to the run's plan BEFORE it is applied (creating a minimal plan if none
    exists); its replay thaws/starts the node. Returns the plan's path."""
    if fault not in NODE_FAULTS:
        raise ScaleproofError(f"unknown node fault {fault!r}; known: {sorted(NODE_FAULTS)}")
    plan: UndoPlan = load_plan(run_dir, configuration) or {
        "version": PLAN_VERSION,
        "created": time.time(),
        "rolled_back": False,
        "replays": [],
    }
    entry: NodeFaultUndo = {"node": node, "fault": fault, "t": time.time(), "cluster": dict(cluster)}
    plan.setdefault("node_faults", []).append(entry)
    plan["rolled_back"] = False
    return write_plan(plan, run_dir, configuration)


def _plan_or_new(run_dir: str | os.PathLike[str] | None, configuration: Mapping[str, Any] | None) -> UndoPlan:
    return load_plan(run_dir, configuration) or {
        "version": PLAN_VERSION,
        "created": time.time(),
        "rolled_back": False,
        "replays": [],
    }


def record_cordon(
    node: str,
    was_unschedulable: bool,
    run_dir: str | os.PathLike[str] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> Path:
    """Add `node` to the nodes to uncordon, BEFORE it is cordoned (a node that was already cordoned
    is recorded as such and left cordoned). Returns the plan's path."""
    plan = _plan_or_new(run_dir, configuration)
    cordons = [c for c in plan.get("cordons") or [] if c["node"] != node]
    cordons.append({"node": node, "was_unschedulable": bool(was_unschedulable)})
    plan["cordons"] = cordons
    plan["rolled_back"] = False
    return write_plan(plan, run_dir, configuration)


def record_node_command(
    node: str,
    restore: str,
    timeout_s: float,
    run_dir: str | os.PathLike[str] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> Path:
    """Add the user's restore command of a node fault, BEFORE the fault command runs."""
    plan = _plan_or_new(run_dir, configuration)
    entry: NodeCommandUndo = {
        "node": node,
        "restore": restore,
        "timeout_s": float(timeout_s),
        "t": time.time(),
    }
    plan.setdefault("node_commands", []).append(entry)
    plan["rolled_back"] = False
    return write_plan(plan, run_dir, configuration)


def record_tolerations(
    namespace: str,
    deployment: str,
    tolerations: list[Any],
    run_dir: str | os.PathLike[str] | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> Path:
    """Keep the Deployment's pod-template tolerations, BEFORE the run patches them (the first
    recording wins: a second patch in the same run keeps the original)."""
    plan = _plan_or_new(run_dir, configuration)
    if not plan.get("tolerations"):
        plan["tolerations"] = {
            "namespace": namespace,
            "deployment": deployment,
            "tolerations": list(tolerations),
        }
    plan["rolled_back"] = False
    return write_plan(plan, run_dir, configuration)


def _undo_node_fault(entry: NodeFaultUndo, dry_run: bool) -> str:
    """Thaw a frozen node / start a stopped one (idempotent: a running, thawed node is left alone)."""
    from scaleproof.cluster import nodes
    from scaleproof.cluster.config import ClusterConfig

    dirs = {
        k: Path(v) for k, v in entry.get("cluster", {}).items() if k in ("state_dir", "cache_dir", "run_dir")
    }
    cfg = ClusterConfig(**dirs)  # type: ignore[arg-type]
    node = nodes.find(cfg, entry["node"], fault=True)
    action = NODE_FAULTS[entry["fault"]]
    if dry_run:
        return f"would {action} node {node.name} (freezer {nodes.freezer_state(node)})"
    nodes.thaw(cfg, node)  # both: a stopped node may also have been frozen; a frozen one cannot start
    if action == "start":
        nodes.start_node(cfg, node, progress=lambda m: logger.info("%s", m))
    return f"{action}: node {node.name} (freezer {nodes.freezer_state(node)})"


def _replay_node_faults(plan: UndoPlan, dry_run: bool) -> list[dict[str, Any]]:
    """Thaw/start the local cluster's faulted nodes, latest first (each step independent)."""
    steps: list[dict[str, Any]] = []
    for entry in reversed(plan.get("node_faults") or []):
        step = f"{NODE_FAULTS.get(entry.get('fault', ''), 'undo')}-node"
        try:
            steps.append({"step": step, "ok": True, "detail": _undo_node_fault(entry, dry_run)})
        except Exception as exc:  # each step independent: one node failing does not skip the others
            steps.append({"step": step, "ok": False, "detail": f"{entry.get('node')}: {exc}"})
    return steps


def replay(
    plan: UndoPlan,
    configuration: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    stop_grace_s: float = 15.0,
) -> dict[str, Any]:
    """Restore what the plan recorded: stop the load, thaw/start faulted nodes (latest first), restore
    HPA min/max, restore Deployment replicas.

    Each step is independent (one failing does not skip the others) and idempotent. Returns
    `{"ok": bool, "steps": [{"step", "ok", "detail"}], "dry_run": bool}`; writes the outcome into the
    plan file (`rolled_back` true only when every step succeeded)."""
    steps: list[dict[str, Any]] = []
    ns = plan.get("namespace")
    load = plan.get("load")
    if load and load.get("pid"):
        if dry_run:
            steps.append({"step": "stop-load", "ok": True, "detail": f"would stop Locust pid {load['pid']}"})
        else:
            try:
                res = procgroup.stop(int(load["pid"]), grace_s=stop_grace_s)
                steps.append({"step": "stop-load", "ok": True, "detail": res})
            except Exception as exc:
                steps.append({"step": "stop-load", "ok": False, "detail": f"{type(exc).__name__}: {exc}"})
    steps += _replay_node_faults(plan, dry_run) + nodeundo.replay_nodes(plan, configuration, dry_run)
    for key in ("hpa", "deployment"):
        target = plan.get(key)
        if not target:
            continue
        try:
            if not ns or ns in kube.FORBIDDEN_NAMESPACES:
                raise UnsafeTarget(f"plan namespace {ns!r} is missing or a system namespace")
            kube.check_target(ns, plan.get("selector"))
            if key == "hpa":
                detail = _restore_hpa(ns, target, configuration, dry_run)  # type: ignore[arg-type]
            else:
                detail = _restore_deployment(
                    ns,
                    plan.get("deployment_selector"),
                    target,  # type: ignore[arg-type]
                    configuration,
                    dry_run,
                )
            steps.append({"step": f"restore-{key}", "ok": True, "detail": detail})
        except ScaleproofError as exc:
            steps.append({"step": f"restore-{key}", "ok": False, "detail": str(exc)})
    ok = all(s["ok"] for s in steps)
    if not dry_run and plan.get("run_dir"):
        plan.setdefault("replays", []).append({"t": time.time(), "ok": ok, "steps": steps})
        plan["rolled_back"] = ok
        try:
            write_plan(plan, plan["run_dir"])
        except OSError as exc:
            logger.warning("could not update the undo plan: %s", exc)
    return {"ok": ok, "steps": steps, "dry_run": dry_run}


def _restore_hpa(ns: str, target: HpaUndo, configuration: Mapping[str, Any] | None, dry_run: bool) -> str:
    spec = kube.hpa(target["name"], ns, configuration).get("spec") or {}
    cur = {"minReplicas": spec.get("minReplicas", 1), "maxReplicas": spec.get("maxReplicas")}
    want: dict[str, Any] = {
        k: target[k]  # type: ignore[literal-required]
        for k in ("minReplicas", "maxReplicas")
        if target.get(k) is not None
    }
    body = {k: v for k, v in want.items() if cur.get(k) != v}
    sd = target.get("scaleDown")
    if sd is not None and not hpabehavior.restored(spec, sd):
        body.update(hpabehavior.restore_patch(sd))
        want["scaleDown.stabilizationWindowSeconds"] = sd.get("stabilizationWindowSeconds")
        cur["scaleDown.stabilizationWindowSeconds"] = hpabehavior.record(spec)["stabilizationWindowSeconds"]
    if not body:
        return f"hpa {target['name']} already at {want}"
    if dry_run:
        return f"would patch hpa {target['name']} {cur} -> {want}"
    kube.call(
        kube.apis(configuration).autoscaling.patch_namespaced_horizontal_pod_autoscaler,
        target["name"],
        ns,
        body={"spec": body},
        what=f"patch hpa {ns}/{target['name']}",
    )
    return f"patched hpa {target['name']} {cur} -> {want}"


def _restore_deployment(
    ns: str,
    recorded_selector: Mapping[str, Any] | None,
    target: DeploymentUndo,
    configuration: Mapping[str, Any] | None,
    dry_run: bool,
) -> str:
    if target.get("replicas") is None:
        return "no replica count recorded"
    # the pair (deployment, selector) was checked against the API server when the plan was written;
    # a Deployment whose own selector changed since then is no longer the one we checked
    d = kube.deployment(target["name"], ns, configuration)
    now = (d.get("spec") or {}).get("selector") or {}
    if recorded_selector is not None and now != recorded_selector:
        raise UnsafeTarget(
            f"deployment {target['name']} now selects {now}, not {recorded_selector} as when the undo "
            "plan was written: not touching it"
        )
    cur = (d.get("spec") or {}).get("replicas")
    if cur == target["replicas"]:
        return f"deployment {target['name']} already at {cur} replicas"
    if dry_run:
        return f"would scale deployment {target['name']} {cur} -> {target['replicas']}"
    kube.call(
        kube.apis(configuration).apps.patch_namespaced_deployment_scale,
        target["name"],
        ns,
        body={"spec": {"replicas": target["replicas"]}},
        what=f"scale deployment {ns}/{target['name']}",
    )
    return f"scaled deployment {target['name']} {cur} -> {target['replicas']} (an HPA may override it)"


def rollback(
    run_dir: str | None = None, dry_run: bool = False, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Rollback action: replay the run's undo plan. Raises (→ failed rollback in the journal) if a
    step failed; returns the replay result otherwise. A run without a plan is a no-op."""
    plan = load_plan(run_dir, configuration)
    if plan is None:
        return {"ok": True, "steps": [], "detail": "no undo plan for this run"}
    res = replay(plan, configuration, dry_run=dry_run)
    if not res["ok"]:
        raise ScaleproofError(
            "undo plan replay incomplete: "
            + "; ".join(f"{s['step']}: {s['detail']}" for s in res["steps"] if not s["ok"])
        )
    return res


_HOOKED: set[str] = set()


def install_exit_hook(
    run_dir: str | os.PathLike[str], configuration: Mapping[str, Any] | None = None
) -> None:
    """At interpreter exit, replay the run's plan if it was not rolled back (once per run dir)."""
    key = str(run_dir)
    if key in _HOOKED:
        return
    _HOOKED.add(key)

    def _hook() -> None:
        try:
            plan = load_plan(key)
            if (
                plan
                and not plan.get("rolled_back")
                and any(
                    plan.get(k)
                    for k in (
                        "load",
                        "hpa",
                        "deployment",
                        "node_faults",
                        "cordons",
                        "node_commands",
                        "tolerations",
                    )
                )
            ):
                logger.warning("run %s ended without a completed rollback: replaying its undo plan", key)
                replay(plan, configuration)
        except Exception as exc:  # never raise at exit
            logger.error(
                "exit-time undo replay failed for %s: %s (run `scaleproof recover %s`)", key, exc, key
            )

    atexit.register(_hook)


def find_pending(root: str | os.PathLike[str] = "journals/runs") -> Path | None:
    """The most recent run directory (by name, run ids sort by time) whose plan is not rolled back."""
    base = Path(root)
    if not base.is_dir():
        return None
    for d in sorted(
        (p for p in base.iterdir() if (p / UNDO_FILE).exists()), key=lambda p: p.name, reverse=True
    ):
        plan = load_plan(d)
        if plan and not plan.get("rolled_back"):
            return d
    return None


@click.command("recover")
@click.argument("run_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--runs-root", default="journals/runs", show_default=True, help="where run directories live")
@click.option("--dry-run", is_flag=True, help="print what would be restored, change nothing")
@click.option("--force", is_flag=True, help="replay even if the plan is marked rolled back")
def recover_command(run_dir: Path | None, runs_root: str, dry_run: bool, force: bool) -> None:
    """Replay the undo plan of RUN_DIR (default: the latest run that was not rolled back)."""
    import json

    target = run_dir or find_pending(runs_root)
    if target is None:
        click.echo(f"nothing to recover: no run under {runs_root} has a pending undo plan")
        return
    plan = load_plan(target)
    if plan is None:
        raise click.ClickException(f"{target} has no {UNDO_FILE}")
    if plan.get("rolled_back") and not force:
        click.echo(f"{target}: already rolled back (use --force to replay again)")
        return
    try:
        res = replay(plan, dry_run=dry_run)
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"run_dir": str(target), **res}, indent=2, default=str))
    if not res["ok"]:
        raise SystemExit(1)
