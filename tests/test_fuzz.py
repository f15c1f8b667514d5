"""Generated GraphQL documents against the app, on both stores (hypothesis-graphql over
api/graphql/schema.graphql): valid and invalid queries and mutations, without a key, with a
reader's, an editor's and a made-up one.

Each answer must be < 500, coded (no INTERNAL_SERVER_ERROR), leak nothing of the
server's insides; a refused mutation must write nothing; the ledger verifies after.
Bounded to a few dozen documents per store so the suite stays fast; a longer run:
``CLAIMS_FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from api_support import ApiEnv, api_env
from graphql import build_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from api.graphql.schema import SDL_PATH
from ledger.integrity.verify import verify

EXAMPLES = int(os.environ.get("CLAIMS_FUZZ_EXAMPLES", "40"))
SCHEMA = build_schema(SDL_PATH.read_text(encoding="utf-8"))
# Marks of the server's insides (tracebacks, SQL, tables, exception classes); error messages echo
# the generated input, so plain words like "select" are not among them.
LEAKS = re.compile(
    r'Traceback|File "/|sqlite3\.|psycopg|ledger_events|rm_claim_versions|'
    r"\b(Overflow|Type|Value|Key|Attribute|Index|UnicodeEncode|UnicodeDecode|Recursion|Assertion|Operational)Error\b"
)
SCALARS = {
    "Date": st.dates(date(1990, 1, 1), date(2030, 12, 31)).map(lambda d: nodes.String(d.isoformat())),
    "DateTime": st.datetimes(datetime(2000, 1, 1), datetime(2035, 1, 1), timezones=st.just(UTC)).map(
        lambda d: nodes.String(d.isoformat())
    ),
    "JSON": st.text(max_size=20).map(nodes.String),
}


def _documents() -> st.SearchStrategy[str]:
    kinds = []
    for mode in (Mode.POSITIVE, Mode.NEGATIVE):
        for build in (queries, mutations):
            kinds.append(build(SCHEMA, custom_scalars=SCALARS, mode=mode))  # type: ignore[arg-type]
    return st.one_of(*kinds)  # type: ignore[return-value]


@pytest.fixture
def api(database_url: str) -> Iterator[ApiEnv]:
    with api_env(database_url, rate_reads=0, rate_writes=0) as env:
        yield env
        report = verify(env.ledger.ledger_recorder)
        assert report.ok, report


def test_generated_documents_get_coded_answers_and_refused_ones_write_nothing(api: ApiEnv) -> None:
    keys = [None, api.keys["reader"], api.keys["editor"], "clk_made-up"]

    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )  # fmt: skip
    @given(document=_documents(), key=st.sampled_from(keys))
    def check(document: str, key: str | None) -> None:
        size = api.tree_size()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        response = api.client.post("/graphql", json={"query": document}, headers=headers)
        assert response.status_code < 500, (document, response.text)
        text = response.text
        assert not LEAKS.search(text), (document, text[:500])
        if response.status_code != 200:
            return
        body: dict[str, Any] = response.json()
        codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
        assert all(codes), (document, body)
        assert "INTERNAL_SERVER_ERROR" not in codes, (document, body)
        if body.get("errors") and body.get("data") is None:
            assert api.tree_size() == size, (document, body)  # refused: nothing written

    check()
