"""Weaviate through its own client (weaviate-client v4): the cluster's nodes and shards over REST,
and the filtered `nearObject` searches of the query burst over gRPC.

Why the client and not raw HTTP: it owns the wire formats (REST node/shard models, the gRPC search
API that replaces GraphQL), authentication (`vectorstore.api_key` credential → API key header) and
timeouts, so a team's Weaviate behind an API key works without code of ours. The client is built
with `skip_init_checks`: connecting reads `/v1/meta` (the server version) but makes no gRPC health
call, so reading the nodes needs only the HTTP port; the gRPC port (configuration
`weaviate_grpc_port`, SCALEPROOF_WEAVIATE_GRPC_PORT, default 30051 = the local overlay's NodePort)
is used by searches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scaleproof import credentials
from scaleproof.errors import ScaleproofError, VectorStoreError

if TYPE_CHECKING:
    from weaviate import WeaviateClient
    from weaviate.collections.classes.cluster import NodeVerbose

__all__ = [
    "DEFAULT_GRPC_PORT",
    "DEFAULT_WEAVIATE_URL",
    "client",
    "grpc_port",
    "nodes",
    "weaviate_url",
]

DEFAULT_WEAVIATE_URL = "http://127.0.0.1:30081"
DEFAULT_GRPC_PORT = 30051


def weaviate_url(configuration: Mapping[str, Any] | None, override: str | None = None) -> str:
    """The REST base URL: `override`, else configuration `weaviate_url`, else the local NodePort."""
    return str(override or (configuration or {}).get("weaviate_url") or DEFAULT_WEAVIATE_URL).rstrip("/")


def grpc_port(configuration: Mapping[str, Any] | None) -> int:
    raw = (configuration or {}).get("weaviate_grpc_port") or DEFAULT_GRPC_PORT
    try:
        port = int(raw)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise ScaleproofError(
            f"weaviate_grpc_port must be a TCP port (1..65535), got {raw!r}: "
            "set SCALEPROOF_WEAVIATE_GRPC_PORT to the port of Weaviate's gRPC API (50051 in the pod)"
        )
    return port


@contextlib.contextmanager
def client(
    configuration: Mapping[str, Any] | None, timeout_s: float, url: str | None = None
) -> Iterator[WeaviateClient]:
    """A connected client for `url` (or the configured one), closed on exit; any client error inside
    becomes a VectorStoreError that names the URL."""
    import weaviate
    from weaviate.classes.init import AdditionalConfig, Auth, Timeout
    from weaviate.connect import ConnectionParams
    from weaviate.exceptions import WeaviateBaseError

    base = weaviate_url(configuration, url)
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScaleproofError(f"weaviate_url must be an http(s) URL with a host, got {base!r}")
    secure = parts.scheme == "https"
    key = credentials.get("vectorstore", "api_key")
    t = max(1, round(timeout_s))
    c = weaviate.WeaviateClient(
        connection_params=ConnectionParams.from_params(
            http_host=parts.hostname,
            http_port=parts.port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=parts.hostname,
            grpc_port=grpc_port(configuration),
            grpc_secure=secure,
        ),
        auth_client_secret=Auth.api_key(key) if key else None,
        additional_config=AdditionalConfig(timeout=Timeout(init=t, query=t, insert=t)),
        skip_init_checks=True,
    )
    try:
        c.connect()
        yield c
    except WeaviateBaseError as exc:
        raise VectorStoreError(f"Weaviate at {base}: {type(exc).__name__}: {exc}") from exc
    finally:
        c.close()


def nodes(
    configuration: Mapping[str, Any] | None, timeout_s: float, url: str | None = None
) -> list[NodeVerbose]:
    """Every node with its shards and their object counts (`GET /v1/nodes?output=verbose`)."""
    with client(configuration, timeout_s, url) as c:
        return list(c.cluster.nodes(output="verbose"))
