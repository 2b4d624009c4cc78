"""Issue 12's acceptance on the real cluster: `scaleproof bench floor` runs pod-kill through `chaos run`
against the minimal workload (agnhost netexec, k8s/floor) and prints it beside the app's committed
pod-kill journals. Targets are printed by the benchmark, not asserted as wall-clock thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import REPO, Kubectl, bench_run

pytestmark = pytest.mark.e2e


@pytest.mark.full(
    "bench floor (68 s on 2026-12-08): the CI tier runs pod-kill through configuration alone on agnhost, "
    "the same image and path the floor uses"
)
def test_bench_floor_measures_the_minimal_workload_and_compares(deployed: Kubectl, tmp_path: Path) -> None:
    run, ev = bench_run(
        deployed,
        ["floor", "--kills", "3", "--kill-interval", "5", "--app", str(REPO / "journals" / "evidence")],
        tmp_path / "floor",
        timeout=900,
    )
    cfg = ev["configuration"]
    assert (cfg["namespace"], cfg["deployment"]) == ("scaleproof-floor", "floor")
    assert ev["verdict"] == "pass", ev["verdict_reasons"]
    assert ev["metrics"]["kills"]["value"] == 3 and ev["metrics"]["kills_unrecovered"]["value"] == 0
    kills = ev["timelines"]["kills"]
    assert len(kills) == 3 and all(k.get("mttr_s") is not None for k in kills), json.dumps(kills)[:2000]
    assert "app vs the cluster's floor" in run.stdout and "advice:" in run.stdout
    # the floor workload is gone afterwards (its NodePort free for the next user)
    ns = deployed("get", "namespace", "scaleproof-floor", "--ignore-not-found", "-o", "name").stdout
    assert (
        "scaleproof-floor" not in ns
        or "Terminating"
        in deployed("get", "namespace", "scaleproof-floor", "-o", "jsonpath={.status.phase}").stdout
    )
