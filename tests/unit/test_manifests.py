"""Offline checks every rendered object must pass: Kubernetes 1.35 schemas (strict), pinned local
images, requests and limits, selectors and labels, NodePorts, addresses, the plain app folder."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess

import pytest
import yaml

from tests.unit.manifests import (
    CLUSTER_SCOPED,
    K8S,
    KUBE_VERSION,
    NAMESPACE,
    NODE_CPU_MILLI,
    NODE_OVERLAYS,
    OVERLAYS,
    RENDERABLE,
    SYSTEM_PODS_CPU_MILLI,
    _kubectl,
    app_settings,
    containers,
    env_of,
    find,
    mebibytes,
    milli_cpu,
    one,
    one_prefixed,
    overlay,
    pod_spec,
    prometheus_config,
    render,
    selector_matches,
    strings,
    workloads,
)

pytestmark = pytest.mark.unit


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
        cfg = yaml.safe_load(prometheus_config(objs)[2])
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
