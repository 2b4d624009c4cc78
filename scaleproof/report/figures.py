"""Which plots each experiment kind gets: scaleproof's own (`plots`) and Prometheus' view
(`promview`, drawn in plots' style), in a fixed order.

Why its own module: the registry names both, and `promview` builds on `plots`; kept in `plots` it
made the two import each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from scaleproof.report import plots, promview

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PLOTS_BY_KIND", "figures_for"]

logger = logging.getLogger(__name__)


PLOTS_BY_KIND: dict[str, dict[str, Callable[[Mapping[str, Any]], Figure | None]]] = {
    "hpa-scale": {"replicas": plots.hpa_scale_figure, "prometheus": promview.prometheus_figure},
    "pod-kill": {
        "traffic": plots.pod_kill_traffic_figure,
        "recovery": plots.pod_kill_recovery_figure,
        "prometheus": promview.prometheus_figure,
    },
    "vector-shards": {"shards": plots.vector_shards_figure},
}


def figures_for(kind: str, evidence: Mapping[str, Any]) -> dict[str, Figure]:
    """{plot name: Figure} for the plots this kind defines and the evidence has data for, in fixed order."""
    out: dict[str, Figure] = {}
    for name, fn in PLOTS_BY_KIND.get(kind, {}).items():
        fig = fn(evidence)
        if fig is None:
            logger.info("no data for the %s plot of %s run %s", name, kind, evidence.get("run_id"))
        else:
            out[name] = fig
    return out
