"""Test-data corpus: the real documents, deterministic synthetic corpora and search queries.

Why recombination: scaling runs need 10k–100k documents, but the vector store and the embedder
should see realistic text (real vocabulary, topical coherence) so that search cost and result
quality resemble real use. Synthetic documents are built from sentences of real documents of one
topic; queries are keywords, phrases and sentences drawn from the same text.
"""

from __future__ import annotations

import json
import logging
import random
import re
from pathlib import Path
from typing import Any, TypedDict

__all__ = ["DEFAULT_CORPUS", "Document", "generate_corpus", "load_documents", "queries", "sentences_by_topic"]

logger = logging.getLogger(__name__)

DEFAULT_CORPUS = Path(__file__).resolve().parent / "corpus" / "documents.jsonl"

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]+")
_STOP = frozenset(
    """a an and are as at be been but by can do does for from has have how if in into is it its more
    most not of on or once one only other over same so some such than that the their them then there
    these they this those to up very was were what when where which while who why will with without
    would each every after before about also all any""".split()
)


class Document(TypedDict):
    """One document as posted to the app's /documents endpoint."""

    id: str
    text: str
    metadata: dict[str, Any]


def load_documents(path: str | Path | None = None) -> list[Document]:
    """Read a JSONL corpus (default: the bundled real corpus); validates id/text of every line."""
    p = Path(path) if path is not None else DEFAULT_CORPUS
    docs: list[Document] = []
    with p.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            raw = json.loads(line)
            if (
                not isinstance(raw.get("id"), str)
                or not isinstance(raw.get("text"), str)
                or not raw["text"].strip()
            ):
                raise ValueError(f"{p}:{lineno}: each line needs a string 'id' and a non-empty 'text'")
            docs.append({"id": raw["id"], "text": raw["text"], "metadata": dict(raw.get("metadata") or {})})
    return docs


def _split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text.strip()) if s.strip()]


def sentences_by_topic(documents: list[Document] | None = None) -> dict[str, list[str]]:
    """Sentences of the corpus grouped by ``metadata.topic`` (``misc`` when absent), in corpus order."""
    docs = documents if documents is not None else load_documents()
    out: dict[str, list[str]] = {}
    for d in docs:
        topic = str(d["metadata"].get("topic", "misc"))
        out.setdefault(topic, []).extend(_split_sentences(d["text"]))
    return out


def generate_corpus(n: int, seed: int = 0, documents: list[Document] | None = None) -> list[Document]:
    """``n`` synthetic documents (ids ``syn-000001``…), each 2–5 sentences of one topic; deterministic.

    Texts are unique as long as the topic pools allow it (the 134-document corpus gives far more
    combinations than 100k); a duplicate is re-drawn a bounded number of times.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    pools = sentences_by_topic(documents)
    topics = sorted(pools)
    rng = random.Random(f"scaleproof-corpus-{seed}")
    seen: set[str] = set()
    out: list[Document] = []
    width = max(6, len(str(n)))
    for i in range(1, n + 1):
        text = ""
        topic = topics[0]
        for _attempt in range(20):
            topic = rng.choice(topics)
            pool = pools[topic]
            k = min(len(pool), rng.randint(2, 5))
            text = " ".join(rng.sample(pool, k))
            if text not in seen:
                break
        seen.add(text)
        out.append(
            {"id": f"syn-{i:0{width}d}", "text": text, "metadata": {"topic": topic, "synthetic": True}}
        )
    return out


def queries(n: int, seed: int = 0, documents: list[Document] | None = None) -> list[str]:
    """``n`` search queries drawn from the corpus: ~50% keywords, ~35% phrases, ~15% whole sentences."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    docs = documents if documents is not None else load_documents()
    sentences = [s for d in docs for s in _split_sentences(d["text"])]
    rng = random.Random(f"scaleproof-queries-{seed}")
    out: list[str] = []
    while len(out) < n:
        sentence = rng.choice(sentences)
        words = _WORD_RE.findall(sentence)
        r = rng.random()
        if r < 0.5:
            content = [w.lower() for w in words if w.lower() not in _STOP and len(w) > 2]
            if len(content) < 2:
                continue
            k = min(len(content), rng.randint(2, 4))
            q = " ".join(rng.sample(content, k))
        elif r < 0.85:
            if len(words) < 3:
                continue
            span = min(len(words), rng.randint(3, 7))
            start = rng.randint(0, len(words) - span)
            q = " ".join(words[start : start + span])
        else:
            q = sentence
        out.append(q)
    return out
