"""A 10-kill run's console output (issue 22): one line per kill, the continuous hypothesis quiet, the
figures and the verdict at the end, fewer than 100 lines in all.

A real `chaos run` of tests/fixtures/console/pod-kill-shaped.yaml: pod-kill's shape (four hypothesis
probes sampled continuously every 0.05 s — 40 times more often than a real run's 2 s — eight method
steps, three rollbacks, the scaleproof evidence control) with stand-in providers, no cluster. The
output is kept in tests/fixtures/console/pod-kill-10-kills.txt (regenerate: SCALEPROOF_REGEN_CONSOLE=1).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CHAOS = str(Path(sys.executable).with_name("chaos"))
FIXTURE = REPO / "tests" / "fixtures" / "console"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = re.compile(r"^\[[0-9-]+ [0-9:]+ ")


def _run(tmp: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEPROOF_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run(
        [CHAOS, "--no-version-check", "--no-log-file", "run", "--hypothesis-frequency", "0.05",
         str(FIXTURE / "pod-kill-shaped.yaml")],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return [ANSI.sub("", line) for line in (proc.stdout + proc.stderr).splitlines()]


def test_a_ten_kill_run_prints_one_line_per_kill_and_ends_with_the_verdict(tmp_path):
    lines = _run(tmp_path)
    text = "\n".join(lines)
    if os.environ.get("SCALEPROOF_REGEN_CONSOLE"):
        (FIXTURE / "pod-kill-10-kills.txt").write_text(
            "\n".join(STAMP.sub("[", line) for line in lines) + "\n"
        )
    assert len(lines) < 100, text
    kills = [line for line in lines if re.search(r"\bkill \d+/10: ", line)]
    assert len(kills) == 10 and all("Ready after" in k and "failed request" in k for k in kills), text
    assert sum("1 failed request(s)" in k for k in kills) == 2  # rounds 4 and 8, each once
    samples = re.search(r"continuous hypothesis: (\d+) samples, 0 breached", text)
    assert samples and int(samples.group(1)) > 20  # many samples ran; their lines did not print
    assert sum("Probe: declared-replicas-ready" in line for line in lines) == 2  # gate + after only
    assert re.search(r"VERDICT: (PASS|FAIL|INCONCLUSIVE)", lines[-2] + lines[-1] + text)
    assert "exit codes of `scaleproof verdict`" in lines[-1]


def test_the_kept_fixture_shows_the_same():
    lines = (FIXTURE / "pod-kill-10-kills.txt").read_text().splitlines()
    assert len(lines) < 100
    assert len([x for x in lines if re.search(r"\bkill \d+/10: ", x)]) == 10
    assert any(x.startswith("[INFO] VERDICT: ") or "] VERDICT: " in x for x in lines)
