"""The timelines (podtimeline, scaletimeline, shards, kobjects): MTTR, time-to-scale, shard spread."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scaleproof import kobjects, phases, podtimeline, scaletimeline, shards

pytestmark = pytest.mark.unit

T0 = 1_764_331_000.0  # a whole second, so server timestamps line up
RS = "rs-uid-1"


def iso(t: float) -> str:
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_obj(
    uid: str,
    *,
    owner: str = RS,
    created: float = T0 - 100,
    scheduled: bool = True,
    started: bool = True,
    ready: bool = True,
    deleting_at: float | None = None,
    ready_ltt: float | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": f"searchapp-{uid}",
        "uid": uid,
        "creationTimestamp": iso(created),
        "ownerReferences": [{"kind": "ReplicaSet", "uid": owner, "controller": True}],
    }
    if deleting_at is not None:
        meta["deletionTimestamp"] = iso(deleting_at + 30)
        meta["deletionGracePeriodSeconds"] = 30
    conds = [
        {"type": "PodScheduled", "status": "True" if scheduled else "False"},
        {
            "type": "Ready",
            "status": "True" if ready else "False",
            "lastTransitionTime": iso(ready_ltt if ready_ltt is not None else created),
        },
    ]
    return {
        "metadata": meta,
        "spec": {"nodeName": "n1" if scheduled else None},
        "status": {
            "phase": "Running" if started else "Pending",
            "conditions": conds,
            "containerStatuses": [
                {"name": "app", "started": started, "state": {"running": {}} if started else {"waiting": {}}}
            ],
        },
    }


def ev(t: float, kind: str, etype: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"t": t, "source": "watch", "kind": kind, "type": etype, "object": obj}


def slice_ev(t: float, ready_uids: list[str], not_ready: list[str] = ()) -> dict[str, Any]:
    eps = [{"conditions": {"ready": True}, "targetRef": {"kind": "Pod", "uid": u}} for u in ready_uids]
    eps += [
        {"conditions": {"ready": False, "terminating": True}, "targetRef": {"kind": "Pod", "uid": u}}
        for u in not_ready
    ]
    return ev(t, "EndpointSlice", "MODIFIED", {"metadata": {"name": "searchapp-abc"}, "endpoints": eps})


def kill(t: float, victim: str, kill_id: str = "kill-1", owner: str = RS) -> dict[str, Any]:
    return {
        "t": t,
        "t_request": t - 0.02,
        "source": "action",
        "kind": "Kill",
        "type": "DELETE_ACCEPTED",
        "kill_id": kill_id,
        "victim": {"name": f"searchapp-{victim}", "uid": victim, "owner_uid": owner},
    }


def baseline(t: float = T0 - 10) -> list[dict[str, Any]]:
    """Three Ready pods listed by the recorder (SYNC) and all three ready endpoints."""
    return [ev(t, "Pod", "SYNC", pod_obj(u)) for u in ("a", "b", "c")] + [slice_ev(t, ["a", "b", "c"])]


def replacement(
    uid: str, t_created: float, *, sched: float, started: float, ready: float, owner: str = RS
) -> list[dict[str, Any]]:
    return [
        ev(
            t_created,
            "Pod",
            "ADDED",
            pod_obj(uid, owner=owner, created=t_created, scheduled=False, started=False, ready=False),
        ),
        ev(
            sched, "Pod", "MODIFIED", pod_obj(uid, owner=owner, created=t_created, started=False, ready=False)
        ),
        ev(started, "Pod", "MODIFIED", pod_obj(uid, owner=owner, created=t_created, ready=False)),
        ev(ready, "Pod", "MODIFIED", pod_obj(uid, owner=owner, created=t_created, ready_ltt=ready)),
    ]


def simple_kill_log() -> list[dict[str, Any]]:
    return (
        baseline()
        + [
            kill(T0, "a"),
            ev(T0 + 0.05, "Pod", "MODIFIED", pod_obj("a", deleting_at=T0)),
            slice_ev(T0 + 0.10, ["b", "c"], ["a"]),
        ]
        + replacement("d", T0 + 0.20, sched=T0 + 0.25, started=T0 + 2.0, ready=T0 + 3.5)
        + [slice_ev(T0 + 3.6, ["b", "c", "d"])]
    )


def names(tl: dict[str, Any]) -> list[str]:
    return [p["name"] for p in tl["phases"]]


def test_kill_timeline_phases_are_consecutive_and_mttr_is_delete_to_endpoints():
    (tl,) = podtimeline.kill_timelines(simple_kill_log())
    assert tl["replacement_uid"] == "d" and tl["recovered"] is True
    assert names(tl) == ["replacement_created", "scheduled", "containers_started", "ready", "endpoints_ready"]
    for prev, nxt in zip(tl["phases"], tl["phases"][1:], strict=False):
        assert prev["end"] == nxt["start"]  # non-overlapping, consecutive
    assert tl["phases"][0]["start"] == T0
    assert tl["mttr_s"] == pytest.approx(3.6)
    assert tl["ready_s"] == pytest.approx(3.5)
    assert [p["duration_s"] for p in tl["phases"]] == pytest.approx([0.2, 0.05, 1.75, 1.5, 0.1])
    # server cross-check: deletionTimestamp - grace = delete second; Ready lastTransitionTime (1 s resolution)
    assert tl["server"]["delete_accepted"] == T0
    assert tl["server"]["ready_s"] == pytest.approx(3.0)
    assert tl["server"]["resolution_s"] == 1.0


def test_mttr_to_ready_definition():
    (tl,) = podtimeline.kill_timelines(simple_kill_log(), mttr_to="ready")
    assert tl["mttr_s"] == pytest.approx(3.5)


def test_sibling_pod_existing_before_the_kill_is_never_the_replacement():
    log = simple_kill_log()
    # an unrelated pod of another ReplicaSet appears right after the kill (e.g. a rollout): not paired
    log += replacement("x", T0 + 0.1, sched=T0 + 0.11, started=T0 + 0.2, ready=T0 + 0.3, owner="other-rs")
    (tl,) = podtimeline.kill_timelines(log)
    assert tl["replacement_uid"] == "d"


def test_replacement_ready_before_the_old_endpoint_is_removed_waits_for_the_removal():
    log = (
        baseline()
        + [kill(T0, "a")]
        + replacement("d", T0 + 0.2, sched=T0 + 0.3, started=T0 + 0.5, ready=T0 + 1.0)
        # the replacement's endpoint is ready while the victim's is still listed as ready
        + [slice_ev(T0 + 1.1, ["a", "b", "c", "d"]), slice_ev(T0 + 4.0, ["b", "c", "d"], ["a"])]
    )
    (tl,) = podtimeline.kill_timelines(log)
    assert tl["recovered"] is True
    assert tl["mttr_s"] == pytest.approx(4.0)  # not 1.1: the victim was still a ready endpoint


def test_endpoint_removal_never_observed_is_unrecovered_with_reason():
    log = (
        baseline()
        + [kill(T0, "a")]
        + replacement("d", T0 + 0.2, sched=T0 + 0.3, started=T0 + 0.5, ready=T0 + 1.0)
        + [slice_ev(T0 + 1.1, ["a", "b", "c", "d"])]
    )
    (tl,) = podtimeline.kill_timelines(log)
    assert tl["recovered"] is False and tl["mttr_s"] is None
    assert "endpoints_ready" in tl["reason"] and "never observed" in tl["reason"]
    assert tl["ready_s"] == pytest.approx(1.0)


def test_kill_without_replacement_is_unrecovered():
    log = baseline() + [kill(T0, "a"), slice_ev(T0 + 0.1, ["b", "c"])]
    (tl,) = podtimeline.kill_timelines(log)
    assert tl["recovered"] is False and tl["mttr_s"] is None and tl["replacement"] is None
    assert "no replacement" in tl["reason"]
    s = podtimeline.mttr_summary([tl])
    assert s["p95"] is None and s["unrecovered"] == 1 and "did not recover" in s["reason"]


def test_two_overlapping_kills_get_distinct_replacements_in_order():
    log = (
        baseline()
        + [kill(T0, "a", "kill-1"), kill(T0 + 0.5, "b", "kill-2"), slice_ev(T0 + 0.6, ["c"], ["a", "b"])]
        + replacement("d", T0 + 0.2, sched=T0 + 0.3, started=T0 + 1.0, ready=T0 + 2.0)
        + replacement("e", T0 + 0.7, sched=T0 + 0.8, started=T0 + 1.5, ready=T0 + 2.5)
        + [slice_ev(T0 + 2.1, ["c", "d"]), slice_ev(T0 + 2.6, ["c", "d", "e"])]
    )
    t1, t2 = podtimeline.kill_timelines(log)
    assert (t1["replacement_uid"], t2["replacement_uid"]) == ("d", "e")
    assert t1["overlaps_with"] == ["kill-2"]
    # endpoints are back to the pre-kill count (3) only when both replacements are in
    assert t1["mttr_s"] == pytest.approx(2.6)
    assert t2["mttr_s"] == pytest.approx(2.1)


def test_observation_received_before_previous_boundary_is_clamped_not_negative():
    log = simple_kill_log()
    # the EndpointSlice stream delivers the new endpoint before the pod stream delivers Ready
    log = [e for e in log if not (e["kind"] == "EndpointSlice" and e["t"] == T0 + 3.6)]
    log.append(slice_ev(T0 + 3.45, ["b", "c", "d"]))
    (tl,) = podtimeline.kill_timelines(log)
    ep = tl["phases"][-1]
    assert ep["name"] == "endpoints_ready" and ep["clamped"] is True and ep["duration_s"] == 0.0
    assert all(p["duration_s"] >= 0 for p in tl["phases"])
    assert tl["mttr_s"] == pytest.approx(3.5)


def test_user_traffic_phase_and_failed_requests_per_kill_window():
    load = [{"t": T0 - 2 + i, "users": 10, "requests": 30, "failures": 0} for i in range(12)]
    load[2]["failures"] = 2  # second [T0, T0+1)
    load[3]["failures"] = 1  # [T0+1, T0+2)
    (tl,) = podtimeline.kill_timelines(simple_kill_log(), load)
    assert tl["failed_requests"] == 3
    assert tl["outage_s"] == pytest.approx(2.0)
    assert names(tl)[-1] == "user_recovered"
    # failures ended at T0+2 (before endpoints were full): phase is empty, clamped to the boundary
    assert tl["phases"][-1]["duration_s"] == 0.0 and tl["phases"][-1]["resolution_s"] == 1.0
    assert tl["mttr_s"] == pytest.approx(3.6)


def test_user_failures_after_endpoints_extend_the_user_phase():
    load = [
        {"t": T0 + i, "users": 10, "requests": 30, "failures": 5 if i in (4, 5) else 0} for i in range(10)
    ]
    (tl,) = podtimeline.kill_timelines(simple_kill_log(), load)
    assert tl["phases"][-1]["end"] == pytest.approx(T0 + 6)
    assert tl["failed_requests"] == 10


def test_mttr_summary_figures():
    tls = [
        {
            "recovered": True,
            "mttr_s": v,
            "phases": [{"name": "ready", "resolution_s": 0.001}],
            "mttr_definition": "x",
        }
        for v in [1, 2, 3, 4, 10]
    ]
    s = podtimeline.mttr_summary(tls)
    assert s["count"] == 5 and s["mean"] == 4.0 and s["p50"] == 3.0 and s["max"] == 10.0
    assert s["p95"] == pytest.approx(8.8)  # linear interpolation between 4 and 10
    assert s["resolution_s"] == 0.001 and s["reason"] is None
    assert podtimeline.mttr_summary([])["reason"] == "no kill was recorded"


def test_ready_series_counts_condition_not_phase():
    log = baseline() + [ev(T0, "Pod", "MODIFIED", pod_obj("a", deleting_at=T0))]  # still phase Running
    series = podtimeline.ready_series(log)
    assert series[-1]["ready"] == 2


# ------------------------------------------------------------------------------------------------- scale
def hpa_ev(t: float, desired: int, util: int | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"desiredReplicas": desired, "currentReplicas": desired}
    if util is not None:
        status["currentMetrics"] = [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": util}}}
        ]
    return ev(
        t,
        "HorizontalPodAutoscaler",
        "MODIFIED",
        {
            "metadata": {"name": "searchapp"},
            "spec": {
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ]
            },
            "status": status,
        },
    )


def dep_ev(t: float, replicas: int) -> dict[str, Any]:
    return ev(
        t, "Deployment", "MODIFIED", {"metadata": {"name": "searchapp"}, "spec": {"replicas": replicas}}
    )


def scale_log() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    log = [
        ev(T0 - 5, "Pod", "SYNC", pod_obj("a")),
        dep_ev(T0 - 5, 1),
        hpa_ev(T0 - 5, 1, 10),
        {"t": T0, "source": "action", "kind": "Load", "type": "STARTED", "users": 10},
        hpa_ev(T0 + 20, 1, 180),
        hpa_ev(T0 + 35, 3, 180),
        dep_ev(T0 + 35.2, 3),
    ]
    log += replacement("b", T0 + 35.3, sched=T0 + 35.4, started=T0 + 37, ready=T0 + 40)
    log += replacement("c", T0 + 35.3, sched=T0 + 35.4, started=T0 + 38, ready=T0 + 42)
    load = [{"t": T0 + i, "users": min(10, 5 * (i + 1)), "requests": 20, "failures": 0} for i in range(60)]
    return log, load


def test_time_to_scale_phases():
    log, load = scale_log()
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    assert [p["name"] for p in st["phases"]] == list(scaletimeline.SCALE_PHASES)
    ends = {p["name"]: p["end"] for p in st["phases"]}
    assert ends["load_reached"] == T0 + 1  # users reach 10 in the second bucket
    assert ends["metric_above_target"] == T0 + 20
    assert ends["hpa_decision"] == T0 + 35
    assert ends["deployment_scaled"] == pytest.approx(T0 + 35.2)
    assert ends["target_ready"] == T0 + 42
    assert st["time_to_scale_s"] == pytest.approx(41.0)
    assert st["max_ready_replicas"] == 3 and st["baseline_replicas"] == 1
    assert st["decisions"] == [{"t": T0 + 35, "from": 1, "to": 3}] and st["flaps"] == 0


def test_time_to_scale_uses_successful_rescale_event_when_earlier():
    log, load = scale_log()
    log.append(
        ev(
            T0 + 30,
            "Event",
            "ADDED",
            {
                "reason": "SuccessfulRescale",
                "message": "New size: 3; reason: cpu resource utilization above target",
            },
        )
    )
    st = scaletimeline.time_to_scale(log, load)
    assert {p["name"]: p["end"] for p in st["phases"]}["hpa_decision"] == T0 + 30


def test_time_to_scale_ignores_a_stale_desired_count_from_before_a_reset():
    # seen on the real cluster: right after scaling down to the minimum, the HPA status still says
    # desired 3 while current is 1; the decision is the later change back to 3, not "nothing to do"
    log, load = scale_log()
    stale = hpa_ev(T0 - 4, 3, 10)
    stale["object"]["status"]["currentReplicas"] = 1
    log.insert(3, stale)
    log.insert(5, hpa_ev(T0 + 7, 1, 10))
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    assert {p["name"]: p["end"] for p in st["phases"]}["hpa_decision"] == T0 + 35
    assert st["time_to_scale_s"] == pytest.approx(41.0)


def test_time_to_scale_already_at_target_is_not_a_figure():
    log, load = scale_log()
    log = [ev(T0 - 9, "Pod", "SYNC", pod_obj(u)) for u in ("x", "y", "z")] + log
    st = scaletimeline.time_to_scale(log, load)
    assert st["time_to_scale_s"] is None and "already" in st["reason"]


def test_time_to_scale_hpa_flapping_counted():
    log, load = scale_log()
    log += [hpa_ev(T0 + 50, 2), hpa_ev(T0 + 65, 4)]
    st = scaletimeline.time_to_scale(log, load)
    assert [d["to"] for d in st["decisions"]] == [3, 2, 4]
    assert st["flaps"] == 2 and st["flapping"] is True
    assert st["time_to_scale_s"] == pytest.approx(41.0)  # first time the target was reached


def test_time_to_scale_missing_phase_gives_reason():
    log, load = scale_log()
    log = [e for e in log if e["kind"] != "HorizontalPodAutoscaler"]
    st = scaletimeline.time_to_scale(log, load)
    assert st["time_to_scale_s"] is None and "metric_above_target" in st["reason"]
    assert scaletimeline.time_to_scale([], None)["reason"].startswith("no load start")


# ------------------------------------------------------------------------------------------------ shards
def test_shard_spread_dedupes_replicas_and_counts_queries():
    rows = [
        {"shard": "s1", "node": "w0", "objects": 34, "queries": 10},
        {"shard": "s1", "node": "w1", "objects": 34, "queries": None},  # replica of s1
        {"shard": "s2", "node": "w1", "objects": 33, "queries": 0},
        {"shard": "s3", "node": "w2", "objects": 33, "queries": 7},
        {"shard": "s4", "node": "w2", "objects": 0, "queries": None},
    ]
    s = shards.shard_spread(rows)
    assert s["shards"] == 4 and s["shards_with_data"] == 3
    assert s["documents_total"] == 100 and s["nodes_with_shards"] == 3
    assert s["shards_queried"] == 2


def test_shard_spread_without_query_figures():
    s = shards.shard_spread([{"shard": "s1", "node": "w0", "objects": 100}])
    assert s["shards_queried"] is None and s["nodes_with_shards"] == 1


def relist_kill_log(created: float) -> list[dict[str, Any]]:
    """Kill of `a`; the pod watch expires (410) and relists at T0 + 6: the replacement `d` (server
    creation time `created`) is first seen as a SYNC line, already Ready."""
    relisted = [ev(T0 + 6, "Pod", "SYNC", pod_obj(u)) for u in ("b", "c")]
    relisted.append(ev(T0 + 6, "Pod", "SYNC", pod_obj("d", created=created, ready_ltt=T0 + 4)))
    return (
        baseline()
        + [kill(T0, "a"), ev(T0 + 0.05, "Pod", "MODIFIED", pod_obj("a", deleting_at=T0, ready=False))]
        + [slice_ev(T0 + 0.1, ["b", "c"], not_ready=["a"])]
        + relisted
        + [slice_ev(T0 + 6.1, ["b", "c", "d"])]
    )


def test_a_replacement_first_seen_by_a_relist_counts_when_created_after_the_delete():
    (tl,) = podtimeline.kill_timelines(relist_kill_log(created=T0 + 1))
    assert tl["recovered"] is True and tl["replacement_uid"] == "d"
    created = tl["phases"][0]
    assert created["name"] == "replacement_created" and created["end"] == T0 + 1
    assert created["resolution_s"] == phases.SERVER_RESOLUTION_S
    assert tl["mttr_s"] == pytest.approx(6.1)  # bounded by the relist: an upper bound, noted
    assert any("relist" in n for n in tl["notes"])


def test_a_pod_first_listed_by_a_relist_but_created_before_the_delete_is_not_a_replacement():
    (tl,) = podtimeline.kill_timelines(relist_kill_log(created=T0 - 50))
    assert tl["recovered"] is False and tl["replacement_uid"] is None


@pytest.mark.parametrize(
    ("quantity", "value"),
    [
        ("1500u", 0.0015),
        ("500m", 0.5),
        ("2Ki", 2048.0),
        ("1.5Gi", 1.5 * 1024**3),
        ("2Ti", 2.0 * 1024**4),
        ("250m", 0.25),
        ("100n", 1e-7),
        ("1e3", 1000.0),
        ("7", 7.0),
    ],
)
def test_quantities_are_parsed_as_kubernetes_does(quantity, value):
    assert kobjects.quantity(quantity) == pytest.approx(value)


def test_malformed_quantity_is_none():
    assert kobjects.quantity("ten") is None and kobjects.quantity("") is None


def test_hpa_over_target_with_micro_units():
    hpa = {
        "spec": {
            "metrics": [
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"averageValue": "1m"}}}
            ]
        },
        "status": {
            "currentMetrics": [
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "1500u"}}}
            ]
        },
    }
    assert kobjects.hpa_over_target(hpa) is True


def _pods_metric_hpa(target: str, current: str) -> dict[str, Any]:
    return {
        "spec": {
            "metrics": [
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"averageValue": target}}}
            ]
        },
        "status": {
            "currentMetrics": [
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": current}}}
            ]
        },
    }


@pytest.mark.parametrize(
    ("target", "above", "below"),
    [
        ("1500u", "2m", "1m"),
        ("250m", "300m", "200m"),
        ("1Ki", "1025", "1k"),
        ("2Ti", "3Ti", "2T"),
        ("100n", "101n", "99n"),
    ],
)
def test_hpa_targets_in_every_quantity_suffix_are_compared(target, above, below):
    # a target the parser cannot read would leave the metric phase "never observed"
    assert kobjects.quantity(target) is not None
    assert kobjects.hpa_over_target(_pods_metric_hpa(target, above)) is True
    assert kobjects.hpa_over_target(_pods_metric_hpa(target, below)) is False


@pytest.mark.parametrize(
    ("quantity", "cores"), [("1500u", 0.0015), ("250m", 0.25), ("1Ki", 1024.0), ("100n", 1e-7)]
)
def test_cpu_average_value_target_in_any_suffix(quantity, cores):
    hpa = {
        "spec": {
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"averageValue": quantity}}}
            ]
        }
    }
    events = [{"t": T0, "kind": "HorizontalPodAutoscaler", "type": "ADDED", "object": hpa}]
    assert scaletimeline._cpu_target(events) == {"average_cores": pytest.approx(cores)}


# ------------------------------------------------------------------- replay of a real recording
REAL_EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "pod-kill-events.jsonl"


def _real_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in REAL_EVENTS.read_text().splitlines() if line.strip()]


def inject_relist(events: list[dict[str, Any]], kill_index: int) -> tuple[list[dict[str, Any]], float]:
    """The pod watch expires (410 Gone) right after it showed the victim terminating and relists
    only once the replacement is Ready: the Pod lines in between are lost, and the relist shows every
    live pod as a SYNC line. Returns (events, relist time)."""
    (tl,) = [t for i, t in enumerate(podtimeline.kill_timelines(events)) if i == kill_index]
    kill_t = tl["t_delete_accepted"]
    victim_seen = min(
        e["t"]
        for e in events
        if e.get("kind") == "Pod"
        and e["object"]["metadata"]["uid"] == tl["victim_uid"]
        and e["t"] >= kill_t
        and e["object"]["metadata"].get("deletionTimestamp")
    )
    ready_at = next(p["observed"] for p in tl["phases"] if p["name"] == "ready")
    relist_t = ready_at + 0.5
    state: dict[str, dict[str, Any]] = {}
    out = []
    for e in sorted(events, key=lambda e: e["t"]):
        is_pod = e.get("kind") == "Pod" and e.get("source") == "watch"
        if is_pod and e["t"] <= relist_t:
            uid = e["object"]["metadata"]["uid"]
            if e["type"] == "DELETED":
                state.pop(uid, None)
            else:
                state[uid] = e["object"]
        if is_pod and victim_seen < e["t"] <= relist_t:
            continue  # lost with the expired watch
        out.append(e)
    out += [
        {"t": relist_t, "source": "watch", "kind": "Pod", "type": "SYNC", "object": o} for o in state.values()
    ]
    return sorted(out, key=lambda e: e["t"]), relist_t


@pytest.mark.skipif(not REAL_EVENTS.exists(), reason="record it: SCALEPROOF_RECORD_EVENTS=1 e2e pod-kill")
def test_real_recording_with_a_relist_mid_recovery_still_pairs_the_replacement():
    events = _real_events()
    original = podtimeline.kill_timelines(events)
    assert len(original) >= 3 and all(t["recovered"] for t in original)
    k = 2
    relisted, relist_t = inject_relist(events, k)
    after = podtimeline.kill_timelines(relisted)
    assert after[k]["recovered"] is True
    assert after[k]["replacement_uid"] == original[k]["replacement_uid"]
    assert any("relist" in n for n in after[k]["notes"])
    # the relist bounds the later phases: MTTR can only grow, never below the relist
    assert after[k]["mttr_s"] >= original[k]["mttr_s"]
    assert after[k]["phases"][0]["resolution_s"] == phases.SERVER_RESOLUTION_S
    for i, (a, b) in enumerate(zip(original, after, strict=True)):
        if i != k:
            assert (a["replacement_uid"], a["mttr_s"]) == (b["replacement_uid"], b["mttr_s"])


def test_controller_ref_prefers_the_controlling_owner():
    rs = {"uid": "rs-1", "kind": "ReplicaSet", "controller": True}
    other = {"uid": "x", "kind": "ConfigMap"}
    assert kobjects.controller_ref({"metadata": {"ownerReferences": [other, rs]}}) == rs
    assert kobjects.controller_ref({"metadata": {"ownerReferences": [other]}}) == other
    assert kobjects.controller_ref({"metadata": {}}) == {} and kobjects.controller_ref({}) == {}
