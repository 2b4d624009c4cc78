"""Typed errors of the scaleproof providers.

Every error subclasses `chaoslib.exceptions.ActivityFailed`, so a provider that raises one fails its
activity with the message as the journal's exception text; the message always says what to do next.
"""

from __future__ import annotations

from chaoslib.exceptions import ActivityFailed

__all__ = [
    "ClusterUnreachable",
    "DeadlineExceeded",
    "LoadError",
    "NotFound",
    "PrometheusUnavailable",
    "RunDirError",
    "ScaleproofError",
    "UnsafeTarget",
    "VectorStoreError",
]


class ScaleproofError(ActivityFailed):
    """Base of every scaleproof provider error."""


class ClusterUnreachable(ScaleproofError):
    """The Kubernetes API cannot be reached or no kubeconfig could be loaded."""


class NotFound(ScaleproofError):
    """A named Kubernetes object (Deployment, HPA...) does not exist in the namespace."""


class UnsafeTarget(ScaleproofError):
    """A fault was refused by a safety rule (namespace, selector, caps, PDB)."""


class DeadlineExceeded(ScaleproofError):
    """A blocking provider hit its own deadline before its condition became true."""


class PrometheusUnavailable(ScaleproofError):
    """Prometheus is unreachable or answered with an error."""


class VectorStoreError(ScaleproofError):
    """The vector store is unreachable, refused, or misconfigured (e.g. qdrant local mode)."""


class LoadError(ScaleproofError):
    """The Locust load could not be started, stopped or read."""


class RunDirError(ScaleproofError):
    """The run directory is missing or unusable."""
