"""Attacks on tenant isolation, as an attacker holding an application role would try them.

Two tenants, A (the attacker's) and B (the victim), have committed rows in every table.
Each check connects as the migrating superuser, switches identity with SET LOCAL ROLE and
sets the tenant with set_config(..., true), then rolls its transaction back.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql

from checks import rows
from checks.rows import begin_as
from checks.contract import APP_ROLES, TENANT_SCOPED
from checks.pgtap import table_privs_are, throws_ok

INSUFFICIENT_PRIVILEGE = "42501"
# What a read without a usable tenant may do: fail with one of these, or return nothing.
NO_TENANT_ERRORS = {"42704", "22P02"}  # unrecognized setting; '' or garbage is no uuid


def tenant_ids(conn, table: str) -> list:
    return [r[0] for r in conn.execute(sql.SQL("SELECT tenant_id FROM {}").format(sql.Identifier(table)))]


scoped = pytest.mark.parametrize("table", TENANT_SCOPED)
roles = pytest.mark.parametrize("role", APP_ROLES)


# -- reading --------------------------------------------------------------------------
@scoped
@roles
def test_select_returns_only_own_tenant_rows(world, attacker, role, table):
    assert tenant_ids(attacker(role), table) == [world["A"]["tenants"]]


@scoped
@roles
def test_select_by_victim_id_returns_nothing(world, attacker, role, table):
    conn = attacker(role)
    query = sql.SQL("SELECT count(*) FROM {} WHERE id = %s OR tenant_id = %s").format(sql.Identifier(table))
    assert conn.execute(query, [world["B"][table], world["B"]["tenants"]]).fetchone() == (0,)


@scoped
@roles
def test_copy_to_returns_only_own_tenant_rows(world, attacker, role, table):
    conn = attacker(role)
    copied = []
    with conn.cursor() as cur:
        with cur.copy(sql.SQL("COPY {} (tenant_id) TO STDOUT").format(sql.Identifier(table))) as copy:
            copied = [row[0] for row in copy.rows()]
    assert copied == [str(world["A"]["tenants"])]


# -- writing across the boundary ------------------------------------------------------
@scoped
def test_insert_with_victim_tenant_id_is_refused(world, attacker, table):
    conn = attacker("app_rw")
    values = rows.values_for(table, world["B"])
    throws_ok(conn, rows.insert_sql(table, values), list(values.values()), INSUFFICIENT_PRIVILEGE, "row-level security")


@scoped
def test_update_moving_own_row_to_victim_is_refused(world, attacker, table):
    conn = attacker("app_rw")
    query = sql.SQL("UPDATE {} SET tenant_id = %s WHERE id = %s").format(sql.Identifier(table))
    throws_ok(conn, query, [world["B"]["tenants"], world["A"][table]], INSUFFICIENT_PRIVILEGE, "row-level security")


def _blind_insert_sql(table: str, values: dict) -> sql.Composed:
    """INSERT without RETURNING: it needs no SELECT right, so only the policy's WITH CHECK judges it."""
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )


@scoped
def test_blind_insert_with_victim_tenant_id_is_refused(world, attacker, table):
    """Without RETURNING (or WHERE) the SELECT policy's USING is not applied to the new row:
    only WITH CHECK stands between a writer and the victim's tenant."""
    conn = attacker("app_rw")
    values = rows.values_for(table, world["B"])
    throws_ok(conn, _blind_insert_sql(table, values), list(values.values()), INSUFFICIENT_PRIVILEGE, "row-level security")


@scoped
def test_blind_update_moving_own_rows_to_victim_is_refused(world, attacker, table):
    """An UPDATE without WHERE reads no column: only WITH CHECK judges the moved rows."""
    conn = attacker("app_rw")
    query = sql.SQL("UPDATE {} SET tenant_id = %s").format(sql.Identifier(table))
    throws_ok(conn, query, [world["B"]["tenants"]], INSUFFICIENT_PRIVILEGE, "row-level security")


@scoped
def test_update_of_victim_rows_affects_nothing(world, attacker, connect, table):
    conn = attacker("app_rw")
    query = sql.SQL("UPDATE {} SET tenant_id = tenant_id WHERE id = %s OR tenant_id = %s").format(sql.Identifier(table))
    assert conn.execute(query, [world["B"][table], world["B"]["tenants"]]).rowcount == 0


@scoped
def test_delete_of_victim_rows_affects_nothing(world, attacker, connect, table):
    conn = attacker("app_rw")
    query = sql.SQL("DELETE FROM {} WHERE id = %s OR tenant_id = %s").format(sql.Identifier(table))
    assert conn.execute(query, [world["B"][table], world["B"]["tenants"]]).rowcount == 0
    conn.rollback()
    assert tenant_ids(connect(), table).count(world["B"]["tenants"]) == 1, "victim's row must still exist"


@scoped
def test_delete_without_where_removes_only_own_rows(world, attacker, table):
    conn = attacker("app_rw")
    assert conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table))).rowcount == 1
    conn.execute("RESET ROLE")
    assert tenant_ids(conn, table).count(world["B"]["tenants"]) == 1


# -- no usable tenant context: an error or nothing, never another tenant's rows --------
def _read_without_tenant(conn, table: str) -> None:
    try:
        with conn.transaction():
            seen = tenant_ids(conn, table)
    except psycopg.Error as exc:
        assert exc.sqlstate in NO_TENANT_ERRORS, f"unexpected error {exc.sqlstate}: {exc}"
        return
    assert seen == [], f"read {len(seen)} rows of {table} without a tenant"


@scoped
@roles
def test_tenant_never_set(connect, role, table):
    conn = connect()
    begin_as(conn, role, None)
    throws_ok(conn, sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)), (), "42704", "app.current_tenant_id")


@scoped
@roles
def test_tenant_set_in_an_ended_transaction_reads_empty(connect, world, role, table):
    conn = connect()
    conn.execute("SELECT set_config('app.current_tenant_id', %s, true)", [str(world["A"]["tenants"])])
    conn.commit()
    assert conn.execute("SELECT current_setting('app.current_tenant_id')").fetchone() == ("",)
    begin_as(conn, role, None)
    throws_ok(conn, sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)), (), "22P02", "uuid")


@scoped
@roles
@pytest.mark.parametrize("value", ["not-a-uuid", "' OR true --", "*", " "])
def test_tenant_not_a_uuid(connect, role, table, value):
    conn = connect()
    begin_as(conn, role, value)
    throws_ok(conn, sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)), (), "22P02", "uuid")


@scoped
@roles
def test_tenant_that_does_not_exist_sees_nothing(connect, role, table):
    conn = connect()
    begin_as(conn, role, uuid.uuid4())
    assert tenant_ids(conn, table) == []


@scoped
@roles
def test_no_tenant_context_never_leaks(connect, role, table):
    """Every way of lacking a tenant, in one place: each read errors or returns nothing."""
    for value in (None, "", "garbage", str(uuid.uuid4())):
        conn = connect()
        begin_as(conn, role, value)
        _read_without_tenant(conn, table)


# -- privileges beyond the policies ----------------------------------------------------
@scoped
def test_app_ro_cannot_write(world, attacker, table):
    conn = attacker("app_ro")
    values = rows.values_for(table, world["A"])
    throws_ok(conn, rows.insert_sql(table, values), list(values.values()), INSUFFICIENT_PRIVILEGE, "permission denied")
    ident = sql.Identifier(table)
    throws_ok(conn, sql.SQL("UPDATE {} SET tenant_id = tenant_id").format(ident), (), INSUFFICIENT_PRIVILEGE)
    throws_ok(conn, sql.SQL("DELETE FROM {}").format(ident), (), INSUFFICIENT_PRIVILEGE)


@pytest.mark.parametrize("table", ["tenants", *TENANT_SCOPED])
@roles
def test_truncate_is_refused(attacker, role, table):
    conn = attacker(role)
    throws_ok(conn, sql.SQL("TRUNCATE {} CASCADE").format(sql.Identifier(table)), (), INSUFFICIENT_PRIVILEGE)


@roles
def test_tenants_cannot_be_read_or_written(attacker, role):
    conn = attacker(role)
    throws_ok(conn, "SELECT * FROM tenants", (), INSUFFICIENT_PRIVILEGE, "permission denied for table tenants")
    throws_ok(conn, "INSERT INTO tenants (name) VALUES ('evil')", (), INSUFFICIENT_PRIVILEGE)
    throws_ok(conn, "UPDATE tenants SET name = 'evil'", (), INSUFFICIENT_PRIVILEGE)
    throws_ok(conn, "DELETE FROM tenants", (), INSUFFICIENT_PRIVILEGE)


@roles
@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE public.evil (id int)",
        "CREATE VIEW public.evil AS SELECT 1 AS x",
        "CREATE FUNCTION public.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA evil",
        "ALTER TABLE attribution_events DISABLE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation_policy ON attribution_events",
        "CREATE POLICY evil ON attribution_events USING (true)",
    ],
)
def test_cannot_create_or_alter_objects(attacker, role, ddl):
    throws_ok(attacker(role), ddl, (), INSUFFICIENT_PRIVILEGE)


@roles
def test_cannot_pass_its_privileges_on(attacker, role):
    """GRANT without grant option only warns; it must grant nothing."""
    conn = attacker(role)
    conn.execute("GRANT SELECT, INSERT ON attribution_events TO PUBLIC")
    conn.execute("RESET ROLE")
    table_privs_are(conn, "attribution_events", "PUBLIC", [])


@scoped
def test_role_without_grants_reads_nothing(world, connect, table):
    conn = connect()
    conn.execute("CREATE ROLE attacker_without_grants NOLOGIN")
    begin_as(conn, "attacker_without_grants", world["A"]["tenants"])
    throws_ok(conn, sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)), (), INSUFFICIENT_PRIVILEGE)


# -- what must keep working --------------------------------------------------------------
@scoped
def test_app_rw_writes_its_own_tenant_rows(world, attacker, table):
    """The foreign key to tenants is checked without SELECT on tenants."""
    conn = attacker("app_rw")
    new_id = rows.insert(conn, table, **rows.values_for(table, world["A"]))
    ident = sql.Identifier(table)
    assert conn.execute(sql.SQL("UPDATE {} SET tenant_id = tenant_id WHERE id = %s").format(ident), [new_id]).rowcount == 1
    assert conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(ident), [new_id]).rowcount == 1


@roles
def test_tenant_does_not_carry_over_to_the_next_transaction(world, connect, role):
    """Transaction pooling: a tenant set with set_config(..., true) dies with its transaction."""
    conn = connect()
    begin_as(conn, role, world["A"]["tenants"])
    assert tenant_ids(conn, "attribution_events") == [world["A"]["tenants"]]
    conn.commit()
    begin_as(conn, role, None)
    throws_ok(conn, "SELECT * FROM attribution_events", (), "22P02")


@scoped
def test_non_superuser_owner_is_bound_by_forced_policies(world, connect, table):
    conn = connect()
    conn.execute("CREATE ROLE owner_without_bypass NOLOGIN")
    conn.execute(sql.SQL("ALTER TABLE {} OWNER TO owner_without_bypass").format(sql.Identifier(table)))
    begin_as(conn, "owner_without_bypass", world["A"]["tenants"])
    assert tenant_ids(conn, table) == [world["A"]["tenants"]]
    conn.execute("RESET ROLE")
    begin_as(conn, "owner_without_bypass", "")  # the owner too fails closed without a tenant
    throws_ok(conn, sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)), (), "22P02")
