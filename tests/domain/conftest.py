"""The fast tier: domain rules on the in-memory ledger (``ClaimsLedger()``, eventsourcing's POPO
recorder with the Merkle log), no database. Run it alone while developing:

    .venv/bin/pytest tests/domain -q

The storage tiers (every other test) run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.application import ClaimsLedger


@pytest.fixture
def ledger() -> Iterator[ClaimsLedger]:
    with ClaimsLedger() as app:
        yield app
