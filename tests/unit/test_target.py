"""The target check that opens every hypothesis: each bad input stops before the method with the
configuration field and what was found."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from probes import target
from scaleproof import rundir
from scaleproof.errors import NotFound, ScaleproofError, UnsafeTarget
from tests.unit.kubefake import install, pod

pytestmark = pytest.mark.unit
SEL = "app.kubernetes.io/name=searchapp"


class _Paths(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def app_url():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Paths)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()


@pytest.fixture
def fake(monkeypatch):
    f = install(monkeypatch)
    f.add_deployment(replicas=2)
    f.add_hpa()
    f.pods = [pod("a"), pod("b")]
    return f


def ok(app_url, tmp_path, **over):
    args = {
        "namespace": "scaleproof",
        "deployment": "searchapp",
        "selector": SEL,
        "app_url": app_url,
        "ready_path": "/healthz",
        "load": True,
    }
    cfg = {"hpa": "searchapp", "requests": "GET / 1", rundir.CONFIG_KEY: str(tmp_path)}
    cfg.update(over.pop("cfg", {}))
    args.update(over)
    return target.target_ok(**args, configuration=cfg)


def test_a_valid_target_passes_once_and_is_remembered(fake, app_url, tmp_path):
    assert ok(app_url, tmp_path) is True
    fake.pods = []  # later samples answer from the run dir, not from the cluster
    assert ok(app_url, tmp_path) is True


def test_readiness_path_that_answers_404_names_the_field(fake, app_url, tmp_path):
    with pytest.raises(ScaleproofError, match=r"`ready_path`.*/readyz answered 404"):
        ok(app_url, tmp_path, ready_path="/readyz")


def test_unknown_workload_and_hpa_of_another_target(fake, app_url, tmp_path):
    with pytest.raises(NotFound, match="`deployment`"):
        ok(app_url, tmp_path, deployment="nope")
    fake.hpas[("scaleproof", "searchapp")]["spec"]["scaleTargetRef"]["name"] = "other"
    with pytest.raises(UnsafeTarget, match="`hpa`.*scales Deployment/other"):
        ok(app_url, tmp_path)
    with pytest.raises(NotFound, match="`hpa`"):
        ok(app_url, tmp_path, cfg={"hpa": "missing"})
    assert ok(app_url, tmp_path, cfg={"hpa": ""})  # a fixed-size Deployment needs no HPA


def test_selector_matching_pods_of_another_workload_is_refused(fake, app_url, tmp_path):
    fake.add_deployment(name="canary")
    fake.pods.append(pod("c", owner_uid="rs-9"))
    fake.pods[-1]["metadata"]["ownerReferences"][0]["name"] = "canary-rs"
    with pytest.raises(UnsafeTarget, match=r"not Deployment 'searchapp''s: c \(owned by Deployment/canary\)"):
        ok(app_url, tmp_path)
    fake.pods = []
    with pytest.raises(UnsafeTarget, match="matches no pod"):
        ok(app_url, tmp_path)


def test_a_bad_load_stops_the_gate(fake, app_url, tmp_path):
    with pytest.raises(ScaleproofError, match="SCALEPROOF_REQUESTS.*entry 1"):
        ok(app_url, tmp_path, cfg={"requests": "GIT /"})
    assert not (tmp_path / target.MARKER).exists()


# --------------------------------------------------------------------------- issue 22: refused runs
def test_a_missing_deployment_is_recorded_as_a_refusal(fake, app_url, tmp_path):
    from scaleproof import stops, verdict

    with pytest.raises(NotFound):
        ok(app_url, tmp_path, deployment="orders")
    stop = stops.read_stop(tmp_path)
    assert stop["refused"]["stage"] == "the gate's target check"
    assert "SCALEPROOF_DEPLOYMENT" in stop["refused"]["problems"][0]
    journal = {"status": "failed", "steady_states": {"before": {"steady_state_met": False, "probes": []}}}
    block = {"version": 1, "metrics": {}, "criteria": [], **stop}
    assert verdict.verdict(journal, evidence=block).outcome == "refused"


def test_an_app_down_at_the_gate_is_a_failed_gate_not_a_refusal(fake, app_url, tmp_path):
    from scaleproof import stops

    with pytest.raises(ScaleproofError, match="answered 404"):
        ok(app_url, tmp_path, ready_path="/readyz")  # the app answers 404 there: down, not misnamed
    assert stops.read_stop(tmp_path) == {}
