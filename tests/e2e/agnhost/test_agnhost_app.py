"""The `agnhost` fixture gives what it promises: another team's app, Ready, reachable, autoscalable."""

from __future__ import annotations

import pytest

from ..conftest import Kubectl, wait_for
from .app import AgnhostApp, deployed_agnhost, get, hostnames, ready_pods

pytestmark = pytest.mark.e2e


def test_three_ready_pods_answer_on_the_nodeport(kubectl: Kubectl, agnhost: AgnhostApp) -> None:
    pods = ready_pods(kubectl, agnhost.namespace)
    assert len(pods) == 3
    dep = kubectl.json("-n", agnhost.namespace, "get", "deployment", agnhost.deployment)
    assert dep["status"]["readyReplicas"] == 3
    image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == agnhost.image == "localhost/e2e-test-images/agnhost:2.59"
    seen = hostnames(agnhost.url, 40)
    assert len(seen) >= 2 and seen <= set(pods), f"answered by {seen}, Ready pods {pods}"
    assert get(f"{agnhost.url}{agnhost.ready_path}")[0] == 200
    assert get(f"{agnhost.url}/echo?msg=scaleproof") == (200, "scaleproof")
    # the reference app's readiness path answers too (netexec serves /readyz), and so does any unknown
    # path (netexec's "/" handler answers 200): a steady-state probe that must fail on a wrong path
    # needs one netexec refuses, e.g. /dial without its parameters (400)
    assert get(f"{agnhost.url}/readyz")[0] == 200
    assert get(f"{agnhost.url}/no-such-path")[0] == 200
    assert get(f"{agnhost.url}/dial")[0] == 400


@pytest.mark.full(
    "the first-run test scales agnhost's HPA on CPU in the CI tier (its SuccessfulRescale names the "
    "cpu metric above target)"
)
def test_its_hpa_reads_cpu(kubectl: Kubectl, agnhost: AgnhostApp) -> None:
    def cpu() -> int | None:
        hpa = kubectl.json("-n", agnhost.namespace, "get", "hpa", str(agnhost.hpa))
        for m in hpa.get("status", {}).get("currentMetrics") or []:
            if m.get("resource", {}).get("name") == "cpu":
                v = m["resource"]["current"].get("averageUtilization")
                return None if v is None else v + 1
        return None

    wait_for(cpu, 120, f"a CPU reading on HPA {agnhost.hpa}", interval_s=5)


def test_the_nodeport_is_free_again_afterwards(kubectl: Kubectl, namespace: str, agnhost_image: str) -> None:
    with deployed_agnhost(kubectl, namespace, agnhost_image, replicas=1, hpa=False) as app:
        assert kubectl.json("-n", namespace, "get", "hpa")["items"] == []
        assert len(ready_pods(kubectl, namespace)) == 1
    assert kubectl("-n", namespace, "get", "service", "agnhost", check=False).returncode != 0
    services = kubectl.json("get", "services", "--all-namespaces")["items"]
    assert not [s for s in services for p in s["spec"].get("ports", []) if p.get("nodePort") == app.node_port]
