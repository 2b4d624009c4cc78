"""scaleproof.nodeplan: which node, which pods move, which budgets block, and the refusals."""

from __future__ import annotations

import pytest

from scaleproof import kube, nodeplan
from scaleproof.errors import UnsafeTarget
from tests.unit.kubefake import node, pod

pytestmark = pytest.mark.unit

NODES = [node("cp", control_plane=True), node("w1", labels={"pool": "a"}), node("w2", labels={"pool": "b"})]


def _one_line(exc: pytest.ExceptionInfo[UnsafeTarget]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(
    ("name", "nodes", "selector", "runner", "words"),
    [
        ("nope", NODES, None, None, ["no node 'nope'", "cp, w1, w2"]),
        ("w1", [node("w1")], None, None, ["one node", "--nodes 3"]),
        ("cp", NODES, None, None, ["control-plane"]),
        ("w1", NODES, None, "w1", ["chaos runner"]),
        ("w2", NODES, {"pool": "a"}, None, ["outside the configured node selector", "pool"]),
    ],
)
def test_a_node_that_may_not_be_faulted_is_refused_in_one_line(name, nodes, selector, runner, words):
    with pytest.raises(UnsafeTarget) as exc:
        nodeplan.check_node(name, nodes, selector, runner)
    msg = _one_line(exc)
    for w in words:
        assert w in msg


def test_a_worker_inside_the_selector_is_accepted():
    assert nodeplan.check_node("w1", NODES, {"pool": "a"}, "w2")["metadata"]["name"] == "w1"


def test_control_plane_by_taint_only():
    tainted = node("x", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
    assert nodeplan.is_control_plane(tainted) and not nodeplan.is_control_plane(node("y"))


def test_the_chosen_node_runs_the_most_ready_target_pods_never_the_control_plane():
    pods = [
        pod("a", node="cp"),
        pod("b", node="cp"),
        pod("c", node="cp"),
        pod("d", node="w2"),
        pod("e", node="w2"),
        pod("f", node="w1"),
        pod("g", node="w1", ready=False),
    ]
    assert nodeplan.choose_node(pods, NODES) == "w2"
    assert nodeplan.choose_node(pods, NODES, {"pool": "a"}) == "w1"
    with pytest.raises(UnsafeTarget, match="no eligible node"):
        nodeplan.choose_node([pod("a", node="cp")], NODES)


def _owned_by(p, kind):
    p["metadata"]["ownerReferences"][0]["kind"] = kind
    return p


def test_pods_are_classified_as_kubectl_drain_does():
    mirror = pod("static", uid="m")
    mirror["metadata"]["annotations"] = {nodeplan.MIRROR_ANNOTATION: "x"}
    unowned = pod("bare", uid="u")
    unowned["metadata"]["ownerReferences"] = []
    scratch = pod("scratch", uid="s")
    scratch["spec"]["volumes"] = [{"name": "tmp", "emptyDir": {}}]
    pods = [
        pod("app", uid="t"),
        _owned_by(pod("proxy", uid="d"), "DaemonSet"),
        mirror,
        pod("going", uid="g", terminating=True),
        unowned,
        scratch,
    ]
    moves = {m["name"]: m for m in nodeplan.classify_pods(pods, {"t"})}
    assert moves["app"]["decision"] == "evict" and moves["app"]["target"] is True
    assert moves["proxy"]["decision"] == "skip" and "DaemonSet" in moves["proxy"]["reason"]
    assert moves["static"]["decision"] == "skip" and "mirror" in moves["static"]["reason"]
    assert moves["going"]["decision"] == "skip"
    assert moves["bare"]["decision"] == "refuse" and "force" in moves["bare"]["reason"]
    assert moves["scratch"]["decision"] == "refuse" and "delete_emptydir_data" in moves["scratch"]["reason"]
    forced = {m["name"]: m["decision"] for m in nodeplan.classify_pods(pods, {"t"}, True, True)}
    assert forced["bare"] == forced["scratch"] == "evict" and forced["proxy"] == "skip"


def _pdb(name, allowed, **spec):
    return {
        "metadata": {"name": name, "namespace": "scaleproof"},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "searchapp"}}, **spec},
        "status": {"disruptionsAllowed": allowed},
    }


def test_a_budget_that_allows_fewer_disruptions_than_pods_on_the_node_blocks():
    pods = [pod("a", uid="a"), pod("b", uid="b"), pod("other", uid="o", labels={"app": "x"})]
    moves = nodeplan.classify_pods(pods, {"a", "b"})
    budgets = nodeplan.blocking_budgets(
        moves,
        pods,
        [_pdb("strict", 0, maxUnavailable=0), _pdb("loose", 2, minAvailable=1)],
        kube.selector_matches,
    )
    assert [(b["name"], b["pods_on_node"], b["blocks"]) for b in budgets] == [
        ("loose", 2, False),
        ("strict", 2, True),
    ]


@pytest.mark.parametrize(
    ("spec", "replicas", "guaranteed"),
    [
        ({"minAvailable": 1}, 3, 1),
        ({"minAvailable": "50%"}, 3, 2),  # rounded up, as the disruption controller does
        ({"maxUnavailable": 0}, 3, 3),
        ({"maxUnavailable": 1}, 3, 2),
        ({"maxUnavailable": "50%"}, 3, 1),
        ({"minAvailable": 5}, 3, 3),
    ],
)
def test_the_budgets_guarantee(spec, replicas, guaranteed):
    assert nodeplan.budget_guarantee([_pdb("b", 0, **spec)], replicas) == guaranteed
    assert nodeplan.budget_guarantee([], replicas) == 0


def test_the_unreachable_toleration_is_set_and_read_back_others_kept():
    before = [
        {
            "key": nodeplan.UNREACHABLE_TAINT,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {
            "key": "node.kubernetes.io/not-ready",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        },
        {"key": "dedicated", "value": "search", "effect": "NoSchedule"},
    ]
    after = nodeplan.with_unreachable_toleration(before, 20)
    assert len(after) == 3 and before[1] in after and before[2] in after
    assert nodeplan.unreachable_toleration_seconds({"spec": {"tolerations": after}}) == 20
    assert nodeplan.unreachable_toleration_seconds({"spec": {"tolerations": before}}) == 300
    assert nodeplan.unreachable_toleration_seconds({"spec": {}}) is None


def test_node_ready_reads_the_condition():
    assert nodeplan.node_ready(node("a", ready="Unknown")) == "Unknown"
    assert nodeplan.node_ready({"status": {}}) is None
