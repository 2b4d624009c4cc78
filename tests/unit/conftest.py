"""Unit tests share one process (or a few, under xdist, in any order): state a test leaves in the
abort/signal guard of `scaleproof.undo` is cleared after each, so no test depends on another's order."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from scaleproof import undo


@pytest.fixture(autouse=True)
def _fresh_abort_guard() -> Iterator[None]:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    phase = list(undo._PHASE)
    yield
    undo.ABORT.clear()
    undo._ABORT_REASON.clear()
    undo._SIGNALS.clear()
    undo._PHASE[:] = phase
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
