"""Claims in the hypothesis: the threshold follows the run's phase, recorded by the evidence control
and by the action that starts the faults; a failed method step stops the steps after it."""

from __future__ import annotations

import pytest

from probes import claims
from scaleproof import evidence, rundir
from scaleproof.errors import RunDirError

pytestmark = pytest.mark.unit


def cfg(path):
    return {rundir.CONFIG_KEY: str(path)}


def test_pod_kill_claim_before_during_and_after(tmp_path):
    c = cfg(tmp_path)
    kw = {"claim": "ready", "before": 1, "faults": 3, "fault_allowance": 1, "after": 3, "configuration": c}
    assert claims.at_least_in_phase(1, **kw)  # at rest: the HPA minimum is enough
    evidence.before_method_control(configuration=c)
    assert claims.at_least_in_phase(1, **kw)  # set-up (pinning the HPA): still the at-rest floor
    rundir.set_phase(tmp_path, "faults")
    assert claims.at_least_in_phase(2, **kw)  # one pod killed at a time: 3 - 1 tolerated
    assert not claims.at_least_in_phase(1, **kw)  # below what the fault explains
    evidence.after_method_control(configuration=c)
    assert not claims.at_least_in_phase(2, **kw)  # after the kills the declared 3 must be back
    assert claims.at_least_in_phase(3, **kw)
    recs = rundir.read_jsonl(tmp_path / "claims.jsonl")
    assert [(r["phase"], r["threshold"], r["met"]) for r in recs] == [
        ("before", 1.0, True),
        ("method", 1.0, True),
        ("faults", 2.0, True),
        ("faults", 2.0, False),
        ("after", 3.0, False),
        ("after", 3.0, True),
    ]


def test_a_sample_in_flight_when_the_method_ends_is_judged_as_during(tmp_path):
    """Chaos Toolkit's continuous samples run in a pool thread; one that read 2 Ready just before the
    method ended (hpa-scale waits for 3) must not be judged against the after-claim (seen in CI)."""
    from concurrent.futures import ThreadPoolExecutor

    c = cfg(tmp_path)
    kw = {"claim": "ready", "before": 1, "after": 3, "configuration": c}
    evidence.before_method_control(configuration=c)
    rundir.set_phase(tmp_path, "faults")
    evidence.after_method_control(configuration=c)
    with ThreadPoolExecutor(max_workers=1) as pool:  # what chaoslib's get_hypothesis_pool() is
        assert pool.submit(claims.at_least_in_phase, 2, **kw).result()
        assert not pool.submit(claims.at_least_in_phase, 0, **kw).result()
    assert not claims.at_least_in_phase(2, **kw), "the after-hypothesis (main thread) claims 3"
    recs = rundir.read_jsonl(tmp_path / "claims.jsonl")
    assert [(r["phase"], r["threshold"], r["met"]) for r in recs] == [
        ("faults", 1.0, True),
        ("faults", 1.0, False),
        ("after", 3.0, False),
    ]


def test_a_phase_without_threshold_claims_nothing_and_no_value_fails(tmp_path):
    c = cfg(tmp_path)
    rundir.set_phase(tmp_path, "after")
    assert claims.at_least_in_phase(0, before=1, configuration=c)  # no `after` threshold given
    assert not claims.at_least_in_phase(None, after=1, configuration=c)


def test_a_failed_method_step_stops_the_next_steps(tmp_path, monkeypatch):
    monkeypatch.setenv(rundir.ENV_VAR, str(tmp_path))
    c = cfg(tmp_path)
    exp = {"method": [{"name": "pin-hpa-min-replicas"}, {"name": "kill"}]}
    evidence.before_method_control(configuration=c)
    # a failed hypothesis probe (has a tolerance) is not a method step
    evidence.after_activity_control(
        context={"name": "ready", "tolerance": 1}, state={"status": "failed"}, experiment=exp, configuration=c
    )
    rundir.check_method_ok(None, "killing pods")
    evidence.after_activity_control(
        context={"name": "pin-hpa-min-replicas"}, state={"status": "failed"}, experiment=exp, configuration=c
    )
    with pytest.raises(RunDirError, match="'pin-hpa-min-replicas' failed"):
        rundir.check_method_ok(None, "killing pods")
    evidence.after_activity_control(  # the steps refused after it do not hide the first failure
        context={"name": "kill"}, state={"status": "failed"}, experiment=exp, configuration=c
    )
    with pytest.raises(RunDirError, match="'pin-hpa-min-replicas' failed"):
        rundir.check_method_ok(None, "waiting")
    assert rundir.read_phase(tmp_path) == "method"


def test_the_evidence_summarises_where_each_claim_was_checked(tmp_path):
    c = cfg(tmp_path)
    kw = {"claim": "ready_replicas", "before": 1, "after": 3, "configuration": c}
    claims.at_least_in_phase(1, **kw)
    evidence.after_method_control(configuration=c)
    claims.at_least_in_phase(2, **kw)
    claims.at_least_in_phase(4, **kw)
    rows = evidence.claims_summary(rundir.read_jsonl(tmp_path / "claims.jsonl"))
    assert [(r["phase"], r["checks"], r["met"], r["threshold"], r["min"], r["max"]) for r in rows] == [
        ("before", 1, 1, 1.0, 1, 1),
        ("after", 2, 1, 3.0, 2, 4),
    ]


def test_a_run_without_faults_never_labels_a_check_faults(tmp_path):
    """Issue 23: vector-shards injects no fault, yet its in-flight samples were recorded in a
    "faults" phase. Off the main thread, `after` is judged as the last phase the run really entered."""
    from concurrent.futures import ThreadPoolExecutor

    c = cfg(tmp_path)
    evidence.before_method_control(configuration=c)
    evidence.after_method_control(configuration=c)  # ingest, snapshots, query burst: no fault
    assert rundir.read_phase(tmp_path, full=True)["reached"] == ["method", "after"]
    with ThreadPoolExecutor(max_workers=1) as pool:  # a continuous sample in flight
        pool.submit(claims.record_check, tmp_path, "shards", 3, 2, True).result()
        assert pool.submit(
            claims.at_least_in_phase, 1, claim="x", method=1, after=3, configuration=c
        ).result()
    claims.record_check(tmp_path, "shards", 3, 2, True)  # the after-hypothesis, main thread
    recs = rundir.read_jsonl(tmp_path / "claims.jsonl")
    assert [(r["claim"], r["phase"]) for r in recs] == [
        ("shards", "method"),
        ("x", "method"),
        ("shards", "after"),
    ]
    assert recs[1]["threshold"] == 1.0, "judged against the method's threshold, not the after-claim"
