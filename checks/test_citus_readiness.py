"""Citus readiness: every object that would block distributing the schema is listed as data.

Decision 0006 (docs/decisions/0006-scale-out-on-citus.md) plans the schema on Citus:
the tenant-scoped tables distributed by ``tenant_id`` and co-located, the tables they
reference without a ``tenant_id`` of their own (``tenants``) as reference tables. This
check derives from the catalog of a migrated database every object that would make
``create_distributed_table`` / ``create_reference_table`` refuse, and compares that set with
docs/decisions/0006-citus-blockers.yaml: a blocker a new migration adds, or a listed one
that no longer exists, fails here by name, so the scale-out plan never silently drifts.

What Citus refuses (Citus 11-13 source, ``ErrorIfUnsupportedConstraint``,
``ErrorIfUnsupportedForeignConstraintExists``, ``ErrorOutForTriggerIfNotSupported``):

* a PRIMARY KEY, UNIQUE or EXCLUDE constraint, or a unique index, on a distributed table
  whose key columns do not include the distribution column;
* a foreign key between two distributed tables that does not pair the two distribution
  columns at the same position, or from a distributed table to a table that is neither
  distributed nor a reference table;
* a foreign key whose columns include the distribution column with ON DELETE SET NULL /
  SET DEFAULT (PostgreSQL 15's ``SET NULL (col)`` form too) or ON UPDATE SET NULL /
  SET DEFAULT / CASCADE;
* any user trigger on a distributed or reference table while ``citus.enable_unsafe_triggers``
  is off (its default);
* an identity column on a distributed table (refused before Citus 11.2; listed so it is
  decided, not discovered).

Kills mutations ``citus-fk-on-update-cascade-on-tenant-id`` (the composite allocation ->
event key made ON UPDATE CASCADE, which Citus refuses and no other check notices) and
``citus-unique-index-without-tenant-id`` (the idempotency index keyed on external_event_id
alone), both in checks/mutations/citus.yaml: blockers the YAML does not list.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from attribution_db import PROJECT_ROOT

BLOCKERS_FILE = PROJECT_ROOT / "docs" / "decisions" / "0006-citus-blockers.yaml"
KINDS = {
    "unique-without-distribution-column",
    "foreign-key-not-on-distribution-column",
    "foreign-key-to-local-table",
    "foreign-key-action-on-distribution-column",
    "trigger",
    "identity-column",
}

#: Ordinary tables of schema public with the distribution column: distributed, co-located.
DISTRIBUTED_SQL = """
SELECT c.oid::regclass::text
FROM pg_class AS c
JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attname = %(col)s AND NOT a.attisdropped
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY 1
"""

#: Tables a distributed table references by its distribution column alone (tenants): reference tables.
REFERENCE_SQL = """
SELECT DISTINCT con.confrelid::regclass::text
FROM pg_constraint AS con
JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
WHERE con.contype = 'f' AND cardinality(con.conkey) = 1 AND a.attname = %(col)s
  AND con.conrelid::regclass::text = ANY(%(dist)s)
  AND NOT (con.confrelid::regclass::text = ANY(%(dist)s))
ORDER BY 1
"""

#: Unique indexes (PK and UNIQUE constraints own one) and EXCLUDE constraints whose key
#: columns do not include the distribution column (an expression key does not count).
UNIQUE_SQL = """
SELECT i.indrelid::regclass::text AS tbl, ic.relname AS obj,
       pg_get_indexdef(i.indexrelid) AS detail
FROM pg_index AS i
JOIN pg_class AS ic ON ic.oid = i.indexrelid
WHERE (i.indisunique OR i.indisexclusion)
  AND i.indrelid::regclass::text = ANY(%(dist)s)
  AND NOT EXISTS (
      SELECT FROM pg_attribute AS a
      WHERE a.attrelid = i.indrelid AND a.attname = %(col)s
        AND a.attnum = ANY((i.indkey::int2[])[0:i.indnkeyatts - 1]))
"""

#: Foreign keys of distributed tables: columns and actions, for the rules above.
FOREIGN_KEYS_SQL = """
SELECT con.conrelid::regclass::text AS tbl, con.conname AS obj,
       con.confrelid::regclass::text AS referenced,
       array_position(array(SELECT attname FROM unnest(con.conkey) WITH ORDINALITY AS k(n, o)
                            JOIN pg_attribute ON attrelid = con.conrelid AND attnum = k.n
                            ORDER BY k.o)::text[], %(col)s) AS from_pos,
       array_position(array(SELECT attname FROM unnest(con.confkey) WITH ORDINALITY AS k(n, o)
                            JOIN pg_attribute ON attrelid = con.confrelid AND attnum = k.n
                            ORDER BY k.o)::text[], %(col)s) AS to_pos,
       con.confdeltype, con.confupdtype, pg_get_constraintdef(con.oid) AS detail
FROM pg_constraint AS con
WHERE con.contype = 'f' AND con.conrelid::regclass::text = ANY(%(dist)s)
"""

#: User (not internal: FK enforcement triggers are internal) triggers.
TRIGGERS_SQL = """
SELECT t.tgrelid::regclass::text AS tbl, t.tgname AS obj, pg_get_triggerdef(t.oid) AS detail
FROM pg_trigger AS t
WHERE NOT t.tgisinternal AND t.tgrelid::regclass::text = ANY(%(tables)s)
"""

IDENTITY_SQL = """
SELECT a.attrelid::regclass::text AS tbl, a.attname AS obj, a.attidentity AS detail
FROM pg_attribute AS a
WHERE a.attidentity <> '' AND NOT a.attisdropped AND a.attrelid::regclass::text = ANY(%(dist)s)
"""


def load_plan(path: Path = BLOCKERS_FILE) -> dict:
    plan = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(plan, dict) and isinstance(plan.get("blockers"), list), f"{path.name}: no blockers list"
    for entry in plan["blockers"]:
        missing = {"kind", "table", "object", "why", "becomes"} - set(entry)
        assert not missing, f"{path.name}: entry {entry} lacks {', '.join(sorted(missing))}"
        assert entry["kind"] in KINDS, f"{path.name}: unknown kind {entry['kind']!r} (one of {sorted(KINDS)})"
    return plan


def tables(conn, col: str) -> tuple[list[str], list[str]]:
    """(distributed, reference) tables as decision 0006 plans them, from the catalog."""
    dist = [r[0] for r in conn.execute(DISTRIBUTED_SQL, {"col": col})]
    ref = [r[0] for r in conn.execute(REFERENCE_SQL, {"col": col, "dist": dist})]
    return dist, ref


def derive(conn, col: str = "tenant_id") -> dict[tuple[str, str, str], str]:
    """Every blocker in the connected database: (kind, table, object) -> its definition."""
    dist, ref = tables(conn, col)
    args = {"col": col, "dist": dist, "tables": dist + ref}
    found: dict[tuple[str, str, str], str] = {}
    for tbl, obj, detail in conn.execute(UNIQUE_SQL, args):
        found[("unique-without-distribution-column", tbl, obj)] = detail
    for tbl, obj, referenced, from_pos, to_pos, on_delete, on_update, detail in conn.execute(FOREIGN_KEYS_SQL, args):
        if referenced in dist and (from_pos is None or from_pos != to_pos):
            found[("foreign-key-not-on-distribution-column", tbl, obj)] = detail
        elif referenced not in dist and referenced not in ref:
            found[("foreign-key-to-local-table", tbl, obj)] = detail
        if from_pos is not None and (on_delete in ("n", "d") or on_update in ("n", "d", "c")):
            found[("foreign-key-action-on-distribution-column", tbl, obj)] = detail
    for tbl, obj, detail in conn.execute(TRIGGERS_SQL, args):
        found[("trigger", tbl, obj)] = detail
    for tbl, obj, detail in conn.execute(IDENTITY_SQL, args):
        found[("identity-column", tbl, obj)] = f"GENERATED {'ALWAYS' if detail == 'a' else 'BY DEFAULT'} AS IDENTITY"
    return found


def test_every_citus_blocker_is_listed(catalog):
    plan = load_plan()
    dist, ref = tables(catalog, plan["distribution_column"])
    assert sorted(plan["distributed_tables"]) == dist, (
        f"tables with {plan['distribution_column']} (to distribute): {dist}; "
        f"{BLOCKERS_FILE.name} plans {sorted(plan['distributed_tables'])}"
    )
    assert sorted(plan["reference_tables"]) == ref, (
        f"reference tables derived from the foreign keys: {ref}; {BLOCKERS_FILE.name} plans {sorted(plan['reference_tables'])}"
    )
    found = derive(catalog, plan["distribution_column"])
    listed = {(e["kind"], e["table"], e["object"]) for e in plan["blockers"]}
    new = sorted(set(found) - listed)
    gone = sorted(listed - set(found))
    lines = [f"new blocker {k} {t}.{o}: {found[(k, t, o)]}" for k, t, o in new]
    lines += [f"listed blocker no longer in the catalog: {k} {t}.{o}" for k, t, o in gone]
    assert not lines, (
        f"the Citus blockers differ from {BLOCKERS_FILE.relative_to(PROJECT_ROOT)} (add each new one "
        "with why and what it becomes, or drop the gone ones; decision 0006):\n  " + "\n  ".join(lines)
    )


def test_the_blockers_file_lists_each_object_once():
    plan = load_plan()
    keys = [(e["kind"], e["table"], e["object"]) for e in plan["blockers"]]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    assert not dupes, f"listed twice: {dupes}"


SELF_TESTS = {
    "unique-without-distribution-column": (
        "CREATE TABLE t_probe (id int PRIMARY KEY, tenant_id uuid NOT NULL)",
        ("unique-without-distribution-column", "t_probe", "t_probe_pkey"),
    ),
    "unique-index-tenant-as-expression": (
        "CREATE TABLE t_probe (id int, tenant_id uuid NOT NULL);"
        "CREATE UNIQUE INDEX t_probe_expr ON t_probe ((tenant_id::text), id)",
        ("unique-without-distribution-column", "t_probe", "t_probe_expr"),
    ),
    "unique-tenant-only-in-include": (
        "CREATE TABLE t_probe (id int, tenant_id uuid NOT NULL);"
        "CREATE UNIQUE INDEX t_probe_incl ON t_probe (id) INCLUDE (tenant_id)",
        ("unique-without-distribution-column", "t_probe", "t_probe_incl"),
    ),
    "foreign-key-not-on-distribution-column": (
        "CREATE TABLE t_probe (tenant_id uuid NOT NULL, event_id uuid REFERENCES attribution_events (id))",
        ("foreign-key-not-on-distribution-column", "t_probe", "t_probe_event_id_fkey"),
    ),
    "foreign-key-columns-swapped": (
        "CREATE TABLE t_probe (tenant_id uuid NOT NULL, event_id uuid,"
        " CONSTRAINT t_probe_swapped FOREIGN KEY (event_id, tenant_id) REFERENCES attribution_events (tenant_id, id))",
        ("foreign-key-not-on-distribution-column", "t_probe", "t_probe_swapped"),
    ),
    "foreign-key-to-local-table": (
        "CREATE TABLE t_probe (tenant_id uuid NOT NULL, view_name text REFERENCES read_model_refreshes)",
        ("foreign-key-to-local-table", "t_probe", "t_probe_view_name_fkey"),
    ),
    "foreign-key-action-on-distribution-column": (
        "CREATE TABLE t_probe (tenant_id uuid REFERENCES tenants ON UPDATE CASCADE)",
        ("foreign-key-action-on-distribution-column", "t_probe", "t_probe_tenant_id_fkey"),
    ),
    "trigger": (
        "CREATE TABLE t_probe (tenant_id uuid NOT NULL, updated_at timestamptz);"
        "CREATE TRIGGER t_probe_trg BEFORE UPDATE ON t_probe FOR EACH ROW EXECUTE FUNCTION maintain_audit_timestamps()",
        ("trigger", "t_probe", "t_probe_trg"),
    ),
    "identity-column": (
        "CREATE TABLE t_probe (n bigint GENERATED ALWAYS AS IDENTITY, tenant_id uuid NOT NULL)",
        ("identity-column", "t_probe", "n"),
    ),
}


@pytest.mark.parametrize("case", sorted(SELF_TESTS))
def test_the_derivation_finds_each_kind(db, case):
    """Each rule is live: a table made to break it in a rolled-back transaction is found."""
    ddl, expected = SELF_TESTS[case]
    before = derive(db)
    for statement in ddl.split(";"):
        db.execute(statement)
    after = derive(db)
    assert set(after) - set(before) == {expected}, f"{case}: found {sorted(set(after) - set(before))}"


def test_a_composite_foreign_key_on_the_distribution_column_is_no_blocker(db):
    before = derive(db)
    db.execute(
        "CREATE TABLE t_probe (tenant_id uuid NOT NULL REFERENCES tenants ON DELETE CASCADE, event_id uuid,"
        " PRIMARY KEY (tenant_id, event_id),"
        " FOREIGN KEY (tenant_id, event_id) REFERENCES attribution_events (tenant_id, id) ON DELETE CASCADE)"
    )
    assert set(derive(db)) == set(before)
