"""A team's own load for agnhost netexec (SCALEPROOF_LOCUSTFILE): enough CPU per request to scale it.

netexec has no endpoint that burns CPU on purpose; its cheap ones (/hostname, /echo) cost a Go server
tens of microseconds each, far below what 10 users can make an HPA notice. `/dial` does real work in
the pod: it opens `tries` fresh HTTP connections to the given host and port and asks each for `request`.
Pointed at the pod's own loopback, one GET becomes `tries` full HTTP exchanges inside that pod, on its
CPU (and never leaves it: 127.0.0.1 in the pod's network namespace). AGNHOST_DIAL_TRIES sets the factor.
"""

from __future__ import annotations

import os

from locust import HttpUser, between, task

TRIES = int(os.environ.get("AGNHOST_DIAL_TRIES", "10"))
DIAL = f"/dial?host=127.0.0.1&port=8080&protocol=http&request=hostname&tries={TRIES}"


class NetexecUser(HttpUser):
    wait_time = between(0.05, 0.2)

    @task(9)
    def dial(self) -> None:
        self.client.get(DIAL, name="/dial")

    @task(1)
    def hostname(self) -> None:
        self.client.get("/hostname")
