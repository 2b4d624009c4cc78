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


# --------------------------------------------------------------------------------------------------
# several nodes on this one machine

#: `cluster up` without --nodes: a small production cluster's size, and what a 3-peer store spreads on
DEFAULT_NODES = 3
#: 198.18.0.<index+1> is a node's address and 198.18.<index+1>.0/24 its pods: room for 253 nodes
MAX_NODES_BY_ADDRESS = 253
#: the device of an extra node inside its network namespace (its peer sits on the node bridge)
NODE_DEVICE = "eth0"
#: every pod of every node lives in this range; what kube-proxy treats as the cluster's own traffic
PODS_RANGE = "198.18.0.0/16"
#: the whole range the cluster owns: pod traffic to anything outside it is rejected on every node
OWN_RANGE = "198.18.0.0/15"


@dataclass(frozen=True)
class NodeSpec:
    """Where one node of the local cluster keeps everything, and which addresses it has.

    Node 0 holds the control plane, runs in the host's network namespace and keeps the single-node
    layout (so NodePorts stay on 127.0.0.1). Every other node runs its containerd, kubelet and
    kube-proxy inside a network namespace of its own, with its own paths for every piece of state
    (containerd root/state/socket, runc root, kubelet root, pod logs, CNI configuration and IPAM,
    cgroup root), so that nothing of one node is seen or cleaned by another.
    """

    index: int
    name: str
    ip: str
    pod_cidr: str
    zone: str
    netns: str | None  # None: the host's network namespace (the control-plane node)
    host_veth: str | None  # the host end of the node's link, on the node bridge
    etc_dir: Path
    pid_dir: Path
    log_dir: Path
    containerd_root: Path
    containerd_state: Path
    runc_root: Path | None  # None: containerd's default (/run/containerd/runc), node 0 only
    kubelet_root: Path
    pod_logs_dir: Path | None  # None: the kubelet's default /var/log/pods, node 0 only
    cni_conf_dir: Path
    ipam_dir: Path | None  # None: host-local's default /var/lib/cni/networks, node 0 only
    cgroup_root: str
    pki_stem: str  # the kubelet's client certificate; `<pki_stem>-serving` its serving one

    @property
    def control_plane(self) -> bool:
        return self.index == 0

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_state / "containerd.sock"

    @property
    def pod_gateway(self) -> str:
        return self.pod_cidr.split("/")[0].rsplit(".", 1)[0] + ".1"

    @property
    def healthz_host(self) -> str:
        """Where the host reaches the node's kubelet and kube-proxy health endpoints."""
        return "127.0.0.1" if self.control_plane else self.ip

    @property
    def netns_path(self) -> Path | None:
        return Path("/run/netns") / self.netns if self.netns else None

    @property
    def freezer_cgroup(self) -> Path | None:
        """The node's freezer cgroup (v1): every process of the node lives under it. Node 0: none."""
        return None if self.control_plane else CGROUP_V1 / "freezer" / self.cgroup_root.strip("/")


CGROUP_V1 = Path("/sys/fs/cgroup")


def node_name(index: int) -> str:
    return "scaleproof-node" if index == 0 else f"scaleproof-node-{index + 1}"


def node_spec(cfg: ClusterConfig, index: int) -> NodeSpec:
    """The layout of node `index` (0 = the control-plane node, the single-node cluster's layout)."""
    if not 0 <= index < MAX_NODES_BY_ADDRESS:
        raise ClusterError(f"node index {index} outside 0..{MAX_NODES_BY_ADDRESS - 1}")
    name = node_name(index)
    if index == 0:
        return NodeSpec(
            index=0,
            name=cfg.node_name,
            ip=cfg.node_ip,
            pod_cidr=cfg.pod_cidr,
            zone="zone-1",
            netns=None,
            host_veth=None,
            etc_dir=cfg.etc_dir,
            pid_dir=cfg.pid_dir,
            log_dir=cfg.log_dir,
            containerd_root=cfg.containerd_root,
            containerd_state=cfg.containerd_state,
            runc_root=None,
            kubelet_root=cfg.kubelet_root,
            pod_logs_dir=None,
            cni_conf_dir=cfg.cni_conf_dir,
            ipam_dir=None,
            cgroup_root="/",
            pki_stem="kubelet",
        )
    state, run = cfg.state_dir / "nodes" / name, cfg.run_dir / "nodes" / name
    return NodeSpec(
        index=index,
        name=name,
        ip=f"198.18.0.{index + 1}",
        pod_cidr=f"198.18.{index + 1}.0/24",
        zone=f"zone-{index + 1}",
        netns=name,
        host_veth=f"sp-veth{index + 1}",
        etc_dir=state / "etc",
        pid_dir=run / "pids",
        log_dir=cfg.log_dir / name,
        # kept under the cache dir like node 0's: imported images survive `down --purge`
        containerd_root=cfg.cache_dir / "nodes" / name / "containerd",
        containerd_state=run / "containerd",
        runc_root=run / "runc",
        kubelet_root=state / "kubelet",
        pod_logs_dir=state / "pod-logs",
        cni_conf_dir=state / "etc" / "cni",
        ipam_dir=run / "ipam",
        cgroup_root=f"/{name}",
        pki_stem=f"kubelet-{name}",
    )


def node_specs(cfg: ClusterConfig, count: int) -> list[NodeSpec]:
    return [node_spec(cfg, i) for i in range(count)]


def parse_node_count(value: object) -> int:
    """A node count as the user typed it (--nodes, SCALEPROOF_NODES); ClusterError saying why not."""
    try:
        count = int(str(value).strip())
    except ValueError:
        raise ClusterError(f"--nodes must be a whole number of nodes (1 or more), not {value!r}") from None
    if count < 1:
        raise ClusterError(
            f"--nodes {count}: a cluster needs at least 1 node (the one that holds the control plane)"
        )
    if count > MAX_NODES_BY_ADDRESS:
        raise ClusterError(f"--nodes {count}: the address plan has room for {MAX_NODES_BY_ADDRESS} nodes")
    return count
