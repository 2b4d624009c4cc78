"""Prometheus probes: instant and range queries with clear errors when Prometheus is unreachable.

chaostoolkit-prometheus (`chaosprometheus.probes.query`/`query_interval`) returns the raw JSON with
string values, sets no HTTP timeout and imports `logzero` (importable only under the `chaos` CLI), so
these probes talk to the HTTP API directly with `requests`, a timeout, and float values. The base URL
is `prometheus_url` (or chaosprometheus' `prometheus_base_url`) from the configuration.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlencode

import requests
import yaml

from scaleproof import credentials
from scaleproof.errors import PrometheusUnavailable
from scaleproof.waiting import wait_until

__all__ = [
    "DEFAULT_PROM_QUERIES",
    "DEFAULT_URL",
    "POD_COUNT_QUERY",
    "PROM_QUERY_PREFIX",
    "STORE_PODS",
    "Series",
    "base_url",
    "enabled",
    "graph_url",
    "is_up",
    "prometheus_queries",
    "query",
    "query_range",
    "query_scalar",
    "scrape_interval_s",
    "screenshot_graph",
    "targets",
]

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:30090"
OFF = "prometheus_url is empty (SCALEPROOF_PROMETHEUS_URL=): no Prometheus view for this run"

# Prometheus view: range queries over the run, recorded in the journal. Declared in the experiment's
# configuration as `prometheus_query_<name>` (env SCALEPROOF_PROMETHEUS_QUERY_<NAME>), with `${key}`
# placeholders filled from the configuration; these generic ones (standard kubelet/cAdvisor metrics
# and `up` of annotation-discovered pods, nothing app-specific) apply when an experiment declares none.
# `pods_running` is the pod count the report cross-checks against the watches.
PROM_QUERY_PREFIX = "prometheus_query_"
POD_COUNT_QUERY = "pods_running"
DEFAULT_PROM_QUERIES = {
    POD_COUNT_QUERY: (
        'count(count by (pod) (container_start_time_seconds{namespace="${namespace}", '
        'pod=~"${prometheus_pod_regex}"}))'
    ),
    "pods_up": 'count(up{namespace="${namespace}", container="${prometheus_container}"} == 1)',
    # max by (pod): the pod-level cgroup's total (it contains the containers' cgroups), the one
    # series every kubelet's cAdvisor has, whether or not it also identifies each container
    "cpu_per_pod_cores": (
        'max by (pod) (rate(container_cpu_usage_seconds_total{namespace="${namespace}", '
        'pod=~"${prometheus_pod_regex}"}[30s]))'
    ),
    "targets_up": "sum by (job) (up)",
}
# The vector stores whose pods the project's manifests name `<store>-N` (StatefulSet `<store>`,
# container `<store>`). A run with `store` set selects that store's pods by default, and a pod regex
# that would also match another store's pods is refused: a Qdrant run counted Weaviate's 3 pods
# (left running beside it) as its store when the regex stayed `weaviate-[0-9]+`.
STORE_PODS = ("weaviate", "qdrant")
STORE_DEFAULTS = {"prometheus_container": "${store}", "prometheus_pod_regex": "${store}-[0-9]+"}


class Series(TypedDict):
    labels: dict[str, str]
    values: list[list[float]]  # [[unix seconds, value], ...]


def enabled(configuration: Mapping[str, Any] | None = None) -> bool:
    """False when the run's configuration sets `prometheus_url` empty (SCALEPROOF_PROMETHEUS_URL=): a
    team without Prometheus runs without the Prometheus view instead of being refused."""
    cfg = configuration or {}
    return "prometheus_url" not in cfg or bool(str(cfg.get("prometheus_url") or "").strip())


def base_url(prometheus_url: str | None = None, configuration: Mapping[str, Any] | None = None) -> str:
    cfg = configuration or {}
    return str(
        prometheus_url or cfg.get("prometheus_url") or cfg.get("prometheus_base_url") or DEFAULT_URL
    ).rstrip("/")


def _auth() -> dict[str, str]:
    """The bearer token of the `prometheus` secrets, when one is set."""
    token = credentials.get("prometheus", "token")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _get(url: str, params: dict[str, Any], timeout_s: float) -> list[dict[str, Any]]:
    try:
        r = requests.get(url, params=params, timeout=timeout_s, headers=_auth())
    except requests.RequestException as exc:
        raise PrometheusUnavailable(
            f"Prometheus unreachable at {url}: {type(exc).__name__}: {exc}. Is it deployed "
            "(NodePort 30090) and is `prometheus_url` right?"
        ) from exc
    try:
        body = r.json()
    except ValueError as exc:
        raise PrometheusUnavailable(
            f"Prometheus at {url} answered HTTP {r.status_code} without JSON"
        ) from exc
    if r.status_code != 200 or body.get("status") != "success":
        raise PrometheusUnavailable(
            f"Prometheus query failed (HTTP {r.status_code}): {body.get('errorType')}: {body.get('error')}"
        )
    data = body.get("data")
    return list((data.get("result") if isinstance(data, dict) else data) or [])


def _data(url: str, timeout_s: float) -> Any:
    """`data` of a non-query API answer (targets, status/config) with the same errors as queries."""
    try:
        r = requests.get(url, timeout=timeout_s)
        body = r.json()
    except (requests.RequestException, ValueError) as exc:
        raise PrometheusUnavailable(f"Prometheus unreachable at {url}: {type(exc).__name__}: {exc}") from exc
    if r.status_code != 200 or body.get("status") != "success":
        raise PrometheusUnavailable(f"Prometheus {url} failed (HTTP {r.status_code}): {body.get('error')}")
    return body.get("data")


def _f(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def query(
    query: str,
    when: float | None = None,
    prometheus_url: str | None = None,
    timeout_s: float = 10.0,
    configuration: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Instant query; returns `[{"labels": {...}, "value": float, "t": unix seconds}]`."""
    params: dict[str, Any] = {"query": query}
    if when is not None:
        params["time"] = when
    res = _get(base_url(prometheus_url, configuration) + "/api/v1/query", params, timeout_s)
    out = []
    for s in res:
        t, v = (s.get("value") or [math.nan, "NaN"])[:2]
        out.append({"labels": s.get("metric") or {}, "value": _f(v), "t": _f(t)})
    return out


def query_scalar(
    query: str,
    prometheus_url: str | None = None,
    timeout_s: float = 10.0,
    configuration: Mapping[str, Any] | None = None,
) -> float | None:
    """Instant query reduced to one number (sum over series); None when the result is empty."""
    res = globals()["query"](
        query, prometheus_url=prometheus_url, timeout_s=timeout_s, configuration=configuration
    )
    vals = [r["value"] for r in res if not math.isnan(r["value"])]
    return sum(vals) if vals else None


def query_range(
    query: str,
    start: float,
    end: float | None = None,
    step_s: float = 5.0,
    prometheus_url: str | None = None,
    timeout_s: float = 20.0,
    configuration: Mapping[str, Any] | None = None,
) -> list[Series]:
    """Range query over [start, end] (Unix seconds) at `step_s`; values as floats."""
    end = time.time() if end is None else end
    if end <= start:
        raise PrometheusUnavailable(f"empty range: start {start} >= end {end}")
    step = max(float(step_s), (end - start) / 10000.0)  # Prometheus caps points per series at 11000
    res = _get(
        base_url(prometheus_url, configuration) + "/api/v1/query_range",
        {"query": query, "start": start, "end": end, "step": step},
        timeout_s,
    )
    return [
        {"labels": s.get("metric") or {}, "values": [[_f(t), _f(v)] for t, v in s.get("values") or []]}
        for s in res
    ]


def is_up(
    prometheus_url: str | None = None, timeout_s: float = 3.0, configuration: Mapping[str, Any] | None = None
) -> bool:
    """True when Prometheus answers `/-/ready` with 200."""
    try:
        return (
            requests.get(
                base_url(prometheus_url, configuration) + "/-/ready", timeout=timeout_s, headers=_auth()
            ).status_code
            == 200
        )
    except requests.RequestException:
        return False


def targets(
    prometheus_url: str | None = None, timeout_s: float = 10.0, configuration: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Active scrape targets (`/api/v1/targets`): labels, discoveredLabels, health, lastError, scrapeUrl."""
    data = _data(base_url(prometheus_url, configuration) + "/api/v1/targets?state=active", timeout_s)
    return list((data or {}).get("activeTargets") or [])


def scrape_interval_s(
    job: str | None = None,
    prometheus_url: str | None = None,
    timeout_s: float = 10.0,
    configuration: Mapping[str, Any] | None = None,
) -> float | None:
    """The scrape interval (s) of `job`, else the global one, from the running configuration."""
    data = _data(base_url(prometheus_url, configuration) + "/api/v1/status/config", timeout_s)
    cfg = yaml.safe_load((data or {}).get("yaml") or "") or {}
    interval = (cfg.get("global") or {}).get("scrape_interval")
    for sc in cfg.get("scrape_configs") or []:
        if job is not None and sc.get("job_name") == job and sc.get("scrape_interval"):
            interval = sc["scrape_interval"]
    return _duration_s(interval) if interval else None


_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def _duration_s(text: str) -> float:
    """A Prometheus duration as its configuration prints it (`5s`, `1m30s`, `250ms`), in seconds."""
    parts = _DURATION.findall(str(text))
    if not parts or "".join(n + u for n, u in parts) != str(text):
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNIT_S[u] for n, u in parts)


def graph_url(
    query: str,
    start: float,
    end: float,
    step_s: float = 5.0,
    prometheus_url: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> str:
    """The address of Prometheus' own graph page (web UI `/query`) for `query` over [start, end]."""
    end_text = datetime.fromtimestamp(end, UTC).strftime("%Y-%m-%d %H:%M:%S")
    params = {
        "g0.expr": query,
        "g0.tab": "graph",
        "g0.show_tree": "0",
        "g0.range_input": f"{max(1, math.ceil(end - start))}s",
        "g0.end_input": end_text,
        "g0.res_type": "fixed",
        "g0.res_step": f"{step_s:g}",
        "g0.display_mode": "lines",
    }
    return base_url(prometheus_url, configuration) + "/query?" + urlencode(params)


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # runs as root here
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # without it Chromium tries outside hosts
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",  # let the page fetch and draw the range query
]


def screenshot_graph(
    query: str,
    start: float,
    end: float,
    out: str | Path,
    step_s: float = 5.0,
    window: tuple[int, int] = (1400, 900),
    timeout_s: float = 90.0,
    attempts: int = 3,
    chromium: str | None = None,
    prometheus_url: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """PNG of Prometheus' graph page for `query` over the window, by headless Chromium (Debian's).

    Returns `{url, file, sha256, bytes, png_base64}`; raises PrometheusUnavailable with the reason
    (no chromium, page not served, Chromium failed or timed out)."""
    exe = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise PrometheusUnavailable(
            "no chromium on PATH: the Prometheus UI screenshot needs Debian's chromium (scripts/setup.sh)"
        )
    url = graph_url(query, start, end, step_s, prometheus_url, configuration)
    try:
        page = requests.get(url, timeout=10)
    except requests.RequestException as exc:
        raise PrometheusUnavailable(f"Prometheus UI unreachable at {url}: {exc}") from exc
    if page.status_code != 200 or "<html" not in page.text[:2000].lower():
        raise PrometheusUnavailable(
            f"Prometheus serves no web UI at {url} (HTTP {page.status_code}): an API-only build?"
        )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    for attempt in range(1, attempts + 1):
        _chromium(exe, url, out, window, max(5.0, deadline - time.monotonic()))
        if _page_drawn(out) or attempt == attempts:
            break
        # the UI sometimes shoots before uPlot has drawn (virtual time ran out first): shoot again
        logger.info("Prometheus graph page not drawn yet (attempt %d), retrying", attempt)
    data = out.read_bytes()
    return {
        "url": url,
        "file": out.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "attempts": attempt,
        "drawn": _page_drawn(out),
        "png_base64": base64.b64encode(data).decode(),
    }


def _chromium(exe: str, url: str, out: Path, window: tuple[int, int], timeout_s: float) -> None:
    with tempfile.TemporaryDirectory(prefix="scaleproof-chromium-") as profile:
        argv = [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={window[0]},{window[1]}",
            f"--screenshot={out}",
            url,
        ]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise PrometheusUnavailable(f"chromium did not finish within {timeout_s:.0f} s") from exc
    if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise PrometheusUnavailable(
            f"chromium screenshot failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"
        )


def _page_drawn(png: Path) -> bool:
    """Something is drawn below the query inputs (a chart, or the UI's "empty result" box): more
    than 2 % of the lower part of the page is not white (an undrawn page: about 0.5 %)."""
    from matplotlib import image

    img = image.imread(str(png))
    lower = img[int(img.shape[0] * 0.3) :, :, :3]
    return bool((lower < 0.95).any(axis=2).mean() > 0.02)


def prometheus_queries(configuration: Mapping[str, Any] | None) -> dict[str, tuple[str, str | None]]:
    """name -> (PromQL with placeholders filled, error or None) from the configuration.

    `prometheus_query_<name>` entries win; `prometheus_queries` (a mapping or its JSON) is the older
    form; the generic defaults apply when neither is declared. A placeholder the configuration does
    not define is reported as an error naming the configuration key, not sent to Prometheus."""
    from chaoslib import substitute

    cfg = dict(configuration or {})
    if cfg.get("store"):
        cfg = {**STORE_DEFAULTS, **cfg}
    declared = {k[len(PROM_QUERY_PREFIX) :]: v for k, v in cfg.items() if k.startswith(PROM_QUERY_PREFIX)}
    legacy = cfg.get("prometheus_queries") or {}
    if isinstance(legacy, str):
        legacy = json.loads(legacy)
    raw = {**legacy, **declared} or dict(DEFAULT_PROM_QUERIES)
    out: dict[str, tuple[str, str | None]] = {}
    for name, q in sorted(raw.items()):
        text = str(q)
        # a configuration value may itself hold placeholders (the pod regex defaults to
        # `${deployment}-…`): substitute until nothing changes, a few passes at most
        for _ in range(5):
            filled = str(substitute(text, cfg, {}))
            if filled == text:
                break
            text = filled
        missing = sorted(set(re.findall(r"\$\{(\w+)\}", text)))
        err = None
        if missing:
            err = (
                f"query `{name}` uses ${{{missing[0]}}}, which the configuration does not define "
                f"(add `{missing[0]}` to the experiment's configuration)"
            )
        out[name] = (text, err or _other_store(text, cfg.get("store")))
    return out


def _other_store(promql: str, store: Any) -> str | None:
    """Why `promql` would count another store's pods as `store`'s (its `pod=~"…"` regex matches
    `<other>-0`), or None."""
    if not store:
        return None
    for regex in re.findall(r'pod=~"([^"]*)"', promql):
        try:
            pattern = re.compile(regex)
        except re.error:
            continue
        for other in STORE_PODS:
            if other != str(store) and pattern.fullmatch(f"{other}-0"):
                return (
                    f"the pod regex {regex!r} selects {other}'s pods ({other}-0) in a run on store "
                    f"{store!r}: set SCALEPROOF_PROMETHEUS_POD_REGEX to the store's pods (default "
                    f"{store}-[0-9]+)"
                )
    return None


def wait_for_resting_pod_count(
    namespace: str,
    selector: str,
    timeout_s: float = 60.0,
    interval_s: float = 2.0,
    hold_s: float = 12.0,
    configuration: Mapping[str, Any] | None = None,
    sleep: Any = None,
    clock: Any = time.monotonic,
) -> dict[str, Any]:
    """Wait until Prometheus' own pod count (the configured `pods_running` query) equals the pods the
    API server lists for `selector`, so its view of a run starts from the resting state too: cAdvisor
    keeps reporting a deleted pod's cgroup for tens of seconds (seen: 25 s after a scale-down). The
    count must hold for `hold_s` (more than a scrape interval plus a query step), so that a range
    query's last point before the load cannot still find the deleted pod's last sample.
    Prometheus is evidence, not the verdict: never raises; says in its result whether it settled."""
    from scaleproof import kube

    if not enabled(configuration):
        return {"expected": None, "seen": None, "waited_s": 0.0, "settled": False, "error": OFF}
    expected = len(kube.list_pods(namespace, selector, configuration))
    promql, err = prometheus_queries(configuration).get(POD_COUNT_QUERY, ("", "no pods_running query"))
    held_since: list[float | None] = [None]  # since when the count has been at rest

    def count() -> float | None:
        seen = query_scalar(promql, configuration=configuration)
        at_rest = seen is not None and round(seen) == expected
        held_since[0] = (held_since[0] if held_since[0] is not None else clock()) if at_rest else None
        return seen

    def held(_: float | None) -> bool:
        return held_since[0] is not None and clock() - held_since[0] >= float(hold_s)

    t0, seen = clock(), None
    if err is None:
        try:
            w = wait_until(count, timeout_s, interval_s, done=held, clock=clock, sleep=sleep)
            seen = w.value
            if not w.done:
                err = f"Prometheus still counts {seen} pods after {timeout_s:g} s, the API server {expected}"
        except PrometheusUnavailable as exc:
            err = str(exc)
    if err:
        logger.warning("Prometheus pod count not at rest: %s", err)
    waited = round(clock() - t0, 3)
    return {"expected": expected, "seen": seen, "waited_s": waited, "settled": err is None, "error": err}
