"""Issue 2's acceptance on the real local cluster: a Deployment behind a Service answers on 127.0.0.1,
a deleted pod is replaced by the ReplicaSet controller, metrics-server reports CPU, an HPA reads it."""

from __future__ import annotations

import urllib.request

import pytest

from scaleproof.cluster.images import IMAGE_TAGS

from .conftest import Kubectl, wait_for

pytestmark = pytest.mark.e2e

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: {image}
        imagePullPolicy: Never
        command: ["python3", "-m", "http.server", "8000"]
        resources: {{requests: {{cpu: 50m, memory: 32Mi}}, limits: {{cpu: 200m, memory: 64Mi}}}}
        readinessProbe: {{httpGet: {{path: /, port: 8000}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {ns}}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8000}}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web, namespace: {ns}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}
  minReplicas: 2
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 80}}}}
"""


def _ready_pods(kubectl: Kubectl, ns: str) -> dict[str, str]:
    """uid -> name of pods that are Ready and not terminating."""
    out = {}
    for pod in kubectl.json("-n", ns, "get", "pods", "-l", "app=web")["items"]:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        conds = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        if conds.get("Ready") == "True":
            out[pod["metadata"]["uid"]] = pod["metadata"]["name"]
    return out


@pytest.fixture
def web(kubectl: Kubectl, namespace: str) -> str:
    kubectl("apply", "-f", "-", input=WEB.format(ns=namespace, image=IMAGE_TAGS["debian-base"]))
    wait_for(lambda: len(_ready_pods(kubectl, namespace)) == 2, 120, "2 Ready web pods")
    return namespace


def test_node_is_ready(kubectl: Kubectl) -> None:
    nodes = kubectl.json("get", "nodes")["items"]
    assert nodes, "the cluster has no node"
    for node in nodes:
        conds = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert conds["Ready"] == "True", node["metadata"]["name"]


def test_service_answers_on_loopback(kubectl: Kubectl, web: str) -> None:
    svc = kubectl.json("-n", web, "get", "service", "web")
    port = svc["spec"]["ports"][0]["nodePort"]

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as resp:
                return resp.status == 200
        except OSError:
            return False

    wait_for(answers, 30, f"the Service on 127.0.0.1:{port}")


def test_deleted_pod_is_replaced_by_replicaset(kubectl: Kubectl, web: str) -> None:
    before = _ready_pods(kubectl, web)
    victim_uid, victim = sorted(before.items())[0]
    kubectl("-n", web, "delete", "pod", victim, "--wait=false")
    after = wait_for(
        lambda: (lambda r: r if len(r) == 2 and victim_uid not in r else None)(_ready_pods(kubectl, web)),
        90,
        "a Ready replacement pod",
    )
    assert isinstance(after, dict)
    new = set(after) - set(before)
    assert len(new) == 1, f"expected exactly one replacement, got {after}"
    pod = kubectl.json("-n", web, "get", "pod", after[new.pop()])
    owner = pod["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "ReplicaSet" and owner["name"].startswith("web-")


def test_metrics_server_reports_cpu(kubectl: Kubectl, web: str) -> None:
    def top() -> str | None:
        proc = kubectl("-n", web, "top", "pods", "--no-headers", check=False)
        lines = [ln.split() for ln in proc.stdout.splitlines() if ln.strip()]
        return (
            proc.stdout
            if proc.returncode == 0 and len(lines) == 2 and all(ln[1].endswith("m") for ln in lines)
            else None
        )

    out = wait_for(top, 120, "kubectl top pods to list both pods with CPU", interval_s=5)
    assert "web-" in str(out)


@pytest.mark.full(
    "hpa-scale on the reference app (test_experiment_passes_on_the_real_cluster[hpa-scale]) scales on "
    "the HPA's CPU readings in the CI tier; test_metrics_server_reports_cpu reads the same metrics API"
)
def test_hpa_reports_current_cpu(kubectl: Kubectl, web: str) -> None:
    def current() -> int | None:
        hpa = kubectl.json("-n", web, "get", "hpa", "web")
        for metric in hpa.get("status", {}).get("currentMetrics") or []:
            value = metric.get("resource", {}).get("current", {}).get("averageUtilization")
            if value is not None:
                return int(value) + 1  # 0 % is a real reading; keep it truthy
        return None

    value = wait_for(current, 150, "the HPA's current CPU utilisation", interval_s=5)
    assert isinstance(value, int) and value >= 1
