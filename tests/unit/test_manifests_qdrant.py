"""Qdrant in cluster mode: the official chart's layout, bootstrap, storage and issue 13's pitfalls."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.manifests import (
    NAMESPACE,
    NODE_CPU_MILLI,
    QDRANT_OVERLAYS,
    SYSTEM_PODS_CPU_MILLI,
    app_settings,
    env_of,
    find,
    one,
    one_prefixed,
    overlay,
    pod_spec,
    workloads,
)

pytestmark = pytest.mark.unit


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
