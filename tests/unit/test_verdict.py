"""The verdict matrix (chaos-tools-notes §1.7) and `scaleproof verdict` exit codes, as a user runs it."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import scaleproof.criteria
from scaleproof.journal import find_evidence, load_journal
from scaleproof.verdict import chaos_exit_code, evaluate_criteria, overall_exit_code, verdict

pytestmark = pytest.mark.unit

FIX = Path(__file__).parents[1] / "fixtures" / "journals"
BIN = Path(sys.executable).parent


def j(name: str) -> dict[str, Any]:
    return copy.deepcopy(load_journal(FIX / name))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "outcome", "chaos_exit", "reason"),
    [
        ("pod-kill-pass-1.json", "pass", 0, "all 4 criteria met"),
        ("hpa-scale-pass.json", "pass", 0, "all 3 criteria met"),
        ("vector-shards-pass.json", "pass", 0, "all 4 criteria met"),
        # before-hypothesis out of tolerance: status completed, chaos exits 0, nothing was injected
        ("pod-kill-gate-failed.json", "fail", 0, "steady state not met BEFORE the method"),
        ("pod-kill-deviated.json", "fail", 1, "deviated"),
        ("pod-kill-interrupted.json", "fail", 1, "interrupted"),
        # ActivityFailed in the method: status completed, chaos exits 0
        ("pod-kill-action-failed.json", "fail", 0, "method activity 'kill-one-pod-k-times' failed"),
        # continuous hypothesis breached during the method: not deviated, chaos exits 0
        ("pod-kill-during-breach.json", "fail", 0, "breached during the method in 2 of 7 samples"),
        ("pod-kill-rollback-failed.json", "fail", 0, "rollback 'stop-load' failed"),
        ("pod-kill-no-evidence.json", "inconclusive", 0, "no scaleproof evidence block"),
    ],
)
def test_verdict_matrix(name: str, outcome: str, chaos_exit: int, reason: str) -> None:
    journal = j(name)
    v = verdict(journal)
    assert v.outcome == outcome, v.reasons
    assert any(reason in r for r in v.reasons), v.reasons
    assert chaos_exit_code(journal) == chaos_exit


def test_gate_failure_names_the_probe_and_its_output() -> None:
    v = verdict(j("pod-kill-gate-failed.json"))
    assert "declared-replicas-ready out of tolerance (output 1)" in v.reasons[0]


def test_action_failure_quotes_the_exception() -> None:
    v = verdict(j("pod-kill-action-failed.json"))
    assert "403 Forbidden" in v.reasons[0]


@pytest.mark.parametrize("status", ["failed", "aborted"])
def test_failed_or_aborted_status_fails(status: str) -> None:
    journal = j("pod-kill-pass-1.json")
    journal["status"] = status
    v = verdict(journal)
    assert v.outcome == "fail"
    assert f"journal status is {status}" in v.reasons


def test_null_metric_is_inconclusive_never_pass() -> None:
    journal = j("hpa-scale-pass.json")
    ev = find_evidence(journal)
    assert ev is not None
    ev["metrics"]["hpa_decisions"] = {"value": None, "unit": "decisions", "reason": "watch lost"}
    v = verdict(journal)
    assert v.outcome == "inconclusive"
    assert "metric hpa_decisions could not be computed: watch lost" in v.reasons


def test_null_metric_under_a_criterion_is_inconclusive() -> None:
    journal = j("hpa-scale-pass.json")
    find_evidence(journal)["metrics"]["time_to_scale_s"]["value"] = None  # type: ignore[index]
    v = verdict(journal)
    assert v.outcome == "inconclusive"
    assert any("`time_to_scale_s <= 120.0` could not be evaluated" in r for r in v.reasons)


def test_criterion_is_re_evaluated_not_trusted() -> None:
    journal = j("hpa-scale-pass.json")
    ev = find_evidence(journal)
    ev["metrics"]["time_to_scale_s"]["value"] = 150.0  # type: ignore[index]  # recorded passed stays True
    v = verdict(journal)
    assert v.outcome == "fail"
    assert "criterion `time_to_scale_s <= 120.0` not met: value 150.0 s" in v.reasons
    assert any("disagrees with re-evaluation" in r for r in v.reasons)


def test_criteria_declared_in_experiment_but_missing_from_evidence_are_evaluated() -> None:
    journal = j("vector-shards-pass.json")
    journal["experiment"]["extensions"][0]["criteria"].append("documents_total >= 500")
    v = verdict(journal)
    assert v.outcome == "fail"
    assert "criterion `documents_total >= 500` not met: value 100 objects" in v.reasons


def test_no_criteria_is_inconclusive() -> None:
    journal = j("vector-shards-pass.json")
    find_evidence(journal)["criteria"] = []  # type: ignore[index]
    journal["experiment"]["extensions"][0]["criteria"] = []
    assert verdict(journal).outcome == "inconclusive"


def test_unsupported_evidence_version_is_inconclusive() -> None:
    journal = j("vector-shards-pass.json")
    find_evidence(journal)["version"] = 2  # type: ignore[index]
    v = verdict(journal)
    assert v.outcome == "inconclusive"
    assert "unsupported evidence block version 2" in v.reasons[0]


def test_method_that_ran_fewer_activities_than_declared_is_inconclusive() -> None:
    journal = j("vector-shards-pass.json")
    journal["run"] = journal["run"][:1]
    v = verdict(journal)
    assert v.outcome == "inconclusive"
    assert "method ran 1 of 5 declared activities" in v.reasons


def test_after_hypothesis_not_met_without_deviated_flag_fails() -> None:
    journal = j("vector-shards-pass.json")
    journal["steady_states"]["after"]["steady_state_met"] = False
    journal["steady_states"]["after"]["probes"][1]["tolerance_met"] = False
    v = verdict(journal)
    assert v.outcome == "fail"
    assert any(r.startswith("steady state not met after the method: store-healthy-nodes") for r in v.reasons)


def test_evidence_recorded_fail_is_respected() -> None:
    journal = j("vector-shards-pass.json")
    ev = find_evidence(journal)
    ev["verdict"], ev["verdict_reasons"] = "fail", ["shard on a cordoned node"]  # type: ignore[index]
    v = verdict(journal)
    assert v.outcome == "fail"
    assert "evidence control recorded verdict fail: shard on a cordoned node" in v.reasons


def test_criteria_are_judged_by_scaleproof_criteria(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], dict[str, Any]]] = []

    def evaluate(criteria: list[str], metrics: dict[str, Any]) -> list[dict[str, Any]]:
        calls.append((criteria, metrics))
        return [
            {"expr": c, "metric": c.split()[0], "op": "<=", "threshold": 0, "value": 1, "passed": False}
            for c in criteria
        ]

    monkeypatch.setattr(scaleproof.criteria, "evaluate", evaluate)
    v = verdict(j("vector-shards-pass.json"))
    assert calls and calls[0][0] == [
        "shards_min >= 2",
        "nodes_with_shards >= 2",
        "documents_total == 100",
        "shards_queried >= 2",
    ]
    assert v.outcome == "fail"


def test_evaluate_criteria_operators_and_not_evaluable() -> None:
    metrics = {"a": {"value": 5, "unit": "s"}, "b": {"value": None, "reason": "lost"}}
    res = evaluate_criteria(["a <= 5", "a < 5", "a >= 6", "a > 4", "b <= 1", "c >= 1", "nonsense"], metrics)
    assert [r["passed"] for r in res] == [True, False, False, True, None, None, None]
    assert res[0]["unit"] == "s"


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        ([], 0),
        (["pass"], 0),
        (["pass", "inconclusive"], 2),
        (["inconclusive", "fail"], 1),
        (["fail", "unreadable", "pass"], 3),
    ],
)
def test_overall_exit_code(outcomes: list[str], code: int) -> None:
    assert overall_exit_code(outcomes) == code


# ------------------------------------------------------------------------------------- the command
def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "scaleproof"), "verdict", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=FIX.parents[2],
    )


def test_cli_all_pass_exits_0() -> None:
    r = run("tests/fixtures/journals/pod-kill-pass-1.json", "tests/fixtures/journals/hpa-scale-pass.json")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    assert (
        lines[0].startswith("PASS") and "tests/fixtures/journals/pod-kill-pass-1.json [pod-kill]" in lines[0]
    )


def test_cli_gate_failure_exits_1_although_chaos_exited_0() -> None:
    r = run(
        "tests/fixtures/journals/pod-kill-pass-1.json", "tests/fixtures/journals/pod-kill-gate-failed.json"
    )
    assert r.returncode == 1
    assert r.stdout.splitlines()[1].startswith("FAIL")


def test_cli_inconclusive_exits_2() -> None:
    r = run(
        "tests/fixtures/journals/pod-kill-no-evidence.json", "tests/fixtures/journals/pod-kill-pass-2.json"
    )
    assert r.returncode == 2
    assert r.stdout.startswith("INCONCLUSIVE")


@pytest.mark.parametrize("broken", ["empty.json", "truncated.json", "corrupt.json", "not-a-journal.json"])
def test_cli_unreadable_exits_3_and_names_the_file(broken: str) -> None:
    r = run("tests/fixtures/journals/pod-kill-deviated.json", f"tests/fixtures/journals/broken/{broken}")
    assert r.returncode == 3
    assert f"UNREADABLE    tests/fixtures/journals/broken/{broken}: " in r.stdout
    assert "Traceback" not in r.stderr


def test_cli_missing_file_exits_3() -> None:
    r = run("no/such/journal.json")
    assert r.returncode == 3
    assert "no/such/journal.json: no such file" in r.stdout


def test_cli_usage_error_exits_4_not_2() -> None:
    r = run()
    assert r.returncode == 4
    assert "Missing argument" in r.stderr


def test_cli_directory_and_json_output() -> None:
    r = run("--json", "tests/fixtures/journals")
    assert r.returncode == 1
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    by_name = {Path(row["journal"]).name: row for row in rows}
    assert len(rows) == 12  # the top-level fixtures, not broken/ nor baseline/
    assert by_name["pod-kill-gate-failed.json"]["outcome"] == "fail"
    assert by_name["pod-kill-gate-failed.json"]["chaos_exit_code"] == 0
    assert by_name["pod-kill-no-evidence.json"]["outcome"] == "inconclusive"
