"""The six B0.3 tables match the data dictionary, fact by fact (catalog checks).

The exact-set checks (checks, foreign keys, indexes) expect the documented objects plus the
reviewed extras listed in ``checks/additions.py``; the documented data is not touched.
"""

from __future__ import annotations

import pytest

from checks import additions, pgtap
from checks.contract import EXTRA_TABLES, ROLLUP_TABLES, TABLES

COLUMNS = [(t.name, c) for t in TABLES.values() for c in t.columns]
INDEXES = [(t.name, name, ix) for t in TABLES.values() for name, ix in t.indexes.items()]
FOREIGN_KEYS = [(t.name, name, fk) for t in TABLES.values() for name, fk in t.foreign_keys.items()]


def test_tables_are(catalog):
    pgtap.tables_are(catalog, [*TABLES, *EXTRA_TABLES, *ROLLUP_TABLES, *ROLLUP_TABLES.values()])


@pytest.mark.parametrize("table", TABLES)
def test_has_table(catalog, table):
    pgtap.has_table(catalog, table)


@pytest.mark.parametrize("table", TABLES)
def test_columns_are(catalog, table):
    pgtap.columns_are(catalog, table, [c.name for c in TABLES[table].columns])


@pytest.mark.parametrize(("table", "column"), COLUMNS, ids=[f"{t}.{c.name}" for t, c in COLUMNS])
def test_column_type_nullability_default(catalog, table, column):
    pgtap.col_type_is(catalog, table, column.name, column.type)
    if column.not_null:
        pgtap.col_not_null(catalog, table, column.name)
    else:
        pgtap.col_is_null(catalog, table, column.name)
    pgtap.col_default_is(catalog, table, column.name, column.default)


@pytest.mark.parametrize("table", TABLES)
def test_col_is_pk(catalog, table):
    pgtap.col_is_pk(catalog, table, TABLES[table].primary_key)


@pytest.mark.parametrize("table", TABLES)
def test_checks_are(catalog, table):
    """Each documented check exists once, by its documented name, and nothing unnamed beside it."""
    pgtap.checks_are(catalog, table, additions.expected_checks(table))


@pytest.mark.parametrize("table", TABLES)
def test_foreign_keys_are(catalog, table):
    pgtap.set_diff(f"foreign keys of {table}", pgtap.foreign_keys(catalog, table), additions.expected_foreign_keys(table))


@pytest.mark.parametrize(("table", "name", "fk"), FOREIGN_KEYS, ids=[n for _, n, _ in FOREIGN_KEYS])
def test_fk_ok(catalog, table, name, fk):
    pgtap.fk_ok(catalog, table, fk.columns, fk.ref_table, fk.ref_columns, fk.on_delete)


@pytest.mark.parametrize("table", TABLES)
def test_indexes_are(catalog, table):
    pgtap.indexes_are(catalog, table, additions.expected_indexes(table))


@pytest.mark.parametrize(("table", "name", "index"), INDEXES, ids=[n for _, n, _ in INDEXES])
def test_has_index(catalog, table, name, index):
    pgtap.has_index(catalog, table, name, index.columns, unique=index.unique, where=index.where)


@pytest.mark.parametrize(
    "index", ["idx_attribution_events_tenant_external_event_id", "idx_attribution_events_tenant_correlation_id"]
)
def test_idempotency_index_is_unique(catalog, index):
    pgtap.index_is_unique(catalog, "attribution_events", index)


@pytest.mark.parametrize("table", TABLES)
def test_every_foreign_key_column_is_indexed(catalog, table):
    """Schema-wide rule: each foreign key's columns lead some index (no seq scan on cascade)."""
    indexes = pgtap.index_info(catalog, table)
    for name, (columns, *_rest) in pgtap.foreign_keys(catalog, table).items():
        leading = [[c.split()[0] for c in ix["columns"][: len(columns)]] for ix in indexes.values()]
        assert list(columns) in leading, f"foreign key {name} on {list(columns)} has no index leading with it"
