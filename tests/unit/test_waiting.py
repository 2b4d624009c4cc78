"""scaleproof.waiting.wait_until: the one poll-until-deadline loop, on fake time."""

from __future__ import annotations

import threading

import pytest

from scaleproof.errors import DeadlineExceeded, ScaleproofError
from scaleproof.waiting import wait_until

pytestmark = pytest.mark.unit


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.pauses.append(s)
        self.now += s


def test_reads_until_done_and_says_how_long():
    t = FakeTime()
    values = iter([0, 1, 2, 3])
    w = wait_until(lambda: next(values), 10, 2, done=lambda n: n >= 2, clock=t.clock, sleep=t.sleep)
    assert (w.value, w.waited_s, w.done) == (2, 4.0, True) and t.pauses == [2, 2]


def test_the_last_pause_stops_at_the_deadline_and_reads_once_more():
    t = FakeTime()
    reads = []

    def read() -> int:
        reads.append(t.now)
        return 0

    with pytest.raises(DeadlineExceeded, match="still 0 after 5 s"):
        wait_until(read, 5, 2, on_timeout=lambda n: f"still {n} after 5 s", clock=t.clock, sleep=t.sleep)
    assert t.pauses == [2, 2, 1] and reads == [100, 102, 104, 105]


def test_without_on_timeout_it_returns_not_done():
    t = FakeTime()
    w = wait_until(lambda: False, 1, 0.5, clock=t.clock, sleep=t.sleep)
    assert (w.done, w.value, w.waited_s) == (False, False, 1.0)


def test_abort_stops_the_wait_before_a_pause():
    t = FakeTime()
    calls = []

    def abort() -> None:
        calls.append(t.now)
        if len(calls) == 2:
            raise ScaleproofError("aborted (SIGTERM): not waiting")

    with pytest.raises(ScaleproofError, match="aborted"):
        wait_until(lambda: False, 60, 1, abort=abort, clock=t.clock, sleep=t.sleep)
    assert calls == [100, 101] and t.pauses == [1]


def test_a_set_wake_event_ends_the_pause_at_once_and_the_abort_check_runs():
    wake = threading.Event()
    wake.set()
    checks = []

    def abort() -> None:
        checks.append(wake.is_set())
        if len(checks) == 2:
            raise ScaleproofError("aborted")

    with pytest.raises(ScaleproofError):
        wait_until(lambda: False, 3600, 600, abort=abort, wake=wake)  # would block 10 min without wake
    assert checks == [True, True]


def test_a_failing_read_ends_the_wait():
    def read() -> int:
        raise ValueError("store unreachable")

    with pytest.raises(ValueError, match="unreachable"):
        wait_until(read, 10, 1)
