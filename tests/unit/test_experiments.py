"""The experiments validate without a cluster, pin their runtime, and declare parseable criteria;
SIGTERM during a python activity stops further faults and rollbacks still run (real `chaos` process)."""

from __future__ import annotations

import json
import os
import signal
import string
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from scaleproof import criteria

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CHAOS = str(Path(sys.executable).with_name("chaos"))
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SCALEPROOF_RUN_DIR")}
    e["HOME"] = e.get("TMPDIR", "/tmp")  # no ~/.kube/config either
    e["PYTHONPATH"] = str(ROOT)
    e.update(extra)
    return e


def signal_chaos_run(
    tmp_path: Path, ready: Path, sig: int, timeout: float = 60, ignore_sigint: bool = False
) -> tuple[int, str]:
    """`chaos run exp.yaml` (journal.json) in `tmp_path`, sent `sig` once `ready` exists (the target
    activity started); (exit code, output). `ignore_sigint`: start it as a script's background job would
    (SIGINT inherited as ignored)."""
    p = subprocess.Popen(
        [CHAOS, "--no-version-check", "--no-log-file", "run", "--journal-path", "journal.json", "exp.yaml"],
        cwd=tmp_path,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        assert ready.exists(), (
            p.stdout.read().decode() if p.poll() is not None else "target activity never started"
        )
        time.sleep(0.2)
        p.send_signal(sig)
        return p.wait(timeout=timeout), p.communicate()[0].decode()
    finally:
        if p.poll() is None:
            p.kill()


def test_there_are_three_experiments():
    assert {p.stem for p in EXPERIMENTS} >= {"hpa-scale", "pod-kill", "vector-shards"}


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_chaos_validate_without_a_cluster(path, tmp_path):
    r = subprocess.run(
        [CHAOS, "--no-version-check", "--no-log-file", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Could not find Python module" not in r.stdout + r.stderr


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_contract(path):
    exp = yaml.safe_load(path.read_text())
    assert exp["runtime"]["rollbacks"]["strategy"] == "always"
    assert exp["runtime"]["hypothesis"]["strategy"] == "continuously"
    assert any(c["provider"]["module"] == "scaleproof.evidence" for c in exp["controls"])
    (ext,) = [e for e in exp["extensions"] if e["name"] == "scaleproof"]
    assert ext["kind"] == path.stem and ext["criteria"]
    for key, entry in exp["configuration"].items():
        assert entry["type"] == "env" and "default" in entry, key
    defaults = {k: str(e["default"]) for k, e in exp["configuration"].items()}
    for expr in ext["criteria"]:
        # criteria are templates over the configuration: every name must exist, and filled they parse
        filled = string.Template(expr).substitute(defaults)
        criteria.parse(filled)
    assert exp["steady-state-hypothesis"]["probes"] and exp["method"] and exp["rollbacks"]


def test_malformed_experiment_is_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "title": "bad",
                "description": "unknown argument",
                "method": [
                    {
                        "type": "action",
                        "name": "kill",
                        "provider": {
                            "type": "python",
                            "module": "actions.pods",
                            "func": "kill_pods",
                            "arguments": {"namespace": "scaleproof", "selector": "a=b", "victims": 3},
                        },
                    }
                ],
            }
        )
    )
    r = subprocess.run(
        [CHAOS, "--no-version-check", "--no-log-file", "validate", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env(),
        cwd=tmp_path,
    )
    assert r.returncode != 0
    assert "victims" in r.stdout + r.stderr


def test_sigterm_stops_further_faults_and_rollbacks_run(tmp_path):
    ready, marker, journal = tmp_path / "ready", tmp_path / "rolled", tmp_path / "journal.json"
    exp = {
        "title": "sigterm",
        "description": "SIGTERM during a python activity",
        "runtime": {"rollbacks": {"strategy": "always"}},
        "controls": [
            {"name": "scaleproof-evidence", "provider": {"type": "python", "module": "scaleproof.evidence"}}
        ],
        "extensions": [{"name": "scaleproof", "kind": "sigterm", "criteria": ["kills >= 1"]}],
        "method": [
            {
                "type": "action",
                "name": "nap",
                "provider": {
                    "type": "python",
                    "module": "tests.unit.sigfixture",
                    "func": "nap",
                    "arguments": {"ready_file": str(ready)},
                },
            },
            {
                "type": "action",
                "name": "start-load",
                "provider": {
                    "type": "python",
                    "module": "actions.load",
                    "func": "start_load",
                    "arguments": {"users": 1},
                },
            },
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "mark",
                "provider": {
                    "type": "python",
                    "module": "tests.unit.sigfixture",
                    "func": "mark",
                    "arguments": {"path": str(marker)},
                },
            }
        ],
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(exp))
    _, out = signal_chaos_run(tmp_path, ready, signal.SIGTERM)
    j = json.loads(journal.read_text())
    assert [r["status"] for r in j["run"]] == ["failed", "failed"], out
    assert "aborted (SIGTERM)" in "".join(j["run"][1]["exception"])  # the load was never started
    assert [r["status"] for r in j["rollbacks"]] == ["succeeded"]
    assert marker.read_text() == "rolled back after abort"
    (ev,) = [e for e in j["extensions"] if e["name"] == "scaleproof"]
    assert ev["verdict"] == "inconclusive" and ev["interrupt"]["signal"] == "SIGTERM"
    assert not (
        Path(ev["run_dir"] if Path(ev["run_dir"]).is_absolute() else tmp_path / ev["run_dir"])
        / "load_locust.log"
    ).exists()
