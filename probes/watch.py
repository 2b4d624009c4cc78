"""Background event recorder: Kubernetes watches on the experiment's namespace → `<run_dir>/events.jsonl`.

`start_recording` opens one watch per kind (pods and ReplicaSets by label selector, EndpointSlices of
the Service, the Deployment and its HPA by name, core Events of the namespace) and returns only once
every watch has listed its initial state, so the recorder is open BEFORE the fault. Every line keeps
the server's object (trimmed, server timestamps verbatim, 1 s resolution) and the local receive time
`t` (sub-second). The recorder stops on `stop_recording`, or by itself after `max_duration_s`
(bounded lifetime, even when a rollback never runs).

Both functions are plain Chaos Toolkit actions (they run in the `chaos` process; the recorder threads
are daemons). The timelines (`scaleproof.podtimeline`, `scaleproof.scaletimeline`) read the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaleproof import kobjects, kube, rundir
from scaleproof.errors import DeadlineExceeded, ScaleproofError

__all__ = ["DEFAULT_KINDS", "recorder_status", "start_recording", "stop_recording", "trim"]

logger = logging.getLogger(__name__)

DEFAULT_KINDS = ("Pod", "ReplicaSet", "EndpointSlice", "Deployment", "HorizontalPodAutoscaler", "Event")


@dataclass
class _Recorder:
    run_dir: Path
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    ready: dict[str, threading.Event] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    initial_failures: dict[str, Exception] = field(default_factory=dict)
    started: float = 0.0
    deadline: float = 0.0


_RECORDERS: dict[str, _Recorder] = {}
_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------- trimming
_META_KEYS = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "labels",
    "ownerReferences",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_WORKLOAD_STATUS = ("replicas", "readyReplicas", "availableReplicas", "updatedReplicas", "observedGeneration")
_EVENT_KEYS = (
    "reason",
    "message",
    "note",
    "type",
    "involvedObject",
    "regarding",
    "firstTimestamp",
    "lastTimestamp",
    "eventTime",
    "count",
    "source",
)


def _pod(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return {
        "spec": {"nodeName": spec.get("nodeName")},
        # CPU requests (the HPA's utilization is usage / request): kept under a key of our own, since
        # the trimmed Pod drops spec.containers; scaleproof.kobjects.pod_cpu_requests reads it
        kobjects.RECORDED: {
            "cpuRequests": [
                {"name": c.get("name"), "cpu": ((c.get("resources") or {}).get("requests") or {}).get("cpu")}
                for c in spec.get("containers") or []
            ]
        },
        "status": {
            "phase": status.get("phase"),
            "conditions": status.get("conditions") or [],
            "containerStatuses": [
                {k: c.get(k) for k in ("name", "ready", "started", "state", "restartCount")}
                for c in status.get("containerStatuses") or []
            ],
        },
    }


def _workload(obj: Mapping[str, Any]) -> dict[str, Any]:
    status = obj.get("status") or {}
    return {
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas")},
        "status": {k: status.get(k) for k in _WORKLOAD_STATUS},
    }


def _endpoint_slice(obj: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("conditions", "targetRef")
    return {
        "endpoints": [
            {**{k: e.get(k) or {} for k in keep}, "nodeName": e.get("nodeName")}
            for e in obj.get("endpoints") or []
        ]
    }


def _hpa(obj: Mapping[str, Any]) -> dict[str, Any]:
    spec = obj.get("spec") or {}
    keys = ("minReplicas", "maxReplicas", "metrics", "behavior")
    return {"spec": {k: spec.get(k) for k in keys}, "status": obj.get("status") or {}}


def _event(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: obj[k] for k in _EVENT_KEYS if k in obj}


_TRIM = {
    "Pod": _pod,
    "ReplicaSet": _workload,
    "Deployment": _workload,
    "EndpointSlice": _endpoint_slice,
    "HorizontalPodAutoscaler": _hpa,
    "Event": _event,
}


def trim(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """Keep what the timelines and a human reader need; drop managedFields and the like."""
    meta = obj.get("metadata") or {}
    out: dict[str, Any] = {"metadata": {k: meta[k] for k in _META_KEYS if k in meta}}
    part = _TRIM.get(kind)
    return out | part(obj) if part is not None else out


# -------------------------------------------------------------------------------------------- wiring
def _list_fn(kind: str, k: kube.KubeApis) -> Callable[..., Any]:
    return {
        "Pod": k.core.list_namespaced_pod,
        "ReplicaSet": k.apps.list_namespaced_replica_set,
        "EndpointSlice": k.discovery.list_namespaced_endpoint_slice,
        "Deployment": k.apps.list_namespaced_deployment,
        "HorizontalPodAutoscaler": k.autoscaling.list_namespaced_horizontal_pod_autoscaler,
        "Event": k.core.list_namespaced_event,
    }[kind]


def _filters(
    kind: str, selector: str, deployment: str | None, service: str | None, hpa: str | None
) -> dict[str, str]:
    if kind in ("Pod", "ReplicaSet"):
        return {"label_selector": selector}
    if kind == "EndpointSlice":
        return (
            {"label_selector": f"kubernetes.io/service-name={service}"}
            if service
            else {"label_selector": selector}
        )
    if kind == "Deployment" and deployment:
        return {"field_selector": f"metadata.name={deployment}"}
    if kind == "HorizontalPodAutoscaler" and hpa:
        return {"field_selector": f"metadata.name={hpa}"}
    return {}


def _watch_kind(
    rec: _Recorder,
    kind: str,
    namespace: str,
    filters: dict[str, str],
    configuration: Mapping[str, Any] | None,
) -> None:
    """Thread body: list (SYNC lines, then `ready`), watch until stop/deadline, relist after an
    interruption (`scaleproof.kube.list_then_watch`). A failing first list is reported to
    `start_recording` at once; a line that cannot be written ends this kind's recording (in `errors`)."""
    ready = rec.ready[kind]
    try:
        for ev in kube.list_then_watch(
            _list_fn(kind, kube.apis(configuration)),
            namespace,
            timeout_s=rec.deadline - time.time(),
            what=f"list {kind}",
            filters=filters,
            window_s=60.0,
            stop=rec.stop,
        ):
            if ev["type"] == "LISTED":
                for item in ev["items"]:
                    _record(rec, kind, "SYNC", item, ev["t"])
                ready.set()
            elif ev["type"] == "INTERRUPTED":  # keep recording: a relist follows
                _note_error(rec, kind, ev["error"])
            else:
                _record(rec, kind, ev["type"], ev["object"], ev["t"])
    except Exception as exc:
        if not ready.is_set():  # the initial list failed
            rec.initial_failures[kind] = exc
            rec.errors[kind] = f"{type(exc).__name__}: {exc}"
        else:  # events.jsonl is not writable: relisting would not help
            _note_error(rec, kind, exc)
    ready.set()


def _note_error(rec: _Recorder, kind: str, exc: Exception) -> None:
    msg = f"{type(exc).__name__}: {exc}"
    if rec.errors.get(kind) != msg:
        logger.warning("watch on %s interrupted: %s", kind, exc)
    rec.errors[kind] = msg


def _metrics_items(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """PodMetrics trimmed to what timing needs: name, sample timestamp and window, CPU per container."""
    return [
        {
            "name": (i.get("metadata") or {}).get("name"),
            "timestamp": i.get("timestamp"),
            "window": i.get("window"),
            "containers": [
                {"name": c.get("name"), "cpu": (c.get("usage") or {}).get("cpu")}
                for c in i.get("containers") or []
            ],
        }
        for i in body.get("items") or []
    ]


def _poll_pod_metrics(
    rec: _Recorder, namespace: str, selector: str, interval_s: float, configuration: Mapping[str, Any] | None
) -> None:
    """Thread body: list metrics.k8s.io PodMetrics every `interval_s` (one request, bounded by the
    recorder's deadline); a SAMPLE line whenever some pod's sample timestamp is new. Errors are
    recorded and polling goes on: without samples, timing falls back to the HPA status."""
    last: dict[str, Any] = {}
    while not rec.stop.is_set() and time.time() < rec.deadline:
        try:
            fn = kube.apis(configuration).custom.list_namespaced_custom_object
            body = kube.call(
                fn,
                "metrics.k8s.io",
                "v1beta1",
                namespace,
                "pods",
                label_selector=selector,
                what="list PodMetrics",
            )
            items = _metrics_items(body)
            stamps = {i["name"]: i["timestamp"] for i in items}
            if any(last.get(n) != ts for n, ts in stamps.items()):
                rundir.append_event(
                    rec.run_dir,
                    {
                        "t": round(time.time(), 6),
                        "source": "poll",
                        "kind": "PodMetrics",
                        "type": "SAMPLE",
                        "items": items,
                    },
                )
                rec.counts["PodMetrics"] = rec.counts.get("PodMetrics", 0) + 1
            last = stamps
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}"
            if rec.errors.get("PodMetrics") != msg:
                logger.warning("PodMetrics poll failed: %s", exc)
            rec.errors["PodMetrics"] = msg
        rec.stop.wait(interval_s)


def _record(rec: _Recorder, kind: str, etype: str, obj: Mapping[str, Any], t: float) -> None:
    rundir.append_event(
        rec.run_dir,
        {"t": round(t, 6), "source": "watch", "kind": kind, "type": etype, "object": trim(kind, obj)},
    )
    rec.counts[kind] = rec.counts.get(kind, 0) + 1


# -------------------------------------------------------------------------------------------- actions
def kinds_given(kinds: list[str], default: Any) -> bool:
    return list(kinds) != list(default)


def start_recording(
    namespace: str,
    selector: str,
    deployment: str | None = None,
    service: str | None = None,
    hpa: str | None = None,
    kinds: list[str] | None = None,
    max_duration_s: float = 900.0,
    ready_timeout_s: float = 30.0,
    run_dir: str | None = None,
    pod_metrics_interval_s: float = 0.0,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Start recording watch events into `<run_dir>/events.jsonl`; returns once every watch listed
    its initial state (or raises DeadlineExceeded after `ready_timeout_s` seconds).

    `pod_metrics_interval_s` > 0 also polls metrics.k8s.io PodMetrics of the selected pods that often
    (≥ 1 s; metrics-server's own sample times, for time-to-scale's phases); 0 does not.

    Returns `{"run_dir", "kinds", "started": unix time, "stops_at": unix time}`."""
    namespace, selector = kube.check_target(namespace, selector)
    path = rundir.resolve(run_dir, configuration)
    kinds = list(kinds or DEFAULT_KINDS)
    if not hpa and not kinds_given(kinds, DEFAULT_KINDS):
        kinds.remove("HorizontalPodAutoscaler")  # no HPA configured: record nothing that is not ours
    unknown = set(kinds) - set(DEFAULT_KINDS)
    if unknown:
        raise ScaleproofError(f"unknown kinds {sorted(unknown)}; choose from {list(DEFAULT_KINDS)}")
    kube.apis(configuration)  # fail fast with a clear error when the cluster is unreachable
    with _LOCK:
        old = _RECORDERS.get(str(path))
        if old and any(t.is_alive() for t in old.threads):
            raise ScaleproofError(f"a recorder is already running for {path}; stop it first")
        rec = _Recorder(run_dir=path, started=time.time(), deadline=time.time() + float(max_duration_s))
        _RECORDERS[str(path)] = rec
    rundir.append_event(
        path,
        {
            "t": round(time.time(), 6),
            "source": "recorder",
            "kind": "Recorder",
            "type": "STARTING",
            "namespace": namespace,
            "selector": selector,
            "kinds": kinds,
        },
    )
    for kind in kinds:
        rec.ready[kind] = threading.Event()
        th = threading.Thread(
            target=_watch_kind,
            args=(rec, kind, namespace, _filters(kind, selector, deployment, service, hpa), configuration),
            name=f"scaleproof-watch-{kind}",
            daemon=True,
        )
        rec.threads.append(th)
        th.start()
    if float(pod_metrics_interval_s) > 0:
        th = threading.Thread(
            target=_poll_pod_metrics,
            args=(rec, namespace, selector, max(1.0, float(pod_metrics_interval_s)), configuration),
            name="scaleproof-poll-PodMetrics",
            daemon=True,
        )
        rec.threads.append(th)
        th.start()
    limit = time.monotonic() + float(ready_timeout_s)
    for kind, ev in rec.ready.items():
        if not ev.wait(max(0.0, limit - time.monotonic())):
            rec.stop.set()
            raise DeadlineExceeded(
                f"watch on {kind} did not list its initial state within {ready_timeout_s} s"
            )
    if rec.initial_failures:
        rec.stop.set()
        kind, exc = next(iter(rec.initial_failures.items()))
        if isinstance(exc, ScaleproofError):
            raise type(exc)(f"recorder not started: cannot list {kind}: {exc}") from exc
        raise ScaleproofError(
            f"recorder not started: cannot list {kind}: {type(exc).__name__}: {exc}"
        ) from exc
    rundir.append_event(
        path,
        {
            "t": round(time.time(), 6),
            "source": "recorder",
            "kind": "Recorder",
            "type": "OPEN",
            "errors": dict(rec.errors),
        },
    )
    return {
        "run_dir": str(path),
        "kinds": kinds,
        "started": rec.started,
        "stops_at": rec.deadline,
        "errors": dict(rec.errors),
    }


def stop_recording(
    run_dir: str | None = None, timeout_s: float = 10.0, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Stop the recorder of the run (idempotent). Returns `{"stopped": bool, "counts": {kind: lines},
    "errors": {kind: last error}}`."""
    path = rundir.resolve(run_dir, configuration)
    with _LOCK:
        rec = _RECORDERS.get(str(path))
    if rec is None:
        return {"stopped": False, "counts": {}, "errors": {}, "reason": "no recorder running for this run"}
    rec.stop.set()
    limit = time.monotonic() + float(timeout_s)
    for th in rec.threads:
        th.join(max(0.0, limit - time.monotonic()))
    alive = [th.name for th in rec.threads if th.is_alive()]
    rundir.append_event(
        path,
        {
            "t": round(time.time(), 6),
            "source": "recorder",
            "kind": "Recorder",
            "type": "STOPPED",
            "counts": dict(rec.counts),
            "still_alive": alive,
        },
    )
    # threads blocked in a watch read exit at their server timeout (≤ 60 s); they are daemons
    return {"stopped": True, "counts": dict(rec.counts), "errors": dict(rec.errors), "still_alive": alive}


def recorder_status(
    run_dir: str | None = None, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Probe: `{"running": bool, "counts": {kind: lines}}` of the run's recorder."""
    path = rundir.resolve(run_dir, configuration)
    rec = _RECORDERS.get(str(path))
    if rec is None:
        return {"running": False, "counts": {}}
    return {
        "running": any(t.is_alive() for t in rec.threads) and not rec.stop.is_set(),
        "counts": dict(rec.counts),
    }
