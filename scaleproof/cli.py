"""The `scaleproof` command: one entry point whose subcommands live in the modules that own them.

Subcommands are imported lazily so that `scaleproof cluster status` does not pay for matplotlib,
and a broken optional module cannot stop the others from working.
"""

from __future__ import annotations

import importlib
import importlib.resources
from pathlib import Path

import click

__all__ = ["main"]

# name -> "module:attribute" of a click command
SUBCOMMANDS: dict[str, str] = {
    "cluster": "scaleproof.cluster.cli:cluster",
    "images": "scaleproof.cluster.cli:images",
    "deploy": "scaleproof.cluster.cli:deploy",
    "run": "scaleproof.pipeline:run_command",
    "init": "scaleproof.init_target:init_command",
    "report": "scaleproof.report.cli:report",
    "verdict": "scaleproof.verdict:verdict_command",
    "recover": "scaleproof.undo:recover_command",
    "validate": "scaleproof.validate:validate_command",
    "experiments": "scaleproof.cli:experiments",
    "bench": "scaleproof.bench:bench_command",
}

#: the experiments every installation ships (scaleproof/experiments links to the repo's experiments/)
EXPERIMENT_FILES = ("hpa-scale.yaml", "pod-kill.yaml", "store-peer-loss.yaml", "vector-shards.yaml")


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        command: click.Command = getattr(module, attr)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="scaleproof")
def main() -> None:
    """Prove that a Kubernetes deployment scales and heals, and keep the evidence."""


def experiments_dir() -> Path:
    """The installed experiments' folder (the repo's experiments/ under an editable install)."""
    path = Path(str(importlib.resources.files("scaleproof") / "experiments")).resolve()
    missing = [name for name in EXPERIMENT_FILES if not (path / name).is_file()]
    if missing:
        raise click.ClickException(
            f"{path} lacks {', '.join(missing)}: scaleproof was installed without its package data; "
            "reinstall it (pip install scaleproof, or pip install -e . in a checkout)"
        )
    return path


@click.group()
def experiments() -> None:
    """The Chaos Toolkit experiments shipped with scaleproof."""


@experiments.command("path")
def experiments_path() -> None:
    """Print their folder, for `chaos run "$(scaleproof experiments path)/pod-kill.yaml"` anywhere."""
    click.echo(experiments_dir())
