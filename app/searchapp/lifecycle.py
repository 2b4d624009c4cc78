"""Start-up collection bootstrap and SIGTERM draining.

Why draining: when Kubernetes deletes a pod, removing it from Service endpoints propagates
asynchronously (endpoints controller -> EndpointSlices -> kube-proxy on every node). Requests can
still arrive for a few seconds after SIGTERM. So on the first SIGTERM we only flip readiness to 503
and keep serving for DRAIN_SECONDS (answering with ``Connection: close`` so keep-alive clients
reconnect through the Service to a live pod); then uvicorn stops accepting, finishes in-flight
requests (up to GRACEFUL_TIMEOUT_SECONDS) and exits 0. A second SIGTERM, or SIGINT, exits at once.

Interplay with a preStop hook (e.g. ``sleep 5``): the kubelet runs preStop *before* sending
SIGTERM, and endpoint removal already starts when the pod is marked terminating, so preStop covers
the propagation delay on its own and DRAIN_SECONDS then adds a second margin. The budget that must
fit in terminationGracePeriodSeconds (default 30) is preStop + DRAIN_SECONDS + GRACEFUL_TIMEOUT
(defaults: 5 + 5 + 10 = 20 s). If either preStop or the drain is present, the other may be 0.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

from .backends import BackendError, VectorBackend

__all__ = ["CollectionBootstrapper", "DrainingServer", "Lifecycle"]

logger = logging.getLogger(__name__)


class Lifecycle:
    """Process-wide state: are we draining, and since when (monotonic seconds)."""

    def __init__(self) -> None:
        self._draining = threading.Event()
        self.drain_started_at: float | None = None

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def begin_drain(self) -> None:
        """The shutdown hook: readiness turns 503 from now on; requests are still served."""
        if not self._draining.is_set():
            self.drain_started_at = time.monotonic()
            self._draining.set()
            logger.info("drain started: /readyz now answers 503, still serving requests")


class StoreHealth:
    """Whether a failed store check takes this replica out of its Service.

    Until the store has answered once, every failed check does: a pod is not Ready before it can
    serve. After that only failures lasting `grace_s` do. Why: the check reaches the store through
    its Service, and a store peer on a node that just died keeps its endpoint until the node
    controller notices (~50 s). A check that happens to pick it times out; without the grace that
    took healthy replicas out of rotation, all at once (seen in node-loss: 3 Ready app pods down to
    1 while their own node was fine). A store that is really down still turns readiness off, after
    `grace_s`; requests meanwhile get the store's error (503), as they would anyway."""

    def __init__(self, grace_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self._clock = clock
        self.answered_once = False
        self.failing_since: float | None = None

    def ready(self, store_ok: bool) -> bool:
        """Record one check; whether to report Ready."""
        if store_ok:
            self.answered_once, self.failing_since = True, None
            return True
        now = self._clock()
        if self.failing_since is None:
            self.failing_since = now
        return self.answered_once and now - self.failing_since < self.grace_s

    def failing_for_s(self) -> float:
        return 0.0 if self.failing_since is None else self._clock() - self.failing_since


class CollectionBootstrapper:
    """Creates the collection if missing, retrying in a background thread until it succeeds.

    Why a thread: pods must start (and report not-ready) even while the store is down; several
    replicas starting at once all call create-if-missing, which the backends make idempotent.
    """

    def __init__(
        self, backend: VectorBackend, *, dim: int, shards: int, replication: int, retry_s: float
    ) -> None:
        self.backend = backend
        self.dim, self.shards, self.replication = dim, shards, replication
        self.retry_s = retry_s
        self.ensured = threading.Event()
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def try_once(self) -> bool:
        """One create-if-missing attempt; returns True when the collection exists."""
        with self._lock:
            try:
                self.backend.ensure_collection(
                    self.backend.collection, self.dim, self.shards, self.replication
                )
            except BackendError as exc:
                self.last_error = str(exc)
                self.ensured.clear()
                return False
            self.last_error = None
            self.ensured.set()
            return True

    def start(self) -> None:
        """Try now; if that fails keep retrying every ``retry_s`` seconds in a daemon thread."""
        if self.try_once():
            return
        logger.warning("collection not ready yet (%s); retrying every %.1fs", self.last_error, self.retry_s)
        self._thread = threading.Thread(target=self._run, name="collection-bootstrap", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.retry_s):
            if self.try_once():
                logger.info("collection %s is ready", self.backend.collection)
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class DrainingServer(uvicorn.Server):
    """uvicorn server whose first SIGTERM starts a drain period instead of stopping at once."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, drain_seconds: float) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain_seconds = drain_seconds
        self._drain_timer: threading.Timer | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start-up (lifespan, then listen); then the GC comes back if main() paused it.

        Why freeze: the start-up objects (modules, classes, schemas) live as long as the process; frozen,
        later collections no longer walk them.
        """
        await super().startup(sockets=sockets)
        if not gc.isenabled():
            gc.freeze()
            gc.enable()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self.lifecycle.draining and self.drain_seconds > 0:
            self.lifecycle.begin_drain()
            logger.info("SIGTERM: draining for %.1fs before graceful shutdown", self.drain_seconds)
            self._drain_timer = threading.Timer(self.drain_seconds, self._finish_drain)
            self._drain_timer.daemon = True
            self._drain_timer.start()
            return
        self.lifecycle.begin_drain()
        if self._drain_timer is not None:
            self._drain_timer.cancel()
        # Second signal or SIGINT: uvicorn's own behaviour (graceful stop; SIGINT twice forces).
        super().handle_exit(sig, frame)

    def _finish_drain(self) -> None:
        """End of the drain period: ask uvicorn to stop accepting and finish in-flight requests."""
        logger.info("drain period over: stopping the server")
        self.should_exit = True  # polled by uvicorn's main loop every 0.1 s; exit code 0
