"""The autoscaling controllers' cadence: metrics-server's resolution and the HPA controller's sync period.

Configuration wins (`metrics_resolution_s`, `hpa_sync_period_s`, SCALEPROOF_* variables); else the
flags of the components running on this host (the local cluster runs them as processes: their
command lines in /proc are the truth); else the upstream defaults, said so in `sources`. A managed
cluster's control plane is not visible from here: set the two values from its documentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scaleproof.kobjects import go_duration

__all__ = ["DEFAULTS", "cadence", "flag_value"]

#: upstream defaults: metrics-server --metric-resolution 60s; kube-controller-manager
#: --horizontal-pod-autoscaler-sync-period 15s
DEFAULTS = {"metrics_resolution_s": 60.0, "hpa_sync_period_s": 15.0}
FLAGS = {
    "metrics_resolution_s": ("metrics-server", "--metric-resolution"),
    "hpa_sync_period_s": ("kube-controller-manager", "--horizontal-pod-autoscaler-sync-period"),
}


def _seconds(raw: Any) -> float | None:
    """A configured period: a number of seconds or a Go duration (`15s`); None when unusable."""
    if raw in (None, "") or isinstance(raw, bool):
        return None
    value: float | None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = go_duration(raw) if isinstance(raw, str) and raw.strip()[-1:].isalpha() else None
    return value if value is not None and value > 0 else None


def flag_value(argv: list[str], flag: str) -> str | None:
    """The value of `--flag v` or `--flag=v` in a command line; None when absent."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _command_lines(proc: Path) -> dict[str, list[str]]:
    """Program basename → argv of the processes on this host (first one of each name)."""
    out: dict[str, list[str]] = {}
    for d in proc.glob("[0-9]*"):
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if args:
            out.setdefault(Path(args[0]).name, args)
    return out


def cadence(configuration: Mapping[str, Any] | None = None, proc: Path = Path("/proc")) -> dict[str, Any]:
    """`{"metrics_resolution_s", "hpa_sync_period_s", "sources": {key: where it came from}}`."""
    cfg = configuration or {}
    lines: dict[str, list[str]] | None = None
    out: dict[str, Any] = {"sources": {}}
    for key, (program, flag) in FLAGS.items():
        raw = cfg.get(key)
        given = _seconds(raw)
        if given is not None:
            out[key], out["sources"][key] = given, "configuration"
            continue
        bad = f"configuration {key}={raw!r} is not seconds (e.g. 15 or 15s), ignored; " if raw else ""
        lines = _command_lines(proc) if lines is None else lines
        argv = lines.get(program)
        value = flag_value(argv, flag) if argv else None
        seconds = go_duration(value) if value else None
        if seconds is not None:
            out[key], out["sources"][key] = (
                seconds,
                f"{bad}{program} {flag}={value} (command line on this host)",
            )
        elif argv:
            out[key] = DEFAULTS[key]
            out["sources"][key] = f"{bad}{program} runs without {flag}: upstream default {DEFAULTS[key]:g} s"
        else:
            out[key] = DEFAULTS[key]
            out["sources"][key] = (
                f"{bad}{program} not visible from here: upstream default {DEFAULTS[key]:g} s"
            )
    return out
