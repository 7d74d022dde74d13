"""Tenant isolation through a real PgBouncer in transaction mode (docs/pooling.md).

Applications reach PostgreSQL through PgBouncer (pool_mode = transaction): many clients
share 2 server connections, one transaction at a time, so whatever a transaction leaves on
its server connection (a session-level SET, a prepared statement, a temporary table or
type) is met by the next client's transaction there. Clients log in as LOGIN members of
app_rw / app_ro (fixture ``pooler_logins``). Two poolers run (checks/conftest.py):
``pgbouncer`` (no reset between transactions) and ``pgbouncer_reset``
(server_reset_query_always = 1: DISCARD ALL after every transaction).

To make a client land on a given server connection deterministically, a check holds both
server connections of the pool with two clients in open transactions: what each of them
leaves behind is then on every server connection the next clients can get.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from psycopg import conninfo, sql

from checks import rows
from checks.contract import TENANT_SCOPED
from checks.pooler import POOL_SIZE

INSUFFICIENT_PRIVILEGE = "42501"
INVALID_TEXT_REPRESENTATION = "22P02"

# Temporary objects: TEMP on the database is revoked from PUBLIC by
# sql/policies/202611281400_revoke_temporary_from_public.sql, so the temp-object attacks below
# must fail (mutation temp-revoke-removed makes them succeed).


def dbname_of(world) -> str:
    """The database of the shared two-tenant world (conftest.py), as PgBouncer names it."""
    return conninfo.conninfo_to_dict(world["url"])["dbname"]


@pytest.fixture
def client(request, world, pooler_logins):
    """factory(via, group='app_rw', **kw) -> an autocommit client connection as a LOGIN member
    of ``group``, through the pooler fixture named ``via`` or, with via='direct', straight
    to the server. prepare_threshold=None (what applications behind PgBouncer must use)
    unless given. After the check every pooler used drops its server connections (KILL), so
    nothing a check leaves on them reaches the next check."""
    opened: list[psycopg.Connection] = []
    poolers = {}

    def make(via: str, group: str = "app_rw", **kw) -> psycopg.Connection:
        login = pooler_logins[group]
        if via == "direct":
            url = conninfo.make_conninfo(world["url"], user=login.user, password=login.password)
        else:
            poolers[via] = request.getfixturevalue(via)
            url = poolers[via].url(dbname_of(world), login.user, login.password)
        kw.setdefault("prepare_threshold", None)
        conn = psycopg.connect(url, autocommit=True, **kw)
        opened.append(conn)
        return conn

    yield make
    for conn in opened:
        conn.close()
    for bouncer in poolers.values():
        with psycopg.connect(bouncer.admin_url(), autocommit=True, cursor_factory=psycopg.ClientCursor) as admin:
            admin.execute(sql.SQL("KILL {}").format(sql.Identifier(dbname_of(world))))
            admin.execute(sql.SQL("RESUME {}").format(sql.Identifier(dbname_of(world))))


def set_tenant(conn: psycopg.Connection, tenant) -> None:
    """What applications must do: the tenant of this transaction only."""
    conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(tenant)])


def backend(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def tenant_ids(conn: psycopg.Connection, table: str) -> list:
    return [r[0] for r in conn.execute(sql.SQL("SELECT tenant_id FROM {}").format(sql.Identifier(table)))]


def hold_every_server_connection(clients: list[psycopg.Connection]) -> set[int]:
    """BEGIN on ``clients`` (one per server connection of the pool): each holds its own."""
    pids = set()
    for conn in clients:
        conn.execute("BEGIN")
        pids.add(backend(conn))
    assert len(pids) == len(clients), "each open transaction must hold its own server connection"
    return pids


# -- set_config(..., true) per transaction from many clients sharing 2 server connections --
CLIENTS = 8
TRANSACTIONS = 40


@pytest.mark.parametrize("group", ["app_rw", "app_ro"])
@pytest.mark.parametrize("via", ["pgbouncer", "pgbouncer_reset"])
def test_concurrent_clients_see_only_their_tenant(world, client, via, group):
    """8 clients of one login x 40 transactions over the 2 server connections of its pool,
    each transaction setting its tenant with set_config(..., true), tenants alternating:
    no row of another tenant, ever, in any tenant-scoped table."""
    tenants = [world["A"]["tenants"], world["B"]["tenants"]]
    conns = [client(via, group) for _ in range(CLIENTS)]
    errors: list[str] = []
    backends: set[int] = set()

    def work(n: int, conn: psycopg.Connection) -> None:
        try:
            for i in range(TRANSACTIONS):
                tenant = tenants[(n + i) % 2]
                with conn.transaction():
                    set_tenant(conn, tenant)
                    backends.add(backend(conn))
                    for table in TENANT_SCOPED:
                        seen = tenant_ids(conn, table)
                        if seen != [tenant]:
                            errors.append(f"client {n} txn {i}: {table} as {tenant} read {seen}")
        except psycopg.Error as exc:
            errors.append(f"client {n}: {exc.sqlstate} {exc}")

    threads = [threading.Thread(target=work, args=(n, conn)) for n, conn in enumerate(conns)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[:5]
    assert len(backends) <= POOL_SIZE, f"{CLIENTS} clients used {len(backends)} server connections"


# -- a session-level SET stays on the server connection: the known hazard -------------------
def _poison_with_session_set(client, via: str, tenant) -> set[int]:
    """Two tenant-A clients run a session-level SET (the mistake) on both server connections
    of the app_rw login's pool (PgBouncer pools per database and user: the hazard reaches
    the clients of the same login, which is every tenant a service serves)."""
    attackers = [client(via) for _ in range(POOL_SIZE)]
    pids = hold_every_server_connection(attackers)
    for conn in attackers:
        conn.execute(sql.SQL("SET app.current_tenant_id = {}").format(sql.Literal(str(tenant))))
        conn.execute("COMMIT")
    return pids


def test_session_set_leaks_to_a_client_that_sets_no_tenant(world, client):
    """KNOWN HAZARD (docs/pooling.md): without a reset, a client that forgets to set its
    tenant reads the tenant another client left with a session-level SET. This asserts the
    observed behaviour, so that a change (for better or worse) is noticed."""
    _poison_with_session_set(client, "pgbouncer", world["A"]["tenants"])
    victim = client("pgbouncer")  # same login, hence same pool, as the clients that SET
    for _ in range(10):
        with victim.transaction():
            assert tenant_ids(victim, "attribution_events") == [world["A"]["tenants"]]


def test_session_set_fails_closed_with_reset_always(world, client):
    """server_reset_query_always = 1: DISCARD ALL after every transaction resets the setting
    to '', so a client that sets no tenant gets 22P02 on every read, never rows."""
    _poison_with_session_set(client, "pgbouncer_reset", world["A"]["tenants"])
    victim = client("pgbouncer_reset")
    for _ in range(10):
        with pytest.raises(psycopg.Error) as caught:
            with victim.transaction():
                tenant_ids(victim, "attribution_events")
        assert caught.value.sqlstate == INVALID_TEXT_REPRESENTATION, caught.value


def test_startup_options_are_refused(world, pooler_logins, pgbouncer):
    """A tenant cannot be pinned per connection through the startup packet: PgBouncer
    refuses the `options` parameter (it is not in ignore_startup_parameters)."""
    login = pooler_logins["app_ro"]
    url = pgbouncer.url(dbname_of(world), login.user, login.password)
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        psycopg.connect(url, options=f"-c app.current_tenant_id={world['A']['tenants']}").close()


# -- psycopg's automatic prepared statements through transaction pooling -----------------
def _prepared_statement_roundtrip(client, via: str, world, **kw) -> list[str]:
    """One client runs the same query until psycopg prepares it, then lands on the other
    server connection (the first is held by another client). Returns the errors seen."""
    tenant = world["A"]["tenants"]
    app = client(via, "app_ro", **kw)
    query = "SELECT tenant_id FROM attribution_events WHERE tenant_id = %s"
    errors = []
    pids = []

    def run() -> None:
        try:
            with app.transaction():
                set_tenant(app, tenant)
                assert [r[0] for r in app.execute(query, [tenant])] == [tenant]
                pids.append(backend(app))
        except psycopg.Error as exc:
            errors.append(exc.sqlstate)

    for _ in range(8):  # psycopg's default prepare_threshold is 5
        run()
    holder = client(via, "app_ro")  # same login: PgBouncer pools per (database, user)
    holder.execute("BEGIN")
    assert backend(holder) == pids[-1], "PgBouncer reuses the last released server connection (server_round_robin = 0)"
    for _ in range(3):
        run()
    holder.execute("COMMIT")
    return errors


def test_default_prepare_threshold_breaks_through_transaction_pooling(world, client):
    """psycopg 3 prepares a query server-side after 5 runs; on another server connection
    the statement does not exist: 26000 on every run there (PgBouncer 1.18 does not track
    prepared statements; 1.21+ can with max_prepared_statements)."""
    errors = _prepared_statement_roundtrip(client, "pgbouncer", world, prepare_threshold=5)
    assert errors and set(errors) <= {"26000", "42P05"}, errors


@pytest.mark.parametrize("via", ["pgbouncer", "pgbouncer_reset"])
def test_prepare_threshold_none_works_through_transaction_pooling(world, client, via):
    """prepare_threshold=None (the setting applications need): no server-side prepared
    statement, nothing to miss on another server connection."""
    assert _prepared_statement_roundtrip(client, via, world, prepare_threshold=None) == []


# -- temporary objects left on a server connection (issue 15) -------------------------------
FORGED = "forged-by-tenant-a"
TEMP_VIAS = [
    "pgbouncer",
    "direct",
    "pgbouncer_reset",  # DISCARD ALL after every transaction drops temporary objects anyway
]


def _plant(client, via: str, world, statements: list[tuple[str, list]]) -> list[str]:
    """Client X (tenant A, app_rw) runs ``statements`` on every server connection it can
    reach and commits: POOL_SIZE connections through a pooler, one session directly (the
    session an application-side pool would hand to the next request). Returns the
    SQLSTATEs of refused statements (one per connection)."""
    planters = [client(via) for _ in range(POOL_SIZE if via != "direct" else 1)]
    hold_every_server_connection(planters)
    return [state for conn in planters if (state := _commit_as_tenant_a(conn, world, statements))]


def _commit_as_tenant_a(conn, world, statements: list[tuple[str, list]]) -> str | None:
    """In the open transaction of ``conn``: tenant A, ``statements``, COMMIT. The SQLSTATE
    that refused them (the transaction is then rolled back), or None."""
    set_tenant(conn, world["A"]["tenants"])
    try:
        for statement, params in statements:
            conn.execute(statement, params)
        conn.execute("COMMIT")
    except psycopg.Error as exc:
        conn.execute("ROLLBACK")
        return exc.sqlstate
    return None


def _victims(client, via: str) -> list[psycopg.Connection]:
    """Clients Y (tenant B, app_rw), one per server connection, each in an open transaction."""
    victims = [client(via) for _ in range(POOL_SIZE)]
    hold_every_server_connection(victims)
    return victims


def _x_then_y(client, via: str, world, statements) -> tuple[list[str], list[psycopg.Connection]]:
    if via == "direct":
        # Directly, X and Y share one session, as after an application-side pool hands it on.
        conn = client("direct")
        conn.execute("BEGIN")
        state = _commit_as_tenant_a(conn, world, statements)
        conn.execute("BEGIN")
        return [state] if state else [], [conn]
    refused = _plant(client, via, world, statements)
    return refused, _victims(client, via)


@pytest.mark.parametrize("via", TEMP_VIAS)
def test_temp_table_cannot_shadow_attribution_events(world, client, via):
    """X creates a temporary attribution_events (unqualified names find pg_temp first) with a
    forged row for tenant B. Y, correct tenant-B code landing on the same server
    connection, must read only B's real row and write into the real table."""
    b = world["B"]
    refused, victims = _x_then_y(
        client,
        via,
        world,
        [
            ("CREATE TEMP TABLE attribution_events (LIKE public.attribution_events INCLUDING DEFAULTS)", []),
            (
                "INSERT INTO attribution_events (tenant_id, occurred_at, external_event_id, raw_payload) "
                "VALUES (%s, now(), %s, '{}')",
                [b["tenants"], FORGED],
            ),
        ],
    )
    assert set(refused) <= {INSUFFICIENT_PRIVILEGE}, refused
    for y in victims:
        set_tenant(y, b["tenants"])
        seen = y.execute("SELECT id, external_event_id FROM attribution_events").fetchall()
        assert seen == [(b["attribution_events"], "ext-Tenant B")], f"tenant B read {seen}"
        new_id = rows.insert(y, "attribution_events", tenant_id=b["tenants"])
        landed = y.execute("SELECT count(*) FROM public.attribution_events WHERE id = %s", [new_id]).fetchone()
        assert landed == (1,), "tenant B's insert went into X's temporary table"
        y.execute("ROLLBACK")


@pytest.mark.parametrize("via", TEMP_VIAS)
def test_temp_domain_cannot_shadow_jsonb(world, client, via):
    """X creates pg_temp.jsonb, a domain that rejects everything: type names search pg_temp
    first, so Y's `$1::jsonb` would resolve to it and every insert would fail."""
    b = world["B"]
    refused, victims = _x_then_y(client, via, world, [("CREATE DOMAIN pg_temp.jsonb AS text CHECK (false)", [])])
    assert set(refused) <= {INSUFFICIENT_PRIVILEGE}, refused
    for y in victims:
        set_tenant(y, b["tenants"])
        y.execute(
            "INSERT INTO attribution_events (tenant_id, occurred_at, raw_payload) VALUES (%s, now(), %s::jsonb)",
            [b["tenants"], '{"k": 1}'],
        )
        y.execute("ROLLBACK")


@pytest.mark.parametrize("via", ["pgbouncer", "direct"])
def test_application_roles_cannot_create_temporary_objects(world, client, via):
    """The root of both attacks: an application login must get 42501 on CREATE TEMP."""
    conn = client(via)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE TEMP TABLE scratch (x int)")
