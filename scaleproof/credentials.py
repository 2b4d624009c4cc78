"""Credentials from the experiment's `secrets` block, for every client that needs one.

Experiments declare three scopes (empty by default, filled with `chaos run --var-file secrets.yaml`,
Vault, or the environment):

    secrets:
      kubernetes: {kubeconfig: "", context: ""}
      prometheus: {token: ""}
      vectorstore: {api_key: ""}

Chaos Toolkit hands the resolved secrets to controls; the `scaleproof.evidence` control installs them
here once per run, so the Kubernetes, Prometheus and vector-store clients all read one place and no
provider needs its own `secrets:` list. An empty secret falls back to its `SCALEPROOF_*` variable
(`ENV_FALLBACK`); Chaos Toolkit's own `{type: env}` secrets cannot have a default, so a missing
variable would otherwise stop every run that does not need the credential.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["ENV_FALLBACK", "get", "install", "installed"]

ENV_FALLBACK = {
    ("kubernetes", "kubeconfig"): "SCALEPROOF_KUBECONFIG",
    ("kubernetes", "context"): "SCALEPROOF_KUBE_CONTEXT",
    ("prometheus", "token"): "SCALEPROOF_PROMETHEUS_TOKEN",
    ("vectorstore", "api_key"): "SCALEPROOF_VECTORSTORE_API_KEY",
}

_LOCK = threading.Lock()
_SECRETS: dict[str, dict[str, Any]] = {}


def install(secrets: Mapping[str, Any] | None) -> None:
    """Keep the run's secrets (scope → key → value). Called by the evidence control."""
    with _LOCK:
        _SECRETS.clear()
        for scope, values in (secrets or {}).items():
            if isinstance(values, Mapping):
                _SECRETS[str(scope)] = {str(k): v for k, v in values.items()}


def installed() -> list[str]:
    """The scopes that carry at least one non-empty value (for logs; never the values)."""
    with _LOCK:
        return sorted(s for s, vals in _SECRETS.items() if any(v for v in vals.values()))


def get(scope: str, key: str, secrets: Mapping[str, Any] | None = None) -> str | None:
    """The credential `scope.key`: from `secrets` when a provider was given them, else the run's
    installed secrets, else its `SCALEPROOF_*` variable; None when none is set."""
    value: Any = None
    if secrets:
        value = (secrets.get(scope) or {}).get(key) if isinstance(secrets.get(scope), Mapping) else None
        value = value or secrets.get(key)
    if not value:
        with _LOCK:
            value = (_SECRETS.get(scope) or {}).get(key)
    if not value and (scope, key) in ENV_FALLBACK:
        value = os.environ.get(ENV_FALLBACK[(scope, key)])
    return str(value) if value else None
