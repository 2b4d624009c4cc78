"""Search-heavy load on the reference app: mostly `POST /search`, some `GET /collection`.

Users never call `/readyz`: it is the kubelet's probe, and a draining pod answers it 503 on purpose
(so that it leaves the endpoints); counting that as a user failure would blame the mechanism that
prevents user failures.

Run through `loadgen.runner` (a bounded subprocess), never imported by the chaos process. Queries come
from `loadgen.corpus.queries(n, seed)` when the corpus helper is installed, else from a small built-in
list. Environment knobs: SCALEPROOF_QUERY_SEED (default 7), SCALEPROOF_QUERY_COUNT (default 200),
SCALEPROOF_TOP_K (default 5), SCALEPROOF_REQUEST_TIMEOUT_S (default 5: a hung request becomes a
failure in bounded time).
"""

from __future__ import annotations

import os
import random

from locust import HttpUser, between, task

from loadgen.runner import load_queries

__all__ = ["SearchUser"]

QUERIES = load_queries(
    int(os.environ.get("SCALEPROOF_QUERY_COUNT", "200")), int(os.environ.get("SCALEPROOF_QUERY_SEED", "7"))
)
TOP_K = int(os.environ.get("SCALEPROOF_TOP_K", "5"))
TIMEOUT_S = float(os.environ.get("SCALEPROOF_REQUEST_TIMEOUT_S", "5"))


class SearchUser(HttpUser):
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self._i = random.randrange(len(QUERIES))

    @task(9)
    def search(self) -> None:
        self._i = (self._i + 1) % len(QUERIES)
        self.client.post(
            "/search",
            json={"query": QUERIES[self._i], "top_k": TOP_K},
            name="POST /search",
            timeout=TIMEOUT_S,
        )

    @task(1)
    def collection(self) -> None:
        self.client.get("/collection", name="GET /collection", timeout=TIMEOUT_S)
