"""time_to_scale with metrics-server's own samples: the metric phase ends at the PodMetrics sample
time, the decision phase is the HPA's reaction to it; the cadence beside it and the best case."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from probes import watch
from scaleproof import cadence, kobjects, phases, rundir, scaletimeline
from tests.unit.eventlog import T0, ev, hpa_ev, iso, scale_log
from tests.unit.kubefake import install

pytestmark = pytest.mark.unit


def requested_pod(t: float, name: str = "searchapp-a", cpu: str = "100m") -> dict[str, Any]:
    return ev(
        t,
        "Pod",
        "SYNC",
        {
            "metadata": {"name": name, "uid": name},
            "x-scaleproof": {"cpuRequests": [{"name": "app", "cpu": cpu}]},
        },
    )


def sample(t: float, stamp: float, cpu: str, name: str = "searchapp-a") -> dict[str, Any]:
    return {
        "t": t,
        "source": "poll",
        "kind": "PodMetrics",
        "type": "SAMPLE",
        "items": [
            {
                "name": name,
                "timestamp": iso(stamp),
                "window": "10.149687104s",
                "containers": [{"name": "app", "cpu": cpu}],
            }
        ],
    }


def metrics_log() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    log, load = scale_log()
    log = [hpa_ev(T0 + 20, 1, 40) if e["t"] == T0 + 20 else e for e in log]  # the HPA saw 40 %: below
    log += [
        requested_pod(T0 - 5),
        sample(T0 + 1, T0 - 3, "10m"),  # taken before the load: not a candidate
        sample(T0 + 10, T0 + 8, "40000000n"),  # 40 % of 100m: below the 50 % target
        sample(T0 + 24, T0 + 23, "90m"),  # 90 %: the first sample above target
    ]
    return log, load


def test_metric_phase_ends_at_the_sample_time_and_the_decision_is_the_hpa_reaction():
    log, load = metrics_log()
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    ends = {p["name"]: p["end"] for p in st["phases"]}
    durations = {p["name"]: p["duration_s"] for p in st["phases"]}
    # metrics-server's sample (taken at T0+23, received at T0+24) ends the metric phase
    assert ends["metric_above_target"] == T0 + 23
    assert ends["hpa_decision"] == T0 + 35 and durations["hpa_decision"] == 12.0
    assert durations["deployment_scaled"] == pytest.approx(0.2)
    assert st["time_to_scale_s"] == pytest.approx(41.0)
    assert st["metric_source"] == "metrics.k8s.io PodMetrics sample timestamp"
    first = st["first_sample_above_target"]
    assert first["utilization_pct"] == 90.0 and first["target"] == {"utilization_pct": 50.0}
    assert first["window_s"] == pytest.approx(10.15, abs=1e-3)
    resolution = {p["name"]: p["resolution_s"] for p in st["phases"]}
    assert resolution["metric_above_target"] == phases.SERVER_RESOLUTION_S


def test_without_samples_the_hpa_status_still_ends_the_metric_phase():
    log, load = scale_log()
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    assert {p["name"]: p["end"] for p in st["phases"]}["metric_above_target"] == T0 + 20
    assert st["metric_source"].startswith("HPA status")


def test_an_hpa_status_above_target_before_any_sample_keeps_the_status_time():
    log, load = scale_log()  # HPA status at T0+20 shows 180 %
    log += [requested_pod(T0 - 5), sample(T0 + 24, T0 + 23, "90m")]
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    assert {p["name"]: p["end"] for p in st["phases"]}["metric_above_target"] == T0 + 20
    assert st["metric_source"].startswith("HPA status")
    assert any("before the first recorded sample" in n for n in st["notes"])


def test_an_hpa_that_acted_before_any_cpu_sample_above_target_is_noted():
    log, load = scale_log()
    # the HPA scales on another metric: its CPU status never shows above target
    log = [
        hpa_ev(e["t"], 1 if e["t"] < T0 + 30 else 3) if e["kind"] == "HorizontalPodAutoscaler" else e
        for e in log
    ]
    log += [requested_pod(T0 - 5), sample(T0 + 40, T0 + 39, "90m")]
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    assert any("before any CPU sample above target" in n for n in st["notes"])
    phase = {p["name"]: p for p in st["phases"]}["hpa_decision"]
    assert phase["clamped"] is True and phase["duration_s"] == 0.0


def test_average_value_target_compares_cores_per_pod():
    log, load = scale_log()
    for e in log:
        if e.get("kind") == "HorizontalPodAutoscaler":
            m = e["object"]["spec"]["metrics"][0]["resource"]
            m["target"] = {"type": "AverageValue", "averageValue": "50m"}
    log += [sample(T0 + 12, T0 + 11, "40m"), sample(T0 + 27, T0 + 26, "60m")]  # no request needed
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    assert st["first_sample_above_target"]["timestamp"] == T0 + 26
    assert st["first_sample_above_target"]["utilization_pct"] is None


def test_cadence_best_case_and_bound():
    log, load = metrics_log()
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    c = scaletimeline.scale_cadence(log, st, hpa_sync_period_s=15.0, metrics_resolution_s=15.0)
    # sample times of the pod: T0-3, T0+8, T0+23 → gaps 11 s and 15 s → median 13 s
    assert c["metrics_resolution_measured_s"] == 13.0 and c["metrics_window_s"] == pytest.approx(
        10.15, abs=1e-3
    )
    assert c["scale_up_stabilization_s"] == 0.0 and "default 0 s" in c["sources"]["scale_up_stabilization_s"]
    assert c["pipeline_wait_s"] == pytest.approx(22.0 + 12.0)
    assert c["best_case_s"] == pytest.approx(0.2 + 6.8)
    assert c["cadence_bound_s"] == pytest.approx(7.0 + 13.0 + 15.0)
    # the phases after load_reached add up to time-to-scale: wait + best case (no stabilisation here)
    assert c["pipeline_wait_s"] + c["best_case_s"] == pytest.approx(st["time_to_scale_s"])


def test_cadence_reads_a_scale_up_stabilisation_window_from_the_hpa_spec():
    log, load = metrics_log()
    for e in log:
        if e.get("kind") == "HorizontalPodAutoscaler":
            e["object"]["spec"]["behavior"] = {"scaleUp": {"stabilizationWindowSeconds": 30}}
    st = scaletimeline.time_to_scale(log, load, target_replicas=3)
    c = scaletimeline.scale_cadence(log, st, 15.0, 60.0)
    assert c["scale_up_stabilization_s"] == 30.0 and c["best_case_s"] == pytest.approx(37.0)
    assert "scale_up_stabilization_s" not in c["sources"]


def test_cadence_without_a_time_to_scale_has_no_best_case():
    log, load = metrics_log()
    st = scaletimeline.time_to_scale(log, load, target_replicas=9)
    c = scaletimeline.scale_cadence(log, st, 15.0, 15.0)
    assert st["time_to_scale_s"] is None and c["best_case_s"] is None and c["cadence_bound_s"] is None


def test_go_durations():
    assert kobjects.go_duration("10.149687104s") == pytest.approx(10.149687104)
    assert kobjects.go_duration("1m0.5s") == pytest.approx(60.5)
    assert kobjects.go_duration("500ms") == pytest.approx(0.5)
    assert kobjects.go_duration("") is None and kobjects.go_duration("soon") is None


# --------------------------------------------------------------------------------------------- cadence
def fake_proc(root: Path, procs: dict[int, list[str]]) -> Path:
    for pid, argv in procs.items():
        (root / str(pid)).mkdir(parents=True)
        (root / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    return root


def test_cadence_from_the_component_command_lines(tmp_path):
    proc = fake_proc(
        tmp_path,
        {
            10: [
                "/var/cache/scaleproof/bin/metrics-server",
                "--secure-port",
                "4443",
                "--metric-resolution",
                "15s",
            ],
            11: ["/var/cache/scaleproof/bin/kube-controller-manager", "--v", "1"],
        },
    )
    c = cadence.cadence({}, proc=proc)
    assert (
        c["metrics_resolution_s"] == 15.0
        and "--metric-resolution=15s" in c["sources"]["metrics_resolution_s"]
    )
    assert c["hpa_sync_period_s"] == 15.0
    assert "runs without --horizontal-pod-autoscaler-sync-period" in c["sources"]["hpa_sync_period_s"]


def test_cadence_flag_with_equals_configuration_wins_and_invisible_components(tmp_path):
    proc = fake_proc(
        tmp_path, {7: ["kube-controller-manager", "--horizontal-pod-autoscaler-sync-period=1m30s"]}
    )
    c = cadence.cadence({"metrics_resolution_s": "30"}, proc=proc)
    assert c["hpa_sync_period_s"] == 90.0
    assert c["metrics_resolution_s"] == 30.0 and c["sources"]["metrics_resolution_s"] == "configuration"
    c = cadence.cadence({}, proc=tmp_path / "none")
    assert (
        c["metrics_resolution_s"] == 60.0 and "not visible from here" in c["sources"]["metrics_resolution_s"]
    )


# ----------------------------------------------------------------------------------------- the poller
class _Custom:
    """metrics.k8s.io as the fake API server serves it: scripted bodies, one per call."""

    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        self.bodies, self.calls = bodies, []
        self.done = threading.Event()

    def list_namespaced_custom_object(self, group, version, namespace, plural, **kw):
        self.calls.append((group, version, namespace, plural, kw.get("label_selector")))
        if len(self.bodies) <= 1:
            self.done.set()
        return self.bodies.pop(0) if len(self.bodies) > 1 else self.bodies[0]


def pod_metrics(stamp: float, cpu: str) -> dict[str, Any]:
    return {
        "items": [
            {
                "metadata": {"name": "searchapp-a", "labels": {"x": "y"}},
                "timestamp": iso(stamp),
                "window": "15s",
                "containers": [{"name": "app", "usage": {"cpu": cpu, "memory": "40Mi"}}],
            }
        ]
    }


def test_recorder_polls_pod_metrics_and_writes_a_line_per_new_sample(monkeypatch, tmp_path):
    fake = install(monkeypatch)
    fake.add_deployment()
    fake.add_hpa()
    fake.custom = _Custom([pod_metrics(T0, "10m"), pod_metrics(T0, "10m"), pod_metrics(T0 + 15, "70m")])
    watch.start_recording(
        "scaleproof",
        "app=x",
        deployment="searchapp",
        hpa="searchapp",
        run_dir=str(tmp_path),
        max_duration_s=30,
        pod_metrics_interval_s=1,
    )
    assert fake.custom.done.wait(10)
    time.sleep(0.2)
    watch.stop_recording(run_dir=str(tmp_path))
    lines = [e for e in rundir.read_events(tmp_path) if e.get("kind") == "PodMetrics"]
    # three polls, two distinct sample times: two lines, trimmed to name, times and CPU
    assert [line["items"][0]["timestamp"] for line in lines] == [iso(T0), iso(T0 + 15)]
    assert lines[1]["items"][0] == {
        "name": "searchapp-a",
        "timestamp": iso(T0 + 15),
        "window": "15s",
        "containers": [{"name": "app", "cpu": "70m"}],
    }
    assert fake.custom.calls[0] == ("metrics.k8s.io", "v1beta1", "scaleproof", "pods", "app=x")


def test_pod_trim_keeps_cpu_requests():
    obj = {
        "metadata": {"name": "p"},
        "spec": {
            "nodeName": "n",
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "250m"}}}, {"name": "b"}],
        },
    }
    trimmed = watch.trim("Pod", obj)
    assert trimmed["x-scaleproof"]["cpuRequests"] == [
        {"name": "a", "cpu": "250m"},
        {"name": "b", "cpu": None},
    ]
    assert trimmed["spec"] == {"nodeName": "n"}  # nothing Kubernetes does not serve under spec


def test_cpu_requests_are_read_from_our_key_and_from_older_recordings():
    ours = {"x-scaleproof": {"cpuRequests": [{"name": "a", "cpu": "250m"}, {"name": "b", "cpu": "50m"}]}}
    older = {"spec": {"requests": [{"name": "a", "cpu": "250m"}]}}
    assert kobjects.pod_cpu_requests(ours) == pytest.approx(0.3)
    assert kobjects.pod_cpu_requests(older) == pytest.approx(0.25)
    assert kobjects.pod_cpu_requests({"x-scaleproof": {"cpuRequests": [{"name": "b", "cpu": None}]}}) is None
    assert kobjects.pod_cpu_requests({"spec": {"nodeName": "n"}}) is None


def test_a_bad_configured_period_is_ignored_and_said(tmp_path):
    c = cadence.cadence({"hpa_sync_period_s": "abc", "metrics_resolution_s": "30s"}, proc=tmp_path)
    assert c["metrics_resolution_s"] == 30.0 and c["hpa_sync_period_s"] == 15.0
    assert "hpa_sync_period_s='abc' is not seconds" in c["sources"]["hpa_sync_period_s"]
