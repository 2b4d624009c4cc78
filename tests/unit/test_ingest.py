"""The ingest loader: batching, bounded retries, deadline, host allow-list and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loadgen.corpus import Document, load_documents
from loadgen.ingest import IngestError, UrlNotAllowed, check_url, corpus_of_size, ingest

pytestmark = pytest.mark.unit


class Recorder:
    """Scripted responses (status codes, then 200 for ever) and the batches received."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.script = list(script or [])
        self.batches: list[list[str]] = []
        self.requests = 0
        self.lock = threading.Lock()


@pytest.fixture
def server() -> Iterator[tuple[str, Recorder]]:
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with rec.lock:
                rec.requests += 1
                status = rec.script.pop(0) if rec.script else 200
                if status == 200:
                    rec.batches.append([d["id"] for d in body["documents"]])
            payload = (
                {"ingested": len(body["documents"])} if status == 200 else {"error": "x", "message": "m"}
            )
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", rec
    httpd.shutdown()
    httpd.server_close()


def _docs(n: int) -> list[Document]:
    return [{"id": f"d{i}", "text": f"text {i}", "metadata": {}} for i in range(n)]


def test_batches_are_sized_and_ordered(server: tuple[str, Recorder]) -> None:
    url, rec = server
    progress: list[tuple[int, int]] = []
    result = ingest(url + "/", _docs(120), batch_size=50, progress=lambda d, t: progress.append((d, t)))
    assert [len(b) for b in rec.batches] == [50, 50, 20]
    assert rec.batches[0][0] == "d0" and rec.batches[2][-1] == "d119"
    assert result["documents"] == result["ingested"] == 120
    assert (result["batches"], result["attempts"], result["retries"]) == (3, 3, 0)
    assert progress == [(50, 120), (100, 120), (120, 120)]
    assert (
        0 <= result["batch_s_min"] <= result["batch_s_mean"] <= result["batch_s_max"] <= result["duration_s"]
    )
    assert result["batch_s_min"] <= result["batch_s_p50"] <= result["batch_s_p95"] <= result["batch_s_max"]


def test_503_is_retried_then_succeeds(server: tuple[str, Recorder]) -> None:
    url, rec = server
    rec.script = [503, 503]
    result = ingest(url, _docs(10), batch_size=10, backoff_s=0.01)
    assert result["ingested"] == 10 and result["retries"] == 2 and rec.requests == 3


def test_persistent_503_gives_up_after_max_attempts(server: tuple[str, Recorder]) -> None:
    url, rec = server
    rec.script = [503] * 10
    with pytest.raises(IngestError, match="after 4 attempt"):
        ingest(url, _docs(5), max_attempts=4, backoff_s=0.01)
    assert rec.requests == 4


def test_4xx_is_not_retried(server: tuple[str, Recorder]) -> None:
    url, rec = server
    rec.script = [422]
    with pytest.raises(IngestError, match="422"):
        ingest(url, _docs(5), backoff_s=0.01)
    assert rec.requests == 1


def test_connection_errors_are_retried_within_the_deadline() -> None:
    calls: list[float] = []
    now = [0.0]

    def transport(url: str, body: bytes, timeout_s: float) -> tuple[int, bytes]:
        calls.append(timeout_s)
        raise ConnectionRefusedError("refused")

    def fake_sleep(s: float) -> None:
        now[0] += s

    with pytest.raises(IngestError, match="connection error"):
        ingest(
            "http://127.0.0.1:9", _docs(3), timeout_s=1.0, max_attempts=50, backoff_s=0.25,
            transport=transport, sleep=fake_sleep, clock=lambda: now[0],
        )  # fmt: skip
    # backoff 0.25 + 0.5 reaches 0.75 s, the next pause is clipped to the 1 s deadline: 3 attempts, not 50.
    assert len(calls) == 3
    assert (
        calls[0] == pytest.approx(1.0) and calls[1] == pytest.approx(0.75) and calls[2] == pytest.approx(0.25)
    )


def test_connection_refused_on_a_real_closed_port() -> None:
    with pytest.raises(IngestError, match="connection error"):
        ingest("http://127.0.0.1:9", _docs(2), max_attempts=2, backoff_s=0.01, timeout_s=5)


@pytest.mark.parametrize(
    "url", ["http://localhost:30080", "http://127.0.0.1:30080", "http://127.9.9.9", "http://[::1]:8"]
)
def test_loopback_is_always_allowed(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://example.com", ()),
        ("http://example.com", ("example.com",)),  # public even if listed
        ("http://8.8.8.8:80", ("8.8.8.8",)),
        ("http://10.0.0.5:8080", ()),  # private but not listed
        ("http://searchapp.default.svc:8080", ()),
        ("file:///etc/passwd", ()),
        ("127.0.0.1:8080", ()),
    ],
)
def test_other_hosts_are_refused(url: str, allow: tuple[str, ...]) -> None:
    with pytest.raises(UrlNotAllowed):
        check_url(url, allow)


@pytest.mark.parametrize(
    "host",
    ["10.0.0.5", "192.168.49.2", "searchapp.default.svc", "searchapp.default.svc.cluster.local", "searchapp"],
)
def test_listed_cluster_internal_hosts_are_allowed(host: str) -> None:
    assert check_url(f"http://{host}:8080/", [host]) == f"http://{host}:8080"


def test_corpus_of_size_uses_real_documents_first() -> None:
    real = load_documents()
    assert corpus_of_size(10) == real[:10]
    big = corpus_of_size(len(real) + 5, seed=2)
    assert big[: len(real)] == real and len(big) == len(real) + 5 and big[-1]["id"] == "syn-000005"


def test_cli_ingests_and_prints_a_json_summary(server: tuple[str, Recorder]) -> None:
    url, rec = server
    out = subprocess.run(
        [sys.executable, "-m", "loadgen.ingest", "--url", url, "--n", "150", "--batch-size", "64"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["ingested"] == 150 and summary["batches"] == 3
    assert [len(b) for b in rec.batches] == [64, 64, 22]


def test_cli_prints_progress_for_large_corpora(server: tuple[str, Recorder]) -> None:
    url, _ = server
    out = subprocess.run(
        [sys.executable, "-m", "loadgen.ingest", "--url", url, "--n", "2000", "--batch-size", "100"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("ingest: ")]
    assert lines[0] == "ingest: 100/2000 documents (5%)" and lines[-1] == "ingest: 2000/2000 documents (100%)"
    assert len(lines) == 20


def test_cli_refuses_a_public_url() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loadgen.ingest", "--url", "http://example.com", "--n", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and "refusing" in out.stderr


def test_batch_latency_quantiles_interpolate_like_numpy() -> None:
    from loadgen.ingest import _quantile

    assert _quantile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert _quantile([1.0, 2.0, 3.0, 4.0], 0.95) == 3.85
    assert _quantile([], 0.95) == 0.0
