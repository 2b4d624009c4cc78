"""Issue 12, item 4 on the real cluster: the measurement at scale. pod-kill against the floor workload
at 30 replicas with 5 pods killed at once (`scaleproof bench scale`): every victim is paired with a
replacement of its own, no kill is lost, every kill has an MTTR, and the journal says what recording
cost (chaos process CPU and memory, Locust's share of the machine, bytes per kill). CI runs 4 rounds
(20 kills); the committed 100-kill run (20 rounds) comes from the same command with `--kills 20`."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleproof import bench

from .conftest import Kubectl, bench_run

pytestmark = pytest.mark.e2e

ROUNDS, AT_ONCE, REPLICAS = 4, 5, 30


@pytest.mark.full(
    "bench scale (30 replicas, 5 killed at once, 87 s on 2026-12-08): the CI tier pairs every victim of "
    "pod-kill on the reference app and on agnhost (3 replicas, one kill at a time)"
)
def test_thirty_replicas_five_at_once_every_victim_paired(deployed: Kubectl, tmp_path: Path) -> None:
    journals = tmp_path / "scale"
    args = ["scale", "--replicas", str(REPLICAS), "--kill-count", str(AT_ONCE), "--kills", str(ROUNDS)]
    run, ev = bench_run(deployed, [*args, "--kill-interval", "3"], journals, timeout=1200)
    (journal,) = journals.glob("pod-kill-*.json")
    assert ev["configuration"]["replicas"] == REPLICAS and ev["configuration"]["kill_count"] == AT_ONCE
    assert ev["verdict"] == "pass", ev["verdict_reasons"]
    fig = bench.scale_figures([ev], journal.stat().st_size)
    assert fig["planned_kills"] == fig["kills"] == ROUNDS * AT_ONCE and fig["lost_kills"] == 0
    assert fig["rounds"] == ROUNDS and fig["victims_per_round"] == [AT_ONCE]
    assert fig["distinct_victims"] == fig["paired"] == fig["distinct_replacements"] == fig["recovered"] == 20
    assert fig["mttr"]["count"] == 20 and fig["mttr"]["p95"] is not None
    # a replacement is a new pod: never a victim of its own round or of an earlier one (a replacement of
    # round 1 may well be picked as a victim in round 3)
    kills = ev["timelines"]["kills"]
    for k in kills:
        earlier = {x["victim_uid"] for x in kills if x["round"] <= k["round"]}
        assert k["replacement_uid"] not in earlier, k
    cost = ev["cost"]
    assert cost["chaos_process"]["cpu_s"] > 0 and cost["chaos_process"]["rss_peak_mib"] > 0
    assert cost["load_generator"] and cost["load_generator"]["cpu_s"] > 0
    assert fig["events_bytes_per_kill"] and fig["journal_bytes_per_kill"]
    assert "pod-kill at scale" in run.stdout and "bytes per kill" in run.stdout
