"""Deploy a kustomize overlay with kubectl and wait until its workloads are Ready."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .config import ClusterConfig

__all__ = ["deploy", "prepare_host_paths", "wait_ready", "DeployError", "kubectl_binary"]


class DeployError(RuntimeError):
    """The overlay could not be applied or did not become Ready; says which object and why."""


def kubectl_binary() -> str:
    """The kubectl built with the cluster (matching version), else the one on PATH."""
    built = ClusterConfig().binary("kubectl")
    if built.exists():
        return str(built)
    found = shutil.which("kubectl")
    if not found:
        raise DeployError("kubectl not found: run `scaleproof cluster up` (it builds one) or install kubectl")
    return found


def run_kubectl(kubeconfig: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """kubectl against `kubeconfig`, output captured (the caller reads returncode and stderr)."""
    return subprocess.run(
        [kubectl_binary(), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


_kubectl = run_kubectl


def _not_ready(kubeconfig: Path, namespace: str) -> list[str]:
    proc = _kubectl(kubeconfig, "-n", namespace, "get", "deployments,statefulsets", "-o", "json")
    if proc.returncode != 0:
        raise DeployError(f"cannot list workloads in {namespace}: {proc.stderr.strip()}")
    pending = []
    for item in json.loads(proc.stdout)["items"]:
        want = item["spec"].get("replicas", 1)
        status = item.get("status", {})
        ready = status.get("readyReplicas", 0) or 0
        # a rolling update is not done while old-revision pods remain (they are Ready meanwhile)
        updated = status.get("updatedReplicas", want)
        if ready < want:
            pending.append(f"{item['kind']}/{item['metadata']['name']} {ready}/{want} ready")
        elif updated is not None and updated < want:
            pending.append(f"{item['kind']}/{item['metadata']['name']} {updated}/{want} updated")
    return pending


def deploy(
    kubeconfig: Path,
    overlay: Path,
    timeout_s: float = 300,
    namespace: str = "scaleproof",
    progress: Callable[[str], None] = print,
) -> None:
    if not overlay.is_dir():
        raise DeployError(f"overlay {overlay} is not a directory (expected e.g. k8s/overlays/local)")
    if not kubeconfig.exists():
        raise DeployError(
            f"kubeconfig {kubeconfig} does not exist: run `scaleproof cluster up` first, or set "
            "SCALEPROOF_KUBECONFIG to your own cluster's kubeconfig"
        )
    owned = prepare_host_paths(kubeconfig, overlay, progress)
    progress(f"[deploy] kubectl apply -k {overlay}")
    proc = _kubectl(kubeconfig, "apply", "-k", str(overlay))
    if proc.returncode != 0:
        raise DeployError(f"kubectl apply -k {overlay} failed: {proc.stderr.strip()}")
    # while a rolling update replaces pods that ran as another user (e.g. a root Weaviate), those
    # keep writing files until they stop: give them back to the new owner until all is Ready
    wait_ready(kubeconfig, timeout_s, namespace, progress, tick=lambda: _chown_all(owned))


HOST_PATH_OWNER = "scaleproof.io/host-path-owner"


def prepare_host_paths(
    kubeconfig: Path, overlay: Path, progress: Callable[[str], None] = print
) -> list[tuple[str, int, int]]:
    """Create the hostPath directory of every PersistentVolume annotated `scaleproof.io/host-path-owner:
    UID:GID`, owned (recursively) by that user. Non-root pods cannot chown their volume, and the
    kubelet applies no fsGroup to hostPath. Returns (path, uid, gid) per directory."""
    import os

    import yaml

    proc = _kubectl(kubeconfig, "kustomize", str(overlay))
    done: list[tuple[str, int, int]] = []
    if proc.returncode != 0:  # `kubectl apply -k` reports the same problem next, in its words
        return done
    for obj in yaml.safe_load_all(proc.stdout):
        if not obj or obj.get("kind") != "PersistentVolume":
            continue
        owner = ((obj.get("metadata") or {}).get("annotations") or {}).get(HOST_PATH_OWNER)
        path = ((obj.get("spec") or {}).get("hostPath") or {}).get("path")
        if not owner or not path:
            continue
        try:
            uid, gid = (int(x) for x in str(owner).split(":"))
        except ValueError as exc:
            raise DeployError(f"PV {obj['metadata']['name']}: {HOST_PATH_OWNER} must be UID:GID") from exc
        try:
            os.makedirs(path, mode=0o750, exist_ok=True)
            _chown_all([(path, uid, gid)])
        except PermissionError as exc:
            raise DeployError(
                f"cannot give {path} to {uid}:{gid} ({exc.strerror}): run the deploy as root, or "
                f"`sudo install -d -o {uid} -g {gid} {path}`"
            ) from exc
        done.append((path, uid, gid))
        progress(f"[deploy] {path} owned by {uid}:{gid} (PV {obj['metadata']['name']})")
    return done


def _chown_all(owned: list[tuple[str, int, int]]) -> None:
    """Give every file under each path to its owner (files appear and vanish meanwhile: tolerated)."""
    import os

    for path, uid, gid in owned:
        for root, dirs, files in os.walk(path):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                try:
                    if os.lstat(name).st_uid != uid or os.lstat(name).st_gid != gid:
                        os.lchown(name, uid, gid)
                except FileNotFoundError:
                    continue


def wait_ready(
    kubeconfig: Path,
    timeout_s: float = 300,
    namespace: str = "scaleproof",
    progress: Callable[[str], None] = print,
    tick: Callable[[], None] | None = None,
) -> None:
    """Wait until every Deployment and StatefulSet in `namespace` has all its replicas Ready
    (`tick` runs on every poll)."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while True:
        if tick is not None:
            tick()
        pending = _not_ready(kubeconfig, namespace)
        if not pending:
            progress(f"[deploy] every workload in {namespace} is Ready")
            return
        msg = "; ".join(pending)
        if msg != last:
            progress(f"[deploy] waiting: {msg}")
            last = msg
        if time.monotonic() > deadline:
            events = _kubectl(kubeconfig, "-n", namespace, "get", "events", "--sort-by=.lastTimestamp")
            tail = "\n".join(events.stdout.splitlines()[-15:])
            raise DeployError(f"not Ready after {timeout_s:.0f} s: {msg}\nrecent events:\n{tail}")
        time.sleep(2)
