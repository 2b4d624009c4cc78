"""scaleproof: chaos experiments that prove, with evidence, that a Kubernetes deployment scales and heals."""

__all__ = ["__version__"]
__version__ = "0.1.0"
