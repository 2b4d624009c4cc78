"""The nodes of the local cluster on this one machine: their network, processes, cgroups and faults.

Node 0 holds the control plane and lives in the host's network namespace (the single-node layout).
Every extra node gets a network namespace of its own (`ip netns`), joined to the host's node bridge by
a veth pair, with its own address, its own pod CIDR (routed by the host) and its own containerd,
kubelet and kube-proxy, each started inside that namespace and inside the node's cgroup subtree
(`/<node name>` in every cgroup v1 hierarchy: the daemons under `daemons/`, the kubelet's pods under
`kubepods/`). That subtree is what a freeze freezes.

This module is host plumbing only (no Kubernetes API): `local` (up/down) and `faults` (the node
faults, with their undo plan) build on it, and `scaleproof.undo` replays a thaw/start through it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .config import (
    CGROUP_V1,
    NODE_DEVICE,
    OWN_RANGE,
    ClusterConfig,
    ClusterError,
    NodeSpec,
    node_spec,
)
from .processes import Component, http_ok
from .processes import pid_of as _pid_of
from .processes import start as _start
from .processes import stop as _stop

__all__ = [
    "FILTER_CHAIN",
    "NODE_DAEMONS",
    "registered",
    "save_count",
    "find",
    "ensure_netns_dir",
    "setup_node_network",
    "teardown_node_network",
    "node_components",
    "start_node",
    "stop_node",
    "kill_containers",
    "freeze",
    "thaw",
    "freezer_state",
    "link_up",
    "remove_cgroups",
    "node_status",
    "node_pids",
    "idle_cost",
]

log = logging.getLogger(__name__)

FILTER_CHAIN = "SCALEPROOF-FORWARD"
#: the processes of a node, in start order (node 0 has the control plane's besides)
NODE_DAEMONS = ("containerd", "kubelet", "kube-proxy")
NETNS_DIR = Path("/run/netns")
#: v1 hierarchies a node's subtree is made in (the kubelet checks its cgroup root in each it uses)
HIERARCHIES = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd")
#: where a node's daemons (and the shims containerd starts) are accounted and frozen
DAEMON_HIERARCHIES = ("freezer", "cpuacct", "memory")


def _run(argv: list[str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise ClusterError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
    return proc


def _in_netns(node: NodeSpec, argv: list[str]) -> list[str]:
    return ["nsenter", f"--net={node.netns_path}", "--", *argv] if node.netns_path else argv


# --------------------------------------------------------------------------------------------------
# which nodes the cluster has


def _registry(cfg: ClusterConfig) -> Path:
    return cfg.state_dir / "nodes.json"


def registered(cfg: ClusterConfig) -> list[NodeSpec]:
    """The nodes the last `up` made (node 0 alone when no multi-node `up` ever ran)."""
    try:
        count = int(json.loads(_registry(cfg).read_text())["count"])
    except (OSError, ValueError, KeyError, TypeError):
        count = 1
    return [node_spec(cfg, i) for i in range(max(count, 1))]


def save_count(cfg: ClusterConfig, count: int) -> None:
    _registry(cfg).parent.mkdir(parents=True, exist_ok=True)
    _registry(cfg).write_text(json.dumps({"count": count}) + "\n")


def leftover(cfg: ClusterConfig) -> list[NodeSpec]:
    """Extra nodes that left something on the machine: registered, or with a state/run directory."""
    seen = {n.name: n for n in registered(cfg)[1:]}
    for base in (cfg.state_dir / "nodes", cfg.run_dir / "nodes"):
        for d in sorted(base.glob("scaleproof-node-*")) if base.is_dir() else []:
            try:
                index = int(d.name.rsplit("-", 1)[1]) - 1
            except ValueError:
                continue
            if index >= 1:
                seen.setdefault(d.name, node_spec(cfg, index))
    return sorted(seen.values(), key=lambda n: n.index)


def find(cfg: ClusterConfig, name: str, *, fault: bool = False) -> NodeSpec:
    """The node called `name`; ClusterError in one line when there is none (or, for a fault, when it
    is the node that holds the control plane)."""
    nodes = registered(cfg)
    found = next((n for n in nodes if n.name == name), None)
    if found is None:
        raise ClusterError(
            f"no node {name!r} in the local cluster; its nodes: {', '.join(n.name for n in nodes)}"
        )
    if fault and found.control_plane:
        others = ", ".join(n.name for n in nodes[1:]) or "none: bring it up with `--nodes 3`"
        raise ClusterError(
            f"{name} holds the control plane: no fault is ever applied to it; fault a worker node ({others})"
        )
    return found


# --------------------------------------------------------------------------------------------------
# network


def _is_mountpoint(path: Path) -> bool:
    return any(line.split()[1] == str(path) for line in Path("/proc/mounts").read_text().splitlines())


def ensure_netns_dir(run_dir: Path) -> bool:
    """Make /run/netns a shared mount point of its own BEFORE any containerd mounts a pod's network
    namespace there. `ip netns add` does it itself the first time (bind-mounting the directory over
    itself), and a pod namespace mounted before that is hidden under the new mount: the kubelet then
    never finishes tearing the pod down (`unlinkat /run/netns/cni-…: device or resource busy`).
    Returns True when it made the mount (recorded, so `down` undoes only its own)."""
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    if _is_mountpoint(NETNS_DIR):
        return False
    busy = [p.name for p in NETNS_DIR.iterdir() if _is_mountpoint(p)]
    if busy:
        raise ClusterError(
            f"{NETNS_DIR} holds mounted network namespaces ({', '.join(busy[:3])}) but is not a mount "
            "point: adding a node would hide them and their pods would never terminate; run "
            "`scaleproof cluster down` first, then `up --nodes N`"
        )
    _run(["mount", "--bind", str(NETNS_DIR), str(NETNS_DIR)])
    _run(["mount", "--make-shared", str(NETNS_DIR)])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "netns-mount").write_text(f"{NETNS_DIR}\n")
    return True


def _iptables(node: NodeSpec, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run(_in_netns(node, ["iptables", "-w", "5", *args]), check=check)


def egress_filter(node: NodeSpec) -> None:
    """In the node's network namespace: traffic inside 198.18.0.0/15 passes (even under a FORWARD
    policy of DROP), anything forwarded from that range to an address outside it is rejected."""
    if _iptables(node, "-L", FILTER_CHAIN, "-n", check=False).returncode != 0:
        _iptables(node, "-N", FILTER_CHAIN)
    _iptables(node, "-F", FILTER_CHAIN)
    _iptables(node, "-A", FILTER_CHAIN, "-s", OWN_RANGE, "-d", OWN_RANGE, "-j", "ACCEPT")
    _iptables(node, "-A", FILTER_CHAIN, "-s", OWN_RANGE, "-j", "REJECT")
    if _iptables(node, "-C", "FORWARD", "-j", FILTER_CHAIN, check=False).returncode != 0:
        _iptables(node, "-I", "FORWARD", "1", "-j", FILTER_CHAIN)


def setup_node_network(cfg: ClusterConfig, node: NodeSpec) -> None:
    """An extra node's namespace, its link to the node bridge, its address, its routes (idempotent)."""
    assert node.netns and node.host_veth, "node 0 uses the host's network"
    if not (NETNS_DIR / node.netns).exists():
        _run(["ip", "netns", "add", node.netns])
    if _run(["ip", "link", "show", node.host_veth], check=False).returncode != 0:
        _run(
            [
                "ip",
                "link",
                "add",
                node.host_veth,
                "type",
                "veth",
                "peer",
                "name",
                NODE_DEVICE,
                "netns",
                node.netns,
            ]
        )
    _run(["ip", "link", "set", node.host_veth, "master", cfg.node_bridge, "up"])
    ns = ["ip", "-n", node.netns]
    if f" {node.ip}/" not in _run([*ns, "-4", "-o", "addr", "show", "dev", NODE_DEVICE]).stdout:
        _run([*ns, "addr", "add", f"{node.ip}/24", "dev", NODE_DEVICE])
    _run([*ns, "link", "set", "lo", "up"])
    _run([*ns, "link", "set", NODE_DEVICE, "up"])
    _run([*ns, "route", "replace", "default", "via", cfg.node_ip, "dev", NODE_DEVICE])
    # the host routes each node's pods to that node (a star: every node's default route is the host)
    _run(["ip", "route", "replace", node.pod_cidr, "via", node.ip, "dev", cfg.node_bridge])
    for key in ("net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1"):
        _run(_in_netns(node, ["sysctl", "-q", "-w", key]), check=False)
    egress_filter(node)


def teardown_node_network(cfg: ClusterConfig, node: NodeSpec) -> list[str]:
    done: list[str] = []
    if _run(["ip", "route", "del", node.pod_cidr], check=False).returncode == 0:
        done.append(f"route {node.pod_cidr}")
    if node.host_veth and _run(["ip", "link", "del", node.host_veth], check=False).returncode == 0:
        done.append(f"link {node.host_veth}")
    if node.netns and (NETNS_DIR / node.netns).exists():
        # iptables rules and devices of a namespace go with it
        _run(["ip", "netns", "del", node.netns], check=False)
        done.append(f"netns {node.netns}")
    return done


def link_up(cfg: ClusterConfig, node: NodeSpec, up: bool) -> None:
    """Put the host end of the node's link up or down (down: the node is cut off, as by a partition)."""
    if node.host_veth:
        _run(["ip", "link", "set", node.host_veth, "up" if up else "down"])
        if up:
            _run(["ip", "link", "set", node.host_veth, "master", cfg.node_bridge])


# --------------------------------------------------------------------------------------------------
# cgroups


def _cgroup(hierarchy: str, node: NodeSpec, *sub: str) -> Path:
    return CGROUP_V1.joinpath(hierarchy, node.cgroup_root.strip("/"), *sub)


def daemon_cgroups(node: NodeSpec) -> tuple[Path, ...]:
    """The cgroups an extra node's processes join (none for node 0: it is never frozen)."""
    if node.control_plane:
        return ()
    return tuple(_cgroup(h, node, "daemons") for h in DAEMON_HIERARCHIES if (CGROUP_V1 / h).is_dir())


def ensure_cgroups(node: NodeSpec) -> None:
    """The node's subtree in every v1 hierarchy (the kubelet's --cgroup-root must exist) and its
    `daemons` group."""
    for h in HIERARCHIES:
        if not (CGROUP_V1 / h).is_dir():
            continue
        for d in (_cgroup(h, node), _cgroup(h, node, "daemons")):
            d.mkdir(exist_ok=True)
            if h == "cpuset":  # a new cpuset has no CPUs nor memory nodes until given its parent's
                for f in ("cpuset.cpus", "cpuset.mems"):
                    if not (d / f).read_text().strip():
                        (d / f).write_text((d.parent / f).read_text())


def remove_cgroups(node: NodeSpec) -> int:
    """rmdir the node's subtree in every hierarchy, deepest first (only empty groups can go)."""
    removed = 0
    for h in HIERARCHIES:
        top = _cgroup(h, node)
        if not top.is_dir():
            continue
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                d.rmdir()
                removed += 1
            except OSError:
                pass
        try:
            top.rmdir()
            removed += 1
        except OSError as exc:
            log.warning("could not remove %s: %s", top, exc)
    return removed


def freezer_state(node: NodeSpec) -> str:
    """THAWED, FREEZING or FROZEN (node 0 and a node without a subtree: THAWED)."""
    cg = node.freezer_cgroup
    try:
        return (cg / "freezer.state").read_text().strip() if cg else "THAWED"
    except OSError:
        return "THAWED"


def _set_freezer(node: NodeSpec, state: str, timeout_s: float = 10) -> None:
    cg = node.freezer_cgroup
    if cg is None or not cg.is_dir():
        raise ClusterError(f"{node.name} has no freezer cgroup ({cg}): is it up?")
    (cg / "freezer.state").write_text(state)
    deadline = time.monotonic() + timeout_s
    while freezer_state(node) != state:
        if time.monotonic() > deadline:
            raise ClusterError(f"{node.name}: freezer still {freezer_state(node)} after {timeout_s:.0f} s")
        time.sleep(0.05)


def freeze(cfg: ClusterConfig, node: NodeSpec) -> None:
    """The node goes dark: every process under its cgroup subtree (daemons, shims, containers) is
    frozen and its link goes down. The kubelet's heartbeats stop; after the node-monitor grace period
    the node controller marks the node Ready=Unknown."""
    _set_freezer(node, "FROZEN")
    link_up(cfg, node, False)


def thaw(cfg: ClusterConfig, node: NodeSpec) -> None:
    """Undo `freeze` (idempotent): link up, every process of the node runs again."""
    link_up(cfg, node, True)
    if node.freezer_cgroup and node.freezer_cgroup.is_dir():
        _set_freezer(node, "THAWED")


# --------------------------------------------------------------------------------------------------
# processes


def _argv(binary: str | Path, flags: dict[str, str | None]) -> list[str]:
    out = [str(binary)]
    for flag, value in flags.items():
        out += [flag] if value is None else [flag, value]
    return out


def _ctr_ok(sock: Path) -> bool:
    return sock.exists() and _run(["ctr", "--address", str(sock), "version"], check=False).returncode == 0


def node_components(cfg: ClusterConfig, node: NodeSpec) -> dict[str, Component]:
    """containerd, kubelet and kube-proxy of one node (argv, health check, netns, cgroups)."""
    netns = node.netns_path
    cgroups = daemon_cgroups(node)
    sock, host = node.containerd_socket, node.healthz_host
    containerd = shutil.which("containerd") or "/usr/bin/containerd"
    kubelet_flags: dict[str, str | None] = {
        "--config": str(node.etc_dir / "kubelet.yaml"),
        "--kubeconfig": str(node.etc_dir / "kubelet.kubeconfig"),
        "--hostname-override": node.name,
        "--node-ip": node.ip,
        "--root-dir": str(node.kubelet_root),
        # labels a kubelet may set on its own Node (NodeRestriction allows these)
        "--node-labels": f"topology.kubernetes.io/zone={node.zone}",
        "--v": "1",
    }
    proxy_flags: dict[str, str | None] = {"--config": str(node.etc_dir / "kube-proxy.yaml"), "--v": "1"}
    return {
        "containerd": Component(
            "containerd",
            _argv(containerd, {"--config": str(node.etc_dir / "containerd.toml")}),
            lambda: _ctr_ok(sock),
            30,
            netns=netns,
            cgroups=cgroups,
        ),
        "kubelet": Component(
            "kubelet",
            _argv(cfg.binary("kubelet"), kubelet_flags),
            lambda: http_ok(f"http://{host}:10248/healthz"),
            90,
            netns=netns,
            cgroups=cgroups,
        ),
        "kube-proxy": Component(
            "kube-proxy",
            _argv(cfg.binary("kube-proxy"), proxy_flags),
            lambda: http_ok(f"http://{host}:10256/healthz"),
            60,
            netns=netns,
            cgroups=cgroups,
        ),
    }


def start_node(cfg: ClusterConfig, node: NodeSpec, progress: Callable[[str], None] = print) -> None:
    """Start the node's containerd, kubelet and kube-proxy (each a no-op when already healthy)."""
    if freezer_state(node) != "THAWED":
        raise ClusterError(f"{node.name} is frozen: thaw it (`scaleproof cluster node thaw {node.name}`)")
    if node.netns:
        setup_node_network(cfg, node)
        ensure_cgroups(node)
    comps = node_components(cfg, node)
    for name in NODE_DAEMONS:
        progress(f"[cluster {time.strftime('%H:%M:%S')}] {node.name}: starting {name}")
        _start(comps[name], node.pid_dir, node.log_dir)


def kill_containers(sock: Path, remove: bool, grace_s: float = 5.0) -> int:
    """Stop every container task of one containerd (CRI namespace): SIGTERM, SIGKILL after `grace_s`,
    then delete the tasks (their shims exit). `remove` also deletes the containers' records; without
    it the runtime finds them exited on its next start and the kubelet cleans their sandboxes up."""
    if not sock.exists():
        return 0
    ctr = ["ctr", "--address", str(sock), "--namespace", "k8s.io"]
    tasks = _run([*ctr, "tasks", "ls", "-q"], check=False).stdout.split()
    for task in tasks:
        _run([*ctr, "tasks", "kill", "-s", "SIGTERM", task], check=False)
    deadline = time.monotonic() + (grace_s if tasks else 0)
    while time.monotonic() < deadline:
        listing = _run([*ctr, "tasks", "ls"], check=False).stdout.splitlines()[1:]
        if all(line.split()[-1] == "STOPPED" for line in listing if line.split()):
            break
        time.sleep(0.25)
    for task in tasks:
        _run([*ctr, "tasks", "kill", "-s", "SIGKILL", task], check=False)
        _run([*ctr, "tasks", "rm", "-f", task], check=False)
    if remove:
        for c in _run([*ctr, "containers", "ls", "-q"], check=False).stdout.split():
            _run([*ctr, "containers", "rm", c], check=False)
    return len(tasks)


def kill_shims(sock: Path) -> list[int]:
    """SIGKILL the shims of one containerd (they outlive it; their command line names its socket)."""
    killed = []
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "containerd-shim" in cmd and f"-address {sock} " in cmd + " ":
            try:
                os.kill(int(proc_dir.name), 9)
                killed.append(int(proc_dir.name))
            except ProcessLookupError:
                pass
    return killed


def stop_node(cfg: ClusterConfig, node: NodeSpec, remove_containers: bool = False) -> list[str]:
    """Orderly stop: the kubelet, then the containers (SIGTERM, then SIGKILL), kube-proxy, containerd
    and whatever shim is left. Returns what it did."""
    done = []
    if freezer_state(node) != "THAWED":
        thaw(cfg, node)  # a frozen process cannot act on a signal
        done.append(f"thawed {node.name}")
    if _stop("kubelet", node.pid_dir):
        done.append(f"stopped {node.name} kubelet")
    n = kill_containers(node.containerd_socket, remove_containers)
    if n:
        done.append(f"stopped {n} container task(s) of {node.name}")
    for name in ("kube-proxy", "containerd"):
        if _stop(name, node.pid_dir):
            done.append(f"stopped {node.name} {name}")
    shims = kill_shims(node.containerd_socket)
    if shims:
        done.append(f"killed {len(shims)} shim(s) of {node.name}")
    return done


def node_status(cfg: ClusterConfig, node: NodeSpec) -> dict[str, object]:
    """{name, ip, pod_cidr, zone, netns, frozen, link, processes: {daemon: {running, pid, healthy, log}}}"""
    comps = node_components(cfg, node)
    procs: dict[str, dict[str, object]] = {}
    frozen = freezer_state(node) != "THAWED"
    for name in NODE_DAEMONS:
        pid = _pid_of(node.pid_dir, name)
        healthy = bool(pid) and not frozen and comps[name].health()
        procs[name] = {
            "running": pid is not None,
            "pid": pid,
            "healthy": healthy,
            "log": str(node.log_dir / f"{name}.log"),
        }
    link = "host"
    if node.host_veth:
        out = _run(["ip", "-o", "link", "show", node.host_veth], check=False).stdout
        flags = out.partition("<")[2].partition(">")[0].split(",")
        link = "missing" if not out else ("up" if "UP" in flags else "down")
    return {
        "name": node.name,
        "ip": node.ip,
        "pod_cidr": node.pod_cidr,
        "zone": node.zone,
        "netns": node.netns or "host",
        "control_plane": node.control_plane,
        "freezer": freezer_state(node),
        "link": link,
        "processes": procs,
    }


# --------------------------------------------------------------------------------------------------
# what a node costs


def node_pids(node: NodeSpec) -> list[int]:
    """Every process of an extra node: daemons, shims and containers (its freezer subtree)."""
    top = node.freezer_cgroup
    if top is None or not top.is_dir():
        return []
    pids: set[int] = set()
    for procs in top.rglob("cgroup.procs"):
        try:
            pids |= {int(x) for x in procs.read_text().split()}
        except (OSError, ValueError):
            continue
    return sorted(pids)


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cpu_ns(node: NodeSpec) -> int:
    try:
        return int((CGROUP_V1 / "cpuacct" / node.cgroup_root.strip("/") / "cpuacct.usage").read_text())
    except (OSError, ValueError):
        return 0


def idle_cost(specs: list[NodeSpec], seconds: float) -> list[dict[str, object]]:
    """CPU (% of the whole machine, from the node's cpuacct subtree over `seconds`) and memory (RSS of
    every process of the node, MiB) of each extra node."""
    before = {n.name: _cpu_ns(n) for n in specs}
    t0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    cpus = os.cpu_count() or 1
    out: list[dict[str, object]] = []
    for n in specs:
        pids = node_pids(n)
        used = (_cpu_ns(n) - before[n.name]) / 1e9
        out.append(
            {
                "node": n.name,
                "cpu_percent_of_machine": round(100 * used / (wall * cpus), 2),
                "cpu_seconds": round(used, 2),
                "rss_mib": round(sum(_rss_kib(p) for p in pids) / 1024, 1),
                "processes": len(pids),
                "seconds": round(wall, 1),
            }
        )
    return out
