"""app/Dockerfile (for docker/minikube/kind users) builds the image `scaleproof images` builds here.

Parsed with `dockerfile` (BuildKit's own parser); compared with the `searchapp` ImageSpec of
scaleproof/cluster/images.py, so the two cannot drift apart silently. No Docker here: never built.
"""

from __future__ import annotations

from pathlib import Path

import dockerfile
import pytest

from scaleproof.cluster.config import ClusterConfig
from scaleproof.cluster.images import image_specs

pytestmark = pytest.mark.unit

APP = Path(__file__).resolve().parents[2] / "app"


@pytest.fixture(scope="module")
def instructions() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(APP / "Dockerfile")))


@pytest.fixture(scope="module")
def spec() -> dict:
    config: dict = image_specs(ClusterConfig())["searchapp"].config
    return config


def _one(instructions: list[dockerfile.Command], cmd: str) -> dockerfile.Command:
    found = [i for i in instructions if i.cmd == cmd]
    assert len(found) == 1, f"{len(found)} {cmd} instructions"
    return found[0]


def test_base_is_python_3_11_on_bookworm_as_our_image(instructions: list[dockerfile.Command]) -> None:
    arg = _one(instructions, "ARG")
    assert arg.value == ("PYTHON_IMAGE=python:3.11-slim-bookworm",)
    assert _one(instructions, "FROM").value == ("${PYTHON_IMAGE}",)


def test_runtime_config_equals_the_offline_image(instructions: list[dockerfile.Command], spec: dict) -> None:
    assert _one(instructions, "CMD").json and list(_one(instructions, "CMD").value) == spec["Cmd"]
    assert _one(instructions, "USER").value == (spec["User"],)
    assert _one(instructions, "WORKDIR").value == (spec["WorkingDir"],)
    assert set(_one(instructions, "EXPOSE").value) == set(spec["ExposedPorts"])
    env = _one(instructions, "ENV").value
    ours = dict(zip(env[::2], env[1::2], strict=True))
    theirs = dict(e.split("=", 1) for e in spec["Env"])
    theirs.pop("PATH")  # the python image's PATH already has /usr/local/bin first
    assert ours == theirs


def test_installs_the_pinned_requirements_where_pythonpath_looks(
    instructions: list[dockerfile.Command], spec: dict
) -> None:
    pythonpath = dict(e.split("=", 1) for e in spec["Env"])["PYTHONPATH"].split(":")
    run = [i for i in instructions if i.cmd == "RUN"][0]
    words = run.value[0].split()
    assert words[:2] == ["pip", "install"]
    assert words[words.index("--target") + 1] in pythonpath
    assert words[words.index("-r") + 1] == "/opt/searchapp/requirements.txt"
    copies = {i.value[0]: i.value[1] for i in instructions if i.cmd == "COPY"}
    assert copies == {
        "requirements.txt": "/opt/searchapp/requirements.txt",
        "searchapp/": "/opt/searchapp/src/searchapp/",
    }
    assert copies["searchapp/"].rstrip("/").rsplit("/", 1)[0] in pythonpath


def test_both_trees_are_byte_compiled_hash_based_as_in_the_offline_image(
    instructions: list[dockerfile.Command], spec: dict
) -> None:
    """Layers (ours) have mtime 0 and the container cannot write pycs: timestamp pycs would be useless."""
    pythonpath = dict(e.split("=", 1) for e in spec["Env"])["PYTHONPATH"].split(":")
    compiled: dict[str, str] = {}
    for run in (i for i in instructions if i.cmd == "RUN"):
        words = run.value[0].split()
        for n, w in enumerate(words[:-1]):
            if w == "compileall":
                mode = words[words.index("--invalidation-mode", n) + 1]
                tree = next(x for x in words[n:] if x.startswith("/"))
                compiled[tree] = mode
    assert compiled == {
        "/opt/searchapp/site-packages": "unchecked-hash",
        "/opt/searchapp/src": "checked-hash",
    }
    assert all(any(p.startswith(t) for t in compiled) for p in pythonpath)


def test_build_context_is_app_alone(instructions: list[dockerfile.Command]) -> None:
    for i in instructions:
        if i.cmd in ("COPY", "ADD"):
            src = i.value[0]
            assert ".." not in Path(src).parts and (APP / src).exists(), f"{src} is not in app/"
    ignored = (APP / ".dockerignore").read_text().split()
    assert "**/__pycache__" in ignored
