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
* `after_experiment_control` (after rollbacks, with `state` = the journal) reads the run directory
  into a `builders.Recording`, has the kind's pure builder (`scaleproof.builders`) compute the figures
  and judge the declared criteria once, adds the provenance (`scaleproof.provenance`), the Prometheus
  view (`scaleproof.prometheus_view`) and the cost of measuring, judges the run once
  (`scaleproof.verdict`) and appends the block (`scaleproof.contract.Evidence`, docs/evidence-schema.md)
  to `journal["extensions"]` (also `evidence.json`).

* the hypothesis/method/rollback/activity hooks name the current phase (`undo.set_phase`), so that a
  SIGINT/SIGTERM is recorded with the phase it arrived in; `after_experiment_control` then writes the
  block's `interrupt` record, judges the run `inconclusive` (the operator stopped it), and marks a
  SIGTERM-ended journal `interrupted` (chaoslib says `completed` there), so `chaos run` exits 1.

Exceptions in controls are swallowed by chaostoolkit-lib; `after_experiment_control` therefore never
raises: on an internal error it writes an `inconclusive` block carrying the error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any

from scaleproof import (
    builders,
    credentials,
    progress,
    prometheus_view,
    provenance,
    refusal,
    rundir,
    stops,
    summary,
    undo,
    usage,
)
from scaleproof import verdict as verdict_module
from scaleproof.builders import claims_summary
from scaleproof.contract import EVIDENCE_NAME, EVIDENCE_VERSION, Evidence, PrometheusView
from scaleproof.journal import display_path, experiment_extension

__all__ = [
    "EVIDENCE_NAME",
    "EVIDENCE_VERSION",
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
    "claims_summary",
    "configure_control",
    "public_configuration",
    "recording",
]

logger = logging.getLogger(__name__)

COST_FILE = "cost.json"  # the chaos process' usage at the run's end (scaleproof.usage)


# --------------------------------------------------------------------------------------- declaration
def _kind(experiment: Mapping[str, Any] | None, path: str | None = None) -> str:
    kind = experiment_extension(experiment).get("kind")
    if kind:
        return str(kind)
    if path:
        return Path(path).stem
    return "run"


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
    path = provenance.experiment_path(experiment_path)
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
        "experiment_sha256": provenance.sha256(path),
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
    progress.install_console_filter()  # the continuous hypothesis' repeated samples off the console
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
    # issue 22: ranges and cross-field rules, before the first Kubernetes call (raises to stop the run)
    refusal.refuse_invalid_configuration(experiment, cfg, _run_dir(cfg))
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
    # a step that recorded a stop (scaleproof.stops) ends the method here: no next step, no load
    refusal.stop_before_next_activity(_run_dir(kwargs.get("configuration")), stage == "the method")


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
        stop = stops.read_stop(run_dir)  # a refused run measured nothing: no Prometheus query either
        block = build_evidence(state, run_dir, configuration, prometheus=prometheus and not stop, judge=False)
        block.update(stop)  # type: ignore[typeddict-item]
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
    _judged(state, block)  # once, with the interrupt and the final status
    exts.append(block)
    state["extensions"] = exts
    for line in summary.summary_lines(block, state):  # the figures and the verdict, no 2nd command
        progress.step(line)
    if run_dir is not None:
        try:
            rundir.write_json_atomic(run_dir / "evidence.json", block)
        except OSError as exc:
            logger.warning("cannot write evidence.json: %s", exc)


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
    try:
        return datetime.fromisoformat(str(s)).timestamp()
    except ValueError:
        return None


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def recording(
    journal: Mapping[str, Any], run_dir: Path, configuration: Mapping[str, Any] | None = None
) -> builders.Recording:
    """The run directory read into what the builders take: events, Locust's per-second load, the
    shard snapshots, the declared extension (filled from the configuration) and the cadence."""
    from loadgen import runner
    from scaleproof.cadence import cadence

    cfg = configuration or {}
    meta = _read_json(run_dir / "run.json") or {}
    ext = declared(journal.get("experiment") or {}, cfg)
    shards = run_dir / "shards.jsonl"
    return builders.Recording(
        kind=str(ext.get("kind") or meta.get("kind") or "run"),
        declared=ext,
        configuration=cfg,
        events=rundir.read_events(run_dir),
        load=[dict(r) for r in runner.per_second(str(run_dir / "load"))],
        shards=rundir.read_jsonl(shards) if shards.exists() else None,
        cadence=cadence(cfg),
        peer_loss=_peer_loss_files(run_dir),
    )


def _peer_loss_files(run_dir: Path) -> dict[str, Any] | None:
    """A store-peer-loss run's files (`scaleproof.peerloss.PeerLossInputs`), None without them."""
    if not (run_dir / "peer-kill.json").exists() and not (run_dir / "peer-queries.jsonl").exists():
        return None

    def jl(name: str) -> list[dict[str, Any]]:
        return rundir.read_jsonl(run_dir / name) if (run_dir / name).exists() else []

    return {
        "queries": jl("peer-queries.jsonl"),
        "kill": _read_json(run_dir / "peer-kill.json") or {},
        "replication": _read_json(run_dir / "peer-replication.json"),
        "documents": jl("peer-documents.jsonl"),
        "healthy": _read_json(run_dir / "peer-healthy.json"),
        "replicas": jl("peer-replicas.jsonl"),
    }


def _prometheus_block(
    journal: Mapping[str, Any], cfg: Mapping[str, Any], run_dir: Path, started: float | None, prometheus: bool
) -> PrometheusView:
    start = _iso_to_ts(journal.get("start")) or started or time.time()
    end = _iso_to_ts(journal.get("end")) or time.time()
    gate = (journal.get("steady_states") or {}).get("before") or {}
    if prometheus and gate.get("steady_state_met") is False:
        # nothing was done to the cluster: no window worth querying, no screenshot to take
        return {
            "queries": {},
            "unavailable": "the steady-state gate failed, no fault was injected: no Prometheus view",
        }
    if not prometheus:
        return {"queries": {}}
    try:
        return prometheus_view.collect(cfg, float(start), float(end), run_dir)
    except Exception as exc:
        return {"queries": {}, "unavailable": str(exc)}


def _provenance(
    journal: Mapping[str, Any], run_dir: Path, meta: Mapping[str, Any], kind: str, specs: Mapping[str, Any]
) -> Evidence:
    exp_path = meta.get("experiment_path")
    return {
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
        "git_revision": provenance.git_revision(str(Path(exp_path).parent) if exp_path else None),
        "versions": provenance.versions(journal, specs),
        "images": specs.get("images") or {},
        "specs": dict(specs.get("specs") or {})
        | ({"errors": specs["errors"]} if specs.get("errors") else {}),
    }


def build_evidence(
    journal: Mapping[str, Any],
    run_dir: Path,
    configuration: Mapping[str, Any] | None = None,
    prometheus: bool = True,
    judge: bool = True,
) -> Evidence:
    """The evidence block (`scaleproof.contract.Evidence`) from the journal and the run dir; judged
    (`verdict`, `verdict_reasons`) unless `judge` is false (the control judges once, after it knows of
    an interrupt)."""
    run_dir = Path(run_dir)
    cfg = configuration or {}
    meta = _read_json(run_dir / "run.json") or {}
    specs = _read_json(run_dir / "specs.json") or {}
    rec = recording(journal, run_dir, cfg)
    figures, results = builders.build(rec)
    log = run_dir / rundir.EVENTS_FILE
    block = _provenance(journal, run_dir, meta, rec.kind, specs)
    block.update(
        {
            "configuration": public_configuration(cfg),
            "touched": rundir.read_jsonl(run_dir / "touched.jsonl"),
            "metrics": figures["metrics"],
            "timelines": figures["timelines"],
            "load": {
                "users": max((int(r.get("users") or 0) for r in rec.load), default=0),
                "per_second": rec.load,
            },
            "prometheus": _prometheus_block(journal, cfg, run_dir, meta.get("started"), prometheus),
            "claims": claims_summary(rundir.read_jsonl(run_dir / "claims.jsonl")),
            "cost": builders.measurement_cost(
                rec.events, _read_json(run_dir / COST_FILE), log.stat().st_size if log.exists() else 0
            ),
            "criteria": results,
            "artifacts": sorted(p.name for p in run_dir.iterdir() if p.is_file()),
        }
    )
    return _judged(journal, block) if judge else block


def _judged(journal: Mapping[str, Any], block: Evidence) -> Evidence:
    """The block with the one verdict (`scaleproof.verdict`) of the journal it is being written into;
    the verdict reads the block's criteria as the builder judged them."""
    v = verdict_module.verdict(journal, evidence=block)
    block["verdict"] = v.outcome
    block["verdict_reasons"] = list(v.reasons)
    return block
