"""`scaleproof cluster up|down|status|kubeconfig`, `scaleproof images [import]`, `scaleproof deploy`."""

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
def build() -> None:
    """Build the pinned components with go (cached: seconds once built); `up` builds what is missing
    too, this only builds, so a long cold build can run beside other set-up work."""
    from .local import ClusterError, build_binaries

    try:
        build_binaries(ClusterConfig(), progress=lambda m: click.echo(m, err=True))
    except ClusterError as exc:
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


class _ImagesGroup(click.Group):
    """`images [NAME...]` builds; `images import ARCHIVE` is a subcommand (no image is named `import`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        words = [a for a in args if not a.startswith("-")]
        if words and words[0] not in self.commands:
            ctx.meta["image_names"] = words
            args = [a for a in args if a.startswith("-")]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[--no-import] [NAME]... | import ARCHIVE")


@click.group(cls=_ImagesGroup, invoke_without_command=True)
@click.option(
    "--no-import",
    is_flag=True,
    help="Only write the archives (no containerd needed): prepares images while the cluster is built.",
)
@click.pass_context
def images(ctx: click.Context, no_import: bool) -> None:
    """Build the project's images locally (no registry) and import them into containerd.

    NAMEs: pause, debian-base, searchapp, weaviate, prometheus, and agnhost (Kubernetes' e2e test
    server: its archive is only written, for tests to bring in with `images import`). No NAME: all.
    """
    if ctx.invoked_subcommand is not None:
        return
    from .images import ImageBuildError, agnhost_archive, build_images

    names = list(ctx.meta.get("image_names", []))
    cfg, say = ClusterConfig(), (lambda m: click.echo(m, err=True))
    try:
        project = [n for n in names if n != "agnhost"]
        res = (
            build_images(cfg, project or None, progress=say, import_=not no_import)
            if project or not names
            else {}
        )
        for tag, digest in res.items():
            click.echo(f"{tag} {digest}")
        if "agnhost" in names or not names:
            tag, path = agnhost_archive(cfg, progress=say)
            click.echo(f"{tag} {path}")
    except ImageBuildError as exc:
        _fail(exc)


@images.command("import")
@click.argument("archive", type=click.Path(path_type=Path))
@click.option(
    "--name",
    "base_name",
    metavar="REPO",
    help="Repository for images the archive tags without one (OCI ref.name `1.0` -> REPO:1.0).",
)
def import_(archive: Path, base_name: str | None) -> None:
    """Load a team's OCI or `docker save` archive into the local cluster's containerd (k8s.io).

    Prints the name of every image it imported, one a line, for the team's manifests to use with
    imagePullPolicy IfNotPresent.
    """
    from .images import ImageBuildError, import_archive

    try:
        names = import_archive(ClusterConfig(), archive, base_name)
    except ImageBuildError as exc:
        _fail(exc)
    for name in names:
        click.echo(name)


@click.command()
@click.option("--overlay", default="k8s/overlays/local", show_default=True)
@click.option("--timeout", "timeout_s", default=300, show_default=True, type=int)
@click.option(
    "--keep-other-store",
    is_flag=True,
    help="Refuse, instead of removing it, when another scaleproof overlay's vector store (e.g. Weaviate's "
    "StatefulSet, when deploying the Qdrant overlay) runs in the namespace.",
)
def deploy(overlay: str, timeout_s: int, keep_other_store: bool) -> None:
    """kubectl apply -k OVERLAY and wait until every workload in the namespace is rolled out.

    First the hostPath directories of the overlay's annotated PVs are given to their pods' user, and
    the vector store another of scaleproof's overlays left in the namespace is removed (its data
    stays on its PersistentVolumeClaims)."""
    from .deploy import DeployError
    from .deploy import deploy as do_deploy

    t0 = time.monotonic()
    try:
        do_deploy(
            kubeconfig_path(),
            Path(overlay),
            timeout_s,
            progress=lambda m: click.echo(m, err=True),
            replace_store=not keep_other_store,
        )
    except DeployError as exc:
        _fail(exc)
    click.echo(f"deployed {overlay} in {time.monotonic() - t0:.1f} s", err=True)
