"""Failed requests counted once: the run total and the per-kill windows from the same 1 s buckets.

Locust records failures per second (`{"t": <start of the second>, "requests", "failures", ...}`). A kill
is accepted at an arbitrary instant, so the second that contains it straddles two kill windows. Before
issue 22 a straddling bucket was counted in BOTH windows (an overlap test `t + 1 > start and t < end`),
so the per-kill failures could add up to more than the run's total (1 + 1 + 1 = 3 against 2).

The rule here: each bucket belongs to exactly one window, the window of the LAST kill accepted before
the bucket ENDS (`t_kill < t + 1`). A failure in the second during which kill k+1 was accepted is
counted for kill k+1, not for kill k: at 1 s resolution it cannot be told apart, and the newer kill is
the one whose effect can already be in that second. Buckets that end at or before the first kill are
in no window (`before_first_kill`). Hence, for every run:

    sum(per_kill) + before_first_kill == total,   so   sum(per_kill) <= total,

equal when no failure came before the first kill. The last kill's window runs to the end of the load.

Pure functions, no I/O: the timing module (per-kill timelines) and the evidence (run total) both call
them.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

__all__ = ["FailureCounts", "count_failures", "kill_window", "window_index"]

Bucket = Mapping[str, Any]


class FailureCounts(TypedDict):
    total: int  # failures over every bucket of the run
    requests: int  # requests over every bucket of the run
    per_kill: list[int]  # failures in each kill's window, in kill order
    before_first_kill: int  # failures in buckets that ended at or before the first kill
    rule: str


RULE = (
    "each 1 s bucket counted once, in the window of the last kill accepted before the bucket ends; "
    "buckets ending at or before the first kill are in no window"
)


def _fails(b: Bucket) -> int:
    return int(b.get("failures") or 0)


def window_index(bucket_t: float, kill_ts: Sequence[float]) -> int:
    """Index of the kill whose window holds the bucket starting at `bucket_t` (-1: before every kill).
    `kill_ts` sorted ascending."""
    return bisect.bisect_left(list(kill_ts), float(bucket_t) + 1.0) - 1


def kill_window(load: Sequence[Bucket], t0: float, next_t0: float) -> list[Bucket]:
    """The buckets of the window that starts at kill time `t0` and ends at the next kill `next_t0`
    (math.inf for the last kill): those with `t0 < t + 1 <= next_t0`."""
    return [b for b in load if t0 < float(b["t"]) + 1.0 <= next_t0]


def count_failures(load: Sequence[Bucket], kill_ts: Sequence[float]) -> FailureCounts:
    """Run total and per-kill failures from the same buckets (see the module docstring)."""
    ts = sorted(float(t) for t in kill_ts)
    per_kill = [0] * len(ts)
    before = 0
    for b in load:
        i = window_index(float(b["t"]), ts)
        if i < 0:
            before += _fails(b)
        else:
            per_kill[i] += _fails(b)
    return {
        "total": sum(_fails(b) for b in load),
        "requests": sum(int(b.get("requests") or 0) for b in load),
        "per_kill": per_kill,
        "before_first_kill": before,
        "rule": RULE,
    }
