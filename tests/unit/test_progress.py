"""Progress lines, the quiet continuous hypothesis, the end-of-run summary, the refused exit code."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from actions.killprogress import kill_line
from probes.narrate import Narrator
from scaleproof import progress, summary, verdict
from tests.unit.eventlog import pod_obj

pytestmark = pytest.mark.unit

JOURNALS = Path(__file__).resolve().parents[1] / "fixtures" / "journals"


def _block(name: str) -> tuple[dict, dict]:
    j = json.loads((JOURNALS / name).read_text())
    return next(e for e in j["extensions"] if e.get("name") == "scaleproof"), j


@pytest.fixture
def console():
    """A `chaostoolkit` logger with a console handler and a file handler, like `chaos` sets up."""
    log = logging.getLogger("scaleproof-test-console")
    log.handlers.clear()
    log.propagate = False
    log.setLevel(logging.INFO)
    shown: list[str] = []
    filed: list[str] = []

    class ListHandler(logging.StreamHandler):
        def emit(self, record):  # Handler.handle() has applied the filters
            shown.append(record.getMessage())

    class FileLike(logging.FileHandler):
        def __init__(self):
            logging.Handler.__init__(self)

        def emit(self, record):
            filed.append(record.getMessage())

    log.addHandler(ListHandler())
    log.addHandler(FileLike())
    assert progress.install_console_filter(log.name) == 1
    assert progress.install_console_filter(log.name) == 1  # idempotent
    yield log, shown, filed
    log.handlers.clear()


def test_continuous_samples_leave_the_console_not_the_log_file(console):
    log, shown, filed = console

    def sampler():
        for _ in range(30):
            log.info("Steady state hypothesis: the target keeps its replicas")
            log.info("Probe: declared-replicas-ready")
            log.info("Steady state hypothesis is met!")
        for _ in range(5):
            log.warning(
                "Continuous steady state probe 'declared-replicas-ready' is not in the given tolerance"
            )

    t = threading.Thread(target=sampler)
    t.start()
    t.join()
    log.info("Probe: declared-replicas-ready")  # the main thread's gate/after probes stay
    log.info("kill 1/10: web-1 evicted")
    assert shown == [
        "Continuous steady state probe 'declared-replicas-ready' is not in the given tolerance",
        "Probe: declared-replicas-ready",
        "kill 1/10: web-1 evicted",
    ]
    assert len(filed) == 30 * 3 + 5 + 2  # the log file keeps every line


def test_kill_line_names_the_kill_the_victim_the_recovery_and_the_failures():
    line = kill_line(3, 10, ["web-7d9f-abcde"], 1.234, 2, 3)
    assert (
        line
        == "kill 3/10: web-7d9f-abcde evicted; back to 3 Ready after 1.2 s; 2 failed request(s) in its window"
    )
    assert "not back yet" in kill_line(1, 1, ["a"], None, None, 3)


def test_narrator_announces_hpa_decisions_and_new_ready_replicas_not_the_initial_list():
    n = Narrator(announce_ready=True)
    assert n.see("Pod", "SYNC", pod_obj("a")) is None  # state at start, not news
    assert n.see("Pod", "MODIFIED", pod_obj("a")) is None  # already Ready
    assert n.see("Pod", "ADDED", pod_obj("b", ready=False)) is None
    assert n.see("Pod", "MODIFIED", pod_obj("b")) == "replica Ready: searchapp-b (2 Ready)"
    event = {
        "reason": "SuccessfulRescale",
        "message": "New size: 3; reason: cpu resource utilization (percentage of request) above target",
        "involvedObject": {"kind": "HorizontalPodAutoscaler", "name": "web"},
    }
    assert n.see("Event", "ADDED", event) == (
        "HPA web decision: New size: 3; reason: cpu resource utilization (percentage of request) above target"
    )
    assert n.see("Event", "SYNC", event) is None
    assert Narrator(announce_ready=False).see("Pod", "MODIFIED", pod_obj("c")) is None  # pod-kill: quiet


def test_summary_of_a_pod_kill_pass_has_the_figures_the_per_kill_failures_and_the_verdict():
    block, journal = _block("pod-kill-pass-1.json")
    lines = summary.summary_lines(block, journal)
    text = "\n".join(lines)
    assert lines[0] == "summary (pod-kill):"
    assert "kills = 3 kills" in text and "mttr_p95_s = 3.036 s" in text
    assert "failed requests per kill: [0, 0, 0] (sum 0; run total 0)" in text
    assert "criterion mttr_p95_s <= 10.0: met (value 3.036)" in text
    assert any(x.startswith("VERDICT: PASS") for x in lines)
    assert len(lines) < 15


def test_summary_of_a_refused_run_shows_the_refusal_not_empty_figures():
    block = {
        "experiment": {"kind": "pod-kill"},
        "metrics": {"kills": {"value": None, "reason": "no kill was recorded"}},
        "refused": {
            "stage": "configuration, before any change",
            "problems": ["kills (SCALEPROOF_KILLS='0'): …"],
        },
        "verdict": "refused",
        "verdict_reasons": ["refused at configuration, before any change: kills (SCALEPROOF_KILLS='0'): …"],
    }
    lines = summary.summary_lines(block)
    assert not any("kills = " in x for x in lines)
    assert any(x.startswith("VERDICT: REFUSED: refused at configuration") for x in lines)


def test_refused_exit_code_ranks_below_unreadable_above_fail():
    assert verdict.overall_exit_code(["pass", "fail", "refused"]) == verdict.EXIT_REFUSED == 5
    assert verdict.overall_exit_code(["refused", "unreadable"]) == verdict.EXIT_UNREADABLE
    assert verdict.overall_exit_code(["inconclusive", "fail"]) == verdict.EXIT_FAIL


def test_verdict_help_documents_every_outcome():
    out = CliRunner().invoke(verdict.verdict_command, ["--help"]).output
    for word in ("0 pass", "1 fail", "2 inconclusive", "3 unreadable", "5 refused"):
        assert word in out, out


def test_existing_journals_still_read_and_none_is_refused():
    outcomes = {p.name: verdict.verdict(json.loads(p.read_text())).outcome for p in JOURNALS.glob("*.json")}
    assert "refused" not in outcomes.values()
    assert outcomes["pod-kill-pass-1.json"] == "pass" and outcomes["pod-kill-gate-failed.json"] == "fail"


def test_summary_of_hpa_scale_says_the_stabilisation_window_was_changed_and_restored():
    block, journal = _block("hpa-scale-pass.json")
    journal["run"].append(
        {"activity": {"name": "reset-to-hpa-minimum"},
         "output": {"from": 3, "to": 1, "scale_down_stabilization": {
             "before_s": 300, "during_run_s": 0, "changed": True, "restored_by": "the rollbacks"}}}
    )  # fmt: skip
    text = "\n".join(summary.summary_lines(block, journal))
    assert "time_to_scale_s = 41.0 s" in text
    assert "HPA scale-down stabilisation: 300 s before the run, 0 s during it" in text
