"""Certificates and kubeconfigs of the local cluster, made with the openssl command line.

One CA signs every serving and client certificate (as local-up-cluster does with a single signer);
a separate front-proxy CA is needed by the aggregation layer (metrics-server). Files are created
once and reused, so a second `up` does not invalidate kubeconfigs people already hold.
"""

from __future__ import annotations

import base64
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from .config import ClusterConfig, NodeSpec

__all__ = ["ensure_pki", "ensure_node_pki", "ClientCert", "CLIENTS", "write_kubeconfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientCert:
    """A client identity: file stem, common name (user) and organisation (group)."""

    stem: str
    cn: str
    org: str | None = None


CLIENTS: tuple[ClientCert, ...] = (
    ClientCert("admin", "kubernetes-admin", "system:masters"),
    ClientCert("controller-manager", "system:kube-controller-manager"),
    ClientCert("scheduler", "system:kube-scheduler"),
    ClientCert("kube-proxy", "system:kube-proxy"),
    ClientCert("kubelet", "system:node:scaleproof-node", "system:nodes"),
    ClientCert("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "kube-apiserver-kubelet-client"),
    ClientCert("metrics-server", "system:metrics-server"),
    ClientCert("coredns", "system:coredns"),
)


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {proc.stderr.strip()}")


def _ca(pki: Path, stem: str, cn: str) -> None:
    if (pki / f"{stem}.crt").exists():
        return
    _openssl("genrsa", "-out", f"{stem}.key", "2048", cwd=pki)
    _openssl(
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-key",
        f"{stem}.key",
        "-subj",
        f"/CN={cn}",
        "-days",
        "3650",
        "-sha256",
        "-out",
        f"{stem}.crt",
        cwd=pki,
    )


def _leaf(
    pki: Path, stem: str, subject: str, ca: str, *, sans: list[str] | None = None, server: bool = False
) -> None:
    if (pki / f"{stem}.crt").exists():
        return
    ext = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment"]
    ext.append("extendedKeyUsage=serverAuth,clientAuth" if server else "extendedKeyUsage=clientAuth")
    if sans:
        ext.append("subjectAltName=" + ",".join(sans))
    (pki / f"{stem}.ext").write_text("\n".join(ext) + "\n")
    _openssl("genrsa", "-out", f"{stem}.key", "2048", cwd=pki)
    _openssl("req", "-new", "-key", f"{stem}.key", "-subj", subject, "-out", f"{stem}.csr", cwd=pki)
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{stem}.csr",
        "-CA",
        f"{ca}.crt",
        "-CAkey",
        f"{ca}.key",
        "-CAcreateserial",
        "-days",
        "3650",
        "-sha256",
        "-extfile",
        f"{stem}.ext",
        "-out",
        f"{stem}.crt",
        cwd=pki,
    )


def ensure_pki(cfg: ClusterConfig) -> None:
    """Create (once) the CAs, the serving certificates, client certificates, SA keys and kubeconfigs."""
    pki = cfg.pki_dir
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    _ca(pki, "ca", "scaleproof-local-ca")
    _ca(pki, "front-proxy-ca", "scaleproof-front-proxy-ca")
    api_sans = [
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        f"DNS:kubernetes.default.svc.{cfg.cluster_domain}",
        "DNS:localhost",
        "IP:127.0.0.1",
        f"IP:{cfg.node_ip}",
        f"IP:{cfg.kubernetes_service_ip}",
    ]
    _leaf(pki, "apiserver", "/CN=kube-apiserver", "ca", sans=api_sans, server=True)
    node_sans = [f"DNS:{cfg.node_name}", "DNS:localhost", "IP:127.0.0.1", f"IP:{cfg.node_ip}"]
    _leaf(pki, "kubelet-serving", f"/CN={cfg.node_name}", "ca", sans=node_sans, server=True)
    # the aggregator verifies the name of the Service in front of metrics-server
    ms_sans = [*node_sans, "DNS:metrics-server.kube-system.svc", "DNS:metrics-server.kube-system"]
    _leaf(pki, "metrics-server-serving", "/CN=metrics-server", "ca", sans=ms_sans, server=True)
    _leaf(pki, "front-proxy-client", "/CN=front-proxy-client", "front-proxy-ca")
    for client in CLIENTS:
        subject = f"/CN={client.cn}" + (f"/O={client.org}" if client.org else "")
        _leaf(pki, client.stem, subject, "ca")
    if not (pki / "sa.key").exists():
        _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
        _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    for client in CLIENTS:
        target = cfg.kubeconfig if client.stem == "admin" else cfg.etc_dir / f"{client.stem}.kubeconfig"
        write_kubeconfig(cfg, target, client.stem)


def ensure_node_pki(cfg: ClusterConfig, node: NodeSpec) -> None:
    """An extra node's kubelet identity (system:node:<name>, as the Node authorizer and NodeRestriction
    want), its serving certificate for its own address, and its kubelet kubeconfig. Node 0's are made
    by `ensure_pki` (stem `kubelet`)."""
    pki = cfg.pki_dir
    sans = [f"DNS:{node.name}", f"IP:{node.ip}"]
    _leaf(pki, f"{node.pki_stem}-serving", f"/CN={node.name}", "ca", sans=sans, server=True)
    _leaf(pki, node.pki_stem, f"/CN=system:node:{node.name}/O=system:nodes", "ca")
    # its loopback is its own network namespace's: it reaches the API server on the node bridge
    server = f"https://{cfg.node_ip}:{cfg.apiserver_port}"
    write_kubeconfig(cfg, node.etc_dir / "kubelet.kubeconfig", node.pki_stem, server=server)
    write_kubeconfig(cfg, node.etc_dir / "kube-proxy.kubeconfig", "kube-proxy", server=server)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(cfg: ClusterConfig, target: Path, stem: str, server: str | None = None) -> Path:
    """Write a kubeconfig with embedded certificates for the client certificate `stem`."""
    pki = cfg.pki_dir
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "scaleproof",
                "cluster": {
                    "server": server or cfg.apiserver_url,
                    "certificate-authority-data": _b64(pki / "ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": stem,
                "user": {
                    "client-certificate-data": _b64(pki / f"{stem}.crt"),
                    "client-key-data": _b64(pki / f"{stem}.key"),
                },
            }
        ],
        "contexts": [{"name": "scaleproof", "context": {"cluster": "scaleproof", "user": stem}}],
        "current-context": "scaleproof",
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(doc, sort_keys=False)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
        target.chmod(0o600)
    return target
