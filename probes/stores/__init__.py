"""One adapter per vector store, behind one small interface; the registry finds them by module name.

A store is one module of this package (`probes/stores/<name>.py`) with a function
`open_store(configuration, secrets, timeout_s) -> StoreAdapter`: it unpacks the configuration keys it
needs once (the provider boundary) and returns an adapter that answers, for one collection:

* `snapshot`: nodes and shards (`per_shard` rows: shard, node, objects, status) and, when asked,
  the per-shard query counters (a cumulative counter per shard: compare two snapshots, see
  `scaleproof.shards.query_deltas`), with where each figure comes from;
* `replica_states`: the state of every replica of every shard as each node that answers reports it
  (and which nodes did not answer), what a store-peer-loss experiment watches;
* `healthy_nodes`: how many nodes form a healthy cluster (raises VectorStoreError naming what is
  wrong, a node that does not answer included);
* the query burst: `burst_via` says whose searches move the store's counters (`"app"`: the app's
  `POST /search`; else the adapter's own `searches`, one callable per query);
* `wait_formed`: block until a collection created now would be spread over every node (None when
  the store needs no wait);
* for a peer loss: `vector_queries` (a fixed set of query vectors, the vectors of the collection's
  first objects, and one nearest-neighbour query returning the result ids: Weaviate gRPC
  `near_vector`, Qdrant `query_points`), `document_ids` (every id, for a count and checksum) and
  `replication` (the collection's replication factor as the store reports it).

`probes.vectorstore` writes the probes and the steady-state claim once against this interface;
`actions.data` sends the burst and waits through it. Adding a store means adding one module here.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypedDict

from scaleproof.errors import VectorStoreError

__all__ = [
    "DEFAULT_STORE",
    "ReplicaState",
    "ReplicaStates",
    "Replication",
    "VectorQueries",
    "Search",
    "ShardRow",
    "Snapshot",
    "StoreAdapter",
    "names",
    "open_store",
    "opened",
    "store_name",
]

DEFAULT_STORE = "weaviate"


class ShardRow(TypedDict, total=False):
    shard: str
    node: str
    objects: int | None
    status: str | None
    peer_uri: str | None


class Snapshot(TypedDict, total=False):
    """What `StoreAdapter.snapshot` returns (and `record_shards` writes to `shards.jsonl`)."""

    per_shard: list[ShardRow]
    per_shard_source: str
    warnings: list[str]
    missing: str  # the collection does not exist (at rest, before the ingest)
    peers: int
    counters: dict[str, float] | None  # cumulative per-shard query counters
    counters_source: str
    counters_error: str  # the counter source is unavailable (the snapshot stands without it)
    counters_fanout: dict[str, float]


class ReplicaState(TypedDict, total=False):
    shard: str
    node: str  # the node (Weaviate) or peer id (Qdrant) holding the replica
    state: str  # the store's own word: Active, Dead, Partial… (Qdrant); READY, INDEXING… (Weaviate)
    seen_by: str  # the node that reported it
    node_status: str | None  # Weaviate: the holder's status (HEALTHY, UNHEALTHY…)


class ReplicaStates(TypedDict):
    replicas: list[ReplicaState]
    unanswered: list[str]  # one line per node that did not answer, naming it as down or unreachable
    source: str


class Replication(TypedDict):
    """The collection's replication, read back from the store (not from our settings)."""

    factor: int
    write_consistency_factor: int | None  # Qdrant only (Weaviate: per request)
    shards: int
    source: str


# (the fixed query vectors, one query: vector → result ids, the exceptions that count as a failed query,
#  a reader of such an exception: its one-line text in the store's own words)
VectorQueries = tuple[
    list[list[float]],
    Callable[[Sequence[float]], list[str]],
    tuple[type[BaseException], ...],
    Callable[[BaseException], str],
]


# (send one query number i → answered?, the exceptions that count as a failed query)
Search = tuple[Callable[[int], bool], tuple[type[BaseException], ...]]


class StoreAdapter(Protocol):
    name: str
    burst_via: str  # "app" or the store's name (its own `searches`)

    @property
    def url(self) -> str: ...  # where the adapter's own searches go (checked against the allowed hosts)

    def snapshot(self, collection: str, with_counters: bool) -> Snapshot: ...

    def replica_states(self, collection: str) -> ReplicaStates: ...

    def healthy_nodes(self) -> int: ...

    def wait_formed(self, deadline_s: float) -> int | None: ...

    def searches(self, collection: str, top_k: int) -> AbstractContextManager[Search]: ...

    def vector_queries(
        self, collection: str, n: int, top_k: int
    ) -> AbstractContextManager[VectorQueries]: ...

    def document_ids(self, collection: str, limit: int) -> list[str]: ...  # every id (at most `limit`)

    def replication(self, collection: str) -> Replication: ...

    def close(self) -> None: ...


def names() -> tuple[str, ...]:
    """The stores this package has an adapter for (its public modules)."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


def store_name(store: str | None, configuration: Mapping[str, Any] | None) -> str:
    """The store asked for (argument, else configuration `store` = SCALEPROOF_STORE, else weaviate)."""
    s = str(store or (configuration or {}).get("store") or DEFAULT_STORE).strip().lower()
    if s not in names():
        raise VectorStoreError(
            f"unknown store {s!r}: set SCALEPROOF_STORE (configuration `store`) to " + " or ".join(names())
        )
    return s


def open_store(
    store: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None = None,
    timeout_s: float = 10.0,
    **options: Any,
) -> StoreAdapter:
    """The adapter of the configured store (`options`: the adapter's own keyword overrides)."""
    module = importlib.import_module(f"{__name__}.{store_name(store, configuration)}")
    adapter: StoreAdapter = module.open_store(configuration or {}, secrets, timeout_s, **options)
    return adapter


@contextlib.contextmanager
def opened(
    store: str | None,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Any] | None = None,
    timeout_s: float = 10.0,
    **options: Any,
) -> Iterator[StoreAdapter]:
    """`open_store` for a `with` block: the adapter is closed on exit."""
    adapter = open_store(store, configuration, secrets, timeout_s, **options)
    try:
        yield adapter
    finally:
        adapter.close()
