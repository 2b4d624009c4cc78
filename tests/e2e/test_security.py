"""Issue 10 on the real cluster: budgets enforced by the Eviction API, the chaos-runner identity is
enough for the experiments and denied everything else, the namespace admits only restricted pods.

The chaos-runner kubeconfig and the experiment runs are the session's (tests/e2e/conftest.py).
Budgets the tests create are removed and `k8s/app/pdb.yaml` is
re-applied even when a test fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import REPO, ExperimentRuns, Kubectl, evidence_of, wait_for

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
        "list secrets in scaleproof": _status(core.list_namespaced_secret, NS),
        "read secret in scaleproof": _status(core.read_namespaced_secret, "any", NS),
        "delete node": _status(core.delete_node, node),
        "delete pod in kube-system": _status(core.delete_namespaced_pod, "e2e-nope", "kube-system"),
        "watch pods in kube-system": _status(
            core.list_namespaced_pod, "kube-system", watch=True, timeout_seconds=1
        ),
        "create pod in scaleproof": _status(core.create_namespaced_pod, NS, pod),
        "delete deployment searchapp": _status(apps.delete_namespaced_deployment, "searchapp", NS),
        "list deployments in kube-system": _status(apps.list_namespaced_deployment, "kube-system"),
        "read configmap": _status(core.list_namespaced_config_map, NS),
    }
    allowed = {
        "list pods in scaleproof": _status(core.list_namespaced_pod, NS),
        "read deployment searchapp": _status(apps.read_namespaced_deployment, "searchapp", NS),
        # the node faults (chaos-runner-nodes ClusterRole): nodes are cluster-scoped and a drain moves
        # every pod of its node, so these reach beyond the namespace; RBAC cannot narrow a node patch
        # to spec.unschedulable (the code only ever sends that)
        "list nodes": _status(core.list_node),
        "patch node (cordon no-op)": _status(core.patch_node, node, {"spec": {"unschedulable": None}}),
        "list pods in kube-system": _status(core.list_namespaced_pod, "kube-system"),
        # node-loss sets the unreachable tolerationSeconds for the run (a no-op patch here)
        "patch deployment searchapp": _status(
            apps.patch_namespaced_deployment, "searchapp", NS, {"metadata": {"labels": {}}}
        ),
    }
    print("\nas system:serviceaccount:scaleproof:chaos-runner:", json.dumps({**denied, **allowed}, indent=1))
    assert set(denied.values()) == {403}, denied
    assert set(allowed.values()) == {200}, allowed


@pytest.mark.parametrize("kind", ["pod-kill", "hpa-scale", "vector-shards"])
def test_experiment_runs_as_the_chaos_runner_without_a_denial(
    kind: str, experiment_runs: ExperimentRuns
) -> None:
    """The session's one run per experiment is made as the chaos-runner (conftest); its verdict is judged
    in test_experiments.py, here: no request was denied and no activity failed."""
    journal, run = experiment_runs.get(kind)
    assert journal.exists(), run.stderr[-2000:]
    doc = json.loads(journal.read_text())
    ev = evidence_of(journal)
    # the API server's denial as the kubernetes client reports it: "(403)" and "Reason: Forbidden"
    # (a bare "403" also matches timestamps and pids in the log)
    denial = re.compile(r"\(403\)|Forbidden|forbidden")
    forbidden = [ln for ln in journal.with_suffix(".log").read_text().splitlines() if denial.search(ln)]
    figures = {n: m.get("value") for n, m in ev["metrics"].items()}
    print(f"\n{kind} as chaos-runner: verdict {ev['verdict']} {figures}")
    assert not forbidden, forbidden[:5]
    failed = [r["activity"]["name"] for r in doc["run"] + doc["rollbacks"] if r["status"] == "failed"]
    assert not failed, failed
    run_dir = Path(ev["run_dir"]) if Path(ev["run_dir"]).is_absolute() else REPO / ev["run_dir"]
    if kind == "pod-kill" and os.environ.get("SCALEPROOF_RECORD_EVENTS"):  # refresh the fixture
        FIXTURES.mkdir(parents=True, exist_ok=True)
        shutil.copy(run_dir / "events.jsonl", FIXTURES / "pod-kill-events.jsonl")


# --------------------------------------------------------------------------------------------- PDBs
@pytest.fixture
def three_replicas(stack: Kubectl) -> Iterator[None]:
    """The HPA pinned to 3 searchapp pods (a kill needs a survivor), restored afterwards."""
    hpa = stack.json("-n", NS, "get", "hpa", "searchapp")["spec"]
    patch = {"spec": {"minReplicas": 3, "maxReplicas": max(3, hpa["maxReplicas"])}}
    stack("-n", NS, "patch", "hpa", "searchapp", "--type=merge", "-p", json.dumps(patch))
    stack("-n", NS, "rollout", "status", "deployment/searchapp", "--timeout=180s", timeout=200)

    def settled() -> bool:  # exactly 3 pods, all Ready, none terminating: no rollout surge counted
        items = stack.json("-n", NS, "get", "pods", "-l", SELECTOR)["items"]
        return len(items) == 3 and len(_ready(stack)) == 3

    try:
        wait_for(settled, 240, "exactly 3 Ready searchapp pods and no terminating one")
        yield
    finally:
        back = {"spec": {"minReplicas": hpa.get("minReplicas", 1), "maxReplicas": hpa["maxReplicas"]}}
        stack("-n", NS, "patch", "hpa", "searchapp", "--type=merge", "-p", json.dumps(back), check=False)


def _ready(stack: Kubectl) -> list[str]:
    from scaleproof.kobjects import pod_ready

    return [
        p["metadata"]["uid"]
        for p in stack.json("-n", NS, "get", "pods", "-l", SELECTOR)["items"]
        if pod_ready(p)
    ]


@pytest.fixture
def only_budget(stack: Kubectl, three_replicas: None) -> Iterator[Callable]:
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
    """Uids of the searchapp pods that are not terminating."""
    items = stack.json("-n", NS, "get", "pods", "-l", SELECTOR)["items"]
    return sorted(p["metadata"]["uid"] for p in items if not p["metadata"].get("deletionTimestamp"))


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
    stack: Kubectl, runner_kubeconfig: Path, tmp_path: Path, three_replicas: None
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
            spec = dict(w["spec"]["template"]["spec"])
            claims = [t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates") or []]
            spec["volumes"] = (spec.get("volumes") or []) + [
                {"name": c, "persistentVolumeClaim": {"claimName": f"{c}-{w['metadata']['name']}-0"}}
                for c in claims
            ]
            pod = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"e2e-admit-{w['metadata']['name']}", "namespace": NS},
                "spec": spec,
            }
            r = stack("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
            assert r.returncode == 0, f"{kind}/{w['metadata']['name']} refused: {r.stderr}"
    r = stack("create", "-f", "-", input=json.dumps(PRIVILEGED), check=False)
    print(f"\nprivileged pod: {r.stderr.strip()}")
    assert r.returncode != 0 and 'violates PodSecurity "restricted:latest"' in r.stderr
    assert "privileged" in r.stderr
    gone = stack("-n", NS, "get", "pod", "e2e-privileged", check=False)
    assert gone.returncode != 0
