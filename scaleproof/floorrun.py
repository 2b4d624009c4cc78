"""The cluster's floor: agnhost netexec (k8s/floor/floor.yaml) deployed as any team's target and
pod-killed through `chaos run`, configured only by SCALEPROOF_* variables (`scaleproof bench floor`,
`bench scale`, `scaleproof run --floor`). Reaches the cluster through kubectl (`cluster.deploy`'s one
wrapper): `apply`, `scale`, `rollout status`, `wait --for=delete`."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import click

from scaleproof.waiting import wait_until

__all__ = ["FLOOR_ENV", "FLOOR_MANIFEST", "FLOOR_NAMESPACE", "run_floor"]

REPO = Path(__file__).resolve().parents[1]
FLOOR_MANIFEST = REPO / "k8s" / "floor" / "floor.yaml"
FLOOR_NAMESPACE = "scaleproof-floor"
#: the floor as any team's target: nothing but configuration (k8s/floor/floor.yaml's objects)
FLOOR_ENV = {
    "SCALEPROOF_NAMESPACE": FLOOR_NAMESPACE,
    "SCALEPROOF_DEPLOYMENT": "floor",
    "SCALEPROOF_SERVICE": "floor",
    "SCALEPROOF_SELECTOR": "app=floor",
    "SCALEPROOF_HPA": "",
    "SCALEPROOF_REPLICAS": "3",
    "SCALEPROOF_APP_URL": "http://127.0.0.1:30182",
    "SCALEPROOF_READY_PATH": "/healthz",
    "SCALEPROOF_REQUESTS": "GET /hostname 1",
    "SCALEPROOF_LOCUSTFILE": "",
    "SCALEPROOF_INGEST": "",
    "SCALEPROOF_PROMETHEUS_CONTAINER": "floor",
    # netexec has no drain: keep-alive connections still open to a victim are reset when it exits
    # after its preStop sleep (seen: 3 requests in 1 of 10 kills). The floor times recovery, not a
    # graceful shutdown, so those failures are recorded and shown but do not fail the floor's run.
    "SCALEPROOF_MAX_FAILED_REQUESTS_PER_KILL": "10",
    # netexec exports no request metrics
    "SCALEPROOF_PROMETHEUS_QUERY_REQUEST_RATE": "vector(0)",
    "SCALEPROOF_PROMETHEUS_QUERY_ERROR_RATE_5XX": "vector(0)",
}


def _kubectl(kubeconfig: Path, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    from scaleproof.cluster.deploy import run_kubectl

    return run_kubectl(kubeconfig, *argv, timeout=timeout)


def _scaleproof(*argv: str, timeout: float) -> list[str]:
    exe = Path(sys.executable).with_name("scaleproof")
    proc = subprocess.run(
        [str(exe) if exe.exists() else "scaleproof", *argv], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise click.ClickException(
            f"`scaleproof {' '.join(argv)}` failed ({proc.returncode}): {proc.stderr.strip()[-800:]}; "
            "the floor needs the agnhost image: `scaleproof images agnhost` writes it, "
            "`scaleproof images import` loads it "
            "(or pass --skip-image when the cluster has it)"
        )
    return proc.stdout.split()


def _import_agnhost() -> None:
    """The floor's image, as a team brings its own: write the archive, import it into containerd."""
    _tag, path = _scaleproof("images", "agnhost", timeout=1800)[:2]
    _scaleproof("images", "import", path, timeout=300)


def _wait_namespace_gone(kubeconfig: Path, say: Any, timeout_s: float = 180) -> None:
    """The floor's namespace is its own: one left by an earlier run (`--keep`, an interrupted run, or
    cluster state kept across `cluster down`/`up`) is deleted, and one still terminating is waited
    for (applying into a terminating namespace is refused). `kubectl wait --for=delete` is done at
    once when there is none."""
    say(f"removing any previous {FLOOR_NAMESPACE} namespace and waiting until it is gone")
    _kubectl(kubeconfig, "delete", "namespace", FLOOR_NAMESPACE, "--ignore-not-found", "--wait=false")
    argv = ("wait", "--for=delete", f"namespace/{FLOOR_NAMESPACE}", f"--timeout={timeout_s:.0f}s")
    proc = _kubectl(kubeconfig, *argv, timeout=timeout_s + 30)
    if proc.returncode != 0:
        raise click.ClickException(
            f"namespace {FLOOR_NAMESPACE} still terminating after {timeout_s:.0f} s "
            f"(`kubectl get pods -n {FLOOR_NAMESPACE}` shows what holds it): " + proc.stderr.strip()[-400:]
        )


def _answers(url: str) -> bool:
    """The floor's Service answers 200 through its NodePort on loopback."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback NodePort)
            return bool(resp.status == 200)
    except OSError:
        return False


def _deploy_floor(kubeconfig: Path, say: Any, replicas: int = 3) -> None:
    _wait_namespace_gone(kubeconfig, say)
    for argv in (
        ("apply", "-f", str(FLOOR_MANIFEST)),
        ("-n", FLOOR_NAMESPACE, "scale", "deployment/floor", f"--replicas={replicas}"),
        ("-n", FLOOR_NAMESPACE, "rollout", "status", "deployment/floor", f"--timeout={150 + 5 * replicas}s"),
    ):
        proc = _kubectl(kubeconfig, *argv)
        if proc.returncode != 0:
            raise click.ClickException(f"kubectl {' '.join(argv)}: {proc.stderr.strip()[-800:]}")
    url = FLOOR_ENV["SCALEPROOF_APP_URL"] + FLOOR_ENV["SCALEPROOF_READY_PATH"]
    waited = wait_until(lambda: _answers(url), 60, 1)
    if not waited.done:
        raise click.ClickException(f"{url} did not answer 200 within 60 s after the rollout")
    say(f"floor deployed: {FLOOR_NAMESPACE}/floor, {replicas} Ready, {url} answers")


def run_floor(
    kills: int,
    interval_s: int,
    journal_dir: Path,
    keep: bool,
    skip_image: bool,
    say: Any = print,
    replicas: int = 3,
    kill_count: int = 1,
) -> Path:
    """Deploy the floor (`replicas` pods), run pod-kill against it through `chaos run` (`kills`
    rounds of `kill_count` pods at once), return the journal path."""
    from scaleproof.chaosrun import run_experiment
    from scaleproof.cluster.cli import kubeconfig_path

    kubeconfig = kubeconfig_path()
    if not skip_image:
        _import_agnhost()
    _deploy_floor(kubeconfig, say, replicas)
    # each round waits for its replacements (a few seconds) before the interval: budget both
    budget = kills * (interval_s + 10)
    env = {
        **os.environ,
        **FLOOR_ENV,
        "KUBECONFIG": str(kubeconfig),
        "PYTHONUNBUFFERED": "1",
        "SCALEPROOF_REPLICAS": str(replicas),
        "SCALEPROOF_KILL_COUNT": str(kill_count),
        "SCALEPROOF_KILLS": str(kills),
        "SCALEPROOF_KILL_INTERVAL_S": str(interval_s),
        "SCALEPROOF_LOAD_RUN_TIME_S": str(budget + 180),
        "SCALEPROOF_METHOD_DEADLINE_S": str(budget + 150),
    }
    try:
        return run_experiment("pod-kill", journal_dir, env)
    finally:
        if not keep:  # the Service goes first and waits: its NodePort is free for the next user
            _kubectl(kubeconfig, "-n", FLOOR_NAMESPACE, "delete", "service", "floor", "--ignore-not-found")
            _kubectl(kubeconfig, "delete", "namespace", FLOOR_NAMESPACE, "--wait=false", "--ignore-not-found")
