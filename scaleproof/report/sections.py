"""The sections every run's document has, in reading order (`run_section`): the header with the
verdict, criteria, metrics, the kind's timeline (`report.kinds`), steady state and activities, load,
cost, specs, versions, blast radius, Prometheus' view and plots. They print the evidence block
(`scaleproof.contract.Evidence`) and the figures; they compute nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scaleproof.report.kinds import timeline_sections
from scaleproof.report.numbers import Figures, fig
from scaleproof.report.promview import VIEWS, crosscheck, query_lines
from scaleproof.report.runs import RunDoc
from scaleproof.report.text import esc, format_number, iso, mapping, table, ts
from scaleproof.verdict import chaos_exit_code

__all__ = ["cost_section", "run_section"]


def _hypothesis_line(name: str, state: Mapping[str, Any] | None) -> str:
    if state is None:
        return f"- {name}: not run"
    met = state.get("steady_state_met")
    parts = []
    for p in state.get("probes") or []:
        ok = "ok" if p.get("tolerance_met") else ("raised" if p.get("status") == "failed" else "OUT")
        parts.append(f"`{(p.get('activity') or {}).get('name')}`={esc(p.get('output'))} ({ok})")
    return f"- {name}: **{'met' if met else 'NOT MET'}** — " + ", ".join(parts)


def _claims_table(ev: Mapping[str, Any]) -> list[str]:
    """Where each claim was checked: the hypothesis phases (probes/claims.py) and the criteria."""
    claims = ev.get("claims") or []
    if not claims:
        return []
    rows = [
        [
            f"`{esc(c.get('claim'))}`",
            esc(c.get("phase")),
            f"{c.get('op')} {format_number(c.get('threshold'))}" if c.get("threshold") is not None else "—",
            c.get("checks"),
            c.get("met"),
            f"{format_number(c.get('min'))}–{format_number(c.get('max'))}",
        ]
        for c in claims
    ]
    crit = ev.get("criteria") or []
    rows.append(
        [
            "criteria",
            "after the run",
            f"{len(crit)} declared",
            len(crit),
            sum(1 for c in crit if c.get("passed")),
            "see Criteria",
        ]
    )
    return ["Where each claim was checked:", ""] + table(
        ["claim", "phase", "threshold", "checks", "held", "values seen"], rows
    )


def _header_section(r: RunDoc, figures: Figures) -> list[str]:
    """Title, journal facts and the verdict with its reasons."""
    j, ev, k, v = r.journal, r.evidence or {}, r.kind, r.verdict
    lines = [f"## Run `{r.label}`", ""]
    lines += [
        f"- Journal: `{r.source}`" + (f" · run directory `{ev['run_dir']}`" if ev.get("run_dir") else ""),
        f"- Started {iso(j.get('start'))}, ended {iso(j.get('end'))}, duration "
        f"{format_number(j.get('duration'))} s",
        f"- Journal status: **{j.get('status')}** · deviated: **{'yes' if j.get('deviated') else 'no'}** · "
        f"`chaos run` exit code: {chaos_exit_code(j)}",
        f"- Verdict: **{fig(figures, f'{k}.{r.label}.verdict')}**",
    ]
    lines += [f"  - {esc(reason)}" for reason in v.reasons]
    if r.judged_here:
        lines.append(
            "  - note: the journal records no verdict (no evidence block, or one without a verdict): "
            "judged by this report with the rules of `scaleproof verdict`"
        )
    if chaos_exit_code(j) == 0 and v.outcome != "pass":
        lines.append(f"  - note: `chaos run` exited 0 for this run; the verdict is {v.outcome}, not pass")
    if j.get("status") == "interrupted":
        lines.append("  - note: the run was **interrupted**; its figures cover only the part that ran")
    if j.get("deviated"):
        lines.append("  - note: the run **deviated**: the steady state did not hold after the method")
    lines.append("")
    if r.evidence is None:
        lines += ["No scaleproof evidence block: only the journal's own outcome is known.", ""]
    return lines


def _criteria_section(r: RunDoc, figures: Figures) -> list[str]:
    if not r.verdict.criteria:
        return []
    rows = []
    for c in r.verdict.criteria:
        res = "n/a" if c.get("passed") is None else ("pass" if c.get("passed") else "**FAIL**")
        mkey = f"{r.kind}.{r.label}.{c.get('metric')}"
        value = fig(figures, mkey) if mkey in figures else format_number(c.get("value"))
        rows.append(
            [
                f"`{esc(c.get('expr'))}`",
                value,
                esc(c.get("unit") or ""),
                f"{esc(c.get('op'))} {format_number(c.get('threshold'))}",
                res,
            ]
        )
    return ["### Criteria", "", *table(["criterion", "value", "unit", "threshold", "result"], rows)]


def _metrics_section(r: RunDoc, figures: Figures) -> list[str]:
    metrics = (r.evidence or {}).get("metrics") or {}
    if not metrics:
        return []
    rows = []
    for name, m in sorted(metrics.items()):
        method = m.get("method") or ""
        if m.get("value") is None:
            method = f"{method} — not computed: {m.get('reason') or 'no reason recorded'}"
        rows.append(
            [
                f"`{name}`",
                fig(figures, f"{r.kind}.{r.label}.{name}"),
                esc(m.get("unit") or ""),
                esc(method),
                format_number(m.get("resolution_s")),
                format_number(m.get("samples")),
            ]
        )
    header = ["metric", "value", "unit", "method", "resolution (s)", "samples"]
    return ["### Metrics", "", *table(header, rows)]


def _steady_state_section(r: RunDoc) -> list[str]:
    """The hypotheses, the claims per phase, and every method/rollback activity with its status."""
    j = r.journal
    steady: Mapping[str, Any] = j.get("steady_states") or {}
    during = steady.get("during") or []
    lines = ["### Steady state and activities", ""]
    lines.append(_hypothesis_line("before", steady.get("before")))
    breached = sum(1 for s in during if s and s.get("steady_state_met") is False)
    lines.append(
        f"- during: {len(during)} samples, **{breached} breached**" if during else "- during: no samples"
    )
    lines.append(_hypothesis_line("after", steady.get("after")))
    lines.append("")
    lines += _claims_table(r.evidence or {})
    rows = []
    for phase, recs in (("method", j.get("run") or []), ("rollback", j.get("rollbacks") or [])):
        for rec in recs:
            act = rec.get("activity") or {}
            err = (rec.get("exception") or [""])[-1].strip()
            rows.append(
                [
                    phase,
                    f"`{esc(act.get('name'))}`",
                    esc(act.get("type")),
                    "**failed**" if rec.get("status") == "failed" else esc(rec.get("status")),
                    format_number(rec.get("duration")),
                    esc(err),
                ]
            )
    if j.get("status") == "interrupted" and not j.get("rollbacks"):
        rows.append(["rollback", "—", "", "**not played** (interrupted)", "", ""])
    if rows:
        lines += table(["phase", "activity", "type", "status", "duration (s)", "error"], rows)
    return lines


def _load_section(load: Mapping[str, Any]) -> list[str]:
    ps = load.get("per_second")
    if not ps:
        return []
    return [
        "### Load",
        "",
        f"{load.get('users')} users, {len(ps)} one-second samples from {ts(ps[0].get('t'))} to "
        f"{ts(ps[-1].get('t'))}; peak {format_number(max(float(p.get('rps') or 0) for p in ps))} req/s, "
        f"peak p95 {format_number(max(float(p.get('p95_ms') or 0) for p in ps))} ms, "
        f"{format_number(sum(float(p.get('failures_per_s') or 0) for p in ps))} failures in total.",
        "",
    ]


def cost_section(cost: Mapping[str, Any]) -> list[str]:
    """What measuring took from the machine (evidence `cost`): a measurement that eats the CPU the
    app needs changes what it measures, so the report says how much the recorder and the load took."""
    rows = []
    for label, key in (
        ("chaos process (Chaos Toolkit, recorder, probes)", "chaos_process"),
        ("load generator (Locust)", "load_generator"),
    ):
        u = cost.get(key)
        if u:
            share = u.get("machine_share")
            rows.append(
                [
                    label,
                    format_number(u.get("cpu_s")),
                    format_number(u.get("wall_s")),
                    "—" if share is None else f"{100 * float(share):.1f} %",
                    format_number(u.get("rss_peak_mib")),
                ]
            )
    if not rows:
        return []
    per_kill = cost.get("events_bytes_per_kill")
    log = (
        f"event log: {format_number(cost.get('events_lines'))} lines, "
        f"{format_number(cost.get('events_bytes'))} bytes"
    )
    if per_kill is not None:
        log += f" ({format_number(per_kill)} bytes per kill over {cost.get('kills')} kills)"
    return [
        "### What measuring took from the machine",
        "",
        *table(
            ["process", "CPU s", "wall s", f"share of {cost.get('cores') or '?'} cores", "peak RSS"], rows
        ),
        log + ".",
        "",
    ]


def _specs_section(specs: Mapping[str, Any]) -> list[str]:
    if not specs:
        return []
    lines = ["### Deployment, HPA and PDB under test", ""]
    d, h = specs.get("deployment") or {}, specs.get("hpa") or {}
    # the evidence control records every PDB that selects the pods (a list); older blocks a dict
    pdbs = specs.get("pdb") or []
    pdbs = [pdbs] if isinstance(pdbs, dict) else list(pdbs)
    if d:
        c = (d.get("containers") or [d])[0]
        lines.append(
            f"- Deployment `{esc(d.get('name'))}`: replicas {d.get('replicas')}, image "
            f"`{esc(c.get('image'))}`, requests `{esc((c.get('resources') or {}).get('requests'))}`, "
            f"limits `{esc((c.get('resources') or {}).get('limits'))}`, "
            f"readiness `{esc(c.get('readinessProbe'))}`, "
            f"terminationGracePeriodSeconds {d.get('terminationGracePeriodSeconds')}"
        )
    if h:
        lines.append(
            f"- HPA `{esc(h.get('name'))}`: {h.get('minReplicas')}–{h.get('maxReplicas')} "
            f"replicas, metrics `{esc(h.get('metrics'))}`, behavior `{esc(h.get('behavior'))}`"
        )
    for p in pdbs:
        spec = p.get("spec") or p
        lines.append(
            f"- PDB `{esc(p.get('name'))}`: minAvailable {spec.get('minAvailable')}, "
            f"maxUnavailable {spec.get('maxUnavailable')}"
        )
    return [*lines, ""]


def _versions_section(ev: Mapping[str, Any]) -> list[str]:
    if not (ev.get("versions") or ev.get("images")):
        return []
    lines = ["### Versions and images", ""]
    lines += [f"- {esc(n)}: `{esc(val)}`" for n, val in sorted((ev.get("versions") or {}).items())]
    lines += [f"- image {esc(n)}: `{esc(val)}`" for n, val in sorted((ev.get("images") or {}).items())]
    lines.append(f"- git revision: `{ev.get('git_revision') or 'unknown'}`")
    return [*lines, ""]


def _touched_section(touched: Sequence[Mapping[str, Any]]) -> list[str]:
    if not touched:
        return []
    rows = [
        [
            esc(t.get("kind")),
            esc(t.get("namespace")),
            f"`{esc(t.get('name'))}`",
            esc(t.get("action")),
            ts(t.get("t")),
        ]
        for t in touched
    ]
    header = ["kind", "namespace", "name", "action", "at (UTC)"]
    return ["### Blast radius (objects touched)", "", *table(header, rows)]


def _plots_section(r: RunDoc) -> list[str]:
    if not r.plots:
        return []
    return ["### Plots", "", *[f"![{r.kind} {name} — {r.label}]({png})" for name, png in r.plots.items()], ""]


def _prometheus_section(r: RunDoc, figures: Figures) -> list[str]:
    """Prometheus' own view: what was queried, and the cross-check of its pod counts with the watches."""
    ev = r.evidence or {}
    prom = ev.get("prometheus") or {}
    if not prom or r.kind not in ("hpa-scale", "pod-kill"):
        return []
    lines = ["### Prometheus view (evidence beside the watches, not the verdict's source)", ""]
    if prom.get("url"):
        lines += [f"Range queries to `{esc(prom['url'])}` over the run, recorded in the journal:", ""]
    lines += query_lines(ev) + [""]
    cc = crosscheck(ev)
    if cc is None:
        return lines + ["No Prometheus pod count recorded for this run: no cross-check.", ""]
    key = f"{r.kind}.{r.label}.prometheus"
    rows_spec = [
        ("max_pods", "max pods after load start", "pods"),
        ("t_target_s", "load start → target pod count", "s"),
        ("lag_t_target_s", "lag behind the watch (target pod count)", "s"),
        ("min_pods_after_kill", "min pods after the first kill", "pods"),
    ]
    rows = []
    for name, label, unit in rows_spec:
        if name not in cc:
            continue
        cells = [fig(figures, f"{key}.{name}.{v}") if v in cc[name] else "—" for v in VIEWS]
        rows.append([label, unit, *cells])
    lines += table(["figure", "unit", *(f"{v}: {VIEWS[v][1]}" for v in VIEWS)], rows)
    res = cc.get("resolution_s") or {}
    lines += [
        f"Resolution: scrape interval {fig(figures, f'{key}.resolution_s.scrape_interval')} s, query step "
        f"{fig(figures, f'{key}.resolution_s.query_step')} s; a Prometheus view trails the watch by up to "
        "one scrape interval plus one step, and cAdvisor counts a pod from its container start (before "
        "Ready), the `up` view from its first successful scrape."
        if res
        else "",
        "",
    ]
    return lines


def run_section(r: RunDoc, figures: Figures) -> list[str]:
    """One run's document: a section per kind of table, in reading order."""
    ev = r.evidence or {}
    return [
        *_header_section(r, figures),
        *_criteria_section(r, figures),
        *_metrics_section(r, figures),
        *timeline_sections(r, figures),
        *_steady_state_section(r),
        *_load_section(ev.get("load") or {}),
        *cost_section(mapping(ev.get("cost"))),
        *_specs_section(ev.get("specs") or {}),
        *_versions_section(ev),
        *_touched_section(ev.get("touched") or []),
        *_prometheus_section(r, figures),
        *_plots_section(r),
    ]
