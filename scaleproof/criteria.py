"""Decision criteria: parse `"mttr_p95_s <= 10"` and evaluate it against evidence metrics.

Pure and dependency-free: used by the evidence control (at the end of a run) and by the report's
`scaleproof verdict` command (`scaleproof.criteria.evaluate(criteria, metrics)`), so a criterion is
judged by one implementation only.

A criterion is `<metric> <op> <number>` with op one of `<=`, `<`, `>=`, `>`, `==`, `!=`. Metric names
are identifiers (dots allowed). `metrics` maps a name to an evidence metric record
(`{"value": ..., "unit": ..., ...}`) or to a bare number. The result of each criterion has
`passed: True | False | None`; None means "not evaluable" (unparseable expression, metric missing,
value null or not a number) and always comes with a `reason`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypedDict

from scaleproof.contract import Criterion

__all__ = ["CriterionResult", "OPS", "ParsedCriterion", "evaluate", "outcome", "parse"]

Op = Literal["<=", "<", ">=", ">", "==", "!="]


def _close(a: float, b: float) -> bool:
    """Equal up to float noise (0.1 * 0.1 == 0.01 for a criterion)."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda a, b: a <= b or _close(a, b),
    "<": lambda a, b: a < b and not _close(a, b),
    ">=": lambda a, b: a >= b or _close(a, b),
    ">": lambda a, b: a > b and not _close(a, b),
    "==": _close,
    "!=": lambda a, b: not _close(a, b),
}

_RE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][\w.]*)\s*(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


class ParsedCriterion(TypedDict):
    expr: str
    metric: str
    op: str
    threshold: float


# the shape of a judged criterion is the evidence contract's (one shape, written and read)
CriterionResult = Criterion


def parse(expr: str) -> ParsedCriterion:
    """Parse one criterion; raises ValueError with the reason when it is not `<metric> <op> <number>`."""
    if not isinstance(expr, str):
        raise ValueError(f"criterion must be a string, got {type(expr).__name__}")
    m = _RE.match(expr)
    if not m:
        raise ValueError(
            f"cannot parse criterion {expr!r}: expected `<metric> <op> <number>` with op in " + ", ".join(OPS)
        )
    threshold = float(m.group("num"))
    if not math.isfinite(threshold):
        raise ValueError(f"criterion {expr!r}: threshold is not a finite number")
    return {"expr": expr.strip(), "metric": m.group("metric"), "op": m.group("op"), "threshold": threshold}


def _normalise(criteria: Iterable[str] | Mapping[str, str] | str | None) -> list[str]:
    if criteria is None:
        return []
    if isinstance(criteria, str):
        return [criteria]
    if isinstance(criteria, Mapping):  # {"mttr_p95_s": "<= 10"}
        return [f"{k} {v}" for k, v in criteria.items()]
    return [c if isinstance(c, str) else repr(c) for c in criteria]


def _value_of(record: Any) -> tuple[Any, str | None, str | None]:
    """(value, unit, reason-from-record) of a metric record or bare value."""
    if isinstance(record, Mapping):
        return record.get("value"), record.get("unit"), record.get("reason")
    return record, None, None


def evaluate(
    criteria: Iterable[str] | Mapping[str, str] | str | None, metrics: Mapping[str, Any]
) -> list[CriterionResult]:
    """Evaluate each criterion against `metrics`; one result per criterion, in order.

    Never raises for bad input: an unparseable criterion, a missing metric, a null/NaN/non-numeric
    value give `passed: None` with a `reason` (the verdict is then inconclusive)."""
    metrics = metrics or {}
    out: list[CriterionResult] = []
    for expr in _normalise(criteria):
        try:
            p = parse(expr)
        except ValueError as exc:
            out.append(
                {
                    "expr": expr,
                    "metric": None,
                    "op": None,
                    "threshold": None,
                    "value": None,
                    "unit": None,
                    "passed": None,
                    "reason": str(exc),
                }
            )
            continue
        res: CriterionResult = {
            "expr": p["expr"],
            "metric": p["metric"],
            "op": p["op"],
            "threshold": p["threshold"],
            "value": None,
            "unit": None,
            "passed": None,
        }
        if p["metric"] not in metrics:
            res["reason"] = f"metric {p['metric']} was not recorded"
            out.append(res)
            continue
        value, unit, why = _value_of(metrics[p["metric"]])
        res["unit"] = unit
        if value is None:
            res["reason"] = f"metric {p['metric']} has no value" + (f" ({why})" if why else "")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            res["reason"] = f"metric {p['metric']} is not a number: {value!r}"
        elif not math.isfinite(float(value)):
            res["value"] = None
            res["reason"] = f"metric {p['metric']} is not finite: {value!r}"
        else:
            res["value"] = value
            res["passed"] = bool(OPS[p["op"]](float(value), p["threshold"]))
        out.append(res)
    return out


def outcome(results: Iterable[CriterionResult]) -> Literal["pass", "fail", "inconclusive"]:
    """Criteria alone: fail if any is false, inconclusive if any is not evaluable or there are none."""
    results = list(results)
    if any(r.get("passed") is False for r in results):
        return "fail"
    if not results or any(r.get("passed") is None for r in results):
        return "inconclusive"
    return "pass"
