"""`scaleproof cluster kubeconfig` and `scaleproof images` through subprocesses, as a user types them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SCALEPROOF = str(Path(sys.executable).parent / "scaleproof")


def run(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCALEPROOF_")}
    base.update(
        SCALEPROOF_STATE_DIR=str(tmp_path / "state"),
        SCALEPROOF_CACHE_DIR=str(tmp_path / "cache"),
        SCALEPROOF_RUNTIME_DIR=str(tmp_path / "run"),
    )
    base.update(env)
    return subprocess.run(
        [SCALEPROOF, *argv], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=base
    )


def test_kubeconfig_prints_the_local_cluster_path(tmp_path: Path) -> None:
    proc = run(tmp_path, "cluster", "kubeconfig")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{tmp_path / 'state' / 'admin.kubeconfig'}\n"


def test_kubeconfig_honours_scaleproof_kubeconfig(tmp_path: Path) -> None:
    proc = run(tmp_path, "cluster", "kubeconfig", SCALEPROOF_KUBECONFIG="/home/me/.kube/kind-config")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "/home/me/.kube/kind-config\n"


def test_unknown_image_fails_clearly(tmp_path: Path) -> None:
    proc = run(tmp_path, "images", "nosuchimage")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: unknown image(s) ['nosuchimage']; known: [")
    assert "'pause'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "cache").exists()  # refused before building anything


def test_unknown_image_after_an_option_fails_clearly(tmp_path: Path) -> None:
    proc = run(tmp_path, "images", "--no-import", "nosuchimage")
    assert proc.returncode == 1 and proc.stderr.startswith("error: unknown image(s) ['nosuchimage']")


def test_cluster_help_lists_the_subcommands(tmp_path: Path) -> None:
    proc = run(tmp_path, "cluster", "--help")
    assert proc.returncode == 0, proc.stderr
    assert {"up", "down", "status", "kubeconfig", "build"} <= {
        line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines() if line.strip()
    }
