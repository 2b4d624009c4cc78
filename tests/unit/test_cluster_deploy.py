"""deploy refuses, without calling kubectl, what cannot work; its readiness check reads kubectl's JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from scaleproof.cluster import deploy as deploy_mod
from scaleproof.cluster.deploy import DeployError, deploy, kubectl_binary

pytestmark = pytest.mark.unit


@pytest.fixture
def no_kubectl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy_mod, "_kubectl", lambda *a, **kw: pytest.fail(f"kubectl was called: {a}"))


def test_missing_overlay(no_kubectl: None, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    with pytest.raises(DeployError, match=r"overlay .*no-such-overlay is not a directory"):
        deploy(kubeconfig, tmp_path / "no-such-overlay", progress=lambda m: None)


def test_overlay_that_is_a_file(no_kubectl: None, tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("")
    with pytest.raises(DeployError, match="is not a directory"):
        deploy(tmp_path / "kubeconfig", tmp_path / "kustomization.yaml", progress=lambda m: None)


def test_missing_kubeconfig(no_kubectl: None, tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    with pytest.raises(DeployError) as err:
        deploy(tmp_path / "admin.kubeconfig", overlay, progress=lambda m: None)
    msg = str(err.value)
    assert f"kubeconfig {tmp_path / 'admin.kubeconfig'} does not exist" in msg
    assert "SCALEPROOF_KUBECONFIG" in msg and "scaleproof cluster up" in msg


def test_kubectl_binary_prefers_the_one_built_with_the_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SCALEPROOF_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/local/bin/kubectl")
    assert kubectl_binary() == "/usr/local/bin/kubectl"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "kubectl").write_text("")
    assert kubectl_binary() == str(tmp_path / "bin" / "kubectl")


def test_no_kubectl_at_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCALEPROOF_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DeployError, match="kubectl not found"):
        kubectl_binary()


def workloads(*items: tuple[str, str, int | None, int | None]) -> str:
    out = []
    for kind, name, want, ready in items:
        spec = {} if want is None else {"replicas": want}
        status = {} if ready is None else {"readyReplicas": ready}
        out.append({"kind": kind, "metadata": {"name": name}, "spec": spec, "status": status})
    return json.dumps({"items": out})


def test_not_ready_lists_each_pending_workload(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stdout = workloads(
        ("Deployment", "searchapp", 3, 3),
        ("Deployment", "loadgen", 2, None),  # no readyReplicas yet: 0
        ("StatefulSet", "weaviate", 3, 1),
        ("Deployment", "defaulted", None, 1),  # replicas default to 1
    )
    seen: list[tuple[str, ...]] = []

    def fake(kubeconfig: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        seen.append(args)
        return subprocess.CompletedProcess(args, 0, stdout, "")

    monkeypatch.setattr(deploy_mod, "_kubectl", fake)
    assert deploy_mod._not_ready(tmp_path / "k", "ns") == [
        "Deployment/loadgen 0/2 ready",
        "StatefulSet/weaviate 1/3 ready",
    ]
    assert seen == [("-n", "ns", "get", "deployments,statefulsets", "-o", "json")]


def test_deploy_applies_then_waits_until_ready(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    overlay, kubeconfig = tmp_path / "overlay", tmp_path / "kc"
    overlay.mkdir()
    kubeconfig.write_text("")
    answers = iter([workloads(("Deployment", "a", 1, 0)), workloads(("Deployment", "a", 1, 1))])
    calls: list[tuple[str, ...]] = []

    def fake(kc: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, "" if args[0] == "apply" else next(answers), "")

    monkeypatch.setattr(deploy_mod, "_kubectl", fake)
    monkeypatch.setattr(deploy_mod.time, "sleep", lambda s: None)
    msgs: list[str] = []
    deploy(kubeconfig, overlay, namespace="ns", progress=msgs.append)
    assert calls[0] == ("apply", "-k", str(overlay))
    assert len(calls) == 3
    assert msgs == [
        f"[deploy] kubectl apply -k {overlay}",
        "[deploy] waiting: Deployment/a 0/1 ready",
        "[deploy] every workload in ns is Ready",
    ]


def test_a_failed_apply_says_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    overlay, kubeconfig = tmp_path / "overlay", tmp_path / "kc"
    overlay.mkdir()
    kubeconfig.write_text("")
    monkeypatch.setattr(
        deploy_mod,
        "_kubectl",
        lambda kc, *a, **kw: subprocess.CompletedProcess(a, 1, "", "error: no kustomization\n"),
    )
    with pytest.raises(DeployError, match=r"kubectl apply -k .*overlay failed: error: no kustomization$"):
        deploy(kubeconfig, overlay, progress=lambda m: None)
