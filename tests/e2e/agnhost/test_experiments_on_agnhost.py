"""Issue 8's acceptance: the experiments run against an application nobody here wrote (Kubernetes'
own agnhost netexec, in its own namespace, readiness on /healthz) through configuration only, and
every bad input stops before any fault with the field named and the cluster left as it was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..conftest import REPO, Kubectl, chaos_run, evidence_of
from .app import AgnhostApp

# the cluster's Prometheus (k8s/, as a team's cluster has its own) watches agnhost too: its pod count
# is part of the evidence, so the stack is deployed before these tests, whatever their order
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("deployed")]

BIN = Path(sys.executable).parent


def _env(kubectl: Kubectl, app: AgnhostApp, **extra: str) -> dict[str, str]:
    """What a team sets: every SCALEPROOF_* entry points at agnhost (nothing of searchapp is left)."""
    env = {
        **os.environ,
        "KUBECONFIG": str(kubectl.kubeconfig),
        "SCALEPROOF_KUBECONFIG": str(kubectl.kubeconfig),
        "SCALEPROOF_NAMESPACE": app.namespace,
        "SCALEPROOF_DEPLOYMENT": app.deployment,
        "SCALEPROOF_SERVICE": app.service,
        "SCALEPROOF_SELECTOR": app.selector,
        "SCALEPROOF_HPA": app.hpa or "",
        "SCALEPROOF_APP_URL": app.url,
        "SCALEPROOF_READY_PATH": app.ready_path,
        "SCALEPROOF_REQUESTS": "GET /hostname 9, GET /echo?msg=scaleproof 1",
        "SCALEPROOF_LOCUSTFILE": "",
        "SCALEPROOF_INGEST": "",
        "SCALEPROOF_PROMETHEUS_CONTAINER": "agnhost",
        # netexec has no drain (keep-alive connections to a victim are reset when it exits): a team
        # whose app cannot drain sets its budget of failed requests per kill
        "SCALEPROOF_MAX_FAILED_REQUESTS_PER_KILL": "10",
        # agnhost has no request metrics of its own
        "SCALEPROOF_PROMETHEUS_QUERY_REQUEST_RATE": "vector(0)",
        "SCALEPROOF_PROMETHEUS_QUERY_ERROR_RATE_5XX": "vector(0)",
    }
    env.update(extra)
    return env


def _chaos(kind: str, journal: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return chaos_run(kind, journal, env, timeout=1200)


def _evidence(journal: Path) -> dict:
    return evidence_of(journal)


def _summary(ev: dict) -> str:
    m = {k: v.get("value") for k, v in ev["metrics"].items()}
    return ", ".join(f"{k}={v}" for k, v in sorted(m.items()))


@pytest.mark.full(
    "the CI tier runs init and a target file in the first-run hpa-scale test, and pod-kill on "
    "agnhost in the ten-kill console test"
)
def test_pod_kill_on_agnhost_through_init_and_a_target_file(
    kubectl: Kubectl, agnhost: AgnhostApp, tmp_path: Path
):
    """`scaleproof init` reads agnhost's objects; `scaleproof run --target` accepts the file unchanged;
    SCALEPROOF_KILLS=3 makes the criterion `kills >= 3`; the evidence names agnhost."""
    target = tmp_path / "agnhost.yaml"
    env = _env(
        kubectl,
        agnhost,
        SCALEPROOF_KILLS="3",
        SCALEPROOF_KILL_INTERVAL_S="5",
        SCALEPROOF_LOAD_RUN_TIME_S="240",
        SCALEPROOF_METHOD_DEADLINE_S="200",
    )
    init = subprocess.run(
        [
            str(BIN / "scaleproof"),
            "init",
            "--namespace",
            agnhost.namespace,
            "--deployment",
            "agnhost",
            "--out",
            str(target),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert init.returncode == 0, init.stderr
    written = yaml.safe_load(target.read_text())
    assert (written["selector"], written["ready_path"], written["hpa"]) == (
        "app=agnhost",
        "/healthz",
        "agnhost",
    )
    assert written["app_url"] == agnhost.url and written["replicas"] == 3
    for key in list(env):  # only the target file and the kill settings describe the target now
        if (
            key.startswith("SCALEPROOF_")
            and "PROMETHEUS_QUERY" not in key
            and key
            not in (
                "SCALEPROOF_KUBECONFIG",
                "SCALEPROOF_KILLS",
                "SCALEPROOF_KILL_INTERVAL_S",
                "SCALEPROOF_MAX_FAILED_REQUESTS_PER_KILL",
                "SCALEPROOF_LOAD_RUN_TIME_S",
                "SCALEPROOF_METHOD_DEADLINE_S",
            )
        ):
            env.pop(key)
    run = subprocess.run(
        [
            str(BIN / "scaleproof"),
            "run",
            "--target",
            str(target),
            "--experiment",
            "pod-kill",
            "--journals",
            str(tmp_path / "journals"),
            "--out",
            str(tmp_path / "adr"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    journals = sorted((tmp_path / "journals").glob("pod-kill-*.json"))
    assert journals, run.stderr[-3000:]
    ev = _evidence(journals[0])
    print(f"\nagnhost pod-kill: verdict {ev['verdict']}; {_summary(ev)}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert ev["verdict"] == "pass", ev["verdict_reasons"]
    crit = {c["expr"]: c["passed"] for c in ev["criteria"]}
    assert crit.get("kills >= 3") is True, crit
    assert ev["metrics"]["kills"]["value"] == 3 and ev["metrics"]["mttr_p95_s"]["value"] is not None
    assert (
        ev["configuration"]["deployment"] == "agnhost"
        and ev["configuration"]["namespace"] == agnhost.namespace
    )
    assert "searchapp" not in json.dumps(ev["specs"]), "the evidence must describe agnhost"
    assert (tmp_path / "adr").is_dir() and any((tmp_path / "adr").rglob("*.md"))


@pytest.mark.full(
    "the CI tier runs hpa-scale on agnhost through init and a target file (test_first_run), "
    "with the same Prometheus checks"
)
def test_hpa_scale_on_agnhost_through_configuration_only(
    kubectl: Kubectl, agnhost: AgnhostApp, tmp_path: Path
):
    journal = tmp_path / "hpa-scale.json"
    run = _chaos(
        "hpa-scale",
        journal,
        _env(kubectl, agnhost, SCALEPROOF_LOAD_RUN_TIME_S="300", SCALEPROOF_SCALE_TIMEOUT_S="240"),
    )
    assert journal.exists(), run.stderr[-3000:]
    ev = _evidence(journal)
    print(f"\nagnhost hpa-scale: verdict {ev['verdict']}; {_summary(ev)}")
    phases = {p["name"]: p.get("duration_s") for p in ev["timelines"]["scale"]["phases"]}
    print(f"agnhost hpa-scale phases: {phases}")
    assert run.returncode == 0, run.stderr[-3000:]
    assert ev["verdict"] == "pass", ev["verdict_reasons"]
    assert ev["metrics"]["time_to_scale_s"]["value"] is not None
    assert ev["metrics"]["max_ready_replicas"]["value"] >= 3
    # Prometheus' own pod count is about agnhost's pods (the defaults follow SCALEPROOF_DEPLOYMENT)
    from scaleproof.report.promview import crosscheck, series

    assert "unavailable" not in ev["prometheus"], ev["prometheus"].get("unavailable")
    assert 'pod=~"agnhost-' in ev["prometheus"]["queries"]["pods_running"]["query"]
    pts = series(ev, "pods_running")
    print(f"agnhost pods_running (cAdvisor): {[v for _, v in pts]}")
    cc = crosscheck(ev)
    assert cc is not None and cc["max_pods"]["cadvisor"] >= cc["max_pods"]["watch"] >= 3, cc


def _other_workload(kubectl: Kubectl, namespace: str, image: str) -> None:
    doc = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "other"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "other"}},
            "template": {
                "metadata": {"labels": {"app": "other"}},
                "spec": {
                    "containers": [
                        {
                            "name": "other",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["netexec", "--http-port=8080"],
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": 65534,
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                        }
                    ]
                },
            },
        },
    }
    kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(doc))
    kubectl("-n", namespace, "rollout", "status", "deployment/other", "--timeout=120s", timeout=150)


def test_bad_inputs_stop_before_any_fault(kubectl: Kubectl, agnhost: AgnhostApp, tmp_path: Path):
    broken = tmp_path / "broken_locustfile.py"
    broken.write_text("import a_module_nobody_installed\n")
    _other_workload(kubectl, agnhost.namespace, agnhost.image)
    cases = {
        "deployment": ({"SCALEPROOF_DEPLOYMENT": "nope"}, "`deployment`"),
        # netexec answers 200 on any unknown path (its "/" handler): /dial without its parameters
        # is a path it answers 400, what a wrong readiness path looks like on this server
        "ready_path": ({"SCALEPROOF_READY_PATH": "/dial"}, "`ready_path`"),
        "locustfile-missing": (
            {"SCALEPROOF_REQUESTS": "", "SCALEPROOF_LOCUSTFILE": "/nonexistent.py"},
            "does not exist",
        ),
        "locustfile-import": (
            {"SCALEPROOF_REQUESTS": "", "SCALEPROOF_LOCUSTFILE": str(broken)},
            "a_module_nobody_installed",
        ),
        "requests": ({"SCALEPROOF_REQUESTS": "GIT /hostname 1"}, "entry 1"),
        "selector": ({"SCALEPROOF_SELECTOR": "app in (agnhost,other)"}, "Deployment/other"),
    }
    before_pods = sorted(
        kubectl.json("-n", agnhost.namespace, "get", "pods")["items"], key=lambda p: p["metadata"]["name"]
    )
    before_hpa = kubectl.json("-n", agnhost.namespace, "get", "hpa", "agnhost")["spec"]
    for name, (extra, message) in cases.items():
        journal = tmp_path / f"{name}.json"
        run = _chaos("pod-kill", journal, _env(kubectl, agnhost, **extra))
        doc = json.loads(journal.read_text())
        gate = doc["steady_states"]["before"]
        text = json.dumps(gate)
        print(f"\nbad input {name}: chaos exit {run.returncode}; {message!r} in gate: {message in text}")
        assert run.returncode == 1, (name, run.stderr[-1500:])
        assert gate["steady_state_met"] is False and message in text, (name, text[-1500:])
        assert doc["run"] == [], f"{name}: the method must not run"
    after_pods = sorted(
        kubectl.json("-n", agnhost.namespace, "get", "pods")["items"], key=lambda p: p["metadata"]["name"]
    )
    assert [p["metadata"]["uid"] for p in after_pods] == [p["metadata"]["uid"] for p in before_pods]
    assert kubectl.json("-n", agnhost.namespace, "get", "hpa", "agnhost")["spec"] == before_hpa
    bad_target = tmp_path / "bad.yaml"
    bad_target.write_text(
        yaml.safe_dump(
            {
                "namespace": agnhost.namespace,
                "deployment": "agnhost",
                "selector": "app=agnhost",
                "app_url": agnhost.url,
                "replica": 3,
            }
        )
    )
    run = subprocess.run(
        [str(BIN / "scaleproof"), "run", "--target", str(bad_target)],
        cwd=REPO,
        env=_env(kubectl, agnhost),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "unknown key(s) replica" in run.stderr, run.stderr[-1500:]
