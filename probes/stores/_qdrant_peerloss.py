"""The Qdrant adapter's peer-loss readings (private to `probes.stores.qdrant`): a fixed set of query
vectors and `query_points` returning result ids, every point id, and the replication read back.

Built against Qdrant 1.18.3's recorded bodies (tests/fixtures/qdrant/replication-2026-12-07/):
`GET /collections/{c}` carries `config.params.{replication_factor, write_consistency_factor,
shard_number}`; a read that needs a dead peer's only replica answers HTTP 500 with `status.error`
"Service internal error: 1 of 1 read operations failed: …", never a partial result.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from probes.stores import Replication, VectorQueries
from probes.stores._qdrant_readings import error_line, replication_of
from scaleproof.errors import ScaleproofError, VectorStoreError

__all__ = ["consistency", "document_ids", "query_error", "replication", "vector_queries"]


def _missing(exc: BaseException) -> bool:
    return getattr(exc, "status_code", None) == 404


def query_error(exc: BaseException) -> str:
    """A failed request in Qdrant's own words (`status.error`, e.g. '1 of 1 read operations failed'),
    else what the transport said (the peer does not answer)."""
    content = getattr(exc, "content", None)
    if content is not None:
        return error_line(content, getattr(exc, "status_code", None))
    cause = exc.__cause__ or exc
    return (
        f"does not answer ({type(cause).__name__}: {str(cause).splitlines()[0][:200] if str(cause) else ''})"
    )


def consistency(raw: str) -> Any:
    """Qdrant's read consistency: an integer, majority, quorum or all; None = the server's default."""
    from qdrant_client.http.models import ReadConsistencyType

    raw = (raw or "").strip().lower()
    if not raw:
        return None
    if raw.isdigit():
        return int(raw)
    try:
        return ReadConsistencyType(raw)
    except ValueError:
        raise ScaleproofError(
            f"Qdrant read consistency must be an integer, majority, quorum or all, got {raw!r}"
        ) from None


def _scroll_vectors(c: Any, collection: str, n: int, url: str) -> list[list[float]]:
    try:
        points, _ = c.scroll(collection, limit=n, with_payload=False, with_vectors=True)
    except Exception as exc:
        if _missing(exc):
            raise VectorStoreError(f"unknown collection {collection!r} in Qdrant at {url}") from exc
        raise VectorStoreError(f"Qdrant at {url}: scroll {collection}: {query_error(exc)}") from exc
    vectors = []
    for p in points:
        v = p.vector
        if isinstance(v, Mapping):
            v = next(iter(v.values()), None)
        if v:
            vectors.append([float(x) for x in v])
    if not vectors:
        raise VectorStoreError(f"collection {collection} has no points at {url}: ingest first")
    return vectors


@contextlib.contextmanager
def vector_queries(
    c: Any, url: str, collection: str, n: int, top_k: int, read_consistency: str
) -> Iterator[VectorQueries]:
    """The vectors of the collection's first `n` points (scroll, by id) and `query_points` returning
    the result ids at `read_consistency`; the client `c` is closed on exit."""
    from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

    try:
        vectors = _scroll_vectors(c, collection, int(n), url)
        level = consistency(read_consistency)

        def one(vec: Sequence[float]) -> list[str]:
            res = c.query_points(collection, query=list(vec), limit=int(top_k), consistency=level)
            return [str(p.id) for p in res.points]

        yield vectors, one, (UnexpectedResponse, ResponseHandlingException), query_error
    finally:
        getattr(c, "close", lambda: None)()


def document_ids(c: Any, collection: str, limit: int) -> list[str]:
    """Every point id (scroll by pages of 256 at consistency `all`, no payload, no vector)."""
    from qdrant_client.http.models import ReadConsistencyType

    ids: list[str] = []
    offset: Any = None
    while True:
        try:
            points, offset = c.scroll(
                collection,
                limit=256,
                offset=offset,
                with_payload=False,
                with_vectors=False,
                consistency=ReadConsistencyType.ALL,
            )
        except Exception as exc:
            if _missing(exc):
                raise VectorStoreError(f"unknown collection {collection!r} in Qdrant") from exc
            raise VectorStoreError(f"Qdrant scroll of {collection}: {query_error(exc)}") from exc
        ids += [str(p.id) for p in points]
        if len(ids) > limit:
            raise VectorStoreError(f"{collection} holds more than {limit} points: raise max_documents")
        if offset is None:
            return ids


def replication(c: Any, url: str, collection: str) -> Replication:
    """`replication_factor`, `write_consistency_factor`, `shard_number` of `GET /collections/{c}`."""
    try:
        info = c.get_collection(collection)
    except Exception as exc:
        if _missing(exc):
            raise VectorStoreError(f"unknown collection {collection!r} in Qdrant at {url}") from exc
        raise VectorStoreError(f"Qdrant at {url}: GET /collections/{collection}: {query_error(exc)}") from exc
    got = replication_of({"config": {"params": info.config.params.model_dump()}}, collection)
    return {
        "factor": got["factor"],
        "write_consistency_factor": got["write_consistency_factor"],
        "shards": got["shards"],
        "source": got["source"],
    }
