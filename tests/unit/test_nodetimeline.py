"""scaleproof.nodetimeline over synthetic event logs shaped as the recorder and the actions write them
(objects trimmed by probes.watch.trim, action lines written by the actions' own writers)."""

from __future__ import annotations

import copy

import pytest

from actions import pods as podkill
from probes import watch
from scaleproof import nodetimeline, rundir
from tests.unit.kubefake import node, pod

pytestmark = pytest.mark.unit


def w(t: float, kind: str, etype: str, obj: dict) -> dict:
    """A recorder line."""
    return {"t": t, "source": "watch", "kind": kind, "type": etype, "object": watch.trim(kind, obj)}


def act(t: float, kind: str, etype: str, **extra) -> dict:
    return {"t": t, "source": "action", "kind": kind, "type": etype, **extra}


def slice_(ready: dict[str, bool], name: str = "searchapp-x") -> dict:
    return {
        "metadata": {"name": name, "namespace": "scaleproof", "uid": "es-1"},
        "endpoints": [
            {"conditions": {"ready": r}, "targetRef": {"kind": "Pod", "uid": uid}, "nodeName": "w"}
            for uid, r in ready.items()
        ],
    }


def fresh(name: str, host: str | None, *, ready=False, started=False, created="2026-12-07T10:00:50Z") -> dict:
    p = pod(name, ready=ready, node=host or "")
    p["metadata"]["creationTimestamp"] = created
    if not host:
        p["spec"]["nodeName"] = None
        p["status"]["conditions"] = [{"type": "PodScheduled", "status": "False"}]
    if started:
        p["status"]["containerStatuses"] = [
            {"name": "app", "ready": ready, "started": True, "state": {"running": {}}}
        ]
    return p


def gone(p: dict, at: str = "2026-12-07T10:00:52Z") -> dict:
    """The pod with a deletionTimestamp `at` (= accepted + the 30 s grace)."""
    p = copy.deepcopy(p)
    p["metadata"]["deletionTimestamp"] = at
    p["metadata"]["deletionGracePeriodSeconds"] = 30
    return p


def unreachable(effect: str) -> dict:
    return {"key": "node.kubernetes.io/unreachable", "effect": effect, "timeAdded": "2026-12-07T10:00:42Z"}


def node_loss_log(*, replaced: bool = True) -> list[dict]:
    a, b, c = pod("a", node="w1"), pod("b", node="w2"), pod("c", node="w2")
    log = [
        w(990.0, "Node", "SYNC", node("w1")),
        w(990.0, "Node", "SYNC", node("w2")),
        *(w(990.0, "Pod", "SYNC", p) for p in (a, b, c)),
        w(990.0, "EndpointSlice", "SYNC", slice_({"uid-a": True, "uid-b": True, "uid-c": True})),
        act(
            999.0,
            "NodeFault",
            "PLANNED",
            node="w1",
            dead_pods=[{"name": "a", "uid": "uid-a", "owner_uid": "rs-1"}],
            toleration_seconds=10,
            ready_before=3,
        ),
        act(1000.0, "NodeFault", "APPLIED", node="w1", t_request=999.9, mode="local"),
        w(1042.0, "Node", "MODIFIED", node("w1", ready="Unknown")),
        w(1042.1, "Node", "MODIFIED", node("w1", ready="Unknown", taints=[unreachable("NoSchedule")])),
        w(
            1042.2,
            "Node",
            "MODIFIED",
            node("w1", ready="Unknown", taints=[unreachable("NoSchedule"), unreachable("NoExecute")]),
        ),
        w(1042.3, "Pod", "MODIFIED", pod("a", node="w1", ready=False)),
        w(1042.4, "EndpointSlice", "MODIFIED", slice_({"uid-a": False, "uid-b": True, "uid-c": True})),
        w(1052.3, "Pod", "MODIFIED", gone(pod("a", node="w1", ready=False))),
    ]
    if replaced:
        log += [
            w(1052.5, "Pod", "ADDED", fresh("a2", None)),
            w(1052.6, "Pod", "MODIFIED", fresh("a2", "w2")),
            w(1053.5, "Pod", "MODIFIED", fresh("a2", "w2", started=True)),
            w(1054.5, "Pod", "MODIFIED", fresh("a2", "w2", started=True, ready=True)),
            w(
                1054.6,
                "EndpointSlice",
                "MODIFIED",
                slice_({"uid-a": False, "uid-b": True, "uid-c": True, "uid-a2": True}),
            ),
        ]
    return log


def load(start: int, end: int, failing: set[int]) -> list[dict]:
    return [{"t": float(s), "requests": 10, "failures": 3 if s in failing else 0} for s in range(start, end)]


def test_node_loss_phases_add_up_to_the_mttr():
    f = nodetimeline.node_loss_figures(node_loss_log(), load(995, 1060, {1001, 1010, 1042}))
    names = [p["name"] for p in f["phases"]]
    assert names == list(nodetimeline.NODE_LOSS_PHASES)
    durations = {p["name"]: p["duration_s"] for p in f["phases"]}
    assert durations["node_not_ready"] == 42.0 and durations["unreachable_taint"] == pytest.approx(0.2)
    assert durations["pods_evicted"] == pytest.approx(9.9) and durations["endpoints_full"] == pytest.approx(
        0.1
    )
    assert f["recovered"] is True and f["mttr_s"] == pytest.approx(54.6)
    assert sum(durations.values()) == pytest.approx(f["mttr_s"], abs=0.001 * len(names))
    assert f["grace_observed_s"] == 42.0 and f["eviction_observed_s"] == pytest.approx(10.1)
    assert f["dead_endpoint_s"] == pytest.approx(42.4) and f["toleration_seconds"] == 10
    assert f["replacements"] == {"a": "a2"} and f["replacement_nodes"] == {"a2": "w2"}
    assert (
        f["failed_requests"] == 9
        and f["failure_window"] == [1001.0, 1043.0]
        and f["failure_window_s"] == 42.0
    )


def test_a_lost_node_whose_pods_are_never_replaced_has_no_mttr_and_says_why():
    f = nodetimeline.node_loss_figures(node_loss_log(replaced=False))
    assert f["recovered"] is False and f["mttr_s"] is None
    assert f["reason"] == "phase replacements_created never observed"
    assert [p["name"] for p in f["phases"]][-1] == "pods_evicted" and f["failed_requests"] is None


def test_streams_out_of_order_are_clamped_and_still_add_up():
    log = node_loss_log()
    ep = next(e for e in log if e["kind"] == "EndpointSlice" and e["t"] == 1042.4)
    ep["t"] = 1042.25  # the endpoint left the ready set before the pod's NotReady line arrived
    f = nodetimeline.node_loss_figures(log)
    phases = {p["name"]: p for p in f["phases"]}
    assert phases["endpoints_removed"]["clamped"] is True and phases["endpoints_removed"]["duration_s"] == 0.0
    assert sum(p["duration_s"] for p in f["phases"]) == pytest.approx(f["mttr_s"], abs=0.01)


def test_no_fault_line_no_figures():
    f = nodetimeline.node_loss_figures(node_loss_log()[:5])
    assert f["phases"] == [] and "no node fault was applied" in (f["reason"] or "")


def _kill_lines(tmp_path, victims: list[tuple[str, float]]) -> list[dict]:
    """Kill lines written by the action's own writer (actions.pods._record_kill)."""
    for i, (name, t) in enumerate(victims, 1):
        v = podkill._victim(pod(name, node="w1"), "scaleproof")
        v.update(
            {
                "t_request": t - 0.05,
                "t_accepted": t,
                "kill_id": f"evict-{i}",
                "round": 1,
                "method": "eviction",
            }
        )
        podkill._record_kill(tmp_path, v, {"drain": "w1"})
    return [e for e in rundir.read_events(tmp_path) if e.get("kind") == "Kill"]


def drain_log(tmp_path) -> tuple[list[dict], list[dict]]:
    """A drain of w1: `a` evicted at once, `b` refused twice by budget `searchapp`, then evicted."""
    a, b, c = pod("a", node="w1"), pod("b", node="w1"), pod("c", node="w2")
    a_gone, b_gone = gone(a, "1970-01-01T00:02:10Z"), gone(b, "1970-01-01T00:02:14Z")  # evicted at 100, 104
    refusal = {"name": "b", "namespace": "scaleproof", "uid": "uid-b", "owner_uid": "rs-1"}
    log = [
        *(w(90.0, "Pod", "SYNC", p) for p in (a, b, c)),
        w(90.0, "EndpointSlice", "SYNC", slice_({"uid-a": True, "uid-b": True, "uid-c": True})),
        act(99.0, "Drain", "PLANNED", node="w1", guarantee=2, ready_before=3, plan={}),
        act(100.0, "Drain", "CORDONED", node="w1"),
        act(
            100.5,
            "Eviction",
            "REFUSED",
            drain="w1",
            victim=refusal,
            target=True,
            budgets=["searchapp"],
            message="x",
        ),
        w(100.6, "Pod", "MODIFIED", a_gone),
        w(100.7, "EndpointSlice", "MODIFIED", slice_({"uid-b": True, "uid-c": True})),
        w(100.8, "Pod", "ADDED", fresh("a2", None, created="1970-01-01T00:01:40Z")),
        w(100.9, "Pod", "MODIFIED", fresh("a2", "w3", created="1970-01-01T00:01:40Z")),
        w(
            101.5,
            "Pod",
            "MODIFIED",
            fresh("a2", "w3", started=True, ready=True, created="1970-01-01T00:01:40Z"),
        ),
        w(101.6, "EndpointSlice", "MODIFIED", slice_({"uid-b": True, "uid-c": True, "uid-a2": True})),
        w(101.7, "Pod", "DELETED", a_gone),
        act(
            102.5,
            "Eviction",
            "REFUSED",
            drain="w1",
            victim=refusal,
            target=True,
            budgets=["searchapp"],
            message="x",
        ),
        w(104.6, "Pod", "MODIFIED", b_gone),
        w(104.7, "EndpointSlice", "MODIFIED", slice_({"uid-c": True, "uid-a2": True})),
        w(104.8, "Pod", "ADDED", fresh("b2", None, created="1970-01-01T00:01:44Z")),
        w(104.9, "Pod", "MODIFIED", fresh("b2", "w2", created="1970-01-01T00:01:44Z")),
        w(
            106.0,
            "Pod",
            "MODIFIED",
            fresh("b2", "w2", started=True, ready=True, created="1970-01-01T00:01:44Z"),
        ),
        w(106.1, "EndpointSlice", "MODIFIED", slice_({"uid-c": True, "uid-a2": True, "uid-b2": True})),
        w(106.2, "Pod", "DELETED", b_gone),
        act(104.55, "Drain", "DONE", node="w1", pending=[], evicted=2),
    ]
    log += _kill_lines(tmp_path, [("a", 100.55), ("b", 104.5)])
    return log, load(98, 110, {104})


def test_drain_figures_per_pod_per_budget(tmp_path):
    log, lo = drain_log(tmp_path)
    f = nodetimeline.drain_figures(log, lo)
    assert f["node"] == "w1" and f["blocked"] is False and f["drain_s"] == pytest.approx(4.55)
    assert [(p["victim"], p["replacement"], p["replacement_node"]) for p in f["pods"]] == [
        ("a", "a2", "w3"),
        ("b", "b2", "w2"),
    ]
    assert [p["name"] for p in f["pods"][0]["phases"]][:5] == [
        "replacement_created",
        "scheduled",
        "containers_started",
        "ready",
        "endpoints_ready",
    ]
    assert f["pods"][0]["mttr_s"] == pytest.approx(1.05) and f["pods"][1]["mttr_s"] == pytest.approx(1.6)
    [hold] = f["budgets"]
    assert (hold["budget"], hold["refusals"], hold["held_s"], hold["blocked"]) == ("searchapp", 2, 4.0, False)
    assert f["guarantee"] == 2 and f["min_ready_during"] == 2 and f["left_on_node"] == []
    assert f["recovered_s"] == pytest.approx(6.1) and f["failed_requests"] == 3 and f["evicted_target"] == 2
