"""What the manifest tests share: the overlays rendered with `kubectl kustomize` (no cluster needed)
and small readers of the rendered objects. The tests, one file per subject: test_manifests.py
(every object: schemas, images, resources, selectors, NodePorts, addresses, the plain app folder),
test_manifests_app.py, test_manifests_weaviate.py, test_manifests_qdrant.py,
test_manifests_prometheus.py (with the Grafana dashboard), test_manifests_rbac.py."""

from __future__ import annotations

import functools
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


def prometheus_config(objs: list[Obj]) -> tuple[Obj, Obj, str]:
    """The Prometheus Deployment, its ConfigMap and the prometheus.yml it mounts."""
    dep = one(objs, "Deployment", "prometheus")
    vol = next(v for v in pod_spec(dep)["volumes"] if "configMap" in v)
    cm = one(objs, "ConfigMap", vol["configMap"]["name"])
    return dep, cm, cm["data"]["prometheus.yml"]
