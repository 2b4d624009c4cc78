"""What makes a replacement searchapp pod Ready early: port bound before the heavy imports, the
first probe held in the backlog until the app serves, GC paused during start-up, bytecode in the image.

Why these tests: each of these was measured (docs/adr/evidence/history/0001-runs-and-lessons.md,
lessons) and each silently regresses with an innocent edit (a top-level import in __main__, a
`--no-compile`, a timestamp pyc).
"""

from __future__ import annotations

import gc
import http.client
import importlib.util
import os
import socket
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from searchapp.__main__ import bind_listener
from searchapp.api import create_app
from searchapp.backends import BackendStatus
from searchapp.lifecycle import DrainingServer
from searchapp.settings import Settings

from scaleproof.cluster.config import ClusterConfig
from scaleproof.cluster.images import compile_bytecode, image_specs, source_bytecode

pytestmark = pytest.mark.unit

HEAVY = (
    "fastapi",
    "starlette",
    "pydantic",
    "uvicorn",
    "numpy",
    "prometheus_client",
    "weaviate",
    "qdrant_client",
)
PYC_HASH_BASED, PYC_CHECK_SOURCE = 0b01, 0b10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_importing_the_entry_point_loads_no_heavy_module() -> None:
    code = "import sys, searchapp.__main__; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    loaded = set(eval(out.stdout))  # noqa: S307 - our own subprocess prints a list literal
    assert loaded.isdisjoint(HEAVY), loaded & set(HEAVY)


def test_port_is_bound_before_fastapi_and_a_request_sent_meanwhile_is_answered() -> None:
    """The child reports, at its first FastAPI import, whether the port already accepts connections;
    the parent sends /readyz the moment the port accepts, before the app can serve: that request
    waits in the backlog and is answered (503: the store is a closed port), not refused."""
    port, store = _free_port(), _free_port()  # nothing listens on `store`
    spy = textwrap.dedent(
        f"""
        import importlib.abc, socket, sys
        class Spy(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "fastapi":
                    sys.meta_path.remove(self)
                    with socket.socket() as s:
                        print("bound-at-fastapi-import", s.connect_ex(("127.0.0.1", {port})) == 0, flush=True)
                return None
        sys.meta_path.insert(0, Spy())
        from searchapp.__main__ import main
        sys.exit(main())
        """
    )
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEAVIATE_HTTP_HOST": "127.0.0.1",
        "WEAVIATE_HTTP_PORT": str(store),
        "WEAVIATE_GRPC_PORT": str(store),
        "ENSURE_RETRY_SECONDS": "30",
        "DRAIN_SECONDS": "0",
        "LOG_LEVEL": "warning",
    }
    child = subprocess.Popen([sys.executable, "-c", spy], env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        conn = None
        while conn is None and time.monotonic() < deadline and child.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.connect()
            except OSError:
                conn = None
                time.sleep(0.005)
        assert conn is not None, "the port never accepted a connection"
        conn.request("GET", "/readyz")
        response = conn.getresponse()
        body = response.read().decode()
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["bound-at-fastapi-import", "True"]
        assert response.status == 503 and "unreachable" in body  # readiness still needs the store
    finally:
        child.terminate()
        child.wait(10)


def test_building_the_app_loads_neither_numpy_nor_a_store_client() -> None:
    """What Ready waits for is the web framework only: the embedder (numpy) and the store's client
    are warmed after the first ready answer (searchapp.embedder, WeaviateBackend.warm)."""
    code = (
        "import sys\n"
        "from searchapp.api import create_app\n"
        "from searchapp.settings import Settings\n"
        "from searchapp.backends.weaviate_backend import WeaviateBackend\n"
        "store = WeaviateBackend(collection='D', http_host='127.0.0.1', http_port=1)\n"
        "create_app(Settings(), backend=store)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'weaviate', 'qdrant_client'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout


def test_bind_listener_refuses_a_taken_port_with_the_os_error() -> None:
    first = bind_listener("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            bind_listener("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()


class _Store:
    name, collection = "stub", "Documents"

    def ensure_collection(self, *_: Any) -> bool:
        return False

    def ping(self) -> BackendStatus:
        return {"reachable": True, "collection_exists": True, "detail": "ok"}

    def warm(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_server_start_turns_the_paused_gc_back_on() -> None:
    app = create_app(Settings(embed_rounds=4), backend=_Store())  # type: ignore[arg-type]
    sock = bind_listener("127.0.0.1", 0)
    server = DrainingServer(uvicorn.Config(app, log_level="warning"), app.state.lifecycle, 0)
    gc.disable()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    try:
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started and gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
        server.should_exit = True
        thread.join(5)


def _pyc_flags(data: bytes) -> int:
    assert data[:4] == importlib.util.MAGIC_NUMBER
    return int.from_bytes(data[4:8], "little")


def test_site_packages_bytecode_is_used_although_layers_zero_the_mtimes(tmp_path: Path) -> None:
    """unchecked-hash: the pyc wins over the source whatever its mtime (proof: the source changed after)."""
    (tmp_path / "pkg").mkdir()
    mod = tmp_path / "pkg" / "mod.py"
    mod.write_text("VALUE = 'compiled'\n")
    compile_bytecode(tmp_path)
    pyc = Path(importlib.util.cache_from_source(str(mod)))
    assert _pyc_flags(pyc.read_bytes()) == PYC_HASH_BASED
    mod.write_text("VALUE = 'source'\n")
    os.utime(mod, (0, 0))  # as in our layers
    code = "import sys; sys.dont_write_bytecode = True; import pkg.mod; print(pkg.mod.VALUE)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "compiled"


def test_app_source_bytecode_is_checked_hash_and_every_module_has_one(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "app" / "searchapp" / "api.py"
    assert _pyc_flags(source_bytecode(src, "/opt/searchapp/src/searchapp/api.py")) == (
        PYC_HASH_BASED | PYC_CHECK_SOURCE
    )
    cfg = ClusterConfig(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", run_dir=tmp_path / "run")
    app_src = image_specs(cfg)["searchapp"].layers[-1]()
    with tarfile.open(app_src.path) as tar:
        names = set(tar.getnames())
    sources = {n for n in names if n.endswith(".py")}
    assert "opt/searchapp/src/searchapp/__main__.py" in sources
    for name in sources:
        assert importlib.util.cache_from_source("/" + name).lstrip("/") in names, name
