"""Least privilege: the chaos-runner Role grants exactly the verbs the experiments' code calls, and the
chaos-runner-nodes ClusterRole exactly the cluster-wide ones of the node faults.

The required rules are derived from the Kubernetes client calls in probes/, actions/ and scaleproof/
(the code that runs inside `chaos run`; most calls are in scaleproof/kube.py, the access layer), so
a new call without its verb, or a verb nothing calls, fails here; tests/e2e/test_security.py shows
the same Role on the real API server. Cluster-wide: every cluster-scoped call (nodes, pods of all
namespaces), the watched node list, and every call of scaleproof/kubenodes.py (a drain evicts the
pods of its node and reads their budgets in whatever namespace they live)."""

from __future__ import annotations

import re

import pytest

from tests.unit.manifests import ROOT, one, overlay

pytestmark = pytest.mark.unit

CLUSTER_WIDE_SOURCES = [ROOT / "scaleproof" / "kubenodes.py"]
SOURCES = sorted(
    p
    for p in [*ROOT.glob("probes/*.py"), *ROOT.glob("actions/*.py"), *ROOT.glob("scaleproof/*.py")]
    if p not in CLUSTER_WIDE_SOURCES
)
METHOD = re.compile(r"\b(list|read|patch|delete|create)_namespaced_([a-z_]+?)\b")
CLUSTER_METHOD = re.compile(r"\b(list|read|patch)_(node|pod)(?:_for_all_namespaces)?\b")
VERBS = {"list": "list", "read": "get", "patch": "patch", "delete": "delete", "create": "create"}
RESOURCES = {
    "pod": ("", "pods"),
    "pod_eviction": ("", "pods/eviction"),
    "event": ("", "events"),
    "deployment": ("apps", "deployments"),
    "deployment_scale": ("apps", "deployments/scale"),
    "replica_set": ("apps", "replicasets"),
    "stateful_set": ("apps", "statefulsets"),
    "horizontal_pod_autoscaler": ("autoscaling", "horizontalpodautoscalers"),
    "endpoint_slice": ("discovery.k8s.io", "endpointslices"),
    "pod_disruption_budget": ("policy", "poddisruptionbudgets"),
    "service": ("", "services"),
    "node": ("", "nodes"),
    # the only custom object read: metrics.k8s.io PodMetrics (probes/watch.py's poller)
    "custom_object": ("metrics.k8s.io", "pods"),
}


def _watched(text: str) -> set[str]:
    """Resources whose list method is streamed: passed to list_then_watch (scaleproof.kube) or
    watch_stream, or the recorder's _list_fn."""
    out = set(re.findall(r"(?:list_then_watch|watch_stream)\(\s*[\w.]*?list_namespaced_([a-z_]+)", text))
    body = re.search(r"def _list_fn\(.*?(?=\ndef )", text, re.S)
    if body:
        out |= set(re.findall(r"list_namespaced_([a-z_]+)", body.group(0)))
    return out


def required_rules() -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) for every client call of the code that runs in `chaos run`."""
    rules = set()
    for path in SOURCES:
        text = path.read_text()
        for verb, resource in METHOD.findall(text):
            assert resource in RESOURCES, f"{path.name}: unknown resource {resource}: add it to RESOURCES"
            rules.add((*RESOURCES[resource], VERBS[verb]))
        for resource in _watched(text):
            rules.add((*RESOURCES[resource], "watch"))
    return rules


def _cluster_calls(text: str) -> set[tuple[str, str, str]]:
    rules = set()
    for verb, resource in CLUSTER_METHOD.findall(text):
        rules.add((*RESOURCES[resource], VERBS[verb]))
    body = re.search(r"def _list_fn\(.*?(?=\ndef )", text, re.S)
    if body and re.search(r"\blist_node\b", body.group(0)):
        rules.add(("", "nodes", "watch"))
    return rules


def required_cluster_rules() -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) the chaos runner needs cluster-wide (the node faults)."""
    rules = set()
    for path in [*SOURCES, *CLUSTER_WIDE_SOURCES]:
        text = path.read_text()
        rules |= _cluster_calls(text)
        if path in CLUSTER_WIDE_SOURCES:
            for verb, resource in METHOD.findall(text):
                rules.add((*RESOURCES[resource], VERBS[verb]))
    return rules


def granted_rules(kind: str = "Role", name: str = "chaos-runner") -> set[tuple[str, str, str]]:
    role = one(overlay("local"), kind, name)
    return {
        (g, res, v)
        for r in role["rules"]
        for g in r["apiGroups"]
        for res in r["resources"]
        for v in r["verbs"]
    }


def test_role_grants_exactly_what_the_code_calls():
    need, have = required_rules(), granted_rules()
    assert need == have, f"missing: {sorted(need - have)}; extra: {sorted(have - need)}"


def test_cluster_role_grants_exactly_what_the_node_faults_call():
    need, have = required_cluster_rules(), granted_rules("ClusterRole", "chaos-runner-nodes")
    assert need == have, f"missing: {sorted(need - have)}; extra: {sorted(have - need)}"
    binding = one(overlay("local"), "ClusterRoleBinding", "chaos-runner-nodes")
    assert binding["roleRef"]["kind"] == "ClusterRole" and binding["roleRef"]["name"] == "chaos-runner-nodes"
    runner = {"kind": "ServiceAccount", "name": "chaos-runner", "namespace": "scaleproof"}
    assert binding["subjects"] == [runner]


def test_derivation_sees_the_calls_that_matter():
    need = required_rules()
    assert ("", "pods/eviction", "create") in need  # kill_pods' eviction
    assert ("", "pods", "watch") in need and ("apps", "deployments/scale", "patch") in need
    assert ("apps", "deployments", "patch") in need  # node-loss: the unreachable toleration for the run
    assert not [r for r in need if r[1] in ("secrets", "nodes", "namespaces")]
    cluster = required_cluster_rules()
    # cordon/uncordon, the node timeline, what a drain moves and evicts: nothing else of the cluster
    assert {("", "nodes", v) for v in ("get", "list", "watch", "patch")} <= cluster
    assert ("", "pods", "list") in cluster and ("", "pods/eviction", "create") in cluster
    assert not [r for r in cluster if r[2] in ("delete", "update") or r[1] in ("secrets", "namespaces")]
