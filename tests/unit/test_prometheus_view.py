"""The Prometheus view in the evidence: queries from configuration, a local HTTP server standing in for
Prometheus' API (real sockets, the response shapes of Prometheus 3.16), bad queries and an unreachable
Prometheus recorded as lines without touching the verdict, and the graph page address and screenshot."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlparse

import pytest

from probes import prometheus as prom
from scaleproof import evidence
from scaleproof.errors import PrometheusUnavailable
from tests.unit.test_evidence import DOWN, POD_KILL_CRITERIA, journal, pod_kill_run_dir

pytestmark = pytest.mark.unit

CONFIG_YAML = (
    "global:\n  scrape_interval: 5s\n  scrape_timeout: 4s\nscrape_configs:\n- job_name: kubernetes-pods\n"
)
PARSE_ERROR = 'invalid parameter "query": 1:7: parse error: unexpected end of input inside braces'


class FakePrometheus(BaseHTTPRequestHandler):
    """Answers like Prometheus 3.16: a pod count 1 → 3, a parse error for any query with `{` unclosed."""

    pages: dict[str, str] = {}

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: Any, ctype: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        qs = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/-/ready":
            self._send(200, "Prometheus Server is Ready.\n", "text/plain")
        elif url.path == "/api/v1/status/config":
            self._send(200, {"status": "success", "data": {"yaml": CONFIG_YAML}})
        elif url.path == "/api/v1/query_range":
            q, start = qs["query"], float(qs["start"])
            if q.count("{") != q.count("}"):
                self._send(400, {"status": "error", "errorType": "bad_data", "error": PARSE_ERROR})
                return
            values = [[start + 5 * i, str(1 if i < 3 else 3)] for i in range(6)]
            self._send(
                200,
                {
                    "status": "success",
                    "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]},
                },
            )
        elif url.path in self.pages:
            self._send(200, self.pages[url.path], "text/html")
        else:
            self._send(404, "404 page not found\n", "text/plain")


@pytest.fixture
def fake_prom() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_queries_come_from_configuration_with_placeholders_filled() -> None:
    cfg = {
        "namespace": "team-a",
        "prometheus_container": "api",
        "prometheus_query_pods_running": (
            'count(up{namespace="${namespace}", container="${prometheus_container}"})'
        ),
        "prometheus_query_lost": 'up{x="${not_declared}"}',
    }
    got = prom.prometheus_queries(cfg)
    assert got["pods_running"] == ('count(up{namespace="team-a", container="api"})', None)
    q, err = got["lost"]
    assert "${not_declared}" in q and err is not None and "`not_declared`" in err
    assert set(got) == {"pods_running", "lost"}, "declared queries replace the generic defaults"


def test_generic_defaults_are_not_tied_to_any_app() -> None:
    got = prom.prometheus_queries(
        {"namespace": "ns1", "prometheus_container": "web", "prometheus_pod_regex": "web-.+"}
    )
    assert set(got) == set(prom.DEFAULT_PROM_QUERIES)
    for q, err in got.values():
        assert err is None and "searchapp" not in q and "job=" not in q


def test_pod_regex_and_container_default_to_the_configured_deployment() -> None:
    """A team that sets only SCALEPROOF_DEPLOYMENT gets queries about its own pods: the experiments'
    defaults hold `${deployment}`, filled in a second pass (agnhost's pod count was empty before)."""
    import yaml
    from chaoslib.configuration import load_configuration

    for name in ("pod-kill", "hpa-scale"):
        declared = yaml.safe_load((Path(__file__).parents[2] / "experiments" / f"{name}.yaml").read_text())
        env = {"SCALEPROOF_NAMESPACE": "team-a", "SCALEPROOF_DEPLOYMENT": "agnhost"}
        with mock.patch.dict("os.environ", env):
            cfg = load_configuration(declared["configuration"])
        got = prom.prometheus_queries(cfg)
        q, err = got["pods_running"]
        assert err is None and 'pod=~"agnhost-[a-z0-9]+-[a-z0-9]+"' in q and "searchapp" not in q, name
        q, err = got["pods_up"]
        assert err is None and 'container="agnhost"' in q, name


def test_every_experiment_declares_the_pod_count_and_its_env_override() -> None:
    import yaml

    for path in sorted((Path(__file__).parents[2] / "experiments").glob("*.yaml")):
        conf = yaml.safe_load(path.read_text())["configuration"]
        entry = conf["prometheus_query_pods_running"]
        assert entry["type"] == "env" and entry["key"] == "SCALEPROOF_PROMETHEUS_QUERY_PODS_RUNNING"
        assert "container_start_time_seconds" in entry["default"], path.name
        assert "prometheus_container" in conf and "prometheus_pod_regex" in conf, path.name


def test_range_queries_recorded_and_a_bad_query_is_a_clear_line(fake_prom: str, tmp_path: Path) -> None:
    d = pod_kill_run_dir(tmp_path)
    cfg = {
        "prometheus_url": fake_prom,
        "prometheus_settle_s": 0,
        "prometheus_screenshot": False,
        "namespace": "scaleproof",
        "prometheus_query_pods_running": 'count(container_start_time_seconds{namespace="${namespace}"})',
        "prometheus_query_broken": 'sum(rate(x{namespace="${namespace}"[30s]))',
    }
    ev = evidence.build_evidence(journal("pod-kill", POD_KILL_CRITERIA), d, cfg)
    p = ev["prometheus"]
    assert p["scrape_interval_s"] == 5
    (s,) = p["queries"]["pods_running"]["series"]
    assert [v for _, v in s["values"]] == [1, 1, 1, 3, 3, 3]
    broken = p["queries"]["broken"]
    assert "series" not in broken
    assert "query `broken` (prometheus_query_broken) failed" in broken["unavailable"]
    assert "parse error" in broken["unavailable"] and "HTTP 400" in broken["unavailable"]
    assert ev["verdict"] == "pass", "the Prometheus view is evidence, never the verdict's source"


def test_unreachable_prometheus_is_one_line_and_the_verdict_stands(tmp_path: Path) -> None:
    from scaleproof.report.promview import query_lines

    d = pod_kill_run_dir(tmp_path)
    ev = evidence.build_evidence(journal("pod-kill", POD_KILL_CRITERIA), d, {"prometheus_url": DOWN})
    assert ev["verdict"] == "pass"
    assert ev["prometheus"]["queries"] == {}
    (line,) = query_lines(ev)
    assert line.startswith("- **Prometheus view unavailable**: Prometheus not ready at http://127.0.0.1:9")


def test_prometheus_off_is_said_and_nothing_is_asked(tmp_path: Path, monkeypatch) -> None:
    def called(*a, **kw):
        raise AssertionError("Prometheus was asked although prometheus_url is empty")

    monkeypatch.setattr(prom, "is_up", called)
    d = pod_kill_run_dir(tmp_path)
    ev = evidence.build_evidence(journal("pod-kill", POD_KILL_CRITERIA), d, {"prometheus_url": ""})
    assert ev["verdict"] == "pass" and ev["prometheus"]["unavailable"] == prom.OFF


def test_a_failed_gate_asks_prometheus_nothing(tmp_path: Path, monkeypatch) -> None:
    """No fault was injected: no window to query, no screenshot to take (a bad input stops in seconds)."""

    def called(*a, **kw):
        raise AssertionError("Prometheus was asked about a run whose gate failed")

    monkeypatch.setattr(prom, "is_up", called)
    d = pod_kill_run_dir(tmp_path)
    gate = {"before": {"steady_state_met": False, "probes": []}, "after": None, "during": []}
    ev = evidence.build_evidence(
        journal("pod-kill", POD_KILL_CRITERIA, steady_states=gate, run=[]),
        d,
        {"prometheus_url": "http://p:1"},
    )
    assert "gate failed" in ev["prometheus"]["unavailable"] and ev["verdict"] == "fail"


def test_scrape_interval_and_durations(fake_prom: str) -> None:
    assert prom.scrape_interval_s(prometheus_url=fake_prom) == 5
    assert prom._duration_s("1m30s") == 90 and prom._duration_s("250ms") == 0.25
    with pytest.raises(ValueError):
        prom._duration_s("5 s")


def test_graph_url_encodes_the_query_and_the_run_window() -> None:
    url = prom.graph_url(
        'count(up{a="b"})', 1795876700.0, 1795876790.4, step_s=5, prometheus_url="http://p:9090/"
    )
    parsed = urlparse(url)
    qs = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    assert (parsed.netloc, parsed.path) == ("p:9090", "/query")
    assert qs["g0.expr"] == 'count(up{a="b"})'
    assert qs["g0.range_input"] == "91s" and qs["g0.res_step"] == "5" and qs["g0.tab"] == "graph"
    assert qs["g0.end_input"] == "2026-11-28 14:39:50"  # UTC, the format the UI's parseTime reads


def test_screenshot_without_chromium_or_without_ui_says_why(
    fake_prom: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(PrometheusUnavailable, match="no chromium on PATH"):
        prom.screenshot_graph("up", 0, 60, tmp_path / "x.png", prometheus_url=fake_prom)
    monkeypatch.undo()
    with pytest.raises(PrometheusUnavailable, match="no web UI .* API-only build"):
        prom.screenshot_graph("up", 0, 60, tmp_path / "x.png", chromium="/bin/true", prometheus_url=fake_prom)


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian chromium not installed (scripts/setup.sh)"
)
def test_screenshot_is_a_png_of_the_page(fake_prom: str, tmp_path: Path, monkeypatch) -> None:
    import base64

    chart = '<div style="margin-top:200px;height:150px;background:#0072B2"></div>'
    monkeypatch.setattr(FakePrometheus, "pages", {"/query": f"<html><body>{chart}</body></html>"})
    shot = prom.screenshot_graph(
        "up", 0, 60, tmp_path / "ui.png", window=(640, 400), prometheus_url=fake_prom
    )
    data = (tmp_path / "ui.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and shot["bytes"] == len(data) > 1000
    assert base64.b64decode(shot["png_base64"]) == data
    assert shot["drawn"] is True and shot["attempts"] == 1
    # nothing drawn below the query inputs (the UI shot before its chart): shot again, `attempts` times
    monkeypatch.setattr(FakePrometheus, "pages", {"/query": "<html><body><h1>Prometheus</h1></body></html>"})
    blank = prom.screenshot_graph(
        "up", 0, 60, tmp_path / "b.png", window=(640, 400), attempts=2, prometheus_url=fake_prom
    )
    assert blank["drawn"] is False and blank["attempts"] == 2


@pytest.mark.parametrize(("store", "other"), [("qdrant", "weaviate"), ("weaviate", "qdrant")])
def test_vector_shards_store_queries_follow_the_store(store: str, other: str) -> None:
    """Issue 23: a Qdrant run's Prometheus view counted the 3 Weaviate pods left running beside it,
    because vector-shards' pod regex and container stayed `weaviate`. They follow `store` now."""
    import re

    import yaml
    from chaoslib.configuration import load_configuration

    declared = yaml.safe_load((Path(__file__).parents[2] / "experiments" / "vector-shards.yaml").read_text())
    with mock.patch.dict("os.environ", {"SCALEPROOF_STORE": store}):
        cfg = load_configuration(declared["configuration"])
    got = prom.prometheus_queries(cfg)
    for name in ("pods_running", "cpu_per_pod_cores"):
        q, err = got[name]
        assert err is None and f'pod=~"{store}-[0-9]+"' in q and other not in q, (name, q)
        (regex,) = re.findall(r'pod=~"([^"]*)"', q)
        assert re.fullmatch(regex, f"{store}-2") and not re.fullmatch(regex, f"{other}-0")
    q, err = got["pods_up"]
    assert err is None and f'container="{store}"' in q


def test_store_defaults_apply_when_the_configuration_names_only_the_store() -> None:
    got = prom.prometheus_queries({"namespace": "ns", "store": "qdrant"})
    assert got["pods_running"][1] is None and 'pod=~"qdrant-[0-9]+"' in got["pods_running"][0]
    assert 'container="qdrant"' in got["pods_up"][0]
    # an explicit regex still wins (a store whose StatefulSet has another name)
    got = prom.prometheus_queries(
        {"namespace": "ns", "store": "qdrant", "prometheus_pod_regex": "vdb-[0-9]+"}
    )
    assert got["pods_running"] == (
        'count(count by (pod) (container_start_time_seconds{namespace="ns", pod=~"vdb-[0-9]+"}))',
        None,
    )


def test_a_pod_regex_that_selects_another_store_is_refused_with_the_remedy() -> None:
    cfg = {"namespace": "ns", "store": "qdrant", "prometheus_pod_regex": "weaviate-[0-9]+"}
    got = prom.prometheus_queries(cfg)
    q, err = got["pods_running"]
    assert err is not None and "weaviate-0" in err and "'qdrant'" in err
    assert "SCALEPROOF_PROMETHEUS_POD_REGEX" in err and "qdrant-[0-9]+" in err
    assert got["targets_up"][1] is None, "queries without a pod regex are unaffected"
    # too wide a regex counts both stores: refused as well
    assert prom.prometheus_queries({**cfg, "prometheus_pod_regex": ".+-[0-9]+"})["pods_running"][1]
    # without `store` (pod-kill, hpa-scale) nothing is judged
    assert (
        prom.prometheus_queries({"namespace": "ns", "prometheus_pod_regex": ".+"})["pods_running"][1] is None
    )


def test_the_settle_ends_at_the_first_scrape_after_the_run(monkeypatch) -> None:
    import time as _time

    from scaleproof import prometheus_view

    end = _time.time()
    answers = iter([end - 4.0, end - 4.0, end + 0.5])  # two polls before, then a scrape after `end`
    asked: list[str] = []

    def last_scrape(q: str, **kw: Any) -> float:
        asked.append(q)
        return next(answers)

    monkeypatch.setattr(prom, "query_scalar", last_scrape)
    t0 = _time.monotonic()
    prometheus_view._wait_for_a_scrape_after({}, end, deadline=end + 10)
    assert asked == [prometheus_view.LAST_SCRAPE_QUERY] * 3
    assert _time.monotonic() - t0 < 3  # two 0.5 s polls, not the 10 s settle


def test_the_settle_is_waited_whole_when_prometheus_cannot_say(monkeypatch) -> None:
    import time as _time

    from scaleproof import prometheus_view

    def broken(q: str, **kw: Any) -> float:
        raise PrometheusUnavailable("HTTP 503")

    monkeypatch.setattr(prom, "query_scalar", broken)
    end = _time.time()
    prometheus_view._wait_for_a_scrape_after({}, end, deadline=end + 1.0)
    assert _time.time() >= end + 1.0
