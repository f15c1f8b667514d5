"""Test-wide fixtures and policy for claims-ledger.

Fixtures
  database_url        fresh empty database per test, parametrised over
                      ``sqlite`` and ``postgresql`` (ids are the same words)
  postgres_admin_url  session-wide superuser URL of the test PostgreSQL server
  postgres_server     the ``pg_server.PostgresServer`` object itself

Policy (enforced at session end, see tests/README.md)
  * a PostgreSQL problem is an ERROR, never a skip;
  * if any ``sqlite`` test ran but no PostgreSQL test did, the run fails;
  * if any test (or module) was skipped, the run fails.

Only pytest, psycopg (via pg_server) and the standard library are imported
here: this file must work before the application packages exist.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:  # needed under --import-mode=importlib
    sys.path.insert(0, _TESTS_DIR)

from pg_server import PostgresServer, get_server  # noqa: E402

BACKENDS = ("sqlite", "postgresql")
_BACKEND_PROPERTY = "claims_backend"
# Fixtures whose users count as "PostgreSQL tests" for the policy.
_PG_FIXTURES = ("postgres_server", "postgres_admin_url", "replica_pair", "postgres_database_url")


@dataclass
class _Policy:
    ran: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BACKENDS, 0))
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    server_note: str | None = None


_policy_key = pytest.StashKey[_Policy]()


def pytest_configure(config: pytest.Config) -> None:
    for backend in BACKENDS:
        config.addinivalue_line("markers", f"{backend}: test uses the {backend} param of database_url (select with -m)")
    policy = _Policy()
    config.stash[_policy_key] = policy
    config.pluginmanager.register(_PolicyPlugin(policy), "claims-ledger-policy")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        backend: str | None = None
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") in BACKENDS:
            backend = str(callspec.params["database_url"])
            item.add_marker(backend)
        elif any(name in getattr(item, "fixturenames", ()) for name in _PG_FIXTURES):
            backend = "postgresql"
        if backend is not None:
            # user_properties travel with every report (also across xdist workers).
            item.user_properties.append((_BACKEND_PROPERTY, backend))


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def plans_generate_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiled plans run their generated code from their first run (``api/graphql/compiled.py``,
    GENERATE_AFTER: after a few runs in production), so every test of execution runs it; the
    interpreter they run before is tested by name (``tests/test_compiled_execution.py``). Only where
    the tests imported it: this conftest also serves the child runs of tests/test_pg_server.py."""
    compiled = sys.modules.get("api.graphql.compiled")
    if compiled is not None:
        monkeypatch.setattr(compiled, "GENERATE_AFTER", 1)


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> Iterator[PostgresServer]:
    """One PostgreSQL server per session (or $CLAIMS_TEST_POSTGRES_URL).

    Start-up failures raise PostgresStartError carrying the initdb/postgres
    log; pytest caches it, so every PostgreSQL test ERRORS, none is skipped.
    """
    server = get_server()
    policy = pytestconfig.stash[_policy_key]
    if server.external:
        policy.server_note = "PostgreSQL: external server from CLAIMS_TEST_POSTGRES_URL"
    else:
        policy.server_note = f"PostgreSQL: private test server started in {server.startup_seconds:.2f}s"
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_admin_url(postgres_server: PostgresServer) -> str:
    """Superuser (or CREATEDB) URL of the session's server, database ``postgres``."""
    return postgres_server.admin_url


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty database: ``sqlite:///...`` or ``postgresql://...``."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    # Requested lazily so that SQLite-only selections don't start a server.
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create_database()
    try:
        yield server.url(name)
    finally:
        if server.alive:  # e.g. Ctrl-C already shut the server down
            server.drop_database(name)


@pytest.fixture
def postgres_database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database: for what only PostgreSQL has (SQLite tests none of it,
    rather than skipping)."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        if postgres_server.alive:
            postgres_server.drop_database(name)


# --------------------------------------------------------------------------
# Policy: no skips, and PostgreSQL must actually have run
# --------------------------------------------------------------------------


class _PolicyPlugin:
    """Counts what ran/skipped; fails an otherwise green session on violations."""

    def __init__(self, policy: _Policy) -> None:
        self.policy = policy

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            self.policy.skipped.append(f"{report.nodeid} ({_skip_reason(report)})")
        elif report.when == "call":
            backend = dict(report.user_properties).get(_BACKEND_PROPERTY)
            if isinstance(backend, str) and backend in self.policy.ran:
                self.policy.ran[backend] += 1

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.skipped:
            self.policy.skipped.append(f"{report.nodeid or '<collection>'} ({_skip_reason(report)})")

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
        if hasattr(session.config, "workerinput"):  # xdist worker: the controller decides
            return
        policy = self.policy
        if policy.skipped:
            policy.problems.append(
                f"{len(policy.skipped)} test(s) or module(s) were SKIPPED; the team rule is no skipped suites:"
            )
            policy.problems.extend(f"  - {s}" for s in policy.skipped)
        if exitstatus == pytest.ExitCode.OK and policy.ran["sqlite"] and not policy.ran["postgresql"]:
            policy.problems.append(
                f"{policy.ran['sqlite']} sqlite test(s) ran but NO postgresql test ran: the PostgreSQL "
                "backend went untested (deselected with -k/-m, or its tests never reached the call phase)."
            )
        if policy.problems and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        policy = self.policy
        if policy.server_note:
            ran = policy.ran
            terminalreporter.write_line(
                f"{policy.server_note}; tests run: postgresql={ran['postgresql']} sqlite={ran['sqlite']}"
            )
        if policy.problems:
            terminalreporter.section("claims-ledger test policy: FAILED", sep="=", red=True, bold=True)
            for line in policy.problems:
                terminalreporter.write_line(line, red=True)


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr).strip().splitlines()[-1] if longrepr else "no reason given"
