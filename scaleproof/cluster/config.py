"""Where the local cluster keeps its files, which versions it pins and which addresses it uses.

Every address the cluster owns lives inside 198.18.0.0/15 (RFC 2544, reserved for benchmarking), so
nobody mistakes a pod or Service address for a real network: the node address sits on a bridge that
scaleproof creates, pods get a /24 on the CNI bridge, Services a /16. Nothing is routed off the machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ClusterConfig", "ClusterError", "VERSIONS", "COMPONENT_BINARIES"]

#: Pinned upstream versions; the build wrapper modules are generated from these.
VERSIONS: dict[str, str] = {
    "kubernetes": "1.35.4",
    "etcd": "3.6.14",
    "metrics-server": "0.8.0",
    "coredns": "1.14.7",
    "weaviate": "1.39.0",
    # Go module version of Prometheus 3.16.0 (github.com/prometheus/prometheus v0.316.0)
    "prometheus": "0.316.0",
}

#: binary name -> component that builds it (see build-components.sh)
COMPONENT_BINARIES: dict[str, str] = {
    "kube-apiserver": "kubernetes",
    "kube-controller-manager": "kubernetes",
    "kube-scheduler": "kubernetes",
    "kubelet": "kubernetes",
    "kube-proxy": "kubernetes",
    "kubectl": "kubernetes",
    "etcd": "etcd",
    "etcdctl": "etcd",
    "metrics-server": "metrics-server",
    "coredns": "coredns",
    "weaviate-server": "weaviate",
    "prometheus": "prometheus",
    "promtool": "prometheus",
}


class ClusterError(RuntimeError):
    """The cluster cannot be brought up as asked; the message says what to do."""


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name, default))


@dataclass(frozen=True)
class ClusterConfig:
    """Paths, addresses and ports of the single-node local cluster."""

    state_dir: Path = field(default_factory=lambda: _env_path("SCALEPROOF_STATE_DIR", "/var/lib/scaleproof"))
    cache_dir: Path = field(
        default_factory=lambda: _env_path("SCALEPROOF_CACHE_DIR", "/var/cache/scaleproof")
    )
    run_dir: Path = field(default_factory=lambda: _env_path("SCALEPROOF_RUNTIME_DIR", "/run/scaleproof"))
    node_name: str = "scaleproof-node"
    node_bridge: str = "sp-node0"
    node_ip: str = "198.18.0.1"
    pod_bridge: str = "sp-cni0"
    pod_cidr: str = "198.18.1.0/24"
    service_cidr: str = "198.19.0.0/16"
    kubernetes_service_ip: str = "198.19.0.1"
    dns_ip: str = "198.18.0.1"
    cluster_domain: str = "cluster.local"
    apiserver_port: int = 6443
    etcd_client_port: int = 2379
    etcd_peer_port: int = 2380
    kubelet_port: int = 10250
    metrics_server_port: int = 4443
    dns_port: int = 53

    # --- derived paths -------------------------------------------------------------------------------
    @property
    def bin_dir(self) -> Path:
        return self.cache_dir / "bin"

    @property
    def gowork_dir(self) -> Path:
        return self.cache_dir / "gowork"

    @property
    def images_dir(self) -> Path:
        return self.cache_dir / "images"

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pid_dir(self) -> Path:
        return self.run_dir / "pids"

    @property
    def etc_dir(self) -> Path:
        return self.state_dir / "etc"

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "admin.kubeconfig"

    @property
    def containerd_root(self) -> Path:
        # kept under the cache dir: imported images survive `down --purge`
        return self.cache_dir / "containerd"

    @property
    def containerd_state(self) -> Path:
        return self.run_dir / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.run_dir / "containerd" / "containerd.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.state_dir / "kubelet"

    @property
    def etcd_data(self) -> Path:
        return self.state_dir / "etcd"

    @property
    def cni_conf_dir(self) -> Path:
        return self.etc_dir / "cni"

    @property
    def cni_bin_dir(self) -> Path:
        return Path("/usr/lib/cni")

    @property
    def apiserver_url(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    def binary(self, name: str) -> Path:
        return self.bin_dir / name
