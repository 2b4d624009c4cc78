"""Prometheus metrics of the search service, one registry per app instance.

Why a private registry: tests build many apps in one process, and the default global registry
refuses duplicate metric names. The endpoint label uses the route template (or ``other``) so a
scanner hitting random paths cannot blow up label cardinality.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_EMBED_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256)


class Metrics:
    """Holds the service's metric objects."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests_total = Counter(
            "searchapp_requests_total",
            "HTTP requests by endpoint, method and status code.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.request_duration = Histogram(
            "searchapp_request_duration_seconds",
            "HTTP request latency by endpoint and method.",
            ["endpoint", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "searchapp_requests_in_flight", "HTTP requests currently being served.", registry=self.registry
        )
        self.embedding_duration = Histogram(
            "searchapp_embedding_duration_seconds",
            "Wall time to embed one text, by kind (query or document).",
            ["kind"],
            buckets=_EMBED_BUCKETS,
            registry=self.registry,
        )
        self.documents_ingested = Counter(
            "searchapp_documents_ingested_total",
            "Documents written to the vector store.",
            registry=self.registry,
        )
        self.backend_errors = Counter(
            "searchapp_backend_errors_total",
            "Vector-store failures by kind (unavailable, collection_missing, rejected).",
            ["kind"],
            registry=self.registry,
        )
        self.backend_retries = Counter(
            "searchapp_backend_retries_total",
            "Reads of the store (searches, counts, shard listings) tried again after it answered "
            "unavailable (SEARCH_RETRIES).",
            registry=self.registry,
        )
        self.ready = Gauge(
            "searchapp_ready", "1 when /readyz last answered 200, else 0.", registry=self.registry
        )
        self.draining = Gauge("searchapp_draining", "1 after SIGTERM was received.", registry=self.registry)
