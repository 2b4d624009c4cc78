"""RBAC of the rendered overlays: namespaced only, the chaos runner's exact grants."""

from __future__ import annotations

import pytest

from tests.unit.manifests import NAMESPACE, OVERLAYS, find, one, overlay

pytestmark = pytest.mark.unit


# ------------------------------------------------------------------------------ RBAC
@pytest.mark.parametrize("ov", OVERLAYS)
def test_no_cluster_wide_rbac_and_no_wildcards(ov: str) -> None:
    objs = overlay(ov)
    # the one cluster-wide grant: Prometheus' read-only discovery (nodes are cluster-scoped)
    assert [r["metadata"]["name"] for r in find(objs, "ClusterRole")] == ["scaleproof-prometheus"]
    assert [b["roleRef"]["name"] for b in find(objs, "ClusterRoleBinding")] == ["scaleproof-prometheus"]
    for role in find(objs, "ClusterRole"):
        for rule in role["rules"]:
            assert set(rule["verbs"]) <= {"get", "list", "watch"}, "Prometheus only reads"
    for role in find(objs, "Role"):
        for rule in role["rules"]:
            for field in ("verbs", "resources", "apiGroups"):
                assert "*" not in rule.get(field, []), f"Role {role['metadata']['name']}: wildcard in {field}"
            assert "resourceNames" not in rule or rule["resourceNames"]


def test_chaos_runner_role_grants_exactly_the_contract() -> None:
    objs = overlay("local")
    role = one(objs, "Role", "chaos-runner")
    assert role["metadata"]["namespace"] == NAMESPACE
    granted = {
        (g, res, v)
        for r in role["rules"]
        for g in r["apiGroups"]
        for res in r["resources"]
        for v in r["verbs"]
    }
    from tests.unit.test_rbac import required_rules  # derived from the client calls of the providers

    expected = required_rules()
    assert granted == expected, f"missing: {expected - granted}; extra: {granted - expected}"
    binding = one(objs, "RoleBinding", "chaos-runner")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "chaos-runner",
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "chaos-runner", "namespace": NAMESPACE}]
    one(objs, "ServiceAccount", "chaos-runner")
