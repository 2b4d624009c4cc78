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
@click.option(
    "--nodes",
    "nodes_wanted",
    metavar="N",
    envvar="SCALEPROOF_NODES",
    help="How many nodes (default 3: one holds the control plane, each is a real kubelet with its own "
    "containerd and network namespace). A running cluster grows or shrinks to N. [env: SCALEPROOF_NODES]",
)
def up(no_images: bool, nodes_wanted: str | None) -> None:
    """Build (first time only) and start the local cluster; ends with every node Ready."""
    from .local import ClusterError, node_count
    from .local import up as do_up
    from .processes import ComponentFailed

    try:
        count = node_count(nodes_wanted)  # bad input: one line, before anything is touched
    except ClusterError as exc:
        _fail(exc)
    if os.environ.get("SCALEPROOF_KUBECONFIG"):
        click.echo(
            f"using the cluster of SCALEPROOF_KUBECONFIG={os.environ['SCALEPROOF_KUBECONFIG']}; "
            "nothing to build"
        )
        return
    try:
        do_up(
            ClusterConfig(),
            progress=lambda m: click.echo(m, err=True),
            with_images=not no_images,
            nodes_wanted=count,
        )
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
    """What runs and what does not, on every node (exit 1 unless everything is healthy)."""
    from .local import nodes_status
    from .local import status as do_status

    cfg = ClusterConfig()
    st, nodes = do_status(cfg), nodes_status(cfg)
    extra = [n for n in nodes if not n["control_plane"]]
    healthy = all(s["healthy"] for s in st.values()) and all(
        p["healthy"]
        for n in extra
        for p in n["processes"].values()  # type: ignore[attr-defined]
    )
    if as_json:
        click.echo(json.dumps({**st, "nodes": nodes}, indent=2))
        sys.exit(0 if healthy else 1)
    for n in nodes:
        where = (
            "control plane, host network" if n["control_plane"] else f"netns {n['netns']}, link {n['link']}"
        )
        frozen = "" if n["freezer"] == "THAWED" else f", {str(n['freezer']).lower()}"
        click.echo(f"node {n['name']}  {n['ip']}  pods {n['pod_cidr']}  {n['zone']}  ({where}{frozen})")
        procs = st if n["control_plane"] else n["processes"]
        for name, s in procs.items():  # type: ignore[attr-defined]
            state = "healthy" if s["healthy"] else ("running, unhealthy" if s["running"] else "stopped")
            click.echo(f"  {name:<24} {state:<20} pid={s['pid'] or '-':<8} log={s['log']}")
    sys.exit(0 if healthy else 1)


@cluster.command()
@click.option("--seconds", default=30.0, show_default=True, help="How long to measure.")
def cost(seconds: float) -> None:
    """What each extra node costs while it runs: CPU (% of the machine) and memory (RSS of every process
    of the node: daemons, shims, containers). Printed, not judged."""
    from .nodes import idle_cost, registered

    extra = registered(ClusterConfig())[1:]
    if not extra:
        click.echo("the cluster has no extra node (`scaleproof cluster up --nodes 3`)")
        return
    click.echo(
        f"measuring {len(extra)} node(s) for {seconds:.0f} s "
        f"(`scaleproof cluster cost --seconds {seconds:g}`)"
    )
    for row in idle_cost(extra, seconds):
        click.echo(
            f"{row['node']:<20} cpu {row['cpu_percent_of_machine']:>5} % of the machine "
            f"({row['cpu_seconds']} CPU-s)  memory {row['rss_mib']:>6} MiB RSS "
            f"in {row['processes']} processes"
        )


@cluster.group()
def node() -> None:
    """Node faults on the local cluster: stop/start (orderly), freeze/thaw (the node goes dark).

    A fault writes its undo plan first (to --run-dir, $SCALEPROOF_RUN_DIR, or a new directory under
    journals/runs): `scaleproof recover` thaws/starts the node after a crash. Never on the node that
    holds the control plane."""


def _node_action(action: str, name: str, run_dir: Path | None) -> None:
    from . import faults
    from .config import ClusterError

    try:
        if action in ("freeze", "stop"):
            res = getattr(faults, action)(name, run_dir=run_dir)
        elif action == "start":
            res = faults.start(name, progress=lambda m: click.echo(m, err=True))
        else:
            res = faults.thaw(name)
    except ClusterError as exc:
        _fail(exc)
    plan = f"; undo plan {res['undo_plan']}" if res["undo_plan"] else ""
    click.echo(f"{action} {name}: done in {res['seconds']:.2f} s{plan}")


_RUN_DIR = click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SCALEPROOF_RUN_DIR",
    help="Where the undo plan goes (default: a new directory under journals/runs).",
)


@node.command("freeze")
@click.argument("name")
@_RUN_DIR
def node_freeze(name: str, run_dir: Path | None) -> None:
    """Freeze every process of node NAME (containers included) and take its link down."""
    _node_action("freeze", name, run_dir)


@node.command("thaw")
@click.argument("name")
def node_thaw(name: str) -> None:
    """Thaw a frozen node NAME."""
    _node_action("thaw", name, None)


@node.command("stop")
@click.argument("name")
@_RUN_DIR
def node_stop(name: str, run_dir: Path | None) -> None:
    """Stop node NAME in order: kubelet, containers, kube-proxy, containerd."""
    _node_action("stop", name, run_dir)


@node.command("start")
@click.argument("name")
def node_start(name: str) -> None:
    """Start a stopped node NAME again."""
    _node_action("start", name, None)


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
