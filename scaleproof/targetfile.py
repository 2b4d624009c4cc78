"""One file that describes a team's application for the whole proof (`scaleproof run --target`).

A target file is YAML whose keys are the experiments' configuration entries (`namespace`,
`deployment`, `selector`, `hpa`, `app_url`, `ready_path`, `requests`, `replicas`, …), plus
`experiments:` (which ones apply). Each value is handed to `chaos run` through the entry's own
environment variable, read from the experiment files themselves, so a target file can never name a
setting the experiments do not have. `scaleproof init` writes one from the live objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "TargetError",
    "env_for",
    "experiments_dir",
    "known_settings",
    "load_target",
    "selector_string",
]

EXPERIMENTS = ("hpa-scale", "pod-kill", "vector-shards")
META_KEYS = ("experiments", "name")


class TargetError(ValueError):
    """A target file that cannot be used; the message names the key and what was found."""


def experiments_dir() -> Path:
    """Where the experiments are: installed with the package (`scaleproof/experiments`) or, in a
    checkout, the repository's `experiments/`."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "experiments", here.parent / "experiments"):
        if (candidate / "pod-kill.yaml").is_file():
            return candidate
    raise TargetError(f"no experiments found next to {here}")


def known_settings(kinds: Iterable[str] = EXPERIMENTS) -> dict[str, dict[str, str]]:
    """configuration key → {experiment kind: environment variable}, from the experiment files."""
    out: dict[str, dict[str, str]] = {}
    for kind in kinds:
        doc = yaml.safe_load((experiments_dir() / f"{kind}.yaml").read_text())
        for key, entry in (doc.get("configuration") or {}).items():
            if isinstance(entry, Mapping) and entry.get("type") == "env":
                out.setdefault(key, {})[kind] = str(entry["key"])
    return out


def load_target(path: str | Path) -> dict[str, Any]:
    """The parsed target file, checked: a mapping, known keys only, known experiments."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise TargetError(f"target file {p}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise TargetError(f"target file {p} is not YAML: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise TargetError(f"target file {p}: expected a mapping of settings, got {type(doc).__name__}")
    known = known_settings()
    unknown = sorted(k for k in doc if k not in known and k not in META_KEYS)
    if unknown:
        raise TargetError(
            f"target file {p}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    kinds = doc.get("experiments") or [k for k in EXPERIMENTS if k != "vector-shards"]
    bad = [k for k in kinds if k not in EXPERIMENTS]
    if bad:
        raise TargetError(f"target file {p}: `experiments` has {bad}; choose from {list(EXPERIMENTS)}")
    for key in ("namespace", "deployment", "selector", "app_url"):
        if not doc.get(key):
            raise TargetError(f"target file {p}: `{key}` is required")
    return {**doc, "experiments": list(kinds)}


def env_for(target: Mapping[str, Any]) -> dict[str, str]:
    """The environment variables that carry the target's settings into every experiment."""
    known = known_settings()
    env: dict[str, str] = {}
    for key, value in target.items():
        if key in META_KEYS:
            continue
        for var in set(known[key].values()):
            env[var] = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return env


def selector_string(label_selector: Mapping[str, Any]) -> str:
    """A `metav1.LabelSelector` as the string the API server accepts (`a=b,c in (d,e),!f`)."""
    terms = [f"{k}={v}" for k, v in sorted((label_selector.get("matchLabels") or {}).items())]
    for expr in label_selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], sorted(expr.get("values") or [])
        if op == "In":
            terms.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            terms.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            terms.append(key)
        elif op == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms)
