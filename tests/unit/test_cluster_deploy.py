"""deploy refuses, without calling kubectl, what cannot work; it removes the store another of scaleproof's
overlays left in the namespace; it reports Ready only once every workload is rolled out (read through
scaleproof.kube, faked here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

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
    objs = [o for o in yaml.safe_load_all(rendered) if o]
    done = deploy_mod.prepare_host_paths(objs, progress=lambda m: None)
    assert done == [(str(old), 10100, 10100), (str(new), 10100, 10100)]
    for p in (old, old / "raft", old / "raft" / "raft.db", new):
        st = p.stat()
        assert (st.st_uid, st.st_gid) == (10100, 10100), p
    assert not Path("/x").exists()


# ---------------------------------------------------------------------- a fake API for the deploy
STORE = {"app.kubernetes.io/part-of": "scaleproof", "app.kubernetes.io/component": "vector-store"}


def workload(
    kind: str,
    name: str,
    want: int = 3,
    *,
    gen: int = 1,
    seen: int | None = 1,
    replicas: int | None = None,
    updated: int | None = None,
    ready: int | None = None,
    labels: dict[str, str] | None = None,
    revisions: tuple[str, str] = ("r1", "r1"),
) -> dict[str, Any]:
    """A Deployment/StatefulSet as the API serves it; counts default to `want` (rolled out)."""
    status: dict[str, Any] = {
        "replicas": want if replicas is None else replicas,
        "updatedReplicas": want if updated is None else updated,
        "readyReplicas": want if ready is None else ready,
        "availableReplicas": want if ready is None else ready,
    }
    if seen is not None:
        status["observedGeneration"] = seen
    if kind == "StatefulSet":
        status["currentRevision"], status["updateRevision"] = revisions
    return {
        "kind": kind,
        "metadata": {"name": name, "generation": gen, "labels": labels or {}},
        "spec": {"replicas": want, "selector": {"matchLabels": {"app.kubernetes.io/name": name}}},
        "status": status,
    }


def pod(name: str, app: str, ready: bool = True, terminating: bool = False, phase: str = "Running") -> dict:
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{name}", "labels": {"app.kubernetes.io/name": app}}
    if terminating:
        meta["deletionTimestamp"] = "2026-12-07T18:10:00Z"
    cond = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": meta, "status": {"phase": phase, "conditions": cond}}


class FakeApi:
    """`apps` and `core` of scaleproof.kube.KubeApis, raw dicts; `polls` are successive answers to the
    workload/pod lists (the last one repeats)."""

    def __init__(self, polls: list[tuple[list[dict], list[dict]]] | None = None) -> None:
        self.polls = polls or [([], [])]
        self.statefulsets: list[dict] = []
        self.services: list[dict] = []
        self.pods: list[dict] = []
        self.events: list[dict] = []
        self.calls: list[tuple[str, ...]] = []
        self.apps = self.core = self

    def _poll(self) -> tuple[list[dict], list[dict]]:
        return self.polls[0] if len(self.polls) == 1 else self.polls.pop(0)

    def list_namespaced_deployment(self, ns: str, **kw: Any) -> dict:
        self.calls.append(("list", "deployments"))
        return {"items": [w for w in self.polls[0][0] if w["kind"] == "Deployment"]}

    def list_namespaced_stateful_set(self, ns: str, label_selector: str | None = None, **kw: Any) -> dict:
        if label_selector:  # the store lookup before the apply
            self.calls.append(("list", "statefulsets", label_selector))
            want = dict(t.split("=") for t in label_selector.split(","))
            items = [s for s in self.statefulsets if want.items() <= s["metadata"]["labels"].items()]
            return {"items": items}
        return {"items": [w for w in self.polls[0][0] if w["kind"] == "StatefulSet"]}

    def list_namespaced_pod(self, ns: str, label_selector: str | None = None, **kw: Any) -> dict:
        if label_selector:  # waiting for a removed store's pods
            app = label_selector.split("=")[1]
            return {
                "items": [p for p in self.pods if p["metadata"]["labels"]["app.kubernetes.io/name"] == app]
            }
        _, pods = self._poll()
        return {"items": pods}

    def list_namespaced_service(self, ns: str, label_selector: str = "", **kw: Any) -> dict:
        want = dict(t.split("=") for t in label_selector.split(","))
        return {"items": [s for s in self.services if want.items() <= s["metadata"]["labels"].items()]}

    def delete_namespaced_stateful_set(self, name: str, ns: str, body: Any = None, **kw: Any) -> dict:
        self.calls.append(("delete", "StatefulSet", name))
        self.statefulsets = [s for s in self.statefulsets if s["metadata"]["name"] != name]
        self.pods = [p for p in self.pods if p["metadata"]["labels"]["app.kubernetes.io/name"] != name]
        return {}

    def delete_namespaced_service(self, name: str, ns: str, **kw: Any) -> dict:
        self.calls.append(("delete", "Service", name))
        self.services = [s for s in self.services if s["metadata"]["name"] != name]
        return {}

    def list_namespaced_event(self, ns: str, **kw: Any) -> dict:
        return {"items": self.events}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(deploy_mod, "_apis", lambda kubeconfig: fake)
    return fake


# ------------------------------------------------------------------------------ rolled out, or not
def test_ready_means_rolled_out_the_controller_saw_the_new_spec() -> None:
    """Issue 23: after the switch back to Weaviate, deploy said Ready 5.1 s in while a new pod was
    still being created: the Deployment's status still described the previous generation."""
    stale = workload("Deployment", "searchapp", gen=5, seen=4)  # old status: 3/3 ready and updated
    assert deploy_mod.rollout_pending([stale], []) == [
        "Deployment/searchapp generation 5 not observed by its controller yet (at 4)"
    ]
    assert deploy_mod.rollout_pending([workload("Deployment", "searchapp", gen=5, seen=None)], [])
    assert deploy_mod.rollout_pending([workload("Deployment", "searchapp", gen=5, seen=5)], []) == []


def test_a_rollout_with_old_replicas_or_a_new_pod_still_starting_is_pending() -> None:
    old_left = workload("Deployment", "searchapp", replicas=4, updated=3, ready=3)
    assert deploy_mod.rollout_pending([old_left], []) == [
        "Deployment/searchapp 1 old replica(s) pending termination"
    ]
    sts = workload("StatefulSet", "weaviate", updated=1)
    assert deploy_mod.rollout_pending([sts], []) == ["StatefulSet/weaviate 1/3 updated"]
    sts = workload("StatefulSet", "weaviate", revisions=("weaviate-7f", "weaviate-9c"))
    assert deploy_mod.rollout_pending([sts], []) == [
        "StatefulSet/weaviate pods still at revision weaviate-7f, not weaviate-9c"
    ]
    pods = [
        pod("searchapp-a", "searchapp"),
        pod("searchapp-b", "searchapp", ready=False),  # being created
        pod("searchapp-c", "searchapp", terminating=True),  # the old one, stopping
        pod("other-x", "other", ready=False),  # not this workload's
        pod("searchapp-job", "searchapp", ready=False, phase="Succeeded"),
    ]
    assert deploy_mod.rollout_pending([workload("Deployment", "searchapp")], pods) == [
        "Deployment/searchapp pod searchapp-b not Ready",
        "Deployment/searchapp pod searchapp-c terminating",
    ]


def test_wait_ready_polls_through_the_api_until_rolled_out(api: FakeApi, tmp_path: Path) -> None:
    creating = [workload("Deployment", "searchapp", ready=2)], [pod("searchapp-b", "searchapp", ready=False)]
    done = [workload("Deployment", "searchapp"), workload("StatefulSet", "weaviate")], []
    api.polls = [creating, creating, done]
    ticks: list[int] = []
    msgs: list[str] = []
    deploy_mod.wait_ready(tmp_path / "kc", 30, "ns", msgs.append, tick=lambda: ticks.append(1), poll_s=0)
    assert msgs == [
        "[deploy] waiting: Deployment/searchapp 2/3 ready; Deployment/searchapp 2/3 available; "
        "Deployment/searchapp pod searchapp-b not Ready",
        "[deploy] every workload in ns is rolled out and Ready",
    ]
    assert len(ticks) == 3, "the tick (chown of hostPath files) runs on every poll"


def test_wait_ready_timeout_names_what_is_pending_and_the_events(api: FakeApi, tmp_path: Path) -> None:
    api.polls = [([workload("StatefulSet", "qdrant", ready=0)], [pod("qdrant-0", "qdrant", ready=False)])]
    api.events = [
        {
            "lastTimestamp": "2026-12-07T18:07:03Z",
            "type": "Warning",
            "reason": "BackOff",
            "involvedObject": {"kind": "Pod", "name": "qdrant-0"},
            "message": "Back-off restarting failed container qdrant",
        }
    ]
    with pytest.raises(DeployError) as err:
        deploy_mod.wait_ready(tmp_path / "kc", 0.05, "ns", lambda m: None, poll_s=0.01)
    msg = str(err.value)
    assert msg.startswith(
        "not rolled out after 0 s: StatefulSet/qdrant 0/3 ready; StatefulSet/qdrant pod qdrant-0"
    )
    assert "Warning BackOff Pod/qdrant-0: Back-off restarting failed container qdrant" in msg


# ------------------------------------------------------------------- the other overlay's store
def _store(name: str, labels: dict[str, str] | None = None) -> dict:
    return workload("StatefulSet", name, labels=STORE if labels is None else labels)


def _svc(name: str, app: str, labels: dict[str, str] | None = None) -> dict:
    base = STORE if labels is None else labels
    return {"metadata": {"name": name, "labels": {**base, "app.kubernetes.io/name": app}}}


def test_other_stores_are_only_scaleproof_own_stores_of_another_overlay() -> None:
    qdrant_overlay = [_store("qdrant"), {"kind": "Deployment", "metadata": {"name": "searchapp"}}]
    live = [
        _store("weaviate"),  # overlays/local's store, left beside Qdrant
        _store("qdrant"),  # the overlay's own
        _store("weaviate-team", labels=STORE),  # labelled alike but no store of ours: never touched
        _store("weaviate", labels={"app.kubernetes.io/part-of": "someone-else"}),
    ]
    assert deploy_mod.other_stores(qdrant_overlay, live) == ["weaviate"]
    app_only = [{"kind": "Deployment", "metadata": {"name": "searchapp"}}]
    assert deploy_mod.other_stores(app_only, live) == [], "an overlay without a store switches none"


def test_switching_overlays_removes_the_other_store_and_says_so(api: FakeApi, tmp_path: Path) -> None:
    """Issue 23: `apply` of the Qdrant overlay left Weaviate's StatefulSet running beside Qdrant."""
    api.statefulsets = [_store("weaviate"), _store("qdrant")]
    api.services = [
        _svc("weaviate", "weaviate"),
        _svc("weaviate-headless", "weaviate"),
        _svc("weaviate-extra", "weaviate"),  # not one of the overlay's Service names: kept
        _svc("searchapp", "searchapp", labels={"app.kubernetes.io/part-of": "scaleproof"}),
    ]
    api.pods = [pod(f"weaviate-{i}", "weaviate") for i in range(3)]
    msgs: list[str] = []
    deleted = deploy_mod.remove_other_stores(tmp_path / "kc", [_store("qdrant")], "scaleproof", msgs.append)
    assert deleted == ["StatefulSet/weaviate", "Service/weaviate", "Service/weaviate-headless"]
    assert [c for c in api.calls if c[0] == "delete"] == [
        ("delete", "StatefulSet", "weaviate"),
        ("delete", "Service", "weaviate"),
        ("delete", "Service", "weaviate-headless"),
    ]
    assert [s["metadata"]["name"] for s in api.statefulsets] == ["qdrant"]
    assert {s["metadata"]["name"] for s in api.services} == {"weaviate-extra", "searchapp"}
    (msg,) = msgs
    assert "removed StatefulSet/weaviate, Service/weaviate, Service/weaviate-headless from scaleproof" in msg
    assert "PersistentVolumeClaims stay" in msg and "delete pvc -l app.kubernetes.io/name=weaviate" in msg


def test_keep_other_store_refuses_and_deletes_nothing(api: FakeApi, tmp_path: Path) -> None:
    api.statefulsets = [_store("weaviate")]
    with pytest.raises(
        DeployError, match=r"StatefulSet weaviate \(another scaleproof overlay's vector store\)"
    ):
        deploy_mod.remove_other_stores(tmp_path / "kc", [_store("qdrant")], "scaleproof", replace=False)
    assert not [c for c in api.calls if c[0] == "delete"]


def test_deploy_renders_prepares_replaces_applies_then_waits(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    overlay, kubeconfig = tmp_path / "overlay", tmp_path / "kc"
    overlay.mkdir()
    kubeconfig.write_text("")
    api.statefulsets = [_store("weaviate")]
    api.polls = [
        ([workload("StatefulSet", "qdrant", ready=1)], []),
        ([workload("StatefulSet", "qdrant")], []),
    ]
    rendered = yaml.safe_dump_all([_store("qdrant")])
    kubectl_calls: list[tuple[str, ...]] = []

    def fake(kc: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        kubectl_calls.append(args)
        return subprocess.CompletedProcess(args, 0, rendered if args[0] == "kustomize" else "", "")

    monkeypatch.setattr(deploy_mod, "_kubectl", fake)
    msgs: list[str] = []
    deploy(kubeconfig, overlay, namespace="scaleproof", progress=msgs.append, poll_s=0)
    assert kubectl_calls == [("kustomize", str(overlay)), ("apply", "-k", str(overlay))]
    assert [m.split(":")[0] for m in msgs] == [
        "[deploy] removed StatefulSet/weaviate from scaleproof",
        f"[deploy] kubectl apply -k {overlay}",
        "[deploy] waiting",
        "[deploy] every workload in scaleproof is rolled out and Ready",
    ]


def test_a_failed_render_or_apply_says_why(
    monkeypatch: pytest.MonkeyPatch, api: FakeApi, tmp_path: Path
) -> None:
    overlay, kubeconfig = tmp_path / "overlay", tmp_path / "kc"
    overlay.mkdir()
    kubeconfig.write_text("")
    monkeypatch.setattr(
        deploy_mod,
        "_kubectl",
        lambda kc, *a, **kw: subprocess.CompletedProcess(a, 1, "", "error: no kustomization\n"),
    )
    with pytest.raises(DeployError, match=r"kubectl kustomize .*overlay failed: error: no kustomization$"):
        deploy(kubeconfig, overlay, progress=lambda m: None)

    def apply_fails(kc: Path, *a: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(a, 0 if a[0] == "kustomize" else 1, "", "error: forbidden\n")

    monkeypatch.setattr(deploy_mod, "_kubectl", apply_fails)
    with pytest.raises(DeployError, match=r"kubectl apply -k .*overlay failed: error: forbidden$"):
        deploy(kubeconfig, overlay, progress=lambda m: None)


def test_own_stores_are_exactly_the_stores_of_the_project_overlays() -> None:
    """The removal touches only what scaleproof's overlays create: a StatefulSet named in OWN_STORES
    with the store labels, and its Services `<store>` / `<store>-headless`."""
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl not found: cannot render the overlays")
    k8s = Path(__file__).resolve().parents[2] / "k8s" / "overlays"
    seen: set[str] = set()
    for ov in sorted(p for p in k8s.iterdir() if p.is_dir()):
        out = subprocess.run([kubectl, "kustomize", str(ov)], capture_output=True, text=True, check=True)
        objs = [o for o in yaml.safe_load_all(out.stdout) if o]
        stores = [o for o in objs if o["kind"] == "StatefulSet"]
        assert len(stores) == 1, ov.name
        (store,) = stores
        name = store["metadata"]["name"]
        assert deploy_mod._is_own_store(store), ov.name
        services = {
            o["metadata"]["name"]
            for o in objs
            if o["kind"] == "Service"
            and deploy_mod._is_own_store({"metadata": {"name": name, "labels": o["metadata"].get("labels")}})
            and o["metadata"]["labels"].get("app.kubernetes.io/name") == name
        }
        assert services == {name, f"{name}-headless"}, ov.name
        seen.add(name)
    assert seen == set(deploy_mod.OWN_STORES)


def _runs(kind: str, name: str, *images: str, init: str | None = None) -> dict:
    spec: dict = {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]}
    if init:
        spec["initContainers"] = [{"name": "init", "image": init}]
    return {"kind": kind, "metadata": {"name": name}, "spec": {"template": {"spec": spec}}}


def test_the_images_an_overlay_runs_are_named_as_containerd_lists_them() -> None:
    objs = [
        _runs("StatefulSet", "qdrant", "docker.io/qdrant/qdrant:v1.18.3", init="busybox:1.36"),
        _runs("Deployment", "searchapp", "localhost/scaleproof/searchapp:0.1.0"),
        _runs("Deployment", "other", "qdrant/qdrant:v1.18.3", "registry.k8s.io:5000/pause:3.10"),
        {"kind": "Service", "metadata": {"name": "searchapp"}, "spec": {}},
    ]
    assert deploy_mod.overlay_images(objs) == [
        "docker.io/library/busybox:1.36",
        "docker.io/qdrant/qdrant:v1.18.3",
        "localhost/scaleproof/searchapp:0.1.0",
        "registry.k8s.io:5000/pause:3.10",
    ]
    imported = {
        "localhost/scaleproof/searchapp:0.1.0": "sha256:a",
        "docker.io/library/busybox:1.36": "sha256:b",
    }
    assert deploy_mod.missing_images(objs[:2], imported) == ["docker.io/qdrant/qdrant:v1.18.3"]


def test_an_overlay_whose_image_is_not_imported_is_refused_before_anything_changes(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On the local cluster: switching to Qdrant without its image would remove Weaviate and start
    nothing (seen 2026-12-08). The render is the only kubectl call; Weaviate stays."""
    import scaleproof.cluster.config as config_mod
    import scaleproof.cluster.images as images_mod

    overlay, state = tmp_path / "overlay", tmp_path / "state"
    overlay.mkdir()
    state.mkdir()
    (state / "admin.kubeconfig").write_text("")
    sock = tmp_path / "containerd.sock"
    sock.write_text("")
    monkeypatch.setenv("SCALEPROOF_STATE_DIR", str(state))
    monkeypatch.setattr(config_mod.ClusterConfig, "containerd_socket", property(lambda self: sock))
    monkeypatch.setattr(
        images_mod, "imported_digests", lambda cfg: {"localhost/scaleproof/searchapp:0.1.0": "x"}
    )
    api.statefulsets = [_store("weaviate")]
    qdrant = {**_store("qdrant"), **_runs("StatefulSet", "qdrant", "docker.io/qdrant/qdrant:v1.18.3")}
    qdrant["metadata"] = _store("qdrant")["metadata"]
    calls: list[tuple[str, ...]] = []

    def fake(kc: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, yaml.safe_dump_all([qdrant]), "")

    monkeypatch.setattr(deploy_mod, "_kubectl", fake)
    with pytest.raises(DeployError, match=r"docker.io/qdrant/qdrant:v1.18.3; nothing was changed"):
        deploy(state / "admin.kubeconfig", overlay, namespace="scaleproof", progress=lambda m: None)
    assert calls == [("kustomize", str(overlay))]
    assert not [c for c in api.calls if c[0] == "delete"]
