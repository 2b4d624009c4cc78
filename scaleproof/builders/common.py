"""What every kind's builder shares: the recording it reads, the metric record, the load figures, the
claims per phase and the cost of measuring (pure: no I/O, no clock, no cluster)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scaleproof import phases, rundir
from scaleproof.contract import ClaimSummary, Cost, Figures, Metric, ProcessCost

__all__ = [
    "Builder",
    "Recording",
    "claims_summary",
    "load_figures",
    "measurement_cost",
    "metric",
]


@dataclass(frozen=True)
class Recording:
    """What a run recorded, read by the control from its run directory (the builders' only input).

    `declared` is the experiment's scaleproof extension filled from the configuration (kind,
    criteria, targets); `shards` is None when the run wrote no `shards.jsonl`; `cadence` is the
    controllers' cadence (`scaleproof.cadence.cadence`, which reads /proc: the control reads it)."""

    kind: str
    declared: Mapping[str, Any]
    configuration: Mapping[str, Any]
    events: list[dict[str, Any]]
    load: list[dict[str, Any]]
    shards: list[dict[str, Any]] | None = None
    cadence: Mapping[str, Any] = field(default_factory=dict)
    # a store-peer-loss run's files (`scaleproof.peerloss.PeerLossInputs`); None when it wrote none
    peer_loss: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Builder:
    """One experiment kind: `build` adds its metrics and timelines to the figures; `detect` says whether
    a run without a declared kind recorded this kind's fault; `with_load` gives its runs the load
    figures even when Locust recorded nothing (their criteria need them)."""

    kind: str
    build: Callable[[Recording, Figures], None]
    detect: Callable[[Recording], bool]
    with_load: bool = False


def metric(
    value: Any, unit: str, method: str, resolution_s: float | None, samples: int, reason: str | None = None
) -> Metric:
    """A metric record; a value of None carries its reason."""
    m: Metric = {
        "value": value,
        "unit": unit,
        "method": method,
        "resolution_s": resolution_s,
        "samples": samples,
    }
    if value is None:
        m["reason"] = reason or "not computed"
    return m


def load_figures(load: list[dict[str, Any]], figures: Figures) -> None:
    """The error rate and the failed requests over the run, from Locust's per-second rows."""
    rate, _requests, fail = phases.error_rate(load)
    figures["metrics"]["error_rate"] = metric(
        rate,
        "ratio",
        "Locust failures / requests over the run (1 s buckets)",
        phases.LOAD_RESOLUTION_S,
        len(load),
        "no request recorded by Locust" if rate is None else None,
    )
    figures["metrics"]["failed_requests"] = metric(
        fail if load else None,
        "requests",
        "Locust failures over the run",
        phases.LOAD_RESOLUTION_S,
        len(load),
        "no load recorded",
    )


def claims_summary(records: list[dict[str, Any]]) -> list[ClaimSummary]:
    """Per claim and phase: how often the hypothesis checked it, how often it held, the threshold
    and the range of values seen (from `claims.jsonl`, written by `probes.claims`)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        key = (str(r.get("claim")), str(r.get("phase")))
        row = rows.setdefault(
            key,
            {
                "claim": key[0],
                "phase": key[1],
                "op": r.get("op"),
                "checks": 0,
                "met": 0,
                "threshold": r.get("threshold"),
                "values": [],
            },
        )
        row["checks"] += 1
        row["met"] += 1 if r.get("met") else 0
        if isinstance(r.get("value"), int | float):
            row["values"].append(r["value"])
    order = {p: i for i, p in enumerate(rundir.PHASES)}
    out: list[ClaimSummary] = []
    for _key, row in sorted(rows.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
        vals = row.pop("values")
        out.append({**row, "min": min(vals, default=None), "max": max(vals, default=None)})  # type: ignore[typeddict-item]
    return out


def _share(u: Mapping[str, Any] | None, cores: int | None) -> ProcessCost | None:
    """The usage record with `machine_share`: its CPU seconds over its wall time on all cores."""
    if not u:
        return None
    wall = float(u.get("wall_s") or 0.0)
    share = round(float(u.get("cpu_s") or 0.0) / (wall * cores), 3) if wall > 0 and cores else None
    return {**u, "machine_share": share}  # type: ignore[return-value]


def measurement_cost(
    events: list[dict[str, Any]], chaos: Mapping[str, Any] | None, events_bytes: int
) -> Cost:
    """What measuring took from the machine: the chaos process (Chaos Toolkit, the watches of the
    recorder, the probes) as the control read it at the run's end (`chaos`), Locust as `stop_load`
    read it before stopping it (its STOPPED event), and the event log's size, per kill where there
    were kills."""
    cores = int((chaos or {}).get("cores") or 0) or None  # the machine the run measured
    stopped = [e for e in events if e.get("kind") == "Load" and e.get("type") == "STOPPED"]
    kills = sum(1 for e in events if e.get("kind") == "Kill")
    return {
        "cores": cores,
        "chaos_process": _share(chaos, cores),
        "load_generator": _share(stopped[-1].get("usage") if stopped else None, cores),
        "events_bytes": events_bytes,
        "events_lines": len(events),
        "kills": kills,
        "events_bytes_per_kill": round(events_bytes / kills) if kills else None,
    }
