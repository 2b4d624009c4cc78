"""Issue 14 (vector-shards): the spread claim lives in the steady-state hypothesis, so on the real
cluster an impossible claim makes `chaos run` itself end `deviated` (exit 1), while the gate still
passes at rest; `scaleproof verdict` fails too. The passing run is
test_experiments.py::test_experiment_passes_on_the_real_cluster[vector-shards]."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO, Kubectl, scaleproof_verdict

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


def _chaos_run(journal: Path, kubectl: Kubectl, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "chaos"), "--no-version-check", "--log-file", str(journal.with_suffix(".log"))]
        + ["run", "--hypothesis-frequency", "2", "--journal-path", str(journal)]
        + ["experiments/vector-shards.yaml"],
        cwd=REPO,
        env={**os.environ, "KUBECONFIG": str(kubectl.kubeconfig), **env},
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_impossible_shard_claim_ends_deviated(deployed: Kubectl, tmp_path: Path) -> None:
    journal = tmp_path / "vector-shards-9.json"
    t0 = time.monotonic()
    run = _chaos_run(journal, deployed, SCALEPROOF_MIN_SHARDS="9", SCALEPROOF_PROMETHEUS_URL="")
    took = time.monotonic() - t0
    assert journal.exists(), run.stderr[-2000:]
    doc = json.loads(journal.read_text())
    print(
        f"\nvector-shards MIN_SHARDS=9: chaos exit {run.returncode}, status {doc['status']}, "
        f"deviated {doc['deviated']}, {took:.0f} s"
    )
    assert doc["steady_states"]["before"]["steady_state_met"] is True, "the gate must pass at rest"
    assert (run.returncode, doc["status"], doc["deviated"]) == (1, "completed", True)
    after = doc["steady_states"]["after"]["probes"]
    claim = next(p for p in after if p["activity"]["name"] == "shards-spread-claim")["output"]["claim"]
    assert claim["phase"] == "queried" and not claim["met"]
    assert any(r.endswith("9 claimed") for r in claim["reasons"]), claim
    assert all(r["status"] == "succeeded" for r in doc["run"]), "the method itself ran fine"
    verdict = scaleproof_verdict(journal)
    print(f"scaleproof verdict exit {verdict.returncode}: {verdict.stdout.strip()[:300]}")
    assert verdict.returncode != 0 and "FAIL" in verdict.stdout, verdict.stdout + verdict.stderr
