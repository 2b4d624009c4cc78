"""Which load a run sends: the team's own locustfile, or a declarative request mix.

Resolved and checked in the chaos process before any fault (`check_load`: the mix parses, the
locustfile exists and Locust itself can import it), then handed to `loadgen.runner` for the bounded
subprocess. Configuration: `requests` (SCALEPROOF_REQUESTS, wins when set), `locustfile`
(SCALEPROOF_LOCUSTFILE), `load_env` (SCALEPROOF_LOAD_ENV: extra environment for the locustfile, a JSON
object or `K=V,K=V`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import loadgen
from loadgen import mix, runner
from scaleproof.errors import LoadError

__all__ = ["LoadSpec", "check_load"]


class LoadSpec(TypedDict):
    """What the load subprocess runs: a locustfile and the environment it is given."""

    locustfile: str
    env: dict[str, str]
    source: str


def _locustfile_path(raw: str) -> Path:
    """A locustfile given relative to the working directory, or to the installed scaleproof tree
    (so the reference app's `loadgen/searchapp_locustfile.py` resolves outside the repository)."""
    p = Path(raw).expanduser()
    for candidate in (p, Path(loadgen.__file__).resolve().parent.parent / p):
        if candidate.is_file():
            return candidate.resolve()
    raise LoadError(
        f"configuration `locustfile` (SCALEPROOF_LOCUSTFILE): {raw!r} does not exist "
        f"(looked in {Path.cwd()} and the scaleproof install)"
    )


def _load_env(raw: Any) -> dict[str, str]:
    """`load_env` (SCALEPROOF_LOAD_ENV): a JSON object or `K=V,K=V`, passed to the locustfile."""
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    text = str(raw).strip()
    if text.startswith("{"):
        try:
            return {str(k): str(v) for k, v in json.loads(text).items()}
        except (json.JSONDecodeError, AttributeError) as exc:
            raise LoadError(
                f"configuration `load_env` (SCALEPROOF_LOAD_ENV) is not a JSON object: {exc}"
            ) from exc
    out = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise LoadError(f"configuration `load_env` (SCALEPROOF_LOAD_ENV): {pair!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _check_imports(locustfile: Path, env: Mapping[str, str], timeout_s: float = 60.0) -> None:
    """Let Locust itself import the file (`--list`): a file that fails to import stops the run here."""
    cmd = [sys.executable, "-m", "locust", "-f", str(locustfile), "--list"]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, env={**os.environ, **env}
        )
    except subprocess.TimeoutExpired as exc:
        raise LoadError(
            f"configuration `locustfile`: importing {locustfile} took over {timeout_s} s"
        ) from exc
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise LoadError(f"configuration `locustfile`: Locust cannot load {locustfile}: {tail}")


def check_load(
    locustfile: str | None = None,
    requests: str | None = None,
    load_env: Any = None,
    configuration: Mapping[str, Any] | None = None,
    import_check: bool = True,
) -> LoadSpec:
    """Resolve the team's load (configuration `requests` wins over `locustfile` when set) and check it
    before any fault: the mix parses, the locustfile exists and Locust can import it."""
    cfg = configuration or {}
    requests = requests if requests is not None else cfg.get("requests")
    locustfile = locustfile if locustfile is not None else cfg.get("locustfile")
    env = _load_env(load_env if load_env is not None else cfg.get("load_env"))
    if requests and str(requests).strip():
        mix.parse_mix(str(requests))
        env[mix.ENV_VAR] = str(requests)
        return {"locustfile": runner.MIX_LOCUSTFILE, "env": env, "source": f"requests: {requests}"}
    if not locustfile or not str(locustfile).strip():
        raise LoadError(
            "no load configured: set `requests` (SCALEPROOF_REQUESTS, e.g. 'GET / 1') or `locustfile` "
            "(SCALEPROOF_LOCUSTFILE, your own Locust file)"
        )
    path = _locustfile_path(str(locustfile))
    if import_check:
        _check_imports(path, env)
    return {"locustfile": str(path), "env": env, "source": f"locustfile: {locustfile}"}
