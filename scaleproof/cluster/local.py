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

from . import images, pki, processes, templates
from .build import run_build_script, stale_components
from .config import ClusterConfig, ClusterError
from .processes import Component, ComponentFailed, http_ok

__all__ = ["up", "down", "status", "ClusterError", "kubectl", "build_binaries", "ORDER"]

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

FILTER_CHAIN = "SCALEPROOF-FORWARD"


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
    """The node bridge with the node address, and a FORWARD filter that keeps pod traffic on the machine."""
    if _run(["ip", "link", "show", cfg.node_bridge], check=False).returncode != 0:
        _run(["ip", "link", "add", cfg.node_bridge, "type", "bridge"])
    addrs = _run(["ip", "-4", "-o", "addr", "show", "dev", cfg.node_bridge]).stdout
    if f" {cfg.node_ip}/" not in addrs:
        _run(["ip", "addr", "add", f"{cfg.node_ip}/32", "dev", cfg.node_bridge])
    _run(["ip", "link", "set", cfg.node_bridge, "up"])
    for key, value in (("net.ipv4.ip_forward", "1"), ("net.bridge.bridge-nf-call-iptables", "1")):
        _run(["sysctl", "-q", "-w", f"{key}={value}"], check=False)
    if _iptables("-L", FILTER_CHAIN, "-n", check=False).returncode != 0:
        _iptables("-N", FILTER_CHAIN)
    _iptables("-F", FILTER_CHAIN)
    own = "198.18.0.0/15"
    # inside our range: allowed even where Docker left the FORWARD policy at DROP
    _iptables("-A", FILTER_CHAIN, "-s", own, "-d", own, "-j", "ACCEPT")
    # anything from a pod to an address outside our range never leaves the machine
    _iptables("-A", FILTER_CHAIN, "-s", cfg.pod_cidr, "-j", "REJECT")
    if _iptables("-C", "FORWARD", "-j", FILTER_CHAIN, check=False).returncode != 0:
        _iptables("-I", "FORWARD", "1", "-j", FILTER_CHAIN)


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
    for dev in (cfg.pod_bridge, cfg.node_bridge):
        if _run(["ip", "link", "del", dev], check=False).returncode == 0:
            done.append(f"link {dev}")
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


def _containerd(cfg: ClusterConfig) -> Component:
    binary = shutil.which("containerd") or "/usr/bin/containerd"
    sock = cfg.containerd_socket
    return Component(
        "containerd",
        _argv(binary, {"--config": str(cfg.etc_dir / "containerd.toml")}),
        lambda: (
            sock.exists() and _run(["ctr", "--address", str(sock), "version"], check=False).returncode == 0
        ),
        30,
    )


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


def _kubelet(cfg: ClusterConfig) -> Component:
    flags: Flags = {
        "--config": str(cfg.etc_dir / "kubelet.yaml"),
        "--kubeconfig": str(cfg.etc_dir / "kubelet.kubeconfig"),
        "--hostname-override": cfg.node_name,
        "--node-ip": cfg.node_ip,
        "--root-dir": str(cfg.kubelet_root),
        "--v": "1",
    }
    return _component(cfg, "kubelet", flags, "http://127.0.0.1:10248/healthz", 90)


def _kube_proxy(cfg: ClusterConfig) -> Component:
    flags: Flags = {"--config": str(cfg.etc_dir / "kube-proxy.yaml"), "--v": "1"}
    return _component(cfg, "kube-proxy", flags, "http://127.0.0.1:10256/healthz", 60)


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
    "containerd": _containerd,
    "etcd": _etcd,
    "kube-apiserver": _apiserver,
    "kube-controller-manager": _controller_manager,
    "kube-scheduler": _scheduler,
    "kubelet": _kubelet,
    "kube-proxy": _kube_proxy,
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


def _wait_node_ready(cfg: ClusterConfig, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = kubectl(
            cfg,
            "get",
            "node",
            cfg.node_name,
            "-o",
            "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
            check=False,
        )
        if out.returncode == 0 and out.stdout.strip() == "True":
            return
        time.sleep(1)
    raise ComponentFailed(
        "kubelet", cfg.log_dir / "kubelet.log", f"node {cfg.node_name} not Ready after {timeout_s:.0f} s"
    )


def up(cfg: ClusterConfig | None = None, progress: Progress = print, with_images: bool = True) -> float:
    """Build what is missing, start every component, wait for a Ready node; returns seconds taken."""
    cfg = cfg or ClusterConfig()
    t0 = time.monotonic()
    preflight(cfg)
    build_binaries(cfg, progress)
    for d in (cfg.state_dir, cfg.log_dir, cfg.pid_dir, cfg.etc_dir):
        d.mkdir(parents=True, exist_ok=True)
    _say(progress, "certificates and configuration")
    pki.ensure_pki(cfg)
    _write_configs(cfg)
    setup_network(cfg)
    comps = components(cfg)
    for name in ORDER:
        _say(progress, f"starting {name}")
        processes.start(comps[name], cfg.pid_dir, cfg.log_dir)
        if name == "kube-apiserver":
            kubectl(cfg, "apply", "-f", "-", input=templates.bootstrap_manifests(cfg))
        if name == "containerd" and with_images:
            images.build_images(cfg, ["pause"], progress=progress)
    _say(progress, "waiting for the node to be Ready")
    _wait_node_ready(cfg, 120)
    elapsed = time.monotonic() - t0
    _say(progress, f"node {cfg.node_name} Ready in {elapsed:.1f} s; kubeconfig: {cfg.kubeconfig}")
    return elapsed


def _kill_containers(cfg: ClusterConfig) -> int:
    """Kill every container task of our containerd (CRI namespace) and remove the containers."""
    if not cfg.containerd_socket.exists():
        return 0
    ctr = ["ctr", "--address", str(cfg.containerd_socket), "--namespace", "k8s.io"]
    tasks = _run([*ctr, "tasks", "ls", "-q"], check=False).stdout.split()
    for task in tasks:
        _run([*ctr, "tasks", "kill", "-s", "SIGKILL", task], check=False)
    time.sleep(0.5 if tasks else 0)
    for task in tasks:
        _run([*ctr, "tasks", "rm", "-f", task], check=False)
    for c in _run([*ctr, "containers", "ls", "-q"], check=False).stdout.split():
        _run([*ctr, "containers", "rm", c], check=False)
    return len(tasks)


def _unmount_under(*roots: Path) -> int:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    ours = [m for m in mounts if any(m == str(r) or m.startswith(str(r) + "/") for r in roots)]
    count = 0
    for m in sorted(ours, key=len, reverse=True):
        if _run(["umount", "-l", m], check=False).returncode == 0:
            count += 1
    return count


def down(cfg: ClusterConfig | None = None, purge: bool = False, progress: Progress = print) -> list[str]:
    """Stop every process `up` started, remove its containers, mounts, network devices and rules."""
    cfg = cfg or ClusterConfig()
    report: list[str] = []
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
    n = _kill_containers(cfg)
    if n:
        report.append(f"killed {n} container task(s)")
    for name in ["kube-apiserver", "etcd", "containerd"]:
        if processes.stop(name, cfg.pid_dir):
            report.append(f"stopped {name}")
    # shims of our containerd outlive it; they carry our socket path on their command line
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "containerd-shim" in cmd and str(cfg.containerd_socket) in cmd:
            try:
                os.kill(int(proc_dir.name), 9)
                report.append(f"killed shim {proc_dir.name}")
            except ProcessLookupError:
                pass
    netns_dir = Path("/var/run/netns")
    for ns in sorted(netns_dir.glob("cni-*")) if netns_dir.exists() else []:
        _run(["umount", str(ns)], check=False)
        ns.unlink(missing_ok=True)
        report.append(f"netns {ns.name}")
    m = _unmount_under(cfg.kubelet_root, cfg.containerd_root, cfg.containerd_state, cfg.run_dir)
    if m:
        report.append(f"unmounted {m} mount(s)")
    report += teardown_network(cfg)
    shutil.rmtree(Path("/var/lib/cni/networks/scaleproof"), ignore_errors=True)
    if purge:
        shutil.rmtree(cfg.state_dir, ignore_errors=True)
        report.append(f"removed {cfg.state_dir}")
    for line in report:
        progress(f"[down] {line}")
    return report


def status(cfg: ClusterConfig | None = None) -> dict[str, dict[str, object]]:
    """name -> {running, pid, healthy, log} for every component."""
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
