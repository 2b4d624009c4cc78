"""Check that every figure quoted in an ADR equals what the committed journals give when recomputed.

Design (documented in docs/adr/README.md): figures are quoted with a stable marker,

    <!-- fig:pod-kill.aggregate.mttr_p95_s.p95 -->4.2 s

the marker names the figure, the token right after it (up to a space, `|` or `<`) is its value, written
exactly as `scaleproof.report.text.format_number` writes it. The generated evidence files use the
same markers, so an ADR can copy a cell from them. `recompute` rebuilds every figure from journals with
the same code the report uses (`numbers.collect_figures`), so there is a single computation.

Keys: `<kind>.runs`, `<kind>.<run>.verdict`, `<kind>.<run>.<metric>`,
`<kind>.<run>.criterion.<metric>.passed`, `<kind>.aggregate.<metric>.{n,mean,p95,min,max}`,
`<kind>.baseline.<metric>.{n,mean,delta,delta_pct}` (only with a baseline), `pod-kill.floor.*` (only
with the floor's journals, `--floor`: app vs floor per phase, app-attributable time, dominant phase).

    python -m scaleproof.report.consistency docs/adr/0001-*.md --journals journals/evidence [--baseline ...]
exits 0 when every marker matches, 1 otherwise (one line per mismatch), 3 on unreadable journals.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from scaleproof.journal import JournalError
from scaleproof.report.cli import load_all
from scaleproof.report.numbers import FIG_RE, collect_figures, texts
from scaleproof.report.runs import make_runs

__all__ = ["Mismatch", "check", "check_files", "figures_in_markdown", "main", "recompute"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mismatch:
    source: str
    line: int
    key: str
    written: str
    expected: str | None  # None: the journals give no such figure

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}: fig:{self.key} = {self.written!r}"
        if self.expected is None:
            return f"{where}, not a figure of the journals"
        return f"{where}, journals give {self.expected!r}"


def figures_in_markdown(md_text: str) -> dict[str, list[tuple[int, str]]]:
    """{key: [(line number, value as written), ...]} for every `<!-- fig:KEY -->VALUE` marker."""
    out: dict[str, list[tuple[int, str]]] = {}
    for lineno, line in enumerate(md_text.splitlines(), start=1):
        for m in FIG_RE.finditer(line):
            out.setdefault(m.group(1), []).append((lineno, m.group(2) or ""))
    return out


def recompute(
    journals: Sequence[str | os.PathLike[str]],
    baseline: str | os.PathLike[str] | None = None,
    floor: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """Every figure the report would show for these journals (baseline, floor), as text, by key."""
    runs = make_runs(load_all(journals))
    base = make_runs(load_all([baseline])) if baseline is not None else []
    flo = make_runs(load_all([floor])) if floor is not None else []
    return texts(collect_figures(runs, base, flo))


def check(md_text: str, expected: dict[str, str], source: str = "<markdown>") -> list[Mismatch]:
    """Mismatches between the markers of `md_text` and `expected` (from :func:`recompute`)."""
    bad = []
    for key, uses in sorted(figures_in_markdown(md_text).items()):
        for line, written in uses:
            want = expected.get(key)
            if want != written:
                bad.append(Mismatch(source, line, key, written, want))
    return sorted(bad, key=lambda m: (m.source, m.line, m.key))


def check_files(
    md_paths: Sequence[str | os.PathLike[str]],
    journals: Sequence[str | os.PathLike[str]],
    baseline: str | os.PathLike[str] | None = None,
    floor: str | os.PathLike[str] | None = None,
) -> list[Mismatch]:
    expected = recompute(journals, baseline, floor)
    out: list[Mismatch] = []
    for p in md_paths:
        out += check(Path(p).read_text(encoding="utf-8"), expected, str(p))
    return out


@click.command("consistency")
@click.argument("markdown", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--journals",
    "-j",
    multiple=True,
    required=True,
    type=click.Path(),
    help="Journal file or directory (repeatable).",
)
@click.option("--baseline", "-b", default=None, type=click.Path())
@click.option(
    "--floor", "-f", default=None, type=click.Path(), help="The floor's journals (pod-kill.floor.*)."
)
def main(
    markdown: tuple[str, ...], journals: tuple[str, ...], baseline: str | None, floor: str | None
) -> None:
    """Check the `<!-- fig:… -->` figures of MARKDOWN files against the journals."""
    try:
        bad = check_files(markdown, journals, baseline, floor)
    except JournalError as exc:
        click.echo(f"error: unreadable journal {exc}", err=True)
        sys.exit(3)
    for m in bad:
        click.echo(str(m))
    n = sum(
        len(v) for p in markdown for v in figures_in_markdown(Path(p).read_text(encoding="utf-8")).values()
    )
    click.echo(f"{n - len(bad)} of {n} figures match the journals", err=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
