"""Rendered component configuration: the settings this machine forces, and the values from ClusterConfig."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from scaleproof.cluster import templates
from scaleproof.cluster.config import ClusterConfig
from scaleproof.cluster.pki import CLIENTS
from scaleproof.cluster.templates import PAUSE_IMAGE, bootstrap_manifests, render_all

pytestmark = pytest.mark.unit

OURS = ipaddress.ip_network("198.18.0.0/15")


@pytest.fixture
def cfg(tmp_path: Path) -> ClusterConfig:
    return ClusterConfig(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", run_dir=tmp_path / "run")


@pytest.fixture
def files(cfg: ClusterConfig) -> dict[str, str]:
    """Rendered files by name relative to the state dir."""
    rendered = render_all(cfg)
    return {p.relative_to(cfg.state_dir).as_posix(): text for p, text in rendered.items()}


def test_every_file_goes_under_the_state_dir(cfg: ClusterConfig) -> None:
    paths = set(render_all(cfg))
    assert all(p.is_relative_to(cfg.etc_dir) for p in paths)
    assert {p.name for p in paths} == {
        "containerd.toml",
        "10-scaleproof.conflist",
        "kubelet.yaml",
        "kube-proxy.yaml",
        "scheduler.yaml",
        "Corefile",
        "resolv.conf",
    }


def test_kubelet_config_forced_settings(cfg: ClusterConfig, files: dict[str, str]) -> None:
    kc = yaml.safe_load(files["etc/kubelet.yaml"])
    assert kc["kind"] == "KubeletConfiguration"
    assert kc["failCgroupV1"] is False
    assert kc["cgroupDriver"] == "cgroupfs"
    # image GC off: nothing can be re-pulled on this machine
    assert kc["imageGCHighThresholdPercent"] == 100
    assert kc["imageGCLowThresholdPercent"] < kc["imageGCHighThresholdPercent"]
    assert kc["containerRuntimeEndpoint"] == f"unix://{cfg.containerd_socket}"
    assert kc["address"] == cfg.node_ip
    assert kc["readOnlyPort"] == 0
    assert kc["authentication"]["anonymous"]["enabled"] is False
    assert kc["authentication"]["x509"]["clientCAFile"] == str(cfg.pki_dir / "ca.crt")
    assert kc["staticPodPath"] == str(cfg.etc_dir / "static-pods")


def test_kubelet_dns_stays_inside_the_cluster(cfg: ClusterConfig, files: dict[str, str]) -> None:
    kc = yaml.safe_load(files["etc/kubelet.yaml"])
    assert kc["clusterDNS"] == [cfg.dns_ip]
    assert all(ipaddress.ip_address(ip) in OURS for ip in kc["clusterDNS"])
    # our own resolv.conf, not the host's (which names outside resolvers)
    assert kc["resolvConf"] == str(cfg.etc_dir / "resolv.conf")
    assert "etc/resolv.conf" in files
    nameservers = re.findall(r"^\s*nameserver\s+(\S+)", files["etc/resolv.conf"], re.M)
    assert nameservers == [cfg.dns_ip]
    assert not re.search(r"^\s*(search|domain)\b", files["etc/resolv.conf"], re.M)


def test_containerd_toml(cfg: ClusterConfig, files: dict[str, str]) -> None:
    doc = tomllib.loads(files["etc/containerd.toml"])
    assert doc["version"] == 2
    assert doc["root"] == str(cfg.containerd_root)
    assert doc["state"] == str(cfg.containerd_state)
    assert doc["grpc"]["address"] == str(cfg.containerd_socket)
    assert Path(doc["grpc"]["address"]).is_relative_to(cfg.run_dir)
    cri = doc["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == PAUSE_IMAGE
    assert cri["restrict_oom_score_adj"] is True
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["runtime_type"] == "io.containerd.runc.v2"
    assert runc["options"]["SystemdCgroup"] is False
    assert cri["cni"]["conf_dir"] == str(cfg.cni_conf_dir)
    assert cri["cni"]["bin_dir"] == str(cfg.cni_bin_dir)


def test_cni_conflist(cfg: ClusterConfig, files: dict[str, str]) -> None:
    doc = json.loads(files["etc/cni/10-scaleproof.conflist"])
    bridge, portmap = doc["plugins"]
    assert bridge["type"] == "bridge" and bridge["bridge"] == cfg.pod_bridge
    assert bridge["ipMasq"] is False
    (rng,) = bridge["ipam"]["ranges"]
    assert rng[0]["subnet"] == cfg.pod_cidr
    assert ipaddress.ip_address(rng[0]["gateway"]) in ipaddress.ip_network(cfg.pod_cidr)
    assert portmap == {"type": "portmap", "capabilities": {"portMappings": True}}


def test_kube_proxy_config(cfg: ClusterConfig, files: dict[str, str]) -> None:
    kp = yaml.safe_load(files["etc/kube-proxy.yaml"])
    assert kp["mode"] == "iptables"
    assert kp["nodePortAddresses"] == ["127.0.0.0/8", f"{cfg.node_ip}/32"]
    for net in map(ipaddress.ip_network, kp["nodePortAddresses"]):
        assert net.subnet_of(ipaddress.ip_network("127.0.0.0/8")) or net == ipaddress.ip_network(
            f"{cfg.node_ip}/32"
        )
    # every node's pods (the node's own CIDR is inside): traffic from them to a Service is the cluster's
    assert ipaddress.ip_network(cfg.pod_cidr).subnet_of(ipaddress.ip_network(kp["clusterCIDR"]))
    assert kp["bindAddress"] == "127.0.0.1"
    assert kp["clientConnection"]["kubeconfig"] == str(cfg.etc_dir / "kube-proxy.kubeconfig")


def test_scheduler_config(cfg: ClusterConfig, files: dict[str, str]) -> None:
    sc = yaml.safe_load(files["etc/scheduler.yaml"])
    assert sc["leaderElection"] == {"leaderElect": False}
    assert sc["clientConnection"]["kubeconfig"] == str(cfg.etc_dir / "scheduler.kubeconfig")


def test_corefile_answers_only_for_the_cluster(cfg: ClusterConfig, files: dict[str, str]) -> None:
    text = files["etc/Corefile"]
    # no upstream resolver: a query outside cluster.local must not leave the machine
    assert not re.search(r"^\s*forward\b", text, re.M)
    assert re.search(rf"^\s*bind {re.escape(cfg.dns_ip)}\s*$", text, re.M)
    assert text.startswith(f".:{cfg.dns_port} {{")
    assert f"kubernetes {cfg.cluster_domain} " in text
    assert str(cfg.etc_dir / "coredns.kubeconfig") in text
    assert text.count("{") == text.count("}")


def test_values_come_from_the_config_not_from_constants(tmp_path: Path) -> None:
    cfg = ClusterConfig(
        state_dir=tmp_path / "s",
        cache_dir=tmp_path / "c",
        run_dir=tmp_path / "r",
        pod_cidr="198.18.7.0/24",
        dns_ip="198.18.0.53",
        node_ip="198.18.0.9",
    )
    out = {p.name: t for p, t in render_all(cfg).items()}
    rng = json.loads(out["10-scaleproof.conflist"])["plugins"][0]["ipam"]["ranges"][0][0]
    assert rng == {"subnet": "198.18.7.0/24", "gateway": "198.18.7.1"}
    assert "bind 198.18.0.53" in out["Corefile"]
    assert out["resolv.conf"].startswith("nameserver 198.18.0.53\n")
    assert yaml.safe_load(out["kubelet.yaml"])["clusterDNS"] == ["198.18.0.53"]
    assert yaml.safe_load(out["kube-proxy.yaml"])["nodePortAddresses"][1] == "198.18.0.9/32"


def test_bootstrap_manifests_embed_the_ca(cfg: ClusterConfig) -> None:
    cfg.pki_dir.mkdir(parents=True)
    ca = b"-----BEGIN CERTIFICATE-----\nnot really a cert \xff\x00\n-----END CERTIFICATE-----\n"
    (cfg.pki_dir / "ca.crt").write_bytes(ca)
    docs = list(yaml.safe_load_all(bootstrap_manifests(cfg)))
    assert len(docs) >= 10
    for doc in docs:
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]
    (api,) = [d for d in docs if d["kind"] == "APIService"]
    assert api["metadata"]["name"] == "v1beta1.metrics.k8s.io"
    assert base64.b64decode(api["spec"]["caBundle"]) == ca
    assert api["spec"]["insecureSkipTLSVerify"] is False
    assert api["spec"]["service"] == {"name": "metrics-server", "namespace": "kube-system", "port": 443}
    # the Service in front of the host-process metrics-server points at it on the node address
    (svc,) = [d for d in docs if d["kind"] == "Service"]
    (eps,) = [d for d in docs if d["kind"] == "Endpoints"]
    assert svc["spec"]["ports"][0]["targetPort"] == cfg.metrics_server_port
    assert eps["subsets"][0]["addresses"] == [{"ip": cfg.node_ip}]
    assert eps["subsets"][0]["ports"][0]["port"] == cfg.metrics_server_port
    # identities the PKI issues are the subjects bound here
    users = {s["name"] for d in docs for s in d.get("subjects", [])}
    assert {"system:metrics-server", "system:coredns", "kube-apiserver-kubelet-client"} <= users
    assert users <= {c.cn for c in CLIENTS}


def test_pause_image_is_a_local_tag() -> None:
    assert templates.PAUSE_IMAGE.startswith("localhost/")
