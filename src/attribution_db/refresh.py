"""Refresh the materialized views through refresh_read_model(), once or as a sidecar.

Each round first folds the rollups' deltas (fold_rollups(), where it exists: one bounded
batch per sidecar round; a one-shot refresh folds until none is left), so the materialized
view built from the rollups reads few delta rows. The SQL function does the work (TTL, single flight, bookkeeping, RLS refusal); this
module calls it per view in its own transaction and logs one line per view.

The sidecar (``--every N``) never gives up on a database error: it logs it in one line and
retries with exponential backoff (``N``, 2N, 4N, ... capped at ``max_backoff``), back to
every ``N`` seconds after a clean round. Its session carries ``lock_timeout`` and
``statement_timeout``, so a refresh waiting on another session's lock fails and is
retried instead of hanging. The database work runs in a worker thread; the main thread
only waits for SIGTERM/SIGINT, then cancels the running statement and stops within
``STOP_GRACE`` seconds. After every round it reads read_model_refreshes and logs a
warning for each view last refreshed longer ago than ``stale_after`` seconds, whatever
the reason (failing refreshes, a lock, an unreachable server).
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime, timezone

import psycopg

from attribution_db import CliError, dburl

VIEWS = ("mv_realtime_revenue", "mv_reconciliation_status")
APPLICATION_NAME = "attribution-db refresh"
LOCK_TIMEOUT = 5.0  # seconds a refresh may wait for a lock before failing (and being retried)
STATEMENT_TIMEOUT = 300.0  # seconds one refresh may run
MAX_BACKOFF = 60.0  # cap of the retry delay after errors
STOP_GRACE = 10.0  # seconds the sidecar waits for the cancelled statement after SIGTERM

STALENESS_SQL = """
SELECT v.name,
       CASE WHEN isfinite(r.last_refreshed_at)
            THEN extract(EPOCH FROM clock_timestamp() - r.last_refreshed_at)::float8 END
FROM unnest(%s::text[]) AS v (name)
LEFT JOIN read_model_refreshes AS r ON r.view_name = v.name
"""


def log(message: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} {message}", flush=True)


def describe(exc: BaseException) -> str:
    """One line: SQLSTATE (when the server sent one) and the first line of the message."""
    state = getattr(exc, "sqlstate", None)
    return f"{state} {dburl.first_line(exc)}" if state else dburl.first_line(exc)


def session_options(lock_timeout: float, statement_timeout: float) -> dict:
    return {
        "application_name": APPLICATION_NAME,
        "options": f"-c lock_timeout={round(lock_timeout * 1000)} -c statement_timeout={round(statement_timeout * 1000)}",
    }


def refresh_view(conn: psycopg.Connection, view: str, ttl: float, force: bool) -> tuple:
    return conn.execute(
        "SELECT view_name, refreshed, refresh_mode, duration_ms, detail "
        "FROM refresh_read_model(%s, make_interval(secs => %s), %s)",
        (view, ttl, force),
    ).fetchone()


FOLD_SQL = "SELECT rollup_name, folded, delta_rows, duration_ms, detail FROM fold_rollups()"


#: fold_rollups() moves a bounded batch per call and ends its detail so when more remain.
MORE = "more deltas remain"
MAX_FOLD_CALLS = 1000  # a one-shot refresh folds at most this many batches (500M delta rows)


def fold(conn: psycopg.Connection, until_done: bool = False) -> list[tuple]:
    """Fold the rollups' deltas (fold_rollups()) before a refresh; nothing where it is absent.
    One bounded batch per rollup, or (``until_done``) batches until none is left."""
    if conn.execute("SELECT to_regprocedure('fold_rollups()') IS NULL").fetchone()[0]:
        return []
    done: list[tuple] = []
    for _ in range(MAX_FOLD_CALLS if until_done else 1):
        rows = conn.execute(FOLD_SQL).fetchall()
        for name, folded, moved, duration, detail in rows:
            if not folded:
                log(f"{name}: {detail}")
            elif detail.startswith("folded tenant by tenant"):  # some tenants' deltas left unfolded
                log(f"{name}: warning: {detail}; {moved} delta rows folded in {duration} ms")
            else:
                log(f"{name}: folded {moved} delta rows in {duration} ms" + ("; more remain" if MORE in detail else ""))
        done += rows
        if not any(folded and MORE in (detail or "") for _, folded, _, _, detail in rows):
            break
    return done


def log_result(row: tuple) -> None:
    name, refreshed, mode, duration, detail = row
    log(f"{name}: refreshed ({mode}) in {duration} ms" if refreshed else f"{name}: {detail}")


def refresh_once(conn: psycopg.Connection, ttl: float, force: bool) -> list[tuple]:
    """Refresh each view (if older than ``ttl`` seconds, or ``force``); one transaction each."""
    results = []
    fold_error = None
    try:
        fold(conn, until_done=True)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise CliError(f"fold_rollups(): {exc.diag.message_primary}") from None
    except psycopg.Error as exc:  # the views read the unfolded deltas too: refresh them all the same
        fold_error = f"fold_rollups(): {describe(exc)}"
        log(f"fold_rollups: error: {describe(exc)}")
    for view in VIEWS:
        try:
            row = refresh_view(conn, view, ttl, force)
        except psycopg.errors.UndefinedFunction:
            raise CliError("refresh_read_model() does not exist here: run `make migrate` first") from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CliError(f"{exc.diag.message_primary} ({exc.diag.message_hint or ''})".rstrip(" ()")) from None
        log_result(row)
        results.append(row)
    if fold_error:
        raise CliError(f"{fold_error} (the views were refreshed)")
    return results


def stale_views(conn: psycopg.Connection, stale_after: float) -> list[str]:
    """A warning per view last refreshed more than ``stale_after`` seconds ago (or never)."""
    warnings = []
    for name, age in conn.execute(STALENESS_SQL, (list(VIEWS),)).fetchall():
        if age is None:
            warnings.append(f"warning: {name} is stale: never refreshed by refresh_read_model() (bound {stale_after:g} s)")
        elif age > stale_after:
            warnings.append(f"warning: {name} is stale: last refreshed {age:.0f} s ago (bound {stale_after:g} s)")
    return warnings


class Sidecar:
    """The refresh loop, run in a worker thread; ``stop`` ends it."""

    def __init__(self, url: str, ttl: float, force: bool, every: float, stale_after: float,
                 lock_timeout: float, statement_timeout: float, max_backoff: float) -> None:  # fmt: skip
        self.url, self.ttl, self.force, self.every = url, ttl, force, every
        self.stale_after, self.max_backoff = stale_after, max(max_backoff, every)
        self.options = session_options(lock_timeout, statement_timeout)
        self.stop = threading.Event()
        self.conn: psycopg.Connection | None = None
        self.started = time.time()
        self.last_refreshed: dict[str, float] = {}  # when this process last saw each view refreshed

    def cancel(self) -> None:
        """Cancel the statement in progress, if any (called from the main thread)."""
        conn = self.conn
        if conn is not None and not conn.closed:
            try:
                conn.cancel_safe(timeout=2.0)
            except Exception:  # noqa: BLE001 - best effort: the worker also sees the stop flag
                pass

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def round(self) -> int:
        """One pass over the views; returns the number of errors."""
        errors = 0
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.close()
            self.conn = dburl.connect(self.url, autocommit=True, **self.options)
        try:
            fold(self.conn)
        except psycopg.Error as exc:
            if self.stop.is_set():
                return errors
            errors += 1
            log(f"fold_rollups: error: {describe(exc)}")
            if self.conn.closed or self.conn.broken:
                raise
        for view in VIEWS:
            if self.stop.is_set():
                return errors
            try:
                row = refresh_view(self.conn, view, self.ttl, self.force)
            except psycopg.Error as exc:
                if self.stop.is_set():
                    return errors
                errors += 1
                log(f"{view}: error: {describe(exc)}")
                if self.conn.closed or self.conn.broken:
                    raise
                continue
            log_result(row)
            if row[1]:
                self.last_refreshed[view] = time.time()
        return errors

    def warn_if_stale(self) -> None:
        try:
            warnings = stale_views(self.conn, self.stale_after) if self.conn is not None else None
        except psycopg.Error:
            warnings = None
        if warnings is None:  # the server cannot tell: judge by what this process saw
            now = time.time()
            warnings = [
                f"warning: {view} is stale: not refreshed by this sidecar for {now - at:.0f} s (bound {self.stale_after:g} s)"
                for view in VIEWS
                if now - (at := self.last_refreshed.get(view, self.started)) > self.stale_after
            ]
        for line in warnings:
            log(line)

    def loop(self) -> None:
        delay_after_error = self.every
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                errors = self.round()
            except (CliError, psycopg.Error) as exc:
                errors = 1
                if not self.stop.is_set():
                    log(f"error: {describe(exc)}")
                self.close()
            if self.stop.is_set():
                break
            self.warn_if_stale()
            if errors:
                log(f"retrying in {delay_after_error:g} s")
                self.stop.wait(delay_after_error)
                delay_after_error = min(delay_after_error * 2, self.max_backoff)
            else:
                delay_after_error = self.every
                self.stop.wait(max(0.0, self.every - (time.monotonic() - started)))
        self.close()


def run(url: str, ttl: float, force: bool, every: float | None, *, stale_after: float | None = None,
        lock_timeout: float = LOCK_TIMEOUT, statement_timeout: float = STATEMENT_TIMEOUT,
        max_backoff: float = MAX_BACKOFF) -> int:  # fmt: skip
    """Refresh once, or every ``every`` seconds until SIGTERM/SIGINT."""
    if every is None:
        with dburl.connect(url, autocommit=True, **session_options(lock_timeout, statement_timeout)) as conn:
            refresh_once(conn, ttl, force)
        return 0

    if stale_after is None:
        stale_after = 3 * max(ttl, every)
    sidecar = Sidecar(url, ttl, force, every, stale_after, lock_timeout, statement_timeout, max_backoff)
    received: list[str] = []

    def request_stop(signum, _frame):
        # Only flag it: printing here could re-enter a print the signal interrupted.
        received.append(signal.Signals(signum).name)
        sidecar.stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log(
        f"refresh sidecar: every {every:g} s, ttl {ttl:g} s, stale after {stale_after:g} s, "
        f"lock_timeout {lock_timeout:g} s, statement_timeout {statement_timeout:g} s, "
        f"backoff up to {sidecar.max_backoff:g} s, on {dburl.redact(url)}"
    )
    worker = threading.Thread(target=sidecar.loop, name="refresh", daemon=True)
    worker.start()
    # The main thread only waits: a signal handler always runs here, at once, whatever
    # the worker is blocked in.
    while worker.is_alive() and not sidecar.stop.wait(0.2):
        pass
    sidecar.cancel()
    worker.join(STOP_GRACE)
    if worker.is_alive():
        log(f"the refresh did not end within {STOP_GRACE:g} s of the stop request; exiting anyway")
    log(f"received {received[0] if received else 'a stop request'}, refresh sidecar stopped")
    return 0
