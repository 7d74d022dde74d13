"""The command line says what is wrong in one line, never with a traceback."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from attribution_db import PROJECT_ROOT, cli
from attribution_db import migrate as migrate_module
from attribution_db.cluster import free_port
from checks.cli import assert_one_line_error, run_cli
from checks.fingerprint import diff, fingerprint


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://u@h/db", "must be a libpq URI"),
        ("not a url", "must be a libpq URI"),
        ("postgresql://u@127.0.0.1:notaport/db", "invalid port"),
        ("postgresql://u@127.0.0.1/db?bogus=1", "not a valid libpq URI"),
        ("postgresql://u@127.0.0.1:5432", "names no database"),
    ],
)
def test_malformed_database_url(url, fragment):
    assert_one_line_error(run_cli("migrate", url=url, check=False), fragment)


def test_unreachable_server():
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/db"
    assert_one_line_error(run_cli("migrate", url=url, check=False), "cannot connect to", "Connection refused")


def test_password_is_redacted_in_errors():
    url = f"postgresql://nobody:s3cret@127.0.0.1:{free_port()}/db"
    proc = run_cli("migrate", url=url, check=False)
    assert_one_line_error(proc, "nobody:***@")
    assert "s3cret" not in proc.stderr + proc.stdout


def test_missing_server_binaries_say_how_to_install(tmp_path):
    proc = run_cli("server", "start", check=False, env={"PG_BINDIR": str(tmp_path)})
    assert_one_line_error(proc, "apt-get install postgresql-15")


def test_second_migrate_applies_nothing(migrated_url):
    proc = run_cli("migrate", url=migrated_url)
    assert "nothing to apply" in proc.stdout
    assert "applying" not in proc.stdout


def test_socket_style_url_with_host_parameter(server, migrated_url):
    params = server.params
    dbname = migrated_url.split("/")[3].split("?")[0]
    url = f"postgresql://{params.get('user', 'postgres')}@/{dbname}?host={params.get('host', '127.0.0.1')}"
    url += f"&port={params.get('port', '5432')}"
    if "password" in params:
        url += f"&password={quote(params['password'], safe='')}"
    assert "nothing to apply" in run_cli("migrate", url=url).stdout


def test_status_lists_every_migration(migrated_url):
    proc = run_cli("status", url=migrated_url)
    ids = [m.id for m in migrate_module.load()]
    for mid in ids:
        assert f"applied  {mid}" in proc.stdout
    assert f"{len(ids)} applied, 0 pending" in proc.stdout


def test_failing_migration_names_file_and_error_and_leaves_nothing(make_database, tmp_path, monkeypatch, capsys):
    """A migration failing half-way is rolled back whole: schema and yoyo's records are
    exactly as before the run, the earlier migrations stay applied, the exit status is 1."""
    good = tmp_path / "0001_good.sql"
    good.write_text("CREATE TABLE good_one (id int);\n")
    (tmp_path / "0001_good.rollback.sql").write_text("DROP TABLE good_one;\n")
    url = make_database("broken")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr(migrate_module, "sources", lambda: [str(tmp_path)])
    monkeypatch.setattr(migrate_module, "relpath", lambda m: str(Path(m.path).name))
    assert cli.main(["migrate"]) == 0
    before = fingerprint(url), bookkeeping(url)
    (tmp_path / "0002_broken.sql").write_text(
        "-- creates a table, comments it, then fails\nCREATE TABLE half_done (id int);\n"
        "COMMENT ON TABLE good_one IS 'changed';\nINSERT INTO no_such_table VALUES (1);\n"
    )
    capsys.readouterr()
    assert cli.main(["migrate"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "0002_broken.sql" in err[0] and "42P01" in err[0] and "no_such_table" in err[0], err[0]
    after = fingerprint(url), bookkeeping(url)
    assert after == before, "a failed migration changed the database:\n" + diff(before[0], after[0])
    with psycopg.connect(url) as conn:
        applied = {r[0] for r in conn.execute("SELECT migration_id FROM _yoyo_migration")}
    assert applied == {"0001_good"}


def bookkeeping(url: str) -> tuple:
    """yoyo's records: what is applied, the log, and the lock table."""
    with psycopg.connect(url, autocommit=True) as conn:
        return tuple(
            conn.execute(query).fetchall()
            for query in (
                "SELECT migration_id FROM _yoyo_migration ORDER BY 1",
                "SELECT migration_id, operation FROM _yoyo_log ORDER BY created_at_utc",
                "SELECT pid FROM yoyo_lock",
            )
        )


def test_every_migration_has_a_rollback_and_a_header_comment():
    for migration in migrate_module.load():
        path = Path(migration.path)
        rollback = path.with_suffix(".rollback.sql")
        assert rollback.exists(), f"{path.name} has no {rollback.name}"
        for sql_file in (path, rollback):
            first = sql_file.read_text(encoding="utf-8").lstrip().splitlines()[0]
            assert first.startswith("--"), f"{sql_file.name} does not start with a header comment"


def test_migration_ids_follow_the_naming_scheme():
    for migration in migrate_module.load():
        assert re.fullmatch(r"\d{12}_[a-z0-9_]+", migration.id), f"bad migration id {migration.id}"


def test_make_help_lists_every_target():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split())
    documented = set(re.findall(r"^([a-z-]+):.*## ", makefile, re.M))
    assert phony == documented, f"targets without a help line: {phony - documented}; help without .PHONY: {documented - phony}"
    out = subprocess.run(["make", "-s", "help"], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout
    for target in phony:
        assert f"make {target} " in out
