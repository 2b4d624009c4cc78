"""scaleproof.floor: the app's recovery beside the cluster's floor, per phase, with the dominant phase."""

from __future__ import annotations

from typing import Any

import pytest

from scaleproof import floor

pytestmark = pytest.mark.unit


def kill(durations: dict[str, float], recovered: bool = True) -> dict[str, Any]:
    """A kill timeline as timing.kill_timelines writes it: consecutive phases from t=100."""
    t, phases = 100.0, []
    for name, d in durations.items():
        phases.append({"name": name, "start": t, "end": t + d, "duration_s": d, "resolution_s": 0.001})
        t += d
    mttr = sum(d for n, d in durations.items() if n != "user_recovered")
    return {
        "recovered": recovered,
        "mttr_s": mttr if recovered else None,
        "phases": phases,
        "mttr_definition": "x",
    }


FLOOR = [
    kill(
        {
            "replacement_created": 0.03,
            "scheduled": 0.02,
            "containers_started": 0.8,
            "ready": 0.3,
            "endpoints_ready": 0.02,
        }
    )
    for _ in range(3)
]


def app(ready: float) -> dict[str, Any]:
    return kill(
        {
            "replacement_created": 0.04,
            "scheduled": 0.02,
            "containers_started": 0.9,
            "ready": ready,
            "endpoints_ready": 0.03,
        }
    )


def test_phase_medians_ignore_unrecovered_kills():
    kills = [app(3.0), app(3.2), app(9.0), kill({"replacement_created": 50.0}, recovered=False)]
    med = floor.phase_medians(kills)
    assert med["ready"] == 3.2 and med["replacement_created"] == 0.04
    assert list(med) == list(floor.MTTR_PHASES) and "user_recovered" not in med


def test_ready_dominates_the_app_attributable_time():
    c = floor.compare([app(3.0), app(3.2), app(2.8)], FLOOR)
    assert c["floor"]["mean"] == pytest.approx(1.17) and c["app"]["mean"] == pytest.approx(3.99)
    assert c["app_attributable_s"] == pytest.approx(3.99 - 1.17, abs=1e-3)
    assert c["dominant_phase"] == "ready" and c["dominant_excess_s"] == pytest.approx(2.7)
    assert c["advice"].startswith("Ready dominates") and "periodSeconds" in c["advice"]
    rows = {p["name"]: p for p in c["phases"]}
    assert rows["containers_started"]["excess_s"] == pytest.approx(0.1)
    # ready carries 2.7 of 2.7 + 0.1 (containers) + 0.01 (created) + 0.01 (endpoints) of excess
    assert c["dominant_share"] == pytest.approx(2.7 / 2.82, abs=1e-3)


def test_containers_started_dominates_gives_the_image_advice():
    slow_start = kill(
        {
            "replacement_created": 0.03,
            "scheduled": 0.02,
            "containers_started": 4.0,
            "ready": 0.3,
            "endpoints_ready": 0.02,
        }
    )
    c = floor.compare([slow_start], FLOOR)
    assert c["dominant_phase"] == "containers_started" and "image size" in c["advice"]


def test_an_app_at_the_floor_has_no_dominant_phase():
    c = floor.compare(FLOOR, FLOOR)
    assert c["app_attributable_s"] == 0.0 and c["dominant_phase"] is None and c["advice"] is None


def test_an_unrecovered_kill_gives_no_attributable_time_but_a_reason():
    c = floor.compare([app(3.0), kill({"replacement_created": 1.0}, recovered=False)], FLOOR)
    assert c["app_attributable_s"] is None and c["reason"].startswith("app: 1 of 2 kills did not recover")
    assert c["dominant_phase"] == "ready"  # the per-phase medians still show where the time goes


def test_every_mttr_phase_has_advice():
    assert set(floor.ADVICE) == set(floor.MTTR_PHASES)
