"""The project's own clusters authenticate, and run as root from any folder.

The embedded server (`make migrate`) and the throwaway ones (`make test`, `make docs`) listen
on 127.0.0.1 only, without a Unix socket, with scram-sha-256 and a random password kept in a
0600 file; no line the tools print carries it. Run as root from a checkout inside a folder
only root can traverse, the embedded server keeps its data outside the checkout, where the
server user can reach it (docs/local-server.md).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from attribution_db import PROJECT_ROOT, dburl
from attribution_db.cluster import (
    STATE_DIR,
    Cluster,
    checkout_key,
    free_port,
    reachable,
    secure_hba,
    server_user,
    throwaway_parent,
)
from checks.cli import run_cli

NO_PASSFILE = {"passfile": "/nonexistent", "connect_timeout": 10}  # no ~/.pgpass may help


def refused(url: str) -> psycopg.OperationalError:
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(url, **NO_PASSFILE).close()
    return info.value


def assert_password_required(cluster: Cluster) -> None:
    """Over TCP: no password and a wrong one are refused, the stored one is accepted."""
    bare = cluster.url("postgres", with_password=False)
    assert "no password supplied" in str(refused(bare))
    wrong = refused(bare.replace("postgres@", "postgres:not-the-password@"))
    # the server's 28P01 (libpq keeps no SQLSTATE for a failed connection, only the message)
    assert 'password authentication failed for user "postgres"' in str(wrong), wrong
    with psycopg.connect(cluster.url("postgres"), **NO_PASSFILE) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)


@pytest.fixture
def local(server) -> Cluster:
    if server.cluster is None:
        pytest.skip("DATABASE_URL's server: its authentication is not the project's")
    return server.cluster


# -- the throwaway cluster of this session ------------------------------------------------
def test_tcp_needs_the_password(local):
    assert_password_required(local)


def test_no_trust_and_no_socket(local):
    with psycopg.connect(local.url("postgres")) as conn:
        methods = {row[0] for row in conn.execute("SELECT auth_method FROM pg_hba_file_rules")}
        sockets = conn.execute("SHOW unix_socket_directories").fetchone()[0]
        listen = conn.execute("SHOW listen_addresses").fetchone()[0]
    assert methods == {"peer", "scram-sha-256"}, methods
    assert (sockets, listen) == ("", "127.0.0.1")


def test_password_file_is_private(local):
    info = local.pgpass.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.geteuid()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("psql"), reason="needs root (another account) and psql")
def test_another_account_cannot_log_in(local):
    """What `--auth trust` allowed: any account on the machine logging in as the superuser."""
    url = local.url("postgres", with_password=False)
    proc = subprocess.run(
        ["runuser", "-u", "nobody", "--", "psql", "-w", "-X", url, "-c", "SELECT 1"],
        capture_output=True, text=True, cwd="/", env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )  # fmt: skip
    assert proc.returncode != 0 and "no password supplied" in proc.stderr, proc.stderr
    cat = subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(local.pgpass)], capture_output=True, cwd="/")
    assert cat.returncode != 0


# -- passwords never printed ------------------------------------------------------------
def test_redact_hides_query_string_passwords():
    url = dburl.with_dbname("postgresql://u:s3cret@127.0.0.1:5432/a", "b")
    assert "password=s3cret" in url  # with_dbname moves it to the query string
    assert "s3cret" not in dburl.redact(url)
    assert "s3cret" not in dburl.redact("postgresql:///b?password=s3cret&host=h")


def test_query_string_password_is_redacted_in_errors():
    url = f"postgresql:///db?host=127.0.0.1&port={free_port()}&user=nobody&password=s3cret"
    proc = run_cli("migrate", url=url, check=False)
    assert proc.returncode == 1
    assert "password=***" in proc.stderr and "s3cret" not in proc.stdout + proc.stderr


def test_subprocesses_get_the_password_in_their_environment():
    bare, env = dburl.for_subprocess("postgresql://u:s3cret@127.0.0.1:5432/a")
    assert "s3cret" not in bare and env == {"PGPASSWORD": "s3cret"}
    assert dburl.for_subprocess("postgresql://u@127.0.0.1:5432/a") == ("postgresql://u@127.0.0.1:5432/a", {})


# -- where the embedded cluster lives -----------------------------------------------------
def test_checkout_key_is_per_checkout():
    a, b = Path("/srv/one/repo"), Path("/srv/two/repo")
    assert checkout_key(a) == checkout_key(a) != checkout_key(b)
    assert checkout_key(a).startswith("repo-") and len(checkout_key(a)) == len("repo-") + 12
    assert checkout_key(Path("/x/we ird:name")).startswith("we_ird_name-")


def test_secure_hba_replaces_every_trust():
    text = (
        "# TYPE DATABASE USER ADDRESS METHOD\n"
        "local all all trust\n"
        "host all all 127.0.0.1/32 trust # from initdb\n"
        "host replication all ::1/128 trust\n"
        "host all app 10.0.0.0/8 md5\n"
    )
    assert secure_hba(text) == (
        "# TYPE DATABASE USER ADDRESS METHOD\n"
        "local all all peer\n"
        "host all all 127.0.0.1/32 scram-sha-256 # from initdb\n"
        "host replication all ::1/128 scram-sha-256\n"
        "host all app 10.0.0.0/8 md5\n"
    )
    assert secure_hba(secure_hba(text)) == secure_hba(text)


@pytest.fixture
def private_checkout():
    """A copy of the checkout (code, migrations) inside a folder only its owner can traverse,
    like a clone into `mktemp -d` or /root; its embedded cluster is removed afterwards."""
    outer = Path(tempfile.mkdtemp(prefix="attribution-db-private-"))  # mode 0700
    copy = outer / "repo"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("src", "sql"):
        shutil.copytree(PROJECT_ROOT / folder, copy / folder, ignore=skip)
    shutil.copy(PROJECT_ROOT / "yoyo.ini", copy)
    try:
        yield copy
    finally:
        cli_in(copy, None, "remove", module="attribution_db.cluster")
        shutil.rmtree(outer, ignore_errors=True)


def cli_in(copy: Path, port: int | None, *args: str, module: str = "attribution_db") -> subprocess.CompletedProcess:
    """Run the copy's own CLI, as `make` there would (its src first on the path)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ATTRIBUTION_DB_STATE_DIR", "PGPASSFILE")}
    env["PYTHONPATH"] = str(copy / "src")
    if port:
        env["ATTRIBUTION_DB_PORT"] = str(port)
    return subprocess.run([sys.executable, "-m", module, *args], cwd=copy, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_embedded_server_of_a_checkout_in_a_private_folder(private_checkout):
    copy, port = private_checkout, free_port()
    user = server_user()
    if user:  # the premise: the server user cannot reach the checkout
        assert not reachable(user, copy)
        home = STATE_DIR / checkout_key(copy)
    else:
        home = copy / ".pg"
    migrate = cli_in(copy, port, "migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert f"started the local PostgreSQL on 127.0.0.1:{port} (data in {home / 'data'})" in migrate.stdout
    status = cli_in(copy, port, "server", "status")
    assert status.returncode == 0 and f"data in {home / 'data'}" in status.stdout, status.stdout
    url = cli_in(copy, port, "url")
    assert url.stdout.strip() == f"postgresql://postgres@127.0.0.1:{port}/attribution"
    assert f"PGPASSFILE={home / 'pgpass'}" in url.stderr
    if user:
        assert (home / "checkout").read_text().strip() == str(copy.resolve())
        assert copy not in home.parents
    cluster = Cluster(home, port)
    secret = cluster.password()
    assert secret and stat.S_IMODE(cluster.pgpass.stat().st_mode) == 0o600
    for proc in (migrate, status, url):
        assert secret not in proc.stdout + proc.stderr
    assert_password_required(cluster)
    if shutil.which("psql"):  # `make psql`: no password on its command line, yet it logs in
        psql = cli_in(copy, port, "psql", "-X", "-At", "-c", "SELECT count(*) FROM _yoyo_migration")
        assert psql.returncode == 0, psql.stderr
        assert int(psql.stdout) > 0
    removed = cli_in(copy, None, "remove", module="attribution_db.cluster")
    assert removed.stdout.strip() == f"removed the local PostgreSQL in {home}" and not home.exists()


@pytest.mark.slow
def test_trust_cluster_of_an_earlier_version_is_secured_on_start():
    home = Path(tempfile.mkdtemp(prefix="attribution-db-legacy-", dir=throwaway_parent()))
    cluster = Cluster(home, free_port(), durable=False)
    try:
        cluster.init()  # then make it what an earlier version made: trust, no password file
        hba = cluster.datadir / "pg_hba.conf"
        hba.write_text(hba.read_text().replace("scram-sha-256", "trust").replace("peer", "trust"))
        cluster.pgpass.unlink()
        assert cluster.start()
        assert cluster.notes and "secured the local PostgreSQL" in cluster.notes[0]
        rules = [line.split() for line in hba.read_text().splitlines() if line.strip() and not line.startswith("#")]
        assert rules and all(rule[-1] in ("peer", "scram-sha-256") for rule in rules), rules
        assert_password_required(cluster)
        cluster.stop()
        assert cluster.start() and cluster.notes == []  # once only
        assert_password_required(cluster)
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)
