"""Opening an office database: URLs, SQLite pragmas, schema migrations, clear errors.

Dialect-specific pieces of the store live here and in `dialect.py`, nowhere
else, so the same repositories run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from sqlalchemy import Connection, Engine, Insert, create_engine, event, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

from seg_desktop.core.filenames import sqlite_path_problem
from seg_desktop.store.dialect import ENGINE_EXECUTION_OPTIONS, postgresql_begin
from seg_desktop.store.errors import (
    CannotConnect,
    ConnectionLost,
    DamagedDatabase,
    DatabaseBusy,
    DiskFull,
    NewerDatabase,
    NotOurDatabase,
    StoreError,
)
from seg_desktop.store.schema import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    Base,
    MembershipEvent,
    Meta,
    table_of,
)


def _refuse_unsound_file(path: Path) -> None:
    """The quick check on open: read-only, so a damaged file is never touched (not even
    checkpointed), and refused with the cause and the newest good backup."""
    from seg_desktop.store.backup import describe_problem_with_backup
    from seg_desktop.store.quick_check import Problem, diagnose

    found = diagnose(path)
    if found is None:
        return
    kinds: dict[Problem, type[StoreError]] = {
        Problem.NOT_OURS: NotOurDatabase,
        Problem.NOT_SQLITE: NotOurDatabase,
        Problem.NEWER: NewerDatabase,
        Problem.BUSY: DatabaseBusy,
        Problem.DISK_FULL: DiskFull,
    }
    kind = kinds.get(found.problem, DamagedDatabase)
    message = found.message
    if kind is DamagedDatabase:
        message = describe_problem_with_backup(path, message.rstrip("."))
    raise kind(message)


def _finish_interrupted_restore(path: Path) -> None:
    """A restore killed part-way is carried through before the file is looked at (see
    backup.recover_interrupted_restore): otherwise the file could be the old office
    without its log, which is neither the office nor the backup."""
    from seg_desktop.store.backup import recover_interrupted_restore

    try:
        recover_interrupted_restore(path)
    except OSError as error:
        raise StoreError(
            f"{path}: a restore was interrupted and cannot be completed "
            f"({error.strerror or error}); check that the folder may be written by you"
        ) from None


Migration = Callable[[Connection], None]
# MIGRATIONS[v] upgrades a database at schema version v to v + 1. A database
# opened by a new version of the program runs every step it is missing, in one
# transaction, so an old file either opens fully upgraded or stays as it was.
MIGRATIONS: dict[int, Migration] = {}


def _add_membership_log(connection: Connection) -> None:
    """Schema 1 -> 2: the membership log (entered/left events); it starts empty."""
    table_of(MembershipEvent).create(connection)


MIGRATIONS[1] = _add_membership_log


def _add_automation(connection: Connection) -> None:
    """Schema 2 -> 3: automation rules, their activity log, follow-up tasks, email batches."""
    from seg_desktop.store.schema import AUTOMATION_TABLES, TABLES

    for name in AUTOMATION_TABLES:
        TABLES[name].create(connection)


MIGRATIONS[2] = _add_automation


def database_url(db: str | os.PathLike[str]) -> str:
    """A SQLAlchemy URL from a `--db` argument: a URL as given, anything else a SQLite path."""
    raw = os.fspath(db)
    if "://" in raw:
        return raw
    if raw == ":memory:":
        return "sqlite://"
    return sqlite_url(Path(raw).expanduser().resolve())


def sqlite_url(path: Path, *, read_only: bool = False) -> str:
    """The SQLAlchemy URL of a SQLite file, whatever characters its path holds.

    The path travels as a percent-encoded ``file:`` URI (SQLite's ``uri=true``),
    so a ``?``, ``#`` or ``%`` in a folder or file name is part of the name, never
    read as a query (``what?if=1.db`` once opened a file named ``what``).
    """
    query = {"uri": "true", "mode": "ro"} if read_only else {"uri": "true"}
    location = URL.create("sqlite", database=path.absolute().as_uri(), query=query)
    return location.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names; None for a server or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database
    if not name or name == ":memory:":
        return None
    if name.startswith("file:") and str(parsed.query.get("uri", "")).lower() in ("true", "1"):
        location = urlsplit(name)
        if location.path in ("", ":memory:") or "mode=memory" in location.query:
            return None
        return Path(url2pathname(location.path))
    return Path(name)


def describe_target(url: str) -> str:
    """A URL as shown to the user: the SQLite path, or the server URL without password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        return str(path) if path is not None else ":memory:"
    return parsed.render_as_string(hide_password=True)


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Let SQLAlchemy's "begin" event below decide when a transaction starts
    # (pysqlite's own implicit BEGIN would leave reads outside the transaction).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 5000")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # A writer takes the write lock up front, so two writers queue on
    # busy_timeout instead of failing halfway when one upgrades its lock.
    mode = "BEGIN IMMEDIATE" if connection.info.get("write") else "BEGIN"
    connection.exec_driver_sql(mode)


def _postgresql_on_begin(connection: Connection) -> None:
    # The same guarantees on a server: writers one at a time, reads from one snapshot.
    postgresql_begin(connection, bool(connection.info.get("write")))


class Database:
    """An open office database: the engine, and transactions to read or write in."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.read_only = False

    @property
    def is_sqlite(self) -> bool:
        """Whether this is a desktop SQLite file (else a server)."""
        return self.engine.dialect.name == "sqlite"

    @property
    def target(self) -> str:
        """The path or server URL, for messages and the status bar."""
        return describe_target(self.url)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot for every query inside it."""
        with translate_errors(self.target), self.engine.connect() as connection:
            connection.info["write"] = False
            with connection.begin():
                yield connection

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed whole when the block ends, rolled back on any error."""
        with translate_errors(self.target), self.engine.connect() as connection:
            connection.info["write"] = True
            try:
                with connection.begin():
                    yield connection
            finally:
                connection.info["write"] = False

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def describe_connect_failure(message: str, target: str) -> str | None:
    """One line saying why a database server would not let us connect, or None if it is
    not a connection failure (the driver's message is several lines of detail)."""
    lowered = message.lower()
    if "password authentication failed" in lowered:
        return f"the server refused the user name or password for {target}"
    if "no password supplied" in lowered:
        return f"the server at {target} asks for a password"
    # FATAL:  role "anna" does not exist / FATAL:  database "office" does not exist
    missing = re.search(r'\b(role|database) "([^"]*)" does not exist', message)
    if missing is not None and lowered.startswith("connection failed"):
        if missing.group(1) == "role":
            return f"the server at {target} has no user named '{missing.group(2)}'"
        return f"the server has no database named '{missing.group(2)}' ({target})"
    if "connection refused" in lowered:
        return f"no database server answers at {target} (is it running, and is the port right?)"
    if "failed to resolve host" in lowered or "could not translate host name" in lowered:
        return f"the server's name in {target} is not known (check the host name)"
    if "timeout expired" in lowered or "timed out" in lowered:
        return f"the server at {target} did not answer in time (check the host and the network)"
    if "no pg_hba.conf entry" in lowered:
        return f"the server at {target} does not accept connections from this computer"
    if "too many connections" in lowered or "too many clients" in lowered:
        return f"the server at {target} has too many connections open; try again shortly"
    if "the database system is starting up" in lowered or "shutting down" in lowered:
        return f"the server at {target} is restarting; try again in a moment"
    return None


def _is_disk_full(error: BaseException, target: str) -> bool:
    """Whether a driver error means a full disk (SQLite's or the server's)."""
    from seg_desktop.store.quick_check import is_disk_full

    orig = getattr(error, "orig", None) or error
    if isinstance(orig, sqlite3.Error | OSError):
        return is_disk_full(orig, None if "://" in target else Path(target))
    lowered = str(orig).lower()
    # PostgreSQL: "could not extend file ...: No space left on device".
    return "disk is full" in lowered or "no space left" in lowered


def disk_full_error(target: str) -> DiskFull:
    """The error for a full disk. It claims nothing about what was saved: a failure may come
    after an earlier step of the same job committed, so only the caller knows that."""
    return DiskFull(f"the disk holding {target} is full; free some space and try again")


@contextlib.contextmanager
def translate_errors(target: str) -> Iterator[None]:
    """Turn driver errors into StoreErrors whose message names the cause."""
    try:
        yield
    except StoreError:
        raise
    except OSError as error:
        if _is_disk_full(error, target):
            raise disk_full_error(target) from None
        raise
    except OperationalError as error:
        if error.connection_invalidated:  # the dialect's is_disconnect said so
            raise ConnectionLost() from None
        if _is_disk_full(error, target):
            raise disk_full_error(target) from None
        message = str(error.orig) if error.orig is not None else str(error)
        failure = describe_connect_failure(message, target)
        if failure is not None:
            raise CannotConnect(failure) from None
        lowered = message.lower()
        if "lock timeout" in lowered:  # PostgreSQL: the writer lock (dialect.postgresql_begin)
            raise DatabaseBusy(
                f"{target} is busy: another seg-desktop has been saving to it for minutes "
                "(a long run or import); try again when it has finished"
            ) from None
        if "locked" in lowered or "busy" in lowered:
            raise DatabaseBusy(
                f"{target} is locked by another program (another seg-desktop window, a backup "
                "or sync tool); try again when it has finished"
            ) from None
        if "readonly" in lowered or "read-only" in lowered:
            raise StoreError(f"{target} is read-only; nothing was saved") from None
        if "file is not a database" in lowered:
            raise NotOurDatabase(
                f"{target} is not a seg_desktop database (it is not a SQLite file, or its header "
                "is damaged); it was left untouched"
            ) from None
        if "malformed" in lowered or "corrupt" in lowered:
            raise StoreError(f"{target} is damaged ({message})") from None
        raise StoreError(f"database error on {target}: {message}") from None
    except (DBAPIError, sqlite3.DatabaseError) as error:
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            raise ConnectionLost() from None
        if _is_disk_full(error, target):
            raise disk_full_error(target) from None
        orig = getattr(error, "orig", None)
        message = str(orig) if orig is not None else str(error)
        if "file is not a database" in message or "not a database" in message:
            raise NotOurDatabase(
                f"{target} is not a seg_desktop database (it is not a SQLite file, or its header "
                "is damaged); it was left untouched"
            ) from None
        if "malformed" in message or "corrupt" in message:
            raise StoreError(f"{target} is damaged ({message})") from None
        raise StoreError(f"database error on {target}: {message}") from None


def open_database(
    db: str | os.PathLike[str], *, create: bool = True, read_only: bool = False
) -> Database:
    """Open (and if needed create or upgrade) the office database at a path or URL.

    A SQLite file that exists is checked first (read-only). With `read_only`
    nothing is ever written: no upgrade, no write-ahead switch, and every write
    fails with a clear message (a second window on a file in use).

    Raises NotOurDatabase for a file that holds other tables or is not a
    database, NewerDatabase for a schema this version does not know, and
    StoreError for anything else, each with a message for the user.
    """
    url = database_url(db)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"'{db}' is neither a file path nor a database URL") from None
    target = describe_target(url)
    engine_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            unusable = sqlite_path_problem(path)
            if unusable is not None:
                raise StoreError(unusable)
            _finish_interrupted_restore(path)
            if not path.exists() and (not create or read_only):
                raise StoreError(
                    f"{path} does not exist (create an office with 'seg-desktop demo' or "
                    "'seg-desktop import', or open it in the window)"
                )
            if not path.parent.is_dir():
                raise StoreError(f"the folder {path.parent} does not exist")
            if path.exists():
                _refuse_unsound_file(path)
            else:
                # Created readable by the user only: it holds client data.
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.close(fd)
            if read_only:
                url = sqlite_url(path, read_only=True)
        engine_args["connect_args"] = {"check_same_thread": False, "timeout": 5}
    engine = _make_engine(url, target, engine_args)
    database = Database(engine, url)
    database.read_only = read_only
    try:
        _prepare(database)
    except BaseException:
        engine.dispose()
        raise
    return database


# How long connecting to a server may take before it counts as not answering (seconds),
# unless the URL says otherwise (`?connect_timeout=`): a server that is down or
# unreachable is reported in seconds instead of after the system's TCP timeout.
SERVER_CONNECT_TIMEOUT = 5


def _make_engine(url: str, target: str, engine_args: dict[str, Any]) -> Engine:
    """The engine for an office database, with this module's per-dialect settings."""
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        # A connection the server dropped (a restart, a network break) is noticed when
        # it is taken from the pool and replaced, instead of failing the next operation.
        engine_args["pool_pre_ping"] = True
        if "connect_timeout" not in make_url(url).query:
            engine_args["connect_args"] = {"connect_timeout": SERVER_CONNECT_TIMEOUT}
    try:
        engine = create_engine(url, execution_options=ENGINE_EXECUTION_OPTIONS, **engine_args)
    except (ArgumentError, SQLAlchemyError, ImportError) as error:
        raise StoreError(f"cannot open {target}: {error}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "begin", _postgresql_on_begin)
    return engine


def server_database_is_empty(db: str) -> bool:
    """Whether the server database at a URL holds no tables yet (a new office would be set
    up in it); False for one of our offices. Nothing is written.

    Raises CannotConnect when the server cannot be reached or refuses the login,
    NotOurDatabase when the database holds other tables, NewerDatabase, and
    StoreError for anything else.
    """
    url = database_url(db)
    try:
        make_url(url)
    except ArgumentError:
        raise StoreError(f"'{db}' is not a database URL") from None
    target = describe_target(url)
    engine = _make_engine(url, target, {})
    try:
        database = Database(engine, url)
        with translate_errors(target), database.read() as connection:
            tables = set(inspect(connection).get_table_names())
            if tables:
                _check_ours(connection, tables, target)
        return not tables
    finally:
        engine.dispose()


def _prepare(database: Database) -> None:
    target = database.target
    with translate_errors(target):
        # Look before touching anything: a file that is not ours is left byte for byte
        # as it was (not even switched to write-ahead logging).
        with database.read() as connection:
            tables = set(inspect(connection).get_table_names())
            version = _check_ours(connection, tables, target) if tables else None
        if database.read_only:
            if version is None or version < SCHEMA_VERSION:
                raise StoreError(
                    f"{target} needs setting up or upgrading, which a read-only window cannot do"
                )
            return
        if database.is_sqlite and version is not None and version < SCHEMA_VERSION:
            from seg_desktop.store.backup import sqlite_file, take_backup

            source = sqlite_file(database)
            if source is not None:
                take_backup(source, "migration")  # a failed backup blocks the upgrade
        if database.is_sqlite:
            _enable_wal(database)
        if version == SCHEMA_VERSION and not database.is_sqlite:
            # Nothing to create or upgrade: no write, so opening a server office never
            # queues behind another desktop's whole run or import. (A SQLite file still
            # takes its write lock here, which tells at once when another program holds it.)
            return
        with database.write() as connection:
            # Look again under the write lock: another process may have created or
            # upgraded the file since the look above.
            tables = set(inspect(connection).get_table_names())
            if not tables:
                _create(connection)
                return
            version = _check_ours(connection, tables, target)
            if version < SCHEMA_VERSION:
                migrate(connection, version)
            _ensure_office_id(connection)


def _check_ours(connection: Connection, tables: set[str], target: str) -> int:
    """The schema version of one of our databases, or NotOurDatabase / NewerDatabase."""
    if "meta" not in tables:
        raise NotOurDatabase(
            f"{target} is not a seg_desktop database (it holds other tables: "
            f"{', '.join(sorted(tables)[:5])}); it was left untouched"
        )
    facts = dict(connection.execute(select(Meta.key, Meta.value)).all())
    if facts.get("application") != APPLICATION_ID:
        raise NotOurDatabase(f"{target} is not a seg_desktop database; it was left untouched")
    version = int(facts.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise NewerDatabase(
            f"{target} was saved by a newer version of seg-desktop (schema {version}, "
            f"this version reads up to {SCHEMA_VERSION}); update the program to open it"
        )
    return version


def _enable_wal(database: Database) -> None:
    path = sqlite_path(database.url)
    new_file = path is not None and path.exists() and path.stat().st_size == 0
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if new_file:
            # Switching a new, empty file to WAL writes its header through a rollback
            # journal, "<name>-journal", whose name is 4 bytes longer than "<name>-wal": an
            # office named with 248 to 251 bytes could never be created. An empty file has
            # nothing to protect, so that one write keeps its journal in memory; from then
            # on the file is in WAL mode and only ever needs "-wal" and "-shm".
            cursor.execute("PRAGMA journal_mode = MEMORY")
        cursor.execute("PRAGMA journal_mode = WAL")
        row = cursor.fetchone()
        mode = row[0] if row else None
        cursor.close()
    finally:
        raw.close()
    if mode not in ("wal", "memory"):
        raise StoreError(f"{database.target}: cannot switch to write-ahead logging ({mode})")


def _create(connection: Connection) -> None:
    Base.metadata.create_all(connection)
    connection.execute(
        table_of(Meta).insert(),
        [
            {"key": "application", "value": APPLICATION_ID},
            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            {"key": "created_at", "value": dt.datetime.now().isoformat(timespec="seconds")},
            {"key": OFFICE_ID_KEY, "value": new_office_id()},
        ],
    )


OFFICE_ID_KEY = "office_id"
"""The meta key of an office's identity: a random id given at creation (or, for an office
made by an older version, on its first open), kept by its backups and copies, so that a
backup of one office is never restored over another without asking."""


def new_office_id() -> str:
    """A new, random office identity (32 hex digits)."""
    return uuid.uuid4().hex


def _ensure_office_id(connection: Connection) -> None:
    """Give an office made before offices had an identity its own one (inside the caller's
    write transaction)."""
    present = connection.execute(select(Meta.value).where(Meta.key == OFFICE_ID_KEY)).first()
    if present is None:
        connection.execute(
            table_of(Meta).insert(), [{"key": OFFICE_ID_KEY, "value": new_office_id()}]
        )


def migrate(connection: Connection, from_version: int, to_version: int | None = None) -> None:
    """Run the upgrade steps between two schema versions inside the caller's transaction."""
    if to_version is None:
        to_version = SCHEMA_VERSION
    for version in range(from_version, to_version):
        step = MIGRATIONS.get(version)
        if step is None:
            raise StoreError(f"no upgrade is known from schema version {version}")
        step(connection)
    connection.execute(
        table_of(Meta).update().where(Meta.key == "schema_version").values(value=str(to_version))
    )


def insert_returning_id(connection: Connection, statement: Insert) -> int:
    """Execute a single-row INSERT and return the new row's primary key."""
    key = connection.execute(statement).inserted_primary_key
    if key is None or key[0] is None:
        raise StoreError("the database did not return the new record's id")
    return int(key[0])


def schema_version(connection: Connection) -> int:
    """The schema version recorded in the database."""
    value = connection.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar()
    return int(value or 0)
