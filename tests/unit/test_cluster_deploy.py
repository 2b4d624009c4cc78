"""deploy refuses, without calling kubectl, what cannot work; its readiness check reads kubectl's JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

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
        quiet = args[0] in ("apply", "kustomize")
        return subprocess.CompletedProcess(args, 0, "" if quiet else next(answers), "")

    monkeypatch.setattr(deploy_mod, "_kubectl", fake)
    monkeypatch.setattr(deploy_mod.time, "sleep", lambda s: None)
    msgs: list[str] = []
    deploy(kubeconfig, overlay, namespace="ns", progress=msgs.append)
    assert calls[0] == ("kustomize", str(overlay))  # host paths prepared before the apply
    assert calls[1] == ("apply", "-k", str(overlay))
    assert len(calls) == 4
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


OWNER = "10100:10100"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_host_paths_of_annotated_pvs_are_created_with_their_owner(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old = tmp_path / "weaviate-0"
    (old / "raft").mkdir(parents=True)
    (old / "raft" / "raft.db").write_text("root-owned data of an older Weaviate")
    new = tmp_path / "weaviate-1"
    rendered = yaml.safe_dump_all(
        [
            {
                "kind": "PersistentVolume",
                "metadata": {
                    "name": f"pv-{p.name}",
                    "annotations": {deploy_mod.HOST_PATH_OWNER: "10100:10100"},
                },
                "spec": {"hostPath": {"path": str(p), "type": "DirectoryOrCreate"}},
            }
            for p in (old, new)
        ]
        + [{"kind": "PersistentVolume", "metadata": {"name": "plain"}, "spec": {"hostPath": {"path": "/x"}}}]
    )
    monkeypatch.setattr(
        deploy_mod, "_kubectl", lambda kc, *a, **kw: subprocess.CompletedProcess(a, 0, rendered, "")
    )
    done = deploy_mod.prepare_host_paths(tmp_path / "kc", tmp_path, progress=lambda m: None)
    assert done == [(str(old), 10100, 10100), (str(new), 10100, 10100)]
    for p in (old, old / "raft", old / "raft" / "raft.db", new):
        st = p.stat()
        assert (st.st_uid, st.st_gid) == (10100, 10100), p
    assert not Path("/x").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_files_an_old_root_pod_writes_during_the_rollout_are_given_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = tmp_path / "weaviate-2"
    rendered = yaml.safe_dump(
        {
            "kind": "PersistentVolume",
            "metadata": {"name": "pv", "annotations": {deploy_mod.HOST_PATH_OWNER: OWNER}},
            "spec": {"hostPath": {"path": str(data)}},
        }
    )
    polls = iter([workloads(("StatefulSet", "weaviate", 1, 0)), workloads(("StatefulSet", "weaviate", 1, 1))])

    def fake(kc: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        if args[0] == "kustomize":
            return subprocess.CompletedProcess(args, 0, rendered, "")
        if args[0] == "apply":  # the old pod, still running as root, writes at shutdown
            (data / "raft").mkdir()
            (data / "raft" / "users.json").write_text("{}")
            return subprocess.CompletedProcess(args, 0, "", "")
        return subprocess.CompletedProcess(args, 0, next(polls), "")

    monkeypatch.setattr(deploy_mod, "_kubectl", fake)
    monkeypatch.setattr(deploy_mod.time, "sleep", lambda s: None)
    (tmp_path / "kc").write_text("")
    deploy(tmp_path / "kc", tmp_path, namespace="ns", progress=lambda m: None)
    st = (data / "raft" / "users.json").stat()
    assert (st.st_uid, st.st_gid) == (10100, 10100)


def test_a_rolling_update_in_progress_is_not_ready(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    body = json.loads(workloads(("StatefulSet", "weaviate", 3, 3)))
    body["items"][0]["status"]["updatedReplicas"] = 1  # two pods still of the old revision
    monkeypatch.setattr(
        deploy_mod, "_kubectl", lambda *a, **k: subprocess.CompletedProcess(a, 0, json.dumps(body), "")
    )
    assert deploy_mod._not_ready(tmp_path / "kc", "ns") == ["StatefulSet/weaviate 1/3 updated"]
