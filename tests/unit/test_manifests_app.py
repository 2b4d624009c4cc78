"""The reference app's manifests: Deployment, settings, Service, HPA, PDB."""

from __future__ import annotations

import pytest

from tests.unit.manifests import app_settings, one, overlay, pod_spec, selector_matches

pytestmark = pytest.mark.unit


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
