"""Properties of the offline hashing embedder: shape, determinism, sublinear TF and semantics."""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
from searchapp.embedding import EmbeddingConfig, HashingEmbedder, cosine, tokenize

from loadgen.corpus import load_documents

pytestmark = pytest.mark.unit

SNIPPET = (
    "import hashlib, sys; from searchapp.embedding import HashingEmbedder; "
    "v = HashingEmbedder().embed('Kubernetes rolls back a Deployment'); "
    "sys.stdout.write(hashlib.sha256(v.tobytes()).hexdigest())"
)


@functools.cache
def _corpus_matrix() -> tuple[list[str], HashingEmbedder, np.ndarray]:
    """Embed the real corpus once per test session (default config, as in production)."""
    e = HashingEmbedder()
    texts = [d["text"] for d in load_documents()]
    return texts, e, np.stack([e.embed(t) for t in texts])


def test_vector_shape_dtype_and_unit_norm() -> None:
    e = HashingEmbedder(EmbeddingConfig(dim=128, rounds=8))
    v = e.embed("The Nile flows north into the Mediterranean Sea.")
    assert v.shape == (128,) and v.dtype == np.float32
    assert float(np.linalg.norm(v)) == pytest.approx(1.0, abs=1e-5)
    assert np.count_nonzero(v) > 32


def test_same_vector_in_other_processes_with_other_hash_seeds() -> None:
    """Replicas must agree: no dependence on Python's salted hash()."""
    local = hashlib.sha256(
        HashingEmbedder().embed("Kubernetes rolls back a Deployment").tobytes()
    ).hexdigest()
    for seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", SNIPPET], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout == local


def test_case_and_width_variants_embed_identically() -> None:
    e = HashingEmbedder(EmbeddingConfig(rounds=8))
    assert np.array_equal(e.embed("Lake BAIKAL is deep"), e.embed("lake baikal is deep"))
    assert np.array_equal(e.embed("ＡＰＯＬＬＯ moon"), e.embed("apollo moon"))


def test_similar_texts_score_higher_than_unrelated_ones() -> None:
    e = HashingEmbedder()
    k8s_a = e.embed("How do I roll back a broken Kubernetes deployment?")
    k8s_b = e.embed("kubectl rollout undo returns the Kubernetes Deployment to its previous revision.")
    bread = e.embed("Knead the bread dough for ten minutes, then let it rise in a warm place.")
    sourdough = e.embed("Sourdough bread dough rises slowly thanks to wild yeast.")
    assert cosine(k8s_a, k8s_b) > cosine(k8s_a, bread) + 0.05
    assert cosine(bread, sourdough) > cosine(bread, k8s_b) + 0.05
    assert abs(cosine(k8s_a, bread)) < 0.1  # unrelated texts are near orthogonal


@pytest.mark.parametrize(
    ("query", "expected", "max_rank"),
    [
        ("roll back a broken kubernetes deployment", "Deployment keeps a revision", 0),
        ("deepest lake on the planet", "Baikal", 0),
        ("first people to walk on the moon", "Apollo 11", 0),
        ("how does the offside rule work in football", "offside rule", 0),
        ("sourdough starter wild yeast", "Sourdough", 0),
        ("autoscaler adds pods when cpu is high", "Horizontal Pod Autoscaler", 0),
        ("why do central banks raise interest rates", "Inflation", 0),
        ("tempering chocolate for a glossy finish", "tempered", 0),
        ("splitting data across servers with a shard key", "Sharding splits", 0),
        ("nearest neighbour search over embeddings", "Vector databases", 2),
    ],
)
def test_paraphrased_queries_retrieve_their_document_from_the_corpus(
    query: str, expected: str, max_rank: int
) -> None:
    texts, e, matrix = _corpus_matrix()
    order = np.argsort(-(matrix @ e.embed(query)))
    rank = next(i for i, j in enumerate(order) if expected in texts[j])
    assert rank <= max_rank


def test_term_frequency_is_sublinear() -> None:
    """Counts c map to weight 1 + ln(c): a feature seen e^1 times weighs 2, not 2.718."""
    e = HashingEmbedder(EmbeddingConfig(dim=4096, rounds=1))
    a, b = np.uint64(11), np.uint64(22)
    single = [e._project(np.array([x], dtype=np.uint64)) for x in (a, b)]
    ia, ib = (int(np.flatnonzero(s)[0]) for s in single)
    assert ia != ib
    counts_b = 7  # 1 + ln(7) = 2.9459
    vec = e._project(np.array([a] + [b] * counts_b, dtype=np.uint64))
    ratio = abs(vec[ib]) / abs(vec[ia])
    assert ratio == pytest.approx(1 + np.log(counts_b), rel=1e-9)


def test_rounds_spread_each_feature_over_more_dimensions() -> None:
    """EMBED_ROUNDS is the CPU knob: each feature is hashed into `rounds` signed positions."""
    ids = np.array([123456789], dtype=np.uint64)
    nnz = [np.count_nonzero(HashingEmbedder(EmbeddingConfig(rounds=r))._project(ids)) for r in (1, 8, 64)]
    assert nnz[0] == 1 and 6 <= nnz[1] <= 8 and 50 <= nnz[2] <= 64


def test_text_without_words_is_rejected_and_stopwords_only_still_embeds() -> None:
    e = HashingEmbedder(EmbeddingConfig(rounds=4))
    with pytest.raises(ValueError, match="no words"):
        e.embed("?! ... --")
    assert tokenize("the of and") == ["the", "of", "and"]
    assert tokenize("The Nile and the Danube") == ["nile", "danube"]
    assert float(np.linalg.norm(e.embed("the of and"))) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "kwargs", [{"dim": 4}, {"rounds": 0}, {"rounds": 5000}, {"char_ngram_min": 4, "char_ngram_max": 3}]
)
def test_invalid_config_is_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        EmbeddingConfig(**kwargs)
