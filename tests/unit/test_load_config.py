"""The team's load: the request mix parser, the locustfile checks (with Locust itself), and a real
Locust run of a mix against a local stub that counts what it received."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from actions import load as load_actions
from loadgen import mix, spec
from scaleproof import undo
from scaleproof.errors import LoadError

pytestmark = pytest.mark.unit


def test_mix_parses_weights_bodies_and_commas_inside_json():
    reqs = mix.parse_mix('GET /get 9, POST /api/orders {"qty": 1, "sku": "a,b"} 2, DELETE /x')
    assert reqs == [
        {"method": "GET", "path": "/get", "body": None, "weight": 9},
        {"method": "POST", "path": "/api/orders", "body": {"qty": 1, "sku": "a,b"}, "weight": 2},
        {"method": "DELETE", "path": "/x", "body": None, "weight": 1},
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("FETCH /x 1", "method 'FETCH'"),
        ("GET x 1", "path 'x' must start with '/'"),
        ('POST /x {"a": } 1', "is not JSON"),
        ("GET /a 1, PUT", "entry 2 'PUT'"),
        ("   ", "is empty"),
    ],
)
def test_a_bad_mix_names_the_field_and_the_entry(text, found):
    with pytest.raises(LoadError) as exc:
        mix.parse_mix(text)
    assert "SCALEPROOF_REQUESTS" in str(exc.value) and found in str(exc.value)


def test_requests_win_over_the_default_locustfile_and_env_is_passed():
    s = spec.check_load(configuration={"requests": "GET / 1", "locustfile": "nope.py", "load_env": "A=1,B=x"})
    assert s["locustfile"].endswith("mix_locustfile.py")
    assert s["env"] == {"A": "1", "B": "x", "SCALEPROOF_REQUESTS": "GET / 1"}
    assert spec.check_load(configuration={"requests": "GET / 1", "load_env": '{"K": 2}'})["env"]["K"] == "2"


def test_missing_or_broken_locustfile_stops_with_the_field(tmp_path):
    with pytest.raises(LoadError, match="`locustfile`.*does not exist"):
        spec.check_load(configuration={"locustfile": str(tmp_path / "absent.py")})
    broken = tmp_path / "broken.py"
    broken.write_text("import module_that_is_not_installed_anywhere\n")
    with pytest.raises(LoadError, match="Locust cannot load.*module_that_is_not_installed_anywhere"):
        spec.check_load(configuration={"locustfile": str(broken)})
    with pytest.raises(LoadError, match="no load configured"):
        spec.check_load(configuration={})
    with pytest.raises(LoadError, match="`load_env`.*not KEY=VALUE"):
        spec.check_load(configuration={"requests": "GET / 1", "load_env": "novalue"})


def test_the_reference_locustfile_resolves_outside_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = spec.check_load(configuration={"locustfile": "loadgen/searchapp_locustfile.py"})
    assert s["locustfile"].endswith("loadgen/searchapp_locustfile.py")


class _Counting(BaseHTTPRequestHandler):
    seen: Counter = Counter()
    bodies: list = []

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            type(self).bodies.append(json.loads(self.rfile.read(n)))
        type(self).seen[f"{self.command} {self.path}"] += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, *a):
        pass


def test_a_real_locust_run_sends_the_mix_with_its_weights(tmp_path, monkeypatch):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setattr(undo, "ABORT", threading.Event())
    try:
        load_actions.start_load(
            users=2,
            spawn_rate=2,
            run_time_s=20,
            host=f"http://127.0.0.1:{srv.server_port}",
            requests='GET /get 4, POST /api/orders {"qty": 1} 1',
            run_dir=str(tmp_path),
        )
        load_actions.wait_for_users(2, timeout_s=30, run_dir=str(tmp_path))
        time.sleep(3)
        load_actions.stop_load(run_dir=str(tmp_path))
    finally:
        srv.shutdown()
    gets, posts = _Counting.seen["GET /get"], _Counting.seen["POST /api/orders"]
    assert set(_Counting.seen) == {"GET /get", "POST /api/orders"}
    assert posts > 0 and gets > 2 * posts  # weight 4:1, with room for chance
    assert all(b == {"qty": 1} for b in _Counting.bodies)
