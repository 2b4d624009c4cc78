"""scaleproof.floorrun: the floor workload, configured by variables only, deployed and always cleaned up."""

from __future__ import annotations

import subprocess

import pytest

from scaleproof import floorrun

pytestmark = pytest.mark.unit


def test_run_floor_configures_pod_kill_by_variables_only_and_always_cleans_up(monkeypatch, tmp_path):
    import scaleproof.chaosrun as chaosrun
    import scaleproof.cluster.cli as cluster_cli

    kubectl_calls: list[tuple[str, ...]] = []
    seen: dict[str, str] = {}

    def fake_kubectl(kubeconfig, *argv, timeout=180):
        kubectl_calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    def fake_run(kind, journal_dir, env):
        seen.update(env, kind=kind)
        raise RuntimeError("chaos run crashed")

    monkeypatch.setattr(floorrun, "_kubectl", fake_kubectl)
    monkeypatch.setattr(floorrun.urllib.request, "urlopen", lambda url, timeout: _Ok())
    monkeypatch.setattr(cluster_cli, "kubeconfig_path", lambda: tmp_path / "kubeconfig")
    monkeypatch.setattr(chaosrun, "run_experiment", fake_run)
    with pytest.raises(RuntimeError):
        floorrun.run_floor(7, 4, tmp_path, keep=False, skip_image=True, say=lambda m: None)
    assert seen["kind"] == "pod-kill" and seen["SCALEPROOF_KILLS"] == "7"
    assert seen["SCALEPROOF_KILL_INTERVAL_S"] == "4" and int(seen["SCALEPROOF_METHOD_DEADLINE_S"]) > 28
    assert {k: seen[k] for k in floorrun.FLOOR_ENV} == floorrun.FLOOR_ENV
    # a namespace left by an earlier run is deleted and waited for, then the manifest and its size
    leftover = ("delete", "namespace", "scaleproof-floor", "--ignore-not-found", "--wait=false")
    assert kubectl_calls[0] == leftover
    assert kubectl_calls[1][:3] == ("wait", "--for=delete", "namespace/scaleproof-floor")
    assert kubectl_calls[2] == ("apply", "-f", str(floorrun.FLOOR_MANIFEST))
    assert kubectl_calls[3] == ("-n", "scaleproof-floor", "scale", "deployment/floor", "--replicas=3")
    # the Service first (its NodePort), then the namespace, even though the run crashed
    assert kubectl_calls[-2][-3:] == ("service", "floor", "--ignore-not-found")
    assert kubectl_calls[-1][:3] == ("delete", "namespace", "scaleproof-floor")


def test_run_floor_at_scale_sizes_the_workload_and_the_kill_plan(monkeypatch, tmp_path):
    import scaleproof.chaosrun as chaosrun
    import scaleproof.cluster.cli as cluster_cli

    calls: list[tuple[str, ...]] = []
    seen: dict[str, str] = {}
    monkeypatch.setattr(
        floorrun,
        "_kubectl",
        lambda kc, *argv, timeout=180: calls.append(argv) or subprocess.CompletedProcess(argv, 0, "", ""),
    )
    monkeypatch.setattr(floorrun.urllib.request, "urlopen", lambda url, timeout: _Ok())
    monkeypatch.setattr(cluster_cli, "kubeconfig_path", lambda: tmp_path / "kubeconfig")
    monkeypatch.setattr(
        chaosrun, "run_experiment", lambda kind, d, env: seen.update(env) or tmp_path / "j.json"
    )
    floorrun.run_floor(
        20, 5, tmp_path, keep=True, skip_image=True, say=lambda m: None, replicas=30, kill_count=5
    )
    assert ("-n", "scaleproof-floor", "scale", "deployment/floor", "--replicas=30") in calls
    assert (seen["SCALEPROOF_REPLICAS"], seen["SCALEPROOF_KILL_COUNT"], seen["SCALEPROOF_KILLS"]) == (
        "30",
        "5",
        "20",
    )
    assert int(seen["SCALEPROOF_METHOD_DEADLINE_S"]) < int(seen["SCALEPROOF_LOAD_RUN_TIME_S"])
    after_rollout = calls[[c[2:3] for c in calls].index(("rollout",)) :]
    assert not any(c[:1] == ("delete",) for c in after_rollout), "--keep leaves the workload"


class _Ok:
    status = 200

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_floor_manifest_matches_the_floor_configuration():
    import yaml

    docs = {d["kind"]: d for d in yaml.safe_load_all(floorrun.FLOOR_MANIFEST.read_text())}
    dep, svc = docs["Deployment"], docs["Service"]
    assert docs["Namespace"]["metadata"]["name"] == floorrun.FLOOR_ENV["SCALEPROOF_NAMESPACE"]
    assert dep["metadata"]["name"] == floorrun.FLOOR_ENV["SCALEPROOF_DEPLOYMENT"]
    assert str(dep["spec"]["replicas"]) == floorrun.FLOOR_ENV["SCALEPROOF_REPLICAS"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert floorrun.FLOOR_ENV["SCALEPROOF_SELECTOR"] == ",".join(f"{k}={v}" for k, v in labels.items())
    assert floorrun.FLOOR_ENV["SCALEPROOF_APP_URL"].endswith(f":{svc['spec']['ports'][0]['nodePort']}")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == floorrun.FLOOR_ENV["SCALEPROOF_READY_PATH"]
    assert c["readinessProbe"]["periodSeconds"] == 1 and "cpu" not in c["resources"]["limits"]


def test_floor_passes_restricted_in_a_namespace_that_enforces_it():
    import yaml

    from tests.unit import pss

    docs = {d["kind"]: d for d in yaml.safe_load_all(floorrun.FLOOR_MANIFEST.read_text())}
    assert pss.violations(docs["Deployment"]["spec"]["template"]["spec"]) == []
    labels = docs["Namespace"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_floor_is_deployed_once_its_url_answers(monkeypatch, tmp_path):
    """After the rollout the NodePort may refuse a moment: polled (waiting.wait_until) until a 200."""
    answers = iter([OSError("refused"), _Ok()])

    def urlopen(url, timeout):
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    said: list[str] = []
    monkeypatch.setattr(
        floorrun, "_kubectl", lambda kc, *argv, timeout=180: subprocess.CompletedProcess(argv, 0)
    )
    monkeypatch.setattr(floorrun.urllib.request, "urlopen", urlopen)
    floorrun._deploy_floor(tmp_path / "kubeconfig", said.append, replicas=2)
    assert said[-1].startswith("floor deployed: scaleproof-floor/floor, 2 Ready")
