"""Fixture providers for the SIGTERM test in test_experiments.py (run by a real `chaos` subprocess)."""

from __future__ import annotations

import time
from pathlib import Path

from scaleproof import undo


def nap(seconds: float = 20.0, ready_file: str = "") -> bool:
    """Sleep up to `seconds`, announcing itself through `ready_file`."""
    if ready_file:
        Path(ready_file).write_text("napping")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)
    return True


def mark(path: str) -> bool:
    """Rollback stand-in: leave a file behind."""
    Path(path).write_text("rolled back" + (" after abort" if undo.ABORT.is_set() else ""))
    return True
