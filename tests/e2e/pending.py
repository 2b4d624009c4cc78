"""List the e2e tests the run leaves out, each with its reason: `pending(reason)`, claims that have
not yet held on the real cluster, and `full(reason)`, tests the CI tier leaves out for time (the
reason names what covers their claim there; `scripts/test.sh --full` runs them).

`scripts/test.sh` prints this list before it runs the e2e suite with `-m "not pending and not full"`
(or `-m "not pending"` with --full), so no test is ever silently dropped: each line names the test
and why. Run: `python -m tests.e2e.pending [--full]` (exit 0; prints nothing when none is left out).
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest


class _Collector:
    def __init__(self, marks: tuple[str, ...]) -> None:
        self.marks = marks
        self.left_out: list[tuple[str, str, str]] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            for name in self.marks:
                mark = item.get_closest_marker(name)
                if mark is not None:
                    reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "no reason given")
                    self.left_out.append((name, item.nodeid, str(reason)))
                    break


_SAID = {"pending": "pending, not run", "full": "full tier only (scripts/test.sh --full)"}


def left_out(where: Path, full: bool) -> list[tuple[str, str, str]] | int:
    """(mark, test id, reason) of every test under `where` the run leaves out; pytest's exit code when
    the tests cannot be collected."""
    collector = _Collector(("pending",) if full else ("pending", "full"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = pytest.main(
            ["-q", "--collect-only", "-p", "no:cacheprovider", str(where)], plugins=[collector]
        )
    if code not in (0, 5):
        print(out.getvalue()[-2000:], file=sys.stderr)
        print(f"[test] could not collect the e2e tests (pytest exit {code})", file=sys.stderr)
        return int(code)
    return collector.left_out


def main(argv: list[str]) -> int:
    found = left_out(Path(__file__).resolve().parent, "--full" in argv)
    if isinstance(found, int):
        return found
    for name, nodeid, reason in found:
        print(f"[test] {_SAID[name]}: {nodeid}\n[test]   {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
