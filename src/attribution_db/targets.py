"""Which database a command works on: DATABASE_URL, or the project's local cluster.

Shared by the command line (cli.py) and the benchmark (bench/run.py), so neither imports
the other.
"""

from __future__ import annotations

from psycopg import sql

from attribution_db import CliError, dburl
from attribution_db.cluster import DEFAULT_DBNAME, Cluster


def ensure_database(cluster: Cluster, dbname: str = DEFAULT_DBNAME) -> None:
    with dburl.connect(cluster.url("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            print(f"created database {dbname}")


def start_embedded(cluster: Cluster) -> bool:
    """Start the local cluster (creating it on first use); say so, and where its data is."""
    started = cluster.start()
    if started:
        print(f"started the local PostgreSQL on 127.0.0.1:{cluster.port} (data in {cluster.datadir})")
    for note in cluster.notes:
        print(f"note: {note}")
    return started


def where(cluster: Cluster) -> str:
    """Where the local cluster keeps its data, log and password (for status lines)."""
    text = f"data in {cluster.datadir}, log {cluster.logfile}, password in {cluster.pgpass}"
    if cluster.legacy_location:
        text += "; made in the checkout by an earlier version: `make clean` deletes it"
    return text


def target(start: bool = True) -> str:
    """DATABASE_URL when set; otherwise the embedded cluster (started when ``start``)."""
    url = dburl.from_env()
    if url:
        dburl.parse(url)
        print(f"target: {dburl.redact(url)} (DATABASE_URL)")
        return url
    cluster = Cluster.embedded()
    if start:
        start_embedded(cluster)
        ensure_database(cluster)
    elif not cluster.running():
        raise CliError("the local PostgreSQL is not running; start it with `make db-start` or `make migrate`")
    print(f"target: {cluster.url(with_password=False)} (local server)")
    return cluster.url()


def server_url() -> str:
    """A URL on the server in use (DATABASE_URL's or the local one, started if needed)."""
    url = dburl.from_env()
    if url:
        dburl.parse(url)
        return url
    cluster = Cluster.embedded()
    start_embedded(cluster)
    return cluster.url("postgres")
