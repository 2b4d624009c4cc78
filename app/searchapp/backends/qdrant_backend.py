"""Qdrant backend (qdrant-client, REST).

Why: a second real store behind the same interface. qdrant-client's local mode (``:memory:`` or a
filesystem path) is refused on purpose: it accepts ``shard_number``/``replication_factor`` and
silently drops them (verified against qdrant-client 1.20: ``QdrantLocal.create_collection`` keeps
only the vector config), so a scaling experiment against it would pass vacuously.

Why the collection waits for the cluster: Qdrant places a collection's shards on the peers present
when it is created and never moves them by itself. Observed on a real 3-peer 1.18.3 cluster: peers 1
and 2 were still crash-looping when the app created ``Documents``, and all 3 shards stayed on peer 0.
With ``expected_peers`` > 1 the collection is created only once the entry peer's ``GET /cluster``
lists that many peers (until then creation raises BackendUnavailable: readiness stays 503 with the
reason and the bootstrapper retries).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from .base import (
    BackendError,
    BackendRejected,
    BackendStatus,
    BackendUnavailable,
    CollectionMissing,
    SearchHit,
    ShardInfo,
    StoredDocument,
    doc_uuid,
)

__all__ = ["QdrantBackend", "classify_qdrant_error", "validate_qdrant_url"]

logger = logging.getLogger(__name__)


def validate_qdrant_url(url: str) -> str:
    """Accept only an http(s) server URL; refuse local/in-memory mode with a clear message."""
    stripped = url.strip()
    if stripped == ":memory:" or not stripped:
        raise ValueError(
            "QDRANT_URL=':memory:' (qdrant-client local mode) is refused: it silently ignores shard_number "
            "and replication_factor, so sharding could not be demonstrated. "
            "Point QDRANT_URL at a Qdrant server."
        )
    parts = urlsplit(stripped)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"QDRANT_URL must be an http(s) URL of a Qdrant server such as http://qdrant:6333, got {url!r}; "
            "local paths (qdrant-client local mode) are refused because they ignore sharding."
        )
    return stripped


def classify_qdrant_error(exc: BaseException, collection: str) -> BackendError:
    """Map qdrant-client/httpx exceptions onto our typed errors."""
    import httpx
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    if isinstance(exc, UnexpectedResponse):
        body = exc.content.decode("utf-8", "replace")[:300] if exc.content else ""
        if exc.status_code == 404:
            return CollectionMissing(f"collection {collection!r} does not exist in Qdrant: {body}")
        if exc.status_code in (502, 503, 504):
            return BackendUnavailable(f"Qdrant answered {exc.status_code}: {body}")
        return BackendRejected(f"Qdrant rejected the request ({exc.status_code}): {body}")
    if isinstance(exc, (ResponseHandlingException, httpx.TransportError, ConnectionError, TimeoutError)):
        return BackendUnavailable(f"Qdrant is unreachable: {exc}")
    return BackendRejected(f"Qdrant request failed: {exc}")


class QdrantBackend:
    """VectorBackend over one Qdrant collection (server mode only)."""

    name = "qdrant"

    def __init__(
        self,
        *,
        collection: str,
        url: str,
        timeout_s: float = 10.0,
        expected_peers: int = 1,
        read_consistency: str = "",
        write_consistency_factor: int = 1,
    ) -> None:
        from qdrant_client import QdrantClient

        self.collection = collection
        # "" = Qdrant's default (1 replica answers); an integer, majority, quorum or all
        self.read_consistency: int | str | None = (
            int(read_consistency) if read_consistency.isdigit() else (read_consistency.lower() or None)
        )
        self.write_consistency_factor = int(write_consistency_factor)
        self.url = validate_qdrant_url(url)
        self.expected_peers = int(expected_peers)
        # check_compatibility=False: no network call at construction, the pod must start without Qdrant.
        self._client: Any = QdrantClient(
            url=self.url, timeout=max(1, round(timeout_s)), check_compatibility=False
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise classify_qdrant_error(exc, self.collection) from exc

    def ensure_collection(self, name: str, dim: int, shards: int, replication: int) -> bool:
        """Create-if-missing; "already exists" (409) from a concurrent replica counts as success."""
        from qdrant_client import models

        if self._call(self._client.collection_exists, name):
            self._check_dim(name, dim)
            return False
        self._check_cluster_formed(name)
        try:
            self._client.create_collection(
                collection_name=name,
                vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
                shard_number=shards,
                replication_factor=replication,
                write_consistency_factor=self.write_consistency_factor,
            )
        except Exception as exc:  # noqa: BLE001
            err = classify_qdrant_error(exc, name)
            if isinstance(err, BackendUnavailable):
                raise err from exc
            if self._call(self._client.collection_exists, name):
                logger.info("collection %s was created concurrently by another replica", name)
                self._check_dim(name, dim)
                return False
            raise err from exc
        logger.info(
            "created Qdrant collection %s dim=%d shards=%d replication=%d write_consistency_factor=%d",
            name,
            dim,
            shards,
            replication,
            self.write_consistency_factor,
        )
        return True

    def _check_cluster_formed(self, name: str) -> None:
        """Refuse to create `name` before `expected_peers` peers have joined (shards would stay put)."""
        if self.expected_peers <= 1:
            return
        status = self._call(self._client.cluster_status)
        if getattr(status, "status", "disabled") != "enabled":
            raise BackendRejected(
                f"QDRANT_EXPECTED_PEERS={self.expected_peers} but Qdrant at {self.url} runs without "
                "cluster mode (QDRANT__CLUSTER__ENABLED=true)"
            )
        peers = len(getattr(status, "peers", None) or {})
        leader = getattr(getattr(status, "raft_info", None), "leader", None)
        if peers < self.expected_peers or leader is None:
            raise BackendUnavailable(
                f"Qdrant cluster has {peers} of {self.expected_peers} peers (leader {leader}): not creating "
                f"{name!r} yet, its shards would stay on the peers present (Qdrant does not rebalance)"
            )

    def _check_dim(self, name: str, dim: int) -> None:
        """Refuse an existing collection whose vector size is not EMBED_DIM (every upsert would fail)."""
        info = self._call(self._client.get_collection, name)
        vectors = info.config.params.vectors
        size = getattr(vectors, "size", None)
        if size is not None and int(size) != dim:
            raise BackendRejected(f"collection {name!r} has vector size {size}, but EMBED_DIM={dim}")

    def upsert(self, docs: list[StoredDocument]) -> int:
        from qdrant_client import models

        points = [
            models.PointStruct(
                id=doc_uuid(d["id"]),
                vector=d["vector"],
                payload={
                    "doc_id": d["id"],
                    "text": d["text"],
                    "metadata_json": json.dumps(d["metadata"], sort_keys=True),
                },
            )
            for d in docs
        ]
        self._call(self._client.upsert, collection_name=self.collection, points=points, wait=True)
        return len(docs)

    def search(self, vector: list[float], top_k: int) -> list[SearchHit]:
        res = self._call(
            self._client.query_points,
            collection_name=self.collection,
            query=vector,
            limit=top_k,
            with_payload=True,
            consistency=self.read_consistency,
        )
        hits: list[SearchHit] = []
        for p in res.points:
            payload = p.payload or {}
            hits.append(
                {
                    "id": str(payload.get("doc_id", p.id)),
                    "score": float(p.score),
                    "text": str(payload.get("text", "")),
                }
            )
        return hits

    def count(self) -> int:
        return int(self._call(self._client.count, collection_name=self.collection, exact=True).count)

    def shard_info(self) -> list[ShardInfo]:
        """Local shards (with counts) and remote shards (no counts) as seen by the answering peer."""
        info = self._call(self._client.collection_cluster_info, self.collection)
        shards: list[ShardInfo] = []
        for sh in info.local_shards:
            shards.append(
                {
                    "name": str(sh.shard_id),
                    "node": str(info.peer_id),
                    "object_count": int(sh.points_count),
                    "state": str(getattr(sh.state, "value", sh.state)),
                    "local": True,
                }
            )
        for sh in info.remote_shards:
            shards.append(
                {
                    "name": str(sh.shard_id),
                    "node": str(sh.peer_id),
                    "object_count": None,
                    "state": str(getattr(sh.state, "value", sh.state)),
                    "local": False,
                }
            )
        return shards

    def ping(self) -> BackendStatus:
        try:
            exists = bool(self._call(self._client.collection_exists, self.collection))
        except Exception as exc:  # noqa: BLE001 - ping never raises
            reachable = not isinstance(exc, BackendUnavailable)
            return {"reachable": reachable, "collection_exists": False, "detail": str(exc)[:300]}
        detail = "ok" if exists else f"collection {self.collection!r} does not exist"
        return {"reachable": True, "collection_exists": exists, "detail": detail}

    def warm(self) -> None:
        """Nothing to do: the client is made in __init__ and connects per request."""

    def close(self) -> None:
        self._client.close()
