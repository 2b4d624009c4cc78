"""scaleproof.bench: figures across run dirs, printed with the command to reproduce them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


EVIDENCE = Path(__file__).parents[2] / "journals" / "evidence"


def test_vector_shards_is_covered_and_run_time_is_printed_per_experiment(capsys):
    assert bench.main(["vector-shards", str(EVIDENCE)]) == 0
    out = capsys.readouterr().out
    journals = sorted(EVIDENCE.glob("vector-shards-*.json"))
    assert f"vector-shards: {len(journals)} run(s)" in out and "shards_min 3" in out
    rt = bench.run_times([EVIDENCE], "vector-shards")
    assert len(rt["per_run"]) == len(journals) and rt["max_s"] >= rt["median_s"] > 0
    assert f"median {rt['median_s']:.0f} s" in out and "warm `scaleproof run` time of vector-shards" in out


def test_hpa_scale_prints_phases_and_run_time(capsys):
    assert bench.main(["hpa-scale", str(EVIDENCE)]) == 0
    out = capsys.readouterr().out
    assert "metric_above_target" in out and "warm `scaleproof run` time of hpa-scale" in out


def test_run_dirs_have_no_run_time(tmp_path, capsys):
    run(tmp_path, "r1", "pod-kill", [1, 2])
    assert bench.run_times([tmp_path / "r1"], "pod-kill")["per_run"] == {}
    assert bench.main(["pod-kill", "--runs-root", str(tmp_path)]) == 0
    assert "run dirs carry no duration" in capsys.readouterr().out


def test_the_scaleproof_command_has_bench(tmp_path):
    exe = Path(sys.executable).with_name("scaleproof")
    proc = subprocess.run([str(exe), "bench", "vector-shards", str(EVIDENCE)], capture_output=True, text=True)
    assert proc.returncode == 0 and "vector-shards:" in proc.stdout, proc.stderr
    proc = subprocess.run([str(exe), "bench", "nonsense"], capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def _scale_kill(i: int, rnd: int, repl: str | None, mttr: float | None) -> dict:
    return {
        "kill_id": f"kill-{i}",
        "round": rnd,
        "victim_uid": f"v{i}",
        "replacement_uid": repl,
        "recovered": mttr is not None,
        "mttr_s": mttr,
        "phases": [{"name": "ready", "resolution_s": 0.001}],
        "mttr_definition": "delete accepted → endpoints_ready",
    }


def test_scale_figures_pair_every_victim_and_count_what_was_lost() -> None:
    kills = [_scale_kill(i, 1 + i // 2, f"r{i}", 1.0 + i / 10) for i in range(5)]
    kills.append(_scale_kill(5, 3, "r4", None))  # a replacement claimed twice: must show
    ev = {
        "run_id": "x",
        "configuration": {"kills": 4, "kill_count": 2, "replicas": 30},
        "timelines": {"kills": kills},
        "cost": {
            "events_bytes": 6000,
            "chaos_process": {"cpu_s": 12.5, "rss_peak_mib": 140.0, "machine_share": 0.06},
            "load_generator": {"cpu_s": 40.0, "machine_share": 0.2},
        },
    }
    fig = bench.scale_figures([ev], journal_bytes=12000)
    assert (fig["planned_kills"], fig["kills"], fig["lost_kills"]) == (8, 6, 2)
    assert (fig["paired"], fig["distinct_replacements"], fig["recovered"]) == (6, 5, 5)
    assert fig["rounds"] == 3 and fig["victims_per_round"] == [2] and fig["replicas"] == [30]
    assert fig["mttr"]["count"] == 6 and fig["mttr"]["max"] is None, "no MTTR over the survivors only"
    assert (
        fig["mttr"]["max_recovered_only"] == 1.4 and "1 of 6 kills did not recover" in fig["mttr"]["reason"]
    )
    assert (fig["recorder_cpu_s"], fig["recorder_rss_peak_mib"], fig["load_machine_share"]) == (
        12.5,
        140.0,
        0.2,
    )
    assert (fig["events_bytes_per_kill"], fig["journal_bytes_per_kill"]) == (1000, 2000)


def test_scale_with_paths_reads_the_committed_scale_runs_and_runs_nothing(monkeypatch, capsys):
    """`bench scale journals/scale`: the figures of the committed 30-replica runs (5 pods at once),
    recomputed from their journals; no floor deployment, no new run."""

    def no_run(*a, **k):
        raise AssertionError("bench scale with PATHS must not run an experiment")

    monkeypatch.setattr(bench, "run_floor", no_run)
    scale_dir = Path(__file__).parents[2] / "journals" / "scale"
    assert bench.main(["scale", str(scale_dir), "--json"]) == 0
    fig = json.loads(capsys.readouterr().out)
    runs = len(list(scale_dir.glob("*.json")))
    assert runs >= 1 and fig["runs"] == runs and fig["replicas"] == [30]
    assert fig["kills"] == fig["planned_kills"] == 100 * runs and fig["lost_kills"] == 0
    assert fig["distinct_victims"] == fig["paired"] == fig["distinct_replacements"] == fig["kills"]
    assert fig["victims_per_round"] == [5] and fig["mttr"]["count"] == fig["kills"]
    assert fig["journal_bytes_per_kill"] > 0
    assert bench.main(["scale", str(scale_dir / "none.json")]) == 2
