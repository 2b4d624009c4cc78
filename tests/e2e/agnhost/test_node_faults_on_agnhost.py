"""Issue 19 through configuration only: node-drain and node-loss against agnhost (nobody here wrote it),
and a drain that a `maxUnavailable: 0` budget blocks, reported as blocked with the budget named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scaleproof import nodetimeline

from ..conftest import Kubectl, chaos_run, evidence_of
from ..test_node_faults import assert_every_node_ready_and_schedulable, events_of, workers
from .app import AgnhostApp
from .test_experiments_on_agnhost import _env

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("deployed")]


@pytest.fixture
def spread_agnhost(kubectl: Kubectl, agnhost: AgnhostApp) -> AgnhostApp:
    if len(workers(kubectl)) < 2:
        pytest.skip("node faults need >= 2 worker nodes: `scaleproof cluster up --nodes 3`")
    return agnhost


def _budget(kubectl: Kubectl, app: AgnhostApp, name: str, **spec: object) -> None:
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": app.namespace},
        "spec": {"selector": {"matchLabels": {"app": "agnhost"}}, **spec},
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(pdb))


def test_node_drain_on_agnhost(kubectl: Kubectl, spread_agnhost: AgnhostApp, tmp_path: Path):
    _budget(kubectl, spread_agnhost, "agnhost", maxUnavailable=1)
    journal = tmp_path / "node-drain.json"
    env = _env(
        kubectl,
        spread_agnhost,
        SCALEPROOF_DRAIN_SCOPE="namespace",
        SCALEPROOF_MAX_FAILED_REQUESTS="20",
        SCALEPROOF_LOAD_RUN_TIME_S="300",
        SCALEPROOF_METHOD_DEADLINE_S="240",  # the load outlasts the method (a rule of the gate)
    )
    proc = chaos_run("node-drain", journal, env, timeout=1200)
    f = nodetimeline.drain_figures(events_of(journal))
    assert f["blocked"] is False and f["left_on_node"] == [] and all(p["recovered"] for p in f["pods"])
    assert f["min_ready_during"] >= f["guarantee"] == 2
    ev = evidence_of(journal)
    assert proc.returncode == 0 and ev["verdict"] == "pass", ev.get("verdict_reasons")
    assert_every_node_ready_and_schedulable(kubectl)


def test_a_drain_blocked_by_a_max_unavailable_zero_budget_is_reported_blocked_naming_it(
    kubectl: Kubectl, spread_agnhost: AgnhostApp, tmp_path: Path
):
    _budget(kubectl, spread_agnhost, "agnhost-strict", maxUnavailable=0)
    journal = tmp_path / "node-drain-blocked.json"
    env = _env(
        kubectl,
        spread_agnhost,
        SCALEPROOF_DRAIN_SCOPE="namespace",
        SCALEPROOF_PDB_WAIT_S="20",
        SCALEPROOF_LOAD_RUN_TIME_S="240",
        SCALEPROOF_METHOD_DEADLINE_S="180",
    )
    proc = chaos_run("node-drain", journal, env, timeout=900)
    f = nodetimeline.drain_figures(events_of(journal))
    assert f["blocked"] is True and f["pending"] and f["evicted_target"] == 0
    [hold] = f["budgets"]
    assert hold["budget"] == "agnhost-strict" and hold["blocked"] is True and hold["refusals"] >= 5
    assert hold["held_s"] >= 19
    ev = evidence_of(journal)
    assert ev["verdict"] == "fail" and any(
        "agnhost-strict" in r or "drain_blocked" in r for r in ev["verdict_reasons"]
    )
    assert proc.returncode != 0  # the after-claim "no target pod left on the node" deviates
    assert_every_node_ready_and_schedulable(kubectl)  # the rollback uncordoned it


@pytest.mark.full(
    "node-loss runs in the CI tier on the reference app through the same configuration keys; "
    "agnhost's node-drain runs there too"
)
@pytest.mark.timeout(1200)  # grace period + tolerationSeconds + the rollout of the toleration, twice
def test_node_loss_on_agnhost_with_a_lowered_toleration(
    kubectl: Kubectl, spread_agnhost: AgnhostApp, tmp_path: Path
):
    journal = tmp_path / "node-loss.json"
    # agnhost declares no spread constraint: two of its pods may share the lost node
    env = _env(kubectl, spread_agnhost, SCALEPROOF_TOLERATION_SECONDS="10", SCALEPROOF_MAX_PODS_PER_NODE="2")
    proc = chaos_run("node-loss", journal, env, timeout=1500)
    f = nodetimeline.node_loss_figures(events_of(journal))
    assert f["recovered"] is True, f["reason"]
    assert abs(sum(p["duration_s"] for p in f["phases"]) - f["mttr_s"]) <= 0.01
    ev = evidence_of(journal)
    assert proc.returncode == 0 and ev["verdict"] == "pass", ev.get("verdict_reasons")
    assert_every_node_ready_and_schedulable(kubectl)
