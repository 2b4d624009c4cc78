"""Offline checks of the Kubernetes manifests in k8s/.

Every overlay is rendered with `kubectl kustomize` (no cluster needed), each object is
validated against the official Kubernetes 1.35 JSON schemas shipped by
kubernetes-validate (strict: unknown fields fail), and the invariants the rest of the
project builds on are asserted (names, ports, labels, HPA, Weaviate/Qdrant cluster
settings, Prometheus config, RBAC, Grafana dashboard, addresses).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
KUBE_VERSION = "1.35"  # newest schema set <= 1.35 shipped by kubernetes-validate
NAMESPACE = "scaleproof"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"

OVERLAYS = ["local", "minikube", "qdrant", "qdrant-local"]
QDRANT_OVERLAYS = ["qdrant", "qdrant-local"]
NODE_OVERLAYS = ["local", "minikube"]  # the ones that run Weaviate + NodePorts
RENDERABLE = {
    "app": K8S / "app",
    "base": K8S / "base",
    "qdrant-base": K8S / "qdrant",
    **{f"overlay-{o}": K8S / "overlays" / o for o in OVERLAYS},
}
APP_METRICS = {
    "searchapp_requests_total",
    "searchapp_request_duration_seconds_bucket",
    "searchapp_requests_in_flight",
}
NODE_CPU_MILLI = 2000
SYSTEM_PODS_CPU_MILLI = 300  # CoreDNS, metrics-server, kube-state-metrics (estimate)
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}
CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "StorageClass", "ClusterRole", "ClusterRoleBinding"}

Obj = dict[str, Any]


# --------------------------------------------------------------------------- helpers
def _kubectl() -> str:
    if not os.path.exists(KUBECTL):
        pytest.skip("kubectl not found: cannot render kustomizations")
    return KUBECTL


@functools.cache
def _render_path(path: str) -> tuple[str, ...]:
    proc = subprocess.run(
        [_kubectl(), "kustomize", path], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"kubectl kustomize {path} failed:\n{proc.stderr}"
    return tuple(json.dumps(d) for d in yaml.safe_load_all(proc.stdout) if d)


def render(path: Path) -> list[Obj]:
    return [json.loads(s) for s in _render_path(str(path))]


def overlay(name: str) -> list[Obj]:
    return render(K8S / "overlays" / name)


def find(objs: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objs: list[Obj], kind: str, name: str) -> Obj:
    found = find(objs, kind, name)
    assert len(found) == 1, f"expected exactly one {kind}/{name}, found {len(found)}"
    return found[0]


def one_prefixed(objs: list[Obj], kind: str, prefix: str) -> Obj:
    """A generated object (kustomize appends -<hash>)."""
    found = [
        o
        for o in find(objs, kind)
        if o["metadata"]["name"] == prefix
        or re.fullmatch(rf"{re.escape(prefix)}-[a-z0-9]{{10}}", o["metadata"]["name"])
    ]
    assert len(found) == 1, (
        f"expected one {kind} named {prefix}[-hash], found {[o['metadata']['name'] for o in found]}"
    )
    return found[0]


def pod_spec(obj: Obj) -> Obj:
    return obj["spec"]["template"]["spec"]


def containers(obj: Obj) -> list[Obj]:
    spec = pod_spec(obj)
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def workloads(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] in WORKLOAD_KINDS]


def env_of(container: Obj) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def app_settings(objs: list[Obj]) -> dict[str, str]:
    dep = one(objs, "Deployment", "searchapp")
    refs = [
        r["configMapRef"]["name"]
        for r in pod_spec(dep)["containers"][0].get("envFrom", [])
        if "configMapRef" in r
    ]
    assert len(refs) == 1, "searchapp must take its settings from exactly one ConfigMap"
    return one(objs, "ConfigMap", refs[0])["data"]


def _quantity(q: str, what: str) -> Decimal:
    from kubernetes.utils import parse_quantity

    try:
        return parse_quantity(str(q))
    except ValueError:
        raise AssertionError(f"unparseable {what} quantity {q!r}") from None


def milli_cpu(q: str) -> int:
    return int(_quantity(q, "CPU") * 1000)


def mebibytes(q: str) -> float:
    return float(_quantity(q, "memory") / 2**20)


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
        # embedded documents (ConfigMap data holding YAML/JSON/shell) are plain strings: fine
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ------------------------------------------------------------------ schema validation
@pytest.mark.parametrize("name", sorted(RENDERABLE))
def test_every_object_is_valid_against_kubernetes_schemas(name: str) -> None:
    import kubernetes_validate

    objs = render(RENDERABLE[name])
    assert objs, f"{name} rendered nothing"
    errors = []
    for o in objs:
        try:
            kubernetes_validate.validate(o, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:  # type: ignore[attr-defined]
            errors.append(f"{o['kind']}/{o['metadata'].get('name')}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_schema_validation_rejects_unknown_fields() -> None:
    """Guard against a validator that silently accepts anything (e.g. wrong version)."""
    import kubernetes_validate

    dep = json.loads(json.dumps(one(overlay("local"), "Deployment", "searchapp")))
    pod_spec(dep)["containers"][0]["imagePullPolcy"] = "IfNotPresent"  # typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, KUBE_VERSION, strict=True)


# ---------------------------------------------------------------- images & resources
@pytest.mark.parametrize("ov", OVERLAYS)
def test_images_pinned_and_never_pulled_always(ov: str) -> None:
    for w in workloads(overlay(ov)):
        for c in containers(w):
            image = c["image"]
            last = image.rsplit("/", 1)[-1]
            assert ":" in last or "@sha256:" in image, f"{w['metadata']['name']}: untagged image {image}"
            assert not image.endswith(":latest"), f"{image} uses :latest"
            assert c.get("imagePullPolicy") in ("IfNotPresent", "Never"), (
                f"{image}: imagePullPolicy must be IfNotPresent/Never (this machine has no registry)"
            )


@pytest.mark.parametrize("ov", ["local"])  # minikube: upstream images, see test_minikube_overlay.py
def test_local_overlays_use_only_local_images(ov: str) -> None:
    images = {c["image"] for w in workloads(overlay(ov)) for c in containers(w)}
    assert images == {
        "localhost/scaleproof/searchapp:0.1.0",
        "localhost/scaleproof/weaviate:1.39.0",
        "localhost/scaleproof/prometheus:3.16.0",
    }


@pytest.mark.parametrize("ov", OVERLAYS)
def test_every_container_has_requests_and_limits(ov: str) -> None:
    for w in workloads(overlay(ov)):
        for c in containers(w):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    assert r in res.get(kind, {}), f"{w['metadata']['name']}/{c['name']}: no {kind}.{r}"
            assert milli_cpu(res["requests"]["cpu"]) <= milli_cpu(res["limits"]["cpu"])
            assert mebibytes(res["requests"]["memory"]) <= mebibytes(res["limits"]["memory"])


def test_contract_resources_of_searchapp_and_weaviate() -> None:
    objs = overlay("local")
    app = pod_spec(one(objs, "Deployment", "searchapp"))["containers"][0]["resources"]
    assert (milli_cpu(app["requests"]["cpu"]), mebibytes(app["requests"]["memory"])) == (200, 192)
    assert (milli_cpu(app["limits"]["cpu"]), mebibytes(app["limits"]["memory"])) == (
        1000,
        384,
    )  # 1000m: see the start-up note in deployment.yaml
    wv = pod_spec(one(objs, "StatefulSet", "weaviate"))["containers"][0]["resources"]
    assert (milli_cpu(wv["requests"]["cpu"]), mebibytes(wv["requests"]["memory"])) == (100, 256)


def test_cpu_requests_fit_the_two_core_node_at_hpa_max() -> None:
    objs = overlay("local")
    hpa = one(objs, "HorizontalPodAutoscaler", "searchapp")
    total = SYSTEM_PODS_CPU_MILLI
    for w in workloads(objs):
        if w["kind"] == "Deployment" and w["metadata"]["name"] == "searchapp":
            replicas = hpa["spec"]["maxReplicas"]
        else:
            replicas = w["spec"].get("replicas", 1)
        total += replicas * sum(milli_cpu(c["resources"]["requests"]["cpu"]) for c in containers(w))
    assert total <= NODE_CPU_MILLI, f"CPU requests at HPA max = {total}m > {NODE_CPU_MILLI}m"


# ------------------------------------------------------------------------------- app
def test_searchapp_deployment_contract() -> None:
    objs = overlay("local")
    dep = one(objs, "Deployment", "searchapp")
    assert "replicas" not in dep["spec"], "the HPA owns the replica count"
    assert dep["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "searchapp"}
    (c,) = pod_spec(dep)["containers"]
    assert c["image"] == "localhost/scaleproof/searchapp:0.1.0"
    assert "command" not in c and "args" not in c, "the image's default command runs the app"
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in c["ports"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    ann = dep["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "8080"
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_searchapp_settings_contract() -> None:
    assert app_settings(overlay("local")) == {
        "VECTOR_BACKEND": "weaviate",
        "WEAVIATE_HTTP_HOST": "weaviate.scaleproof.svc",
        "WEAVIATE_HTTP_PORT": "8080",
        "WEAVIATE_GRPC_HOST": "weaviate.scaleproof.svc",
        "WEAVIATE_GRPC_PORT": "50051",
        "COLLECTION": "Documents",
        "SHARDS": "3",
        "DRAIN_SECONDS": "5",
        "EMBED_DIM": "384",
    }


def test_settings_point_at_services_that_exist() -> None:
    objs = overlay("local")
    s = app_settings(objs)
    svc = one(objs, "Service", s["WEAVIATE_HTTP_HOST"].split(".")[0])
    ports = {p["port"] for p in svc["spec"]["ports"]}
    assert {int(s["WEAVIATE_HTTP_PORT"]), int(s["WEAVIATE_GRPC_PORT"])} <= ports


def test_graceful_shutdown_budget() -> None:
    """preStop sleep + app drain must finish inside terminationGracePeriodSeconds."""
    objs = overlay("local")
    dep = one(objs, "Deployment", "searchapp")
    c = pod_spec(dep)["containers"][0]
    cmd = c["lifecycle"]["preStop"]["exec"]["command"]
    assert cmd[0] == "/bin/sleep" and len(cmd) == 2
    pre_stop = int(cmd[1])
    drain = int(app_settings(objs)["DRAIN_SECONDS"])
    grace = pod_spec(dep)["terminationGracePeriodSeconds"]
    assert pre_stop >= 5, "preStop must outlast endpoint removal (EndpointSlice + kube-proxy)"
    assert pre_stop + drain + 5 <= grace, f"{pre_stop}s + {drain}s + 5s margin > grace {grace}s"


def test_searchapp_service() -> None:
    svc = one(overlay("local"), "Service", "searchapp")
    (port,) = svc["spec"]["ports"]
    assert (port["port"], port["targetPort"], port["name"]) == (80, "http", "http")


def test_hpa_contract() -> None:
    objs = overlay("local")
    hpa = one(objs, "HorizontalPodAutoscaler", "searchapp")
    assert hpa["apiVersion"] == "autoscaling/v2"
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"], ref["name"]) == ("apps/v1", "Deployment", "searchapp")
    one(objs, "Deployment", ref["name"])
    assert hpa["spec"]["minReplicas"] == 1
    assert hpa["spec"]["maxReplicas"] == 5 <= 6
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in hpa["spec"]["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 50},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }
    up = hpa["spec"]["behavior"]["scaleUp"]
    down = hpa["spec"]["behavior"]["scaleDown"]
    assert up["stabilizationWindowSeconds"] == 0
    policies = {(p["type"], p["value"], p["periodSeconds"]) for p in up["policies"]}
    assert {("Percent", 100, 15), ("Pods", 2, 15)} <= policies
    assert up.get("selectPolicy", "Max") == "Max", "the most generous scale-up policy must win"
    assert down["stabilizationWindowSeconds"] == 300


def test_pdb_selects_the_app() -> None:
    objs = overlay("local")
    pdb = one(objs, "PodDisruptionBudget", "searchapp")
    assert pdb["spec"]["minAvailable"] == 1
    labels = one(objs, "Deployment", "searchapp")["spec"]["template"]["metadata"]["labels"]
    assert selector_matches(pdb["spec"]["selector"]["matchLabels"], labels)


# ------------------------------------------------------------- selectors and labels
@pytest.mark.parametrize("ov", OVERLAYS)
def test_workload_selectors_match_their_templates(ov: str) -> None:
    for w in workloads(overlay(ov)):
        sel = w["spec"]["selector"]["matchLabels"]
        assert selector_matches(sel, w["spec"]["template"]["metadata"]["labels"]), w["metadata"]["name"]


@pytest.mark.parametrize("ov", OVERLAYS)
def test_every_service_selects_exactly_one_workload_and_its_ports_exist(ov: str) -> None:
    objs = overlay(ov)
    for svc in find(objs, "Service"):
        sel = svc["spec"]["selector"]
        matched = [
            w for w in workloads(objs) if selector_matches(sel, w["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(matched) == 1, f"Service {svc['metadata']['name']} selects {len(matched)} workloads"
        cports = [p for c in pod_spec(matched[0])["containers"] for p in c.get("ports", [])]
        for p in svc["spec"]["ports"]:
            tp = p.get("targetPort", p["port"])
            ok = any(
                (cp.get("name") == tp if isinstance(tp, str) else cp["containerPort"] == tp)
                and cp.get("protocol", "TCP") == p.get("protocol", "TCP")
                for cp in cports
            )
            assert ok, f"Service {svc['metadata']['name']} port {p} has no matching container port"


@pytest.mark.parametrize("ov", OVERLAYS)
def test_recommended_labels_and_namespace(ov: str) -> None:
    objs = overlay(ov)
    for o in objs:
        if o["kind"] not in CLUSTER_SCOPED:
            assert o["metadata"].get("namespace") == NAMESPACE, f"{o['kind']}/{o['metadata']['name']}"
        assert o["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "scaleproof", (
            f"{o['kind']}/{o['metadata']['name']} lacks part-of=scaleproof"
        )
    for w in workloads(objs):
        labels = w["spec"]["template"]["metadata"]["labels"]
        for key in ("name", "part-of", "component", "version"):
            assert f"app.kubernetes.io/{key}" in labels, f"{w['metadata']['name']}: no {key} label"
        tag = pod_spec(w)["containers"][0]["image"].rsplit(":", 1)[-1].lstrip("v")
        assert labels["app.kubernetes.io/version"] == tag, (
            f"{w['metadata']['name']}: version label != image tag"
        )


# ------------------------------------------------------------------------- NodePorts
@pytest.mark.parametrize("ov", NODE_OVERLAYS)
def test_nodeports_as_in_contract(ov: str) -> None:
    objs = overlay(ov)
    got = {
        (s["metadata"]["name"], p["name"]): p["nodePort"]
        for s in find(objs, "Service")
        for p in s["spec"]["ports"]
        if "nodePort" in p
    }
    assert got == {
        ("searchapp", "http"): 30080,
        ("weaviate", "http"): 30081,
        ("weaviate", "grpc"): 30051,
        ("prometheus", "http"): 30090,
    }
    assert len(set(got.values())) == len(got)
    for name in ("searchapp", "weaviate", "prometheus"):
        assert one(objs, "Service", name)["spec"]["type"] == "NodePort"


def test_qdrant_overlay_has_no_nodeports_and_no_duplicates() -> None:
    ports = [p.get("nodePort") for s in find(overlay("qdrant"), "Service") for p in s["spec"]["ports"]]
    assert [p for p in ports if p] == []


# -------------------------------------------------------------------------- Weaviate
@pytest.mark.parametrize("ov", NODE_OVERLAYS)
def test_weaviate_cluster_settings(ov: str) -> None:
    objs = overlay(ov)
    sts = one(objs, "StatefulSet", "weaviate")
    replicas = sts["spec"]["replicas"]
    assert replicas == 3
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    headless = one(objs, "Service", sts["spec"]["serviceName"])
    assert headless["metadata"]["name"] == "weaviate-headless"
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    (c,) = pod_spec(sts)["containers"]
    # upstream's image (minikube overlay) has the server at /bin/weaviate
    assert c["command"] == (["/bin/weaviate"] if ov == "minikube" else ["/bin/weaviate-server"])
    assert c["args"] == ["--host", "0.0.0.0", "--port", "8080", "--scheme", "http"]
    env = env_of(c)
    assert int(env["RAFT_BOOTSTRAP_EXPECT"]) == replicas
    raft_join = env["RAFT_JOIN"].split(",")
    assert raft_join == [f"weaviate-{i}" for i in range(replicas)], "RAFT_JOIN must name the pods"
    assert len(raft_join) == int(env["RAFT_BOOTSTRAP_EXPECT"]), "chart rule: voters == RAFT_JOIN nodes"
    assert env["CLUSTER_HOSTNAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    join_hosts = [h.split(":")[0] for h in env["CLUSTER_JOIN"].split(",")]
    assert all(
        h.startswith("weaviate-headless.scaleproof.svc") or ".weaviate-headless." in h for h in join_hosts
    )
    assert (env["CLUSTER_GOSSIP_BIND_PORT"], env["CLUSTER_DATA_BIND_PORT"]) == ("7946", "7947")
    expected = {
        "PERSISTENCE_DATA_PATH": "/var/lib/weaviate",
        "DEFAULT_VECTORIZER_MODULE": "none",
        "ENABLE_MODULES": "",
        "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
        "PROMETHEUS_MONITORING_ENABLED": "true",
        "PROMETHEUS_MONITORING_PORT": "2112",
        "DISABLE_TELEMETRY": "true",
        "GRPC_PORT": "50051",
    }
    assert {k: env.get(k) for k in expected} == expected
    assert "QUERY_DEFAULTS_LIMIT" in env and re.fullmatch(r"\d+MiB", env["GOMEMLIMIT"])
    assert mebibytes(env["GOMEMLIMIT"][:-1]) < mebibytes(c["resources"]["limits"]["memory"]), (
        "GOMEMLIMIT must sit below the container memory limit"
    )
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["weaviate-data"] == env["PERSISTENCE_DATA_PATH"]
    ann = sts["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/port"] == env["PROMETHEUS_MONITORING_PORT"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/v1/.well-known/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/v1/.well-known/live"
    client = one(objs, "Service", "weaviate")
    assert {(p["name"], p["port"]) for p in client["spec"]["ports"]} == {("http", 8080), ("grpc", 50051)}


def test_local_weaviate_storage_is_prebound_hostpath_pvs() -> None:
    objs = overlay("local")
    sts = one(objs, "StatefulSet", "weaviate")
    (vct,) = sts["spec"]["volumeClaimTemplates"]
    assert vct["spec"]["resources"]["requests"]["storage"] == "1Gi"
    cls = vct["spec"]["storageClassName"]
    sc = one(objs, "StorageClass", cls)
    assert sc["provisioner"] == "kubernetes.io/no-provisioner"
    assert not any(
        "emptyDir" in v and v["name"] == vct["metadata"]["name"] for v in pod_spec(sts).get("volumes", [])
    )
    pvs = [pv for pv in find(objs, "PersistentVolume") if pv["spec"]["storageClassName"] == cls]
    claims = {(pv["spec"]["claimRef"]["namespace"], pv["spec"]["claimRef"]["name"]) for pv in pvs}
    wanted = {(NAMESPACE, f"{vct['metadata']['name']}-weaviate-{i}") for i in range(sts["spec"]["replicas"])}
    assert claims == wanted, "one PV pre-bound to each StatefulSet claim"
    paths = [pv["spec"]["hostPath"]["path"] for pv in pvs]
    assert len(set(paths)) == len(paths), "each Weaviate node needs its own directory"
    for pv in pvs:
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
        assert pv["spec"]["accessModes"] == vct["spec"]["accessModes"]


def test_minikube_uses_standard_storage_class() -> None:
    objs = overlay("minikube")
    (vct,) = one(objs, "StatefulSet", "weaviate")["spec"]["volumeClaimTemplates"]
    assert vct["spec"]["storageClassName"] == "standard"
    assert not find(objs, "PersistentVolume") and not find(objs, "StorageClass")


# ---------------------------------------------------------------------------- Qdrant
def test_qdrant_cluster_follows_the_official_chart() -> None:
    objs = overlay("qdrant")
    assert not find(objs, "StatefulSet", "weaviate"), "the qdrant overlay replaces Weaviate"
    assert not [s for s in find(objs, "Service") if s["metadata"]["name"].startswith("weaviate")]
    sts = one(objs, "StatefulSet", "qdrant")
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["podManagementPolicy"] == "Parallel", "OrderedReady deadlocks (chart values.yaml)"
    headless = one(objs, "Service", sts["spec"]["serviceName"])
    assert headless["metadata"]["name"] == "qdrant-headless"
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    assert {(p["name"], p["port"]) for p in headless["spec"]["ports"]} == {
        ("http", 6333),
        ("grpc", 6334),
        ("p2p", 6335),
    }
    client = one(objs, "Service", "qdrant")
    assert {("http", 6333), ("grpc", 6334)} <= {(p["name"], p["port"]) for p in client["spec"]["ports"]}
    (c,) = pod_spec(sts)["containers"]
    assert re.fullmatch(r"docker\.io/qdrant/qdrant:v\d+\.\d+\.\d+", c["image"])
    assert {p["containerPort"] for p in c["ports"]} == {6333, 6334, 6335}
    assert env_of(c)["QDRANT__CLUSTER__ENABLED"] == "true"
    assert c["command"] == ["/bin/bash", "-c"] and c["args"] == ["./config/initialize.sh"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": 6333}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    (vct,) = sts["spec"]["volumeClaimTemplates"]
    assert mounts["/qdrant/storage"]["name"] == vct["metadata"]["name"], (
        "peer id + Raft state must be on a PVC"
    )
    cfg_vol = mounts["/qdrant/config/initialize.sh"]["name"]
    vol = next(v for v in pod_spec(sts)["volumes"] if v["name"] == cfg_vol)
    assert vol["configMap"]["defaultMode"] & 0o111, "initialize.sh must be executable"
    cm = one(objs, "ConfigMap", vol["configMap"]["name"])
    prod = yaml.safe_load(cm["data"]["production.yaml"])
    assert prod["cluster"]["enabled"] is True and prod["cluster"]["p2p"]["port"] == 6335
    ann = sts["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and ann["prometheus.io/port"] == "6333"


def _run_initialize(script: str, hostname: str, tmp_path: Path) -> list[str]:
    proc = _initialize(script, hostname, tmp_path, dns_misses=0)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    return lines[lines.index(next(line for line in lines if line.startswith("--"))) :]


def _initialize(
    script: str, hostname: str, tmp_path: Path, dns_misses: int, wait_s: int = 300
) -> subprocess.CompletedProcess[str]:
    """Run initialize.sh with a fake entrypoint, a `getent` that fails `dns_misses` times (a DNS
    record not published yet) and a `sleep` that returns at once."""
    bash = shutil.which("bash")
    if not bash:
        pytest.skip("bash not available")
    (tmp_path / "initialize.sh").write_text(script)
    fakes = {
        "entrypoint.sh": 'for a in "$@"; do echo "$a"; done',
        "bin/getent": f'echo "$2" >> "{tmp_path}/lookups"; n=$(wc -l < "{tmp_path}/lookups"); '
        f'[ "$n" -gt {dns_misses} ] && echo "127.0.0.1 $2"',
        "bin/sleep": "exit 0",
    }
    for name, body in fakes.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(f"#!/bin/sh\n{body}\n")
        (tmp_path / name).chmod(0o755)
    return subprocess.run(
        [bash, "initialize.sh"],
        cwd=tmp_path,
        env={
            "HOSTNAME": hostname,
            "PATH": f"{tmp_path}/bin:{os.environ.get('PATH', '')}",
            "QDRANT_DNS_WAIT_SECONDS": str(wait_s),
        },
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("qdrant-0", ["--uri", "http://qdrant-0.qdrant-headless:6335"]),
        (
            "qdrant-1",
            [
                "--bootstrap",
                "http://qdrant-0.qdrant-headless:6335",
                "--uri",
                "http://qdrant-1.qdrant-headless:6335",
            ],
        ),
        (
            "qdrant-2",
            [
                "--bootstrap",
                "http://qdrant-0.qdrant-headless:6335",
                "--uri",
                "http://qdrant-2.qdrant-headless:6335",
            ],
        ),
    ],
)
def test_qdrant_bootstrap_logic_runs_like_the_chart(
    hostname: str, expected: list[str], tmp_path: Path
) -> None:
    """Execute the rendered initialize.sh with a fake entrypoint and check the peer flags."""
    objs = overlay("qdrant")
    script = one_prefixed(objs, "ConfigMap", "qdrant")["data"]["initialize.sh"]
    args = _run_initialize(script, hostname, tmp_path)
    assert args == expected
    sts = one(objs, "StatefulSet", "qdrant")
    for uri in args[1::2]:
        host = re.match(r"http://([^:/]+):(\d+)", uri)
        assert host, uri
        pod, svc = host.group(1).split(".")
        assert svc == sts["spec"]["serviceName"] and re.fullmatch(r"qdrant-\d", pod)
        assert int(pod.rsplit("-", 1)[1]) < sts["spec"]["replicas"]


@pytest.mark.parametrize("ov", QDRANT_OVERLAYS)
def test_qdrant_overlay_switches_the_app_backend(ov: str) -> None:
    objs = overlay(ov)
    s = app_settings(objs)
    assert s["VECTOR_BACKEND"] == "qdrant"
    assert "QDRANT_URL" not in s, "a ConfigMap cannot expand the namespace: the URL is set in env"
    sts = one(objs, "StatefulSet", "qdrant")
    assert s["QDRANT_EXPECTED_PEERS"] == str(sts["spec"]["replicas"]), "create the collection once all joined"
    c = pod_spec(one(objs, "Deployment", "searchapp"))["containers"][0]
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert [e["name"] for e in c["env"]].index("POD_NAMESPACE") < [e["name"] for e in c["env"]].index(
        "QDRANT_URL"
    ), "$(VAR) expands only variables defined earlier"
    url = env["QDRANT_URL"]["value"]
    assert url == "http://qdrant.$(POD_NAMESPACE).svc:6333"
    svc = one(objs, "Service", url.split("//")[1].split(".")[0])
    assert 6333 in {p["port"] for p in svc["spec"]["ports"]}
    from searchapp.settings import Settings

    st = Settings.from_env({**s, "QDRANT_URL": url.replace("$(POD_NAMESPACE)", "other-ns")})
    assert st.qdrant_url == "http://qdrant.other-ns.svc:6333" and st.qdrant_expected_peers == 3
    # the ConfigMap name still carries a content hash, so the switch rolls the app pods
    assert one_prefixed(objs, "ConfigMap", "searchapp-config")["metadata"]["name"] != "searchapp-config"


# ------------------------------------------------------------------------ Prometheus
def _prometheus(objs: list[Obj]) -> tuple[Obj, Obj, str]:
    dep = one(objs, "Deployment", "prometheus")
    vol = next(v for v in pod_spec(dep)["volumes"] if "configMap" in v)
    cm = one(objs, "ConfigMap", vol["configMap"]["name"])
    return dep, cm, cm["data"]["prometheus.yml"]


SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def _jobs(text: str) -> dict[str, Obj]:
    return {j["job_name"]: j for j in yaml.safe_load(text)["scrape_configs"]}


def _relabel(job: Obj, source: str) -> list[Obj]:
    return [r for r in job.get("relabel_configs", []) if source in r.get("source_labels", [])]


@pytest.mark.parametrize("ov", OVERLAYS)
def test_prometheus_discovers_every_annotated_workload_through_the_api(ov: str) -> None:
    """Upstream's Kubernetes example: pods by prometheus.io/* annotations (role pod), labelled with
    namespace/pod/container; no DNS jobs. Every annotated workload declares the annotated port."""
    objs = overlay(ov)
    dep, _, text = _prometheus(objs)
    cfg = yaml.safe_load(text)
    assert cfg["global"]["scrape_interval"] == "5s"
    assert not any("dns_sd_configs" in j for j in cfg["scrape_configs"]), "DNS-based jobs are gone"
    pods = _jobs(text)["kubernetes-pods"]
    assert pods["kubernetes_sd_configs"] == [{"role": "pod"}]
    keep = _relabel(pods, "__meta_kubernetes_pod_annotation_prometheus_io_scrape")
    assert keep and keep[0]["action"] == "keep" and keep[0]["regex"] == "true"
    (path,) = _relabel(pods, "__meta_kubernetes_pod_annotation_prometheus_io_path")
    assert path["target_label"] == "__metrics_path__"
    (port,) = _relabel(pods, "__meta_kubernetes_pod_annotation_prometheus_io_port")
    assert port["target_label"] == "__address__" and port["replacement"] == "$1:$2"
    assert re.fullmatch(port["regex"], "198.18.1.7:50051;2112").expand(r"\1:\2") == "198.18.1.7:2112"
    assert re.fullmatch(port["regex"], "198.18.1.7;8080").expand(r"\1:\2") == "198.18.1.7:8080"
    labels = {r["target_label"]: r["source_labels"] for r in pods["relabel_configs"] if "target_label" in r}
    assert labels["namespace"] == ["__meta_kubernetes_namespace"]
    assert labels["pod"] == ["__meta_kubernetes_pod_name"]
    assert labels["container"] == ["__meta_kubernetes_pod_container_name"]
    scraped = set()
    for w in workloads(objs):
        ann = w["spec"]["template"]["metadata"].get("annotations", {})
        if ann.get("prometheus.io/scrape") != "true":
            continue
        name = w["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        scraped.add(name)
        declared = {p["containerPort"] for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
        assert int(ann["prometheus.io/port"]) in declared, f"{name}: annotated port is not declared"
    assert "searchapp" in scraped and ({"qdrant"} if ov in QDRANT_OVERLAYS else {"weaviate"}) <= scraped
    args = pod_spec(dep)["containers"][0]["args"]
    assert "--storage.tsdb.retention.time=6h" in args
    conf_arg = next(a for a in args if a.startswith("--config.file="))
    mount = next(m for m in pod_spec(dep)["containers"][0]["volumeMounts"] if m["name"] == "config")
    assert conf_arg == f"--config.file={mount['mountPath']}/prometheus.yml"
    assert any("emptyDir" in v for v in pod_spec(dep)["volumes"])


def test_prometheus_scrapes_kubelet_cadvisor_and_apiserver_with_its_token() -> None:
    jobs = _jobs(_prometheus(overlay("local"))[2])
    for name, path in (("kubernetes-nodes", "/metrics"), ("kubernetes-cadvisor", "/metrics/cadvisor")):
        job = jobs[name]
        assert job["kubernetes_sd_configs"] == [{"role": "node"}]
        assert job.get("metrics_path", "/metrics") == path
    api = jobs["kubernetes-apiservers"]
    assert api["kubernetes_sd_configs"][0]["role"] == "endpointslice"
    assert api["relabel_configs"][0]["regex"] == "default;kubernetes;https"
    for name in ("kubernetes-nodes", "kubernetes-cadvisor", "kubernetes-apiservers"):
        job = jobs[name]
        assert job["scheme"] == "https"
        assert job["tls_config"] == {"ca_file": f"{SA_DIR}/ca.crt"}, "verified TLS, no insecure_skip_verify"
        assert job["authorization"] == {"credentials_file": f"{SA_DIR}/token"}


def test_searchapp_discovery_service_publishes_ready_pods_only() -> None:
    svc = one(overlay("local"), "Service", "searchapp-headless")
    assert svc["spec"]["clusterIP"] == "None"
    assert not svc["spec"].get("publishNotReadyAddresses", False), 'count(up{job="searchapp"}) = ready pods'


def _promtool() -> str | None:
    """The promtool built with Prometheus 3.16 (Debian's 2.42 one has no Kubernetes discovery)."""
    from scaleproof.cluster.config import ClusterConfig

    built = ClusterConfig().binary("promtool")
    return str(built) if built.exists() else None


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = _promtool()
    if not promtool:
        pytest.skip("promtool not built yet (`scaleproof cluster up` builds Prometheus 3.16)")
    _, _, text = _prometheus(overlay("local"))
    (tmp_path / "prometheus.yml").write_text(text)
    proc = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prometheus_rbac_is_what_discovery_needs_read_only() -> None:
    """upstream's rbac-setup.yml less ingresses, EndpointSlices for Endpoints; bound to the pod's SA."""
    objs = overlay("local")
    dep = one(objs, "Deployment", "prometheus")
    sa = pod_spec(dep)["serviceAccountName"]
    assert pod_spec(dep)["automountServiceAccountToken"] is True
    (binding,) = [
        b
        for b in find(objs, "RoleBinding") + find(objs, "ClusterRoleBinding")
        if any(s.get("name") == sa for s in b["subjects"])
    ]
    assert binding["kind"] == "ClusterRoleBinding" and binding["subjects"][0]["namespace"] == NAMESPACE
    role = one(objs, "ClusterRole", binding["roleRef"]["name"])
    granted = {
        (g, res, v)
        for r in role["rules"]
        for g in r.get("apiGroups", [])
        for res in r["resources"]
        for v in r["verbs"]
    }
    expected = {
        (g, res, v)
        for g, resources in (
            ("", ["nodes", "nodes/metrics", "services", "pods"]),
            ("discovery.k8s.io", ["endpointslices"]),
        )
        for res in resources
        for v in ("get", "list", "watch")
    }
    assert granted == expected
    urls = [r for r in role["rules"] if "nonResourceURLs" in r]
    assert urls == [{"nonResourceURLs": ["/metrics", "/metrics/cadvisor"], "verbs": ["get"]}]


def test_prometheus_pod_meets_the_restricted_pod_security_standard() -> None:
    spec = pod_spec(one(overlay("local"), "Deployment", "prometheus"))
    pod_sc = spec.get("securityContext", {})
    assert pod_sc.get("runAsNonRoot") is True and pod_sc.get("runAsUser", 0) != 0
    assert pod_sc.get("seccompProfile") == {"type": "RuntimeDefault"}
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    assert not any("hostPath" in v for v in spec["volumes"])
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert not sc.get("privileged")


# ------------------------------------------------------------------------------ RBAC
@pytest.mark.parametrize("ov", OVERLAYS)
def test_no_cluster_wide_rbac_and_no_wildcards(ov: str) -> None:
    objs = overlay(ov)
    # two cluster-wide grants: Prometheus' read-only discovery, the node faults' (nodes are cluster-scoped;
    # tests/unit/test_rbac.py derives chaos-runner-nodes from the client calls)
    names = sorted(r["metadata"]["name"] for r in find(objs, "ClusterRole"))
    assert names == ["chaos-runner-nodes", "scaleproof-prometheus"]
    assert sorted(b["roleRef"]["name"] for b in find(objs, "ClusterRoleBinding")) == names
    for rule in one(objs, "ClusterRole", "scaleproof-prometheus")["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}, "Prometheus only reads"
    for rule in one(objs, "ClusterRole", "chaos-runner-nodes")["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch", "patch", "create"}
        assert "patch" not in rule["verbs"] or rule["resources"] == ["nodes"], "cordon only"
        assert "create" not in rule["verbs"] or rule["resources"] == ["pods/eviction"], "only evictions"
    for role in find(objs, "ClusterRole") + find(objs, "Role"):
        for rule in role["rules"]:
            assert "*" not in [*rule["verbs"], *rule.get("resources", []), *rule.get("apiGroups", [])]
    for role in find(objs, "Role"):
        for rule in role["rules"]:
            for field in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule.get(field, []), f"Role {role['metadata']['name']}: wildcard in {field}"
            assert "resourceNames" not in rule or rule["resourceNames"]


def test_chaos_runner_role_grants_exactly_the_contract() -> None:
    objs = overlay("local")
    role = one(objs, "Role", "chaos-runner")
    assert role["metadata"]["namespace"] == NAMESPACE
    granted = {
        (g, res, v)
        for r in role["rules"]
        for g in r["apiGroups"]
        for res in r["resources"]
        for v in r["verbs"]
    }
    from tests.unit.test_rbac import required_rules  # derived from the client calls of the providers

    expected = required_rules()
    assert granted == expected, f"missing: {expected - granted}; extra: {granted - expected}"
    binding = one(objs, "RoleBinding", "chaos-runner")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "chaos-runner",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "chaos-runner", "namespace": NAMESPACE}]
    one(objs, "ServiceAccount", "chaos-runner")


# --------------------------------------------------------------------------- Grafana
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "le",
    "inf",
    "nan",
}


def promql_metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", "0", expr)  # numbers (1e-9)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        word = m.group(0)
        rest = expr[m.end() :].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS or re.fullmatch(r"\d.*", word):
            continue
        if re.fullmatch(r"e\d+", word):  # exponent of 1e9
            continue
        names.add(word)
    return names


def test_promql_metric_name_extraction() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le) (rate(searchapp_request_duration_seconds_bucket"
        '{job="searchapp",status=~"5.."}[1m]))) / clamp_min(sum(up{job="x"}), 1e-9)'
    )
    assert promql_metric_names(expr) == {"searchapp_request_duration_seconds_bucket", "up"}


def _dashboard() -> Obj:
    return json.loads((K8S / "grafana" / "scaleproof-dashboard.json").read_text())


#: values the dashboard's template variables take for this project's reference app
DASHBOARD_VARS = {
    "$namespace": NAMESPACE,
    "$container": "searchapp",
    "$pod_regex": "searchapp-[a-z0-9]+-[a-z0-9]+",
}


def dashboard_panels(optional: bool | None = None) -> list[Obj]:
    """Query panels; those nested in a collapsed row titled "Optional…" are the optional ones."""
    out = []
    for p in _dashboard()["panels"]:
        if p["type"] != "row":
            out.append((False, p))
        for inner in p.get("panels", []):
            out.append((p["title"].lower().startswith("optional"), inner))
    return [p for opt, p in out if optional is None or opt == optional]


def dashboard_queries(optional: bool | None = None) -> list[tuple[str, str]]:
    """(panel title, PromQL with the template variables filled in)."""
    out = []
    for p in dashboard_panels(optional):
        for t in p["targets"]:
            expr = t["expr"]
            for var, value in DASHBOARD_VARS.items():
                expr = expr.replace(var, value)
            out.append((p["title"], expr))
    return out


def test_grafana_dashboard_structure() -> None:
    dash = _dashboard()
    assert 36 <= dash["schemaVersion"] <= 41
    assert dash["uid"] and dash["title"]
    var = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
    assert var and var[0]["query"] == "prometheus"
    assert {v["name"] for v in dash["templating"]["list"]} >= {"namespace", "container", "pod_regex"}
    ds_ref = "${" + var[0]["name"] + "}"
    panels = dashboard_panels()
    ids = [p["id"] for p in panels] + [p["id"] for p in dash["panels"] if p["type"] == "row"]
    assert len(ids) == len(set(ids))
    titles = " ".join(p["title"].lower() for p in dashboard_panels(optional=False))
    for word in ("replicas", "cpu", "request rate", "latency", "error"):
        assert word in titles, f"no {word} panel"
    rows = [p for p in dash["panels"] if p["type"] == "row"]
    assert [r["collapsed"] for r in rows if r["title"].lower().startswith("optional")] == [True]
    for p in panels:
        assert p["datasource"]["uid"] == ds_ref
        assert p["targets"], f"panel {p['title']} has no target"
        for t in p["targets"]:
            assert t["expr"].strip() and t["datasource"]["uid"] == ds_ref
            assert "job=" not in t["expr"], "no job name: it depends on how a team names its scrape jobs"


def test_grafana_queries_use_only_metrics_this_stack_exports() -> None:
    """cAdvisor, kubelet, up and the app's metrics in the main rows; kube-state-metrics only optional."""
    exported = APP_METRICS | {
        "up",
        "container_start_time_seconds",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "kubelet_running_pods",
    }
    ksm = {
        "kube_deployment_spec_replicas",
        "kube_deployment_status_replicas_ready",
        "kube_horizontalpodautoscaler_status_desired_replicas",
    }
    used: set[str] = set()
    for p in dashboard_panels(optional=False):
        names = set().union(*(promql_metric_names(t["expr"]) for t in p["targets"]))
        assert names, f"panel {p['title']} queries no metric"
        assert names <= exported, f"panel {p['title']} uses metrics this stack lacks: {names - exported}"
        used |= names
    assert APP_METRICS <= used, f"app metrics not shown: {APP_METRICS - used}"
    for p in dashboard_panels(optional=True):
        assert set().union(*(promql_metric_names(t["expr"]) for t in p["targets"])) <= ksm
    exprs = [e for _, e in dashboard_queries(optional=False)]
    assert any(e.startswith("count(count by (pod) (container_start_time_seconds") for e in exprs)


def test_every_dashboard_query_parses_with_promtool() -> None:
    """Prometheus' own parser (`promtool promql format`), offline, on every panel's PromQL."""
    promtool = _promtool()
    if not promtool:
        pytest.skip("promtool not built yet (`scaleproof cluster up` builds Prometheus 3.16)")
    bad = []
    for title, expr in dashboard_queries() + [(f"broken {i}", e) for i, e in enumerate(["sum(up", "up{a=}"])]:
        proc = subprocess.run(
            [promtool, "promql", "format", "--experimental", expr],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            bad.append(title)
    assert bad == ["broken 0", "broken 1"], f"promtool rejects the dashboard's PromQL of {bad}"


def test_grafana_component_ships_the_dashboard(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: ['{os.path.relpath(K8S / 'overlays' / 'local', tmp_path)}']\n"
        f"components: ['{os.path.relpath(K8S / 'grafana', tmp_path)}']\n"
    )
    cm = one(render(tmp_path), "ConfigMap", "scaleproof-grafana-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == NAMESPACE
    assert json.loads(cm["data"]["scaleproof-dashboard.json"]) == _dashboard()


# ------------------------------------------------------------------------- addresses
IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
URL_HOST = re.compile(r"\b[a-z][a-z0-9+.-]*://([^/:\s'\"]+)")
HOST_PORT = re.compile(r"^([a-z0-9.-]+):(\d{2,5})$")


def _allowed_host(host: str, services: set[str]) -> bool:
    if host in {"localhost"} or host.startswith("127."):
        return True
    labels = host.split(".")
    if re.search(r"\.svc(\.cluster\.local)?\.?$", host):
        return labels[0] in services or (len(labels) > 1 and labels[1] in services)
    if len(labels) == 1:
        return host in services
    if len(labels) == 2:  # <pod>.<headless service>
        return labels[1] in services
    return False


@pytest.mark.parametrize("ov", OVERLAYS)
def test_only_loopback_or_cluster_dns_addresses(ov: str) -> None:
    objs = overlay(ov)
    services = {s["metadata"]["name"] for s in find(objs, "Service")}
    services |= {"kube-state-metrics"}  # optional, in kube-system (prometheus.yml)
    bad = []
    for o in objs:
        for s in strings({k: v for k, v in o.items() if k != "metadata"}):
            for ip in IPV4.findall(s):
                addr = ipaddress.ip_address(ip)
                if not (addr.is_loopback or (str(addr) == "0.0.0.0" and s == ip)):  # noqa: S104 (bind address)
                    bad.append(f"{o['kind']}/{o['metadata']['name']}: {ip}")
            for host in URL_HOST.findall(s):
                if not _allowed_host(host, services):
                    bad.append(f"{o['kind']}/{o['metadata']['name']}: URL host {host}")
            m = HOST_PORT.match(s.strip())
            if m and not re.fullmatch(r"\d+(\.\d+)*", m.group(1)) and not _allowed_host(m.group(1), services):
                bad.append(f"{o['kind']}/{o['metadata']['name']}: {s}")
    # Prometheus static targets and Weaviate join addresses, parsed explicitly
    if find(objs, "Deployment", "prometheus"):
        cfg = yaml.safe_load(_prometheus(objs)[2])
        for job in cfg["scrape_configs"]:
            for sc in job.get("static_configs", []):
                for t in sc["targets"]:
                    if not _allowed_host(t.rsplit(":", 1)[0], services):
                        bad.append(f"prometheus target {t}")
    for sts in find(objs, "StatefulSet", "weaviate"):
        for h in env_of(pod_spec(sts)["containers"][0])["CLUSTER_JOIN"].split(","):
            if not _allowed_host(h.split(":")[0], services):
                bad.append(f"CLUSTER_JOIN {h}")
    assert not bad, "\n".join(bad)


def test_address_check_catches_external_hosts() -> None:
    services = {"weaviate", "weaviate-headless"}
    assert _allowed_host("weaviate.scaleproof.svc", services)
    assert _allowed_host("weaviate-headless.scaleproof.svc.cluster.local", services)
    assert _allowed_host("qdrant-0.qdrant-headless", {"qdrant-headless"})
    assert not _allowed_host("example.com", services)
    assert not _allowed_host("api.openai.com", services)
    assert not _allowed_host("other.scaleproof.svc", services)
    assert IPV4.findall("http://10.96.0.10:53") == ["10.96.0.10"]


# ------------------------------------------------------------ plain app folder (apply -f)
def test_app_folder_is_apply_able_as_plain_manifests() -> None:
    app = K8S / "app"
    assert not list(app.glob("kustomization.y*ml")), "kubectl apply -f would try to apply it"
    assert (app / "Kustomization").exists()
    # `kubectl label --local` reads a folder exactly like `apply -f` does, with no cluster
    proc = subprocess.run(
        [_kubectl(), "label", "--local", "-f", str(app), "scaleproof/check=1", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    items, pos, out = [], 0, proc.stdout  # one JSON document per object, concatenated
    while out[pos:].strip():
        pos += len(out[pos:]) - len(out[pos:].lstrip())
        doc, pos = json.JSONDecoder().raw_decode(out, pos)
        items.extend(doc["items"] if doc.get("kind") == "List" else [doc])
    plain = {(i["kind"], i["metadata"]["name"]) for i in items}
    kust = {(o["kind"], o["metadata"]["name"]) for o in render(app)}
    cm = one_prefixed(render(app), "ConfigMap", "searchapp-config")["metadata"]["name"]
    assert plain == (kust - {("ConfigMap", cm)}) | {("ConfigMap", "searchapp-config")}
    for i in items:
        if i["kind"] != "Namespace":
            assert i["metadata"].get("namespace") == NAMESPACE, f"{i['kind']}/{i['metadata']['name']}"
    assert sorted(p.name for p in app.glob("*.yaml"))[0] == "00-namespace.yaml", "namespace must apply first"


def test_plain_configmap_matches_the_generator_env_file() -> None:
    env: dict[str, str] = {}
    for line in (K8S / "app" / "searchapp.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k] = v
    plain = yaml.safe_load((K8S / "app" / "configmap.yaml").read_text())
    assert plain["metadata"]["name"] == "searchapp-config"
    assert plain["data"] == env
    assert app_settings(render(K8S / "app")) == env


# ------------------------------------------------------------------ Qdrant: issue 13's pitfalls
def test_qdrant_joining_peer_waits_for_the_dns_records(tmp_path: Path) -> None:
    """Peers 1 and 2 crash-looped on a real cluster: `--bootstrap` looked up qdrant-0's record
    before the headless Service published it. The script now retries the lookup first."""
    script = one_prefixed(overlay("qdrant"), "ConfigMap", "qdrant")["data"]["initialize.sh"]
    proc = _initialize(script, "qdrant-2", tmp_path, dns_misses=3)
    assert proc.returncode == 0, proc.stderr
    lookups = (tmp_path / "lookups").read_text().split()
    assert lookups == ["qdrant-0.qdrant-headless"] * 4 + ["qdrant-2.qdrant-headless"]
    assert proc.stdout.count("waiting for the DNS record qdrant-0.qdrant-headless") == 3
    assert proc.stdout.splitlines()[-4:] == [
        "--bootstrap",
        "http://qdrant-0.qdrant-headless:6335",
        "--uri",
        "http://qdrant-2.qdrant-headless:6335",
    ]


def test_qdrant_dns_wait_is_bounded_and_says_why(tmp_path: Path) -> None:
    script = one_prefixed(overlay("qdrant"), "ConfigMap", "qdrant")["data"]["initialize.sh"]
    proc = _initialize(script, "qdrant-1", tmp_path, dns_misses=10**6, wait_s=6)
    assert proc.returncode == 1 and "--bootstrap" not in proc.stdout
    assert "still missing after 6s" in proc.stderr and "publishNotReadyAddresses" in proc.stderr
    (tmp_path / "p0").mkdir()
    first = _initialize(script, "qdrant-0", tmp_path / "p0", dns_misses=10**6)
    assert first.returncode == 0 and "--uri" in first.stdout, "qdrant-0 starts the cluster without waiting"


@pytest.mark.parametrize("ov", QDRANT_OVERLAYS)
def test_qdrant_storage_is_writable_without_root(ov: str) -> None:
    """uid 1000 with a read-only root filesystem could not write storage on hostPath ("Permission
    denied (os error 13)"): fsGroup is not applied there. Pod Security `restricted` forbids the
    chart's root chown init container, so: fsGroup for provisioned volumes, and on this machine the
    hostPath PVs carry the owner `scaleproof deploy` gives their directories."""
    objs = overlay(ov)
    sts = one(objs, "StatefulSet", "qdrant")
    spec = pod_spec(sts)
    assert not spec.get("initContainers"), "no root init container under restricted"
    (main,) = spec["containers"]
    psc = spec["securityContext"]
    assert (psc["runAsNonRoot"], psc["runAsUser"], psc["fsGroup"]) == (True, 1000, 3000)
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert "/qdrant/storage" in {m["mountPath"] for m in main["volumeMounts"]}
    for pv in find(objs, "PersistentVolume"):
        owner = pv["metadata"]["annotations"]["scaleproof.io/host-path-owner"]
        assert owner == f"{psc['runAsUser']}:{psc['fsGroup']}", pv["metadata"]["name"]


def test_local_qdrant_storage_is_prebound_hostpath_pvs() -> None:
    from kubernetes.utils import parse_quantity

    objs = overlay("qdrant-local")
    sts = one(objs, "StatefulSet", "qdrant")
    (vct,) = sts["spec"]["volumeClaimTemplates"]
    cls = vct["spec"]["storageClassName"]
    assert one(objs, "StorageClass", cls)["provisioner"] == "kubernetes.io/no-provisioner"
    pvs = [pv for pv in find(objs, "PersistentVolume") if pv["spec"]["storageClassName"] == cls]
    claims = {(pv["spec"]["claimRef"]["namespace"], pv["spec"]["claimRef"]["name"]) for pv in pvs}
    wanted = {(NAMESPACE, f"{vct['metadata']['name']}-qdrant-{i}") for i in range(sts["spec"]["replicas"])}
    assert claims == wanted, "one PV pre-bound to each StatefulSet claim"
    paths = [pv["spec"]["hostPath"]["path"] for pv in pvs]
    assert len(set(paths)) == len(paths) and all(p.startswith("/var/lib/scaleproof/qdrant-") for p in paths)
    need = parse_quantity(vct["spec"]["resources"]["requests"]["storage"])
    for pv in pvs:
        assert parse_quantity(pv["spec"]["capacity"]["storage"]) >= need, (
            "a PV smaller than the claim never binds"
        )
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
        assert pv["spec"]["accessModes"] == vct["spec"]["accessModes"]
    # the same StorageClass object as overlays/local, so both overlays can be applied in turn
    assert one(objs, "StorageClass", cls) == one(overlay("local"), "StorageClass", cls)


def test_local_qdrant_fits_the_two_core_node_at_hpa_max() -> None:
    from kubernetes.utils import parse_quantity

    objs = overlay("qdrant-local")
    hpa = one(objs, "HorizontalPodAutoscaler", "searchapp")
    total = parse_quantity(f"{SYSTEM_PODS_CPU_MILLI}m")
    for w in workloads(objs):
        n = (
            hpa["spec"]["maxReplicas"]
            if w["metadata"]["name"] == "searchapp"
            else w["spec"].get("replicas", 1)
        )
        # init containers run before the main one: a pod needs the larger of the two
        main = sum(parse_quantity(c["resources"]["requests"]["cpu"]) for c in pod_spec(w)["containers"])
        init = max(
            (
                parse_quantity(c["resources"]["requests"]["cpu"])
                for c in pod_spec(w).get("initContainers", [])
            ),
            default=0,
        )
        total += n * max(main, init)
    assert total <= parse_quantity(f"{NODE_CPU_MILLI}m"), f"CPU requests at HPA max = {total}"
    nodeports = {p.get("nodePort") for s in find(objs, "Service") for p in s["spec"]["ports"]} - {None}
    assert nodeports == {30080, 30090}
