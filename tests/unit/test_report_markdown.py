"""Evidence Markdown: number format, aggregation maths, baseline deltas, what each run states plainly."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleproof.journal import load_journal
from scaleproof.report.markdown import (
    aggregate,
    collect_figures,
    format_number,
    make_runs,
    percentile,
    render_index,
    render_kind,
    summarise,
    summary_of_document,
)
from scaleproof.report.numbers import texts

pytestmark = pytest.mark.unit

FIX = Path(__file__).parents[1] / "fixtures" / "journals"
PASSES = ["pod-kill-pass-1.json", "pod-kill-pass-2.json", "pod-kill-pass-3.json"]
BASELINE = ["baseline/pod-kill-baseline-1.json", "baseline/pod-kill-baseline-2.json"]


def runs(*names: str):  # type: ignore[no-untyped-def]
    return make_runs([(n, load_journal(FIX / n)) for n in names])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "n/a"),
        (3, "3"),
        (0, "0"),
        (0.0, "0"),
        (4.55, "4.55"),
        (4.8367, "4.84"),
        (58.2, "58.2"),
        (1234.5, "1234"),
        (-1.8483, "-1.85"),
        (0.012345, "0.0123"),
        (10.0, "10"),
        (True, "true"),
    ],
)
def test_format_number(value: object, text: str) -> None:
    assert format_number(value) == text


def test_percentile_is_linear_interpolation_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert percentile([5], 95) == 5
    assert percentile([10, 0], 50) == 5
    assert percentile([], 95) is None


def test_aggregate_mean_and_p95_across_runs() -> None:
    # per-run mttr_p95_s computed by the evidence control from the recording: 3.036, 3.036, 3.041
    # (kills 1-3, 2-4 and 4-6 of tests/fixtures/events/pod-kill-events.jsonl, see build_journals.py)
    agg = aggregate(runs(*PASSES))
    a = agg["mttr_p95_s"]
    assert (a.n, a.runs, a.unit) == (3, 3, "s")
    assert a.mean == pytest.approx((3.036 + 3.036 + 3.041) / 3)
    assert a.p95 == pytest.approx(3.036 + 0.9 * (3.041 - 3.036))
    assert (a.min, a.max) == (3.036, 3.041)
    assert agg["failed_requests"].mean == 0


def test_aggregate_ignores_null_values_but_counts_runs() -> None:
    agg = aggregate(runs(*PASSES, "pod-kill-gate-failed.json", "pod-kill-no-evidence.json"))
    assert agg["mttr_p95_s"].n == 3 and agg["mttr_p95_s"].runs == 5
    assert agg["mttr_p95_s"].mean == pytest.approx((3.036 + 3.036 + 3.041) / 3)


def test_baseline_deltas() -> None:
    figs = texts(collect_figures(runs(*PASSES), runs(*BASELINE)))
    cur, base = (3.036 + 3.036 + 3.041) / 3, (3.054 + 3.052) / 2
    assert figs["pod-kill.baseline.mttr_p95_s.mean"] == format_number(base) == "3.05"
    assert figs["pod-kill.baseline.mttr_p95_s.delta"] == format_number(cur - base) == "-0.0153"
    assert (
        figs["pod-kill.baseline.mttr_p95_s.delta_pct"] == format_number(100 * (cur - base) / base) == "-0.502"
    )
    assert figs["pod-kill.baseline.failed_requests.delta_pct"] == "n/a"  # baseline mean 0: no percentage
    assert figs["pod-kill.aggregate.mttr_p95_s.mean"] == "3.04"
    assert figs["pod-kill.aggregate.mttr_p95_s.p95"] == format_number(3.036 + 0.9 * (3.041 - 3.036)) == "3.04"


def test_comparison_table_says_better_or_worse_from_the_criterion_direction() -> None:
    current, base = runs(*PASSES), runs(*BASELINE)
    md = render_kind("pod-kill", current, collect_figures(current, base), base, "baseline")
    row = next(
        line for line in md.splitlines() if line.startswith("| `mttr_p95_s` | s | <!-- fig:pod-kill.baseline")
    )
    assert row.endswith("| better |")
    assert "## Comparison with baseline" in md and "Baseline: 2 run(s) from `baseline`" in md


def test_run_sections_state_failures_plainly() -> None:
    rs = runs("pod-kill-gate-failed.json", "pod-kill-interrupted.json", "pod-kill-deviated.json")
    md = render_kind("pod-kill", rs, collect_figures(rs))
    assert "`chaos run` exited 0 for this run; the verdict is fail, not pass" in md
    assert "the run was **interrupted**" in md
    assert "| rollback | — |  | **not played** (interrupted) |  |  |" in md
    assert "the run **deviated**" in md
    assert (
        "- before: **NOT MET** — `target-is-the-configured-workload`=True (ok), "
        "`app-ready-path-answers`=True (ok), `declared-replicas-ready`=1 (OUT)" in md
    )
    assert (
        "| `mttr_p95_s <= 3.0` | <!-- fig:pod-kill.20261201T223344Z-pod-kill-dev.mttr_p95_s -->3.04 | s "
        "| <= 3 | **FAIL** |" in md
    )


def test_pass_run_has_criteria_metrics_timeline_specs_and_plots_links() -> None:
    rs = runs("pod-kill-pass-1.json")
    md = render_kind("pod-kill", rs, collect_figures(rs))
    label = "20261201T223344Z-pod-kill-p1"
    assert f"- Verdict: **<!-- fig:pod-kill.{label}.verdict -->pass**" in md
    assert "| criterion | value | unit | threshold | result |" in md
    assert "| metric | value | unit | method | resolution (s) | samples |" in md
    assert "| kill | victim | replacement | phase | start (UTC) | offset (s) | duration (s) |" in md
    assert "| 1 |  |  | **MTTR** (recovered) |  |  | **2.52** |" in md
    assert "- HPA `searchapp`: 1–5 replicas" in md
    assert "- image searchapp: `localhost/scaleproof/searchapp:0.1.0`" in md
    assert "## Aggregate across runs" not in md  # one run: no aggregate


def test_hpa_and_shards_sections() -> None:
    rs = runs("hpa-scale-pass.json", "vector-shards-pass.json")
    figs = collect_figures(rs)
    hpa = render_kind("hpa-scale", rs, figs)
    assert "### Timeline: scale phases" in hpa and "| 1 → 2 | 2025-11-28T11:57:10.000Z | +30 |" in hpa
    shards = render_kind("vector-shards", rs, figs)
    assert "| `1` | 7255665676822757 | 42 | 60 |" in shards


def test_index_lists_kinds_from_their_runs() -> None:
    rs = runs(*PASSES, "pod-kill-deviated.json", "hpa-scale-pass.json")
    index = render_index([summarise("pod-kill", rs), summarise("hpa-scale", rs)])
    assert "| [hpa-scale](hpa-scale.md) | 1 | 1 | 0 | 0 |" in index
    assert "| [pod-kill](pod-kill.md) | 4 | 3 | 1 | 0 |" in index
    assert index.index("hpa-scale") < index.index("[pod-kill]")


def test_a_document_written_earlier_is_indexed_from_its_summary_line() -> None:
    rs = runs(*PASSES, "pod-kill-deviated.json")
    md = render_kind("pod-kill", rs, collect_figures(rs))
    assert summary_of_document(md) == summarise("pod-kill", rs)
    assert summary_of_document("# hand-written notes\n") is None


def test_the_report_reads_the_recorded_verdict_and_judges_only_journals_without_one() -> None:
    import copy

    from scaleproof.journal import find_evidence

    (recorded,) = runs(PASSES[0])
    assert not recorded.judged_here
    assert recorded.verdict.reasons == tuple(find_evidence(recorded.journal)["verdict_reasons"])  # type: ignore[index]
    j = copy.deepcopy(load_journal(FIX / PASSES[0]))
    block = find_evidence(j)
    assert block is not None
    block["verdict_reasons"] = ["as the control recorded it"]
    (edited,) = make_runs([("edited.json", j)])
    assert edited.verdict.reasons == ("as the control recorded it",), "read, not judged again"
    del block["verdict"]
    (old,) = make_runs([("old.json", j)])
    # judged with `scaleproof verdict`'s rules, which hold a block without a verdict inconclusive
    assert old.judged_here and old.verdict.outcome == "inconclusive"
    assert "evidence block has no valid verdict (None)" in old.verdict.reasons
    assert "judged by this report" in render_kind("pod-kill", [old], collect_figures([old]))


def test_duplicate_run_ids_get_distinct_labels() -> None:
    rs = make_runs([("a.json", load_journal(FIX / PASSES[0])), ("b.json", load_journal(FIX / PASSES[0]))])
    assert sorted(r.label for r in rs) == ["20261201T223344Z-pod-kill-p1", "20261201T223344Z-pod-kill-p1-2"]
