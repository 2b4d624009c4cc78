"""actions.drain and actions.nodeloss against the fake API: the undo before the fault, evictions with
uid preconditions, a budget that blocks named, the refusals, the rollbacks and `scaleproof recover`."""

from __future__ import annotations

import json

import pytest

from actions import drain, nodeloss
from scaleproof import nodetimeline, rundir, undo
from scaleproof.errors import UnsafeTarget
from tests.unit.kubefake import install, node, pod

pytestmark = pytest.mark.unit
SEL = "app.kubernetes.io/name=searchapp"


def _pdb(allowed: int, **spec):
    return {
        "metadata": {"name": "searchapp", "namespace": "scaleproof"},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "searchapp"}}, **spec},
        "status": {"disruptionsAllowed": allowed},
    }


@pytest.fixture
def cluster(monkeypatch):
    fake = install(monkeypatch)
    fake.nodes = [node("cp", control_plane=True), node("w1"), node("w2")]
    proxy = pod("proxy-w1", uid="ds", node="w1", labels={"app": "proxy"})
    proxy["metadata"]["ownerReferences"][0]["kind"] = "DaemonSet"
    dns = pod("dns-1", uid="dns", node="w1", labels={"k8s-app": "dns"})
    dns["metadata"]["namespace"] = "kube-system"
    fake.pods = [pod("a", node="w1"), pod("b", node="w1"), pod("c", node="w2"), proxy, dns]
    fake.pdbs = [_pdb(1, minAvailable=1)]
    fake.add_deployment(replicas=3)

    def evicted(name, namespace, options):  # the ReplicaSet replaces an evicted pod on another node
        gone = next(p for p in fake.pods if p["metadata"]["name"] == name)
        fake.pods.remove(gone)
        if gone["metadata"]["namespace"] == "scaleproof":
            fake.pods.append(pod(f"{name}-r", node="w2"))

    fake.on_delete.append(evicted)
    return fake


def test_drain_cordons_after_its_undo_evicts_with_uid_preconditions_and_skips_daemonsets(cluster, tmp_path):
    seen: list[object] = []
    cluster.on_patch_node.append(
        lambda name, body: seen.append((undo.load_plan(tmp_path) or {}).get("cordons"))
    )
    cluster.pdbs = [_pdb(2, minAvailable=1)]
    res = drain.drain_node(
        "scaleproof", SEL, run_dir=str(tmp_path), wait_recovered_s=5, retry_interval_s=0.01
    )
    assert res["node"] == "w1" and res["blocked"] is False and res["target_evicted"] == 2
    assert seen == [[{"node": "w1", "was_unschedulable": False}]]  # the undo was on disk before the cordon
    evictions = {c[2]: c[3] for c in cluster.calls if c[0] == "evict_pod"}
    assert set(evictions) == {"a", "b", "dns-1"}  # every pod of the node, the DaemonSet's skipped
    assert evictions["a"]["deleteOptions"]["preconditions"] == {"uid": "uid-a"}
    kills = [e for e in rundir.read_events(tmp_path) if e.get("kind") == "Kill"]
    assert [k["victim"]["name"] for k in kills] == ["a", "b"] and all(
        k["victim"]["node"] == "w1" for k in kills
    )
    assert cluster.nodes[1]["spec"]["unschedulable"] is True
    assert drain.uncordon_node(run_dir=str(tmp_path))["steps"][0]["ok"] is True
    assert "unschedulable" not in cluster.nodes[1]["spec"]


@pytest.mark.parametrize(("scope", "evicted"), [("namespace", {"a", "b", "other"}), ("workload", {"a", "b"})])
def test_narrower_scopes_leave_the_other_pods(cluster, tmp_path, scope, evicted):
    cluster.pdbs = []
    cluster.pods.append(pod("other", uid="o", node="w1", labels={"app": "other"}))
    drain.drain_node("scaleproof", SEL, node="w1", scope=scope, run_dir=str(tmp_path), wait_recovered_s=0)
    assert {c[2] for c in cluster.calls if c[0] == "evict_pod"} == evicted
    with pytest.raises(UnsafeTarget, match="choose node, namespace, workload"):
        drain.drain_node("scaleproof", SEL, node="w1", scope="all", run_dir=str(tmp_path))


def test_a_drain_a_budget_refuses_ends_blocked_naming_the_budget(cluster, tmp_path):
    cluster.pdbs = [_pdb(0, maxUnavailable=0)]
    res = drain.drain_node(
        "scaleproof",
        SEL,
        node="w1",
        scope="namespace",
        run_dir=str(tmp_path),
        pdb_wait_s=0.2,
        retry_interval_s=0.05,
    )
    assert (
        res["blocked"] is True and {m["name"] for m in res["pending"]} == {"a", "b"} and res["refusals"] >= 4
    )
    figures = nodetimeline.drain_figures(rundir.read_events(tmp_path))
    assert figures["blocked"] is True and figures["pending"] == ["scaleproof/a", "scaleproof/b"]
    [hold] = figures["budgets"]
    assert hold["budget"] == "searchapp" and hold["blocked"] is True and hold["refusals"] == res["refusals"]
    assert 0.15 <= hold["held_s"] <= 5
    assert figures["guarantee"] == 3  # maxUnavailable 0 of the 3 Ready
    # the node stays cordoned until the rollback, which `scaleproof recover` replays too
    plan = undo.load_plan(tmp_path)
    assert undo.replay(plan)["ok"] is True and "unschedulable" not in cluster.nodes[1]["spec"]


def test_a_node_cordoned_before_the_run_stays_cordoned(cluster, tmp_path):
    cluster.nodes[1]["spec"]["unschedulable"] = True
    cluster.pdbs = []
    drain.drain_node("scaleproof", SEL, node="w1", run_dir=str(tmp_path), wait_recovered_s=0)
    drain.uncordon_node(run_dir=str(tmp_path))
    assert cluster.nodes[1]["spec"]["unschedulable"] is True


def test_dry_run_prints_the_plan_and_touches_nothing(cluster, tmp_path, capsys):
    cluster.pdbs = [_pdb(0, maxUnavailable=0)]
    res = drain.drain_node("scaleproof", SEL, dry_run=True, run_dir=str(tmp_path))
    out = json.loads(capsys.readouterr().out)
    assert out["plan"]["node"] == "w1" and res["plan"]["budgets"][0]["blocks"] is True
    assert {m["name"]: m["decision"] for m in out["plan"]["pods"]}["proxy-w1"] == "skip"
    assert not [c for c in cluster.calls if c[0] in ("evict_pod", "patch_node")]
    assert undo.load_plan(tmp_path) is None


def test_drain_refusals_are_one_line_and_change_nothing(cluster, tmp_path):
    with pytest.raises(UnsafeTarget, match="control-plane"):
        drain.drain_node("scaleproof", SEL, node="cp", run_dir=str(tmp_path))
    with pytest.raises(UnsafeTarget, match="no node 'w9'"):
        drain.drain_node("scaleproof", SEL, node="w9", run_dir=str(tmp_path))
    cluster.nodes = [node("w1")]
    with pytest.raises(UnsafeTarget, match="one node"):
        drain.drain_node("scaleproof", SEL, node="w1", run_dir=str(tmp_path))
    assert not [c for c in cluster.calls if c[0] in ("evict_pod", "patch_node")]


def test_in_cluster_without_the_runners_node_is_refused(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.delenv("SCALEPROOF_RUNNER_NODE", raising=False)
    with pytest.raises(UnsafeTarget, match="SCALEPROOF_RUNNER_NODE"):
        drain.drain_node("scaleproof", SEL, node="w1", run_dir=str(tmp_path))
    monkeypatch.setenv("SCALEPROOF_RUNNER_NODE", "w1")
    with pytest.raises(UnsafeTarget, match="chaos runner"):
        drain.drain_node("scaleproof", SEL, node="w1", run_dir=str(tmp_path))


def test_node_loss_on_a_foreign_cluster_needs_both_commands(cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(nodeloss, "_is_local_node", lambda name: False)
    with pytest.raises(UnsafeTarget, match="node_fault_command") as exc:
        nodeloss.lose_node("scaleproof", SEL, node="w1", fault_command="true", run_dir=str(tmp_path))
    assert "\n" not in str(exc.value) and undo.load_plan(tmp_path) is None


def test_node_loss_by_command_records_the_restore_first_and_the_rollback_runs_it_once(
    cluster, tmp_path, monkeypatch
):
    monkeypatch.setattr(nodeloss, "_is_local_node", lambda name: False)
    seen, restored = tmp_path / "seen.json", tmp_path / "restored"
    res = nodeloss.lose_node(
        "scaleproof",
        SEL,
        node="w1",
        fault_command=f'cp {tmp_path}/undo.json {seen} && test "$SCALEPROOF_NODE" = w1',
        restore_command=f"echo $SCALEPROOF_NODE >> {restored}",
        wait_recovered_s=0.1,
        run_dir=str(tmp_path),
    )
    assert res["mode"] == "command" and res["recovered"] is False  # nothing moved: a result, not an error
    assert json.loads(seen.read_text())["node_commands"][0]["node"] == "w1"
    planned = next(e for e in rundir.read_events(tmp_path) if e.get("type") == "PLANNED")
    assert {d["name"] for d in planned["dead_pods"]} == {"a", "b"}
    out = nodeloss.restore_node(wait_ready_s=1, run_dir=str(tmp_path))
    assert out["node"] == "w1" and restored.read_text() == "w1\n"
    assert undo.replay(undo.load_plan(tmp_path))["ok"] is True
    assert restored.read_text() == "w1\n"  # not run a second time


def test_a_fault_command_past_its_deadline_is_an_error(cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(nodeloss, "_is_local_node", lambda name: False)
    from scaleproof.errors import DeadlineExceeded

    with pytest.raises(DeadlineExceeded, match="did not finish within 0.2 s"):
        nodeloss.lose_node(
            "scaleproof",
            SEL,
            node="w1",
            fault_command="sleep 5",
            restore_command="true",
            command_timeout_s=0.2,
            run_dir=str(tmp_path),
        )


def test_the_toleration_is_patched_for_the_run_and_restored(cluster, tmp_path):
    d = cluster.deployments[("scaleproof", "searchapp")]
    d["status"] = {"observedGeneration": 5, "updatedReplicas": 3, "readyReplicas": 3, "replicas": 3}
    res = nodeloss.set_unreachable_toleration(
        "scaleproof", "searchapp", SEL, 10, wait_s=1, run_dir=str(tmp_path)
    )
    tol = d["spec"]["template"]["spec"]["tolerations"]
    assert (
        res["patched"]
        and tol[0]["tolerationSeconds"] == 10
        and tol[0]["key"] == "node.kubernetes.io/unreachable"
    )
    assert undo.load_plan(tmp_path)["tolerations"] == {
        "namespace": "scaleproof",
        "deployment": "searchapp",
        "tolerations": [],
    }
    assert undo.replay(undo.load_plan(tmp_path))["ok"] is True
    assert "tolerations" not in d["spec"]["template"]["spec"]
    assert (
        nodeloss.set_unreachable_toleration("scaleproof", "searchapp", SEL, "", run_dir=str(tmp_path))[
            "patched"
        ]
        is False
    )


def test_scaleproof_recover_uncordons_after_a_crash_and_capture_keeps_the_node_undo(cluster, tmp_path):
    from click.testing import CliRunner

    cluster.pdbs = [_pdb(0, maxUnavailable=0)]
    drain.drain_node(
        "scaleproof", SEL, node="w1", run_dir=str(tmp_path), pdb_wait_s=0.05, retry_interval_s=0.01
    )
    undo.capture_plan("scaleproof", SEL, deployment="searchapp", run_dir=str(tmp_path))  # a later capture
    assert undo.load_plan(tmp_path)["cordons"] == [{"node": "w1", "was_unschedulable": False}]
    out = CliRunner().invoke(undo.recover_command, [str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "uncordoned node w1" in out.output and "unschedulable" not in cluster.nodes[1]["spec"]


@pytest.mark.parametrize("bad", ["abc", "-5", "1.5"])
def test_a_bad_toleration_is_one_clear_line_and_patches_nothing(cluster, tmp_path, bad):
    with pytest.raises(UnsafeTarget, match="SCALEPROOF_TOLERATION_SECONDS") as exc:
        nodeloss.set_unreachable_toleration("scaleproof", "searchapp", SEL, bad, run_dir=str(tmp_path))
    assert "\n" not in str(exc.value) and not [c for c in cluster.calls if c[0] == "patch_deployment"]


@pytest.mark.parametrize(
    ("change", "replicas", "says"),
    [
        ("terminating", 3, "2 Ready of 2 pods (1 terminating)"),
        ("not-ready", 3, "2 Ready of 3 pods (0 terminating)"),
        (None, 2, "3 Ready of 3 pods (0 terminating), 2 wanted"),
    ],
    ids=["a-pod-terminating", "a-pod-not-ready", "more-pods-than-pinned"],
)
def test_a_node_fault_waits_for_rest_and_otherwise_stops_inconclusive_faulting_nothing(
    cluster, tmp_path, monkeypatch, change, replicas, says
):
    from scaleproof import stops
    from scaleproof.errors import ScaleproofError

    monkeypatch.setattr(nodeloss, "_is_local_node", lambda name: False)
    if change == "terminating":
        cluster.pods[2] = pod("c", node="w2", terminating=True)
    elif change == "not-ready":
        cluster.pods[2] = pod("c", node="w2", ready=False)
    for fault in (
        lambda: nodeloss.lose_node(
            "scaleproof", SEL, node="w1", fault_command="false", restore_command="true",
            replicas=replicas, settle_s=0.2, run_dir=str(tmp_path),
        ),
        lambda: drain.drain_node(
            "scaleproof", SEL, node="w1", replicas=str(replicas), settle_s=0.2, run_dir=str(tmp_path)
        ),
    ):  # fmt: skip
        with pytest.raises(ScaleproofError, match="nothing was faulted") as exc:
            fault()
        assert says in str(exc.value) and "\n" not in str(exc.value)
        assert says in stops.read_stop(tmp_path)["precondition"]["problems"][0]
        assert undo.load_plan(tmp_path) is None  # no undo: nothing was touched
    assert not [c for c in cluster.calls if c[0] in ("evict_pod", "patch_node")]


def test_a_node_fault_at_rest_goes_ahead_without_waiting(cluster, tmp_path):
    cluster.pdbs = [_pdb(2, minAvailable=1)]
    res = drain.drain_node(
        "scaleproof", SEL, replicas=3, settle_s=5, run_dir=str(tmp_path), wait_recovered_s=5,
        retry_interval_s=0.01,
    )  # fmt: skip
    assert res["target_evicted"] == 2
