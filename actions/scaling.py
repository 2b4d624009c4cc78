"""Change replica bounds (with their undo), and restore them from the run's undo plan.

`set_hpa_bounds` first captures the undo plan (current HPA min/max and Deployment replicas) into
`<run_dir>/undo.json`, then patches; `restore` (= `scaleproof.undo.rollback`) replays the plan.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from scaleproof import hpabehavior, kube, progress, rundir, stops, undo
from scaleproof.errors import DeadlineExceeded, ScaleproofError, UnsafeTarget
from scaleproof.kobjects import pod_ready

__all__ = ["check_at_rest", "reset_to_hpa_minimum", "restore", "set_hpa_bounds"]

logger = logging.getLogger(__name__)


def set_hpa_bounds(
    name: str,
    namespace: str,
    selector: str,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    deployment: str | None = None,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Patch the HPA's min/max replicas after writing the undo plan. Returns `{"before", "after"}`.
    An empty `name` (a fixed-size workload, configuration `hpa: ""`) changes nothing. Bounds above
    the HPA's own maximum are refused: the team's HPA policy decides how far the app may scale."""
    namespace, selector = kube.check_target(namespace, selector)
    undo.check_abort("changing HPA bounds")
    if not name:
        return {"skipped": "no HPA configured (configuration `hpa` is empty)"}
    if min_replicas is None and max_replicas is None:
        raise UnsafeTarget("set_hpa_bounds needs min_replicas and/or max_replicas")
    if min_replicas is not None and max_replicas is not None and int(min_replicas) > int(max_replicas):
        raise UnsafeTarget(f"min_replicas {min_replicas} > max_replicas {max_replicas}")
    if min_replicas is not None and not 1 <= int(min_replicas) <= 20:
        raise UnsafeTarget(f"min_replicas must be in 1..20, got {min_replicas}")
    h = kube.hpa(name, namespace, configuration)
    target = ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
    allowed = int((h.get("spec") or {}).get("maxReplicas") or 0)
    asked = max(int(v) for v in (min_replicas, max_replicas) if v is not None)
    if asked > allowed:
        raise UnsafeTarget(
            f"HPA {namespace}/{name} allows at most {allowed} replicas; refusing to pin it to {asked} "
            "(configuration `replicas`)"
        )
    plan = undo.capture_plan(
        namespace,
        selector,
        deployment=deployment or target,
        hpa=name,
        run_dir=run_dir,
        configuration=configuration,
    )
    want: dict[str, int] = {}
    if min_replicas is not None:
        want["minReplicas"] = int(min_replicas)
    if max_replicas is not None:
        want["maxReplicas"] = int(max_replicas)
    kube.call(
        kube.apis(configuration).autoscaling.patch_namespaced_horizontal_pod_autoscaler,
        name,
        namespace,
        body={"spec": want},
        what=f"patch hpa {namespace}/{name}",
    )
    return {"before": plan.get("hpa"), "after": want}


#: the rollback of `set_hpa_bounds`: the one undo replay, `scaleproof.undo.rollback` itself (the
#: experiments name it there), here beside the change it undoes
restore = undo.rollback


def reset_to_hpa_minimum(
    name: str,
    namespace: str,
    selector: str,
    deployment: str | None = None,
    timeout_s: float = 180.0,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    sleep: Any = time.sleep,
) -> dict[str, Any]:
    """Scale the HPA's Deployment down to the HPA's minReplicas and wait until exactly that many pods
    are Ready and none is terminating, so a time-to-scale starts from the resting state and not from a
    previous run's replicas. The HPA's scale-down stabilisation window is set to 0 for the run first
    (recorded in the undo plan, restored by the rollbacks: `scaleproof.hpabehavior` says why), or the
    HPA would scale straight back to what it recommended in the last 300 s. Not at rest within
    `timeout_s`: the run's precondition fails (`scaleproof.stops`, verdict inconclusive, no load).
    Returns `{"from": replicas before, "to": min, "waited_s", "scale_down_stabilization"}`."""
    namespace, selector = kube.check_target(namespace, selector)
    undo.check_abort("resetting replicas")
    spec = kube.hpa(name, namespace, configuration).get("spec") or {}
    target = deployment or (spec.get("scaleTargetRef") or {}).get("name")
    minimum = int(spec.get("minReplicas") or 1)
    plan = undo.capture_plan(
        namespace, selector, deployment=target, hpa=name, run_dir=run_dir, configuration=configuration
    )
    window = _stabilisation_off(name, namespace, spec, plan, run_dir, configuration)
    dep: Mapping[str, Any] = plan.get("deployment") or {}
    before = int(dep.get("replicas") or 0)
    t0 = time.monotonic()
    if before > minimum:
        kube.call(
            kube.apis(configuration).apps.patch_namespaced_deployment_scale,
            target,
            namespace,
            body={"spec": {"replicas": minimum}},
            what=f"scale deployment {namespace}/{target} to {minimum}",
        )
        progress.step(f"reset: {target} {before} -> {minimum} replicas (the HPA minimum)")
    try:
        _wait_exactly(namespace, selector, minimum, t0, float(timeout_s), configuration, sleep)
    except DeadlineExceeded as exc:
        why = f"{exc}; {_hpa_state(name, namespace, configuration)}"
        stops.write_stop(
            "precondition", "the reset to the HPA minimum", [why], rundir.resolve(run_dir, configuration)
        )
        raise DeadlineExceeded(why) from exc
    return {
        "from": before,
        "to": minimum,
        "waited_s": round(time.monotonic() - t0, 3),
        "scale_down_stabilization": window,
    }


def _stabilisation_off(
    name: str,
    namespace: str,
    spec: Mapping[str, Any],
    plan: Mapping[str, Any],
    run_dir: str | None,
    configuration: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Set the HPA's scale-down stabilisation window to 0 after recording it in the undo plan."""
    before = hpabehavior.current_window(spec)
    out: dict[str, Any] = {
        "before_s": before,
        "during_run_s": 0,
        "changed": before != 0,
        "scale_up": "untouched",
        "restored_by": "the rollbacks (undo-plan replay; `scaleproof recover` after a crash)",
    }
    path = rundir.resolve(run_dir, configuration) / "hpa-behavior.json"  # listed in the evidence's artifacts
    if before == 0:
        rundir.write_json_atomic(path, {**out, "hpa": name, "spec_behavior_before": spec.get("behavior")})
        return out
    hpa_rec = dict(plan.get("hpa") or {"name": name, "minReplicas": None, "maxReplicas": None})
    if hpa_rec.get("scaleDown") is None:
        hpa_rec["scaleDown"] = hpabehavior.record(spec)
        undo.write_plan({**plan, "hpa": hpa_rec}, run_dir, configuration)  # type: ignore[typeddict-item]
    kube.call(
        kube.apis(configuration).autoscaling.patch_namespaced_horizontal_pod_autoscaler,
        name,
        namespace,
        body={"spec": hpabehavior.zero_patch()},
        what=f"patch hpa {namespace}/{name} scale-down stabilisation",
    )
    rundir.write_json_atomic(path, {**out, "hpa": name, "spec_behavior_before": spec.get("behavior")})
    progress.step(
        f"HPA {name}: scale-down stabilisation {before} s -> 0 s for this run (restored by the rollbacks)"
    )
    return out


def _wait_exactly(
    namespace: str,
    selector: str,
    count: int,
    t0: float,
    timeout_s: float,
    configuration: Mapping[str, Any] | None,
    sleep: Any,
) -> None:
    """Until exactly `count` pods match, all Ready, none terminating; DeadlineExceeded after timeout_s."""
    while True:
        pods = kube.list_pods(namespace, selector, configuration)
        ready = sum(1 for p in pods if pod_ready(p))
        if ready == count and len(pods) == count:
            return
        if time.monotonic() - t0 > timeout_s:
            raise DeadlineExceeded(
                f"{len(pods)} pods ({ready} Ready) of {selector} in {namespace} after {timeout_s:g} s, "
                f"expected exactly {count}"
            )
        undo.check_abort("waiting for the resting replica count")
        sleep(1.0)


def _hpa_state(name: str, namespace: str, configuration: Mapping[str, Any] | None) -> str:
    """The HPA's own account: desired replicas and its conditions (e.g. ScaleDownStabilized)."""
    try:
        h = kube.hpa(name, namespace, configuration)
    except ScaleproofError as exc:
        return f"HPA {name} unreadable: {exc}"
    status = h.get("status") or {}
    conds = "; ".join(
        f"{c.get('type')}={c.get('status')} {c.get('reason')}: {c.get('message')}"
        for c in status.get("conditions") or []
        if c.get("reason") or c.get("message")
    )
    window = hpabehavior.current_window(h.get("spec") or {})
    return (
        f"HPA {name} wants {status.get('desiredReplicas')} replicas (scale-down stabilisation {window} s)"
        + (f"; conditions: {conds}" if conds else "")
    )


def check_at_rest(
    name: str,
    namespace: str,
    selector: str,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Just before the load: exactly the HPA minimum of pods, all Ready, and the HPA wanting no more.
    Otherwise the run's precondition fails (`scaleproof.stops`): the method stops before the load and
    the verdict is inconclusive with this reason. Returns `{"ready", "pods", "hpa_min", "desired"}`."""
    namespace, selector = kube.check_target(namespace, selector)
    h = kube.hpa(name, namespace, configuration)
    minimum = int((h.get("spec") or {}).get("minReplicas") or 1)
    desired = (h.get("status") or {}).get("desiredReplicas")
    pods = kube.list_pods(namespace, selector, configuration)
    ready = sum(1 for p in pods if pod_ready(p))
    out = {"ready": ready, "pods": len(pods), "hpa_min": minimum, "desired": desired}
    # desiredReplicas 0: the HPA has not computed a recommendation yet (a new HPA whose pods have no
    # metrics sample yet: ScalingActive=False); it never recommends below minReplicas (>= 1), so 0
    # wants nothing more than the minimum (seen on agnhost in a fresh namespace)
    if ready == minimum == len(pods) and desired in (None, 0, minimum):
        progress.step(f"at rest before the load: {ready} Ready = the HPA minimum")
        return out
    why = (
        f"not at rest when the load was about to start: {ready} Ready of {len(pods)} pods, the HPA "
        f"minimum is {minimum}; {_hpa_state(name, namespace, configuration)}; no load was started"
    )
    stops.write_stop("precondition", "just before the load", [why], rundir.resolve(run_dir, configuration))
    raise ScaleproofError(why)
