"""scaleproof.criteria: parsing and evaluation of decision criteria."""

from __future__ import annotations

import math

import pytest

from scaleproof import criteria

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("expr", "value", "passed"),
    [
        ("mttr_p95_s <= 10", 10, True),
        ("mttr_p95_s <= 10", 10.001, False),
        ("mttr_p95_s < 10", 10, False),
        ("max_ready_replicas >= 3", 3, True),
        ("max_ready_replicas > 3", 3, False),
        ("documents_total == 100", 100, True),
        ("documents_total == 100", 99, False),
        ("error_rate <= 0.01", 0.1 * 0.1, True),  # float equality at the boundary
        ("failed_requests_per_kill_max <= 0", 0, True),
        ("x != 1", 2, True),
        ("  a.b   >=   -1.5e0 ", -1, True),
    ],
)
def test_operators(expr, value, passed):
    name = expr.split()[0]
    (r,) = criteria.evaluate([expr], {name: {"value": value, "unit": "s"}})
    assert r["passed"] is passed and r["value"] == value and r["unit"] == "s"


def test_bare_number_metrics_and_mapping_criteria():
    res = criteria.evaluate({"kills": ">= 10"}, {"kills": 12})
    assert res[0]["expr"] == "kills >= 10" and res[0]["passed"] is True


@pytest.mark.parametrize(
    "expr", ["mttr <= ", "<= 10", "mttr => 10", "mttr <= ten", "mttr <= 1 2", "", "mttr <= inf"]
)
def test_unparseable_is_not_evaluable_with_reason(expr):
    (r,) = criteria.evaluate([expr], {"mttr": {"value": 1}})
    assert r["passed"] is None and r["reason"]
    with pytest.raises(ValueError):
        criteria.parse(expr)


def test_missing_null_bool_nan_values_are_not_evaluable():
    metrics = {
        "a": {"value": None, "reason": "2 kills unrecovered"},
        "b": {"value": True},
        "c": {"value": math.nan},
        "d": {"value": "3"},
    }
    res = criteria.evaluate(["a <= 1", "b >= 1", "c <= 1", "d >= 1", "e >= 1"], metrics)
    assert [r["passed"] for r in res] == [None] * 5
    assert "2 kills unrecovered" in res[0]["reason"]
    assert "not recorded" in res[4]["reason"]


def test_non_string_criterion_does_not_crash():
    (r,) = criteria.evaluate([42], {})  # type: ignore[list-item]
    assert r["passed"] is None


def test_outcome():
    ok = {"passed": True}
    assert criteria.outcome([ok, ok]) == "pass"
    assert criteria.outcome([ok, {"passed": None}]) == "inconclusive"
    assert criteria.outcome([{"passed": None}, {"passed": False}]) == "fail"
    assert criteria.outcome([]) == "inconclusive"


def test_report_verdict_uses_this_implementation():
    from scaleproof import verdict

    res = verdict.evaluate_criteria(
        ["mttr_p95_s <= 10", "kills >= 10"],
        {"mttr_p95_s": {"value": 4.0, "unit": "s"}, "kills": {"value": 9}},
    )
    assert [c["passed"] for c in res] == [True, False]
