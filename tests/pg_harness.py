"""A throwaway PostgreSQL server for the tests: the Debian `postgresql` package's initdb and
pg_ctl, run into a temporary directory once per test session.

PostgreSQL refuses to run as root and CI runs as root, so the server runs as the
unprivileged `nobody` then (it owns only the cluster's directory). It listens on a unix
socket in that directory, never on the network. Each test gets a schema of its own in one
database (`pg_url`), or a database of its own (`pg_database`) when it needs to cut the
database off. Skipped only where the binaries are missing on a developer's machine; under CI
(CI=true, and .ci/run installs the package) a missing server fails the run instead.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest

SERVER_USER = "nobody"  # who runs the server when the tests run as root
SUPERUSER = "devloop"  # the cluster's superuser (trust auth on its private socket)
DATABASE = "devloop"
PORT = 5432  # only names the socket file; the server opens no TCP port


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    return Path(found[-1]).parent if found else None


class Cluster:
    def __init__(self, base: Path, bin_dir: Path) -> None:
        self.base = base
        self.bin = bin_dir
        self.data = base / "data"
        self.socket_dir = base / "run"
        self.log = base / "server.log"
        self._names = itertools.count(1)
        self.as_user = pwd.getpwnam(SERVER_USER) if os.geteuid() == 0 else None

    # ------------------------------------------------------------ running

    def _run(self, *argv: str) -> subprocess.CompletedProcess:
        user = group = None
        if self.as_user is not None:
            user, group = self.as_user.pw_uid, self.as_user.pw_gid
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=120,
            user=user,
            group=group,
            extra_groups=[] if user is not None else None,
            cwd=self.base,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"},
        )
        if proc.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stdout}{proc.stderr}\n{log}")
        return proc

    def start(self) -> Cluster:
        self.base.chmod(0o755)  # the server user must reach its directories
        for directory in (self.data, self.socket_dir):
            directory.mkdir(mode=0o700)
        if self.as_user is not None:
            for path in (self.data, self.socket_dir, self.base):
                os.chown(path, self.as_user.pw_uid, self.as_user.pw_gid)
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
            "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = " ".join(
            [
                "-c listen_addresses=''",
                f"-k {self.socket_dir}",
                f"-p {PORT}",
                "-c unix_socket_permissions=0777",
                # A test server: durability off, so the suite stays fast on 2 cores.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        self._run(
            str(self.bin / "pg_ctl"), "start", "-D", str(self.data), "-w", "-t", "60",
            "-l", str(self.log), "-o", options,
        )  # fmt: skip
        self.admin(f"CREATE DATABASE {DATABASE}")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    # ------------------------------------------------------------ using

    def url(self, database: str = DATABASE, schema: str | None = None) -> str:
        url = f"postgresql://{SUPERUSER}@/{database}?host={quote(str(self.socket_dir))}&port={PORT}"
        if schema:
            url += "&options=" + quote(f"-csearch_path={schema}")
        return url

    def admin(self, *statements: str, database: str = "postgres") -> list[tuple]:
        """Run statements as the superuser; the rows of the last one."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            rows: list[tuple] = []
            for statement in statements:
                cur = conn.execute(statement)
                rows = cur.fetchall() if cur.description else []
            return rows

    def new_schema(self) -> str:
        name = f"t{os.getpid()}_{next(self._names)}"
        self.admin(f"CREATE SCHEMA {name}", database=DATABASE)
        return self.url(DATABASE, name)

    def new_database(self) -> tuple[str, str]:
        name = f"db{os.getpid()}_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name}")
        return name, self.url(name)

    def cut_off(self, database: str) -> None:
        """The database goes away: no new connections, every open one dropped."""
        self.admin(
            f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{database}' AND pid <> pg_backend_pid()",
        )

    def restore(self, database: str) -> None:
        self.admin(f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true")


@pytest.fixture(scope="session")
def pg_cluster():
    bin_dir = server_binaries()
    if bin_dir is None:
        message = (
            "PostgreSQL server binaries not installed (/usr/lib/postgresql/*/bin/initdb): "
            "apt-get install postgresql"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs it, so CI must have it")
        pytest.skip(message)
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="devloop-pg-")), bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """A ledger URL naming an empty schema of its own."""
    return pg_cluster.new_schema()


@pytest.fixture
def pg_database(pg_cluster) -> tuple[str, str]:
    """(name, URL) of an empty database of its own (to cut off in a test)."""
    return pg_cluster.new_database()
