"""Kill pods, safely: explicit namespace, non-empty selector, capped victims, PDBs enforced by the API.

Safety rules (each refused with `UnsafeTarget` before anything is deleted):

* an explicit namespace, never kube-system / kube-public / kube-node-lease;
* a non-empty label selector (chaostoolkit-kubernetes deletes the whole namespace's pods without one);
* victims per kill ≤ `count`, ≤ `max_count` and ≤ `max_percent` % of the selected, non-terminating pods
  (rounded down, so at least one pod always survives a 50 % cap of 2);
* pods already terminating (deletionTimestamp set) are never picked; only Ready pods are victims;
* by default (`respect_pdb=True`) each victim goes through the `policy/v1` Eviction API, so the API
  server checks every PodDisruptionBudget selecting the pod atomically with the delete (a read of
  `disruptionsAllowed` followed by a delete would race). A refusal (HTTP 429) is retried for
  `pdb_wait_s` seconds (the budget's status lags a recovery by a sync), then recorded as an
  `Eviction`/`REFUSED` line with the API's message (it names the budget) and the action stops
  there without error: nothing more is deleted. `respect_pdb=False` sends a plain delete, which no
  budget limits, for teams that decide so deliberately.

Each eviction or delete carries the victim's uid as precondition (never a same-named successor) and is
recorded, with the time the request was sent and the time the API accepted it, as a `Kill` line
(`EVICTION_ACCEPTED` or `DELETE_ACCEPTED`) in `<run_dir>/events.jsonl` (read by
`scaleproof.podtimeline.kill_timelines`: MTTR starts at the acceptance) and in `touched.jsonl`. The undo
plan exists before the first fault. `dry_run=True` prints the victims, the budgets covering them and
the undo plan, and touches nothing.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from actions.killprogress import KillProgress
from scaleproof import kube, kubenodes, rundir, undo
from scaleproof.errors import DeadlineExceeded, ScaleproofError, UnsafeTarget
from scaleproof.kobjects import controller_ref, pod_ready, terminating
from scaleproof.waiting import wait_until

__all__ = ["Victim", "kill_pods", "select_victims"]

logger = logging.getLogger(__name__)


class Victim(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    owner_uid: str | None
    owner_kind: str | None
    owner_name: str | None
    node: str | None
    t_request: float
    t_accepted: float
    kill_id: str
    round: int  # the repetition it was killed in (kill_count victims per round)
    method: str  # "eviction" | "delete"


def select_victims(
    pods: Sequence[Mapping[str, Any]],
    count: int,
    max_count: int,
    max_percent: float,
    rng: random.Random,
) -> tuple[list[Mapping[str, Any]], dict[str, Any]]:
    """Pick victims among Ready, non-terminating pods within the caps. Returns (victims, info)."""
    if count < 1:
        raise UnsafeTarget(f"count must be ≥ 1, got {count}")
    live = [p for p in pods if not terminating(p)]
    leaving = len(pods) - len(live)
    ready = sorted((p for p in live if pod_ready(p)), key=lambda p: p["metadata"]["name"])
    cap_pct = math.floor(len(live) * float(max_percent) / 100.0)
    allowed = min(count, int(max_count), cap_pct, len(ready))
    info = {
        "selected": len(pods),
        "terminating_skipped": leaving,
        "ready": len(ready),
        "cap_percent": cap_pct,
        "cap_count": int(max_count),
        "requested": count,
        "allowed": allowed,
    }
    if allowed < 1:
        raise UnsafeTarget(
            f"no pod may be killed: {len(ready)} Ready of {len(live)} live pods ({leaving} terminating "
            f"skipped), caps count={max_count} percent={max_percent}% → {cap_pct}"
        )
    if allowed < count:
        raise UnsafeTarget(f"asked to kill {count} pods but the caps allow {allowed}: {info}")
    return rng.sample(ready, allowed), info


def _pdb_names(
    namespace: str, victims: Sequence[Mapping[str, Any]], configuration: Mapping[str, Any] | None
) -> list[str]:
    """Names of the budgets selecting any victim (for the record: the API server enforces them)."""
    names: set[str] = set()
    for p in victims:
        labels = (p.get("metadata") or {}).get("labels") or {}
        for pdb in kube.pdbs_for(namespace, labels, configuration):
            names.add(str((pdb.get("metadata") or {}).get("name")))
    return sorted(names)


def _refusal(exc: BaseException) -> str | None:
    """The API's explanation when `exc` is an eviction refused by a budget (429), else None."""
    return kubenodes.eviction_refusal(exc)


def _disrupt(
    v: Victim,
    namespace: str,
    grace_period_s: int | None,
    evict: bool,
    configuration: Mapping[str, Any] | None,
) -> str | None:
    """Evict (or delete) one victim with its uid as precondition. None when accepted, the refusal
    text when a PodDisruptionBudget refused the eviction."""
    options: dict[str, Any] = {"preconditions": {"uid": v["uid"]}}
    if grace_period_s is not None:
        options["gracePeriodSeconds"] = int(grace_period_s)
    core = kube.apis(configuration).core
    if not evict:
        kube.call(
            core.delete_namespaced_pod,
            v["name"],
            namespace,
            body=options,
            what=f"delete pod {namespace}/{v['name']}",
        )
        return None
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": v["name"], "namespace": namespace},
        "deleteOptions": options,
    }
    try:
        kube.call(
            core.create_namespaced_pod_eviction,
            v["name"],
            namespace,
            body=body,
            what=f"evict pod {namespace}/{v['name']}",
        )
    except ScaleproofError as exc:
        refused = _refusal(exc)
        if refused is None:
            raise
        return refused
    return None


@dataclass(frozen=True)
class _Kills:
    """What every step of one `kill_pods` call needs to know."""

    namespace: str
    selector: str
    path: Path  # the run directory
    evict: bool  # through the Eviction API (budgets apply), else a plain delete
    grace_period_s: int | None
    pdb_wait_s: float
    wait_recovered_s: float
    baseline_ready: int  # Ready pods before the first kill
    end: float  # time.monotonic() deadline of the whole action
    pause: Callable[[float], None]
    configuration: Mapping[str, Any] | None
    progress: KillProgress | None = None  # one console line per kill round (issue 22)


def kill_pods(
    namespace: str,
    selector: str,
    count: int = 1,
    repetitions: int = 1,
    interval_s: float = 20.0,
    max_count: int = 5,
    max_percent: float = 50.0,
    grace_period_s: int | None = None,
    respect_pdb: bool = True,
    pdb_wait_s: float = 30.0,
    wait_recovered_s: float = 120.0,
    deadline_s: float = 900.0,
    dry_run: bool = False,
    seed: int | None = None,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Kill `count` Ready pods of `selector`, `repetitions` times, `interval_s` seconds apart.

    Before each repetition after the first, waits (event-driven, ≤ `wait_recovered_s` s) until as many
    pods are Ready as before the first kill, so kills do not overlap unless the system is slow (then
    DeadlineExceeded). The whole action respects `deadline_s`. An eviction a budget keeps refusing
    for `pdb_wait_s` seconds ends the action early with `refused` set (not an error). Returns
    `{"victims": [Victim...], "kills": n, "pdbs": [...], "refused": None | {"victim", "message",
    "t"}, "method": "eviction" | "delete", "dry_run": bool}` (times are Unix seconds)."""
    namespace, selector = kube.check_target(namespace, selector)
    undo.check_abort("killing pods")
    if repetitions < 1:
        raise UnsafeTarget(f"repetitions must be ≥ 1, got {repetitions}")
    rng = random.Random(seed)
    end = time.monotonic() + float(deadline_s)
    pods = kube.list_pods(namespace, selector, configuration)
    if not pods:
        raise UnsafeTarget(f"no pod matches {selector!r} in namespace {namespace!r}: check the selector")
    if dry_run:
        chosen, info = select_victims(pods, count, max_count, max_percent, rng)
        return _dry_run(chosen, info, namespace, selector, repetitions, respect_pdb, run_dir, configuration)
    path = _plan_before_fault(namespace, selector, run_dir, configuration)
    ready = sum(1 for p in pods if pod_ready(p))
    # the _Kills fields in order: budgets and waits, Ready before the first kill, deadline, sleeper
    waits = (grace_period_s, pdb_wait_s, wait_recovered_s, ready, end, sleep or _interruptible_sleep)
    run = _Kills(
        namespace, selector, path, respect_pdb, *waits, configuration, KillProgress(repetitions, path, ready)
    )
    victims: list[Victim] = []
    pdb_names: set[str] = set()
    refused: dict[str, Any] | None = None
    for rep in range(repetitions):
        if rep > 0:
            pods = _next_round(run, rep, deadline_s, interval_s)
        chosen, info = select_victims(pods, count, max_count, max_percent, rng)
        if respect_pdb:
            pdb_names.update(_pdb_names(namespace, chosen, configuration))
        killed, refused = _kill_round(run, chosen, info, first=len(victims) + 1, round_no=rep + 1)
        if run.progress is not None:
            run.progress.killed(killed)
        victims += killed
        if refused is not None:
            break
    # the last repetition's victims are replaced before we return, so that the watches (closed by
    # the rollbacks) see the replacement become Ready and the endpoints come back
    remaining = end - time.monotonic()
    if remaining > 0:
        _wait_recovered(run, remaining)
    if run.progress is not None:
        run.progress.flush()
    method = "eviction" if respect_pdb else "delete"
    return {
        "victims": victims,
        "kills": len(victims),
        "pdbs": sorted(pdb_names),
        "refused": refused,
        "method": method,
        "dry_run": False,
    }


def _dry_run(
    chosen: Sequence[Mapping[str, Any]],
    info: Mapping[str, Any],
    namespace: str,
    selector: str,
    repetitions: int,
    respect_pdb: bool,
    run_dir: str | None,
    configuration: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Print and return the victims, the budgets covering them and the undo plan; touch nothing."""
    plan = (
        undo.load_plan(run_dir, configuration)
        if (run_dir or (configuration or {}).get(rundir.CONFIG_KEY))
        else None
    )
    out = {
        "dry_run": True,
        "victims": [_victim(p, namespace) for p in chosen],
        "repetitions": repetitions,
        "selection": info,
        "method": "eviction" if respect_pdb else "delete",
        "pdbs": _pdb_names(namespace, chosen, configuration),
        "undo_plan": plan
        or {
            "namespace": namespace,
            "selector": selector,
            "note": "pod kills need no undo: the ReplicaSet recreates the pods",
        },
    }
    print(json.dumps(out, indent=2, default=str))
    return out


def _plan_before_fault(
    namespace: str, selector: str, run_dir: str | None, configuration: Mapping[str, Any] | None
) -> Path:
    """The run directory, with an undo plan on disk before the first fault (kills need no undo: the
    ReplicaSet recreates the pods; the plan still names what this run may touch)."""
    path = rundir.resolve(run_dir, configuration)
    if undo.load_plan(path) is None:
        undo.write_plan(
            {
                "version": undo.PLAN_VERSION,
                "created": time.time(),
                "namespace": namespace,
                "selector": selector,
                "deployment": None,
                "hpa": None,
                "load": None,
                "rolled_back": False,
                "replays": [],
            },
            path,
        )
    return path


def _wait_recovered(run: _Kills, remaining: float) -> None:
    """Until as many pods are Ready (and not terminating) as before the first kill."""
    kube.wait_for_ready_replicas(
        run.namespace,
        run.selector,
        min_ready=run.baseline_ready,
        timeout_s=min(run.wait_recovered_s, remaining),
        configuration=run.configuration,
        check=undo.check_abort,
    )
    if run.progress is not None:
        run.progress.recovered()


def _next_round(run: _Kills, rep: int, deadline_s: float, interval_s: float) -> list[kube.PodBody]:
    """Before repetition `rep` (from 1): the replacements Ready, `interval_s` more, then the pods
    to choose from. DeadlineExceeded when the action's deadline has passed."""
    remaining = run.end - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded(f"kill_pods deadline of {deadline_s} s reached after {rep} repetition(s)")
    _wait_recovered(run, remaining)
    run.pause(min(float(interval_s), max(0.0, run.end - time.monotonic())))
    undo.check_abort(f"starting kill repetition {rep + 1}")
    return kube.list_pods(run.namespace, run.selector, run.configuration)


def _kill_round(
    run: _Kills, chosen: Sequence[Mapping[str, Any]], info: Mapping[str, Any], first: int, round_no: int = 1
) -> tuple[list[Victim], dict[str, Any] | None]:
    """Evict (or delete) the chosen pods one by one, recording each (ids from `kill-<first>`, the
    repetition as `round`). Returns the victims and, when a budget kept refusing, the refusal
    (nothing after it is touched)."""
    killed: list[Victim] = []
    for p in chosen:
        undo.check_abort("disrupting the next pod")
        v = _victim(p, run.namespace)
        v["kill_id"] = f"kill-{first + len(killed)}"
        v["round"] = round_no
        v["method"] = "eviction" if run.evict else "delete"
        refused = _disrupt_until(v, run)
        if refused is not None:
            _record_refusal(run.path, v, refused, info)
            return killed, refused
        _record_kill(run.path, v, info)
        killed.append(v)
    return killed, None


def _disrupt_until(v: Victim, run: _Kills) -> dict[str, Any] | None:
    """Disrupt `v`, retrying a budget's refusal every 2 s for `pdb_wait_s` s (never past the
    action's deadline). Sets `t_request`/`t_accepted` on success; returns the last refusal otherwise."""
    give_up = min(time.monotonic() + float(run.pdb_wait_s), run.end)
    attempts = [0]

    def attempt() -> str | None:
        if attempts[0]:
            logger.info("eviction of %s/%s refused; retrying", run.namespace, v["name"])
        attempts[0] += 1
        v["t_request"] = time.time()
        return _disrupt(v, run.namespace, run.grace_period_s, run.evict, run.configuration)

    tried = wait_until(
        attempt,
        max(0.0, give_up - time.monotonic()),
        2.0,
        done=lambda message: message is None,
        abort=lambda: undo.check_abort("retrying a refused eviction"),
        sleep=run.pause,
    )
    if tried.done:
        v["t_accepted"] = time.time()
        return None
    return {
        "victim": v["name"],
        "uid": v["uid"],
        "message": tried.value,
        "attempts": attempts[0],
        "t": time.time(),
    }


def _record_kill(path: Any, v: Victim, info: Mapping[str, Any]) -> None:
    rundir.append_event(
        path,
        {
            "t": round(v["t_accepted"], 6),
            "t_request": round(v["t_request"], 6),
            "source": "action",
            "kind": "Kill",
            "type": "EVICTION_ACCEPTED" if v.get("method") == "eviction" else "DELETE_ACCEPTED",
            "kill_id": v["kill_id"],
            "victim": dict(v),
            "selection": dict(info),
        },
    )
    rundir.append_event(
        path,
        {
            "kind": "Pod",
            "namespace": v["namespace"],
            "name": v["name"],
            "uid": v["uid"],
            "action": "evict" if v.get("method") == "eviction" else "delete",
            "t": round(v["t_accepted"], 6),
        },
        name="touched.jsonl",
    )
    logger.info(
        "%s pod %s/%s (uid %s)",
        "evicted" if v.get("method") == "eviction" else "deleted",
        v["namespace"],
        v["name"],
        v["uid"],
    )


def _record_refusal(path: Any, v: Victim, refused: Mapping[str, Any], info: Mapping[str, Any]) -> None:
    """A refused eviction is an outcome of the run, kept next to the kills (not a Kill line)."""
    rundir.append_event(
        path,
        {
            "t": round(float(refused["t"]), 6),
            "source": "action",
            "kind": "Eviction",
            "type": "REFUSED",
            "victim": {k: v.get(k) for k in ("name", "namespace", "uid", "owner_uid")},
            "message": refused["message"],
            "attempts": refused["attempts"],
            "selection": dict(info),
        },
    )
    logger.warning(
        "eviction of %s/%s refused by the API after %d attempt(s): %s; no pod was disrupted, stopping",
        v["namespace"],
        v["name"],
        refused["attempts"],
        refused["message"],
    )


def _victim(p: Mapping[str, Any], namespace: str) -> Victim:
    meta = p.get("metadata") or {}
    o = controller_ref(p)
    return {
        "name": meta.get("name", "?"),
        "namespace": namespace,
        "uid": meta.get("uid", "?"),
        "owner_uid": o.get("uid"),
        "owner_kind": o.get("kind"),
        "owner_name": o.get("name"),
        "node": (p.get("spec") or {}).get("nodeName"),
    }


def _interruptible_sleep(seconds: float) -> None:
    """Sleep that ends early when a SIGTERM/SIGINT set the abort flag."""
    undo.ABORT.wait(max(0.0, seconds))
