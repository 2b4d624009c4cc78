"""Images without a registry: deterministic layers, a valid OCI layout, the apt mirror, build_images."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from scaleproof.cluster import images
from scaleproof.cluster.config import ClusterConfig
from scaleproof.cluster.images import (
    IMAGE_TAGS,
    ImageBuildError,
    Layer,
    apt_mirror,
    build_images,
    dir_layer,
    files_layer,
    write_oci_archive,
)
from scaleproof.cluster.templates import PAUSE_IMAGE

pytestmark = pytest.mark.unit


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def members(layer: Layer) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(layer.path) as tar:
        return {m.name: m for m in tar.getmembers()}


def read_member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read()


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    """A small tree with mount points, junk to skip, a symlink and an executable."""
    root = tmp_path / "rootfs"
    for d in ("bin", "etc/app", "proc/1", "tmp", "var/cache/apt"):
        (root / d).mkdir(parents=True)
    (root / "bin/tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (root / "bin/tool").chmod(0o755)
    (root / "etc/app/conf").write_text("a=1\n")
    (root / "proc/1/status").write_text("junk")
    (root / "tmp/scratch").write_text("junk")
    (root / "var/cache/apt/pkg.deb").write_text("junk")
    (root / ".done").write_text("ok\n")
    (root / "etc/link").symlink_to("app/conf")
    return root


SKIP = ("proc/", "tmp/", "var/cache/apt/", ".done")


def test_dir_layer_is_deterministic_across_caches_and_mtimes(rootfs: Path, tmp_path: Path) -> None:
    a = dir_layer(tmp_path / "cache-a", "k", rootfs, skip=SKIP)
    copy = tmp_path / "copy"
    shutil.copytree(rootfs, copy, symlinks=True)
    for p in copy.rglob("*"):
        os.utime(p, (1_234_567, 1_234_567), follow_symlinks=False)
    b = dir_layer(tmp_path / "cache-b", "k", copy, skip=SKIP)
    assert a.digest == b.digest
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.digest == sha(a.path.read_bytes()) and a.size == a.path.stat().st_size
    assert (tmp_path / "cache-a" / "k.digest").read_text() == a.digest


def test_dir_layer_content_and_skips(rootfs: Path, tmp_path: Path) -> None:
    layer = dir_layer(tmp_path / "cache", "k", rootfs, skip=SKIP)
    m = members(layer)
    # mount points stay as empty directories, their contents do not go into the image
    assert {"proc", "tmp", "var/cache/apt"} <= set(m)
    assert all(m[d].isdir() for d in ("proc", "tmp", "var/cache/apt"))
    assert not [n for n in m if n.startswith(("proc/", "tmp/", "var/cache/apt/"))]
    assert ".done" not in m
    assert {"bin/tool", "etc/app/conf", "etc/link"} <= set(m)
    assert m["etc/link"].issym() and m["etc/link"].linkname == "app/conf"
    assert m["bin/tool"].mode & 0o777 == 0o755
    assert read_member(layer.path, "etc/app/conf") == b"a=1\n"
    assert all(i.mtime == 0 and i.uname == "" and i.gname == "" for i in m.values())


def test_dir_layer_members_are_in_sorted_walk_order(rootfs: Path, tmp_path: Path) -> None:
    with tarfile.open(dir_layer(tmp_path / "c", "k", rootfs).path) as tar:
        names = tar.getnames()
    # siblings sorted, parents before children
    assert names.index("bin") < names.index("etc") < names.index("proc")
    assert names.index("etc/app") < names.index("etc/app/conf")
    assert len(names) == len(set(names))


def test_dir_layer_prefix(rootfs: Path, tmp_path: Path) -> None:
    m = members(dir_layer(tmp_path / "c", "k", rootfs, prefix="opt/x/site-packages", skip=SKIP))
    assert "opt/x/site-packages/etc/app/conf" in m
    assert all(n.startswith("opt/x/site-packages/") for n in m)
    assert "opt/x/site-packages/.done" not in m


def test_layers_are_cached_by_key(rootfs: Path, tmp_path: Path) -> None:
    first = dir_layer(tmp_path / "c", "k", rootfs)
    (rootfs / "etc/app/conf").write_text("changed\n")
    assert dir_layer(tmp_path / "c", "k", rootfs) == first  # same key: not rebuilt
    assert dir_layer(tmp_path / "c", "k2", rootfs).digest != first.digest


def test_files_layer(tmp_path: Path) -> None:
    src = tmp_path / "bin"
    src.write_bytes(b"\x7fELF...")
    files = [("/usr/local/bin/tool", src, 0o755), ("/etc/app/conf", b"x=1\n", 0o644), ("/pause", b"p", 0o700)]
    a = files_layer(tmp_path / "a", "k", files)
    b = files_layer(tmp_path / "b", "k", list(reversed(files)))
    assert a.digest == b.digest  # input order does not matter
    with tarfile.open(a.path) as tar:
        names = tar.getnames()
        infos = {i.name: i for i in tar.getmembers()}
    assert names == [
        "etc",
        "etc/app",
        "etc/app/conf",
        "pause",
        "usr",
        "usr/local",
        "usr/local/bin",
        "usr/local/bin/tool",
    ]
    assert all(infos[d].isdir() and infos[d].mode == 0o755 for d in ("etc", "usr/local/bin"))
    assert infos["usr/local/bin/tool"].mode == 0o755 and infos["pause"].mode == 0o700
    assert read_member(a.path, "usr/local/bin/tool") == b"\x7fELF..."
    assert read_member(a.path, "etc/app/conf") == b"x=1\n"
    assert all(i.mtime == 0 and i.uid == 0 and i.uname == "" for i in infos.values())


@pytest.fixture
def two_layers(tmp_path: Path) -> tuple[Layer, Layer]:
    c = tmp_path / "layers"
    return files_layer(c, "one", [("/a", b"aaa", 0o644)]), files_layer(c, "two", [("/b", b"bbbb", 0o644)])


def open_archive(path: Path) -> dict[str, bytes]:
    out = {}
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m)
            assert f is not None
            assert m.name not in out, f"duplicate member {m.name}"
            out[m.name] = f.read()
    return out


def test_oci_archive_is_a_valid_layout(tmp_path: Path, two_layers: tuple[Layer, Layer]) -> None:
    one, two = two_layers
    out = tmp_path / "img.oci.tar"
    digest = write_oci_archive(out, "localhost/scaleproof/x:1.2", [one, two], {"Cmd": ["/a"]})
    arc = open_archive(out)
    assert json.loads(arc["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    blobs = {k.removeprefix("blobs/sha256/"): v for k, v in arc.items() if k.startswith("blobs/sha256/")}
    assert set(arc) == {"oci-layout", "index.json", *(f"blobs/sha256/{k}" for k in blobs)}
    for name, data in blobs.items():
        assert hashlib.sha256(data).hexdigest() == name
    index = json.loads(arc["index.json"])
    (desc,) = index["manifests"]
    assert desc["annotations"]["io.containerd.image.name"] == "localhost/scaleproof/x:1.2"
    assert desc["annotations"]["org.opencontainers.image.ref.name"] == "1.2"
    assert desc["digest"] == digest
    manifest_bytes = blobs[digest[7:]]
    assert desc["size"] == len(manifest_bytes) and sha(manifest_bytes) == digest
    manifest = json.loads(manifest_bytes)
    config_bytes = blobs[manifest["config"]["digest"][7:]]
    assert manifest["config"]["size"] == len(config_bytes)
    config = json.loads(config_bytes)
    assert config["rootfs"]["diff_ids"] == [one.digest, two.digest]
    assert [(x["digest"], x["size"]) for x in manifest["layers"]] == [
        (one.digest, one.size),
        (two.digest, two.size),
    ]
    assert blobs[one.digest[7:]] == one.path.read_bytes()
    assert config["config"] == {"Cmd": ["/a"]}
    assert len(config["history"]) == 2
    assert (config["architecture"], config["os"]) == ("amd64", "linux")


def test_oci_archive_is_reproducible(tmp_path: Path, two_layers: tuple[Layer, Layer]) -> None:
    d1 = write_oci_archive(tmp_path / "1.tar", "localhost/a:1", list(two_layers), {})
    d2 = write_oci_archive(tmp_path / "2.tar", "localhost/a:1", list(two_layers), {})
    assert d1 == d2
    assert (tmp_path / "1.tar").read_bytes() == (tmp_path / "2.tar").read_bytes()
    assert write_oci_archive(tmp_path / "3.tar", "localhost/a:1", list(two_layers), {"User": "1"}) != d1
    assert not list(tmp_path.glob("*.tmp"))


def test_oci_archive_writes_a_repeated_layer_once(tmp_path: Path, two_layers: tuple[Layer, Layer]) -> None:
    one, two = two_layers
    out = tmp_path / "img.tar"
    digest = write_oci_archive(out, "localhost/a:1", [one, two, one], {})
    arc = open_archive(out)  # asserts there is no duplicate member
    blob_names = [k for k in arc if k.startswith("blobs/")]
    assert len(blob_names) == 4  # config, manifest, two distinct layers
    manifest = json.loads(arc[f"blobs/sha256/{digest[7:]}"])
    config = json.loads(arc[f"blobs/sha256/{manifest['config']['digest'][7:]}"])
    assert config["rootfs"]["diff_ids"] == [one.digest, two.digest, one.digest]
    assert [x["digest"] for x in manifest["layers"]] == [one.digest, two.digest, one.digest]


# --- apt mirror ------------------------------------------------------------------------------------


def apt_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (apt / name).write_text(text)
    return apt


DEB822 = """Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.example.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.example.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_apt_mirror_deb822(tmp_path: Path) -> None:
    assert (
        apt_mirror(apt_tree(tmp_path, {"sources.list.d/debian.sources": DEB822}))
        == "http://deb.example.org/debian"
    )


def test_apt_mirror_one_line_format(tmp_path: Path) -> None:
    text = (
        "# deb http://commented.example.org/debian bookworm main\n"
        "deb-src http://src.example.org/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] "
        "http://mirror.example.org/debian bookworm main\n"
    )
    assert apt_mirror(apt_tree(tmp_path, {"sources.list": text})) == "http://mirror.example.org/debian"


def test_apt_mirror_prefers_sources_list_over_the_directory(tmp_path: Path) -> None:
    apt = apt_tree(
        tmp_path,
        {
            "sources.list": "deb http://first.example.org/debian bookworm main\n",
            "sources.list.d/a.sources": DEB822,
        },
    )
    assert apt_mirror(apt) == "http://first.example.org/debian"


def test_apt_mirror_skips_a_security_mirror_listed_first(tmp_path: Path) -> None:
    text = (
        "deb http://security.debian.org/debian-security bookworm-security main\n"
        "deb http://deb.example.org/debian bookworm main\n"
    )
    assert apt_mirror(apt_tree(tmp_path, {"sources.list": text})) == "http://deb.example.org/debian"


def test_apt_mirror_ignores_files_apt_ignores(tmp_path: Path) -> None:
    apt = apt_tree(
        tmp_path,
        {
            "sources.list.d/a-cloud.list.disabled-by-farm": "deb https://pkgs.example.com/apt cloud main\n",
            "sources.list.d/debian.sources": DEB822,
        },
    )
    assert apt_mirror(apt) == "http://deb.example.org/debian"


def test_apt_mirror_without_a_mirror(tmp_path: Path) -> None:
    apt = apt_tree(
        tmp_path, {"sources.list": "# nothing\n", "sources.list.d/s.list": "deb http://security.x/ y main\n"}
    )
    with pytest.raises(ImageBuildError, match="no Debian mirror found"):
        apt_mirror(apt)


# --- build_images ----------------------------------------------------------------------------------


@pytest.fixture
def cfg(tmp_path: Path) -> ClusterConfig:
    return ClusterConfig(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", run_dir=tmp_path / "run")


@pytest.fixture
def no_containerd(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Records the commands build_images would run; containerd is never asked."""
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], what: str, **kw: object) -> object:
        calls.append(cmd)
        return None

    monkeypatch.setattr(images, "_run", fake_run)
    return calls


def test_unknown_image_is_refused_before_anything_runs(
    cfg: ClusterConfig, monkeypatch: pytest.MonkeyPatch, no_containerd: list[list[str]]
) -> None:
    monkeypatch.setattr(images, "imported_digests", lambda c, sock=None: pytest.fail("containerd was asked"))
    with pytest.raises(ImageBuildError) as err:
        build_images(cfg, ["pause", "nosuchimage"], progress=lambda m: None)
    assert "nosuchimage" in str(err.value)
    assert all(name in str(err.value) for name in IMAGE_TAGS)  # says what exists
    assert no_containerd == []
    assert not cfg.images_dir.exists()


def test_every_spec_has_its_pinned_tag(cfg: ClusterConfig) -> None:
    specs = images.image_specs(cfg)
    assert {n: s.tag for n, s in specs.items()} == IMAGE_TAGS
    assert specs["pause"].tag == PAUSE_IMAGE


def test_build_images_imports_only_what_changed(
    cfg: ClusterConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_containerd: list[list[str]]
) -> None:
    fake_pause = tmp_path / "pause-bin"
    fake_pause.write_bytes(b"\x7fELF pause")
    monkeypatch.setattr(images, "pause_binary", lambda c: fake_pause)
    present: dict[str, str] = {}
    monkeypatch.setattr(images, "imported_digests", lambda c, sock=None: dict(present))
    msgs: list[str] = []

    res = build_images(cfg, ["pause"], progress=msgs.append)
    archive = cfg.images_dir / "pause.oci.tar"
    (digest,) = res.values()
    assert list(res) == [PAUSE_IMAGE]
    index = json.loads(read_member(archive, "index.json"))
    assert index["manifests"][0]["digest"] == digest
    assert no_containerd == [
        [
            "ctr",
            "--address",
            str(cfg.containerd_socket),
            "--namespace",
            "k8s.io",
            "images",
            "import",
            "--snapshotter",
            "overlayfs",
            str(archive),
        ]
    ]
    # the image config runs the pause binary as a non-root user
    manifest = json.loads(read_member(archive, f"blobs/sha256/{digest[7:]}"))
    config = json.loads(read_member(archive, f"blobs/sha256/{manifest['config']['digest'][7:]}"))
    assert config["config"]["Entrypoint"] == ["/pause"]
    layer = read_member(archive, f"blobs/sha256/{manifest['layers'][0]['digest'][7:]}")
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        assert tar.getnames() == ["pause"] and tar.getmember("pause").mode == 0o755

    # containerd already holds that digest: not imported again, same digest
    present[PAUSE_IMAGE] = digest
    no_containerd.clear()
    assert build_images(cfg, ["pause"], progress=msgs.append) == res
    assert no_containerd == []
    assert any("already imported" in m for m in msgs)


def test_no_import_writes_the_archive_and_never_asks_containerd(
    cfg: ClusterConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_containerd: list[list[str]]
) -> None:
    fake_pause = tmp_path / "pause-bin"
    fake_pause.write_bytes(b"\x7fELF pause")
    monkeypatch.setattr(images, "pause_binary", lambda c: fake_pause)

    def no_ctr(c: ClusterConfig) -> dict[str, str]:
        raise AssertionError("containerd asked although import_=False")

    monkeypatch.setattr(images, "imported_digests", no_ctr)
    msgs: list[str] = []
    res = build_images(cfg, ["pause"], progress=msgs.append, import_=False)
    assert list(res) == [PAUSE_IMAGE] and (cfg.images_dir / "pause.oci.tar").exists()
    assert no_containerd == [] and "not imported" in msgs[-1]


def test_imported_digests_parses_ctr_output(cfg: ClusterConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    out = (
        "REF                             TYPE                            DIGEST     SIZE      PLATFORMS\n"
        "localhost/scaleproof/pause:3.10 application/vnd.oci.image.index sha256:abc 400.0 KiB linux/amd64\n"
    )

    class Proc:
        stdout = out

    seen: list[list[str]] = []
    monkeypatch.setattr(images, "_run", lambda cmd, what, **kw: seen.append(cmd) or Proc())
    assert images.imported_digests(cfg) == {"localhost/scaleproof/pause:3.10": "sha256:abc"}
    assert seen[0][:5] == ["ctr", "--address", str(cfg.containerd_socket), "--namespace", "k8s.io"]


def test_run_failure_raises_image_build_error(tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError, match=r"compiling x failed .*boom"):
        images._run(["sh", "-c", "echo boom >&2; exit 2"], "compiling x")
