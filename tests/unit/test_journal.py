"""Journal loading: every bad file is a JournalError naming the file and what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scaleproof.journal import (
    JournalError,
    display_path,
    expand_journal_paths,
    experiment_kind,
    find_evidence,
    load_journal,
    run_label,
)

pytestmark = pytest.mark.unit

FIX = Path(__file__).parents[1] / "fixtures" / "journals"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("empty.json", "empty file"),
        ("truncated.json", "truncated JSON: the document ends at line"),
        ("corrupt.json", "corrupt JSON: Expecting value at line"),
        ("not-a-journal.json", "this looks like an experiment, not a journal"),
        ("array.json", "top level is a JSON list"),
    ],
)
def test_broken_files_raise_journal_error_naming_the_file(name: str, problem: str) -> None:
    path = FIX / "broken" / name
    with pytest.raises(JournalError) as info:
        load_journal(path)
    assert info.value.path == str(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in info.value.problem


def test_truncated_between_tokens_is_called_truncated(tmp_path: Path) -> None:
    p = tmp_path / "cut.json"
    p.write_text('{"status": "completed", "run": [1, 2')
    with pytest.raises(JournalError, match="truncated JSON"):
        load_journal(p)


def test_whitespace_only_is_empty(tmp_path: Path) -> None:
    p = tmp_path / "blank.json"
    p.write_text("\n  \n")
    with pytest.raises(JournalError, match="empty file"):
        load_journal(p)


def test_binary_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "bin.json"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(JournalError, match="not UTF-8"):
        load_journal(p)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no such file"):
        load_journal(tmp_path / "nope.json")
    with pytest.raises(JournalError, match="is a directory"):
        load_journal(tmp_path)


def test_unknown_status_and_bad_shapes(tmp_path: Path) -> None:
    good = json.loads((FIX / "pod-kill-pass-1.json").read_text())
    for mutate, msg in (
        (lambda d: d.update(status="exploded"), "unknown journal status 'exploded'"),
        (lambda d: d.update(run={}), "`run` is not a list"),
        (lambda d: d.update(extensions={}), "`extensions` is not a list"),
        (lambda d: d.pop("steady_states"), "missing key(s) steady_states"),
    ):
        d = json.loads(json.dumps(good))
        mutate(d)
        p = tmp_path / "j.json"
        p.write_text(json.dumps(d))
        with pytest.raises(JournalError) as info:
            load_journal(p)
        assert msg in str(info.value)


def test_valid_journal_loads_with_evidence() -> None:
    journal = load_journal(FIX / "pod-kill-pass-1.json")
    ev = find_evidence(journal)
    assert ev is not None and ev["version"] == 1
    assert experiment_kind(journal) == "pod-kill"
    assert run_label(journal, "x") == "20261201T223344Z-pod-kill-p1"


def test_kind_and_label_without_evidence_come_from_experiment_and_file() -> None:
    journal = load_journal(FIX / "pod-kill-no-evidence.json")
    assert find_evidence(journal) is None
    assert experiment_kind(journal) == "pod-kill"
    assert run_label(journal, "pod-kill-no-evidence") == "pod-kill-no-evidence"


def test_expand_journal_paths_sorted_deduplicated(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text("{}")
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "journal.json").write_text("{}")
    (tmp_path / "run1" / "events.json").write_text("{}")
    got = expand_journal_paths([tmp_path, tmp_path / "a.json"])
    assert [p.relative_to(tmp_path).as_posix() for p in got] == ["a.json", "b.json", "run1/journal.json"]


def test_display_path_in_reports_and_as_named_in_evidence(tmp_path, monkeypatch):
    (tmp_path / "experiments").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "experiments").symlink_to(tmp_path / "experiments")
    monkeypatch.chdir(tmp_path)
    linked = tmp_path / "pkg" / "experiments" / "pod-kill.yaml"
    assert display_path(linked) == "experiments/pod-kill.yaml"
    assert display_path(linked, as_named=True) == "pkg/experiments/pod-kill.yaml"
    outside = tmp_path.parent / "elsewhere" / "run-1"
    assert display_path(outside) == "run-1"
    assert display_path(outside, as_named=True) == outside.as_posix()
    assert display_path("../x/run-2") == display_path("../x/run-2", as_named=True) == "../x/run-2"


def test_load_evidence_of_a_journal_and_of_a_run_dir(tmp_path: Path) -> None:
    from scaleproof.journal import load_evidence

    fix = Path(__file__).parents[1] / "fixtures" / "journals" / "pod-kill-pass-1.json"
    block = load_evidence(fix)
    assert block["name"] == "scaleproof" and block["metrics"]["kills"]["value"] > 0
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "evidence.json").write_text(json.dumps(block))
    assert load_evidence(tmp_path / "run") == block
    (tmp_path / "run" / "evidence.json").write_text("{}")
    with pytest.raises(JournalError, match="not a scaleproof evidence block"):
        load_evidence(tmp_path / "run")
    with pytest.raises(JournalError, match="no scaleproof evidence block"):
        load_evidence(Path(__file__).parents[1] / "fixtures" / "journals" / "pod-kill-no-evidence.json")
