"""Read-only Kubernetes probes: Ready replicas, Deployment/HPA/PDB reads, spec snapshots, waits.

Readiness is the `Ready` condition on pods without `deletionTimestamp` (never `status.phase`, which
stays `Running` while a pod terminates). Every call carries a request timeout and every blocking
probe its own deadline (Chaos Toolkit does not enforce `timeout` on Python activities).

The official `kubernetes` client is imported lazily, so `chaos validate` works without a kubeconfig.
Objects are read raw (`_preload_content=False`): dicts exactly as the API server serves them
(camelCase, RFC3339 timestamps), the same shape the watch recorder stores. Tests replace `apis()` and
`watch_stream()` with fakes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from chaoslib.exceptions import ChaosException

from scaleproof import credentials, rundir
from scaleproof.errors import ClusterUnreachable, DeadlineExceeded, NotFound, ScaleproofError, UnsafeTarget
from scaleproof.timing import pod_ready

__all__ = [
    "FORBIDDEN_NAMESPACES",
    "KubeApis",
    "PodBody",
    "apis",
    "call",
    "check_target",
    "deployment",
    "deployment_replicas",
    "hpa",
    "hpa_bounds",
    "hpa_spec_snapshot",
    "list_pods",
    "pdbs_for",
    "ready_pods",
    "ready_replicas",
    "ready_replicas_at_least",
    "selector_matches",
    "server_version",
    "snapshot_specs",
    "wait_for_ready_replicas",
    "watch_stream",
]

logger = logging.getLogger(__name__)

FORBIDDEN_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
REQUEST_TIMEOUT_S = 10.0


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    labels: dict[str, str]
    ownerReferences: list[dict[str, Any]]
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    resourceVersion: str


class PodBody(TypedDict, total=False):
    """The parts of a Pod we read (as served by the API, camelCase)."""

    metadata: ObjectMeta
    spec: dict[str, Any]
    status: dict[str, Any]


class Configuration(TypedDict, total=False):
    kubeconfig: str
    kube_context: str
    namespace: str


# ------------------------------------------------------------------------------------------- clients
@dataclass
class KubeApis:
    """The API groups we use; built lazily from one ApiClient."""

    client: Any
    _cache: dict[str, Any] = field(default_factory=dict)

    def _get(self, name: str) -> Any:
        if name not in self._cache:
            import kubernetes.client as k

            self._cache[name] = getattr(k, name)(self.client)
        return self._cache[name]

    @property
    def core(self) -> Any:
        return self._get("CoreV1Api")

    @property
    def apps(self) -> Any:
        return self._get("AppsV1Api")

    @property
    def autoscaling(self) -> Any:
        return self._get("AutoscalingV2Api")

    @property
    def discovery(self) -> Any:
        return self._get("DiscoveryV1Api")

    @property
    def policy(self) -> Any:
        return self._get("PolicyV1Api")

    @property
    def version(self) -> Any:
        return self._get("VersionApi")

    @property
    def custom(self) -> Any:
        return self._get("CustomObjectsApi")


_CLIENTS: dict[tuple[str | None, str | None], KubeApis] = {}
_CLIENTS_LOCK = threading.Lock()


def apis(configuration: Mapping[str, Any] | None = None) -> KubeApis:
    """Kubernetes API clients from `configuration.kubeconfig`, the `kubernetes` secrets
    (`scaleproof.credentials`) or `$KUBECONFIG` (context likewise), or the in-cluster service
    account. Raises ClusterUnreachable."""
    cfg = configuration or {}
    path = (
        cfg.get("kubeconfig")
        or credentials.get("kubernetes", "kubeconfig")
        or os.environ.get("KUBECONFIG")
        or None
    )
    context = cfg.get("kube_context") or credentials.get("kubernetes", "context") or None
    key = (path, context)
    with _CLIENTS_LOCK:
        if key in _CLIENTS:
            return _CLIENTS[key]
        try:
            import kubernetes.client
            import kubernetes.config
        except ImportError as exc:  # pragma: no cover - installed with the project
            raise ClusterUnreachable(f"the kubernetes client is not installed: {exc}") from exc
        try:
            if path or os.path.exists(os.path.expanduser("~/.kube/config")):
                client = kubernetes.config.new_client_from_config(config_file=path, context=context)
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                kubernetes.config.load_incluster_config()
                client = kubernetes.client.ApiClient()
            else:
                raise ClusterUnreachable(
                    "no kubeconfig: set KUBECONFIG (e.g. `export KUBECONFIG=$(scaleproof cluster "
                    "kubeconfig)`) or the experiment's `kubeconfig` configuration"
                )
        except ClusterUnreachable:
            raise
        except Exception as exc:
            raise ClusterUnreachable(
                f"cannot load kubeconfig {path or '~/.kube/config'} (context {context or 'current'}): {exc}"
            ) from exc
        _CLIENTS[key] = KubeApis(client)
        return _CLIENTS[key]


def call(
    fn: Callable[..., Any], *args: Any, timeout_s: float = REQUEST_TIMEOUT_S, what: str = "", **kw: Any
) -> Any:
    """Call a client method raw with a request timeout; returns the decoded JSON body.

    Maps failures to typed errors: 404 → NotFound, other API statuses → ScaleproofError with the
    server's message, connection failures → ClusterUnreachable."""
    try:
        resp = fn(*args, _preload_content=False, _request_timeout=timeout_s, **kw)
    except ChaosException:  # ScaleproofError, or chaoslib's InterruptExecution raised by SIGTERM
        raise
    except Exception as exc:
        status = getattr(exc, "status", None)
        if isinstance(status, int) and status > 0:
            reason = _api_message(exc)
            if status == 404:
                raise NotFound(f"{what or 'object'} not found: {reason}") from exc
            if status in (401, 403):
                raise ClusterUnreachable(f"{what}: access denied ({status}): {reason}") from exc
            raise ScaleproofError(f"{what}: API error {status}: {reason}") from exc
        raise ClusterUnreachable(
            f"{what}: Kubernetes API unreachable ({type(exc).__name__}: {exc}); is the cluster up "
            "(`scaleproof cluster status`) and KUBECONFIG right?"
        ) from exc
    data = getattr(resp, "data", resp)
    if isinstance(data, bytes | bytearray | str):
        return json.loads(data or b"{}")
    return data


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    try:
        return str(json.loads(body).get("message")) if body else str(getattr(exc, "reason", exc))
    except (ValueError, AttributeError, TypeError):
        return str(body or exc)


def watch_stream(list_fn: Callable[..., Any], timeout_s: float, **kw: Any) -> Iterator[dict[str, Any]]:
    """A Kubernetes watch on `list_fn` for at most `timeout_s` seconds (server side timeout, plus a
    socket read timeout). Yields `{"type", "object"}` with the raw object dict."""
    from kubernetes import watch

    w = watch.Watch()
    try:
        for ev in w.stream(
            list_fn,
            timeout_seconds=max(1, int(timeout_s)),
            _request_timeout=timeout_s + 5,
            allow_watch_bookmarks=False,
            **kw,
        ):
            raw = ev.get("raw_object")
            if raw is None and ev.get("object") is not None:
                raw = list_fn.__self__.api_client.sanitize_for_serialization(ev["object"])  # type: ignore[attr-defined]
            yield {"type": ev.get("type"), "object": raw}
    finally:
        w.stop()


# -------------------------------------------------------------------------------------------- safety
def check_target(namespace: str | None, selector: str | None) -> tuple[str, str]:
    """Refuse a missing namespace, a system namespace, or an empty label selector (would be the
    whole namespace). Returns (namespace, selector)."""
    if not namespace or not str(namespace).strip():
        raise UnsafeTarget("an explicit namespace is required (configuration `namespace`)")
    if namespace in FORBIDDEN_NAMESPACES:
        raise UnsafeTarget(f"refusing to act in system namespace {namespace!r}")
    if not selector or not str(selector).strip() or not any(c.isalnum() for c in str(selector)):
        raise UnsafeTarget(
            "a non-empty label selector is required (e.g. app.kubernetes.io/name=searchapp); "
            "an empty selector would target every pod of the namespace"
        )
    return str(namespace).strip(), str(selector).strip()


# -------------------------------------------------------------------------------------------- probes
def list_pods(
    namespace: str,
    selector: str,
    configuration: Mapping[str, Any] | None = None,
    timeout_s: float = REQUEST_TIMEOUT_S,
) -> list[PodBody]:
    """Pods matching the selector (raw dicts)."""
    namespace, selector = check_target(namespace, selector)
    body = call(
        apis(configuration).core.list_namespaced_pod,
        namespace,
        label_selector=selector,
        timeout_s=timeout_s,
        what=f"pods {selector} in {namespace}",
    )
    return list(body.get("items") or [])


def ready_pods(
    namespace: str,
    selector: str,
    configuration: Mapping[str, Any] | None = None,
    timeout_s: float = REQUEST_TIMEOUT_S,
) -> list[str]:
    """Names of the pods that are Ready (condition) and not terminating."""
    return sorted(
        p["metadata"]["name"]
        for p in list_pods(namespace, selector, configuration, timeout_s)
        if pod_ready(p)
    )


def ready_replicas(
    namespace: str,
    selector: str,
    configuration: Mapping[str, Any] | None = None,
    timeout_s: float = REQUEST_TIMEOUT_S,
) -> int:
    """Number of pods (count) matching the selector with Ready=True and no deletionTimestamp."""
    return len(ready_pods(namespace, selector, configuration, timeout_s))


def ready_replicas_at_least(value: int | None = None, minimum: int = 1) -> bool:
    """Tolerance: `value` (a Ready pod count) is at least `minimum`."""
    return value is not None and int(value) >= int(minimum)


def deployment(name: str, namespace: str, configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Deployment object (raw dict). Raises NotFound with the namespace in the message."""
    return call(
        apis(configuration).apps.read_namespaced_deployment,
        name,
        namespace,
        what=f"deployment {namespace}/{name}",
    )


def deployment_replicas(
    name: str, namespace: str, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`{"spec": spec.replicas, "ready": status.readyReplicas, "available", "updated"}` (pod counts)."""
    d = deployment(name, namespace, configuration)
    st = d.get("status") or {}
    return {
        "spec": (d.get("spec") or {}).get("replicas"),
        "ready": st.get("readyReplicas") or 0,
        "available": st.get("availableReplicas") or 0,
        "updated": st.get("updatedReplicas") or 0,
    }


def hpa(name: str, namespace: str, configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The autoscaling/v2 HorizontalPodAutoscaler (raw dict)."""
    return call(
        apis(configuration).autoscaling.read_namespaced_horizontal_pod_autoscaler,
        name,
        namespace,
        what=f"hpa {namespace}/{name}",
    )


def hpa_bounds(
    name: str, namespace: str, configuration: Mapping[str, Any] | None = None
) -> dict[str, int | None]:
    """`{"minReplicas", "maxReplicas"}` of the HPA (pod counts)."""
    spec = hpa(name, namespace, configuration).get("spec") or {}
    return {"minReplicas": spec.get("minReplicas", 1), "maxReplicas": spec.get("maxReplicas")}


def hpa_spec_snapshot(
    name: str, namespace: str, configuration: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What a time-to-scale figure means nothing without: min/max replicas, metric targets,
    `behavior` (stabilization windows, policies), current status, and the controller cadence
    (kube-controller-manager `--horizontal-pod-autoscaler-sync-period`, default 15 s, not readable
    through the API: recorded as the default)."""
    h = hpa(name, namespace, configuration)
    spec = h.get("spec") or {}
    return {
        "name": name,
        "namespace": namespace,
        "minReplicas": spec.get("minReplicas", 1),
        "maxReplicas": spec.get("maxReplicas"),
        "metrics": spec.get("metrics") or [],
        "behavior": spec.get("behavior") or {},
        "scaleTargetRef": spec.get("scaleTargetRef") or {},
        "status": h.get("status") or {},
        "controller_sync_period_s": {"value": 15, "source": "Kubernetes default (not readable via the API)"},
    }


def pdbs_for(
    namespace: str, pod_labels: Mapping[str, str], configuration: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """PodDisruptionBudgets of the namespace that select a pod with `pod_labels`.

    policy/v1 semantics: an empty selector (`{}`) selects every pod of the namespace, a missing
    (null) selector selects none; matchLabels and matchExpressions are ANDed."""
    body = call(
        apis(configuration).policy.list_namespaced_pod_disruption_budget,
        namespace,
        what=f"poddisruptionbudgets in {namespace}",
    )
    return [
        pdb
        for pdb in body.get("items") or []
        if selector_matches((pdb.get("spec") or {}).get("selector"), pod_labels)
    ]


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector against labels: None matches nothing, `{}` matches everything."""
    if selector is None:
        return False
    match = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    return all(labels.get(k) == v for k, v in match.items()) and all(
        _match_expression(e, labels) for e in exprs
    )


def _match_expression(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = str(expr.get("key")), expr.get("operator"), expr.get("values") or []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def server_version(configuration: Mapping[str, Any] | None = None) -> str | None:
    """The API server's gitVersion (e.g. v1.35.4), None when unreadable."""
    try:
        return call(apis(configuration).version.get_code, what="server version", timeout_s=5).get(
            "gitVersion"
        )
    except ScaleproofError as exc:
        logger.warning("server version unavailable: %s", exc)
        return None


def snapshot_specs(
    namespace: str,
    deployment_name: str,
    hpa_name: str | None = None,
    run_dir: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Snapshot the Deployment/HPA/PDB specs, container images and server version into
    `<run_dir>/specs.json`; returns the snapshot. Unreadable parts are recorded with an `error`."""
    out: dict[str, Any] = {"t": time.time(), "namespace": namespace, "specs": {}, "images": {}, "errors": {}}
    try:
        d = deployment(deployment_name, namespace, configuration)
        spec = d.get("spec") or {}
        tpl = (spec.get("template") or {}).get("spec") or {}
        out["specs"]["deployment"] = {
            "name": deployment_name,
            "replicas": spec.get("replicas"),
            "strategy": spec.get("strategy"),
            "selector": spec.get("selector"),
            "containers": [
                {k: c.get(k) for k in ("name", "image", "imagePullPolicy", "resources", "readinessProbe")}
                for c in tpl.get("containers") or []
            ],
            "terminationGracePeriodSeconds": tpl.get("terminationGracePeriodSeconds"),
        }
        for c in tpl.get("containers") or []:
            out["images"][c.get("name")] = c.get("image")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        try:
            out["specs"]["pdb"] = [
                {"name": p["metadata"]["name"], "spec": p.get("spec"), "status": p.get("status")}
                for p in pdbs_for(namespace, labels, configuration)
            ]
        except ScaleproofError as exc:
            out["errors"]["pdb"] = str(exc)
    except ScaleproofError as exc:
        out["errors"]["deployment"] = str(exc)
    if hpa_name:
        try:
            out["specs"]["hpa"] = hpa_spec_snapshot(hpa_name, namespace, configuration)
        except ScaleproofError as exc:
            out["errors"]["hpa"] = str(exc)
    out["kubernetes_server"] = server_version(configuration)
    if run_dir or (configuration or {}).get(rundir.CONFIG_KEY):
        path = rundir.resolve(run_dir, configuration) / "specs.json"
        rundir.write_json_atomic(Path(path), out)
    return out


def wait_for_ready_replicas(
    namespace: str,
    selector: str,
    min_ready: int = 3,
    timeout_s: float = 180.0,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Block (event-driven, pod watch) until at least `min_ready` pods are Ready, or the deadline.

    Returns `{"ready": count, "waited_s": seconds, "t": unix time reached}`; raises DeadlineExceeded
    with the last count when `timeout_s` passes first."""
    namespace, selector = check_target(namespace, selector)
    start = time.monotonic()
    deadline = start + float(timeout_s)
    core = apis(configuration).core
    body = call(core.list_namespaced_pod, namespace, label_selector=selector, what=f"pods {selector}")
    state = {p["metadata"]["uid"]: pod_ready(p) for p in body.get("items") or []}
    rv = (body.get("metadata") or {}).get("resourceVersion")

    def done() -> dict[str, Any] | None:
        n = sum(state.values())
        if n >= min_ready:
            return {"ready": n, "waited_s": round(time.monotonic() - start, 3), "t": time.time()}
        return None

    from scaleproof.undo import check_abort

    while True:
        if (res := done()) is not None:
            return res
        check_abort(f"waiting for {min_ready} Ready pods")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded(
                f"only {sum(state.values())} of {min_ready} pods ({selector} in {namespace}) Ready "
                f"after {timeout_s:.0f} s"
            )
        try:
            for ev in watch_stream(
                core.list_namespaced_pod,
                remaining,
                namespace=namespace,
                label_selector=selector,
                resource_version=rv,
            ):
                obj = ev.get("object") or {}
                uid = (obj.get("metadata") or {}).get("uid")
                rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                if not uid:
                    continue
                if ev.get("type") == "DELETED":
                    state.pop(uid, None)
                else:
                    state[uid] = pod_ready(obj)
                if done() is not None or time.monotonic() >= deadline:
                    break
                check_abort(f"waiting for {min_ready} Ready pods")
        except ChaosException:
            raise
        except Exception as exc:  # watch expired (410) or connection dropped: relist
            check_abort(f"waiting for {min_ready} Ready pods")
            logger.info("pod watch interrupted (%s); relisting", exc)
            body = call(core.list_namespaced_pod, namespace, label_selector=selector, what=f"pods {selector}")
            state = {p["metadata"]["uid"]: pod_ready(p) for p in body.get("items") or []}
            rv = (body.get("metadata") or {}).get("resourceVersion")
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
