"""Prometheus (discovery, scrapes, promtool, RBAC, Pod Security) and the Grafana dashboard."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.manifests import (
    APP_METRICS,
    K8S,
    NAMESPACE,
    OVERLAYS,
    QDRANT_OVERLAYS,
    Obj,
    find,
    one,
    overlay,
    pod_spec,
    prometheus_config,
    render,
    workloads,
)

pytestmark = pytest.mark.unit


# ------------------------------------------------------------------------ Prometheus
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def _jobs(text: str) -> dict[str, Obj]:
    return {j["job_name"]: j for j in yaml.safe_load(text)["scrape_configs"]}


def _relabel(job: Obj, source: str) -> list[Obj]:
    return [r for r in job.get("relabel_configs", []) if source in r.get("source_labels", [])]


@pytest.mark.parametrize("ov", OVERLAYS)
def test_prometheus_discovers_every_annotated_workload_through_the_api(ov: str) -> None:
    """Upstream's Kubernetes example: pods by prometheus.io/* annotations (role pod), labelled with
    namespace/pod/container; no DNS jobs. Every annotated workload declares the annotated port."""
    objs = overlay(ov)
    dep, _, text = prometheus_config(objs)
    cfg = yaml.safe_load(text)
    assert cfg["global"]["scrape_interval"] == "5s"
    assert not any("dns_sd_configs" in j for j in cfg["scrape_configs"]), "DNS-based jobs are gone"
    pods = _jobs(text)["kubernetes-pods"]
    assert pods["kubernetes_sd_configs"] == [{"role": "pod"}]
    keep = _relabel(pods, "__meta_kubernetes_pod_annotation_prometheus_io_scrape")
    assert keep and keep[0]["action"] == "keep" and keep[0]["regex"] == "true"
    (path,) = _relabel(pods, "__meta_kubernetes_pod_annotation_prometheus_io_path")
    assert path["target_label"] == "__metrics_path__"
    (port,) = _relabel(pods, "__meta_kubernetes_pod_annotation_prometheus_io_port")
    assert port["target_label"] == "__address__" and port["replacement"] == "$1:$2"
    assert re.fullmatch(port["regex"], "198.18.1.7:50051;2112").expand(r"\1:\2") == "198.18.1.7:2112"
    assert re.fullmatch(port["regex"], "198.18.1.7;8080").expand(r"\1:\2") == "198.18.1.7:8080"
    labels = {r["target_label"]: r["source_labels"] for r in pods["relabel_configs"] if "target_label" in r}
    assert labels["namespace"] == ["__meta_kubernetes_namespace"]
    assert labels["pod"] == ["__meta_kubernetes_pod_name"]
    assert labels["container"] == ["__meta_kubernetes_pod_container_name"]
    scraped = set()
    for w in workloads(objs):
        ann = w["spec"]["template"]["metadata"].get("annotations", {})
        if ann.get("prometheus.io/scrape") != "true":
            continue
        name = w["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        scraped.add(name)
        declared = {p["containerPort"] for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
        assert int(ann["prometheus.io/port"]) in declared, f"{name}: annotated port is not declared"
    assert "searchapp" in scraped and ({"qdrant"} if ov in QDRANT_OVERLAYS else {"weaviate"}) <= scraped
    args = pod_spec(dep)["containers"][0]["args"]
    assert "--storage.tsdb.retention.time=6h" in args
    conf_arg = next(a for a in args if a.startswith("--config.file="))
    mount = next(m for m in pod_spec(dep)["containers"][0]["volumeMounts"] if m["name"] == "config")
    assert conf_arg == f"--config.file={mount['mountPath']}/prometheus.yml"
    assert any("emptyDir" in v for v in pod_spec(dep)["volumes"])


def test_prometheus_scrapes_kubelet_cadvisor_and_apiserver_with_its_token() -> None:
    jobs = _jobs(prometheus_config(overlay("local"))[2])
    for name, path in (("kubernetes-nodes", "/metrics"), ("kubernetes-cadvisor", "/metrics/cadvisor")):
        job = jobs[name]
        assert job["kubernetes_sd_configs"] == [{"role": "node"}]
        assert job.get("metrics_path", "/metrics") == path
    api = jobs["kubernetes-apiservers"]
    assert api["kubernetes_sd_configs"][0]["role"] == "endpointslice"
    assert api["relabel_configs"][0]["regex"] == "default;kubernetes;https"
    for name in ("kubernetes-nodes", "kubernetes-cadvisor", "kubernetes-apiservers"):
        job = jobs[name]
        assert job["scheme"] == "https"
        assert job["tls_config"] == {"ca_file": f"{SA_DIR}/ca.crt"}, "verified TLS, no insecure_skip_verify"
        assert job["authorization"] == {"credentials_file": f"{SA_DIR}/token"}


def test_searchapp_discovery_service_publishes_ready_pods_only() -> None:
    svc = one(overlay("local"), "Service", "searchapp-headless")
    assert svc["spec"]["clusterIP"] == "None"
    assert not svc["spec"].get("publishNotReadyAddresses", False), 'count(up{job="searchapp"}) = ready pods'


def _promtool() -> str | None:
    """The promtool built with Prometheus 3.16 (Debian's 2.42 one has no Kubernetes discovery)."""
    from scaleproof.cluster.config import ClusterConfig

    built = ClusterConfig().binary("promtool")
    return str(built) if built.exists() else None


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = _promtool()
    if not promtool:
        pytest.skip("promtool not built yet (`scaleproof cluster up` builds Prometheus 3.16)")
    _, _, text = prometheus_config(overlay("local"))
    (tmp_path / "prometheus.yml").write_text(text)
    proc = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prometheus_rbac_is_what_discovery_needs_read_only() -> None:
    """upstream's rbac-setup.yml less ingresses, EndpointSlices for Endpoints; bound to the pod's SA."""
    objs = overlay("local")
    dep = one(objs, "Deployment", "prometheus")
    sa = pod_spec(dep)["serviceAccountName"]
    assert pod_spec(dep)["automountServiceAccountToken"] is True
    (binding,) = [
        b
        for b in find(objs, "RoleBinding") + find(objs, "ClusterRoleBinding")
        if any(s.get("name") == sa for s in b["subjects"])
    ]
    assert binding["kind"] == "ClusterRoleBinding" and binding["subjects"][0]["namespace"] == NAMESPACE
    role = one(objs, "ClusterRole", binding["roleRef"]["name"])
    granted = {
        (g, res, v)
        for r in role["rules"]
        for g in r.get("apiGroups", [])
        for res in r["resources"]
        for v in r["verbs"]
    }
    expected = {
        (g, res, v)
        for g, resources in (
            ("", ["nodes", "nodes/metrics", "services", "pods"]),
            ("discovery.k8s.io", ["endpointslices"]),
        )
        for res in resources
        for v in ("get", "list", "watch")
    }
    assert granted == expected
    urls = [r for r in role["rules"] if "nonResourceURLs" in r]
    assert urls == [{"nonResourceURLs": ["/metrics", "/metrics/cadvisor"], "verbs": ["get"]}]


def test_prometheus_pod_meets_the_restricted_pod_security_standard() -> None:
    spec = pod_spec(one(overlay("local"), "Deployment", "prometheus"))
    pod_sc = spec.get("securityContext", {})
    assert pod_sc.get("runAsNonRoot") is True and pod_sc.get("runAsUser", 0) != 0
    assert pod_sc.get("seccompProfile") == {"type": "RuntimeDefault"}
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    assert not any("hostPath" in v for v in spec["volumes"])
    for c in spec["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert not sc.get("privileged")


# --------------------------------------------------------------------------- Grafana
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "and",
    "or",
    "unless",
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "le",
    "inf",
    "nan",
}


def promql_metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", "0", expr)  # numbers (1e-9)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        word = m.group(0)
        rest = expr[m.end() :].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS or re.fullmatch(r"\d.*", word):
            continue
        if re.fullmatch(r"e\d+", word):  # exponent of 1e9
            continue
        names.add(word)
    return names


def test_promql_metric_name_extraction() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le) (rate(searchapp_request_duration_seconds_bucket"
        '{job="searchapp",status=~"5.."}[1m]))) / clamp_min(sum(up{job="x"}), 1e-9)'
    )
    assert promql_metric_names(expr) == {"searchapp_request_duration_seconds_bucket", "up"}


def _dashboard() -> Obj:
    return json.loads((K8S / "grafana" / "scaleproof-dashboard.json").read_text())


#: values the dashboard's template variables take for this project's reference app
DASHBOARD_VARS = {
    "$namespace": NAMESPACE,
    "$container": "searchapp",
    "$pod_regex": "searchapp-[a-z0-9]+-[a-z0-9]+",
}


def dashboard_panels(optional: bool | None = None) -> list[Obj]:
    """Query panels; those nested in a collapsed row titled "Optional…" are the optional ones."""
    out = []
    for p in _dashboard()["panels"]:
        if p["type"] != "row":
            out.append((False, p))
        for inner in p.get("panels", []):
            out.append((p["title"].lower().startswith("optional"), inner))
    return [p for opt, p in out if optional is None or opt == optional]


def dashboard_queries(optional: bool | None = None) -> list[tuple[str, str]]:
    """(panel title, PromQL with the template variables filled in)."""
    out = []
    for p in dashboard_panels(optional):
        for t in p["targets"]:
            expr = t["expr"]
            for var, value in DASHBOARD_VARS.items():
                expr = expr.replace(var, value)
            out.append((p["title"], expr))
    return out


def test_grafana_dashboard_structure() -> None:
    dash = _dashboard()
    assert 36 <= dash["schemaVersion"] <= 41
    assert dash["uid"] and dash["title"]
    var = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
    assert var and var[0]["query"] == "prometheus"
    assert {v["name"] for v in dash["templating"]["list"]} >= {"namespace", "container", "pod_regex"}
    ds_ref = "${" + var[0]["name"] + "}"
    panels = dashboard_panels()
    ids = [p["id"] for p in panels] + [p["id"] for p in dash["panels"] if p["type"] == "row"]
    assert len(ids) == len(set(ids))
    titles = " ".join(p["title"].lower() for p in dashboard_panels(optional=False))
    for word in ("replicas", "cpu", "request rate", "latency", "error"):
        assert word in titles, f"no {word} panel"
    rows = [p for p in dash["panels"] if p["type"] == "row"]
    assert [r["collapsed"] for r in rows if r["title"].lower().startswith("optional")] == [True]
    for p in panels:
        assert p["datasource"]["uid"] == ds_ref
        assert p["targets"], f"panel {p['title']} has no target"
        for t in p["targets"]:
            assert t["expr"].strip() and t["datasource"]["uid"] == ds_ref
            assert "job=" not in t["expr"], "no job name: it depends on how a team names its scrape jobs"


def test_grafana_queries_use_only_metrics_this_stack_exports() -> None:
    """cAdvisor, kubelet, up and the app's metrics in the main rows; kube-state-metrics only optional."""
    exported = APP_METRICS | {
        "up",
        "container_start_time_seconds",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "kubelet_running_pods",
    }
    ksm = {
        "kube_deployment_spec_replicas",
        "kube_deployment_status_replicas_ready",
        "kube_horizontalpodautoscaler_status_desired_replicas",
    }
    used: set[str] = set()
    for p in dashboard_panels(optional=False):
        names = set().union(*(promql_metric_names(t["expr"]) for t in p["targets"]))
        assert names, f"panel {p['title']} queries no metric"
        assert names <= exported, f"panel {p['title']} uses metrics this stack lacks: {names - exported}"
        used |= names
    assert APP_METRICS <= used, f"app metrics not shown: {APP_METRICS - used}"
    for p in dashboard_panels(optional=True):
        assert set().union(*(promql_metric_names(t["expr"]) for t in p["targets"])) <= ksm
    exprs = [e for _, e in dashboard_queries(optional=False)]
    assert any(e.startswith("count(count by (pod) (container_start_time_seconds") for e in exprs)


def test_every_dashboard_query_parses_with_promtool() -> None:
    """Prometheus' own parser (`promtool promql format`), offline, on every panel's PromQL."""
    promtool = _promtool()
    if not promtool:
        pytest.skip("promtool not built yet (`scaleproof cluster up` builds Prometheus 3.16)")
    bad = []
    for title, expr in dashboard_queries() + [(f"broken {i}", e) for i, e in enumerate(["sum(up", "up{a=}"])]:
        proc = subprocess.run(
            [promtool, "promql", "format", "--experimental", expr],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            bad.append(title)
    assert bad == ["broken 0", "broken 1"], f"promtool rejects the dashboard's PromQL of {bad}"


def test_grafana_component_ships_the_dashboard(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: ['{os.path.relpath(K8S / 'overlays' / 'local', tmp_path)}']\n"
        f"components: ['{os.path.relpath(K8S / 'grafana', tmp_path)}']\n"
    )
    cm = one(render(tmp_path), "ConfigMap", "scaleproof-grafana-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == NAMESPACE
    assert json.loads(cm["data"]["scaleproof-dashboard.json"]) == _dashboard()
