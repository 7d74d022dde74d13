"""No bulk work while a migration holds ACCESS EXCLUSIVE on a table the application writes.

`CREATE TRIGGER`, `DROP TRIGGER` and most `ALTER TABLE` forms lock the table against every
reader and writer until the migration's transaction ends. Catalog work under that lock takes
milliseconds; a DELETE, UPDATE, INSERT ... SELECT or REFRESH in the same transaction holds it
for as long as it scans. `make rehearse SCALE=large` found the one case:
202612071602's rollback empties the rollups with DELETE after dropping the capture triggers,
and writers waited 1.2 to 3.4 s at 10M events (about 3M rollup rows). It has landed and is kept as
it is; docs/rollups.md#rolling-them-back gives the procedure (empty the rollups first, in
their own transaction).

Mutation killed (bulk-work-under-trigger-lock): a DELETE of the deltas added to 202612071602's
forward file, after its CREATE TRIGGER statements.
"""

from __future__ import annotations

import re
from pathlib import Path

from attribution_db.migrate import sources

#: Tables the application writes (the rollups and their deltas are written by triggers only).
WRITTEN = ("tenants", "attribution_events", "attribution_allocations", "dead_events", "revenue_ledger",
           "reconciliation_runs")  # fmt: skip
_TABLE = r"(?:public\.)?(" + "|".join(WRITTEN) + r")\b"
EXCLUSIVE = re.compile(
    r"\b(?:(?:CREATE(?:\s+OR\s+REPLACE)?|DROP)\s+TRIGGER\b[^;]*?\bON\s+" + _TABLE
    + r"|ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?" + _TABLE + r"(?![^;]*\bVALIDATE\s+CONSTRAINT\b))",
    re.IGNORECASE | re.DOTALL,
)  # fmt: skip
BULK = re.compile(
    r"\b(DELETE\s+FROM|UPDATE\s+[\w.]+\s+SET|INSERT\s+INTO\b[^;]*?\bSELECT|REFRESH\s+MATERIALIZED\s+VIEW)\b",
    re.IGNORECASE | re.DOTALL,
)
#: Landed files that break the rule (landed files never change), each with where to read why.
LANDED_EXCEPTIONS = {
    "202612071602_maintain_rollups_with_statement_triggers.rollback.sql":
        "empties the rollups under the trigger lock: docs/rollups.md#rolling-them-back",
}  # fmt: skip


def code(text: str) -> str:
    """The SQL without comments and without dollar-quoted bodies (function code runs later)."""
    text = re.sub(r"\$(\w*)\$.*?\$\1\$", "", text, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", "", text)


def problem(path: Path) -> str | None:
    text = code(path.read_text(encoding="utf-8"))
    locked = sorted({m.group(1) or m.group(2) for m in EXCLUSIVE.finditer(text)})
    bulk = [m.group(1).split()[0].upper() for m in BULK.finditer(text)]
    if "-- transactional: false" in path.read_text(encoding="utf-8") or not locked or not bulk:
        return None
    return (f"{path.name}: {', '.join(bulk)} in the transaction that locks {', '.join(locked)} "
            "ACCESS EXCLUSIVE; move the bulk work to its own migration")  # fmt: skip


def all_files() -> list[Path]:
    return sorted(p for folder in sources() for p in Path(folder).glob("*.sql"))


def test_no_bulk_work_under_an_exclusive_lock_on_a_written_table():
    found = [problem(p) for p in all_files() if p.name not in LANDED_EXCEPTIONS]
    assert not [f for f in found if f], "\n".join(f for f in found if f)


def test_landed_exceptions_still_break_the_rule_and_exist():
    """An exception that no longer applies (file gone, or fixed by a later rule) is removed."""
    by_name = {p.name: p for p in all_files()}
    for name in LANDED_EXCEPTIONS:
        assert name in by_name, f"{name}: listed as an exception but not found"
        assert problem(by_name[name]), f"{name}: listed as an exception but keeps the rule"


def test_the_rule_sees_bulk_work_after_a_trigger_and_ignores_function_bodies(tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TRIGGER t AFTER INSERT ON attribution_allocations FOR EACH STATEMENT "
                   "EXECUTE FUNCTION f();\nDELETE FROM rollup_channel_daily_delta;\n")  # fmt: skip
    assert "DELETE" in problem(bad)
    fine = tmp_path / "fine.sql"
    fine.write_text("CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM x; "
                    "RETURN NULL; END $$;\nCREATE TRIGGER t AFTER INSERT ON revenue_ledger FOR EACH "
                    "STATEMENT EXECUTE FUNCTION f();\n-- UPDATE revenue_ledger SET x = 1\n")  # fmt: skip
    assert problem(fine) is None
    validate = tmp_path / "validate.sql"
    validate.write_text("ALTER TABLE revenue_ledger VALIDATE CONSTRAINT c;\nUPDATE tenants SET name = name;\n")
    assert problem(validate) is None
