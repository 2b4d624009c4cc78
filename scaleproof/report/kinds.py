"""The sections of each experiment kind's own timeline: the kills (pod-kill), the scale phases beside the
controllers' cadence (hpa-scale), the shards (vector-shards), the peer loss (store-peer-loss), and
pod-kill against the cluster's floor.

A new kind adds its section function here and one entry in `TIMELINE_SECTIONS` (the key of its
timeline in the evidence block, `contract.Timelines`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scaleproof.report.numbers import Figures, fig
from scaleproof.report.runs import RunDoc, newest_pod_kill
from scaleproof.report.text import esc, format_number, table, ts

__all__ = ["TIMELINE_SECTIONS", "floor_section", "timeline_sections"]


def _on(node: Any) -> str:
    """` on <node>` when the run recorded the pod's node (runs since the multi-node cluster)."""
    return f" on `{esc(node)}`" if node else ""


def _kills_section(r: RunDoc, kills: Any, figures: Figures) -> list[str]:
    """One row per recovery phase of each kill, then its MTTR."""
    if not kills:
        return []
    rows = []
    for i, kill in enumerate(kills, start=1):
        phases = kill.get("phases") or []
        t0 = float(phases[0]["start"]) if phases else 0.0
        for ph in phases:
            rows.append(
                [
                    str(i),
                    f"`{esc(kill.get('victim'))}`" + _on(kill.get("victim_node")),
                    f"`{esc(kill.get('replacement'))}`" + _on(kill.get("replacement_node")),
                    esc(ph.get("name")),
                    ts(ph.get("start")),
                    f"+{format_number(float(ph['start']) - t0)}",
                    format_number(ph.get("duration_s")),
                ]
            )
        recovered = "recovered" if kill.get("recovered") else "NOT recovered"
        rows.append(
            [str(i), "", "", f"**MTTR** ({recovered})", "", "", f"**{format_number(kill.get('mttr_s'))}**"]
        )
    header = ["kill", "victim", "replacement", "phase", "start (UTC)", "offset (s)", "duration (s)"]
    intro = [
        "### Timeline: recovery phases per kill",
        "",
        "Offsets are from the first phase start of the kill (seconds).",
        "",
    ]
    return [*intro, *table(header, rows)]


def _cadence_lines(r: RunDoc, scale: Mapping[str, Any], figures: Figures) -> list[str]:
    """The controllers' cadence beside the scale phases, and how close the run came to its best case."""
    c = scale.get("cadence") or {}
    if not c:
        return []
    src = c.get("sources") or {}
    k = f"{r.kind}.{r.label}"
    lines = [
        f"Metric phase ends at: {esc(scale.get('metric_source') or 'HPA status')}.",
        "",
        "Controller cadence:",
        "",
        f"- metrics-server resolution {format_number(c.get('metrics_resolution_s'))} s "
        f"({esc(src.get('metrics_resolution_s', ''))}); measured between samples "
        f"{format_number(c.get('metrics_resolution_measured_s'))} s, CPU window "
        f"{format_number(c.get('metrics_window_s'))} s",
        f"- HPA sync period {format_number(c.get('hpa_sync_period_s'))} s "
        f"({esc(src.get('hpa_sync_period_s', ''))})",
        f"- scale-up stabilisation {format_number(c.get('scale_up_stabilization_s'))} s"
        + (
            f" ({esc(src['scale_up_stabilization_s'])})"
            if src.get("scale_up_stabilization_s")
            else " (HPA spec)"
        ),
    ]
    if f"{k}.time_to_scale_best_case_s" in figures:
        lines.append(
            f"- this run waited {fig(figures, f'{k}.time_to_scale_pipeline_wait_s')} s for a scrape and a "
            f"sync; best case at this cadence {fig(figures, f'{k}.time_to_scale_best_case_s')} s, cadence "
            f"bound {fig(figures, f'{k}.time_to_scale_cadence_bound_s')} s (best case + resolution + sync), "
            f"measured {fig(figures, f'{k}.time_to_scale_s')} s"
        )
    return [*lines, ""]


def _scale_section(r: RunDoc, scale: Mapping[str, Any], figures: Figures) -> list[str]:
    """Scale phases, the cadence lines and the HPA decisions, offsets from the first phase."""
    if not (scale.get("phases") or scale.get("decisions")):
        return []
    lines = ["### Timeline: scale phases", ""]
    phases = scale.get("phases") or []
    t0 = float(phases[0]["start"]) if phases else 0.0
    lines += table(
        ["phase", "start (UTC)", "offset (s)", "duration (s)"],
        [
            [
                esc(p.get("name")),
                ts(p.get("start")),
                f"+{format_number(float(p['start']) - t0)}",
                format_number(p.get("duration_s")),
            ]
            for p in phases
        ],
    )
    lines += _cadence_lines(r, scale, figures)
    if scale.get("decisions"):
        lines += table(
            ["HPA decision", "at (UTC)", "offset (s)"],
            [
                [f"{d.get('from')} → {d.get('to')}", ts(d.get("t")), f"+{format_number(float(d['t']) - t0)}"]
                for d in scale["decisions"]
            ],
        )
    return lines


def _shards_section(r: RunDoc, shards: Any, figures: Figures) -> list[str]:
    if not shards.get("per_shard"):
        return []
    placed = any("k8s_node" in s for s in shards["per_shard"])  # runs since the multi-node cluster
    rows = [
        [
            f"`{esc(s.get('shard'))}`",
            esc(s.get("node")),
            *([esc(s.get("k8s_node"))] if placed else []),
            format_number(s.get("objects")),
            format_number(s.get("queries")),
        ]
        for s in sorted(shards["per_shard"], key=lambda s: (str(s.get("node")), str(s.get("shard"))))
    ]
    title = f"### Shards of `{esc(shards.get('collection'))}`"
    head = ["shard", "node", *(["Kubernetes node"] if placed else []), "documents", "queries"]
    return [title, "", *table(head, rows)]


def _peer_paths_table(paths: Mapping[str, Any]) -> list[str]:
    rows = []
    for via in ("app", "store"):
        p = paths.get(via) or {}
        w = p.get("unavailable") or {}
        rows.append(
            [
                via,
                format_number(p.get("sent")),
                format_number(p.get("answered")),
                format_number(p.get("partial")),
                format_number(p.get("failed")),
                format_number(w.get("seconds") if w else 0),
                format_number(p.get("baseline_p50_ms")),
                format_number(p.get("fault_p95_ms")),
                esc(p.get("first_error") or ""),
            ]
        )
    header = ["path", "sent", "answered", "partial", "failed", "unavailable (s)", "p50 before (ms)"]
    return table([*header, "p95 from the kill (ms)", "first error (the store's words)"], rows)


def _peer_seconds_table(per_second: Sequence[Mapping[str, Any]], cap: int = 40) -> list[str]:
    bad = [r for r in per_second if r.get("t_s", -1) >= 0 and (r.get("failed") or r.get("partial"))]
    if not bad:
        return ["No second from the kill on had a failed or partial query.", ""]
    rows = [
        [format_number(r.get("t_s")), esc(r.get("via"))]
        + [format_number(r.get(k)) for k in ("sent", "answered", "partial", "failed", "p50_ms", "p95_ms")]
        for r in bad[:cap]
    ]
    more = [f"({len(bad) - cap} more seconds in the evidence block.)", ""] if len(bad) > cap else []
    header = ["second from the kill", "path", "sent", "answered", "partial", "failed", "p50 (ms)", "p95 (ms)"]
    return [*table(header, rows), *more]


def _peer_loss_section(r: RunDoc, loss: Any, figures: Figures) -> list[str]:
    """The peer killed, what each path saw, the seconds with failures, the store's own account and
    the documents before and after."""
    if not loss.get("kill"):
        return []
    kill, rep = loss["kill"], loss.get("replication") or {}
    lines = [
        f"### Store peer loss: `{esc(kill.get('pod'))}` killed ({esc(kill.get('chosen_by'))}; "
        + (
            "graceful delete)"
            if kill.get("grace_period_s") is None
            else f"grace period {kill['grace_period_s']} s)"
        ),
        "",
        f"Replication factor {format_number(rep.get('factor'))}, read back from the store "
        f"({esc(rep.get('source') or 'not read')}). Each query of a fixed set is judged against the same "
        "query's answer before the kill: partial = fewer result ids, failed = an error or no answer.",
        "",
        *_peer_paths_table(loss.get("paths") or {}),
        *_peer_seconds_table(loss.get("per_second") or []),
    ]
    said = loss.get("store_reported_not_serving") or []
    lines.append(
        "The store's own account after the kill: " + "; ".join(esc(x) for x in said)
        if said
        else "The store's own account reported every replica serving after the kill (it may lag: "
        "Qdrant keeps a dead peer's replicas Active until a write)."
    )
    docs = loss.get("documents") or {}
    before, after = docs.get("before") or {}, docs.get("after") or {}
    same = bool(before) and before.get("checksum") == after.get("checksum")
    lines += [
        "",
        f"Documents: {format_number(before.get('count'))} before the kill, "
        f"{format_number(after.get('count'))} after recovery, "
        f"ids {'identical' if same else 'DIFFERENT'} (sha256 of the sorted ids).",
        "",
    ]
    return lines


def floor_section(runs: Sequence[RunDoc], floor: Sequence[RunDoc], figures: Figures) -> list[str]:
    """App vs the cluster's floor, per phase (medians), with the app-attributable time and advice."""
    from scaleproof.floor import ADVICE, MTTR_PHASES

    f = "pod-kill.floor"
    app, flo = newest_pod_kill(runs)[0], newest_pod_kill(floor)[0]
    lines = [
        "## Against the cluster's floor",
        "",
        f"The same pod-kill on the same cluster against a workload Ready as soon as it listens "
        f"(`scaleproof bench floor`: agnhost netexec, k8s/floor/floor.yaml): {fig(figures, f + '.kills')} "
        f"floor kills of the newest floor run `{flo.label}` (`{flo.source}`), beside the "
        f"{fig(figures, f + '.app_kills')} kills of the newest app run `{app.label}` "
        "(the app as it is now; the aggregate above keeps the older runs). "
        "Per phase: medians over the recovered kills (they need not add up to the MTTR mean).",
        "",
    ]
    rows = [
        [esc(n)] + [fig(figures, f"{f}.phase.{n}.{c}") for c in ("app", "floor", "excess")]
        for n in MTTR_PHASES
        if f"{f}.phase.{n}.app" in figures
    ]
    rows += [
        [f"**MTTR {stat}**", fig(figures, f"{f}.app_mttr_{stat}_s"), fig(figures, f"{f}.mttr_{stat}_s"), ""]
        for stat in ("mean", "p95", "max")
    ]
    lines += table(["phase", "app (s)", "floor (s)", "app − floor (s)"], rows)
    lines.append(
        "- App-attributable time (app MTTR mean − floor MTTR mean): "
        f"**{fig(figures, f + '.app_attributable_s')} s**"
        f" (p95: {fig(figures, f + '.app_attributable_p95_s')} s)."
    )
    dominant = figures.get(f"{f}.dominant_phase")
    if isinstance(dominant, str):
        lines.append(
            f"- Carried by {fig(figures, f + '.dominant_phase')} "
            f"(+{fig(figures, f + '.dominant_excess_s')} s over the floor): {ADVICE[dominant]}."
        )
    else:
        lines.append("- No phase of the app exceeds the floor's.")
    lines.append("")
    return lines


def _drain_section(r: RunDoc, drain: Any, figures: Figures) -> list[str]:
    """The drain: its outcome, each evicted target pod's recovery phases and new node, the budgets."""
    if not drain.get("node"):
        return []
    outcome = "**BLOCKED**" if drain.get("blocked") else "drained"
    lines = [
        f"### Drain of node `{esc(drain.get('node'))}`",
        "",
        f"{outcome} in {format_number(drain.get('drain_s'))} s (cordon → every pod evicted); "
        f"{format_number(drain.get('evicted_target'))} target pod(s) and "
        f"{format_number(drain.get('evicted_other'))} other pod(s) evicted; fewest Ready target pods "
        f"{format_number(drain.get('min_ready_during'))} (the budgets guarantee "
        f"{format_number(drain.get('guarantee'))}); failed requests "
        f"{format_number(drain.get('failed_requests'))}.",
        "",
    ]
    if drain.get("pending"):
        lines += [f"Never evicted: {', '.join(f'`{esc(p)}`' for p in drain['pending'])}.", ""]
    if drain.get("budgets"):
        lines += table(
            ["budget", "refusals", "held the drain (s)", "pods it held", "blocked"],
            [
                [
                    f"`{esc(b['budget'])}`",
                    str(b["refusals"]),
                    format_number(b["held_s"]),
                    ", ".join(f"`{esc(p)}`" for p in b["pods"]),
                    "yes" if b["blocked"] else "no",
                ]
                for b in drain["budgets"]
            ],
        )
    rows = [
        [
            f"`{esc(p.get('victim'))}`",
            f"`{esc(p.get('replacement'))}`",
            esc(p.get("replacement_node")),
            esc(ph.get("name")),
            format_number(ph.get("duration_s")),
        ]
        for p in drain.get("pods") or []
        for ph in p.get("phases") or []
    ]
    rows += [
        [
            f"`{esc(p.get('victim'))}`",
            "",
            "",
            "**eviction → endpoints full**",
            f"**{format_number(p.get('mttr_s'))}**",
        ]
        for p in drain.get("pods") or []
    ]
    return lines + table(["evicted pod", "replacement", "on node", "phase", "duration (s)"], rows)


def _node_loss_section(r: RunDoc, loss: Any, figures: Figures) -> list[str]:
    """The lost node's phases, their sum = the MTTR, the waits beside the settings, the users' cost."""
    if not loss.get("phases") and not loss.get("reason"):
        return []
    phases = loss.get("phases") or []
    t0 = float(loss.get("t_fault") or (phases[0]["start"] if phases else 0.0))
    dead = ", ".join(f"`{esc(p)}`" for p in loss.get("dead_pods") or [])
    lines = [f"### Node `{esc(loss.get('node'))}` lost (dead pods: {dead})", ""]
    lines += table(
        ["phase", "start (UTC)", "offset (s)", "duration (s)"],
        [
            [
                esc(p["name"]),
                ts(p["start"]),
                f"+{format_number(float(p['start']) - t0)}",
                format_number(p["duration_s"]),
            ]
            for p in phases
        ]
        + [["**MTTR** (sum of the phases)", "", "", f"**{format_number(loss.get('mttr_s'))}**"]],
    )
    lines += [
        f"- Grace period observed {format_number(loss.get('grace_observed_s'))} s (fault → Ready≠True); "
        f"eviction observed {format_number(loss.get('eviction_observed_s'))} s after the taint, the pods' "
        f"tolerationSeconds {format_number(loss.get('toleration_seconds'))}.",
        f"- Dead endpoints served for {format_number(loss.get('dead_endpoint_s'))} s; "
        f"{format_number(loss.get('failed_requests'))} failed request(s) over "
        f"{format_number(loss.get('failure_window_s'))} s.",
    ]
    if loss.get("reason"):
        lines.append(f"- Not recovered: {esc(loss['reason'])}.")
    return [*lines, ""]


Section = Callable[[RunDoc, Any, Figures], list[str]]

#: timeline key in the evidence block -> its section, in reading order
TIMELINE_SECTIONS: dict[str, Section] = {
    "kills": _kills_section,  # pod-kill
    "scale": _scale_section,  # hpa-scale
    "shards": _shards_section,  # vector-shards
    "drain": _drain_section,  # node-drain
    "node_loss": _node_loss_section,  # node-loss
    "store_peer_loss": _peer_loss_section,  # store-peer-loss
}


def timeline_sections(r: RunDoc, figures: Figures) -> list[str]:
    """The sections of the timelines the run's evidence block holds."""
    timelines: Mapping[str, Any] = (r.evidence or {}).get("timelines") or {}
    return [
        line
        for key, section in TIMELINE_SECTIONS.items()
        for line in section(r, timelines.get(key) or {}, figures)
    ]
