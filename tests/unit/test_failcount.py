"""Failed requests counted once (issue 22): per-kill windows and the run total from the same buckets."""

from __future__ import annotations

from typing import Any

import pytest

from scaleproof import failcount, phases, podtimeline
from tests.unit.eventlog import T0, baseline, ev, kill, pod_obj, replacement, slice_ev

pytestmark = pytest.mark.unit


def buckets(n: int, start: float = T0 - 5, fails: dict[int, int] | None = None) -> list[dict[str, Any]]:
    """n one-second buckets from `start`; `fails` maps a bucket's offset from T0 to its failures."""
    fails = fails or {}
    return [
        {"t": start + i, "users": 10, "requests": 20, "failures": fails.get(int(start + i - T0), 0)}
        for i in range(n)
    ]


def three_kill_log() -> list[dict[str, Any]]:
    """Kills accepted mid-second (T0+0.5, T0+10.5, T0+20.5), each replaced and back within 4 s."""
    log = baseline()
    victims, repls = ("a", "b", "c"), ("d", "e", "f")
    ready = ["a", "b", "c"]
    for i, (v, r) in enumerate(zip(victims, repls, strict=True)):
        t = T0 + 0.5 + 10 * i
        ready = [u for u in ready if u != v]
        log += [
            kill(t, v, kill_id=f"kill-{i + 1}"),
            ev(t + 0.05, "Pod", "MODIFIED", pod_obj(v, deleting_at=t)),
            slice_ev(t + 0.1, ready, [v]),
        ]
        log += replacement(r, t + 0.2, sched=t + 0.3, started=t + 1.5, ready=t + 3.0)
        ready = ready + [r]
        log.append(slice_ev(t + 3.1, ready))
    return log


def test_a_second_straddling_a_kill_counts_once_for_the_newer_kill():
    # the second [T0+10, T0+11) holds kill-2 (T0+10.5): before issue 22 it counted for kill-1 AND kill-2
    load = buckets(40, fails={1: 1, 10: 1})
    tls = podtimeline.kill_timelines(three_kill_log(), load)
    counts = failcount.count_failures(load, [T0 + 0.5, T0 + 10.5, T0 + 20.5])
    assert [t["failed_requests"] for t in tls] == [1, 1, 0] == counts["per_kill"]
    assert counts["total"] == 2 == phases.error_rate(load)[2]


def test_every_kill_with_failures_has_its_user_recovered_phase():
    # kill-1's last failing second ends exactly where kill-2's window takes the next second
    load = buckets(40, fails={9: 2, 10: 1, 20: 3})
    tls = podtimeline.kill_timelines(three_kill_log(), load)
    for tl in tls:
        if tl["failed_requests"]:
            assert "user_recovered" in [p["name"] for p in tl["phases"]], tl["kill_id"]
    assert [t["failed_requests"] for t in tls] == [2, 1, 3]


def test_no_user_recovered_without_any_success_after_the_failures():
    load = buckets(26, fails={20: 3, 21: 3})  # the load ends failing: users were not served again
    tls = podtimeline.kill_timelines(three_kill_log(), load)
    assert "user_recovered" not in [p["name"] for p in tls[2]["phases"]]
    assert any("no successful traffic" in n for n in tls[2]["notes"])


@pytest.mark.parametrize(
    "fails",
    [{}, {-3: 4}, {0: 1, 10: 1, 20: 1}, {-1: 2, 0: 5, 9: 1, 30: 7}, {k: 1 for k in range(-5, 35)}],
)
def test_sum_of_kill_windows_never_exceeds_the_run_total(fails):
    load = buckets(40, fails=fails)
    tls = podtimeline.kill_timelines(three_kill_log(), load)
    per_kill = sum(int(t["failed_requests"] or 0) for t in tls)
    counts = failcount.count_failures(load, [T0 + 0.5, T0 + 10.5, T0 + 20.5])
    total = phases.error_rate(load)[2]
    assert per_kill == sum(counts["per_kill"]) <= total == counts["total"]
    assert per_kill + counts["before_first_kill"] == total
    # the windows cover the run when no bucket ends at or before the first kill: then equal
    covered = [b for b in load if b["t"] + 1 > T0 + 0.5]
    assert (
        sum(failcount.count_failures(covered, [T0 + 0.5, T0 + 10.5, T0 + 20.5])["per_kill"])
        == (phases.error_rate(covered)[2])
    )


def test_window_index_edges():
    kills = [10.5, 20.5]
    assert failcount.window_index(9.0, kills) == -1  # [9, 10) ends before the first kill
    assert failcount.window_index(9.5, kills) == -1  # [9.5, 10.5) ends at the kill: before it
    assert failcount.window_index(10.0, kills) == 0  # straddles kill 1
    assert failcount.window_index(19.5, kills) == 0  # ends exactly at kill 2: still kill 1
    assert failcount.window_index(20.0, kills) == 1  # straddles kill 2: kill 2
