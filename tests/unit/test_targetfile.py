"""Target files: `scaleproof init` writes one from the live objects that `load_target` accepts
unchanged; unknown keys and missing fields are refused with the key; values reach the experiments
through the environment variables the experiment files declare."""

from __future__ import annotations

import pytest
import yaml

from scaleproof import init_target, targetfile
from scaleproof.targetfile import TargetError
from tests.unit.kubefake import install, pod

pytestmark = pytest.mark.unit


@pytest.fixture
def fake(monkeypatch):
    f = install(monkeypatch)
    f.add_deployment(replicas=3)
    f.add_hpa(min_r=2, max_r=6)
    d = f.deployments[("scaleproof", "searchapp")]
    d["spec"]["selector"]["matchExpressions"] = [{"key": "track", "operator": "NotIn", "values": ["canary"]}]
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/healthz", "port": 80}
    }
    f.services = [
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app.kubernetes.io/name": "searchapp"}, "ports": [{"nodePort": 30180}]},
        }
    ]
    f.pods = [pod("a")]
    return f


def test_init_writes_a_file_that_run_target_accepts_unchanged(fake, tmp_path):
    text = init_target.render(init_target.describe("scaleproof", "searchapp"))
    path = tmp_path / "target.yaml"
    path.write_text(text)
    t = targetfile.load_target(path)
    assert t["selector"] == "app.kubernetes.io/name=searchapp,track notin (canary)"
    assert (t["service"], t["hpa"], t["app_url"], t["ready_path"]) == (
        "web",
        "searchapp",
        "http://127.0.0.1:30180",
        "/healthz",
    )
    assert (t["replicas"], t["min_ready"], t["target_replicas"]) == (3, 2, 3)
    assert t["experiments"] == ["pod-kill", "hpa-scale"]
    assert "# the Deployment's spec.selector" in text
    env = targetfile.env_for(t)
    assert env["SCALEPROOF_READY_PATH"] == "/healthz" and env["SCALEPROOF_SELECTOR"] == t["selector"]
    assert env["SCALEPROOF_REQUESTS"] == "GET /healthz 1" and env["SCALEPROOF_INGEST"] == ""


def test_a_deployment_without_hpa_gets_pod_kill_only(fake, tmp_path):
    fake.hpas.clear()
    t = dict((k, v) for k, v, _ in init_target.describe("scaleproof", "searchapp"))
    assert t["hpa"] == "" and t["experiments"] == ["pod-kill"] and t["replicas"] == 3


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"namespace": "a", "deployment": "b", "selector": "c", "app_url": "u", "replica": 3},
            "unknown key(s) replica",
        ),
        ({"namespace": "a", "deployment": "b", "selector": "c"}, "`app_url` is required"),
        (
            {"namespace": "a", "deployment": "b", "selector": "c", "app_url": "u", "experiments": ["x"]},
            "`experiments`",
        ),
        (["a"], "expected a mapping"),
    ],
)
def test_bad_target_files_name_the_key(tmp_path, doc, message):
    p = tmp_path / "t.yaml"
    p.write_text(yaml.safe_dump(doc))
    with pytest.raises(TargetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        targetfile.load_target(p)
    with pytest.raises(TargetError, match="No such file"):
        targetfile.load_target(tmp_path / "absent.yaml")


def test_selector_string_covers_every_operator():
    sel = {
        "matchLabels": {"app": "x"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "Exists"},
        ],
    }
    assert targetfile.selector_string(sel) == "app=x,tier in (a,b),!canary,zone"
