"""The Prometheus view of a run, beside the watch-based one: its own pod count and CPU per pod.

The evidence control records range queries over the run in `evidence["prometheus"]` (see
scaleproof/evidence.py): `pods_running` (cAdvisor: pods with a running workload container),
`pods_up` (annotation-discovered targets that answered their scrape) and `cpu_per_pod_cores`. This
module reads them back for the report: the cross-check figures (max pods and time to the target pod
count in each view, the lag between views) and the Prometheus plot, plus the screenshot of
Prometheus' own graph page that the control took. The watches stay the verdict's source; a missing
or failed query only shows as a line here.
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "VIEWS",
    "crosscheck",
    "cpu_target_cores",
    "prometheus_figure",
    "query_lines",
    "screenshot_png",
    "series",
]

logger = logging.getLogger(__name__)

#: view key -> (query name, what it counts); "watch" is scaleproof's own Kubernetes watches
VIEWS: dict[str, tuple[str | None, str]] = {
    "watch": (None, "Ready pods (Kubernetes watches)"),
    "cadvisor": ("pods_running", "pods with a running container (Prometheus, kubelet cAdvisor)"),
    "up": ("pods_up", "scraped pod targets up (Prometheus, Kubernetes discovery)"),
}
LEGACY_POD_QUERY = "replicas"  # older journals: count(up{job=...} == 1) through DNS discovery


def _kill_times(evidence: Mapping[str, Any]) -> list[tuple[float, str]]:
    from scaleproof.report.plots import _kill_times as kill_times

    return kill_times(evidence)


def _prom(evidence: Mapping[str, Any]) -> Mapping[str, Any]:
    return evidence.get("prometheus") or {}


def series(evidence: Mapping[str, Any], name: str) -> list[tuple[float, float]]:
    """(t, value) of a single-series query, summed over series per timestamp; [] when absent."""
    q = (_prom(evidence).get("queries") or {}).get(name) or {}
    total: dict[float, float] = {}
    for s in q.get("series") or []:
        for t, v in s.get("values") or []:
            if v is not None and not math.isnan(float(v)):
                total[float(t)] = total.get(float(t), 0.0) + float(v)
    return sorted(total.items())


def _pod_series(evidence: Mapping[str, Any], view: str) -> list[tuple[float, float]]:
    name = VIEWS[view][0]
    if name is None:
        scale = (evidence.get("timelines") or {}).get("scale") or {}
        return [
            (float(p["t"]), float(p["ready"]))
            for p in scale.get("replicas") or []
            if p.get("ready") is not None
        ]
    got = series(evidence, name)
    if not got and view == "up":
        got = series(evidence, LEGACY_POD_QUERY)
    return got


def _t0(evidence: Mapping[str, Any]) -> float | None:
    """Load start: first scale phase start, else first load sample (the plots use the same origin)."""
    phases = ((evidence.get("timelines") or {}).get("scale") or {}).get("phases") or []
    load = (evidence.get("load") or {}).get("per_second") or []
    if phases:
        return float(phases[0]["start"])
    if load:
        return float(load[0]["t"])
    return None


def _target(evidence: Mapping[str, Any]) -> float:
    scale = (evidence.get("timelines") or {}).get("scale") or {}
    return float(scale.get("target_replicas") or 3)


def crosscheck(evidence: Mapping[str, Any]) -> dict[str, dict[str, float | int | None]] | None:
    """{figure: {view: value}}: max pods after load start, min pods after the first kill, seconds
    from load start to the target pod count, its lag behind the watch, and the scrape interval.
    None when the run has no Prometheus pod count recorded."""
    views = {v: _pod_series(evidence, v) for v in VIEWS}
    if not views["cadvisor"] and not views["up"]:
        return None
    t0 = _t0(evidence)
    start = t0 if t0 is not None else min(t for s in views.values() for t, _ in s[:1])
    target = _target(evidence)
    kills = _kill_times(evidence)
    metrics = evidence.get("metrics") or {}
    out: dict[str, dict[str, float | int | None]] = {"max_pods": {}, "t_target_s": {}, "lag_t_target_s": {}}
    for v, pts in views.items():
        after = [val for t, val in pts if t >= start]
        out["max_pods"][v] = int(max(after)) if after else None
        hit = next((t for t, val in pts if t >= start and val >= target), None)
        out["t_target_s"][v] = None if hit is None else round(hit - start, 1)
    if views["watch"] == [] and "max_ready_replicas" in metrics:
        out["max_pods"]["watch"] = metrics["max_ready_replicas"].get("value")
    if kills:
        first = kills[0][0]
        out["min_pods_after_kill"] = {}
        for v, pts in views.items():
            after = [val for t, val in pts if t >= first]
            out["min_pods_after_kill"][v] = int(min(after)) if after else None
        out["min_pods_after_kill"]["watch"] = (metrics.get("min_ready_replicas") or {}).get("value")
    w = out["t_target_s"].get("watch")
    for v in ("cadvisor", "up"):
        t = out["t_target_s"].get(v)
        out["lag_t_target_s"][v] = None if t is None or w is None else round(float(t) - float(w), 1)
    scrape = _prom(evidence).get("scrape_interval_s")
    step = next(
        (q.get("step_s") for q in (_prom(evidence).get("queries") or {}).values() if q.get("step_s")), None
    )
    out["resolution_s"] = {"scrape_interval": scrape, "query_step": step}
    return out


def cpu_target_cores(evidence: Mapping[str, Any]) -> float | None:
    """The HPA's CPU target per pod in cores: averageUtilization % × the pod's CPU requests (specs)."""
    from kubernetes.utils import parse_quantity

    specs = evidence.get("specs") or {}
    util = None
    for m in (specs.get("hpa") or {}).get("metrics") or []:
        res = m.get("resource") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu":
            util = (res.get("target") or {}).get("averageUtilization")
    containers = (specs.get("deployment") or {}).get("containers") or []
    try:
        requests = sum(
            float(parse_quantity(((c.get("resources") or {}).get("requests") or {}).get("cpu", 0)))
            for c in containers
        )
    except ValueError:
        return None
    if util is None or not requests:
        return None
    return float(util) / 100.0 * requests


def query_lines(evidence: Mapping[str, Any]) -> list[str]:
    """One Markdown line per recorded query: series count, or the reason it is missing."""
    prom = _prom(evidence)
    lines = []
    if prom.get("unavailable"):
        lines.append(f"- **Prometheus view unavailable**: {prom['unavailable']}")
    for name, q in sorted((prom.get("queries") or {}).items()):
        text = str(q.get("query", "")).replace("|", "\\|")
        if q.get("unavailable"):
            lines.append(f"- `{name}` = `{text}`: **unavailable** — {q['unavailable']}")
        else:
            n = len(q.get("series") or [])
            pts = sum(len(s.get("values") or []) for s in q.get("series") or [])
            lines.append(f"- `{name}` = `{text}`: {n} series, {pts} samples at {q.get('step_s')} s steps")
    shot = prom.get("screenshot") or {}
    if shot.get("unavailable"):
        lines.append(f"- screenshot of Prometheus' graph page: **not taken** — {shot['unavailable']}")
    return lines


def screenshot_png(evidence: Mapping[str, Any]) -> bytes | None:
    """The PNG of Prometheus' graph page the evidence control took (base64 in the journal)."""
    shot = _prom(evidence).get("screenshot") or {}
    data = shot.get("png_base64")
    return base64.b64decode(data) if data else None


def _pods_axis(ax: Any, series: Any, target: float, t0: float) -> float:
    """Pod counts per view, stepped, with the target line; returns the axis' top."""
    from scaleproof.report.plots import PALETTE

    cad, up, watch = series
    for pts, colour, ls, label in (
        (cad, PALETTE[0], "-", "running pods (cAdvisor)"),
        (up, PALETTE[1], "--", "targets up (pods job)"),
        (watch, "#999999", ":", "Ready pods (watch, for reference)"),
    ):
        if pts:
            ax.step(
                [t - t0 for t, _ in pts],
                [v for _, v in pts],
                where="post",
                color=colour,
                ls=ls,
                lw=2,
                label=label,
            )
    ax.axhline(target, color=PALETTE[3], lw=1, ls=":", label=f"target = {target:g} pods")
    top = max([target] + [v for _, v in cad + up + watch]) + 1
    ax.set_ylim(0, top)
    ax.set_yticks(range(0, int(top) + 1))
    ax.set_ylabel("pods")
    return top


def _cpu_axis(ax_cpu: Any, cpu: Mapping[str, Any], target_cores: float | None, t0: float) -> None:
    """CPU per pod (one line per pod) against the HPA's target."""
    from scaleproof.report.plots import PALETTE

    for s in cpu.get("series") or []:
        pts = [(float(t), float(v)) for t, v in s.get("values") or [] if not math.isnan(float(v))]
        ax_cpu.plot(
            [t - t0 for t, _ in pts],
            [v for _, v in pts],
            lw=1.2,
            label=str((s.get("labels") or {}).get("pod", "?")),
        )
    if target_cores is not None:
        ax_cpu.axhline(
            target_cores,
            color=PALETTE[3],
            lw=1.5,
            ls="--",
            label=f"HPA target {target_cores:g} cores/pod",
        )
    ax_cpu.set_ylabel("CPU per pod (cores)")
    ax_cpu.set_ylim(bottom=0)
    ax_cpu.set_xlabel("time since load start (s)")


def _marks(axes: Any, evidence: Mapping[str, Any], decisions: list[Any], t0: float, top: float) -> None:
    """Load start, HPA decisions and kills on both axes; the decisions named on the pods axis."""
    from scaleproof.report.plots import PALETTE

    ax, ax_cpu = axes
    for a in (ax, ax_cpu):
        a.axvline(0.0, color="black", lw=1)
        for d in decisions:
            a.axvline(float(d["t"]) - t0, color=PALETTE[1], lw=1, ls="-.")
        for t, _victim in _kill_times(evidence):
            a.axvline(t - t0, color="black", lw=0.8, ls="--")
    for d in decisions:
        ax.text(
            float(d["t"]) - t0,
            top - 0.15,
            f" HPA {d.get('from')}→{d.get('to')}",
            va="top",
            fontsize=8,
            color="#7a5200",
        )
    ax.text(0.0, top - 0.6, " load start", va="top", fontsize=8)


def prometheus_figure(evidence: Mapping[str, Any]) -> Figure | None:
    """Prometheus' pod counts (cAdvisor, up) over the run with the watch's Ready count for reference,
    and CPU per pod against the HPA target; load start, HPA decisions and kills marked."""
    from matplotlib import rc_context

    from scaleproof.report.plots import RC, _new_figure

    cad, up = _pod_series(evidence, "cadvisor"), _pod_series(evidence, "up")
    if not cad and not up:
        return None
    watch = _pod_series(evidence, "watch")
    t0 = _t0(evidence)
    if t0 is None:
        t0 = (cad or up)[0][0]
    cpu = (_prom(evidence).get("queries") or {}).get("cpu_per_pod_cores") or {}
    decisions = ((evidence.get("timelines") or {}).get("scale") or {}).get("decisions") or []
    with rc_context(RC):
        fig = _new_figure(8.0, 6.0)
        ax, ax_cpu = fig.subplots(2, 1, sharex=True)
        top = _pods_axis(ax, (cad, up, watch), _target(evidence), t0)
        _cpu_axis(ax_cpu, cpu, cpu_target_cores(evidence), t0)
        _marks((ax, ax_cpu), evidence, decisions, t0, top)
        ax.legend(loc="lower right", fontsize=8)
        ax_cpu.legend(loc="upper right", fontsize=7, ncol=2)
        scrape = _prom(evidence).get("scrape_interval_s")
        fig.suptitle(
            f"Prometheus' own view — run {evidence.get('run_id', '?')}"
            + (f" (scrape interval {scrape:g} s)" if scrape else "")
        )
    return fig
