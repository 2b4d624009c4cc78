"""Prometheus' view of a run, collected by the evidence control at the run's end: range queries over
the run, the scrape interval and a screenshot of the pod-count graph. Evidence beside the watches, not
the verdict's source: every failure is recorded as an `unavailable` reason, never raised."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from probes import prometheus as prom
from scaleproof.contract import PrometheusView
from scaleproof.waiting import wait_until

__all__ = ["PROM_SETTLE_S", "PROM_STEP_S", "collect"]

logger = logging.getLogger(__name__)

PROM_STEP_S = 5.0
PROM_SETTLE_S = 10.0  # two scrape intervals of k8s/base/prometheus.yml


def _queries(cfg: Mapping[str, Any], start: float, end: float) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, (q, err) in prom.prometheus_queries(cfg).items():
        if err:
            out[name] = {"query": q, "unavailable": err}
            continue
        try:
            series = prom.query_range(q, start, end, step_s=PROM_STEP_S, configuration=cfg)
            out[name] = {"query": q, "step_s": PROM_STEP_S, "series": series}
        except Exception as exc:
            out[name] = {
                "query": q,
                "unavailable": f"query `{name}` ({prom.PROM_QUERY_PREFIX}{name}) failed: {exc}",
            }
    return out


def _screenshot(
    cfg: Mapping[str, Any], pods: Mapping[str, Any], start: float, end: float, run_dir: Path | None
) -> dict[str, Any]:
    try:
        return prom.screenshot_graph(  # type: ignore[no-any-return]
            pods["query"],
            start,
            end,
            (run_dir or Path(tempfile.mkdtemp())) / "prometheus-ui.png",
            step_s=PROM_STEP_S,
            configuration=cfg,
        )
    except Exception as exc:
        return {"unavailable": str(exc)}


#: the oldest last scrape of every active target (a target gone with its pod is stale, not counted)
LAST_SCRAPE_QUERY = "min(timestamp(up))"


def _wait_for_a_scrape_after(cfg: Mapping[str, Any], end: float, deadline: float) -> None:
    """Until every target has been scraped since `end`, or until `deadline` (Unix seconds): one scrape
    interval at most, where a fixed settle of two intervals waited ~8 s a run. If Prometheus cannot
    say, the whole settle is waited, as before."""
    try:
        wait_until(
            lambda: prom.query_scalar(LAST_SCRAPE_QUERY, timeout_s=2.0, configuration=cfg),
            max(0.0, deadline - time.time()),
            0.5,
            done=lambda last: last is not None and last >= end,
        )
    except Exception as exc:
        logger.debug("last scrape unknown (%s): waiting the whole settle time", exc)
        time.sleep(max(0.0, deadline - time.time()))


def collect(
    configuration: Mapping[str, Any] | None, start: float, end: float, run_dir: Path | None = None
) -> PrometheusView:
    """Range queries over [start, end] (once every target was scraped after `end`, or after one settle
    time), the scrape
    interval and, when the pod count was queried, a screenshot into `run_dir`."""
    cfg = configuration or {}
    end = max(end, start + 1)
    out: PrometheusView = {
        "url": prom.base_url(configuration=cfg),
        "window": {"start": start, "end": end},
        "queries": {},
    }
    if not prom.enabled(cfg):
        out["unavailable"] = prom.OFF
        return out
    if not prom.is_up(configuration=cfg):
        out["unavailable"] = (
            f"Prometheus not ready at {out['url']} (GET /-/ready failed): no Prometheus view for this run; "
            "check its pod (`kubectl get pods -l app.kubernetes.io/name=prometheus`) and `prometheus_url`"
        )
        return out
    # the last pods of the run reach Prometheus one scrape later: let them in before querying
    settle = float(cfg.get("prometheus_settle_s", PROM_SETTLE_S))
    _wait_for_a_scrape_after(cfg, end, deadline=end + settle)
    end = max(end, min(time.time(), end + settle))
    out["window"]["end"] = end
    try:
        out["scrape_interval_s"] = prom.scrape_interval_s(configuration=cfg)
    except Exception as exc:
        out["scrape_interval_s"] = None
        logger.warning("scrape interval unknown: %s", exc)
    out["queries"] = _queries(cfg, start, end)
    pods = out["queries"].get(prom.POD_COUNT_QUERY) or {}
    if "series" in pods and cfg.get("prometheus_screenshot", True) not in (False, "false", "0", 0):
        out["screenshot"] = _screenshot(cfg, pods, start, end, run_dir)
    return out
