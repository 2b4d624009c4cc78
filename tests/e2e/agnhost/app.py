"""Deploy agnhost netexec into a namespace as a team would, for e2e tests that must stay generic.

The image comes in through `scaleproof images import` (as a team's archive would), the objects are the
plain manifests of this folder (Deployment, NodePort Service, HPA; no PDB). `deployed_agnhost` is a
context manager so a test of any scope can use it; conftest.py wraps it in the `agnhost` fixture.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..conftest import Kubectl, wait_for

__all__ = ["AgnhostApp", "MANIFESTS", "NODE_PORT", "deployed_agnhost", "import_image", "manifest_image"]

MANIFESTS = Path(__file__).resolve().parent
NODE_PORT = 30180
SCALEPROOF = str(Path(sys.executable).parent / "scaleproof")


@dataclass(frozen=True)
class AgnhostApp:
    """Where the deployed agnhost is: what a team would put into scaleproof's configuration."""

    namespace: str
    image: str
    replicas: int
    hpa: str | None
    deployment: str = "agnhost"
    service: str = "agnhost"
    selector: str = "app=agnhost"
    container_port: int = 8080
    node_port: int = NODE_PORT
    ready_path: str = "/healthz"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.node_port}"


def _docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]


def manifest_image() -> str:
    """The image the Deployment of this folder runs."""
    (dep,) = _docs("deployment.yaml")
    image: str = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def _scaleproof(*argv: str, timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([SCALEPROOF, *argv], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"scaleproof {' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def import_image() -> str:
    """Write the agnhost archive (cached; a cold Go build otherwise) and import it as a team would."""
    tag, path = _scaleproof("images", "agnhost", timeout=1800).stdout.split()
    imported = _scaleproof("images", "import", path, timeout=300).stdout.split()
    assert tag in imported, f"`scaleproof images import {path}` printed {imported}, not {tag}"
    assert tag == manifest_image(), f"the archive holds {tag}, deployment.yaml runs {manifest_image()}"
    return tag


def ready_pods(kubectl: Kubectl, namespace: str, selector: str = "app=agnhost") -> list[str]:
    """Names of pods that are Ready and not terminating."""
    pods = kubectl.json("-n", namespace, "get", "pods", "-l", selector)["items"]
    return [
        p["metadata"]["name"]
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    ]


def get(url: str, timeout: float = 3) -> tuple[int, str]:
    """(status, body) of a GET; status 0 when the connection itself failed."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def hostnames(url: str, requests: int = 30) -> set[str]:
    """Pods that answered `requests` GET /hostname (new connection each: kube-proxy picks at random)."""
    seen = set()
    for _ in range(requests):
        status, body = get(f"{url}/hostname")
        if status == 200:
            seen.add(body.strip())
    return seen


@contextmanager
def deployed_agnhost(
    kubectl: Kubectl,
    namespace: str,
    image: str,
    *,
    replicas: int = 3,
    hpa: bool = True,
    timeout_s: float = 180,
) -> Iterator[AgnhostApp]:
    """Apply this folder's manifests to `namespace`, wait for `replicas` Ready pods and the NodePort.

    The Service is deleted (waiting) on exit, so the NodePort is free for the next namespace even
    though namespaces are deleted without waiting.
    """
    docs = _docs("deployment.yaml") + _docs("service.yaml") + (_docs("hpa.yaml") if hpa else [])
    docs[0]["spec"]["replicas"] = replicas
    docs[0]["spec"]["template"]["spec"]["containers"][0]["image"] = image
    kubectl("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump_all(docs))
    app = AgnhostApp(namespace, image, replicas, "agnhost" if hpa else None)
    try:
        t0 = time.monotonic()
        wait_for(
            lambda: len(ready_pods(kubectl, namespace)) >= replicas,
            timeout_s,
            f"{replicas} Ready agnhost pods in {namespace}",
        )
        want = min(replicas, 2)
        wait_for(
            lambda: len(hostnames(app.url, 10)) >= want,
            max(10.0, timeout_s - (time.monotonic() - t0)),
            f"{app.url}/hostname answered by {want} pods",
        )
        yield app
    finally:
        kubectl("-n", namespace, "delete", "service", "agnhost", "--ignore-not-found", check=False)
