"""One console line per kill while `kill_pods` runs (issue 22): which kill of how many, the victim, how
long until the workload was back to its Ready count (as the action saw it, by polling), and the
failed requests Locust counted in the kill's window so far (`scaleproof.failcount` windows: from the
kill's acceptance to the next kill). The MTTR of the evidence (watch-based, to the EndpointSlice) and
the final per-kill counts come with the summary at the end of the run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from loadgen import runner
from scaleproof import failcount, progress

__all__ = ["KillProgress", "kill_line"]

LOAD_PREFIX = "load"  # actions.load writes Locust's CSV under <run_dir>/load*


def kill_line(
    i: int, n: int, victims: Sequence[str], recovered_s: float | None, failed: int | None, ready: int
) -> str:
    """The line for kill round `i` of `n` (pure, for tests)."""
    back = f"back to {ready} Ready after {recovered_s:.1f} s" if recovered_s is not None else "not back yet"
    fails = "no load stats yet" if failed is None else f"{failed} failed request(s) in its window"
    return f"kill {i}/{n}: {', '.join(victims)} evicted; {back}; {fails}"


class KillProgress:
    """Collects one round's facts and prints its line once the next round is about to start."""

    def __init__(self, rounds: int, run_dir: Path, ready: int) -> None:
        self.rounds, self.run_dir, self.ready = rounds, run_dir, ready
        self.round = 0
        self.victims: list[str] = []
        self.t_accepted: float | None = None
        self.recovered_s: float | None = None

    def killed(self, victims: Sequence[Mapping[str, Any]]) -> None:
        self.flush()
        self.round += 1
        self.victims = [str(v.get("name")) for v in victims]
        accepted = [float(v["t_accepted"]) for v in victims if v.get("t_accepted")]
        self.t_accepted = min(accepted) if accepted else None
        self.recovered_s = None

    def recovered(self) -> None:
        if self.t_accepted is not None and self.recovered_s is None:
            self.recovered_s = time.time() - self.t_accepted

    def _failed(self) -> int | None:
        if self.t_accepted is None:
            return None
        try:
            rows = runner.per_second(str(self.run_dir / LOAD_PREFIX))
        except (OSError, ValueError):
            return None
        if not rows:
            return None
        window = failcount.kill_window(rows, self.t_accepted, time.time() + 1.0)
        return sum(int(b.get("failures") or 0) for b in window)

    def flush(self) -> None:
        """Print the current round's line (once)."""
        if not self.victims:
            return
        progress.step(
            kill_line(self.round, self.rounds, self.victims, self.recovered_s, self._failed(), self.ready)
        )
        self.victims = []
