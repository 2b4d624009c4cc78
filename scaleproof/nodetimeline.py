"""Node timelines: what a drain and a lost node cost, from the recorded event log.

Pure functions (no I/O, no clock) over the lines of `<run_dir>/events.jsonl` (`scaleproof.phases`
describes them) plus the node faults' own lines:

* `actions.drain`: `Drain` PLANNED (`node`, `plan`, `guarantee`: Ready pods the target's budgets
  guarantee) / CORDONED / DONE / BLOCKED (`pending`), a `Kill` EVICTION_ACCEPTED line per evicted
  target pod (as pod-kill's), `Eviction` ACCEPTED (other pods) and REFUSED (`budgets`, `victim`);
* `actions.nodeloss`: `NodeFault` PLANNED (`node`, `dead_pods`: the target pods on it, `ready_before`,
  `toleration_seconds`), APPLIED (`t`: the node went dark), RECOVERED / NOT_RECOVERED, RESTORED;
* the recorder's `Node` lines (`nodes=True`): Ready condition, `unschedulable`, taints.

Drain: each evicted target pod gets pod-kill's timeline (`scaleproof.podtimeline.kill_timelines`:
eviction accepted → replacement created → scheduled → started → Ready → endpoints full), plus the
node its replacement was scheduled on; refusals are grouped per budget (how often, how long the budget
held the drain).

Node loss: one chain of consecutive phases from the fault (`phases.chain`: they add up to the MTTR by
construction, each boundary the receive time of the first event showing it, clamped when streams
deliver out of order): node Ready≠True (the node-monitor grace period) → `unreachable` taint →
the dead pods not Ready → their endpoints out of the ready set → evicted (deletionTimestamp: the
pods' `tolerationSeconds`) → replacements created → scheduled → started → Ready → ready endpoints
back to the count before the fault, none of them a dead pod. MTTR = fault → endpoints full.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict

from scaleproof import failcount, kobjects
from scaleproof.nodeplan import UNREACHABLE_TAINT, node_ready
from scaleproof.phases import (
    LOCAL_RESOLUTION_S,
    Phase,
    chain,
    error_rate,
    of_kind,
    rounded,
    sorted_events,
)
from scaleproof.podtimeline import KillTimeline, endpoint_sets, kill_timelines, ready_series

__all__ = [
    "NODE_LOSS_PHASES",
    "BudgetHold",
    "DrainFigures",
    "NodeLossFigures",
    "drain_figures",
    "node_loss_figures",
]

NODE_LOSS_PHASES = (
    "node_not_ready",
    "unreachable_taint",
    "pods_not_ready",
    "endpoints_removed",
    "pods_evicted",
    "replacements_created",
    "replacements_scheduled",
    "replacements_started",
    "replacements_ready",
    "endpoints_full",
)


class BudgetHold(TypedDict):
    budget: str
    refusals: int  # refused eviction requests naming it
    pods: list[str]  # the pods it held (namespace/name)
    first_refused: float
    held_s: float  # first refusal → the last pod it held evicted (or the drain's end when blocked)
    blocked: bool  # some pod it held was never evicted


class DrainPod(KillTimeline, total=False):
    replacement_node: str | None


class DrainFigures(TypedDict):
    node: str | None
    blocked: bool
    pending: list[str]  # pods never evicted (namespace/name)
    t_cordoned: float | None
    drain_s: float | None  # cordon → every pod evicted (or the drain given up)
    evicted_target: int
    evicted_other: int
    pods: list[DrainPod]
    budgets: list[BudgetHold]
    guarantee: int | None  # Ready target pods the budgets guarantee
    ready_before: int | None
    min_ready_during: int | None  # fewest Ready target pods from the cordon to the end of the recovery
    left_on_node: list[str]  # target pods still bound to the node at the end of the log
    recovered_s: float | None  # cordon → the last evicted target pod's endpoints full
    failed_requests: int | None
    requests: int | None
    error_rate: float | None


def _last(events: Sequence[Mapping[str, Any]], kind: str, types: Iterable[str]) -> Mapping[str, Any] | None:
    wanted = set(types)
    found = [e for e in events if e.get("kind") == kind and e.get("type") in wanted]
    return found[-1] if found else None


def _pod_nodes(events: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str | None, str, bool]]:
    """Per pod uid, from its last recorded state: (node, namespace/name, gone or terminating)."""
    out: dict[str, tuple[str | None, str, bool]] = {}
    for e in of_kind(events, "Pod"):
        obj = e["object"]
        uid = kobjects.uid(obj)
        if not uid:
            continue
        meta = kobjects.meta(obj)
        prev = out.get(uid, (None, "", False))
        host = (obj.get("spec") or {}).get("nodeName") or prev[0]
        name = f"{meta.get('namespace') or ''}/{meta.get('name') or '?'}"
        out[uid] = (host, name, e.get("type") == "DELETED" or bool(meta.get("deletionTimestamp")))
    return out


def _budget_holds(events: Sequence[Mapping[str, Any]], t_end: float | None) -> list[BudgetHold]:
    """Refusals grouped per budget; each held until its last held pod was evicted."""
    accepted: dict[str, float] = {}
    for e in events:
        if (e.get("kind") == "Kill" and e.get("type") == "EVICTION_ACCEPTED") or (
            e.get("kind") == "Eviction" and e.get("type") == "ACCEPTED"
        ):
            accepted[str((e.get("victim") or {}).get("uid"))] = float(e["t"])
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for e in events:
        if e.get("kind") == "Eviction" and e.get("type") == "REFUSED" and e.get("drain"):
            for b in e.get("budgets") or ["(unnamed budget)"]:
                groups.setdefault(str(b), []).append(e)
    out: list[BudgetHold] = []
    for budget, refusals in sorted(groups.items()):
        uids = {str((r.get("victim") or {}).get("uid")) for r in refusals}
        first = min(float(r["t"]) for r in refusals)
        ends = [
            accepted.get(u, t_end if t_end is not None else max(float(r["t"]) for r in refusals))
            for u in uids
        ]
        victims = {
            f"{(r.get('victim') or {}).get('namespace')}/{(r.get('victim') or {}).get('name')}"
            for r in refusals
        }
        out.append(
            {
                "budget": budget,
                "refusals": len(refusals),
                "pods": sorted(victims),
                "first_refused": round(first, 3),
                "held_s": round(max(ends) - first, 3),
                "blocked": any(u not in accepted for u in uids),
            }
        )
    return out


def _drain_pods(
    events: Sequence[Mapping[str, Any]], load: Sequence[Mapping[str, Any]] | None
) -> list[DrainPod]:
    nodes = _pod_nodes(events)
    out: list[DrainPod] = []
    for tl in kill_timelines(events, load):
        pod: DrainPod = {**tl}  # type: ignore[typeddict-item]
        repl = tl.get("replacement_uid")
        pod["replacement_node"] = nodes.get(repl)[0] if repl and repl in nodes else None  # type: ignore[index]
        out.append(pod)
    return out


def drain_figures(
    events: Iterable[Mapping[str, Any]], load: Sequence[Mapping[str, Any]] | None = None
) -> DrainFigures:
    """The drain's figures (times in Unix seconds, durations in seconds)."""
    evs = sorted_events(events)
    planned = _last(evs, "Drain", ["PLANNED"]) or {}
    cordoned = _last(evs, "Drain", ["CORDONED"])
    ended = _last(evs, "Drain", ["DONE", "BLOCKED"])
    node = planned.get("node") or (cordoned or {}).get("node")
    t0 = float(cordoned["t"]) if cordoned else None
    t_end = float(ended["t"]) if ended else None
    pods = _drain_pods(evs, load)
    ends = [p["t_delete_accepted"] + mttr for p in pods if (mttr := p.get("mttr_s")) is not None]
    recovered_at = max(ends) if ends and all(p.get("recovered") for p in pods) else None
    window_end = max([x for x in (t_end, recovered_at) if x is not None], default=math.inf)
    rate, req, fail = error_rate(failcount.kill_window(load or [], t0, window_end) if t0 is not None else [])
    return {
        "node": node,
        "blocked": bool(ended and ended.get("type") == "BLOCKED"),
        "pending": [f"{m.get('namespace')}/{m.get('name')}" for m in (ended or {}).get("pending") or []],
        "t_cordoned": rounded(t0),
        "drain_s": rounded(t_end - t0) if t0 is not None and t_end is not None else None,
        "evicted_target": len(pods),
        "evicted_other": sum(1 for e in evs if e.get("kind") == "Eviction" and e.get("type") == "ACCEPTED"),
        "pods": pods,
        "budgets": _budget_holds(evs, t_end),
        "guarantee": planned.get("guarantee"),
        "ready_before": planned.get("ready_before"),
        "min_ready_during": _min_ready(evs, t0, window_end),
        "left_on_node": _left_on_node(evs, node),
        "recovered_s": rounded(recovered_at - t0) if recovered_at is not None and t0 is not None else None,
        "failed_requests": fail if load else None,
        "requests": req if load else None,
        "error_rate": rate,
    }


def _min_ready(events: Sequence[Mapping[str, Any]], start: float | None, end: float) -> int | None:
    """Fewest Ready target pods in [start, end] (the count in force at `start` included)."""
    if start is None:
        return None
    series = ready_series(events)
    before = [s["ready"] for s in series if s["t"] <= start]
    during = [s["ready"] for s in series if start < s["t"] <= end]
    values = before[-1:] + during
    return min(values) if values else None


def _left_on_node(events: Sequence[Mapping[str, Any]], node: str | None) -> list[str]:
    if not node:
        return []
    return sorted(name for host, name, gone in _pod_nodes(events).values() if host == node and not gone)


# ------------------------------------------------------------------------------------------ node loss
class NodeLossFigures(TypedDict):
    node: str | None
    t_fault: float | None
    dead_pods: list[str]  # the target pods on the node when it went dark (names)
    phases: list[Phase]
    recovered: bool
    mttr_s: float | None  # fault → ready endpoints back to full, none of them a dead pod
    reason: str | None  # why the MTTR is missing
    replacements: dict[str, str | None]  # dead pod name → replacement name
    replacement_nodes: dict[str, str | None]  # replacement name → node
    grace_observed_s: float | None  # fault → node Ready≠True (≥ the grace period minus one heartbeat)
    eviction_observed_s: float | None  # unreachable taint → dead pods evicted (the tolerationSeconds)
    toleration_seconds: int | None  # as the dead pods carried it (None: not recorded)
    dead_endpoint_s: float | None  # fault → dead endpoints out of the ready set: requests may hit them
    failed_requests: int | None
    requests: int | None
    failure_window: list[float] | None  # [first failing second, end of the last failing second]
    failure_window_s: float | None


def _node_times(
    events: Sequence[Mapping[str, Any]], node: str, t0: float
) -> tuple[float | None, float | None]:
    """(first time after t0 the node's Ready was not True, first time its unreachable NoExecute taint
    was seen); the NoSchedule taint counts when no NoExecute one was recorded."""
    not_ready: float | None = None
    taint: dict[str, float] = {}
    for e in of_kind(events, "Node"):
        obj = e["object"]
        if kobjects.meta(obj).get("name") != node or float(e["t"]) < t0:
            continue
        if not_ready is None and node_ready(obj) not in ("True", None):
            not_ready = float(e["t"])
        for t in (obj.get("spec") or {}).get("taints") or []:
            if t.get("key") == UNREACHABLE_TAINT:
                taint.setdefault(str(t.get("effect")), float(e["t"]))
    return not_ready, taint.get("NoExecute", taint.get("NoSchedule"))


class _Pods:
    """Per pod uid: owner, first seen (receive time, type, server creation), not-Ready, deletion,
    scheduled, started, Ready times (receive times, after the fault)."""

    def __init__(self, events: Sequence[Mapping[str, Any]], t0: float) -> None:
        self.info: dict[str, dict[str, Any]] = {}
        for e in of_kind(events, "Pod"):
            self._feed(e, t0)

    def _feed(self, e: Mapping[str, Any], t0: float) -> None:
        obj, t = e["object"], float(e["t"])
        uid = kobjects.uid(obj)
        if not uid:
            return
        meta = kobjects.meta(obj)
        h = self.info.setdefault(
            uid,
            {"name": meta.get("name"), "owner": None, "first": t, "first_type": e.get("type"), "node": None},
        )
        h["owner"] = kobjects.controller_ref(obj).get("uid") or h["owner"]
        h["created"] = kobjects.server_time(meta.get("creationTimestamp"))
        h["node"] = (obj.get("spec") or {}).get("nodeName") or h["node"]
        if t < t0:
            return
        gone = e.get("type") == "DELETED" or bool(meta.get("deletionTimestamp"))
        marks = {
            "not_ready": gone or not kobjects.pod_ready(obj),
            "deleted": gone,
            "scheduled": kobjects.pod_scheduled(obj),
            "started": kobjects.pod_started(obj),
            "ready": kobjects.pod_ready(obj),
        }
        for mark, on in marks.items():
            if on and mark not in h:
                h[mark] = t


def _pair(pods: _Pods, dead: Sequence[Mapping[str, Any]], t0: float) -> dict[str, str | None]:
    """Dead pod uid → its replacement's uid: same owner, first seen after the fault (a relisted one
    only when the server dates it after the fault), in order of first sight, each claimed once."""
    claimed: set[str] = set()
    out: dict[str, str | None] = {}
    for d in dead:
        duid = str(d.get("uid"))
        candidates = sorted(
            (h["first"], uid)
            for uid, h in pods.info.items()
            if uid != duid
            and uid not in claimed
            and h.get("owner") is not None
            and h["owner"] == d.get("owner_uid")
            and h["first"] >= t0
            and (h["first_type"] != "SYNC" or (h.get("created") or 0) >= math.floor(t0))
        )
        out[duid] = candidates[0][1] if candidates else None
        if candidates:
            claimed.add(candidates[0][1])
    return out


def _all_at(pods: _Pods, uids: Iterable[str | None], mark: str) -> float | None:
    """When the last of `uids` reached `mark` (None when one never did, or one is missing)."""
    times = [pods.info.get(u or "", {}).get(mark) for u in uids]
    return None if not times or any(t is None for t in times) else max(times)  # type: ignore[type-var]


def _endpoint_times(
    eps: Sequence[tuple[float, frozenset[str]]], t0: float, dead: set[str], after: float | None
) -> tuple[float | None, float | None]:
    """(dead endpoints all out of the ready set, ready endpoints back to the pre-fault count with no
    dead pod, at or after `after`)."""
    before = [s for ts, s in eps if ts < t0]
    baseline = len(before[-1]) if before else None
    removed = full = None
    for ts, s in eps:
        if ts < t0:
            continue
        if removed is None and not (s & dead):
            removed = ts
        if after is not None and ts >= after and not (s & dead) and (baseline is None or len(s) >= baseline):
            full = ts
            break
    if removed is None and before and not (before[-1] & dead):
        removed = t0  # the dead pods were not ready endpoints when the node went dark
    return removed, full


def _failures(
    load: Sequence[Mapping[str, Any]] | None, t0: float, end: float
) -> tuple[int | None, int | None, list[float] | None]:
    """(failed requests, requests, [first failing second, end of the last]) in [t0, end)."""
    if not load:
        return None, None, None
    window = failcount.kill_window(sorted(load, key=lambda b: float(b["t"])), t0, end)
    failing = [float(b["t"]) for b in window if int(b.get("failures") or 0) > 0]
    _, req, fail = error_rate(window)
    return fail, req, ([failing[0], failing[-1] + 1.0] if failing else None)


def _observations(
    evs: Sequence[Mapping[str, Any]], node: str, t0: float, dead: Sequence[Mapping[str, Any]]
) -> tuple[list[tuple[str, float | None, float]], dict[str, str | None], _Pods]:
    pods = _Pods(evs, t0)
    dead_uids = [str(d.get("uid")) for d in dead]
    pairs = _pair(pods, dead, t0)
    repl = list(pairs.values())
    not_ready, taint = _node_times(evs, node, t0)
    ready_at = _all_at(pods, repl, "ready")
    removed, full = _endpoint_times(endpoint_sets(evs), t0, set(dead_uids), ready_at)
    observed = [
        ("node_not_ready", not_ready),
        ("unreachable_taint", taint),
        ("pods_not_ready", _all_at(pods, dead_uids, "not_ready")),
        ("endpoints_removed", removed),
        ("pods_evicted", _all_at(pods, dead_uids, "deleted")),
        ("replacements_created", _all_at(pods, repl, "first")),
        ("replacements_scheduled", _all_at(pods, repl, "scheduled")),
        ("replacements_started", _all_at(pods, repl, "started")),
        ("replacements_ready", ready_at),
        ("endpoints_full", full),
    ]
    return [(name, t, LOCAL_RESOLUTION_S) for name, t in observed], pairs, pods


def node_loss_figures(
    events: Iterable[Mapping[str, Any]], load: Sequence[Mapping[str, Any]] | None = None
) -> NodeLossFigures:
    """The lost node's phases from the fault, its MTTR, the cluster's waits as observed and the
    users' failed requests (times in Unix seconds, durations in seconds)."""
    evs = sorted_events(events)
    planned = _last(evs, "NodeFault", ["PLANNED"]) or {}
    applied = _last(evs, "NodeFault", ["APPLIED"])
    node = planned.get("node")
    dead = list(planned.get("dead_pods") or [])
    out: NodeLossFigures = {
        "node": node,
        "t_fault": None,
        "dead_pods": [str(d.get("name")) for d in dead],
        "phases": [],
        "recovered": False,
        "mttr_s": None,
        "reason": None,
        "replacements": {},
        "replacement_nodes": {},
        "grace_observed_s": None,
        "eviction_observed_s": None,
        "toleration_seconds": planned.get("toleration_seconds"),
        "dead_endpoint_s": None,
        "failed_requests": None,
        "requests": None,
        "failure_window": None,
        "failure_window_s": None,
    }
    if applied is None or not node:
        out["reason"] = "no node fault was applied (no NodeFault APPLIED line)"
        return out
    t0 = float(applied["t"])
    out["t_fault"] = round(t0, 3)
    observations, pairs, pods = _observations(evs, str(node), t0, dead)
    _fill_phases(out, t0, observations)
    names = {str(d.get("uid")): str(d.get("name")) for d in dead}
    out["replacements"] = {names[u]: (pods.info.get(r or "", {}).get("name")) for u, r in pairs.items()}
    out["replacement_nodes"] = {
        str(pods.info[r]["name"]): pods.info[r].get("node") for r in pairs.values() if r and r in pods.info
    }
    end = t0 + out["mttr_s"] if out["mttr_s"] is not None else math.inf
    out["failed_requests"], out["requests"], out["failure_window"] = _failures(load, t0, end)
    if out["failure_window"]:
        w = out["failure_window"]
        out["failure_window_s"] = round(w[1] - w[0], 3)
    return out


def _fill_phases(
    out: NodeLossFigures, t0: float, observations: list[tuple[str, float | None, float]]
) -> None:
    phases, missing = chain(t0, observations)
    out["phases"] = phases
    ends = {p["name"]: p["end"] for p in phases}
    if "endpoints_full" in ends:
        out["recovered"] = True
        out["mttr_s"] = round(ends["endpoints_full"] - t0, 3)
    else:
        out["reason"] = f"phase {missing} never observed"
    if "node_not_ready" in ends:
        out["grace_observed_s"] = round(ends["node_not_ready"] - t0, 3)
    if "unreachable_taint" in ends and "pods_evicted" in ends:
        out["eviction_observed_s"] = round(ends["pods_evicted"] - ends["unreachable_taint"], 3)
    if "endpoints_removed" in ends:
        out["dead_endpoint_s"] = round(ends["endpoints_removed"] - t0, 3)
