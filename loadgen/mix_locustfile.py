"""Locust user built from the declarative request mix in $SCALEPROOF_REQUESTS (see `loadgen.mix`).

Run by `loadgen.runner` in the load subprocess when a team gives `requests` instead of a locustfile.
A response with status >= 400 (or a connection error, or no answer within
$SCALEPROOF_REQUEST_TIMEOUT_S, default 5 s) is a failure, as in Locust's default.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from locust import HttpUser, between

from loadgen.mix import ENV_VAR, MixRequest, parse_mix

__all__ = ["MixUser"]

MIX = parse_mix(os.environ.get(ENV_VAR, ""))
TIMEOUT_S = float(os.environ.get("SCALEPROOF_REQUEST_TIMEOUT_S", "5"))


def _task(req: MixRequest) -> Callable[[Any], None]:
    name = f"{req['method']} {req['path']}"

    def run(user: HttpUser) -> None:
        kw: dict[str, Any] = {"name": name, "timeout": TIMEOUT_S}
        if req["body"] is not None:
            kw["json"] = req["body"]
        user.client.request(req["method"], req["path"], **kw)

    run.__name__ = name
    return run


class MixUser(HttpUser):
    wait_time = between(0.05, 0.2)
    # a task listed `weight` times is picked `weight` times as often (Locust's list form of `tasks`)
    tasks = [task for r in MIX for task in [_task(r)] * r["weight"]]
