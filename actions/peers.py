"""Kill one vector-store peer (a StatefulSet pod), and its undo: wait until the peer is back.

`kill_peer` picks ONE pod of the store's StatefulSet (configuration `peer`: a pod name or an
ordinal; else the first pod, by name, that holds a shard of the collection as the store itself
says; else the highest ordinal), refuses when the StatefulSet is not at full strength (a second
loss is not this experiment), writes its undo plan (`<run_dir>/peer-kill.json`: pod, uid,
StatefulSet, replicas) BEFORE the delete, deletes it with its uid as precondition and records the
wall-clock time the API accepted the delete (`ts_accepted`: the fault's t = 0 for every figure).

The StatefulSet controller recreates the pod under the same name and volume; `wait_peer_back` (the
method's wait and the rollback) waits until that pod exists with a NEW uid and is Ready, and
records `ts_ready`. It never creates or scales anything.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

from probes import stores
from probes.claims import run_dir_of
from scaleproof import kube, rundir, undo
from scaleproof.errors import ScaleproofError, UnsafeTarget
from scaleproof.kobjects import controller_ref, pod_ready, whole_seconds
from scaleproof.waiting import wait_until

__all__ = ["PEER_FILE", "PeerKill", "choose_peer", "kill_peer", "shard_holders", "wait_peer_back"]

logger = logging.getLogger(__name__)

PEER_FILE = "peer-kill.json"


class PeerKill(TypedDict, total=False):
    namespace: str
    statefulset: str
    replicas: int
    pod: str
    uid: str
    node: str | None
    chosen_by: str  # "configuration", "holds shards …" or "highest ordinal"
    grace_period_s: int | None  # None: the pod's own (a graceful stop); 0: a crash
    ts_request: float
    ts_accepted: float  # the fault (t = 0)
    ts_ready: float | None  # the replacement Ready and the StatefulSet complete
    new_uid: str | None


def shard_holders(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Pod names holding a shard: Weaviate's node name is the pod name (CLUSTER_HOSTNAME); Qdrant's
    `peer_uri` host starts with the pod name (`http://qdrant-1.qdrant-headless…:6335`)."""
    out: set[str] = set()
    for r in rows:
        if not r.get("objects"):
            continue
        uri = r.get("peer_uri")
        host = urlsplit(str(uri)).hostname if uri else None
        out.add(str(host).split(".")[0] if host else str(r.get("node")))
    return sorted(out)


def choose_peer(pods: Sequence[str], statefulset: str, peer: str, holders: Sequence[str]) -> tuple[str, str]:
    """(pod, why): the configured peer (a pod name or an ordinal), else the first shard holder among
    the StatefulSet's pods, else the highest ordinal. Raises UnsafeTarget for an unknown peer."""
    if str(peer).strip():
        name = f"{statefulset}-{peer}" if str(peer).strip().isdigit() else str(peer).strip()
        if name not in pods:
            raise UnsafeTarget(
                f"peer {peer!r} is not a pod of StatefulSet {statefulset} ({', '.join(pods)}): "
                "set SCALEPROOF_PEER to one of them or leave it empty"
            )
        return name, "configuration"
    held = [p for p in pods if p in holders]
    if held:
        return held[0], f"holds shards of the collection (holders: {', '.join(held)})"

    def ordinal(p: str) -> int:
        tail = p.rsplit("-", 1)[-1]
        return int(tail) if tail.isdigit() else -1

    return max(pods, key=ordinal), "highest ordinal"


def _members(
    namespace: str, statefulset: str, selector: str, cfg: Mapping[str, Any]
) -> tuple[int, list[kube.PodBody]]:
    sts = kube.call(
        kube.apis(cfg).apps.read_namespaced_stateful_set,
        statefulset,
        namespace,
        what=f"statefulset {namespace}/{statefulset}",
    )
    pods = [
        p
        for p in kube.list_pods(namespace, selector, cfg)
        if controller_ref(p).get("kind") == "StatefulSet" and controller_ref(p).get("name") == statefulset
    ]
    if not pods:
        raise UnsafeTarget(f"selector {selector!r} matches no pod of StatefulSet {namespace}/{statefulset}")
    return int((sts.get("spec") or {}).get("replicas") or 0), pods


def _holders(collection: str, cfg: Mapping[str, Any], secrets: Mapping[str, Any] | None) -> list[str]:
    try:
        with stores.opened(None, cfg, secrets) as adapter:
            return shard_holders(adapter.snapshot(collection, with_counters=False).get("per_shard") or [])
    except ScaleproofError as exc:
        logger.warning("cannot read which peers hold shards (%s); picking by ordinal", exc)
        return []


def _grace(value: Any) -> int | None:
    try:
        return whole_seconds(value)
    except ValueError as exc:
        raise UnsafeTarget(f"peer_grace_period_s (SCALEPROOF_PEER_GRACE_PERIOD_S) {exc}") from exc


def kill_peer(
    namespace: str,
    statefulset: str,
    selector: str,
    peer: str = "",
    collection: str = "Documents",
    grace_period_s: Any = None,
    configuration: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
) -> PeerKill:
    """Delete one store peer pod (see the module docstring); returns what was killed and when.
    `grace_period_s`: empty/None = the pod's own grace period, 0 = a crash (SIGKILL at once)."""
    cfg = configuration or {}
    grace = _grace(grace_period_s)
    namespace, selector = kube.check_target(namespace, selector)
    run = run_dir_of(cfg)
    if run is None:
        raise ScaleproofError("kill_peer records its undo plan in the run directory: run it under chaos run")
    replicas, pods = _members(namespace, statefulset, selector, cfg)
    ready = sorted(p["metadata"]["name"] for p in pods if pod_ready(p))
    if len(ready) < replicas:
        raise UnsafeTarget(
            f"StatefulSet {statefulset} has {len(ready)} of {replicas} peers Ready before the fault: "
            "wait until the store is whole (a second loss is not this experiment)"
        )
    name, why = choose_peer(ready, statefulset, peer, _holders(collection, cfg, secrets))
    victim = next(p for p in pods if p["metadata"]["name"] == name)
    plan: PeerKill = {
        "namespace": namespace,
        "statefulset": statefulset,
        "replicas": replicas,
        "pod": name,
        "uid": str(victim["metadata"]["uid"]),
        "node": (victim.get("spec") or {}).get("nodeName"),
        "chosen_by": why,
        "grace_period_s": grace,
    }
    rundir.write_json_atomic(run / PEER_FILE, plan)  # the undo plan exists before the fault
    undo.check_abort("killing a store peer")
    plan["ts_request"] = time.time()
    options: dict[str, Any] = {"preconditions": {"uid": plan["uid"]}}
    if grace is not None:
        options["gracePeriodSeconds"] = grace
    kube.call(
        kube.apis(cfg).core.delete_namespaced_pod,
        name,
        namespace,
        body=options,
        what=f"delete pod {namespace}/{name}",
    )
    plan["ts_accepted"] = time.time()
    rundir.write_json_atomic(run / PEER_FILE, plan)
    rundir.append_event(run, {"t": plan["ts_accepted"], "kind": "PeerKill", "pod": name, "uid": plan["uid"]})
    logger.info("store peer %s/%s deleted (%s)", namespace, name, why)
    return plan


def _load(run: Path) -> PeerKill | None:
    path = run / PEER_FILE
    return json.loads(path.read_text()) if path.exists() else None


def wait_peer_back(
    deadline_s: float = 300.0, interval_s: float = 1.0, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Wait until the killed peer's pod is back (same name, new uid, Ready); records
    `ts_ready`. Nothing to do when no peer was killed (the rollback of a run stopped earlier)."""
    cfg = configuration or {}
    run = run_dir_of(cfg)
    plan = _load(run) if run is not None else None
    if run is None or plan is None or "ts_accepted" not in plan:
        return {"waited": False, "reason": "no store peer was killed in this run"}
    if plan.get("ts_ready"):
        return {"waited": False, "pod": plan["pod"], "ts_ready": plan["ts_ready"]}
    ns, sts, pod = plan["namespace"], plan["statefulset"], plan["pod"]

    def read() -> tuple[bool, str, str]:
        try:
            _, pods = _members(ns, sts, f"statefulset.kubernetes.io/pod-name={pod}", cfg)
        except UnsafeTarget:
            return False, "", f"no pod named {pod} yet"
        new = [p for p in pods if p["metadata"]["uid"] != plan["uid"] and pod_ready(p)]
        return (
            bool(new),
            str(new[0]["metadata"]["uid"]) if new else "",
            f"{len(new)} new Ready pod named {pod}",
        )

    waited = wait_until(
        read,
        deadline_s,
        interval_s,
        done=lambda r: r[0],
        abort=lambda: undo.check_abort("waiting for the store peer"),
        wake=undo.ABORT,
        on_timeout=lambda r: (
            f"store peer {ns}/{pod} not back Ready within {deadline_s} s ({r[2]}): "
            f"kubectl -n {ns} describe pod {pod}"
        ),
    )
    ready = time.time()
    plan["ts_ready"], plan["new_uid"] = ready, waited.value[1]
    rundir.write_json_atomic(run / PEER_FILE, plan)
    return {
        "waited": True,
        "pod": pod,
        "seconds_after_kill": round(ready - plan["ts_accepted"], 3),
    }
