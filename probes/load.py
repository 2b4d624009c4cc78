"""Read the run's Locust stats: error rate and request rate (per-second buckets).

The stats are read from `<run_dir>/load_*` files written by the Locust subprocess (`actions.load`);
nothing here talks to Locust. Before the load starts there is no data: the probes return None and the
`error_rate_at_most` tolerance accepts that (`allow_no_data`), so a gate hypothesis can use it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from loadgen import runner
from scaleproof import rundir
from scaleproof.phases import error_rate as _error_rate

__all__ = ["error_rate", "error_rate_at_most", "load_summary", "rps"]

PREFIX = "load"


def _window(
    run_dir: str | None,
    configuration: Mapping[str, Any] | None,
    window_s: float | None,
    now: float | None = None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        dict(r) for r in runner.per_second(str(rundir.resolve(run_dir, configuration) / PREFIX))
    ]
    if window_s is None or not rows:
        return rows
    ref = float(now if now is not None else max(time.time(), float(rows[-1]["t"]) + 1))
    return [r for r in rows if float(r["t"]) + 1 > ref - float(window_s)]


def error_rate(
    window_s: float | None = None, run_dir: str | None = None, configuration: Mapping[str, Any] | None = None
) -> float | None:
    """Failed / total requests (ratio 0..1) over the last `window_s` seconds (None = whole run);
    None when no request was made in the window."""
    return _error_rate(_window(run_dir, configuration, window_s))[0]


def rps(
    window_s: float = 10.0, run_dir: str | None = None, configuration: Mapping[str, Any] | None = None
) -> float | None:
    """Mean requests per second over the last `window_s` seconds; None without data."""
    rows = _window(run_dir, configuration, window_s)
    return sum(int(r.get("requests") or 0) for r in rows) / len(rows) if rows else None


def load_summary(
    run_dir: str | None = None, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`{"seconds", "requests", "failures", "error_rate", "max_users"}` over the whole run."""
    rows = _window(run_dir, configuration, None)
    rate, req, fail = _error_rate(rows)
    return {
        "seconds": len(rows),
        "requests": req,
        "failures": fail,
        "error_rate": rate,
        "max_users": max((int(r.get("users") or 0) for r in rows), default=0),
    }


def error_rate_at_most(
    value: float | None = None, threshold: float = 0.01, allow_no_data: bool = True
) -> bool:
    """Tolerance: error rate ≤ `threshold`; None (no requests yet) passes only with `allow_no_data`."""
    if value is None:
        return bool(allow_no_data)
    return float(value) <= float(threshold)
