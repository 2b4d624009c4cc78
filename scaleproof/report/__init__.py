"""Chaos Toolkit journals → ADR evidence (Markdown + PNG plots), in pure Python (no pandoc).

Modules: `journal` (load/validate), `plots` (matplotlib Agg, byte-stable PNGs), `markdown` (the evidence
documents), `consistency` (figure markers in ADRs checked against the journals), `cli` (`chaos adr`,
`scaleproof report`). Importing this package does not import matplotlib.
"""

from __future__ import annotations

from scaleproof.journal import JournalError, find_evidence, load_journal

__all__ = ["JournalError", "find_evidence", "load_journal"]
