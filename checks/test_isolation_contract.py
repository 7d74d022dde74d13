"""Row-level security, policies, roles and grants match the dictionary (catalog checks)."""

from __future__ import annotations

import pytest

from checks import pgtap
from checks.contract import APP_ROLES, POLICY, POLICY_EXPR, TABLE_GRANTS, TABLES, TENANT_SCOPED


def _granted_here(catalog, role: str) -> None:
    """The role's state matters because the migrations granted it this database's tables (roles
    are cluster-wide: without this, an unmigrated database on the same server would pass)."""
    tables = catalog.execute(
        "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%s) "
        "AND has_table_privilege(%s, c.oid, 'SELECT')", [list(TENANT_SCOPED), role]).fetchone()[0]  # fmt: skip
    assert tables == len(TENANT_SCOPED), f"{role} can read {tables} of the {len(TENANT_SCOPED)} tenant-scoped tables here"


@pytest.mark.parametrize("table", TENANT_SCOPED)
def test_rls_enabled_and_forced_on_tenant_scoped_tables(catalog, table):
    pgtap.rls_enabled(catalog, table, forced=True)


def test_tenants_rls_enabled_not_forced_without_policy(catalog):
    pgtap.rls_enabled(catalog, "tenants", forced=False)
    pgtap.policies_are(catalog, "tenants", [])


@pytest.mark.parametrize("table", TENANT_SCOPED)
def test_policies_are(catalog, table):
    pgtap.policies_are(catalog, table, [POLICY])


@pytest.mark.parametrize("table", TENANT_SCOPED)
def test_policy_applies_to_all_commands_for_public(catalog, table):
    pgtap.policy_cmd_is(catalog, table, POLICY, "ALL")
    pgtap.policy_roles_are(catalog, table, POLICY, ["public"])
    pgtap.policy_is_permissive(catalog, table, POLICY)


@pytest.mark.parametrize("table", TENANT_SCOPED)
def test_policy_using_and_with_check_are_the_documented_expression(catalog, table):
    pgtap.policy_exprs_are(catalog, table, POLICY, using=POLICY_EXPR, with_check=POLICY_EXPR)


@pytest.mark.parametrize("table", TENANT_SCOPED)
@pytest.mark.parametrize("role", APP_ROLES)
def test_app_role_privileges_on_tenant_scoped_tables(catalog, table, role):
    pgtap.table_privs_are(catalog, table, role, TABLE_GRANTS[role])


@pytest.mark.parametrize("table", TABLES)
def test_public_has_no_privilege(catalog, table):
    pgtap.table_privs_are(catalog, table, "PUBLIC", [])


@pytest.mark.parametrize("role", APP_ROLES)
def test_app_roles_have_nothing_on_tenants(catalog, role):
    pgtap.table_privs_are(catalog, "tenants", role, [])


@pytest.mark.parametrize("role", APP_ROLES)
def test_app_role_attributes(catalog, role):
    _granted_here(catalog, role)
    attrs = pgtap.has_role(catalog, role)
    assert attrs["login"] is False, f"{role} must be NOLOGIN"
    assert attrs["superuser"] is False, f"{role} must not be a superuser"
    assert attrs["bypassrls"] is False, f"{role} must not bypass row-level security"
    assert attrs["createdb"] is False and attrs["createrole"] is False, f"{role} must not create databases or roles"


@pytest.mark.parametrize("role", APP_ROLES)
def test_app_roles_own_nothing(catalog, role):
    _granted_here(catalog, role)
    pgtap.role_owns_nothing(catalog, role)


@pytest.mark.parametrize("role", [*APP_ROLES, "PUBLIC"])
def test_schema_privileges(catalog, role):
    """Application roles (and PUBLIC) may use schema public but not create in it (as the
    migrated schema stands: its tables exist, so a CREATE here could shadow them)."""
    for table in TABLES:
        pgtap.has_table(catalog, table)
    if role == "PUBLIC":
        have = catalog.execute(
            "SELECT a.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) a "
            "WHERE n.nspname = 'public' AND a.grantee = 0"
        ).fetchall()
        assert have == [("USAGE",)], f"PUBLIC has {have} on schema public, expected only USAGE"
    else:
        pgtap.schema_privs_are(catalog, "public", role, ["USAGE"])


def test_every_table_with_tenant_id_has_forced_rls(catalog):
    """Schema-wide rule: no table carrying tenant_id escapes forced row-level security."""
    with_tenant = catalog.execute(
        "SELECT count(*) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND a.attname = 'tenant_id'"
    ).fetchone()[0]
    assert with_tenant >= len(TENANT_SCOPED), f"only {with_tenant} tables carry tenant_id: nothing to check"
    loose = catalog.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') "
        "AND a.attname = 'tenant_id' AND NOT (c.relrowsecurity AND c.relforcerowsecurity)"
    ).fetchall()
    assert not loose, f"tables with tenant_id but without forced RLS: {loose}"


def test_only_the_owner_has_truncate_references_trigger(catalog):
    """Schema-wide rule: no role but the owner holds TRUNCATE, REFERENCES or TRIGGER."""
    granted = catalog.execute(
        "SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relacl IS NOT NULL"
    ).fetchone()[0]
    assert granted >= len(TABLES), f"only {granted} relations carry grants: nothing to check"
    grants = catalog.execute(
        "SELECT c.relname, a.grantee::regrole::text, a.privilege_type FROM pg_class c, "
        "aclexplode(c.relacl) a WHERE c.relnamespace = 'public'::regnamespace AND a.grantee <> c.relowner "
        "AND a.privilege_type IN ('TRUNCATE', 'REFERENCES', 'TRIGGER')"
    ).fetchall()
    assert not grants, f"unexpected grants: {grants}"
