"""`scaleproof cluster up|down|status|kubeconfig`, `scaleproof images`, `scaleproof deploy`."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from .config import ClusterConfig

__all__ = ["cluster", "images", "deploy"]


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@click.group()
def cluster() -> None:
    """The local single-node Kubernetes built from upstream sources (or your own, via KUBECONFIG)."""


@cluster.command()
@click.option("--no-images", is_flag=True, help="Do not build/import the pause image.")
def up(no_images: bool) -> None:
    """Build (first time only) and start the local cluster; ends with a Ready node."""
    from .local import ClusterError
    from .local import up as do_up
    from .processes import ComponentFailed

    if os.environ.get("SCALEPROOF_KUBECONFIG"):
        click.echo(
            f"using the cluster of SCALEPROOF_KUBECONFIG={os.environ['SCALEPROOF_KUBECONFIG']}; "
            "nothing to build"
        )
        return
    try:
        do_up(ClusterConfig(), progress=lambda m: click.echo(m, err=True), with_images=not no_images)
    except (ClusterError, ComponentFailed) as exc:
        _fail(exc)


@cluster.command()
@click.option("--purge", is_flag=True, help="Also delete cluster state (etcd data, certificates).")
def down(purge: bool) -> None:
    """Stop everything `up` started and clean its containers, mounts, devices and iptables rules."""
    from .local import down as do_down

    report = do_down(ClusterConfig(), purge=purge, progress=lambda m: click.echo(m, err=True))
    if not report:
        click.echo("nothing was running", err=True)


@cluster.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """What runs and what does not (exit 1 unless every component is healthy)."""
    from .local import status as do_status

    st = do_status(ClusterConfig())
    if as_json:
        click.echo(json.dumps(st, indent=2))
    else:
        for name, s in st.items():
            state = "healthy" if s["healthy"] else ("running, unhealthy" if s["running"] else "stopped")
            click.echo(f"{name:<24} {state:<20} pid={s['pid'] or '-':<8} log={s['log']}")
    sys.exit(0 if all(s["healthy"] for s in st.values()) else 1)


@cluster.command()
def kubeconfig() -> None:
    """Print the path of the kubeconfig to use."""
    click.echo(kubeconfig_path())


def kubeconfig_path() -> Path:
    env = os.environ.get("SCALEPROOF_KUBECONFIG")
    return Path(env) if env else ClusterConfig().kubeconfig


@click.command()
@click.argument("names", nargs=-1)
def images(names: tuple[str, ...]) -> None:
    """Build the project's images locally (no registry) and import them into containerd."""
    from .images import ImageBuildError, build_images

    try:
        res = build_images(ClusterConfig(), list(names) or None, progress=lambda m: click.echo(m, err=True))
    except ImageBuildError as exc:
        _fail(exc)
    for tag, digest in res.items():
        click.echo(f"{tag} {digest}")


@click.command()
@click.option("--overlay", default="k8s/overlays/local", show_default=True)
@click.option("--timeout", "timeout_s", default=300, show_default=True, type=int)
def deploy(overlay: str, timeout_s: int) -> None:
    """kubectl apply -k OVERLAY and wait until every workload in the namespace is Ready."""
    from .deploy import DeployError
    from .deploy import deploy as do_deploy

    t0 = time.monotonic()
    try:
        do_deploy(kubeconfig_path(), Path(overlay), timeout_s, progress=lambda m: click.echo(m, err=True))
    except DeployError as exc:
        _fail(exc)
    click.echo(f"deployed {overlay} in {time.monotonic() - t0:.1f} s", err=True)
