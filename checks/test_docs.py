"""The committed docs/data_dictionary.md and docs/erd.md are what `make docs` generates now.

They are regenerated here from the session's freshly migrated database (the same
generator `make docs` runs) and compared byte for byte.
"""

from __future__ import annotations

import re

import psycopg
import pytest

from attribution_db import PROJECT_ROOT, docs
from attribution_db.catalog import ROLES, read_schema
from checks.cli import run_cli
from checks.contract import TABLE_FACTS, ROLLUP_TABLES, TABLES


@pytest.fixture(scope="module")
def generated(catalog):
    return docs.generate(catalog)


@pytest.mark.parametrize("name", [docs.DICTIONARY, docs.ERD])
def test_committed_document_is_up_to_date(generated, name):
    path = PROJECT_ROOT / "docs" / name
    assert path.exists(), f"docs/{name} is missing: run make docs"
    assert path.read_text(encoding="utf-8") == generated[name], f"docs/{name} is stale: run make docs"


def test_generation_is_deterministic(catalog, generated, make_database):
    """Same text twice from one database, and from a second database migrated separately
    (other oids, other creation order on the server): nothing but the schema shapes the text."""
    assert docs.generate(catalog) == generated
    url = make_database("docs_again")
    run_cli("migrate", url=url)
    with psycopg.connect(url, autocommit=True) as other:
        assert docs.generate(other) == generated


def _section(text: str, heading: str) -> str:
    """The text under ``### heading`` up to the next third-level heading or rule."""
    start = text.index(f"### {heading}\n")
    end = min((i for i in (text.find("\n### ", start + 1), text.find("\n---", start + 1)) if i != -1), default=len(text))
    return text[start:end]


def _cell(value: str | None) -> str:
    return "-" if value is None else value


def test_generated_dictionary_states_what_the_catalog_says(catalog, generated):
    """Facts read straight from pg_catalog (not through the generator's reader) are in the text:
    every table with its RLS state, every column's type, nullability, default and comment,
    every constraint with its definition, every index and policy by name."""
    text = generated[docs.DICTIONARY]
    tables = catalog.execute(
        "SELECT c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') "
        "AND c.relname !~ '^_?yoyo' ORDER BY c.relname"
    ).fetchall()
    assert {name for _, name, _, _ in tables} >= set(TABLES), "the migrated database lacks contract tables"
    for oid, name, rls, forced in tables:
        section = _section(text, name)
        expected_rls = "Enabled and forced" if rls and forced else "Enabled, not forced" if rls else "Disabled"
        assert f"**RLS**: {expected_rls}" in section, f"{name}: RLS is {expected_rls} in the catalog"
        for col, typ, not_null, default, comment in catalog.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum) FROM pg_attribute a "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", [oid]
        ):  # fmt: skip
            row = f"| {col} | {typ} | {'NOT NULL' if not_null else 'NULL'} | "
            if comment and "|" not in comment and "\n" not in comment and "|" not in (default or ""):
                row += f"{_cell(default)} | {comment} |"
            assert row in section, f"{name}.{col}: expected a row starting {row!r}"
        for con, definition in catalog.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s", [oid]
        ):  # fmt: skip
            assert f"`{con}` - `{definition}`" in section, f"{name}: constraint {con} {definition} not stated"
        for (index,) in catalog.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s", [oid]):
            assert f"`{index}`" in section, f"{name}: index {index} not listed"
    for policy, table in catalog.execute("SELECT polname, polrelid::regclass::text FROM pg_policy"):
        assert f"### {policy} on {table}" in text


def test_generated_dictionary_carries_known_facts_of_the_contract(generated):
    """Literal facts of the data dictionary, written here by hand, appear in the generated text."""
    text = generated[docs.DICTIONARY]
    tenants = _section(text, "tenants")
    assert "| name | character varying(255) | NOT NULL | - | Tenant name. Human-readable tenant identification. |" in tenants
    assert "`ck_tenants_name_not_empty`" in tenants
    for table, facts in TABLE_FACTS.items():
        section = _section(text, table)
        assert f"**Purpose**: {facts['Purpose']}." in section, table
        assert f"**Data Class**: {facts['Data Class']}" in section, table
        assert f"**Ownership**: {facts['Ownership']}" in section, table


def test_generated_erd_draws_every_tenant_foreign_key(catalog, generated):
    erd = generated[docs.ERD]
    children = [r[0] for r in catalog.execute(
        "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' "
        "AND confrelid = 'tenants'::regclass AND conkey = ARRAY[(SELECT attnum FROM pg_attribute "
        "WHERE attrelid = conrelid AND attname = 'tenant_id')] ORDER BY 1")]  # fmt: skip
    assert len(children) == len(TABLES) - 1 + len(ROLLUP_TABLES), children  # the five, and the rollups
    for child in children:
        # ..: non-identifying; --: identifying (tenant_id is part of the rollups' primary keys)
        assert any(f'tenants ||{line}o{{ {child} : "tenant_id"' in erd for line in ("..", "--")), (
            f"the ERD lacks tenants -> {child}")


def test_header_comes_from_the_repository_not_the_clock(generated):
    text = generated[docs.DICTIONARY]
    latest = docs.migration_files()[-1]
    assert f"**Latest Migration**: `{latest}`" in text
    assert "B0.3 Foundation" in text
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "a date in the dictionary: it would go stale"


def test_dictionary_covers_every_table_view_column_policy_and_role(catalog, generated):
    text = generated[docs.DICTIONARY]
    erd = generated[docs.ERD]
    cat = read_schema(catalog)
    for rel in cat.relations.values():
        assert f"### {rel.name}\n" in text or rel.kind == "S", f"{rel.name} not in the dictionary"
        for col in rel.columns if rel.kind in "rpvm" else ():
            assert f"| {col.name} |" in text, f"{rel.name}.{col.name} not in the dictionary"
        for idx in rel.indexes:
            assert f"`{idx.name}`" in text
        for con in rel.constraints:
            assert f"`{con.name}`" in text
    for rel in cat.tables:
        assert f"    {rel.name} {{" in erd, f"{rel.name} not in the ERD"
        for fk in (c for c in rel.constraints if c.kind == "f"):
            assert f"`{fk.name}`" in erd
    for pol in cat.policies:
        assert f"### {pol.name} on {pol.table}" in text
    for role in ROLES:
        assert f"### {role}\n" in text
    for heading in ("## Tables", "## Materialized Views", "## Views", "## Row-Level Security (RLS) Policies",
                    "## Roles and GRANTs", "#### Constraints", "#### Indexes", "#### Foreign Keys"):  # fmt: skip
        assert heading in text


def test_a_changed_comment_makes_the_documents_stale(db):
    """The staleness check can fail: a comment changed in the database (rolled back)."""
    db.execute("COMMENT ON COLUMN tenants.name IS 'A different description.'")
    assert docs.stale_documents(docs.generate(db)) == [f"docs/{docs.DICTIONARY}"]


def test_a_hand_edited_document_is_stale(generated, tmp_path):
    for name, text in generated.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert docs.stale_documents(generated, tmp_path) == []
    erd = tmp_path / docs.ERD
    erd.write_text(erd.read_text(encoding="utf-8").replace("||..o{", "||..||", 1), encoding="utf-8")
    assert docs.stale_documents(generated, tmp_path) == [f"docs/{docs.ERD}"]


def test_cli_check_mode_reports_stale_documents(migrated_url):
    proc = run_cli("docs", "--check", "--url", migrated_url, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout
