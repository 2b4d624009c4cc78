"""The cluster's PKI, made once into a temporary state dir and checked with the openssl command line."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from scaleproof.cluster import pki
from scaleproof.cluster.config import ClusterConfig

pytestmark = pytest.mark.unit

SERVING = ("apiserver", "kubelet-serving", "metrics-server-serving")


@pytest.fixture(scope="session")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> ClusterConfig:
    """One PKI for the whole session: 15 RSA keys are the expensive part."""
    root = tmp_path_factory.mktemp("pki")
    c = ClusterConfig(state_dir=root / "state", cache_dir=root / "cache", run_dir=root / "run")
    pki.ensure_pki(c)
    return c


def openssl(*args: str) -> str:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def sans(cert: Path) -> set[str]:
    out = openssl("x509", "-in", str(cert), "-noout", "-ext", "subjectAltName")
    return {s.strip().replace("IP Address:", "IP:") for s in out.splitlines()[1].split(",")}


def subject(cert: Path) -> dict[str, str]:
    out = openssl("x509", "-in", str(cert), "-noout", "-subject", "-nameopt", "RFC2253")
    rdns = out.strip().removeprefix("subject=").split(",")
    return dict(r.split("=", 1) for r in rdns)


def eku(cert: Path) -> set[str]:
    out = openssl("x509", "-in", str(cert), "-noout", "-ext", "extendedKeyUsage")
    return {s.strip() for s in out.splitlines()[1].split(",")}


def leaf_certs(cfg: ClusterConfig) -> list[Path]:
    return [cfg.pki_dir / f"{s}.crt" for s in (*SERVING, *(c.stem for c in pki.CLIENTS))]


def test_apiserver_sans(cfg: ClusterConfig) -> None:
    got = sans(cfg.pki_dir / "apiserver.crt")
    want = {
        "IP:127.0.0.1",
        f"IP:{cfg.node_ip}",
        f"IP:{cfg.kubernetes_service_ip}",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        f"DNS:kubernetes.default.svc.{cfg.cluster_domain}",
        "DNS:localhost",
    }
    assert got == want


def test_metrics_server_cert_names_its_service(cfg: ClusterConfig) -> None:
    got = sans(cfg.pki_dir / "metrics-server-serving.crt")
    assert "DNS:metrics-server.kube-system.svc" in got
    assert f"IP:{cfg.node_ip}" in got  # the aggregator reaches it on the node address


def test_kubelet_serving_cert_names_the_node(cfg: ClusterConfig) -> None:
    got = sans(cfg.pki_dir / "kubelet-serving.crt")
    assert {f"DNS:{cfg.node_name}", f"IP:{cfg.node_ip}"} <= got


def test_kubelet_client_identity_is_the_node(cfg: ClusterConfig) -> None:
    # the Node authorizer and NodeRestriction recognise exactly this identity
    assert subject(cfg.pki_dir / "kubelet.crt") == {"CN": f"system:node:{cfg.node_name}", "O": "system:nodes"}


@pytest.mark.parametrize("client", pki.CLIENTS, ids=lambda c: c.stem)
def test_client_subjects(cfg: ClusterConfig, client: pki.ClientCert) -> None:
    want = {"CN": client.cn, **({"O": client.org} if client.org else {})}
    assert subject(cfg.pki_dir / f"{client.stem}.crt") == want


def test_serving_certs_serve_and_client_certs_only_authenticate(cfg: ClusterConfig) -> None:
    for stem in SERVING:
        assert "TLS Web Server Authentication" in eku(cfg.pki_dir / f"{stem}.crt"), stem
    for client in pki.CLIENTS:
        assert eku(cfg.pki_dir / f"{client.stem}.crt") == {"TLS Web Client Authentication"}, client.stem


def test_every_leaf_verifies_against_its_ca(cfg: ClusterConfig) -> None:
    certs = leaf_certs(cfg)
    out = openssl("verify", "-CAfile", str(cfg.pki_dir / "ca.crt"), *map(str, certs))
    assert out.splitlines() == [f"{c}: OK" for c in certs]
    fp = cfg.pki_dir / "front-proxy-client.crt"
    assert (
        openssl("verify", "-CAfile", str(cfg.pki_dir / "front-proxy-ca.crt"), str(fp)).strip() == f"{fp}: OK"
    )


def test_the_front_proxy_ca_is_separate(cfg: ClusterConfig) -> None:
    # the aggregation layer trusts front-proxy-ca only; the main CA must not vouch for it
    proc = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(cfg.pki_dir / "ca.crt"),
            str(cfg.pki_dir / "front-proxy-client.crt"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0


def test_service_account_key_pair_matches(cfg: ClusterConfig) -> None:
    pub_from_key = openssl("rsa", "-in", str(cfg.pki_dir / "sa.key"), "-pubout")
    assert pub_from_key == (cfg.pki_dir / "sa.pub").read_text()


def test_admin_kubeconfig_embeds_the_ca_and_admin_identity(cfg: ClusterConfig) -> None:
    kc = yaml.safe_load(cfg.kubeconfig.read_text())
    (cluster,) = kc["clusters"]
    (user,) = kc["users"]
    assert cluster["cluster"]["server"] == cfg.apiserver_url
    assert (
        base64.b64decode(cluster["cluster"]["certificate-authority-data"])
        == (cfg.pki_dir / "ca.crt").read_bytes()
    )
    assert (
        base64.b64decode(user["user"]["client-certificate-data"]) == (cfg.pki_dir / "admin.crt").read_bytes()
    )
    assert base64.b64decode(user["user"]["client-key-data"]) == (cfg.pki_dir / "admin.key").read_bytes()
    assert kc["current-context"] == "scaleproof"
    assert kc["contexts"][0]["context"] == {"cluster": "scaleproof", "user": user["name"]}
    assert cfg.kubeconfig.stat().st_mode & 0o777 == 0o600  # it holds a private key


def test_every_component_gets_its_own_kubeconfig(cfg: ClusterConfig) -> None:
    for client in pki.CLIENTS:
        path = cfg.kubeconfig if client.stem == "admin" else cfg.etc_dir / f"{client.stem}.kubeconfig"
        kc = yaml.safe_load(path.read_text())
        cert = base64.b64decode(kc["users"][0]["user"]["client-certificate-data"])
        assert cert == (cfg.pki_dir / f"{client.stem}.crt").read_bytes(), client.stem


def test_private_keys_are_not_world_readable(cfg: ClusterConfig) -> None:
    assert cfg.pki_dir.stat().st_mode & 0o777 == 0o700


def test_write_kubeconfig_honours_another_server(cfg: ClusterConfig, tmp_path: Path) -> None:
    target = pki.write_kubeconfig(
        cfg, tmp_path / "x" / "k.kubeconfig", "kube-proxy", server="https://198.18.0.1:6443"
    )
    kc = yaml.safe_load(target.read_text())
    assert kc["clusters"][0]["cluster"]["server"] == "https://198.18.0.1:6443"
    assert kc["users"][0]["name"] == "kube-proxy"


def test_second_run_rewrites_nothing(cfg: ClusterConfig) -> None:
    files = [*cfg.pki_dir.iterdir(), cfg.kubeconfig, *cfg.etc_dir.glob("*.kubeconfig")]
    assert len(files) > 40
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    pki.ensure_pki(cfg)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    assert after == before
    assert sorted(cfg.pki_dir.iterdir()) == sorted(p for p in files if p.parent == cfg.pki_dir)


def test_openssl_failure_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"openssl x509 -in failed: .*nonexistent"):
        pki._openssl("x509", "-in", "nonexistent.crt", cwd=tmp_path)


def test_certificates_are_valid_for_years(cfg: ClusterConfig) -> None:
    out = openssl(
        "x509", "-in", str(cfg.pki_dir / "apiserver.crt"), "-noout", "-checkend", str(5 * 365 * 86400)
    )
    assert "will not expire" in out
    assert re.search(r"CA:TRUE", openssl("x509", "-in", str(cfg.pki_dir / "ca.crt"), "-noout", "-text"))
    assert os.path.getsize(cfg.pki_dir / "ca.key") > 1000
