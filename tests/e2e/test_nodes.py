"""Issue 18 on the real multi-node local cluster: every node is a real kubelet with its own containerd
and network namespace. Pods on different nodes reach each other and a ClusterIP Service, DNS answers
from every node, a NodePort on 127.0.0.1 reaches pods on every node, the store's peers sit on distinct
nodes, and the node faults (freeze/thaw, stop/start) turn a node NotReady and back.

Needs a cluster of 3 nodes or more (`scaleproof cluster up`, the default); with fewer the tests skip
(CI brings up the default)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from probes import placement
from scaleproof.cluster import faults, nodes
from scaleproof.cluster.config import ClusterConfig
from scaleproof.cluster.images import IMAGE_TAGS

from .conftest import Kubectl, wait_for

pytestmark = pytest.mark.e2e

#: the controller-manager's default --node-monitor-grace-period (Kubernetes 1.32+: 50 s)
GRACE_S = 50

ECHO = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: echo, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: echo}}}}
  template:
    metadata: {{labels: {{app: echo}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: echo
        image: {image}
        imagePullPolicy: Never
        env:
        - {{name: NODE, valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}}}
        command:
        - sh
        - -c
        - mkdir -p /tmp/w && printf %s "$NODE" > /tmp/w/index.html
          && cd /tmp/w && exec python3 -m http.server 8000
        readinessProbe: {{httpGet: {{path: /, port: 8000}}, periodSeconds: 1}}
        resources: {{requests: {{cpu: 10m, memory: 24Mi}}, limits: {{memory: 64Mi}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: echo, namespace: {ns}}}
spec:
  type: NodePort
  selector: {{app: echo}}
  ports: [{{port: 80, targetPort: 8000}}]
"""

# each URL until it answers, 20 s at most: a Service this new may not be programmed yet by the
# kube-proxy of the node asked (it syncs at most once a second: "connection refused" until then)
FETCH = """
import json, socket, sys, time, urllib.request
out = {}
for url in sys.argv[1:]:
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                out[url] = r.read().decode()
            break
        except Exception as e:
            out[url] = "ERR " + type(e).__name__ + ": " + str(e)
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
print(json.dumps(out))
"""


def _nodes(kubectl: Kubectl) -> list[dict]:
    return kubectl.json("get", "nodes")["items"]


def _ready(node: dict) -> str:
    conds = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    return conds.get("Ready", "?")


@pytest.fixture(scope="module")
def multinode(kubectl: Kubectl) -> list[str]:
    names = sorted(n["metadata"]["name"] for n in _nodes(kubectl))
    if len(names) < 3:
        pytest.skip(f"the cluster has {len(names)} node(s); these tests need 3 (`scaleproof cluster up`)")
    return names


@pytest.fixture
def echo(kubectl: Kubectl, namespace: str, multinode: list[str]) -> dict[str, str]:
    """One echo pod per node, each answering with its node's name; returns node -> pod IP."""
    kubectl("apply", "-f", "-", input=ECHO.format(ns=namespace, image=IMAGE_TAGS["debian-base"]))

    def ready() -> dict[str, str] | None:
        pods = kubectl.json("-n", namespace, "get", "pods", "-l", "app=echo")["items"]
        out = {}
        for p in pods:
            conds = {c["type"]: c["status"] for c in p.get("status", {}).get("conditions", [])}
            if conds.get("Ready") == "True" and not p["metadata"].get("deletionTimestamp"):
                out[p["spec"]["nodeName"]] = p["status"]["podIP"]
        return out if sorted(out) == multinode else None

    got = wait_for(ready, 180, "an echo pod Ready on every node")
    assert isinstance(got, dict)
    return got


def test_every_node_is_ready_with_its_own_zone(kubectl: Kubectl, multinode: list[str]) -> None:
    items = _nodes(kubectl)
    assert all(_ready(n) == "True" for n in items), {n["metadata"]["name"]: _ready(n) for n in items}
    labels = {n["metadata"]["name"]: n["metadata"]["labels"] for n in items}
    assert all(lab["kubernetes.io/hostname"] == name for name, lab in labels.items())
    zones = [lab.get("topology.kubernetes.io/zone") for lab in labels.values()]
    assert None not in zones and len(set(zones)) == len(zones)
    cp = [name for name, lab in labels.items() if "node-role.kubernetes.io/control-plane" in lab]
    assert cp == ["scaleproof-node"]
    ips = {a["address"] for n in items for a in n["status"]["addresses"] if a["type"] == "InternalIP"}
    assert len(ips) == len(items)


def _fetch_from(kubectl: Kubectl, ns: str, node: str, urls: list[str]) -> dict[str, str]:
    pod = kubectl(
        "-n", ns, "get", "pods", "-l", "app=echo", "--field-selector", f"spec.nodeName={node}",
        "-o", "jsonpath={.items[0].metadata.name}",
    ).stdout  # fmt: skip
    out = kubectl("-n", ns, "exec", pod, "--", "python3", "-c", FETCH, *urls, timeout=60).stdout
    return json.loads(out)


def test_pods_reach_pods_on_every_node_a_clusterip_and_dns(
    kubectl: Kubectl, namespace: str, echo: dict[str, str]
) -> None:
    svc = kubectl.json("-n", namespace, "get", "service", "echo")["spec"]["clusterIP"]
    prefixes = {ip.rsplit(".", 1)[0] for ip in echo.values()}
    assert len(prefixes) == len(echo), echo  # each node's pods come from its own /24
    for node in echo:
        urls = [f"http://{ip}:8000/" for ip in echo.values()]
        urls += [f"http://{svc}/", f"http://echo.{namespace}.svc.cluster.local/"]
        got = _fetch_from(kubectl, namespace, node, urls)
        for target, ip in echo.items():
            assert got[f"http://{ip}:8000/"] == target, (node, target, got)
        assert got[f"http://{svc}/"] in echo, (node, got)  # ClusterIP from this node
        assert got[f"http://echo.{namespace}.svc.cluster.local/"] in echo, (node, got)  # DNS from this node


def _ready_endpoint_ips(kubectl: Kubectl, ns: str, service: str) -> set[str]:
    slices = kubectl.json(
        "-n", ns, "get", "endpointslices", "-l", f"kubernetes.io/service-name={service}"
    )["items"]  # fmt: skip
    return {
        addr
        for s in slices
        for e in s.get("endpoints") or []
        if (e.get("conditions") or {}).get("ready")
        for addr in e.get("addresses", [])
    }


def test_nodeport_on_loopback_reaches_pods_on_every_node(
    kubectl: Kubectl, namespace: str, echo: dict[str, str]
) -> None:
    port = kubectl.json("-n", namespace, "get", "service", "echo")["spec"]["ports"][0]["nodePort"]
    # the pods are Ready; their endpoints follow, and kube-proxy programs them a sync later (>= 1 s).
    # Asking only until a request count runs out raced that: 300 answers in under a second, before
    # the last pod's endpoint was programmed (CI of stop 24). So: wait for the slice, then ask until
    # every node has answered or 60 s have passed.
    wait_for(
        lambda: _ready_endpoint_ips(kubectl, namespace, "echo") >= set(echo.values()),
        60, "the echo Service's EndpointSlice to list every pod ready", interval_s=0.5,
    )  # fmt: skip
    seen: dict[str, int] = {}
    deadline = time.monotonic() + 60
    for _ in range(3000):  # bounded in count and time: ~20 ms apart, 60 s at most
        if set(seen) == set(echo) or time.monotonic() > deadline:
            break
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                body = resp.read().decode()
        except OSError:  # a NodePort this new may not be programmed by kube-proxy yet
            time.sleep(0.5)
            continue
        seen[body] = seen.get(body, 0) + 1
        time.sleep(0.02)
    # which pods answered through the loopback NodePort, of the pods (-> their nodes) behind it
    assert set(seen) == set(echo), (seen, echo)


def test_a_pod_created_before_a_netns_is_added_still_terminates(
    kubectl: Kubectl, namespace: str, echo: dict[str, str]
) -> None:
    """The /run/netns pitfall: `ip netns add` after a pod's namespace was mounted must not hide it."""
    pod = kubectl(
        "-n", namespace, "get", "pods", "-l", "app=echo", "--field-selector", "spec.nodeName=scaleproof-node",
        "-o", "jsonpath={.items[0].metadata.name}",
    ).stdout  # fmt: skip
    name = "scaleproof-e2e-probe"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        kubectl("-n", namespace, "delete", "pod", pod, "--wait=false")
        wait_for(
            lambda: kubectl("-n", namespace, "get", "pod", pod, check=False).returncode != 0,
            60,
            f"pod {pod} to finish terminating",
        )
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_store_peers_run_on_distinct_nodes(deployed: Kubectl, multinode: list[str]) -> None:
    pods = deployed.json("-n", "scaleproof", "get", "pods", "-l", "app.kubernetes.io/name=weaviate")["items"]
    where = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in pods}
    assert len(where) == 3 and len(set(where.values())) == 3, where
    # the per-shard mapping: Weaviate names its nodes after their pods
    os.environ.setdefault("KUBECONFIG", str(deployed.kubeconfig))
    mapping = placement.kubernetes_nodes(where, "scaleproof", "app.kubernetes.io/name=weaviate")
    assert mapping == where


def _wait_ready(kubectl: Kubectl, node: str, want: str, timeout_s: float) -> float:
    t0 = time.monotonic()

    def check() -> bool:
        return _ready(kubectl.json("get", "node", node)) == want

    wait_for(check, timeout_s, f"node {node} Ready={want}", interval_s=1)
    return time.monotonic() - t0


def _victim(multinode: list[str]) -> str:
    return multinode[-1]  # the last extra node; never the control plane's


@pytest.mark.full(
    "the CI tier freezes a node in node-loss on the reference app (Unknown, then thawed, every node "
    "Ready after) and before `cluster down` (test_zz_cluster_down)"
)
def test_freeze_turns_the_node_unknown_and_thaw_brings_it_back(
    kubectl: Kubectl, multinode: list[str], tmp_path: Path
) -> None:
    node = _victim(multinode)
    cfg = ClusterConfig()
    res = faults.freeze(node, run_dir=tmp_path)
    try:
        assert (tmp_path / "undo.json").exists() and res["undo_plan"]
        spec = nodes.find(cfg, node, fault=True)
        assert nodes.freezer_state(spec) == "FROZEN"
        took = _wait_ready(kubectl, node, "Unknown", GRACE_S + 30)
        print(f"{node}: Ready=Unknown {took:.1f} s after the freeze (grace period {GRACE_S} s)")
        assert took <= GRACE_S + 20
    finally:
        faults.thaw(node)
    back = _wait_ready(kubectl, node, "True", 90)
    print(f"{node}: Ready again {back:.1f} s after the thaw")


def test_stop_turns_the_node_unknown_and_start_brings_it_back(
    kubectl: Kubectl, multinode: list[str], tmp_path: Path
) -> None:
    node = _victim(multinode)
    cfg = ClusterConfig()
    faults.stop(node, run_dir=tmp_path)
    try:
        spec = nodes.find(cfg, node, fault=True)
        st = nodes.node_status(cfg, spec)["processes"]
        assert all(p["pid"] is None for p in st.values()), st  # type: ignore[attr-defined]
        assert nodes.kill_shims(spec.containerd_socket) == []  # no shim outlived the stop
        took = _wait_ready(kubectl, node, "Unknown", GRACE_S + 30)
        print(f"{node}: Ready=Unknown {took:.1f} s after the stop")
    finally:
        faults.start(node)
    back = _wait_ready(kubectl, node, "True", 120)
    print(f"{node}: Ready again {back:.1f} s after the start")


def test_recover_thaws_a_node_frozen_by_a_process_that_died(multinode: list[str], tmp_path: Path) -> None:
    """The fault's undo plan outlives the process that froze the node: `scaleproof recover` thaws it."""
    node = _victim(multinode)
    bin_dir = Path(sys.executable).parent
    run = tmp_path / "run"
    froze = subprocess.run(
        [str(bin_dir / "scaleproof"), "cluster", "node", "freeze", node, "--run-dir", str(run)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    spec = nodes.find(ClusterConfig(), node, fault=True)
    try:
        assert froze.returncode == 0, froze.stderr
        assert nodes.freezer_state(spec) == "FROZEN"
        rec = subprocess.run(
            [str(bin_dir / "scaleproof"), "recover", str(run)], capture_output=True, text=True, timeout=120
        )
        assert rec.returncode == 0, rec.stdout + rec.stderr
        assert nodes.freezer_state(spec) == "THAWED"
        assert json.loads(rec.stdout)["steps"][0]["step"] == "thaw-node"
    finally:
        if nodes.freezer_state(spec) != "THAWED":
            faults.thaw(node)
