"""Deterministic, diffable MADR-style evidence Markdown from journals.

Every figure is emitted through :func:`fig` as ``<!-- fig:KEY -->VALUE`` so that
`scaleproof.report.consistency` can check any ADR quoting it against the journals. All figures come
from one place, :func:`collect_figures`, which both the renderer and the consistency check use.

No generation timestamp, no absolute path, stable ordering everywhere: same journals → same bytes.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scaleproof.journal import (
    Evidence,
    Journal,
    declared_criteria,
    experiment_kind,
    find_evidence,
    run_label,
)
from scaleproof.phases import percentile
from scaleproof.report.promview import VIEWS, crosscheck, query_lines
from scaleproof.verdict import Verdict, chaos_exit_code, verdict

__all__ = [
    "Aggregate",
    "RunDoc",
    "aggregate",
    "collect_figures",
    "fig",
    "format_number",
    "make_runs",
    "percentile",
    "render_index",
    "render_kind",
    "summary_marker",
]

logger = logging.getLogger(__name__)

# the value token is what `format_number` writes: a decimal number, or a word such as n/a, pass, fail
FIG_RE = re.compile(r"<!--\s*fig:([A-Za-z0-9_.:\-]+)\s*-->\s*([-+]?\d+(?:\.\d+)?|[A-Za-z][A-Za-z_/]*)?")
SUMMARY_RE = re.compile(
    r"<!-- summary: kind=(\S+) runs=(\d+) pass=(\d+) fail=(\d+) inconclusive=(\d+) -->\n"
    r"# .*\n\n\*\*Claim:\*\* (.*)"
)


@dataclass(frozen=True)
class RunDoc:
    """One journal prepared for rendering."""

    source: str  # journal path as displayed (relative)
    label: str  # evidence run_id, else the journal file stem; file-name safe
    kind: str
    journal: Journal
    evidence: Evidence | None
    verdict: Verdict
    plots: dict[str, str] = field(default_factory=dict)  # plot name -> relative PNG file name


@dataclass(frozen=True)
class Aggregate:
    unit: str
    n: int  # runs with a value
    runs: int  # runs of the kind
    mean: float | None
    p95: float | None
    min: float | None
    max: float | None


# ------------------------------------------------------------------------------------------------ numbers
def format_number(value: Any) -> str:
    """The one textual form of a figure: ints as is, floats to 3 significant digits (no exponent)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == 0:
            return "0"
        decimals = max(0, 2 - int(math.floor(math.log10(abs(value)))))
        text = f"{round(value, decimals):.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)


def fig(figures: Mapping[str, str], key: str) -> str:
    """A figure with its marker; the value must have been collected (KeyError otherwise, by design)."""
    return f"<!-- fig:{key} -->{figures[key]}"


def aggregate(runs: Sequence[RunDoc]) -> dict[str, Aggregate]:
    """Per metric across runs: n, mean, p95, min, max of the non-null values (every run, any verdict)."""
    names = sorted({m for r in runs if r.evidence for m in (r.evidence.get("metrics") or {})})
    out: dict[str, Aggregate] = {}
    for name in names:
        values: list[float] = []
        unit = ""
        for r in runs:
            m = ((r.evidence or {}).get("metrics") or {}).get(name)
            if m is None:
                continue
            unit = unit or str(m.get("unit") or "")
            value = m.get("value")
            if value is not None:
                values.append(float(value))
        if values:
            out[name] = Aggregate(
                unit,
                len(values),
                len(runs),
                sum(values) / len(values),
                percentile(values, 95),
                min(values),
                max(values),
            )
        else:
            out[name] = Aggregate(unit, 0, len(runs), None, None, None, None)
    return out


# ------------------------------------------------------------------------------------------------ runs
def make_runs(loaded: Sequence[tuple[str, Journal]]) -> list[RunDoc]:
    """RunDocs sorted by (kind, journal start, label, source): the order of every output."""
    runs = []
    seen: dict[tuple[str, str], int] = {}
    for source, journal in loaded:
        kind = experiment_kind(journal)
        label = run_label(journal, Path(source).stem)
        n = seen.get((kind, label), 0)
        seen[(kind, label)] = n + 1
        if n:
            label = f"{label}-{n + 1}"
        runs.append(RunDoc(source, label, kind, journal, find_evidence(journal), verdict(journal)))
    return sorted(runs, key=lambda r: (r.kind, str(r.journal.get("start")), r.label, r.source))


def _kills_of(runs: Sequence[RunDoc]) -> list[Mapping[str, Any]]:
    return [k for r in runs for k in (((r.evidence or {}).get("timelines") or {}).get("kills") or [])]


def _newest_pod_kill(runs: Sequence[RunDoc]) -> list[RunDoc]:
    """The newest pod-kill run, as a list (empty without one); `runs` are sorted by start."""
    return [r for r in runs if r.kind == "pod-kill"][-1:]


def floor_figures(runs: Sequence[RunDoc], floor: Sequence[RunDoc]) -> dict[str, str]:
    """`pod-kill.floor.*`: the newest app pod-kill run against the newest floor run
    (scaleproof.floor.compare). Why the newest of each: the question is how far the app *as it is
    now* is from the cluster *as it is now*; older runs measured an older build (the aggregate table
    keeps them)."""
    from scaleproof.floor import compare

    app, flo = _newest_pod_kill(runs), _newest_pod_kill(floor)
    if not app or not flo:
        return {}
    c = compare(_kills_of(app), _kills_of(flo))
    out = {
        "pod-kill.floor.runs": str(len(flo)),
        "pod-kill.floor.kills": format_number(c["floor"]["count"]),
        "pod-kill.floor.app_kills": format_number(c["app"]["count"]),
        "pod-kill.floor.app_attributable_s": format_number(c["app_attributable_s"]),
        "pod-kill.floor.app_attributable_p95_s": format_number(c["app_attributable_p95_s"]),
        "pod-kill.floor.dominant_phase": format_number(c["dominant_phase"]),
        "pod-kill.floor.dominant_excess_s": format_number(c["dominant_excess_s"]),
    }
    for stat in ("mean", "p95", "max"):
        out[f"pod-kill.floor.mttr_{stat}_s"] = format_number(c["floor"][stat])
        out[f"pod-kill.floor.app_mttr_{stat}_s"] = format_number(c["app"][stat])
    for p in c["phases"]:
        for col, key in (("app", "app_median_s"), ("floor", "floor_median_s"), ("excess", "excess_s")):
            out[f"pod-kill.floor.phase.{p['name']}.{col}"] = format_number(p[key])
    return out


def collect_figures(
    runs: Sequence[RunDoc], baseline: Sequence[RunDoc] = (), floor: Sequence[RunDoc] = ()
) -> dict[str, str]:
    """Every figure the evidence documents show, as text, keyed `<kind>.<run>.<metric>`,
    `<kind>.<run>.verdict`, `<kind>.aggregate.<metric>.{n,mean,p95,min,max}`, `<kind>.runs`,
    `<kind>.baseline.<metric>.{mean,delta,delta_pct}`, `pod-kill.floor.*` (with floor runs)."""
    figures: dict[str, str] = floor_figures(runs, floor)
    kinds = sorted({r.kind for r in runs})
    for kind in kinds:
        mine = [r for r in runs if r.kind == kind]
        figures[f"{kind}.runs"] = str(len(mine))
        for r in mine:
            figures[f"{kind}.{r.label}.verdict"] = r.verdict.outcome
            for name, m in sorted(((r.evidence or {}).get("metrics") or {}).items()):
                figures[f"{kind}.{r.label}.{name}"] = format_number(m.get("value"))
            for c in r.verdict.criteria:
                figures[f"{kind}.{r.label}.criterion.{c.get('metric')}.passed"] = (
                    "n/a" if c.get("passed") is None else ("pass" if c.get("passed") else "fail")
                )
            for name, views in sorted((crosscheck(r.evidence or {}) or {}).items()):
                for view, value in sorted(views.items()):
                    figures[f"{kind}.{r.label}.prometheus.{name}.{view}"] = format_number(value)
        agg = aggregate(mine)
        for name, a in agg.items():
            for stat in ("n", "mean", "p95", "min", "max"):
                figures[f"{kind}.aggregate.{name}.{stat}"] = format_number(getattr(a, stat))
        base = [r for r in baseline if r.kind == kind]
        if base:
            bagg = aggregate(base)
            for name, a in agg.items():
                b = bagg.get(name)
                if b is None:
                    continue
                delta = None if a.mean is None or b.mean is None else a.mean - b.mean
                pct = None if delta is None or not b.mean else 100.0 * delta / abs(b.mean)
                figures[f"{kind}.baseline.{name}.n"] = format_number(b.n)
                figures[f"{kind}.baseline.{name}.mean"] = format_number(b.mean)
                figures[f"{kind}.baseline.{name}.delta"] = format_number(delta)
                figures[f"{kind}.baseline.{name}.delta_pct"] = format_number(pct)
    return figures


# ------------------------------------------------------------------------------------------------ helpers
def _esc(text: Any) -> str:
    """Table-cell safe text: one line, pipes escaped."""
    return str(text).replace("\r", " ").replace("\n", " ").replace("|", "\\|")


def _ts(t: Any) -> str:
    if t is None:
        return "n/a"
    return datetime.fromtimestamp(float(t), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _iso(s: Any) -> str:
    if not s:
        return "n/a"
    try:
        return datetime.fromisoformat(str(s)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return _esc(s)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def _direction(runs: Sequence[RunDoc], metric: str) -> int:
    """-1 if lower is better (a `<=`/`<` criterion on it), +1 if higher is better, 0 unknown."""
    for r in runs:
        for c in r.verdict.criteria:
            if c.get("metric") == metric:
                return (
                    -1 if str(c.get("op")).startswith("<") else 1 if str(c.get("op")).startswith(">") else 0
                )
    return 0


def _hypothesis_line(name: str, state: Mapping[str, Any] | None) -> str:
    if state is None:
        return f"- {name}: not run"
    met = state.get("steady_state_met")
    parts = []
    for p in state.get("probes") or []:
        ok = "ok" if p.get("tolerance_met") else ("raised" if p.get("status") == "failed" else "OUT")
        parts.append(f"`{(p.get('activity') or {}).get('name')}`={_esc(p.get('output'))} ({ok})")
    return f"- {name}: **{'met' if met else 'NOT MET'}** — " + ", ".join(parts)


def summary_marker(kind: str, runs: Sequence[RunDoc]) -> str:
    c = {o: sum(1 for r in runs if r.verdict.outcome == o) for o in ("pass", "fail", "inconclusive")}
    return (
        f"<!-- summary: kind={kind} runs={len(runs)} pass={c['pass']} fail={c['fail']} "
        f"inconclusive={c['inconclusive']} -->"
    )


# ------------------------------------------------------------------------------------------------ render
def _claims_table(ev: Mapping[str, Any]) -> list[str]:
    """Where each claim was checked: the hypothesis phases (probes/claims.py) and the criteria."""
    claims = ev.get("claims") or []
    if not claims:
        return []
    rows = [
        [
            f"`{_esc(c.get('claim'))}`",
            _esc(c.get("phase")),
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
    return ["Where each claim was checked:", ""] + _table(
        ["claim", "phase", "threshold", "checks", "held", "values seen"], rows
    )


def _cadence_lines(r: RunDoc, scale: Mapping[str, Any], figures: Mapping[str, str]) -> list[str]:
    """The controllers' cadence beside the scale phases, and how close the run came to its best case."""
    c = scale.get("cadence") or {}
    if not c:
        return []
    src = c.get("sources") or {}
    k = f"{r.kind}.{r.label}"
    lines = [
        f"Metric phase ends at: {_esc(scale.get('metric_source') or 'HPA status')}.",
        "",
        "Controller cadence:",
        "",
        f"- metrics-server resolution {format_number(c.get('metrics_resolution_s'))} s "
        f"({_esc(src.get('metrics_resolution_s', ''))}); measured between samples "
        f"{format_number(c.get('metrics_resolution_measured_s'))} s, CPU window "
        f"{format_number(c.get('metrics_window_s'))} s",
        f"- HPA sync period {format_number(c.get('hpa_sync_period_s'))} s "
        f"({_esc(src.get('hpa_sync_period_s', ''))})",
        f"- scale-up stabilisation {format_number(c.get('scale_up_stabilization_s'))} s"
        + (
            f" ({_esc(src['scale_up_stabilization_s'])})"
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


def _header_section(r: RunDoc, figures: Mapping[str, str]) -> list[str]:
    """Title, journal facts and the verdict with its reasons."""
    j, ev, k, v = r.journal, r.evidence or {}, r.kind, r.verdict
    lines = [f"## Run `{r.label}`", ""]
    lines += [
        f"- Journal: `{r.source}`" + (f" · run directory `{ev['run_dir']}`" if ev.get("run_dir") else ""),
        f"- Started {_iso(j.get('start'))}, ended {_iso(j.get('end'))}, duration "
        f"{format_number(j.get('duration'))} s",
        f"- Journal status: **{j.get('status')}** · deviated: **{'yes' if j.get('deviated') else 'no'}** · "
        f"`chaos run` exit code: {chaos_exit_code(j)}",
        f"- Verdict: **{fig(figures, f'{k}.{r.label}.verdict')}**",
    ]
    lines += [f"  - {_esc(reason)}" for reason in v.reasons]
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


def _criteria_section(r: RunDoc, figures: Mapping[str, str]) -> list[str]:
    if not r.verdict.criteria:
        return []
    rows = []
    for c in r.verdict.criteria:
        res = "n/a" if c.get("passed") is None else ("pass" if c.get("passed") else "**FAIL**")
        mkey = f"{r.kind}.{r.label}.{c.get('metric')}"
        value = fig(figures, mkey) if mkey in figures else format_number(c.get("value"))
        rows.append(
            [
                f"`{_esc(c.get('expr'))}`",
                value,
                _esc(c.get("unit") or ""),
                f"{_esc(c.get('op'))} {format_number(c.get('threshold'))}",
                res,
            ]
        )
    return ["### Criteria", "", *_table(["criterion", "value", "unit", "threshold", "result"], rows)]


def _metrics_section(r: RunDoc, figures: Mapping[str, str]) -> list[str]:
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
                _esc(m.get("unit") or ""),
                _esc(method),
                format_number(m.get("resolution_s")),
                format_number(m.get("samples")),
            ]
        )
    header = ["metric", "value", "unit", "method", "resolution (s)", "samples"]
    return ["### Metrics", "", *_table(header, rows)]


def _kills_section(kills: Sequence[Mapping[str, Any]]) -> list[str]:
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
                    f"`{_esc(kill.get('victim'))}`",
                    f"`{_esc(kill.get('replacement'))}`",
                    _esc(ph.get("name")),
                    _ts(ph.get("start")),
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
    return [*intro, *_table(header, rows)]


def _scale_section(r: RunDoc, scale: Mapping[str, Any], figures: Mapping[str, str]) -> list[str]:
    """Scale phases, the cadence lines and the HPA decisions, offsets from the first phase."""
    if not (scale.get("phases") or scale.get("decisions")):
        return []
    lines = ["### Timeline: scale phases", ""]
    phases = scale.get("phases") or []
    t0 = float(phases[0]["start"]) if phases else 0.0
    lines += _table(
        ["phase", "start (UTC)", "offset (s)", "duration (s)"],
        [
            [
                _esc(p.get("name")),
                _ts(p.get("start")),
                f"+{format_number(float(p['start']) - t0)}",
                format_number(p.get("duration_s")),
            ]
            for p in phases
        ],
    )
    lines += _cadence_lines(r, scale, figures)
    if scale.get("decisions"):
        lines += _table(
            ["HPA decision", "at (UTC)", "offset (s)"],
            [
                [f"{d.get('from')} → {d.get('to')}", _ts(d.get("t")), f"+{format_number(float(d['t']) - t0)}"]
                for d in scale["decisions"]
            ],
        )
    return lines


def _shards_section(shards: Mapping[str, Any]) -> list[str]:
    if not shards.get("per_shard"):
        return []
    rows = [
        [
            f"`{_esc(s.get('shard'))}`",
            _esc(s.get("node")),
            format_number(s.get("objects")),
            format_number(s.get("queries")),
        ]
        for s in sorted(shards["per_shard"], key=lambda s: (str(s.get("node")), str(s.get("shard"))))
    ]
    title = f"### Shards of `{_esc(shards.get('collection'))}`"
    return [title, "", *_table(["shard", "node", "documents", "queries"], rows)]


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
                    f"`{_esc(act.get('name'))}`",
                    _esc(act.get("type")),
                    "**failed**" if rec.get("status") == "failed" else _esc(rec.get("status")),
                    format_number(rec.get("duration")),
                    _esc(err),
                ]
            )
    if j.get("status") == "interrupted" and not j.get("rollbacks"):
        rows.append(["rollback", "—", "", "**not played** (interrupted)", "", ""])
    if rows:
        lines += _table(["phase", "activity", "type", "status", "duration (s)", "error"], rows)
    return lines


def _load_section(load: Mapping[str, Any]) -> list[str]:
    ps = load.get("per_second")
    if not ps:
        return []
    return [
        "### Load",
        "",
        f"{load.get('users')} users, {len(ps)} one-second samples from {_ts(ps[0].get('t'))} to "
        f"{_ts(ps[-1].get('t'))}; peak {format_number(max(float(p.get('rps') or 0) for p in ps))} req/s, "
        f"peak p95 {format_number(max(float(p.get('p95_ms') or 0) for p in ps))} ms, "
        f"{format_number(sum(float(p.get('failures_per_s') or 0) for p in ps))} failures in total.",
        "",
    ]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _cost_section(cost: Mapping[str, Any]) -> list[str]:
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
        *_table(
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
            f"- Deployment `{_esc(d.get('name'))}`: replicas {d.get('replicas')}, image "
            f"`{_esc(c.get('image'))}`, requests `{_esc((c.get('resources') or {}).get('requests'))}`, "
            f"limits `{_esc((c.get('resources') or {}).get('limits'))}`, "
            f"readiness `{_esc(c.get('readinessProbe'))}`, "
            f"terminationGracePeriodSeconds {d.get('terminationGracePeriodSeconds')}"
        )
    if h:
        lines.append(
            f"- HPA `{_esc(h.get('name'))}`: {h.get('minReplicas')}–{h.get('maxReplicas')} "
            f"replicas, metrics `{_esc(h.get('metrics'))}`, behavior `{_esc(h.get('behavior'))}`"
        )
    for p in pdbs:
        spec = p.get("spec") or p
        lines.append(
            f"- PDB `{_esc(p.get('name'))}`: minAvailable {spec.get('minAvailable')}, "
            f"maxUnavailable {spec.get('maxUnavailable')}"
        )
    return [*lines, ""]


def _versions_section(ev: Mapping[str, Any]) -> list[str]:
    if not (ev.get("versions") or ev.get("images")):
        return []
    lines = ["### Versions and images", ""]
    lines += [f"- {_esc(n)}: `{_esc(val)}`" for n, val in sorted((ev.get("versions") or {}).items())]
    lines += [f"- image {_esc(n)}: `{_esc(val)}`" for n, val in sorted((ev.get("images") or {}).items())]
    lines.append(f"- git revision: `{ev.get('git_revision') or 'unknown'}`")
    return [*lines, ""]


def _touched_section(touched: Sequence[Mapping[str, Any]]) -> list[str]:
    if not touched:
        return []
    rows = [
        [
            _esc(t.get("kind")),
            _esc(t.get("namespace")),
            f"`{_esc(t.get('name'))}`",
            _esc(t.get("action")),
            _ts(t.get("t")),
        ]
        for t in touched
    ]
    header = ["kind", "namespace", "name", "action", "at (UTC)"]
    return ["### Blast radius (objects touched)", "", *_table(header, rows)]


def _plots_section(r: RunDoc) -> list[str]:
    if not r.plots:
        return []
    return ["### Plots", "", *[f"![{r.kind} {name} — {r.label}]({png})" for name, png in r.plots.items()], ""]


def _run_section(r: RunDoc, figures: Mapping[str, str]) -> list[str]:
    """One run's document: a section per kind of table, in reading order."""
    ev = r.evidence or {}
    timelines = ev.get("timelines") or {}
    return [
        *_header_section(r, figures),
        *_criteria_section(r, figures),
        *_metrics_section(r, figures),
        *_kills_section(timelines.get("kills") or []),
        *_scale_section(r, timelines.get("scale") or {}, figures),
        *_shards_section(timelines.get("shards") or {}),
        *_steady_state_section(r),
        *_load_section(ev.get("load") or {}),
        *_cost_section(_mapping(ev.get("cost"))),
        *_specs_section(ev.get("specs") or {}),
        *_versions_section(ev),
        *_touched_section(ev.get("touched") or []),
        *_prometheus_section(r, figures),
        *_plots_section(r),
    ]


def _prometheus_section(r: RunDoc, figures: Mapping[str, str]) -> list[str]:
    """Prometheus' own view: what was queried, and the cross-check of its pod counts with the watches."""
    ev = r.evidence or {}
    prom = ev.get("prometheus") or {}
    if not prom or r.kind not in ("hpa-scale", "pod-kill"):
        return []
    lines = ["### Prometheus view (evidence beside the watches, not the verdict's source)", ""]
    if prom.get("url"):
        lines += [f"Range queries to `{_esc(prom['url'])}` over the run, recorded in the journal:", ""]
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
    lines += _table(["figure", "unit", *(f"{v}: {VIEWS[v][1]}" for v in VIEWS)], rows)
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


def _floor_section(runs: Sequence[RunDoc], floor: Sequence[RunDoc], figures: Mapping[str, str]) -> list[str]:
    """App vs the cluster's floor, per phase (medians), with the app-attributable time and advice."""
    from scaleproof.floor import ADVICE, MTTR_PHASES

    f = "pod-kill.floor"
    app, flo = _newest_pod_kill(runs)[0], _newest_pod_kill(floor)[0]
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
        [_esc(n)] + [fig(figures, f"{f}.phase.{n}.{c}") for c in ("app", "floor", "excess")]
        for n in MTTR_PHASES
        if f"{f}.phase.{n}.app" in figures
    ]
    rows += [
        [f"**MTTR {stat}**", fig(figures, f"{f}.app_mttr_{stat}_s"), fig(figures, f"{f}.mttr_{stat}_s"), ""]
        for stat in ("mean", "p95", "max")
    ]
    lines += _table(["phase", "app (s)", "floor (s)", "app − floor (s)"], rows)
    lines.append(
        "- App-attributable time (app MTTR mean − floor MTTR mean): "
        f"**{fig(figures, f + '.app_attributable_s')} s**"
        f" (p95: {fig(figures, f + '.app_attributable_p95_s')} s)."
    )
    dominant = figures.get(f"{f}.dominant_phase")
    if dominant and dominant != "n/a":
        lines.append(
            f"- Carried by {fig(figures, f + '.dominant_phase')} "
            f"(+{fig(figures, f + '.dominant_excess_s')} s over the floor): {ADVICE[dominant]}."
        )
    else:
        lines.append("- No phase of the app exceeds the floor's.")
    lines.append("")
    return lines


def render_kind(
    kind: str,
    runs: Sequence[RunDoc],
    figures: Mapping[str, str],
    baseline: Sequence[RunDoc] = (),
    baseline_source: str | None = None,
    floor: Sequence[RunDoc] = (),
) -> str:
    """The `<kind>.md` evidence document for the runs of one experiment kind."""
    runs = [r for r in runs if r.kind == kind]
    base = [r for r in baseline if r.kind == kind]
    exp = runs[0].journal.get("experiment") or {}
    ev0 = next((r.evidence for r in runs if r.evidence), None) or {}
    lines = [
        summary_marker(kind, runs),
        f"# Evidence: {kind}",
        "",
        f"**Claim:** {_esc(exp.get('title') or 'untitled experiment')}",
        "",
        f"Generated by `scaleproof report` (same as `chaos adr`) from {fig(figures, f'{kind}.runs')} "
        "journal(s); do not edit by hand, re-run the command. Figures carry `<!-- fig:… -->` markers "
        "that `scaleproof.report.consistency` checks against the journals.",
        "",
    ]
    e = ev0.get("experiment") or {}
    if e:
        lines += [f"- Experiment: `{_esc(e.get('path'))}` (sha256 `{str(e.get('sha256'))[:12]}…`)"]
    crit = declared_criteria(runs[0].journal)
    if crit:
        lines += ["- Criteria declared: " + ", ".join(f"`{_esc(c)}`" for c in crit)]
    lines += [
        "- Verdict rules: see `scaleproof/verdict.py` (a failed gate or failed action is a fail even "
        "when `chaos run` exits 0; missing evidence or a null metric is inconclusive).",
        "",
    ]

    lines += ["## Runs", ""]
    lines += _table(
        ["run", "started (UTC)", "duration (s)", "status", "deviated", "`chaos run` exit", "verdict"],
        [
            [
                f"[`{r.label}`](#run-{r.label.lower().replace('.', '')})",
                _iso(r.journal.get("start")),
                format_number(r.journal.get("duration")),
                _esc(r.journal.get("status")),
                "yes" if r.journal.get("deviated") else "no",
                str(chaos_exit_code(r.journal)),
                f"**{fig(figures, f'{kind}.{r.label}.verdict')}**",
            ]
            for r in runs
        ],
    )

    agg = aggregate(runs)
    if len(runs) > 1 and agg:
        lines += [
            "## Aggregate across runs",
            "",
            f"Over the {len(runs)} runs above, whatever their verdict; n = runs where the metric has a "
            "value. p95: linear interpolation between closest ranks.",
            "",
        ]
        lines += _table(
            ["metric", "unit", "n", "mean", "p95", "min", "max"],
            [
                [f"`{name}`", _esc(a.unit)]
                + [fig(figures, f"{kind}.aggregate.{name}.{s}") for s in ("n", "mean", "p95", "min", "max")]
                for name, a in agg.items()
            ],
        )
    if base:
        lines += [
            "## Comparison with baseline",
            "",
            f"Baseline: {len(base)} run(s) from `{baseline_source}`; delta = current mean − baseline mean.",
            "",
        ]
        rows = []
        for name, a in agg.items():
            if f"{kind}.baseline.{name}.mean" not in figures:
                continue
            b, ag = f"{kind}.baseline.{name}", f"{kind}.aggregate.{name}"
            delta = figures[f"{b}.delta"]
            d = _direction(runs, name)
            if delta in ("n/a", "0") or d == 0:
                trend = "—" if delta != "0" else "same"
            else:
                trend = "better" if (float(delta) < 0) == (d < 0) else "**worse**"
            rows.append(
                [
                    f"`{name}`",
                    _esc(a.unit),
                    f"{fig(figures, f'{b}.mean')} (n={figures[f'{b}.n']})",
                    f"{fig(figures, f'{ag}.mean')} (n={figures[f'{ag}.n']})",
                    fig(figures, f"{kind}.baseline.{name}.delta"),
                    fig(figures, f"{kind}.baseline.{name}.delta_pct"),
                    trend,
                ]
            )
        lines += _table(
            ["metric", "unit", "baseline mean", "current mean", "delta", "delta %", "trend"], rows
        )

    if kind == "pod-kill" and "pod-kill.floor.kills" in figures:
        lines += _floor_section(runs, floor, figures)
    for r in runs:
        lines += _run_section(r, figures)
    text = "\n".join(lines).rstrip("\n") + "\n"
    return re.sub(r"\n{3,}", "\n\n", text)


def render_index(kind_docs: Mapping[str, str]) -> str:
    """README.md of the evidence directory from the `<kind>.md` texts it holds (file name → text)."""
    lines = [
        "# ADR evidence",
        "",
        "Generated by `scaleproof report` / `chaos adr`; one document per experiment kind. "
        "`scaleproof verdict JOURNAL...` exits 0 all pass, 1 any fail, 2 inconclusive, 3 unreadable.",
        "",
    ]
    rows = []
    for name in sorted(kind_docs):
        m = SUMMARY_RE.search(kind_docs[name])
        if not m:
            continue
        kind, n, p, f, i, claim = m.groups()
        rows.append([f"[{kind}]({name})", n, p, f, i, claim])
    lines += _table(["experiment", "runs", "pass", "fail", "inconclusive", "claim"], rows)
    return "\n".join(lines).rstrip("\n") + "\n"
