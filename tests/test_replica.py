"""Reads from a PostgreSQL streaming replica (CLAIMS_READ_DATABASE_URL), writes on the primary.

One primary and one hot standby per module, made with initdb and ``pg_basebackup -R`` as the
unprivileged user the test server runs as (``tests/pg_replica.py``); each test gets a fresh
database created on the primary and replayed on the replica.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from api_support import ApiEnv, GraphQLClient, api_env, error_codes, passage
from pg_replica import ReplicaPair, start_primary_and_replica
from pg_server import PostgresServer
from starlette.testclient import TestClient

from api.cli.main import main as claims
from api.settings import Settings
from api.web.app import create_app
from ledger.application import ClaimsLedger
from projections.replica import ReplicaMismatch, ReplicaReadModel

# Queries a reader sends, compared between an API on the replica and one on the primary.
READS = [
    'query { position(actor: "chancellor", topic: "taurus", asOf: "2025-12-31") { stance since { date } claim { key } } }',
    "query { claims(first: 10) { totalCount nodes { key stance actor { name } source { title } } } }",
    'query { timeline(actor: "chancellor", topic: "taurus") { stance previousStance claim { key } } }',
    "query { actors { key name aliases } topics { key proposition } }",
]
POSITION = 'query { position(actor: "minister", topic: "taurus") { stance claim { key } } }'
RECORD = "mutation ($i: RecordClaimInput!) { recordClaim(input: $i) { created pending logPosition claim { key } } }"


def claim_input(key: str, stance: str, exact: str) -> dict[str, Any]:
    return {
        "key": key, "actor": "minister", "topic": "taurus", "stance": stance, "summary": f"minister {stance}",
        "stated": {"date": "2025-02-26"}, "source": "berlin-interview", "passage": passage(exact),
        "attribution": "INDIRECT_SPEECH",
    }  # fmt: skip


@pytest.fixture(scope="module")
def replica_pair() -> Iterator[ReplicaPair]:
    pair = start_primary_and_replica()
    try:
        yield pair
    finally:
        pair.stop()


@pytest.fixture
def replicated(replica_pair: ReplicaPair) -> Iterator[tuple[str, str]]:
    """(primary URL, replica URL) of a fresh database."""
    name, primary, replica = replica_pair.create_database()
    try:
        yield primary, replica
    finally:
        replica_pair.drop_database(name)


@contextlib.contextmanager
def replay_paused(replica_url: str) -> Iterator[None]:
    """The replica stops replaying WAL (it still receives it) until the block ends."""
    with psycopg.connect(replica_url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")


def replayed(primary_url: str, replica_url: str, seconds: float = 30.0) -> None:
    """Wait until the replica has replayed everything the primary had written when called."""
    with psycopg.connect(primary_url, autocommit=True) as conn:
        written = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
    assert written is not None
    deadline = time.monotonic() + seconds
    with psycopg.connect(replica_url, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (written[0],)).fetchone()
            if row and row[0]:
                return
            assert time.monotonic() < deadline, "the replica did not replay the primary's writes"
            time.sleep(0.01)  # the poll interval of a condition with a deadline


def in_recovery(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def test_an_api_on_the_replica_answers_as_the_primary_and_reads_its_own_writes(replicated: tuple[str, str]) -> None:
    primary_url, replica_url = replicated
    assert in_recovery(replica_url) and not in_recovery(primary_url)
    with api_env(primary_url, read_database_url=replica_url, write_wait_seconds=30.0) as on_replica:
        read = on_replica.services.read_model
        assert isinstance(read, ReplicaReadModel) and read.url == replica_url
        with api_env_beside(on_replica) as on_primary:
            for query in READS:
                assert on_replica.gql.data(query) == on_primary.gql.data(query), query

            # Read-your-writes: the mutation answers once the replica has replayed its read-model change,
            # and the next query, sent to the replica, shows it.
            editor = on_replica.as_role("editor")
            wrote = editor.data(RECORD, {"i": claim_input("c-minister-taurus", "OPPOSES", "The foreign minister")})
            assert wrote["recordClaim"] == {
                "created": True, "pending": False, "logPosition": on_replica.tree_size(),
                "claim": {"key": "c-minister-taurus"},
            }  # fmt: skip
            assert on_replica.gql.data(POSITION)["position"] == {
                "stance": "OPPOSES", "claim": {"key": "c-minister-taurus"},
            }  # fmt: skip

            # While the replica does not replay, the write is committed but not yet readable there:
            # the mutation says `pending` after its bound (CLAIMS_WRITE_WAIT_SECONDS, here 0.5 s),
            # reads (from the replica) do not show it, the primary's do.
            services = on_replica.services
            services.settings = dataclasses.replace(services.settings, write_wait_seconds=0.5)
            with replay_paused(replica_url):
                late = editor.data(RECORD, {"i": claim_input("c-minister-later", "SUPPORTS", "security guarantees")})
                assert late["recordClaim"]["created"] is True and late["recordClaim"]["pending"] is True
                assert late["recordClaim"]["claim"] is None  # not readable yet, as `pending` says
                assert on_replica.gql.data(POSITION)["position"]["stance"] == "OPPOSES"
                on_primary.caught_up()
                assert on_primary.gql.data(POSITION)["position"]["stance"] == "SUPPORTS"
            on_replica.caught_up()  # replay resumed: the replica reaches the write
            assert on_replica.gql.data(POSITION)["position"] == {
                "stance": "SUPPORTS", "claim": {"key": "c-minister-later"},
            }  # fmt: skip
            for query in READS:
                assert on_replica.gql.data(query) == on_primary.gql.data(query), query


@contextlib.contextmanager
def api_env_beside(env: ApiEnv) -> Iterator[ApiEnv]:
    """A second API on the same ledger that reads the primary (the first one's projector projects)."""
    settings = Settings.from_env({}, database_url=env.url, projector="external", key_cache_seconds=0.0)
    with TestClient(create_app(settings)) as client:
        beside = ApiEnv(env.url, env.ledger, client, env.keys, client.app)
        beside.caught_up()
        yield beside


def test_a_write_sent_to_a_replica_only_url_is_refused(replicated: tuple[str, str], tmp_path: Path) -> None:
    primary_url, replica_url = replicated
    with api_env(primary_url, read_database_url=replica_url) as env:
        editor_key = env.keys["editor"]
        size = env.tree_size()
    # An API process whose only database is the replica serves reads, and refuses writes by name.
    settings = Settings.from_env({}, database_url=replica_url, projector="external", key_cache_seconds=0.0)
    with TestClient(create_app(settings)) as client:
        gql = GraphQLClient(client, editor_key)
        assert gql.data('query { actors(search: "minister") { name } }')["actors"] == [{"name": "Minister"}]
        body = gql(RECORD, {"i": claim_input("c-refused", "OPPOSES", "The foreign minister")})
        assert error_codes(body) == ["READ_ONLY"]
        assert "read-only replica" in body["errors"][0]["message"]
        assert "send writes to the primary" in body["errors"][0]["message"]
        assert body["data"] is None
    with ClaimsLedger.open(primary_url) as ledger:
        assert ledger.ledger_recorder.tree_head().size == size  # nothing was written

    # The projector cannot run on a standby: an API configured so does not start, and says why.
    embedded = Settings.from_env({}, database_url=replica_url, key_cache_seconds=0.0)
    with (
        pytest.raises(ValueError, match="CLAIMS_DATABASE_URL names a read-only standby"),
        TestClient(create_app(embedded)),
    ):
        pass


def test_the_command_line_refuses_to_write_to_a_replica_and_verifies_it(
    replicated: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    primary_url, replica_url = replicated
    with ClaimsLedger.open(primary_url):
        pass  # the ledger's tables...
    replayed(primary_url, replica_url)  # ...on the replica too, so the refusals below are about writing
    records = tmp_path / "actors.yaml"
    records.write_text("format: claims-ledger/import/v1\nactors:\n  - {key: someone, name: Someone, kind: PERSON}\n")
    assert claims(["--database", replica_url, "import", str(records)]) == 2
    assert "is a read-only replica" in capsys.readouterr().err
    assert claims(["--database", replica_url, "project"]) == 2  # the projector writes too
    assert "is a read-only replica" in capsys.readouterr().err
    assert claims(["--database", primary_url, "import", str(records)]) == 0
    # Reading the ledger works on the replica: it verifies the log the primary wrote, once replayed.
    with ClaimsLedger.open(primary_url) as ledger:
        size = ledger.ledger_recorder.tree_head().size
    replayed(primary_url, replica_url)
    capsys.readouterr()
    assert claims(["--database", replica_url, "verify"]) == 0
    assert f"{size}" in capsys.readouterr().out


def test_a_read_url_that_is_not_a_replica_of_the_primary_is_refused(
    replica_pair: ReplicaPair, replicated: tuple[str, str], postgres_server: PostgresServer
) -> None:
    primary_url, _ = replicated
    other = replica_pair.replica.url("postgres")  # the right server, another database
    with pytest.raises(ReplicaMismatch, match="a replica holds the primary's databases under the same names"):
        ReplicaReadModel(other, primary_url)
    name = postgres_server.create_database()  # another cluster altogether
    try:
        with pytest.raises(ReplicaMismatch, match="their PostgreSQL system identifiers differ"):
            ReplicaReadModel(postgres_server.url(name), primary_url)
    finally:
        postgres_server.drop_database(name)
    with pytest.raises(ValueError, match="must be a postgresql"):
        Settings.from_env({"CLAIMS_READ_DATABASE_URL": "sqlite:///claims.db"})
