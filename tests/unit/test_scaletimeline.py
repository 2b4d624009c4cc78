"""scaleproof.scaletimeline: time-to-scale from synthetic event logs."""

from __future__ import annotations

import pytest

from scaleproof import scaletimeline
from tests.unit.eventlog import T0, ev, hpa_ev, pod_obj, scale_log

pytestmark = pytest.mark.unit


def test_time_to_scale_phases():
    log, load = scale_log()
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    assert [p["name"] for p in st["phases"]] == list(scaletimeline.SCALE_PHASES)
    ends = {p["name"]: p["end"] for p in st["phases"]}
    assert ends["load_reached"] == T0 + 1  # users reach 10 in the second bucket
    assert ends["metric_above_target"] == T0 + 20
    assert ends["hpa_decision"] == T0 + 35
    assert ends["deployment_scaled"] == pytest.approx(T0 + 35.2)
    assert ends["target_ready"] == T0 + 42
    assert st["time_to_scale_s"] == pytest.approx(41.0)
    assert st["max_ready_replicas"] == 3 and st["baseline_replicas"] == 1
    assert st["decisions"] == [{"t": T0 + 35, "from": 1, "to": 3}] and st["flaps"] == 0


def test_time_to_scale_uses_successful_rescale_event_when_earlier():
    log, load = scale_log()
    log.append(
        ev(
            T0 + 30,
            "Event",
            "ADDED",
            {
                "reason": "SuccessfulRescale",
                "message": "New size: 3; reason: cpu resource utilization above target",
            },
        )
    )
    st = scaletimeline.time_to_scale(log, load)
    assert {p["name"]: p["end"] for p in st["phases"]}["hpa_decision"] == T0 + 30


def test_time_to_scale_ignores_a_stale_desired_count_from_before_a_reset():
    # seen on the real cluster: right after scaling down to the minimum, the HPA status still says
    # desired 3 while current is 1; the decision is the later change back to 3, not "nothing to do"
    log, load = scale_log()
    stale = hpa_ev(T0 - 4, 3, 10)
    stale["object"]["status"]["currentReplicas"] = 1
    log.insert(3, stale)
    log.insert(5, hpa_ev(T0 + 7, 1, 10))
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    assert {p["name"]: p["end"] for p in st["phases"]}["hpa_decision"] == T0 + 35
    assert st["time_to_scale_s"] == pytest.approx(41.0)


def test_time_to_scale_already_at_target_is_not_a_figure():
    log, load = scale_log()
    log = [ev(T0 - 9, "Pod", "SYNC", pod_obj(u)) for u in ("x", "y", "z")] + log
    st = scaletimeline.time_to_scale(log, load)
    assert st["time_to_scale_s"] is None and "already" in st["reason"]


def test_time_to_scale_hpa_flapping_counted():
    log, load = scale_log()
    log += [hpa_ev(T0 + 50, 2), hpa_ev(T0 + 65, 4)]
    st = scaletimeline.time_to_scale(log, load)
    assert [d["to"] for d in st["decisions"]] == [3, 2, 4]
    assert st["flaps"] == 2 and st["flapping"] is True
    assert st["time_to_scale_s"] == pytest.approx(41.0)  # first time the target was reached


def test_time_to_scale_missing_phase_gives_reason():
    log, load = scale_log()
    log = [e for e in log if e["kind"] != "HorizontalPodAutoscaler"]
    st = scaletimeline.time_to_scale(log, load)
    assert st["time_to_scale_s"] is None and "metric_above_target" in st["reason"]
    assert scaletimeline.time_to_scale([], None)["reason"].startswith("no load start")


@pytest.mark.parametrize(
    ("quantity", "cores"), [("1500u", 0.0015), ("250m", 0.25), ("1Ki", 1024.0), ("100n", 1e-7)]
)
def test_cpu_average_value_target_in_any_suffix(quantity, cores):
    hpa = {
        "spec": {
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"averageValue": quantity}}}
            ]
        }
    }
    events = [{"t": T0, "kind": "HorizontalPodAutoscaler", "type": "ADDED", "object": hpa}]
    assert scaletimeline._cpu_target(events) == {"average_cores": pytest.approx(cores)}
