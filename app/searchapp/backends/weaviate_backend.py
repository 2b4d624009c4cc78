"""Weaviate backend (weaviate-client v4, REST + gRPC).

Why these choices:
- One self-provided named vector (``default``, cosine HNSW): the app computes embeddings itself, so
  the collection has vectorizer ``none``. Vectors are written and queried with the explicit name so
  nothing depends on the server's handling of unnamed vectors.
- ``sharding_config(desired_count=SHARDS)`` and ``replication_config(factor=REPLICATION_FACTOR)``
  are set at creation; they cannot be changed later without re-creating the collection.
- Metadata is stored as one JSON text property: Weaviate's auto-schema would otherwise infer a type
  per nested key from the first document and reject later documents with another type.
- The client connects lazily and reconnects after a failed start, so a replica that starts before
  Weaviate becomes ready once Weaviate is up (readiness stays 503 meanwhile).
- Readiness and the start-up existence check speak plain HTTP (the standard library's http.client:
  `/v1/.well-known/ready`, `GET /v1/schema/<collection>`, what the client's `collections.exists` sends):
  importing weaviate-client costs ~0.6 s of CPU, three times that on a node busy with the load, and a
  replacement pod should be Ready once the store answers, not once the client is imported. `warm()`
  imports and connects the client right after start-up, in a thread; a request that comes first
  waits for it (the lock), it does not fail.
"""

from __future__ import annotations

import http.client
import importlib
import json
import logging
import threading
from typing import Any
from urllib.parse import quote

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

__all__ = ["WeaviateBackend", "classify_weaviate_error"]

logger = logging.getLogger(__name__)

VECTOR_NAME = "default"

_UNAVAILABLE_MARKERS = (
    "unavailable",
    "deadline_exceeded",
    "deadline exceeded",
    "connection refused",
    "timed out",
)
_IMPORTS = threading.Lock()


def _import(module: str) -> Any:
    """`module` of weaviate-client (or its httpx), imported under one lock. Why: the client is imported
    lazily, by the warm-up thread and by whichever request needs it first; two threads importing its
    circular modules at once make Python raise `_DeadlockError` in one of them (seen on the cluster:
    a 500 during a pod kill, and a warm-up thread that died)."""
    with _IMPORTS:
        return importlib.import_module(module)


_MISSING_MARKERS = ("could not find class", "class not found", "no such class", "not found in schema")


def classify_weaviate_error(exc: BaseException, collection: str) -> BackendError:
    """Map a weaviate-client exception onto our typed errors (unavailable / missing / rejected)."""
    httpx = _import("httpx")
    wexc = _import("weaviate.exceptions")

    text = str(exc).lower()
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    unavailable_types: tuple[type[BaseException], ...] = (
        wexc.WeaviateConnectionError,
        wexc.WeaviateTimeoutError,
        wexc.WeaviateStartUpError,
        wexc.WeaviateGRPCUnavailableError,
        wexc.WeaviateClosedClientError,
        httpx.TransportError,
        ConnectionError,
        TimeoutError,
    )
    if any(isinstance(e, unavailable_types) for e in chain) or any(m in text for m in _UNAVAILABLE_MARKERS):
        return BackendUnavailable(f"Weaviate is unreachable: {exc}")
    if any(m in text for m in _MISSING_MARKERS):
        return CollectionMissing(f"collection {collection!r} does not exist in Weaviate: {exc}")
    return BackendRejected(f"Weaviate rejected the request: {exc}")


class WeaviateBackend:
    """VectorBackend over one Weaviate collection."""

    name = "weaviate"

    def __init__(
        self,
        *,
        collection: str,
        http_host: str,
        http_port: int = 8080,
        grpc_host: str | None = None,
        grpc_port: int = 50051,
        timeout_s: float = 10.0,
        query_timeout_s: float | None = None,
        read_consistency: str = "",
        write_consistency: str = "",
    ) -> None:
        self.collection = collection
        # "" = Weaviate's default (QUORUM); else ONE, QUORUM or ALL, per request
        self._consistency = {"read": read_consistency.upper(), "write": write_consistency.upper()}
        self._http = (http_host, http_port)
        self._grpc = (grpc_host or http_host, grpc_port)
        self._timeout_s = timeout_s
        self._query_timeout_s = query_timeout_s or timeout_s
        self._client: Any = None
        self._lock = threading.Lock()

    # -- connection -----------------------------------------------------------------------------
    def _connect(self) -> Any:
        """Return a connected client, connecting on first use (or after a failed connect)."""
        if self._client is not None:
            return self._client
        with self._lock:
            if self._client is None:
                weaviate = _import("weaviate")
                init = _import("weaviate.classes.init")

                try:
                    self._client = weaviate.connect_to_custom(
                        http_host=self._http[0],
                        http_port=self._http[1],
                        http_secure=False,
                        grpc_host=self._grpc[0],
                        grpc_port=self._grpc[1],
                        grpc_secure=False,
                        additional_config=init.AdditionalConfig(
                            timeout=init.Timeout(
                                init=min(self._timeout_s, 5.0),
                                query=self._query_timeout_s,
                                insert=self._timeout_s * 3,
                            )
                        ),
                    )
                except Exception as exc:  # noqa: BLE001 - any start-up failure means "not reachable yet"
                    raise BackendUnavailable(
                        f"cannot connect to Weaviate at http://{self._http[0]}:{self._http[1]} "
                        f"(grpc {self._grpc[0]}:{self._grpc[1]}): {exc}"
                    ) from exc
                logger.info("connected to Weaviate http=%s:%s grpc=%s:%s", *self._http, *self._grpc)
        return self._client

    def _reset(self, failed: Any) -> None:
        """Drop the client a request failed on ("unavailable"): the next use connects anew. Why: its
        gRPC connection goes through the store's Service to ONE peer; a peer on a dead node never
        answers nor resets, so every search on that connection would hang until its deadline, for as
        long as the node is dead. A new connection is balanced afresh onto a peer that answers."""
        with self._lock:
            if failed is None or self._client is not failed:
                return  # another request already replaced it
            self._client = None
        logger.warning("Weaviate connection dropped after an unavailable answer; reconnecting on next use")
        try:
            failed.close()
        except Exception:  # noqa: BLE001 - a client that failed may fail to close too
            logger.debug("closing the failed Weaviate client failed", exc_info=True)

    def _coll(self, op: str = "read") -> Any:
        coll = self._connect().collections.use(self.collection)
        level = self._consistency.get(op, "")
        if not level:
            return coll
        return coll.with_consistency_level(_import("weaviate.classes.config").ConsistencyLevel(level))

    def _rest_status(self, path: str) -> int:
        """HTTP status of a GET on Weaviate's REST API, with the standard library only."""
        # 1 s: both calls of a ping fit in the readiness probe's timeout (3 s), even when one of them
        # reaches a store peer on a dead node (no answer at all until the timeout)
        conn = http.client.HTTPConnection(self._http[0], self._http[1], timeout=min(self._timeout_s, 1.0))
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            return int(resp.status)
        finally:
            conn.close()

    def warm(self) -> None:
        """Import and connect the client ahead of the first request (never raises: a store that is
        not up yet is connected on first use)."""
        try:
            self._connect()
        except BackendError as exc:
            logger.info("Weaviate client not connected yet (%s); connecting on first use", exc)

    # -- interface ------------------------------------------------------------------------------
    def ensure_collection(self, name: str, dim: int, shards: int, replication: int) -> bool:
        """Create-if-missing; a concurrent creator's "already exists" is treated as success."""
        if name == self.collection:
            status = self.ping()  # plain HTTP: an existing collection needs no client
            if status["collection_exists"]:
                return False
            if not status["reachable"]:
                raise BackendUnavailable(f"Weaviate is unreachable: {status['detail']}")
        wc = _import("weaviate.classes.config")

        client = self._connect()
        try:
            if client.collections.exists(name):
                return False
            client.collections.create(
                name,
                properties=[
                    wc.Property(name="doc_id", data_type=wc.DataType.TEXT),
                    wc.Property(name="text", data_type=wc.DataType.TEXT),
                    wc.Property(name="metadata_json", data_type=wc.DataType.TEXT, index_searchable=False),
                ],
                vector_config=wc.Configure.Vectors.self_provided(
                    name=VECTOR_NAME,
                    vector_index_config=wc.Configure.VectorIndex.hnsw(
                        distance_metric=wc.VectorDistances.COSINE
                    ),
                ),
                sharding_config=wc.Configure.sharding(desired_count=shards),
                replication_config=wc.Configure.replication(factor=replication),
            )
        except Exception as exc:  # noqa: BLE001
            err = classify_weaviate_error(exc, name)
            if isinstance(err, BackendUnavailable):
                raise err from exc
            # Another replica may have created it between exists() and create(): re-check.
            try:
                if client.collections.exists(name):
                    logger.info("collection %s was created concurrently by another replica", name)
                    return False
            except Exception as exc2:  # noqa: BLE001
                raise classify_weaviate_error(exc2, name) from exc2
            raise err from exc
        logger.info(
            "created Weaviate collection %s dim=%d shards=%d replication=%d", name, dim, shards, replication
        )
        return True

    def upsert(self, docs: list[StoredDocument]) -> int:
        data_object = _import("weaviate.classes.data").DataObject

        objects = [
            data_object(
                properties={
                    "doc_id": d["id"],
                    "text": d["text"],
                    "metadata_json": json.dumps(d["metadata"], sort_keys=True),
                },
                uuid=doc_uuid(d["id"]),
                vector={VECTOR_NAME: d["vector"]},
            )
            for d in docs
        ]
        try:
            result = self._coll("write").data.insert_many(objects)
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise classify_weaviate_error(exc, self.collection) from exc
        if result.has_errors:
            first = next(iter(result.errors.values()))
            raise classify_weaviate_error(
                RuntimeError(f"{len(result.errors)} of {len(docs)} objects failed, first: {first.message}"),
                self.collection,
            )
        return len(docs)

    def search(self, vector: list[float], top_k: int) -> list[SearchHit]:
        metadata_query = _import("weaviate.classes.query").MetadataQuery

        client = self._client
        try:
            res = self._coll().query.near_vector(
                near_vector=vector,
                limit=top_k,
                target_vector=VECTOR_NAME,
                return_metadata=metadata_query(distance=True),
                return_properties=["doc_id", "text"],
            )
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001
            err = classify_weaviate_error(exc, self.collection)
            if isinstance(err, BackendUnavailable):
                self._reset(client if client is not None else self._client)
            raise err from exc
        hits: list[SearchHit] = []
        for obj in res.objects:
            distance = obj.metadata.distance if obj.metadata is not None else None
            score = 1.0 - float(distance) if distance is not None else 0.0  # cosine distance = 1 - cos
            props = obj.properties or {}
            hits.append(
                {"id": str(props.get("doc_id", obj.uuid)), "score": score, "text": str(props.get("text", ""))}
            )
        return hits

    def count(self) -> int:
        try:
            res = self._coll().aggregate.over_all(total_count=True)
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise classify_weaviate_error(exc, self.collection) from exc
        return int(res.total_count or 0)

    def shard_info(self) -> list[ShardInfo]:
        """Per node and shard object counts from ``GET /v1/nodes?output=verbose`` for our collection."""
        try:
            nodes = self._connect().cluster.nodes(collection=self.collection, output="verbose")
        except BackendError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise classify_weaviate_error(exc, self.collection) from exc
        shards: list[ShardInfo] = []
        for node in nodes:
            for sh in node.shards or []:
                if sh.collection != self.collection:
                    continue
                shards.append(
                    {
                        "name": sh.name,
                        "node": sh.node or node.name,
                        "object_count": int(sh.object_count),
                        "state": str(sh.vector_indexing_status),
                        "local": False,
                    }
                )
        return shards

    def ping(self) -> BackendStatus:
        where = f"http://{self._http[0]}:{self._http[1]}"
        try:
            ready = self._rest_status("/v1/.well-known/ready")
            if ready != 200:
                return {
                    "reachable": False,
                    "collection_exists": False,
                    "detail": f"Weaviate {where}/v1/.well-known/ready answered {ready}",
                }
            schema = self._rest_status("/v1/schema/" + quote(self.collection, safe=""))
        except (OSError, http.client.HTTPException) as exc:  # ping never raises
            return {"reachable": False, "collection_exists": False, "detail": f"{where}: {exc}"[:300]}
        if schema not in (200, 404):
            return {
                "reachable": True,
                "collection_exists": False,
                "detail": f"Weaviate {where}/v1/schema/{self.collection} answered {schema}",
            }
        exists = schema == 200
        detail = "ok" if exists else f"collection {self.collection!r} does not exist"
        return {"reachable": True, "collection_exists": exists, "detail": detail}

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.close()
                finally:
                    self._client = None
