"""The vector stores as a user runs them (issue 23): nothing phones home, and a Qdrant peer whose
storage is not writable says so, with the remedy, instead of crash-looping on "Permission denied".

Rendered with `kubectl kustomize` like tests/unit/test_manifests.py (no cluster needed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

K8S = Path(__file__).resolve().parents[2] / "k8s"
QDRANT_OVERLAYS = ["qdrant", "qdrant-local"]
WEAVIATE_OVERLAYS = ["local", "minikube"]
#: where the vendors' usage reporters send: Qdrant `https://telemetry.qdrant.io` (staging- in debug
#: builds; src/common/telemetry_reporting.rs), Weaviate 1.39 `https://telemetry.weaviate.io/weaviate-
#: telemetry` (base64 in usecases/telemetry/telemetry.go). No rendered manifest may name them.
VENDOR_TELEMETRY_HOSTS = ("telemetry.qdrant.io", "telemetry.weaviate.io")


def render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl not found: cannot render kustomizations")
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)], capture_output=True, text=True, check=True
    )
    return [o for o in yaml.safe_load_all(out.stdout) if o]


def store_containers(objs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    (sts,) = [o for o in objs if o["kind"] == "StatefulSet" and o["metadata"]["name"] == name]
    spec = sts["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in container.get("env") or []}


@pytest.mark.parametrize("ov", QDRANT_OVERLAYS)
def test_qdrant_reports_no_usage_statistics(ov: str) -> None:
    """Issue 23: every peer tried to reach the vendor's telemetry host (stopped here only by the
    cluster's egress rule). `telemetry_disabled` (src/settings.rs, default false) is set by env."""
    objs = render(ov)
    for c in store_containers(objs, "qdrant"):
        assert env(c).get("QDRANT__TELEMETRY_DISABLED") == "true", c["name"]
    text = json.dumps(objs)
    assert not any(host in text for host in VENDOR_TELEMETRY_HOSTS)
    (config,) = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("qdrant")]
    production = yaml.safe_load(config["data"]["production.yaml"])
    assert production.get("telemetry_disabled", True) is True, "the config file must not turn it back on"


@pytest.mark.parametrize("ov", WEAVIATE_OVERLAYS)
def test_weaviate_reports_no_usage_statistics(ov: str) -> None:
    """Weaviate's equivalent: DISABLE_TELEMETRY=true (its docs, Configuration > Telemetry)."""
    objs = render(ov)
    for c in store_containers(objs, "weaviate"):
        assert env(c).get("DISABLE_TELEMETRY") == "true", c["name"]
    assert not any(host in json.dumps(objs) for host in VENDOR_TELEMETRY_HOSTS)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can enter (pytest's tmp_path is root's, mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="scaleproof-qdrant-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run_as_peer(script: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """initialize.sh as peer qdrant-1 runs it (uid 1000, gid 2000, fsGroup 3000), with a fake
    entrypoint that prints its arguments and a DNS that answers at once."""
    (workdir / "initialize.sh").write_text(script)
    fakes = {"entrypoint.sh": 'echo entrypoint "$@"', "bin/getent": 'echo "127.0.0.1 $2"'}
    for name, body in fakes.items():
        (workdir / name).parent.mkdir(exist_ok=True, mode=0o755)
        (workdir / name).write_text(f"#!/bin/sh\n{body}\n")
        (workdir / name).chmod(0o755)
    argv = ["bash", "initialize.sh"]
    if os.geteuid() == 0:  # root may write anywhere: run it as the peer's user
        argv = ["setpriv", "--reuid=1000", "--regid=2000", "--groups=3000", *argv]
    return subprocess.run(
        argv,
        cwd=workdir,
        env={"HOSTNAME": "qdrant-1", "PATH": f"{workdir}/bin:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def test_unwritable_qdrant_storage_is_named_with_the_remedy(shared_dir: Path) -> None:
    """Issue 23: `kubectl apply -k k8s/overlays/qdrant-local` crash-looped every peer on "Permission
    denied (os error 13) at path /qdrant/./storage/.atomicwrite..." (a hostPath volume gets no fsGroup
    and `restricted` forbids a root chown). The peer now says why, and what to run, before starting."""
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("setpriv not found: cannot run the script as another user")
    objs = render("qdrant-local")
    (config,) = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("qdrant")]
    script = config["data"]["initialize.sh"]
    storage = shared_dir / "storage"
    storage.mkdir(mode=0o755)  # what the kubelet's DirectoryOrCreate makes: root's, 0755
    if os.geteuid() != 0:
        storage.chmod(0o555)
    proc = _run_as_peer(script, shared_dir)
    assert proc.returncode == 1 and "entrypoint" not in proc.stdout
    assert "storage ./storage" in proc.stderr and "is not writable by uid" in proc.stderr
    assert "scaleproof deploy --overlay k8s/overlays/qdrant-local" in proc.stderr
    assert "install -d -o 1000 -g 3000 -m 0750 /var/lib/scaleproof/qdrant-1" in proc.stderr

    if os.geteuid() == 0:  # what `scaleproof deploy` does: the directory given to the peer's user
        os.chown(storage, 1000, 3000)
    else:
        storage.chmod(0o755)
    proc = _run_as_peer(script, shared_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith(
        "entrypoint --bootstrap http://qdrant-0.qdrant-headless:6335"
    )
