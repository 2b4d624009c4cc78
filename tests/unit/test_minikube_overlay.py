"""k8s/overlays/minikube: the local overlay's objects with Weaviate and Prometheus from upstream images.

Rendered with `kubectl kustomize` and validated against the Kubernetes 1.35 schemas (strict) like every
overlay (test_manifests*.py); here what differs from the local overlay, and only that, is pinned down.
It is never applied on this machine (no registry, no minikube).
"""

from __future__ import annotations

import copy
import json

import pytest

from scaleproof.cluster.config import VERSIONS
from tests.unit.manifests import KUBE_VERSION, Obj, containers, one, overlay, pod_spec, workloads

pytestmark = pytest.mark.unit

WEAVIATE = f"cr.weaviate.io/semitechnologies/weaviate:{VERSIONS['weaviate']}"
PROMETHEUS = "docker.io/prom/prometheus:v3.16.0"
APP = "localhost/scaleproof/searchapp:0.1.0"


def _images(objs: list[Obj]) -> dict[str, str]:
    return {w["metadata"]["name"]: c["image"] for w in workloads(objs) for c in containers(w)}


def test_weaviate_and_prometheus_are_upstream_images_at_pinned_tags() -> None:
    objs = overlay("minikube")
    assert _images(objs) == {"searchapp": APP, "weaviate": WEAVIATE, "prometheus": PROMETHEUS}
    for w in workloads(objs):
        for c in containers(w):
            assert c["imagePullPolicy"] == "IfNotPresent", f"{c['image']}: pulled once, never on every start"


def test_upstream_weaviate_runs_its_own_binary_with_the_same_flags() -> None:
    ours = pod_spec(one(overlay("local"), "StatefulSet", "weaviate"))["containers"][0]
    (theirs,) = pod_spec(one(overlay("minikube"), "StatefulSet", "weaviate"))["containers"]
    assert theirs["command"] == ["/bin/weaviate"], "upstream's Dockerfile copies the server to /bin/weaviate"
    assert ours["command"] == ["/bin/weaviate-server"]
    assert theirs["args"] == ours["args"] == ["--host", "0.0.0.0", "--port", "8080", "--scheme", "http"]


def test_version_labels_follow_the_upstream_tags() -> None:
    prom = one(overlay("minikube"), "Deployment", "prometheus")
    assert prom["metadata"]["labels"]["app.kubernetes.io/version"] == "3.16.0"
    assert prom["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"] == "3.16.0"


def _normalised(objs: list[Obj]) -> dict[tuple[str, str], str]:
    """Objects by kind/name with the fields the minikube overlay changes blanked out."""
    out = {}
    for o in objs:
        o = copy.deepcopy(o)
        if o["kind"] in ("Deployment", "StatefulSet"):
            for labels in (o["metadata"]["labels"], o["spec"]["template"]["metadata"]["labels"]):
                labels.pop("app.kubernetes.io/version", None)
            for c in pod_spec(o)["containers"]:
                c.pop("image")
                c.pop("command", None)
            for vct in o["spec"].get("volumeClaimTemplates", []):
                vct["spec"].pop("storageClassName", None)
        out[(o["kind"], o["metadata"]["name"])] = json.dumps(o, sort_keys=True)
    return out


def test_everything_else_is_the_local_overlay() -> None:
    local, minikube = _normalised(overlay("local")), _normalised(overlay("minikube"))
    only_local = set(local) - set(minikube)
    assert {k for k, _ in only_local} <= {"PersistentVolume", "StorageClass"}, only_local
    assert set(minikube) <= set(local), set(minikube) - set(local)
    changed = [k for k in minikube if minikube[k] != local[k]]
    assert not changed, f"differ beyond images/commands/version labels/storage class: {changed}"


def test_rendered_overlay_is_schema_valid() -> None:
    import kubernetes_validate

    objs = overlay("minikube")
    for o in objs:
        kubernetes_validate.validate(o, KUBE_VERSION, strict=True)
    broken = copy.deepcopy(one(objs, "StatefulSet", "weaviate"))
    pod_spec(broken)["containers"][0]["comand"] = ["/bin/weaviate"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBE_VERSION, strict=True)
