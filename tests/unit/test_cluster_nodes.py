"""Several nodes on one machine: each node's layout (addresses, CIDRs, paths, flags), its rendered
configuration, bad input, and the node faults' undo plan (freeze/thaw, stop/start) against a fake
cgroup tree and a recorded `ip`."""

from __future__ import annotations

import ipaddress
import json
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scaleproof import undo
from scaleproof.cluster import config, faults, local, nodes, templates
from scaleproof.cluster.cli import cluster
from scaleproof.cluster.config import (
    ClusterConfig,
    ClusterError,
    node_spec,
    node_specs,
    parse_node_count,
)

pytestmark = pytest.mark.unit

OURS = ipaddress.ip_network("198.18.0.0/15")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg(tmp_path: Path) -> ClusterConfig:
    return ClusterConfig(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", run_dir=tmp_path / "run")


# ----------------------------------------------------------------------------------------- layout
def test_node_zero_keeps_the_single_node_layout(cfg: ClusterConfig) -> None:
    n = node_spec(cfg, 0)
    assert (n.name, n.ip, n.pod_cidr) == (cfg.node_name, cfg.node_ip, cfg.pod_cidr)
    assert (n.containerd_socket, n.kubelet_root, n.cni_conf_dir) == (
        cfg.containerd_socket,
        cfg.kubelet_root,
        cfg.cni_conf_dir,
    )
    assert n.control_plane and n.netns is None and n.cgroup_root == "/" and n.freezer_cgroup is None
    assert n.healthz_host == "127.0.0.1"  # the host's own loopback: NodePorts stay on 127.0.0.1


def test_every_node_has_its_own_addresses_inside_our_range(cfg: ClusterConfig) -> None:
    specs = node_specs(cfg, 5)
    ips = [ipaddress.ip_address(n.ip) for n in specs]
    cidrs = [ipaddress.ip_network(n.pod_cidr) for n in specs]
    services = ipaddress.ip_network(cfg.service_cidr)
    assert len(set(ips)) == len(set(cidrs)) == 5
    assert all(ip in ipaddress.ip_network("198.18.0.0/24") for ip in ips)  # one node network
    for i, c in enumerate(cidrs):
        assert c.subnet_of(OURS) and c.subnet_of(ipaddress.ip_network(config.PODS_RANGE))
        assert not c.overlaps(services) and not c.overlaps(ipaddress.ip_network("198.18.0.0/24"))
        assert all(not c.overlaps(o) for o in cidrs[i + 1 :])
    assert [n.zone for n in specs] == [f"zone-{i}" for i in range(1, 6)]
    assert len({n.name for n in specs}) == 5


def test_every_node_has_its_own_paths(cfg: ClusterConfig) -> None:
    """containerd root/state/socket, runc root, kubelet root, pod logs, CNI, IPAM, pids, logs, cgroups:
    nothing shared between two nodes (shared defaults are what collide)."""
    specs = node_specs(cfg, 3)
    fields = (
        "containerd_root",
        "containerd_state",
        "containerd_socket",
        "kubelet_root",
        "cni_conf_dir",
        "pid_dir",
        "log_dir",
        "etc_dir",
        "cgroup_root",
        "pki_stem",
    )
    for f in fields:
        values = [getattr(n, f) for n in specs]
        assert len(set(values)) == 3, f
    for n in specs[1:]:
        assert n.runc_root and n.pod_logs_dir and n.ipam_dir  # no default (/run/containerd/runc, …)
        assert len({n.runc_root, n.pod_logs_dir, n.ipam_dir}) == 3
        assert n.netns == n.name and n.host_veth and len(n.host_veth) <= 15  # IFNAMSIZ
        assert n.cgroup_root == f"/{n.name}" and n.freezer_cgroup == config.CGROUP_V1 / "freezer" / n.name
        assert n.healthz_host == n.ip
        # the socket path is what names containerd's shim sockets: distinct sockets, distinct shims
        assert n.containerd_socket.is_relative_to(cfg.run_dir / "nodes" / n.name)


def test_node_configuration_files(cfg: ClusterConfig) -> None:
    n = node_spec(cfg, 2)
    files = templates.render_node(cfg, n)
    assert all(p.is_relative_to(n.etc_dir) for p in files)
    kc = yaml.safe_load(files[n.etc_dir / "kubelet.yaml"])
    assert kc["cgroupRoot"] == f"/{n.name}" and kc["podLogsDir"] == str(n.pod_logs_dir)
    assert kc["containerRuntimeEndpoint"] == f"unix://{n.containerd_socket}"
    assert kc["address"] == kc["healthzBindAddress"] == n.ip
    assert kc["tlsCertFile"].endswith(f"kubelet-{n.name}-serving.crt")
    assert kc["failCgroupV1"] is False and kc["imageGCHighThresholdPercent"] == 100
    toml = tomllib.loads(files[n.etc_dir / "containerd.toml"])
    assert (toml["root"], toml["state"], toml["grpc"]["address"]) == (
        str(n.containerd_root),
        str(n.containerd_state),
        str(n.containerd_socket),
    )
    cri = toml["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["containerd"]["runtimes"]["runc"]["options"]["Root"] == str(n.runc_root)
    assert cri["cni"]["conf_dir"] == str(n.cni_conf_dir)
    cni = json.loads(files[n.cni_conf_dir / "10-scaleproof.conflist"])
    ipam = cni["plugins"][0]["ipam"]
    assert ipam["ranges"] == [[{"subnet": n.pod_cidr, "gateway": "198.18.3.1"}]]
    assert ipam["dataDir"] == str(n.ipam_dir)
    kp = yaml.safe_load(files[n.etc_dir / "kube-proxy.yaml"])
    assert kp["hostnameOverride"] == n.name
    assert kp["nodePortAddresses"] == [f"{n.ip}/32"]  # its loopback is its own namespace's
    assert kp["iptables"]["localhostNodePorts"] is False
    assert kp["healthzBindAddress"] == f"{n.ip}:10256"
    # node 0 keeps NodePorts on 127.0.0.1 and has no runc root of its own
    kp0 = yaml.safe_load(templates.kube_proxy_config(cfg))
    assert "127.0.0.0/8" in kp0["nodePortAddresses"] and kp0["iptables"]["localhostNodePorts"] is True
    assert (
        "Root"
        not in tomllib.loads(templates.containerd_toml(cfg))["plugins"]["io.containerd.grpc.v1.cri"][
            "containerd"
        ]["runtimes"]["runc"]["options"]
    )


def test_node_processes_run_in_the_nodes_namespace_and_cgroups(cfg: ClusterConfig) -> None:
    n = node_spec(cfg, 1)
    comps = nodes.node_components(cfg, n)
    kubelet = comps["kubelet"].argv
    flag = {kubelet[i]: kubelet[i + 1] for i in range(1, len(kubelet) - 1) if kubelet[i].startswith("--")}
    assert flag["--root-dir"] == str(n.kubelet_root) and flag["--node-ip"] == n.ip
    assert flag["--hostname-override"] == n.name
    assert flag["--node-labels"] == f"topology.kubernetes.io/zone={n.zone}"
    assert flag["--kubeconfig"] == str(n.etc_dir / "kubelet.kubeconfig")
    for c in comps.values():
        assert c.netns == Path("/run/netns") / n.name
        assert {p.name for p in c.cgroups} == {"daemons"}
        assert {p.parent.name for p in c.cgroups} == {n.name}
        assert "freezer" in {p.parent.parent.name for p in c.cgroups}
    zero = nodes.node_components(cfg, node_spec(cfg, 0))
    assert all(c.netns is None and c.cgroups == () for c in zero.values())


# ------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("0", r"at least 1 node"),
        ("-2", r"at least 1 node"),
        ("three", r"whole number"),
        ("2.5", r"whole number"),
        ("", r"whole number"),
        ("999", r"room for 253 nodes"),
    ],
)
def test_bad_node_counts_are_one_line(value: str, match: str) -> None:
    with pytest.raises(ClusterError, match=match) as err:
        parse_node_count(value)
    assert "\n" not in str(err.value)


def test_node_count_default_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCALEPROOF_NODES", raising=False)
    assert local.node_count() == config.DEFAULT_NODES == 3
    monkeypatch.setenv("SCALEPROOF_NODES", "2")
    assert local.node_count() == 2 and local.node_count("1") == 1


@pytest.mark.parametrize("value", ["0", "x"])
def test_cli_up_refuses_bad_counts_before_touching_anything(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.delenv("SCALEPROOF_KUBECONFIG", raising=False)
    monkeypatch.setattr(local, "up", lambda *a, **k: pytest.fail("up was called"))
    res = CliRunner().invoke(cluster, ["up", "--nodes", value])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --nodes")


def test_more_nodes_than_memory_says_how_many_fit() -> None:
    avail = local.RESERVED_MEMORY_MIB + 2 * local.NODE_MEMORY_MIB + 100  # room for 2 extra nodes
    local.check_memory(3, running=1, available_mib=avail)
    with pytest.raises(ClusterError, match=r"at most 3 node\(s\) fit here") as err:
        local.check_memory(4, running=1, available_mib=avail)
    assert "\n" not in str(err.value)
    local.check_memory(2, running=5, available_mib=0)  # shrinking needs no memory


# ------------------------------------------------------------------------------------ node faults
@pytest.fixture
def machine(cfg: ClusterConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A registered 3-node cluster with a fake cgroup tree (a file stands for freezer.state) and a
    recorded `ip`; returns the commands run."""
    cg = tmp_path / "cgroup"
    for h in nodes.HIERARCHIES:
        (cg / h).mkdir(parents=True)
    (cg / "cpuset" / "cpuset.cpus").write_text("0-1\n")
    (cg / "cpuset" / "cpuset.mems").write_text("0\n")
    for n in node_specs(cfg, 3)[1:]:  # a real cpuset cgroup is born with empty cpus/mems files
        for d in (cg / "cpuset" / n.name, cg / "cpuset" / n.name / "daemons"):
            d.mkdir(parents=True)
            (d / "cpuset.cpus").write_text("")
            (d / "cpuset.mems").write_text("")
    monkeypatch.setattr(config, "CGROUP_V1", cg)
    monkeypatch.setattr(nodes, "CGROUP_V1", cg)
    for n in node_specs(cfg, 3)[1:]:
        nodes.ensure_cgroups(n)
        (cg / "freezer" / n.name / "freezer.state").write_text("THAWED\n")
    nodes.save_count(cfg, 3)
    ran: list[list[str]] = []

    class Done:
        returncode, stdout, stderr = 0, "", ""

    monkeypatch.setattr(nodes, "_run", lambda argv, check=True, timeout=60: ran.append(argv) or Done())
    return ran


def _state(cfg: ClusterConfig, i: int) -> str:
    return nodes.freezer_state(node_spec(cfg, i))


def test_freeze_writes_the_undo_plan_first_then_thaw_by_replay(
    cfg: ClusterConfig, machine: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "runs" / "r1"
    seen: list[bool] = []
    real = nodes._set_freezer

    def spy(node: nodes.NodeSpec, state: str, timeout_s: float = 10) -> None:
        seen.append((run / undo.UNDO_FILE).exists())
        real(node, state, timeout_s)

    monkeypatch.setattr(nodes, "_set_freezer", spy)
    res = faults.freeze("scaleproof-node-2", run_dir=run, cfg=cfg)
    assert seen == [True]  # the plan existed before the freezer was touched
    assert _state(cfg, 1) == "FROZEN" and _state(cfg, 2) == "THAWED"
    assert ["ip", "link", "set", "sp-veth2", "down"] in machine
    plan = undo.load_plan(run)
    assert plan is not None and res["undo_plan"] == str(run / undo.UNDO_FILE)
    entry = plan["node_faults"][0]
    assert (entry["node"], entry["fault"]) == ("scaleproof-node-2", "freeze")
    assert entry["cluster"]["state_dir"] == str(cfg.state_dir)
    assert not plan["rolled_back"]

    dry = undo.replay(plan, dry_run=True)
    assert dry["ok"] and "would thaw node scaleproof-node-2" in dry["steps"][0]["detail"]
    assert _state(cfg, 1) == "FROZEN"  # a dry run changes nothing
    res2 = undo.replay(plan)
    assert res2["ok"] and res2["steps"][0]["step"] == "thaw-node"
    assert _state(cfg, 1) == "THAWED" and ["ip", "link", "set", "sp-veth2", "up"] in machine
    assert undo.load_plan(run)["rolled_back"] is True  # type: ignore[index]
    assert undo.replay(plan)["ok"]  # idempotent: thawing a thawed node is fine


def test_recover_finds_a_frozen_node_of_a_crashed_run(
    cfg: ClusterConfig, machine: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "runs"
    faults.freeze("scaleproof-node-3", run_dir=root / "20261207T190000Z-node-freeze", cfg=cfg)
    assert _state(cfg, 2) == "FROZEN"
    res = CliRunner().invoke(undo.recover_command, ["--runs-root", str(root)])
    assert res.exit_code == 0, res.output
    assert _state(cfg, 2) == "THAWED"
    assert '"thaw-node"' in res.output


def test_stop_is_undone_by_a_start(
    cfg: ClusterConfig, machine: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(
        nodes,
        "node_status",
        lambda c, n: {"processes": {d: {"pid": 42} for d in nodes.NODE_DAEMONS}},
    )
    monkeypatch.setattr(
        nodes, "stop_node", lambda c, n, remove_containers=False: calls.append(("stop", n.name)) or []
    )
    monkeypatch.setattr(nodes, "start_node", lambda c, n, progress=print: calls.append(("start", n.name)))
    run = tmp_path / "run-stop"
    faults.stop("scaleproof-node-2", run_dir=run, cfg=cfg)
    plan = undo.load_plan(run)
    assert plan and plan["node_faults"][0]["fault"] == "stop"
    assert undo.replay(plan)["ok"]
    assert calls == [("stop", "scaleproof-node-2"), ("start", "scaleproof-node-2")]


@pytest.mark.parametrize(
    ("action", "name", "match"),
    [
        ("freeze", "scaleproof-node-9", r"no node 'scaleproof-node-9'.*scaleproof-node, scaleproof-node-2"),
        ("stop", "nope", r"no node 'nope'"),
        ("freeze", "scaleproof-node", r"holds the control plane: no fault"),
        ("stop", "scaleproof-node", r"holds the control plane"),
        ("thaw", "scaleproof-node-2", r"is not frozen: nothing to thaw"),
    ],
)
def test_bad_fault_input_changes_nothing(
    cfg: ClusterConfig, machine: list[list[str]], tmp_path: Path, action: str, name: str, match: str
) -> None:
    run = tmp_path / "run-bad"
    kwargs = {"cfg": cfg} if action == "thaw" else {"cfg": cfg, "run_dir": run}
    with pytest.raises(ClusterError, match=match) as err:
        getattr(faults, action)(name, **kwargs)
    assert "\n" not in str(err.value)
    assert machine == [] and not run.exists()  # no command ran, no plan was written
    assert [_state(cfg, i) for i in (1, 2)] == ["THAWED", "THAWED"]


def test_freezing_a_frozen_node_is_refused(
    cfg: ClusterConfig, machine: list[list[str]], tmp_path: Path
) -> None:
    faults.freeze("scaleproof-node-2", run_dir=tmp_path / "a", cfg=cfg)
    with pytest.raises(ClusterError, match=r"already frozen"):
        faults.freeze("scaleproof-node-2", run_dir=tmp_path / "b", cfg=cfg)
    assert not (tmp_path / "b").exists()


def test_cli_thaw_of_a_node_not_frozen_is_one_line(
    cfg: ClusterConfig, machine: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faults, "ClusterConfig", lambda: cfg)
    res = CliRunner().invoke(cluster, ["node", "thaw", "scaleproof-node-3"])
    assert (
        res.exit_code == 1 and res.output.strip() == "error: scaleproof-node-3 is not frozen: nothing to thaw"
    )


# -------------------------------------------------------------------------------------- manifests
def _docs(path: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((REPO / path).read_text()) if d]


def test_app_replicas_spread_over_nodes_softly() -> None:
    (dep,) = [d for d in _docs("k8s/app/deployment.yaml") if d["kind"] == "Deployment"]
    (tsc,) = dep["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert tsc["topologyKey"] == "kubernetes.io/hostname"
    assert tsc["whenUnsatisfiable"] == "ScheduleAnyway"  # never Pending on one node
    assert tsc["labelSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]


def test_weaviate_peers_spread_one_per_node_yet_schedule_on_one_node() -> None:
    """Hard spread by hostname (maxSkew 1: one node is one domain, so a one-node cluster still takes
    all three), tainted (NotReady) nodes not counted, and no required anti-affinity (Pending on one node)."""
    (sts,) = [d for d in _docs("k8s/base/weaviate.yaml") if d["kind"] == "StatefulSet"]
    spec = sts["spec"]["template"]["spec"]
    (tsc,) = spec["topologySpreadConstraints"]
    assert (tsc["topologyKey"], tsc["maxSkew"], tsc["whenUnsatisfiable"]) == (
        "kubernetes.io/hostname",
        1,
        "DoNotSchedule",
    )
    assert tsc["nodeTaintsPolicy"] == "Honor" and "minDomains" not in tsc
    assert tsc["labelSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    anti = spec["affinity"]["podAntiAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti
