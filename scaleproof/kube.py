"""The Kubernetes access layer: clients, `call()` with timeouts and typed errors, target and selector
checks, the reads every layer above shares, and the ONE list-then-watch loop.

Probes (`probes/`), actions (`actions/`) and the undo plan (`scaleproof.undo`) sit on this module; it
imports only the core (errors, credentials, the object readings of `scaleproof.kobjects`), never a
provider. The official `kubernetes` client is imported lazily, so `chaos validate` works without a
kubeconfig. Objects are read raw (`_preload_content=False`): dicts exactly as the API server serves
them (camelCase, RFC3339 timestamps), the shape the recorder stores. Waits take a `check` callable
(the run's abort check) instead of importing it: this layer knows nothing about runs. Tests replace
`apis()` and `watch_stream()` with fakes (tests/unit/kubefake.py).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from chaoslib.exceptions import ChaosException

from scaleproof import credentials
from scaleproof.errors import ClusterUnreachable, DeadlineExceeded, NotFound, ScaleproofError, UnsafeTarget
from scaleproof.kobjects import pod_ready

__all__ = [
    "FORBIDDEN_NAMESPACES",
    "REQUEST_TIMEOUT_S",
    "KubeApis",
    "PodBody",
    "WatchEvent",
    "apis",
    "call",
    "check_owned",
    "check_target",
    "deployment",
    "deployment_tolerations",
    "hpa",
    "hpa_bounds",
    "list_pods",
    "list_then_watch",
    "pdbs_for",
    "selector_matches",
    "set_deployment_tolerations",
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


class WatchEvent(TypedDict, total=False):
    """What `list_then_watch` yields. `type`: LISTED (`items`: every object of a (re)list), ADDED,
    MODIFIED, DELETED (`object`), or INTERRUPTED (`error`: the watch broke, a relist follows).
    `t`: the local receive time (Unix seconds, sub-second)."""

    type: str
    t: float
    items: list[dict[str, Any]]
    object: dict[str, Any]
    error: Exception


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


# ---------------------------------------------------------------------------- targets and selectors
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


def _owner(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the object's controller; None when nothing controls it."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind")), str(ref.get("name"))
    return None


def check_owned(
    namespace: str, selector: str, deployment: str, configuration: Mapping[str, Any] | None = None
) -> list[str]:
    """Names of the pods the selector matches; raises unless every one belongs to `deployment`
    (pod → ReplicaSet → Deployment controller references) and there is at least one. The selector
    is evaluated by the API server, so set-based selectors work."""
    namespace, selector = check_target(namespace, selector)
    pods = list_pods(namespace, selector, configuration)
    if not pods:
        raise UnsafeTarget(
            f"configuration `selector` ({selector!r}) matches no pod in namespace {namespace!r}"
        )
    replica_sets: dict[str, tuple[str, str] | None] = {}
    foreign = []
    for p in pods:
        owner = _owner(p)
        if owner and owner[0] == "ReplicaSet":
            if owner[1] not in replica_sets:
                rs = call(
                    apis(configuration).apps.read_namespaced_replica_set,
                    owner[1],
                    namespace,
                    what=f"replicaset {namespace}/{owner[1]}",
                )
                replica_sets[owner[1]] = _owner(rs)
            owner = replica_sets[owner[1]]
        if owner != ("Deployment", deployment):
            foreign.append(f"{p['metadata']['name']} (owned by {'/'.join(owner) if owner else 'nobody'})")
    if foreign:
        raise UnsafeTarget(
            f"configuration `selector` ({selector!r}) also matches pods that are not Deployment "
            f"{deployment!r}'s: {', '.join(sorted(foreign)[:5])}; narrow the selector"
        )
    return sorted(p["metadata"]["name"] for p in pods)


# --------------------------------------------------------------------------------------------- reads
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


def deployment(name: str, namespace: str, configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Deployment object (raw dict). Raises NotFound with the namespace in the message."""
    return call(
        apis(configuration).apps.read_namespaced_deployment,
        name,
        namespace,
        what=f"deployment {namespace}/{name}",
    )


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


# ------------------------------------------------------------------------------------------ watching
def watch_stream(list_fn: Callable[..., Any], timeout_s: float, **kw: Any) -> Iterator[dict[str, Any]]:
    """A Kubernetes watch on `list_fn` for at most `timeout_s` seconds (server side timeout, plus a
    socket read timeout), bookmarks requested. Yields `{"type", "object"}` with the raw object dict.
    A 410 Gone raises (the client's ApiException): `list_then_watch` relists."""
    from kubernetes import watch

    w = watch.Watch()
    try:
        for ev in w.stream(
            list_fn,
            timeout_seconds=max(1, int(timeout_s)),
            _request_timeout=timeout_s + 5,
            allow_watch_bookmarks=True,
            **kw,
        ):
            raw = ev.get("raw_object")
            if raw is None and ev.get("object") is not None:
                raw = list_fn.__self__.api_client.sanitize_for_serialization(ev["object"])  # type: ignore[attr-defined]
            yield {"type": ev.get("type"), "object": raw}
    finally:
        w.stop()


def list_then_watch(
    list_fn: Callable[..., Any],
    namespace: str,
    *,
    timeout_s: float,
    what: str,
    filters: Mapping[str, Any] | None = None,
    window_s: float | None = None,
    pause_s: float = 1.0,
    stop: threading.Event | None = None,
) -> Iterator[WatchEvent]:
    """List, then watch from the list's resourceVersion, until `timeout_s` passes or `stop` is set.
    `filters`: the list's label/field selector keywords (`label_selector=...`).

    Yields a LISTED event per (re)list (the caller replaces its state with it), then the watch's
    events. A watch lasts at most `window_s` seconds (None: up to the deadline), then resumes from
    the last resourceVersion seen; BOOKMARK events only advance it. An ERROR event (410 Gone sent as
    an event) relists at once. An exception (410 Gone raised by the client, a dropped connection, a
    failed relist) is yielded as INTERRUPTED (the caller may raise), then the loop pauses `pause_s`
    and relists. Only the first list's failure raises: the caller has no state yet."""
    filters = dict(filters or {})
    deadline = time.monotonic() + float(timeout_s)
    rv: str | None = None
    listed, relist = False, True
    while stop is None or not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            if relist:
                body = call(list_fn, namespace, what=what, **filters)
                rv = (body.get("metadata") or {}).get("resourceVersion")
                listed, relist = True, False
                yield {"type": "LISTED", "t": time.time(), "items": list(body.get("items") or [])}
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
            window = remaining if window_s is None else min(float(window_s), remaining)
            for ev in watch_stream(list_fn, window, namespace=namespace, resource_version=rv, **filters):
                if stop is not None and stop.is_set():
                    return
                obj = ev.get("object") or {}
                etype = str(ev.get("type"))
                if etype == "ERROR":
                    relist = True
                    break
                rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                if etype == "BOOKMARK":
                    continue
                yield {"type": etype, "t": time.time(), "object": obj}
                if (stop is not None and stop.is_set()) or time.monotonic() >= deadline:
                    return
        except Exception as exc:
            if not listed:
                raise
            yield {"type": "INTERRUPTED", "t": time.time(), "error": exc}
            relist = True
            pause = min(float(pause_s), max(0.0, deadline - time.monotonic()))
            if stop is not None:
                stop.wait(pause)
            else:
                time.sleep(pause)


def wait_for_ready_replicas(
    namespace: str,
    selector: str,
    min_ready: int = 3,
    timeout_s: float = 180.0,
    configuration: Mapping[str, Any] | None = None,
    check: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Block (pod list-then-watch) until at least `min_ready` pods are Ready, or the deadline.

    `check(what)` runs after every change and may raise (the run's abort check). Returns
    `{"ready": count, "waited_s": seconds, "t": unix time reached}`; raises DeadlineExceeded with the
    last count when `timeout_s` passes first."""
    namespace, selector = check_target(namespace, selector)
    start = time.monotonic()
    what = f"waiting for {min_ready} Ready pods"
    core = apis(configuration).core
    state: dict[str, bool] = {}
    for ev in list_then_watch(
        core.list_namespaced_pod,
        namespace,
        timeout_s=timeout_s,
        what=f"pods {selector}",
        filters={"label_selector": selector},
        pause_s=0.5,
    ):
        if ev["type"] == "INTERRUPTED":
            if isinstance(ev["error"], ChaosException):  # a failed relist, an interrupt: not ours to hide
                raise ev["error"]
            if check:
                check(what)
            logger.info("pod watch interrupted (%s); relisting", ev["error"])
            continue
        if ev["type"] == "LISTED":
            state = {p["metadata"]["uid"]: pod_ready(p) for p in ev["items"]}
        elif uid := (ev["object"].get("metadata") or {}).get("uid"):
            if ev["type"] == "DELETED":
                state.pop(uid, None)
            else:
                state[uid] = pod_ready(ev["object"])
        if (n := sum(state.values())) >= min_ready:
            return {"ready": n, "waited_s": round(time.monotonic() - start, 3), "t": time.time()}
        if check:
            check(what)
    raise DeadlineExceeded(
        f"only {sum(state.values())} of {min_ready} pods ({selector} in {namespace}) Ready "
        f"after {timeout_s:.0f} s"
    )


# ------------------------------------------------------------------------- the pods' tolerations
def deployment_tolerations(
    name: str, namespace: str, configuration: Mapping[str, Any] | None = None
) -> list[Any]:
    """The pod template's tolerations of Deployment `namespace/name` ([] when it has none)."""
    d = deployment(name, namespace, configuration)
    return list((((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get("tolerations") or [])


def set_deployment_tolerations(
    name: str, namespace: str, tolerations: list[Any], configuration: Mapping[str, Any] | None = None
) -> None:
    """Replace the pod template's tolerations (a JSON merge patch replaces the list whole; an empty
    list removes them). The Deployment rolls its pods: the caller waits for the rollout."""
    call(
        apis(configuration).apps.patch_namespaced_deployment,
        name,
        namespace,
        {"spec": {"template": {"spec": {"tolerations": tolerations or None}}}},
        what=f"patch tolerations of deployment {namespace}/{name}",
    )
