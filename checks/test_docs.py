"""The committed docs/data_dictionary.md and docs/erd.md are what `make docs` generates now.

They are regenerated here from the session's freshly migrated database (the same
generator `make docs` runs) and compared byte for byte.
"""

from __future__ import annotations

import re

import pytest

from attribution_db import PROJECT_ROOT, docs
from checks.conftest import run_cli


@pytest.fixture(scope="module")
def generated(catalog):
    return docs.generate(catalog)


@pytest.mark.parametrize("name", [docs.DICTIONARY, docs.ERD])
def test_committed_document_is_up_to_date(generated, name):
    path = PROJECT_ROOT / "docs" / name
    assert path.exists(), f"docs/{name} is missing: run make docs"
    assert path.read_text(encoding="utf-8") == generated[name], f"docs/{name} is stale: run make docs"


def test_generation_is_deterministic(catalog, generated):
    assert docs.generate(catalog) == generated


def test_header_comes_from_the_repository_not_the_clock(generated):
    text = generated[docs.DICTIONARY]
    latest = docs.migration_files()[-1]
    assert f"**Latest Migration**: `{latest}`" in text
    assert "B0.3 Foundation" in text
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "a date in the dictionary: it would go stale"


def test_dictionary_covers_every_table_view_column_policy_and_role(catalog, generated):
    text = generated[docs.DICTIONARY]
    erd = generated[docs.ERD]
    cat = docs.read_catalog(catalog)
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
    for role in docs.APP_ROLES:
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
