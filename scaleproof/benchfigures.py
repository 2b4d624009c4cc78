"""Benchmark figures across runs, from their evidence blocks (`scaleproof.contract.Evidence`), read
through `scaleproof.journal` (journals, journal folders, run dirs): recomputed with
`scaleproof.podtimeline` / `scaleproof.floor`, the functions the evidence uses."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scaleproof import floor as floor_figures
from scaleproof import podtimeline
from scaleproof.builders import store_peer_loss
from scaleproof.contract import Evidence
from scaleproof.journal import Journal, JournalError, find_evidence, load_evidence, load_journal
from scaleproof.phases import percentile

__all__ = [
    "KINDS",
    "PEER_LOSS_NAMES",
    "collect",
    "files",
    "floor_comparison",
    "hpa_scale_figures",
    "pod_kill_figures",
    "run_times",
    "scale_figures",
    "store_peer_loss_figures",
    "vector_shards_figures",
]

KINDS = ("pod-kill", "hpa-scale", "vector-shards", "store-peer-loss")


def files(p: Path) -> list[Path]:
    """The journals of a journal folder, else `p` itself (a journal, or a run dir with evidence.json)."""
    return sorted(p.glob("*.json")) if p.is_dir() and not (p / "evidence.json").exists() else [p]


def _read(f: Path) -> tuple[Evidence, Journal | None] | None:
    """(evidence block, journal) of a journal file; (block, None) of a run dir or its evidence.json;
    None, said on stderr, when there is no block to read."""
    try:
        if f.is_dir() or f.name == "evidence.json":
            return load_evidence(f if f.is_dir() else f.parent), None
        journal = load_journal(f)
    except JournalError as exc:
        print(f"skipped {exc}", file=sys.stderr)
        return None
    block = find_evidence(journal)
    return (block, journal) if block is not None else None


def _sources(paths: Iterable[str | Path], kind: str) -> list[tuple[Evidence, Journal | None]]:
    """(evidence, journal) of `kind` from journals / run dirs, deduplicated by run id."""
    seen: set[str] = set()
    out = []
    for raw in paths:
        for f in files(Path(raw)):
            found = _read(f)
            if found is None or (found[0].get("experiment") or {}).get("kind") != kind:
                continue
            rid = str(found[0].get("run_id") or f)
            if rid not in seen:
                seen.add(rid)
                out.append(found)
    return out


def collect(paths: Iterable[str | Path], kind: str) -> list[dict[str, Any]]:
    """Evidence blocks of `kind` from journals, journal folders or run dirs (deduplicated by run id)."""
    return [dict(ev) for ev, _ in _sources(paths, kind)]


def run_times(paths: Iterable[str | Path], kind: str) -> dict[str, Any]:
    """`chaos run` wall time (the journal's `duration`, s) per run of `kind`; run dirs have none."""
    per_run = {
        str(ev.get("run_id")): round(float(journal["duration"]), 1)
        for ev, journal in _sources(paths, kind)
        if journal is not None and isinstance(journal.get("duration"), int | float)
    }
    vals = list(per_run.values())
    return {
        "per_run": per_run,
        "median_s": percentile(vals, 50),
        "max_s": max(vals) if vals else None,
    }


# ---------------------------------------------------------------------------------------------- figures
def _kills(evidence: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [k for ev in evidence for k in ((ev.get("timelines") or {}).get("kills") or [])]


def pod_kill_figures(evidence: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """MTTR summary over every kill of every run, per-phase medians, and failed requests per kill."""
    kills = _kills(evidence)
    s = podtimeline.mttr_summary(kills)
    known = [int(f) for f in (k.get("failed_requests") for k in kills) if f is not None]
    return {
        "runs": len(evidence),
        "mttr": s,
        "phase_medians_s": floor_figures.phase_medians(kills),
        "failed_requests_per_kill": {
            "max": max(known) if known else None,
            "mean": round(sum(known) / len(known), 3) if known else None,
            "total": sum(known),
            "kills_with_load_stats": len(known),
        },
        "enough_kills": s["count"] >= 10,
    }


def scale_figures(evidence: Sequence[dict[str, Any]], journal_bytes: int | None = None) -> dict[str, Any]:
    """The measurement at scale: every victim paired with its own replacement (no replacement counted
    twice), no kill lost against the plan (rounds × pods per round), the MTTR distribution over every
    kill, and what recording cost: the chaos process' CPU and peak memory, Locust's share of the
    machine, event-log and journal bytes per kill."""
    kills = _kills(evidence)
    cfgs = [ev.get("configuration") or {} for ev in evidence]
    planned = sum(int(c.get("kills") or 0) * int(c.get("kill_count") or 1) for c in cfgs)
    replacements = [k["replacement_uid"] for k in kills if k.get("replacement_uid")]
    # victims per (run, round): rounds of different runs are different rounds
    per_round = Counter((n, k.get("round")) for n, ev in enumerate(evidence) for k in _kills([ev]))
    costs = [ev.get("cost") or {} for ev in evidence]
    chaos = [c.get("chaos_process") or {} for c in costs]
    load = [c.get("load_generator") or {} for c in costs]
    return {
        "runs": len(evidence),
        "replicas": sorted({c.get("replicas") for c in cfgs}, key=str),
        "planned_kills": planned,
        "kills": len(kills),
        "lost_kills": planned - len(kills),
        "distinct_victims": len({k.get("victim_uid") for k in kills}),
        "paired": len(replacements),
        "distinct_replacements": len(set(replacements)),
        "recovered": sum(1 for k in kills if k.get("recovered")),
        "rounds": len(per_round),
        "victims_per_round": sorted(set(per_round.values())),
        "mttr": podtimeline.mttr_summary(kills),
        "recorder_cpu_s": max((float(c["cpu_s"]) for c in chaos if c.get("cpu_s") is not None), default=None),
        "recorder_rss_peak_mib": max(
            (float(c["rss_peak_mib"]) for c in chaos if c.get("rss_peak_mib") is not None), default=None
        ),
        "recorder_machine_share": max(
            (float(c["machine_share"]) for c in chaos if c.get("machine_share") is not None), default=None
        ),
        "load_machine_share": max(
            (float(c["machine_share"]) for c in load if c.get("machine_share") is not None), default=None
        ),
        "events_bytes_per_kill": round(sum(int(c.get("events_bytes") or 0) for c in costs) / len(kills))
        if kills
        else None,
        "journal_bytes_per_kill": round(journal_bytes / len(kills)) if kills and journal_bytes else None,
    }


def floor_comparison(app: Sequence[dict[str, Any]], floor: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`scaleproof.floor.compare` over every kill of the app's and the floor's runs."""
    return floor_figures.compare(_kills(app), _kills(floor))


def hpa_scale_figures(evidence: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Time-to-scale per run with its phases and cadence, and the spread across runs."""
    runs: list[dict[str, Any]] = []
    for ev in evidence:
        st = (ev.get("timelines") or {}).get("scale") or {}
        runs.append(
            {
                "run_id": ev.get("run_id"),
                "time_to_scale_s": st.get("time_to_scale_s"),
                "reason": st.get("reason"),
                "flaps": st.get("flaps"),
                "phases": [(p["name"], p["duration_s"]) for p in st.get("phases") or []],
                "metric_source": st.get("metric_source"),
                "cadence": st.get("cadence") or {},
            }
        )
    vals: list[float] = [float(r["time_to_scale_s"]) for r in runs if r["time_to_scale_s"] is not None]
    return {
        "runs": runs,
        "count": len(vals),
        "p50": percentile(vals, 50),
        "p95": percentile(vals, 95),
        "max": max(vals) if vals else None,
    }


def vector_shards_figures(evidence: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Shard figures per run (shards, nodes holding data, documents, shards queried) and the minimum."""
    names = ("shards_min", "nodes_with_shards", "documents_total", "shards_queried")
    runs = [
        {"run_id": ev.get("run_id"), "verdict": ev.get("verdict")}
        | {n: ((ev.get("metrics") or {}).get(n) or {}).get("value") for n in names}
        for ev in evidence
    ]
    return {
        "runs": runs,
        "min": {n: min((float(v) for r in runs if (v := r[n]) is not None), default=None) for n in names},
    }


# the per-run figures of the store-peer-loss builder, less the two that describe the setup
PEER_LOSS_NAMES = tuple(
    n for n in store_peer_loss.FIGURE_NAMES if n not in ("peers_killed", "replication_factor")
)


def store_peer_loss_figures(evidence: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per run: the replication factor read back from the store, failed/partial queries and the
    unavailable window per path, recovery, documents lost; then side by side per factor (the worst
    run of each factor: max of each figure), the replication decision's table."""
    runs = []
    for ev in evidence:
        m = ev.get("metrics") or {}
        runs.append(
            {"run_id": ev.get("run_id"), "verdict": ev.get("verdict")}
            | {"replication_factor": (m.get("replication_factor") or {}).get("value")}
            | {n: (m.get(n) or {}).get("value") for n in PEER_LOSS_NAMES}
        )
    by_factor: dict[str, dict[str, Any]] = {}
    for f in sorted({str(r["replication_factor"]) for r in runs}):
        mine = [r for r in runs if str(r["replication_factor"]) == f]
        by_factor[f] = {"runs": len(mine), "verdicts": dict(Counter(str(r["verdict"]) for r in mine))} | {
            n: max((float(v) for r in mine if (v := r[n]) is not None), default=None) for n in PEER_LOSS_NAMES
        }
    return {"runs": runs, "by_factor": by_factor}
