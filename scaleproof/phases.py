"""What every timeline shares: the clocks' resolutions, the event log in receive order, the chain of
consecutive phases, percentiles, and the Locust per-second load buckets.

Pure (no I/O, no clock). The timelines built on it: `scaleproof.podtimeline` (kills, MTTR, Ready
series) and `scaleproof.scaletimeline` (time-to-scale); the shard figures are in `scaleproof.shards`.

Event records (read from `<run_dir>/events.jsonl`, see `scaleproof.rundir`):

* watch lines: `{"t": <local receive time>, "source": "watch", "kind": "Pod" | "ReplicaSet" |
  "EndpointSlice" | "HorizontalPodAutoscaler" | "Deployment" | "Event", "type": "SYNC" | "ADDED" |
  "MODIFIED" | "DELETED", "object": <Kubernetes object as served (camelCase), trimmed>}` (a trimmed
  Pod also carries the recorder's own `x-scaleproof` key: `scaleproof.kobjects.RECORDED`).
* kill lines (from `actions.pods.kill_pods`): `{"t": <delete accepted>, "source": "action",
  "kind": "Kill", "type": "EVICTION_ACCEPTED" | "DELETE_ACCEPTED", "kill_id", "t_request", "victim":
  {"name", "uid", "owner_uid", "owner_kind", "owner_name", "node", "method"}}`; MTTR starts at `t`, the
  accepted eviction (or delete). Refused evictions are `"kind": "Eviction", "type": "REFUSED"`, not kills.
* PodMetrics lines (from the recorder's metrics.k8s.io poller, hpa-scale): `{"t", "source": "poll",
  "kind": "PodMetrics", "type": "SAMPLE", "items": [{"name", "timestamp", "window", "containers":
  [{"name", "cpu"}]}]}`, written when a pod's sample `timestamp` (metrics-server's, 1 s) is new.
* load lines (from `actions.load.start_load`): `{"t", "source": "action", "kind": "Load",
  "type": "STARTED" | "STOPPED", "users"}`.

Load per-second records: `{"t": <start of the second>, "users", "requests", "failures", "rps",
"failures_per_s", "p50_ms", "p95_ms"}` (1 s buckets).

Clocks and resolution. Phase boundaries use the **local receive time** of the watch event that first
showed the new state (`time.time()`, kept to the ms). That time is late by the watch delivery latency
(not subtracted; typically tens of ms on a local cluster); different watch streams can deliver out of
order by about that much. Server timestamps (`creationTimestamp`, `deletionTimestamp`, condition
`lastTransitionTime`: 1 s resolution) are kept next to it as a cross-check (`server`). User-visible
recovery comes from Locust 1 s buckets (resolution 1 s).

Phases are consecutive and never overlap: each phase starts where the previous one ended; an
observation received earlier than the previous boundary (stream reordering) is clamped to it and
flagged `clamped`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

__all__ = [
    "LOAD_RESOLUTION_S",
    "LOCAL_RESOLUTION_S",
    "SERVER_RESOLUTION_S",
    "Observation",
    "Phase",
    "chain",
    "error_rate",
    "load_window",
    "of_kind",
    "percentile",
    "rounded",
    "sorted_events",
]

LOCAL_RESOLUTION_S = 0.001  # receive timestamps kept to the ms; watch delivery latency not subtracted
SERVER_RESOLUTION_S = 1.0  # RFC3339 timestamps of the API server
LOAD_RESOLUTION_S = 1.0  # Locust per-second buckets

# (phase name, observed receive time or None, resolution in seconds)
Observation = tuple[str, float | None, float]


class Phase(TypedDict, total=False):
    name: str
    start: float
    end: float
    duration_s: float
    observed: float  # raw receive time of the observation that ended the phase (before clamping)
    clamped: bool  # observation arrived before the previous boundary (stream reordering)
    resolution_s: float


def rounded(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def sorted_events(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Events by receive time; file order breaks ties (stable sort)."""
    evs = [e for e in events if isinstance(e, Mapping) and isinstance(e.get("t"), int | float)]
    return sorted(evs, key=lambda e: float(e["t"]))


def of_kind(events: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    """The watch lines of one kind (those that carry an object)."""
    return [e for e in events if e.get("kind") == kind and isinstance(e.get("object"), Mapping)]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Percentile with linear interpolation between closest ranks (numpy's default); None if empty."""
    xs = sorted(float(v) for v in values)
    if not xs:
        return None
    k = (len(xs) - 1) * q / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def chain(start: float, observations: Sequence[Observation]) -> tuple[list[Phase], str | None]:
    """Consecutive non-overlapping phases from `start`; stops at the first missing observation.

    Returns (phases, name of the first missing phase or None)."""
    phases: list[Phase] = []
    prev = start
    for name, observed, resolution in observations:
        if observed is None:
            return phases, name
        end = max(prev, observed)
        phases.append(
            {
                "name": name,
                "start": round(prev, 3),
                "end": round(end, 3),
                "duration_s": round(end - prev, 3),
                "observed": round(observed, 3),
                "clamped": observed < prev,
                "resolution_s": resolution,
            }
        )
        prev = end
    return phases, None


def load_window(load: Sequence[Mapping[str, Any]], start: float, end: float) -> list[Mapping[str, Any]]:
    """1 s buckets overlapping [start, end)."""
    return [b for b in load if float(b["t"]) + 1.0 > start and float(b["t"]) < end]


def error_rate(load: Sequence[Mapping[str, Any]] | None) -> tuple[float | None, int, int]:
    """(failures / requests, requests, failures) over per-second stats; rate None without requests."""
    if not load:
        return None, 0, 0
    req = sum(int(b.get("requests") or 0) for b in load)
    fail = sum(int(b.get("failures") or 0) for b in load)
    return (fail / req if req else None), req, fail
