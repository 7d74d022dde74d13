"""Catalog assertions named after pgTAP's, for pytest.

Each helper queries pg_catalog / information_schema through a psycopg connection and
raises AssertionError with a message a DBA can act on. Like pgTAP's ``*_are`` functions,
set comparisons name both what is missing and what is extra.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg

SCHEMA = "public"


def _rows(conn, sql: str, params: Sequence = ()) -> list[tuple]:
    return conn.execute(sql, params).fetchall()


def _col(conn, sql: str, params: Sequence = ()) -> list:
    return [row[0] for row in _rows(conn, sql, params)]


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


def _relid(conn, table: str, schema: str = SCHEMA) -> int:
    row = conn.execute(
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    ).fetchone()
    assert row, f"relation {schema}.{table} does not exist"
    return row[0]


# -- tables and columns ---------------------------------------------------------------
def tables_are(conn, want: Iterable[str], schema: str = SCHEMA) -> None:
    have = _col(
        conn,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname NOT LIKE '\\_yoyo%%' "
        "AND c.relname <> 'yoyo_lock'",
        (schema,),
    )
    set_diff(f"tables in schema {schema}", have, want)


def has_table(conn, table: str, schema: str = SCHEMA) -> None:
    kind = conn.execute(
        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    ).fetchone()
    assert kind is not None, f"table {schema}.{table} does not exist"
    assert kind[0] in ("r", "p"), f"{schema}.{table} exists but is not a table (relkind {kind[0]})"


def _column(conn, table: str, column: str) -> tuple:
    row = conn.execute(
        "SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = %s AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped",
        (_relid(conn, table), column),
    ).fetchone()
    assert row is not None, f"column {table}.{column} does not exist"
    return row


def columns_are(conn, table: str, want: Iterable[str]) -> None:
    have = _col(
        conn,
        "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped",
        (_relid(conn, table),),
    )
    set_diff(f"columns of {table}", have, want)


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
    rows = _rows(
        conn,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s AND contype = %s",
        (_relid(conn, table), contype),
    )
    return dict(rows)


_CONSTRAINT_KINDS = {"c": "check constraints", "f": "foreign keys", "u": "unique constraints", "p": "primary key"}


def _attnames(keys: str, relid: str) -> str:
    """SQL for the column names of attribute numbers ``keys`` of relation ``relid``, in order."""
    return (
        f"(SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest({keys}) WITH ORDINALITY "
        f"AS k (attnum, ord) JOIN pg_attribute a ON a.attrelid = {relid} AND a.attnum = k.attnum)"
    )


def col_is_pk(conn, table: str, columns: Sequence[str]) -> None:
    have = _rows(
        conn,
        f"SELECT {_attnames('c.conkey', 'c.conrelid')} FROM pg_constraint c "
        "WHERE c.conrelid = %s AND c.contype = 'p'",
        (_relid(conn, table),),
    )
    assert have, f"table {table} has no primary key"
    assert list(have[0][0]) == list(columns), f"primary key of {table} is {have[0][0]}, expected {list(columns)}"


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


_FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def foreign_keys(conn, table: str) -> dict[str, tuple]:
    """name -> (columns, referenced table, referenced columns, ON DELETE action)."""
    rows = _rows(
        conn,
        f"SELECT c.conname, {_attnames('c.conkey', 'c.conrelid')}, c.confrelid::regclass::text, "
        f"{_attnames('c.confkey', 'c.confrelid')}, c.confdeltype "
        "FROM pg_constraint c WHERE c.conrelid = %s AND c.contype = 'f'",
        (_relid(conn, table),),
    )
    return {name: (tuple(cols), ref, tuple(refcols), _FK_ACTIONS[act]) for name, cols, ref, refcols, act in rows}


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
    rows = _rows(
        conn,
        "SELECT ic.relname, i.indisunique, pg_get_expr(i.indpred, i.indrelid), "
        "  (SELECT array_agg(pg_get_indexdef(i.indexrelid, k.ord::int, true) "
        "          || CASE WHEN i.indoption[k.ord - 1] & 1 = 1 THEN ' DESC' ELSE '' END ORDER BY k.ord) "
        "   FROM generate_series(1, i.indnkeyatts) AS k (ord)) "
        "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = %s",
        (_relid(conn, table),),
    )
    return {name: {"columns": list(cols), "unique": uniq, "where": where} for name, uniq, where, cols in rows}


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
    enabled, force = conn.execute(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s", (_relid(conn, table),)
    ).fetchone()
    assert enabled, f"row-level security is not enabled on {table}"
    assert force == forced, f"row-level security on {table} is {'' if force else 'not '}forced, expected forced={forced}"


def _policies(conn, table: str) -> dict[str, tuple]:
    rows = _rows(
        conn,
        "SELECT policyname, cmd, roles::text[], qual, with_check, permissive FROM pg_policies "
        "WHERE schemaname = %s AND tablename = %s",
        (SCHEMA, table),
    )
    return {name: (cmd, sorted(roles), qual, check, permissive) for name, cmd, roles, qual, check, permissive in rows}


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
    have = _col(
        conn,
        "SELECT a.privilege_type FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a "
        "WHERE c.oid = %s AND a.grantee = CASE WHEN %s = 'PUBLIC' THEN 0 "
        "ELSE (SELECT oid FROM pg_roles WHERE rolname = %s) END",
        (_relid(conn, table), role, role),
    )
    set_diff(f"privileges of {role} on {table}", have, privileges)


def has_role(conn, role: str) -> dict:
    row = conn.execute(
        "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolinherit "
        "FROM pg_roles WHERE rolname = %s",
        (role,),
    ).fetchone()
    assert row is not None, f"role {role} does not exist"
    keys = ("login", "superuser", "bypassrls", "createdb", "createrole", "inherit")
    return dict(zip(keys, row))


def role_owns_nothing(conn, role: str) -> None:
    owned = _col(
        conn,
        "SELECT classid::regclass::text || ' ' || objid FROM pg_shdepend "
        "WHERE refobjid = (SELECT oid FROM pg_roles WHERE rolname = %s) AND deptype = 'o' "
        "AND dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))",
        (role,),
    )
    assert not owned, f"role {role} owns objects: {owned}"


def schema_privs_are(conn, schema: str, role: str, privileges: Iterable[str]) -> None:
    """Effective privileges of ``role`` on ``schema`` (USAGE, CREATE)."""
    have = [p for p in ("USAGE", "CREATE") if conn.execute(
        "SELECT has_schema_privilege(%s, %s, %s)", (role, schema, p)).fetchone()[0]]  # fmt: skip
    set_diff(f"privileges of {role} on schema {schema}", have, privileges)


def relations_are(conn, relkind: str, want: Iterable[str], schema: str = SCHEMA) -> None:
    """Relations of one kind ('v' views, 'm' materialized views, ...) in ``schema``."""
    have = _col(
        conn,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind = %s",
        (schema, relkind),
    )
    names = {"v": "views", "m": "materialized views", "r": "tables"}
    set_diff(f"{names.get(relkind, relkind)} in schema {schema}", have, want)


def columns_typed(conn, relation: str, want: Sequence[tuple[str, str]]) -> None:
    """Columns of ``relation`` in order, with their types."""
    have = _rows(
        conn,
        "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (_relid(conn, relation),),
    )
    assert have == list(want), f"columns of {relation} are {have}, expected {list(want)}"


def owner_of(conn, relation: str) -> str:
    return conn.execute("SELECT relowner::regrole::text FROM pg_class WHERE oid = %s", (_relid(conn, relation),)).fetchone()[0]


# -- triggers and functions --------------------------------------------------------------
def triggers_are(conn, table: str, want: dict[str, str]) -> None:
    """User triggers of ``table`` (not the internal ones behind foreign keys) and their
    definitions as pg_get_triggerdef prints them; each must also be enabled."""
    rows = _rows(
        conn,
        "SELECT tgname, pg_get_triggerdef(oid), tgenabled FROM pg_trigger WHERE tgrelid = %s AND NOT tgisinternal",
        (_relid(conn, table),),
    )
    have = {name: definition for name, definition, _ in rows}
    set_diff(f"triggers on {table}", have, want)
    for name, definition in want.items():
        assert have[name] == definition, f"trigger {name} is {have[name]!r}, expected {definition!r}"
    disabled = [name for name, _, enabled in rows if enabled == "D"]
    assert not disabled, f"triggers on {table} are disabled: {disabled}"


def has_function(conn, signature: str, returns: str, schema: str = SCHEMA) -> None:
    """``signature`` like 'pii_key_paths(jsonb)' exists in ``schema`` and returns ``returns``."""
    row = conn.execute(
        "SELECT format_type(prorettype, NULL) FROM pg_proc WHERE oid = to_regprocedure(%s)",
        (f"{schema}.{signature}",),
    ).fetchone()
    assert row is not None, f"function {schema}.{signature} does not exist"
    assert row[0] == returns, f"function {signature} returns {row[0]}, expected {returns}"
