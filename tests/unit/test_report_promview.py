"""The report's Prometheus view: cross-check figures, the plot and the screenshot, from real journals."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest

from scaleproof.report import promview
from scaleproof.report.cli import generate

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
# recorded by a real hpa-scale run with Debian's Prometheus 2.42 (DNS discovery, `replicas` query)
LEGACY = ROOT / "journals" / "evidence" / "hpa-scale-20261128T133206Z.json"
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _evidence(path: Path) -> dict:
    j = json.loads(path.read_text())
    return next(e for e in j["extensions"] if e.get("name") == "scaleproof")


def _with_cadvisor(ev: dict, counts: list[int]) -> dict:
    """The same run with a cAdvisor pod count sampled every 5 s from load start."""
    ev = copy.deepcopy(ev)
    t0 = float(ev["timelines"]["scale"]["phases"][0]["start"])
    values = [[t0 - 10 + 5 * i, str(c)] for i, c in enumerate(counts)]
    ev["prometheus"]["queries"]["pods_running"] = {
        "query": "count(...)",
        "step_s": 5,
        "series": [{"labels": {}, "values": values}],
    }
    ev["prometheus"]["scrape_interval_s"] = 5
    return ev


def test_legacy_journal_cross_check_shows_what_dns_discovery_missed() -> None:
    cc = promview.crosscheck(_evidence(LEGACY))
    assert cc is not None
    assert cc["max_pods"]["watch"] == 3
    assert cc["max_pods"]["up"] == 1, "DNS discovery never saw the new pods before the run ended"
    assert cc["t_target_s"]["up"] is None and cc["lag_t_target_s"]["up"] is None
    assert cc["max_pods"]["cadvisor"] is None


def test_cross_check_times_and_lag_against_the_watch() -> None:
    ev = _with_cadvisor(_evidence(LEGACY), [1, 1, 1, 1, 1, 1, 2, 3, 3, 3])
    cc = promview.crosscheck(ev)
    assert cc is not None
    watch = cc["t_target_s"]["watch"]
    assert watch is not None and 20 < watch < 35
    # samples at t0-10, t0-5, ... ; the first 3 is sample index 7 → t0 + 25 s
    assert cc["t_target_s"]["cadvisor"] == 25.0
    assert cc["lag_t_target_s"]["cadvisor"] == round(25.0 - watch, 1)
    assert cc["max_pods"]["cadvisor"] == 3
    assert cc["resolution_s"] == {"scrape_interval": 5, "query_step": 5}


def test_hpa_cpu_target_per_pod_from_the_recorded_specs() -> None:
    # searchapp: averageUtilization 50 % of a 200m request
    assert promview.cpu_target_cores(_evidence(LEGACY)) == pytest.approx(0.1)
    assert promview.cpu_target_cores({"specs": {}}) is None


def test_query_lines_name_each_query_and_each_failure() -> None:
    ev = _evidence(LEGACY)
    ev["prometheus"]["queries"]["broken"] = {
        "query": "x{",
        "unavailable": "query `broken` failed: parse error",
    }
    ev["prometheus"]["screenshot"] = {"unavailable": "no chromium on PATH"}
    lines = promview.query_lines(ev)
    assert any(
        line.startswith('- `replicas` = `count(up{job="searchapp"} == 1)`: 1 series') for line in lines
    )
    assert "- `broken` = `x{`: **unavailable** — query `broken` failed: parse error" in lines
    assert lines[-1] == "- screenshot of Prometheus' graph page: **not taken** — no chromium on PATH"


def test_report_writes_plot_screenshot_and_consistent_cross_check(tmp_path: Path) -> None:
    from scaleproof.report.consistency import check_files, figures_in_markdown

    j = json.loads(LEGACY.read_text())
    ev = next(e for e in j["extensions"] if e.get("name") == "scaleproof")
    ev.update(_with_cadvisor(ev, [1, 1, 1, 1, 1, 1, 2, 3, 3, 3]))
    ev["prometheus"]["screenshot"] = {
        "url": "http://x/query",
        "png_base64": base64.b64encode(PNG_1PX).decode(),
    }
    src = tmp_path / "j" / "hpa-scale.json"
    src.parent.mkdir()
    src.write_text(json.dumps(j))
    out = tmp_path / "out"
    generate([src], out)
    label = ev["run_id"]
    assert (out / f"hpa-scale-{label}-prometheus.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / f"hpa-scale-{label}-prometheus-ui.png").read_bytes() == PNG_1PX
    md = (out / "hpa-scale.md").read_text()
    assert f"](hpa-scale-{label}-prometheus-ui.png)" in md
    marks = figures_in_markdown(md)
    key = f"hpa-scale.{label}.prometheus.t_target_s.cadvisor"
    assert marks[key][0][1] == "25"
    assert check_files([out / "hpa-scale.md"], [src]) == []
