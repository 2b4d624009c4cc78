"""scaleproof.bench: figures across run dirs, printed with the command to reproduce them."""

from __future__ import annotations

import pytest

from scaleproof import bench, rundir

pytestmark = pytest.mark.unit


def run(root, rid, kind, mttrs, failed=0):
    kills = [
        {
            "kill_id": f"k{i}",
            "recovered": True,
            "mttr_s": m,
            "failed_requests": failed,
            "phases": [{"name": "ready", "resolution_s": 0.001}],
            "mttr_definition": "delete accepted → endpoints",
        }
        for i, m in enumerate(mttrs)
    ]
    rundir.write_json_atomic(
        root / rid / "evidence.json",
        {"name": "scaleproof", "run_id": rid, "experiment": {"kind": kind}, "timelines": {"kills": kills}},
    )


def test_pod_kill_figures_over_all_runs(tmp_path, capsys):
    run(tmp_path, "r1", "pod-kill", [1, 2, 3, 4, 5])
    run(tmp_path, "r2", "pod-kill", [6, 7, 8, 9, 10], failed=2)
    run(tmp_path, "r3", "hpa-scale", [])
    assert bench.main(["pod-kill", "--runs-root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 run(s), 10 kill(s)" in out and "p95   9.550 s" in out and "max 2" in out
    assert "reproduce: scaleproof bench pod-kill" in out and "WARNING" not in out
    fig = bench.pod_kill_figures(bench.collect([tmp_path / "r1"], "pod-kill"))
    assert fig["enough_kills"] is False and fig["mttr"]["count"] == 5


def test_no_evidence_exit_code(tmp_path, capsys):
    assert bench.main(["hpa-scale", "--runs-root", str(tmp_path)]) == 2
    assert "no hpa-scale evidence" in capsys.readouterr().err
