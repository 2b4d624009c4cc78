"""Fixtures: `agnhost_image` (imported once per session) and `agnhost` (deployed in a fresh namespace)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..conftest import Kubectl
from .app import AgnhostApp, deployed_agnhost, import_image


@pytest.fixture(scope="session")
def agnhost_image(kubectl: Kubectl) -> str:
    """The agnhost image name, brought into the cluster with `scaleproof images import`."""
    return import_image()


@pytest.fixture
def agnhost(kubectl: Kubectl, namespace: str, agnhost_image: str) -> Iterator[AgnhostApp]:
    """agnhost netexec in a fresh namespace: 3 Ready pods, HPA, NodePort 30180 answering; removed after."""
    with deployed_agnhost(kubectl, namespace, agnhost_image) as app:
        yield app
