"""Deploy a kustomize overlay and wait until every workload in its namespace is rolled out.

kubectl is run for what only it does: render the overlay (`kubectl kustomize`) and apply it
(`kubectl apply -k`). Everything else goes through the access layer (`scaleproof.kube`): removing
the vector store another of scaleproof's overlays left in the namespace, and the rollout check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from scaleproof import kube
from scaleproof.errors import NotFound, ScaleproofError
from scaleproof.kobjects import pod_ready

from .config import ClusterConfig

__all__ = [
    "DeployError",
    "HOST_PATH_OWNER",
    "OWN_STORES",
    "deploy",
    "kubectl_binary",
    "other_stores",
    "prepare_host_paths",
    "remove_other_stores",
    "render",
    "rollout_pending",
    "run_kubectl",
    "wait_ready",
]

HOST_PATH_OWNER = "scaleproof.io/host-path-owner"
#: the vector stores scaleproof's own overlays deploy (k8s/base/weaviate.yaml, k8s/qdrant/): each a
#: StatefulSet `<store>` with Services `<store>` and `<store>-headless`, all labelled STORE_LABELS
OWN_STORES = ("weaviate", "qdrant")
STORE_LABELS = {"app.kubernetes.io/part-of": "scaleproof", "app.kubernetes.io/component": "vector-store"}
STORE_SELECTOR = ",".join(f"{k}={v}" for k, v in STORE_LABELS.items())

Progress = Callable[[str], None]


class DeployError(RuntimeError):
    """The overlay could not be applied or did not become Ready; says which object and why."""


def kubectl_binary() -> str:
    """The kubectl built with the cluster (matching version), else the one on PATH."""
    built = ClusterConfig().binary("kubectl")
    if built.exists():
        return str(built)
    found = shutil.which("kubectl")
    if not found:
        raise DeployError("kubectl not found: run `scaleproof cluster up` (it builds one) or install kubectl")
    return found


def run_kubectl(kubeconfig: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """kubectl against `kubeconfig`, output captured (the caller reads returncode and stderr)."""
    return subprocess.run(
        [kubectl_binary(), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


_kubectl = run_kubectl


def _apis(kubeconfig: Path) -> kube.KubeApis:
    return kube.apis({"kubeconfig": str(kubeconfig)})


def deploy(
    kubeconfig: Path,
    overlay: Path,
    timeout_s: float = 300,
    namespace: str = "scaleproof",
    progress: Progress = print,
    replace_store: bool = True,
    poll_s: float = 2.0,
) -> None:
    """Apply `overlay` and wait until every workload of `namespace` is rolled out. Beforehand: the
    hostPath directories of its annotated PVs get their owner, and the vector store of another of
    scaleproof's overlays in the namespace is removed (`replace_store`) or refused."""
    if not overlay.is_dir():
        raise DeployError(f"overlay {overlay} is not a directory (expected e.g. k8s/overlays/local)")
    if not kubeconfig.exists():
        raise DeployError(
            f"kubeconfig {kubeconfig} does not exist: run `scaleproof cluster up` first, or set "
            "SCALEPROOF_KUBECONFIG to your own cluster's kubeconfig"
        )
    objs = render(kubeconfig, overlay)
    check_images(kubeconfig, objs)
    owned = prepare_host_paths(objs, progress)
    remove_other_stores(kubeconfig, objs, namespace, progress, replace=replace_store, timeout_s=timeout_s)
    progress(f"[deploy] kubectl apply -k {overlay}")
    proc = _kubectl(kubeconfig, "apply", "-k", str(overlay))
    if proc.returncode != 0:
        raise DeployError(f"kubectl apply -k {overlay} failed: {proc.stderr.strip()}")
    # while a rolling update replaces pods that ran as another user (e.g. a root Weaviate), those
    # keep writing files until they stop: give them back to the new owner until all is Ready
    wait_ready(kubeconfig, timeout_s, namespace, progress, tick=lambda: _chown_all(owned), poll_s=poll_s)


def render(kubeconfig: Path, overlay: Path) -> list[dict[str, Any]]:
    """The overlay's objects, as `kubectl kustomize` renders them."""
    import yaml

    proc = _kubectl(kubeconfig, "kustomize", str(overlay))
    if proc.returncode != 0:
        raise DeployError(f"kubectl kustomize {overlay} failed: {proc.stderr.strip()}")
    return [obj for obj in yaml.safe_load_all(proc.stdout) if obj]


# ------------------------------------------------------------------------------------ images
def _full_ref(image: str) -> str:
    """An image reference as containerd lists it (`qdrant/qdrant:v1` -> `docker.io/qdrant/qdrant:v1`)."""
    first = image.split("/", 1)[0]
    if "/" not in image:
        return f"docker.io/library/{image}"
    if "." in first or ":" in first or first == "localhost":
        return image
    return f"docker.io/{image}"


def overlay_images(objs: list[dict[str, Any]]) -> list[str]:
    """Every container image the rendered objects run (init containers included), as containerd names them."""
    out: set[str] = set()
    for obj in objs:
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            if c.get("image"):
                out.add(_full_ref(str(c["image"])))
    return sorted(out)


def missing_images(objs: list[dict[str, Any]], imported: Mapping[str, str]) -> list[str]:
    return [i for i in overlay_images(objs) if i not in imported]


def check_images(kubeconfig: Path, objs: list[dict[str, Any]]) -> None:
    """On this machine's own cluster (nothing can be pulled: there is no registry), refuse an overlay
    whose images are not imported, before anything changes: switching to a store whose image is
    missing would remove the running store and start nothing (seen: Qdrant in ImagePullBackOff after
    Weaviate was removed). Another cluster pulls for itself: nothing is checked there."""
    from .config import ClusterConfig
    from .images import imported_digests

    cfg = ClusterConfig()
    if kubeconfig.resolve() != cfg.kubeconfig.resolve() or not cfg.containerd_socket.exists():
        return
    missing = missing_images(objs, imported_digests(cfg))
    if missing:
        raise DeployError(
            f"not in the local cluster's containerd: {', '.join(missing)}; nothing was changed. Import "
            "each first (`scaleproof images` builds ours; `scaleproof images import ARCHIVE` loads "
            "another's, e.g. a Qdrant image saved on a machine that can pull it)"
        )


# ------------------------------------------------------------------------------------ host paths
def prepare_host_paths(objs: list[dict[str, Any]], progress: Progress = print) -> list[tuple[str, int, int]]:
    """Create the hostPath directory of every PersistentVolume annotated `scaleproof.io/host-path-owner:
    UID:GID`, owned (recursively) by that user. Non-root pods cannot chown their volume, and the
    kubelet applies no fsGroup to hostPath. Returns (path, uid, gid) per directory."""
    done: list[tuple[str, int, int]] = []
    for obj in objs:
        if obj.get("kind") != "PersistentVolume":
            continue
        owner = ((obj.get("metadata") or {}).get("annotations") or {}).get(HOST_PATH_OWNER)
        path = ((obj.get("spec") or {}).get("hostPath") or {}).get("path")
        if not owner or not path:
            continue
        try:
            uid, gid = (int(x) for x in str(owner).split(":"))
        except ValueError as exc:
            raise DeployError(f"PV {obj['metadata']['name']}: {HOST_PATH_OWNER} must be UID:GID") from exc
        try:
            os.makedirs(path, mode=0o750, exist_ok=True)
            _chown_all([(path, uid, gid)])
        except PermissionError as exc:
            raise DeployError(
                f"cannot give {path} to {uid}:{gid} ({exc.strerror}): run the deploy as root, or "
                f"`sudo install -d -o {uid} -g {gid} {path}`"
            ) from exc
        done.append((path, uid, gid))
        progress(f"[deploy] {path} owned by {uid}:{gid} (PV {obj['metadata']['name']})")
    return done


def _chown_all(owned: list[tuple[str, int, int]]) -> None:
    """Give every file under each path to its owner (files appear and vanish meanwhile: tolerated)."""
    for path, uid, gid in owned:
        for root, dirs, files in os.walk(path):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                try:
                    if os.lstat(name).st_uid != uid or os.lstat(name).st_gid != gid:
                        os.lchown(name, uid, gid)
                except FileNotFoundError:
                    continue


# ------------------------------------------------------------------------- the other overlay's store
def _is_own_store(obj: Mapping[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return meta.get("name") in OWN_STORES and all(labels.get(k) == v for k, v in STORE_LABELS.items())


def other_stores(rendered: list[dict[str, Any]], live: list[dict[str, Any]]) -> list[str]:
    """Names of the live StatefulSets that are one of scaleproof's own vector stores (name in
    OWN_STORES and the STORE_LABELS) but not the store the rendered overlay deploys. Empty when the
    overlay deploys no store of its own (e.g. the app alone): nothing is being switched then."""
    mine = {o["metadata"]["name"] for o in rendered if o.get("kind") == "StatefulSet" and _is_own_store(o)}
    if not mine:
        return []
    return sorted(
        o["metadata"]["name"] for o in live if _is_own_store(o) and o["metadata"]["name"] not in mine
    )


def remove_other_stores(
    kubeconfig: Path,
    rendered: list[dict[str, Any]],
    namespace: str,
    progress: Progress = print,
    replace: bool = True,
    timeout_s: float = 300,
) -> list[str]:
    """Delete the StatefulSet and Services of every store `other_stores` finds in `namespace` (its
    PersistentVolumeClaims, hence its data, stay), and wait until its pods are gone; with
    `replace=False` refuse instead. Returns the objects deleted, as `Kind/name`."""
    apps, core = _apis(kubeconfig).apps, _apis(kubeconfig).core
    try:
        live = kube.call(apps.list_namespaced_stateful_set, namespace, label_selector=STORE_SELECTOR)
    except NotFound:  # the namespace does not exist yet: nothing to replace
        return []
    except ScaleproofError as exc:
        raise DeployError(f"cannot list the vector stores in {namespace}: {exc}") from exc
    stores = other_stores(rendered, list(live.get("items") or []))
    if stores and not replace:
        raise DeployError(
            f"StatefulSet {', '.join(stores)} (another scaleproof overlay's vector store) runs in namespace "
            f"{namespace}: deploy without --keep-other-store to remove it, or remove it yourself"
        )
    deleted: list[str] = []
    for name in stores:
        gone = _delete_store(apps, core, namespace, name)
        deleted += gone
        progress(
            f"[deploy] removed {', '.join(gone)} from {namespace}: scaleproof's {name} store, left by "
            f"another overlay; its PersistentVolumeClaims stay (`kubectl -n {namespace} delete pvc -l "
            f"app.kubernetes.io/name={name}` drops its data)"
        )
    for name in stores:
        _wait_pods_gone(core, namespace, f"app.kubernetes.io/name={name}", timeout_s, progress)
    return deleted


def _delete_store(apps: Any, core: Any, namespace: str, name: str) -> list[str]:
    """Delete StatefulSet `name` and its own Services (same name label, STORE_LABELS)."""
    deleted = []
    body = {"propagationPolicy": "Background"}
    try:
        kube.call(apps.delete_namespaced_stateful_set, name, namespace, body=body, what=f"statefulset {name}")
        deleted.append(f"StatefulSet/{name}")
    except NotFound:
        pass
    selector = f"{STORE_SELECTOR},app.kubernetes.io/name={name}"
    services = kube.call(core.list_namespaced_service, namespace, label_selector=selector, what="services")
    for svc in services.get("items") or []:
        svc_name = svc["metadata"]["name"]
        if svc_name not in (name, f"{name}-headless"):
            continue
        try:
            kube.call(core.delete_namespaced_service, svc_name, namespace, what=f"service {svc_name}")
            deleted.append(f"Service/{svc_name}")
        except NotFound:
            pass
    return deleted


def _wait_pods_gone(core: Any, namespace: str, selector: str, timeout_s: float, progress: Progress) -> None:
    """Watch the pods of `selector` until none is left (a store's pods stop within their grace)."""
    left: dict[str, str] = {}
    for ev in kube.list_then_watch(
        core.list_namespaced_pod,
        namespace,
        timeout_s=timeout_s,
        what="pods",
        filters={"label_selector": selector},
    ):
        if ev["type"] == "LISTED":
            left = {p["metadata"]["uid"]: p["metadata"]["name"] for p in ev["items"]}
        elif ev["type"] == "DELETED":
            left.pop(ev["object"]["metadata"]["uid"], None)
        elif ev["type"] in ("ADDED", "MODIFIED"):
            left[ev["object"]["metadata"]["uid"]] = ev["object"]["metadata"]["name"]
        if not left:
            return
    raise DeployError(f"pods {', '.join(sorted(left.values()))} still there after {timeout_s:.0f} s")


# -------------------------------------------------------------------------------------- rollout
def rollout_pending(workloads: list[dict[str, Any]], pods: list[dict[str, Any]]) -> list[str]:
    """Why each Deployment/StatefulSet is not rolled out yet (empty: all are), the way `kubectl
    rollout status` judges it: the controller has observed the current spec, every replica is
    updated, Ready (and available), no replica of an older revision is left, and none of the
    workload's pods is terminating or not Ready yet."""
    out: list[str] = []
    for w in workloads:
        ident = f"{w.get('kind')}/{w['metadata']['name']}"
        reasons = _workload_pending(w)
        selector = (w.get("spec") or {}).get("selector")
        for p in pods:
            if not kube.selector_matches(selector, (p.get("metadata") or {}).get("labels") or {}):
                continue
            pname = p["metadata"]["name"]
            if p["metadata"].get("deletionTimestamp"):
                reasons.append(f"pod {pname} terminating")
            elif (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed") and not pod_ready(p):
                reasons.append(f"pod {pname} not Ready")
        out += [f"{ident} {r}" for r in reasons]
    return out


def _workload_pending(w: Mapping[str, Any]) -> list[str]:
    spec, status = w.get("spec") or {}, w.get("status") or {}
    want = int(spec.get("replicas", 1))
    gen, seen = int((w.get("metadata") or {}).get("generation") or 0), status.get("observedGeneration")
    if seen is None or int(seen) < gen:
        return [f"generation {gen} not observed by its controller yet (at {seen})"]
    have, updated = int(status.get("replicas") or 0), int(status.get("updatedReplicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    partition = int((((spec.get("updateStrategy") or {}).get("rollingUpdate") or {}).get("partition")) or 0)
    out = []
    if updated < want - partition:
        out.append(f"{updated}/{want} updated")
    if have > updated and w.get("kind") == "Deployment":
        out.append(f"{have - updated} old replica(s) pending termination")
    elif have > want:
        out.append(f"{have - want} replica(s) above {want} pending termination")
    if ready < want:
        out.append(f"{ready}/{want} ready")
    if w.get("kind") == "Deployment" and int(status.get("availableReplicas") or 0) < updated:
        out.append(f"{int(status.get('availableReplicas') or 0)}/{updated} available")
    rev, cur = status.get("updateRevision"), status.get("currentRevision")
    rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
    if (
        w.get("kind") == "StatefulSet"
        and rolling
        and not partition
        and rev
        and cur
        and rev != cur
        and not out
    ):
        out.append(f"pods still at revision {cur}, not {rev}")
    return out


def wait_ready(
    kubeconfig: Path,
    timeout_s: float = 300,
    namespace: str = "scaleproof",
    progress: Progress = print,
    tick: Callable[[], None] | None = None,
    poll_s: float = 2.0,
) -> None:
    """Wait until every Deployment and StatefulSet in `namespace` is rolled out (`rollout_pending`
    is empty); `tick` runs on every poll. Raises DeployError naming what is pending, with the
    namespace's recent events, after `timeout_s`."""
    from .processes import wait_until

    apis = _apis(kubeconfig)
    state = {"pending": ["nothing read yet"], "last": ""}

    def rolled_out() -> bool:
        if tick is not None:
            tick()
        try:
            workloads = [
                *_items(apis.apps.list_namespaced_deployment, namespace, "Deployment"),
                *_items(apis.apps.list_namespaced_stateful_set, namespace, "StatefulSet"),
            ]
            pods = _items(apis.core.list_namespaced_pod, namespace, "Pod")
        except ScaleproofError as exc:
            raise DeployError(f"cannot read the workloads in {namespace}: {exc}") from exc
        state["pending"] = rollout_pending(workloads, pods)
        msg = "; ".join(state["pending"])
        if msg and msg != state["last"]:
            progress(f"[deploy] waiting: {msg}")
            state["last"] = msg
        return not state["pending"]

    if wait_until(rolled_out, timeout_s, interval_s=poll_s):
        progress(f"[deploy] every workload in {namespace} is rolled out and Ready")
        return
    raise DeployError(
        f"not rolled out after {timeout_s:.0f} s: {'; '.join(state['pending'])}\n"
        f"recent events:\n{_recent_events(apis, namespace)}"
    )


def _items(list_fn: Callable[..., Any], namespace: str, kind: str) -> list[dict[str, Any]]:
    body = kube.call(list_fn, namespace, what=f"{kind.lower()}s in {namespace}")
    return [{"kind": kind, **item} for item in body.get("items") or []]


def _recent_events(apis: kube.KubeApis, namespace: str, count: int = 15) -> str:
    try:
        items = kube.call(apis.core.list_namespaced_event, namespace, what="events").get("items") or []
    except ScaleproofError as exc:
        return f"(events unreadable: {exc})"

    def when(e: Mapping[str, Any]) -> str:
        return str(e.get("lastTimestamp") or e.get("eventTime") or "")

    lines = []
    for e in sorted(items, key=when)[-count:]:
        obj = e.get("involvedObject") or {}
        what = f"{obj.get('kind')}/{obj.get('name')}"
        lines.append(f"{when(e)} {e.get('type')} {e.get('reason')} {what}: {e.get('message')}")
    return "\n".join(lines)
