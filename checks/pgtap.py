"""Catalog assertions named after pgTAP's, for pytest.

Each helper reads the catalog through the project's one catalog layer
(``attribution_db.catalog``: ``read_relations`` and a few single facts) and raises
AssertionError with a message a DBA can act on. Like pgTAP's ``*_are`` functions, set
comparisons name both what is missing and what is extra. No SQL against pg_catalog here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg

from attribution_db import catalog
from attribution_db.catalog import SCHEMA, Relation


def set_diff(what: str, have: Iterable, want: Iterable) -> None:
    """Fail naming missing and extra members when ``have`` and ``want`` differ as sets."""
    have, want = set(have), set(want)
    if have == want:
        return
    parts = []
    if want - have:
        parts.append(f"missing {sorted(want - have)}")
    if have - want:
        parts.append(f"extra {sorted(have - want)}")
    raise AssertionError(f"{what}: " + "; ".join(parts))


def _relation(conn, table: str, schema: str = SCHEMA) -> Relation:
    rel = catalog.read_relations(conn, schema, only=[table]).get(table)
    assert rel is not None, f"relation {schema}.{table} does not exist"
    return rel


# -- tables and columns ---------------------------------------------------------------
def tables_are(conn, want: Iterable[str], schema: str = SCHEMA) -> None:
    have = [rel.name for rel in catalog.read_relations(conn, schema).values() if rel.kind in ("r", "p")]
    set_diff(f"tables in schema {schema}", have, want)


def has_table(conn, table: str, schema: str = SCHEMA) -> None:
    rel = catalog.read_relations(conn, schema, only=[table]).get(table)
    assert rel is not None, f"table {schema}.{table} does not exist"
    assert rel.kind in ("r", "p"), f"{schema}.{table} exists but is not a table (relkind {rel.kind})"


def _column(conn, table: str, column: str) -> tuple:
    col = next((c for c in _relation(conn, table).columns if c.name == column), None)
    assert col is not None, f"column {table}.{column} does not exist"
    return col.type, col.not_null, col.default


def columns_are(conn, table: str, want: Iterable[str]) -> None:
    set_diff(f"columns of {table}", [c.name for c in _relation(conn, table).columns], want)


def col_type_is(conn, table: str, column: str, type_: str) -> None:
    have = _column(conn, table, column)[0]
    assert have == type_, f"column {table}.{column} has type {have!r}, expected {type_!r}"


def col_not_null(conn, table: str, column: str) -> None:
    assert _column(conn, table, column)[1], f"column {table}.{column} should be NOT NULL"


def col_is_null(conn, table: str, column: str) -> None:
    assert not _column(conn, table, column)[1], f"column {table}.{column} should allow NULL"


def col_default_is(conn, table: str, column: str, default: str | None) -> None:
    have = _column(conn, table, column)[2]
    assert have == default, f"column {table}.{column} defaults to {have!r}, expected {default!r}"


# -- constraints ----------------------------------------------------------------------
def _constraints(conn, table: str, contype: str) -> dict[str, str]:
    return {c.name: c.definition for c in _relation(conn, table).constraints if c.kind == contype}


_CONSTRAINT_KINDS = {"c": "check constraints", "f": "foreign keys", "u": "unique constraints", "p": "primary key"}


def col_is_pk(conn, table: str, columns: Sequence[str]) -> None:
    have = _relation(conn, table).primary_key
    assert have, f"table {table} has no primary key"
    assert list(have) == list(columns), f"primary key of {table} is {list(have)}, expected {list(columns)}"


def constraint_names_are(conn, table: str, contype: str, want: Iterable[str]) -> None:
    set_diff(f"{_CONSTRAINT_KINDS.get(contype, contype)} of {table}", _constraints(conn, table, contype), want)


def constraints_are(conn, table: str, contype: str, want: dict[str, str]) -> None:
    """Named constraints of one kind and their definitions (as pg_get_constraintdef prints them)."""
    have = _constraints(conn, table, contype)
    set_diff(f"{_CONSTRAINT_KINDS.get(contype, contype)} of {table}", have, want)
    for name, definition in want.items():
        assert have[name] == definition, f"{table}.{name} is {have[name]!r}, expected {definition!r}"


def checks_are(conn, table: str, want: dict[str, str]) -> None:
    """Named check constraints and their definitions (as pg_get_constraintdef prints them)."""
    constraints_are(conn, table, "c", want)


def foreign_keys(conn, table: str) -> dict[str, tuple]:
    """name -> (columns, referenced table, referenced columns, ON DELETE action)."""
    return {
        c.name: (tuple(c.columns), c.ref_table, tuple(c.ref_columns), c.on_delete)
        for c in _relation(conn, table).constraints if c.kind == "f"
    }  # fmt: skip


def fk_ok(conn, table: str, columns: Sequence[str], ref_table: str, ref_columns: Sequence[str],
          on_delete: str = "CASCADE") -> None:  # fmt: skip
    want = (tuple(columns), ref_table, tuple(ref_columns))
    fks = foreign_keys(conn, table)
    match = [(name, fk) for name, fk in fks.items() if fk[:3] == want]
    assert match, f"no foreign key {table}{list(columns)} -> {ref_table}{list(ref_columns)}; have {fks}"
    name, fk = match[0]
    assert fk[3] == on_delete, f"foreign key {name} deletes with {fk[3]}, expected {on_delete}"


# -- indexes --------------------------------------------------------------------------
def index_info(conn, table: str) -> dict[str, dict]:
    """index name -> {columns: ['col', 'col DESC'], unique: bool, where: str | None}."""
    return {i.name: {"columns": list(i.columns), "unique": i.unique, "where": i.where}
            for i in _relation(conn, table).indexes}  # fmt: skip


def indexes_are(conn, table: str, want: Iterable[str]) -> None:
    set_diff(f"indexes on {table}", index_info(conn, table), want)


def has_index(conn, table: str, index: str, columns: Sequence[str] | None = None,
              unique: bool | None = None, where: str | None = None) -> None:  # fmt: skip
    info = index_info(conn, table)
    assert index in info, f"index {index} on {table} does not exist (have {sorted(info)})"
    have = info[index]
    if columns is not None:
        assert have["columns"] == list(columns), f"index {index} is on {have['columns']}, expected {list(columns)}"
    if unique is not None:
        assert have["unique"] == unique, f"index {index} unique={have['unique']}, expected {unique}"
    assert have["where"] == where, f"index {index} has predicate {have['where']!r}, expected {where!r}"


def index_is_unique(conn, table: str, index: str) -> None:
    info = index_info(conn, table)
    assert index in info, f"index {index} on {table} does not exist"
    assert info[index]["unique"], f"index {index} on {table} is not unique"


# -- behaviour ------------------------------------------------------------------------
def throws_ok(conn: psycopg.Connection, sql: str, params: Sequence | dict = (), sqlstate: str = "",
              message: str | None = None) -> psycopg.Error:  # fmt: skip
    """Run ``sql`` in a savepoint; it must fail with ``sqlstate`` (and mention ``message``)."""
    try:
        with conn.transaction():
            conn.execute(sql, params)
    except psycopg.Error as exc:
        assert exc.sqlstate == sqlstate, f"expected SQLSTATE {sqlstate}, got {exc.sqlstate}: {exc}"
        if message is not None:
            assert message in str(exc), f"error {str(exc)!r} does not mention {message!r}"
        return exc
    raise AssertionError(f"expected SQLSTATE {sqlstate}, but the statement succeeded: {sql}")


def lives_ok(conn: psycopg.Connection, sql: str, params: Sequence | dict = ()) -> psycopg.Cursor:
    """Run ``sql`` in a savepoint; it must succeed."""
    try:
        with conn.transaction():
            return conn.execute(sql, params)
    except psycopg.Error as exc:
        raise AssertionError(f"expected success, got SQLSTATE {exc.sqlstate}: {exc}") from None


def results_eq(conn, sql: str, params: Sequence | dict, expected: list[tuple]) -> None:
    have = conn.execute(sql, params).fetchall()
    assert have == expected, f"{sql}\n  returned {have}\n  expected {expected}"


# -- row-level security, policies, roles, privileges ------------------------------------
def rls_enabled(conn, table: str, forced: bool) -> None:
    """RLS is enabled on ``table``, and forced (or not) as stated."""
    rel = _relation(conn, table)
    enabled, force = rel.rls, rel.rls_forced
    assert enabled, f"row-level security is not enabled on {table}"
    assert force == forced, f"row-level security on {table} is {'' if force else 'not '}forced, expected forced={forced}"


def _policies(conn, table: str) -> dict[str, tuple]:
    """name -> (command, roles, USING, WITH CHECK, PERMISSIVE/RESTRICTIVE), spelled as pg_policies does."""
    return {
        p.name: (p.command, sorted("public" if r == "PUBLIC" else r for r in p.roles), p.using, p.check,
                 "PERMISSIVE" if p.permissive else "RESTRICTIVE")
        for p in _relation(conn, table).policies
    }  # fmt: skip


def policies_are(conn, table: str, want: Iterable[str]) -> None:
    set_diff(f"policies on {table}", _policies(conn, table), want)


def _policy(conn, table: str, policy: str) -> tuple:
    policies = _policies(conn, table)
    assert policy in policies, f"policy {policy} on {table} does not exist (have {sorted(policies)})"
    return policies[policy]


def policy_cmd_is(conn, table: str, policy: str, cmd: str) -> None:
    have = _policy(conn, table, policy)[0]
    assert have == cmd, f"policy {policy} on {table} applies to {have}, expected {cmd}"


def policy_roles_are(conn, table: str, policy: str, roles: Iterable[str]) -> None:
    set_diff(f"roles of policy {policy} on {table}", _policy(conn, table, policy)[1], roles)


def policy_is_permissive(conn, table: str, policy: str) -> None:
    have = _policy(conn, table, policy)[4]
    assert have == "PERMISSIVE", f"policy {policy} on {table} is {have}, expected PERMISSIVE"


def policy_exprs_are(conn, table: str, policy: str, using: str | None, with_check: str | None) -> None:
    """The policy's USING and WITH CHECK expressions, as pg_policies deparses them."""
    _cmd, _roles, qual, check, _perm = _policy(conn, table, policy)
    assert qual == using, f"policy {policy} on {table} USING {qual!r}, expected {using!r}"
    assert check == with_check, f"policy {policy} on {table} WITH CHECK {check!r}, expected {with_check!r}"


def table_privs_are(conn, table: str, role: str, privileges: Iterable[str]) -> None:
    """The privileges granted directly to ``role`` (or 'PUBLIC') on ``table``, exactly."""
    have = [entry.split(":", 1)[1] for entry in _relation(conn, table).acl if entry.split(":", 1)[0] == role]
    set_diff(f"privileges of {role} on {table}", have, privileges)


def has_role(conn, role: str) -> dict:
    found = catalog.read_roles(conn, [role])
    assert found, f"role {role} does not exist"
    keys = ("login", "superuser", "bypassrls", "createdb", "createrole", "inherit")
    return {key: found[0][key] for key in keys}


def role_owns_nothing(conn, role: str) -> None:
    owned = catalog.owned_objects(conn, role)
    assert not owned, f"role {role} owns objects: {owned}"


def schema_privs_are(conn, schema: str, role: str, privileges: Iterable[str]) -> None:
    """Effective privileges of ``role`` on ``schema`` (USAGE, CREATE)."""
    set_diff(f"privileges of {role} on schema {schema}", catalog.schema_privileges(conn, role, schema), privileges)


def relations_are(conn, relkind: str, want: Iterable[str], schema: str = SCHEMA) -> None:
    """Relations of one kind ('v' views, 'm' materialized views, ...) in ``schema``."""
    have = [rel.name for rel in catalog.read_relations(conn, schema).values() if rel.kind == relkind]
    names = {"v": "views", "m": "materialized views", "r": "tables"}
    set_diff(f"{names.get(relkind, relkind)} in schema {schema}", have, want)


def columns_typed(conn, relation: str, want: Sequence[tuple[str, str]]) -> None:
    """Columns of ``relation`` in order, with their types."""
    have = [(c.name, c.type) for c in _relation(conn, relation).columns]
    assert have == list(want), f"columns of {relation} are {have}, expected {list(want)}"


def owner_of(conn, relation: str) -> str:
    return _relation(conn, relation).owner


# -- triggers and functions --------------------------------------------------------------
def triggers_are(conn, table: str, want: dict[str, str]) -> None:
    """User triggers of ``table`` (not the internal ones behind foreign keys) and their
    definitions as pg_get_triggerdef prints them; each must also be enabled."""
    triggers = _relation(conn, table).triggers
    have = {t.name: t.definition for t in triggers}
    set_diff(f"triggers on {table}", have, want)
    for name, definition in want.items():
        assert have[name] == definition, f"trigger {name} is {have[name]!r}, expected {definition!r}"
    disabled = [t.name for t in triggers if t.enabled == "D"]
    assert not disabled, f"triggers on {table} are disabled: {disabled}"


def has_function(conn, signature: str, returns: str, schema: str = SCHEMA) -> None:
    """``signature`` like 'pii_key_paths(jsonb)' exists in ``schema`` and returns ``returns``."""
    result = catalog.function_result(conn, signature, schema)
    assert result is not None, f"function {schema}.{signature} does not exist"
    assert result == returns, f"function {signature} returns {result}, expected {returns}"
