"""Every workload in k8s/ passes the Pod Security Standard `restricted`; the namespace enforces it."""

from __future__ import annotations

import pytest

from tests.unit import pss
from tests.unit.manifests import K8S, WORKLOAD_KINDS, render

pytestmark = pytest.mark.unit

RENDERED = {
    "local": K8S / "overlays" / "local",
    "minikube": K8S / "overlays" / "minikube",
    "qdrant": K8S / "overlays" / "qdrant",
    "qdrant-local": K8S / "overlays" / "qdrant-local",
}
# owned by other tasks of issue 10 (they make them compliant); listed here so the gap is visible
NOT_YET: dict[str, str] = {}


def _workloads():
    seen = set()
    for overlay, path in RENDERED.items():
        for obj in render(path):
            if obj["kind"] in WORKLOAD_KINDS and obj["metadata"]["name"] not in seen:
                seen.add(obj["metadata"]["name"])
                name = obj["metadata"]["name"]
                marks = [pytest.mark.xfail(reason=NOT_YET[name], strict=False)] if name in NOT_YET else []
                yield pytest.param(obj, id=f"{overlay}-{obj['kind']}-{name}", marks=marks)


@pytest.mark.parametrize("workload", list(_workloads()))
def test_workload_passes_restricted(workload):
    spec = workload["spec"]["template"]["spec"]
    assert pss.violations(spec) == []


def test_the_checker_catches_what_the_api_server_rejects():
    privileged = {
        "hostNetwork": True,
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
        "containers": [{"name": "c", "securityContext": {"privileged": True, "runAsUser": 0}}],
    }
    found = pss.violations(privileged)
    for fragment in (
        "hostNetwork",
        "hostPath",
        "privileged",
        "allowPrivilegeEscalation",
        "drop must",
        "runAsNonRoot",
        "runAsUser: 0",
        "seccompProfile",
    ):
        assert any(fragment in f for f in found), (fragment, found)


def test_namespace_enforces_restricted():
    (ns,) = [o for o in render(K8S / "app") if o["kind"] == "Namespace"]
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"


def test_weaviate_host_paths_are_prepared_for_its_uid():
    objs = render(RENDERED["local"])
    (sts,) = [o for o in objs if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "weaviate"]
    psc = sts["spec"]["template"]["spec"]["securityContext"]
    owner = f"{psc['runAsUser']}:{psc['runAsGroup']}"
    pvs = [o for o in objs if o["kind"] == "PersistentVolume"]
    assert pvs and all(pv["metadata"]["annotations"]["scaleproof.io/host-path-owner"] == owner for pv in pvs)
