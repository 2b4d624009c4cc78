"""A team's image archive: checked before containerd sees it, imported, its names reported; agnhost's.

Archives are real ones written by images.write_oci_archive or laid out as `docker save` does; ctr's
output is a recording of `ctr images import` (containerd 1.6.20) on this machine.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from scaleproof.cluster import build, images
from scaleproof.cluster.config import VERSIONS, ClusterConfig
from scaleproof.cluster.images import (
    ImageArchiveError,
    ImageBuildError,
    agnhost_archive,
    check_archive,
    files_layer,
    import_archive,
    write_oci_archive,
)

pytestmark = pytest.mark.unit

SCALEPROOF = str(Path(sys.executable).parent / "scaleproof")
TAG = "localhost/team/shop:1.0"
# `ctr -n k8s.io images import --snapshotter overlayfs ARCHIVE`, recorded (see module docstring)
CTR_IMPORT_OUTPUT = "unpacking {name} (sha256:{digest})...done\n"


@pytest.fixture
def cfg(tmp_path: Path) -> ClusterConfig:
    return ClusterConfig(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache", run_dir=tmp_path / "run")


@pytest.fixture
def oci(tmp_path: Path) -> Path:
    body = b"#!/bin/sh\necho shop\n" + bytes(range(256)) * 200  # big enough that a cut hits data
    layer = files_layer(tmp_path / "layers", "shop", [("/shop", body, 0o755)])
    out = tmp_path / "shop.oci.tar"
    write_oci_archive(out, TAG, [layer], {"Entrypoint": ["/shop"]})
    return out


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _docker_save(path: Path, *, drop: str | None = None) -> Path:
    """The layout of `docker save` (pre-25): manifest.json, config json, one dir per layer."""
    members = {
        "manifest.json": json.dumps(
            [{"Config": "abc.json", "RepoTags": ["shop:1.0"], "Layers": ["l1/layer.tar"]}]
        ).encode(),
        "abc.json": b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}',
        "l1/layer.tar": b"\0" * 1024,
    }
    if drop:
        members.pop(drop)
    return _tar(path, members)


# ------------------------------------------------------------------------------ check_archive
def test_our_oci_archive_and_its_gzip_are_oci(oci: Path, tmp_path: Path) -> None:
    assert check_archive(oci) == "oci"
    gz = tmp_path / "shop.tar.gz"
    gz.write_bytes(gzip.compress(oci.read_bytes()))
    assert check_archive(gz) == "oci"


def test_docker_save_archive_is_docker(tmp_path: Path) -> None:
    assert check_archive(_docker_save(tmp_path / "d.tar")) == "docker"


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9])
def test_truncated_archive_is_refused(oci: Path, tmp_path: Path, cut: float) -> None:
    data = oci.read_bytes()
    bad = tmp_path / "cut.tar"
    bad.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ImageArchiveError, match=r"cut\.tar: .*truncated"):
        check_archive(bad)
    gz = gzip.compress(data)
    bad.write_bytes(gz[: int(len(gz) * cut)])
    with pytest.raises(ImageArchiveError, match=r"cut\.tar: .*truncated"):
        check_archive(bad)


def test_archive_with_a_missing_blob_names_it(oci: Path, tmp_path: Path) -> None:
    with tarfile.open(oci) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    index = json.loads(members["index.json"])
    manifest = json.loads(members["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
    layer = manifest["layers"][0]["digest"]
    del members["blobs/sha256/" + layer[7:]]
    with pytest.raises(
        ImageArchiveError, match=rf"blob {layer} \(\d+ bytes\) is missing: .*truncated or corrupt"
    ):
        check_archive(_tar(tmp_path / "holed.tar", members))


def test_docker_archive_without_its_layer_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(ImageArchiveError, match=r"l1/layer\.tar \(listed in manifest\.json\) is missing"):
        check_archive(_docker_save(tmp_path / "d.tar", drop="l1/layer.tar"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"not a tar archive .*empty file"),
        (b"PK\x03\x04 a zip file", r"not a tar archive"),
    ],
)
def test_not_a_tar(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.tar"
    path.write_bytes(content)
    with pytest.raises(ImageArchiveError, match=message):
        check_archive(path)


def test_a_tar_of_something_else(tmp_path: Path) -> None:
    path = _tar(tmp_path / "src.tar", {"README.md": b"hi", "main.go": b"package main"})
    with pytest.raises(
        ImageArchiveError, match=r"neither an OCI image layout .* holds \['README.md', 'main.go'\]"
    ):
        check_archive(path)


def test_index_that_is_not_json(tmp_path: Path) -> None:
    path = _tar(tmp_path / "x.tar", {"oci-layout": b"{}", "index.json": b"{not json"})
    with pytest.raises(ImageArchiveError, match=r"index\.json is not valid JSON"):
        check_archive(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageArchiveError, match=r"nope\.tar: no such file"):
        check_archive(tmp_path / "nope.tar")
    with pytest.raises(ImageArchiveError, match=r"not a file"):
        check_archive(tmp_path)


# ------------------------------------------------------------------------------ import_archive
def test_import_runs_ctr_and_returns_the_names_it_printed(
    cfg: ClusterConfig, oci: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg.containerd_socket.parent.mkdir(parents=True)
    cfg.containerd_socket.touch()
    seen: list[list[str]] = []

    class Proc:
        stdout = CTR_IMPORT_OUTPUT.format(name=TAG, digest="ab" * 32)

    monkeypatch.setattr(images, "_run", lambda cmd, what, **kw: seen.append(cmd) or Proc())
    assert import_archive(cfg, oci) == [TAG]
    assert seen == [
        ["ctr", "--address", str(cfg.containerd_socket), "--namespace", "k8s.io"]
        + ["images", "import", "--snapshotter", "overlayfs", str(oci)]
    ]


def test_import_of_a_gzipped_archive_hands_ctr_a_plain_tar(
    cfg: ClusterConfig, oci: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ctr 1.6 refuses compressed archives ("archive/tar: invalid tar header", seen here)."""
    cfg.containerd_socket.parent.mkdir(parents=True)
    cfg.containerd_socket.touch()
    gz = tmp_path / "shop.tar.gz"
    gz.write_bytes(gzip.compress(oci.read_bytes()))
    handed: list[bytes] = []

    def fake_run(cmd: list[str], what: str, **kw: object) -> object:
        handed.append(Path(cmd[-1]).read_bytes())
        assert "--base-name" in cmd and cmd[cmd.index("--base-name") + 1] == "localhost/team/shop"

        class Proc:
            stdout = CTR_IMPORT_OUTPUT.format(name=TAG, digest="cd" * 32)

        return Proc()

    monkeypatch.setattr(images, "_run", fake_run)
    assert import_archive(cfg, gz, base_name="localhost/team/shop") == [TAG]
    assert handed == [oci.read_bytes()]
    assert not list((cfg.images_dir / "tmp").iterdir()), "the plain copy is removed"


def test_import_of_an_archive_without_names_fails(
    cfg: ClusterConfig, oci: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg.containerd_socket.parent.mkdir(parents=True)
    cfg.containerd_socket.touch()

    class Proc:
        stdout = ""

    monkeypatch.setattr(images, "_run", lambda cmd, what, **kw: Proc())
    with pytest.raises(ImageArchiveError, match=r"imported no named image.*io\.containerd\.image\.name"):
        import_archive(cfg, oci)


def test_ctr_failure_is_an_archive_error(
    cfg: ClusterConfig, oci: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg.containerd_socket.parent.mkdir(parents=True)
    cfg.containerd_socket.touch()
    fail = ["sh", "-c", "echo 'ctr: content digest mismatch' >&2; exit 1"]
    monkeypatch.setattr(images, "_ctr", lambda c, *a, sock=None: fail)
    with pytest.raises(
        ImageArchiveError, match=r"importing .*shop\.oci\.tar failed .*content digest mismatch"
    ):
        import_archive(cfg, oci)


def test_no_containerd_no_import(cfg: ClusterConfig, oci: Path) -> None:
    with pytest.raises(ImageArchiveError, match=r"containerd socket .* not found: .*scaleproof cluster up"):
        import_archive(cfg, oci)


# ------------------------------------------------------------------------- the CLI, as typed
def _cli(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCALEPROOF_")}
    env.update(
        SCALEPROOF_STATE_DIR=str(tmp_path / "state"),
        SCALEPROOF_CACHE_DIR=str(tmp_path / "cache"),
        SCALEPROOF_RUNTIME_DIR=str(tmp_path / "run"),
    )
    return subprocess.run(
        [SCALEPROOF, *argv], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env
    )


def test_cli_import_of_a_missing_file(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "images", "import", "app.tar")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == "error: app.tar: no such file\n"


def test_cli_import_of_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / "app.tar").write_bytes(b"garbage" * 100)
    proc = _cli(tmp_path, "images", "import", "app.tar")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: app.tar: not a tar archive") and "Traceback" not in proc.stderr


def test_cli_import_without_a_cluster(tmp_path: Path, oci: Path) -> None:
    proc = _cli(tmp_path, "images", "import", str(oci))
    assert proc.returncode == 1
    assert "containerd socket" in proc.stderr and "scaleproof cluster up" in proc.stderr


def test_cli_names_still_build_and_import_is_listed(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "images", "--help")
    assert proc.returncode == 0
    assert "Usage: scaleproof images [--no-import] [NAME]... | import ARCHIVE" in proc.stdout
    assert "import" in proc.stdout.split("Commands:")[1]
    proc = _cli(tmp_path, "images", "nosuchimage")
    assert proc.returncode == 1 and proc.stderr.startswith("error: unknown image(s) ['nosuchimage']")


# ------------------------------------------------------------------------------------ agnhost
def _fake_agnhost(cfg: ClusterConfig, version_line: str = "app version 2.59") -> Path:
    cfg.bin_dir.mkdir(parents=True, exist_ok=True)
    binary = cfg.binary("agnhost")
    binary.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    (cfg.bin_dir / ".agnhost.pin").write_text(f"agnhost-k8s-{VERSIONS['kubernetes']}\n")
    return binary


def test_agnhost_archive_is_the_binary_alone_named_by_its_version(cfg: ClusterConfig) -> None:
    binary = _fake_agnhost(cfg)
    msgs: list[str] = []
    tag, path = agnhost_archive(cfg, progress=msgs.append)
    assert tag == "localhost/e2e-test-images/agnhost:2.59"
    assert path == cfg.images_dir / "agnhost-2.59.tar"
    assert check_archive(path) == "oci"
    with tarfile.open(path) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        (desc,) = index["manifests"]
        assert desc["annotations"]["io.containerd.image.name"] == tag
        manifest = json.load(tar.extractfile(f"blobs/sha256/{desc['digest'][7:]}"))  # type: ignore[arg-type]
        config = json.load(tar.extractfile(f"blobs/sha256/{manifest['config']['digest'][7:]}"))  # type: ignore[arg-type]
        (layer,) = manifest["layers"]
        blob = tar.extractfile(f"blobs/sha256/{layer['digest'][7:]}")
        with tarfile.open(fileobj=io.BytesIO(blob.read())) as ltar:  # type: ignore[union-attr]
            assert ltar.getnames() == ["agnhost"]
            assert ltar.getmember("agnhost").mode == 0o755
            assert ltar.extractfile("agnhost").read() == binary.read_bytes()  # type: ignore[union-attr]
    assert config["config"]["Entrypoint"] == ["/agnhost"] and config["config"]["Cmd"] == ["pause"]
    assert "not imported" in msgs[-1]
    first = path.read_bytes()
    assert agnhost_archive(cfg, progress=msgs.append) == (tag, path)
    assert path.read_bytes() == first, "deterministic: same binary, same archive"


def test_agnhost_is_built_when_its_pin_is_stale(cfg: ClusterConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_agnhost(cfg)
    (cfg.bin_dir / ".agnhost.pin").write_text("agnhost-k8s-1.0.0\n")
    builds: list[list[str]] = []

    def fake_build(c: ClusterConfig, components: list[str], progress: object) -> None:
        builds.append(components)
        (c.bin_dir / ".agnhost.pin").write_text(f"agnhost-k8s-{VERSIONS['kubernetes']}\n")

    monkeypatch.setattr(build, "run_build_script", fake_build)
    monkeypatch.setattr(images.shutil, "which", lambda name: "/usr/bin/go")
    agnhost_archive(cfg, progress=lambda m: None)
    assert builds == [["agnhost"]]
    agnhost_archive(cfg, progress=lambda m: None)
    assert builds == [["agnhost"]], "fresh pin: not built again"


def test_agnhost_that_reports_no_version_is_refused(cfg: ClusterConfig) -> None:
    _fake_agnhost(cfg, "development")
    with pytest.raises(ImageBuildError, match=r"--version printed 'development', not `app version X`"):
        agnhost_archive(cfg, progress=lambda m: None)
