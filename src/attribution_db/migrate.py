"""Apply, roll back and list the project's yoyo migrations, reporting failures in one line."""

from __future__ import annotations

import configparser
import logging
from dataclasses import dataclass
from pathlib import Path

import psycopg
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


def load():
    """Every migration of the project, in yoyo's order (dependencies honoured on apply)."""
    return read_migrations(*sources())


def relpath(migration) -> str:
    return str(Path(migration.path).resolve().relative_to(PROJECT_ROOT))


def describe_db_error(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or dburl.first_line(exc)
    state = getattr(exc, "sqlstate", None)
    return f"{state}: {text}" if state else text


@dataclass
class Status:
    applied: list[str]
    pending: list[str]


class Migrator:
    """A yoyo backend on one database, holding yoyo's lock while it works."""

    def __init__(self, url: str) -> None:
        self.url = url
        dburl.parse(url)
        logging.getLogger("yoyo").setLevel(logging.WARNING)
        try:
            self.backend = get_backend(dburl.to_yoyo(url))
        except psycopg.OperationalError as exc:
            raise CliError(f"cannot connect to {dburl.redact(url)}: {dburl.first_line(exc)}") from None
        self.migrations = load()

    def status(self) -> Status:
        applied = set(self.backend.get_applied_migration_hashes())
        ordered = list(self.backend.to_rollback(self.migrations))[::-1]
        pending = list(self.backend.to_apply(self.migrations))
        assert all(m.hash in applied for m in ordered)
        return Status([m.id for m in ordered], [m.id for m in pending])

    def apply(self, report=print) -> list[str]:
        """Apply every pending migration in order; stop at the first failure."""
        done: list[str] = []
        with self._lock():
            for migration in self.backend.to_apply(self.migrations):
                self._run(migration, "apply", report)
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

    def _lock(self):
        return _Lock(self.backend)

    def _run(self, migration, direction: str, report) -> None:
        verb = {"apply": "applying", "rollback": "rolling back"}[direction]
        report(f"{verb} {migration.id}  ({relpath(migration)})")
        try:
            if direction == "apply":
                self.backend.apply_one(migration)
            else:
                self.backend.rollback_one(migration)
        except psycopg.Error as exc:
            raise CliError(
                f"{direction} of {relpath(migration)} failed: {describe_db_error(exc)} "
                "-- that migration was rolled back, the database is as it was before it"
            ) from None


class _Lock:
    """yoyo's migration lock, with a one-line error when another run holds it too long."""

    def __init__(self, backend) -> None:
        self._cm = backend.lock(timeout=120)

    def __enter__(self):
        try:
            return self._cm.__enter__()
        except LockTimeout as exc:
            raise CliError(f"another migration run holds the lock: {exc}") from None

    def __exit__(self, *exc_info):
        return self._cm.__exit__(*exc_info)
