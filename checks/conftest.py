"""Fixtures: a real PostgreSQL for every check, migrated from zero by the user's command.

Without DATABASE_URL the session starts a throwaway cluster (temporary folder, free port,
fsync off) and removes it at the end. With DATABASE_URL the checks run on that server, in
databases they create and drop themselves (the role needs CREATEDB and CREATEROLE); the
database named in the URL is only used to connect and is left untouched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from pytest_postgresql.janitor import DatabaseJanitor

from attribution_db import PROJECT_ROOT, dburl
from attribution_db.cluster import throwaway_cluster


class Server:
    """A reachable PostgreSQL server and a way to make databases on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.params = dburl.parse(url)

    def url_for(self, dbname: str) -> str:
        return dburl.with_dbname(self.url, dbname)

    def janitor(self, dbname: str, template: str | None = None) -> DatabaseJanitor:
        p = self.params
        return DatabaseJanitor(
            user=p.get("user", "postgres"),
            password=p.get("password"),
            host=p.get("host", "127.0.0.1"),
            port=p.get("port", "5432"),
            dbname=dbname,
            template_dbname=template,
            maintenance_dbname=p["dbname"],
        )


def run_cli(*args: str, url: str | None = None, check: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run ``attribution-db`` as a user would (a separate process)."""
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    if url:
        env["DATABASE_URL"] = url
    env.update(kw.pop("env", {}))
    proc = subprocess.run(
        [sys.executable, "-m", "attribution_db", *args],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, **kw,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"attribution-db {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def server():
    external = dburl.from_env()
    if external:
        yield Server(external)
        return
    with throwaway_cluster("attribution-db-check-") as cluster:
        yield Server(cluster.url("postgres"))


@pytest.fixture(scope="session")
def make_database(server):
    """Factory: an empty (or templated) database on the server, dropped at session end."""
    janitors: list[DatabaseJanitor] = []

    def make(prefix: str = "check", template: str | None = None) -> str:
        name = f"attribution_{prefix}_{uuid.uuid4().hex[:10]}"
        janitor = server.janitor(name, template)
        janitor.init()
        janitors.append(janitor)
        return server.url_for(name)

    yield make
    for janitor in reversed(janitors):
        janitor.drop()


#: Set by checks/test_unmigrated.py for the pytest run it starts: ``migrated_url`` is then a
#: database that was never migrated, and only the catalog checks reading it are collected. Each of
#: them must fail there (a check that passes on an empty database proves nothing).
UNMIGRATED = os.environ.get("ATTRIBUTION_DB_UNMIGRATED") == "1"
DATABASE_FIXTURES = {"migrated_url", "catalog"}


def pytest_collection_modifyitems(config, items):
    if not UNMIGRATED:
        return
    keep = [item for item in items if DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep


@pytest.fixture(scope="session")
def migrated_url(make_database):
    """A database migrated from zero by `attribution-db migrate` (what `make migrate` runs)."""
    url = make_database("contract")
    if not UNMIGRATED:
        run_cli("migrate", url=url)
    return url


@pytest.fixture(scope="session")
def catalog(migrated_url):
    """One autocommit connection for read-only catalog queries."""
    with psycopg.connect(migrated_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def db(migrated_url):
    """A connection inside a transaction that is rolled back after the check."""
    with psycopg.connect(migrated_url) as conn:
        try:
            yield conn
        finally:
            conn.rollback()

