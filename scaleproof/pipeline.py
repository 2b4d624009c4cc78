"""`scaleproof run`: the main job, end to end, with progress.

cluster up (or the user's cluster) → images → deploy k8s/ → the three experiments with `chaos run` →
honest verdicts → ADR evidence (Markdown + plots). Exits non-zero when any verdict is not a pass
(`scaleproof verdict`'s code: `chaos run` itself exits 0 when a gate probe is only out of tolerance or
an action failed), and 5 (refused, as `scaleproof verdict`) when `scaleproof validate` refuses the
configuration before any run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click

from scaleproof.chaosrun import REPO, console_script, run_experiment, say

__all__ = ["run_command", "EXPERIMENTS", "FAULT_DOMAIN_EXPERIMENTS"]

#: the customer's acceptance: what `scaleproof run` runs by default
EXPERIMENTS = ("hpa-scale", "pod-kill", "vector-shards")
#: the fault domains (ADR 0002's peer loss, ADR 0003's node events): run when named with
#: `--experiment`, against the configuration they decide (e.g. `--overlay k8s/overlays/local-rf2`)
FAULT_DOMAIN_EXPERIMENTS = ("node-drain", "node-loss", "store-peer-loss")


def _validate(kinds: tuple[str, ...], env: dict[str, str], offline: bool) -> None:
    """`scaleproof validate` on each experiment first; every problem on its own line, then exit 1."""
    from scaleproof.validate import validate_experiment

    problems = [
        f"experiments/{kind}.yaml: {line}"
        for kind in kinds
        for line in validate_experiment(REPO / "experiments" / f"{kind}.yaml", env, offline=offline)
    ]
    for line in problems:
        click.echo(line, err=True)
    if problems:
        raise Refused(f"refused: {len(problems)} problem(s) before any run; nothing was changed")


class Refused(click.ClickException):
    """The configuration is invalid: the same exit code as a refused journal (`scaleproof verdict`)."""

    exit_code = 5


def _restart_if_image_changed(kubeconfig: Path, digests: dict[str, str]) -> None:
    """Pods keep the image they started with; roll the app when its local image was rebuilt."""
    from scaleproof.cluster.deploy import kubectl_binary
    from scaleproof.cluster.images import IMAGE_TAGS

    digest = digests.get(IMAGE_TAGS["searchapp"])
    if not digest:
        return
    patch = {"spec": {"template": {"metadata": {"annotations": {"scaleproof/image-digest": digest}}}}}
    subprocess.run(
        [
            kubectl_binary(),
            "--kubeconfig",
            str(kubeconfig),
            "-n",
            "scaleproof",
            "patch",
            "deployment",
            "searchapp",
            "-p",
            json.dumps(patch),
        ],
        capture_output=True,
        text=True,
    )


def _target(
    path: str, experiments: tuple[str, ...], journal_dir: str, out: str
) -> tuple[tuple[str, ...], str, str, dict[str, str]]:
    """Experiments, journal and evidence folders, and environment for a target file."""
    from scaleproof.targetfile import TargetError, env_for, load_target

    try:
        target = load_target(path)
    except TargetError as exc:
        raise click.ClickException(str(exc)) from exc
    name = str(target.get("name") or target["deployment"])
    if journal_dir == "journals/evidence":
        journal_dir = f"journals/targets/{name}"
    if out == "docs/adr/evidence":
        out = f"docs/adr/targets/{name}"
    kinds = tuple(k for k in (experiments or EXPERIMENTS) if k in target["experiments"])
    say(f"target {path}: {target['namespace']}/{target['deployment']}, experiments {', '.join(kinds)}")
    return kinds, journal_dir, out, env_for(target)


def _bring_up(overlay: str, skip_deploy: bool) -> Path:
    """The local cluster and its images (unless SCALEPROOF_KUBECONFIG names another cluster), then the
    overlay deployed and Ready (unless `skip_deploy`); returns the kubeconfig."""
    from scaleproof.cluster.cli import kubeconfig_path
    from scaleproof.cluster.config import ClusterConfig
    from scaleproof.cluster.deploy import DeployError, deploy, wait_ready
    from scaleproof.cluster.images import ImageBuildError, build_images
    from scaleproof.cluster.local import ClusterError, up
    from scaleproof.cluster.processes import ComponentFailed

    def progress(m: str) -> None:
        click.echo(m, err=True)

    digests: dict[str, str] = {}
    try:
        if not os.environ.get("SCALEPROOF_KUBECONFIG"):
            say("local cluster")
            up(ClusterConfig(), progress=progress)
            say("images")
            digests = build_images(ClusterConfig(), progress=progress)
        kubeconfig = kubeconfig_path()
        if not skip_deploy:
            deploy(kubeconfig, REPO / overlay, 420, progress=progress)
            _restart_if_image_changed(kubeconfig, digests)
            wait_ready(kubeconfig, 300, progress=progress)
    except (ClusterError, ComponentFailed, ImageBuildError, DeployError) as exc:
        raise click.ClickException(str(exc)) from exc
    return kubeconfig


@click.command("run")
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    type=click.Choice(EXPERIMENTS + FAULT_DOMAIN_EXPERIMENTS),
    help="Run these, in this order (default: the three acceptance experiments, "
    f"{', '.join(EXPERIMENTS)}; the fault domains {', '.join(FAULT_DOMAIN_EXPERIMENTS)} run when named).",
)
@click.option("--overlay", default="k8s/overlays/local", show_default=True)
@click.option("--journals", "journal_dir", default="journals/evidence", show_default=True, type=click.Path())
@click.option("--out", default="docs/adr/evidence", show_default=True, type=click.Path())
@click.option("--skip-deploy", is_flag=True, help="Use what is deployed already.")
@click.option(
    "--target",
    "target_file",
    type=click.Path(dir_okay=False),
    help="A target file (`scaleproof init`): run the experiments that apply to that application "
    "instead of the reference app (nothing of k8s/ is deployed).",
)
@click.option(
    "--floor",
    "with_floor",
    is_flag=True,
    help="Also measure the cluster's floor first (`scaleproof bench floor`, journals/floor): the "
    "pod-kill evidence shows the app's phases beside it.",
)
def run_command(
    experiments: tuple[str, ...],
    overlay: str,
    journal_dir: str,
    out: str,
    skip_deploy: bool,
    target_file: str | None,
    with_floor: bool = False,
) -> None:
    """Set everything up and run the experiments end to end, ending in ADR evidence."""
    target_env: dict[str, str] = {}
    if target_file:
        experiments, journal_dir, out, target_env = _target(target_file, experiments, journal_dir, out)
        skip_deploy = True
    t0 = time.monotonic()
    _validate(experiments or EXPERIMENTS, dict(os.environ), offline=True)  # bad input: fail in 1 s
    kubeconfig = _bring_up(overlay, skip_deploy)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONUNBUFFERED": "1", **target_env}
    os.environ["KUBECONFIG"] = str(kubeconfig)
    _validate(experiments or EXPERIMENTS, env, offline=False)
    floor_dir = REPO / "journals" / "floor"
    if with_floor and "pod-kill" in (experiments or EXPERIMENTS):
        from scaleproof.bench import run_floor

        say("the cluster's floor: pod-kill against agnhost netexec (scaleproof bench floor)")
        run_floor(int(env.get("SCALEPROOF_KILLS") or 10), 5, floor_dir, keep=False, skip_image=False, say=say)
    journals = [run_experiment(kind, REPO / journal_dir, env) for kind in (experiments or EXPERIMENTS)]
    say("verdicts")
    verdict = subprocess.run([console_script("scaleproof"), "verdict", *map(str, journals)], cwd=REPO)
    say(f"ADR evidence from every journal in {journal_dir} -> {out}")
    baseline = REPO / "journals" / "baseline"
    extra = ["--baseline", str(baseline.relative_to(REPO))] if baseline.is_dir() and not target_env else []
    if any(floor_dir.glob("pod-kill-*.json")):
        extra += ["--floor", str(floor_dir.relative_to(REPO))]
    report = subprocess.run(
        [console_script("scaleproof"), "report", journal_dir, "--out", out, *extra], cwd=REPO
    )
    say(
        f"done in {time.monotonic() - t0:.0f} s; "
        f"verdict exit {verdict.returncode}, report exit {report.returncode}"
    )
    sys.exit(verdict.returncode or report.returncode)
