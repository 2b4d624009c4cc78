"""Offline hashing text embedder (pure numpy).

Why: the application under test must spend real, tunable CPU per search (the HPA scales on CPU)
without downloading a model. We use signed feature hashing ("hashing trick") over three feature
groups: word unigrams, word bigrams and character n-grams. Each distinct feature gets a sublinear
term frequency ``1 + ln(tf)`` and is hashed into ``rounds`` independent signed positions (a count
sketch with several rows, i.e. a sparse random projection). ``rounds`` is the CPU knob: the work is
proportional to ``rounds * number_of_features`` and more rounds also lower the variance of the
inner-product estimate, so the knob is not a busy loop.

All hashing is stable across processes and machines (blake2b for words, a fixed 64-bit polynomial
hash plus splitmix64 finaliser for characters); Python's salted ``hash`` is never used, so every
replica produces the same vector for the same text.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata

import numpy as np
import numpy.typing as npt

from .settings import EmbeddingConfig

__all__ = ["EmbeddingConfig", "HashingEmbedder", "cosine", "normalise_text", "tokenize"]

logger = logging.getLogger(__name__)

_TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)

# Small English stop-word list: these words carry no topic and would otherwise dominate short queries.
_STOPWORDS = frozenset(
    """a an and are as at be but by can do does for from has have how i if in into is it its of on or
    so than that the their them then there these they this to was we were what when where which who
    why will with you your""".split()
)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_POLY = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime, used as polynomial base
_GROUP_SALT = {"word": 0x1234_5678_9ABC_DEF1, "bigram": 0x0FED_CBA9_8765_4321, "char": 0x5555_AAAA_3333_CCCC}


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Avalanche 64-bit integers (wrapping arithmetic); stable reference finaliser."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def normalise_text(text: str) -> str:
    """NFKC + case folding so that width/case variants map to the same features."""
    return unicodedata.normalize("NFKC", text).casefold()


def tokenize(text: str) -> list[str]:
    """Words of the normalised text without stop words (falls back to all words if only stop words)."""
    words = _TOKEN_RE.findall(normalise_text(text))
    content = [w for w in words if w not in _STOPWORDS]
    return content or words


def _hash_strings(items: list[str], salt: int) -> npt.NDArray[np.uint64]:
    """Stable 64-bit ids for strings (blake2b keyed by the feature-group salt)."""
    key = salt.to_bytes(8, "little")
    out = np.empty(len(items), dtype=np.uint64)
    for i, item in enumerate(items):
        out[i] = int.from_bytes(
            hashlib.blake2b(item.encode("utf-8"), digest_size=8, key=key).digest(), "little"
        )
    return out


def _char_ngram_ids(text: str, n_min: int, n_max: int) -> npt.NDArray[np.uint64]:
    """Stable ids of all character n-grams (n_min..n_max) of ``text``, vectorised over positions."""
    cps = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    parts: list[npt.NDArray[np.uint64]] = []
    for n in range(n_min, n_max + 1):
        count = cps.size - n + 1
        if count <= 0:
            continue
        h = np.full(count, n, dtype=np.uint64) * _GOLDEN
        for j in range(n):
            h = (h * _POLY) ^ cps[j : j + count]
        parts.append(_splitmix64(h ^ np.uint64(_GROUP_SALT["char"])))
    if not parts:
        return np.empty(0, dtype=np.uint64)
    return np.concatenate(parts)


class HashingEmbedder:
    """Maps text to an L2-normalised float32 vector of ``config.dim`` dimensions."""

    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        self.config = config or EmbeddingConfig()
        rng_seeds = np.arange(1, self.config.rounds + 1, dtype=np.uint64) * _GOLDEN
        self._round_seeds = _splitmix64(rng_seeds)[:, None]
        self._scale = 1.0 / np.sqrt(self.config.rounds)

    @property
    def dim(self) -> int:
        return self.config.dim

    def _project(self, ids: npt.NDArray[np.uint64]) -> npt.NDArray[np.float64]:
        """Sublinear-TF, multi-round signed hashing of feature ids into one L2-normalised vector."""
        dim = self.config.dim
        if ids.size == 0:
            return np.zeros(dim, dtype=np.float64)
        uniq, counts = np.unique(ids, return_counts=True)
        tf = 1.0 + np.log(counts.astype(np.float64))
        mixed = _splitmix64(uniq[None, :] ^ self._round_seeds)  # shape (rounds, features)
        index = (mixed % np.uint64(dim)).astype(np.intp)
        sign = np.where((mixed >> np.uint64(63)) == 0, 1.0, -1.0)
        weights = (sign * tf[None, :]).ravel()
        vec = np.bincount(index.ravel(), weights=weights, minlength=dim).astype(np.float64)
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def embed(self, text: str) -> npt.NDArray[np.float32]:
        """Embed one text. Raises ValueError for text without any letter or digit."""
        cfg = self.config
        text = text[: cfg.max_chars]
        words = tokenize(text)
        if not words:
            raise ValueError("text contains no words (letters or digits)")
        bigrams = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
        char_text = f" {' '.join(words)} "
        vec = cfg.word_weight * self._project(_hash_strings(words, _GROUP_SALT["word"]))
        if bigrams:
            vec += cfg.bigram_weight * self._project(_hash_strings(bigrams, _GROUP_SALT["bigram"]))
        vec += cfg.char_weight * self._project(
            _char_ngram_ids(char_text, cfg.char_ngram_min, cfg.char_ngram_max)
        )
        norm = float(np.linalg.norm(vec))
        return (vec / norm).astype(np.float32)

    def embed_many(self, texts: list[str]) -> list[npt.NDArray[np.float32]]:
        """Embed several texts (sequentially; each is independent)."""
        return [self.embed(t) for t in texts]


def cosine(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> float:
    """Cosine similarity of two vectors (0.0 if either is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))
