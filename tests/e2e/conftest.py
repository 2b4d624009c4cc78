"""Fixtures for end-to-end tests on the real cluster (`scaleproof cluster up` or SCALEPROOF_KUBECONFIG).

Outside CI a missing cluster skips these tests; under CI=true it fails them loudly, because CI must
have brought the cluster up itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scaleproof.cluster.cli import kubeconfig_path
from scaleproof.cluster.deploy import kubectl_binary

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class Kubectl:
    """kubectl bound to the test cluster's kubeconfig."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.binary = kubectl_binary()

    def __call__(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.binary, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json").stdout)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"end-to-end test cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kubectl() -> Kubectl:
    kc = kubeconfig_path()
    if not kc.exists():
        _unavailable(f"no kubeconfig at {kc}: run `scaleproof cluster up`")
    k = Kubectl(kc)
    proc = k("get", "--raw", "/readyz", check=False, timeout=15)
    if proc.returncode != 0:
        _unavailable(f"cluster of {kc} is not reachable: {proc.stderr.strip()}")
    return k


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards even when the test fails."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=false", check=False)


def wait_for(check: Callable[[], object], timeout_s: float, what: str, interval_s: float = 1.0) -> object:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})")


REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def deployed(kubectl: Kubectl) -> Kubectl:
    """The k8s/ local overlay applied and Ready (images are built by `scaleproof images` beforehand)."""
    from scaleproof.cluster.deploy import deploy

    deploy(kubectl.kubeconfig, REPO / "k8s/overlays/local", 420, progress=lambda m: None)
    return kubectl


BIN = Path(sys.executable).parent
NS = "scaleproof"


def chaos_run(
    kind: str, journal: Path, env: dict[str, str], timeout: float = 1500
) -> subprocess.CompletedProcess[str]:
    """`chaos run experiments/<kind>.yaml` exactly as a user types it (log next to the journal)."""
    argv = [
        str(BIN / "chaos"),
        "--no-version-check",
        "--log-file",
        str(journal.with_suffix(".log")),
        "run",
        "--hypothesis-frequency",
        "2",
        "--journal-path",
        str(journal),
        f"experiments/{kind}.yaml",
    ]
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def evidence_of(journal: Path) -> dict:
    doc = json.loads(journal.read_text())
    return next(e for e in doc["extensions"] if e["name"] == "scaleproof")


def scaleproof_verdict(journal: Path) -> subprocess.CompletedProcess[str]:
    """`scaleproof verdict JOURNAL`: the run's verdict, as a user reads it (exit 0 only on a pass)."""
    argv = [str(BIN / "scaleproof"), "verdict", str(journal)]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=60)


def bench_run(
    deployed: Kubectl, args: list[str], journals: Path, timeout: float
) -> tuple[subprocess.CompletedProcess[str], dict]:
    """`scaleproof bench ARGS --journals JOURNALS` against the test cluster; (the process, the evidence of
    the journal it wrote). Fails with its stderr when it wrote none or exited non-zero."""
    run = subprocess.run(
        [str(BIN / "scaleproof"), "bench", *args, "--journals", str(journals)],
        cwd=REPO, env={**os.environ, "KUBECONFIG": str(deployed.kubeconfig)},
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    print(run.stdout[-3000:])
    found = sorted(journals.glob("pod-kill-*.json"))
    assert found, run.stderr[-3000:]
    assert run.returncode == 0, run.stderr[-3000:]
    return run, evidence_of(found[0])


@pytest.fixture(scope="session")
def runner_kubeconfig(deployed: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig whose identity is the chaos-runner ServiceAccount (a bound token, 2 h)."""
    import yaml

    token = deployed("-n", NS, "create", "token", "chaos-runner", "--duration=2h").stdout.strip()
    admin = yaml.safe_load(deployed.kubeconfig.read_text())
    ctx = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster = next(c for c in admin["clusters"] if c["name"] == ctx["cluster"])["cluster"]
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "scaleproof", "cluster": cluster}],
        "users": [{"name": "chaos-runner", "user": {"token": token}}],
        "contexts": [{"name": "chaos-runner", "context": {"cluster": "scaleproof", "user": "chaos-runner"}}],
        "current-context": "chaos-runner",
    }
    path = tmp_path_factory.mktemp("runner") / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    path.chmod(0o600)
    return path


# e2e runs of pod-kill use fewer kills than the main job (the ADR's evidence comes from `scaleproof
# run`, 10 kills): they test behaviour, and CI time is finite
E2E_SETTINGS = {"pod-kill": {"SCALEPROOF_KILLS": "5", "SCALEPROOF_KILL_INTERVAL_S": "6"}}


class ExperimentRuns:
    """Each reference experiment run once per session, as the chaos-runner identity; the tests that
    judge a run (verdict, least privilege, Prometheus view) share it instead of running it again."""

    def __init__(self, kubeconfig: Path, root: Path) -> None:
        self.kubeconfig, self.root = kubeconfig, root
        self._runs: dict[str, tuple[Path, subprocess.CompletedProcess[str]]] = {}

    def get(self, kind: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
        if kind not in self._runs:
            journal = self.root / f"{kind}.json"
            env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), **E2E_SETTINGS.get(kind, {})}
            self._runs[kind] = (journal, chaos_run(kind, journal, env))
        return self._runs[kind]


@pytest.fixture(scope="session")
def experiment_runs(runner_kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> ExperimentRuns:
    return ExperimentRuns(runner_kubeconfig, tmp_path_factory.mktemp("experiments"))
