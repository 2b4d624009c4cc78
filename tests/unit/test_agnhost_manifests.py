"""tests/e2e/agnhost/: valid Kubernetes 1.35 objects, namespace-free, consistent with the fixture.

These plain manifests are another team's deployment of agnhost netexec (no kustomize, no labels of
ours); checked here offline so an e2e failure is never a typo.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes.utils import parse_quantity

from scaleproof.cluster.images import AGNHOST_REPO
from tests.unit.manifests import KUBE_VERSION, overlay

pytestmark = pytest.mark.unit

FOLDER = Path(__file__).resolve().parents[1] / "e2e" / "agnhost"


def _objects() -> dict[str, dict]:
    objs = {}
    for path in sorted(FOLDER.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            objs[doc["kind"]] = doc
    return objs


def test_valid_and_namespace_free() -> None:
    objs = _objects()
    assert set(objs) == {"Deployment", "Service", "HorizontalPodAutoscaler"}, "no PDB, nothing else"
    for o in objs.values():
        kubernetes_validate.validate(o, KUBE_VERSION, strict=True)
        assert "namespace" not in o["metadata"], f"{o['kind']}: applied with -n NS"


def test_deployment_runs_netexec_ready_on_healthz() -> None:
    dep = _objects()["Deployment"]
    assert dep["spec"]["replicas"] == 3
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["image"].rsplit(":", 1)[0] == AGNHOST_REPO and c["imagePullPolicy"] == "IfNotPresent"
    assert c["args"][:2] == ["netexec", "--http-port=8080"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    probe = c["readinessProbe"]["httpGet"]
    assert probe["path"] == "/healthz" and ports[probe["port"]] == 8080
    assert parse_quantity(c["resources"]["requests"]["cpu"]) > 0, "the HPA computes utilisation of it"
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["selector"]["matchLabels"] == labels == {"app": "agnhost"}
    assert not any(k.startswith("app.kubernetes.io/") for k in labels), "not our label scheme"


def test_service_and_hpa_point_at_the_deployment() -> None:
    from tests.e2e.agnhost.app import NODE_PORT

    objs = _objects()
    svc, hpa = objs["Service"], objs["HorizontalPodAutoscaler"]
    assert svc["spec"]["selector"] == objs["Deployment"]["spec"]["selector"]["matchLabels"]
    (port,) = svc["spec"]["ports"]
    assert port["nodePort"] == NODE_PORT and port["targetPort"] == "http"
    ours = {p.get("nodePort") for s in overlay("local") if s["kind"] == "Service" for p in s["spec"]["ports"]}
    assert NODE_PORT not in ours, "must not take a NodePort of the reference stack"
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "agnhost"}
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    assert hpa["spec"]["maxReplicas"] >= 3
