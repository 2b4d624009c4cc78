"""Issue 10 on the real cluster: budgets enforced by the Eviction API, the chaos-runner identity is
enough for the experiments and denied everything else, the namespace admits only restricted pods.

Expects the stack deployed (`scaleproof deploy`); it does not re-apply k8s/ itself, so that a deploy
with extra patches stays as it is. Budgets the tests create are removed and `k8s/app/pdb.yaml` is
re-applied even when a test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, Kubectl, wait_for

pytestmark = pytest.mark.e2e

NS = "scaleproof"
SELECTOR = "app.kubernetes.io/name=searchapp"
BIN = Path(sys.executable).parent
FIXTURES = REPO / "tests" / "fixtures" / "events"


@pytest.fixture(scope="session")
def stack(kubectl: Kubectl) -> Kubectl:
    """The deployed stack, every workload Ready (no re-apply)."""
    from scaleproof.cluster.deploy import wait_ready

    wait_ready(kubectl.kubeconfig, 300, NS, progress=lambda m: None)
    return kubectl


@pytest.fixture(scope="session")
def runner_kubeconfig(stack: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig whose identity is the chaos-runner ServiceAccount (a bound token, 2 h)."""
    token = stack("-n", NS, "create", "token", "chaos-runner", "--duration=2h").stdout.strip()
    admin = yaml.safe_load(stack.kubeconfig.read_text())
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


def _client(kubeconfig: Path):
    import kubernetes

    return kubernetes.config.new_client_from_config(config_file=str(kubeconfig))


def _status(fn, *args, **kw) -> int:
    """HTTP status of a real API request (200 when it went through)."""
    from kubernetes.client.exceptions import ApiException

    try:
        fn(*args, _request_timeout=10, **kw)
        return 200
    except ApiException as exc:
        return int(exc.status)


# ---------------------------------------------------------------------------------- least privilege
def test_runner_identity_is_denied_outside_its_role(runner_kubeconfig: Path, stack: Kubectl) -> None:
    import kubernetes.client as k

    api = _client(runner_kubeconfig)
    core, apps = k.CoreV1Api(api), k.AppsV1Api(api)
    node = stack.json("get", "nodes")["items"][0]["metadata"]["name"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "e2e-nope"}, "spec": {"containers": []}}
    denied = {
        "list pods in kube-system": _status(core.list_namespaced_pod, "kube-system"),
        "list secrets in scaleproof": _status(core.list_namespaced_secret, NS),
        "read secret in scaleproof": _status(core.read_namespaced_secret, "any", NS),
        "patch node": _status(core.patch_node, node, {"metadata": {"labels": {"e2e": "x"}}}),
        "list nodes": _status(core.list_node),
        "create pod in scaleproof": _status(core.create_namespaced_pod, NS, pod),
        "delete deployment searchapp": _status(apps.delete_namespaced_deployment, "searchapp", NS),
        "patch deployment searchapp": _status(
            apps.patch_namespaced_deployment, "searchapp", NS, {"metadata": {"labels": {"e2e": "x"}}}
        ),
        "list pods in default": _status(core.list_namespaced_pod, "default"),
        "read configmap": _status(core.list_namespaced_config_map, NS),
    }
    allowed = {
        "list pods in scaleproof": _status(core.list_namespaced_pod, NS),
        "read deployment searchapp": _status(apps.read_namespaced_deployment, "searchapp", NS),
    }
    print("\nas system:serviceaccount:scaleproof:chaos-runner:", json.dumps({**denied, **allowed}, indent=1))
    assert set(denied.values()) == {403}, denied
    assert set(allowed.values()) == {200}, allowed


@pytest.mark.parametrize("kind", ["pod-kill", "hpa-scale", "vector-shards"])
def test_experiment_passes_as_the_chaos_runner(kind: str, runner_kubeconfig: Path, tmp_path: Path) -> None:
    journal = tmp_path / f"{kind}.json"
    env = {**os.environ, "KUBECONFIG": str(runner_kubeconfig)}
    run = subprocess.run(
        [str(BIN / "chaos"), "--no-version-check", "--log-file", str(tmp_path / "chaos.log"), "run",
         "--hypothesis-frequency", "2", "--journal-path", str(journal), f"experiments/{kind}.yaml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert journal.exists(), run.stderr[-2000:]
    doc = json.loads(journal.read_text())
    ev = next(e for e in doc["extensions"] if e["name"] == "scaleproof")
    forbidden = [ln for ln in (tmp_path / "chaos.log").read_text().splitlines() if "403" in ln]
    figures = {n: m.get("value") for n, m in ev["metrics"].items()}
    print(f"\n{kind} as chaos-runner: verdict {ev['verdict']} {figures}")
    assert not forbidden, forbidden[:5]
    failed = [r["activity"]["name"] for r in doc["run"] + doc["rollbacks"] if r["status"] == "failed"]
    assert not failed, failed
    verdict = subprocess.run(
        [str(BIN / "scaleproof"), "verdict", str(journal)], cwd=REPO, capture_output=True, text=True
    )
    assert verdict.returncode == 0, verdict.stdout
    run_dir = Path(ev["run_dir"]) if Path(ev["run_dir"]).is_absolute() else REPO / ev["run_dir"]
    if kind == "pod-kill" and os.environ.get("SCALEPROOF_RECORD_EVENTS"):  # refresh the fixture
        FIXTURES.mkdir(parents=True, exist_ok=True)
        shutil.copy(run_dir / "events.jsonl", FIXTURES / "pod-kill-events.jsonl")


# --------------------------------------------------------------------------------------------- PDBs
@pytest.fixture
def only_budget(stack: Kubectl) -> Iterator[Callable]:
    """Replace the app's PDB by one under test (the Eviction API refuses pods with two budgets)."""
    created: list[str] = []

    def make(name: str, selector: dict) -> None:
        stack("-n", NS, "delete", "pdb", "searchapp", "--ignore-not-found")
        body = {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"maxUnavailable": 0, "selector": selector},
        }
        stack("apply", "-f", "-", input=json.dumps(body))
        created.append(name)

        def observed() -> bool:
            pdb = stack.json("-n", NS, "get", "pdb", name)
            st = pdb.get("status") or {}
            return (
                st.get("observedGeneration") == pdb["metadata"]["generation"]
                and st.get("expectedPods", 0) > 0
            )

        wait_for(observed, 60, f"PDB {name} processed by the disruption controller")

    yield make
    for name in created:
        stack("-n", NS, "delete", "pdb", name, "--ignore-not-found", check=False)
    stack("apply", "-f", str(REPO / "k8s" / "app" / "pdb.yaml"), check=False)


def _uids(stack: Kubectl) -> list[str]:
    return sorted(p["metadata"]["uid"] for p in stack.json("-n", NS, "get", "pods", "-l", SELECTOR)["items"])


@pytest.mark.parametrize(
    ("name", "selector"),
    [("e2e-zero-budget", {"matchLabels": {"app.kubernetes.io/name": "searchapp"}}), ("e2e-all-pods", {})],
    ids=["maxUnavailable-0", "empty-selector"],
)
def test_a_budget_refuses_the_kill_and_nothing_is_deleted(
    name: str, selector: dict, only_budget, stack: Kubectl, runner_kubeconfig: Path, tmp_path: Path
) -> None:
    from actions import pods
    from scaleproof import rundir

    only_budget(name, selector)
    before = _uids(stack)
    res = pods.kill_pods(
        NS, SELECTOR, pdb_wait_s=4, wait_recovered_s=30, run_dir=str(tmp_path),
        configuration={"kubeconfig": str(runner_kubeconfig)},
    )  # fmt: skip
    print(f"\nrefused: {res['refused']}")
    assert res["kills"] == 0 and res["refused"] is not None
    assert name in res["refused"]["message"], res["refused"]
    time.sleep(2)
    assert _uids(stack) == before, "a pod was deleted although the budget refused"
    kinds = [(e["kind"], e.get("type")) for e in rundir.read_events(tmp_path)]
    assert ("Eviction", "REFUSED") in kinds and not [k for k in kinds if k[0] == "Kill"]


def test_an_eviction_within_the_budget_is_accepted_and_recorded(
    stack: Kubectl, runner_kubeconfig: Path, tmp_path: Path
) -> None:
    from actions import pods
    from scaleproof import rundir

    res = pods.kill_pods(
        NS, SELECTOR, wait_recovered_s=120, run_dir=str(tmp_path),
        configuration={"kubeconfig": str(runner_kubeconfig)},
    )  # fmt: skip
    assert res["kills"] == 1 and res["method"] == "eviction" and res["refused"] is None
    (k,) = [e for e in rundir.read_events(tmp_path) if e["kind"] == "Kill"]
    assert k["type"] == "EVICTION_ACCEPTED" and res["victims"][0]["uid"] not in _uids(stack)


# ---------------------------------------------------------------------------------- pod security
PRIVILEGED = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "e2e-privileged", "namespace": NS},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "localhost/scaleproof/debian-base:bookworm",
                "command": ["/bin/true"],
                "securityContext": {"privileged": True},
            }
        ]
    },
}


def test_restricted_namespace_admits_our_stack_and_rejects_a_privileged_pod(stack: Kubectl) -> None:
    labels = stack.json("get", "namespace", NS)["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"
    # the API server evaluates every running pod of the namespace against the level
    check = stack("label", "--dry-run=server", "--overwrite", "namespace", NS,
                  "pod-security.kubernetes.io/enforce=restricted")  # fmt: skip
    assert "violate" not in check.stderr, check.stderr
    # each workload's pod template, submitted as a pod, is admitted (server-side dry run)
    for kind in ("deployments", "statefulsets"):
        for w in stack.json("-n", NS, "get", kind)["items"]:
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"e2e-admit-{w['metadata']['name']}", "namespace": NS},
                "spec": w["spec"]["template"]["spec"],
            }
            r = stack("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
            assert r.returncode == 0, f"{kind}/{w['metadata']['name']} refused: {r.stderr}"
    r = stack("create", "-f", "-", input=json.dumps(PRIVILEGED), check=False)
    print(f"\nprivileged pod: {r.stderr.strip()}")
    assert r.returncode != 0 and 'violates PodSecurity "restricted:latest"' in r.stderr
    assert "privileged" in r.stderr
    gone = stack("-n", NS, "get", "pod", "e2e-privileged", check=False)
    assert gone.returncode != 0
