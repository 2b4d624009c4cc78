"""The one poll-until-deadline loop: `wait_until(read, deadline_s, interval_s, abort=…)`.

Layer 1 (no I/O of its own, knows nothing of runs): the caller gives what to read, when it is done,
how to stop early (`abort`: a check that raises, e.g. the run's `undo.check_abort`; `wake`: an event
that ends a pause at once, e.g. `undo.ABORT` set by SIGTERM/SIGINT) and what to say on timeout.
Every blocking provider's deadline-and-sleep loop goes through it; `clock` and `sleep` are there
for fake time in tests. Event-driven waits (the list-then-watch of `scaleproof.kube`) do not poll
and do not use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from scaleproof.errors import DeadlineExceeded

__all__ = ["Waited", "wait_until"]

T = TypeVar("T")


@dataclass(frozen=True)
class Waited(Generic[T]):
    value: T  # the last value read
    waited_s: float  # from the first read to the last, rounded to the ms
    done: bool  # False: the deadline passed first (only when no `on_timeout` was given)


def wait_until(
    read: Callable[[], T],
    deadline_s: float,
    interval_s: float,
    *,
    done: Callable[[T], bool] = bool,
    abort: Callable[[], None] | None = None,
    wake: threading.Event | None = None,
    on_timeout: Callable[[T], str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] | None = None,
) -> Waited[T]:
    """Call `read()` every `interval_s` seconds until `done(value)` or `deadline_s` seconds passed.

    The value is read at least once, and once more at the deadline (a pause never overshoots it).
    Before each pause `abort()` runs (it raises to stop the wait); a pause ends early when `wake` is
    set (then `abort()` runs again). On timeout: DeadlineExceeded(`on_timeout(last value)`), or
    `Waited(done=False)` without `on_timeout`. An exception of `read` ends the wait (it propagates)."""
    start = clock()
    end = start + float(deadline_s)
    while True:
        value = read()
        if done(value):
            return Waited(value, round(clock() - start, 3), True)
        left = end - clock()
        if left <= 0:
            if on_timeout is not None:
                raise DeadlineExceeded(on_timeout(value))
            return Waited(value, round(clock() - start, 3), False)
        if abort is not None:
            abort()
        pause = min(float(interval_s), left)
        if sleep is not None:
            sleep(pause)
        elif wake is not None:
            wake.wait(pause)
        else:
            time.sleep(pause)
        if abort is not None and wake is not None and wake.is_set():
            abort()
