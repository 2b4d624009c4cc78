"""Settings parsing and the real backend adapters driven through fake client objects (no network)."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from qdrant_client.http.exceptions import UnexpectedResponse
from searchapp.backends import (
    BackendRejected,
    BackendUnavailable,
    CollectionMissing,
    VectorBackend,
    backend_from_settings,
    doc_uuid,
)
from searchapp.backends.qdrant_backend import QdrantBackend, classify_qdrant_error, validate_qdrant_url
from searchapp.backends.weaviate_backend import WeaviateBackend, classify_weaviate_error
from searchapp.settings import Settings, SettingsError
from weaviate.exceptions import WeaviateConnectionError

pytestmark = pytest.mark.unit


# -- settings ---------------------------------------------------------------------------------------
def test_defaults_match_the_documented_contract() -> None:
    s = Settings.from_env({})
    assert (s.port, s.vector_backend, s.collection, s.embed_dim, s.max_batch) == (
        8080,
        "weaviate",
        "Documents",
        384,
        256,
    )
    assert (s.shards, s.replication_factor, s.drain_seconds) == (1, 1, 5.0)
    assert (s.weaviate_http_port, s.weaviate_grpc_port, s.weaviate_grpc_host) == (8080, 50051, "weaviate")
    assert (s.search_retries, s.search_retry_delay_s, s.search_timeout_s) == (2, 0.1, 2.0)
    s = Settings.from_env({"SEARCH_RETRIES": "0", "SEARCH_RETRY_DELAY_MS": "250"})
    assert (s.search_retries, s.search_retry_delay_s) == (0, 0.25)


def test_env_overrides_and_grpc_host_defaults_to_http_host() -> None:
    s = Settings.from_env(
        {"PORT": "9000", "VECTOR_BACKEND": "QDRANT", "SHARDS": "3", "REPLICATION_FACTOR": "2",
         "WEAVIATE_HTTP_HOST": "wv.db.svc", "DRAIN_SECONDS": "0.5", "COLLECTION": "docs_v2"}
    )  # fmt: skip
    assert (s.port, s.vector_backend, s.shards, s.replication_factor) == (9000, "qdrant", 3, 2)
    assert s.weaviate_grpc_host == "wv.db.svc" and s.drain_seconds == 0.5 and s.collection == "docs_v2"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"PORT": "http"}, "PORT"),
        ({"EMBED_DIM": "2"}, "EMBED_DIM"),
        ({"MAX_BATCH": "0"}, "MAX_BATCH"),
        ({"VECTOR_BACKEND": "chroma"}, "VECTOR_BACKEND"),
        ({"COLLECTION": "bad-name"}, "COLLECTION"),
        ({"COLLECTION": "documents"}, "upper-case"),
        ({"DRAIN_SECONDS": "-1"}, "DRAIN_SECONDS"),
        ({"SEARCH_RETRIES": "11"}, "SEARCH_RETRIES"),
        ({"SEARCH_RETRY_DELAY_MS": "-5"}, "SEARCH_RETRY_DELAY_MS"),
        ({"READ_CONSISTENCY": "majority"}, "READ_CONSISTENCY for Weaviate must be one of ONE, QUORUM, ALL"),
        ({"WRITE_CONSISTENCY": "2"}, "WRITE_CONSISTENCY for Weaviate"),
        ({"VECTOR_BACKEND": "qdrant", "READ_CONSISTENCY": "ONE"}, "READ_CONSISTENCY for Qdrant"),
        ({"VECTOR_BACKEND": "qdrant", "WRITE_CONSISTENCY": "majority"}, "WRITE_CONSISTENCY for Qdrant"),
        ({"VECTOR_BACKEND": "qdrant", "REPLICATION_FACTOR": "2", "WRITE_CONSISTENCY": "3"}, "1..REPLICATION"),
    ],
)
def test_invalid_env_fails_loudly_naming_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


def test_consistency_levels_each_store_accepts() -> None:
    w = Settings.from_env({"READ_CONSISTENCY": "one", "WRITE_CONSISTENCY": "ALL"})
    q = Settings.from_env(
        {"VECTOR_BACKEND": "qdrant", "REPLICATION_FACTOR": "2", "READ_CONSISTENCY": "majority",
         "WRITE_CONSISTENCY": "2"}
    )  # fmt: skip
    assert (w.read_consistency, w.write_consistency) == ("one", "ALL")
    assert (q.read_consistency, q.write_consistency) == ("majority", "2")
    assert Settings().read_consistency == "" and Settings().write_consistency == ""  # the store's default


# -- qdrant -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [":memory:", "", "/var/lib/qdrant", "./data", "qdrant:6333", "ftp://q:6333"])
def test_qdrant_local_mode_and_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="QDRANT_URL"):
        validate_qdrant_url(url)


def test_factory_builds_backends_without_network_and_refuses_memory_mode() -> None:
    q = backend_from_settings(Settings(vector_backend="qdrant", qdrant_url="http://127.0.0.1:1"))
    w = backend_from_settings(Settings(weaviate_http_host="127.0.0.1", weaviate_http_port=1))
    assert isinstance(q, QdrantBackend) and isinstance(w, WeaviateBackend)
    assert isinstance(q, VectorBackend) and isinstance(w, VectorBackend)
    with pytest.raises(ValueError, match="silently ignores shard_number"):
        backend_from_settings(Settings(vector_backend="qdrant", qdrant_url=":memory:"))


def _unexpected(status: int, body: bytes = b"{}") -> UnexpectedResponse:
    return UnexpectedResponse(status_code=status, reason_phrase="x", content=body, headers=httpx.Headers())


class FakeQdrantClient:
    """Records calls; create_collection loses the race to another replica (409) when told to."""

    def __init__(self, *, lose_race: bool = False, existing_size: int = 384) -> None:
        self.exists = False
        self.lose_race = lose_race
        self.existing_size = existing_size
        self.created: dict[str, Any] = {}
        self.upserted: list[Any] = []

    def collection_exists(self, name: str) -> bool:
        return self.exists

    def create_collection(self, **kwargs: Any) -> bool:
        self.created = kwargs
        self.exists = True
        if self.lose_race:
            raise _unexpected(409, b'{"status":{"error":"Collection `Documents` already exists!"}}')
        return True

    def get_collection(self, name: str) -> Any:
        vectors = SimpleNamespace(size=self.existing_size)
        return SimpleNamespace(config=SimpleNamespace(params=SimpleNamespace(vectors=vectors)))

    def upsert(self, **kwargs: Any) -> None:
        self.upserted.append(kwargs)

    def query_points(self, **kwargs: Any) -> Any:
        self.queried = kwargs
        raise _unexpected(404, b'{"status":{"error":"Not found: Collection `Documents` doesn\'t exist!"}}')

    def close(self) -> None:
        pass


def _qdrant(fake: FakeQdrantClient) -> QdrantBackend:
    b = QdrantBackend(collection="Documents", url="http://127.0.0.1:1")
    b._client = fake
    return b


def test_qdrant_creates_collection_with_shards_replication_and_cosine() -> None:
    fake = FakeQdrantClient()
    assert _qdrant(fake).ensure_collection("Documents", 384, 3, 2) is True
    assert fake.created["shard_number"] == 3 and fake.created["replication_factor"] == 2
    assert fake.created["vectors_config"].size == 384
    assert fake.created["vectors_config"].distance.value == "Cosine"
    assert fake.created["write_consistency_factor"] == 1  # Qdrant's default unless WRITE_CONSISTENCY


def test_qdrant_consistency_reaches_creation_and_every_search() -> None:
    fake = FakeQdrantClient()
    settings = Settings(
        vector_backend="qdrant", qdrant_url="http://127.0.0.1:1", replication_factor=2,
        read_consistency="majority", write_consistency="2",
    )  # fmt: skip
    b = backend_from_settings(settings)
    assert isinstance(b, QdrantBackend)
    b._client = fake
    assert b.ensure_collection("Documents", 384, 3, 2) is True
    assert fake.created["write_consistency_factor"] == 2
    with pytest.raises(CollectionMissing):
        b.search([0.1, 0.2], 3)
    assert fake.queried["consistency"] == "majority"
    assert _qdrant(FakeQdrantClient()).read_consistency is None  # Qdrant's default: one replica answers


def test_qdrant_concurrent_create_is_tolerated_and_dim_mismatch_refused() -> None:
    assert _qdrant(FakeQdrantClient(lose_race=True)).ensure_collection("Documents", 384, 3, 1) is False
    with pytest.raises(BackendRejected, match="vector size 128"):
        _qdrant(FakeQdrantClient(lose_race=True, existing_size=128)).ensure_collection("Documents", 384, 3, 1)


def test_qdrant_upsert_uses_uuid5_ids_and_missing_collection_maps_to_collection_missing() -> None:
    fake = FakeQdrantClient()
    b = _qdrant(fake)
    assert b.upsert([{"id": "doc-7", "text": "t", "metadata": {"a": 1}, "vector": [0.1, 0.2]}]) == 1
    point = fake.upserted[0]["points"][0]
    assert (
        point.id == doc_uuid("doc-7")
        and point.payload["doc_id"] == "doc-7"
        and fake.upserted[0]["wait"] is True
    )
    with pytest.raises(CollectionMissing):
        b.search([0.1, 0.2], 3)


def test_qdrant_error_classification() -> None:
    assert isinstance(classify_qdrant_error(httpx.ConnectError("refused"), "D"), BackendUnavailable)
    assert isinstance(classify_qdrant_error(_unexpected(503), "D"), BackendUnavailable)
    assert isinstance(classify_qdrant_error(_unexpected(404), "D"), CollectionMissing)
    assert isinstance(classify_qdrant_error(_unexpected(400, b"wrong vector size"), "D"), BackendRejected)


def test_qdrant_ping_against_closed_port_reports_unreachable() -> None:
    status = QdrantBackend(collection="Documents", url="http://127.0.0.1:1", timeout_s=1).ping()
    assert status["reachable"] is False and status["collection_exists"] is False


# -- weaviate ---------------------------------------------------------------------------------------
class FakeWeaviateCollections:
    def __init__(self, *, lose_race: bool) -> None:
        self.present = False
        self.lose_race = lose_race
        self.create_kwargs: dict[str, Any] = {}

    def exists(self, name: str) -> bool:
        return self.present

    def create(self, name: str, **kwargs: Any) -> None:
        self.create_kwargs = {"name": name, **kwargs}
        self.present = True
        if self.lose_race:
            raise RuntimeError("class name 'Documents' already exists")


class _WeaviateRest(http.server.BaseHTTPRequestHandler):
    """Weaviate's two REST answers the readiness path reads: ready, and the collection's schema (200
    when the fake client's collection is present, 404 otherwise, as Weaviate answers)."""

    colls: FakeWeaviateCollections | None = None

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/v1/.well-known/ready":
            code = 200
        elif self.path == "/v1/schema/Documents":
            code = 200 if self.colls is not None and self.colls.present else 404
        else:
            code = 500
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def weaviate_rest() -> Iterator[tuple[int, type[_WeaviateRest]]]:
    handler = type("Handler", (_WeaviateRest,), {})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_port, handler
    srv.shutdown()


def _weaviate(
    rest: tuple[int, type[_WeaviateRest]], lose_race: bool = False
) -> tuple[WeaviateBackend, FakeWeaviateCollections]:
    port, handler = rest
    b = WeaviateBackend(collection="Documents", http_host="127.0.0.1", http_port=port, grpc_port=2)
    colls = FakeWeaviateCollections(lose_race=lose_race)
    handler.colls = colls
    b._client = SimpleNamespace(collections=colls, close=lambda: None)
    return b, colls


def test_weaviate_collection_has_self_provided_vector_shards_and_replication(weaviate_rest) -> None:
    b, colls = _weaviate(weaviate_rest)
    assert b.ensure_collection("Documents", 384, 3, 2) is True
    kw = colls.create_kwargs
    assert kw["sharding_config"].desiredCount == 3
    assert kw["replication_config"].factor == 2
    assert kw["vector_config"].name == "default" and kw["vector_config"].vectorizer.vectorizer.value == "none"
    assert [p.name for p in kw["properties"]] == ["doc_id", "text", "metadata_json"]
    assert b.ensure_collection("Documents", 384, 3, 2) is False  # exists now: no second create


class _LevelledCollection:
    """A collection handle that records the consistency level each call was made with."""

    def __init__(self, calls: list[tuple[str, str | None]], level: str | None = None) -> None:
        self.calls, self.level = calls, level
        self.query = SimpleNamespace(near_vector=self._near_vector)
        self.data = SimpleNamespace(insert_many=self._insert_many)

    def with_consistency_level(self, level: Any) -> _LevelledCollection:
        return _LevelledCollection(self.calls, level.value)

    def _near_vector(self, **kwargs: Any) -> Any:
        self.calls.append(("search", self.level))
        return SimpleNamespace(objects=[])

    def _insert_many(self, objects: list[Any]) -> Any:
        self.calls.append(("insert", self.level))
        return SimpleNamespace(has_errors=False, errors={})


@pytest.mark.parametrize(
    ("read", "write", "expected"),
    [("", "", [("search", None), ("insert", None)]), ("one", "ALL", [("search", "ONE"), ("insert", "ALL")])],
)
def test_weaviate_reads_and_writes_use_their_own_consistency_level(read, write, expected) -> None:
    calls: list[tuple[str, str | None]] = []
    b = backend_from_settings(Settings(read_consistency=read, write_consistency=write))
    assert isinstance(b, WeaviateBackend)
    b._client = SimpleNamespace(collections=SimpleNamespace(use=lambda name: _LevelledCollection(calls)))
    assert b.search([0.1, 0.2], 3) == []
    assert b.upsert([{"id": "d", "text": "t", "metadata": {}, "vector": [0.1, 0.2]}]) == 1
    assert calls == expected


def test_a_search_that_timed_out_drops_its_connection_and_a_rejected_one_keeps_it() -> None:
    closed: list[str] = []

    def client(name: str, error: Exception) -> Any:
        def near_vector(**kwargs: Any) -> Any:
            raise error

        coll = SimpleNamespace(query=SimpleNamespace(near_vector=near_vector))
        return SimpleNamespace(
            collections=SimpleNamespace(use=lambda n: coll), close=lambda: closed.append(name)
        )

    b = backend_from_settings(Settings(search_timeout_s=0.5))
    assert isinstance(b, WeaviateBackend) and b._query_timeout_s == 0.5
    b._client = client(
        "pinned", RuntimeError("Query call with protocol GRPC search failed: DEADLINE_EXCEEDED")
    )
    with pytest.raises(BackendUnavailable):
        b.search([0.1, 0.2], 3)
    assert closed == ["pinned"] and b._client is None  # the next use connects anew
    b._client = client("healthy", RuntimeError("vector lengths don't match"))
    with pytest.raises(BackendRejected):
        b.search([0.1, 0.2], 3)
    assert closed == ["pinned"] and b._client is not None


def test_weaviate_concurrent_create_is_tolerated(weaviate_rest) -> None:
    b, colls = _weaviate(weaviate_rest, lose_race=True)
    assert b.ensure_collection("Documents", 384, 2, 1) is False
    assert colls.present


def test_weaviate_readiness_and_an_existing_collection_need_no_client(weaviate_rest) -> None:
    """The readiness path speaks plain HTTP: with the collection there, neither ping nor the start-up
    create-if-missing imports weaviate-client (checked in a fresh interpreter)."""
    port, handler = weaviate_rest
    handler.colls = FakeWeaviateCollections(lose_race=False)
    handler.colls.present = True
    code = (
        "import sys\n"
        "from searchapp.backends.weaviate_backend import WeaviateBackend\n"
        f"b = WeaviateBackend(collection='Documents', http_host='127.0.0.1', http_port={port})\n"
        "exists, created = b.ping()['collection_exists'], b.ensure_collection('Documents', 8, 3, 1)\n"
        "print(exists, created, 'weaviate' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["True", "False", "False"], out.stderr
    handler.colls.present = False
    status = WeaviateBackend(collection="Documents", http_host="127.0.0.1", http_port=port).ping()
    assert (status["reachable"], status["collection_exists"]) == (True, False)
    assert "does not exist" in status["detail"]


def test_weaviate_error_classification() -> None:
    assert isinstance(classify_weaviate_error(WeaviateConnectionError("boom"), "D"), BackendUnavailable)
    grpc_down = RuntimeError(
        "Query call with protocol GRPC search failed with message StatusCode.UNAVAILABLE"
    )
    assert isinstance(classify_weaviate_error(grpc_down, "D"), BackendUnavailable)
    missing = RuntimeError("explorer: get class: could not find class Documents in schema")
    assert isinstance(classify_weaviate_error(missing, "D"), CollectionMissing)
    assert isinstance(
        classify_weaviate_error(RuntimeError("vector lengths don't match"), "D"), BackendRejected
    )


def test_weaviate_unreachable_is_reported_not_raised_by_ping_and_raised_as_503_by_calls() -> None:
    b = WeaviateBackend(collection="Documents", http_host="127.0.0.1", http_port=1, grpc_port=2, timeout_s=1)
    status = b.ping()
    assert status["reachable"] is False and "127.0.0.1:1" in status["detail"]
    assert "refused" in status["detail"].lower()
    with pytest.raises(BackendUnavailable):
        b.count()


def test_weaviate_client_modules_are_imported_under_one_lock():
    """The warm-up thread and the first request both import weaviate-client lazily; two threads in its
    circular imports at once raise `_DeadlockError` (a 500 on the cluster). Every import of the client
    in the backend goes through `_import`, which holds one lock."""
    import ast
    import inspect

    from searchapp.backends import weaviate_backend

    tree = ast.parse(inspect.getsource(weaviate_backend))
    direct = [
        ast.unparse(n)
        for n in ast.walk(tree)
        if (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] in ("weaviate", "httpx"))
        or (isinstance(n, ast.Import) and any(a.name.split(".")[0] in ("weaviate", "httpx") for a in n.names))
    ]
    assert direct == [], "import these through weaviate_backend._import"
    held = []
    real = weaviate_backend.importlib.import_module

    def spy(name):
        held.append(weaviate_backend._IMPORTS.locked())
        return real(name)

    weaviate_backend.importlib.import_module = spy
    try:
        assert weaviate_backend._import("json") is real("json")
    finally:
        weaviate_backend.importlib.import_module = real
    assert held == [True]
