"""actions.peerload: the baseline, per-query outcomes on both paths, bounded by count and time,
stopped by the rollback, load only to allowed hosts. The app path talks to a real HTTP server on
127.0.0.1; the store path to a fake adapter (the adapters have their own tests)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from actions import peerload
from scaleproof import rundir, undo
from scaleproof.errors import LoadError, ScaleproofError

pytestmark = pytest.mark.unit


class App(BaseHTTPRequestHandler):
    mode = "ok"  # "ok", "fail" (HTTP 503), "short" (2 results)

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if App.mode == "fail":
            out, status = b'{"detail":"store unavailable"}', 503
        else:
            n = 2 if App.mode == "short" else int(body["top_k"])
            out, status = json.dumps({"results": [{"id": f"doc-{i}"} for i in range(n)]}).encode(), 200
        self.send_response(status)
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        pass


class Store:
    name, url = "weaviate", "http://127.0.0.1:30081"
    fail = False

    @contextlib.contextmanager
    def vector_queries(self, collection: str, n: int, top_k: int):
        def one(vec: Sequence[float]) -> list[str]:
            if Store.fail:
                raise ConnectionError("weaviate-1: connection refused")
            return [f"u{i}" for i in range(top_k)]

        yield [[0.1, 0.2]] * 3, one, (ConnectionError,), lambda e: f"{type(e).__name__}: {e}"

    def replica_states(self, collection: str) -> dict[str, Any]:
        return {"replicas": [], "unanswered": [], "source": "fake"}


@pytest.fixture
def env(monkeypatch, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @contextlib.contextmanager
    def opened(*a: Any, **k: Any):
        yield Store()

    monkeypatch.setattr(peerload.stores, "opened", opened)
    monkeypatch.setattr(undo, "ABORT", threading.Event())
    App.mode, Store.fail = "ok", False
    yield {rundir.CONFIG_KEY: str(tmp_path), "app_url": f"http://127.0.0.1:{server.server_address[1]}"}
    peerload.stop_query_load(grace_s=2)
    server.shutdown()
    server.server_close()


def lines(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    return rundir.read_jsonl(rundir.resolve(None, cfg) / peerload.QUERIES_FILE)


def test_baseline_then_outcomes_on_both_paths(env) -> None:
    res = peerload.start_query_load(
        queries=4, top_k=5, interval_s=0.01, run_time_s=30, max_queries=30, configuration=env
    )
    assert res["paths"]["app"] == {"queries": 4, "baseline_hits": [5, 5, 5, 5]}
    assert res["paths"]["store"]["queries"] == 3
    import time

    time.sleep(0.15)
    App.mode, Store.fail = "short", True
    time.sleep(0.15)
    App.mode = "fail"
    time.sleep(0.15)
    out = peerload.stop_query_load()
    got = lines(env)
    app = [r["outcome"] for r in got if r["via"] == "app"]
    store = [r for r in got if r["via"] == "store"]
    assert {"answered", "partial", "failed"} <= set(app)
    assert any(
        r["outcome"] == "failed" and r["error"] == "ConnectionError: weaviate-1: connection refused"
        for r in store
    )
    assert any(r["error"] == 'HTTP 503: {"detail":"store unavailable"}' for r in got if r["via"] == "app")
    assert sum(out["counts"]["app"].values()) == len(app) <= 30
    states = rundir.read_jsonl(rundir.resolve(None, env) / "peer-replicas.jsonl")
    assert states and states[0]["label"] == "load" and states[0]["source"] == "fake"


def test_bounded_by_max_queries_and_stops_by_itself(env) -> None:
    peerload.start_query_load(
        queries=2, via="app", interval_s=0.0, run_time_s=30, max_queries=7, configuration=env
    )
    import time

    deadline = time.monotonic() + 5
    while len(lines(env)) < 7 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    assert len(lines(env)) == 7
    assert peerload.stop_query_load()["still_running"] == []


def test_a_failing_baseline_stops_before_the_fault(env) -> None:
    App.mode = "fail"
    with pytest.raises(ScaleproofError, match="baseline query 0 through the app failed before any fault"):
        peerload.start_query_load(queries=2, via="app", configuration=env)
    assert peerload.stop_query_load()["stopped"] is False


def test_load_goes_only_to_loopback_or_allowed_hosts(env) -> None:
    with pytest.raises(LoadError):
        peerload.start_query_load(via="app", configuration={**env, "app_url": "http://10.1.2.3:80"})
