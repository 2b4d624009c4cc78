"""ClusterConfig: every address stays inside 198.18.0.0/15 and the directories follow the environment."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from scaleproof.cluster.config import COMPONENT_BINARIES, VERSIONS, ClusterConfig

pytestmark = pytest.mark.unit

OURS = ipaddress.ip_network("198.18.0.0/15")


@pytest.fixture
def cfg(monkeypatch: pytest.MonkeyPatch) -> ClusterConfig:
    for var in ("SCALEPROOF_STATE_DIR", "SCALEPROOF_CACHE_DIR", "SCALEPROOF_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    return ClusterConfig()


@pytest.mark.parametrize("attr", ["node_ip", "kubernetes_service_ip", "dns_ip"])
def test_every_address_is_inside_the_benchmarking_range(cfg: ClusterConfig, attr: str) -> None:
    assert ipaddress.ip_address(getattr(cfg, attr)) in OURS


@pytest.mark.parametrize("attr", ["pod_cidr", "service_cidr"])
def test_every_range_is_inside_the_benchmarking_range(cfg: ClusterConfig, attr: str) -> None:
    net = ipaddress.ip_network(getattr(cfg, attr))  # strict: a host address with a prefix would raise
    assert net.subnet_of(OURS)


def test_ranges_do_not_overlap_and_the_node_is_in_neither(cfg: ClusterConfig) -> None:
    pods, services = ipaddress.ip_network(cfg.pod_cidr), ipaddress.ip_network(cfg.service_cidr)
    assert not pods.overlaps(services)
    node = ipaddress.ip_address(cfg.node_ip)
    assert node not in pods and node not in services


def test_kubernetes_service_ip_is_the_first_address_of_the_service_range(cfg: ClusterConfig) -> None:
    # the apiserver gives the `kubernetes` Service the first address of --service-cluster-ip-range;
    # the apiserver certificate carries kubernetes_service_ip, so both must agree
    assert ipaddress.ip_network(cfg.service_cidr)[1] == ipaddress.ip_address(cfg.kubernetes_service_ip)


def test_defaults_are_the_system_directories(cfg: ClusterConfig) -> None:
    assert cfg.state_dir == Path("/var/lib/scaleproof")
    assert cfg.cache_dir == Path("/var/cache/scaleproof")
    assert cfg.run_dir == Path("/run/scaleproof")
    assert cfg.apiserver_url == "https://127.0.0.1:6443"


def test_environment_overrides_move_every_derived_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SCALEPROOF_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SCALEPROOF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SCALEPROOF_RUNTIME_DIR", str(tmp_path / "run"))
    cfg = ClusterConfig()
    state, cache, run = tmp_path / "state", tmp_path / "cache", tmp_path / "run"
    assert cfg.kubeconfig == state / "admin.kubeconfig"
    assert cfg.pki_dir == state / "pki"
    assert cfg.log_dir == state / "logs"
    assert cfg.etc_dir == state / "etc"
    assert cfg.etcd_data == state / "etcd"
    assert cfg.kubelet_root == state / "kubelet"
    assert cfg.cni_conf_dir == state / "etc" / "cni"
    assert cfg.bin_dir == cache / "bin"
    assert cfg.binary("kubectl") == cache / "bin" / "kubectl"
    assert cfg.images_dir == cache / "images"
    assert cfg.containerd_root == cache / "containerd"
    assert cfg.pid_dir == run / "pids"
    assert cfg.containerd_socket == run / "containerd" / "containerd.sock"
    # nothing derived (except the system CNI plugins) points back at the system directories
    derived = [cfg.kubeconfig, cfg.pki_dir, cfg.log_dir, cfg.bin_dir, cfg.pid_dir, cfg.containerd_state]
    assert all(p.is_relative_to(tmp_path) for p in derived)


def test_environment_is_read_when_the_config_is_made_not_at_import(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SCALEPROOF_STATE_DIR", str(tmp_path / "a"))
    first = ClusterConfig()
    monkeypatch.setenv("SCALEPROOF_STATE_DIR", str(tmp_path / "b"))
    assert first.state_dir == tmp_path / "a"
    assert ClusterConfig().state_dir == tmp_path / "b"


def test_every_built_binary_belongs_to_a_pinned_component() -> None:
    assert set(COMPONENT_BINARIES.values()) <= set(VERSIONS)
