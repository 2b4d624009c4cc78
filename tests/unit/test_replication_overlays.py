"""The rf 2 overlays (k8s/components/replication-2): the side-by-side decision needs the reference
stack at replication 1 and 2. A collection's factor is fixed at creation, so factor 2 is its own
collection (DocumentsRf2) set through the app's ConfigMap; the overlays change NOTHING else (same
store, same data of the rf 1 collection), so switching is a re-deploy of the app."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_manifests import overlay

pytestmark = pytest.mark.unit

KEYS = ("COLLECTION", "REPLICATION_FACTOR", "READ_CONSISTENCY")


def _is_app_config(o: dict) -> bool:
    return o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("searchapp-config")


def _config(objs: list) -> dict:
    (cm,) = [o for o in objs if _is_app_config(o)]
    return cm


def _rest(objs: list) -> list[str]:
    """Every object but the app's ConfigMap, its hashed name blanked where the Deployment names it."""
    name = _config(objs)["metadata"]["name"]
    return sorted(
        json.dumps(o, sort_keys=True).replace(name, "searchapp-config") for o in objs if not _is_app_config(o)
    )


@pytest.mark.parametrize(
    ("rf2", "rf1", "backend"),
    [("local-rf2", "local", "weaviate"), ("qdrant-local-rf2", "qdrant-local", "qdrant")],
)
def test_rf2_overlay_is_the_rf1_stack_with_its_own_collection(rf2: str, rf1: str, backend: str) -> None:
    two, one = overlay(rf2), overlay(rf1)
    data2, data1 = _config(two)["data"], _config(one)["data"]
    assert (data2["COLLECTION"], data2["REPLICATION_FACTOR"], data2["VECTOR_BACKEND"]) == (
        "DocumentsRf2",
        "2",
        backend,
    )
    assert data1["COLLECTION"] == "Documents" and data1.get("REPLICATION_FACTOR", "1") == "1"
    assert {k: v for k, v in data2.items() if k not in KEYS} == {
        k: v for k, v in data1.items() if k not in KEYS
    }
    assert _config(two)["metadata"]["name"] != _config(one)["metadata"]["name"]  # the pods roll
    assert _rest(two) == _rest(one)


def test_weaviate_rf2_reads_one_replica() -> None:
    """QUORUM (Weaviate's default) of 2 replicas is both: one peer down would fail every read."""
    assert _config(overlay("local-rf2"))["data"]["READ_CONSISTENCY"] == "ONE"
    assert "READ_CONSISTENCY" not in _config(overlay("qdrant-local-rf2"))["data"]  # Qdrant's default is 1
