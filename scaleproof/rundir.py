"""The run directory `journals/runs/<run_id>/`: where providers record raw evidence.

Files (all optional, each written by the provider that owns it):

| file             | writer                                  | content                                    |
| ---------------- | --------------------------------------- | ------------------------------------------ |
| `run.json`       | `scaleproof.evidence` control           | run id, experiment path/sha256, start time |
| `undo.json`      | `scaleproof.undo` (before any fault)    | the undo plan                              |
| `events.jsonl`   | `probes.watch`, `actions.pods`, ...     | one JSON object per line (see below)       |
| `specs.json`     | `probes.kubernetes.snapshot_specs`      | Deployment/HPA/PDB specs, images           |
| `shards.jsonl`   | `probes.vectorstore`                    | per-shard snapshots (objects, queries)     |
| `load_*`         | `actions.load` / `loadgen.runner`       | Locust CSV history, JSON stats, logs       |
| `evidence.json`  | `scaleproof.evidence` control           | a copy of the journal's evidence block     |
| `phase.json`     | `scaleproof.evidence` control, actions  | the run's phase (before/method/faults/after)|
| `claims.jsonl`   | `probes.claims`                         | every check of a claim, with its phase     |

Every `events.jsonl` line has `t` (local receive time, Unix seconds, float), `source`
(`watch`, `action`, `recorder`), `kind` and `type`; watch lines also carry the trimmed Kubernetes
`object` whose server timestamps (second resolution) are kept verbatim.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scaleproof.errors import RunDirError

__all__ = [
    "CONFIG_KEY",
    "ENV_VAR",
    "EVENTS_FILE",
    "PHASES",
    "append_event",
    "check_method_ok",
    "new_run_id",
    "read_events",
    "read_jsonl",
    "read_phase",
    "resolve",
    "set_phase",
    "write_json_atomic",
]

logger = logging.getLogger(__name__)

CONFIG_KEY = "scaleproof_run_dir"
ENV_VAR = "SCALEPROOF_RUN_DIR"
EVENTS_FILE = "events.jsonl"

_LOCK = threading.Lock()

# before: at rest, before the method (the gate); method: set-up steps; faults: load or kills under way
# (an action says so when it starts); after: the method is over (the after-hypothesis, load still on)
PHASES = ("before", "method", "faults", "after")
PHASE_FILE = "phase.json"


def new_run_id(kind: str, now: float | None = None) -> str:
    """A sortable run id: `20261128T121500Z-<kind>-<4 hex>`."""
    t = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", kind).strip("-") or "run"
    return f"{stamp}-{safe}-{os.urandom(2).hex()}"


def resolve(
    run_dir: str | os.PathLike[str] | None = None,
    configuration: Mapping[str, Any] | None = None,
    create: bool = True,
) -> Path:
    """The run directory: the explicit argument, else `configuration["scaleproof_run_dir"]`
    (set by the `scaleproof.evidence` control), else `$SCALEPROOF_RUN_DIR`. Created if missing
    (unless `create=False`: readers never create directories)."""
    candidate = run_dir or (configuration or {}).get(CONFIG_KEY) or os.environ.get(ENV_VAR)
    if not candidate:
        raise RunDirError(
            "no run directory: add the `scaleproof.evidence` control to the experiment's `controls`, "
            f"pass `run_dir`, or set ${ENV_VAR}"
        )
    path = Path(candidate)
    if not create:
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"cannot create run directory {path}: {exc}") from exc
    return path


def append_event(run_dir: Path, record: Mapping[str, Any], name: str = EVENTS_FILE) -> None:
    """Append one JSON line to `<run_dir>/<name>` (thread-safe within this process, flushed)."""
    line = json.dumps(record, separators=(",", ":"), default=str)
    with _LOCK, open(run_dir / name, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All JSON objects of a JSON-lines file; a torn last line (crash mid-write) is skipped."""
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                logger.warning("%s:%d: skipping a line that is not JSON (torn write?)", path, n)
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """The recorded event log of a run, in file order."""
    return read_jsonl(Path(run_dir) / EVENTS_FILE)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to `path` atomically (temp file + fsync + rename): a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, sort_keys=True, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def set_phase(run_dir: Path, phase: str, **extra: Any) -> None:
    """Record the run's phase (see PHASES); claims read it to pick their threshold."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}")
    current = read_phase(run_dir, full=True)
    reached = list(current.get("reached") or [])  # every phase the run entered, in order
    reached += [] if phase in reached else [phase]
    write_json_atomic(
        Path(run_dir) / PHASE_FILE,
        {**current, "phase": phase, "t": time.time(), "reached": reached, **extra},
    )


def read_phase(run_dir: Path | None, full: bool = False) -> Any:
    """The run's phase (`before` when none was recorded); `full=True` gives the whole record."""
    rec: dict[str, Any] = {}
    if run_dir is not None and (Path(run_dir) / PHASE_FILE).exists():
        try:
            rec = json.loads((Path(run_dir) / PHASE_FILE).read_text())
        except (OSError, json.JSONDecodeError):
            rec = {}
    return rec if full else str(rec.get("phase") or "before")


def check_method_ok(configuration: Mapping[str, Any] | None, what: str) -> None:
    """Raise when an earlier method step of this run failed: Chaos Toolkit would go on with the next
    step, but a kill or a long wait after a failed set-up only wastes time or measures nonsense."""
    run_dir = (configuration or {}).get(CONFIG_KEY) or os.environ.get(ENV_VAR)
    failed = read_phase(Path(run_dir), full=True).get("failed_step") if run_dir else None
    if failed:
        raise RunDirError(f"not {what}: the earlier method step {failed!r} failed (see its error above)")
