"""Bring the single-node local cluster up, take it down, say what runs.

The cluster is made of the real upstream components running as host processes, in the order
Kubernetes' own local-up-cluster uses: containerd → etcd → kube-apiserver → controller-manager →
scheduler → kubelet → kube-proxy, plus metrics-server (so `kubectl top` and CPU HPAs work) and
CoreDNS (so StatefulSet pods find each other by name). Every address lives inside 198.18.0.0/15.
"""

from __future__ import annotations

import errno
import logging
import os
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from . import images, nodes, pki, processes, templates
from .build import run_build_script, stale_components
from .config import (
    DEFAULT_NODES,
    OWN_RANGE,
    ClusterConfig,
    ClusterError,
    NodeSpec,
    node_spec,
    node_specs,
    parse_node_count,
)
from .nodes import FILTER_CHAIN
from .processes import Component, ComponentFailed, http_ok

__all__ = [
    "up",
    "down",
    "status",
    "nodes_status",
    "ClusterError",
    "kubectl",
    "build_binaries",
    "ORDER",
    "node_count",
    "check_memory",
]

log = logging.getLogger(__name__)

ORDER = [
    "containerd",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "coredns",
    "metrics-server",
]

Progress = Callable[[str], None]


def _say(progress: Progress, msg: str) -> None:
    progress(f"[cluster {time.strftime('%H:%M:%S')}] {msg}")


def _run(argv: list[str], check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        raise ClusterError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
    return proc


def kubectl(
    cfg: ClusterConfig, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return _run(
        [str(cfg.binary("kubectl")), "--kubeconfig", str(cfg.kubeconfig), *args],
        check=check,
        input=input,
        timeout=timeout,
    )


# --------------------------------------------------------------------------------------------------
# preflight


def _port_taken(host: str, port: int, proto: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def preflight(cfg: ClusterConfig) -> None:
    """Refuse early, with an actionable message, what would fail half-way."""
    if os.geteuid() != 0:
        raise ClusterError(
            "`scaleproof cluster up` must run as root (it starts containerd, the kubelet and "
            "kube-proxy, which manage cgroups, mounts and iptables). Re-run with sudo."
        )
    missing = [
        tool
        for tool in ("containerd", "runc", "ctr", "iptables", "ip", "openssl", "gcc")
        if shutil.which(tool) is None
    ]
    if not (cfg.cni_bin_dir / "bridge").exists():
        missing.append("containernetworking-plugins (/usr/lib/cni/bridge)")
    if missing:
        raise ClusterError(
            "missing host tools: " + ", ".join(missing) + " — install them with: apt-get install "
            "containerd runc containernetworking-plugins iptables iproute2 openssl gcc libc6-dev"
        )
    ports = {
        "etcd": ("127.0.0.1", cfg.etcd_client_port),
        "etcd peer": ("127.0.0.1", cfg.etcd_peer_port),
        "kube-apiserver": ("0.0.0.0", cfg.apiserver_port),
        "kube-controller-manager": ("127.0.0.1", 10257),
        "kube-scheduler": ("127.0.0.1", 10259),
        "kubelet healthz": ("127.0.0.1", 10248),
        "kube-proxy healthz": ("127.0.0.1", 10256),
    }
    for comp, (host, port) in ports.items():
        binary = "kube-proxy" if comp.startswith("kube-proxy") else comp.split()[0]
        if processes.pid_of(cfg.pid_dir, binary) is not None:
            continue  # ours, already running
        if _port_taken(host, port):
            raise ClusterError(
                f"port {host}:{port} needed by {comp} is already taken by another process "
                f"(see `ss -ltnp 'sport = :{port}'`); stop it, or run `scaleproof cluster down` "
                "if it is a previous cluster whose pid files were lost"
            )


# --------------------------------------------------------------------------------------------------
# binaries


def build_binaries(cfg: ClusterConfig, progress: Progress) -> None:
    """Build the pinned components with go (cached: a no-op when every binary is present)."""
    wanted = stale_components(cfg)
    if not wanted:
        return
    if shutil.which("go") is None:
        raise ClusterError("go is not installed; it builds the cluster's components from the Go module proxy")
    _say(
        progress,
        f"building {', '.join(wanted)} with go (cold: about 8 min for Kubernetes, 20 min for all on 2 cores; "
        "cached afterwards)",
    )
    run_build_script(cfg, wanted, progress)


# --------------------------------------------------------------------------------------------------
# network


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(["iptables", "-w", "5", *args], check=check)


def setup_network(cfg: ClusterConfig) -> None:
    """The node bridge with the node address, and a FORWARD filter that keeps pod traffic on the machine.

    The bridge carries the node network 198.18.0.0/24: the host (node 0) is 198.18.0.1, each extra
    node's veth sits on it. /run/netns becomes a mount point of its own before any containerd runs
    (see `nodes.ensure_netns_dir`)."""
    if _run(["ip", "link", "show", cfg.node_bridge], check=False).returncode != 0:
        _run(["ip", "link", "add", cfg.node_bridge, "type", "bridge"])
    addrs = _run(["ip", "-4", "-o", "addr", "show", "dev", cfg.node_bridge]).stdout
    if f" {cfg.node_ip}/32" in addrs:  # the single-node layout of earlier versions
        _run(["ip", "addr", "del", f"{cfg.node_ip}/32", "dev", cfg.node_bridge])
        addrs = ""
    if f" {cfg.node_ip}/24" not in addrs:
        _run(["ip", "addr", "add", f"{cfg.node_ip}/24", "dev", cfg.node_bridge])
    _run(["ip", "link", "set", cfg.node_bridge, "up"])
    nodes.ensure_netns_dir(cfg.run_dir)
    for key, value in (("net.ipv4.ip_forward", "1"), ("net.bridge.bridge-nf-call-iptables", "1")):
        _run(["sysctl", "-q", "-w", f"{key}={value}"], check=False)
    if _iptables("-L", FILTER_CHAIN, "-n", check=False).returncode != 0:
        _iptables("-N", FILTER_CHAIN)
    _iptables("-F", FILTER_CHAIN)
    own = "198.18.0.0/15"
    # inside our range: allowed even where Docker left the FORWARD policy at DROP
    _iptables("-A", FILTER_CHAIN, "-s", own, "-d", own, "-j", "ACCEPT")
    # anything from a pod or a node of any node to an address outside our range never leaves the machine
    _iptables("-A", FILTER_CHAIN, "-s", OWN_RANGE, "-j", "REJECT")
    if _iptables("-C", "FORWARD", "-j", FILTER_CHAIN, check=False).returncode != 0:
        _iptables("-I", "FORWARD", "1", "-j", FILTER_CHAIN)


def bridge_ports(bridge: str) -> list[str]:
    """The links enslaved to `bridge` (`ip -o link show master BRIDGE`: "7: vethab12@if2: <...>")."""
    out = _run(["ip", "-o", "link", "show", "master", bridge], check=False).stdout
    return [ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines() if ln.count(":") >= 2]


def teardown_network(cfg: ClusterConfig) -> list[str]:
    done: list[str] = []
    while _iptables("-D", "FORWARD", "-j", FILTER_CHAIN, check=False).returncode == 0:
        done.append(f"iptables FORWARD -j {FILTER_CHAIN}")
    if _iptables("-F", FILTER_CHAIN, check=False).returncode == 0:
        _iptables("-X", FILTER_CHAIN, check=False)
    # kube-proxy's and the CNI portmap plugin's chains: unhook them from the built-in chains, then drop them
    if cfg.binary("kube-proxy").exists():
        _run([str(cfg.binary("kube-proxy")), "--cleanup"], check=False)
    for table in ("filter", "nat", "mangle"):
        rules = _run(["iptables-save", "-t", table], check=False).stdout.splitlines()
        chains = [r.split()[0][1:] for r in rules if r.startswith((":KUBE-", ":CNI-"))]
        for rule in rules:
            if (
                rule.startswith("-A ")
                and not rule.startswith(tuple(f"-A {c} " for c in chains))
                and any(f"-j {c}" in rule for c in chains)
            ):
                _iptables("-t", table, "-D", *shlex.split(rule[3:]), check=False)
        for c in chains:
            _iptables("-t", table, "-F", c, check=False)
        for c in chains:
            if _iptables("-t", table, "-X", c, check=False).returncode == 0:
                done.append(f"iptables -t {table} chain {c}")
    ports = bridge_ports(cfg.pod_bridge)
    for dev in (cfg.pod_bridge, cfg.node_bridge):
        if _run(["ip", "link", "del", dev], check=False).returncode == 0:
            done.append(f"link {dev}")
    # a pod's veth outlives its bridge while the kernel still holds the pod's network namespace (no
    # process or mount does: freed late, seen twice after `down`): delete the ones that were ours
    for dev in ports:
        if _run(["ip", "link", "del", dev], check=False).returncode == 0:
            done.append(f"link {dev} (a pod's, its namespace not yet freed)")
    marker = cfg.run_dir / "netns-mount"
    if marker.exists() and not any(nodes.NETNS_DIR.iterdir()):
        if _run(["umount", str(nodes.NETNS_DIR)], check=False).returncode == 0:
            done.append(f"mount {nodes.NETNS_DIR}")
        marker.unlink(missing_ok=True)
    return done


# --------------------------------------------------------------------------------------------------
# components


Flags = dict[str, str | None]  # flag -> value, in argv order; None: a flag that stands alone


def _argv(binary: str | Path, flags: Flags) -> list[str]:
    out = [str(binary)]
    for flag, value in flags.items():
        out += [flag] if value is None else [flag, value]
    return out


def _component(cfg: ClusterConfig, name: str, flags: Flags, health_url: str, timeout_s: float) -> Component:
    """A component run from its built binary, healthy when `health_url` answers 2xx."""
    return Component(name, _argv(cfg.binary(name), flags), lambda: http_ok(health_url), timeout_s)


def _control_plane(cfg: ClusterConfig, name: str, flags: Flags, port: int) -> Component:
    """A controller-manager/scheduler: serves its health on a local secure port."""
    served: Flags = {"--bind-address": "127.0.0.1", "--secure-port": str(port), "--v": "1"}
    return _component(cfg, name, flags | served, f"https://127.0.0.1:{port}/healthz", 60)


def _three_kubeconfigs(path: Path) -> Flags:
    """The same kubeconfig for the client, authentication and authorization."""
    return {f"--{k}kubeconfig": str(path) for k in ("", "authentication-", "authorization-")}


def _node0(cfg: ClusterConfig, name: str) -> Component:
    """containerd, kubelet, kube-proxy of the control-plane node: the same builder as every node's."""
    return nodes.node_components(cfg, node_spec(cfg, 0))[name]


def _etcd(cfg: ClusterConfig) -> Component:
    client, peer = f"http://127.0.0.1:{cfg.etcd_client_port}", f"http://127.0.0.1:{cfg.etcd_peer_port}"
    flags: Flags = {
        "--name": "scaleproof",
        "--data-dir": str(cfg.etcd_data),
        "--listen-client-urls": client,
        "--advertise-client-urls": client,
        "--listen-peer-urls": peer,
        "--initial-advertise-peer-urls": peer,
        "--initial-cluster": f"scaleproof={peer}",
        "--listen-metrics-urls": "http://127.0.0.1:2381",
        "--quota-backend-bytes": str(2 << 30),
        "--snapshot-count": "10000",
        "--log-level": "warn",
    }
    return _component(cfg, "etcd", flags, f"{client}/health", 30)


def _apiserver(cfg: ClusterConfig) -> Component:
    p = cfg.pki_dir
    flags: Flags = {
        "--advertise-address": cfg.node_ip,
        "--bind-address": "0.0.0.0",
        "--secure-port": str(cfg.apiserver_port),
        "--etcd-servers": f"http://127.0.0.1:{cfg.etcd_client_port}",
        "--service-cluster-ip-range": cfg.service_cidr,
        "--service-node-port-range": "30000-32767",
        "--authorization-mode": "Node,RBAC",
        "--allow-privileged=true": None,
        "--enable-admission-plugins": "NodeRestriction",
        "--client-ca-file": str(p / "ca.crt"),
        "--tls-cert-file": str(p / "apiserver.crt"),
        "--tls-private-key-file": str(p / "apiserver.key"),
        "--kubelet-client-certificate": str(p / "apiserver-kubelet-client.crt"),
        "--kubelet-client-key": str(p / "apiserver-kubelet-client.key"),
        "--kubelet-certificate-authority": str(p / "ca.crt"),
        "--kubelet-preferred-address-types": "InternalIP",
        "--service-account-issuer": f"https://kubernetes.default.svc.{cfg.cluster_domain}",
        "--service-account-key-file": str(p / "sa.pub"),
        "--service-account-signing-key-file": str(p / "sa.key"),
        "--requestheader-client-ca-file": str(p / "front-proxy-ca.crt"),
        "--requestheader-allowed-names": "front-proxy-client",
        "--requestheader-username-headers": "X-Remote-User",
        "--requestheader-group-headers": "X-Remote-Group",
        "--requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "--proxy-client-cert-file": str(p / "front-proxy-client.crt"),
        "--proxy-client-key-file": str(p / "front-proxy-client.key"),
        "--enable-aggregator-routing=true": None,
        "--event-ttl": "2h",
        "--v": "1",
    }
    admin = (p / "admin.crt", p / "admin.key")
    url = f"{cfg.apiserver_url}/readyz"
    return Component(
        "kube-apiserver",
        _argv(cfg.binary("kube-apiserver"), flags),
        lambda: http_ok(url, ca=p / "ca.crt", cert=admin),
        90,
    )


def _controller_manager(cfg: ClusterConfig) -> Component:
    p = cfg.pki_dir
    flags: Flags = {
        **_three_kubeconfigs(cfg.etc_dir / "controller-manager.kubeconfig"),
        "--service-account-private-key-file": str(p / "sa.key"),
        "--root-ca-file": str(p / "ca.crt"),
        "--cluster-signing-cert-file": str(p / "ca.crt"),
        "--cluster-signing-key-file": str(p / "ca.key"),
        "--use-service-account-credentials=true": None,
        "--controllers": "*",
        "--service-cluster-ip-range": cfg.service_cidr,
        "--allocate-node-cidrs=false": None,
        "--leader-elect=false": None,
    }
    return _control_plane(cfg, "kube-controller-manager", flags, 10257)


def _scheduler(cfg: ClusterConfig) -> Component:
    kubeconfig = str(cfg.etc_dir / "scheduler.kubeconfig")
    flags: Flags = {
        "--config": str(cfg.etc_dir / "scheduler.yaml"),
        "--authentication-kubeconfig": kubeconfig,
        "--authorization-kubeconfig": kubeconfig,
    }
    return _control_plane(cfg, "kube-scheduler", flags, 10259)


def _coredns(cfg: ClusterConfig) -> Component:
    return _component(
        cfg, "coredns", {"-conf": str(cfg.etc_dir / "Corefile")}, "http://127.0.0.1:18181/ready", 60
    )


def _metrics_server(cfg: ClusterConfig) -> Component:
    p = cfg.pki_dir
    flags: Flags = {
        **_three_kubeconfigs(cfg.etc_dir / "metrics-server.kubeconfig"),
        "--secure-port": str(cfg.metrics_server_port),
        "--bind-address": cfg.node_ip,
        "--tls-cert-file": str(p / "metrics-server-serving.crt"),
        "--tls-private-key-file": str(p / "metrics-server-serving.key"),
        "--kubelet-preferred-address-types": "InternalIP",
        "--kubelet-certificate-authority": str(p / "ca.crt"),
        "--metric-resolution": "15s",
    }
    return _component(
        cfg, "metrics-server", flags, f"https://{cfg.node_ip}:{cfg.metrics_server_port}/readyz", 60
    )


# one builder per component, in start order (ORDER)
_BUILDERS: dict[str, Callable[[ClusterConfig], Component]] = {
    "containerd": lambda cfg: _node0(cfg, "containerd"),
    "etcd": _etcd,
    "kube-apiserver": _apiserver,
    "kube-controller-manager": _controller_manager,
    "kube-scheduler": _scheduler,
    "kubelet": lambda cfg: _node0(cfg, "kubelet"),
    "kube-proxy": lambda cfg: _node0(cfg, "kube-proxy"),
    "coredns": _coredns,
    "metrics-server": _metrics_server,
}


def components(cfg: ClusterConfig) -> dict[str, Component]:
    """Every component of the local cluster (argv, health check, start timeout), in start order."""
    return {name: build(cfg) for name, build in _BUILDERS.items()}


def _write_configs(cfg: ClusterConfig) -> None:
    for path, text in templates.render_all(cfg).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    (cfg.etc_dir / "static-pods").mkdir(parents=True, exist_ok=True)


def _not_ready(cfg: ClusterConfig, names: list[str]) -> list[str]:
    out = kubectl(
        cfg,
        "get",
        "nodes",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}="
        "{.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}",
        check=False,
    )
    ready = {ln.split("=")[0] for ln in out.stdout.splitlines() if ln.endswith("=True")}
    return [n for n in names if n not in ready]


def _wait_nodes_ready(cfg: ClusterConfig, specs: list[NodeSpec], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    names = [n.name for n in specs]
    while time.monotonic() < deadline:
        if not _not_ready(cfg, names):
            return
        time.sleep(1)
    late = _not_ready(cfg, names)
    if late:
        node = next(n for n in specs if n.name == late[0])
        raise ComponentFailed(
            "kubelet",
            node.log_dir / "kubelet.log",
            f"node(s) {', '.join(late)} not Ready after {timeout_s:.0f} s",
        )


#: what each extra node takes, measured idle (containerd + kubelet + kube-proxy ~ 200 MiB), with room
#: for its share of pods; and what the control plane and the workloads keep besides
NODE_MEMORY_MIB = 512
RESERVED_MEMORY_MIB = 3072


def _mem_available_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def check_memory(wanted: int, running: int, available_mib: int | None = None) -> None:
    """Refuse, in one line, more nodes than this machine's available memory holds (says how many fit)."""
    available = _mem_available_mib() if available_mib is None else available_mib
    new = max(wanted - max(running, 1), 0)
    fit = max(running, 1) + max((available - RESERVED_MEMORY_MIB) // NODE_MEMORY_MIB, 0)
    if new and wanted > fit:
        raise ClusterError(
            f"--nodes {wanted}: {available} MiB of memory available, each extra node needs about "
            f"{NODE_MEMORY_MIB} MiB beside {RESERVED_MEMORY_MIB} MiB for the control plane and workloads: "
            f"at most {fit} node(s) fit here"
        )


def node_count(value: object = None) -> int:
    """--nodes as given, else SCALEPROOF_NODES, else DEFAULT_NODES; ClusterError for bad input."""
    if value is None:
        value = os.environ.get("SCALEPROOF_NODES") or DEFAULT_NODES
    return parse_node_count(value)


def _running_nodes(cfg: ClusterConfig) -> int:
    return sum(1 for n in nodes.registered(cfg) if processes.pid_of(n.pid_dir, "kubelet") is not None)


def _add_node(cfg: ClusterConfig, node: NodeSpec, progress: Progress, with_images: bool) -> None:
    """Certificates, configuration, network, images and processes of one extra node."""
    pki.ensure_node_pki(cfg, node)
    for path, text in templates.render_node(cfg, node).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    (node.etc_dir / "static-pods").mkdir(parents=True, exist_ok=True)
    nodes.setup_node_network(cfg, node)
    nodes.ensure_cgroups(node)
    comps = nodes.node_components(cfg, node)
    for name in nodes.NODE_DAEMONS:
        _say(progress, f"{node.name}: starting {name}")
        processes.start(comps[name], node.pid_dir, node.log_dir)
        if name == "containerd" and with_images:
            images.build_images(cfg, ["pause"], progress=progress, nodes=[node])


def remove_node(cfg: ClusterConfig, node: NodeSpec, delete_object: bool) -> list[str]:
    """Stop an extra node and remove what it left: containers, mounts, link, namespace, cgroups,
    state; `delete_object` also deletes its Node object (when the cluster shrinks)."""
    done = nodes.stop_node(cfg, node, remove_containers=True)
    m = _unmount_under(node.kubelet_root, node.containerd_root, node.containerd_state, node.pid_dir.parent)
    if m:
        done.append(f"unmounted {m} mount(s) of {node.name}")
    done += nodes.teardown_node_network(cfg, node)
    if nodes.remove_cgroups(node):
        done.append(f"cgroups of {node.name}")
    shutil.rmtree(node.pid_dir.parent, ignore_errors=True)
    if delete_object:
        kubectl(cfg, "delete", "node", node.name, "--ignore-not-found", "--wait=false", check=False)
        shutil.rmtree(node.etc_dir.parent, ignore_errors=True)
        done.append(f"node {node.name} removed from the cluster")
    return done


def _start_control_plane(cfg: ClusterConfig, progress: Progress, with_images: bool) -> None:
    comps = components(cfg)
    for name in ORDER:
        _say(progress, f"starting {name}")
        processes.start(comps[name], cfg.pid_dir, cfg.log_dir)
        if name == "kube-apiserver":
            kubectl(cfg, "apply", "-f", "-", input=templates.bootstrap_manifests(cfg))
        if name == "containerd" and with_images:
            images.build_images(cfg, ["pause"], progress=progress, nodes=[node_spec(cfg, 0)])


def up(
    cfg: ClusterConfig | None = None,
    progress: Progress = print,
    with_images: bool = True,
    nodes_wanted: int | None = None,
) -> float:
    """Build what is missing, start every component and node, wait until every node is Ready; returns
    seconds taken. `nodes_wanted`: None is SCALEPROOF_NODES or DEFAULT_NODES; a running cluster with
    more nodes shrinks to it (the extra nodes are stopped and removed)."""
    cfg = cfg or ClusterConfig()
    count = node_count(nodes_wanted)
    t0 = time.monotonic()
    preflight(cfg)
    check_memory(count, _running_nodes(cfg))
    build_binaries(cfg, progress)
    for d in (cfg.state_dir, cfg.log_dir, cfg.pid_dir, cfg.etc_dir):
        d.mkdir(parents=True, exist_ok=True)
    _say(progress, "certificates and configuration")
    pki.ensure_pki(cfg)
    _write_configs(cfg)
    setup_network(cfg)
    _start_control_plane(cfg, progress, with_images)
    for gone in [n for n in nodes.leftover(cfg) if n.index >= count]:
        _say(progress, f"{gone.name}: removing (the cluster now has {count} node(s))")
        remove_node(cfg, gone, delete_object=True)
    specs = node_specs(cfg, count)
    nodes.save_count(cfg, count)
    for node in specs[1:]:
        _add_node(cfg, node, progress, with_images)
    _say(progress, f"waiting for {count} node(s) to be Ready")
    _wait_nodes_ready(cfg, specs, 120)
    kubectl(cfg, "label", "node", cfg.node_name, "node-role.kubernetes.io/control-plane=", "--overwrite")
    elapsed = time.monotonic() - t0
    _say(
        progress,
        f"{count} node(s) Ready in {elapsed:.1f} s ({', '.join(n.name for n in specs)}); "
        f"kubeconfig: {cfg.kubeconfig}",
    )
    return elapsed


def _unmount_under(*roots: Path) -> int:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    ours = [m for m in mounts if any(m == str(r) or m.startswith(str(r) + "/") for r in roots)]
    count = 0
    for m in sorted(ours, key=len, reverse=True):
        if _run(["umount", "-l", m], check=False).returncode == 0:
            count += 1
    return count


def _remove_kubepods_cgroups() -> int:
    """Node 0's pod cgroups (`/kubepods` in each hierarchy, made by its kubelet), deepest first."""
    removed = 0
    for h in nodes.HIERARCHIES:
        top = nodes.CGROUP_V1 / h / "kubepods"
        if not top.is_dir():
            continue
        for d in sorted([*top.rglob("*"), top], key=lambda p: len(p.parts), reverse=True):
            if d.is_dir():
                try:
                    d.rmdir()
                    removed += 1
                except OSError:
                    pass
    return removed


def down(cfg: ClusterConfig | None = None, purge: bool = False, progress: Progress = print) -> list[str]:
    """Stop every process `up` started, on every node; remove its containers, mounts, network
    namespaces, devices, routes, cgroups and iptables rules (a frozen node is thawed first)."""
    cfg = cfg or ClusterConfig()
    report: list[str] = []
    for node in reversed(nodes.leftover(cfg)):
        report += remove_node(cfg, node, delete_object=False)
    for name in [
        "metrics-server",
        "coredns",
        "kube-proxy",
        "kube-scheduler",
        "kube-controller-manager",
        "kubelet",
    ]:
        if processes.stop(name, cfg.pid_dir):
            report.append(f"stopped {name}")
    n = nodes.kill_containers(cfg.containerd_socket, remove=True, grace_s=0)
    if n:
        report.append(f"killed {n} container task(s)")
    for name in ["kube-apiserver", "etcd", "containerd"]:
        if processes.stop(name, cfg.pid_dir):
            report.append(f"stopped {name}")
    # shims of our containerd outlive it; they carry our socket path on their command line
    report += [f"killed shim {pid}" for pid in nodes.kill_shims(cfg.containerd_socket)]
    netns_dir = nodes.NETNS_DIR
    for ns in sorted(netns_dir.glob("cni-*")) if netns_dir.exists() else []:
        _run(["umount", str(ns)], check=False)
        ns.unlink(missing_ok=True)
        report.append(f"netns {ns.name}")
    m = _unmount_under(cfg.kubelet_root, cfg.containerd_root, cfg.containerd_state, cfg.run_dir)
    if m:
        report.append(f"unmounted {m} mount(s)")
    if _remove_kubepods_cgroups():
        report.append("cgroups /kubepods")
    report += teardown_network(cfg)
    shutil.rmtree(Path("/var/lib/cni/networks/scaleproof"), ignore_errors=True)
    if purge:
        shutil.rmtree(cfg.state_dir, ignore_errors=True)
        report.append(f"removed {cfg.state_dir}")
    for line in report:
        progress(f"[down] {line}")
    return report


def status(cfg: ClusterConfig | None = None) -> dict[str, dict[str, object]]:
    """name -> {running, pid, healthy, log} for every component of the control-plane node."""
    cfg = cfg or ClusterConfig()
    comps = components(cfg)
    out: dict[str, dict[str, object]] = {}
    for name in ORDER:
        pid = processes.pid_of(cfg.pid_dir, name)
        healthy = bool(pid) and comps[name].health()
        out[name] = {
            "running": pid is not None,
            "pid": pid,
            "healthy": healthy,
            "log": str(cfg.log_dir / f"{name}.log"),
        }
    return out


def nodes_status(cfg: ClusterConfig | None = None) -> list[dict[str, object]]:
    """Every node the cluster has: address, pod CIDR, zone, namespace, freezer, link and its processes."""
    cfg = cfg or ClusterConfig()
    return [nodes.node_status(cfg, n) for n in nodes.registered(cfg)]
