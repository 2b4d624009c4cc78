"""Moved to `scaleproof.journal` (issue 11: the verdict, a core module, reads journals without
importing the report). Kept as a name for `scaleproof.evidence`'s import until that module's imports
are reworked; new code imports `scaleproof.journal`."""

from __future__ import annotations

from scaleproof.journal import *  # noqa: F403
from scaleproof.journal import __all__ as __all__
