"""`scaleproof cluster down` while a node is frozen leaves nothing behind: no process of any node, no
frozen cgroup nor any cgroup of a node, no network namespace, veth, route, mount or iptables chain of
ours. Then the cluster comes back up with as many nodes as before (the file sorts last: it takes the
cluster down under every other e2e test's feet)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scaleproof.cluster import faults, local, nodes
from scaleproof.cluster.config import CGROUP_V1, ClusterConfig
from scaleproof.cluster.images import IMAGE_TAGS

from .conftest import Kubectl, wait_for

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
# a pod on the control-plane node, so its veth is on the host's pod bridge when `down` runs
PINNED = """
apiVersion: v1
kind: Pod
metadata: {{name: zz-pinned, namespace: default}}
spec:
  nodeName: scaleproof-node
  terminationGracePeriodSeconds: 0
  containers: [{{name: sleep, image: {image}, command: [sleep, "3600"]}}]
"""


def _run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def leftovers(cfg: ClusterConfig) -> list[str]:
    """Everything of the cluster still on the machine (empty: clean)."""
    found: list[str] = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        cmd = " ".join(argv)
        ours = argv[0].startswith(str(cfg.bin_dir)) or (
            "containerd" in argv[0] and (str(cfg.run_dir) in cmd or str(cfg.state_dir) in cmd)
        )
        if ours:
            found.append(f"process {proc.name}: {cmd[:120]}")
    for h in nodes.HIERARCHIES:
        found += [f"cgroup {d}" for d in (CGROUP_V1 / h).glob("scaleproof-node-*")]
        if (CGROUP_V1 / h / "kubepods").exists():
            found.append(f"cgroup {CGROUP_V1 / h / 'kubepods'}")
    found += [
        f"frozen {p}" for p in (CGROUP_V1 / "freezer").rglob("freezer.state") if "FROZEN" in p.read_text()
    ]
    found += [f"netns {ln}" for ln in _run("ip", "netns", "list").splitlines() if "scaleproof" in ln]
    found += [
        f"link {ln}" for ln in _run("ip", "-o", "link").splitlines() if "sp-veth" in ln or "sp-node0" in ln
    ]
    found += [f"route {ln}" for ln in _run("ip", "route").splitlines() if "198.18." in ln]
    roots = (str(cfg.state_dir), str(cfg.run_dir), str(cfg.cache_dir), "/run/netns")
    found += [
        f"mount {ln.split()[1]}"
        for ln in Path("/proc/mounts").read_text().splitlines()
        if ln.split()[1].startswith(roots)
    ]
    found += [
        f"iptables {ln}"
        for ln in _run("iptables-save").splitlines()
        if "SCALEPROOF" in ln or ":KUBE-" in ln or ":CNI-" in ln
    ]
    return found


def test_down_after_a_freeze_leaves_nothing_and_up_comes_back(kubectl: Kubectl, tmp_path: Path) -> None:
    cfg = ClusterConfig()
    specs = nodes.registered(cfg)
    if len(specs) < 2:
        pytest.skip("needs an extra node to freeze (`scaleproof cluster up --nodes 3`)")
    kubectl("apply", "-f", "-", input=PINNED.format(image=IMAGE_TAGS["debian-base"]))
    pod_veths = wait_for(
        lambda: local.bridge_ports(cfg.pod_bridge), 60, "a pod veth on the control-plane node's bridge"
    )  # the host ends of the control-plane node's pods: `down` must remove them too
    faults.freeze(specs[-1].name, run_dir=tmp_path)
    down = subprocess.run(
        [str(BIN / "scaleproof"), "cluster", "down"], capture_output=True, text=True, timeout=300
    )
    assert down.returncode == 0, down.stderr
    assert leftovers(cfg) == []
    assert isinstance(pod_veths, list)
    left = [
        v for v in pod_veths if subprocess.run(["ip", "link", "show", v], capture_output=True).returncode == 0
    ]
    assert left == [], f"pod veths left after down: {left}"
    up = subprocess.run(
        [str(BIN / "scaleproof"), "cluster", "up", "--nodes", str(len(specs))],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr[-3000:]
    items = kubectl.json("get", "nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in items) == sorted(n.name for n in specs)
    wait_for(
        lambda: all(
            {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"] == "True"
            for n in kubectl.json("get", "nodes")["items"]
        ),
        120,
        "every node Ready again",
    )
    kubectl("delete", "pod", "-n", "default", "zz-pinned", "--ignore-not-found", "--wait=false")
