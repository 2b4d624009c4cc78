"""Benchmark figures across runs: MTTR over all kills, failed requests per kill, time-to-scale phases.

    python -m scaleproof.bench pod-kill [JOURNAL_OR_RUN_DIR ...]
    python -m scaleproof.bench hpa-scale [JOURNAL_OR_RUN_DIR ...] [--json]

Sources: journals (`journal.json` with the scaleproof evidence block) and run directories
(`journals/runs/<id>/evidence.json`); default: every run directory under `journals/runs`. Figures are
recomputed over the union of recorded per-kill timelines with `scaleproof.timing.mttr_summary` (the
same function the evidence uses). Prints figures and how to reproduce them; asserts no wall-clock
threshold (that is the experiments' criteria's job).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scaleproof import timing

__all__ = ["collect", "hpa_scale_figures", "main", "pod_kill_figures"]


def _evidence_of(path: Path) -> dict[str, Any] | None:
    p = path / "evidence.json" if path.is_dir() else path
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict) and doc.get("name") == "scaleproof":
        return doc
    if isinstance(doc, dict):
        for ext in doc.get("extensions") or []:
            if isinstance(ext, dict) and ext.get("name") == "scaleproof":
                return ext
    return None


def collect(paths: Iterable[str | Path], kind: str) -> list[dict[str, Any]]:
    """Evidence blocks of `kind` from journals / run dirs (deduplicated by run id)."""
    seen: set[str] = set()
    out = []
    for raw in paths:
        ev = _evidence_of(Path(raw))
        if not ev or (ev.get("experiment") or {}).get("kind") != kind:
            continue
        rid = str(ev.get("run_id") or raw)
        if rid in seen:
            continue
        seen.add(rid)
        out.append(ev)
    return out


def pod_kill_figures(evidence: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """MTTR summary over every kill of every run, and failed requests per kill."""
    kills = [k for ev in evidence for k in ((ev.get("timelines") or {}).get("kills") or [])]
    s = timing.mttr_summary(kills)
    failed = [k.get("failed_requests") for k in kills]
    known = [int(f) for f in failed if f is not None]
    return {
        "runs": len(evidence),
        "mttr": s,
        "failed_requests_per_kill": {
            "max": max(known) if known else None,
            "mean": round(sum(known) / len(known), 3) if known else None,
            "total": sum(known),
            "kills_with_load_stats": len(known),
        },
        "enough_kills": s["count"] >= 10,
    }


def hpa_scale_figures(evidence: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Time-to-scale per run with its phases, and the spread across runs."""
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
            }
        )
    vals: list[float] = [float(r["time_to_scale_s"]) for r in runs if r["time_to_scale_s"] is not None]
    return {
        "runs": runs,
        "count": len(vals),
        "p50": timing.percentile(vals, 50),
        "p95": timing.percentile(vals, 95),
        "max": max(vals) if vals else None,
    }


def _print_pod_kill(fig: dict[str, Any]) -> None:
    m = fig["mttr"]
    print(f"pod-kill: {fig['runs']} run(s), {m['count']} kill(s), {m['recovered']} recovered")
    print(f"  MTTR ({m.get('definition')}), resolution {m['resolution_s']} s:")
    for k in ("mean", "p50", "p95", "max"):
        v = m.get(k)
        print(f"    {k:5s} {'-' if v is None else f'{v:.3f} s'}")
    if m.get("reason"):
        print(f"    note: {m['reason']}")
    f = fig["failed_requests_per_kill"]
    print(
        f"  failed requests per kill: max {f['max']}, mean {f['mean']}, total {f['total']} "
        f"({f['kills_with_load_stats']} kill windows with load stats)"
    )
    if not fig["enough_kills"]:
        print(
            "  WARNING: fewer than 10 kills: p95 is not meaningful; run more repetitions (SCALEPROOF_KILLS)"
        )


def _print_hpa(fig: dict[str, Any]) -> None:
    print(f"hpa-scale: {len(fig['runs'])} run(s), {fig['count']} with a time-to-scale")
    for r in fig["runs"]:
        tts = r["time_to_scale_s"]
        print(
            f"  {r['run_id']}: time-to-scale {'-' if tts is None else f'{tts:.3f} s'}"
            + (f" ({r['reason']})" if r["reason"] else "")
            + f", flaps {r['flaps']}"
        )
        for name, d in r["phases"]:
            print(f"      {name:22s} {d:8.3f} s")
    print(f"  p50 {fig['p50']}  p95 {fig['p95']}  max {fig['max']}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scaleproof.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=["pod-kill", "hpa-scale"])
    p.add_argument("paths", nargs="*", help="journals or run dirs (default: journals/runs/*)")
    p.add_argument("--runs-root", default="journals/runs")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    paths = args.paths or sorted(str(d) for d in Path(args.runs_root).glob("*") if d.is_dir())
    evidence = collect(paths, args.kind)
    if not evidence:
        print(
            f"no {args.kind} evidence found in {len(paths)} path(s); run e.g. "
            f"`chaos --no-version-check run --hypothesis-frequency 2 experiments/{args.kind}.yaml`",
            file=sys.stderr,
        )
        return 2
    fig = pod_kill_figures(evidence) if args.kind == "pod-kill" else hpa_scale_figures(evidence)
    if args.json:
        print(json.dumps(fig, indent=2, default=str))
    else:
        (_print_pod_kill if args.kind == "pod-kill" else _print_hpa)(fig)
        print(
            f"reproduce: python -m scaleproof.bench {args.kind} "
            + " ".join(paths[:5])
            + (" ..." if len(paths) > 5 else "")
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
