"""The engines of the warehouse for the tests: a real throw-away PostgreSQL server and a local Spark.

The measures must give the same results on DuckDB, PostgreSQL and PySpark, so the tests run them on
real engines, not on mocks: ``postgres_url`` starts a PostgreSQL server of the machine's own binaries
(Debian's ``postgresql`` package) in a temporary directory, ``spark_session`` a local Spark. Both are
session-scoped: starting them costs seconds, and every test gets fresh databases or tables instead.

PostgreSQL refuses to run as root, and the tests run as root in CI: then the server runs as the
``postgres`` system user that Debian's package creates, in a directory given to that user.

Without an engine's Python extra (``pip install -e ".[postgres]"`` / ``".[spark]"``) or its binaries
(``initdb``/``pg_ctl``, ``java``), the tests that need that engine skip and say why
(``missing_postgres``/``missing_spark``); ``make test`` and CI install everything, so there they run.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from proxisante.warehouse.connection import Warehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = (
    "PostgreSQL's server binaries (initdb, pg_ctl) were not found on PATH nor in /usr/lib/postgresql/*/bin. "
    "The engine tests need a real PostgreSQL: install it with `apt-get install postgresql` "
    "(or your system's package), then run the tests again."
)


def _missing_module(module: str, extra: str) -> str | None:
    """Why the tests of an engine cannot run when its Python extra is absent, else None."""
    try:
        importlib.import_module(module)
    except ImportError:
        return f'the Python module {module} is not installed: install the extra with `pip install -e ".[{extra}]"`'
    return None


def missing_postgres() -> str | None:
    """Why the PostgreSQL tests cannot run here (no psycopg, no server binaries), else None."""
    reason = _missing_module("psycopg", "postgres")
    if reason is None:
        try:
            find_pg_bin()
        except RuntimeError as error:
            reason = str(error)
    return reason


def missing_spark() -> str | None:
    """Why the Spark tests cannot run here (no pyspark, no Java runtime), else None."""
    reason = _missing_module("pyspark", "spark")
    if reason is None and not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        reason = "Spark needs a Java runtime (17): install it with `apt-get install openjdk-17-jre-headless`"
    return reason


def find_pg_bin() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: on PATH first, else Debian's versioned directories."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key, reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise RuntimeError(INSTALL_HINT)


def _version_key(path: str) -> int:
    """Newest PostgreSQL first when several are installed (``/usr/lib/postgresql/<major>/bin``)."""
    major = Path(path).parent.parent.name
    return int(major) if major.isdigit() else 0


def free_port() -> int:
    """A TCP port nobody listens on right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class PostgresServer:
    """A running throw-away server: its data directory, port and the user commands run as."""

    bin_dir: Path
    root: Path
    port: int
    run_as: str | None  # the system user of the server when the tests run as root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, program: str, *args: str) -> None:
        """Run one of the server's programs, as the server's user, failing with its output."""
        command = [str(self.bin_dir / program), *args]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}\n{tail}")

    def create_database(self, name: str) -> str:
        """A new empty database on the server, and its URL."""
        return new_database(self.url(), name)


def _server_user() -> str | None:
    """None when we may run the server ourselves, else the system user to run it as (we are root)."""
    if os.geteuid() != 0:
        return None
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "the tests run as root, PostgreSQL refuses to, and there is no `postgres` system user to run it as: "
            "`apt-get install postgresql` creates it"
        ) from None
    return "postgres"


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """initdb a cluster in a temporary directory (trust auth, no durability: it is thrown away), start
    it on 127.0.0.1 and a free port with its socket in that directory, and remove everything at the end.

    The directory comes from ``tempfile`` rather than pytest's ``tmp_path``: pytest's directories are
    private to root (0700), which the ``postgres`` user could not even enter."""
    bin_dir, run_as = find_pg_bin(), _server_user()
    root = Path(tempfile.mkdtemp(prefix="proxisante-pg-"))
    if run_as:
        shutil.chown(root, user=run_as)
    server = PostgresServer(bin_dir, root, free_port(), run_as)
    try:
        server.run("initdb", "-D", str(server.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                   "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories={root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        server.run("pg_ctl", "-D", str(server.data_dir), "-l", str(root / "server.log"), "-o", options, "-w", "start")
        yield server
    finally:
        if (server.data_dir / "postmaster.pid").exists():
            server.run("pg_ctl", "-D", str(server.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of an empty database on a PostgreSQL server started for the test session and stopped after it
    (``new_database`` gives a test a database of its own on the same server); skipped, with the reason,
    when psycopg or the server binaries are absent."""
    if reason := missing_postgres():
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    started = time.perf_counter()
    with postgres_server() as server:
        url = server.create_database("proxisante")
        print(f"\nPostgreSQL started in {time.perf_counter() - started:.1f} s: {url}")
        yield url


def new_database(postgres_url: str, name: str | None = None) -> str:
    """URL of a new empty database on the server of ``postgres_url``, for a test that must start empty."""
    import psycopg

    parts = urlsplit(postgres_url)
    name = name or f"wh_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(host=parts.hostname, port=parts.port, user=parts.username, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return parts._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """A local Spark for the test session: two threads, few shuffle partitions (the data is tiny, and
    Spark's default of 200 partitions costs seconds per query), no web UI, UTC, tables in a temporary
    directory and an in-memory catalog; skipped, with the reason, when pyspark or Java is absent."""
    if reason := missing_spark():
        pytest.skip(f"Spark tests skipped: {reason}")
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    session = (
        SparkSession.builder.master("local[2]")
        .appName("proxisante-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    print(f"\nSpark started in {time.perf_counter() - started:.1f} s")
    yield session
    session.stop()


def new_spark_warehouse(session: SparkSession) -> Warehouse:
    """A warehouse in a new database of the Spark catalog, for a test that must start empty.

    It runs in a child session (``newSession``: same Spark, its own current database and settings), so
    that two such warehouses never see each other's tables; closing it leaves Spark running."""
    child = session.newSession()
    database = f"wh_{uuid.uuid4().hex[:12]}"
    child.sql(f"CREATE DATABASE {database}")
    child.catalog.setCurrentDatabase(database)
    return Warehouse.on_spark(child, "pyspark://local")
