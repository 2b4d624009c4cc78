"""Prometheus probes: instant and range queries with clear errors when Prometheus is unreachable.

chaostoolkit-prometheus (`chaosprometheus.probes.query`/`query_interval`) returns the raw JSON with
string values, sets no HTTP timeout and imports `logzero` (importable only under the `chaos` CLI), so
these probes talk to the HTTP API directly with `requests`, a timeout, and float values. The base URL
is `prometheus_url` (or chaosprometheus' `prometheus_base_url`) from the configuration.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any, TypedDict

import requests

from scaleproof import credentials
from scaleproof.errors import PrometheusUnavailable

__all__ = ["DEFAULT_URL", "Series", "base_url", "is_up", "query", "query_range", "query_scalar"]

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:30090"


class Series(TypedDict):
    labels: dict[str, str]
    values: list[list[float]]  # [[unix seconds, value], ...]


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
    return list((body.get("data") or {}).get("result") or [])


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
