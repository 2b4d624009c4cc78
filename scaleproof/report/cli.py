"""`chaos adr JOURNAL...` (Chaos Toolkit CLI plugin) and `scaleproof report JOURNAL...`: one function.

Writes, for each experiment kind found in the journals:
  <out>/<kind>.md             the evidence document (scaleproof.report.markdown)
  <out>/<kind>-<run>-<plot>.png  its plots (scaleproof.report.plots)
and refreshes <out>/README.md, the index of every `<kind>.md` in <out>.

Re-running on the same journals gives byte-identical files. Exit codes: 0 written; 3 a journal (or
baseline journal) is unreadable, nothing written; 4 usage error. The verdicts do not change the exit
code here: use `scaleproof verdict` to gate on them.

This module is imported by every `chaos` invocation (entry point group `chaostoolkit.cli_plugins`), so
matplotlib and the renderers are imported only when the command runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from scaleproof.command import Usage4Command
from scaleproof.journal import Journal, JournalError, display_path, expand_journal_paths, load_journal

__all__ = ["DEFAULT_OUT", "GenerateResult", "adr", "generate", "load_all", "report"]

logger = logging.getLogger(__name__)

DEFAULT_OUT = "docs/adr/evidence"
EXIT_UNREADABLE = 3
EXIT_USAGE = 4


@dataclass(frozen=True)
class GenerateResult:
    written: tuple[Path, ...]
    removed: tuple[Path, ...]
    outcomes: dict[str, str]  # run label -> pass/fail/inconclusive


def load_all(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[str, Journal]]:
    """Load every journal; raise one JournalError listing all the unreadable files (never a traceback)."""
    files = expand_journal_paths(paths)
    if not files:
        raise JournalError(", ".join(str(p) for p in paths) or "<none>", "no journal found")
    loaded, errors = [], []
    for f in files:
        try:
            loaded.append((display_path(f), load_journal(f)))
        except JournalError as exc:
            errors.append(exc)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise JournalError(errors[0].path, "; ".join(str(e) for e in errors))
    return loaded


def _write_plots(r: Any, out: Path, written: list[Path]) -> dict[str, str]:
    """The run's plots (and Prometheus' own graph page, taken during the run) as PNGs in `out`:
    plot name -> file name; each file written is appended to `written`."""
    from scaleproof.report.figures import figures_for
    from scaleproof.report.plots import save_figure
    from scaleproof.report.promview import screenshot_png

    plots: dict[str, str] = {}
    if r.evidence is None:
        return plots
    for name, fig in figures_for(r.kind, r.evidence).items():
        png = f"{r.kind}-{r.label}-{name}.png"
        written.append(save_figure(fig, out / png))
        plots[name] = png
    shot = screenshot_png(r.evidence)
    if shot is not None:
        png = f"{r.kind}-{r.label}-prometheus-ui.png"
        (out / png).write_bytes(shot)
        written.append(out / png)
        plots["prometheus-ui"] = png
    return plots


def generate(
    journals: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str] = DEFAULT_OUT,
    baseline: str | os.PathLike[str] | None = None,
    floor: str | os.PathLike[str] | None = None,
) -> GenerateResult:
    """Write the evidence Markdown, plots and index for `journals` into `out_dir` (pod-kill beside
    the cluster's floor when `floor` names the floor's journals)."""
    from scaleproof.report.markdown import (
        collect_figures,
        make_runs,
        render_index,
        render_kind,
        summarise,
        summary_of_document,
    )

    runs = make_runs(load_all(journals))
    base_runs = make_runs(load_all([baseline])) if baseline is not None else []
    floor_runs = make_runs(load_all([floor])) if floor is not None else []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kinds = sorted({r.kind for r in runs})
    removed = []
    for kind in kinds:  # stale plots of regenerated kinds would otherwise linger
        for old in sorted(out.glob(f"{kind}-*.png")):
            old.unlink()
            removed.append(old)
    written: list[Path] = []
    with_plots = [replace(r, plots=_write_plots(r, out, written)) for r in runs]
    figures = collect_figures(with_plots, base_runs, floor_runs)
    base_src = display_path(baseline) if baseline is not None else None
    for kind in kinds:
        path = out / f"{kind}.md"
        text = render_kind(kind, with_plots, figures, base_runs, base_src, floor_runs)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    # the kinds written now are summarised from their runs; other documents in the directory (from an
    # earlier invocation) by the summary line each carries
    summaries = [summarise(kind, with_plots) for kind in kinds]
    for p in sorted(out.glob("*.md")):
        if p.name != "README.md" and p.stem not in kinds:
            other = summary_of_document(p.read_text(encoding="utf-8"))
            summaries += [other] if other is not None else []
    index = out / "README.md"
    index.write_text(render_index(summaries), encoding="utf-8")
    written.append(index)
    return GenerateResult(
        tuple(written),
        tuple(p for p in removed if p not in written),
        {r.label: r.verdict.outcome for r in runs},
    )


def _run(journals: tuple[str, ...], out: str, baseline: str | None, floor: str | None = None) -> None:
    try:
        result = generate(journals, out, baseline, floor)
    except JournalError as exc:
        click.echo(f"error: unreadable journal {exc}", err=True)
        click.echo("nothing was written", err=True)
        raise SystemExit(EXIT_UNREADABLE) from None
    for p in result.written:
        click.echo(f"wrote {display_path(p)}")
    for p in result.removed:
        click.echo(f"removed stale {display_path(p)}")
    for label, outcome in sorted(result.outcomes.items()):
        click.echo(f"{outcome.upper():<13} {label}")


_ARGS = [
    click.argument("journals", nargs=-1, required=True, type=click.Path()),
    click.option(
        "--out",
        "-o",
        default=DEFAULT_OUT,
        show_default=True,
        type=click.Path(file_okay=False),
        help="Directory for <kind>.md, <kind>-*.png and README.md.",
    ),
    click.option(
        "--baseline",
        "-b",
        default=None,
        type=click.Path(),
        help="Journal file or directory of journals to compare against (deltas per metric).",
    ),
    click.option(
        "--floor",
        "-f",
        default=None,
        type=click.Path(),
        help="The cluster's floor (`scaleproof bench floor` journals, e.g. journals/floor): pod-kill "
        "phases beside the floor's.",
    ),
]


def _decorate(fn: Any) -> Any:
    for deco in reversed(_ARGS):
        fn = deco(fn)
    return fn


@click.command("adr", cls=Usage4Command)
@_decorate
def adr(journals: tuple[str, ...], out: str, baseline: str | None, floor: str | None) -> None:
    """Turn Chaos Toolkit journals into ADR evidence: Markdown + PNG plots, no pandoc.

    JOURNAL is a journal file or a directory of them. Exit 3 if a journal is unreadable (nothing is
    written), 4 on usage errors. Gate on the verdicts with `scaleproof verdict`.
    """
    _run(journals, out, baseline, floor)


@click.command("report", cls=Usage4Command)
@_decorate
def report(journals: tuple[str, ...], out: str, baseline: str | None, floor: str | None) -> None:
    """Same as `chaos adr`: journals → ADR evidence Markdown + PNG plots."""
    _run(journals, out, baseline, floor)
