"""A run's document sections print the evidence block as it is (scaleproof/report/sections.py)."""

from __future__ import annotations

import pytest

from scaleproof.report.sections import cost_section

pytestmark = pytest.mark.unit


def testcost_section_says_what_measuring_took() -> None:
    lines = cost_section(
        {
            "cores": 2,
            "chaos_process": {"cpu_s": 30.0, "wall_s": 100.0, "machine_share": 0.15, "rss_peak_mib": 150.2},
            "load_generator": {"cpu_s": 50.0, "wall_s": 50.0, "machine_share": 0.5, "rss_peak_mib": 80.0},
            "events_bytes": 4000,
            "events_lines": 40,
            "kills": 4,
            "events_bytes_per_kill": 1000,
        }
    )
    text = "\n".join(lines)
    assert "share of 2 cores" in text and "15.0 %" in text and "50.0 %" in text
    assert "1000 bytes per kill over 4 kills" in text
    assert cost_section({}) == [], "journals from before the cost block show nothing"
