"""Schema-wide rule: every object of schema public, and each application role, has a COMMENT.

The walk is generic (``attribution_db.catalog.uncommented_objects``): tables, views,
materialized views and their columns, constraints of every kind, indexes, triggers, rules,
policies, sequences, domains, enum types, functions and procedures. A new object without a
comment fails here, named, whichever branch added it.
"""

from __future__ import annotations

import pytest

from attribution_db.catalog import uncommented_objects
from checks.contract import TABLE_FACTS


def test_every_object_has_a_comment(catalog):
    present = catalog.execute(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname = ANY(%s)",
        [list(TABLE_FACTS)],
    ).fetchone()[0]
    assert present == len(TABLE_FACTS), f"only {present} of the {len(TABLE_FACTS)} tables exist: nothing to walk"
    missing = uncommented_objects(catalog)
    assert not missing, (
        f"{len(missing)} object(s) in schema public without a COMMENT (add one in a new "
        "migration):\n  " + "\n  ".join(missing)
    )


@pytest.mark.parametrize(
    ("ddl", "expected"),
    [
        ("COMMENT ON TABLE tenants IS NULL", "table tenants"),
        ("COMMENT ON COLUMN revenue_ledger.is_verified IS NULL", "column revenue_ledger.is_verified"),
        (
            "COMMENT ON CONSTRAINT ck_reconciliation_runs_state_valid ON reconciliation_runs IS NULL",
            "constraint ck_reconciliation_runs_state_valid on reconciliation_runs",
        ),
        ("COMMENT ON INDEX tenants_pkey IS NULL", "index tenants_pkey (on tenants)"),
        (
            "COMMENT ON POLICY tenant_isolation_policy ON dead_events IS NULL",
            "policy tenant_isolation_policy on dead_events",
        ),
        ("CREATE VIEW v_probe AS SELECT 1 AS one", "view v_probe"),
        ("CREATE MATERIALIZED VIEW mv_probe AS SELECT 1 AS one", "column mv_probe.one"),
        ("CREATE FUNCTION f_probe(a int) RETURNS int LANGUAGE sql AS 'SELECT a'", "function f_probe(a integer)"),
        (
            "CREATE FUNCTION t_probe() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'\n;"
            "COMMENT ON FUNCTION t_probe() IS 'probe'\n;"
            "CREATE TRIGGER trg_probe BEFORE UPDATE ON tenants FOR EACH ROW EXECUTE FUNCTION t_probe()",
            "trigger trg_probe on tenants",
        ),
        ("ALTER TABLE tenants ADD CONSTRAINT uq_probe UNIQUE (name)", "index uq_probe (on tenants)"),
        ("CREATE TYPE e_probe AS ENUM ('a')", "type e_probe"),
        ("CREATE SEQUENCE s_probe", "sequence s_probe"),
    ],
)
def test_a_missing_comment_is_reported(db, ddl, expected):
    """The rule can fail: each object kind without a comment is named (then rolled back)."""
    assert expected not in uncommented_objects(db)
    for statement in ddl.split("\n;"):
        db.execute(statement)
    assert expected in uncommented_objects(db)


def test_a_role_without_a_comment_is_reported(db):
    db.execute("COMMENT ON ROLE app_ro IS NULL")  # rolled back with the transaction
    assert "role app_ro" in uncommented_objects(db)


@pytest.mark.parametrize("table", list(TABLE_FACTS))
def test_table_comment_states_the_documented_data_class(catalog, table):
    """The table's COMMENT opens with the dictionary's Purpose and states its Data Class and
    Ownership verbatim (the generated data dictionary prints them from there)."""
    row = catalog.execute("SELECT obj_description(%s::regclass, 'pg_class')", [table]).fetchone()
    comment = row[0] if row else None
    assert comment, f"{table} has no table comment"
    lines = comment.splitlines()
    facts = TABLE_FACTS[table]
    assert lines[0].rstrip(".") == facts["Purpose"], f"{table}: purpose {lines[0]!r}, the dictionary says {facts['Purpose']!r}"
    for key in ("Data Class", "Ownership"):
        stated = [line.split(": ", 1)[1] for line in lines if line.startswith(f"{key}: ")]
        assert stated == [facts[key]], f"{table}: {key} {stated}, the dictionary says {facts[key]!r}"
