"""Least privilege: the chaos-runner Role grants exactly the verbs the experiments' code calls.

The required rules are derived from the Kubernetes client calls in probes/, actions/ and scaleproof/
(the code that runs inside `chaos run`; most calls are in scaleproof/kube.py, the access layer), so
a new call without its verb, or a verb nothing calls, fails here; tests/e2e/test_security.py shows
the same Role on the real API server."""

from __future__ import annotations

import re

import pytest

from tests.unit.manifests import ROOT, one, overlay

pytestmark = pytest.mark.unit

SOURCES = sorted([*ROOT.glob("probes/*.py"), *ROOT.glob("actions/*.py"), *ROOT.glob("scaleproof/*.py")])
METHOD = re.compile(r"\b(list|read|patch|delete|create)_namespaced_([a-z_]+?)\b")
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


def granted_rules() -> set[tuple[str, str, str]]:
    role = one(overlay("local"), "Role", "chaos-runner")
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


def test_derivation_sees_the_calls_that_matter():
    need = required_rules()
    assert ("", "pods/eviction", "create") in need  # kill_pods' eviction
    assert ("", "pods", "watch") in need and ("apps", "deployments/scale", "patch") in need
    assert not [r for r in need if r[1] in ("secrets", "nodes", "namespaces")]
