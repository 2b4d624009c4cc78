"""The bundled corpus and the deterministic synthetic corpora and queries built from it."""

from __future__ import annotations

import json
import re

import pytest

from loadgen.corpus import DEFAULT_CORPUS, generate_corpus, load_documents, queries, sentences_by_topic

pytestmark = pytest.mark.unit


def test_real_corpus_has_at_least_100_unique_sequential_ids() -> None:
    docs = load_documents()
    ids = [d["id"] for d in docs]
    assert len(docs) >= 100
    assert len(set(ids)) == len(ids)
    assert ids == [f"doc-{i:03d}" for i in range(1, len(ids) + 1)]


def test_real_corpus_text_is_varied_and_non_trivial() -> None:
    docs = load_documents()
    texts = [d["text"] for d in docs]
    assert len(set(texts)) == len(texts)
    for t in texts:
        n_sentences = len(re.findall(r"[.!?](\s|$)", t))
        assert 2 <= n_sentences <= 5, t
        assert len(t) >= 100, t
    topics = {d["metadata"]["topic"] for d in docs}
    assert len(topics) >= 10
    assert max(sum(d["metadata"]["topic"] == t for d in docs) for t in topics) <= 20  # no topic dominates
    assert "lorem" not in " ".join(texts).lower()


def test_load_documents_validates_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "text": "  "}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load_documents(bad)
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "x", "text": "Hello there."}) + "\n\n", encoding="utf-8")
    assert load_documents(good) == [{"id": "x", "text": "Hello there.", "metadata": {}}]
    assert DEFAULT_CORPUS.name == "documents.jsonl"


def test_generated_corpus_is_deterministic_and_seed_dependent() -> None:
    a, b, c = generate_corpus(500, seed=7), generate_corpus(500, seed=7), generate_corpus(500, seed=8)
    assert a == b
    assert [d["text"] for d in a] != [d["text"] for d in c]
    assert generate_corpus(0) == []
    with pytest.raises(ValueError):
        generate_corpus(-1)


def test_generated_documents_recombine_real_sentences_of_one_topic() -> None:
    pools = sentences_by_topic()
    docs = generate_corpus(10_000, seed=1)
    assert len(docs) == 10_000
    assert (
        len({d["id"] for d in docs}) == 10_000
        and docs[0]["id"] == "syn-000001"
        and docs[-1]["id"] == "syn-010000"
    )
    assert len({d["text"] for d in docs}) == 10_000
    for d in docs[:300]:
        pool = pools[d["metadata"]["topic"]]
        parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9])", d["text"])
        assert 2 <= len(parts) <= 5
        assert all(p in pool for p in parts), d


def test_queries_are_deterministic_and_drawn_from_the_corpus() -> None:
    q1, q2 = queries(300, seed=3), queries(300, seed=3)
    assert q1 == q2 and q1 != queries(300, seed=4)
    assert len(q1) == 300 and all(q.strip() for q in q1)
    vocabulary = set(re.findall(r"[a-z][a-z'-]+", " ".join(d["text"] for d in load_documents()).lower()))
    for q in q1:
        words = re.findall(r"[a-z][a-z'-]+", q.lower())
        assert words and set(words) <= vocabulary, q
    lengths = [len(q.split()) for q in q1]
    assert min(lengths) >= 2 and max(lengths) >= 8  # keywords, phrases and whole sentences are all present
