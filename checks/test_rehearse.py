"""`make rehearse` at a tiny scale: the machinery works, and a blocking migration is caught.

The full rehearsal runs at medium scale by hand (docs/migrations.md); here a 2,000-event
seed proves the tool end to end on the latest real migration plus one written in a temporary
folder (as test_privileges_locks.py does), and the probe that decides the default range.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from attribution_db import rehearse
from attribution_db.bench.seed import Scale, seed
from attribution_db.migrate import Migrator, load
from checks.cli import assert_one_line_error, run_cli

TINY = Scale("tiny", 2000, 1, 10, 10)
TEST_ID = "209901010000_test_only"
CONCURRENT_ID = "209812310000_test_concurrent_index"


def write_test_migration(folder: Path, body: str, rollback: str = "SELECT 1;\n", depends: str | None = None) -> Path:
    """A migration newer than every real one, depending on the latest, in a folder of its own."""
    latest = depends or max(m.id for m in load())
    (folder / f"{TEST_ID}.sql").write_text(f"-- written by checks/test_rehearse.py\n-- depends: {latest}\n{body}")
    (folder / f"{TEST_ID}.rollback.sql").write_text(f"-- written by checks/test_rehearse.py\n{rollback}")
    return folder


def seeded(make_database, extra: Path) -> tuple[str, Migrator]:
    url = make_database("rehearse")
    migrator = Migrator(url, extra_sources=(str(extra),))
    migrator.apply(report=lambda line: None)
    with psycopg.connect(url, autocommit=True) as conn:
        seed(conn, TINY, log=lambda line: None)
    return url, migrator


def test_blocking_migration_is_named_and_landed_ones_reported(make_database, tmp_path):
    """Under load, the latest landed migration, a new non-transactional CREATE INDEX
    CONCURRENTLY (passes) and a new migration holding SHARE on attribution_events for 1.5 s
    are each rolled back and applied again: the last is named with its write stall and its
    lock (exit 1), the others pass or are reported. Kills mutations rehearse-standard-ignored,
    rehearse-sampler-blind and rehearse-landed-newer-migrations, and
    run-lock-holds-a-snapshot: the migration lock's session must hold no snapshot, or the
    concurrent build waits for it forever (checks/mutations/rehearse.yaml)."""
    latest_landed = max(m.id for m in load())
    (tmp_path / f"{CONCURRENT_ID}.sql").write_text(
        f"-- written by checks/test_rehearse.py\n-- depends: {latest_landed}\n-- transactional: false\n"
        "SET lock_timeout = '20s';\n"  # a wait for an old snapshot fails (55P03) instead of hanging
        "DROP INDEX CONCURRENTLY IF EXISTS idx_test_dead_events_ingested_at;\n"
        "CREATE INDEX CONCURRENTLY idx_test_dead_events_ingested_at ON dead_events (ingested_at);\n"
        "RESET lock_timeout;\n")  # fmt: skip
    (tmp_path / f"{CONCURRENT_ID}.rollback.sql").write_text(
        "-- transactional: false\nDROP INDEX CONCURRENTLY IF EXISTS idx_test_dead_events_ingested_at;\n")
    folder = write_test_migration(tmp_path, "LOCK TABLE attribution_events IN SHARE MODE;\nSELECT pg_sleep(1.5);\n",
                                  depends=CONCURRENT_ID)  # fmt: skip
    url, _ = seeded(make_database, folder)
    result = rehearse.rehearse_database(url, count=3, extra_sources=(str(folder),), log=lambda line: None)
    steps = {(s["migration"], s["direction"]): s for s in result["steps"]}
    assert [(s["migration"], s["direction"]) for s in result["steps"]] == [
        (TEST_ID, "rollback"), (CONCURRENT_ID, "rollback"), (latest_landed, "rollback"),
        (latest_landed, "apply"), (CONCURRENT_ID, "apply"), (TEST_ID, "apply")]  # fmt: skip
    for direction in ("rollback", "apply"):
        concurrent = steps[(CONCURRENT_ID, direction)]
        assert not concurrent["transactional"] and concurrent["meets_standard"], concurrent
    blocking = steps[(TEST_ID, "apply")]
    assert blocking["write"]["max_wait_s"] > rehearse.MAX_WRITE_STALL_S
    assert not blocking["meets_standard"] and not blocking["landed"]
    assert any(b["relation"] == "attribution_events" and "ShareLock" in b["held"] and b["blocked_writers"]
               for b in blocking["blocking_locks"]), blocking["blocking_locks"]  # fmt: skip
    assert len(result["offenders"]) == 1 and result["offenders"][0].startswith(f"{TEST_ID} (apply)")
    assert "ShareLock on attribution_events" in result["offenders"][0]
    landed = steps[(latest_landed, "apply")]
    assert landed["landed"] == (latest_landed.split("_", 1)[0] <= rehearse.STANDARD_SINCE), landed
    assert landed["write"]["transactions"] > 0 and landed["read"]["transactions"] > 0
    assert result["load"]["totals"]["write"]["failed"] == 0, result["load"]["totals"]
    assert result["load"]["totals"]["read"]["failed"] == 0, result["load"]["totals"]
    with psycopg.connect(url) as conn:  # everything applied again, the index valid, the writes landed
        assert conn.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'idx_test_dead_events_ingested_at'::regclass").fetchone() == (True,)
        assert Migrator(url, extra_sources=(str(folder),)).status().pending == []
        assert conn.execute("SELECT count(*) FROM attribution_events WHERE external_event_id LIKE 'rehearse-%'").fetchone()[0] > 0


@pytest.mark.parametrize(
    "rollback, reason",
    [
        ("DELETE FROM dead_events;\n", "deletes seeded rows of dead_events"),
        ("ALTER TABLE dead_events DROP COLUMN source;\n", "drops column(s) dead_events.source"),
        ("ALTER TABLE dead_events NO FORCE ROW LEVEL SECURITY;\n", "changes the row-level security of dead_events"),
        ("REVOKE INSERT ON attribution_events FROM app_rw;\n", "changes privileges on attribution_events"),
    ],
    ids=["rows", "column", "rls", "grant"],
)
def test_probe_leaves_out_a_rollback_that_loses_data(make_database, tmp_path, rollback, reason):
    """A rollback that loses seeded data or breaks the application is not rehearsed, with its
    reason (nor is anything it depends on), and nothing the probe ran stays. Kills mutation rehearse-probe-sees-no-loss."""
    folder = write_test_migration(tmp_path, "SELECT 1;\n", rollback)
    url, migrator = seeded(make_database, folder)
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM dead_events").fetchone()[0]
    newest_first = list(migrator.backend.to_rollback(migrator.migrations))
    chosen, skipped = rehearse.probe(url, newest_first, None, log=lambda line: None)
    assert skipped[0]["migration"] == TEST_ID and skipped[0]["reason"].startswith(f"its rollback {reason}"), skipped[:2]
    assert skipped[1]["migration"] == newest_first[1].id and f"{TEST_ID} depends on it" in skipped[1]["reason"]
    assert TEST_ID not in {m.id for m in chosen} and newest_first[1].id not in {m.id for m in chosen}
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM dead_events").fetchone()[0] == before
    with pytest.raises(rehearse.CliError, match=f"cannot rehearse the latest 1: {TEST_ID}"):
        rehearse.probe(url, newest_first, 1, log=lambda line: None)


def test_default_range_reaches_the_integrity_migrations(make_database, tmp_path):
    """On the project's migrations the default range skips what the readers read (and what it
    depends on) but still reaches the integrity migrations' index builds behind them."""
    url, migrator = seeded(make_database, write_test_migration(tmp_path, "SELECT 1;\n"))
    newest_first = list(migrator.backend.to_rollback(migrator.migrations))
    chosen, skipped = rehearse.probe(url, newest_first, None, log=lambda line: None)
    ids = {m.id for m in chosen}
    assert "202511131400_keep_allocations_inside_their_tenant" in ids
    reasons = {s["migration"]: s["reason"] for s in skipped}
    assert "drops what the readers read" in reasons["202511131202_create_current_tenant_views"]
    assert not ids & {m.id for m in newest_first if m.id.startswith("2025111213")}, "a table-creating migration was chosen"


def test_bad_scale_is_one_line():
    assert_one_line_error(run_cli("rehearse", "--scale", "huge", check=False), "SCALE must be one of")
