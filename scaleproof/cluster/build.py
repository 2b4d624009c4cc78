"""Building the cluster's components: `build-components.sh` (one Go wrapper module per component,
from the Go module proxy) at the pinned versions, and which binaries are missing or stale.

Why its own module: the local cluster (`local.build_binaries`) and the image builder (agnhost, in
`images`) both build with it, and `local` imports `images`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from .config import COMPONENT_BINARIES, VERSIONS, ClusterConfig, ClusterError

__all__ = ["BUILD_SCRIPT", "run_build_script", "stale_components"]

BUILD_SCRIPT = Path(__file__).with_name("build-components.sh")


def stale_components(cfg: ClusterConfig) -> list[str]:
    """Components whose binaries are missing or were built from another pinned version."""
    out = []
    for comp in sorted(set(COMPONENT_BINARIES.values())):
        pin = cfg.bin_dir / f".{comp}.pin"
        expected = f"{'k8s' if comp == 'kubernetes' else comp}-{VERSIONS[comp]}"
        binaries = [b for b, c in COMPONENT_BINARIES.items() if c == comp]
        if (
            not pin.exists()
            or pin.read_text().strip() != expected
            or not all(cfg.binary(b).exists() for b in binaries)
        ):
            out.append(comp)
    return out


def run_build_script(cfg: ClusterConfig, components: list[str], progress: Callable[[str], None]) -> None:
    """build-components.sh for `components` at the pinned versions, its [build] lines as progress."""
    env = {**os.environ, **{f"{k.upper().replace('-', '_')}_VERSION": v for k, v in VERSIONS.items()}}
    env["K8S_VERSION"] = VERSIONS["kubernetes"]
    log_file = cfg.cache_dir / "build.log"
    cfg.cache_dir.mkdir(parents=True, exist_ok=True)
    with log_file.open("a") as out:
        proc = subprocess.Popen(
            ["bash", str(BUILD_SCRIPT), str(cfg.bin_dir), str(cfg.gowork_dir), *components],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if line.startswith("[build"):
                progress(line.rstrip())
        rc = proc.wait()
    if rc != 0:
        raise ClusterError(f"building components failed (exit {rc}); full log: {log_file}")
