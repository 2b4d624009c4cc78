"""scaleproof.podtimeline: kill timelines, MTTR and the Ready series from synthetic event logs and a
real recording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaleproof import phases, podtimeline
from tests.unit.eventlog import T0, baseline, ev, kill, names, pod_obj, replacement, simple_kill_log, slice_ev

pytestmark = pytest.mark.unit


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


def test_each_kill_names_the_node_of_its_victim_and_of_its_replacement() -> None:
    """From the pods' spec.nodeName in the recorded watch events (a one-node run: the same node)."""
    tls = podtimeline.kill_timelines(_real_events())
    assert tls and all(t["victim_node"] == t["replacement_node"] == "scaleproof-node" for t in tls), [
        (t["victim_node"], t["replacement_node"]) for t in tls
    ]
    no_node = [
        {**e, "object": {**e["object"], "spec": {}}} if e.get("kind") == "Pod" else e for e in _real_events()
    ]
    assert {t["victim_node"] for t in podtimeline.kill_timelines(no_node)} == {None}
