"""A fake Kubernetes API for unit tests: raw dicts in, raw dicts out (what `_preload_content=False`
gives the real client), plus builders for pods and events. Tests install it with `install(monkeypatch)`.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

_uid = itertools.count(1)


class FakeApiException(Exception):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"HTTP {status}")
        self.status = status
        self.reason = message
        self.body = '{"message": "%s"}' % (message or f"status {status}")


def pod(
    name: str,
    ready: bool = True,
    terminating: bool = False,
    owner_uid: str = "rs-1",
    labels: dict[str, str] | None = None,
    uid: str | None = None,
    node: str = "node-a",
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "scaleproof",
        "uid": uid or f"uid-{name}",
        "labels": labels or {"app.kubernetes.io/name": "searchapp"},
        "ownerReferences": [
            {"kind": "ReplicaSet", "name": "searchapp-rs", "uid": owner_uid, "controller": True}
        ],
        "creationTimestamp": "2026-11-28T12:00:00Z",
    }
    if terminating:
        meta["deletionTimestamp"] = "2026-11-28T12:01:00Z"
        meta["deletionGracePeriodSeconds"] = 30
    return {
        "metadata": meta,
        "spec": {"nodeName": node},
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True" if ready else "False"},
            ],
        },
    }


def _match(labels: dict[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        k, _, v = term.partition("=")
        if labels.get(k.strip()) != v.strip():
            return False
    return True


class _Api:
    def __init__(self, fake: FakeKube) -> None:
        self.fake = fake


class Core(_Api):
    def list_namespaced_service(self, namespace: str, **kw: Any) -> dict[str, Any]:
        return {
            "items": copy.deepcopy(self.fake.services),
            "metadata": {"resourceVersion": self.fake.list_rv},
        }

    def read_namespaced_service(self, name: str, namespace: str, **kw: Any) -> dict[str, Any]:
        for s in self.fake.services:
            if s["metadata"]["name"] == name:
                return copy.deepcopy(s)
        raise FakeApiException(404, f'services "{name}" not found')

    def list_namespaced_pod(
        self, namespace: str, label_selector: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        self.fake.calls.append(("list_pods", namespace, label_selector))
        self.fake.maybe_fail("list_pods")
        items = [
            copy.deepcopy(p)
            for p in self.fake.pods
            if p["metadata"]["namespace"] == namespace
            and _match(p["metadata"].get("labels") or {}, label_selector)
        ]
        return {"items": items, "metadata": {"resourceVersion": self.fake.list_rv}}

    def delete_namespaced_pod(self, name: str, namespace: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        self.fake.calls.append(("delete_pod", namespace, name, body))
        self.fake.maybe_fail("delete_pod")
        for hook in self.fake.on_delete:
            hook(name, namespace, body)
        for p in self.fake.pods:
            if p["metadata"]["name"] == name:
                p["metadata"]["deletionTimestamp"] = "2026-11-28T12:02:00Z"
        return {"kind": "Pod", "metadata": {"name": name}}

    def create_namespaced_pod_eviction(
        self, name: str, namespace: str, body: Any = None, **kw: Any
    ) -> dict[str, Any]:
        """As the API server: every budget whose selector matches the pod must allow one disruption
        (`{}` selects all, null none), else 429 naming the budget; then the pod is deleted."""
        self.fake.calls.append(("evict_pod", namespace, name, body))
        self.fake.maybe_fail("evict_pod")
        target = next((p for p in self.fake.pods if p["metadata"]["name"] == name), None)
        if target is None:
            raise FakeApiException(404, f'pods "{name}" not found')
        labels = target["metadata"].get("labels") or {}
        for pdb in self.fake.pdbs:
            sel = (pdb.get("spec") or {}).get("selector")
            if sel is None or any(labels.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
                continue
            if int((pdb.get("status") or {}).get("disruptionsAllowed") or 0) < 1:
                pdb_name = pdb["metadata"]["name"]
                exc = FakeApiException(
                    429, "Cannot evict pod as it would violate the pod's disruption budget."
                )
                exc.body = json.dumps(
                    {
                        "kind": "Status",
                        "message": "Cannot evict pod as it would violate the pod's disruption budget.",
                        "reason": "TooManyRequests",
                        "details": {
                            "causes": [
                                {
                                    "reason": "DisruptionBudget",
                                    "message": f"The disruption budget {pdb_name} needs 3 healthy pods "
                                    "and has 3 currently",
                                }
                            ]
                        },
                        "code": 429,
                    }
                )
                raise exc
            pdb["status"]["disruptionsAllowed"] -= 1
        for hook in self.fake.on_delete:
            hook(name, namespace, (body or {}).get("deleteOptions"))
        return {"kind": "Status", "status": "Success", "code": 201}

    def list_namespaced_event(self, namespace: str, **kw: Any) -> dict[str, Any]:
        return {"items": list(self.fake.events), "metadata": {"resourceVersion": self.fake.list_rv}}

    # ---- nodes (cluster-scoped)
    def list_node(self, **kw: Any) -> dict[str, Any]:
        """:return: V1NodeList"""
        self.fake.maybe_fail("list_nodes")
        return {"items": copy.deepcopy(self.fake.nodes), "metadata": {"resourceVersion": self.fake.list_rv}}

    def read_node(self, name: str, **kw: Any) -> dict[str, Any]:
        for n in self.fake.nodes:
            if n["metadata"]["name"] == name:
                return copy.deepcopy(n)
        raise FakeApiException(404, f'nodes "{name}" not found')

    def patch_node(self, name: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        self.fake.calls.append(("patch_node", name, body))
        self.fake.maybe_fail("patch_node")
        for hook in self.fake.on_patch_node:
            hook(name, body)
        for n in self.fake.nodes:
            if n["metadata"]["name"] == name:
                n.setdefault("spec", {}).update(body.get("spec") or {})
                if n["spec"].get("unschedulable") is None:
                    n["spec"].pop("unschedulable", None)
                return copy.deepcopy(n)
        raise FakeApiException(404, f'nodes "{name}" not found')

    def list_pod_for_all_namespaces(self, field_selector: str | None = None, **kw: Any) -> dict[str, Any]:
        self.fake.calls.append(("list_all_pods", field_selector))
        host = (field_selector or "").removeprefix("spec.nodeName=")
        items = [copy.deepcopy(p) for p in self.fake.pods if not host or p["spec"].get("nodeName") == host]
        return {"items": items, "metadata": {"resourceVersion": self.fake.list_rv}}


class Apps(_Api):
    def read_namespaced_stateful_set(self, name: str, namespace: str, **kw: Any) -> dict[str, Any]:
        for s in self.fake.statefulsets:
            if s["metadata"]["name"] == name and s["metadata"]["namespace"] == namespace:
                return copy.deepcopy(s)
        raise FakeApiException(404, f'statefulsets.apps "{name}" not found')

    def read_namespaced_deployment(self, name: str, namespace: str, **kw: Any) -> dict[str, Any]:
        self.fake.maybe_fail("read_deployment")
        d = self.fake.deployments.get((namespace, name))
        if d is None:
            raise FakeApiException(404, f'deployments.apps "{name}" not found')
        return copy.deepcopy(d)

    def patch_namespaced_deployment_scale(
        self, name: str, namespace: str, body: Any = None, **kw: Any
    ) -> dict:
        self.fake.calls.append(("scale_deployment", namespace, name, body))
        self.fake.deployments[(namespace, name)]["spec"]["replicas"] = body["spec"]["replicas"]
        return {}

    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any = None, **kw: Any) -> dict:
        """A merge of `spec.template.spec` (what the unreachable toleration patch sends); a None value
        removes the key, as a merge patch does."""
        self.fake.calls.append(("patch_deployment", namespace, name, body))
        d = self.fake.deployments[(namespace, name)]
        d["metadata"]["generation"] = int(d["metadata"].get("generation") or 1) + 1
        tpl = d["spec"]["template"]["spec"]
        for k, v in ((body.get("spec") or {}).get("template") or {}).get("spec", {}).items():
            if v is None:
                tpl.pop(k, None)
            else:
                tpl[k] = v
        return {}

    def read_namespaced_replica_set(self, name: str, namespace: str, **kw: Any) -> dict[str, Any]:
        """Every fake ReplicaSet `<deployment>-rs` is controlled by its Deployment."""
        deployment = name.removesuffix("-rs")
        if (namespace, deployment) not in self.fake.deployments:
            raise FakeApiException(404, f'replicasets.apps "{name}" not found')
        ref = {"kind": "Deployment", "name": deployment, "uid": f"dep-{deployment}", "controller": True}
        return {"metadata": {"name": name, "namespace": namespace, "ownerReferences": [ref]}}

    def list_namespaced_replica_set(self, namespace: str, **kw: Any) -> dict[str, Any]:
        return {"items": [], "metadata": {"resourceVersion": self.fake.list_rv}}

    def list_namespaced_deployment(self, namespace: str, **kw: Any) -> dict[str, Any]:
        return {
            "items": [copy.deepcopy(d) for (ns, _), d in self.fake.deployments.items() if ns == namespace],
            "metadata": {"resourceVersion": self.fake.list_rv},
        }


def _merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    """Merge-patch semantics (what the API server does for these fields): None deletes, maps merge."""
    for k, v in patch.items():
        if v is None:
            into.pop(k, None)
        elif isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = copy.deepcopy(v)


class Autoscaling(_Api):
    def read_namespaced_horizontal_pod_autoscaler(
        self, name: str, namespace: str, **kw: Any
    ) -> dict[str, Any]:
        h = self.fake.hpas.get((namespace, name))
        if h is None:
            raise FakeApiException(404, f'horizontalpodautoscalers "{name}" not found')
        return copy.deepcopy(h)

    def patch_namespaced_horizontal_pod_autoscaler(
        self, name: str, namespace: str, body: Any = None, **kw: Any
    ):
        self.fake.calls.append(("patch_hpa", namespace, name, body))
        self.fake.maybe_fail("patch_hpa")
        _merge(self.fake.hpas[(namespace, name)]["spec"], body["spec"])
        return {}

    def list_namespaced_horizontal_pod_autoscaler(self, namespace: str, **kw: Any) -> dict[str, Any]:
        return {
            "items": [copy.deepcopy(h) for (ns, _), h in self.fake.hpas.items() if ns == namespace],
            "metadata": {"resourceVersion": self.fake.list_rv},
        }


class Policy(_Api):
    def list_namespaced_pod_disruption_budget(self, namespace: str, **kw: Any) -> dict[str, Any]:
        return {"items": copy.deepcopy(self.fake.pdbs)}


class Discovery(_Api):
    def list_namespaced_endpoint_slice(self, namespace: str, **kw: Any) -> dict[str, Any]:
        return {"items": copy.deepcopy(self.fake.slices), "metadata": {"resourceVersion": self.fake.list_rv}}


class Version(_Api):
    def get_code(self, **kw: Any) -> dict[str, Any]:
        return {"gitVersion": "v1.35.4"}


class FakeKube:
    """Holds the fake cluster state; `core`, `apps`... mimic `scaleproof.kube.KubeApis`."""

    def __init__(self) -> None:
        self.pods: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.slices: list[dict[str, Any]] = []
        self.pdbs: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.statefulsets: list[dict[str, Any]] = []
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.hpas: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.fail: dict[str, Exception] = {}
        self.on_delete: list[Callable[[str, str, Any], None]] = []
        self.nodes: list[dict[str, Any]] = []
        self.on_patch_node: list[Callable[[str, Any], None]] = []
        self.core, self.apps, self.autoscaling = Core(self), Apps(self), Autoscaling(self)
        self.policy, self.discovery, self.version = Policy(self), Discovery(self), Version(self)
        # per list function: one batch of events per watch call; an Exception in a batch is raised
        self.watch_scripts: dict[str, list[list[Any]]] = {}
        self.watches: list[tuple[str, float, dict[str, Any]]] = []  # (list function, timeout_s, kwargs)
        self.list_rv = "100"  # the resourceVersion every list answers with

    def maybe_fail(self, op: str) -> None:
        if op in self.fail:
            raise self.fail[op]

    def add_deployment(
        self, name: str = "searchapp", replicas: int = 1, namespace: str = "scaleproof"
    ) -> None:
        self.deployments[(namespace, name)] = {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app.kubernetes.io/name": "searchapp"}},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "searchapp"}},
                    "spec": {
                        "containers": [{"name": "searchapp", "image": "localhost/scaleproof/searchapp:0.1.0"}]
                    },
                },
            },
            "status": {"readyReplicas": replicas},
        }

    def add_hpa(
        self, name: str = "searchapp", min_r: int = 1, max_r: int = 5, namespace: str = "scaleproof"
    ) -> None:
        self.hpas[(namespace, name)] = {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "minReplicas": min_r,
                "maxReplicas": max_r,
                "scaleTargetRef": {"kind": "Deployment", "name": "searchapp"},
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    }
                ],
            },
            "status": {"desiredReplicas": 1, "currentReplicas": 1},
        }

    def stream(self, list_fn: Any, timeout_s: float, **kw: Any) -> Iterator[dict[str, Any]]:
        """Fake `scaleproof.kube.watch_stream`: pops the next scripted batch for the list function."""
        name = getattr(list_fn, "__name__", str(list_fn))
        self.watches.append((name, timeout_s, dict(kw)))
        batches = self.watch_scripts.get(name) or []
        batch = batches.pop(0) if batches else []
        for ev in batch:
            if isinstance(ev, Exception):  # e.g. FakeApiException(410): the client raises a 410 Gone
                raise ev
            yield ev


class FakeTime:
    """Stands in for the `time` module of `scaleproof.kube`: every look at the monotonic clock costs
    `step_s` seconds of fake time, so a deadline passes without waiting; `sleep` calls `on_sleep`."""

    def __init__(self, step_s: float, start: float = 1000.0, on_sleep: Callable[[float], Any] | None = None):
        self.now, self.step_s, self.on_sleep = start, step_s, on_sleep

    def monotonic(self) -> float:
        self.now += self.step_s
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.on_sleep is not None:
            self.on_sleep(seconds)


def install(monkeypatch: Any, fake: FakeKube | None = None) -> FakeKube:
    from scaleproof import kube

    fake = fake or FakeKube()
    monkeypatch.setattr(kube, "apis", lambda configuration=None: fake)
    monkeypatch.setattr(kube, "watch_stream", fake.stream)
    return fake


def node(
    name: str,
    ready: str = "True",
    control_plane: bool = False,
    labels: dict[str, str] | None = None,
    unschedulable: bool = False,
    taints: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Node as the API server serves it (the fields the node faults read)."""
    lab = {"kubernetes.io/hostname": name, **(labels or {})}
    if control_plane:
        lab["node-role.kubernetes.io/control-plane"] = ""
    spec: dict[str, Any] = {"taints": taints or []}
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "metadata": {"name": name, "uid": f"node-uid-{name}", "labels": lab, "resourceVersion": "1"},
        "spec": spec,
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {
                    "type": "Ready",
                    "status": ready,
                    "reason": "KubeletReady",
                    "lastHeartbeatTime": "2026-12-07T10:00:00Z",
                    "lastTransitionTime": "2026-12-07T09:00:00Z",
                },
            ]
        },
    }
