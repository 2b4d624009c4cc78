"""The service's embedder: the numpy implementation loaded on first use.

Why lazy: numpy and the hashing embedder (searchapp.embedding) are about a fifth of the app's start-up
CPU, and a replacement pod should be Ready as soon as it can answer; the service warms the embedder
right after its first ready answer (`_Service.warm_once`), and a request that comes first loads it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .settings import EmbeddingConfig

if TYPE_CHECKING:
    from .embedding import HashingEmbedder

__all__ = ["Embedder"]


class Embedder:
    """`HashingEmbedder` of `config`, imported and built on the first `load()` (thread-safe)."""

    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        self.config = config or EmbeddingConfig()
        self._impl: HashingEmbedder | None = None
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self.config.dim

    def load(self) -> HashingEmbedder:
        if self._impl is None:
            with self._lock:
                if self._impl is None:
                    from .embedding import HashingEmbedder

                    self._impl = HashingEmbedder(self.config)
        return self._impl

    def embed(self, text: str) -> Any:
        """See `HashingEmbedder.embed` (a float32 vector of `dim`)."""
        return self.load().embed(text)
