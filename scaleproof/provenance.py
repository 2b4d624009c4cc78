"""Where a run's evidence came from: the experiment file and its hash, the git revision, the versions
of scaleproof, chaostoolkit-lib, Kubernetes and Python (read by the evidence control)."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scaleproof import __version__

__all__ = ["experiment_path", "git_revision", "sha256", "versions"]


def experiment_path(explicit: str | None) -> str | None:
    """The experiment file: as given, else the last YAML/JSON argument of `chaos run` that is no journal."""
    if explicit:
        return explicit
    for arg in reversed(sys.argv[1:]):
        if (
            arg.endswith((".yaml", ".yml", ".json"))
            and os.path.isfile(arg)
            and "journal" not in Path(arg).name
        ):
            return arg
    return None


def sha256(path: str | None) -> str | None:
    if not path or not os.path.isfile(path):
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def git_revision(cwd: str | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=3, cwd=cwd)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def versions(journal: Mapping[str, Any], specs: Mapping[str, Any]) -> dict[str, str | None]:
    """scaleproof, the installed chaostoolkit-lib (else the journal's), the Kubernetes server
    (from the spec snapshot) and Python."""
    try:
        import importlib.metadata as md

        lib_version: str | None = md.version("chaostoolkit-lib")
    except Exception:
        lib_version = journal.get("chaoslib-version")
    return {
        "scaleproof": __version__,
        "chaostoolkit-lib": lib_version,
        "kubernetes_server": specs.get("kubernetes_server"),
        "python": platform.python_version(),
    }
