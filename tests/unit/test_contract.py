"""scaleproof.contract: the one shape of the evidence block; every key the control writes is typed."""

from __future__ import annotations

from pathlib import Path
from typing import get_type_hints

import pytest

from scaleproof import contract, criteria, evidence, journal
from tests.unit.test_evidence import POD_KILL_CRITERIA, pod_kill_run_dir
from tests.unit.test_evidence import journal as make_journal

pytestmark = pytest.mark.unit

FIX = Path(__file__).parents[1] / "fixtures" / "journals"
COMMITTED = sorted(Path(__file__).parents[2].glob("journals/*/*.json"))


def _keys(td: type) -> set[str]:
    return set(get_type_hints(td))


def test_the_journal_and_the_criteria_use_the_contract_types() -> None:
    assert journal.Evidence is contract.Evidence and journal.Metric is contract.Metric
    assert journal.Criterion is contract.Criterion is criteria.CriterionResult
    assert journal.EVIDENCE_NAME == contract.EVIDENCE_NAME == evidence.EVIDENCE_NAME


def test_every_key_the_control_writes_is_in_the_type(tmp_path: Path) -> None:
    d = pod_kill_run_dir(tmp_path)
    block = evidence.build_evidence(make_journal("pod-kill", POD_KILL_CRITERIA), d, prometheus=False)
    assert set(block) <= _keys(contract.Evidence)
    assert {"cost", "claims", "configuration", "artifacts"} <= set(block)
    assert set(block["cost"]) == _keys(contract.Cost)
    assert set(block["experiment"]) == _keys(contract.ExperimentRef)
    for m in block["metrics"].values():
        assert set(m) <= _keys(contract.Metric)
    for c in block["criteria"]:
        assert set(c) <= _keys(contract.Criterion)
    assert set(block["timelines"]) <= _keys(contract.Timelines)


@pytest.mark.parametrize(
    "path", sorted(FIX.glob("*.json")) + COMMITTED, ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_recorded_blocks_have_no_key_outside_the_type(path: Path) -> None:
    block = journal.find_evidence(journal.load_journal(path))
    if block is None:
        pytest.skip("no evidence block")
    assert set(block) <= _keys(contract.Evidence)
    assert all(set(m) <= _keys(contract.Metric) for m in block.get("metrics", {}).values())
