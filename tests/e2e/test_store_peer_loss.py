"""Issue 20 (store-peer-loss) on the real cluster, Weaviate, as the chaos-runner identity:

* replication 2 (k8s/overlays/local-rf2: collection DocumentsRf2, reads at ONE): one Weaviate peer
  killed under the fixed query load, 0 documents lost, failed and partial queries within budget,
  verdict pass;
* replication 1 (k8s/overlays/local: collection Documents): the run shows the failed queries and
  the verdict fails against the claim, on failed queries, with the factor read back as 1;
* both with the app's view (POST /search) and the store's own (gRPC near_vector, replica states);
* bad inputs stop the gate with one line: an unknown collection, a factor above the peer count.

The rf 2 test deploys local-rf2 and puts k8s/overlays/local back afterwards (only the app's
ConfigMap differs: the pods roll, both collections stay in Weaviate)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO, Kubectl, chaos_run, evidence_of, scaleproof_verdict

pytestmark = pytest.mark.e2e

# budgets of the rf 2 claim: the queries in flight on the killed peer's connections may fail before
# the Service drops its endpoint; partial answers would mean a replica missing from a read
RF2_BUDGET = {"SCALEPROOF_MAX_FAILED_QUERIES": "25", "SCALEPROOF_MAX_PARTIAL_QUERIES": "0"}


def _deploy(kubectl: Kubectl, overlay: str) -> None:
    from scaleproof.cluster.deploy import deploy

    deploy(kubectl.kubeconfig, REPO / "k8s/overlays" / overlay, 420, progress=lambda m: None)


@pytest.fixture(scope="module")
def rf2_stack(deployed: Kubectl) -> Iterator[Kubectl]:
    """k8s/overlays/local-rf2 for the rest of the module (one deploy for the rf 2 run and the bad
    inputs: the rf 1 run comes first, on k8s/overlays/local), then local again."""
    _deploy(deployed, "local-rf2")
    try:
        yield deployed
    finally:
        _deploy(deployed, "local")


def _run(journal: Path, kubeconfig: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    run = chaos_run("store-peer-loss", journal, {**os.environ, "KUBECONFIG": str(kubeconfig), **env}, 1200)
    assert journal.exists(), run.stderr[-3000:]
    return run, json.loads(journal.read_text())


def _figures(doc: dict) -> dict[str, object]:
    ev = evidence_of_doc(doc)
    return {k: (m or {}).get("value") for k, m in (ev.get("metrics") or {}).items()}


def evidence_of_doc(doc: dict) -> dict:
    return next(e for e in doc["extensions"] if e["name"] == "scaleproof")


def _both_views(doc: dict) -> dict:
    tl = (evidence_of_doc(doc).get("timelines") or {}).get("store_peer_loss") or {}
    paths = tl.get("paths") or {}
    assert paths["app"]["sent"] > 0 and paths["store"]["sent"] > 0, "the app's and the store's view"
    assert "store_reported_not_serving" in tl and tl["replication"]["source"].startswith("Weaviate schema")
    return tl


def test_rf1_one_peer_killed_fails_the_claim_on_failed_queries(
    deployed: Kubectl, runner_kubeconfig: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "store-peer-loss-rf1.json"
    run, doc = _run(journal, runner_kubeconfig)
    figs = _figures(doc)
    tl = _both_views(doc)
    print(f"\nstore-peer-loss rf1: chaos exit {run.returncode}, status {doc['status']}; figures {figs}")
    print(
        f"  first errors: app {tl['paths']['app']['first_error']!r}, "
        f"store {tl['paths']['store']['first_error']!r}"
    )
    assert doc["steady_states"]["before"]["steady_state_met"] is True, "the gate passes at rest"
    assert figs["replication_factor"] == 1 and figs["peers_killed"] == 1
    assert figs["failed_queries_store"] > 0 or figs["partial_queries_store"] > 0  # type: ignore[operator]
    assert figs["documents_lost"] == 0, "the restarted peer brings its volume back"
    assert (run.returncode, doc["deviated"]) == (1, True), "the claim in the hypothesis fails"
    ev = evidence_of_doc(doc)
    failed = {c["metric"] for c in ev.get("criteria") or [] if c.get("passed") is False}
    assert failed & {"failed_queries_app", "failed_queries_store", "partial_queries_store"}, ev.get(
        "criteria"
    )
    verdict = scaleproof_verdict(journal)
    assert verdict.returncode != 0 and "FAIL" in verdict.stdout and "queries" in verdict.stdout, (
        verdict.stdout
    )


def test_rf2_one_peer_killed_nothing_lost_within_budget_pass(
    rf2_stack: Kubectl, runner_kubeconfig: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "store-peer-loss-rf2.json"
    run, doc = _run(
        journal,
        runner_kubeconfig,
        SCALEPROOF_COLLECTION="DocumentsRf2",
        SCALEPROOF_STORE_READ_CONSISTENCY="ONE",
        **RF2_BUDGET,
    )
    figs = _figures(doc)
    tl = _both_views(doc)
    print(f"\nstore-peer-loss rf2: chaos exit {run.returncode}, status {doc['status']}; figures {figs}")
    print(
        f"  killed {tl['kill'].get('pod')} ({tl['kill'].get('chosen_by')}); "
        f"store said: {tl['store_reported_not_serving']}"
    )
    assert doc["steady_states"]["before"]["steady_state_met"] is True
    assert figs["peers_killed"] == 1 and figs["replication_factor"] == 2
    assert figs["documents_lost"] == 0
    assert figs["failed_queries_app"] <= 25 and figs["failed_queries_store"] <= 25  # type: ignore[operator]
    assert figs["partial_queries_app"] == 0 and figs["partial_queries_store"] == 0
    assert figs["recovery_s"] is not None
    assert (run.returncode, doc["deviated"]) == (0, False), run.stderr[-2000:]
    verdict = scaleproof_verdict(journal)
    assert verdict.returncode == 0 and "PASS" in verdict.stdout, verdict.stdout + verdict.stderr


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"SCALEPROOF_COLLECTION": "NoSuchCollection"}, "unknown collection 'NoSuchCollection'"),
        ({"SCALEPROOF_STORE_REPLICAS": "1"}, "but the store has 1 peer(s)"),
    ],
    ids=["unknown-collection", "factor-above-peers"],
)
def test_bad_inputs_stop_the_gate_with_one_line(
    rf2_stack: Kubectl, runner_kubeconfig: Path, tmp_path: Path, env: dict[str, str], line: str
) -> None:
    journal = tmp_path / "store-peer-loss-bad.json"
    run, doc = _run(journal, runner_kubeconfig, **({"SCALEPROOF_COLLECTION": "DocumentsRf2"} | env))
    assert doc["steady_states"]["before"]["steady_state_met"] is False
    assert not doc["run"], "nothing was done to the store"
    log = journal.with_suffix(".log").read_text()
    gate = json.dumps(doc["steady_states"]["before"]["probes"])  # the probe's exception, verbatim
    assert line in gate or line in log, gate[-3000:]
    assert not (evidence_of(journal).get("metrics") or {}).get("peers_killed", {}).get("value")
