"""The small interface every vector-store backend implements, its data shapes and typed errors.

Why: the HTTP layer must not know which store is behind it, and tests plug an in-memory double
into exactly this interface. Errors are typed so that the API maps them to 503/502/4xx, never 500.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Protocol, TypedDict, runtime_checkable

__all__ = [
    "BackendError",
    "BackendRejected",
    "BackendStatus",
    "BackendUnavailable",
    "CollectionMissing",
    "DOC_NAMESPACE",
    "SearchHit",
    "ShardInfo",
    "StoredDocument",
    "VectorBackend",
    "doc_uuid",
]

logger = logging.getLogger(__name__)

# Fixed namespace: the same document id maps to the same UUID in every replica and every run,
# which makes ingest idempotent (re-ingest overwrites instead of duplicating).
DOC_NAMESPACE = uuid.UUID("5d3f6c1e-9a52-5b8e-a1c4-7e0b2f9d4c31")


def doc_uuid(doc_id: str) -> str:
    """Deterministic UUID5 of a document id (the store's primary key)."""
    return str(uuid.uuid5(DOC_NAMESPACE, doc_id))


class StoredDocument(TypedDict):
    """A document ready to be written: id, text, free-form metadata and its embedding."""

    id: str
    text: str
    metadata: dict[str, Any]
    vector: list[float]


class SearchHit(TypedDict):
    """One search result; score is cosine similarity in [-1, 1], higher is closer."""

    id: str
    score: float
    text: str


class ShardInfo(TypedDict, total=False):
    """One physical shard (or shard replica) as reported by the store."""

    name: str
    node: str
    object_count: int | None
    state: str
    local: bool


class BackendStatus(TypedDict):
    """Result of ``ping``: is the store reachable, does our collection exist, and why not."""

    reachable: bool
    collection_exists: bool
    detail: str


class BackendError(Exception):
    """Any backend failure that is not the client's fault (mapped to 502)."""


class BackendUnavailable(BackendError):
    """The store cannot be reached or timed out (mapped to 503)."""


class CollectionMissing(BackendError):
    """The configured collection does not exist (yet) in the store (mapped to 503)."""


class BackendRejected(BackendError):
    """The store refused the request, e.g. a vector dimension mismatch (mapped to 502)."""


@runtime_checkable
class VectorBackend(Protocol):
    """What the search service needs from a vector store. All methods are blocking."""

    name: str
    collection: str

    def ensure_collection(self, name: str, dim: int, shards: int, replication: int) -> bool:
        """Create the collection if missing; tolerate a concurrent creator. True if we created it."""
        ...

    def upsert(self, docs: list[StoredDocument]) -> int:
        """Insert or overwrite documents (keyed by ``doc_uuid(id)``); returns how many were written."""
        ...

    def search(self, vector: list[float], top_k: int) -> list[SearchHit]:
        """Nearest neighbours by cosine similarity, best first."""
        ...

    def count(self) -> int:
        """Number of documents in the collection."""
        ...

    def shard_info(self) -> list[ShardInfo]:
        """Per-shard information, empty if the store does not expose it."""
        ...

    def ping(self) -> BackendStatus:
        """Cheap reachability + collection-existence check; never raises."""
        ...

    def warm(self) -> None:
        """Get ready for the first request (import and connect a client) after start-up, off the
        readiness path; never raises."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
