"""PNG plots of the evidence block, byte-stable (Agg backend, fixed size/dpi/fonts, no metadata).

Every `*_figure` function takes an evidence block (docs/evidence-schema.md) and returns a
`matplotlib.figure.Figure` (so tests can inspect titles/axes before saving) or None when the block has
no data for that plot. Nothing here recomputes a figure: the plots draw the recorded series.
Times are drawn in seconds relative to a reference instant stated in the x-axis label.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

from matplotlib import rc_context  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = [
    "DPI",
    "hpa_scale_figure",
    "pod_kill_recovery_figure",
    "pod_kill_traffic_figure",
    "save_figure",
    "vector_shards_figure",
]

logger = logging.getLogger(__name__)

DPI = 100
# deterministic rendering: bundled font, no hashing salt, no text-as-path variance
RC: Any = {  # Any: matplotlib types the keys as a Literal of every rcParam
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "scaleproof",
    "path.simplify": False,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
}
# Okabe–Ito palette: distinguishable for colour-blind readers
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write `fig` as PNG without Software/date metadata, so equal figures give equal bytes."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with rc_context(RC):
        fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out


def _kill_times(evidence: Mapping[str, Any]) -> list[tuple[float, str]]:
    """(deletion time, victim) per kill: the `touched` delete record of the victim, else its first phase."""
    deleted = {t.get("uid"): t.get("t") for t in evidence.get("touched") or [] if t.get("action") == "delete"}
    out = []
    for k in (evidence.get("timelines") or {}).get("kills") or []:
        t = deleted.get(k.get("victim_uid"))
        if t is None and k.get("phases"):
            t = k["phases"][0].get("start")
        if t is not None:
            out.append((float(t), str(k.get("victim", "?"))))
    return out


def _replicas_target(evidence: Mapping[str, Any]) -> float:
    """The threshold of a `*replicas >= N` criterion (the last one), else 3."""
    target = 3.0
    for c in evidence.get("criteria") or []:
        if "replicas" in str(c.get("metric")) and c.get("op") in (">=", ">") and c.get("threshold"):
            target = float(c["threshold"])
    return target


def hpa_scale_figure(evidence: Mapping[str, Any], target: float | None = None) -> Figure | None:
    """Desired vs Ready replicas over time (step plot), load start and each HPA decision marked.

    x: seconds since the load started (first scale phase start, else first load sample, else first
    replica sample). `target` (replicas) defaults to the threshold of a `*replicas >= N` criterion, else 3.
    """
    scale = (evidence.get("timelines") or {}).get("scale") or {}
    samples = scale.get("replicas") or []
    if not samples:
        return None
    phases = scale.get("phases") or []
    load = (evidence.get("load") or {}).get("per_second") or []
    t0 = float(phases[0]["start"] if phases else load[0]["t"] if load else samples[0]["t"])
    if target is None:
        target = _replicas_target(evidence)
    xs = [float(s["t"]) - t0 for s in samples]
    with rc_context(RC):
        fig = _new_figure(8.0, 4.2)
        ax = fig.add_subplot()
        ax.step(
            xs,
            [s.get("desired") for s in samples],
            where="post",
            color=PALETTE[0],
            lw=2,
            label="desired (HPA)",
        )
        ax.step(
            xs,
            [s.get("ready") for s in samples],
            where="post",
            color=PALETTE[2],
            lw=2,
            ls="--",
            label="ready",
        )
        ax.axhline(target, color=PALETTE[3], lw=1, ls=":", label=f"target = {target:g} replicas")
        ax.axvline(0.0, color="black", lw=1)
        top = max([target] + [float(s.get("desired") or 0) for s in samples]) + 1
        ax.text(0.0, top - 0.15, " load start", va="top", ha="left", fontsize=8)
        for d in scale.get("decisions") or []:
            x = float(d["t"]) - t0
            ax.axvline(x, color=PALETTE[1], lw=1, ls="-.")
            ax.text(
                x,
                top - 0.15,
                f" HPA {d.get('from')}→{d.get('to')}\n t+{x:.1f} s",
                va="top",
                ha="left",
                fontsize=8,
                color="#7a5200",
            )
        ax.set_ylim(0, top)
        ax.set_yticks(range(0, int(top) + 1))
        ax.set_xlabel("time since load start (s)")
        ax.set_ylabel("replicas (pods)")
        ax.set_title(f"HPA scale-out: desired vs ready replicas — run {evidence.get('run_id', '?')}")
        ax.legend(loc="lower right")
    return fig


def pod_kill_traffic_figure(evidence: Mapping[str, Any]) -> Figure | None:
    """Requests/s, latency p50/p95 (ms) and failures/s over time, each pod kill marked."""
    series = (evidence.get("load") or {}).get("per_second") or []
    if not series:
        return None
    t0 = float(series[0]["t"])
    xs = [float(p["t"]) - t0 for p in series]
    kills = _kill_times(evidence)
    with rc_context(RC):
        fig = _new_figure(8.0, 6.5)
        ax_rps, ax_lat, ax_fail = fig.subplots(3, 1, sharex=True)
        ax_rps.plot(xs, [p.get("rps") for p in series], color=PALETTE[0], label="requests/s")
        ax_rps.set_ylabel("throughput (req/s)")
        ax_rps.set_ylim(0, max([1.0] + [float(p.get("rps") or 0) for p in series]) * 1.3)
        ax_lat.plot(xs, [p.get("p50_ms") for p in series], color=PALETTE[2], label="p50")
        ax_lat.plot(xs, [p.get("p95_ms") for p in series], color=PALETTE[1], label="p95")
        ax_lat.set_ylabel("latency (ms)")
        ax_lat.set_ylim(bottom=0)
        ax_fail.plot(xs, [p.get("failures_per_s") for p in series], color=PALETTE[3], label="failures/s")
        ax_fail.set_ylabel("failures (req/s)")
        ax_fail.set_ylim(
            bottom=0, top=max([1.0] + [float(p.get("failures_per_s") or 0) for p in series]) * 1.2
        )
        ax_fail.set_xlabel("time since first load sample (s)")
        for i, (t, _victim) in enumerate(kills, start=1):
            for ax in (ax_rps, ax_lat, ax_fail):
                ax.axvline(t - t0, color="black", lw=1, ls="--", label="pod killed" if i == 1 else None)
            ax_rps.annotate(
                f"kill {i}",
                (t - t0, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -2),
                textcoords="offset points",
                va="top",
                fontsize=8,
            )
        for ax in (ax_rps, ax_lat, ax_fail):
            ax.legend(loc="lower right", fontsize=8)
        fig.suptitle(f"Pod kill under load — run {evidence.get('run_id', '?')}")
    return fig


def pod_kill_recovery_figure(evidence: Mapping[str, Any]) -> Figure | None:
    """One horizontal bar per kill, segments = recovery phases from the kill instant, MTTR annotated."""
    kills = (evidence.get("timelines") or {}).get("kills") or []
    if not kills:
        return None
    starts = dict(enumerate(t for t, _ in _kill_times(evidence)))
    names: list[str] = []
    for k in kills:
        for ph in k.get("phases") or []:
            if ph["name"] not in names:
                names.append(ph["name"])
    colours = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    with rc_context(RC):
        fig = _new_figure(8.0, 1.6 + 0.55 * len(kills))
        ax = fig.add_subplot()
        labels, right = [], 0.0
        for i, k in enumerate(kills):
            y = len(kills) - 1 - i  # first kill on top
            t_kill = starts.get(i, (k.get("phases") or [{"start": 0.0}])[0]["start"])
            end = 0.0
            for ph in k.get("phases") or []:
                left = float(ph["start"]) - t_kill
                ax.barh(
                    y,
                    float(ph["duration_s"]),
                    left=left,
                    color=colours[ph["name"]],
                    edgecolor="white",
                    height=0.6,
                    label=ph["name"] if ph["name"] not in ax.get_legend_handles_labels()[1] else None,
                )
                end = max(end, left + float(ph["duration_s"]))
            mttr = k.get("mttr_s")
            text = f" MTTR {mttr:.2f} s" if mttr is not None else " not recovered"
            ax.text(end, y, text, va="center", ha="left", fontsize=8)
            right = max(right, end)
            labels.append((y, f"kill {i + 1}\n{k.get('victim', '?')}"))
        ax.set_yticks([y for y, _ in labels], [lab for _, lab in labels], fontsize=7)
        ax.set_xlim(0, right * 1.25 if right else 1)
        ax.set_ylim(-0.7, len(kills) - 0.3)
        ax.set_xlabel("time since the victim was deleted (s)")
        ax.set_ylabel("killed pod")
        ax.set_title(f"Recovery phases per kill — run {evidence.get('run_id', '?')}")
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.25 if len(kills) < 3 else -0.15),
            ncol=min(4, len(names)),
            fontsize=8,
            frameon=False,
        )
        ax.grid(axis="y", visible=False)
    return fig


def vector_shards_figure(evidence: Mapping[str, Any]) -> Figure | None:
    """Objects (documents) and queries per shard, grouped bars, each shard labelled with its node."""
    shards = (evidence.get("timelines") or {}).get("shards") or {}
    per_shard = sorted(shards.get("per_shard") or [], key=lambda s: (str(s.get("node")), str(s.get("shard"))))
    if not per_shard:
        return None
    xs = list(range(len(per_shard)))
    w = 0.38
    with rc_context(RC):
        fig = _new_figure(max(5.0, 1.4 * len(per_shard) + 2), 4.2)
        ax = fig.add_subplot()
        for off, key, label, colour in (
            (-w / 2, "objects", "documents (objects)", PALETTE[0]),
            (w / 2, "queries", "queries served", PALETTE[1]),
        ):
            vals = [s.get(key) or 0 for s in per_shard]
            bars = ax.bar([x + off for x in xs], vals, width=w, label=label, color=colour)
            ax.bar_label(bars, fontsize=8)
        ax.set_xticks(xs, [f"{s.get('shard')}\nnode {s.get('node')}" for s in per_shard], fontsize=8)
        ax.set_xlabel("shard (node)")
        ax.set_ylabel("count (documents / queries)")
        ax.set_ylim(0, max(max(s.get("objects") or 0, s.get("queries") or 0) for s in per_shard) * 1.35 + 1)
        ax.set_title(
            f"Collection {shards.get('collection', '?')}: documents and queries per shard\n"
            f"run {evidence.get('run_id', '?')}"
        )
        ax.legend(loc="upper right")
        ax.grid(axis="x", visible=False)
    return fig
