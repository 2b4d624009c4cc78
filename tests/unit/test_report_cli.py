"""`scaleproof report` and `chaos adr` through subprocesses, exactly as a user types them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

FIX = Path(__file__).parents[1] / "fixtures" / "journals"
BIN = Path(sys.executable).parent


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A project-like directory with journals under journals/evidence and a baseline."""
    ev = tmp_path / "journals" / "evidence"
    ev.mkdir(parents=True)
    for f in FIX.glob("*.json"):
        shutil.copy(f, ev / f.name)
    shutil.copytree(FIX / "baseline", tmp_path / "journals" / "baseline")
    return tmp_path


def run(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_report_is_byte_identical_when_run_twice(workdir: Path) -> None:
    args = ("scaleproof", "report", "journals/evidence", "--baseline", "journals/baseline")
    r1 = run(workdir, *args, "--out", "out1")
    assert r1.returncode == 0, r1.stderr
    r2 = run(workdir, *args, "--out", "out2")
    assert r2.returncode == 0, r2.stderr
    a, b = tree(workdir / "out1"), tree(workdir / "out2")
    assert sorted(a) == sorted(b)
    assert {k for k in a if k.endswith(".md")} == {
        "README.md",
        "hpa-scale.md",
        "pod-kill.md",
        "vector-shards.md",
    }
    assert (
        len([k for k in a if k.endswith(".png")]) == 1 + 2 * 7 + 1
    )  # hpa, 7 pod-kill runs with data (the gate and the denied eviction killed nothing), shards
    assert all(k.startswith(("README", "hpa-scale", "pod-kill", "vector-shards")) for k in a)
    for name in a:
        assert a[name] == b[name], name
    # re-running into the same directory changes nothing either
    before = tree(workdir / "out1")
    assert run(workdir, *args, "--out", "out1").returncode == 0
    assert tree(workdir / "out1") == before


def test_output_has_no_absolute_paths_and_relative_plot_links(workdir: Path) -> None:
    assert (
        run(workdir, "scaleproof", "report", str(workdir / "journals" / "evidence"), "-o", "ev").returncode
        == 0
    )
    out = workdir / "ev"
    for md in out.glob("*.md"):
        text = md.read_text()
        assert str(workdir) not in text and "/tmp" not in text, md
    pod = (out / "pod-kill.md").read_text()
    assert "- Journal: `journals/evidence/pod-kill-pass-1.json`" in pod
    run_id = "20261201T223344Z-pod-kill-p1"
    link = f"![pod-kill recovery — {run_id}](pod-kill-{run_id}-recovery.png)"
    assert link in pod
    assert (out / "pod-kill-20261201T223344Z-pod-kill-p1-recovery.png").is_file()


def test_chaos_adr_plugin(workdir: Path) -> None:
    r = run(
        workdir,
        "chaos",
        "adr",
        "journals/evidence/hpa-scale-pass.json",
        "journals/evidence/pod-kill-pass-1.json",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = workdir / "docs" / "adr" / "evidence"  # the default --out
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "hpa-scale-20251128T115640Z-hpa-scale-h1-replicas.png",
        "hpa-scale.md",
        "pod-kill-20261201T223344Z-pod-kill-p1-recovery.png",
        "pod-kill-20261201T223344Z-pod-kill-p1-traffic.png",
        "pod-kill.md",
    ]
    assert "PASS          20251128T115640Z-hpa-scale-h1" in r.stdout


@pytest.mark.parametrize("broken", ["empty.json", "truncated.json", "corrupt.json", "not-a-journal.json"])
@pytest.mark.parametrize("command", [("scaleproof", "report"), ("chaos", "adr")])
def test_unreadable_journal_exits_3_names_file_writes_nothing(
    workdir: Path, broken: str, command: tuple[str, str]
) -> None:
    shutil.copy(FIX / "broken" / broken, workdir / broken)
    r = run(workdir, *command, "journals/evidence/pod-kill-pass-1.json", broken, "-o", "out")
    assert r.returncode == 3, r.stdout + r.stderr
    assert f"unreadable journal {broken}: " in r.stderr
    assert "Traceback" not in r.stderr
    assert not (workdir / "out").exists()


def test_usage_error_exits_4(workdir: Path) -> None:
    r = run(workdir, "scaleproof", "report")
    assert r.returncode == 4
    assert "Missing argument" in r.stderr


def test_stale_plots_of_a_regenerated_kind_are_removed(workdir: Path) -> None:
    out = workdir / "out"
    out.mkdir()
    (out / "pod-kill-old-run-traffic.png").write_bytes(b"old")
    (out / "hpa-scale-keep.png").write_bytes(b"other kind")
    r = run(workdir, "scaleproof", "report", "journals/evidence/pod-kill-pass-1.json", "-o", "out")
    assert r.returncode == 0
    assert not (out / "pod-kill-old-run-traffic.png").exists()
    assert (out / "hpa-scale-keep.png").exists()
    assert "removed stale out/pod-kill-old-run-traffic.png" in r.stdout
