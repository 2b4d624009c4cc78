"""preflight refuses early what would fail half-way; checked with temporary dirs and our own sockets.

The real cluster's ports are taken on this machine: every test here uses its own free ports and a pid dir
that holds nothing, and never gets past preflight.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from scaleproof.cluster import local
from scaleproof.cluster.config import ClusterConfig
from scaleproof.cluster.local import ORDER, ClusterError, _port_taken, preflight

pytestmark = pytest.mark.unit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def listener() -> Iterator[int]:
    """A port some other process holds (listening on 127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Root, every host tool present, CNI plugins in a temporary dir (returned)."""
    cni = tmp_path / "cni"
    cni.mkdir()
    (cni / "bridge").write_text("")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(ClusterConfig, "cni_bin_dir", property(lambda self: cni))
    return cni


def make_cfg(tmp_path: Path, **ports: int) -> ClusterConfig:
    free = {"etcd_client_port": free_port(), "etcd_peer_port": free_port(), "apiserver_port": free_port()}
    return ClusterConfig(
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        run_dir=tmp_path / "run",
        **{**free, **ports},
    )


def test_not_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ClusterError, match=r"must run as root.*sudo"):
        preflight(make_cfg(tmp_path))


def test_missing_host_tools_are_all_named(
    host: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool in ("runc", "gcc") else f"/usr/bin/{tool}")
    (host / "bridge").unlink()
    with pytest.raises(ClusterError) as err:
        preflight(make_cfg(tmp_path))
    msg = str(err.value)
    assert msg.startswith("missing host tools: runc, gcc, containernetworking-plugins")
    assert "apt-get install" in msg
    assert "iptables," not in msg.split("—")[0]  # present tools are not listed as missing


@pytest.mark.parametrize(
    ("field", "component"),
    [("etcd_client_port", "etcd"), ("etcd_peer_port", "etcd peer"), ("apiserver_port", "kube-apiserver")],
)
def test_a_taken_port_names_the_component_and_port(
    host: Path, listener: int, tmp_path: Path, field: str, component: str
) -> None:
    cfg = make_cfg(tmp_path, **{field: listener})
    with pytest.raises(ClusterError) as err:
        preflight(cfg)
    msg = str(err.value)
    assert f":{listener} needed by {component} is already taken" in msg
    assert f"ss -ltnp 'sport = :{listener}'" in msg


def test_ports_of_our_own_running_components_are_not_in_the_way(
    host: Path, listener: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[Path, str]] = []

    def pid_of(pid_dir: Path, name: str) -> int:
        asked.append((pid_dir, name))
        return 4242  # every component already runs (a second `up`)

    monkeypatch.setattr(local.processes, "pid_of", pid_of)
    cfg = make_cfg(tmp_path, apiserver_port=listener)
    assert preflight(cfg) is None
    assert {p for p, _ in asked} == {cfg.pid_dir}
    # each checked port maps to the pid file of the component that owns it
    assert {n for _, n in asked} == {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-proxy",
    }
    assert {n for _, n in asked} <= set(ORDER)


def test_port_taken(listener: int) -> None:
    assert _port_taken("127.0.0.1", listener) is True
    assert _port_taken("0.0.0.0", listener) is True  # the wildcard overlaps the loopback listener
    assert _port_taken("127.0.0.1", free_port()) is False


def test_components_use_the_config(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, apiserver_port=7443)
    comps = local.components(cfg)
    assert list(comps) == sorted(comps, key=ORDER.index) and set(comps) == set(ORDER)
    api = comps["kube-apiserver"].argv
    assert api[0] == str(cfg.binary("kube-apiserver"))
    assert api[api.index("--secure-port") + 1] == "7443"
    assert api[api.index("--service-cluster-ip-range") + 1] == cfg.service_cidr
    assert api[api.index("--advertise-address") + 1] == cfg.node_ip
    kubelet = comps["kubelet"].argv
    assert kubelet[kubelet.index("--config") + 1] == str(cfg.etc_dir / "kubelet.yaml")
    assert kubelet[kubelet.index("--hostname-override") + 1] == cfg.node_name
    # every file an argument names is under our own directories or the system containerd binary
    for comp in comps.values():
        for arg in comp.argv[1:]:
            if arg.startswith("/"):
                assert Path(arg).is_relative_to(tmp_path), (comp.name, arg)


def test_write_configs_writes_only_what_changed(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    local._write_configs(cfg)
    kubelet = cfg.etc_dir / "kubelet.yaml"
    assert (cfg.etc_dir / "static-pods").is_dir()
    assert (cfg.etc_dir / "cni" / "10-scaleproof.conflist").is_file()
    os.utime(kubelet, ns=(1, 1))
    local._write_configs(cfg)
    assert kubelet.stat().st_mtime_ns == 1  # unchanged content: not rewritten
    kubelet.write_text("edited")
    local._write_configs(cfg)
    assert kubelet.read_text().startswith("apiVersion: kubelet.config.k8s.io/v1beta1")


def test_stale_components_follow_pins_and_binaries(tmp_path, monkeypatch) -> None:
    from scaleproof.cluster.config import COMPONENT_BINARIES, VERSIONS, ClusterConfig
    from scaleproof.cluster.local import stale_components

    monkeypatch.setenv("SCALEPROOF_CACHE_DIR", str(tmp_path))
    cfg = ClusterConfig()
    cfg.bin_dir.mkdir(parents=True)
    assert stale_components(cfg) == sorted(set(COMPONENT_BINARIES.values()))
    for binary in COMPONENT_BINARIES:
        cfg.binary(binary).write_text("")
    for comp, version in VERSIONS.items():
        (cfg.bin_dir / f".{comp}.pin").write_text(f"{'k8s' if comp == 'kubernetes' else comp}-{version}\n")
    assert stale_components(cfg) == []
    (cfg.bin_dir / ".etcd.pin").write_text("etcd-3.5.0\n")  # built from another pin
    cfg.binary("coredns").unlink()  # binary lost
    assert stale_components(cfg) == ["coredns", "etcd"]


def test_bridge_ports_reads_the_links_enslaved_to_the_bridge(monkeypatch) -> None:
    import subprocess

    from scaleproof.cluster import local

    listing = (
        "429: veth5e9839bd@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master sp-cni0 "
        "state UP mode DEFAULT group default \\    link/ether c6:86:22:49:75:67 brd ff:ff:ff:ff:ff:ff "
        "link-netnsid 0\n"
        "431: veth0a1b2c3d@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master sp-cni0\n"
    )
    seen: list[list[str]] = []

    def run(argv, check=True, **kw):
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 0, listing, "")

    monkeypatch.setattr(local, "_run", run)
    assert local.bridge_ports("sp-cni0") == ["veth5e9839bd", "veth0a1b2c3d"]
    assert seen == [["ip", "-o", "link", "show", "master", "sp-cni0"]]
    monkeypatch.setattr(
        local, "_run", lambda argv, check=True: subprocess.CompletedProcess(argv, 1, "", "no bridge")
    )
    assert local.bridge_ports("sp-cni0") == []
