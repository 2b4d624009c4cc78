"""Entry point: ``python -m searchapp`` runs one uvicorn worker with SIGTERM draining.

Why one worker: the HPA scales pods, not processes; one process per pod keeps CPU accounting and
readiness per replica honest.
"""

from __future__ import annotations

import logging
import math
import os
import sys

import uvicorn

from .api import create_app
from .lifecycle import DrainingServer
from .settings import Settings, SettingsError

__all__ = ["main"]

logger = logging.getLogger("searchapp")


def main() -> int:
    """Parse env, build the app and serve until SIGTERM/SIGINT; returns the exit code."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = Settings.from_env()
        app = create_app(settings)
    except (SettingsError, ValueError) as exc:
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
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
