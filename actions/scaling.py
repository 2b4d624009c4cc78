"""Change replica bounds (with their undo), and restore them from the run's undo plan.

`set_hpa_bounds` first captures the undo plan (current HPA min/max and Deployment replicas) into
`<run_dir>/undo.json`, then patches; `restore` (= `scaleproof.undo.rollback`) replays the plan.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from scaleproof import kube, undo
from scaleproof.errors import DeadlineExceeded, UnsafeTarget
from scaleproof.kobjects import pod_ready

__all__ = ["reset_to_hpa_minimum", "restore", "set_hpa_bounds"]

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
    previous run's replicas (HPA scale-down waits out a 300 s stabilisation window). The undo plan is
    written first. Returns `{"from": replicas before, "to": min, "waited_s"}`."""
    namespace, selector = kube.check_target(namespace, selector)
    undo.check_abort("resetting replicas")
    h = kube.hpa(name, namespace, configuration)
    spec = h.get("spec") or {}
    target = deployment or (spec.get("scaleTargetRef") or {}).get("name")
    minimum = int(spec.get("minReplicas") or 1)
    plan = undo.capture_plan(
        namespace, selector, deployment=target, hpa=name, run_dir=run_dir, configuration=configuration
    )
    dep: dict[str, Any] = dict(plan.get("deployment") or {})
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
    while True:
        pods = kube.list_pods(namespace, selector, configuration)
        ready = sum(1 for p in pods if pod_ready(p))
        if ready == minimum and len(pods) == minimum:
            return {"from": before, "to": minimum, "waited_s": round(time.monotonic() - t0, 3)}
        if time.monotonic() - t0 > float(timeout_s):
            raise DeadlineExceeded(
                f"{len(pods)} pods ({ready} Ready) of {selector} in {namespace} after {timeout_s} s, "
                f"expected exactly {minimum}"
            )
        undo.check_abort("waiting for the resting replica count")
        sleep(1.0)
