"""Readings of Kubernetes objects as the API server serves them (camelCase dicts): readiness, owners,
server timestamps, quantities, HPA targets.

Layer 1: no I/O, no client. `scaleproof.kube` (the access layer), the providers and the timelines
(`scaleproof.podtimeline`, `scaleproof.scaletimeline`) read objects through these functions, so that
"Ready" or "the owner" means one thing everywhere.

One field here is not Kubernetes': the recorder (`probes.watch.trim`) keeps each container's CPU
request of a Pod under `RECORDED` (`"x-scaleproof"`), a key of our own beside `metadata`/`spec`/
`status`, because the trimmed Pod drops `spec.containers`. `pod_cpu_requests` reads it (and the
`spec.requests` list that recordings made before it carried).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = [
    "RECORDED",
    "condition",
    "controller_ref",
    "go_duration",
    "hpa_over_target",
    "meta",
    "pod_cpu_requests",
    "pod_ready",
    "pod_scheduled",
    "pod_started",
    "quantity",
    "server_time",
    "uid",
    "terminating",
    "whole_seconds",
]

RECORDED = "x-scaleproof"  # the recorder's own additions to a trimmed object (never served by Kubernetes)


def server_time(value: Any) -> float | None:
    """RFC3339 server timestamp (`2026-12-07T10:11:12Z`) → Unix seconds; None when absent or unparsable.

    `datetime.fromisoformat` reads the `Z` suffix and fractional seconds from Python 3.11 on."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def uid(obj: Mapping[str, Any]) -> str | None:
    return meta(obj).get("uid")


def terminating(obj: Mapping[str, Any]) -> bool:
    """Deletion has begun (`metadata.deletionTimestamp` set): the object is on its way out."""
    return bool(meta(obj).get("deletionTimestamp"))


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object's controlling owner reference, else its first one; {} when it has none."""
    refs = meta(obj).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return refs[0] if refs else {}


def condition(obj: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    """The status condition of type `ctype`, None when the object has none."""
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def pod_ready(obj: Mapping[str, Any]) -> bool:
    """Ready condition True on a pod without deletionTimestamp (never `status.phase`)."""
    if meta(obj).get("deletionTimestamp"):
        return False
    c = condition(obj, "Ready")
    return bool(c and c.get("status") == "True")


def pod_scheduled(obj: Mapping[str, Any]) -> bool:
    c = condition(obj, "PodScheduled")
    return bool((c and c.get("status") == "True") or (obj.get("spec") or {}).get("nodeName"))


def pod_started(obj: Mapping[str, Any]) -> bool:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    if not statuses:
        return False
    return all(s.get("started") is True or "running" in (s.get("state") or {}) for s in statuses)


def quantity(v: Any) -> float | None:
    """A Kubernetes quantity (`1500u`, `500m`, `2Gi`, `1e3`) as a float; None when malformed."""
    if isinstance(v, int | float):
        return float(v)
    from kubernetes.utils.quantity import parse_quantity  # a pure function: no client is built

    try:
        return float(parse_quantity(str(v)))
    except (ValueError, ArithmeticError):
        return None


def pod_cpu_requests(obj: Mapping[str, Any]) -> float | None:
    """CPU cores requested by a recorded Pod (sum over containers); None when a container has none."""
    recorded = (obj.get(RECORDED) or {}).get("cpuRequests")
    if recorded is None:  # recordings made before RECORDED existed
        recorded = (obj.get("spec") or {}).get("requests")
    reqs = [quantity(c.get("cpu")) for c in recorded or []]
    if reqs and all(r is not None for r in reqs):
        return sum(r for r in reqs if r is not None)
    return None


_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def go_duration(value: Any) -> float | None:
    """A Go duration string as metrics-server writes `window` (`10.149687104s`, `1m0.5s`) in seconds."""
    parts = _GO_DURATION.findall(str(value or ""))
    return sum(float(n) * _GO_UNITS[u] for n, u in parts) if parts else None


def whole_seconds(value: Any) -> int | None:
    """An optional Kubernetes duration in whole seconds ≥ 0 (a `tolerationSeconds`, a delete's
    `gracePeriodSeconds`) as configuration gives it: None for empty or "default" (the object's own),
    else the digits as an int; ValueError for anything else (a sign, a unit, a fraction)."""
    if value is None:
        return None
    text = str(value).strip()
    if text in ("", "default"):
        return None
    if not text.isdigit():
        raise ValueError(f"must be whole seconds ≥ 0, or empty, got {text!r}")
    return int(text)


def _lower_first(s: str) -> str:
    return s[:1].lower() + s[1:] if s else s


def _metric_key(m: Mapping[str, Any]) -> tuple[tuple[str, str], Mapping[str, Any]]:
    mtype = m.get("type", "")
    body = m.get(_lower_first(mtype)) or {}
    name = body.get("name") or (body.get("metric") or {}).get("name") or ""
    return (mtype, name), body


def hpa_over_target(obj: Mapping[str, Any]) -> bool:
    """Any current metric of the HPA status above its spec target (utilization or average value)."""
    targets: dict[tuple[str, str], Mapping[str, Any]] = {}
    for m in (obj.get("spec") or {}).get("metrics") or []:
        key, body = _metric_key(m)
        targets[key] = body.get("target") or {}
    for cm in (obj.get("status") or {}).get("currentMetrics") or []:
        key, body = _metric_key(cm)
        cur = body.get("current") or {}
        tgt = targets.get(key) or {}
        if tgt.get("averageUtilization") is not None and cur.get("averageUtilization") is not None:
            if float(cur["averageUtilization"]) > float(tgt["averageUtilization"]):
                return True
        for k in ("averageValue", "value"):
            if tgt.get(k) is not None and cur.get(k) is not None:
                a, b = quantity(cur[k]), quantity(tgt[k])
                if a is not None and b is not None and a > b:
                    return True
    return False
