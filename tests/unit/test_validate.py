"""scaleproof.validate: one clear line per bad input, before any run; `chaos run` says it too."""

from __future__ import annotations

import http.server
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from scaleproof import validate
from tests.unit.kubefake import install, pod
from tests.unit.test_experiments import CHAOS, ROOT, env

pytestmark = pytest.mark.unit

POD_KILL = ROOT / "experiments" / "pod-kill.yaml"
HPA = ROOT / "experiments" / "hpa-scale.yaml"
SHARDS = ROOT / "experiments" / "vector-shards.yaml"
NODE_LOSS = ROOT / "experiments" / "node-loss.yaml"
PEER_LOSS = ROOT / "experiments" / "store-peer-loss.yaml"
SCALEPROOF = str(Path(CHAOS).with_name("scaleproof"))

# (experiment, environment overrides, a fragment the one line must contain)
BAD_INPUTS = [
    (POD_KILL, {"SCALEPROOF_USERS": "ten"}, "users (SCALEPROOF_USERS='ten'): must be an integer, got 'ten'"),
    (POD_KILL, {"SCALEPROOF_USERS": "10.5"}, "users (SCALEPROOF_USERS='10.5'): must be an integer"),
    (POD_KILL, {"SCALEPROOF_USERS": "0"}, "users (SCALEPROOF_USERS='0'): must be between 1 and 1000, got 0"),
    (POD_KILL, {"SCALEPROOF_USERS": "5000"}, "must be between 1 and 1000, got 5000"),
    (POD_KILL, {"SCALEPROOF_MAX_ERROR_RATE": "1.5"}, "max_error_rate (SCALEPROOF_MAX_ERROR_RATE='1.5')"),
    (POD_KILL, {"SCALEPROOF_MAX_ERROR_RATE": "nan"}, "max_error_rate (SCALEPROOF_MAX_ERROR_RATE='nan')"),
    (POD_KILL, {"SCALEPROOF_KILLS": "-1"}, "kills (SCALEPROOF_KILLS='-1'): must be between 1 and 1000"),
    (POD_KILL, {"SCALEPROOF_MIN_READY": "5"}, "min_ready (SCALEPROOF_MIN_READY='5'): must be ≤ replicas (3)"),
    (POD_KILL, {"SCALEPROOF_METHOD_DEADLINE_S": "1000"}, "must be shorter than load_run_time_s (900 s)"),
    (POD_KILL, {"SCALEPROOF_KILL_INTERVAL_S": "200"}, "10 kills 200 s apart need at least 1800 s"),
    (POD_KILL, {"SCALEPROOF_NAMESPACE": "kube-system"}, "namespace (SCALEPROOF_NAMESPACE='kube-system')"),
    (POD_KILL, {"SCALEPROOF_NAMESPACE": "Bad_NS"}, "not a valid namespace name"),
    (POD_KILL, {"SCALEPROOF_NAMESPACE": ""}, "namespace (SCALEPROOF_NAMESPACE=''): not a valid namespace"),
    (POD_KILL, {"SCALEPROOF_SELECTOR": ""}, "selector (SCALEPROOF_SELECTOR=''): must be a non-empty"),
    (POD_KILL, {"SCALEPROOF_SELECTOR": "app in (a"}, "is not a label selector term"),
    (POD_KILL, {"SCALEPROOF_SELECTOR": "=searchapp"}, "is not a label selector term"),
    (POD_KILL, {"SCALEPROOF_SELECTOR": "app=has space"}, "not a label selector term"),
    (POD_KILL, {"SCALEPROOF_DEPLOYMENT": "Search_App"}, "deployment (SCALEPROOF_DEPLOYMENT='Search_App')"),
    (POD_KILL, {"SCALEPROOF_APP_URL": "localhost:30080"}, "app_url (SCALEPROOF_APP_URL='localhost:30080')"),
    (POD_KILL, {"SCALEPROOF_PROMETHEUS_URL": "http://127.0.0.1:99999"}, "has an invalid port"),
    (SHARDS, {"SCALEPROOF_WEAVIATE_URL": "ftp://127.0.0.1"}, "must be an http(s) URL with a host"),
    (POD_KILL, {"SCALEPROOF_USER": "10"}, "SCALEPROOF_USER: set, but no experiment reads it (did you mean"),
    (HPA, {"SCALEPROOF_TARGET_REPLICAS": "abc"}, "target_replicas (SCALEPROOF_TARGET_REPLICAS='abc')"),
    (HPA, {"SCALEPROOF_DOCUMENTS": "1e3"}, "documents (SCALEPROOF_DOCUMENTS='1e3'): must be an integer"),
    (HPA, {"SCALEPROOF_SCALE_TIMEOUT_S": "5"}, "scale_timeout_s (SCALEPROOF_SCALE_TIMEOUT_S='5')"),
    (SHARDS, {"SCALEPROOF_COLLECTION": "documents"}, "collection (SCALEPROOF_COLLECTION='documents')"),
    (SHARDS, {"SCALEPROOF_MIN_NODES": "0"}, "min_nodes (SCALEPROOF_MIN_NODES='0')"),
    (SHARDS, {"SCALEPROOF_WEAVIATE_METRICS_URLS": "http://127.0.0.1:2112,nope"}, "weaviate_metrics_urls"),
    (
        SHARDS,
        {"SCALEPROOF_STORE": "chroma"},
        "store (SCALEPROOF_STORE='chroma'): must be one of weaviate, qdrant",
    ),
    (POD_KILL, {"SCALEPROOF_APP_URL": "http://10.255.255.1"}, "refusing to send load to 10.255.255.1"),
    (
        HPA,
        {"SCALEPROOF_REQUESTS": "FETCH /x"},
        "load: configuration `requests` (SCALEPROOF_REQUESTS), entry 1",
    ),
    (HPA, {"SCALEPROOF_LOAD_ENV": "{bad json"}, "load: configuration `load_env` (SCALEPROOF_LOAD_ENV)"),
    (HPA, {"SCALEPROOF_LOCUSTFILE": "/nope.py"}, "load: configuration `locustfile` (SCALEPROOF_LOCUSTFILE)"),
    (NODE_LOSS, {"SCALEPROOF_NODE_FAULT": "reboot"}, "choose auto, local or command, got 'reboot'"),
    (NODE_LOSS, {"SCALEPROOF_TOLERATION_SECONDS": "5m"}, "must be whole seconds ≥ 0, or empty, got '5m'"),
    (
        PEER_LOSS,
        {"SCALEPROOF_PEER_GRACE_PERIOD_S": "-1"},
        "peer_grace_period_s (SCALEPROOF_PEER_GRACE_PERIOD_S='-1')",
    ),
    (NODE_LOSS, {"SCALEPROOF_NODE_FAULT": "command"}, "'command' needs both node_fault_command and"),
    (
        NODE_LOSS,
        {"SCALEPROOF_NODE_FAULT": "command", "SCALEPROOF_NODE_FAULT_COMMAND": "stop $SCALEPROOF_NODE"},
        "node_restore_command (SCALEPROOF_NODE_FAULT_COMMAND / SCALEPROOF_NODE_RESTORE_COMMAND",
    ),
]


@pytest.mark.parametrize(("experiment", "overrides", "fragment"), BAD_INPUTS)
def test_each_bad_input_gives_one_line_naming_the_field(experiment, overrides, fragment):
    problems = validate.validate_experiment(experiment, env=overrides, offline=True)
    assert len(problems) == 1 and fragment in problems[0], problems


@pytest.mark.parametrize("experiment", [POD_KILL, HPA, SHARDS, NODE_LOSS, PEER_LOSS], ids=lambda p: p.stem)
def test_the_defaults_are_valid(experiment):
    assert validate.validate_experiment(experiment, env={}, offline=True) == []


def test_several_problems_give_several_lines():
    problems = validate.validate_experiment(
        POD_KILL, env={"SCALEPROOF_USERS": "ten", "SCALEPROOF_NAMESPACE": "kube-system"}, offline=True
    )
    assert len(problems) == 2


def test_unreadable_experiment(tmp_path):
    (tmp_path / "bad.yaml").write_text("title: [unclosed")
    assert "not valid YAML" in validate.validate_experiment(tmp_path / "bad.yaml", env={})[0]
    assert "cannot read" in validate.validate_experiment(tmp_path / "missing.yaml", env={})[0]


def test_credential_fallbacks_are_known_variables():
    env = {"SCALEPROOF_KUBE_CONTEXT": "ctx", "SCALEPROOF_PROMETHEUS_TOKEN": "t"}
    assert validate.validate_experiment(POD_KILL, env=env, offline=True) == []


def test_an_experiment_chaos_toolkit_would_refuse_is_refused(tmp_path):
    (tmp_path / "x.yaml").write_text("title: x\n")
    (problem,) = validate.validate_experiment(tmp_path / "x.yaml", env={}, offline=True)
    assert problem.startswith("experiment: not a valid Chaos Toolkit experiment:"), problem


def values(**over):
    base = {"namespace": "scaleproof", "selector": "app.kubernetes.io/name=searchapp"}
    return {**base, **over}


def test_targets_missing_deployment_hpa_service_and_pods(monkeypatch):
    fake = install(monkeypatch)
    problems = validate.check_targets(values(deployment="searchapp", hpa="searchapp", service="searchapp"))
    assert problems == [
        "deployment: scaleproof/searchapp not found (does namespace 'scaleproof' exist?)",
        "hpa: scaleproof/searchapp not found",
        "service: scaleproof/searchapp has no EndpointSlice (does the Service exist?)",
        "selector: 'app.kubernetes.io/name=searchapp' matches no pod in namespace 'scaleproof'",
    ]
    fake.add_deployment()
    fake.pods = [pod("a")]
    assert validate.check_targets(values(deployment="searchapp")) == []
    wrong = validate.check_targets(values(deployment="searchapp", selector="app=other"))
    assert wrong[0].startswith("selector: 'app=other' does not select the pods of deployment")


def test_claims_above_the_hpa_maximum_are_refused(monkeypatch):
    fake = install(monkeypatch)
    fake.add_deployment()
    fake.add_hpa(max_r=5)
    fake.pods = [pod("a")]
    problems = validate.check_targets(values(deployment="searchapp", hpa="searchapp", target_replicas=50))
    assert problems == [
        "target_replicas: 50 replicas claimed, but hpa searchapp allows at most 5 "
        "(raise its maxReplicas or lower SCALEPROOF_TARGET_REPLICAS)"
    ]
    assert validate.check_targets(values(deployment="searchapp", hpa="searchapp", replicas=5)) == []


def test_a_selector_that_also_matches_another_workload_is_refused(monkeypatch):
    fake = install(monkeypatch)
    fake.add_deployment()
    fake.add_deployment("other")
    other = pod("x")
    other["metadata"]["ownerReferences"][0]["name"] = "other-rs"
    fake.pods = [pod("a"), other]
    (problem,) = validate.check_targets(values(deployment="searchapp"))
    assert problem.startswith("selector: ") and "x (owned by Deployment/other)" in problem, problem


def test_unreachable_cluster_is_one_line(monkeypatch, tmp_path):
    from scaleproof import kube

    monkeypatch.setattr(kube, "_CLIENTS", {})
    problems = validate.check_targets({**values(), "kubeconfig": str(tmp_path / "nope")})
    assert len(problems) == 1 and problems[0].startswith("kubernetes: cannot load kubeconfig")


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server API
        self.send_response(200 if self.path == "/readyz" else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_reachability_of_app_prometheus_and_store():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Ready)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}"
        problems = validate.check_reachability(
            {"app_url": url, "prometheus_url": url, "weaviate_url": "http://127.0.0.1:9"}, timeout_s=2
        )
    finally:
        srv.shutdown()
    assert problems[0] == f"prometheus_url: {url}/-/ready answered HTTP 503"
    assert problems[1].startswith("weaviate_url: http://127.0.0.1:9/v1/.well-known/ready unreachable")
    assert len(problems) == 2  # the app answered /readyz


def test_an_unreachable_prometheus_says_how_to_run_without_it():
    problems = validate.check_reachability({"prometheus_url": "http://127.0.0.1:9"}, timeout_s=2)
    assert len(problems) == 1 and "set SCALEPROOF_PROMETHEUS_URL= to run without" in problems[0]
    assert validate.check_reachability({"prometheus_url": ""}, timeout_s=2) == []


def test_pod_kill_and_hpa_scale_do_not_ask_for_a_vector_store():
    """A team's app has no Weaviate: the two experiments that do not read one do not declare it, so
    `scaleproof validate`/`run --target` cannot refuse them for an unreachable store."""
    for path in (POD_KILL, HPA):
        conf = yaml.safe_load(path.read_text())["configuration"]
        assert not {"weaviate_url", "qdrant_url", "qdrant_urls"} & set(conf), path.name


def test_reachability_uses_the_configured_ready_path():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Ready)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}"
        problems = validate.check_reachability({"app_url": url, "ready_path": "/healthz"}, timeout_s=2)
    finally:
        srv.shutdown()
    assert problems == [f"app_url: {url}/healthz answered HTTP 503"]


@pytest.mark.parametrize("command", ["run", "validate"])
def test_chaos_itself_prints_the_line_instead_of_a_traceback(tmp_path, command):
    r = subprocess.run(
        [CHAOS, "--no-version-check", "--no-log-file", command, str(POD_KILL)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(SCALEPROOF_USERS="ten"),
        cwd=tmp_path,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "Traceback" not in out, out
    assert "users (SCALEPROOF_USERS='ten'): must be an integer, got 'ten'" in out


def test_scaleproof_validate_command_exit_codes(tmp_path):
    bad = subprocess.run(
        [SCALEPROOF, "validate", "--offline", str(POD_KILL)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(SCALEPROOF_USERS="ten", SCALEPROOF_KILLS="0"),
    )
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 2, bad.stderr
    ok = subprocess.run(
        [SCALEPROOF, "validate", "--offline", str(POD_KILL)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
    )
    assert ok.returncode == 0 and ok.stdout.strip().endswith("ok (configuration only)"), ok.stdout + ok.stderr


def test_scaleproof_run_validates_before_touching_anything(monkeypatch):
    from click.testing import CliRunner

    from scaleproof import pipeline
    from scaleproof.cluster import local

    monkeypatch.setattr(local, "up", lambda *a, **k: pytest.fail("cluster up ran despite a bad input"))
    monkeypatch.setenv("SCALEPROOF_USERS", "ten")
    r = CliRunner().invoke(pipeline.run_command, ["--experiment", "pod-kill"])
    assert r.exit_code == 5  # refused (issue 22): the same code as `scaleproof verdict` on a refused run
    assert "experiments/pod-kill.yaml: users (SCALEPROOF_USERS='ten'): must be an integer" in r.output
    assert "nothing was changed" in r.output
