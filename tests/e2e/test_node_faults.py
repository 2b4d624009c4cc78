"""Issue 19 on the real multi-node local cluster: node-drain and node-loss under load, run exactly as a
user types them (as the chaos-runner identity: its Role and its chaos-runner-nodes ClusterRole), the
figures read back from the run's recorded events, and every node Ready and schedulable afterwards.

Needs >= 2 worker nodes (`scaleproof cluster up`, 3 nodes by default); with fewer the tests skip.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from scaleproof import nodetimeline, rundir

from .conftest import NS, REPO, Kubectl, chaos_run, evidence_of, wait_for

pytestmark = pytest.mark.e2e


def workers(kubectl: Kubectl) -> list[str]:
    nodes = kubectl.json("get", "nodes")["items"]
    return [
        n["metadata"]["name"]
        for n in nodes
        if "node-role.kubernetes.io/control-plane" not in (n["metadata"].get("labels") or {})
    ]


@pytest.fixture(scope="module")
def multi_node(deployed: Kubectl) -> Kubectl:
    if len(workers(deployed)) < 2:
        pytest.skip("node faults need >= 2 worker nodes: `scaleproof cluster up --nodes 3`")
    return deployed


def nodes_state(kubectl: Kubectl) -> dict[str, str]:
    """name -> "Ready" | "Ready=<status>" | "cordoned" for every node."""
    out = {}
    for n in kubectl.json("get", "nodes")["items"]:
        ready = next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")
        cordoned = bool(n["spec"].get("unschedulable"))
        out[n["metadata"]["name"]] = (
            "cordoned" if cordoned else ("Ready" if ready == "True" else f"Ready={ready}")
        )
    return out


def assert_every_node_ready_and_schedulable(kubectl: Kubectl) -> None:
    wait_for(
        lambda: all(v == "Ready" for v in nodes_state(kubectl).values()),
        120,
        "every node Ready and schedulable after the run",
    )


def events_of(journal: Path) -> list[dict]:
    run_dir = Path(evidence_of(journal)["run_dir"])
    return rundir.read_events(run_dir if run_dir.is_absolute() else REPO / run_dir)


def run(kind: str, journal: Path, kubeconfig: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), **settings}
    proc = chaos_run(kind, journal, env, timeout=1500)
    print(proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


@pytest.mark.full(
    "the drain itself (cordon, evictions, per-pod phases, uncordon) runs in the CI tier on "
    "agnhost, passing and blocked by a budget"
)
def test_node_drain_passes_for_the_reference_app(
    multi_node: Kubectl, runner_kubeconfig: Path, tmp_path: Path
):
    journal = tmp_path / "node-drain.json"
    # the app's pods only: every node also holds one Weaviate peer (replication factor 1, no budget), so
    # a whole-node drain also moves a shard's only copy and searches on it fail until it is back: that
    # is the ADR's finding, measured by a whole-node run (SCALEPROOF_DRAIN_SCOPE=node), not this test's
    proc = run(
        "node-drain",
        journal,
        runner_kubeconfig,
        SCALEPROOF_LOAD_RUN_TIME_S="300",
        SCALEPROOF_METHOD_DEADLINE_S="240",  # the load outlasts the method (a rule of the gate)
        SCALEPROOF_DRAIN_SCOPE="workload",
    )
    ev = evidence_of(journal)
    f = nodetimeline.drain_figures(events_of(journal))
    print(json.dumps({k: v for k, v in f.items() if k != "pods"}, indent=1, default=str))
    assert f["blocked"] is False and f["left_on_node"] == [] and f["evicted_target"] >= 1
    assert all(p["recovered"] for p in f["pods"]), [p.get("reason") for p in f["pods"]]
    assert all(p["replacement_node"] not in (None, f["node"]) for p in f["pods"])
    assert f["min_ready_during"] is not None and f["min_ready_during"] >= (f["guarantee"] or 0)
    assert proc.returncode == 0 and ev["verdict"] == "pass", ev.get("verdict_reasons")
    assert_every_node_ready_and_schedulable(multi_node)


@pytest.mark.timeout(1200)  # grace period + tolerationSeconds + the rollout of the toleration, twice
def test_node_loss_with_a_lowered_toleration_passes_and_its_phases_add_up(
    multi_node: Kubectl, runner_kubeconfig: Path, tmp_path: Path
):
    before = multi_node.json("-n", NS, "get", "deployment", "searchapp")["spec"]["template"]["spec"].get(
        "tolerations"
    )
    journal = tmp_path / "node-loss.json"
    proc = run("node-loss", journal, runner_kubeconfig, SCALEPROOF_TOLERATION_SECONDS="10")
    f = nodetimeline.node_loss_figures(events_of(journal))
    print(json.dumps({k: v for k, v in f.items()}, indent=1, default=str))
    assert f["recovered"] is True, f["reason"]
    assert [p["name"] for p in f["phases"]] == list(nodetimeline.NODE_LOSS_PHASES)
    resolution = sum(p["resolution_s"] for p in f["phases"])
    assert abs(sum(p["duration_s"] for p in f["phases"]) - f["mttr_s"]) <= resolution
    assert f["toleration_seconds"] == 10 and 5 <= (f["eviction_observed_s"] or 0) <= 30
    assert (
        20 <= (f["grace_observed_s"] or 0) <= 90
    )  # the grace period (50 s by default) after the last heartbeat
    ev = evidence_of(journal)
    assert proc.returncode == 0 and ev["verdict"] == "pass", ev.get("verdict_reasons")
    assert_every_node_ready_and_schedulable(multi_node)
    after = multi_node.json("-n", NS, "get", "deployment", "searchapp")["spec"]["template"]["spec"].get(
        "tolerations"
    )
    assert after == before  # the run's toleration was restored


def test_node_loss_refuses_a_node_it_cannot_fault_and_changes_nothing(
    multi_node: Kubectl, runner_kubeconfig: Path, tmp_path: Path
):
    journal = tmp_path / "node-loss-refused.json"
    proc = run("node-loss", journal, runner_kubeconfig, SCALEPROOF_NODE_FAULT="command")
    assert proc.returncode != 0 or evidence_of(journal)["verdict"] != "pass"
    log = journal.with_suffix(".log").read_text()
    assert "node_fault_command" in log and "node_restore_command" in log
    assert not [e for e in events_of(journal) if e.get("kind") == "NodeFault" and e.get("type") == "APPLIED"]
    assert_every_node_ready_and_schedulable(multi_node)
