"""`scaleproof bench node-loss` and `bench node-drain`: the node faults' figures across runs.

node-loss: per run its MTTR, the pods' `tolerationSeconds`, the grace and eviction waits observed, the
failed requests; per phase the median and max over the runs of each `tolerationSeconds`, side by side
(the default 300 s beside a lowered one is the point of running it twice). node-drain: per run the
drain's duration, the per-pod recovery, the budgets that held it.

The figures come from each run's evidence block (`timelines.node_loss` / `timelines.drain`, written by
the kinds' builders); a block without them (a run recorded before its builder existed) is recomputed
from the run directory's events with `scaleproof.nodetimeline`, the functions the builders use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scaleproof import nodetimeline, rundir
from scaleproof.phases import percentile

__all__ = ["KINDS", "node_drain_figures", "node_loss_figures", "print_node_drain", "print_node_loss"]

REPO = Path(__file__).resolve().parents[1]
KINDS = ("node-loss", "node-drain")


def _events(ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    run_dir = Path(str(ev.get("run_dir") or ""))
    path = run_dir if run_dir.is_absolute() else REPO / run_dir
    return rundir.read_events(path) if (path / rundir.EVENTS_FILE).exists() else []


def _timeline(ev: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    found = (ev.get("timelines") or {}).get(key)
    if found:
        return found  # type: ignore[no-any-return]
    events = _events(ev)
    if key == "node_loss":
        return nodetimeline.node_loss_figures(events)
    return nodetimeline.drain_figures(events)


def node_loss_figures(evidence: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`{"runs": [...], "by_toleration": {seconds: {"runs", "mttr_s": {median, max}, "phases": {name:
    {median, max}}}}}` (seconds; the key "pods' own" when the run did not record it)."""
    runs: list[dict[str, Any]] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for ev in evidence:
        tl = _timeline(ev, "node_loss")
        row = {
            "run_id": ev.get("run_id"),
            "verdict": ev.get("verdict"),
            "node": tl.get("node"),
            "toleration_seconds": tl.get("toleration_seconds"),
            "mttr_s": tl.get("mttr_s"),
            "grace_observed_s": tl.get("grace_observed_s"),
            "eviction_observed_s": tl.get("eviction_observed_s"),
            "dead_endpoint_s": tl.get("dead_endpoint_s"),
            "failed_requests": tl.get("failed_requests"),
            "failure_window_s": tl.get("failure_window_s"),
            "phases": {p["name"]: p["duration_s"] for p in tl.get("phases") or []},
            "reason": tl.get("reason"),
        }
        runs.append(row)
        key = str(row["toleration_seconds"]) if row["toleration_seconds"] is not None else "pods' own"
        groups.setdefault(key, []).append(row)
    return {"runs": runs, "by_toleration": {k: _group(v) for k, v in groups.items()}}


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    return {"median": percentile(values, 50), "max": max(values) if values else None}


def _group(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    names = [n for n in nodetimeline.NODE_LOSS_PHASES if any(n in r["phases"] for r in rows)]
    return {
        "runs": len(rows),
        "mttr_s": _stats([r["mttr_s"] for r in rows if r["mttr_s"] is not None]),
        "failed_requests": _stats([r["failed_requests"] for r in rows if r["failed_requests"] is not None]),
        "phases": {n: _stats([r["phases"][n] for r in rows if n in r["phases"]]) for n in names},
    }


def _s(v: Any) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def print_node_loss(fig: Mapping[str, Any]) -> None:
    print(f"node-loss: {len(fig['runs'])} run(s)")
    for r in fig["runs"]:
        print(
            f"  {r['run_id']}: verdict {r['verdict']}, node {r['node']}, tolerationSeconds "
            f"{_s(r['toleration_seconds'])}, MTTR {_s(r['mttr_s'])} s, grace observed "
            f"{_s(r['grace_observed_s'])} s, eviction observed {_s(r['eviction_observed_s'])} s, failed "
            f"requests {_s(r['failed_requests'])} over {_s(r['failure_window_s'])} s"
            + (f" ({r['reason']})" if r["reason"] else "")
        )
    groups = fig["by_toleration"]
    keys = list(groups)
    print("  phase (s, median / max)".ljust(34) + "".join(f"tolerationSeconds {k}".ljust(28) for k in keys))
    for name in nodetimeline.NODE_LOSS_PHASES:
        cells = [groups[k]["phases"].get(name) for k in keys]
        if any(cells):
            print(
                f"  {name:<32}"
                + "".join(
                    f"{_s((c or {}).get('median'))} / {_s((c or {}).get('max'))}".ljust(28) for c in cells
                )
            )
    print(
        f"  {'MTTR':<32}"
        + "".join(
            f"{_s(groups[k]['mttr_s']['median'])} / {_s(groups[k]['mttr_s']['max'])}".ljust(28) for k in keys
        )
    )


def node_drain_figures(evidence: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per run: node, blocked, drain_s, evicted target pods, the slowest pod's recovery, the budgets."""
    runs = []
    for ev in evidence:
        tl = _timeline(ev, "drain")
        mttrs = [p["mttr_s"] for p in tl.get("pods") or [] if p.get("mttr_s") is not None]
        runs.append(
            {
                "run_id": ev.get("run_id"),
                "verdict": ev.get("verdict"),
                "node": tl.get("node"),
                "blocked": tl.get("blocked"),
                "drain_s": tl.get("drain_s"),
                "evicted_target": tl.get("evicted_target"),
                "pod_recovery_max_s": max(mttrs) if mttrs else None,
                "min_ready_during": tl.get("min_ready_during"),
                "guarantee": tl.get("guarantee"),
                "failed_requests": tl.get("failed_requests"),
                "budgets": [_budget(b) for b in tl.get("budgets") or []],
            }
        )
    return {"runs": runs}


def _budget(b: Mapping[str, Any]) -> str:
    blocked = ", blocked" if b.get("blocked") else ""
    return f"{b.get('budget')} ({b.get('refusals')} refusals, held {b.get('held_s')} s{blocked})"


def print_node_drain(fig: Mapping[str, Any]) -> None:
    print(f"node-drain: {len(fig['runs'])} run(s)")
    for r in fig["runs"]:
        print(
            f"  {r['run_id']}: verdict {r['verdict']}, node {r['node']}, "
            f"{'BLOCKED' if r['blocked'] else 'drained'} in {_s(r['drain_s'])} s, {_s(r['evicted_target'])} "
            f"target pod(s) evicted, slowest back in {_s(r['pod_recovery_max_s'])} s, Ready min "
            f"{_s(r['min_ready_during'])} (budget guarantees {_s(r['guarantee'])}), failed requests "
            f"{_s(r['failed_requests'])}; budgets: {', '.join(r['budgets']) or 'none refused'}"
        )
