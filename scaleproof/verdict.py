"""The honest verdict of one run: pass, fail or inconclusive, with the reasons. The ONE verdict: the
evidence control (`scaleproof.evidence`, the block it writes), `scaleproof verdict` and the report
all call `verdict()`.

`chaos run` exits 0 when the steady-state gate failed before the method (the fault was never injected)
and when a method action raised `ActivityFailed`; it ignores breaches during the method
(`steady_states.during`). See /work/shared/reference/chaos-tools-notes.md §1.7–1.9. This module looks at
everything instead. The rules are the union of the two verdicts that existed before issue 11 (the
control's and this module's); where they differed, the stricter or more honest one was kept:

| journal                                                      | verdict       |
| ------------------------------------------------------------ | ------------- |
| a SIGINT/SIGTERM recorded in the evidence block's `interrupt` | inconclusive  |
| (whatever the status: chaoslib says `completed` on SIGTERM)  | (signal+phase)|
| status interrupted without a recorded signal, failed, aborted| fail          |
| no final status (None) in a finished journal                 | fail          |
| deviated (after-hypothesis out of tolerance)                 | fail          |
| steady_states.before.steady_state_met false (chaos exit 0!)  | fail          |
| any steady_states.during sample not met (probes named)       | fail          |
| steady_states.after not met (probes named)                   | fail          |
| a method activity with status failed (chaos exit 0!)         | fail          |
| a rollback with status failed                                | fail          |
| a criterion evaluated false (with the metric's reason)       | fail          |
| recorded block: evidence verdict fail                        | fail          |
| no evidence block, unsupported version                       | inconclusive  |
| the evidence computation failed (block `error`)              | inconclusive  |
| ANY metric value null (under a criterion or not)             | inconclusive  |
| a criterion not evaluable, no criteria declared              | inconclusive  |
| method completed but ran fewer activities than declared      | inconclusive  |
| recorded block: evidence verdict inconclusive, a recorded    | inconclusive  |
| criterion disagreeing with its re-evaluation                 |               |
| none of the above                                            | pass          |

Fail wins over inconclusive, except after an interrupt: the operator stopped the run, so what did not
finish is not the system's failure; the other findings stay listed as reasons. Pass needs positive
evidence.

Two ways to call it. The CLI and the report judge a finished journal with the block recorded in it
(`verdict(journal)`): the block's own verdict and criteria are checked as well ("recorded block" rows).
The control judges while it writes the block (`verdict(journal, evidence=block)`): chaoslib 1.44 calls
the after-experiment control after the rollbacks, with the status set and `end` written, but the block
is not in the journal yet and the control may still mark a SIGTERM-ended run `interrupted` (it judges
again with the `interrupt` then). So there the block passed in is judged, the "recorded block" rows do
not apply (it is the record), and a journal without a status yet (judged before chaoslib finished) is
inconclusive ("not finished when judged"), not a fail.

`scaleproof verdict JOURNAL...` exit codes: 0 all pass, 1 any fail, 2 any inconclusive and none fail,
3 any journal unreadable (wins over the others: the set is incomplete), 4 usage error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import click

from scaleproof import criteria as criteria_module
from scaleproof.command import Usage4Command
from scaleproof.contract import Interrupt, Outcome
from scaleproof.criteria import CriterionResult
from scaleproof.journal import (
    EVIDENCE_VERSION,
    JournalError,
    declared_criteria,
    display_path,
    expand_journal_paths,
    experiment_kind,
    find_evidence,
    load_journal,
)

__all__ = [
    "EXIT_FAIL",
    "EXIT_INCONCLUSIVE",
    "EXIT_PASS",
    "EXIT_UNREADABLE",
    "EXIT_USAGE",
    "Outcome",
    "Verdict",
    "chaos_exit_code",
    "evaluate_criteria",
    "interrupt_reason",
    "interruption",
    "recorded_verdict",
    "verdict",
    "verdict_command",
]

logger = logging.getLogger(__name__)

# the outcomes are the evidence contract's (`contract.Outcome`): one list, written and read

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_INCONCLUSIVE = 2
EXIT_UNREADABLE = 3
EXIT_USAGE = 4


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reasons: tuple[str, ...] = field(default_factory=tuple)
    # criteria as evaluated by this module (expr, metric, op, threshold, value, unit, passed)
    criteria: tuple[CriterionResult, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reasons": list(self.reasons), "criteria": list(self.criteria)}


def chaos_exit_code(journal: Mapping[str, Any]) -> int:
    """The exit code `chaos run` gave this journal (chaostoolkit 1.19 `commands/run.py`)."""
    return 0 if journal.get("status") == "completed" and not journal.get("deviated") else 1


# ---------------------------------------------------------------------------------------------- criteria
def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


def evaluate_criteria(criteria: Sequence[str], metrics: Mapping[str, Any]) -> list[CriterionResult]:
    """Evaluate criterion strings against evidence metrics with `scaleproof.criteria.evaluate`, the one
    implementation the evidence control uses too (looked up at call time, so tests can replace it)."""
    results = criteria_module.evaluate(list(criteria), metrics)
    out: list[CriterionResult] = []
    for r in results:
        c: CriterionResult = {
            "expr": _get(r, "expr"),
            "metric": _get(r, "metric"),
            "op": _get(r, "op"),
            "threshold": _get(r, "threshold"),
            "value": _get(r, "value"),
            "unit": _get(r, "unit"),
            "passed": None if _get(r, "passed") is None else bool(_get(r, "passed")),
        }
        if _get(r, "reason"):
            c["reason"] = _get(r, "reason")
        out.append(c)
    return out


# ---------------------------------------------------------------------------------------------- verdict
def _activity_name(record: Mapping[str, Any]) -> str:
    act = record.get("activity") or {}
    return str(act.get("name") or act.get("provider", {}).get("func") or "<unnamed activity>")


def _last_exception_line(record: Mapping[str, Any]) -> str:
    lines = [ln.strip() for ln in record.get("exception") or [] if str(ln).strip()]
    return lines[-1] if lines else "no exception recorded"


def _hypothesis_breaches(state: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(probe name, what went wrong) for each probe that raised or was out of tolerance."""
    out = []
    for probe in state.get("probes") or []:
        if probe.get("status") == "failed":
            out.append((_activity_name(probe), f"raised ({_last_exception_line(probe)})"))
        elif probe.get("tolerance_met") is False:
            out.append(
                (_activity_name(probe), f"out of tolerance (output {json.dumps(probe.get('output'))})")
            )
    return out


def _describe(breaches: list[tuple[str, str]]) -> str:
    return "; ".join(f"{name} {what}" for name, what in breaches) or "no probe detail"


def interruption(signals: Sequence[Mapping[str, Any]]) -> Interrupt | None:
    """The evidence block's `interrupt` record from the signals received (None when none was):
    the first signal decides the phase; later ones are kept (a second Ctrl-C during rollbacks)."""
    if not signals:
        return None
    first = signals[0]
    return {
        "signal": first.get("signal"),
        "t": first.get("t"),
        "phase": first.get("phase") or "unknown phase",
        "signals": [dict(s) for s in signals],
    }


def interrupt_reason(interrupt: Mapping[str, Any] | None, journal: Mapping[str, Any]) -> str | None:
    """One sentence naming the signal and the phase, with what the rollbacks did; None when no signal
    was recorded (an `interrupted` status without one came from a control or a probe: a failure)."""
    if not interrupt:
        return None
    rollbacks = journal.get("rollbacks") or []
    declared = len((journal.get("experiment") or {}).get("rollbacks") or []) or len(rollbacks)
    failed_rb = [_activity_name(r) for r in rollbacks if r.get("status") == "failed"]
    if failed_rb:
        restored = f"rollback(s) {', '.join(failed_rb)} FAILED: run `scaleproof recover`"
    elif not rollbacks:
        restored = "no rollback played: run `scaleproof recover`"
    elif len(rollbacks) < declared:
        restored = f"only {len(rollbacks)} of {declared} rollbacks played: run `scaleproof recover`"
    else:
        restored = f"all {declared} rollbacks played"
    extra = len(interrupt.get("signals") or []) - 1
    return (
        f"interrupted by {interrupt.get('signal')} during {interrupt.get('phase')}"
        + (f" (and {extra} more signal(s))" if extra > 0 else "")
        + f" — the operator stopped the run, not a failure of the system; {restored}"
    )


Findings = tuple[list[str], list[str]]  # (fail reasons, inconclusive reasons)


def _status_findings(journal: Mapping[str, Any], interrupted: str | None, in_progress: bool) -> Findings:
    """The journal's status; an interrupt with a recorded signal is judged by the caller."""
    status = journal.get("status")
    if status == "interrupted" and interrupted is None:
        return [
            "run interrupted without a recorded signal (a control or a probe raised "
            "InterruptExecution): the method did not finish; check the cluster (`scaleproof recover`)"
        ], []
    if status == "interrupted":
        return [], []  # inconclusive with the signal and the phase
    if status in ("failed", "aborted"):
        return [f"journal status is {status}"], []
    if status is None and in_progress:
        # chaoslib 1.44 sets the final status before the after-experiment control; a journal
        # without one was judged before the run ended: what is missing is not yet a failure
        return [], ["journal not finished when judged (no status yet)"]
    if status != "completed":
        return [f"journal has no final status ({status!r}): the run never finished"], []
    return [], []


def _hypothesis_findings(journal: Mapping[str, Any]) -> tuple[list[str], bool]:
    """Gate, continuous and after hypotheses, naming the probes that breached; also: did the gate fail."""
    fails: list[str] = []
    if journal.get("deviated"):
        fails.append("deviated: the steady-state hypothesis after the method was not met")
    steady = journal.get("steady_states") or {}
    before = steady.get("before")
    gate_failed = before is not None and before.get("steady_state_met") is False
    if before is not None and gate_failed:
        fails.append(
            "steady state not met BEFORE the method, so no fault was injected (chaos run exits 0 "
            f"here): {_describe(_hypothesis_breaches(before))}"
        )
    during = steady.get("during") or []
    breached = [s for s in during if s and s.get("steady_state_met") is False]
    if breached:
        probes = sorted({name for s in breached for name, _ in _hypothesis_breaches(s)})
        fails.append(
            f"steady state breached during the method in {len(breached)} of {len(during)} samples "
            f"(not reflected in `deviated`): {', '.join(probes) or 'no probe detail'}"
        )
    after = steady.get("after")
    if after is not None and after.get("steady_state_met") is False and not journal.get("deviated"):
        fails.append("steady state not met after the method: " + _describe(_hypothesis_breaches(after)))
    return fails, gate_failed


def _activity_findings(journal: Mapping[str, Any], gate_failed: bool) -> Findings:
    """Failed method activities and rollbacks; a completed method that ran fewer steps than declared."""
    fails: list[str] = []
    unsure: list[str] = []
    runs = journal.get("run") or []
    for rec in runs:
        if rec.get("status") == "failed":
            fails.append(
                f"method activity '{_activity_name(rec)}' failed (chaos run still exits 0): "
                f"{_last_exception_line(rec)}"
            )
    declared = [a for a in (journal.get("experiment") or {}).get("method") or [] if isinstance(a, dict)]
    if journal.get("status") == "completed" and not gate_failed and len(runs) < len(declared):
        unsure.append(f"method ran {len(runs)} of {len(declared)} declared activities")
    for rec in journal.get("rollbacks") or []:
        if rec.get("status") == "failed":
            fails.append(
                f"rollback '{_activity_name(rec)}' failed: {_last_exception_line(rec)}; "
                "the cluster may not be back to its initial state"
            )
    return fails, unsure


def _judged_criteria(
    journal: Mapping[str, Any], evidence: Mapping[str, Any], in_progress: bool
) -> list[CriterionResult]:
    """Every criterion, recorded or declared. The block being written carries its criteria as the
    builder judged them (`scaleproof.builders.build`, once): they are read, and only a declared one
    missing from it is evaluated. A finished journal's are re-evaluated against its metrics, to be
    checked against the record (`_recorded_findings`)."""
    metrics = evidence.get("metrics") or {}
    recorded = [c for c in evidence.get("criteria") or [] if c.get("expr")]
    exprs = [str(c.get("expr")) for c in recorded]
    missing = [e for e in declared_criteria(journal, evidence) if e not in exprs]
    if in_progress:
        return [*recorded, *evaluate_criteria(missing, metrics)]  # type: ignore[list-item]
    return evaluate_criteria(exprs + missing, metrics)


def _criteria_findings(
    journal: Mapping[str, Any], evidence: Mapping[str, Any], in_progress: bool = False
) -> tuple[list[str], list[str], list[CriterionResult]]:
    """Null metrics, and every criterion (recorded or declared) judged against the block's metrics."""
    fails: list[str] = []
    unsure: list[str] = []
    metrics = evidence.get("metrics") or {}
    for name in sorted(metrics):
        if metrics[name].get("value") is None:
            why = metrics[name].get("reason") or "no reason recorded"
            unsure.append(f"metric {name} could not be computed: {why}")
    evaluated = _judged_criteria(journal, evidence, in_progress)
    if not evaluated:
        unsure.append("no criteria declared in the experiment: nothing to prove")
    for c in evaluated:
        if c.get("passed") is None:
            unsure.append(
                f"criterion `{c['expr']}` could not be evaluated: {c.get('reason') or 'value missing'}"
            )
        elif not c["passed"]:
            # a metric's reason on a value (e.g. the remedy for a shard placement) says why
            why = (metrics.get(str(c.get("metric"))) or {}).get("reason")
            fails.append(
                f"criterion `{c['expr']}` not met: value {c.get('value')}"
                + (f" {c['unit']}" if c.get("unit") else "")
                + (f" ({why})" if why else "")
            )
    return fails, unsure, evaluated


def _recorded_findings(evidence: Mapping[str, Any], evaluated: Sequence[CriterionResult]) -> Findings:
    """What the control recorded in the journal's block, checked against this judgement."""
    fails: list[str] = []
    unsure: list[str] = []
    recorded = {c.get("expr"): c for c in evidence.get("criteria") or []}
    for c in evaluated:
        rec_c = recorded.get(c["expr"])
        if rec_c is not None and rec_c.get("passed") is not None and c.get("passed") is not None:
            if bool(rec_c["passed"]) != c["passed"]:
                unsure.append(
                    f"criterion `{c['expr']}`: recorded passed={rec_c['passed']} disagrees with "
                    f"re-evaluation passed={c['passed']}"
                )
    recorded_verdict = evidence.get("verdict")
    own = [str(r) for r in evidence.get("verdict_reasons") or []]
    if recorded_verdict == "fail":
        fails.append("evidence control recorded verdict fail" + (": " + "; ".join(own) if own else ""))
    elif recorded_verdict == "inconclusive":
        detail = ": " + "; ".join(own) if own else ""
        unsure.append("evidence control recorded verdict inconclusive" + detail)
    elif recorded_verdict != "pass":
        unsure.append(f"evidence block has no valid verdict ({recorded_verdict!r})")
    return fails, unsure


def _evidence_findings(
    journal: Mapping[str, Any], evidence: Mapping[str, Any] | None, in_progress: bool
) -> tuple[list[str], list[str], list[CriterionResult]]:
    if evidence is None:
        return [], ["no scaleproof evidence block in the journal's extensions: nothing was measured"], []
    if evidence.get("version") != EVIDENCE_VERSION:
        version = evidence.get("version")
        return (
            [],
            [
                f"unsupported evidence block version {version!r} "
                f"(this report reads version {EVIDENCE_VERSION})"
            ],
            [],
        )
    fails: list[str] = []
    unsure = [f"evidence computation failed: {evidence['error']}"] if evidence.get("error") else []
    more_fails, more_unsure, evaluated = _criteria_findings(journal, evidence, in_progress)
    fails += more_fails
    unsure += more_unsure
    if not in_progress:
        more_fails, more_unsure = _recorded_findings(evidence, evaluated)
        fails += more_fails
        unsure += more_unsure
    return fails, unsure, evaluated


def verdict(journal: Mapping[str, Any], *, evidence: Mapping[str, Any] | None = None) -> Verdict:
    """Pass/fail/inconclusive for one journal, with every reason that led there.

    Without `evidence`: the finished journal, judged with the block recorded in it (the CLI, the
    report), the block's own verdict and criteria checked too. With `evidence`: the block the control
    is writing, not in the journal yet, judged on its metrics, criteria and `interrupt` alone."""
    in_progress = evidence is not None
    block: Mapping[str, Any] | None = evidence if evidence is not None else find_evidence(journal)
    interrupted = interrupt_reason((block or {}).get("interrupt"), journal)
    status_fails, status_unsure = _status_findings(journal, interrupted, in_progress)
    hypothesis_fails, gate_failed = _hypothesis_findings(journal)
    activity_fails, activity_unsure = _activity_findings(journal, gate_failed)
    evidence_fails, evidence_unsure, evaluated = _evidence_findings(journal, block, in_progress)
    fails = status_fails + hypothesis_fails + activity_fails + evidence_fails
    unsure = activity_unsure + evidence_unsure + status_unsure
    if interrupted is not None:
        return Verdict("inconclusive", (interrupted, *fails, *unsure), tuple(evaluated))
    if fails:
        return Verdict("fail", tuple(fails + unsure), tuple(evaluated))
    if unsure:
        return Verdict("inconclusive", tuple(unsure), tuple(evaluated))
    n = len(evaluated)
    return Verdict(
        "pass", (f"completed, steady state held before/during/after, all {n} criteria met",), tuple(evaluated)
    )


def recorded_verdict(journal: Mapping[str, Any]) -> Verdict | None:
    """The verdict the evidence control recorded in the journal's block (outcome, reasons, and the
    criteria as the builder judged them): what the report reads instead of judging again. None when
    there is none to read (no block, another version, no valid outcome): judge with `verdict()`."""
    block = find_evidence(journal)
    if not block or block.get("version") != EVIDENCE_VERSION or block.get("verdict") not in get_args(Outcome):
        return None
    reasons = tuple(str(r) for r in block.get("verdict_reasons") or [])
    return Verdict(block["verdict"], reasons, tuple(block.get("criteria") or []))


# ---------------------------------------------------------------------------------------------- command
def overall_exit_code(outcomes: Sequence[str]) -> int:
    """3 if any unreadable, else 1 if any fail, else 2 if any inconclusive, else 0 (also for none)."""
    if "unreadable" in outcomes:
        return EXIT_UNREADABLE
    if "fail" in outcomes:
        return EXIT_FAIL
    if "inconclusive" in outcomes:
        return EXIT_INCONCLUSIVE
    return EXIT_PASS


@click.command("verdict", cls=Usage4Command)
@click.argument("journals", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line instead of text.")
@click.option("--quiet", "-q", is_flag=True, help="Only the outcome line, no reasons.")
def verdict_command(journals: tuple[str, ...], as_json: bool, quiet: bool) -> int:
    """Judge each JOURNAL (file, or directory of journals) honestly, whatever `chaos run` exited with.

    Prints one line per journal: OUTCOME, path, experiment kind, reasons.
    Exit codes: 0 all pass; 1 any fail; 2 any inconclusive and none fail; 3 any journal unreadable
    (wins over the others); 4 usage error.
    """
    outcomes: list[str] = []
    for path in expand_journal_paths(journals) or [Path(j) for j in journals]:
        shown = display_path(path)
        try:
            journal = load_journal(path)
        except JournalError as exc:
            outcomes.append("unreadable")
            if as_json:
                click.echo(json.dumps({"journal": shown, "outcome": "unreadable", "reasons": [exc.problem]}))
            else:
                click.echo(f"UNREADABLE    {shown}: {exc.problem}")
            continue
        v = verdict(journal)
        outcomes.append(v.outcome)
        kind = experiment_kind(journal)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "journal": shown,
                        "kind": kind,
                        "outcome": v.outcome,
                        "chaos_exit_code": chaos_exit_code(journal),
                        "reasons": list(v.reasons),
                    },
                    sort_keys=True,
                )
            )
        elif quiet:
            click.echo(f"{v.outcome.upper():<13} {shown} [{kind}]")
        else:
            click.echo(f"{v.outcome.upper():<13} {shown} [{kind}] " + " | ".join(v.reasons))
    return overall_exit_code(outcomes)
