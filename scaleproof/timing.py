"""Pure timing functions over a recorded event log: MTTR per kill, time-to-scale, shard spread.

The only place where figures are computed (the evidence control and the report both use it). Input is
the list of dicts read from `<run_dir>/events.jsonl` (see `scaleproof.rundir`) plus the Locust
per-second stats (`actions.load.collect_stats`). No I/O, no clock: feed synthetic logs in tests.

Event records used here:

* watch lines: `{"t": <local receive time>, "source": "watch", "kind": "Pod" | "ReplicaSet" |
  "EndpointSlice" | "HorizontalPodAutoscaler" | "Deployment" | "Event", "type": "SYNC" | "ADDED" |
  "MODIFIED" | "DELETED", "object": <Kubernetes object as served (camelCase), trimmed>}`.
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

Phases of a kill are consecutive and never overlap: each phase starts where the previous one ended; an
observation received earlier than the previous boundary (stream reordering) is clamped to it and
flagged `clamped`. The recovery clock only stops after the degradation was observed: the replacement
must be created after the delete (same owner ReplicaSet uid, first seen after the delete request,
never one that existed before; one first seen by a relist after a watch expiry counts when its
server creation time is not before the delete) and Ready; "endpoints back to full" needs the victim's
endpoint to have left the ready set first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypedDict

from scaleproof import failcount

__all__ = [
    "LOCAL_RESOLUTION_S",
    "SERVER_RESOLUTION_S",
    "KillTimeline",
    "Phase",
    "ScaleTimeline",
    "controller_ref",
    "error_rate",
    "kill_timelines",
    "mttr_summary",
    "percentile",
    "pod_metric_samples",
    "first_cpu_sample_above_target",
    "go_duration",
    "scale_cadence",
    "ready_series",
    "shard_spread",
    "time_to_scale",
]

LOCAL_RESOLUTION_S = 0.001  # receive timestamps kept to the ms; watch delivery latency not subtracted
SERVER_RESOLUTION_S = 1.0  # RFC3339 timestamps of the API server
LOAD_RESOLUTION_S = 1.0  # Locust per-second buckets

KILL_PHASES = (
    "replacement_created",
    "scheduled",
    "containers_started",
    "ready",
    "endpoints_ready",
    "user_recovered",
)
SCALE_PHASES = ("load_reached", "metric_above_target", "hpa_decision", "deployment_scaled", "target_ready")


class Phase(TypedDict, total=False):
    name: str
    start: float
    end: float
    duration_s: float
    observed: float  # raw receive time of the observation that ended the phase (before clamping)
    clamped: bool  # observation arrived before the previous boundary (stream reordering)
    resolution_s: float


class KillTimeline(TypedDict, total=False):
    kill_id: str
    round: int | None  # the repetition (kill_count victims each); None in logs older than it
    victim: str
    victim_uid: str
    owner_uid: str | None
    t_delete_requested: float | None
    t_delete_accepted: float
    replacement: str | None
    replacement_uid: str | None
    phases: list[Phase]
    recovered: bool
    mttr_s: float | None
    mttr_definition: str
    ready_s: float | None
    reason: str | None
    failed_requests: int | None
    requests: int | None
    outage_s: float | None
    overlaps_with: list[str]
    server: dict[str, Any]
    notes: list[str]


class ScaleTimeline(TypedDict, total=False):
    phases: list[Phase]
    time_to_scale_s: float | None
    reason: str | None
    target_replicas: int
    baseline_replicas: int | None
    max_ready_replicas: int | None
    replicas: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    flaps: int
    flapping: bool
    server: dict[str, Any]
    notes: list[str]
    metric_source: str
    first_sample_above_target: dict[str, Any]
    cadence: dict[str, Any]


# --------------------------------------------------------------------------------------------- helpers
def _ts(value: Any) -> float | None:
    """RFC3339 server timestamp → Unix seconds (None when absent or unparsable)."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _uid(obj: Mapping[str, Any]) -> str | None:
    return _meta(obj).get("uid")


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The object's controlling owner reference, else its first one; {} when it has none."""
    refs = _meta(obj).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return refs[0] if refs else {}


def _condition(obj: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def pod_ready(obj: Mapping[str, Any]) -> bool:
    """Ready condition True on a pod without deletionTimestamp (never `status.phase`)."""
    if _meta(obj).get("deletionTimestamp"):
        return False
    c = _condition(obj, "Ready")
    return bool(c and c.get("status") == "True")


def _pod_scheduled(obj: Mapping[str, Any]) -> bool:
    c = _condition(obj, "PodScheduled")
    return bool((c and c.get("status") == "True") or (obj.get("spec") or {}).get("nodeName"))


def _pod_started(obj: Mapping[str, Any]) -> bool:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    if not statuses:
        return False
    return all(s.get("started") is True or "running" in (s.get("state") or {}) for s in statuses)


def _sorted(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Events by receive time; file order breaks ties (stable sort)."""
    evs = [e for e in events if isinstance(e, Mapping) and isinstance(e.get("t"), int | float)]
    return sorted(evs, key=lambda e: float(e["t"]))


def _of_kind(events: Sequence[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
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


def _chain(
    start: float, observations: Sequence[tuple[str, float | None, float]]
) -> tuple[list[Phase], str | None]:
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


# ------------------------------------------------------------------------------------------ pod states
class _PodHistory:
    """Per pod uid: the receive time of the first event showing each state, and server timestamps."""

    def __init__(self, uid: str) -> None:
        self.uid = uid
        self.name: str | None = None
        self.owner_uid: str | None = None
        self.first_seen: float | None = None
        self.first_seen_type: str | None = None
        self.created_server: float | None = None
        self.scheduled: float | None = None
        self.started: float | None = None
        self.ready: float | None = None
        self.ready_server: float | None = None
        self.deleted_server: float | None = None  # deletionTimestamp - grace = when the delete was accepted
        self.deletion_seen: float | None = None
        self.gone: float | None = None

    def feed(self, t: float, etype: str, obj: Mapping[str, Any]) -> None:
        meta = _meta(obj)
        self.name = meta.get("name") or self.name
        self.owner_uid = controller_ref(obj).get("uid") or self.owner_uid
        if self.first_seen is None:
            self.first_seen, self.first_seen_type = t, etype
            self.created_server = _ts(meta.get("creationTimestamp"))
        if meta.get("deletionTimestamp") and self.deletion_seen is None:
            self.deletion_seen = t
            dts = _ts(meta.get("deletionTimestamp"))
            grace = meta.get("deletionGracePeriodSeconds") or 0
            self.deleted_server = None if dts is None else dts - float(grace)
        if etype == "DELETED":
            self.gone = t if self.gone is None else self.gone
            return
        if self.scheduled is None and _pod_scheduled(obj):
            self.scheduled = t
        if self.started is None and _pod_started(obj):
            self.started = t
        if self.ready is None and pod_ready(obj):
            self.ready = t
            c = _condition(obj, "Ready") or {}
            self.ready_server = _ts(c.get("lastTransitionTime"))


def _pod_histories(events: Sequence[Mapping[str, Any]]) -> dict[str, _PodHistory]:
    out: dict[str, _PodHistory] = {}
    for e in _of_kind(events, "Pod"):
        uid = _uid(e["object"])
        if not uid:
            continue
        out.setdefault(uid, _PodHistory(uid)).feed(float(e["t"]), str(e.get("type")), e["object"])
    return out


def ready_series(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Ready pod count after each Pod/Deployment event: `[{"t", "ready", "desired"}]`.

    `ready` counts pods with the Ready condition True and no deletionTimestamp (never phase);
    `desired` is the Deployment's `spec.replicas` (None until a Deployment event is seen)."""
    ready: dict[str, bool] = {}
    desired: int | None = None
    out: list[dict[str, Any]] = []
    for e in _sorted(events):
        obj = e.get("object")
        if not isinstance(obj, Mapping):
            continue
        if e.get("kind") == "Pod":
            uid = _uid(obj)
            if not uid:
                continue
            if e.get("type") == "DELETED":
                ready.pop(uid, None)
            else:
                ready[uid] = pod_ready(obj)
        elif e.get("kind") == "Deployment":
            desired = (obj.get("spec") or {}).get("replicas", desired)
        else:
            continue
        n = sum(ready.values())
        if out and out[-1]["ready"] == n and out[-1]["desired"] == desired:
            continue
        out.append({"t": round(float(e["t"]), 3), "ready": n, "desired": desired})
    return out


# ----------------------------------------------------------------------------------------- endpoints
def _endpoint_sets(events: Sequence[Mapping[str, Any]]) -> list[tuple[float, frozenset[str]]]:
    """Union of ready endpoint pod uids over all EndpointSlices, after each EndpointSlice event."""
    slices: dict[str, frozenset[str]] = {}
    out: list[tuple[float, frozenset[str]]] = []
    for e in _of_kind(events, "EndpointSlice"):
        name = _meta(e["object"]).get("name") or _uid(e["object"]) or "?"
        if e.get("type") == "DELETED":
            slices.pop(name, None)
        else:
            uids = set()
            for ep in e["object"].get("endpoints") or []:
                ready = (ep.get("conditions") or {}).get("ready")
                ref = ep.get("targetRef") or {}
                # API semantics: a nil `ready` means ready (EndpointConditions docs)
                if (ready is None or ready is True) and ref.get("uid"):
                    uids.add(ref["uid"])
            slices[name] = frozenset(uids)
        union: frozenset[str] = frozenset().union(*slices.values()) if slices else frozenset()
        out.append((float(e["t"]), union))
    return out


def _set_at(series: Sequence[tuple[float, frozenset[str]]], t: float) -> frozenset[str] | None:
    """The ready set in force just before time t (None if no EndpointSlice event before t)."""
    cur: frozenset[str] | None = None
    for ts, s in series:
        if ts >= t:
            break
        cur = s
    return cur


# ------------------------------------------------------------------------------------------------ load
def error_rate(load: Sequence[Mapping[str, Any]] | None) -> tuple[float | None, int, int]:
    """(failures / requests, requests, failures) over per-second stats; rate None without requests."""
    if not load:
        return None, 0, 0
    req = sum(int(b.get("requests") or 0) for b in load)
    fail = sum(int(b.get("failures") or 0) for b in load)
    return (fail / req if req else None), req, fail


# ----------------------------------------------------------------------------------------------- kills
def _created_after(h: _PodHistory, delete_server: float | None, t_req: float) -> bool:
    """The pod's server creation time is not before the delete (1 s resolution: same second
    counts). Without the victim's deletionTimestamp, the delete request's local time is used."""
    if h.created_server is None:
        return False
    ref = delete_server if delete_server is not None else t_req
    return h.created_server >= math.floor(ref)


def _new_timeline(k: Mapping[str, Any], i: int, mttr_to: str, notes: list[str]) -> KillTimeline:
    """The timeline of the i-th kill record before anything is paired or observed."""
    victim = k.get("victim") or {}
    t0 = float(k["t"])
    return {
        "kill_id": str(k.get("kill_id") or f"kill-{i + 1}"),
        "round": victim.get("round"),
        "victim": victim.get("name") or "?",
        "victim_uid": victim.get("uid") or "?",
        "owner_uid": victim.get("owner_uid"),
        "t_delete_requested": _r(float(k.get("t_request") or t0)),
        "t_delete_accepted": round(t0, 3),
        "replacement": None,
        "replacement_uid": None,
        "phases": [],
        "recovered": False,
        "mttr_s": None,
        "mttr_definition": f"delete accepted → {mttr_to}",
        "ready_s": None,
        "reason": None,
        "failed_requests": None,
        "requests": None,
        "outage_s": None,
        "overlaps_with": [],
        "server": {},
        "notes": notes,
    }


def _replacement(
    pods: Mapping[str, _PodHistory],
    v_uid: str | None,
    owner: str | None,
    t_req: float,
    delete_server: float | None,
    claimed: set[str],
) -> _PodHistory | None:
    """Pairing through the owner reference: the first pod of the same ReplicaSet (not yet claimed by
    an earlier kill) seen being created after the delete request."""
    candidates = []
    for h in pods.values():
        if h.uid == v_uid or h.uid in claimed or owner is None or h.owner_uid != owner:
            continue
        if h.first_seen is None or h.first_seen < t_req:
            continue  # existed (or was listed) before the delete: not a replacement
        if h.first_seen_type == "SYNC" and not _created_after(h, delete_server, t_req):
            continue  # listed by a (re)sync, and the server does not date it after the delete
        if (
            delete_server is not None
            and h.created_server is not None
            and h.created_server < math.floor(delete_server)
        ):
            continue  # the server says it predates the delete
        candidates.append(h)
    candidates.sort(key=lambda h: h.first_seen or math.inf)
    return candidates[0] if candidates else None


def _endpoints_back(
    eps: Sequence[tuple[float, frozenset[str]]],
    t_req: float,
    v_uid: str | None,
    repl: _PodHistory,
    notes: list[str],
) -> float | None:
    """When the ready endpoints were back to the pre-kill count with the replacement in and the victim
    out; the degradation (victim out of the ready set) must be seen first."""
    if not eps:
        notes.append("no EndpointSlice events recorded")
        return None
    before = _set_at(eps, t_req)
    baseline = len(before) if before is not None else None
    dropped: float | None = None
    if before is not None and v_uid not in before:
        dropped = t_req  # victim was not a ready endpoint at the kill: already degraded
        notes.append("victim was not a ready endpoint when killed")
    ep_obs: float | None = None
    for ts, s in eps:
        if ts < t_req:
            continue
        if dropped is None and v_uid not in s:
            dropped = ts
        if (
            dropped is not None
            and repl.uid in s
            and v_uid not in s
            and (baseline is None or len(s) >= baseline)
        ):
            ep_obs = ts
            break
    if dropped is None:
        notes.append("victim endpoint removal never observed")
    elif ep_obs is None:
        notes.append("ready endpoints never returned to the pre-kill count with the replacement")
    return ep_obs


def _user_traffic(
    tl: KillTimeline, load: Sequence[Mapping[str, Any]], t0: float, next_t0: float, notes: list[str]
) -> float | None:
    """Fill the kill window's request figures; return when users were served again (1 s buckets)."""
    window = failcount.kill_window(load, t0, next_t0)  # each bucket in one window only
    tl["failed_requests"] = sum(int(b.get("failures") or 0) for b in window)
    tl["requests"] = sum(int(b.get("requests") or 0) for b in window)
    failing = [b for b in window if int(b.get("failures") or 0) > 0]
    if not failing:
        tl["outage_s"] = 0.0
        return t0  # nothing failed: the phase is empty (clamped to the previous boundary)
    last_fail_end = float(failing[-1]["t"]) + 1.0
    tl["outage_s"] = round(last_fail_end - float(failing[0]["t"]), 3)
    # served again: any later second with a successful request, in this window or after it (the
    # window can end one bucket after its last failure: the next kill's window holds the next second)
    clean_after = [
        b
        for b in load
        if float(b["t"]) >= last_fail_end and int(b.get("requests") or 0) > int(b.get("failures") or 0)
    ]
    if not clean_after:
        notes.append("no successful traffic observed after the last failure in the kill window")
        return None
    return last_fail_end


def _observations(
    repl: _PodHistory | None, ep_obs: float | None, notes: list[str]
) -> list[tuple[str, float | None, float]]:
    """(phase, observed receive time, resolution) for the pod and endpoint phases of one kill."""
    created_obs, created_res = (repl.first_seen if repl else None), LOCAL_RESOLUTION_S
    if repl is not None and repl.first_seen_type == "SYNC":
        # the watch was relisting while the replacement was created: its creation comes from the
        # server timestamp (1 s), the later phases are bounded by the relist's receive time
        created_obs, created_res = repl.created_server, SERVER_RESOLUTION_S
        notes.append(
            f"replacement first seen by a relist at {repl.first_seen:.3f}; created at "
            f"{repl.created_server} by its server timestamp; later phases are upper bounds"
        )
    return [
        ("replacement_created", created_obs, created_res),
        ("scheduled", repl.scheduled if repl else None, LOCAL_RESOLUTION_S),
        ("containers_started", repl.started if repl else None, LOCAL_RESOLUTION_S),
        ("ready", repl.ready if repl else None, LOCAL_RESOLUTION_S),
        ("endpoints_ready", ep_obs, LOCAL_RESOLUTION_S),
    ]


def _apply_phases(
    tl: KillTimeline, t0: float, observations: list[tuple[str, float | None, float]], mttr_to: str
) -> None:
    """Chain the phases from the delete; MTTR = end of `mttr_to`, else the reason it is missing."""
    notes = tl["notes"]
    phases, missing = _chain(t0, observations)
    tl["phases"] = phases
    ends = {p["name"]: p["end"] for p in phases}
    if "ready" in ends:
        tl["ready_s"] = round(ends["ready"] - t0, 3)
    if mttr_to in ends:
        tl["mttr_s"] = round(ends[mttr_to] - t0, 3)
        tl["recovered"] = True
    elif tl["reason"] is None:
        tl["reason"] = f"phase {missing} never observed" + (f" ({'; '.join(notes)})" if notes else "")
    if any(p.get("clamped") for p in phases):
        notes.append("some observations arrived before the previous boundary and were clamped")


def _server_check(delete_server: float | None, repl: _PodHistory | None) -> dict[str, Any]:
    """The server-side cross-check (1 s resolution)."""
    server: dict[str, Any] = {"resolution_s": SERVER_RESOLUTION_S}
    if delete_server is not None:
        server["delete_accepted"] = delete_server
    if repl is not None:
        server["replacement_created"] = repl.created_server
        server["ready"] = repl.ready_server
        if delete_server is not None and repl.ready_server is not None:
            server["ready_s"] = round(repl.ready_server - delete_server, 3)
    return server


def kill_timelines(
    events: Iterable[Mapping[str, Any]],
    load: Sequence[Mapping[str, Any]] | None = None,
    mttr_to: Literal["endpoints_ready", "ready"] = "endpoints_ready",
) -> list[KillTimeline]:
    """One timeline per kill record, in kill order.

    MTTR (`mttr_s`, seconds) = delete accepted → end of phase `mttr_to` (default: the Service's ready
    EndpointSlice endpoints back to full with the replacement in and the victim out). A kill whose
    replacement never became Ready (or whose endpoints never came back) has `recovered: False`,
    `mttr_s: None` and a `reason`. `failed_requests` counts Locust failures in the kill's window at
    1 s resolution, each second in one window only (`scaleproof.failcount`: a second that straddles
    the next kill belongs to the next kill)."""
    evs = _sorted(events)
    kills = [e for e in evs if e.get("kind") == "Kill"]
    pods = _pod_histories(evs)
    eps = _endpoint_sets(evs)
    load_sorted = sorted(load or [], key=lambda b: float(b["t"]))
    claimed: set[str] = set()
    out: list[KillTimeline] = []
    kill_ts = [float(k["t"]) for k in kills]

    for i, k in enumerate(kills):
        victim = k.get("victim") or {}
        v_uid, owner = victim.get("uid"), victim.get("owner_uid")
        t0 = float(k["t"])
        t_req = float(k.get("t_request") or t0)
        notes: list[str] = []
        tl = _new_timeline(k, i, mttr_to, notes)
        vh = pods.get(v_uid or "")
        delete_server = vh.deleted_server if vh else None
        repl = _replacement(pods, v_uid, owner, t_req, delete_server, claimed)
        if repl is None:
            tl["reason"] = (
                "no replacement pod of the same owner was observed after the delete"
                if owner
                else "victim has no owner reference: no replacement can be paired"
            )
        else:
            claimed.add(repl.uid)
            tl["replacement"], tl["replacement_uid"] = repl.name, repl.uid
        ep_obs = _endpoints_back(eps, t_req, v_uid, repl, notes) if repl and repl.ready is not None else None
        user_obs: float | None = None
        if load_sorted:
            next_t0 = kill_ts[i + 1] if i + 1 < len(kills) else math.inf
            user_obs = _user_traffic(tl, load_sorted, t0, next_t0, notes)
        observations = _observations(repl, ep_obs, notes)
        if load_sorted:
            observations.append(("user_recovered", user_obs, LOAD_RESOLUTION_S))
        _apply_phases(tl, t0, observations, mttr_to)
        end_t = t0 + (tl["mttr_s"] if tl["mttr_s"] is not None else math.inf)
        tl["overlaps_with"] = [
            str(other.get("kill_id") or f"kill-{j + 1}")
            for j, other in enumerate(kills)
            if j != i and t0 <= float(other["t"]) <= end_t
        ]
        tl["server"] = _server_check(delete_server, repl)
        out.append(tl)
    return out


def mttr_summary(timelines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Summary of `kill_timelines`: mean, p50, p95 (linear interpolation), max, min in seconds.

    `count` = kills, `recovered` / `unrecovered` counts. If any kill did not recover the figures are
    None with a `reason` (an MTTR over the survivors only would flatter the system); `*_recovered_only`
    keep the survivors' figures for diagnosis. `resolution_s` is the coarsest phase resolution used."""
    n = len(timelines)
    rec = [float(t["mttr_s"]) for t in timelines if t.get("recovered") and t.get("mttr_s") is not None]
    unrec = [t for t in timelines if not (t.get("recovered") and t.get("mttr_s") is not None)]
    res = [
        float(p.get("resolution_s") or LOCAL_RESOLUTION_S)
        for t in timelines
        for p in t.get("phases") or []
        if p.get("name") != "user_recovered"
    ]
    stats = {
        "mean": round(sum(rec) / len(rec), 3) if rec else None,
        "p50": _r(percentile(rec, 50)),
        "p95": _r(percentile(rec, 95)),
        "max": _r(max(rec)) if rec else None,
        "min": _r(min(rec)) if rec else None,
    }
    summary: dict[str, Any] = {
        "count": n,
        "recovered": len(rec),
        "unrecovered": len(unrec),
        "resolution_s": max(res) if res else LOCAL_RESOLUTION_S,
        "definition": (timelines[0].get("mttr_definition") if timelines else None),
        "reason": None,
    }
    if n == 0:
        summary.update({k: None for k in stats})
        summary["reason"] = "no kill was recorded"
    elif unrec:
        summary.update({k: None for k in stats})
        summary.update({f"{k}_recovered_only": v for k, v in stats.items()})
        summary["reason"] = f"{len(unrec)} of {n} kills did not recover: " + "; ".join(
            f"{t.get('kill_id')}: {t.get('reason')}" for t in unrec
        )
    else:
        summary.update(stats)
    return summary


# --------------------------------------------------------------------------------------------- scaling
def _hpa_over_target(obj: Mapping[str, Any]) -> bool:
    """Any current metric of the HPA status above its spec target (utilization or average value)."""
    targets: dict[tuple[str, str], Mapping[str, Any]] = {}
    for m in (obj.get("spec") or {}).get("metrics") or []:
        mtype = m.get("type", "")
        body = m.get(_lower_first(mtype)) or {}
        name = body.get("name") or (body.get("metric") or {}).get("name") or ""
        targets[(mtype, name)] = body.get("target") or {}
    for cm in (obj.get("status") or {}).get("currentMetrics") or []:
        mtype = cm.get("type", "")
        body = cm.get(_lower_first(mtype)) or {}
        name = body.get("name") or (body.get("metric") or {}).get("name") or ""
        cur = body.get("current") or {}
        tgt = targets.get((mtype, name)) or {}
        if tgt.get("averageUtilization") is not None and cur.get("averageUtilization") is not None:
            if float(cur["averageUtilization"]) > float(tgt["averageUtilization"]):
                return True
        for key in ("averageValue", "value"):
            if tgt.get(key) is not None and cur.get(key) is not None:
                a, b = _quantity(cur[key]), _quantity(tgt[key])
                if a is not None and b is not None and a > b:
                    return True
    return False


def _lower_first(s: str) -> str:
    return s[:1].lower() + s[1:] if s else s


def _quantity(v: Any) -> float | None:
    """A Kubernetes quantity (`1500u`, `500m`, `2Gi`, `1e3`) as a float; None when malformed."""
    if isinstance(v, int | float):
        return float(v)
    from kubernetes.utils.quantity import parse_quantity  # a pure function: no client is built

    try:
        return float(parse_quantity(str(v)))
    except (ValueError, ArithmeticError):
        return None


_NEW_SIZE = re.compile(r"New size:\s*(\d+)")
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def go_duration(value: Any) -> float | None:
    """A Go duration string as metrics-server writes `window` (`10.149687104s`, `1m0.5s`) in seconds."""
    parts = _GO_DURATION.findall(str(value or ""))
    return sum(float(n) * _GO_UNITS[u] for n, u in parts) if parts else None


def _pod_cpu_requests(events: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Pod name → CPU cores requested (sum over containers), from the recorded Pod objects."""
    out: dict[str, float] = {}
    for e in _of_kind(events, "Pod"):
        obj = e["object"]
        reqs = [_quantity(c.get("cpu")) for c in (obj.get("spec") or {}).get("requests") or []]
        if reqs and all(r is not None for r in reqs):
            out[str(_meta(obj).get("name"))] = sum(r for r in reqs if r is not None)
    return out


def _cpu_target(events: Sequence[Mapping[str, Any]]) -> dict[str, float] | None:
    """The HPA's CPU Resource target: `{"utilization_pct": …}` or `{"average_cores": …}` (last spec seen)."""
    target = None
    for e in _of_kind(events, "HorizontalPodAutoscaler"):
        for m in (e["object"].get("spec") or {}).get("metrics") or []:
            res = m.get("resource") or {}
            if m.get("type") != "Resource" or res.get("name") != "cpu":
                continue
            t = res.get("target") or {}
            if t.get("averageUtilization") is not None:
                target = {"utilization_pct": float(t["averageUtilization"])}
            elif t.get("averageValue") is not None and _quantity(t["averageValue"]) is not None:
                target = {"average_cores": float(_quantity(t["averageValue"]) or 0.0)}
    return target


def pod_metric_samples(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per recorded PodMetrics poll: `{"t" (receive), "timestamp" (newest sample, server),
    "window_s", "pods", "usage_cores", "requests_cores", "utilization_pct"}` (utilization over the
    pods whose CPU request is known, as the HPA computes it: sum of usage / sum of requests)."""
    evs = _sorted(events)
    requests = _pod_cpu_requests(evs)
    out = []
    for e in evs:
        if e.get("kind") != "PodMetrics" or not e.get("items"):
            continue
        stamps = [_ts(i.get("timestamp")) for i in e["items"]]
        windows = [w for w in (go_duration(i.get("window")) for i in e["items"]) if w is not None]
        cores = {
            str(i.get("name")): sum(_quantity(c.get("cpu")) or 0.0 for c in i.get("containers") or [])
            for i in e["items"]
        }
        usage = sum(c for n, c in cores.items() if n in requests)
        req = sum(requests[n] for n in cores if n in requests)
        known = [s for s in stamps if s is not None]
        out.append(
            {
                "t": round(float(e["t"]), 3),
                "timestamp": max(known) if known else None,
                "window_s": _r(percentile(windows, 50)),
                "pods": len(e["items"]),
                "usage_cores": round(sum(cores.values()), 4),
                "requests_cores": round(req, 4) if req else None,
                "utilization_pct": round(100.0 * usage / req, 1) if req else None,
            }
        )
    return out


def first_cpu_sample_above_target(events: Iterable[Mapping[str, Any]], since: float) -> dict[str, Any] | None:
    """The first PodMetrics poll with a sample taken at or after `since` (server time, 1 s) whose CPU
    is above the HPA's CPU target; None without samples or without a CPU target."""
    evs = _sorted(events)
    target = _cpu_target(evs)
    if target is None:
        return None
    for s in pod_metric_samples(evs):
        if s["timestamp"] is None or s["timestamp"] < math.floor(since):
            continue
        pct, pods = s["utilization_pct"], max(1, int(s["pods"]))
        above = (
            pct is not None and pct > target["utilization_pct"]
            if "utilization_pct" in target
            else s["usage_cores"] / pods > target["average_cores"]
        )
        if above:
            return {**s, "target": target}
    return None


def _sample_interval(events: Sequence[Mapping[str, Any]]) -> float | None:
    """metrics-server's resolution as measured: median gap between a pod's successive sample times."""
    per_pod: dict[str, set[float]] = {}
    for e in events:
        if e.get("kind") != "PodMetrics":
            continue
        for item in e.get("items") or []:
            ts = _ts(item.get("timestamp"))
            if ts is not None:
                per_pod.setdefault(str(item.get("name")), set()).add(ts)
    gaps = [b - a for ts in per_pod.values() for a, b in zip(sorted(ts), sorted(ts)[1:], strict=False)]
    return _r(percentile(gaps, 50))


def scale_cadence(
    events: Iterable[Mapping[str, Any]],
    tl: Mapping[str, Any],
    hpa_sync_period_s: float | None,
    metrics_resolution_s: float | None,
    sources: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The controllers' cadence beside a `time_to_scale` timeline, and the best case it implies.

    The metric pipeline (metric_above_target + hpa_decision) waits for one metrics-server scrape
    (≤ resolution) and one HPA sync (≤ sync period); a scale-up stabilisation window adds to it.
    `best_case_s` = the run's time-to-scale without those waits (deployment_scaled + target_ready +
    stabilisation); `cadence_bound_s` = best case + resolution + sync period: a run inside
    [best, bound] was as fast as this cadence allows; `pipeline_wait_s` is what this run waited."""
    evs = _sorted(events)
    hpa = _of_kind(evs, "HorizontalPodAutoscaler")
    behavior = ((hpa[-1]["object"].get("spec") or {}).get("behavior") or {}) if hpa else {}
    stab = (behavior.get("scaleUp") or {}).get("stabilizationWindowSeconds")
    windows = [s["window_s"] for s in pod_metric_samples(evs) if s["window_s"] is not None]
    durations = {p["name"]: float(p["duration_s"]) for p in tl.get("phases") or []}
    out: dict[str, Any] = {
        "metrics_resolution_s": metrics_resolution_s,
        "metrics_resolution_measured_s": _sample_interval(evs),
        "metrics_window_s": _r(percentile(windows, 50)),
        "hpa_sync_period_s": hpa_sync_period_s,
        "scale_up_stabilization_s": float(stab) if stab is not None else 0.0,
        "sources": dict(sources or {}),
        "pipeline_wait_s": None,
        "best_case_s": None,
        "cadence_bound_s": None,
    }
    if stab is None:
        out["sources"]["scale_up_stabilization_s"] = "HPA spec has none: Kubernetes default 0 s for scale-up"
    if tl.get("time_to_scale_s") is None:
        return out
    wait = durations.get("metric_above_target", 0.0) + durations.get("hpa_decision", 0.0)
    best = (
        durations.get("deployment_scaled", 0.0)
        + durations.get("target_ready", 0.0)
        + out["scale_up_stabilization_s"]
    )
    resolution = out["metrics_resolution_measured_s"] or metrics_resolution_s
    out["pipeline_wait_s"] = round(wait, 3)
    out["best_case_s"] = round(best, 3)
    if resolution is not None and hpa_sync_period_s is not None:
        out["cadence_bound_s"] = round(best + float(resolution) + float(hpa_sync_period_s), 3)
    return out


def _new_scale_timeline(target_replicas: int, notes: list[str]) -> ScaleTimeline:
    return {
        "phases": [],
        "time_to_scale_s": None,
        "reason": None,
        "target_replicas": target_replicas,
        "baseline_replicas": None,
        "max_ready_replicas": None,
        "replicas": [],
        "decisions": [],
        "flaps": 0,
        "flapping": False,
        "server": {"resolution_s": SERVER_RESOLUTION_S},
        "notes": notes,
    }


def _load_times(
    evs: Sequence[Mapping[str, Any]], load: Sequence[Mapping[str, Any]] | None, notes: list[str]
) -> tuple[float | None, float | None]:
    """(load start, load reached): the Load STARTED record, else the first second with users; reached
    = the first second at the full user count (the STARTED record's users caps it)."""
    load_sorted = sorted(load or [], key=lambda b: float(b["t"]))
    starts = [e for e in evs if e.get("kind") == "Load" and e.get("type") == "STARTED"]
    busy = [b for b in load_sorted if int(b.get("users") or 0) > 0]
    t_load_start: float | None = float(starts[0]["t"]) if starts else (float(busy[0]["t"]) if busy else None)
    t_reached: float | None = None
    if busy:
        full = max(int(b.get("users") or 0) for b in busy)
        if starts and starts[0].get("users"):
            full = min(full, int(starts[0]["users"]))
        t_reached = next(float(b["t"]) for b in busy if int(b.get("users") or 0) >= full)
        if t_load_start is not None:
            t_reached = max(t_reached, t_load_start)
    elif starts:
        t_reached = t_load_start
        notes.append("no per-second load stats: load_reached = load start (no ramp information)")
    return t_load_start, t_reached


def _hpa_watch(
    evs: Sequence[Mapping[str, Any]], tl: ScaleTimeline, t_load_start: float
) -> tuple[int | None, float | None, float | None]:
    """HPA decisions (every change of desiredReplicas, into `tl["decisions"]`), the replica count
    before the load, the first decision above it and the first status with the metric above target."""
    desired_prev: int | None = None
    baseline_desired: int | None = None
    t_decision: float | None = None
    t_metric: float | None = None
    for e in _of_kind(evs, "HorizontalPodAutoscaler"):
        st = e["object"].get("status") or {}
        d = st.get("desiredReplicas")
        t = float(e["t"])
        if d is not None:
            if desired_prev is not None and d != desired_prev:
                tl["decisions"].append({"t": round(t, 3), "from": desired_prev, "to": d})
            if t < t_load_start:
                # the replica count the HPA actually had: its desiredReplicas can be stale from before
                # a reset (seen on the real cluster: current 1, desired 3 right after scaling down)
                cur = st.get("currentReplicas")
                baseline_desired = min(d, int(cur)) if cur is not None else d
            desired_prev = d
            if (
                t >= t_load_start
                and t_decision is None
                and baseline_desired is not None
                and d > baseline_desired
            ):
                t_decision = t
        if t >= t_load_start and t_metric is None and _hpa_over_target(e["object"]):
            t_metric = t
    return baseline_desired, t_decision, t_metric


def _rescale_event(
    evs: Sequence[Mapping[str, Any]], t_load_start: float, baseline: int | None, t_decision: float | None
) -> float | None:
    """The decision time, earlier if a `SuccessfulRescale` Event above the baseline came first."""
    for e in _of_kind(evs, "Event"):
        o = e["object"]
        if o.get("reason") != "SuccessfulRescale" or float(e["t"]) < t_load_start:
            continue
        m = _NEW_SIZE.search(str(o.get("message") or o.get("note") or ""))
        if m and baseline is not None and int(m.group(1)) <= baseline:
            continue
        if t_decision is None or float(e["t"]) < t_decision:
            t_decision = float(e["t"])
        break
    return t_decision


def _metric_breach(
    evs: Sequence[Mapping[str, Any]],
    tl: ScaleTimeline,
    t_load_start: float,
    baseline: int | None,
    times: tuple[float | None, float | None],
    samples: tuple[Sequence[tuple[float, float]] | None, float | None],
) -> tuple[float | None, float, float | None]:
    """(metric above target, its resolution, HPA decision): the HPA status or the given samples, unless
    metrics-server's own sample time above target is recorded (then the decision is the reaction to it)."""
    t_metric, t_decision = times
    metric_samples, metric_threshold = samples
    notes = tl["notes"]
    if metric_samples and metric_threshold is not None:
        for ts, v in sorted(metric_samples):
            if ts >= t_load_start and v > metric_threshold:
                t_metric = ts if t_metric is None else min(t_metric, ts)
                break
    metric_res = LOCAL_RESOLUTION_S
    tl["metric_source"] = "HPA status currentMetrics (watch receive time)"
    sample = first_cpu_sample_above_target(evs, t_load_start)
    if sample is not None and t_metric is not None and t_metric < float(sample["timestamp"]):
        notes.append(
            "the HPA status showed CPU above target before the first recorded sample above it "
            "(a sample between two polls, or the HPA's pod set differs): the status time is kept"
        )
    elif sample is not None:
        # metrics-server's own sample time: the decision phase becomes the HPA's reaction to it
        t_metric, metric_res = float(sample["timestamp"]), SERVER_RESOLUTION_S
        tl["metric_source"] = "metrics.k8s.io PodMetrics sample timestamp"
        tl["first_sample_above_target"] = sample
        acted = [d for d in tl["decisions"] if baseline is not None and d["to"] > baseline]
        after = [d["t"] for d in acted if d["t"] >= t_metric]
        if acted and not after:
            notes.append("the HPA scaled before any CPU sample above target (another metric?)")
        elif after:
            t_decision = (
                after[0] if t_decision is None or t_decision < t_metric else min(t_decision, after[0])
            )
    return t_metric, metric_res, t_decision


def _deployment_scaled(
    evs: Sequence[Mapping[str, Any]], t_load_start: float
) -> tuple[int | None, float | None]:
    """(spec.replicas before the load, first change above it after the load started)."""
    baseline_spec: int | None = None
    t_deploy: float | None = None
    for e in _of_kind(evs, "Deployment"):
        r = (e["object"].get("spec") or {}).get("replicas")
        if r is None:
            continue
        if float(e["t"]) < t_load_start:
            baseline_spec = r
        elif t_deploy is None and baseline_spec is not None and r > baseline_spec:
            t_deploy = float(e["t"])
    return baseline_spec, t_deploy


def _scale_phases(
    tl: ScaleTimeline,
    series: Sequence[Mapping[str, Any]],
    t_load_start: float,
    observations: list[tuple[str, float | None, float]],
) -> None:
    """Chain the phases up to `target_replicas` Ready; time-to-scale, or why there is none."""
    target_replicas, notes = tl["target_replicas"], tl["notes"]
    before = [s for s in series if s["t"] < t_load_start]
    if before and before[-1]["ready"] >= target_replicas:
        tl["reason"] = (
            f"already {before[-1]['ready']} Ready replicas (≥ {target_replicas}) before the load started: "
            "nothing to measure (reset the HPA/replicas first)"
        )
    after = [s for s in series if s["t"] >= t_load_start]
    tl["max_ready_replicas"] = max((s["ready"] for s in after), default=None)
    t_target = next((float(s["t"]) for s in after if s["ready"] >= target_replicas), None)
    phases, missing = _chain(t_load_start, [*observations, ("target_ready", t_target, LOCAL_RESOLUTION_S)])
    tl["phases"] = phases
    if tl["reason"] is None:
        if missing is None:
            tl["time_to_scale_s"] = round(phases[-1]["end"] - phases[0]["end"], 3)
        else:
            tl["reason"] = f"phase {missing} never observed"
            if missing == "metric_above_target" and t_target is not None:
                notes.append("target reached without an observed metric breach (no HPA status/samples?)")


def time_to_scale(
    events: Iterable[Mapping[str, Any]],
    load: Sequence[Mapping[str, Any]] | None,
    target_replicas: int = 3,
    metric_samples: Sequence[tuple[float, float]] | None = None,
    metric_threshold: float | None = None,
) -> ScaleTimeline:
    """Decompose scale-out under load into consecutive phases, in seconds:

    load_reached (Locust at its full user count) → metric_above_target (HPA status current metric above
    its target, or the first `metric_samples` value above `metric_threshold`, e.g. from Prometheus) →
    hpa_decision (HPA `status.desiredReplicas` above its pre-load value, or a `SuccessfulRescale`
    Event) → deployment_scaled (Deployment `spec.replicas` above its pre-load value) → target_ready
    (`target_replicas` pods Ready, no deletionTimestamp).

    `time_to_scale_s` = load_reached → target_ready. None with `reason` when a phase is missing or the
    target was already met before the load. HPA flapping (desiredReplicas changing direction) is
    counted in `flaps`; `decisions` lists every desiredReplicas change."""
    evs = _sorted(events)
    notes: list[str] = []
    tl = _new_scale_timeline(target_replicas, notes)
    t_load_start, t_reached = _load_times(evs, load, notes)
    series = ready_series(evs)
    tl["replicas"] = series
    if t_load_start is None or t_reached is None:
        tl["reason"] = "no load start recorded (no Load event and no per-second stats with users)"
        return tl

    baseline_desired, t_decision, t_metric = _hpa_watch(evs, tl, t_load_start)
    t_decision = _rescale_event(evs, t_load_start, baseline_desired, t_decision)
    t_metric, metric_res, t_decision = _metric_breach(
        evs, tl, t_load_start, baseline_desired, (t_metric, t_decision), (metric_samples, metric_threshold)
    )
    deltas = [d["to"] - d["from"] for d in tl["decisions"]]
    tl["flaps"] = sum(1 for a, b in zip(deltas, deltas[1:], strict=False) if (a > 0) != (b > 0))
    tl["flapping"] = tl["flaps"] > 0
    baseline_spec, t_deploy = _deployment_scaled(evs, t_load_start)
    tl["baseline_replicas"] = baseline_spec if baseline_spec is not None else baseline_desired

    _scale_phases(
        tl,
        series,
        t_load_start,
        [
            ("load_reached", t_reached, LOAD_RESOLUTION_S),
            ("metric_above_target", t_metric, metric_res),
            ("hpa_decision", t_decision, LOCAL_RESOLUTION_S),
            ("deployment_scaled", t_deploy, LOCAL_RESOLUTION_S),
        ],
    )
    return tl


# ---------------------------------------------------------------------------------------------- shards
def shard_spread(per_shard: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Spread of a collection over shards and nodes.

    `per_shard`: `[{"shard", "node", "objects", "queries"?}]`, one row per shard replica (`queries` is
    a counter delta over a query burst, None when unknown). Replicas of one shard are counted once
    (max objects, sum of queries). Returns `shards` (distinct shards), `shards_with_data` (holding ≥ 1
    object), `nodes_with_shards` (distinct nodes holding a shard with data), `documents_total` (sum
    over distinct shards), `shards_queried` (distinct shards whose query delta > 0; None if no shard
    had a query figure) and `per_shard` (normalised rows)."""
    rows = [dict(r) for r in per_shard]
    objects: dict[str, int] = {}
    queries: dict[str, float | None] = {}
    nodes_with_data: set[str] = set()
    norm: list[dict[str, Any]] = []
    for r in rows:
        shard = str(r.get("shard") or r.get("name") or "?")
        node = str(r.get("node") or "?")
        obj = r.get("objects", r.get("object_count"))
        obj_i = int(obj) if isinstance(obj, int | float) else 0
        objects[shard] = max(objects.get(shard, 0), obj_i)
        q = r.get("queries")
        if isinstance(q, int | float):
            queries[shard] = (queries.get(shard) or 0) + float(q)
        else:
            queries.setdefault(shard, None)
        if obj_i > 0:
            nodes_with_data.add(node)
        norm.append({"shard": shard, "node": node, "objects": obj if obj is None else obj_i, "queries": q})
    known_q = {s: q for s, q in queries.items() if q is not None}
    return {
        "shards": len(objects),
        "shards_with_data": sum(1 for v in objects.values() if v > 0),
        "nodes_with_shards": len(nodes_with_data),
        "documents_total": sum(objects.values()),
        "shards_queried": (sum(1 for q in known_q.values() if q > 0) if known_q else None),
        "per_shard": norm,
    }
