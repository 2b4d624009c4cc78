"""`chaos run experiments/vector-shards.yaml` with SCALEPROOF_STORE=qdrant, exactly as a user types
it, against the three recorded Qdrant 1.18.3 peers (tests/unit/qdrant_recorded.py) and a stand-in
for the app's HTTP surface (readyz, ingest, search, collection): the Qdrant path of the experiment
(discovery-free peer URLs, hypothesis phases, evidence, exit codes) without a Qdrant server.

The stand-in app is the only invented part: it answers `POST /documents` and `POST /search` like
searchapp and, on the first search, switches the peers to their recorded "after the burst" telemetry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.unit.qdrant_recorded import FIXTURES, Peers, recorded_peers

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class _App(BaseHTTPRequestHandler):
    peers: Peers

    def _send(self, status: int, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self.path == "/readyz":
            self._send(200, {"status": "ready"})
        elif self.path.startswith("/collection"):
            self._send(200, json.loads((FIXTURES / "app-collection.json").read_text()))
        else:
            self._send(404, {})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        if self.path == "/documents":
            self._send(200, {"ingested": len(body.get("documents") or [])})
        elif self.path == "/search":
            self.peers.phase = "after"
            self._send(200, json.loads((FIXTURES / "app-search-example.json").read_text()))
        else:
            self._send(404, {})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stack() -> Iterator[tuple[Peers, str]]:
    with recorded_peers() as peers:
        handler = type("App", (_App,), {"peers": peers})
        app = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=app.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        try:
            yield peers, f"http://127.0.0.1:{app.server_port}"
        finally:
            app.shutdown()
            app.server_close()


def _run(peers: Peers, app_url: str, tmp_path: Path, **extra: str) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SCALEPROOF_RUN_DIR")}
    env.update(
        HOME=str(tmp_path),
        PYTHONPATH=str(ROOT),
        SCALEPROOF_STORE="qdrant",
        SCALEPROOF_QDRANT_URLS=",".join(peers.urls),
        SCALEPROOF_APP_URL=app_url,
        SCALEPROOF_PROMETHEUS_URL="http://127.0.0.1:9",
        SCALEPROOF_QUERIES="20",
        SCALEPROOF_STORE_SELECTOR="",  # recorded peers, no Kubernetes: store nodes only (no mapping)
        **extra,
    )
    journal = tmp_path / "journal.json"
    proc = subprocess.run(
        [str(BIN / "chaos"), "--no-version-check", "--log-file", str(tmp_path / "chaos.log"), "run"]
        + ["--hypothesis-frequency", "2", "--journal-path", str(journal)]
        + [str(ROOT / "experiments" / "vector-shards.yaml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert journal.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads(journal.read_text())


def _evidence(doc: dict) -> dict:
    return next(e for e in doc["extensions"] if e.get("name") == "scaleproof" and "metrics" in e)


def test_qdrant_run_passes_with_the_recorded_spread(stack, tmp_path):
    peers, app_url = stack
    rc, doc = _run(peers, app_url, tmp_path)
    ev = _evidence(doc)
    assert (rc, doc["status"], doc["deviated"]) == (0, "completed", False), ev["verdict_reasons"]
    got = {
        k: ev["metrics"][k]["value"]
        for k in ("shards_min", "nodes_with_shards", "documents_total", "shards_queried")
    }
    assert got == {"shards_min": 3, "nodes_with_shards": 3, "documents_total": 100, "shards_queried": 3}
    assert ev["verdict"] == "pass", ev["verdict_reasons"]
    after = doc["steady_states"]["after"]["probes"]
    spread = next(p for p in after if p["activity"]["name"] == "shards-spread-claim")["output"]
    assert (spread["store"], spread["shards_queried"], spread["baseline"]) == ("qdrant", 3, "before")
    assert all(s["steady_state_met"] for s in doc["steady_states"]["during"])
    view = next(r for r in doc["run"] if r["activity"]["name"] == "app-collection-view")["output"]
    assert view["partial"] is True, "the app's one-peer view is flagged, not silent"


def test_qdrant_impossible_claim_ends_deviated(stack, tmp_path):
    peers, app_url = stack
    rc, doc = _run(peers, app_url, tmp_path, SCALEPROOF_MIN_SHARDS="9")
    assert doc["steady_states"]["before"]["steady_state_met"] is True, "the gate holds at rest"
    assert (rc, doc["status"], doc["deviated"]) == (1, "completed", True)
    after = doc["steady_states"]["after"]["probes"]
    claim = next(p for p in after if p["activity"]["name"] == "shards-spread-claim")["output"]["claim"]
    assert claim["phase"] == "queried" and claim["reasons"] == ["3 shard(s) hold data, 9 claimed"]
    verdict = subprocess.run(
        [str(BIN / "scaleproof"), "verdict", str(tmp_path / "journal.json")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert verdict.returncode != 0 and "FAIL" in verdict.stdout, verdict.stdout + verdict.stderr
