"""Connecting the warehouse: an Ibis backend chosen by URL, its tables created on first use.

``duckdb://<file>`` is the embedded default. The URL is all that changes for PostgreSQL or PySpark,
because every query of the domain packages above is an Ibis expression:

- ``duckdb://<path>`` (``duckdb://`` alone: in memory);
- ``postgres://user[:password]@host[:port]/database`` (or ``postgresql://``), a PostgreSQL server;
- ``pyspark://local[/<absolute directory>][?threads=N&<spark.conf.key>=<value>...]``, a local Spark.
  With a directory, the tables are Parquet files under ``<directory>/tables`` and their catalog a
  Derby metastore in ``<directory>/metastore_db``, so that they outlive the Spark session; without
  one, the catalog lives as long as the session. A Spark cluster is configured by whoever runs it:
  build its ``SparkSession`` and use :meth:`Warehouse.on_spark`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import duckdb
import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
from ibis.backends import BaseBackend
from ibis.expr.schema import Schema
from ibis.expr.types import Expr, Table

from proxisante.identity.keys import make_private, owner_only_umask
from proxisante.warehouse.schema import TABLES, TABLES_BY_NAME

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class WarehouseError(RuntimeError):
    """The warehouse cannot do what was asked (wrong engine, missing table...)."""


class WarehouseBusy(WarehouseError):
    """The warehouse file is held by another process (DuckDB: one process owns the file), said in French."""

    def __init__(self, path: str, holder: str = "", advice: str = "") -> None:
        self.path = path
        self.holder = holder
        held = f" (PID {holder})" if holder else ""
        message = f"L'entrepôt {path} est ouvert par un autre processus{held} : un seul processus peut l'ouvrir."
        super().__init__(f"{message} {advice}".strip())


def _lock_holder(error: duckdb.IOException) -> str | None:
    """The PID of the process holding a DuckDB file, "" when unnamed; None when ``error`` is not a lock error."""
    text = str(error)
    if "Could not set lock" not in text and "Conflicting lock" not in text:
        return None
    found = re.search(r"\(PID (\d+)\)", text)
    return found[1] if found else ""


class Warehouse:
    """The analytic store: OMOP tables, French extension and load bookkeeping, behind Ibis.

    ``owns_backend`` says whether :meth:`close` disconnects the backend: a warehouse built around a
    connection or a Spark session that someone else opened leaves it open for them. Its ``table`` and
    ``execute`` make it a :class:`~proxisante.warehouse.tables.Tables`, which is all that readers need.
    """

    def __init__(self, backend: BaseBackend, url: str, *, owns_backend: bool = True) -> None:
        self.backend = backend
        self.url = url
        self.owns_backend = owns_backend
        self._ensure_tables()

    @classmethod
    def connect(cls, url: str) -> Warehouse:
        scheme = urlsplit(url).scheme
        if scheme == "duckdb":
            # duckdb:///path/warehouse.duckdb?memory_limit=6GB&threads=2 : DuckDB settings in the query.
            path, _, query = url.removeprefix("duckdb://").partition("?")
            config = dict(parse_qsl(query))
            if path and path != ":memory:":
                owner_only_umask()  # the file and its write-ahead log: health data, the owner's only
            try:
                backend = ibis.duckdb.connect(path or ":memory:", **config)
            except duckdb.IOException as error:  # another process holds the file: a French error, no traceback
                holder = _lock_holder(error)
                if holder is None:
                    raise
                raise WarehouseBusy(path, holder) from error
            warehouse = cls(backend, url)
            for file in (Path(path), Path(f"{path}.wal")) if path and path != ":memory:" else ():
                make_private(file)  # a warehouse created before this rule
            return warehouse
        if scheme in ("postgres", "postgresql"):
            return cls(ibis.connect(url), url)  # Ibis reads both schemes, user, password, host, port, db
        if scheme == "pyspark":
            return cls(ibis.pyspark.connect(spark_session(url)), url)
        return cls(ibis.connect(url), url)  # another Ibis engine: untested, at your own risk

    @classmethod
    def on_spark(cls, session: SparkSession, url: str = "pyspark://") -> Warehouse:
        """A warehouse in the current database of a Spark session that the caller owns (a cluster's,
        a test's): closing the warehouse leaves the session running."""
        return cls(ibis.pyspark.connect(session), url, owns_backend=False)

    @property
    def engine(self) -> str:
        """The Ibis backend's name: ``duckdb``, ``postgres`` or ``pyspark``."""
        return self.backend.name

    @property
    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """The raw DuckDB connection, for staging files next to the warehouse."""
        if self.engine != "duckdb":
            raise WarehouseError(f"the {self.engine} engine has no embedded DuckDB connection")
        con: duckdb.DuckDBPyConnection = self.backend.con
        return con

    @property
    def spark(self) -> SparkSession:
        """The Spark session of a Spark warehouse, for the little that Ibis cannot do on Spark."""
        if self.engine != "pyspark":
            raise WarehouseError(f"the {self.engine} engine has no Spark session")
        session: SparkSession = self.backend._session
        return session

    def _ensure_tables(self) -> None:
        existing = set(self.backend.list_tables())
        for table in TABLES:
            if table.name not in existing:
                self.backend.create_table(table.name, schema=table.schema)
        if existing:
            self._add_missing_columns(existing)

    def _add_missing_columns(self, existing: set[str]) -> None:
        """Columns declared since a table was created (``etl_batch.structure``, issue 15) are added, empty,
        so that a warehouse created by an earlier version still opens (DuckDB and PostgreSQL; a Spark
        warehouse is rebuilt by ``replicate``)."""
        if self.engine not in ("duckdb", "postgres"):
            return
        query = "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        found: dict[str, set[str]] = {}
        for name, column in self._sql(query):
            found.setdefault(name, set()).add(column)
        mapper = self.backend.compiler.type_mapper
        dialect = "postgres" if self.engine == "postgres" else "duckdb"
        for table in TABLES:
            if table.name not in existing or table.name not in found:
                continue
            for column, dtype in table.schema.items():
                if column not in found[table.name]:
                    sql_type = mapper.from_ibis(dtype).sql(dialect)
                    self._sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column}" {sql_type}')

    def _sql(self, query: str) -> list[tuple[Any, ...]]:
        """Run one statement on the DuckDB or PostgreSQL connection; its rows, if it returns any."""
        if self.engine == "duckdb":
            cursor = self.duckdb.execute(query)
            return cursor.fetchall() if cursor.description else []
        with self.backend.raw_sql(query) as cursor:  # psycopg's cursor
            return cursor.fetchall() if cursor.description else []

    def table(self, name: str) -> Table:
        if name not in TABLES_BY_NAME:
            raise WarehouseError(f"no warehouse table named {name!r}")
        return self.backend.table(name)

    def schema_mismatches(self) -> dict[str, str]:
        """Tables whose columns or types differ from ``schema.TABLES``, with what differs; empty when the
        engine holds exactly the declared schema."""
        found = {}
        for table in TABLES:
            actual = normalised(self.backend.get_schema(table.name))
            if actual != table.schema:
                found[table.name] = f"declared {dict(table.schema.items())}, found {dict(actual.items())}"
        return found

    @property
    def transactional(self) -> bool:
        """Whether :meth:`transaction` is available: Spark tables have no multi-statement transaction."""
        return self.engine in ("duckdb", "postgres")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: a batch either commits whole or leaves the warehouse as it was."""
        if self.engine == "postgres":
            # Ibis runs each statement in ``con.transaction()``: inside this one they become savepoints.
            with self.backend.con.transaction():
                yield
            return
        if self.engine != "duckdb":
            raise WarehouseError(f"the {self.engine} engine has no transactions spanning several statements")
        con = self.duckdb
        con.begin()
        try:
            yield
        except BaseException:
            con.rollback()
            raise
        con.commit()

    def counts(self) -> dict[str, int]:
        """Row count of every warehouse table."""
        return {t.name: int(self.table(t.name).count().execute()) for t in TABLES}

    def execute(self, expr: Expr) -> Any:
        """The result of an Ibis expression: a pandas DataFrame for a table, a scalar for a scalar."""
        return self.backend.execute(expr)

    def to_pyarrow(self, expr: Table) -> pa.Table:
        """A query's exact result as Arrow, with the types of its Ibis schema.

        Prefer it to :meth:`execute` for results that must be exact on every engine: Ibis reads Spark
        results through pandas, where a 64-bit integer column holding a NULL becomes float64 and every id
        above 2**53 (keyed hashes, stable ids) comes back rounded. Spark 4 gives Arrow directly.
        """
        if self.engine == "pyspark":
            self.backend._run_pre_execute_hooks(expr)  # registers memtables
            data = self.spark.sql(self.backend.compile(expr)).toArrow()
        else:
            data = self.backend.to_pyarrow(expr)
        return data.cast(expr.schema().to_pyarrow())

    def to_pyarrow_batches(self, expr: Table, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """A query's result in Arrow batches of at most ``batch_rows`` rows: streamed from DuckDB and
        PostgreSQL; Spark's is collected first (as Ibis does), in Arrow for the reason of ``to_pyarrow``."""
        if self.engine == "pyspark":
            yield from self.to_pyarrow(expr).to_batches(max_chunksize=batch_rows)
        else:
            yield from self.backend.to_pyarrow_batches(expr, chunk_size=batch_rows)

    def close(self) -> None:
        if self.owns_backend:
            self.backend.disconnect()


def normalised(schema: Schema) -> Schema:
    """A schema as declared in ``schema.py``: DuckDB and PostgreSQL report ``timestamp(6)`` for a column
    created as ``timestamp``, which is the same type (microseconds are every engine's default)."""
    return ibis.schema({name: _declared_type(dtype) for name, dtype in schema.items()})


def _declared_type(dtype: dt.DataType) -> dt.DataType:
    if dtype.is_timestamp() and dtype.scale == 6:
        return dtype.copy(scale=None)
    return dtype


def spark_session(url: str) -> SparkSession:
    """The local Spark session of a ``pyspark://local[/<directory>][?threads=N&<spark conf>=...]`` URL.

    A process has one Spark session: when one is already running it is reused, unless the URL asks for
    another warehouse directory than the session's, which is an error rather than a silent surprise.
    """
    from pyspark.sql import SparkSession  # here, not at the top: pyspark is the optional ``spark`` extra

    parts = urlsplit(url)
    if parts.netloc not in ("", "local"):
        raise WarehouseError(
            f"{url!r}: a pyspark URL is pyspark://local[/<directory>]; for a cluster, build the SparkSession "
            "and use Warehouse.on_spark(session)"
        )
    conf = dict(parse_qsl(parts.query))
    builder = SparkSession.builder.master(f"local[{conf.pop('threads', '*')}]").appName("proxisante")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    root = Path(parts.path) if parts.path.strip("/") else None
    if root is not None:
        builder = _persistent_catalog(builder, root)
    for key, value in conf.items():
        builder = builder.config(key, value)
    active = SparkSession.getActiveSession()
    if active is not None and root is not None:
        _check_same_directory(active, root)
    session = builder.getOrCreate()
    if active is None:
        session.sparkContext.setLogLevel("ERROR")
    return session


def _persistent_catalog(builder: SparkSession.Builder, root: Path) -> SparkSession.Builder:
    """Tables as Parquet under ``root/tables``, their catalog in a Derby metastore under ``root``: without
    a metastore, Spark forgets its tables when the session ends."""
    root.mkdir(parents=True, exist_ok=True)
    metastore = f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true"
    return (
        builder.config("spark.sql.warehouse.dir", str(root / "tables"))
        .config("spark.hadoop.javax.jdo.option.ConnectionURL", metastore)
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={root}")
        .enableHiveSupport()
    )


def _check_same_directory(session: SparkSession, root: Path) -> None:
    current = session.conf.get("spark.sql.warehouse.dir") or ""
    if Path(current.removeprefix("file:")) != root / "tables":
        raise WarehouseError(
            f"a Spark session is already running with its tables in {current}, not {root / 'tables'}: "
            "one process has one Spark session"
        )
