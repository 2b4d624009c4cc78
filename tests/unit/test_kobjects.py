"""scaleproof.kobjects: readings of Kubernetes objects (quantities, HPA targets, owners)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from scaleproof import kobjects

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("quantity", "value"),
    [
        ("1500u", 0.0015),
        ("500m", 0.5),
        ("2Ki", 2048.0),
        ("1.5Gi", 1.5 * 1024**3),
        ("2Ti", 2.0 * 1024**4),
        ("250m", 0.25),
        ("100n", 1e-7),
        ("1e3", 1000.0),
        ("7", 7.0),
    ],
)
def test_quantities_are_parsed_as_kubernetes_does(quantity, value):
    assert kobjects.quantity(quantity) == pytest.approx(value)


def test_malformed_quantity_is_none():
    assert kobjects.quantity("ten") is None and kobjects.quantity("") is None


def test_hpa_over_target_with_micro_units():
    hpa = {
        "spec": {
            "metrics": [
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"averageValue": "1m"}}}
            ]
        },
        "status": {
            "currentMetrics": [
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": "1500u"}}}
            ]
        },
    }
    assert kobjects.hpa_over_target(hpa) is True


def _pods_metric_hpa(target: str, current: str) -> dict[str, Any]:
    return {
        "spec": {
            "metrics": [
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "target": {"averageValue": target}}}
            ]
        },
        "status": {
            "currentMetrics": [
                {"type": "Pods", "pods": {"metric": {"name": "rps"}, "current": {"averageValue": current}}}
            ]
        },
    }


@pytest.mark.parametrize(
    ("target", "above", "below"),
    [
        ("1500u", "2m", "1m"),
        ("250m", "300m", "200m"),
        ("1Ki", "1025", "1k"),
        ("2Ti", "3Ti", "2T"),
        ("100n", "101n", "99n"),
    ],
)
def test_hpa_targets_in_every_quantity_suffix_are_compared(target, above, below):
    # a target the parser cannot read would leave the metric phase "never observed"
    assert kobjects.quantity(target) is not None
    assert kobjects.hpa_over_target(_pods_metric_hpa(target, above)) is True
    assert kobjects.hpa_over_target(_pods_metric_hpa(target, below)) is False


def test_controller_ref_prefers_the_controlling_owner():
    rs = {"uid": "rs-1", "kind": "ReplicaSet", "controller": True}
    other = {"uid": "x", "kind": "ConfigMap"}
    assert kobjects.controller_ref({"metadata": {"ownerReferences": [other, rs]}}) == rs
    assert kobjects.controller_ref({"metadata": {"ownerReferences": [other]}}) == other
    assert kobjects.controller_ref({"metadata": {}}) == {} and kobjects.controller_ref({}) == {}


def test_whole_seconds_is_empty_for_the_objects_own_value_else_digits_only() -> None:
    assert [kobjects.whole_seconds(v) for v in (None, "", " ", "default", "0", " 30 ", 10)] == [
        None, None, None, None, 0, 30, 10,
    ]  # fmt: skip
    for bad in ("-5", "+5", "1.5", "5m", "abc"):
        with pytest.raises(ValueError, match=re.escape(f"must be whole seconds ≥ 0, or empty, got '{bad}'")):
            kobjects.whole_seconds(bad)
