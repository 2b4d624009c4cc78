"""Entry point: ``python -m searchapp`` runs one uvicorn worker with SIGTERM draining.

Why one worker: the HPA scales pods, not processes; one process per pod keeps CPU accounting and
readiness per replica honest.

Why the socket is bound first: a replacement pod's recovery time is mostly its start-up (imports,
store connection). The kernel accepts connections on a listening socket before the process calls
``accept()``, so once the port is bound, the kubelet's first readiness probe waits in the backlog
(up to the probe's ``timeoutSeconds``) and is answered the moment the app can serve, instead of
being refused and retried a probe period later. Only the standard library is imported before the
bind; FastAPI, numpy, uvicorn and the store client come after it. The cyclic garbage collector is
off during start-up (its passes over the freshly imported modules are wasted work) and is switched
back on, with the start-up objects frozen, once the server is up (``DrainingServer.startup``).
"""

from __future__ import annotations

import gc
import logging
import math
import os
import socket
import sys

from .settings import Settings, SettingsError

__all__ = ["bind_listener", "main"]

logger = logging.getLogger("searchapp")

LISTEN_BACKLOG = 2048  # uvicorn's default


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv6 if the host is an IPv6 literal)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def main() -> int:
    """Parse env, bind the port, build the app and serve until SIGTERM/SIGINT; returns the exit code."""
    gc.disable()
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"searchapp: configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind_listener(settings.host, settings.port)
    except OSError as exc:
        where = f"HOST={settings.host} PORT={settings.port}"
        print(f"searchapp: cannot listen on {where}: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    from .api import create_app
    from .lifecycle import DrainingServer

    try:
        app = create_app(settings)
    except ValueError as exc:
        print(f"searchapp: configuration error: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        workers=1,
        log_level=settings.log_level,
        access_log=os.environ.get("ACCESS_LOG", "").lower() in ("1", "true", "yes"),
        timeout_graceful_shutdown=math.ceil(settings.graceful_timeout_s),
        lifespan="on",
    )
    server = DrainingServer(config, app.state.lifecycle, settings.drain_seconds)
    logger.info(
        "searchapp on %s:%d backend=%s collection=%s dim=%d rounds=%d drain=%.1fs",
        settings.host,
        settings.port,
        settings.vector_backend,
        settings.collection,
        settings.embed_dim,
        settings.embed_rounds,
        settings.drain_seconds,
    )
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
