"""tests.e2e.pending: the e2e tests a run leaves out are listed with their reasons, never dropped."""

from __future__ import annotations

import pytest

from tests.e2e.pending import left_out

pytestmark = pytest.mark.unit

MODULE = """
import pytest

@pytest.mark.pending("failed on the cluster: node breached its claim")
def test_a():
    pass

@pytest.mark.full("covered by test_c in the CI tier")
def test_b():
    pass

def test_c():
    pass
"""


def test_the_default_tier_lists_pending_and_full_tests_with_their_reasons(tmp_path):
    (tmp_path / "test_tiers_default.py").write_text(MODULE)  # one name per test: pytest runs in-process
    found = left_out(tmp_path, full=False)
    assert not isinstance(found, int)
    assert [(m, nodeid.rsplit("::", 1)[1], why) for m, nodeid, why in found] == [
        ("pending", "test_a", "failed on the cluster: node breached its claim"),
        ("full", "test_b", "covered by test_c in the CI tier"),
    ]


def test_the_full_tier_leaves_out_only_pending_tests(tmp_path):
    (tmp_path / "test_tiers_full.py").write_text(MODULE)
    found = left_out(tmp_path, full=True)
    assert not isinstance(found, int) and [m for m, _, _ in found] == ["pending"]


def test_a_module_that_cannot_be_collected_gives_pytests_exit_code(tmp_path):
    (tmp_path / "test_broken.py").write_text("import nope_not_a_module\n")
    assert left_out(tmp_path, full=False) == 2
