"""Apply, roll back and list the project's yoyo migrations, reporting failures in one line."""

from __future__ import annotations

import configparser
import contextlib
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations
from yoyo.exceptions import LockTimeout

from attribution_db import PROJECT_ROOT, CliError, dburl

CONFIG = PROJECT_ROOT / "yoyo.ini"


def sources() -> list[str]:
    """The migration folders, in the order yoyo.ini lists them (absolute paths)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(CONFIG, encoding="utf-8")
    listed = parser.get("DEFAULT", "sources", fallback="").split()
    if not listed:
        raise CliError(f"{CONFIG} lists no migration sources")
    return [str(PROJECT_ROOT / src) for src in listed]


def load(extra_sources: tuple[str, ...] = ()):
    """Every migration of the project (and of ``extra_sources``), in yoyo's order."""
    return read_migrations(*sources(), *extra_sources)


def relpath(migration) -> str:
    path = Path(migration.path).resolve()
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


@contextlib.contextmanager
def scratch_database(server_url: str, purpose: str):
    """A new database on the server of ``server_url``, migrated from zero; dropped afterwards.

    Yields its URL. The role of ``server_url`` needs CREATEDB.
    """
    name = f"attribution_{purpose}_{uuid.uuid4().hex[:10]}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with dburl.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = dburl.with_dbname(server_url, name)
        migrator = Migrator(url)
        migrator.apply(report=lambda line: None)
        migrator.backend.connection.close()
        yield url
    finally:
        with dburl.connect(server_url, autocommit=True) as admin:
            admin.execute(drop)


def describe_db_error(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or dburl.first_line(exc)
    state = getattr(exc, "sqlstate", None)
    return f"{state}: {text}" if state else text


#: SQLSTATEs meaning "it already exists": a migration failing with one of them, when it is the
#: first pending one, was most likely applied by a run killed before yoyo recorded it.
DUPLICATE_OBJECT = {"42P07", "42710", "42701", "42723", "42P06", "42P16", "42712"}

#: The run lock: every attribution-db run on a database holds an EXCLUSIVE lock on this table, in
#: a transaction left open on a connection of its own, while it migrates. PostgreSQL releases it
#: when that session ends, so unlike yoyo's lock row it cannot outlive a killed run: a yoyo lock
#: row found while holding it is stale. The schema grants nothing to PUBLIC, so an application
#: role cannot even name the table (42501 before any lock is taken), unlike an advisory lock key
#: or a table in schema public (which any role can hold with PREPARE ... INSERT in an open
#: transaction). Created by the migrator when missing, like yoyo's own tables.
LOCK_SCHEMA = "attribution_migrate"
LOCK_TABLE = f"{LOCK_SCHEMA}.run_lock"

#: SQLSTATE classes of a lost server connection: 08 connection exception, 57 operator
#: intervention (pg_terminate_backend, shutdown, crash).
CONNECTION_LOST = ("08", "57")


def _drop_tracebacks(record: logging.LogRecord) -> bool:
    return record.exc_info is None


def _print_warning(diag) -> None:
    """Show a migration's RAISE WARNING (e.g. a bootstrap step a superuser still has to do)."""
    # RAISE WARNING in a migration (P0001, or a class 01 code); not the server's own
    # "terminating connection" warnings on a shutdown (57P01), which the error reports.
    if diag.severity_nonlocalized == "WARNING" and (diag.sqlstate or "").startswith(("P0", "01")):
        hint = f" -- {diag.message_hint}" if diag.message_hint else ""
        print(f"warning: {diag.message_primary}{hint}", file=sys.stderr)


@dataclass
class Status:
    applied: list[str]
    pending: list[str]
    stale_lock: tuple[int, object] | None = None  # (pid, ctime) of a lock row nobody holds
    missing: list[str] | None = None  # recorded as applied, but no file has that migration


class Migrator:
    """A yoyo backend on one database, holding the migration lock while it works."""

    _held_lock: "_RunLock | None" = None
    lost_connection = False

    def __init__(self, url: str, extra_sources: tuple[str, ...] = ()) -> None:
        self.url = url
        dburl.parse(url)
        logging.getLogger("yoyo").setLevel(logging.WARNING)
        # yoyo logs a failing step with its traceback; the one-line error says it all.
        steps_log = logging.getLogger("yoyo.migrations")
        if _drop_tracebacks not in steps_log.filters:
            steps_log.addFilter(_drop_tracebacks)
        try:
            self.backend = get_backend(dburl.to_yoyo(url))
        except psycopg.OperationalError as exc:
            raise CliError(f"cannot connect to {dburl.redact(url)}: {dburl.first_line(exc)}") from None
        # The database bounds idle transactions (202611281402); the migrator's own session is
        # exempt: yoyo's connection is in autocommit mode, so this SET lasts for the session.
        self.backend.execute("SET idle_in_transaction_session_timeout = 0")
        self.backend.connection.add_notice_handler(_print_warning)
        self.migrations = load(tuple(extra_sources))

    def status(self) -> Status:
        with _RunLock(self.url, wait=0) as held:
            stale = self._lock_row() if held else None
        if stale and not self._has_migration_table():
            raise CliError(self._killed_before_bookkeeping(stale))
        try:
            applied_hashes = self.backend.get_applied_migration_hashes()
        except LockTimeout:
            raise CliError(
                "another migration run is creating yoyo's tables in this database right now; "
                "run `make status` again when it is done"
            ) from None
        ordered = list(self.backend.to_rollback(self.migrations))[::-1]
        pending = list(self.backend.to_apply(self.migrations))
        known = {m.hash for m in self.migrations}
        recorded = dict(self.backend.execute(
            f"SELECT migration_hash, migration_id FROM {self.backend.migration_table_quoted}"
        ).fetchall())
        missing = [recorded[h] for h in applied_hashes if h not in known]
        return Status([m.id for m in ordered], [m.id for m in pending], stale, missing)

    def apply(self, report=print, limit: int | None = None) -> list[str]:
        """Apply pending migrations in order (the first ``limit`` only, when given).

        The pending list is computed inside the lock, so two concurrent runs apply each
        migration once: the second one waits, then finds nothing left to do.
        """
        done: list[str] = []
        with self._lock():
            pending = list(self.backend.to_apply(self.migrations))
            for index, migration in enumerate(pending if limit is None else pending[:limit]):
                self._run(migration, "apply", report, first=index == 0)
                done.append(migration.id)
        return done

    def rollback(self, count: int | None, report=print) -> list[str]:
        """Roll back the latest ``count`` applied migrations (all when None)."""
        done: list[str] = []
        with self._lock():
            newest_first = list(self.backend.to_rollback(self.migrations))
            for migration in newest_first if count is None else newest_first[:count]:
                self._run(migration, "rollback", report)
                done.append(migration.id)
        return done

    def run_one(self, migration_id: str, direction: str, report=print) -> None:
        """Apply or roll back exactly this migration, whatever else is applied (make rehearse:
        the caller keeps dependencies in order, rolling back dependants first)."""
        with self._lock():
            migration = {m.id: m for m in self.migrations}[migration_id]
            applied = {m.id for m in self.backend.to_rollback(self.migrations)}
            if (direction == "apply") == (migration_id in applied):
                state = "already applied" if migration_id in applied else "not applied"
                raise CliError(f"cannot {direction} {migration_id}: it is {state}")
            self._run(migration, direction, report)

    def mark(self, migration_id: str) -> str:
        """Record a pending migration as applied without running it (after a killed run)."""
        with self._lock():
            pending = {m.id: m for m in self.backend.to_apply(self.migrations)}
            if migration_id not in pending:
                state = "already recorded as applied" if migration_id in {m.id for m in self.migrations} else "unknown"
                raise CliError(f"cannot mark {migration_id}: it is {state}; `make status` lists the migrations")
            with self.backend.transaction():
                self.backend.mark_one(pending[migration_id], log=True)
        return relpath(pending[migration_id])

    def break_lock(self) -> tuple[int, object] | None:
        """Delete a stale yoyo lock row; refuse while an attribution-db run holds the lock."""
        with _RunLock(self.url, wait=0) as held:
            if not held:
                raise CliError("a migration run is in progress on this database (it holds the lock); wait for it")
            row = self._lock_row()
            if row:
                self.backend.break_lock()
        return row

    def _has_migration_table(self) -> bool:
        return self.backend.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (self.backend.migration_table_quoted,)
        ).fetchone()[0]

    @staticmethod
    def _killed_before_bookkeeping(row) -> str:
        pid, ctime = row
        return (
            f"a migration run (pid {pid}, {ctime} UTC) was killed before it created yoyo's tables: "
            "nothing is applied, but its lock row is left; remove it with `make break-lock`, "
            "then run `make migrate`"
        )

    def _lock_row(self) -> tuple[int, object] | None:
        row = self.backend.execute(f"SELECT pid, ctime FROM {self.backend.lock_table_quoted}").fetchone()
        return (row[0], row[1]) if row else None

    def _lock(self):
        return _Lock(self)

    def _run(self, migration, direction: str, report, first: bool = False) -> None:
        verb = {"apply": "applying", "rollback": "rolling back"}[direction]
        report(f"{verb} {migration.id}  ({relpath(migration)})")
        self._lock_alive()
        try:
            self._run_and_record(migration, direction)
        except psycopg.Error as exc:
            if self._connection_lost(exc):
                raise CliError(self._lost_message(migration, direction, exc)) from None
            message = (
                f"{direction} of {relpath(migration)} failed: {describe_db_error(exc)} "
                "-- that migration was rolled back, the database is as it was before it"
            )
            if direction == "apply" and first and getattr(exc, "sqlstate", None) in DUPLICATE_OBJECT:
                message += (
                    f"; its objects already exist, so a run was probably killed after applying it but "
                    f"before recording it: if the database already matches {migration.id}, record it "
                    f"with `make mark ID={migration.id}` and run `make migrate` again"
                )
            raise CliError(message) from None

    def _connection_lost(self, exc: psycopg.Error) -> bool:
        state = getattr(exc, "sqlstate", None) or ""
        conn = self.backend.connection
        return conn.closed or conn.broken or state.startswith(CONNECTION_LOST)

    def _lock_alive(self) -> None:
        """Fail before a migration when the run lock's session was terminated under us."""
        lock = self._held_lock
        if lock is not None and not lock.alive():
            raise CliError(
                f"the session holding the migration lock ({LOCK_TABLE}) was terminated, so another "
                "run could start: stopping before the next migration; run `make migrate` again"
            )

    def _lost_message(self, migration, direction: str, exc: psycopg.Error) -> str:
        """One line: what was cut off, what the server did with it, and the next step."""
        self.lost_connection = True
        reason = describe_db_error(exc)
        row_gone = self._remove_own_lock_row()
        if migration.use_transactions:
            fate = (
                f"{migration.id} runs in one transaction, so the server rolled it back "
                "(crash recovery does the same): nothing of it is applied or recorded"
            )
            step = "run `make migrate` again" if row_gone else "run `make break-lock`, then `make migrate`"
        else:
            fate = (
                f"{migration.id} is not transactional (-- transactional: false), so part of it may "
                "be applied (an index built CONCURRENTLY may be left INVALID)"
            )
            step = (
                f"run `make status`: if {migration.id} is still pending, check its objects and either "
                f"record it with `make mark ID={migration.id}` or drop what it left and run `make migrate`"
            )
            if not row_gone:
                step = "run `make break-lock`, then " + step
        return (
            f"{direction} of {relpath(migration)} was cut off: the connection to the server was lost "
            f"({reason}); {fate}; when the server accepts connections again, {step}"
        )

    def _remove_own_lock_row(self) -> bool:
        """After a lost connection, delete this process's yoyo lock row on a new one if possible."""
        try:
            with dburl.connect(self.url, autocommit=True, connect_timeout=3) as conn:
                conn.execute(
                    f"DELETE FROM {self.backend.lock_table_quoted} WHERE pid = %s", (os.getpid(),)
                )
            return True
        except (psycopg.Error, CliError):  # dburl.connect reports a refused connection as CliError
            return False

    def _run_and_record(self, migration, direction: str) -> None:
        """Run a migration and record it in ONE transaction (yoyo itself uses two).

        yoyo's apply_one commits the migration, then records it in a second transaction, so
        a run killed in between leaves it applied but unrecorded. Doing both in one
        transaction makes apply-and-record atomic. Migrations marked
        ``-- transactional: false`` cannot be wrapped and go through yoyo unchanged.
        """
        backend = self.backend
        migration.load()
        if not migration.use_transactions:
            (backend.apply_one if direction == "apply" else backend.rollback_one)(migration)
            return
        backend.ensure_internal_schema_updated()
        with backend.transaction():
            migration.process_steps(backend, direction)
            backend.log_migration(migration, direction)
            if direction == "apply":
                backend.mark_one(migration, log=False)
            else:
                backend.unmark_one(migration, log=False)


class _RunLock:
    """The run lock (LOCK_TABLE, EXCLUSIVE mode) on its own connection; ``wait`` seconds to get it.

    The transaction holding it stays open for the whole run, so this session switches the
    database's idle_in_transaction_session_timeout off for itself. It holds no snapshot and no
    transaction id while idle (READ COMMITTED, no writes), so it does not hold back VACUUM.
    """

    POLL = 0.2

    def __init__(self, url: str, wait: float) -> None:
        self.url = url
        self.wait = wait
        self.conn: psycopg.Connection | None = None

    def __enter__(self) -> bool:
        self.conn = dburl.connect(self.url, autocommit=True)
        try:
            self.conn.execute("SET idle_in_transaction_session_timeout = 0")
            self.conn.execute("SET lock_timeout = 0")
            _ensure_lock_table(self.conn)
            deadline = time.monotonic() + self.wait
            while True:
                self.conn.execute("BEGIN")
                try:
                    self.conn.execute(f"LOCK TABLE {LOCK_TABLE} IN EXCLUSIVE MODE NOWAIT")
                    return True
                except psycopg.errors.LockNotAvailable:
                    self.conn.execute("ROLLBACK")
                if time.monotonic() >= deadline:
                    return False
                time.sleep(self.POLL)
        except BaseException:
            self.conn.close()
            raise

    def alive(self) -> bool:
        try:
            # The simple query protocol (a client-side cursor): with the extended protocol the
            # unnamed portal keeps this SELECT's snapshot, hence an xmin, until the transaction
            # ends, and CREATE INDEX CONCURRENTLY waits for every older snapshot, so a
            # non-transactional index build would wait for this session forever.
            psycopg.ClientCursor(self.conn).execute("SELECT 1")
            return True
        except (psycopg.Error, CliError):  # dburl.connect reports a refused connection as CliError
            return False

    def __exit__(self, *exc_info):
        if self.conn is not None:
            self.conn.close()  # ends the session, which ends the transaction and its lock
        return False


def _ensure_lock_table(conn: psycopg.Connection) -> None:
    """Create LOCK_SCHEMA and LOCK_TABLE when missing (two runs racing: one wins, both go on)."""
    if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (LOCK_TABLE,)).fetchone()[0]:
        return
    try:
        with conn.transaction():
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {LOCK_SCHEMA}")
            conn.execute(f"REVOKE ALL ON SCHEMA {LOCK_SCHEMA} FROM PUBLIC")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {LOCK_TABLE} ()")
            conn.execute(
                f"COMMENT ON SCHEMA {LOCK_SCHEMA} IS 'attribution-db migrator bookkeeping: "
                "the run lock. No privilege for PUBLIC, so application roles cannot name it.'"
            )
            conn.execute(
                f"COMMENT ON TABLE {LOCK_TABLE} IS 'Run lock of attribution-db migrate/rollback: "
                "held IN EXCLUSIVE MODE by the running migrator. Holds no rows.'"
            )
    except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema, psycopg.errors.DuplicateTable):
        pass  # created by a concurrent run meanwhile


class _Lock:
    """The run lock, then yoyo's own lock row; one-line errors when either is stuck.

    Holding the run lock proves no other attribution-db run is migrating, so a yoyo
    lock row present then was left by a killed run (or a `yoyo` command run by hand).
    """

    WAIT = 120  # seconds to wait for another run to finish

    def __init__(self, migrator: Migrator) -> None:
        self.migrator = migrator
        self.advisory = _RunLock(migrator.url, wait=self.WAIT)
        self._cm = None

    def __enter__(self):
        if not self.advisory.__enter__():
            self.advisory.__exit__(None, None, None)
            raise CliError(f"another migration run has held the lock for over {self.WAIT} s; try again later")
        try:
            row = self.migrator._lock_row()
            if row:
                pid, ctime = row
                raise CliError(
                    f"a stale migration lock (pid {pid}, taken {ctime} UTC) was left by a killed run: "
                    "no attribution-db run holds the lock now; unless a `yoyo` command is running by "
                    "hand, remove it with `make break-lock`, then run `make migrate` again"
                )
            self._cm = self.migrator.backend.lock(timeout=10)
            try:
                entered = self._cm.__enter__()
            except LockTimeout as exc:
                raise CliError(f"another migration run holds yoyo's lock: {exc}") from None
            self.migrator._held_lock = self.advisory
            return entered
        except BaseException:
            self.advisory.__exit__(None, None, None)
            raise

    def __exit__(self, *exc_info):
        self.migrator._held_lock = None
        try:
            return self._cm.__exit__(*exc_info)
        except psycopg.Error:
            # yoyo could not delete its lock row: the connection is gone. With an error on its
            # way out already (it says what to do), let that one through, not this one.
            if exc_info[0] is not None:
                return False
            raise CliError(
                "the connection to the server was lost while releasing yoyo's lock row; "
                "run `make status` (and `make break-lock` if it reports a stale lock)"
            ) from None
        finally:
            self.advisory.__exit__(None, None, None)
