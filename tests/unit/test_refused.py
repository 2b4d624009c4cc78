"""`chaos run` refuses what `scaleproof validate` refuses, before the first change (issue 22).

Each case runs the real `chaos run experiments/pod-kill.yaml` in a subprocess. The kubeconfig, the
app and Prometheus all point at one local HTTP server that records every request: a refused run must
send it nothing (no Kubernetes call: no spec snapshot, no HPA pin, no load, no kill)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scaleproof import verdict

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CHAOS = str(Path(sys.executable).with_name("chaos"))


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def _any(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _any

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def recorder():
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.seen
    server.shutdown()


def _kubeconfig(path: Path, url: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def _chaos_run(tmp: Path, url: str, extra: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALEPROOF_", "KUBECONFIG"))}
    env.update(
        {
            "KUBECONFIG": str(_kubeconfig(tmp / "kubeconfig", url)),
            "SCALEPROOF_APP_URL": url,
            "SCALEPROOF_PROMETHEUS_URL": url,
            **extra,
        }
    )
    t0 = time.monotonic()
    proc = subprocess.run(
        [CHAOS, "--no-version-check", "--no-log-file", "run", "--journal-path", str(tmp / "journal.json"),
         str(REPO / "experiments" / "pod-kill.yaml")],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return proc, time.monotonic() - t0


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ({"SCALEPROOF_KILLS": "0"}, "kills (SCALEPROOF_KILLS='0'): must be between 1 and 1000, got 0"),
        (
            {"SCALEPROOF_KILL_COUNT": "7"},
            "kill_count (SCALEPROOF_KILL_COUNT='7'): must be ≤ replicas (3)",
        ),
        (
            {"SCALEPROOF_LOAD_RUN_TIME_S": "-5"},
            "load_run_time_s (SCALEPROOF_LOAD_RUN_TIME_S='-5'): must be between 10 and 86400, got -5",
        ),
    ],
)
def test_chaos_run_refuses_before_any_kubernetes_call(tmp_path, recorder, extra, line):
    url, seen = recorder
    proc, took = _chaos_run(tmp_path, url, extra)
    out = proc.stdout + proc.stderr
    assert line in out  # the same line `scaleproof validate` prints
    assert seen == [], f"a refused run reached the API/app/Prometheus: {seen}"
    assert proc.returncode == 1
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted" and journal["run"] == []
    v = verdict.verdict(journal)
    assert v.outcome == "refused" and line in v.reasons[0], v.reasons
    r = CliRunner().invoke(verdict.verdict_command, [str(tmp_path / "journal.json")])
    assert r.exit_code == verdict.EXIT_REFUSED == 5 and r.output.startswith("REFUSED")
    print(f"refused in {took:.1f} s: {line}")


def test_the_same_lines_as_scaleproof_validate(tmp_path):
    from scaleproof.validate import validate_experiment

    env = {"SCALEPROOF_KILLS": "0", "SCALEPROOF_KILL_COUNT": "7"}
    lines = validate_experiment(REPO / "experiments" / "pod-kill.yaml", env, offline=True)
    assert "kills (SCALEPROOF_KILLS='0'): must be between 1 and 1000, got 0" in lines
    assert any(x.startswith("kill_count (SCALEPROOF_KILL_COUNT='7'): must be ≤ replicas (3)") for x in lines)


def test_an_empty_prometheus_url_is_not_refused():
    """README: `SCALEPROOF_PROMETHEUS_URL=` (empty) runs without the Prometheus view."""
    from scaleproof.validate import validate_experiment

    lines = validate_experiment(
        REPO / "experiments" / "pod-kill.yaml", {"SCALEPROOF_PROMETHEUS_URL": ""}, offline=True
    )
    assert not [x for x in lines if x.startswith("prometheus_url")], lines


def test_the_floor_benchmark_settings_are_not_refused():
    """`scaleproof bench floor` runs pod-kill with `SCALEPROOF_HPA=` (a fixed-size Deployment)."""
    from scaleproof import bench
    from scaleproof.validate import validate_experiment

    env = {k: v for k, v in vars(bench).items() if k.isupper() and isinstance(v, dict)}
    floor = next(v for v in env.values() if v.get("SCALEPROOF_DEPLOYMENT") == "floor")
    assert floor["SCALEPROOF_HPA"] == ""
    assert validate_experiment(REPO / "experiments" / "pod-kill.yaml", floor, offline=True) == []


def test_not_at_rest_stops_the_method_before_the_load_and_is_inconclusive(tmp_path):
    marker = tmp_path / "load-started"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEPROOF_")}
    env.update({"PYTHONPATH": str(REPO), "SCALEPROOF_TEST_MARKER": str(marker)})
    proc = subprocess.run(
        [CHAOS, "--no-version-check", "--no-log-file", "run", "--journal-path", str(tmp_path / "j.json"),
         str(REPO / "tests" / "fixtures" / "console" / "precondition.yaml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    journal = json.loads((tmp_path / "j.json").read_text())
    assert not marker.exists(), "the load started after a failed precondition"
    assert proc.returncode == 1 and journal["status"] == "interrupted"
    assert [r["activity"]["name"] for r in journal["run"]] == ["replicas-at-rest-before-the-load"]
    v = verdict.verdict(journal)
    assert v.outcome == "inconclusive" and v.reasons[0].startswith(
        "precondition at just before the load: not at rest"
    )


def test_a_var_override_is_judged_by_its_loaded_value():
    from scaleproof.validate import configuration_refusal

    info = {"kills": {"type": "env", "key": "SCALEPROOF_KILLS", "default": 10, "env_var_type": "int"}}
    assert configuration_refusal(info, {"kills": 10}, env={}) == []
    assert configuration_refusal(info, {"kills": 0}, env={}) == ["kills: must be between 1 and 1000, got 0"]
