"""hpa-scale: time from the load to the target Ready pods, its phases beside the controllers'
cadence, the most Ready pods and the HPA's reversals (pure)."""

from __future__ import annotations

from scaleproof import phases, scaletimeline
from scaleproof.builders.common import Builder, Recording, metric
from scaleproof.contract import Figures

__all__ = ["BUILDER", "build"]

CADENCE_FIGURES = (
    ("best_case_s", "deployment scaled + target Ready + scale-up stabilisation (no scrape/sync wait)"),
    ("pipeline_wait_s", "metric above target + HPA decision (waiting for a scrape and a sync)"),
    ("cadence_bound_s", "best case + metrics resolution + HPA sync period"),
)


def _target(rec: Recording) -> int:
    return int(rec.configuration.get("target_replicas") or rec.declared.get("target_replicas") or 3)


def build(rec: Recording, figures: Figures) -> None:
    """The scale timeline of the recorded events and load, with the cadence the control read."""
    target = _target(rec)
    m = figures["metrics"]
    st = scaletimeline.time_to_scale(rec.events, rec.load or None, target_replicas=target)
    res = max((p.get("resolution_s") or 0 for p in st["phases"]), default=None)
    n = len(st["phases"])
    m["time_to_scale_s"] = metric(
        st["time_to_scale_s"],
        "s",
        f"load reached → {target} pods Ready (watch receive times)",
        res,
        n,
        st.get("reason"),
    )
    m["max_ready_replicas"] = metric(
        st["max_ready_replicas"],
        "pods",
        "maximum Ready pods after the load started",
        phases.LOCAL_RESOLUTION_S,
        len(st["replicas"]),
        "no pod events after the load started",
    )
    m["hpa_flaps"] = metric(
        st["flaps"], "reversals", "direction changes of HPA desiredReplicas", None, len(st["decisions"])
    )
    c = rec.cadence
    st["cadence"] = scaletimeline.scale_cadence(  # type: ignore[typeddict-unknown-key]
        rec.events, st, c["hpa_sync_period_s"], c["metrics_resolution_s"], c["sources"]
    )
    for key, text in CADENCE_FIGURES:
        m[f"time_to_scale_{key}"] = metric(
            st["cadence"][key],
            "s",
            text,
            res,
            n,
            st.get("reason"),  # type: ignore[typeddict-item]
        )
    figures["timelines"]["scale"] = st  # type: ignore[typeddict-item]


def _detect(rec: Recording) -> bool:
    return any(e.get("kind") == "Load" and e.get("type") == "STARTED" for e in rec.events) and any(
        e.get("kind") == "HorizontalPodAutoscaler" for e in rec.events
    )


BUILDER = Builder("hpa-scale", build, _detect, with_load=True)
