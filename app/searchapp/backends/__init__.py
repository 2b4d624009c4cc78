"""Vector-store backends behind one small interface, chosen by VECTOR_BACKEND.

Why a factory: the HTTP layer only sees ``VectorBackend``; client libraries are imported lazily so
that importing the package (e.g. in unit tests with a test double) needs neither store's client.
"""

from __future__ import annotations

import logging

from ..settings import Settings
from .base import (
    DOC_NAMESPACE,
    BackendError,
    BackendRejected,
    BackendStatus,
    BackendUnavailable,
    CollectionMissing,
    SearchHit,
    ShardInfo,
    StoredDocument,
    VectorBackend,
    doc_uuid,
)

__all__ = [
    "DOC_NAMESPACE",
    "BackendError",
    "BackendRejected",
    "BackendStatus",
    "BackendUnavailable",
    "CollectionMissing",
    "SearchHit",
    "ShardInfo",
    "StoredDocument",
    "VectorBackend",
    "backend_from_settings",
    "doc_uuid",
]

logger = logging.getLogger(__name__)


def backend_from_settings(settings: Settings) -> VectorBackend:
    """Build the configured backend (no network traffic happens here)."""
    if settings.vector_backend == "weaviate":
        from .weaviate_backend import WeaviateBackend

        return WeaviateBackend(
            collection=settings.collection,
            http_host=settings.weaviate_http_host,
            http_port=settings.weaviate_http_port,
            grpc_host=settings.weaviate_grpc_host,
            grpc_port=settings.weaviate_grpc_port,
            timeout_s=settings.backend_timeout_s,
            query_timeout_s=settings.search_timeout_s,
            read_consistency=settings.read_consistency,
            write_consistency=settings.write_consistency,
        )
    if settings.vector_backend == "qdrant":
        from .qdrant_backend import QdrantBackend

        return QdrantBackend(
            collection=settings.collection,
            url=settings.qdrant_url,
            timeout_s=settings.backend_timeout_s,
            expected_peers=settings.qdrant_expected_peers,
            read_consistency=settings.read_consistency,
            write_consistency_factor=int(settings.write_consistency or 1),
        )
    raise ValueError(f"unknown VECTOR_BACKEND {settings.vector_backend!r}")
