"""Chaos Toolkit control that turns a run's raw recordings into the journal's evidence block.

Declare it in every experiment:

    controls:
      - name: scaleproof-evidence
        provider: {type: python, module: scaleproof.evidence}

* `configure_control` (called by chaostoolkit-lib before the run with the live configuration dict)
  creates `journals/runs/<run_id>/`, puts its path in `configuration["scaleproof_run_dir"]` (the
  providers read it from there; the lib hands each python activity a copy of that same dict) and in
  `$SCALEPROOF_RUN_DIR`, writes `run.json` and installs the exit-time undo hook.
* `before_experiment_control` snapshots the Deployment/HPA/PDB specs (bounded, tolerant).
* `after_experiment_control` (after rollbacks, with `state` = the journal) computes the figures with
  the timelines (`scaleproof.podtimeline`, `scaleproof.scaletimeline`, `scaleproof.shards`), evaluates
  the declared criteria with `scaleproof.criteria`, and appends the versioned block of
  docs/evidence-schema.md to `journal["extensions"]` (also `evidence.json`).

* the hypothesis/method/rollback/activity hooks name the current phase (`undo.set_phase`), so that a
  SIGINT/SIGTERM is recorded with the phase it arrived in; `after_experiment_control` then writes the
  block's `interrupt` record, judges the run `inconclusive` (the operator stopped it), and marks a
  SIGTERM-ended journal `interrupted` (chaoslib says `completed` there), so `chaos run` exits 1.

Exceptions in controls are swallowed by chaostoolkit-lib; `after_experiment_control` therefore never
raises: on an internal error it writes an `inconclusive` block carrying the error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypedDict

from probes.prometheus import POD_COUNT_QUERY, PROM_QUERY_PREFIX, prometheus_queries
from scaleproof import (
    __version__,
    credentials,
    criteria,
    phases,
    podtimeline,
    rundir,
    scaletimeline,
    shards,
    undo,
    usage,
)
from scaleproof import verdict as verdict_module
from scaleproof.journal import EVIDENCE_NAME, EVIDENCE_VERSION, display_path, experiment_extension

__all__ = [
    "EVIDENCE_NAME",
    "EVIDENCE_VERSION",
    "MetricRecord",
    "after_activity_control",
    "after_experiment_control",
    "after_method_control",
    "after_rollback_control",
    "before_activity_control",
    "before_experiment_control",
    "before_hypothesis_control",
    "before_method_control",
    "before_rollback_control",
    "build_evidence",
    "configure_control",
]

logger = logging.getLogger(__name__)

PROM_STEP_S = 5.0
COST_FILE = "cost.json"  # the chaos process' usage at the run's end (scaleproof.usage)
PROM_SETTLE_S = 10.0  # two scrape intervals of k8s/base/prometheus.yml


class MetricRecord(TypedDict, total=False):
    value: float | int | None
    unit: str
    method: str
    resolution_s: float | None
    samples: int
    reason: str


def _metric(
    value: Any, unit: str, method: str, resolution_s: float | None, samples: int, reason: str | None = None
) -> MetricRecord:
    m: MetricRecord = {
        "value": value,
        "unit": unit,
        "method": method,
        "resolution_s": resolution_s,
        "samples": samples,
    }
    if value is None:
        m["reason"] = reason or "not computed"
    return m


# --------------------------------------------------------------------------------------- declaration
def _kind(experiment: Mapping[str, Any] | None, path: str | None = None) -> str:
    kind = experiment_extension(experiment).get("kind")
    if kind:
        return str(kind)
    if path:
        return Path(path).stem
    return "run"


def _experiment_path(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    for arg in reversed(sys.argv[1:]):
        if (
            arg.endswith((".yaml", ".yml", ".json"))
            and os.path.isfile(arg)
            and "journal" not in Path(arg).name
        ):
            return arg
    return None


def _sha256(path: str | None) -> str | None:
    if not path or not os.path.isfile(path):
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _git_revision(cwd: str | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=3, cwd=cwd)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


# ------------------------------------------------------------------------------------------ controls
def configure_control(
    configuration: MutableMapping[str, Any] | None = None,
    experiment: Mapping[str, Any] | None = None,
    runs_root: str = "journals/runs",
    experiment_path: str | None = None,
    settings: Any = None,
    secrets: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Create the run directory and publish its path to the providers (configuration + env), and
    hand the experiment's `secrets` to the clients (`scaleproof.credentials`)."""
    credentials.install(secrets)
    path = _experiment_path(experiment_path)
    kind = _kind(experiment, path)
    run_id = rundir.new_run_id(kind)
    run_dir = (Path(runs_root) / run_id).absolute()  # absolute: atexit hooks may run in another cwd
    run_dir.mkdir(parents=True, exist_ok=True)
    if configuration is not None:
        configuration[rundir.CONFIG_KEY] = str(run_dir)
    os.environ[rundir.ENV_VAR] = str(run_dir)
    meta = {
        "run_id": run_id,
        "run_dir": str(run_dir),
        "kind": kind,
        "experiment_path": path,
        "experiment_sha256": _sha256(path),
        "started": time.time(),
        "argv": sys.argv,
    }
    try:
        from chaoslib import experiment_hash

        meta["experiment_hash"] = experiment_hash(dict(experiment or {}))
    except Exception:  # older/newer lib without it
        meta["experiment_hash"] = None
    rundir.write_json_atomic(run_dir / "run.json", meta)
    rundir.set_phase(run_dir, "before")
    undo.install_exit_hook(run_dir, configuration)
    undo.install_signal_guard()
    logger.info("scaleproof run %s → %s", run_id, run_dir)


def _run_dir(configuration: Mapping[str, Any] | None) -> Path | None:
    p = (configuration or {}).get(rundir.CONFIG_KEY) or os.environ.get(rundir.ENV_VAR)
    return Path(p) if p else None


def before_experiment_control(
    context: Any = None,
    configuration: MutableMapping[str, Any] | None = None,
    experiment: Mapping[str, Any] | None = None,
    snapshot_specs: bool = True,
    **kwargs: Any,
) -> None:
    """Ensure the run dir exists (if configure was skipped) and snapshot the specs (tolerant)."""
    if _run_dir(configuration) is None:
        configure_control(configuration, experiment or (context if isinstance(context, Mapping) else None))
    cfg = configuration or {}
    if not snapshot_specs or not cfg.get("namespace") or not cfg.get("deployment"):
        return
    try:
        from probes import kubernetes as kube

        kube.snapshot_specs(
            cfg["namespace"],
            cfg["deployment"],
            hpa_name=cfg.get("hpa") or None,
            configuration=cfg,
        )
    except Exception as exc:
        logger.warning("spec snapshot failed (recorded as unavailable): %s", exc)
        run_dir = _run_dir(cfg)
        if run_dir is not None:
            rundir.write_json_atomic(run_dir / "specs.json", {"errors": {"snapshot": str(exc)}, "specs": {}})


# ------------------------------------------------------------------------------ phases (interrupts)
_STAGE: dict[str, Any] = {"stage": "before the experiment", "method_started": False}


def _stage(label: str) -> None:
    import threading

    if threading.current_thread() is threading.main_thread():  # not the continuous-hypothesis thread
        _STAGE["stage"] = label
        undo.set_phase(label)


def before_hypothesis_control(context: Any = None, **kwargs: Any) -> None:
    """The gate hypothesis, or the one after the method."""
    when = "after" if _STAGE["method_started"] else "before"
    _stage(f"the steady-state hypothesis {when} the method")


def before_method_control(
    context: Any = None, configuration: Mapping[str, Any] | None = None, **kwargs: Any
) -> None:
    """The method starts: claims switch from their at-rest threshold to the set-up one."""
    _STAGE["method_started"] = True
    _stage("the method")
    run_dir = _run_dir(configuration)
    if run_dir is not None:
        rundir.set_phase(run_dir, "method")


def after_method_control(
    context: Any = None, configuration: Mapping[str, Any] | None = None, **kwargs: Any
) -> None:
    """The method is over: the after-hypothesis (load still on) checks the claims themselves."""
    _stage("the end of the method")
    run_dir = _run_dir(configuration)
    if run_dir is not None:
        rundir.set_phase(run_dir, "after")


def before_rollback_control(context: Any = None, **kwargs: Any) -> None:
    _stage("the rollbacks")


def after_rollback_control(context: Any = None, **kwargs: Any) -> None:
    _stage("the end of the rollbacks")


def before_activity_control(context: Any = None, **kwargs: Any) -> None:
    """Name the activity running now, inside its stage."""
    import threading

    if threading.current_thread() is not threading.main_thread() or not isinstance(context, Mapping):
        return
    stage = str(_STAGE["stage"]).split(" (", 1)[0]
    undo.set_phase(f"{stage} ({context.get('type') or 'activity'} '{context.get('name')}')")


def after_activity_control(
    context: Any = None,
    state: Mapping[str, Any] | None = None,
    experiment: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Name the activity just ended; remember a failed method step, so the remaining steps stop at
    once (`rundir.check_method_ok`)."""
    import threading

    if threading.current_thread() is threading.main_thread() and isinstance(context, Mapping):
        stage = str(_STAGE["stage"]).split(" (", 1)[0]
        undo.set_phase(f"{stage} (after {context.get('type') or 'activity'} '{context.get('name')}')")
    run_dir = _run_dir(configuration)
    name = (context or {}).get("name")
    method = {a.get("name") for a in (experiment or {}).get("method") or [] if isinstance(a, Mapping)}
    failed = (state or {}).get("status") == "failed"
    record = rundir.read_phase(run_dir, full=True) if run_dir else {}
    in_method = record.get("phase") in ("method", "faults") and not record.get("failed_step")
    if failed and in_method and name in method and "tolerance" not in (context or {}):
        rundir.set_phase(run_dir, rundir.read_phase(run_dir), failed_step=name)  # type: ignore[arg-type]


def declared(experiment: Mapping[str, Any] | None, configuration: Mapping[str, Any] | None) -> dict[str, Any]:
    """The experiment's scaleproof extension with `${name}` filled from the configuration, so
    criteria and targets follow the run's settings (`kills >= ${kills}`)."""
    ext = dict(experiment_extension(experiment))
    if not configuration:
        return ext
    from chaoslib import substitute

    return dict(substitute(ext, dict(configuration), {}))


def after_experiment_control(
    context: Any = None,
    state: MutableMapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
    experiment: Mapping[str, Any] | None = None,
    prometheus: bool = True,
    **kwargs: Any,
) -> None:
    """Append the evidence block to `state["extensions"]` (state = the journal). Never raises."""
    if state is None:
        return
    run_dir = _run_dir(configuration)
    try:
        if run_dir is None:
            raise RuntimeError("no run directory (configure_control did not run)")
        # the chaos process' own cost, read now (the run's end) into the run dir: the figures are then
        # a function of the journal and the run dir, as everything else in the block
        rundir.write_json_atomic(run_dir / COST_FILE, usage.process_usage("self"))
        block = build_evidence(state, run_dir, configuration, prometheus=prometheus)
    except Exception as exc:
        logger.exception("evidence computation failed")
        block = {
            "name": EVIDENCE_NAME,
            "version": EVIDENCE_VERSION,
            "run_dir": str(run_dir),
            "metrics": {},
            "criteria": [],
            "error": f"{type(exc).__name__}: {exc}",
        }
    exts = [
        e
        for e in state.get("extensions") or []
        if not (isinstance(e, Mapping) and e.get("name") == EVIDENCE_NAME)
    ]
    interrupt = verdict_module.interruption(undo.received_signals())
    if interrupt is not None:
        block["interrupt"] = interrupt
        # SIGTERM is caught by chaoslib as the running activity's failure: the journal then says
        # completed (method) or failed (gate); the operator interrupted it either way
        state["status"] = "interrupted"
    _judged(state, block)
    exts.append(block)
    state["extensions"] = exts
    if run_dir is not None:
        try:
            rundir.write_json_atomic(run_dir / "evidence.json", block)
        except OSError as exc:
            logger.warning("cannot write evidence.json: %s", exc)


# -------------------------------------------------------------------------------------------- figures
def _load_figures(load: list[dict[str, Any]], metrics: dict[str, MetricRecord]) -> None:
    rate, req, fail = phases.error_rate(load)
    metrics["error_rate"] = _metric(
        rate,
        "ratio",
        "Locust failures / requests over the run (1 s buckets)",
        phases.LOAD_RESOLUTION_S,
        len(load),
        "no request recorded by Locust" if rate is None else None,
    )
    metrics["failed_requests"] = _metric(
        fail if load else None,
        "requests",
        "Locust failures over the run",
        phases.LOAD_RESOLUTION_S,
        len(load),
        "no load recorded",
    )


def _kill_figures(
    events: list[dict[str, Any]],
    load: list[dict[str, Any]],
    metrics: dict[str, MetricRecord],
    timelines: dict[str, Any],
    mttr_to: str,
) -> None:
    tls = podtimeline.kill_timelines(events, load or None, mttr_to=mttr_to)  # type: ignore[arg-type]
    s = podtimeline.mttr_summary(tls)
    method = (
        f"{s.get('definition') or 'delete accepted → ' + mttr_to}; watch receive times; "
        "ownerReference pairing; p50/p95 linear interpolation"
    )
    for key, stat in (
        ("mttr_mean_s", "mean"),
        ("mttr_p50_s", "p50"),
        ("mttr_p95_s", "p95"),
        ("mttr_max_s", "max"),
    ):
        metrics[key] = _metric(s[stat], "s", method, s["resolution_s"], s["recovered"], s.get("reason"))
    metrics["kills"] = _metric(
        s["count"], "kills", "Kill records (delete accepted by the API)", None, s["count"]
    )
    metrics["kills_unrecovered"] = _metric(
        s["unrecovered"], "kills", "kills without a recovered timeline", None, s["count"]
    )
    per_kill = [t.get("failed_requests") for t in tls]
    known = [int(x) for x in per_kill if x is not None]
    metrics["failed_requests_per_kill_max"] = _metric(
        max(known) if known and len(known) == len(tls) else None,
        "requests",
        "max over kills of Locust failures in [delete accepted, next kill)",
        phases.LOAD_RESOLUTION_S,
        len(known),
        "no kill recorded" if not tls else "no per-second load stats for some kill window",
    )
    series = podtimeline.ready_series(events)
    t_first = min((float(e["t"]) for e in events if e.get("kind") == "Kill"), default=None)
    window = [p["ready"] for p in series if t_first is not None and p["t"] >= t_first]
    metrics["min_ready_replicas"] = _metric(
        min(window) if window else None,
        "pods",
        "minimum Ready pods (condition, no deletionTimestamp) after the first kill",
        phases.LOCAL_RESOLUTION_S,
        len(window),
        "no pod events after a kill",
    )
    timelines["kills"] = tls
    timelines["mttr"] = s


def _scale_figures(
    events: list[dict[str, Any]],
    load: list[dict[str, Any]],
    metrics: dict[str, MetricRecord],
    timelines: dict[str, Any],
    target: int,
    cfg: Mapping[str, Any] | None = None,
) -> None:
    st = scaletimeline.time_to_scale(events, load or None, target_replicas=target)
    res = max((p.get("resolution_s") or 0 for p in st["phases"]), default=None)
    metrics["time_to_scale_s"] = _metric(
        st["time_to_scale_s"],
        "s",
        f"load reached → {target} pods Ready (watch receive times)",
        res,
        len(st["phases"]),
        st.get("reason"),
    )
    metrics["max_ready_replicas"] = _metric(
        st["max_ready_replicas"],
        "pods",
        "maximum Ready pods after the load started",
        phases.LOCAL_RESOLUTION_S,
        len(st["replicas"]),
        "no pod events after the load started",
    )
    metrics["hpa_flaps"] = _metric(
        st["flaps"], "reversals", "direction changes of HPA desiredReplicas", None, len(st["decisions"])
    )
    from scaleproof.cadence import cadence

    c = cadence(cfg)
    st["cadence"] = scaletimeline.scale_cadence(
        events, st, c["hpa_sync_period_s"], c["metrics_resolution_s"], c["sources"]
    )
    for key, text in (
        ("best_case_s", "deployment scaled + target Ready + scale-up stabilisation (no scrape/sync wait)"),
        ("pipeline_wait_s", "metric above target + HPA decision (waiting for a scrape and a sync)"),
        ("cadence_bound_s", "best case + metrics resolution + HPA sync period"),
    ):
        metrics[f"time_to_scale_{key}"] = _metric(
            st["cadence"][key], "s", text, res, len(st["phases"]), st.get("reason")
        )
    timelines["scale"] = st


def _peer_loss_figures(run_dir: Path, metrics: dict[str, MetricRecord], timelines: dict[str, Any]) -> None:
    """Read a store-peer-loss run's files; the figures are `scaleproof.peerloss.peer_loss_evidence`'s."""
    from scaleproof import peerloss

    def js(name: str) -> Any:
        return json.loads((run_dir / name).read_text()) if (run_dir / name).exists() else None

    def jl(name: str) -> list[dict[str, Any]]:
        return rundir.read_jsonl(run_dir / name) if (run_dir / name).exists() else []

    figs, timeline = peerloss.peer_loss_evidence(
        {
            "queries": jl("peer-queries.jsonl"),
            "kill": js("peer-kill.json") or {},
            "replication": js("peer-replication.json"),
            "documents": jl("peer-documents.jsonl"),
            "healthy": js("peer-healthy.json"),
            "replicas": jl("peer-replicas.jsonl"),
        }
    )
    for name, f in figs.items():
        metrics[name] = _metric(f["value"], f["unit"], f["method"], None, 1 if f["value"] is not None else 0)
    timelines["store_peer_loss"] = timeline


def _shard_figures(run_dir: Path, metrics: dict[str, MetricRecord], timelines: dict[str, Any]) -> None:
    from probes.vectorstore import attach_query_deltas

    snaps = rundir.read_jsonl(run_dir / "shards.jsonl")
    if not snaps:
        for k in ("shards_min", "nodes_with_shards", "documents_total", "shards_queried"):
            metrics[k] = _metric(
                None, "shards", "vector-store shard snapshots", None, 0, "no shard snapshot recorded"
            )
        return
    spreads = [shards.shard_spread(s.get("per_shard") or []) for s in snaps]
    before = next((s for s in snaps if s.get("label") == "before"), snaps[0])
    after = next((s for s in reversed(snaps) if s.get("label") == "after"), snaps[-1])
    # each snapshot names its store and sources (journals older than that were Weaviate's)
    store = str(after.get("store") or "weaviate")
    data_src = after.get("per_shard_source") or "/v1/nodes verbose"
    counter_src = after.get("counters_source") or "Weaviate :2112 metrics"
    rows = attach_query_deltas(
        after.get("per_shard") or [],
        before.get("counters") if before is not after else None,
        after.get("counters"),
    )
    last = shards.shard_spread(rows)
    n = len(snaps)
    metrics["shards_min"] = _metric(
        min(s["shards_with_data"] for s in spreads),
        "shards",
        f"min over snapshots of distinct shards holding ≥ 1 object ({store}: {data_src})",
        None,
        n,
    )
    metrics["nodes_with_shards"] = _metric(
        min(s["nodes_with_shards"] for s in spreads),
        "nodes",
        f"min over snapshots of distinct nodes holding a shard with data ({store})",
        None,
        n,
    )
    warnings = [w for s in snaps for w in s.get("warnings") or []]
    if warnings:
        metrics["nodes_with_shards"]["reason"] = warnings[-1]
    metrics["documents_total"] = _metric(
        last["documents_total"],
        "objects",
        f"sum of objects over distinct shards, last snapshot ({store})",
        None,
        1,
    )
    why = after.get("counters_error") or before.get("counters_error") or "no before/after query counters"
    metrics["shards_queried"] = _metric(
        last["shards_queried"],
        "shards",
        f"shards whose search counter rose over the burst ({counter_src})",
        None,
        len(rows),
        why,
    )
    timelines["shards"] = {
        "store": store,
        "collection": after.get("collection"),
        "per_shard": last["per_shard"],
        "snapshots": [{"label": s.get("label"), "t": s.get("t")} for s in snaps],
    }


def claims_summary(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per claim and phase: how often the hypothesis checked it, how often it held, the threshold
    and the range of values seen (from `claims.jsonl`, written by `probes.claims`)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in records:
        key = (str(r.get("claim")), str(r.get("phase")))
        row = rows.setdefault(
            key,
            {
                "claim": key[0],
                "phase": key[1],
                "op": r.get("op"),
                "checks": 0,
                "met": 0,
                "threshold": r.get("threshold"),
                "values": [],
            },
        )
        row["checks"] += 1
        row["met"] += 1 if r.get("met") else 0
        if isinstance(r.get("value"), int | float):
            row["values"].append(r["value"])
    order = {p: i for i, p in enumerate(rundir.PHASES)}
    out = []
    for _key, row in sorted(rows.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
        vals = row.pop("values")
        out.append({**row, "min": min(vals, default=None), "max": max(vals, default=None)})
    return out


def _prometheus(configuration: Mapping[str, Any] | None, start: float, end: float) -> dict[str, Any]:
    """Range queries over the run, the scrape interval and a screenshot of the pod-count graph.

    Evidence, not the verdict's source: every failure is recorded as an `unavailable` reason."""
    from probes import prometheus as prom

    cfg = configuration or {}
    end = max(end, start + 1)
    out: dict[str, Any] = {
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
    time.sleep(max(0.0, min(settle, end + settle - time.time())))
    end = max(end, min(time.time(), end + settle))
    out["window"]["end"] = end
    try:
        out["scrape_interval_s"] = prom.scrape_interval_s(configuration=cfg)
    except Exception as exc:
        out["scrape_interval_s"] = None
        logger.warning("scrape interval unknown: %s", exc)
    for name, (q, err) in prometheus_queries(cfg).items():
        if err:
            out["queries"][name] = {"query": q, "unavailable": err}
            continue
        try:
            series = prom.query_range(q, start, end, step_s=PROM_STEP_S, configuration=cfg)
            out["queries"][name] = {"query": q, "step_s": PROM_STEP_S, "series": series}
        except Exception as exc:
            out["queries"][name] = {
                "query": q,
                "unavailable": f"query `{name}` ({PROM_QUERY_PREFIX}{name}) failed: {exc}",
            }
    pods = out["queries"].get(POD_COUNT_QUERY) or {}
    if "series" in pods and cfg.get("prometheus_screenshot", True) not in (False, "false", "0", 0):
        run_dir = _run_dir(cfg)
        try:
            out["screenshot"] = prom.screenshot_graph(
                pods["query"],
                start,
                end,
                (run_dir or Path(tempfile.mkdtemp())) / "prometheus-ui.png",
                step_s=PROM_STEP_S,
                configuration=cfg,
            )
        except Exception as exc:
            out["screenshot"] = {"unavailable": str(exc)}
    return out


SECRET_WORDS = ("token", "password", "secret", "api_key", "apikey", "credential")


def public_configuration(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The run's scalar settings (the target tested, the load, the thresholds) for the evidence;
    anything that looks like a credential is left out."""
    return {
        k: v
        for k, v in sorted(configuration.items())
        if isinstance(v, str | int | float | bool)
        and k != rundir.CONFIG_KEY
        and not any(w in k.lower() for w in SECRET_WORDS)
    }


def _iso_to_ts(s: Any) -> float | None:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(s)).timestamp()
    except ValueError:
        return None


def build_evidence(
    journal: Mapping[str, Any],
    run_dir: Path,
    configuration: Mapping[str, Any] | None = None,
    prometheus: bool = True,
) -> dict[str, Any]:
    """The evidence block (docs/evidence-schema.md, version 1) from the journal and the run dir."""
    run_dir = Path(run_dir)
    cfg = configuration or {}
    meta = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    experiment = journal.get("experiment") or {}
    ext = declared(experiment, cfg)
    kind = str(ext.get("kind") or meta.get("kind") or "run")
    events = rundir.read_events(run_dir)
    from loadgen import runner

    load = [dict(r) for r in runner.per_second(str(run_dir / "load"))]
    specs = json.loads((run_dir / "specs.json").read_text()) if (run_dir / "specs.json").exists() else {}
    metrics: dict[str, MetricRecord] = {}
    timelines: dict[str, Any] = {}
    # a declared kind decides which figures belong to the run (a pod-kill run also has load and HPA
    # events, but its time-to-scale is not a figure of that experiment); detection is the fallback
    known = kind in ("pod-kill", "hpa-scale", "vector-shards", "store-peer-loss")
    has_kills = not known and any(e.get("kind") == "Kill" for e in events)
    has_scale = (
        not known
        and any(e.get("kind") == "Load" and e.get("type") == "STARTED" for e in events)
        and any(e.get("kind") == "HorizontalPodAutoscaler" for e in events)
    )
    if load or kind in ("pod-kill", "hpa-scale"):
        _load_figures(load, metrics)
    if kind == "pod-kill" or has_kills:
        _kill_figures(events, load, metrics, timelines, str(ext.get("mttr_to") or "endpoints_ready"))
    if kind == "hpa-scale" or has_scale:
        _scale_figures(
            events,
            load,
            metrics,
            timelines,
            int(cfg.get("target_replicas") or ext.get("target_replicas") or 3),
            cfg,
        )
    if kind == "vector-shards" or (not known and (run_dir / "shards.jsonl").exists()):
        _shard_figures(run_dir, metrics, timelines)
    if kind == "store-peer-loss":
        _peer_loss_figures(run_dir, metrics, timelines)
    results = criteria.evaluate(ext.get("criteria") or [], metrics)
    start = _iso_to_ts(journal.get("start")) or meta.get("started") or time.time()
    end = _iso_to_ts(journal.get("end")) or time.time()
    prom: dict[str, Any] = {"queries": {}}
    gate = (journal.get("steady_states") or {}).get("before") or {}
    if prometheus and gate.get("steady_state_met") is False:
        # nothing was done to the cluster: no window worth querying, no screenshot to take
        prom["unavailable"] = "the steady-state gate failed, no fault was injected: no Prometheus view"
    elif prometheus:
        try:
            prom = _prometheus(cfg, float(start), float(end))
        except Exception as exc:
            prom = {"queries": {}, "unavailable": str(exc)}
    try:
        import importlib.metadata as md

        lib_version: str | None = md.version("chaostoolkit-lib")
    except Exception:
        lib_version = journal.get("chaoslib-version")
    exp_path = meta.get("experiment_path")
    block = {
        "name": EVIDENCE_NAME,
        "version": EVIDENCE_VERSION,
        "run_id": meta.get("run_id") or run_dir.name,
        "run_dir": display_path(run_dir, as_named=True),
        "experiment": {
            "path": display_path(exp_path, as_named=True) if exp_path else None,
            "sha256": meta.get("experiment_sha256"),
            "kind": kind,
            "hash": meta.get("experiment_hash"),
        },
        "git_revision": _git_revision(str(Path(exp_path).parent) if exp_path else None),
        "versions": {
            "scaleproof": __version__,
            "chaostoolkit-lib": lib_version,
            "kubernetes_server": specs.get("kubernetes_server"),
            "python": platform.python_version(),
        },
        "images": specs.get("images") or {},
        "specs": {k: v for k, v in (specs.get("specs") or {}).items()}
        | ({"errors": specs["errors"]} if specs.get("errors") else {}),
        "configuration": public_configuration(cfg),
        "touched": rundir.read_jsonl(run_dir / "touched.jsonl"),
        "metrics": metrics,
        "timelines": timelines,
        "load": {"users": max((int(r.get("users") or 0) for r in load), default=0), "per_second": load},  # type: ignore[call-overload]
        "prometheus": prom,
        "claims": claims_summary(rundir.read_jsonl(run_dir / "claims.jsonl")),
        "cost": measurement_cost(events, run_dir),
        "criteria": results,
        "artifacts": sorted(p.name for p in run_dir.iterdir() if p.is_file()),
    }
    return _judged(journal, block)


def _share(u: Mapping[str, Any] | None, cores: int | None) -> dict[str, Any] | None:
    """The usage record with `machine_share`: its CPU seconds over its wall time on all cores."""
    if not u:
        return None
    wall = float(u.get("wall_s") or 0.0)
    share = round(float(u.get("cpu_s") or 0.0) / (wall * cores), 3) if wall > 0 and cores else None
    return {**u, "machine_share": share}


def measurement_cost(events: list[dict[str, Any]], run_dir: Path) -> dict[str, Any]:
    """What measuring took from the machine: the chaos process (Chaos Toolkit, the watches of the
    recorder, the probes) as the control read it at the run's end (`cost.json`), Locust as
    `stop_load` read it before stopping it, and the event log's size, per kill where there were kills."""
    chaos = json.loads((run_dir / COST_FILE).read_text()) if (run_dir / COST_FILE).exists() else None
    cores = int((chaos or {}).get("cores") or 0) or None  # the machine the run measured
    stopped = [e for e in events if e.get("kind") == "Load" and e.get("type") == "STOPPED"]
    kills = sum(1 for e in events if e.get("kind") == "Kill")
    log = run_dir / rundir.EVENTS_FILE
    size = log.stat().st_size if log.exists() else 0
    return {
        "cores": cores,
        "chaos_process": _share(chaos, cores),
        "load_generator": _share(stopped[-1].get("usage") if stopped else None, cores),
        "events_bytes": size,
        "events_lines": len(events),
        "kills": kills,
        "events_bytes_per_kill": round(size / kills) if kills else None,
    }


def _judged(journal: Mapping[str, Any], block: dict[str, Any]) -> dict[str, Any]:
    """The block with the one verdict (`scaleproof.verdict`) of the journal it is being written into."""
    v = verdict_module.verdict(journal, evidence=block)
    block["verdict"] = v.outcome
    block["verdict_reasons"] = list(v.reasons)
    return block
