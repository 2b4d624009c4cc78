"""Golden figures: recorded real runs → the exact figures the evidence code gives for them.

The repository keeps no events.jsonl of a committed journal (journals/evidence/*.json: their run
directories were not committed). What it keeps:
- tests/fixtures/events/pod-kill-events.jsonl, the full event log of a real 10-eviction pod-kill run
  (2026-12-01 22:33 UTC, the e2e run as chaos-runner; no committed journal belongs to it): its
  figures are pinned here, and kill 1 is re-derived by hand from the raw lines;
- the committed journals' recorded per-kill timelines: their MTTR figures must recompute exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scaleproof import evidence, podtimeline
from tests.fixtures import build_journals

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
EVENTS = build_journals.EVENTS

# computed from the recording when it was pinned; kill 1 is checked by hand below
MTTR_PER_KILL = [2.522, 3.037, 3.032, 3.018, 3.026, 3.043, 3.056, 3.04, 3.037, 3.053]
FIGURES = {
    "mttr_mean_s": 2.986,
    "mttr_p50_s": 3.037,
    "mttr_p95_s": 3.055,
    "mttr_max_s": 3.056,
    "kills": 10,
    "kills_unrecovered": 0,
    "min_ready_replicas": 2,
}


def _recorded_evidence(tmp_path: Path) -> dict[str, Any]:
    """build_evidence over the recording exactly as recorded (no load files: none were kept)."""
    run_dir = build_journals.pod_kill_run_dir(tmp_path / "run", "golden")
    for name in ("load_final.json", "load_stats_history.csv"):
        (run_dir / name).unlink()
    cfg = build_journals.configuration("pod-kill")
    j = build_journals.journal("pod-kill", 0.0, 100.0, 3, cfg)
    return evidence.build_evidence(j, run_dir, cfg, prometheus=False)


def test_recorded_pod_kill_run_gives_its_pinned_figures(tmp_path: Path) -> None:
    ev = _recorded_evidence(tmp_path)
    assert (tmp_path / "run" / "events.jsonl").read_bytes().count(b"\n") == EVENTS.read_bytes().count(b"\n")
    assert {k: ev["metrics"][k]["value"] for k in FIGURES} == FIGURES
    kills = ev["timelines"]["kills"]
    assert [k["mttr_s"] for k in kills] == MTTR_PER_KILL
    assert all(k["recovered"] and k["mttr_definition"] == "delete accepted → endpoints_ready" for k in kills)
    # the load files were not kept: the per-kill failures are unknown, so the run is not a pass
    assert ev["metrics"]["failed_requests_per_kill_max"]["value"] is None
    assert ev["verdict"] == "inconclusive"
    assert "criterion `failed_requests_per_kill_max <= 0` could not be evaluated" in " ".join(
        ev["verdict_reasons"]
    )


def _ready_uids(obj: dict[str, Any]) -> set[str]:
    return {
        ep["targetRef"]["uid"]
        for ep in obj.get("endpoints") or []
        if (ep.get("conditions") or {}).get("ready") in (None, True)
        and (ep.get("targetRef") or {}).get("uid")
    }


def test_kill_1_mttr_by_hand_from_the_raw_lines() -> None:
    """Delete accepted (the Kill line) → the first EndpointSlice line with as many ready endpoints as
    before, the victim out and its replacement (the first pod of its ReplicaSet added after) in."""
    lines = [json.loads(x) for x in EVENTS.read_text().splitlines() if x.strip()]
    kill = next(e for e in lines if e.get("kind") == "Kill")
    victim, owner = kill["victim"]["uid"], kill["victim"]["owner_uid"]
    replacement = next(
        e["object"]["metadata"]["uid"]
        for e in lines
        if e.get("kind") == "Pod"
        and e["type"] == "ADDED"
        and e["t"] >= kill["t_request"]
        and any(r["uid"] == owner for r in e["object"]["metadata"].get("ownerReferences") or [])
    )
    slices = [e for e in lines if e.get("kind") == "EndpointSlice"]
    before = len(_ready_uids([e for e in slices if e["t"] < kill["t_request"]][-1]["object"]))
    back = next(
        e["t"]
        for e in slices
        if e["t"] >= kill["t_request"]
        and victim not in _ready_uids(e["object"])
        and replacement in _ready_uids(e["object"])
        and len(_ready_uids(e["object"])) >= before
    )
    assert round(back - kill["t"], 3) == MTTR_PER_KILL[0]


COMMITTED_POD_KILL = sorted(REPO.glob("journals/*/pod-kill-*.json"))


@pytest.mark.parametrize("path", COMMITTED_POD_KILL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_journal_mttr_figures_recompute_from_its_recorded_timelines(path: Path) -> None:
    ev = next(e for e in json.loads(path.read_text())["extensions"] if e.get("name") == "scaleproof")
    s = podtimeline.mttr_summary(ev["timelines"]["kills"])
    recorded = {
        k: ev["metrics"][k]["value"] for k in ("mttr_mean_s", "mttr_p50_s", "mttr_p95_s", "mttr_max_s")
    }
    assert {
        "mttr_mean_s": s["mean"],
        "mttr_p50_s": s["p50"],
        "mttr_p95_s": s["p95"],
        "mttr_max_s": s["max"],
    } == (recorded)
    assert (s["count"], s["unrecovered"]) == (
        ev["metrics"]["kills"]["value"],
        ev["metrics"]["kills_unrecovered"]["value"],
    )


def test_fixture_journals_are_what_the_real_evidence_code_writes(tmp_path: Path) -> None:
    """tests/fixtures/journals/ is regenerated by build_journals.py: re-run it after a change of the
    evidence code, the verdict or the experiments, and review the diff."""
    built = build_journals.build(tmp_path)
    stale = [
        name
        for name, j in built.items()
        if json.loads((build_journals.HERE / name).read_text()) != json.loads(json.dumps(j))
    ]
    assert not stale, f"stale fixtures {stale}: run `.venv/bin/python -m tests.fixtures.build_journals`"
