"""Throw-away PostgreSQL server for the test suite.

Starts one real PostgreSQL server (``initdb`` + ``postgres``) in a private
temporary directory, listening on 127.0.0.1 on a free port, tuned for speed
(fsync/synchronous_commit/full_page_writes off) and with password (SCRAM)
authentication for TCP clients.

PostgreSQL refuses to run as root, so when the current user is root the
server runs as the unprivileged system user ``claims-pg`` (created on demand
with ``useradd``) and the temporary directory is owned by that user.

Only the standard library and psycopg are imported here, so the module can
be used by ``tests/conftest.py``, benchmarks, or run directly::

    python tests/pg_server.py            # start a server, print its URL, wait
    python tests/pg_server.py --bindir   # print the server binaries directory
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

PG_MAJOR = "15"
PG_SYSTEM_USER = "claims-pg"
PG_SUPERUSER = "postgres"
BINDIR_ENV = "CLAIMS_PG_BINDIR"
START_TIMEOUT_ENV = "CLAIMS_TEST_PG_START_TIMEOUT"
DEFAULT_START_TIMEOUT = 60.0
# Unix socket paths are limited to ~107 bytes; beyond this we use TCP only.
_MAX_SOCKET_DIR_LEN = 80


class PostgresStartError(RuntimeError):
    """The server could not be initialised or started; message carries logs."""


# --------------------------------------------------------------------------
# Locating binaries
# --------------------------------------------------------------------------


def _version_key(path: str) -> tuple[int, ...]:
    name = Path(path).parent.name  # /usr/lib/postgresql/<version>/bin
    return tuple(int(p) for p in name.split(".") if p.isdigit())


def find_bindir() -> Path | None:
    """Directory holding ``initdb`` and ``postgres``, or None.

    Order: $CLAIMS_PG_BINDIR, Debian's /usr/lib/postgresql/15/bin, any other
    /usr/lib/postgresql/*/bin (newest first), ``pg_config --bindir``, PATH.
    """
    candidates: list[Path] = []
    env = os.environ.get(BINDIR_ENV)
    if env:
        candidates.append(Path(env))
    candidates.append(Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin"))
    others = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    candidates.extend(Path(p) for p in others)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "postgres").is_file():
            return cand
    return None


# --------------------------------------------------------------------------
# Unprivileged user handling
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunAs:
    """Who runs initdb/postgres: None fields mean "the current user"."""

    uid: int | None = None
    gid: int | None = None
    name: str | None = None

    @property
    def extra_groups(self) -> list[int] | None:
        # Drop root's supplementary groups when switching user.
        return None if self.uid is None else []


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    nologin = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") else "/bin/false"
    proc = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--shell", nologin, name],
        capture_output=True,
        text=True,
        check=False,
    )
    try:  # a concurrent session may have created it meanwhile: that's fine
        return pwd.getpwnam(name)
    except KeyError:
        raise PostgresStartError(
            f"running as root, and could not create the system user {name!r} that runs "
            f"PostgreSQL (useradd exit {proc.returncode}): {proc.stderr.strip()}"
        ) from None


def _run_as() -> _RunAs:
    if os.geteuid() != 0:
        return _RunAs()
    entry = _ensure_system_user(PG_SYSTEM_USER)
    return _RunAs(uid=entry.pw_uid, gid=entry.pw_gid, name=entry.pw_name)


def _world_traversable(path: Path) -> bool:
    """True if every ancestor of ``path`` lets "others" search it (o+x)."""
    for part in [path, *path.parents]:
        try:
            if not os.stat(part).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _make_base_dir(run_as: _RunAs) -> Path:
    parent = Path(tempfile.gettempdir()).resolve()
    if run_as.uid is not None and not _world_traversable(parent):
        parent = Path("/tmp")  # TMPDIR may be e.g. under /root (mode 0700)
    base = Path(tempfile.mkdtemp(prefix="claims-pg-", dir=parent))
    if run_as.uid is not None:
        assert run_as.gid is not None
        os.chown(base, run_as.uid, run_as.gid)
    return base


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 80) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty>"


# --------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------


def make_url(user: str, password: str | None, host: str, port: int | str | None, dbname: str) -> str:
    """``postgresql://user[:password]@host[:port]/dbname`` with proper quoting."""
    auth = quote(user, safe="")
    if password:
        auth += ":" + quote(password, safe="")
    netloc = f"{auth}@{host}" + (f":{port}" if port else "")
    return f"postgresql://{netloc}/{quote(dbname, safe='')}"


def with_dbname(url: str, dbname: str) -> str:
    """Return ``url`` pointing at database ``dbname`` (query string kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))


def dbname_of(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


@dataclass
class PostgresServer:
    """A running server (ours or an external one) plus database helpers."""

    admin_url: str
    external: bool = False  # True for CLAIMS_TEST_POSTGRES_URL
    base_dir: Path | None = None  # None for an external server
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    startup_seconds: float = 0.0
    _token: str = field(default_factory=lambda: secrets.token_hex(3))
    _counter: int = 0
    _admin: psycopg.Connection[tuple[object, ...]] | None = None
    _stopped: bool = False
    _spawn: Callable[[], subprocess.Popen[bytes]] | None = None  # starts the postmaster again (ours only)

    @property
    def alive(self) -> bool:
        if self._stopped:
            return False
        return self.process is None or self.process.poll() is None

    def url(self, dbname: str) -> str:
        return with_dbname(self.admin_url, dbname)

    def _admin_conn(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._admin is None or self._admin.closed or self._admin.broken:
            self._admin = psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)
        return self._admin

    def create_database(self) -> str:
        """Create a fresh, empty database and return its name."""
        self._counter += 1
        # The random token keeps names unique when several sessions share
        # one external server (CLAIMS_TEST_POSTGRES_URL).
        name = f"t_{self._counter}_{self._token}"
        self._admin_conn().execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name))
        )
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, first ending sessions the code under test left open."""
        conn = self._admin_conn()
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        # Poll until those backends are gone: DROP ... WITH (FORCE) would
        # otherwise re-check them only every 100 ms.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()
            if row is None or row[0] == 0:
                break
            time.sleep(0.005)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    @contextlib.contextmanager
    def down(self, timeout: float = 60.0) -> Iterator[None]:
        """The server stopped for the block (fast shutdown: every connection closed, as a restart
        does), then started again on the same port and data. Private servers only."""
        if self.process is None or self._spawn is None:
            raise RuntimeError("only a private server can be stopped and started again")
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        try:
            yield
        finally:
            self.process = self._spawn()
            if not _wait_ready(self, self.process, time.monotonic() + timeout):
                log = _tail(self.log_path) if self.log_path else ""
                raise PostgresStartError(f"the server did not start again\n{log}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT, what `pg_ctl stop -m fast` sends); remove files."""
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
        self._stopped = True
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None


def external_server(url: str) -> PostgresServer:
    """Wrap a dev-provided server (its URL must allow CREATE DATABASE)."""
    server = PostgresServer(admin_url=url, external=True)
    try:
        server._admin_conn().execute("SELECT 1")
    except psycopg.Error as exc:
        raise PostgresStartError(f"cannot connect to CLAIMS_TEST_POSTGRES_URL: {exc}") from exc
    return server


def _initdb(bindir: Path, run_as: _RunAs, base: Path, password: str) -> Path:
    data = base / "data"
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    if run_as.uid is not None:
        assert run_as.gid is not None
        os.chown(pwfile, run_as.uid, run_as.gid)
    os.chmod(pwfile, 0o600)
    cmd = [
        str(bindir / "initdb"),
        "--pgdata", str(data),
        "--username", PG_SUPERUSER,
        "--pwfile", str(pwfile),
        "--auth-local", "trust",
        "--auth-host", "scram-sha-256",
        "--encoding", "UTF8",
        "--locale", "C",
        "--no-sync",
        "--no-instructions",
    ]  # fmt: skip
    proc = run_tool(cmd, run_as, base)
    pwfile.unlink()
    if proc.returncode != 0:
        raise PostgresStartError(
            f"initdb failed (exit {proc.returncode}) as user {run_as.name or 'current'}:\n"
            f"$ {' '.join(cmd)}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return data


def run_tool(
    cmd: list[str], run_as: _RunAs, base: Path, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool in ``base`` as the server's user (output captured, exit code not checked)."""
    return subprocess.run(
        cmd,
        cwd=base,
        capture_output=True,
        text=True,
        check=False,
        env=_child_env(base),
        # subprocess switches uid/gid in the child, like `runuser -u`.
        user=run_as.uid,
        group=run_as.gid,
        extra_groups=run_as.extra_groups,
        timeout=timeout,
    )


def _child_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["HOME"] = str(base)  # root's HOME is unreadable for claims-pg
    env.setdefault("LC_ALL", "C")
    return env


def start_server(
    timeout: float | None = None,
    extra_settings: dict[str, str] | None = None,
    before_start: Callable[[Path], None] | None = None,
) -> PostgresServer:
    """initdb + start a private server; raise PostgresStartError with logs on failure.

    ``before_start`` gets the data directory between initdb and the start (e.g. to edit pg_hba.conf).
    """
    if timeout is None:
        timeout = float(os.environ.get(START_TIMEOUT_ENV, DEFAULT_START_TIMEOUT))
    t0 = time.monotonic()
    bindir = find_bindir()
    if bindir is None:
        raise PostgresStartError(
            f"PostgreSQL {PG_MAJOR} server binaries (initdb, postgres) not found. Install them "
            f"(Debian: apt-get install postgresql-{PG_MAJOR}), set {BINDIR_ENV}, or point "
            "CLAIMS_TEST_POSTGRES_URL at an existing server."
        )
    run_as = _run_as()
    base = _make_base_dir(run_as)
    try:
        password = secrets.token_hex(16)
        data = _initdb(bindir, run_as, base, password)
        if before_start is not None:
            before_start(data)
        server = _launch(bindir, run_as, base, data, password, t0 + timeout, extra_settings)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    server.startup_seconds = time.monotonic() - t0
    atexit.register(server.stop)  # belt and braces if the caller never stops it
    return server


def _launch(
    bindir: Path,
    run_as: _RunAs,
    base: Path,
    data: Path,
    password: str,
    deadline: float,
    extra_settings: dict[str, str] | None = None,
) -> PostgresServer:
    socket_dir = str(base) if len(str(base)) <= _MAX_SOCKET_DIR_LEN else ""
    log_path = base / "postgres.log"
    attempts = 3  # the free port can be stolen between probing and binding
    for attempt in range(1, attempts + 1):
        port = _free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": socket_dir,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            **(extra_settings or {}),
        }
        cmd = [str(bindir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        def spawn(cmd: list[str] = cmd) -> subprocess.Popen[bytes]:
            with open(log_path, "ab") as log:
                if run_as.uid is not None:
                    assert run_as.gid is not None
                    os.chown(log_path, run_as.uid, run_as.gid)
                return subprocess.Popen(
                    cmd,
                    cwd=base,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=_child_env(base),
                    user=run_as.uid,
                    group=run_as.gid,
                    extra_groups=run_as.extra_groups,
                )

        proc = spawn()
        admin_url = make_url(PG_SUPERUSER, password, "127.0.0.1", port, "postgres")
        server = PostgresServer(admin_url=admin_url, base_dir=base, process=proc, log_path=log_path, _spawn=spawn)
        if _wait_ready(server, proc, deadline):
            return server
        exited = proc.poll() is not None
        log_text = _tail(log_path)
        if exited and "could not bind" in log_text and attempt < attempts:
            continue  # port race: try another port
        server.base_dir = None  # the caller removes the dir after we report
        server.stop()
        reason = (
            f"postgres exited with code {proc.returncode}"
            if exited
            else "postgres did not accept connections before the deadline"
        )
        raise PostgresStartError(
            f"{reason} (as user {run_as.name or 'current'}).\n$ {' '.join(cmd)}\n--- {log_path} (tail) ---\n{log_text}"
        )
    raise AssertionError("unreachable")


def _wait_ready(server: PostgresServer, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    """Poll until a real connection succeeds, the process dies, or time runs out."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with psycopg.connect(server.admin_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            pass
        # Poll interval; returns early if the server process exits.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.05)
    return False


def get_server() -> PostgresServer:
    """The external server from CLAIMS_TEST_POSTGRES_URL, else a new private one."""
    url = os.environ.get("CLAIMS_TEST_POSTGRES_URL")
    if url:
        return external_server(url)
    return start_server()


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--bindir",
        action="store_true",
        help="print the PostgreSQL server binaries directory (exit 1 if none) and exit",
    )
    args = parser.parse_args(argv)
    if args.bindir:
        bindir = find_bindir()
        if bindir is None:
            print("PostgreSQL server binaries not found", file=sys.stderr)
            return 1
        print(bindir)
        return 0
    server = start_server()
    print(f"CLAIMS_TEST_POSTGRES_URL={server.admin_url}", flush=True)
    print(f"started in {server.startup_seconds:.2f}s; Ctrl-C to stop", file=sys.stderr)
    # Stop from the main thread, not inside the handler: the handler runs while the main
    # thread's ``process.wait()`` holds Popen's waitpid lock, so a ``wait`` in the handler
    # could only time out (twice 30 s). Raising makes ``finally`` below do the stop.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        assert server.process is not None
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
