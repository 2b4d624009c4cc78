"""Environment contract of the search service, parsed and validated once at start-up.

Why: a typo in a Deployment's env must fail the pod loudly at start (CrashLoopBackOff with a clear
message), not produce a half-working replica.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["EmbeddingConfig", "Settings", "SettingsError"]

logger = logging.getLogger(__name__)

_COLLECTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
BACKENDS = ("weaviate", "qdrant")
# Consistency levels each store accepts. Weaviate: per request, for reads and writes alike
# (ONE, QUORUM, ALL). Qdrant: reads per request (an integer, majority, quorum, all); writes through
# the collection's write_consistency_factor (an integer, fixed at creation).
WEAVIATE_CONSISTENCY = ("ONE", "QUORUM", "ALL")
QDRANT_READ_CONSISTENCY = ("majority", "quorum", "all")


class SettingsError(ValueError):
    """An environment variable has an invalid value."""


@dataclass(frozen=True)
class EmbeddingConfig:
    """Embedding parameters; the same values must be used for documents and queries."""

    dim: int = 384
    rounds: int = 256
    char_ngram_min: int = 3
    char_ngram_max: int = 5
    word_weight: float = 1.0
    bigram_weight: float = 0.5
    char_weight: float = 0.8
    max_chars: int = 4000

    def __post_init__(self) -> None:
        if self.dim < 8:
            raise ValueError(f"EMBED_DIM must be >= 8, got {self.dim}")
        if not 1 <= self.rounds <= 4096:
            raise ValueError(f"EMBED_ROUNDS must be in 1..4096, got {self.rounds}")
        if not 1 <= self.char_ngram_min <= self.char_ngram_max <= 8:
            raise ValueError(
                "char n-gram range must satisfy 1 <= min <= max <= 8, "
                f"got {self.char_ngram_min}..{self.char_ngram_max}"
            )


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be in {lo}..{hi}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be in {lo}..{hi}, got {value}")
    return value


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, "").strip() or default


@dataclass(frozen=True)
class Settings:
    """All knobs of the service; see app/README.md for the table of environment variables."""

    host: str = "0.0.0.0"
    port: int = 8080
    vector_backend: str = "weaviate"
    collection: str = "Documents"
    embed_dim: int = 384
    embed_rounds: int = 256
    max_batch: int = 256
    shards: int = 1
    replication_factor: int = 1
    # "" = the store's own default (Weaviate QUORUM, Qdrant 1 / write_consistency_factor 1)
    read_consistency: str = ""
    write_consistency: str = ""
    weaviate_http_host: str = "weaviate"
    weaviate_http_port: int = 8080
    weaviate_grpc_host: str = "weaviate"
    weaviate_grpc_port: int = 50051
    qdrant_url: str = "http://qdrant:6333"
    qdrant_expected_peers: int = 1
    backend_timeout_s: float = 10.0
    # a search's own deadline (Weaviate: the client's query timeout): short, so that a search that
    # went to a peer on a dead node fails fast and is tried again on a fresh connection
    search_timeout_s: float = 2.0
    drain_seconds: float = 5.0
    graceful_timeout_s: float = 10.0
    ensure_retry_s: float = 2.0
    # a search the store answered "unavailable" is tried again this many times, SEARCH_RETRY_DELAY_MS
    # apart (x1, x2, ...): a replicated store routes each try anew (Weaviate picks a replica per remote
    # shard at random), so a peer that died but is not yet marked dead fails one try, not the request
    search_retries: int = 2
    # once Ready, a replica stays Ready while its store checks have failed for less than this
    # (lifecycle.StoreHealth); 0: every failed check turns readiness off
    store_unready_after_s: float = 30.0
    search_retry_delay_s: float = 0.1
    log_level: str = "info"

    def __post_init__(self) -> None:
        if self.vector_backend not in BACKENDS:
            raise SettingsError(
                f"VECTOR_BACKEND must be one of {', '.join(BACKENDS)}, got {self.vector_backend!r}"
            )
        if not _COLLECTION_RE.match(self.collection):
            raise SettingsError(
                f"COLLECTION must match {_COLLECTION_RE.pattern} (Weaviate class-name rules), "
                f"got {self.collection!r}"
            )
        if self.vector_backend == "weaviate" and not self.collection[0].isupper():
            raise SettingsError(
                f"Weaviate collection names start with an upper-case letter, got {self.collection!r}"
            )
        _check_consistency(self)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); raises SettingsError on bad values."""
        env = os.environ if env is None else env
        http_host = _str(env, "WEAVIATE_HTTP_HOST", cls.weaviate_http_host)
        return cls(
            host=_str(env, "HOST", cls.host),
            port=_int(env, "PORT", cls.port, 1, 65535),
            vector_backend=_str(env, "VECTOR_BACKEND", cls.vector_backend).lower(),
            collection=_str(env, "COLLECTION", cls.collection),
            embed_dim=_int(env, "EMBED_DIM", cls.embed_dim, 8, 65536),
            embed_rounds=_int(env, "EMBED_ROUNDS", cls.embed_rounds, 1, 4096),
            max_batch=_int(env, "MAX_BATCH", cls.max_batch, 1, 10000),
            shards=_int(env, "SHARDS", cls.shards, 1, 1024),
            replication_factor=_int(env, "REPLICATION_FACTOR", cls.replication_factor, 1, 64),
            read_consistency=_str(env, "READ_CONSISTENCY", cls.read_consistency),
            write_consistency=_str(env, "WRITE_CONSISTENCY", cls.write_consistency),
            weaviate_http_host=http_host,
            weaviate_http_port=_int(env, "WEAVIATE_HTTP_PORT", cls.weaviate_http_port, 1, 65535),
            weaviate_grpc_host=_str(env, "WEAVIATE_GRPC_HOST", http_host),
            weaviate_grpc_port=_int(env, "WEAVIATE_GRPC_PORT", cls.weaviate_grpc_port, 1, 65535),
            qdrant_url=_str(env, "QDRANT_URL", cls.qdrant_url),
            qdrant_expected_peers=_int(env, "QDRANT_EXPECTED_PEERS", cls.qdrant_expected_peers, 1, 1024),
            backend_timeout_s=_float(env, "BACKEND_TIMEOUT_SECONDS", cls.backend_timeout_s, 0.1, 600),
            search_timeout_s=_float(env, "SEARCH_TIMEOUT_SECONDS", cls.search_timeout_s, 0.1, 600),
            drain_seconds=_float(env, "DRAIN_SECONDS", cls.drain_seconds, 0, 600),
            graceful_timeout_s=_float(env, "GRACEFUL_TIMEOUT_SECONDS", cls.graceful_timeout_s, 0, 600),
            ensure_retry_s=_float(env, "ENSURE_RETRY_SECONDS", cls.ensure_retry_s, 0.05, 600),
            search_retries=_int(env, "SEARCH_RETRIES", cls.search_retries, 0, 10),
            store_unready_after_s=_float(
                env, "STORE_UNREADY_AFTER_SECONDS", cls.store_unready_after_s, 0, 3600
            ),
            search_retry_delay_s=_float(
                env, "SEARCH_RETRY_DELAY_MS", 1000 * cls.search_retry_delay_s, 0, 5000
            )
            / 1000,
            log_level=_str(env, "LOG_LEVEL", cls.log_level).lower(),
        )


def _check_consistency(s: Settings) -> None:
    """READ_CONSISTENCY / WRITE_CONSISTENCY are values the configured store accepts."""
    for name, value in (("READ_CONSISTENCY", s.read_consistency), ("WRITE_CONSISTENCY", s.write_consistency)):
        if not value:
            continue
        if s.vector_backend == "weaviate":
            if value.upper() not in WEAVIATE_CONSISTENCY:
                raise SettingsError(
                    f"{name} for Weaviate must be one of {', '.join(WEAVIATE_CONSISTENCY)}, got {value!r}"
                )
            continue
        if value.isdigit() and 1 <= int(value) <= s.replication_factor:
            continue
        if name == "READ_CONSISTENCY" and value.lower() in QDRANT_READ_CONSISTENCY:
            continue
        words = "" if name == "WRITE_CONSISTENCY" else " or " + ", ".join(QDRANT_READ_CONSISTENCY)
        accepted = "an integer" + words
        raise SettingsError(
            f"{name} for Qdrant must be {accepted} (integers 1..REPLICATION_FACTOR={s.replication_factor}), "
            f"got {value!r}"
        )
