"""The scale timeline: scale-out under load decomposed into consecutive phases (time-to-scale), the
metrics-server samples it reads, and the controllers' cadence beside it.

Pure functions over the recorded event log (`scaleproof.phases` describes its lines and clocks);
objects are read through `scaleproof.kobjects`. Each step of `time_to_scale` returns what it found
(a small frozen dataclass); the timeline dict is assembled once, at the end.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from scaleproof.kobjects import go_duration, hpa_over_target, pod_cpu_requests, quantity, server_time
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
from scaleproof.podtimeline import ready_series

__all__ = [
    "SCALE_PHASES",
    "ScaleTimeline",
    "first_cpu_sample_above_target",
    "pod_metric_samples",
    "scale_cadence",
    "time_to_scale",
]

SCALE_PHASES = ("load_reached", "metric_above_target", "hpa_decision", "deployment_scaled", "target_ready")


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


_NEW_SIZE = re.compile(r"New size:\s*(\d+)")


# --------------------------------------------------------------------------------- metrics-server samples
def _pod_cpu_requests(events: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Pod name → CPU cores requested (sum over containers), from the recorded Pod objects."""
    out: dict[str, float] = {}
    for e in of_kind(events, "Pod"):
        cores = pod_cpu_requests(e["object"])
        if cores is not None:
            out[str((e["object"].get("metadata") or {}).get("name"))] = cores
    return out


def _cpu_target(events: Sequence[Mapping[str, Any]]) -> dict[str, float] | None:
    """The HPA's CPU Resource target: `{"utilization_pct": …}` or `{"average_cores": …}` (last spec seen)."""
    target = None
    for e in of_kind(events, "HorizontalPodAutoscaler"):
        for m in (e["object"].get("spec") or {}).get("metrics") or []:
            res = m.get("resource") or {}
            if m.get("type") != "Resource" or res.get("name") != "cpu":
                continue
            t = res.get("target") or {}
            if t.get("averageUtilization") is not None:
                target = {"utilization_pct": float(t["averageUtilization"])}
            elif t.get("averageValue") is not None and quantity(t["averageValue"]) is not None:
                target = {"average_cores": float(quantity(t["averageValue"]) or 0.0)}
    return target


def pod_metric_samples(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per recorded PodMetrics poll: `{"t" (receive), "timestamp" (newest sample, server),
    "window_s", "pods", "usage_cores", "requests_cores", "utilization_pct"}` (utilization over the
    pods whose CPU request is known, as the HPA computes it: sum of usage / sum of requests)."""
    evs = sorted_events(events)
    requests = _pod_cpu_requests(evs)
    out = []
    for e in evs:
        if e.get("kind") != "PodMetrics" or not e.get("items"):
            continue
        stamps = [server_time(i.get("timestamp")) for i in e["items"]]
        windows = [w for w in (go_duration(i.get("window")) for i in e["items"]) if w is not None]
        cores = {
            str(i.get("name")): sum(quantity(c.get("cpu")) or 0.0 for c in i.get("containers") or [])
            for i in e["items"]
        }
        usage = sum(c for n, c in cores.items() if n in requests)
        req = sum(requests[n] for n in cores if n in requests)
        known = [s for s in stamps if s is not None]
        out.append(
            {
                "t": round(float(e["t"]), 3),
                "timestamp": max(known) if known else None,
                "window_s": rounded(percentile(windows, 50)),
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
    evs = sorted_events(events)
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
            ts = server_time(item.get("timestamp"))
            if ts is not None:
                per_pod.setdefault(str(item.get("name")), set()).add(ts)
    gaps = [b - a for ts in per_pod.values() for a, b in zip(sorted(ts), sorted(ts)[1:], strict=False)]
    return rounded(percentile(gaps, 50))


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
    evs = sorted_events(events)
    hpa = of_kind(evs, "HorizontalPodAutoscaler")
    behavior = ((hpa[-1]["object"].get("spec") or {}).get("behavior") or {}) if hpa else {}
    stab = (behavior.get("scaleUp") or {}).get("stabilizationWindowSeconds")
    windows = [s["window_s"] for s in pod_metric_samples(evs) if s["window_s"] is not None]
    durations = {p["name"]: float(p["duration_s"]) for p in tl.get("phases") or []}
    out: dict[str, Any] = {
        "metrics_resolution_s": metrics_resolution_s,
        "metrics_resolution_measured_s": _sample_interval(evs),
        "metrics_window_s": rounded(percentile(windows, 50)),
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


# ----------------------------------------------------------------------------------------- time to scale
@dataclass(frozen=True)
class _LoadTimes:
    start: float | None  # the Load STARTED record, else the first second with users
    reached: float | None  # the first second at the full user count
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _HpaReading:
    decisions: list[dict[str, Any]]  # every change of status.desiredReplicas
    baseline: int | None  # the replica count the HPA had before the load
    t_decision: float | None  # the first decision above the baseline
    t_metric: float | None  # the first status with a metric above its target


@dataclass(frozen=True)
class _MetricBreach:
    t_metric: float | None
    resolution_s: float
    t_decision: float | None
    source: str
    sample: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Outcome:
    phases: list[Phase]
    time_to_scale_s: float | None
    reason: str | None
    max_ready_replicas: int | None
    notes: tuple[str, ...] = field(default=())


def _load_times(evs: Sequence[Mapping[str, Any]], load: Sequence[Mapping[str, Any]] | None) -> _LoadTimes:
    """Load start and load reached; the STARTED record's users caps the full user count."""
    load_sorted = sorted(load or [], key=lambda b: float(b["t"]))
    starts = [e for e in evs if e.get("kind") == "Load" and e.get("type") == "STARTED"]
    busy = [b for b in load_sorted if int(b.get("users") or 0) > 0]
    t_load_start: float | None = float(starts[0]["t"]) if starts else (float(busy[0]["t"]) if busy else None)
    if busy:
        full = max(int(b.get("users") or 0) for b in busy)
        if starts and starts[0].get("users"):
            full = min(full, int(starts[0]["users"]))
        t_reached = next(float(b["t"]) for b in busy if int(b.get("users") or 0) >= full)
        if t_load_start is not None:
            t_reached = max(t_reached, t_load_start)
        return _LoadTimes(t_load_start, t_reached)
    if starts:
        note = "no per-second load stats: load_reached = load start (no ramp information)"
        return _LoadTimes(t_load_start, t_load_start, (note,))
    return _LoadTimes(t_load_start, None)


def _hpa_watch(evs: Sequence[Mapping[str, Any]], t_load_start: float) -> _HpaReading:
    """HPA decisions, the replica count before the load, the first decision above it and the first
    status with the metric above target."""
    decisions: list[dict[str, Any]] = []
    desired_prev: int | None = None
    baseline_desired: int | None = None
    t_decision: float | None = None
    t_metric: float | None = None
    for e in of_kind(evs, "HorizontalPodAutoscaler"):
        st = e["object"].get("status") or {}
        d = st.get("desiredReplicas")
        t = float(e["t"])
        if d is not None:
            if desired_prev is not None and d != desired_prev:
                decisions.append({"t": round(t, 3), "from": desired_prev, "to": d})
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
        if t >= t_load_start and t_metric is None and hpa_over_target(e["object"]):
            t_metric = t
    return _HpaReading(decisions, baseline_desired, t_decision, t_metric)


def _rescale_event(
    evs: Sequence[Mapping[str, Any]], t_load_start: float, baseline: int | None, t_decision: float | None
) -> float | None:
    """The decision time, earlier if a `SuccessfulRescale` Event above the baseline came first."""
    for e in of_kind(evs, "Event"):
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
    t_load_start: float,
    hpa: _HpaReading,
    t_decision: float | None,
    samples: tuple[Sequence[tuple[float, float]] | None, float | None],
) -> _MetricBreach:
    """Metric above target, its resolution and the HPA decision: the HPA status or the given samples,
    unless metrics-server's own sample time above target is recorded (then the decision is the
    reaction to it)."""
    t_metric = hpa.t_metric
    metric_samples, metric_threshold = samples
    if metric_samples and metric_threshold is not None:
        for ts, v in sorted(metric_samples):
            if ts >= t_load_start and v > metric_threshold:
                t_metric = ts if t_metric is None else min(t_metric, ts)
                break
    status = _MetricBreach(
        t_metric, LOCAL_RESOLUTION_S, t_decision, "HPA status currentMetrics (watch receive time)"
    )
    sample = first_cpu_sample_above_target(evs, t_load_start)
    if sample is None:
        return status
    if t_metric is not None and t_metric < float(sample["timestamp"]):
        note = (
            "the HPA status showed CPU above target before the first recorded sample above it "
            "(a sample between two polls, or the HPA's pod set differs): the status time is kept"
        )
        return _MetricBreach(t_metric, LOCAL_RESOLUTION_S, t_decision, status.source, notes=(note,))
    # metrics-server's own sample time: the decision phase becomes the HPA's reaction to it
    t_metric = float(sample["timestamp"])
    acted = [d for d in hpa.decisions if hpa.baseline is not None and d["to"] > hpa.baseline]
    after = [d["t"] for d in acted if d["t"] >= t_metric]
    notes: tuple[str, ...] = ()
    if acted and not after:
        notes = ("the HPA scaled before any CPU sample above target (another metric?)",)
    elif after:
        t_decision = after[0] if t_decision is None or t_decision < t_metric else min(t_decision, after[0])
    source = "metrics.k8s.io PodMetrics sample timestamp"
    return _MetricBreach(t_metric, SERVER_RESOLUTION_S, t_decision, source, sample, notes)


def _deployment_scaled(
    evs: Sequence[Mapping[str, Any]], t_load_start: float
) -> tuple[int | None, float | None]:
    """(spec.replicas before the load, first change above it after the load started)."""
    baseline_spec: int | None = None
    t_deploy: float | None = None
    for e in of_kind(evs, "Deployment"):
        r = (e["object"].get("spec") or {}).get("replicas")
        if r is None:
            continue
        if float(e["t"]) < t_load_start:
            baseline_spec = r
        elif t_deploy is None and baseline_spec is not None and r > baseline_spec:
            t_deploy = float(e["t"])
    return baseline_spec, t_deploy


def _scale_phases(
    series: Sequence[Mapping[str, Any]],
    t_load_start: float,
    target_replicas: int,
    observations: list[Observation],
) -> _Outcome:
    """Chain the phases up to `target_replicas` Ready; time-to-scale, or why there is none."""
    reason: str | None = None
    before = [s for s in series if s["t"] < t_load_start]
    if before and before[-1]["ready"] >= target_replicas:
        reason = (
            f"already {before[-1]['ready']} Ready replicas (≥ {target_replicas}) before the load started: "
            "nothing to measure (reset the HPA/replicas first)"
        )
    after = [s for s in series if s["t"] >= t_load_start]
    max_ready = max((s["ready"] for s in after), default=None)
    t_target = next((float(s["t"]) for s in after if s["ready"] >= target_replicas), None)
    phases, missing = chain(t_load_start, [*observations, ("target_ready", t_target, LOCAL_RESOLUTION_S)])
    if reason is not None:
        return _Outcome(phases, None, reason, max_ready)
    if missing is None:
        return _Outcome(phases, round(phases[-1]["end"] - phases[0]["end"], 3), None, max_ready)
    notes: tuple[str, ...] = ()
    if missing == "metric_above_target" and t_target is not None:
        notes = ("target reached without an observed metric breach (no HPA status/samples?)",)
    return _Outcome(phases, None, f"phase {missing} never observed", max_ready, notes)


def _flaps(decisions: Sequence[Mapping[str, Any]]) -> int:
    """How often desiredReplicas changed direction."""
    deltas = [d["to"] - d["from"] for d in decisions]
    return sum(1 for a, b in zip(deltas, deltas[1:], strict=False) if (a > 0) != (b > 0))


def _timeline(
    target_replicas: int,
    series: list[dict[str, Any]],
    outcome: _Outcome,
    *,
    baseline: int | None = None,
    decisions: list[dict[str, Any]] | None = None,
    notes: Iterable[str] = (),
) -> ScaleTimeline:
    """The timeline dict, in the key order the journals have always had."""
    flaps = _flaps(decisions or [])
    return {
        "phases": outcome.phases,
        "time_to_scale_s": outcome.time_to_scale_s,
        "reason": outcome.reason,
        "target_replicas": target_replicas,
        "baseline_replicas": baseline,
        "max_ready_replicas": outcome.max_ready_replicas,
        "replicas": series,
        "decisions": decisions or [],
        "flaps": flaps,
        "flapping": flaps > 0,
        "server": {"resolution_s": SERVER_RESOLUTION_S},
        "notes": [*notes, *outcome.notes],
    }


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
    evs = sorted_events(events)
    loaded = _load_times(evs, load)
    series = ready_series(evs)
    if loaded.start is None or loaded.reached is None:
        reason = "no load start recorded (no Load event and no per-second stats with users)"
        return _timeline(target_replicas, series, _Outcome([], None, reason, None), notes=loaded.notes)

    hpa = _hpa_watch(evs, loaded.start)
    t_decision = _rescale_event(evs, loaded.start, hpa.baseline, hpa.t_decision)
    breach = _metric_breach(evs, loaded.start, hpa, t_decision, (metric_samples, metric_threshold))
    baseline_spec, t_deploy = _deployment_scaled(evs, loaded.start)
    observations: list[Observation] = [
        ("load_reached", loaded.reached, LOAD_RESOLUTION_S),
        ("metric_above_target", breach.t_metric, breach.resolution_s),
        ("hpa_decision", breach.t_decision, LOCAL_RESOLUTION_S),
        ("deployment_scaled", t_deploy, LOCAL_RESOLUTION_S),
    ]
    outcome = _scale_phases(series, loaded.start, target_replicas, observations)
    tl = _timeline(
        target_replicas,
        series,
        outcome,
        baseline=baseline_spec if baseline_spec is not None else hpa.baseline,
        decisions=hpa.decisions,
        notes=[*loaded.notes, *breach.notes],
    )
    tl["metric_source"] = breach.source
    if breach.sample is not None:
        tl["first_sample_above_target"] = breach.sample
    return tl
