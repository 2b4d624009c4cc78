"""Issue 13, point 4, on the real cluster without a Qdrant image: the rendered qdrant-local
StatefulSet (its initialize.sh, headless Service, restricted securityContext, hostPath owner) runs
with the Debian base image standing in for Qdrant's (same base: Debian 12, bash, getent, chown) and a
stand-in `entrypoint.sh` that prints the flags Qdrant would get and writes into its storage as uid
1000 on a read-only root filesystem. The headless Service is created after the pods, so the joining
peers start before qdrant-0's DNS record exists (the crash-loop seen on a real Qdrant cluster). What
Qdrant itself does with those flags is not tested here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from scaleproof.cluster.deploy import HOST_PATH_OWNER

from .conftest import REPO, Kubectl, wait_for

pytestmark = pytest.mark.e2e

STANDIN_IMAGE = "localhost/scaleproof/debian-base:bookworm"
ENTRYPOINT = """#!/bin/bash
echo "ARGS $*"
echo "UID $(id -u) GROUPS $(id -G)"
if touch "/qdrant/storage/.atomicwrite-$HOSTNAME" 2>/dev/null
then echo STORAGE-WRITABLE
else echo STORAGE-DENIED
fi
exec sleep 3600
"""


def _rendered(kubectl: Kubectl) -> list[dict]:
    out = subprocess.run(
        [kubectl.binary, "kustomize", str(REPO / "k8s/overlays/qdrant-local")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _standin(objs: list[dict], namespace: str, host_dir: Path) -> list[dict]:
    """The Qdrant objects of the overlay, moved to `namespace`, Qdrant's image replaced."""
    keep = [
        o
        for o in objs
        if (o["kind"] in ("StatefulSet", "ConfigMap") and o["metadata"]["name"].split("-")[0] == "qdrant")
        or (o["kind"], o["metadata"]["name"]) == ("Service", "qdrant-headless")
    ]
    for o in keep:
        o["metadata"]["namespace"] = namespace
    cm = next(o for o in keep if o["kind"] == "ConfigMap")
    cm["data"]["entrypoint.sh"] = ENTRYPOINT
    sts = next(o for o in keep if o["kind"] == "StatefulSet")
    spec = sts["spec"]["template"]["spec"]
    del sts["spec"]["volumeClaimTemplates"]
    spec["volumes"].append(
        {"name": "qdrant-storage", "hostPath": {"path": str(host_dir), "type": "Directory"}}
    )
    for c in spec.get("initContainers", []) + spec["containers"]:
        c["image"] = STANDIN_IMAGE
        c["resources"] = {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"cpu": "100m", "memory": "64Mi"},
        }
    main = spec["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        main.pop(probe, None)
    main["workingDir"] = "/qdrant"
    main["volumeMounts"].append(
        {"name": "qdrant-config", "mountPath": "/qdrant/entrypoint.sh", "subPath": "entrypoint.sh"}
    )
    return keep


def test_qdrant_statefulset_bootstraps_and_writes_storage(kubectl: Kubectl, namespace: str) -> None:
    host_dir = Path(f"/var/lib/scaleproof/e2e-{namespace}")
    try:
        rendered = _rendered(kubectl)
        # what `scaleproof deploy` does for the overlay's PVs: the directory owned by the annotation
        pv = next(o for o in rendered if o["kind"] == "PersistentVolume")
        uid, gid = (int(x) for x in pv["metadata"]["annotations"][HOST_PATH_OWNER].split(":"))
        host_dir.mkdir(mode=0o750)
        os.chown(host_dir, uid, gid)
        objs = _standin(rendered, namespace, host_dir)
        service = [o for o in objs if o["kind"] == "Service"]
        # the race seen on a real cluster: the joining peers start before qdrant-0's DNS record
        # exists. Reproduced here by creating the headless Service only after the peers started.
        rest = [o for o in objs if o["kind"] != "Service"]
        kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": rest}))

        def waiting() -> bool:
            out = kubectl("-n", namespace, "logs", "qdrant-1", "-c", "qdrant", check=False).stdout
            return "waiting for the DNS record qdrant-0.qdrant-headless" in out

        wait_for(waiting, 120, "qdrant-1 to wait for qdrant-0's DNS record")
        kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": service}))

        def logs_ready() -> dict[str, str] | None:
            out = {}
            for i in range(3):
                p = kubectl("-n", namespace, "logs", f"qdrant-{i}", "-c", "qdrant", check=False)
                if "STORAGE-" not in p.stdout:
                    return None
                out[f"qdrant-{i}"] = p.stdout
            return out

        logs = wait_for(logs_ready, 180, "the three stand-in peers to start")
        assert isinstance(logs, dict)
        for name, text in logs.items():
            print(f"\n--- {name}\n{text.strip()}")
        assert "ARGS --uri http://qdrant-0.qdrant-headless:6335" in logs["qdrant-0"]
        for i in (1, 2):
            assert (
                f"ARGS --bootstrap http://qdrant-0.qdrant-headless:6335 --uri http://qdrant-{i}.qdrant-headless:6335"
                in logs[f"qdrant-{i}"]
            )
        for text in logs.values():
            assert "UID 1000" in text and "STORAGE-WRITABLE" in text, (
                "the PV owner does not let uid 1000 write"
            )
        for i in (1, 2):
            assert "waiting for the DNS record qdrant-0.qdrant-headless" in logs[f"qdrant-{i}"]
        assert "waiting" not in logs["qdrant-0"], "qdrant-0 starts the cluster without waiting"
        pods = kubectl.json("-n", namespace, "get", "pods", "-l", "app.kubernetes.io/name=qdrant")["items"]
        restarts = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["restartCount"] for p in pods}
        print(f"restarts: {restarts}")
        assert set(restarts.values()) == {0}, "a joining peer crash-looped (DNS record not waited for?)"
    finally:
        kubectl(
            "-n", namespace, "delete", "statefulset", "qdrant", "--wait=true", "--timeout=60s", check=False
        )
        shutil.rmtree(host_dir, ignore_errors=True)
