"""List the e2e tests marked `pending(reason)`: claims that have not yet held on the real cluster.

`scripts/test.sh` prints this list before it runs the e2e suite with `-m "not pending"`, so a claim
that is known not to hold yet is never silently dropped: each line names the test and what its last
real run showed. Run: `python -m tests.e2e.pending` (exit 0; prints nothing when none is pending).
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest


class _Collector:
    def __init__(self) -> None:
        self.pending: list[tuple[str, str]] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            mark = item.get_closest_marker("pending")
            if mark is not None:
                reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "no reason given")
                self.pending.append((item.nodeid, str(reason)))


def main() -> int:
    collector = _Collector()
    here = Path(__file__).resolve().parent
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = pytest.main(["-q", "--collect-only", "-p", "no:cacheprovider", str(here)], plugins=[collector])
    if code not in (0, 5):
        print(out.getvalue()[-2000:], file=sys.stderr)
        print(f"[test] could not collect the e2e tests (pytest exit {code})", file=sys.stderr)
        return int(code)
    for nodeid, reason in collector.pending:
        print(f"[test] pending, not run: {nodeid}\n[test]   {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
