"""Honest interrupts: a real `chaos run` stopped by SIGINT or SIGTERM in each phase is judged
`inconclusive` with the signal and the phase, exits non-zero, and still plays its rollbacks."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from scaleproof import verdict as verdict_module
from tests.unit.test_experiments import CHAOS, signal_chaos_run

pytestmark = pytest.mark.unit

SCALEPROOF = str(Path(CHAOS).with_name("scaleproof"))
PHASES = {
    "gate": ("nap-gate", "the steady-state hypothesis before the method (probe 'nap-gate')"),
    "method": ("nap-method", "the method (action 'nap-method')"),
    "rollback": ("nap-rollback", "the rollbacks (action 'nap-rollback')"),
}


def _nap(name: str, kind: str, seconds: float, ready: Path) -> dict:
    return {
        "type": kind,
        "name": name,
        "provider": {
            "type": "python",
            "module": "tests.unit.sigfixture",
            "func": "nap",
            "arguments": {"seconds": seconds, "ready_file": str(ready)},
        },
    }


def experiment(tmp_path: Path, target: str, nap_s: float = 30.0) -> dict:
    def secs(name: str) -> float:
        return nap_s if name == PHASES[target][0] else 0.1

    gate = _nap("nap-gate", "probe", secs("nap-gate"), tmp_path / "ready-nap-gate")
    gate["tolerance"] = True
    return {
        "title": "interrupt",
        "description": f"signal during {target}",
        "runtime": {"rollbacks": {"strategy": "always"}},
        "controls": [
            {"name": "scaleproof-evidence", "provider": {"type": "python", "module": "scaleproof.evidence"}}
        ],
        "extensions": [{"name": "scaleproof", "kind": "interrupt", "criteria": ["kills >= 1"]}],
        "steady-state-hypothesis": {"title": "naps", "probes": [gate]},
        "method": [_nap("nap-method", "action", secs("nap-method"), tmp_path / "ready-nap-method")],
        "rollbacks": [
            _nap("nap-rollback", "action", secs("nap-rollback"), tmp_path / "ready-nap-rollback"),
            {
                "type": "action",
                "name": "mark",
                "provider": {
                    "type": "python",
                    "module": "tests.unit.sigfixture",
                    "func": "mark",
                    "arguments": {"path": str(tmp_path / "rolled")},
                },
            },
        ],
    }


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
@pytest.mark.parametrize("target", sorted(PHASES))
def test_interrupt_is_inconclusive_with_signal_and_phase(tmp_path, sig, target):
    journal = tmp_path / "journal.json"
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(experiment(tmp_path, target)))
    ready = tmp_path / f"ready-{PHASES[target][0]}"
    returncode, out = signal_chaos_run(tmp_path, ready, sig)
    assert returncode != 0, out  # SIGTERM too: chaoslib says completed, the control says interrupted
    j = json.loads(journal.read_text())
    (ev,) = [e for e in j["extensions"] if e["name"] == "scaleproof"]
    assert j["status"] == "interrupted"
    assert ev["interrupt"]["signal"] == sig.name and ev["interrupt"]["phase"] == PHASES[target][1]
    assert ev["verdict"] == "inconclusive"
    v = verdict_module.verdict(j)
    assert v.outcome == "inconclusive"
    assert v.reasons[0].startswith(f"interrupted by {sig.name} during {PHASES[target][1]}")
    if target != "rollback":  # the rollbacks still ran after the interrupt
        assert (tmp_path / "rolled").read_text() == "rolled back after abort"
    r = subprocess.run([SCALEPROOF, "verdict", str(journal)], capture_output=True, text=True, timeout=60)
    assert r.returncode == verdict_module.EXIT_INCONCLUSIVE and sig.name in r.stdout, r.stdout
    print(f"MATRIX {sig.name} {target}: rolled={(tmp_path / 'rolled').exists()} reason={v.reasons[0]}")


def test_sigint_stops_the_run_even_when_started_with_sigint_ignored(tmp_path):
    """A `chaos run` started as a script's background job inherits SIGINT ignored; `kill -INT` must
    still interrupt the activity in progress (it set only the abort flag, and a 300 s nap ran on)."""
    journal = tmp_path / "journal.json"
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(experiment(tmp_path, "method", nap_s=300.0)))
    _, out = signal_chaos_run(
        tmp_path, tmp_path / "ready-nap-method", signal.SIGINT, timeout=120, ignore_sigint=True
    )
    j = json.loads(journal.read_text())
    assert j["status"] == "interrupted", out[-2000:]
    assert (tmp_path / "rolled").read_text() == "rolled back after abort"
