"""The node-drain and node-loss builders: figures from a Recording alone, every criterion of their
experiments evaluable, and the report sections that print their timelines."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaleproof import builders
from scaleproof.builders import Recording
from scaleproof.report.kinds import TIMELINE_SECTIONS
from tests.unit.test_nodetimeline import drain_log, load, node_loss_log

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def declared(kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The experiment's scaleproof extension with its criteria filled from the configuration defaults."""
    exp = yaml.safe_load((ROOT / "experiments" / f"{kind}.yaml").read_text())
    defaults = {k: e["default"] for k, e in exp["configuration"].items()}
    (ext,) = [e for e in exp["extensions"] if e["name"] == "scaleproof"]
    crit = [string.Template(c).substitute({k: str(v) for k, v in defaults.items()}) for c in ext["criteria"]]
    return {**ext, "criteria": crit}, defaults


def test_node_loss_builder_and_its_criteria():
    ext, cfg = declared("node-loss")
    rec = Recording("node-loss", ext, cfg, node_loss_log(), load(995, 1060, {1001, 1010, 1042}))
    figures, results = builders.build(rec)
    m = {k: v["value"] for k, v in figures["metrics"].items()}
    assert m["node_loss_mttr_s"] == pytest.approx(54.6) and m["node_loss_unrecovered"] == 0
    assert m["node_loss_phase_gap_s"] == 0 and m["grace_observed_s"] == 42.0 and m["toleration_seconds"] == 10
    assert m["node_monitor_grace_period_s"] == 50 and m["node_loss_failure_window_s"] == 42.0
    assert m["failed_requests"] == 9
    assert all(r["passed"] is True for r in results), results  # every criterion names a metric it writes
    text = "\n".join(TIMELINE_SECTIONS["node_loss"](None, figures["timelines"]["node_loss"], {}))  # type: ignore[arg-type]
    assert "### Node `w1` lost" in text and "pods_evicted" in text and "**54.6**" in text
    assert "tolerationSeconds 10" in text


def test_node_loss_without_a_recovery_fails_its_criteria_with_reasons():
    ext, cfg = declared("node-loss")
    figures, results = builders.build(Recording("node-loss", ext, cfg, node_loss_log(replaced=False), []))
    by = {r["expr"].split()[0]: r for r in results}
    assert by["node_loss_unrecovered"]["passed"] is False
    assert (
        by["node_loss_mttr_s"]["passed"] is None
        and "replacements_created" in by["node_loss_mttr_s"]["reason"]
    )
    assert "Not recovered" in "\n".join(
        TIMELINE_SECTIONS["node_loss"](None, figures["timelines"]["node_loss"], {})
    )  # type: ignore[arg-type]


def test_node_drain_builder_and_its_criteria(tmp_path):
    ext, cfg = declared("node-drain")
    events, lo = drain_log(tmp_path)
    figures, results = builders.build(Recording("node-drain", ext, cfg, events, lo))
    m = {k: v["value"] for k, v in figures["metrics"].items()}
    assert (m["drain_blocked"], m["target_pods_left_on_node"], m["ready_below_budget"]) == (0, 0, 0)
    assert m["evicted_target_pods"] == 2 and m["evicted_pods_unrecovered"] == 0
    assert m["pod_recovery_max_s"] == pytest.approx(1.6) and m["budget_refusals"] == 2
    failed = [r["expr"] for r in results if r["passed"] is not True]
    assert failed == ["failed_requests <= 0"]  # 3 requests failed in the synthetic load: the budget is 0
    text = "\n".join(TIMELINE_SECTIONS["drain"](None, figures["timelines"]["drain"], {}))  # type: ignore[arg-type]
    assert "### Drain of node `w1`" in text and "`searchapp`" in text and "| `a` | `a2` | w3 |" in text


def test_undeclared_runs_detect_the_node_kinds(tmp_path):
    found = builders.builders_for(Recording("my-own", {}, {}, node_loss_log(), []))
    assert [b.kind for b in found] == ["node-loss"]
    events, _ = drain_log(tmp_path)
    assert "node-drain" in [b.kind for b in builders.builders_for(Recording("my-own", {}, {}, events, []))]
