"""One pure builder per experiment kind: recorded events, load and specs → the evidence figures.

`build(recording)` picks the builder of the declared kind (a run without one: every builder whose
`detect` sees its fault in the recording), adds the load figures, and judges the declared criteria
ONCE (`scaleproof.criteria.evaluate`); the verdict then reads those results. No I/O: the control
(`scaleproof.evidence`) reads the run directory into a :class:`Recording` and writes the block.

A new kind adds one module here with a `BUILDER` (see `pod_kill.py`) and one line in `BUILDERS`.
"""

from __future__ import annotations

from scaleproof import criteria
from scaleproof.builders import hpa_scale, node_drain, node_loss, pod_kill, store_peer_loss, vector_shards
from scaleproof.builders.common import (
    Builder,
    Recording,
    claims_summary,
    load_figures,
    measurement_cost,
    metric,
)
from scaleproof.contract import Criterion, Figures

__all__ = [
    "BUILDERS",
    "Builder",
    "Recording",
    "build",
    "builders_for",
    "claims_summary",
    "measurement_cost",
    "metric",
]

#: kind -> its builder; the order is the order figures are computed for a run without a kind
BUILDERS: dict[str, Builder] = {
    b.kind: b
    for b in (
        pod_kill.BUILDER,
        hpa_scale.BUILDER,
        vector_shards.BUILDER,
        node_drain.BUILDER,
        node_loss.BUILDER,
        store_peer_loss.BUILDER,
    )
}


def builders_for(rec: Recording) -> list[Builder]:
    """The declared kind's builder; for an undeclared kind, every builder whose fault was recorded
    (a declared kind decides which figures belong to the run: a pod-kill run also has load and HPA
    events, but its time-to-scale is not a figure of that experiment)."""
    if rec.kind in BUILDERS:
        return [BUILDERS[rec.kind]]
    return [b for b in BUILDERS.values() if b.detect(rec)]


def build(rec: Recording) -> tuple[Figures, list[Criterion]]:
    """The figures of the run and the declared criteria judged against them (once)."""
    figures: Figures = {"metrics": {}, "timelines": {}}
    chosen = builders_for(rec)
    if rec.load or (rec.kind in BUILDERS and BUILDERS[rec.kind].with_load):
        load_figures(rec.load, figures)
    for b in chosen:
        b.build(rec, figures)
    return figures, criteria.evaluate(rec.declared.get("criteria") or [], figures["metrics"])
