"""Run one experiment with `chaos run`: the step `scaleproof run` (the pipeline) and `scaleproof bench
floor` share. The journal path is returned; `chaos run` writes it even when the run failed, and its
exit code is not the verdict.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

__all__ = ["REPO", "console_script", "run_experiment", "say"]

REPO = Path(__file__).resolve().parents[1]


def say(msg: str) -> None:
    click.echo(f"[run {time.strftime('%H:%M:%S')}] {msg}", err=True)


def console_script(name: str) -> str:
    """A console script of this environment (chaos, scaleproof), next to the running python."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def run_experiment(
    kind: str, journal_dir: Path, env: dict[str, str], hypothesis_frequency: float = 2.0
) -> Path:
    """Run experiments/<kind>.yaml with `chaos run`; returns the journal path (written even on failure)."""
    experiment = REPO / "experiments" / f"{kind}.yaml"
    if not experiment.exists():
        raise click.ClickException(f"{experiment} does not exist")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    journal_dir.mkdir(parents=True, exist_ok=True)
    journal = journal_dir / f"{kind}-{stamp}.json"
    log_file = journal_dir.parent / "runs" / f"{kind}-{stamp}.chaos.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        console_script("chaos"),
        "--no-version-check",
        "--log-file",
        str(log_file),
        "run",
        "--hypothesis-frequency",
        str(hypothesis_frequency),
        "--journal-path",
        str(journal),
        str(experiment),
    ]
    from scaleproof.journal import display_path

    shown = display_path(journal, as_named=True)  # a journal may live outside the repository
    say(f"chaos run {experiment.relative_to(REPO)} (journal {shown}, log {log_file.name})")
    proc = subprocess.run(argv, cwd=REPO, env=env)
    say(f"chaos run {kind} exited {proc.returncode} (its exit code is not the verdict)")
    if not journal.exists():
        raise click.ClickException(f"chaos run wrote no journal for {kind}; see {log_file}")
    return journal
