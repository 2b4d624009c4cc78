"""Load and validate Chaos Toolkit journals, and find the scaleproof evidence block in them (core: read by
the verdict, the evidence control and the report).

A journal is what `chaos run` writes (`chaoslib.run.initialize_run_journal` + the runner); the evidence
block is the `scaleproof` entry of the journal's `extensions` list (its type: `scaleproof.contract`,
documented in docs/evidence-schema.md).
Everything here is read-only and never raises anything but :class:`JournalError` for bad input.
"""

from __future__ import annotations

import json
import logging
import os
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypedDict

from scaleproof.contract import EVIDENCE_NAME, EVIDENCE_VERSION, Criterion, Evidence, Metric

__all__ = [
    "EVIDENCE_NAME",
    "EVIDENCE_VERSION",
    "JOURNAL_STATUSES",
    "Criterion",
    "Evidence",
    "HypothesisState",
    "Journal",
    "JournalError",
    "LoadedJournal",
    "Metric",
    "RunRecord",
    "declared_criteria",
    "display_path",
    "expand_journal_paths",
    "experiment_extension",
    "experiment_kind",
    "find_evidence",
    "load_evidence",
    "load_journal",
    "run_label",
    "validate_journal",
]

logger = logging.getLogger(__name__)

JOURNAL_STATUSES = ("completed", "failed", "aborted", "interrupted")
# keys `chaoslib.run.initialize_run_journal` always writes; `end`/`duration` are added when the run ends
REQUIRED_KEYS = ("chaoslib-version", "experiment", "start", "status", "steady_states", "run")

JournalStatus = Literal["completed", "failed", "aborted", "interrupted"]


class RunRecord(TypedDict, total=False):
    """One activity execution (`chaoslib.activity.execute_activity`)."""

    activity: dict[str, Any]
    output: Any
    start: str
    end: str
    duration: float
    status: Literal["succeeded", "failed"]
    exception: list[str]
    tolerance_met: bool  # only in hypothesis probes


class HypothesisState(TypedDict):
    steady_state_met: bool | None
    probes: list[RunRecord]


class SteadyStates(TypedDict):
    before: HypothesisState | None
    after: HypothesisState | None
    during: list[HypothesisState]


class Journal(TypedDict, total=False):
    experiment: dict[str, Any]
    start: str
    end: str
    duration: float
    status: JournalStatus | None
    deviated: bool
    steady_states: SteadyStates
    run: list[RunRecord]
    rollbacks: list[RunRecord]
    extensions: list[dict[str, Any]]
    platform: str
    node: str


class JournalError(Exception):
    """A file that cannot be used as a journal. The message names the file and what is wrong."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class LoadedJournal(TypedDict):
    path: str  # as displayed (relative when under the working directory)
    journal: Journal


def display_path(path: str | os.PathLike[str], *, as_named: bool = False) -> str:
    """The path as written in reports: relative to the working directory when below it, POSIX style.

    Outside the working directory only the file name is kept, so no absolute path leaks into output.
    `as_named` (the evidence block's run directory and experiment path, which later commands open):
    links are not resolved, so the path stays as it was named, and outside the working directory the
    path is kept whole.
    """
    p = Path(path)
    try:
        if as_named:
            return p.absolute().relative_to(Path.cwd()).as_posix()
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.name if p.is_absolute() and not as_named else p.as_posix()


def validate_journal(data: Any, path: str | os.PathLike[str]) -> Journal:
    """Check that `data` has the shape of a chaostoolkit-lib journal; raise :class:`JournalError` if not."""
    if not isinstance(data, dict):
        raise JournalError(
            path,
            f"not a Chaos Toolkit journal: top level is a JSON {type(data).__name__}, expected an object",
        )
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        hint = ""
        if "method" in data and "run" not in data:
            hint = " (this looks like an experiment, not a journal: pass the journal.json `chaos run` wrote)"
        raise JournalError(path, "not a Chaos Toolkit journal: missing key(s) " + ", ".join(missing) + hint)
    status = data["status"]
    if status is not None and status not in JOURNAL_STATUSES:
        raise JournalError(
            path, f"unknown journal status {status!r} (expected one of " + ", ".join(JOURNAL_STATUSES) + ")"
        )
    if not isinstance(data["run"], list):
        raise JournalError(path, "malformed journal: `run` is not a list")
    ss = data["steady_states"]
    if not isinstance(ss, dict) or not isinstance(ss.get("during", []), list):
        raise JournalError(path, "malformed journal: `steady_states` must be an object with a `during` list")
    if not isinstance(data.get("rollbacks", []), list):
        raise JournalError(path, "malformed journal: `rollbacks` is not a list")
    if not isinstance(data["experiment"], dict):
        raise JournalError(path, "malformed journal: `experiment` is not an object")
    ext = data.get("extensions", [])
    if not isinstance(ext, list):
        raise JournalError(path, "malformed journal: `extensions` is not a list")
    return data  # type: ignore[return-value]


def load_journal(path: str | os.PathLike[str]) -> Journal:
    """Read and validate one journal file. Every failure is a :class:`JournalError` naming the file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise JournalError(path, "no such file") from None
    except IsADirectoryError:
        raise JournalError(path, "is a directory, expected a journal JSON file") from None
    except OSError as exc:
        raise JournalError(path, f"cannot read: {exc.strerror or exc}") from None
    if not raw.strip():
        raise JournalError(path, "empty file (did `chaos run` crash before writing the journal?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JournalError(path, f"not UTF-8 text (byte {exc.start}): not a JSON journal") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise JournalError(
                path,
                f"truncated JSON: the document ends at line {exc.lineno} column {exc.colno} "
                "before it is complete (interrupted write?)",
            ) from None
        raise JournalError(path, f"corrupt JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return validate_journal(data, path)


def load_evidence(path: str | os.PathLike[str]) -> Evidence:
    """The evidence block of a journal file, or of a run directory (its `evidence.json`, the block the
    control wrote beside the journal). Every failure is a :class:`JournalError` naming the file."""
    p = Path(path)
    if p.is_dir():
        p = p / "evidence.json"
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise JournalError(p, "no such file (not a run directory?)") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise JournalError(p, f"unreadable evidence block: {exc}") from None
        if not isinstance(data, dict) or data.get("name") != EVIDENCE_NAME:
            raise JournalError(p, f"not a {EVIDENCE_NAME} evidence block")
        return data  # type: ignore[return-value]
    block = find_evidence(load_journal(p))
    if block is None:
        raise JournalError(p, f"no {EVIDENCE_NAME} evidence block in the journal's extensions")
    return block


def expand_journal_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files stay as given; a directory stands for its `*.json` files and its `*/journal.json`, sorted.

    The result keeps the order of `paths` and drops duplicates.
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        found = sorted({*p.glob("*.json"), *p.glob("*/journal.json")}) if p.is_dir() else [p]
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def _scaleproof_extension(extensions: Any) -> Mapping[str, Any] | None:
    for ext in extensions or []:
        if isinstance(ext, Mapping) and ext.get("name") == EVIDENCE_NAME:
            return ext
    return None


def find_evidence(journal: Mapping[str, Any]) -> Evidence | None:
    """The `scaleproof` block of the journal's `extensions`, or None when there is none."""
    return _scaleproof_extension(journal.get("extensions"))  # type: ignore[return-value]


def experiment_extension(experiment: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The experiment's `scaleproof` extension (kind, criteria, targets), or {} when it has none."""
    return _scaleproof_extension((experiment or {}).get("extensions")) or {}


def experiment_kind(journal: Mapping[str, Any]) -> str:
    """hpa-scale, pod-kill, vector-shards…: from the evidence block, else the experiment's extension."""
    evidence = find_evidence(journal)
    kind = ((evidence or {}).get("experiment") or {}).get("kind") or experiment_extension(
        journal.get("experiment")
    ).get("kind")
    return str(kind) if kind else "unknown"


def declared_criteria(journal: Mapping[str, Any], evidence: Mapping[str, Any] | None = None) -> list[str]:
    """Criteria declared in the experiment (`extensions: [{name: scaleproof, criteria: [...]}]`), filled
    from the settings of `evidence` (default: the block recorded in the journal)."""
    crit = experiment_extension(journal.get("experiment")).get("criteria") or []
    if not isinstance(crit, list):
        return []
    # criteria are templates (`kills >= ${kills}`): fill them with the settings the run recorded
    block: Any = (evidence if evidence is not None else find_evidence(journal)) or {}
    recorded: Mapping[str, Any] = block.get("configuration") or {}
    settings = {k: str(v) for k, v in recorded.items()}
    return [string.Template(str(c)).safe_substitute(settings) for c in crit]


def run_label(journal: Mapping[str, Any], fallback: str) -> str:
    """A stable, file-name safe identifier for a run: the evidence run_id, else `fallback`."""
    evidence = find_evidence(journal)
    label = (evidence or {}).get("run_id") or fallback
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(label))
