"""Every figure the evidence documents show, as numbers, keyed for the `<!-- fig:KEY -->` markers.

:func:`collect_figures` is the one computation: the renderer prints its values (through :func:`fig`,
which formats them with `text.format_number` only then) and `scaleproof.report.consistency` compares the
markers of any ADR with them, formatted the same way (:func:`texts`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scaleproof.phases import percentile
from scaleproof.report.promview import crosscheck
from scaleproof.report.runs import RunDoc, kills_of, newest_pod_kill
from scaleproof.report.text import format_number

__all__ = [
    "FIG_RE",
    "Aggregate",
    "Figure",
    "FigureBook",
    "Figures",
    "aggregate",
    "collect_figures",
    "fig",
    "floor_figures",
    "texts",
]

# the value token is what `format_number` writes: a decimal number, or a word such as n/a, pass, fail
FIG_RE = re.compile(r"<!--\s*fig:([A-Za-z0-9_.:\-]+)\s*-->\s*([-+]?\d+(?:\.\d+)?|[A-Za-z][A-Za-z_/]*)?")

Figure = float | int | str | None  # a number (None: not computed), or a word (a verdict, a phase name)
Figures = Mapping[str, Figure]


@dataclass(frozen=True)
class Aggregate:
    unit: str
    n: int  # runs with a value
    runs: int  # runs of the kind
    mean: float | None
    p95: float | None
    min: float | None
    max: float | None


def fig(figures: Figures, key: str) -> str:
    """A figure with its marker; the value must have been collected (KeyError otherwise, by design)."""
    return f"<!-- fig:{key} -->{format_number(figures[key])}"


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


class FigureBook(dict[str, Figure]):
    """The figures by key, and the aggregates they came from (per kind, then metric), so that the
    renderer prints them without aggregating again."""

    def __init__(self) -> None:
        super().__init__()
        self.aggregates: dict[str, dict[str, Aggregate]] = {}


def floor_figures(runs: Sequence[RunDoc], floor: Sequence[RunDoc]) -> dict[str, Figure]:
    """`pod-kill.floor.*`: the newest app pod-kill run against the newest floor run
    (scaleproof.floor.compare). Why the newest of each: the question is how far the app *as it is
    now* is from the cluster *as it is now*; older runs measured an older build (the aggregate table
    keeps them)."""
    from scaleproof.floor import compare

    app, flo = newest_pod_kill(runs), newest_pod_kill(floor)
    if not app or not flo:
        return {}
    c = compare(kills_of(app), kills_of(flo))
    out: dict[str, Figure] = {
        "pod-kill.floor.runs": len(flo),
        "pod-kill.floor.kills": c["floor"]["count"],
        "pod-kill.floor.app_kills": c["app"]["count"],
        "pod-kill.floor.app_attributable_s": c["app_attributable_s"],
        "pod-kill.floor.app_attributable_p95_s": c["app_attributable_p95_s"],
        "pod-kill.floor.dominant_phase": c["dominant_phase"],
        "pod-kill.floor.dominant_excess_s": c["dominant_excess_s"],
    }
    for stat in ("mean", "p95", "max"):
        out[f"pod-kill.floor.mttr_{stat}_s"] = c["floor"][stat]
        out[f"pod-kill.floor.app_mttr_{stat}_s"] = c["app"][stat]
    for p in c["phases"]:
        for col, key in (("app", "app_median_s"), ("floor", "floor_median_s"), ("excess", "excess_s")):
            out[f"pod-kill.floor.phase.{p['name']}.{col}"] = p[key]
    return out


def _run_figures(kind: str, r: RunDoc, figures: dict[str, Figure]) -> None:
    """One run's verdict, metrics, criteria results and Prometheus cross-check."""
    figures[f"{kind}.{r.label}.verdict"] = r.verdict.outcome
    for name, m in sorted(((r.evidence or {}).get("metrics") or {}).items()):
        figures[f"{kind}.{r.label}.{name}"] = m.get("value")
    for c in r.verdict.criteria:
        passed = c.get("passed")
        figures[f"{kind}.{r.label}.criterion.{c.get('metric')}.passed"] = (
            None if passed is None else ("pass" if passed else "fail")
        )
    for name, views in sorted((crosscheck(r.evidence or {}) or {}).items()):
        for view, value in sorted(views.items()):
            figures[f"{kind}.{r.label}.prometheus.{name}.{view}"] = value


def _baseline_figures(
    kind: str, agg: Mapping[str, Aggregate], base: Sequence[RunDoc], figures: dict[str, Figure]
) -> None:
    """Baseline n and mean per metric, and the current mean's delta from it (absolute and %)."""
    bagg = aggregate(base)
    for name, a in agg.items():
        b = bagg.get(name)
        if b is None:
            continue
        delta = None if a.mean is None or b.mean is None else a.mean - b.mean
        pct = None if delta is None or not b.mean else 100.0 * delta / abs(b.mean)
        figures[f"{kind}.baseline.{name}.n"] = b.n
        figures[f"{kind}.baseline.{name}.mean"] = b.mean
        figures[f"{kind}.baseline.{name}.delta"] = delta
        figures[f"{kind}.baseline.{name}.delta_pct"] = pct


def collect_figures(
    runs: Sequence[RunDoc], baseline: Sequence[RunDoc] = (), floor: Sequence[RunDoc] = ()
) -> FigureBook:
    """Every figure the evidence documents show, as numbers (words for verdicts and phase names), keyed
    `<kind>.<run>.<metric>`, `<kind>.<run>.verdict`, `<kind>.aggregate.<metric>.{n,mean,p95,min,max}`,
    `<kind>.runs`, `<kind>.baseline.<metric>.{n,mean,delta,delta_pct}`, `pod-kill.floor.*` (with
    floor runs)."""
    figures = FigureBook()
    figures.update(floor_figures(runs, floor))
    for kind in sorted({r.kind for r in runs}):
        mine = [r for r in runs if r.kind == kind]
        figures[f"{kind}.runs"] = len(mine)
        for r in mine:
            _run_figures(kind, r, figures)
        agg = figures.aggregates[kind] = aggregate(mine)
        for name, a in agg.items():
            for stat in ("n", "mean", "p95", "min", "max"):
                figures[f"{kind}.aggregate.{name}.{stat}"] = getattr(a, stat)
        base = [r for r in baseline if r.kind == kind]
        if base:
            _baseline_figures(kind, agg, base, figures)
    return figures


def texts(figures: Figures) -> dict[str, str]:
    """The figures as the report prints them (what an ADR's markers are compared with)."""
    return {k: format_number(v) for k, v in figures.items()}
