"""The ADR's "What was not verified" tells the Qdrant trial as it was (issue 23): run outside this
repository's evidence, its figures unmarked (no committed journal), and what is still unverified."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scaleproof.report.consistency import figures_in_markdown

pytestmark = pytest.mark.unit

ADR = Path(__file__).resolve().parents[2] / "docs" / "adr" / "0002-vector-store-sharding-and-replication.md"


def _qdrant_item() -> str:
    text = ADR.read_text(encoding="utf-8")
    section = text[text.index("## What was not verified") :]
    (item,) = [b for b in re.split(r"\n(?=- )", section) if b.startswith("- **Qdrant")]
    return item


def test_the_qdrant_trial_is_stated_as_a_check_outside_the_repository() -> None:
    item = " ".join(_qdrant_item().split())
    assert "Qdrant was not run here" not in ADR.read_text(encoding="utf-8")
    assert "outside this repository" in item and "1.18.3" in item and "built from Qdrant's own source" in item
    assert "k8s/overlays/qdrant-local" in item
    for figure in ("26/42/32", "60 searches per shard", "3 shards queried", "10 kills", "3.11 s", "3.82 s"):
        assert figure in item, figure
    assert "0 of 11,628 requests failed" in item
    assert figures_in_markdown(_qdrant_item()) == {}, "no journal is committed: no figure marker"


def test_what_is_still_unverified_on_qdrant_stays_said() -> None:
    item = " ".join(_qdrant_item().split())
    tail = item[item.index("Still not verified") :]
    assert "hpa-scale on Qdrant" in tail
    assert "replication factor ≥ 2 on Kubernetes" in tail
    assert "`k8s/overlays/qdrant`" in tail and "non-local" in tail
