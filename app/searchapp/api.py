"""FastAPI application: ingest, search, health, readiness, metrics and collection info.

Why the shape: the service is stateless (all state lives in the vector store) so any replica can
serve any request and the HPA can add or remove replicas freely. Every client mistake answers 4xx
with ``{"error": code, "message": text}``; store outages answer 503 so load balancers and the
load generator can tell "retry elsewhere" from "your request is wrong".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .backends import (
    BackendError,
    BackendRejected,
    BackendUnavailable,
    CollectionMissing,
    SearchHit,
    StoredDocument,
    VectorBackend,
    backend_from_settings,
)
from .embedder import Embedder
from .lifecycle import CollectionBootstrapper, Lifecycle, StoreHealth
from .metrics import Metrics
from .settings import EmbeddingConfig, Settings

__all__ = ["ApiError", "DocumentIn", "DocumentsRequest", "SearchRequest", "create_app"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 20_000
MAX_QUERY_CHARS = 2_000

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class ApiError(Exception):
    """An error with an HTTP status, a short machine code and a human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class DocumentIn(BaseModel):
    """One document to ingest."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    text: str = Field(max_length=MAX_TEXT_CHARS)
    metadata: dict[str, Any] | None = None

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("id must not be blank")
        return v

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text must not be empty")
        return v


class DocumentsRequest(BaseModel):
    """Body of POST /documents."""

    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentIn] = Field(min_length=1)
    collection: str | None = None


class SearchRequest(BaseModel):
    """Body of POST /search: exactly one of ``query`` (text) or ``vector``."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(default=None, max_length=MAX_QUERY_CHARS)
    vector: list[FiniteFloat] | None = None
    top_k: int = Field(default=5, ge=1, le=50)
    collection: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SearchRequest:
        if (self.query is None) == (self.vector is None):
            raise ValueError("give exactly one of 'query' (text) or 'vector' (list of floats)")
        if self.query is not None and not self.query.strip():
            raise ValueError("query must not be empty")
        return self


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "message": message, **extra})


def _backend_error_response(exc: BackendError, metrics: Metrics) -> JSONResponse:
    """Map store failures: unreachable/missing collection -> 503 (retry elsewhere/later), else 502."""
    if isinstance(exc, BackendUnavailable):
        metrics.backend_errors.labels("unavailable").inc()
        return _error(503, "backend_unavailable", f"vector store unavailable: {exc}")
    if isinstance(exc, CollectionMissing):
        metrics.backend_errors.labels("collection_missing").inc()
        return _error(503, "collection_not_ready", f"collection not ready: {exc}")
    metrics.backend_errors.labels("rejected").inc()
    return _error(502, "backend_error", f"vector store error: {exc}")


def _format_validation(exc: RequestValidationError) -> tuple[int, dict[str, Any]]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, {"error": "malformed_json", "message": "request body is not valid JSON"}
    details = []
    for e in errors:
        loc = ".".join(str(p) for p in e.get("loc", ()))
        details.append({"loc": loc, "message": str(e.get("msg", ""))})
    message = "; ".join(f"{d['loc']}: {d['message']}" for d in details[:5]) or "invalid request"
    return 422, {"error": "invalid_request", "message": message, "details": details}


@dataclass(frozen=True)
class _Service:
    """What every route needs: built once per app by `create_app`."""

    settings: Settings
    backend: VectorBackend
    embedder: Embedder | Any
    lifecycle: Lifecycle
    metrics: Metrics
    bootstrapper: CollectionBootstrapper
    store_health: StoreHealth
    warming: threading.Event = field(default_factory=threading.Event)

    def warm_once(self) -> None:
        """Warm the embedder and the store's client in a thread, once: started by the first ready
        answer, so their imports do not compete for the CPU with getting Ready (a request that needs
        them first loads them itself or waits for the warm-up; it does not fail)."""
        if not self.warming.is_set():
            self.warming.set()
            threading.Thread(target=self._warm, name="warm-up", daemon=True).start()

    def _warm(self) -> None:
        load = getattr(self.embedder, "load", None)
        if load is not None:
            load()  # numpy and the hashing embedder
        self.backend.warm()

    def search(self, vector: list[float], top_k: int) -> list[SearchHit]:
        """The store's search, tried again on "unavailable" (`read`)."""
        return self.read("search", lambda: self.backend.search(vector, top_k))

    def read(self, what: str, call: Callable[[], T]) -> T:
        """A read of the store (idempotent), tried again on "unavailable" up to SEARCH_RETRIES times;
        the last failure is the answer."""
        retries, delay = self.settings.search_retries, self.settings.search_retry_delay_s
        for attempt in range(retries + 1):
            try:
                return call()
            except BackendUnavailable as exc:
                if attempt == retries:
                    raise
                self.metrics.backend_retries.inc()
                logger.info("%s try %d of %d: %s; trying again", what, attempt + 1, retries + 1, exc)
                time.sleep(delay * (attempt + 1))
        raise AssertionError("unreachable")  # the loop returns or raises

    def check_collection(self, name: str | None) -> None:
        if name is not None and name != self.settings.collection:
            raise ApiError(
                404,
                "unknown_collection",
                f"unknown collection {name!r}; this service serves {self.settings.collection!r}",
            )

    def embed(self, text: str, kind: str) -> list[float]:
        t0 = time.perf_counter()
        try:
            vec = self.embedder.embed(text)
        finally:
            self.metrics.embedding_duration.labels(kind).observe(time.perf_counter() - t0)
        return [float(x) for x in vec]


def _lifespan(svc: _Service) -> Callable[[FastAPI], Any]:
    """Start the collection bootstrapper with the app; stop it and close the backend on shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        await anyio.to_thread.run_sync(svc.bootstrapper.start)
        yield
        svc.bootstrapper.stop()
        try:
            await anyio.to_thread.run_sync(svc.backend.close)
        except Exception:  # noqa: BLE001 - closing must not fail the shutdown
            logger.exception("error while closing the backend")

    return lifespan


def _add_observer(app: FastAPI, svc: _Service) -> None:
    """Request metrics per route template; `Connection: close` while draining."""
    metrics = svc.metrics

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        endpoint = "other"
        for route in app.router.routes:
            match, _ = route.matches(request.scope)
            if match == Match.FULL:
                endpoint = getattr(route, "path", "other")
                break
        method = request.method
        metrics.in_flight.inc()
        t0 = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            if svc.lifecycle.draining:
                # Make keep-alive clients reconnect through the Service to a pod that is not leaving.
                response.headers["Connection"] = "close"
            return response
        finally:
            metrics.in_flight.dec()
            metrics.request_duration.labels(endpoint, method).observe(time.perf_counter() - t0)
            metrics.requests_total.labels(endpoint, method, str(status)).inc()


def _add_error_handlers(app: FastAPI, svc: _Service) -> None:
    """Every error answers `{"error": code, "message": text}`."""

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, body = _format_validation(exc)
        return JSONResponse(status_code=status, content=body)

    @app.exception_handler(ApiError)
    async def on_api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(BackendError)
    async def on_backend_error(_: Request, exc: BackendError) -> JSONResponse:
        return _backend_error_response(exc, svc.metrics)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))


def _add_documents(app: FastAPI, svc: _Service) -> None:
    settings = svc.settings

    @app.post("/documents")
    def post_documents(body: DocumentsRequest) -> dict[str, int]:
        """Embed and upsert a batch; ids map to UUID5 so re-ingest overwrites."""
        svc.check_collection(body.collection)
        n = len(body.documents)
        if n > settings.max_batch:
            raise ApiError(
                413, "batch_too_large", f"batch of {n} documents exceeds MAX_BATCH={settings.max_batch}"
            )
        seen: set[str] = set()
        for i, doc in enumerate(body.documents):
            if doc.id in seen:
                raise ApiError(
                    422, "duplicate_id", f"documents.{i}.id: id {doc.id!r} appears twice in the batch"
                )
            seen.add(doc.id)
        stored: list[StoredDocument] = []
        for i, doc in enumerate(body.documents):
            try:
                vector = svc.embed(doc.text, "document")
            except ValueError as exc:
                raise ApiError(422, "invalid_request", f"documents.{i}.text: {exc}") from exc
            stored.append({"id": doc.id, "text": doc.text, "metadata": doc.metadata or {}, "vector": vector})
        written = svc.backend.upsert(stored)
        svc.metrics.documents_ingested.inc(written)
        return {"ingested": written}


def _add_search(app: FastAPI, svc: _Service) -> None:
    settings = svc.settings

    @app.post("/search")
    def post_search(body: SearchRequest) -> dict[str, Any]:
        """Nearest documents to a text query (embedded here, costs CPU) or to a given vector."""
        svc.check_collection(body.collection)
        t0 = time.perf_counter()
        if body.vector is not None:
            if len(body.vector) != settings.embed_dim:
                raise ApiError(
                    422,
                    "invalid_vector",
                    f"vector has {len(body.vector)} dimensions, expected EMBED_DIM={settings.embed_dim}",
                )
            vector = [float(x) for x in body.vector]
            if not any(vector):
                raise ApiError(422, "invalid_vector", "vector must not be all zeros (cosine is undefined)")
        else:
            assert body.query is not None
            try:
                vector = svc.embed(body.query, "query")
            except ValueError as exc:
                raise ApiError(422, "invalid_request", f"query: {exc}") from exc
        hits = svc.search(vector, body.top_k)
        took_ms = (time.perf_counter() - t0) * 1000.0
        return {"results": hits, "took_ms": round(took_ms, 3)}


def _add_health(app: FastAPI, svc: _Service) -> None:
    lifecycle, metrics, backend, bootstrapper = svc.lifecycle, svc.metrics, svc.backend, svc.bootstrapper

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """Liveness: the event loop answers. Stays 200 while draining so the kubelet does not restart us."""
        return {"status": "ok", "draining": lifecycle.draining}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Readiness: 200 only if not draining, the store is reachable and the collection exists (once
        Ready: or the store's checks have failed for less than STORE_UNREADY_AFTER_SECONDS)."""
        if lifecycle.draining:
            metrics.ready.set(0)
            metrics.draining.set(1)
            return JSONResponse(status_code=503, content={"status": "draining", "reason": "SIGTERM received"})
        status = backend.ping()
        if status["reachable"] and not status["collection_exists"]:
            # Self-heal: create-if-missing (e.g. first start, or the collection was deleted).
            if bootstrapper.try_once():
                status = backend.ping()
        store_ok = status["reachable"] and status["collection_exists"]
        reason = status["detail"] if status["reachable"] else f"vector store unreachable: {status['detail']}"
        if svc.store_health.ready(store_ok):
            metrics.ready.set(1)
            svc.warm_once()
            content = {"status": "ready", "backend": backend.name, "collection": svc.settings.collection}
            if not store_ok:  # within STORE_UNREADY_AFTER_SECONDS of the first failed check
                content["store"] = f"failing for {svc.store_health.failing_for_s():.1f} s: {reason}"
            return JSONResponse(status_code=200, content=content)
        metrics.ready.set(0)
        if status["reachable"] and bootstrapper.last_error:
            reason = f"{reason}; create failed: {bootstrapper.last_error}"
        return JSONResponse(
            status_code=503, content={"status": "not_ready", "backend": backend.name, "reason": reason}
        )


def _add_metrics(app: FastAPI, svc: _Service) -> None:
    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(content=generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _add_collection(app: FastAPI, svc: _Service) -> None:
    settings, backend = svc.settings, svc.backend

    @app.get("/collection")
    def get_collection(name: str | None = None) -> dict[str, Any]:
        """Document count and per-shard info (useful for probes checking data spread)."""
        svc.check_collection(name)
        count = svc.read("count", backend.count)
        info: dict[str, Any] = {
            "collection": settings.collection,
            "backend": backend.name,
            "count": count,
            "configured_shards": settings.shards,
            "replication_factor": settings.replication_factor,
            "read_consistency": settings.read_consistency or None,
            "write_consistency": settings.write_consistency or None,
            "embed_dim": settings.embed_dim,
        }
        try:
            shards = svc.read("shard listing", backend.shard_info)
        except (BackendRejected, BackendUnavailable, NotImplementedError) as exc:
            # the count answered; the per-node listing is extra (it asks every peer, so one peer
            # going away fails it): say why it is missing rather than fail the whole answer
            info["shards"] = None
            info["shards_error"] = str(exc)
        else:
            info["shards"] = shards
        return info


# the routes in the order they are matched (the observer names a request by the first full match)
_ROUTES: tuple[Callable[[FastAPI, _Service], None], ...] = (
    _add_documents,
    _add_search,
    _add_health,
    _add_metrics,
    _add_collection,
)


def create_app(
    settings: Settings | None = None,
    *,
    backend: VectorBackend | None = None,
    embedder: Any = None,
    lifecycle: Lifecycle | None = None,
) -> FastAPI:
    """Build the app. Tests inject a backend double; production builds one from the settings."""
    settings = settings or Settings.from_env()
    backend = backend if backend is not None else backend_from_settings(settings)
    embedder = embedder or Embedder(EmbeddingConfig(dim=settings.embed_dim, rounds=settings.embed_rounds))
    if embedder.dim != settings.embed_dim:
        raise ValueError(f"embedder dim {embedder.dim} != EMBED_DIM {settings.embed_dim}")
    lifecycle = lifecycle or Lifecycle()
    metrics = Metrics()
    bootstrapper = CollectionBootstrapper(
        backend,
        dim=settings.embed_dim,
        shards=settings.shards,
        replication=settings.replication_factor,
        retry_s=settings.ensure_retry_s,
    )
    health = StoreHealth(settings.store_unready_after_s)
    svc = _Service(settings, backend, embedder, lifecycle, metrics, bootstrapper, health)
    app = FastAPI(title="searchapp", version="0.1.0", lifespan=_lifespan(svc))
    for key in ("settings", "backend", "embedder", "lifecycle", "metrics", "bootstrapper"):
        setattr(app.state, key, getattr(svc, key))
    _add_observer(app, svc)
    _add_error_handlers(app, svc)
    for add in _ROUTES:
        add(app, svc)
    return app
