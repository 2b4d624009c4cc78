"""What a person watching `chaos run` sees: one line per step they care about, and the continuous
hypothesis kept quiet (issue 22).

`step(message)` writes one INFO line to the `chaostoolkit` logger, the one the `chaos` console shows
(our module loggers are not shown at INFO). `install_console_filter()` (called by the evidence control
when a run starts) adds a filter to the console handler only — the log file keeps everything: the
continuous hypothesis, which Chaos Toolkit runs in a worker thread every `--hypothesis-frequency`
seconds, prints its title, each probe's name and "is met!" on every sample (about 540 of the 567 lines
of a 10-kill pod-kill before this). Those INFO lines from worker threads are dropped; a breach
(WARNING) is shown the first time its message appears, and repeats of the same message are counted,
not printed. `quieted()` returns the counts for the end-of-run summary.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

__all__ = ["CONSOLE_LOGGER", "install_console_filter", "quieted", "step"]

CONSOLE_LOGGER = "chaostoolkit"
_REPEATED = (
    "Steady state hypothesis",  # "...: <title>" and "... is met!"
    "Probe: ",
    "Probe terminated unexpectedly",
)
_COUNTS: Counter[str] = Counter()


def step(message: str) -> None:
    """One progress line on the `chaos` console (and its log file)."""
    logging.getLogger(CONSOLE_LOGGER).info(message)


class _QuietContinuous(logging.Filter):
    """Drop the continuous hypothesis' per-sample lines; show each distinct breach message once."""

    def __init__(self) -> None:
        super().__init__("scaleproof-quiet-continuous")
        self.shown: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread == threading.main_thread().ident:
            return True
        msg = record.getMessage()
        if record.levelno <= logging.INFO and msg.startswith(_REPEATED):
            _COUNTS["samples" if msg.endswith("is met!") or msg.startswith("Steady") else "lines"] += 1
            return False
        if record.levelno == logging.WARNING and msg in self.shown:
            _COUNTS["repeated warnings"] += 1
            return False
        if record.levelno == logging.WARNING:
            self.shown.add(msg)
            return True
        return True


def install_console_filter(logger_name: str = CONSOLE_LOGGER) -> int:
    """Add the filter to the logger's console handlers (not its file handlers); idempotent. Returns
    how many handlers carry it."""
    n = 0
    for h in logging.getLogger(logger_name).handlers:
        if not isinstance(h, logging.StreamHandler) or isinstance(h, logging.FileHandler):
            continue
        if not any(isinstance(f, _QuietContinuous) for f in h.filters):
            h.addFilter(_QuietContinuous())
        n += 1
    return n


def quieted() -> dict[str, int]:
    """What the console filter held back so far (for the summary)."""
    return dict(_COUNTS)
