"""The target check: is the configured application really there, and is the run configured sanely?

First probe of every experiment's steady-state hypothesis. It raises (so `chaos run` stops before
the method, with exit code 1 and the message in its log) on the first problem, naming the
configuration field and what it found: a workload that does not exist, a selector that matches pods
of another workload (the selector is evaluated by the API server, so set-based selectors work), an
HPA that scales something else, a Service that is missing, a readiness path that does not answer
200, a load that cannot run. A configuration that names something absent or foreign (NotFound,
UnsafeTarget, LoadError) also records a refusal (`scaleproof.stops`: verdict `refused`); a readiness
path that does not answer stays a failed gate (verdict `fail`). Once it has passed in a run it
answers from the run directory, so the continuous samples do not repeat it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from loadgen.spec import check_load
from scaleproof import kube, rundir, stops
from scaleproof.errors import LoadError, NotFound, ScaleproofError, UnsafeTarget

__all__ = ["check_ready_path", "target_ok"]

logger = logging.getLogger(__name__)

MARKER = "target-ok.json"
#: what the target check refuses the run for: the configuration is wrong, not the application
REFUSED = (NotFound, UnsafeTarget, LoadError)


def check_ready_path(app_url: str, ready_path: str, timeout_s: float = 5.0) -> int:
    """GET app_url + ready_path; raises unless it answers 200. Returns the status."""
    if not str(ready_path).startswith("/"):
        raise UnsafeTarget(f"configuration `ready_path` must start with '/', got {ready_path!r}")
    url = str(app_url).rstrip("/") + str(ready_path)
    try:
        status = requests.get(url, timeout=timeout_s).status_code
    except requests.RequestException as exc:
        raise ScaleproofError(
            f"configuration `app_url`: {url} is unreachable ({type(exc).__name__}); is the Service "
            "exposed there?"
        ) from exc
    if status != 200:
        raise ScaleproofError(
            f"configuration `ready_path` (SCALEPROOF_READY_PATH): {url} answered {status}, not 200; "
            "set it to the path your readiness probe uses"
        )
    return status


def _check_objects(cfg: Mapping[str, Any], namespace: str, deployment: str) -> None:
    try:
        kube.deployment(deployment, namespace, cfg)
    except NotFound as exc:
        raise NotFound(f"configuration `deployment` (SCALEPROOF_DEPLOYMENT): {exc}") from exc
    hpa = cfg.get("hpa")
    if hpa:
        try:
            h = kube.hpa(str(hpa), namespace, cfg)
        except NotFound as exc:
            raise NotFound(f"configuration `hpa` (SCALEPROOF_HPA; empty for none): {exc}") from exc
        ref = (h.get("spec") or {}).get("scaleTargetRef") or {}
        if (ref.get("kind"), ref.get("name")) != ("Deployment", deployment):
            raise UnsafeTarget(
                f"configuration `hpa`: HPA {hpa!r} scales {ref.get('kind')}/{ref.get('name')}, "
                f"not Deployment {deployment!r}"
            )
    service = cfg.get("service")
    if service:
        try:
            kube.call(
                kube.apis(cfg).core.read_namespaced_service,
                str(service),
                namespace,
                what=f"service {namespace}/{service}",
            )
        except NotFound as exc:
            raise NotFound(f"configuration `service` (SCALEPROOF_SERVICE): {exc}") from exc


def target_ok(
    namespace: str,
    deployment: str,
    selector: str,
    app_url: str,
    ready_path: str = "/readyz",
    load: bool = True,
    configuration: Mapping[str, Any] | None = None,
) -> bool:
    """True when the target and the run's settings are usable; raises with the field otherwise."""
    cfg = dict(configuration or {})
    run_dir = cfg.get(rundir.CONFIG_KEY)
    if run_dir and (Path(run_dir) / MARKER).exists():
        return True
    try:
        namespace, selector = kube.check_target(namespace, selector)
        _check_objects(cfg, namespace, deployment)
        pods = kube.check_owned(namespace, selector, deployment, cfg)
        if not str(ready_path).startswith("/"):
            raise UnsafeTarget(f"configuration `ready_path` must start with '/', got {ready_path!r}")
        spec = check_load(configuration=cfg) if load else None
    except REFUSED as exc:
        # the configuration names something that is not there, or not the workload: refused, not a
        # failure of the app (scaleproof.stops); an unreachable API server is not refused
        stops.write_stop("refused", "the gate's target check", [str(exc)], run_dir)
        raise
    # the app not answering its readiness path stays a failed gate (verdict fail), not a refusal
    check_ready_path(app_url, ready_path)
    if run_dir:
        rundir.write_json_atomic(
            Path(run_dir) / MARKER,
            {"pods": pods, "load": spec["source"] if spec else None, "ready_path": ready_path},
        )
    return True
