"""A Weaviate REST endpoint on 127.0.0.1 that answers `GET /v1/meta` (the client reads the server
version on connect) and `GET /v1/nodes` with the responses recorded on the local cluster's Weaviate
1.39.0 (tests/fixtures/weaviate/, see its README.md), so weaviate-client runs for real; only the
server is replaced by its recording.

`nodes` is that recording, parsed: a test may change it (a node's status, a shard's count) to
describe another cluster state in the real shape. `status` ≠ 200 answers that status instead;
`seen` logs (path, query, API key header).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "weaviate"


class RecordedWeaviate:
    def __init__(self) -> None:
        self.meta: dict[str, Any] = json.loads((FIXTURES / "meta.json").read_text())
        self.nodes: dict[str, Any] = json.loads((FIXTURES / "nodes-verbose.json").read_text())
        self.status = 200
        self.seen: list[tuple[str, str, str | None]] = []
        self.url = ""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        store = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                url = urlsplit(self.path)
                store.seen.append((url.path, url.query, self.headers.get("authorization")))
                answer = {"/v1/meta": store.meta, "/v1/nodes": store.nodes}.get(url.path)
                status = 404 if answer is None else 200 if url.path == "/v1/meta" else store.status
                body = json.dumps(answer if status == 200 else {"error": [{"message": "not ready"}]}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@contextmanager
def recorded_weaviate() -> Iterator[RecordedWeaviate]:
    store = RecordedWeaviate()
    server = ThreadingHTTPServer(("127.0.0.1", 0), store._handler())
    store.url = f"http://127.0.0.1:{server.server_address[1]}"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield store
    finally:
        server.shutdown()
        server.server_close()
