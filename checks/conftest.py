"""Fixtures: a real PostgreSQL for every check, migrated from zero by the user's command.

Without DATABASE_URL the session starts a throwaway cluster (temporary folder, free port,
fsync off, scram password in its folder, carried in the URLs) and removes it at the end.
With DATABASE_URL the checks run on that server, in
databases they create and drop themselves (the role needs CREATEDB and CREATEROLE); the
database named in the URL is only used to connect and is left untouched.

``pgbouncer`` / ``pgbouncer_reset`` start a real PgBouncer in transaction mode in front of
that server (checks/pooler.py, docs/pooling.md); without the pgbouncer executable the checks
that use them are skipped, or fail when ATTRIBUTION_DB_REQUIRE_PGBOUNCER=1 (CI).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql.janitor import DatabaseJanitor

from attribution_db import dburl
from attribution_db.cluster import Cluster, throwaway_cluster
from checks import rows
from checks.cli import run_cli
from checks.pooler import INSTALL_HINT, PgBouncer, find_pgbouncer, pgbouncer_version


class Server:
    """A reachable PostgreSQL server and a way to make databases on it."""

    def __init__(self, url: str, cluster: Cluster | None = None) -> None:
        self.url = url
        self.params = dburl.parse(url)
        self.cluster = cluster  # the throwaway cluster, None on DATABASE_URL's server

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


@pytest.fixture(scope="session")
def server():
    external = dburl.from_env()
    if external:
        yield Server(external)
        return
    with throwaway_cluster("attribution-db-check-") as cluster:
        yield Server(cluster.url("postgres"), cluster)


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



# -- PgBouncer in transaction mode (checks/pooler.py, docs/pooling.md) -------------------
@dataclass
class Login:
    """A LOGIN role that is a member of an application group role, with its password."""

    user: str
    password: str
    group: str


@pytest.fixture(scope="session")
def pooler_logins(server, migrated_url):
    """LOGIN members of app_rw and app_ro (with passwords), dropped at session end.

    Services log in as their own roles, members of the NOLOGIN groups app_rw / app_ro
    (sql/policies/202511131118_create_app_roles.sql); ``migrated_url`` makes sure the
    groups exist. Returns {group: Login}.
    """
    suffix = uuid.uuid4().hex[:8]
    logins = {g: Login(f"pooler_{g}_{suffix}", uuid.uuid4().hex, g) for g in ("app_rw", "app_ro")}
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        for login in logins.values():
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                    sql.Identifier(login.user), sql.Literal(login.password), sql.Identifier(login.group)
                )
            )
    yield logins
    with psycopg.connect(server.url, autocommit=True) as conn:
        for login in logins.values():
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login.user)))


def _auth_secrets(server, logins: dict[str, Login]) -> dict[str, str]:
    """Login -> SCRAM verifier from pg_authid (what a production auth_file holds); the
    plain password when the checks' role may not read pg_authid (PgBouncer accepts both)."""
    secrets = {}
    with psycopg.connect(server.url, autocommit=True) as conn:
        for login in logins.values():
            try:
                row = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [login.user]).fetchone()
            except psycopg.errors.InsufficientPrivilege:
                row = None
            secrets[login.user] = row[0] if row and row[0] else login.password
    return secrets


def _start_pgbouncer(server, logins, reset_always: bool):
    executable = find_pgbouncer()
    if not executable:
        reason = f"pgbouncer not found: {INSTALL_HINT}"
        if os.environ.get("ATTRIBUTION_DB_REQUIRE_PGBOUNCER") == "1":
            pytest.fail(reason + " (ATTRIBUTION_DB_REQUIRE_PGBOUNCER=1: CI must run the pooler checks)")
        pytest.skip(reason)
    bouncer = PgBouncer(
        executable=executable,
        server_host=server.params.get("host", "127.0.0.1"),
        server_port=server.params.get("port", "5432"),
        secrets=_auth_secrets(server, logins),
        reset_always=reset_always,
    )
    bouncer.start()
    bouncer.version = pgbouncer_version(executable)
    return bouncer


@pytest.fixture(scope="session")
def pgbouncer(server, pooler_logins):
    """PgBouncer, pool_mode = transaction, 2 server connections per pool, no reset."""
    bouncer = _start_pgbouncer(server, pooler_logins, reset_always=False)
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def pgbouncer_reset(server, pooler_logins):
    """The same, with server_reset_query_always = 1: DISCARD ALL after every transaction."""
    bouncer = _start_pgbouncer(server, pooler_logins, reset_always=True)
    yield bouncer
    bouncer.stop()


# -- two tenants with a row in every table, attacked as the application roles ----------------
# Shared by the isolation, integrity and payload checks (a module may define its own world).


@pytest.fixture(scope="module")
def world(make_database):
    """A migrated database holding tenants A and B, each with one row per table."""
    url = make_database("isolation")
    run_cli("migrate", url=url)
    with psycopg.connect(url) as conn:
        a = rows.full_tenant(conn, "Tenant A")
        b = rows.full_tenant(conn, "Tenant B")
    return {"url": url, "A": a, "B": b}


@pytest.fixture
def connect(world):
    """Open connections to the attacked database; every transaction is rolled back."""
    opened = []

    def open_() -> psycopg.Connection:
        conn = psycopg.connect(world["url"])
        opened.append(conn)
        return conn

    yield open_
    for conn in opened:
        conn.rollback()
        conn.close()


@pytest.fixture
def attacker(world, connect):
    """factory(role) -> connection acting as ``role`` for tenant A."""

    def make(role: str) -> psycopg.Connection:
        conn = connect()
        rows.begin_as(conn, role, world["A"]["tenants"])
        return conn

    return make
