"""Progress lines from the recorder's watch events (issue 22): the HPA's decisions (its own
`SuccessfulRescale` Event: "New size: 3; reason: cpu resource utilization … above target") and, during
hpa-scale, each new Ready replica. The recorder feeds every event it writes; the initial list (SYNC)
is state, not news, and is never announced.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scaleproof import progress
from scaleproof.kobjects import pod_ready

__all__ = ["Narrator", "run_kind"]


def run_kind(run_dir: Path) -> str | None:
    """The experiment kind the evidence control wrote in `<run_dir>/run.json` (None when unknown)."""
    try:
        return json.loads((run_dir / "run.json").read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError):
        return None


class Narrator:
    """Turns watch events into progress lines; thread-safe (one recorder thread per kind)."""

    def __init__(self, announce_ready: bool) -> None:
        self.announce_ready = announce_ready
        self.ready: set[str] = set()
        self.lock = threading.Lock()

    def see(self, kind: str, etype: str, obj: Mapping[str, Any]) -> str | None:
        """The line for this event (also printed), None when it is not news."""
        line = None
        if kind == "Event" and etype != "SYNC":
            line = self._hpa_decision(obj)
        elif kind == "Pod":
            line = self._pod(etype, obj)
        if line:
            progress.step(line)
        return line

    @staticmethod
    def _hpa_decision(obj: Mapping[str, Any]) -> str | None:
        involved = obj.get("involvedObject") or obj.get("regarding") or {}
        if obj.get("reason") != "SuccessfulRescale" or involved.get("kind") != "HorizontalPodAutoscaler":
            return None
        return f"HPA {involved.get('name')} decision: {obj.get('message') or obj.get('note')}"

    def _pod(self, etype: str, obj: Mapping[str, Any]) -> str | None:
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        is_ready = etype != "DELETED" and pod_ready(obj)
        with self.lock:
            new = is_ready and uid not in self.ready
            if is_ready:
                self.ready.add(uid)
            else:
                self.ready.discard(uid)
            count = len(self.ready)
        if new and etype != "SYNC" and self.announce_ready:
            return f"replica Ready: {meta.get('name')} ({count} Ready)"
        return None
