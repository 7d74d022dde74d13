"""`attribution-db verify` (make verify): a live database checked against the migrations.

A clean, freshly migrated database verifies, as the superuser and as a LOGIN member of app_ro
in a read-only transaction that takes no lock stronger than ACCESS SHARE. Each kind of
tampering, done by hand on its own clone of a migrated database, is reported by name.
"""

from __future__ import annotations

import json
import re
import uuid

import psycopg
import pytest
from psycopg import sql

from attribution_db import catalog, dburl, history, verify
from attribution_db.migrate import load
from checks.cli import run_cli

EXPECTED = json.loads(verify.CATALOG.read_text(encoding="utf-8"))
LAST_MIGRATION = max(m.id for m in load())


@pytest.fixture(scope="module")
def template(make_database):
    """The name of a database migrated from zero, used only as a template (no open session)."""
    url = make_database("verify_template")
    run_cli("migrate", url=url)
    return dburl.parse(url)["dbname"]


@pytest.fixture
def clone(make_database, template, server):
    """A copy of the template, with the database-level settings CREATE DATABASE does not copy."""
    url = make_database("verify", template=template)
    name = sql.Identifier(dburl.parse(url)["dbname"])
    with psycopg.connect(server.url, autocommit=True) as conn:
        settings = conn.execute(
            "SELECT unnest(s.setconfig) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
            "WHERE d.datname = %s AND s.setrole = 0", (template,)).fetchall()
        grants = conn.execute(
            "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END, "
            "a.privilege_type FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
            "WHERE d.datname = %s AND a.grantee <> d.datdba", (template,)).fetchall()
        for (setting,) in settings:
            key, value = setting.split("=", 1)
            conn.execute(sql.SQL("ALTER DATABASE {} SET {} = {}").format(name, sql.Identifier(key), sql.Literal(value)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(name))
        for grantee, privilege in grants:
            conn.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}").format(sql.SQL(privilege), name, sql.SQL(grantee)))
    return url


@pytest.fixture(scope="module")
def ro_login(server):
    """A LOGIN member of app_ro whose transactions are read-only by default: (name, password)."""
    name, password = f"verify_reader_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE app_ro").format(
            sql.Identifier(name), sql.Literal(password)))  # fmt: skip
        conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(sql.Identifier(name)))
    yield name, password
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def as_role(url: str, login: tuple[str, str]) -> str:
    params = dburl.parse(url)
    params["user"], params["password"] = login
    return dburl.to_uri(params)


def findings(url: str, *args: str) -> tuple[int, list[str], str]:
    proc = run_cli("verify", *args, url=url, check=False, timeout=120)
    lines = [line for line in proc.stdout.splitlines() if not line.startswith(("note:", "verify:"))]
    return proc.returncode, lines, proc.stdout + proc.stderr


def tamper(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


# -- a clean database -----------------------------------------------------------------------


def test_catalog_description_is_deterministic_and_committed(clone):
    """sql/catalog.json is what a database migrated from zero describes (make schema keeps it)."""
    with psycopg.connect(clone, autocommit=True) as conn:
        text = catalog.to_json(catalog.describe(conn))
    assert text == verify.CATALOG.read_text(encoding="utf-8"), "sql/catalog.json is stale: run make schema"
    assert not any(name in text for name in catalog.YOYO_TABLES), "yoyo's tables must be left out"
    assert dburl.parse(clone)["dbname"] not in text and '"postgres' not in text, "no database or owner names"


def test_clean_database_verifies_as_superuser(clone):
    code, lines, out = findings(clone)
    assert code == 0 and lines == [], out
    assert "clean" in out.splitlines()[-1]


def test_clean_database_verifies_as_app_ro_login_while_writers_are_locked_out(clone, ro_login):
    """As an app_ro member, read-only, it finishes while another session holds EXCLUSIVE locks.

    EXCLUSIVE conflicts with every lock but ACCESS SHARE, and verify gives up after a 2 s lock
    wait (exit 2): a clean exit proves it asked for nothing stronger than ACCESS SHARE.
    """
    with psycopg.connect(clone) as holder:
        tables = [name for name, rel in EXPECTED["relations"].items() if rel["kind"] in ("table", "view")]
        holder.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
        for name, rel in EXPECTED["relations"].items():
            if rel["kind"] == "materialized view":  # held in EXCLUSIVE mode until commit
                holder.execute(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {name}")
        code, lines, out = findings(as_role(clone, ro_login))
        holder.rollback()
    assert code == 0 and lines == [], out
    assert f"as {ro_login[0]}, read-only" in out
    assert "migrations: applied/pending not checkable as this role" in out
    assert "refresh ages not checkable as this role" in out


def test_verify_runs_read_only_and_takes_only_access_share_locks(clone, ro_login):
    """pg_locks of verify's own session, seen from another one, before it ends its transaction."""
    with verify.connect(as_role(clone, ro_login)) as conn, psycopg.connect(clone, autocommit=True) as admin:
        found, notes = verify.verify(conn)
        assert found == [], [f.line() for f in found]
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
        locks = admin.execute(
            "SELECT l.mode, c.relname, c.relnamespace = 'pg_catalog'::regnamespace FROM pg_locks l "
            "LEFT JOIN pg_class c ON c.oid = l.relation WHERE l.pid = %s AND l.locktype = 'relation'",
            (conn.info.backend_pid,),
        ).fetchall()
        conn.rollback()
        # pg_get_viewdef locks each view and the relations its query reads (to deparse it)
        read_by_views = {row[0] for row in admin.execute(
            "SELECT DISTINCT d.refobjid::regclass::text FROM pg_rewrite r JOIN pg_depend d "
            "ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass")}
    assert locks, "expected ACCESS SHARE locks on catalogs and views"
    assert {mode for mode, _, _ in locks} == {"AccessShareLock"}, locks
    user_tables = {name.split(".")[1] for name, rel in EXPECTED["relations"].items() if rel["kind"] == "table"}
    assert {rel for _, rel, _ in locks} & user_tables <= read_by_views, f"verify locked a user table: {locks}"
    assert "_yoyo_migration" not in {rel for _, rel, _ in locks}


def test_superuser_session_is_read_only_too(clone):
    """verify opens READ ONLY itself: even a role whose sessions may write gets a read-only transaction."""
    with verify.connect(clone) as conn:
        found, _ = verify.verify(conn)
        read_only = conn.execute("SHOW transaction_read_only").fetchone()[0]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE verify_must_not_write (id int)")
        conn.rollback()
    assert found == [] and read_only == "on"


# -- tampering, each on its own clone -------------------------------------------------------

CHECK_NAME, CHECK_DEF = "ck_revenue_ledger_revenue_positive", "CHECK (revenue_cents >= 0)"
TAMPERING = {
    "drop-force": (
        ["ALTER TABLE attribution_events NO FORCE ROW LEVEL SECURITY"],
        r"^security: table public\.attribution_events: FORCE ROW LEVEL SECURITY is off, migrations give on$",
    ),
    "disable-rls": (
        ["ALTER TABLE revenue_ledger DISABLE ROW LEVEL SECURITY"],
        r"^security: table public\.revenue_ledger: ROW LEVEL SECURITY is off",
    ),
    "grant-by-hand": (
        ["GRANT DELETE ON revenue_ledger TO app_ro"],
        r"^security: table public\.revenue_ledger: privileges has app_ro:DELETE that the migrations do not give$",
    ),
    "grant-to-public": (
        ["GRANT SELECT ON tenants TO PUBLIC"],
        r"^security: table public\.tenants: privileges has PUBLIC:SELECT",
    ),
    "revoke-grant": (
        ["REVOKE SELECT ON dead_events FROM app_ro"],
        r"^security: table public\.dead_events: privileges lacks app_ro:SELECT$",
    ),
    "drop-policy": (
        ["DROP POLICY tenant_isolation_policy ON dead_events"],
        r"^security: policy public\.dead_events\.tenant_isolation_policy: missing",
    ),
    "alter-policy": (
        ["ALTER POLICY tenant_isolation_policy ON attribution_events USING (true)"],
        r"^security: policy public\.attribution_events\.tenant_isolation_policy: USING expression is 'true'",
    ),
    "hand-made-index": (
        ["CREATE INDEX idx_hand_made ON attribution_events (created_at)"],
        r"^drift: index public\.idx_hand_made: not created by the migrations .*CREATE INDEX idx_hand_made",
    ),
    "dropped-index": (
        ["DROP INDEX idx_tenants_name"],
        r"^drift: index public\.idx_tenants_name: missing",
    ),
    "altered-default": (
        ["ALTER TABLE attribution_allocations ALTER COLUMN allocated_revenue_cents SET DEFAULT 1"],
        r"^drift: column public\.attribution_allocations\.allocated_revenue_cents: default is '1', migrations give '0'$",
    ),
    "added-column": (
        ["ALTER TABLE tenants ADD COLUMN notes text"],
        r"^drift: column public\.tenants\.notes: not created by the migrations",
    ),
    "disabled-trigger": (
        ["ALTER TABLE attribution_events DISABLE TRIGGER trg_attribution_events_reject_pii"],
        r"^drift: trigger public\.attribution_events\.trg_attribution_events_reject_pii: "
        r"trigger state is 'disabled', migrations give 'enabled'$",
    ),
    "function-redefined": (
        ["CREATE OR REPLACE FUNCTION maintain_audit_timestamps() RETURNS trigger LANGUAGE plpgsql "
         "AS $$ BEGIN RETURN NEW; END $$"],
        r"^drift: function public\.maintain_audit_timestamps\(\): definition differs at line \d+",
    ),
    "function-volatility": (
        ["ALTER FUNCTION pii_keys() VOLATILE"],
        r"^drift: function public\.pii_keys\(\): volatility is 'v'",
    ),
    "function-granted-to-public": (
        ["GRANT EXECUTE ON FUNCTION refresh_read_models(interval, boolean) TO app_rw"],
        r"^security: function public\.refresh_read_models\(interval,boolean\): privileges has app_rw:EXECUTE",
    ),
    "constraint-not-valid": (
        [f"ALTER TABLE revenue_ledger DROP CONSTRAINT {CHECK_NAME}, "
         f"ADD CONSTRAINT {CHECK_NAME} {CHECK_DEF} NOT VALID"],
        rf"^health: constraint public\.revenue_ledger\.{CHECK_NAME}: NOT VALID",
    ),
    "owned-by-another-role": (
        ["ALTER TABLE dead_events OWNER TO app_rw"],
        r"^health: relation public\.dead_events: owned by app_rw, expected ",
    ),
    "view-not-populated": (
        ["REFRESH MATERIALIZED VIEW mv_realtime_revenue WITH NO DATA"],
        r"^health: materialized view public\.mv_realtime_revenue: not populated",
    ),
    "stale-view": (
        ["UPDATE read_model_refreshes SET last_refreshed_at = now() - interval '2 hours', "
         "last_duration_ms = 1, last_mode = 'plain' WHERE view_name = 'mv_reconciliation_status'"],
        r"^health: materialized view public\.mv_reconciliation_status: last refreshed \d+ s ago, older than the bound 3600 s$",
    ),
    "database-temp-to-public": (
        ["DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()); END $$"],
        r"^security: database current database: privileges has PUBLIC:TEMPORARY that the migrations do not give$",
    ),
    "database-setting-reset": (
        ["DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET ALL', current_database()); END $$"],
        r"^security: database current database: config lacks idle_in_transaction_session_timeout=",
    ),
    "pending-migration": (
        [f"DELETE FROM _yoyo_migration WHERE migration_id = '{LAST_MIGRATION}'"],
        rf"^migrations: {LAST_MIGRATION}: pending: not applied",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampering_is_reported_by_name(clone, kind):
    statements, expected = TAMPERING[kind]
    tamper(clone, *statements)
    code, lines, out = findings(clone)
    assert code == 1, out
    assert any(re.search(expected, line) for line in lines), f"{kind}: no line matches {expected!r}:\n{out}"


def test_invalid_index_from_a_failed_concurrent_build_is_reported(clone):
    """CREATE UNIQUE INDEX CONCURRENTLY failing on duplicates leaves an INVALID index behind."""
    tamper(clone, "INSERT INTO tenants (name) VALUES ('twin'), ('twin')")
    with pytest.raises(psycopg.errors.UniqueViolation):
        tamper(clone, "CREATE UNIQUE INDEX CONCURRENTLY uq_tenants_name_by_hand ON tenants (name)")
    code, lines, out = findings(clone)
    assert code == 1, out
    assert "health: index public.uq_tenants_name_by_hand: INVALID (indisvalid/indisready false)" in out, out
    assert any(line.startswith("drift: index public.uq_tenants_name_by_hand: not created") for line in lines), out


def test_edited_migration_file_is_reported(clone, tmp_path, monkeypatch):
    """An applied migration whose file no longer matches sql/manifest.sha256."""
    copy = tmp_path / "manifest.sha256"
    lines = history.MANIFEST.read_text(encoding="utf-8").splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.strip().endswith("_create_tenants.sql"))
    path = lines[index].split("  ", 1)[1].strip()
    lines[index] = "0" * 64 + "  " + path + "\n"  # as if the file had been edited since
    copy.write_text("".join(lines), encoding="utf-8")
    monkeypatch.setattr(history, "MANIFEST", copy)
    with verify.connect(clone) as conn:
        found, _ = verify.verify(conn)
        conn.rollback()
    assert [f.line() for f in found] == [
        f"migrations: 202511121302_create_tenants: {path} no longer matches sql/manifest.sha256: "
        "the database ran the recorded version, not this one"
    ]


def test_json_output_names_each_finding(clone):
    tamper(clone, "ALTER TABLE dead_events NO FORCE ROW LEVEL SECURITY", "CREATE INDEX idx_json ON tenants (created_at)")
    proc = run_cli("verify", "--json", url=clone, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["clean"] is False
    assert {(f["kind"], f["object"]) for f in report["findings"]} == {
        ("security", "table public.dead_events"),
        ("drift", "index public.idx_json"),
    }


def test_skip_rollups_leaves_out_the_rollup_drift_check_only(clone):
    """--skip-rollups (SKIP_ROLLUPS=1) drops the one check that scans the raw tables, says so, and
    keeps every catalog check. Kills: verify-skip-rollups-ignored, verify-skip-rollups-skips-catalog."""
    tenant = uuid.uuid4()
    tamper(clone, f"INSERT INTO tenants (id, name) VALUES ('{tenant}', 'drifted')",
           f"INSERT INTO rollup_ledger_daily_delta VALUES ('{tenant}', '2026-01-01', 1, 0, 0, 5)")
    code, lines, out = findings(clone)
    assert code == 1 and len(lines) == 1, out
    assert lines[0].startswith(f"rollups: rollup_ledger_daily {tenant} 2026-01-01: drift: ledger_rows 1 "), out
    assert re.search(r"note: rollups: drift checked against the raw rows in \d+\.\d\d s", out), out
    code, lines, out = findings(clone, "--skip-rollups")
    assert code == 0 and lines == [], out
    assert "note: rollups: drift not checked (--skip-rollups)" in out
    tamper(clone, "CREATE INDEX idx_skip ON tenants (created_at)")
    code, lines, out = findings(clone, "--skip-rollups")
    assert code == 1 and len(lines) == 1 and lines[0].startswith("drift: index public.idx_skip"), out


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://root@127.0.0.1/db", r"^error: DATABASE_URL must be a libpq URI"),
        ("postgresql://nobody@127.0.0.1:1/attribution", r"^error: cannot connect to postgresql://nobody@127\.0\.0\.1:1/"),
        ("postgresql://nobody:secret@127.0.0.1:1/attribution", r"^error: cannot connect to .*nobody:\*\*\*@"),
    ],
)
def test_cannot_connect_exits_2_in_one_line(url, message):
    proc = run_cli("verify", url=url, check=False, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert re.search(message, proc.stderr) and "secret" not in proc.stderr, proc.stderr
