"""Container images built on this machine, with no registry and no Docker engine.

An image is an OCI archive written here (layers are deterministic tars, so an unchanged input gives the
same digest and is neither rebuilt nor re-imported), then imported into containerd's `k8s.io`
namespace, where the kubelet's CRI finds it. Manifests pin these tags with
`imagePullPolicy: IfNotPresent`, so nothing is ever pulled.

Images: pause (the sandbox), debian-base (debootstrap from the machine's apt mirror, with python3),
searchapp (the reference app), weaviate and prometheus (upstream 3.16, web UI embedded) built from the
Go module proxy by `scaleproof cluster up`. Not imported by `scaleproof images`: agnhost, Kubernetes'
own e2e test server, whose archive is only written, for e2e tests to bring in with `scaleproof images
import` as a team brings its own archive.
"""

from __future__ import annotations

import bz2
import compileall
import gzip
import hashlib
import importlib.util
import io
import json
import logging
import lzma
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .config import ClusterConfig, NodeSpec
from .templates import PAUSE_IMAGE

__all__ = [
    "Layer",
    "ImageSpec",
    "dir_layer",
    "files_layer",
    "write_oci_archive",
    "build_images",
    "image_specs",
    "IMAGE_TAGS",
    "ImageBuildError",
    "ImageArchiveError",
    "agnhost_archive",
    "check_archive",
    "import_archive",
    "compile_bytecode",
    "source_bytecode",
]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]

IMAGE_TAGS: dict[str, str] = {
    "pause": PAUSE_IMAGE,
    "debian-base": "localhost/scaleproof/debian-base:bookworm",
    "searchapp": "localhost/scaleproof/searchapp:0.1.0",
    "weaviate": "localhost/scaleproof/weaviate:1.39.0",
    "prometheus": "localhost/scaleproof/prometheus:3.16.0",
}


class ImageBuildError(RuntimeError):
    """An image could not be built or imported; the message says which and why."""


@dataclass(frozen=True)
class Layer:
    """An uncompressed layer tar on disk and its digest."""

    path: Path
    digest: str  # "sha256:…"
    size: int


@dataclass
class ImageSpec:
    name: str
    tag: str
    layers: list[Callable[[], Layer]]
    config: dict = field(default_factory=dict)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = 0
    info.uname = info.gname = ""
    return info


def _finish_layer(tmp: Path, final: Path) -> Layer:
    digest = _sha256_file(tmp)
    tmp.replace(final)
    final.with_suffix(".digest").write_text(digest)
    return Layer(final, digest, final.stat().st_size)


def _cached_layer(cache: Path, key: str) -> tuple[Path, Layer | None]:
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / f"{key}.tar"
    dfile = final.with_suffix(".digest")
    if final.exists() and dfile.exists():
        return final, Layer(final, dfile.read_text().strip(), final.stat().st_size)
    return final, None


SKIP_ROOTFS = ("dev/", "proc/", "sys/", "run/", "tmp/", "var/cache/apt/", "var/lib/apt/lists/")


def dir_layer(cache: Path, key: str, root: Path, *, prefix: str = "", skip: tuple[str, ...] = ()) -> Layer:
    """A deterministic tar of `root` (sorted, mtime 0), placed under `prefix` in the image."""
    final, hit = _cached_layer(cache, key)
    if hit:
        return hit
    tmp = final.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, root)
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.normpath(os.path.join(rel_dir, name))
                if any(
                    (rel + ("/" if os.path.isdir(full) else "")).startswith(s) and rel + "/" != s
                    for s in skip
                ):
                    continue
                arcname = os.path.join(prefix, rel) if prefix else rel
                info = tar.gettarinfo(full, arcname)
                _normalise(info)
                if info.isreg():
                    with open(full, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return _finish_layer(tmp, final)


def files_layer(cache: Path, key: str, files: Iterable[tuple[str, Path | bytes, int]]) -> Layer:
    """A layer of single files: (path in image, source file or bytes, mode). Parent dirs are added."""
    final, hit = _cached_layer(cache, key)
    if hit:
        return hit
    tmp = final.with_suffix(".tmp")
    seen_dirs: set[str] = set()
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for dest, src, mode in sorted(files, key=lambda x: x[0]):
            parts = dest.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in seen_dirs:
                    seen_dirs.add(d)
                    dinfo = tarfile.TarInfo(d)
                    dinfo.type = tarfile.DIRTYPE
                    dinfo.mode = 0o755
                    tar.addfile(_normalise(dinfo))
            data = src if isinstance(src, bytes) else Path(src).read_bytes()
            info = tarfile.TarInfo(dest.strip("/"))
            info.size = len(data)
            info.mode = mode
            tar.addfile(_normalise(info), io.BytesIO(data))
    return _finish_layer(tmp, final)


def write_oci_archive(out: Path, tag: str, layers: list[Layer], config: dict) -> str:
    """Write an OCI image archive (tar of an OCI layout) for one image; returns the manifest digest.

    The index carries `io.containerd.image.name`, which `ctr images import` uses as the image name.
    """
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        "history": [{"created_by": "scaleproof images"} for _ in layers],
    }
    config_bytes = json.dumps(image_config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": layer.digest,
                "size": layer.size,
            }
            for layer in layers
        ],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": tag,
                    "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[1],
                },
            }
        ],
    }

    def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(_normalise(info), io.BytesIO(data))

    stamp = out.with_name(out.name + ".digest")
    if out.exists() and stamp.exists() and stamp.read_text().strip() == manifest_digest:
        return manifest_digest  # same content already written: skip copying the layers again
    tmp = out.with_suffix(".tmp")
    with tarfile.open(tmp, "w") as tar:
        add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add_bytes(tar, "index.json", json.dumps(index, sort_keys=True).encode())
        add_bytes(tar, f"blobs/sha256/{config_digest[7:]}", config_bytes)
        add_bytes(tar, f"blobs/sha256/{manifest_digest[7:]}", manifest_bytes)
        written: set[str] = set()
        for layer in layers:
            if layer.digest in written:
                continue
            written.add(layer.digest)
            info = tarfile.TarInfo(f"blobs/sha256/{layer.digest[7:]}")
            info.size = layer.size
            info.mode = 0o644
            with layer.path.open("rb") as f:
                tar.addfile(_normalise(info), f)
    tmp.replace(out)
    stamp.write_text(manifest_digest + "\n")
    return manifest_digest


# ---------------------------------------------------------------------------------------------------
# the project's images


def _run(cmd: list[str], what: str, **kw: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise ImageBuildError(f"{what} failed ({' '.join(cmd[:3])} …): {proc.stderr.strip()[-2000:]}")
    return proc


def apt_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt is configured with (never hard-coded here)."""
    # apt reads only *.list and *.sources in sources.list.d and ignores other names (e.g.
    # "x.list.disabled"); every URI of a file is considered, not only the first (a file may list the
    # security mirror before the main one).
    listed = sorted(p for p in (apt_dir / "sources.list.d").glob("*") if p.suffix in (".list", ".sources"))
    for path in [apt_dir / "sources.list", *listed]:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for m in re.finditer(r"^URIs:\s*(\S+)|^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M):
            uri = m.group(1) or m.group(2)
            if "security" not in uri:
                return uri
    raise ImageBuildError(f"no Debian mirror found in {apt_dir}/sources.list*; apt must be configured")


def debian_rootfs(cfg: ClusterConfig) -> Path:
    """A debootstrap'ed bookworm (minbase + python3 + ca-certificates), made once and cached."""
    root = cfg.cache_dir / "rootfs" / "debian-bookworm"
    stamp = root.parent / "debian-bookworm.done"
    if stamp.exists():
        return root
    if not shutil.which("debootstrap"):
        raise ImageBuildError("debootstrap is missing: apt-get install debootstrap")
    if root.exists():
        shutil.rmtree(root)
    log.info("debootstrap bookworm into %s (a few minutes, once)", root)
    _run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,ca-certificates",
            "bookworm",
            str(root),
            apt_mirror(),
        ],
        "debootstrap",
    )
    for junk in (
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/locale",
    ):
        p = root / junk
        if p.exists():
            shutil.rmtree(p)
            p.mkdir(parents=True)
    stamp.write_text("ok\n")
    return root


def _tree_key(*paths: Path, extra: str = "") -> str:
    """A content key of files (path, size, mtime, and content hash for small trees)."""
    h = hashlib.sha256(extra.encode())
    for base in paths:
        if base.is_file():
            h.update(base.name.encode())
            h.update(base.read_bytes())
            continue
        for p in sorted(base.rglob("*")):
            if "__pycache__" in p.parts or not p.is_file():
                continue
            h.update(str(p.relative_to(base)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def pause_binary(cfg: ClusterConfig) -> Path:
    src = Path(__file__).with_name("pause.c")
    out = cfg.cache_dir / "bin" / f"pause-{_tree_key(src)}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        _run(["gcc", "-Os", "-Wall", "-Werror", "-static", "-o", str(out), str(src)], "compiling pause")
    return out


# Debian bookworm's python3 (the app image's interpreter) is 3.11: bytecode written here must carry its tag.
IMAGE_PYTHON_CACHE_TAG = "cpython-311"


def _check_bytecode_interpreter() -> None:
    if sys.implementation.cache_tag != IMAGE_PYTHON_CACHE_TAG:
        raise ImageBuildError(
            f"the app image runs Python 3.11 ({IMAGE_PYTHON_CACHE_TAG}) but scaleproof runs on "
            f"{sys.implementation.cache_tag}: its bytecode would be ignored; run scaleproof from a 3.11 venv"
        )


def compile_bytecode(root: Path) -> None:
    """Byte-compile a tree with hash-based pycs that are never re-validated.

    Why: the image runs read-only as user 10001 with PYTHONDONTWRITEBYTECODE, so without pycs every
    start compiles every imported module again (measured: ~1.4 CPU-s of a ~3 s start). Timestamp pycs
    would not do: layers store mtime 0, so their recorded source mtime never matches. The tree is
    pinned and immutable in the image, hence `unchecked-hash`.
    """
    _check_bytecode_interpreter()
    ok = compileall.compile_dir(
        str(root), quiet=1, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH
    )
    if not ok:
        raise ImageBuildError(f"byte-compiling {root} failed (the files are named above)")


def source_bytecode(src: Path, dest: str) -> bytes:
    """A checked-hash pyc of one source file as it will sit at `dest` in the image (tracebacks name it)."""
    _check_bytecode_interpreter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.pyc"
        py_compile.compile(
            str(src),
            cfile=str(out),
            dfile=dest,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
        return out.read_bytes()


def app_site_packages(cfg: ClusterConfig) -> Path:
    """pip install --target of app/requirements.txt (bookworm's python is 3.11, as ours), byte-compiled."""
    req = REPO_ROOT / "app" / "requirements.txt"
    if not req.exists():
        raise ImageBuildError(f"{req} is missing: the app image needs its pinned requirements")
    target = cfg.cache_dir / "site-packages" / _tree_key(req, extra="pyc-unchecked-hash")
    if (target / ".done").exists():
        return target
    if target.exists():
        shutil.rmtree(target)
    log.info("pip install --target for the app image (cached afterwards)")
    _run(
        [
            os.environ.get("SCALEPROOF_PIP", "pip"),
            "install",
            "--quiet",
            "--no-compile",
            "--target",
            str(target),
            "-r",
            str(req),
        ],
        "pip install of app requirements",
    )
    compile_bytecode(target)
    (target / ".done").write_text("ok\n")
    return target


def image_specs(cfg: ClusterConfig) -> dict[str, ImageSpec]:
    layers = cfg.images_dir / "layers"

    def base() -> Layer:
        return dir_layer(layers, "debian-bookworm", debian_rootfs(cfg), skip=SKIP_ROOTFS)

    def pause() -> Layer:
        binary = pause_binary(cfg)
        return files_layer(layers, f"pause-{binary.name}", [("/pause", binary, 0o755)])

    def app_deps() -> Layer:
        sp = app_site_packages(cfg)
        return dir_layer(
            layers, f"app-deps-{sp.name}", sp, prefix="opt/searchapp/site-packages", skip=(".done",)
        )

    def app_src() -> Layer:
        src = REPO_ROOT / "app" / "searchapp"
        corpus = REPO_ROOT / "loadgen" / "corpus"
        files: list[tuple[str, Path | bytes, int]] = []
        for p in sorted(src.rglob("*.py")):
            dest = f"/opt/searchapp/src/searchapp/{p.relative_to(src)}"
            files.append((dest, p, 0o644))
            files.append((importlib.util.cache_from_source(dest), source_bytecode(p, dest), 0o644))
        return files_layer(layers, f"app-src-{_tree_key(src, corpus, extra='pyc-checked-hash')}", files)

    def weaviate() -> Layer:
        binary = cfg.binary("weaviate-server")
        if not binary.exists():
            raise ImageBuildError(f"{binary} is missing: run `scaleproof cluster up` (it builds weaviate)")
        return files_layer(
            layers, f"weaviate-{_sha256_file(binary)[7:23]}", [("/bin/weaviate-server", binary, 0o755)]
        )

    def prometheus() -> Layer:
        binaries = [cfg.binary("prometheus"), cfg.binary("promtool")]
        missing = [str(b) for b in binaries if not b.exists()]
        if missing:
            raise ImageBuildError(
                f"{', '.join(missing)} missing: run `scaleproof cluster up` (it builds Prometheus 3.16)"
            )
        key = hashlib.sha256("".join(_sha256_file(b) for b in binaries).encode()).hexdigest()[:16]
        return files_layer(
            layers,
            f"prometheus-{key}",
            [(f"/bin/{b.name}", b, 0o755) for b in binaries],
        )

    nobody = "65534:65534"
    return {
        "pause": ImageSpec(
            "pause", IMAGE_TAGS["pause"], [pause], {"Entrypoint": ["/pause"], "User": "65535:65535"}
        ),
        "debian-base": ImageSpec("debian-base", IMAGE_TAGS["debian-base"], [base], {"Cmd": ["/bin/bash"]}),
        "searchapp": ImageSpec(
            "searchapp",
            IMAGE_TAGS["searchapp"],
            [base, app_deps, app_src],
            {
                "Cmd": ["python3", "-m", "searchapp"],
                "Env": [
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "PYTHONPATH=/opt/searchapp/src:/opt/searchapp/site-packages",
                    "PYTHONDONTWRITEBYTECODE=1",
                    "PYTHONUNBUFFERED=1",
                    "PORT=8080",
                ],
                "User": "10001:10001",
                "WorkingDir": "/opt/searchapp",
                "ExposedPorts": {"8080/tcp": {}},
            },
        ),
        "weaviate": ImageSpec(
            "weaviate",
            IMAGE_TAGS["weaviate"],
            [base, weaviate],
            {
                "Entrypoint": ["/bin/weaviate-server"],
                "Cmd": ["--host", "0.0.0.0", "--port", "8080", "--scheme", "http"],
                "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                "ExposedPorts": {"8080/tcp": {}, "50051/tcp": {}},
            },
        ),
        "prometheus": ImageSpec(
            "prometheus",
            IMAGE_TAGS["prometheus"],
            [base, prometheus],
            {
                "Entrypoint": ["/bin/prometheus"],
                "User": nobody,
                "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                "ExposedPorts": {"9090/tcp": {}},
            },
        ),
    }


def _ctr(cfg: ClusterConfig, *args: str, sock: Path | None = None) -> list[str]:
    return ["ctr", "--address", str(sock or cfg.containerd_socket), "--namespace", "k8s.io", *args]


def _sockets(cfg: ClusterConfig, nodes: Iterable[NodeSpec] | None) -> list[Path]:
    """The containerd sockets to import into: the nodes given, else every node of the cluster whose
    containerd runs (node 0's socket alone when no extra node runs)."""
    if nodes is None:
        from .nodes import registered

        nodes = [n for n in registered(cfg) if n.control_plane or n.containerd_socket.exists()]
    return [n.containerd_socket for n in nodes]


def imported_digests(cfg: ClusterConfig, sock: Path | None = None) -> dict[str, str]:
    """tag -> manifest/index digest of the images containerd's k8s.io namespace holds."""
    proc = _run(_ctr(cfg, "images", "ls", sock=sock), "listing containerd images")
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 3:
            out[parts[0]] = parts[2]
    return out


def build_images(
    cfg: ClusterConfig,
    names: Iterable[str] | None = None,
    progress: Callable[[str], None] = print,
    import_: bool = True,
    nodes: Iterable[NodeSpec] | None = None,
) -> dict[str, str]:
    """Build (cached) and import the named images into every node's containerd (or the `nodes`
    given); returns tag -> manifest digest. Without `import_` only the archives are written
    (containerd need not run)."""
    specs = image_specs(cfg)
    wanted = list(names) if names is not None else list(specs)
    unknown = [n for n in wanted if n not in specs]
    if unknown:
        raise ImageBuildError(f"unknown image(s) {unknown}; known: {sorted(specs)}")
    cfg.images_dir.mkdir(parents=True, exist_ok=True)
    sockets = _sockets(cfg, nodes) if import_ else []
    present = {sock: imported_digests(cfg, sock) for sock in sockets}
    result: dict[str, str] = {}
    for i, name in enumerate(wanted, 1):
        spec = specs[name]
        progress(f"[images {i}/{len(wanted)}] {spec.tag}: preparing layers")
        layers = [make() for make in spec.layers]
        archive = cfg.images_dir / f"{name}.oci.tar"
        digest = write_oci_archive(archive, spec.tag, layers, spec.config)
        result[spec.tag] = digest
        if not import_:
            progress(f"[images {i}/{len(wanted)}] {spec.tag}: archive written ({digest[:19]}), not imported")
            continue
        todo = [sock for sock in sockets if present[sock].get(spec.tag) != digest]
        if not todo:
            progress(f"[images {i}/{len(wanted)}] {spec.tag}: already imported ({digest[:19]})")
            continue
        where = "" if len(sockets) == 1 else f" on {', '.join(_node_of(s) for s in todo)}"
        progress(f"[images {i}/{len(wanted)}] {spec.tag}: importing into containerd (k8s.io){where}")
        # import unpacks into overlayfs, the snapshotter the CRI plugin uses; the nodes' imports run
        # side by side (each its own containerd, mostly disk-bound)
        argv = [
            _ctr(cfg, "images", "import", "--snapshotter", "overlayfs", str(archive), sock=s) for s in todo
        ]
        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            list(pool.map(_run, argv, [f"importing {spec.tag}"] * len(argv)))
    return result


def _node_of(sock: Path) -> str:
    """The node a containerd socket belongs to, for progress lines (…/nodes/<name>/containerd/…)."""
    parts = sock.parts
    return parts[parts.index("nodes") + 1] if "nodes" in parts else "scaleproof-node"


# ---------------------------------------------------------------------------------------------------
# applications nobody here wrote: a team's own archive, and agnhost (the e2e tests' second application)

#: agnhost's image name here (upstream's is registry.k8s.io/e2e-test-images/agnhost, built by them)
AGNHOST_REPO = "localhost/e2e-test-images/agnhost"


class ImageArchiveError(ImageBuildError):
    """An image archive is missing, corrupt, not importable, or held no named image."""


def agnhost_binary(cfg: ClusterConfig, progress: Callable[[str], None] = print) -> Path:
    """agnhost from test/images/agnhost of the pinned k8s.io/kubernetes (built once per pin)."""
    from .build import run_build_script
    from .config import VERSIONS, ClusterError

    binary, pin = cfg.binary("agnhost"), cfg.bin_dir / ".agnhost.pin"
    wanted = f"agnhost-k8s-{VERSIONS['kubernetes']}"  # the stamp build-components.sh writes
    if binary.exists() and pin.exists() and pin.read_text().strip() == wanted:
        return binary
    if shutil.which("go") is None:
        raise ImageBuildError("go is not installed; it builds agnhost from the Go module proxy")
    progress(
        f"[images] building agnhost from k8s.io/kubernetes v{VERSIONS['kubernetes']} with go "
        "(cold: a few minutes on 2 cores; cached afterwards)"
    )
    try:
        run_build_script(cfg, ["agnhost"], progress)
    except ClusterError as exc:
        raise ImageBuildError(str(exc)) from exc
    return binary


def agnhost_version(binary: Path) -> str:
    """The version agnhost reports (`app version 2.59`: upstream's test/images/agnhost/VERSION)."""
    out = _run([str(binary), "--version"], "agnhost --version").stdout.split()
    if len(out) < 3 or out[:2] != ["app", "version"]:
        raise ImageBuildError(f"{binary} --version printed {' '.join(out)!r}, not `app version X`")
    return out[2]


def agnhost_archive(cfg: ClusterConfig, progress: Callable[[str], None] = print) -> tuple[str, Path]:
    """Write (not import) the agnhost image archive; returns its name and path.

    The image is the static binary alone at /agnhost, entrypoint /agnhost like upstream's. It is the
    application of another team: tests bring it in with `scaleproof images import`, as a team would.
    """
    binary = agnhost_binary(cfg, progress)
    version = agnhost_version(binary)
    tag = f"{AGNHOST_REPO}:{version}"
    layer = files_layer(
        cfg.images_dir / "layers", f"agnhost-{_sha256_file(binary)[7:23]}", [("/agnhost", binary, 0o755)]
    )
    config = {
        "Entrypoint": ["/agnhost"],
        "Cmd": ["pause"],
        "ExposedPorts": {"8080/tcp": {}, "8081/udp": {}},
        "Labels": {"org.opencontainers.image.version": version},
    }
    out = cfg.images_dir / f"agnhost-{version}.tar"
    digest = write_oci_archive(out, tag, [layer], config)
    progress(f"[images] {tag}: archive {out} ({digest[:19]}), not imported")
    return tag, out


def _files(tar: tarfile.TarFile, path: Path) -> dict[str, int]:
    """Regular members of an archive, name (without a leading ./) -> size; refuses a cut-off file."""
    members = [m for m in tar.getmembers() if m.isfile()]
    if isinstance(tar.fileobj, io.BufferedReader):  # uncompressed: tarfile does not notice a short file
        size = path.stat().st_size
        cut = [m.name for m in members if m.offset_data + m.size > size]
        if cut:
            raise ImageArchiveError(
                f"{path}: {cut[0]} ends past the end of the file: the archive is truncated"
            )
    return {m.name.removeprefix("./"): m.size for m in members}


def _read_json(tar: tarfile.TarFile, name: str, path: Path) -> object:
    names = tar.getnames()
    f = tar.extractfile(name if name in names else "./" + name)
    try:
        return json.loads(f.read()) if f else None
    except ValueError as exc:
        raise ImageArchiveError(f"{path}: {name} is not valid JSON ({exc})") from exc


def _check_oci(tar: tarfile.TarFile, path: Path, files: dict[str, int]) -> None:
    """Every blob the index and its manifests reference is in the archive, at its declared size."""
    index = _read_json(tar, "index.json", path)
    pending = list(index.get("manifests", [])) if isinstance(index, dict) else []
    if not pending:
        raise ImageArchiveError(f"{path}: index.json lists no manifest")
    while pending:
        desc = pending.pop()
        name = "blobs/" + str(desc.get("digest", "")).replace(":", "/", 1)
        if files.get(name) != desc.get("size"):
            found = "missing" if name not in files else f"{files[name]} bytes"
            raise ImageArchiveError(
                f"{path}: blob {desc.get('digest')} ({desc.get('size')} bytes) is {found}: "
                "the archive is truncated or corrupt"
            )
        if re.search(r"(manifest|index)[.a-z0-9]*\+json$", str(desc.get("mediaType", ""))):
            body = _read_json(tar, name, path)
            if isinstance(body, dict):
                pending += [*body.get("manifests", []), *body.get("layers", [])]
                pending += [body["config"]] if "config" in body else []


def _check_docker(tar: tarfile.TarFile, path: Path, files: dict[str, int]) -> None:
    """`docker save` layout: manifest.json's config and layers are in the archive."""
    entries = _read_json(tar, "manifest.json", path)
    if not isinstance(entries, list) or not entries:
        raise ImageArchiveError(f"{path}: manifest.json is not a non-empty list of images")
    for entry in entries:
        for name in [entry.get("Config"), *entry.get("Layers", [])]:
            if name not in files:
                raise ImageArchiveError(
                    f"{path}: {name} (listed in manifest.json) is missing: truncated or corrupt"
                )


def check_archive(path: Path) -> str:
    """'oci' or 'docker' when `path` is a complete image archive; ImageArchiveError saying why not."""
    if not path.exists():
        raise ImageArchiveError(f"{path}: no such file")
    if not path.is_file():
        raise ImageArchiveError(f"{path}: not a file")
    try:
        tar = tarfile.open(path, "r:*")
    except tarfile.ReadError as exc:
        why = str(exc).splitlines()[-1].lstrip("- ")  # tarfile lists every method it tried; tar's is last
        raise ImageArchiveError(f"{path}: not a tar archive (plain or gzip/bzip2/xz): {why}") from exc
    with tar:
        try:
            files = _files(tar, path)
            if "oci-layout" in files and "index.json" in files:
                _check_oci(tar, path, files)
                return "oci"
            if "manifest.json" in files:
                _check_docker(tar, path, files)
                return "docker"
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise ImageArchiveError(f"{path}: truncated or corrupt archive ({exc})") from exc
    raise ImageArchiveError(
        f"{path}: a tar archive, but neither an OCI image layout (oci-layout + index.json) nor a "
        f"`docker save` archive (manifest.json); it holds {sorted(files)[:5]}"
    )


def _decompressed(path: Path, into: Path) -> Path | None:
    """A plain-tar copy of a gzip/bzip2/xz archive in `into` (ctr 1.6 reads plain tars only)."""
    with path.open("rb") as f:
        magic = f.read(2)
    codec = {b"\x1f\x8b": gzip, b"BZ": bz2, b"\xfd7": lzma}.get(magic)
    if codec is None:
        return None
    into.mkdir(parents=True, exist_ok=True)
    out = into / f"import-{os.getpid()}.tar"
    with codec.open(path, "rb") as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return out


def import_archive(cfg: ClusterConfig, path: Path, base_name: str | None = None) -> list[str]:
    """Import a team's OCI or docker archive into containerd (k8s.io); returns the image names.

    `base_name` names the images an OCI archive tags without a repository (ctr's --base-name);
    without it containerd would call them `import-<date>:<tag>`.
    """
    check_archive(path)
    if not cfg.containerd_socket.exists():
        raise ImageArchiveError(
            f"containerd socket {cfg.containerd_socket} not found: start the local cluster with "
            "`scaleproof cluster up` (other clusters: `minikube image load` / `kind load image-archive`)"
        )
    plain = _decompressed(path, cfg.images_dir / "tmp")
    try:
        for sock in _sockets(cfg, None):  # every node: a pod may land on any of them
            argv = _ctr(cfg, "images", "import", "--snapshotter", "overlayfs", sock=sock)
            argv += ["--base-name", base_name] if base_name else []
            proc = _run([*argv, str(plain or path)], f"importing {path}")
    except ImageBuildError as exc:
        raise ImageArchiveError(str(exc)) from exc
    finally:
        if plain:
            plain.unlink(missing_ok=True)
    # ctr prints one "unpacking NAME (DIGEST)...done" per named image it imported and unpacked
    names = re.findall(r"^unpacking (\S+) \(sha256:[0-9a-f]{64}\)", proc.stdout, re.M)
    if not names:
        raise ImageArchiveError(
            f"{path}: containerd imported no named image; an OCI archive needs the annotation "
            "io.containerd.image.name (or a full name in org.opencontainers.image.ref.name) on its index"
        )
    unnamed = [n for n in names if re.match(r"import-\d{4}-\d\d-\d\d:", n)]
    if unnamed:
        log.warning(
            "%s tags images without a repository: containerd named them %s (see --name)", path, unnamed
        )
    return names
