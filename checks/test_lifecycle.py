"""Migration lifecycle: reversibility, failure behaviour, locking, immutable history,
the schema snapshot, the safety lint and migrating with least privilege.

Every check covers the migrations that exist (discovered from yoyo.ini), in fresh databases.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from attribution_db import PROJECT_ROOT, CliError, dburl, history, snapshot
from attribution_db import migrate as migrate_module
from attribution_db.migrate import Migrator, _RunLock
from checks.cli import BOOTSTRAP_ROLES, assert_one_line_error, run_cli
from checks.fingerprint import diff, fingerprint, objects

MIGRATION_IDS = [m.id for m in migrate_module.load()]


def latest_id(url: str) -> str:
    migrator = Migrator(url)
    try:
        return migrator.status().applied[-1]
    finally:
        migrator.backend.connection.close()


def recorded(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [r[0] for r in conn.execute("SELECT migration_id FROM _yoyo_migration ORDER BY 1")]


# -- 1. reversibility ----------------------------------------------------------------------


def test_round_trip_apply_rollback_all_apply(make_database):
    """apply all -> roll back all leaves no project object -> apply all gives the same schema."""
    url = make_database("roundtrip")
    empty = fingerprint(url)
    run_cli("migrate", url=url)
    full = fingerprint(url)
    assert objects(full) > objects(empty), "migrating created nothing"
    proc = run_cli("rollback", "--all", url=url)
    assert f"rolled back {len(MIGRATION_IDS)} migration(s)" in proc.stdout
    left = fingerprint(url)
    assert left == empty, "objects left after rolling back every migration:\n" + diff(empty, left)
    assert recorded(url) == []
    run_cli("migrate", url=url)
    again = fingerprint(url)
    assert again == full, "re-applying gives another schema:\n" + diff(full, again)


def test_rolling_back_the_latest_k_and_reapplying_restores_each_state(make_database):
    """For every k: rolling back the latest k gives exactly the state before them, and
    re-applying gives the full schema again (so every rollback undoes exactly its migration)."""
    url = make_database("steps")
    migrator = Migrator(url)
    quiet = lambda line: None  # noqa: E731
    try:
        states = [fingerprint(url)]
        for _ in MIGRATION_IDS:
            assert len(migrator.apply(report=quiet, limit=1)) == 1
            states.append(fingerprint(url))
        full, n = states[-1], len(MIGRATION_IDS)
        for k in range(1, n + 1):
            undone = migrator.rollback(k, report=quiet)
            assert len(undone) == k
            state = fingerprint(url)
            assert state == states[n - k], (
                f"rolling back {', '.join(undone)} does not restore the state before them:\n"
                + diff(states[n - k], state)
            )
            migrator.apply(report=quiet)
            state = fingerprint(url)
            assert state == full, f"re-applying {', '.join(undone)} gives another schema:\n" + diff(full, state)
    finally:
        migrator.backend.connection.close()


def test_rollback_rolls_back_exactly_one_and_names_it(make_database):
    url = make_database("rollback_one")
    run_cli("migrate", url=url)
    latest = latest_id(url)  # the last applied: `-- depends:` may order it after later folders
    proc = run_cli("rollback", url=url)
    assert f"rolled back 1 migration(s): {latest};" in proc.stdout, proc.stdout
    status = run_cli("status", url=url).stdout
    assert f"pending  {latest}" in status
    assert f"{len(MIGRATION_IDS) - 1} applied, 1 pending" in status
    assert_one_line_error(run_cli("rollback", "--count", "0", url=url, check=False), "--all")


@pytest.mark.parametrize(("assignment", "expected"), [("", ""), ("ALL=0", ""), ("ALL=yes", ""), ("ALL=1", "--all"), ("N=2", "--count 2")])
def test_make_rollback_needs_an_explicit_flag_for_all(assignment, expected):
    args = ["make", "-n", "rollback", *([assignment] if assignment else [])]
    out = subprocess.run(args, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if " rollback" in line)
    assert line.rstrip().endswith(f"rollback {expected}".rstrip()), line


# -- 5. failure behaviour ------------------------------------------------------------------


def test_concurrent_migrate_runs_apply_each_migration_once(make_database):
    """Two `attribution-db migrate` started together: one applies everything, the other waits
    for the lock, computes what is pending inside it and finds nothing left."""
    url = make_database("concurrent")
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "attribution_db", "migrate"]
    with _RunLock(url, wait=0) as held:  # both start while the lock is taken
        assert held
        procs = [subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        time.sleep(1.5)
    outs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, out + err
    combined = "".join(out for out, _ in outs)
    for mid in MIGRATION_IDS:
        assert combined.count(f"applying {mid} ") == 1, combined
    assert sum("nothing to apply" in out for out, _ in outs) == 1, combined
    with psycopg.connect(url, autocommit=True) as conn:
        applies = conn.execute(
            "SELECT migration_id, count(*) FROM _yoyo_log WHERE operation = 'apply' GROUP BY 1"
        ).fetchall()
    assert dict(applies) == {mid: 1 for mid in MIGRATION_IDS}
    assert recorded(url) == sorted(MIGRATION_IDS)


def test_killed_run_applied_but_unrecorded_says_exactly_what_to_do(make_database):
    """yoyo records a migration after applying it; a run killed in between leaves it applied
    but unrecorded. `migrate` then fails without changing anything and names the fix."""
    url = make_database("unrecorded")
    run_cli("migrate", url=url)
    full = fingerprint(url)
    last = MIGRATION_IDS[-1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM _yoyo_migration WHERE migration_id = %s", (last,))
    proc = run_cli("migrate", url=url, check=False)
    assert_one_line_error(proc, last, f"make mark ID={last}")
    assert any(code in proc.stderr for code in migrate_module.DUPLICATE_OBJECT), proc.stderr
    assert fingerprint(url) == full
    assert "recorded" in run_cli("mark", last, url=url).stdout
    assert "nothing to apply" in run_cli("migrate", url=url).stdout
    assert fingerprint(url) == full and recorded(url) == sorted(MIGRATION_IDS)
    assert_one_line_error(run_cli("mark", last, url=url, check=False), "already recorded")


def test_stale_lock_of_a_killed_run_is_reported_and_removable(make_database):
    url = make_database("stale_lock")
    run_cli("migrate", url=url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, now() - interval '1 hour', 999999)")
    started = time.monotonic()
    proc = run_cli("migrate", url=url, check=False)
    assert time.monotonic() - started < 8, "a stale lock must be reported at once, not after a timeout"
    assert_one_line_error(proc, "stale migration lock", "pid 999999", "make break-lock")
    assert "make break-lock" in run_cli("status", url=url).stdout
    with _RunLock(url, wait=0):  # a live run holds the lock: break-lock refuses
        assert_one_line_error(run_cli("break-lock", url=url, check=False), "in progress")
    assert "removed the stale migration lock of pid 999999" in run_cli("break-lock", url=url).stdout
    assert "nothing to apply" in run_cli("migrate", url=url).stdout


# -- 2. immutable history ------------------------------------------------------------------


def test_manifest_records_every_migration_file_unchanged():
    history.check()
    recorded_paths = set(history.read())
    for migration in migrate_module.load():
        path = migrate_module.relpath(migration)
        assert path in recorded_paths and path.replace(".sql", ".rollback.sql") in recorded_paths


@pytest.fixture
def manifest_copy(tmp_path, monkeypatch):
    copy = tmp_path / "manifest.sha256"
    copy.write_text(history.MANIFEST.read_text())
    monkeypatch.setattr(history, "MANIFEST", copy)
    return copy


def test_manifest_catches_an_edited_migration(manifest_copy):
    lines = manifest_copy.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    path = lines[index].split("  ", 1)[1].strip()
    lines[index] = "0" * 64 + "  " + path + "\n"  # as if the file had been edited since
    manifest_copy.write_text("".join(lines))
    with pytest.raises(CliError, match=rf"{re.escape(path)} changed .* immutable"):
        history.check()
    before = manifest_copy.read_text()
    with pytest.raises(CliError, match="immutable"):
        history.update()  # refuses, and rewrites nothing
    assert manifest_copy.read_text() == before


def test_manifest_catches_a_deleted_migration(manifest_copy):
    manifest_copy.write_text(manifest_copy.read_text() + "0" * 64 + "  sql/migrations/209901010000_gone.sql\n")
    with pytest.raises(CliError, match="209901010000_gone.sql is recorded .* but is gone"):
        history.check()


def test_manifest_asks_for_make_manifest_and_make_manifest_appends(manifest_copy):
    original = manifest_copy.read_text()
    lines = original.splitlines(keepends=True)
    manifest_copy.write_text("".join(lines[:-1]))  # the newest file is not recorded yet
    with pytest.raises(CliError, match=r"not in sql/manifest\.sha256: run `make manifest`"):
        history.check()
    assert history.update() == [lines[-1].split("  ", 1)[1].strip()]
    assert manifest_copy.read_text() == original
    history.check()


# -- 3. schema snapshot --------------------------------------------------------------------


def test_schema_snapshot_is_current(server):
    """sql/schema.sql equals the dump of a database migrated from zero (else: `make schema`)."""
    proc = run_cli("schema", "--check", url=server.url, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_snapshot_staleness_is_one_actionable_line(migrated_url):
    text = snapshot.dump(migrated_url)
    snapshot.check(text)
    stale = text.replace("CREATE TABLE public.tenants (", "CREATE TABLE public.tenants_renamed (")
    with pytest.raises(CliError, match=r"sql/schema\.sql is stale \(line \d+: .*run `make schema`"):
        snapshot.check(stale)


def test_schema_snapshot_has_no_volatile_or_bookkeeping_lines():
    text = snapshot.SNAPSHOT.read_text(encoding="utf-8")
    for forbidden in ("_yoyo_", "yoyo_lock", "\\restrict", "-- Dumped from", "-- Dumped by", "Owner: postgres"):
        assert forbidden not in text, f"sql/schema.sql contains {forbidden!r}"
    for table in ("tenants", "attribution_events", "revenue_ledger"):
        assert f"CREATE TABLE public.{table} (" in text


# -- 4. safety lint ------------------------------------------------------------------------


def test_every_migration_and_rollback_sets_both_timeouts_first():
    for path in history.migration_files().values():
        text = path.read_text(encoding="utf-8")
        body = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("--")]
        assert body[:2] == ["SET LOCAL lock_timeout = '5s';", "SET LOCAL statement_timeout = '60s';"], (
            f"{path.name} must start with SET LOCAL lock_timeout and statement_timeout"
        )


def test_squawk_exclusions_are_each_justified():
    text = (PROJECT_ROOT / ".squawk.toml").read_text(encoding="utf-8")
    block = re.search(r"excluded_rules = \[(.*?)\]", text, re.S).group(1)
    lines = block.strip().splitlines()
    for index, line in enumerate(lines):
        rule = re.match(r'\s*"([a-z-]+)",?\s*$', line)
        if rule:
            comment = lines[index - 1] if index else ""
            prose = [ln for ln in lines[:index] if ln.strip().startswith("#")]
            assert any(f"# {rule.group(1)}:" in ln for ln in prose), f"excluded rule {rule.group(1)} has no justification"
            assert comment.strip().startswith("#"), f"{rule.group(1)}: put its reason right above it"
    assert 'pg_version = "15' in text


def test_squawk_fails_a_migration_without_timeouts(tmp_path):
    bad = tmp_path / "209901010000_add_column.sql"
    bad.write_text("-- no timeouts\nALTER TABLE tenants ADD COLUMN plan text NOT NULL;\n")
    proc = subprocess.run([str(PROJECT_ROOT / ".venv/bin/squawk"), "--reporter", "gcc", str(bad)], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and "require-lock-timeout" in proc.stdout, proc.stdout + proc.stderr


# -- 6. least privilege --------------------------------------------------------------------




def test_migrating_as_a_non_superuser_database_owner(server):
    """After the README's superuser bootstrap (roles, an owner login, its database), the owner
    migrates, rolls back and re-migrates with no other privilege."""
    owner = f"attribution_owner_{uuid.uuid4().hex[:8]}"
    dbname = f"attribution_lp_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with psycopg.connect(server.url, autocommit=True) as su:
        su.execute(BOOTSTRAP_ROLES)
        su.execute(sql.SQL("CREATE ROLE {} LOGIN BYPASSRLS PASSWORD {}").format(sql.Identifier(owner), sql.Literal(password)))
        su.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(owner)))
        try:
            params = dict(server.params, dbname=dbname, user=owner, password=password)
            url = dburl.to_uri(params)
            first = run_cli("migrate", url=url)
            # pg_catalog's large-object functions are a superuser's to revoke: the migration
            # succeeds, warns, and names the bootstrap statement, which a superuser then runs.
            warning = re.search(r"^warning: PUBLIC may still execute the large-object functions .* run once: (REVOKE EXECUTE ON FUNCTION .* FROM PUBLIC;)$", first.stderr, re.M)
            assert warning, first.stderr
            with psycopg.connect(dburl.with_dbname(server.url, dbname), autocommit=True) as bootstrap:
                bootstrap.execute(warning.group(1))
            with psycopg.connect(url, autocommit=True) as conn:
                lo = conn.execute("SELECT has_function_privilege('public', 'lo_from_bytea(oid,bytea)', 'EXECUTE')").fetchone()
                assert lo == (False,), "the bootstrap statement must revoke the large-object functions"
                conn.execute("CREATE TEMP TABLE owner_keeps_temp (id int)")  # the owner keeps TEMP
                me = conn.execute(
                    "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user"
                ).fetchone()
                assert me == (False, False, False, True), "owner: no superuser, CREATEROLE, CREATEDB; BYPASSRLS"
                owners = conn.execute(
                    "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
                ).fetchall()
                assert owners == [(owner,)], owners
            run_cli("rollback", "--all", url=url)
            again = run_cli("migrate", url=url)
            assert "warning" not in again.stderr, "a rollback must not re-grant what the bootstrap revoked"
        finally:
            su.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(owner)))
