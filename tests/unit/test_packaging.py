"""The experiments ship with the package: `scaleproof experiments path` names them, outside the repo too.

One copy in git (scaleproof/experiments is a symlink to experiments/): checked for the editable
install this venv has, and for a wheel built from this checkout and unpacked elsewhere.
"""

from __future__ import annotations

import filecmp
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXPERIMENTS = sorted(p.name for p in (ROOT / "experiments").glob("*.yaml"))


def _same_files(folder: Path) -> None:
    assert sorted(p.name for p in folder.glob("*.yaml")) == EXPERIMENTS
    assert EXPERIMENTS == [
        "hpa-scale.yaml",
        "node-drain.yaml",
        "node-loss.yaml",
        "pod-kill.yaml",
        "store-peer-loss.yaml",
        "vector-shards.yaml",
    ]
    _, mismatch, errors = filecmp.cmpfiles(ROOT / "experiments", folder, EXPERIMENTS, shallow=False)
    assert not mismatch and not errors, (mismatch, errors)


def test_one_copy_in_git() -> None:
    link = ROOT / "scaleproof" / "experiments"
    assert link.is_symlink() and os.readlink(link) == "../experiments"


def test_path_of_the_editable_install_outside_the_repo(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "scaleproof"), "experiments", "path"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip())
    assert folder.is_absolute()
    _same_files(folder)
    # and Chaos Toolkit takes it from there, from a folder that is not the repo
    valid = subprocess.run(
        [str(BIN / "chaos"), "--no-version-check", "--log-file", str(tmp_path / "chaos.log"), "validate"]
        + [str(folder / "pod-kill.yaml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert valid.returncode == 0, valid.stdout + valid.stderr


@pytest.mark.timeout(300)
def test_a_wheel_carries_the_experiments_and_the_corpus(tmp_path: Path) -> None:
    wheel = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert wheel.returncode == 0, wheel.stderr[-3000:]
    (whl,) = (tmp_path / "dist").glob("scaleproof-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(whl)],
        check=True,
        timeout=120,
    )
    proc = subprocess.run(
        [sys.executable, "-c", "from scaleproof.cli import main; main()", "experiments", "path"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip())
    assert folder == site / "scaleproof" / "experiments" and not folder.is_symlink()
    _same_files(folder)
    assert filecmp.cmp(
        site / "loadgen" / "corpus" / "documents.jsonl", ROOT / "loadgen" / "corpus" / "documents.jsonl"
    ), "the ingest corpus ships too (hpa-scale and vector-shards read it)"


def test_a_broken_installation_says_so(tmp_path: Path) -> None:
    """A package without its data fails with the reason, not with chaos's 'file not found' later."""
    pkg = tmp_path / "scaleproof"
    pkg.mkdir()
    for name in ("__init__.py", "cli.py"):
        (pkg / name).write_bytes((ROOT / "scaleproof" / name).read_bytes())
    proc = subprocess.run(
        [sys.executable, "-c", "from scaleproof.cli import main; main()", "experiments", "path"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "lacks hpa-scale.yaml, pod-kill.yaml, store-peer-loss.yaml, vector-shards.yaml" in proc.stderr
    assert "reinstall" in proc.stderr and "Traceback" not in proc.stderr
