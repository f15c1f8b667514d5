"""API key names are keys as declared (ledger/records.py): pattern and length, nothing written otherwise."""

from __future__ import annotations

import pytest

from ledger.application import ClaimsLedger
from ledger.errors import BadInput


@pytest.mark.parametrize("name", ["x" * 81, "Upper", "two  spaces", "", "trailing-"])
def test_a_key_name_that_is_not_a_key_is_refused_and_nothing_is_written(name: str) -> None:
    ledger = ClaimsLedger()
    with pytest.raises(BadInput) as refused:
        ledger.issue_api_key(name, "reader", "admin:test")
    assert refused.value.field == "name"
    assert ledger.ledger_recorder.tree_head().size == 0


def test_a_key_name_of_the_longest_length_is_issued() -> None:
    ledger = ClaimsLedger()
    assert ledger.issue_api_key("k" * 80, "reader", "admin:test").startswith("clk_")
    assert ledger.ledger_recorder.tree_head().size == 1
