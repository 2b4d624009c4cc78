"""The honest verdict of one run: pass, fail or inconclusive, with the reasons, read from its journal.

`chaos run` exits 0 when the steady-state gate failed before the method (the fault was never injected)
and when a method action raised `ActivityFailed`; it ignores breaches during the method
(`steady_states.during`). See /work/shared/reference/chaos-tools-notes.md §1.7–1.9. This module looks at
everything instead:

| journal                                                      | verdict       |
| ------------------------------------------------------------ | ------------- |
| a SIGINT/SIGTERM recorded in the evidence block's `interrupt` | inconclusive  |
| (whatever the status: chaoslib says `completed` on SIGTERM)  | (signal+phase)|
| status interrupted without a recorded signal, failed, aborted| fail          |
| deviated (after-hypothesis out of tolerance)                 | fail          |
| steady_states.before.steady_state_met false (chaos exit 0!)  | fail          |
| any steady_states.during sample not met                      | fail          |
| steady_states.after not met                                  | fail          |
| a method activity with status failed (chaos exit 0!)         | fail          |
| a rollback with status failed                                | fail          |
| a criterion evaluated false / evidence verdict fail          | fail          |
| no evidence block, unsupported version                       | inconclusive  |
| a metric value null, a criterion not evaluable               | inconclusive  |
| no criteria declared, evidence verdict inconclusive          | inconclusive  |
| method ran fewer activities than declared                    | inconclusive  |
| none of the above                                            | pass          |

Fail wins over inconclusive, except after an interrupt: the operator stopped the run, so what did not
finish is not the system's failure; the other findings stay listed as reasons. Pass needs positive
evidence.

`scaleproof verdict JOURNAL...` exit codes: 0 all pass, 1 any fail, 2 any inconclusive and none fail,
3 any journal unreadable (wins over the others: the set is incomplete), 4 usage error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import click

from scaleproof import criteria as criteria_module
from scaleproof.criteria import CriterionResult
from scaleproof.report.journal import (
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
    "verdict",
    "verdict_command",
]

logger = logging.getLogger(__name__)

Outcome = Literal["pass", "fail", "inconclusive"]

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


def interruption(signals: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
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


def verdict(journal: Mapping[str, Any]) -> Verdict:
    """Pass/fail/inconclusive for one (validated) journal, with every reason that led there."""
    fails: list[str] = []
    unsure: list[str] = []

    status = journal.get("status")
    evidence_block: Mapping[str, Any] = dict(find_evidence(journal) or {})
    interrupted = interrupt_reason(evidence_block.get("interrupt"), journal)
    if status == "interrupted" and interrupted is None:
        fails.append(
            "run interrupted without a recorded signal (a control or a probe raised "
            "InterruptExecution): the method did not finish; check the cluster (`scaleproof recover`)"
        )
    elif status == "interrupted":
        pass  # judged below: inconclusive with the signal and the phase
    elif status in ("failed", "aborted"):
        fails.append(f"journal status is {status}")
    elif status != "completed":
        fails.append(f"journal has no final status ({status!r}): the run never finished")

    if journal.get("deviated"):
        fails.append("deviated: the steady-state hypothesis after the method was not met")

    steady = journal.get("steady_states") or {}
    before = steady.get("before")
    gate_failed = False
    if before is not None and before.get("steady_state_met") is False:
        gate_failed = True
        detail = _describe(_hypothesis_breaches(before))
        fails.append(
            "steady state not met BEFORE the method, so no fault was injected (chaos run exits 0 "
            f"here): {detail}"
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

    runs = journal.get("run") or []
    for rec in runs:
        if rec.get("status") == "failed":
            fails.append(
                f"method activity '{_activity_name(rec)}' failed (chaos run still exits 0): "
                f"{_last_exception_line(rec)}"
            )
    declared = [a for a in (journal.get("experiment") or {}).get("method") or [] if isinstance(a, dict)]
    if status == "completed" and not gate_failed and len(runs) < len(declared):
        unsure.append(f"method ran {len(runs)} of {len(declared)} declared activities")

    for rec in journal.get("rollbacks") or []:
        if rec.get("status") == "failed":
            fails.append(
                f"rollback '{_activity_name(rec)}' failed: {_last_exception_line(rec)}; "
                "the cluster may not be back to its initial state"
            )

    evaluated: list[CriterionResult] = []
    evidence = find_evidence(journal)
    if evidence is None:
        unsure.append("no scaleproof evidence block in the journal's extensions: nothing was measured")
    elif evidence.get("version") != EVIDENCE_VERSION:
        unsure.append(
            f"unsupported evidence block version {evidence.get('version')!r} "
            f"(this report reads version {EVIDENCE_VERSION})"
        )
    else:
        metrics = evidence.get("metrics") or {}
        for name in sorted(metrics):
            m = metrics[name]
            if m.get("value") is None:
                unsure.append(
                    f"metric {name} could not be computed: {m.get('reason') or 'no reason recorded'}"
                )
        exprs = [c.get("expr") for c in evidence.get("criteria") or [] if c.get("expr")]
        for expr in declared_criteria(journal):
            if expr not in exprs:
                exprs.append(expr)
        if not exprs:
            unsure.append("no criteria declared in the experiment: nothing to prove")
        evaluated = evaluate_criteria([str(e) for e in exprs], metrics)
        recorded = {c.get("expr"): c for c in evidence.get("criteria") or []}
        for c in evaluated:
            if c.get("passed") is None:
                unsure.append(
                    f"criterion `{c['expr']}` could not be evaluated: {c.get('reason') or 'value missing'}"
                )  # type: ignore[typeddict-item]
            elif not c["passed"]:
                fails.append(
                    f"criterion `{c['expr']}` not met: value {c.get('value')}"
                    + (f" {c['unit']}" if c.get("unit") else "")
                )  # type: ignore[typeddict-item]
            rec_c = recorded.get(c["expr"])
            if (
                rec_c is not None
                and rec_c.get("passed") is not None
                and c.get("passed") is not None
                and bool(rec_c["passed"]) != c["passed"]
            ):
                unsure.append(
                    f"criterion `{c['expr']}`: recorded passed={rec_c['passed']} disagrees with "
                    f"re-evaluation passed={c['passed']}"
                )
        recorded_verdict = evidence.get("verdict")
        own = [str(r) for r in evidence.get("verdict_reasons") or []]
        if recorded_verdict == "fail":
            fails.append("evidence control recorded verdict fail" + (": " + "; ".join(own) if own else ""))
        elif recorded_verdict == "inconclusive":
            unsure.append(
                "evidence control recorded verdict inconclusive" + (": " + "; ".join(own) if own else "")
            )
        elif recorded_verdict != "pass":
            unsure.append(f"evidence block has no valid verdict ({recorded_verdict!r})")

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


# ---------------------------------------------------------------------------------------------- command
class _VerdictCommand(click.Command):
    """Click exits 2 on usage errors, which would read as "inconclusive": use 4 instead. The command's
    return value is its exit code, both standalone and as a `scaleproof` subcommand."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = EXIT_USAGE  # type: ignore[misc]
            raise

    def invoke(self, ctx: click.Context) -> Any:
        rv = super().invoke(ctx)
        if isinstance(rv, int):
            ctx.exit(rv)
        return rv


def overall_exit_code(outcomes: Sequence[str]) -> int:
    """3 if any unreadable, else 1 if any fail, else 2 if any inconclusive, else 0 (also for none)."""
    if "unreadable" in outcomes:
        return EXIT_UNREADABLE
    if "fail" in outcomes:
        return EXIT_FAIL
    if "inconclusive" in outcomes:
        return EXIT_INCONCLUSIVE
    return EXIT_PASS


@click.command("verdict", cls=_VerdictCommand)
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
