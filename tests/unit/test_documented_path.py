"""The documented way to deploy each store on this machine (issue 23) is one that works: every
`scaleproof deploy` / `scaleproof images import` line in README.md and k8s/README.md parses with the
real CLI and names an overlay that exists, each store has its command, and no document or overlay
tells the reader to import with a bare `ctr` (it hangs here: the system socket, not the cluster's)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from scaleproof.cluster import cli

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "k8s" / "README.md"]


def documented(words: str) -> list[list[str]]:
    """The argument lists after `scaleproof <words>` in the docs' bash blocks (comments dropped)."""
    out = []
    for doc in DOCS:
        for block in re.findall(r"```bash\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                for part in re.split(r"&&|;", line.split("  #")[0]):
                    argv = shlex.split(part.strip(), comments=True)
                    argv = argv[1:] if argv[:1] and "=" in argv[0] else argv  # VAR=... prefix
                    if (
                        argv
                        and argv[0].endswith("scaleproof")
                        and argv[1:][: len(words.split())] == words.split()
                    ):
                        out.append(argv[1 + len(words.split()) :])
    return out


def test_each_store_has_its_documented_deploy_and_every_one_parses() -> None:
    deploys = documented("deploy")
    overlays = set()
    for args in deploys:
        ctx = cli.deploy.make_context("deploy", list(args))
        overlay = ROOT / ctx.params["overlay"]
        assert (overlay / "kustomization.yaml").is_file(), args
        overlays.add(ctx.params["overlay"])
    assert {"k8s/overlays/local", "k8s/overlays/qdrant-local"} <= overlays


def test_the_qdrant_image_is_imported_with_scaleproof_images_import() -> None:
    imports = documented("images import")
    assert imports, "no `scaleproof images import ARCHIVE` in the docs"
    command = cli.images.get_command(click.Context(cli.images), "import")
    assert command is not None
    for args in imports:
        command.make_context("import", list(args))  # ARCHIVE given, options known
    assert any(a and a[0].startswith("qdrant-") for a in imports)


def test_no_document_or_overlay_says_to_import_with_a_bare_ctr() -> None:
    texts = {p: p.read_text(encoding="utf-8") for p in DOCS}
    texts |= {p: p.read_text(encoding="utf-8") for p in (ROOT / "k8s").rglob("kustomization.yaml")}
    for path, text in texts.items():
        for m in re.finditer(r"ctr\s+-n\s+k8s\.io\s+images\s+import", text):
            after = " ".join(text[m.end() : m.end() + 160].split())
            assert "hangs" in after, f"{path}: `ctr -n k8s.io images import` offered as the way to import"
