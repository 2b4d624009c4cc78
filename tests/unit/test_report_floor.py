"""The pod-kill evidence beside the cluster's floor: figures recomputed from the committed real runs
(journals/evidence: the reference app; journals/floor: `scaleproof bench floor`), checked by the
consistency tool, and tampering caught."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scaleproof import bench, floor
from scaleproof.report.cli import generate
from scaleproof.report.consistency import check, check_files, recompute
from scaleproof.report.markdown import format_number

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
APP = sorted((ROOT / "journals" / "evidence").glob("pod-kill-*.json"))
FLOOR = ROOT / "journals" / "floor"


def test_the_committed_floor_is_a_real_agnhost_run():
    (ev,) = bench.collect([FLOOR], "pod-kill")[:1] or [None]
    assert ev is not None, "journals/floor holds no pod-kill journal: run `scaleproof bench floor`"
    cfg = ev["configuration"]
    assert (cfg["namespace"], cfg["deployment"], cfg["selector"]) == (
        "scaleproof-floor",
        "floor",
        "app=floor",
    )
    assert ev["metrics"]["kills"]["value"] >= 10 and ev["metrics"]["kills_unrecovered"]["value"] == 0
    assert "searchapp" not in str(ev["specs"])


def test_floor_figures_equal_the_pure_comparison():
    figures = recompute(APP, floor=FLOOR)
    newest_app, newest_floor = bench.collect(APP, "pod-kill")[-1], bench.collect([FLOOR], "pod-kill")[-1]
    c = floor.compare(newest_app["timelines"]["kills"], newest_floor["timelines"]["kills"])
    assert figures["pod-kill.floor.kills"] == format_number(len(newest_floor["timelines"]["kills"]))
    assert figures["pod-kill.floor.app_attributable_s"] == format_number(c["app_attributable_s"])
    assert figures["pod-kill.floor.mttr_p95_s"] == format_number(c["floor"]["p95"])
    assert figures["pod-kill.floor.app_mttr_mean_s"] == format_number(c["app"]["mean"])
    for p in c["phases"]:
        assert figures[f"pod-kill.floor.phase.{p['name']}.excess"] == format_number(p["excess_s"])
    # app − floor per phase is the difference of the two medians shown beside it
    for p in c["phases"]:
        if p["excess_s"] is not None:
            assert p["excess_s"] == pytest.approx(p["app_median_s"] - p["floor_median_s"], abs=1e-3)
    assert c["app_attributable_s"] == pytest.approx(c["app"]["mean"] - c["floor"]["mean"], abs=1e-3)
    assert figures["pod-kill.floor.dominant_phase"] == c["dominant_phase"]


def test_the_evidence_shows_app_vs_floor_and_stays_consistent(tmp_path):
    generate(APP, tmp_path, floor=FLOOR)
    md = (tmp_path / "pod-kill.md").read_text()
    section = md.split("## Against the cluster's floor", 1)[1].split("\n## ", 1)[0]
    for name in floor.MTTR_PHASES:
        assert re.search(rf"^\| {name} \| <!-- fig:pod-kill\.floor\.phase\.{name}\.app -->", section, re.M)
    assert "App-attributable time (app MTTR mean − floor MTTR mean)" in section
    dominant = recompute(APP, floor=FLOOR)["pod-kill.floor.dominant_phase"]
    assert floor.ADVICE[dominant] in section
    newest_app = bench.collect(APP, "pod-kill")[-1]["run_id"]
    assert f"kills of the newest app run `{newest_app}`" in section
    assert check_files([tmp_path / "pod-kill.md"], APP, floor=FLOOR) == []
    # the same document checked without the floor's journals: its floor figures are not figures
    assert {m.key for m in check_files([tmp_path / "pod-kill.md"], APP)} >= {
        "pod-kill.floor.app_attributable_s"
    }
    key = "pod-kill.floor.app_attributable_s"
    tampered = re.sub(rf"(<!-- fig:{re.escape(key)} -->)[-\d.]+", r"\g<1>0.01", md)
    bad = check(tampered, recompute(APP, floor=FLOOR), "pod-kill.md")
    assert [m.key for m in bad] == [key]


def test_without_a_floor_the_section_is_absent(tmp_path):
    generate(APP, tmp_path)
    assert "Against the cluster's floor" not in (tmp_path / "pod-kill.md").read_text()


def test_bench_prints_the_floor_beside_the_app(capsys):
    assert bench.main(["pod-kill", *map(str, APP), "--floor", str(FLOOR)]) == 0
    out = capsys.readouterr().out
    assert "app vs the cluster's floor" in out and "app-attributable time" in out and "advice:" in out
    assert "warm `scaleproof run` time of pod-kill" in out


def test_floor_configuration_is_only_scaleproof_variables():
    assert all(k.startswith("SCALEPROOF_") for k in bench.FLOOR_ENV)
    assert not any("searchapp" in v for v in bench.FLOOR_ENV.values())
