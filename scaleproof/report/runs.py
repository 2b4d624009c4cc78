"""The journals as the report reads them: one RunDoc per journal, with the verdict its evidence block
recorded (read, not judged again)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaleproof.contract import Evidence
from scaleproof.journal import Journal, experiment_kind, find_evidence, run_label
from scaleproof.verdict import Verdict, recorded_verdict, verdict

__all__ = ["RunDoc", "kills_of", "make_runs", "newest_pod_kill"]


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
    # True when the journal records no verdict (no evidence block, or one without a valid verdict):
    # the report judged it with `scaleproof.verdict.verdict`, the rules `scaleproof verdict` applies
    judged_here: bool = False


def _verdict(journal: Journal) -> tuple[Verdict, bool]:
    """The verdict recorded in the evidence block (read, not judged again); else judged now."""
    recorded = recorded_verdict(journal)
    return (recorded, False) if recorded is not None else (verdict(journal), True)


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
        v, judged_here = _verdict(journal)
        runs.append(RunDoc(source, label, kind, journal, find_evidence(journal), v, judged_here=judged_here))
    return sorted(runs, key=lambda r: (r.kind, str(r.journal.get("start")), r.label, r.source))


def kills_of(runs: Sequence[RunDoc]) -> list[Mapping[str, Any]]:
    return [k for r in runs for k in (((r.evidence or {}).get("timelines") or {}).get("kills") or [])]


def newest_pod_kill(runs: Sequence[RunDoc]) -> list[RunDoc]:
    """The newest pod-kill run, as a list (empty without one); `runs` are sorted by start."""
    return [r for r in runs if r.kind == "pod-kill"][-1:]
