"""Pod timelines: one timeline per kill (MTTR and its phases), the MTTR summary, the Ready series.

Pure functions over the recorded event log (`scaleproof.phases` describes its lines and clocks);
objects are read through `scaleproof.kobjects`. No I/O, no clock: feed synthetic logs in tests.

The recovery clock only stops after the degradation was observed: the replacement must be created
after the delete (same owner ReplicaSet uid, first seen after the delete request, never one that
existed before; one first seen by a relist after a watch expiry counts when its server creation time
is not before the delete) and Ready; "endpoints back to full" needs the victim's endpoint to have
left the ready set first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, TypedDict

from scaleproof import failcount, kobjects
from scaleproof.kobjects import server_time
from scaleproof.phases import (
    LOAD_RESOLUTION_S,
    LOCAL_RESOLUTION_S,
    SERVER_RESOLUTION_S,
    Observation,
    Phase,
    chain,
    of_kind,
    percentile,
    rounded,
    sorted_events,
)

__all__ = ["KILL_PHASES", "KillTimeline", "endpoint_sets", "kill_timelines", "mttr_summary", "ready_series"]

KILL_PHASES = (
    "replacement_created",
    "scheduled",
    "containers_started",
    "ready",
    "endpoints_ready",
    "user_recovered",
)


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
    victim_node: str | None  # spec.nodeName as the watches saw it (None in logs without it)
    replacement_node: str | None
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


# ------------------------------------------------------------------------------------------ pod states
class _PodHistory:
    """Per pod uid: the receive time of the first event showing each state, and server timestamps."""

    def __init__(self, uid: str) -> None:
        self.uid = uid
        self.name: str | None = None
        self.owner_uid: str | None = None
        self.node: str | None = None
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
        meta = kobjects.meta(obj)
        self.name = meta.get("name") or self.name
        self.owner_uid = kobjects.controller_ref(obj).get("uid") or self.owner_uid
        self.node = (obj.get("spec") or {}).get("nodeName") or self.node
        if self.first_seen is None:
            self.first_seen, self.first_seen_type = t, etype
            self.created_server = server_time(meta.get("creationTimestamp"))
        if meta.get("deletionTimestamp") and self.deletion_seen is None:
            self.deletion_seen = t
            dts = server_time(meta.get("deletionTimestamp"))
            grace = meta.get("deletionGracePeriodSeconds") or 0
            self.deleted_server = None if dts is None else dts - float(grace)
        if etype == "DELETED":
            self.gone = t if self.gone is None else self.gone
            return
        if self.scheduled is None and kobjects.pod_scheduled(obj):
            self.scheduled = t
        if self.started is None and kobjects.pod_started(obj):
            self.started = t
        if self.ready is None and kobjects.pod_ready(obj):
            self.ready = t
            c = kobjects.condition(obj, "Ready") or {}
            self.ready_server = server_time(c.get("lastTransitionTime"))


def _pod_histories(events: Sequence[Mapping[str, Any]]) -> dict[str, _PodHistory]:
    out: dict[str, _PodHistory] = {}
    for e in of_kind(events, "Pod"):
        uid = kobjects.uid(e["object"])
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
    for e in sorted_events(events):
        obj = e.get("object")
        if not isinstance(obj, Mapping):
            continue
        if e.get("kind") == "Pod":
            uid = kobjects.uid(obj)
            if not uid:
                continue
            if e.get("type") == "DELETED":
                ready.pop(uid, None)
            else:
                ready[uid] = kobjects.pod_ready(obj)
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
def endpoint_sets(events: Sequence[Mapping[str, Any]]) -> list[tuple[float, frozenset[str]]]:
    """Union of ready endpoint pod uids over all EndpointSlices, after each EndpointSlice event."""
    slices: dict[str, frozenset[str]] = {}
    out: list[tuple[float, frozenset[str]]] = []
    for e in of_kind(events, "EndpointSlice"):
        name = kobjects.meta(e["object"]).get("name") or kobjects.uid(e["object"]) or "?"
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
        "t_delete_requested": rounded(float(k.get("t_request") or t0)),
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


def _observations(repl: _PodHistory | None, ep_obs: float | None, notes: list[str]) -> list[Observation]:
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


def _apply_phases(tl: KillTimeline, t0: float, observations: list[Observation], mttr_to: str) -> None:
    """Chain the phases from the delete; MTTR = end of `mttr_to`, else the reason it is missing."""
    notes = tl["notes"]
    phases, missing = chain(t0, observations)
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
    evs = sorted_events(events)
    kills = [e for e in evs if e.get("kind") == "Kill"]
    pods = _pod_histories(evs)
    eps = endpoint_sets(evs)
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
        tl["victim_node"] = vh.node if vh else None
        tl["replacement_node"] = repl.node if repl else None
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
        "p50": rounded(percentile(rec, 50)),
        "p95": rounded(percentile(rec, 95)),
        "max": rounded(max(rec)) if rec else None,
        "min": rounded(min(rec)) if rec else None,
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
