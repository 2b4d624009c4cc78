"""Weaviate in cluster mode: its settings and storage, per overlay."""

from __future__ import annotations

import re

import pytest

from tests.unit.manifests import (
    NAMESPACE,
    NODE_OVERLAYS,
    env_of,
    find,
    mebibytes,
    one,
    overlay,
    pod_spec,
)

pytestmark = pytest.mark.unit


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
