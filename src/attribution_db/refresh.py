"""Refresh the materialized views through refresh_read_model(), once or as a sidecar.

The SQL function does the work (TTL, single flight, bookkeeping, RLS refusal); this
module calls it per view in its own transaction and logs one line per view.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import datetime, timezone

import psycopg

from attribution_db import CliError, dburl

VIEWS = ("mv_realtime_revenue", "mv_reconciliation_status")


def log(message: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} {message}", flush=True)


def refresh_once(conn: psycopg.Connection, ttl: float, force: bool) -> list[tuple]:
    """Refresh each view (if older than ``ttl`` seconds, or ``force``); one transaction each."""
    results = []
    for view in VIEWS:
        try:
            row = conn.execute(
                "SELECT view_name, refreshed, refresh_mode, duration_ms, detail "
                "FROM refresh_read_model(%s, make_interval(secs => %s), %s)",
                (view, ttl, force),
            ).fetchone()
        except psycopg.errors.UndefinedFunction:
            raise CliError("refresh_read_model() does not exist here: run `make migrate` first") from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CliError(f"{exc.diag.message_primary} ({exc.diag.message_hint or ''})".rstrip(" ()")) from None
        name, refreshed, mode, duration, detail = row
        if refreshed:
            log(f"{name}: refreshed ({mode}) in {duration} ms")
        else:
            log(f"{name}: {detail}")
        results.append(row)
    return results


def run(url: str, ttl: float, force: bool, every: float | None) -> int:
    """Refresh once, or every ``every`` seconds until SIGTERM/SIGINT."""
    if every is None:
        with dburl.connect(url, autocommit=True) as conn:
            refresh_once(conn, ttl, force)
        return 0

    stop = threading.Event()
    received: list[str] = []

    def request_stop(signum, _frame):
        # Only flag it: printing here could re-enter a print the signal interrupted.
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log(f"refresh sidecar: every {every:g} s, ttl {ttl:g} s, on {dburl.redact(url)}")
    conn = None
    while not stop.is_set():
        started = time.monotonic()
        try:
            if conn is None or conn.closed:
                conn = dburl.connect(url, autocommit=True)
            refresh_once(conn, ttl, force)
        except (CliError, psycopg.OperationalError) as exc:
            if isinstance(exc, CliError) and conn is not None and not conn.closed:
                raise  # a configuration error: retrying cannot help
            log(f"error: {dburl.first_line(exc)}; retrying in {every:g} s")
            conn = None
        stop.wait(max(0.0, every - (time.monotonic() - started)))
    if conn is not None:
        conn.close()
    log(f"received {received[0] if received else 'a stop request'}, refresh sidecar stopped")
    return 0
