"""Click plumbing shared by every scaleproof CLI: exit codes that mean something.

A click command's return value is ignored in standalone mode and usage errors exit 2. Our commands
return their exit code (0 pass, 1 fail, 2 inconclusive…), so `ExitCodeCommand` exits with it, both
standalone and as a `scaleproof` subcommand; `usage_exit_code` moves usage errors off a code that
already means something (`scaleproof verdict`: 2 is "inconclusive", usage is 4). `call` runs a
command from Python (`main(argv) -> int`, as the tests and `python -m` use it).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

__all__ = ["ExitCodeCommand", "Usage4Command", "call"]


class ExitCodeCommand(click.Command):
    """A command whose integer return value is the process exit code."""

    usage_exit_code = 2

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = self.usage_exit_code  # type: ignore[misc]
            raise

    def invoke(self, ctx: click.Context) -> Any:
        rv = super().invoke(ctx)
        if isinstance(rv, int):
            ctx.exit(rv)
        return rv


class Usage4Command(ExitCodeCommand):
    """Usage errors exit 4, because 2 means "inconclusive" (`scaleproof verdict`, `scaleproof report`)."""

    usage_exit_code = 4


def call(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> int:
    """Run `command` as if typed with `argv` (default: sys.argv[1:]); return its exit code.

    Usage errors are printed as click prints them, with their exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        rv = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("Aborted!", err=True)
        return 1
    return rv if isinstance(rv, int) else 0
