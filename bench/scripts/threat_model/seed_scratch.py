"""Create and seed the scratch database of the threat-model measurements (docs/security.md).

    .venv/bin/python bench/scripts/threat_model/seed_scratch.py postgresql://postgres@127.0.0.1:54337/postgres tm 200000

Drops and recreates database <name> on the server of the URL (a superuser), migrates it with
the project's migrator and seeds it with the benchmark's seeder (1,000 Zipf-sized tenants)
at the given number of events. Then creates two LOGIN members: api_reader IN ROLE app_ro and
ingest IN ROLE app_rw (password 'x'; the local cluster trusts 127.0.0.1 anyway).
"""

import sys

import psycopg
from psycopg import sql

from attribution_db import dburl
from attribution_db.bench.seed import Scale, seed
from attribution_db.migrate import Migrator

base, name, events = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = dburl.with_dbname(base, name)
with psycopg.connect(base, autocommit=True) as conn:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    for login, group in (("api_reader", "app_ro"), ("ingest", "app_rw")):
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [login]).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'x' IN ROLE {}").format(
                sql.Identifier(login), sql.Identifier(group)))
Migrator(url).apply(report=lambda line: None)
with psycopg.connect(url, autocommit=True) as conn:
    seed(conn, Scale(name, events, max(1, events // 100_000), 0, 0))
    conn.execute("SELECT * FROM refresh_read_models(force => true)")
