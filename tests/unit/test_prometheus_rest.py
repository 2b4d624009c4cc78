"""hpa-scale waits until Prometheus' own pod count is the resting one before the load starts."""

from __future__ import annotations

import pytest

from probes import prometheus
from scaleproof import kube
from scaleproof.errors import PrometheusUnavailable

pytestmark = pytest.mark.unit


def _experiment_configuration() -> dict:
    """hpa-scale's own configuration as Chaos Toolkit loads it (its queries and their placeholders)."""
    import yaml
    from chaoslib.configuration import load_configuration

    from tests.unit.test_experiments import ROOT

    exp = yaml.safe_load((ROOT / "experiments" / "hpa-scale.yaml").read_text())
    return dict(load_configuration(exp["configuration"]))


CFG = _experiment_configuration()


@pytest.fixture
def one_pod(monkeypatch):
    monkeypatch.setattr(kube, "list_pods", lambda ns, sel, cfg=None: [{"metadata": {"name": "a"}}])


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_waits_while_cadvisor_still_counts_a_deleted_pod_and_until_the_count_holds(monkeypatch, one_pod):
    seen = iter([2.0, 2.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    asked = []
    monkeypatch.setattr(prometheus, "query_scalar", lambda q, **kw: asked.append(q) or next(seen))
    clock = _Clock()
    out = prometheus.wait_for_resting_pod_count(
        "scaleproof", "app=x", interval_s=2, hold_s=10, configuration=CFG, sleep=clock.sleep, clock=clock
    )
    assert (out["expected"], out["seen"], out["settled"], out["error"]) == (1, 1.0, True, None)
    # the 1 at 4 s did not hold (2 again at 6 s): settled after 10 s of 1 from 8 s on
    assert len(asked) == 10 and out["waited_s"] == 18
    assert "container_start_time_seconds" in asked[0]


def test_gives_up_after_the_timeout_without_failing(monkeypatch, one_pod):
    monkeypatch.setattr(prometheus, "query_scalar", lambda q, **kw: 2.0)
    out = prometheus.wait_for_resting_pod_count(
        "scaleproof", "app=x", timeout_s=0, configuration=CFG, sleep=lambda s: None
    )
    assert not out["settled"] and "still counts 2.0 pods" in out["error"]


def test_an_unreachable_prometheus_is_said_not_raised(monkeypatch, one_pod):
    def down(q, **kw):
        raise PrometheusUnavailable("Prometheus unreachable at http://127.0.0.1:1")

    monkeypatch.setattr(prometheus, "query_scalar", down)
    out = prometheus.wait_for_resting_pod_count(
        "scaleproof", "app=x", configuration=CFG, sleep=lambda s: None
    )
    assert not out["settled"] and "unreachable" in out["error"]


def test_prometheus_off_waits_for_nothing_and_asks_nobody(monkeypatch):
    """SCALEPROOF_PROMETHEUS_URL= (a team without Prometheus): no pod listing, no query, no wait."""

    def called(*a, **kw):
        raise AssertionError("nothing may be asked when the Prometheus view is off")

    monkeypatch.setattr(prometheus, "query_scalar", called)
    monkeypatch.setattr(kube, "list_pods", called)
    out = prometheus.wait_for_resting_pod_count(
        "scaleproof", "app=x", configuration={**CFG, "prometheus_url": ""}, sleep=called
    )
    assert (out["settled"], out["waited_s"]) == (False, 0.0) and "SCALEPROOF_PROMETHEUS_URL=" in out["error"]
    assert prometheus.enabled({}) and prometheus.enabled(CFG)
    assert not prometheus.enabled({"prometheus_url": " "})
