"""Figures quoted in Markdown with `<!-- fig:KEY -->VALUE` markers are checked against the journals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scaleproof.report.cli import generate
from scaleproof.report.consistency import check, check_files, figures_in_markdown, recompute

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
FIX = ROOT / "tests" / "fixtures" / "journals"
PASSES = [FIX / f"pod-kill-pass-{i}.json" for i in (1, 2, 3)]


def test_figures_in_markdown_parses_markers() -> None:
    md = (
        "MTTR p95 <!-- fig:pod-kill.aggregate.mttr_p95_s.p95 -->5.09 s over\n"
        "| x | <!-- fig:pod-kill.runs -->3 | **<!-- fig:pod-kill.r1.verdict -->pass** |\n"
        "none: <!-- fig:pod-kill.r1.mttr_p95_s -->n/a, neg <!--fig:k.baseline.m.delta-->-1.85."
    )
    assert figures_in_markdown(md) == {
        "pod-kill.aggregate.mttr_p95_s.p95": [(1, "5.09")],
        "pod-kill.runs": [(2, "3")],
        "pod-kill.r1.verdict": [(2, "pass")],
        "pod-kill.r1.mttr_p95_s": [(3, "n/a")],
        "k.baseline.m.delta": [(3, "-1.85")],
    }


def test_an_adr_quoting_right_figures_passes_and_a_wrong_one_is_caught() -> None:
    expected = recompute(PASSES)
    good = (
        "MTTR p95 is <!-- fig:pod-kill.aggregate.mttr_p95_s.p95 -->3.04 s, <!-- fig:pod-kill.runs -->3 runs."
    )
    assert check(good, expected, "0001.md") == []
    bad = good.replace("3.04", "4.2") + "\nAnd <!-- fig:pod-kill.aggregate.no_such_metric.mean -->1"
    mismatches = check(bad, expected, "0001.md")
    assert [(m.line, m.key, m.written, m.expected) for m in mismatches] == [
        (1, "pod-kill.aggregate.mttr_p95_s.p95", "4.2", "3.04"),
        (2, "pod-kill.aggregate.no_such_metric.mean", "1", None),
    ]
    assert (
        str(mismatches[0]) == "0001.md:1: fig:pod-kill.aggregate.mttr_p95_s.p95 = '4.2', journals give '3.04'"
    )


def test_generated_evidence_is_consistent_and_tampering_is_detected(tmp_path: Path) -> None:
    journals = [*PASSES, FIX / "pod-kill-deviated.json", FIX / "hpa-scale-pass.json"]
    generate(journals, tmp_path, FIX / "baseline")
    mds = sorted(tmp_path.glob("*.md"))
    assert len(figures_in_markdown((tmp_path / "pod-kill.md").read_text())) > 50
    assert check_files(mds, journals, FIX / "baseline") == []
    pod = tmp_path / "pod-kill.md"
    key = "pod-kill.aggregate.mttr_p95_s.p95"
    ((line, value),) = figures_in_markdown(pod.read_text())[key]
    pod.write_text(pod.read_text().replace(f"fig:{key} -->{value}", f"fig:{key} -->{value}1"))
    bad = check_files([pod], journals, FIX / "baseline")
    assert [(m.line, m.key, m.written, m.expected) for m in bad] == [(line, key, f"{value}1", value)]


def test_module_command_exit_codes(tmp_path: Path) -> None:
    adr = tmp_path / "0001-heal.md"
    adr.write_text("p95 <!-- fig:pod-kill.aggregate.mttr_p95_s.p95 -->3.04 s\n")
    cmd = [
        sys.executable,
        "-m",
        "scaleproof.report.consistency",
        str(adr),
        "-j",
        str(FIX / "pod-kill-pass-1.json"),
        "-j",
        str(FIX / "pod-kill-pass-2.json"),
        "-j",
        str(FIX / "pod-kill-pass-3.json"),
    ]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 of 1 figures match" in ok.stderr
    adr.write_text("p95 <!-- fig:pod-kill.aggregate.mttr_p95_s.p95 -->4 s\n")
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "journals give '3.04'" in bad.stdout


def test_committed_adrs_match_committed_journals() -> None:
    """The ADR rule (docs/adr/README.md): figures in docs/adr/*.md and in the decisions' history
    (docs/adr/evidence/history/*.md) recompute from journals/evidence/."""
    adr_dir = ROOT / "docs" / "adr"
    adrs = [p for p in sorted(adr_dir.glob("*.md")) if p.name != "README.md"]
    adrs += sorted((adr_dir / "evidence" / "history").glob("*.md"))
    quoting = [p for p in adrs if figures_in_markdown(p.read_text(encoding="utf-8"))]
    if not quoting:
        pytest.skip("no ADR quotes a figure yet")
    baseline, floor = ROOT / "journals" / "baseline", ROOT / "journals" / "floor"
    mismatches = check_files(
        quoting,
        [ROOT / "journals" / "evidence"],
        baseline if baseline.is_dir() else None,
        floor if floor.is_dir() else None,
    )
    assert mismatches == [], "\n".join(map(str, mismatches))


def _runs_with_prometheus_pod_count() -> list[Path]:
    out = []
    for p in sorted((ROOT / "journals" / "evidence").glob("*.json")) + sorted(
        (ROOT / "journals" / "history").glob("*.json")
    ):
        doc = json.loads(p.read_text())
        ev = next((e for e in doc.get("extensions") or [] if e.get("name") == "scaleproof"), {})
        if ((ev.get("prometheus") or {}).get("queries") or {}).get("pods_running", {}).get("series"):
            out.append(p)
    return out


def test_prometheus_cross_check_figures_match_the_journal_and_tampering_is_caught(tmp_path: Path) -> None:
    """The cross-check table (max pods and time to the target per view, lag, scrape interval) of a
    committed real run recomputes from its journal; a changed cell is reported."""
    runs = [p for p in _runs_with_prometheus_pod_count() if p.name.startswith("hpa-scale-")][:1]
    assert runs, "no committed hpa-scale journal with Prometheus' pod count (issue 9's evidence)"
    generate(runs, tmp_path)
    md = tmp_path / "hpa-scale.md"
    marks = figures_in_markdown(md.read_text())
    keys = [k for k in marks if ".prometheus." in k]
    views = {k.rsplit(".", 1)[1] for k in keys}
    assert {"watch", "cadvisor", "up", "scrape_interval", "query_step"} <= views
    assert all(marks[k][0][1] != "n/a" for k in keys if k.endswith(("max_pods.cadvisor", "max_pods.watch")))
    assert check_files([md], runs) == []
    key = next(k for k in keys if k.endswith("max_pods.cadvisor"))
    ((line, value),) = marks[key]
    md.write_text(md.read_text().replace(f"fig:{key} -->{value}", f"fig:{key} -->{int(value) + 1}"))
    bad = check_files([md], runs)
    assert [(m.line, m.key, m.expected) for m in bad] == [(line, key, value)]
