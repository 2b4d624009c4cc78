"""scaleproof.kube, the Kubernetes access layer: typed errors, clients, and the one list-then-watch
loop (list, mark listed, watch from the resourceVersion, bookmarks, relist on 410 Gone, deadline)."""

from __future__ import annotations

import json
import threading

import pytest

from scaleproof import kube
from scaleproof.errors import ClusterUnreachable, DeadlineExceeded, NotFound
from tests.unit.kubefake import FakeApiException, FakeTime, install, pod

pytestmark = pytest.mark.unit
SEL = "app.kubernetes.io/name=searchapp"


@pytest.fixture
def fake(monkeypatch):
    return install(monkeypatch)


def with_rv(obj, rv):
    obj["metadata"]["resourceVersion"] = rv
    return obj


def pods_watch(fake, *batches):
    fake.watch_scripts["list_namespaced_pod"] = list(batches)


def take(gen, n):
    """The first `n` events of the loop (then close it, as a caller that is done)."""
    out = []
    for ev in gen:
        out.append(ev)
        if len(out) == n:
            break
    gen.close()
    return out


def loop(fake, **kw):
    args = {"timeout_s": 30, "what": "pods", "pause_s": 0.0, "filters": {"label_selector": SEL}, **kw}
    return kube.list_then_watch(fake.core.list_namespaced_pod, "scaleproof", **args)


def test_unknown_deployment_is_not_found_with_name(fake):
    with pytest.raises(NotFound, match="scaleproof/nope"):
        kube.deployment("nope", "scaleproof")


def test_forbidden_is_reported(fake):
    fake.fail["list_pods"] = FakeApiException(403, "pods is forbidden")
    with pytest.raises(ClusterUnreachable, match="403"):
        kube.list_pods("scaleproof", SEL)


def test_call_decodes_raw_bytes():
    class Resp:
        data = b'{"items": [1]}'

    assert kube.call(lambda *a, **k: Resp(), what="x") == {"items": [1]}


def test_apis_without_kubeconfig_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    kube._CLIENTS.clear()
    with pytest.raises(ClusterUnreachable, match="KUBECONFIG"):
        kube.apis({})
    with pytest.raises(ClusterUnreachable, match="cannot load kubeconfig"):
        kube.apis({"kubeconfig": str(tmp_path / "missing")})


def test_lists_then_watches_from_the_list_version_and_resumes_from_the_last_one(fake):
    fake.pods = [pod("a"), pod("b")]
    pods_watch(
        fake,
        [{"type": "ADDED", "object": with_rv(pod("c"), "101")}],
        [{"type": "MODIFIED", "object": with_rv(pod("c", ready=False), "102")}],
    )
    events = take(loop(fake, window_s=5.0), 3)
    assert [e["type"] for e in events] == ["LISTED", "ADDED", "MODIFIED"]
    assert [p["metadata"]["name"] for p in events[0]["items"]] == ["a", "b"]
    assert all(isinstance(e["t"], float) for e in events)
    # the first watch starts at the list's version; the next one (the first ended: server timeout)
    # resumes from the last object's version, without a relist
    assert [w[2]["resource_version"] for w in fake.watches] == ["100", "101"]
    assert [c for c in fake.calls if c[0] == "list_pods"] == [("list_pods", "scaleproof", SEL)]
    assert all(w[1] <= 5.0 and w[2]["label_selector"] == SEL for w in fake.watches)


def test_bookmarks_advance_the_version_and_are_not_yielded(fake):
    fake.pods = [pod("a")]
    bookmark = {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": "150"}}}
    pods_watch(fake, [bookmark], [{"type": "ADDED", "object": with_rv(pod("d"), "151")}])
    events = take(loop(fake), 2)
    assert [e["type"] for e in events] == ["LISTED", "ADDED"]
    assert [w[2]["resource_version"] for w in fake.watches] == ["100", "150"]


def test_gone_raised_by_the_client_is_reported_then_relisted(fake):
    """410 Gone (the client raises it on a watch too old): INTERRUPTED, then a relist whose items
    replace the caller's state, then a watch from the relist's version."""
    fake.pods = [pod("a")]
    gone = FakeApiException(410, "too old resource version: 100 (180)")
    pods_watch(
        fake,
        [{"type": "ADDED", "object": with_rv(pod("b"), "101")}, gone],
        [{"type": "DELETED", "object": with_rv(pod("a"), "201")}],
    )
    events = []
    for ev in loop(fake):
        events.append(ev)
        if ev["type"] == "INTERRUPTED":  # while the watch is down, c is created
            fake.list_rv = "200"
            fake.pods = [pod("a"), pod("b"), pod("c")]
        if ev["type"] == "DELETED":
            break
    assert [e["type"] for e in events] == ["LISTED", "ADDED", "INTERRUPTED", "LISTED", "DELETED"]
    assert getattr(events[2]["error"], "status", None) == 410
    assert [p["metadata"]["name"] for p in events[3]["items"]] == ["a", "b", "c"]
    assert [w[2]["resource_version"] for w in fake.watches] == ["100", "200"]
    assert len([c for c in fake.calls if c[0] == "list_pods"]) == 2


def test_gone_sent_as_an_error_event_relists_at_once(fake):
    fake.pods = [pod("a")]
    expired = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
    pods_watch(fake, [expired], [{"type": "ADDED", "object": with_rv(pod("b"), "301")}])
    events = take(loop(fake), 3)
    assert [e["type"] for e in events] == ["LISTED", "LISTED", "ADDED"]  # the Status is not an object


def test_the_first_list_failing_raises(fake):
    fake.fail["list_pods"] = ConnectionRefusedError("connection refused")
    with pytest.raises(ClusterUnreachable, match="unreachable"):
        next(loop(fake))


def test_a_failing_relist_is_reported_and_retried(fake):
    fake.pods = [pod("a")]
    pods_watch(fake, [ConnectionResetError("reset by peer")])
    events = []
    for ev in loop(fake):
        events.append(ev)
        if ev["type"] == "INTERRUPTED" and "list_pods" not in fake.fail:
            fake.fail["list_pods"] = ConnectionRefusedError("connection refused")  # the relist fails
        elif ev["type"] == "INTERRUPTED":
            fake.fail.clear()  # the API server is back
        if len(events) == 4:
            break
    assert [e["type"] for e in events] == ["LISTED", "INTERRUPTED", "INTERRUPTED", "LISTED"]
    assert isinstance(events[2]["error"], ClusterUnreachable)


def test_the_deadline_ends_the_loop_in_fake_time(fake, monkeypatch):
    fake.pods = [pod("a")]

    def no_pause(_):
        raise AssertionError("nothing failed: no pause")

    clock = FakeTime(step_s=4.0, on_sleep=no_pause)  # every look at the clock costs 4 s
    monkeypatch.setattr(kube, "time", clock)
    events = list(loop(fake, timeout_s=30))  # empty watches: it would spin forever without a deadline
    assert [e["type"] for e in events] == ["LISTED"]
    assert fake.watches and all(w[1] <= 30 for w in fake.watches)
    assert clock.now - 1000.0 <= 30 + 3 * 4.0


def test_stop_ends_the_loop_before_the_next_event(fake):
    fake.pods = [pod("a")]
    pods_watch(fake, [{"type": "ADDED", "object": with_rv(pod("b"), "101")}])
    stop = threading.Event()
    gen = loop(fake, stop=stop)
    assert next(gen)["type"] == "LISTED"
    stop.set()
    assert list(gen) == []


def test_wait_replaces_its_state_on_a_relist_and_checks_between_events(fake, monkeypatch):
    fake.pods = [pod("a")]
    pods_watch(
        fake, [{"type": "ADDED", "object": with_rv(pod("b", ready=False), "101")}, FakeApiException(410)]
    )
    checks = []

    def check(what):
        checks.append(what)
        if len(checks) == 3:  # seen while the watch is down: b became Ready, c was created
            fake.pods = [pod("a"), pod("b"), pod("c")]

    monkeypatch.setattr(kube, "time", FakeTime(step_s=0.01))
    res = kube.wait_for_ready_replicas("scaleproof", SEL, min_ready=3, timeout_s=30, check=check)
    assert res["ready"] == 3
    assert checks == ["waiting for 3 Ready pods"] * 3  # after the list, the event, the interruption


def test_wait_raises_a_failed_relist_and_the_deadline(fake, monkeypatch):
    fake.pods = [pod("a")]
    pods_watch(fake, [FakeApiException(410)])
    down = FakeTime(
        step_s=0.01, on_sleep=lambda s: fake.fail.setdefault("list_pods", ConnectionError("down"))
    )
    monkeypatch.setattr(kube, "time", down)  # the API server goes away during the pause
    with pytest.raises(ClusterUnreachable):
        kube.wait_for_ready_replicas("scaleproof", SEL, min_ready=3, timeout_s=30)
    fake.fail.clear()
    fake.pods = []
    with pytest.raises(DeadlineExceeded, match="only 0 of 1"):
        kube.wait_for_ready_replicas("scaleproof", SEL, min_ready=1, timeout_s=0.2)


class _Response:
    """What the client returns with `_preload_content=False`: the body, or a stream of JSON lines."""

    status = 200

    def __init__(self, body: bytes = b"", lines: list[dict] | None = None) -> None:
        self.data = body
        self.lines = lines or []

    def stream(self, amt=None, decode_content=False):
        for line in self.lines:
            yield (json.dumps(line) + "\n").encode()

    def close(self):
        pass

    def release_conn(self):
        pass


def test_the_real_client_watch_bookmarks_and_gone_through_list_then_watch():
    """kubernetes.watch.Watch underneath: bookmarks requested and skipped, a 410 Gone sent by the
    server raised by the client, then relisted."""
    watches = [
        [
            {"type": "ADDED", "object": with_rv(pod("b"), "101")},
            {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": "150"}}},
        ],
        [
            {
                "type": "ERROR",
                "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
            }
        ],
        [{"type": "MODIFIED", "object": with_rv(pod("b", ready=False), "201")}],
    ]
    calls = []

    def list_namespaced_pod(namespace, **kw):
        calls.append(kw)
        if kw.get("watch"):
            return _Response(lines=watches.pop(0))
        rv = "100" if len([c for c in calls if not c.get("watch")]) == 1 else "200"
        return _Response(json.dumps({"items": [pod("a")], "metadata": {"resourceVersion": rv}}).encode())

    gen = kube.list_then_watch(
        list_namespaced_pod, "ns", timeout_s=30, what="pods", filters={"label_selector": SEL}, pause_s=0
    )
    events = take(gen, 5)
    assert [e["type"] for e in events] == ["LISTED", "ADDED", "INTERRUPTED", "LISTED", "MODIFIED"]
    assert getattr(events[2]["error"], "status", None) == 410
    watched = [c for c in calls if c.get("watch")]
    assert [c["resource_version"] for c in watched] == ["100", "150", "200"]
    assert all(c["allow_watch_bookmarks"] is True and c["label_selector"] == SEL for c in watched)
