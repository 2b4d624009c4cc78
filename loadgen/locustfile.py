"""Search-heavy load on the reference app: mostly `POST /search`, some `GET /readyz`.

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

__all__ = ["SearchUser", "load_queries"]

FALLBACK_QUERIES = [
    "how do kubernetes pods recover",
    "horizontal pod autoscaler cpu target",
    "vector database sharding",
    "readiness probe failure",
    "replica set owner reference",
    "search latency under load",
    "weaviate shards per node",
    "chaos engineering steady state",
]


def load_queries(n: int, seed: int) -> list[str]:
    """Queries from the corpus helper when present (`loadgen.corpus.queries`), else the fallback list."""
    try:
        from loadgen.corpus import queries  # type: ignore[attr-defined]

        qs = [q if isinstance(q, str) else str(q.get("query", q)) for q in queries(n, seed)]
        if qs:
            return qs
    except Exception:  # corpus helper missing or broken: keep the load running with the fallback
        pass
    rng = random.Random(seed)
    return [rng.choice(FALLBACK_QUERIES) for _ in range(n)]


QUERIES = load_queries(int(os.environ.get("SCALEPROOF_QUERY_COUNT", "200")), int(os.environ.get("SCALEPROOF_QUERY_SEED", "7")))
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
            "/search", json={"query": QUERIES[self._i], "top_k": TOP_K}, name="POST /search", timeout=TIMEOUT_S
        )

    @task(1)
    def readyz(self) -> None:
        self.client.get("/readyz", name="GET /readyz", timeout=TIMEOUT_S)
