"""Three Qdrant peers that answer with the responses recorded on a real Qdrant 1.18.3 cluster
(tests/fixtures/qdrant/, see its README.md): real HTTP servers on 127.0.0.1, 127.0.0.2 and
127.0.0.3 (same port, like pods behind one headless Service), so qdrant-client, httpx and the
EndpointSlice discovery all run for real; only the server is replaced by its recordings.

`state` picks the collection layout ("spread", "race", "initial"), `phase` the telemetry snapshot
("before", "after", "vsq-before", "vsq-after"); `folder` serves a folder of verbatim recordings
instead (the live and replication recordings of 2026-12-07), and `stop_peer` takes one peer down.
Nothing here is invented except the 404 of a
collection that does not exist (status only; the probe reads only the status).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "qdrant"
PEER_IDS = ("7255665676822757", "5909446322375493", "4496836128342418")  # peer 0 (leader), 1, 2
HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
STATES = {"spread": "", "race": ".race-single-peer", "initial": ".initial"}


class Peers:
    """Recorded peers; mutate `state`/`phase` between calls. `requests` logs (peer, path)."""

    def __init__(self, collection: str = "Documents") -> None:
        self.collection = collection
        self.state = "spread"
        self.phase = "before"
        self.level4 = True  # False: level-4 requests get the level-3 recording (an older server)
        self.requests: list[tuple[int, str]] = []
        self.port = 0
        self.folder: Path | None = None  # serve this folder's recordings instead (see _folder_file)
        self._servers: list[ThreadingHTTPServer] = []
        self._stopped: set[int] = set()

    @property
    def urls(self) -> list[str]:
        return [f"http://{h}:{self.port}" for h in HOSTS]

    def file_for(self, peer: int, path: str, query: dict[str, list[str]]) -> Path | None:
        if self.folder is not None:
            return self._folder_file(peer, path, query)
        if path == "/cluster":
            return FIXTURES / f"cluster-peer{peer}.json"
        if path == f"/collections/{self.collection}/cluster":
            return FIXTURES / f"collection-cluster-peer{peer}{STATES[self.state]}.json"
        if path == "/telemetry":
            level = (query.get("details_level") or ["0"])[0]
            if level == "4" and self.level4:
                name = f"telemetry-peer{peer}.level4.{self.phase}.json"
                if (FIXTURES / name).exists():
                    return FIXTURES / name
                # level4.vsq-before was not recorded: level4.after is the state just before that burst
                if self.phase == "vsq-before":
                    return FIXTURES / f"telemetry-peer{peer}.level4.after.json"
            return FIXTURES / f"telemetry-peer{peer}.{self.phase}.json"
        return None

    def _folder_file(self, peer: int, path: str, query: dict[str, list[str]]) -> Path | None:
        """A folder of verbatim recordings (`cluster-peerN.json`, `collection-cluster-peerN.json`,
        `telemetry-peerN.level4.json`), e.g. tests/fixtures/qdrant/live-2026-12-07/final."""
        assert self.folder is not None
        level = (query.get("details_level") or ["0"])[0]
        name = {
            "/cluster": f"cluster-peer{peer}.json",
            f"/collections/{self.collection}/cluster": f"collection-cluster-peer{peer}.json",
            "/telemetry": f"telemetry-peer{peer}.level4.json"
            if level == "4"
            else f"telemetry-peer{peer}.json",
        }.get(path)
        return self.folder / name if name and (self.folder / name).exists() else None

    def stop_peer(self, peer: int) -> None:
        """The peer goes down: its server closes, a request to it is refused (as a killed pod's)."""
        self._servers[peer].shutdown()
        self._servers[peer].server_close()
        self._stopped.add(peer)

    def _handler(self, peer: int) -> type[BaseHTTPRequestHandler]:
        peers = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                url = urlsplit(self.path)
                peers.requests.append((peer, self.path))
                f = peers.file_for(peer, url.path, parse_qs(url.query))
                body = f.read_bytes() if f is not None else b'{"status":{"error":"Not found"},"time":0}'
                self.send_response(200 if f is not None else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def start(self) -> None:
        for _ in range(20):
            probe = socket.socket()
            probe.bind((HOSTS[0], 0))
            port = probe.getsockname()[1]
            probe.close()
            try:
                self._servers = [
                    ThreadingHTTPServer((h, port), self._handler(i)) for i, h in enumerate(HOSTS)
                ]
            except OSError:
                for s in self._servers:
                    s.server_close()
                self._servers = []
                continue
            self.port = port
            for s in self._servers:
                threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            return
        raise RuntimeError("no free port on 127.0.0.1-3")

    def stop(self) -> None:
        for i, s in enumerate(self._servers):
            if i not in self._stopped:
                s.shutdown()
                s.server_close()


@contextmanager
def recorded_peers(collection: str = "Documents") -> Iterator[Peers]:
    peers = Peers(collection)
    peers.start()
    try:
        yield peers
    finally:
        peers.stop()


def endpoint_slice(peers: Peers, service: str = "qdrant-headless") -> dict[str, object]:
    """The EndpointSlice the headless Service would have for these peers (one not Ready)."""
    return {
        "metadata": {"name": f"{service}-abcde", "labels": {"kubernetes.io/service-name": service}},
        "ports": [
            {"name": "grpc", "port": 6334, "protocol": "TCP"},
            {"name": "http", "port": peers.port, "protocol": "TCP"},
        ],
        "endpoints": [
            {
                "addresses": [h],
                "conditions": {"ready": i != 2},
                "targetRef": {"kind": "Pod", "name": f"qdrant-{i}"},
            }
            for i, h in enumerate(HOSTS)
        ],
    }
