"""Event-log builders shared by the timeline tests (pods, EndpointSlices, kills, HPA, Deployment):
synthetic logs in the recorder's shape (see scaleproof.phases)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
