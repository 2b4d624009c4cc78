"""Read-only Kubernetes probes: Ready replicas, Deployment/HPA reads, spec snapshots, waits.

Readiness is the `Ready` condition on pods without `deletionTimestamp` (never `status.phase`, which
stays `Running` while a pod terminates). Every call carries a request timeout and every blocking
probe its own deadline (Chaos Toolkit does not enforce `timeout` on Python activities).

The probes sit on the Kubernetes access layer `scaleproof.kube` (clients, `call()`, selectors, the
list-then-watch loop); nothing here writes. Objects are raw dicts as the API server serves them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scaleproof import kube, rundir, undo
from scaleproof.errors import ScaleproofError
from scaleproof.kobjects import pod_ready

__all__ = [
    "deployment_replicas",
    "hpa_spec_snapshot",
    "ready_pods",
    "ready_replicas",
    "ready_replicas_at_least",
    "server_version",
    "snapshot_specs",
    "wait_for_ready_replicas",
]

logger = logging.getLogger(__name__)


# -------------------------------------------------------------------------------------------- probes
def ready_pods(
    namespace: str,
    selector: str,
    configuration: Mapping[str, Any] | None = None,
    timeout_s: float = kube.REQUEST_TIMEOUT_S,
) -> list[str]:
    """Names of the pods that are Ready (condition) and not terminating."""
    return sorted(
        p["metadata"]["name"]
        for p in kube.list_pods(namespace, selector, configuration, timeout_s)
        if pod_ready(p)
    )


def ready_replicas(
    namespace: str,
    selector: str,
    configuration: Mapping[str, Any] | None = None,
    timeout_s: float = kube.REQUEST_TIMEOUT_S,
) -> int:
    """Number of pods (count) matching the selector with Ready=True and no deletionTimestamp."""
    return len(ready_pods(namespace, selector, configuration, timeout_s))


def ready_replicas_at_least(value: int | None = None, minimum: int = 1) -> bool:
    """Tolerance: `value` (a Ready pod count) is at least `minimum`."""
    return value is not None and int(value) >= int(minimum)


def deployment_replicas(
    name: str, namespace: str, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`{"spec": spec.replicas, "ready": status.readyReplicas, "available", "updated"}` (pod counts)."""
    d = kube.deployment(name, namespace, configuration)
    st = d.get("status") or {}
    return {
        "spec": (d.get("spec") or {}).get("replicas"),
        "ready": st.get("readyReplicas") or 0,
        "available": st.get("availableReplicas") or 0,
        "updated": st.get("updatedReplicas") or 0,
    }


def hpa_spec_snapshot(
    name: str, namespace: str, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What a time-to-scale figure means nothing without: min/max replicas, metric targets,
    `behavior` (stabilization windows, policies), current status, and the controller cadence
    (kube-controller-manager `--horizontal-pod-autoscaler-sync-period`, default 15 s, not readable
    through the API: recorded as the default)."""
    h = kube.hpa(name, namespace, configuration)
    spec = h.get("spec") or {}
    return {
        "name": name,
        "namespace": namespace,
        "minReplicas": spec.get("minReplicas", 1),
        "maxReplicas": spec.get("maxReplicas"),
        "metrics": spec.get("metrics") or [],
        "behavior": spec.get("behavior") or {},
        "scaleTargetRef": spec.get("scaleTargetRef") or {},
        "status": h.get("status") or {},
        "controller_sync_period_s": {"value": 15, "source": "Kubernetes default (not readable via the API)"},
    }


def server_version(configuration: Mapping[str, Any] | None = None) -> str | None:
    """The API server's gitVersion (e.g. v1.35.4), None when unreadable."""
    try:
        return kube.call(kube.apis(configuration).version.get_code, what="server version", timeout_s=5).get(
            "gitVersion"
        )
    except ScaleproofError as exc:
        logger.warning("server version unavailable: %s", exc)
        return None


def snapshot_specs(
    namespace: str,
    deployment_name: str,
    hpa_name: str | None = None,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Snapshot the Deployment/HPA/PDB specs, container images and server version into
    `<run_dir>/specs.json`; returns the snapshot. Unreadable parts are recorded with an `error`."""
    out: dict[str, Any] = {"t": time.time(), "namespace": namespace, "specs": {}, "images": {}, "errors": {}}
    try:
        d = kube.deployment(deployment_name, namespace, configuration)
        spec = d.get("spec") or {}
        tpl = (spec.get("template") or {}).get("spec") or {}
        out["specs"]["deployment"] = {
            "name": deployment_name,
            "replicas": spec.get("replicas"),
            "strategy": spec.get("strategy"),
            "selector": spec.get("selector"),
            "containers": [
                {k: c.get(k) for k in ("name", "image", "imagePullPolicy", "resources", "readinessProbe")}
                for c in tpl.get("containers") or []
            ],
            "terminationGracePeriodSeconds": tpl.get("terminationGracePeriodSeconds"),
        }
        for c in tpl.get("containers") or []:
            out["images"][c.get("name")] = c.get("image")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        try:
            out["specs"]["pdb"] = [
                {"name": p["metadata"]["name"], "spec": p.get("spec"), "status": p.get("status")}
                for p in kube.pdbs_for(namespace, labels, configuration)
            ]
        except ScaleproofError as exc:
            out["errors"]["pdb"] = str(exc)
    except ScaleproofError as exc:
        out["errors"]["deployment"] = str(exc)
    if hpa_name:
        try:
            out["specs"]["hpa"] = hpa_spec_snapshot(hpa_name, namespace, configuration)
        except ScaleproofError as exc:
            out["errors"]["hpa"] = str(exc)
    out["kubernetes_server"] = server_version(configuration)
    if run_dir or (configuration or {}).get(rundir.CONFIG_KEY):
        path = rundir.resolve(run_dir, configuration) / "specs.json"
        rundir.write_json_atomic(Path(path), out)
    return out


def wait_for_ready_replicas(
    namespace: str,
    selector: str,
    min_ready: int = 3,
    timeout_s: float = 180.0,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Block (event-driven, pod watch) until at least `min_ready` pods are Ready, or the deadline;
    a SIGTERM/SIGINT or a failed earlier method step ends the wait (`undo.check_abort`).

    Returns `{"ready": count, "waited_s": seconds, "t": unix time reached}`; raises DeadlineExceeded
    with the last count when `timeout_s` passes first."""
    return kube.wait_for_ready_replicas(
        namespace, selector, min_ready, timeout_s, configuration, check=undo.check_abort
    )
