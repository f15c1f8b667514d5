"""The database fixtures hand out fresh, isolated databases, and the policy bites."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from pg_server import PostgresStartError, dbname_of, start_server

TESTS_DIR = Path(__file__).resolve().parent

# Databases handed out so far in this session (URL for sqlite, name for PG).
_SEEN: set[str] = set()


def _assert_fresh_and_mark(database_url: str, tmp_path: Path) -> None:
    """The database is empty and new; leave a table behind for the next test."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        assert path.is_absolute()
        assert path.parent == tmp_path
        assert not path.exists(), "SQLite database must start out absent (fresh)"
        with sqlite3.connect(path) as lite:
            assert lite.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
            lite.execute("CREATE TABLE leftover (x INTEGER)")
        lite.close()
        identity = database_url
    else:
        assert database_url.startswith("postgresql://")
        with psycopg.connect(database_url, connect_timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
            row = conn.execute("SELECT current_database()").fetchone()
            assert row is not None
            assert row[0] == dbname_of(database_url)
            tables = conn.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchone()
            assert tables == (0,), "PostgreSQL database must start out without tables"
            conn.execute("CREATE TABLE leftover (x integer)")
        identity = dbname_of(database_url)
    assert identity not in _SEEN, f"database {identity} was handed out twice"
    _SEEN.add(identity)


def test_database_is_fresh_first(database_url: str, tmp_path: Path) -> None:
    _assert_fresh_and_mark(database_url, tmp_path)


def test_database_is_fresh_second(database_url: str, tmp_path: Path) -> None:
    # Whatever ran before left a `leftover` table in its own database.
    _assert_fresh_and_mark(database_url, tmp_path)


def test_open_connections_do_not_block_teardown(database_url: str) -> None:
    """Code under test may leak connections; the fixture must still drop the DB."""
    if database_url.startswith("postgresql://"):
        leaked = psycopg.connect(database_url)
        leaked.execute("SELECT 1")
        _LEAKED.append(leaked)


_LEAKED: list[psycopg.Connection[tuple[object, ...]]] = []


def test_used_databases_were_dropped(postgres_admin_url: str) -> None:
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        names = {str(r[0]) for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'")}
        is_creator = conn.execute(
            "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert not names & _SEEN, f"per-test databases not dropped: {sorted(names & _SEEN)}"
    assert is_creator == (True,)
    for leaked in _LEAKED:
        assert leaked.broken or leaked.closed or _is_dead(leaked)
        leaked.close()


def _is_dead(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_start_failure_raises_with_server_log() -> None:
    """A server that cannot start is an error carrying postgres's own log."""
    with pytest.raises(PostgresStartError) as excinfo:
        start_server(extra_settings={"shared_buffers": "not-a-size"})
    message = str(excinfo.value)
    assert "shared_buffers" in message
    assert "postgres exited" in message


# --------------------------------------------------------------------------
# The session policy, checked in a child pytest run with a copy of conftest
# --------------------------------------------------------------------------


def _run_child(tmp_path: Path, test_source: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    for name in ("conftest.py", "pg_server.py"):
        shutil.copy(TESTS_DIR / name, tmp_path / name)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # keeps rootdir (and config) here
    (tmp_path / "test_child.py").write_text(textwrap.dedent(test_source))
    child_env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "CLAIMS_TEST_POSTGRES_URL")}
    child_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, str(tmp_path)],
        cwd=tmp_path,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_policy_passes_a_clean_run(tmp_path: Path) -> None:
    code, out = _run_child(tmp_path, "def test_ok():\n    pass\n")
    assert code == 0, out


def test_policy_fails_when_a_test_is_skipped(tmp_path: Path) -> None:
    source = """
        import pytest

        def test_ok():
            pass

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            pass
    """
    code, out = _run_child(tmp_path, source)
    assert code == 1, out
    assert "SKIPPED; the team rule is no skipped suites" in out
    assert "not today" in out


def test_policy_fails_when_only_sqlite_ran(tmp_path: Path) -> None:
    source = """
        def test_db(database_url):
            assert database_url
    """
    code, out = _run_child(tmp_path, source, "-k", "sqlite")
    assert code == 1, out
    assert "NO postgresql test ran" in out


def test_unreachable_postgres_errors_instead_of_skipping(tmp_path: Path) -> None:
    source = """
        def test_db(database_url):
            assert database_url
    """
    code, out = _run_child(
        tmp_path, source, "-rA", env={"CLAIMS_TEST_POSTGRES_URL": "postgresql://nobody@127.0.0.1:1/none"}
    )
    assert code == 1, out
    assert "1 passed, 1 error" in out
    assert "cannot connect to CLAIMS_TEST_POSTGRES_URL" in out
    assert "skipped" not in out.lower()
