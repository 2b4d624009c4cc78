"""loadgen.runner + actions.load + probes.load: bounded command line, host allowlist, stop, stats."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from actions import load as load_actions
from loadgen import runner
from probes import load as load_probes
from scaleproof import undo
from scaleproof.errors import LoadError

pytestmark = pytest.mark.unit


def cmd(**kw):
    args = {
        "host": "http://127.0.0.1:30080",
        "users": 10,
        "spawn_rate": 5,
        "run_time_s": 60,
        "csv_prefix": "/tmp/x",
    }
    args.update(kw)
    return runner.build_command(**args)


def test_command_is_headless_bounded_and_keeps_per_second_history():
    c = cmd()
    assert c[1:3] == ["-m", "locust"] and "--headless" in c and "--csv-full-history" in c
    assert c[c.index("--run-time") + 1] == "60s" and c[c.index("--users") + 1] == "10"
    assert c[c.index("--csv") + 1] == "/tmp/x" and c[c.index("--json-file") + 1] == "/tmp/x_final"


@pytest.mark.parametrize(
    "kw",
    [
        {"users": 0},
        {"users": runner.MAX_USERS + 1},
        {"users": True},
        {"users": 2.5},
        {"run_time_s": 0},
        {"run_time_s": runner.MAX_RUN_TIME_S + 1},
        {"spawn_rate": 0},
    ],
)
def test_unbounded_load_refused(kw):
    with pytest.raises(LoadError):
        cmd(**kw)


@pytest.mark.parametrize("host", ["http://127.0.0.1:30080", "http://127.9.9.9", "https://localhost:8443"])
def test_loopback_hosts_allowed(host):
    assert runner.check_host(host) == host


@pytest.mark.parametrize(
    "host",
    ["http://10.0.0.5", "http://example.com", "file:///etc/passwd", "127.0.0.1:30080", "http://128.0.0.1"],
)
def test_other_hosts_refused(host):
    with pytest.raises(LoadError):
        runner.check_host(host)


def test_explicitly_allowed_cluster_addresses():
    assert runner.check_host("http://10.96.0.12:80", ["10.96.0.0/12"])
    assert runner.check_host("http://searchapp.scaleproof.svc", ["searchapp.scaleproof.svc"])
    with pytest.raises(LoadError):
        runner.check_host("http://10.200.0.1", ["10.96.0.0/12", "junk"])


def write_history(prefix: Path, rows):
    header = [
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
        "50%",
        "95%",
        "Total Request Count",
        "Total Failure Count",
    ]
    lines = [",".join(header)]
    for ts, users, req, fail in rows:
        lines.append(f"{ts},{users},GET,/readyz,1,0,10,20,{req // 10},0")  # per-endpoint rows are ignored
        lines.append(f"{ts},{users},,Aggregated,99,99,40,90,{req},{fail}")
    Path(str(prefix) + "_stats_history.csv").write_text("\n".join(lines) + "\n")


def test_per_second_from_cumulative_csv_counters(tmp_path):
    prefix = tmp_path / "load"
    write_history(prefix, [(100, 5, 0, 0), (101, 10, 30, 0), (102, 10, 62, 2), (103, 10, 95, 2)])
    rows = runner.per_second(str(prefix))
    assert [(r["t"], r["requests"], r["failures"]) for r in rows] == [
        (100.0, 30, 0),
        (101.0, 32, 2),
        (102.0, 33, 0),
    ]
    assert rows[0]["source"] == "csv-delta" and rows[1]["p95_ms"] == 90.0


def test_per_second_prefers_exact_json_buckets(tmp_path):
    prefix = tmp_path / "load"
    write_history(prefix, [(100, 5, 0, 0), (102, 10, 60, 1)])
    Path(str(prefix) + "_final.json").write_text(
        json.dumps(
            [
                {
                    "name": "POST /search",
                    "num_reqs_per_sec": {"100": 10, "102": 12},
                    "num_fail_per_sec": {"102": 1},
                },
                {"name": "GET /readyz", "num_reqs_per_sec": {"100": 2}, "num_fail_per_sec": {}},
            ]
        )
    )
    rows = runner.per_second(str(prefix))
    assert [(r["t"], r["requests"], r["failures"], r["users"]) for r in rows] == [
        (100.0, 12, 0, 5),
        (101.0, 0, 0, 5),
        (102.0, 12, 1, 10),
    ]
    assert rows[0]["source"] == "locust-json"


def test_probes_error_rate_and_tolerance(tmp_path):
    write_history(tmp_path / "load", [(100, 10, 0, 0), (101, 10, 100, 1), (102, 10, 200, 3)])
    assert load_probes.error_rate(run_dir=str(tmp_path)) == pytest.approx(3 / 200)
    assert load_probes.error_rate(window_s=10, run_dir=str(tmp_path)) is None  # all data older than 10 s
    assert load_probes.error_rate_at_most(None, 0.01) is True
    assert load_probes.error_rate_at_most(None, 0.01, allow_no_data=False) is False
    assert load_probes.error_rate_at_most(0.02, 0.01) is False
    assert load_probes.load_summary(run_dir=str(tmp_path))["failures"] == 3


def _child(code: str) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    runner._CHILDREN[p.pid] = p
    return p


def test_stop_sigterm_then_idempotent():
    p = _child("import time; time.sleep(30)")
    res = runner.stop(p.pid, grace_s=5)
    assert res["stopped"] is True and res["signal"] == "SIGTERM"
    assert runner.stop(p.pid)["stopped"] is False


def test_stop_escalates_to_sigkill_after_grace():
    p = _child(
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
        "time.sleep(30)"
    )
    time.sleep(0.3)
    res = runner.stop(p.pid, grace_s=0.3)
    assert res["signal"] == "SIGKILL" and p.poll() is not None


def test_stop_refuses_a_foreign_pid():
    p = subprocess.Popen(["sleep", "5"])  # not ours, not locust
    try:
        res = runner.stop(p.pid)
        assert res["stopped"] is False and "not a Locust" in res["reason"] and p.poll() is None
    finally:
        p.kill()
        p.wait()


class _Stub(BaseHTTPRequestHandler):
    def _ok(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"hits": []}')

    do_GET = do_POST = _ok

    def log_message(self, *a):
        pass


def test_real_locust_run_against_a_local_stub(tmp_path, monkeypatch):
    """End to end through actions.load: start (pid in the undo plan), stop, per-second stats."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setattr(undo, "ABORT", threading.Event())
    try:
        h = load_actions.start_load(
            users=2,
            spawn_rate=2,
            run_time_s=20,
            host=f"http://127.0.0.1:{srv.server_port}",
            locustfile="loadgen/searchapp_locustfile.py",
            run_dir=str(tmp_path),
        )
        assert undo.load_plan(tmp_path)["load"]["pid"] == h["pid"]
        load_actions.wait_for_users(2, timeout_s=30, run_dir=str(tmp_path))
        time.sleep(2)
        res = load_actions.stop_load(run_dir=str(tmp_path))
        assert res["stopped"] is True and res["signal"] == "SIGTERM"
        rows = load_actions.collect_stats(run_dir=str(tmp_path))
        assert sum(r["requests"] for r in rows) > 0 and sum(r["failures"] for r in rows) == 0
        assert rows[0]["source"] == "locust-json"  # final JSON written on SIGTERM
    finally:
        srv.shutdown()


def test_cli_refuses_remote_host_and_prints_stats(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadgen.runner",
            "run",
            "--host",
            "http://192.0.2.1",
            "--csv",
            str(tmp_path / "l"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "refusing to send load to 192.0.2.1" in r.stderr
    write_history(tmp_path / "l", [(100, 1, 0, 0), (101, 1, 10, 1)])
    r = subprocess.run(
        [sys.executable, "-m", "loadgen.runner", "stats", str(tmp_path / "l")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and json.loads(r.stdout)[0]["failures"] == 1


@pytest.mark.parametrize(
    ("configuration", "given", "expected"),
    [
        (
            {"load_allowed_hosts": "searchapp.ns.svc, 10.96.0.0/12,,"},
            None,
            ["searchapp.ns.svc", "10.96.0.0/12"],
        ),
        ({"load_allowed_hosts": ["a", "b"]}, None, ["a", "b"]),
        ({"load_allowed_hosts": "a"}, "b, c", ["b", "c"]),
        ({"load_allowed_hosts": "a"}, ["b"], ["b"]),
        ({}, None, []),
        (None, None, []),
    ],
)
def test_allowed_hosts_from_the_action_else_the_configuration(configuration, given, expected):
    assert runner.allowed_hosts(configuration, given) == expected
