"""`scaleproof init`: write a target file for a Deployment by reading the live objects.

It reads the Deployment (selector, replicas, the first container's readiness probe), the HPA that
scales it, a Service that selects its pods (its NodePort gives a loopback URL), and the PDBs that
cover it, and writes each setting with a comment saying where it came from, so a team reviews a
file instead of writing one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from scaleproof import kube
from scaleproof.errors import ScaleproofError
from scaleproof.targetfile import selector_string

__all__ = ["describe", "init_command", "render"]


def _hpa_for(namespace: str, deployment: str, cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    body = kube.call(
        kube.apis(cfg).autoscaling.list_namespaced_horizontal_pod_autoscaler, namespace, what="hpas"
    )
    for h in body.get("items") or []:
        ref = (h.get("spec") or {}).get("scaleTargetRef") or {}
        if (ref.get("kind"), ref.get("name")) == ("Deployment", deployment):
            return dict(h)
    return None


def _service_for(namespace: str, labels: Mapping[str, str], cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    body = kube.call(kube.apis(cfg).core.list_namespaced_service, namespace, what="services")
    for s in body.get("items") or []:
        sel = (s.get("spec") or {}).get("selector") or {}
        if sel and all(labels.get(k) == v for k, v in sel.items()):
            return dict(s)
    return None


def _readiness(template: Mapping[str, Any]) -> tuple[str | None, Any]:
    for c in (template.get("spec") or {}).get("containers") or []:
        get = ((c.get("readinessProbe") or {}).get("httpGet")) or {}
        if get:
            return str(get.get("path") or "/"), get.get("port")
    return None, None


def _declared_replicas(replicas: int, hpa_spec: Mapping[str, Any]) -> int:
    """The Deployment's replica count, clamped to the HPA's [min, max] (pod-kill pins the HPA to it)."""
    low, high = int(hpa_spec.get("minReplicas") or 1), int(hpa_spec.get("maxReplicas") or replicas)
    return max(low, min(high, replicas))


def describe(
    namespace: str, deployment: str, cfg: Mapping[str, Any] | None = None
) -> list[tuple[str, Any, str]]:
    """(key, value, where it came from) for every setting of the target file."""
    cfg = cfg or {}
    d = kube.deployment(deployment, namespace, cfg)
    spec = d.get("spec") or {}
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    hpa = _hpa_for(namespace, deployment, cfg)
    svc = _service_for(namespace, labels, cfg)
    path, port = _readiness(template)
    node_port = next(
        (p.get("nodePort") for p in (svc or {}).get("spec", {}).get("ports") or [] if p.get("nodePort")), None
    )
    pdbs = [p["metadata"]["name"] for p in kube.pdbs_for(namespace, labels, cfg)] if labels else []
    replicas = int(spec.get("replicas") or 1)
    hspec = (hpa or {}).get("spec") or {}
    rows: list[tuple[str, Any, str]] = [
        ("namespace", namespace, "given"),
        ("deployment", deployment, "given"),
        ("selector", selector_string(spec.get("selector") or {}), "the Deployment's spec.selector"),
        (
            "service",
            (svc or {}).get("metadata", {}).get("name", ""),
            "a Service whose selector matches the pods"
            if svc
            else "no Service selects these pods: EndpointSlice recovery is not measured",
        ),
        (
            "hpa",
            (hpa or {}).get("metadata", {}).get("name", ""),
            "the HPA whose scaleTargetRef is the Deployment" if hpa else "no HPA scales it: pod-kill only",
        ),
        (
            "app_url",
            f"http://127.0.0.1:{node_port}" if node_port else "http://127.0.0.1:8080",
            "the Service's NodePort on loopback"
            if node_port
            else "no NodePort: expose the app on 127.0.0.1 and set this",
        ),
        (
            "ready_path",
            path or "/",
            f"the readiness probe's httpGet path (port {port})"
            if path
            else "no httpGet readiness probe: a path that answers 200 when the app serves",
        ),
        (
            "requests",
            f"GET {path or '/'} 1",
            "a placeholder: your users' traffic (`METHOD /path [JSON] [weight]`, "
            "comma-separated), or set `locustfile` instead",
        ),
        ("locustfile", "", "your own Locust file (used when `requests` is empty)"),
        ("ingest", "", "no ingest step"),
        (
            "replicas",
            _declared_replicas(replicas, hspec) if hpa else replicas,
            "pod-kill's claim: Ready before and after the kills (the Deployment's replicas, within the "
            "HPA bounds)",
        ),
        (
            "min_ready",
            int(hspec.get("minReplicas") or 1) if hpa else replicas,
            "Ready at rest (the HPA minimum)",
        ),
        (
            "target_replicas",
            min(3, int(hspec.get("maxReplicas") or 3)) if hpa else replicas,
            "hpa-scale's claim: Ready under load (at most the HPA maximum)",
        ),
    ]
    containers = (template.get("spec") or {}).get("containers") or [{}]
    rows.append(
        (
            "prometheus_container",
            str(containers[0].get("name") or ""),
            "the container whose `up` the Prometheus view counts (cAdvisor queries select pods by name)",
        )
    )
    if pdbs:
        rows.append(("kill_count", 1, f"PodDisruptionBudget(s) {', '.join(pdbs)} cover these pods"))
    rows.append(
        ("experiments", ["pod-kill", "hpa-scale"] if hpa else ["pod-kill"], "the experiments that apply")
    )
    return rows


def render(rows: list[tuple[str, Any, str]]) -> str:
    """The target file text: one commented setting per line."""
    lines = [
        "# scaleproof target, written by `scaleproof init` from the live objects; review every line.",
        "# Run it: scaleproof run --target <this file>",
    ]
    for key, value, why in rows:
        lines.append(f"# {why}")
        lines.append(f"{key}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"


@click.command("init")
@click.option("--namespace", required=True)
@click.option("--deployment", required=True)
@click.option("--out", default="target.yaml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init_command(namespace: str, deployment: str, out: str, force: bool) -> None:
    """Write a target file for NAMESPACE/DEPLOYMENT from the live objects."""
    if Path(out).exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to overwrite it")
    try:
        text = render(describe(namespace, deployment))
    except ScaleproofError as exc:
        raise click.ClickException(str(exc)) from exc
    Path(out).write_text(text)
    click.echo(f"wrote {out}")
