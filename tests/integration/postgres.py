"""A real PostgreSQL server on 127.0.0.1, from the Debian packages (``apt-get install postgresql``).

The server runs from a throw-away cluster: ``initdb`` into a temporary directory, then
``postgres`` itself in the foreground (not ``pg_ctl`` or the Debian cluster wrappers, so the
process stops with its owner). PostgreSQL refuses to run as root, so when the tests run as
root both commands run as the ``postgres`` system user the package creates; otherwise they
run as the current user. Usage::

    with PostgresServer() as server:
        url = server.create_database("spfmanager")  # postgresql+psycopg://postgres@...

Authentication: ``trust`` for the Unix socket and 127.0.0.1, except for the role
:data:`PASSWORD_ROLE`, which must give :data:`PASSWORD` (to test a wrong password). The
server listens on 127.0.0.1 only; fsync and synchronous commit are off (a test cluster).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.integration.servers import LoopbackServer

HOST = "127.0.0.1"
SUPERUSER = "postgres"
SYSTEM_USER = "postgres"  # the account the Debian package creates
BIN_GLOB = "/usr/lib/postgresql/*/bin"
STARTUP_SECONDS = 30.0
SHUTDOWN_SECONDS = 10.0

#: A role that authenticates with a password (scram-sha-256), for the wrong-password case.
PASSWORD_ROLE = "spf_password_user"
PASSWORD = "correct-horse-battery"  # a throw-away cluster's; no quote, inlined in SQL

_VERSION = re.compile(r"/(\d+)(?:\.\d+)?/bin$")


class PostgresError(RuntimeError):
    """The test server could not be set up or started (the log tail is in the message)."""


def bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb`` and ``postgres``."""
    found: list[tuple[int, Path]] = []
    for candidate in Path("/").glob(BIN_GLOB.lstrip("/")):
        match = _VERSION.search(str(candidate))
        if match and all(os.access(candidate / b, os.X_OK) for b in ("initdb", "postgres")):
            found.append((int(match.group(1)), candidate))
    return max(found)[1] if found else None


def unavailable_reason() -> str | None:
    """Why the server cannot run here, or None when it can."""
    if bin_dir() is None:
        return (
            f"PostgreSQL server binaries not found in {BIN_GLOB}/ "
            "(apt-get install postgresql, or run scripts/install-test-deps)"
        )
    try:
        import psycopg  # noqa: F401, PLC0415 - only to tell whether the driver is installed
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return f"running as root and there is no {SYSTEM_USER!r} user to run PostgreSQL"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class PostgresServer(LoopbackServer):
    """One throw-away cluster: start() runs initdb and the server, stop() ends and removes it."""

    def __init__(self) -> None:
        self.port = 0
        self.directory: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._bin = bin_dir()
        self._as_postgres = os.geteuid() == 0
        self.timings: dict[str, float] = {}

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> PostgresServer:
        if self._bin is None:
            raise PostgresError(f"PostgreSQL server binaries not found in {BIN_GLOB}/")
        # Under /tmp, not pytest's tmp_path: the postgres user must be able to reach it,
        # and pytest's base directory is private to the user running the tests.
        self.directory = Path(tempfile.mkdtemp(prefix="spfmanager-postgres-"))
        try:
            self._initdb()
            for _ in range(3):  # a port taken between free_port() and bind(): try another
                self.port = free_port()
                if self._launch():
                    self._setup_roles()
                    return self
            raise PostgresError(f"postgres did not start:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Fast shutdown (SIGINT), bounded; then SIGKILL. Removes the cluster's directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=SHUTDOWN_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        directory, self.directory = self.directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    # -- databases ----------------------------------------------------------------------------

    def url(self, database: str, *, user: str = SUPERUSER, password: str | None = None) -> str:
        """The SQLAlchemy URL of ``database`` (driver psycopg 3), over TCP on 127.0.0.1."""
        credentials = user if password is None else f"{user}:{password}"
        return f"postgresql+psycopg://{credentials}@{HOST}:{self.port}/{database}"

    def execute(self, sql: str, *, database: str = "postgres") -> None:
        """Run one statement as the superuser, outside a transaction (CREATE DATABASE...)."""
        import psycopg  # noqa: PLC0415 - an optional dependency: imported when the server runs

        with psycopg.connect(
            host=HOST,
            port=self.port,
            user=SUPERUSER,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        ) as connection:
            connection.execute(sql.encode())

    def create_database(self, name: str) -> str:
        """Create an empty database ``name``; returns its URL."""
        self.execute(f'CREATE DATABASE "{_identifier(name)}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name``, disconnecting whoever still holds a connection (a pooled engine)."""
        self.execute(f'DROP DATABASE IF EXISTS "{_identifier(name)}" WITH (FORCE)')

    def log_tail(self, lines: int = 30) -> str:
        if self.directory is None:
            return ""
        try:
            text = (self.directory / "postgres.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- internals ----------------------------------------------------------------------------

    @property
    def _data(self) -> Path:
        assert self.directory is not None
        return self.directory / "data"

    @property
    def _sockets(self) -> Path:
        assert self.directory is not None
        return self.directory / "sockets"

    def _run_kwargs(self) -> dict[str, Any]:
        """Popen arguments that run a server binary as the postgres user when we are root.

        Popen's ``user``/``group`` switch (as ``runuser -u postgres --`` would) without a
        wrapper process in between, so the SIGINT of stop() reaches ``postgres`` itself.
        """
        if not self._as_postgres:
            return {}
        account = pwd.getpwnam(SYSTEM_USER)
        return {
            "user": account.pw_uid,
            "group": account.pw_gid,
            "extra_groups": [],
            "env": {**_plain_env(), "HOME": account.pw_dir, "USER": SYSTEM_USER},
        }

    def _initdb(self) -> None:
        assert self.directory is not None and self._bin is not None
        started = time.monotonic()
        self._sockets.mkdir()
        if self._as_postgres:
            account = pwd.getpwnam(SYSTEM_USER)
            for path in (self.directory, self._sockets):
                os.chown(path, account.pw_uid, account.pw_gid)
        result = subprocess.run(
            [
                str(self._bin / "initdb"),
                "--pgdata",
                str(self._data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",  # a test cluster: nothing to keep across a crash
            ],
            cwd=self.directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
            **self._run_kwargs(),
        )
        if result.returncode != 0:
            raise PostgresError(f"initdb failed:\n{result.stdout.decode(errors='replace')}")
        # First match wins: the password role must authenticate; everyone else is trusted,
        # over the Unix socket and from 127.0.0.1 only (no ::1, no other address).
        hba = self._data / "pg_hba.conf"
        hba.write_text(
            f"local all {PASSWORD_ROLE} scram-sha-256\n"
            f"host  all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "local all all trust\n"
            "host  all all 127.0.0.1/32 trust\n",
            encoding="utf-8",
        )
        if self._as_postgres:
            account = pwd.getpwnam(SYSTEM_USER)
            os.chown(hba, account.pw_uid, account.pw_gid)
        self.timings["initdb"] = time.monotonic() - started

    def _launch(self) -> bool:
        """Start the server on self.port; True once it accepts connections."""
        assert self.directory is not None and self._bin is not None
        started = time.monotonic()
        log = self.directory / "postgres.log"
        with log.open("ab") as output:
            self._process = subprocess.Popen(
                [
                    str(self._bin / "postgres"),
                    "-D",
                    str(self._data),
                    "-h",
                    HOST,  # listen_addresses: 127.0.0.1 only
                    "-p",
                    str(self.port),
                    "-k",
                    str(self._sockets),
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of pytest is for pytest, not the server
                **self._run_kwargs(),
            )
        if not self._wait_ready():
            process, self._process = self._process, None
            if process.poll() is None:
                process.kill()
            process.wait()
            return False
        self.timings["start"] = time.monotonic() - started
        return True

    def _wait_ready(self) -> bool:
        import psycopg  # noqa: PLC0415

        assert self._process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False  # exited: most likely the port was taken
            try:
                with psycopg.connect(
                    host=HOST, port=self.port, user=SUPERUSER, dbname="postgres", connect_timeout=2
                ):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        return False

    def _setup_roles(self) -> None:
        self.execute(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")


def _identifier(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")
    return name


def _plain_env() -> dict[str, str]:
    """The environment without variables that would steer libpq or point into root's home."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PG") and k not in {"HOME", "USER", "LOGNAME", "XDG_RUNTIME_DIR"}
    }
