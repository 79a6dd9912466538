"""A real PostgreSQL server for the tests: started once per session, each test in its own
database, stopped at the end.

PostgreSQL refuses to run as root, so when the suite runs as root the server runs as the
unprivileged OS user `postgres` (runuser); its data directory and unix socket live in a
temporary directory owned by that user, it listens on no TCP address, and local connections
are trusted, so the test process connects as any database role over the socket. Without
`initdb` on PATH (or in /usr/lib/postgresql/*/bin) the fixture fails, saying how to get it:
.ci/run installs the server.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SUPERUSER = "postgres"
SERVER_OS_USER = "postgres"


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


@dataclass
class PgServer:
    root: Path
    bin: Path
    run_as: list[str]
    _databases = itertools.count(1)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, database: str, user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@/{database}?host={self.socket_dir}"

    def env(self, database: str, user: str) -> dict[str, str]:
        """libpq's environment for `user` on `database` (as a workstation would set it)."""
        return {**os.environ, "PGHOST": str(self.socket_dir), "PGDATABASE": database,
                "PGUSER": user}

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data),
                        "-l", str(self.root / "server.log"), "-w", *args],
                       check=True, capture_output=True)

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate")  # the data is thrown away after

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def execute(self, sql: str, database: str = "postgres", user: str = SUPERUSER,
                params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url(database, user), autocommit=True) as conn:
            cursor = conn.execute(sql.encode(), params or None)
            return cursor.fetchall() if cursor.description else []

    def create_database(self) -> str:
        name = f"test_{os.getpid()}_{next(self._databases)}"
        self.execute(f"CREATE DATABASE {name}")
        return name


def _start_server() -> PgServer:
    binaries = _bin_dir()
    if binaries is None:
        pytest.fail("PostgreSQL server binaries not found: initdb is not on PATH nor in "
                    "/usr/lib/postgresql/*/bin. Install the server (Debian: apt-get install "
                    "postgresql; .ci/run does it) and put its bin directory on PATH.")
    root = Path(tempfile.mkdtemp(prefix="charging-rules-pg-"))
    run_as: list[str] = []
    (root / "socket").mkdir()
    if os.geteuid() == 0:  # the server refuses to run as root
        user = pwd.getpwnam(SERVER_OS_USER)
        for path in (root, root / "socket"):
            os.chown(path, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", SERVER_OS_USER, "--"]
    server = PgServer(root, binaries, run_as)
    subprocess.run([*run_as, str(binaries / "initdb"), "-D", str(server.data), "-U", SUPERUSER,
                    "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                   check=True, capture_output=True)
    with (server.data / "postgresql.conf").open("a") as conf:
        conf.write(f"listen_addresses = ''\nunix_socket_directories = '{server.socket_dir}'\n"
                   "max_connections = 200\n")
    server.start()
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = _start_server()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def pg_database(pg_server: PgServer) -> str:
    """A fresh, empty database of its own for one test (not initialised)."""
    return pg_server.create_database()
