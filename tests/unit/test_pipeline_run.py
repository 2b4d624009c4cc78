"""`run_experiment` writes its journal wherever it is told, inside the repository or not."""

from __future__ import annotations

import subprocess

import pytest

from scaleproof import chaosrun

pytestmark = pytest.mark.unit


def test_a_journal_directory_outside_the_repository(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_run(argv, cwd=None, env=None):
        calls.append(argv)
        journal = argv[argv.index("--journal-path") + 1]
        open(journal, "w").write("{}")
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(chaosrun.subprocess, "run", fake_run)
    journal = chaosrun.run_experiment("pod-kill", tmp_path / "journals", {})
    assert journal.parent == tmp_path / "journals" and journal.exists()
    assert calls and calls[0][-1].endswith("experiments/pod-kill.yaml")
    assert str(journal) in capsys.readouterr().err


def test_run_names_every_experiment_of_the_repository_and_runs_three_by_default() -> None:
    from click.testing import CliRunner

    from scaleproof import pipeline

    on_disk = {p.stem for p in (chaosrun.REPO / "experiments").glob("*.yaml")}
    assert set(pipeline.EXPERIMENTS) | set(pipeline.FAULT_DOMAIN_EXPERIMENTS) == on_disk
    assert pipeline.EXPERIMENTS == ("hpa-scale", "pod-kill", "vector-shards")
    out = CliRunner().invoke(pipeline.run_command, ["--help"]).output
    assert all(kind in out for kind in on_disk)
    bad = CliRunner().invoke(pipeline.run_command, ["--experiment", "node-kill"])
    assert bad.exit_code == 2 and "'node-kill' is not one of" in bad.output
