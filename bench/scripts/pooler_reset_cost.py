"""Measure what server_reset_query_always = 1 (DISCARD ALL after every transaction) costs.

    .venv/bin/python bench/scripts/pooler_reset_cost.py [SECONDS] [RUNS] [CLIENTS]   (default 15 3 8)

Starts a throwaway PostgreSQL (like `make test`), migrates a database, creates 20 tenants
with 50 ledger rows each and refreshes the read models, then starts two PgBouncers
configured as checks/pooler.py does (pool_mode = transaction, 2 server connections), one
without and one with server_reset_query_always = 1. Through each, and directly as a
baseline, pgbench (simple protocol, CLIENTS clients, 2 threads) runs the API read path as a
LOGIN member of app_ro for SECONDS, RUNS times, alternating the targets:

    BEGIN;
    SELECT set_config('app.current_tenant_id', <one of the 20 tenants>, true);
    SELECT total_revenue, verified, data_freshness_seconds FROM v_realtime_revenue_current_tenant;
    COMMIT;

A fourth target runs the same script directly with `DISCARD ALL;` after COMMIT: the server's
own cost of the reset, without PgBouncer's queueing. Prints each run's TPS and mean
latency and the median per target. Everything is removed at
the end. Needs pgbench (postgresql-15) and pgbouncer.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from attribution_db.cluster import find_bindir, throwaway_cluster  # noqa: E402
from checks.pooler import PgBouncer, find_pgbouncer, pgbouncer_version  # noqa: E402

TENANTS = 20
SCRIPT = """\\set n random(1, {tenants})
BEGIN;
SELECT set_config('app.current_tenant_id', '00000000-0000-4000-8000-' || lpad(:n::text, 12, '0'), true);
SELECT total_revenue, verified, data_freshness_seconds FROM v_realtime_revenue_current_tenant;
COMMIT;
"""


def tenant_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def seed(url: str) -> None:
    with psycopg.connect(url) as conn:
        for n in range(1, TENANTS + 1):
            conn.execute("INSERT INTO tenants (id, name) VALUES (%s, %s)", [tenant_id(n), f"bench {n}"])
            conn.execute(
                "INSERT INTO revenue_ledger (tenant_id, revenue_cents) SELECT %s, 100 * g FROM generate_series(1, 50) g",
                [tenant_id(n)],
            )
        conn.execute("REFRESH MATERIALIZED VIEW mv_realtime_revenue")
        conn.execute("ANALYZE")


def pgbench(port: int, dbname: str, user: str, password: str, script: Path, seconds: int, clients: int) -> tuple[float, float]:
    cmd = [
        str(find_bindir() / "pgbench"), "-n", "-M", "simple", "-f", str(script),
        "-c", str(clients), "-j", "2", "-T", str(seconds),
        "-h", "127.0.0.1", "-p", str(port), "-U", user, dbname,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PGPASSWORD": password}, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"pgbench failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1]}")
    tps = float(re.search(r"tps = ([\d.]+)", proc.stdout).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", proc.stdout).group(1))
    return tps, latency


def main(argv: list[str]) -> int:
    seconds, runs, clients = (int(a) for a in (argv + ["15", "3", "8"][len(argv):]))
    executable = find_pgbouncer()
    if not executable:
        raise SystemExit("pgbouncer not found: apt-get install pgbouncer")
    print(pgbouncer_version(executable), f"| {clients} clients, {seconds} s per run, {runs} runs per target")
    with throwaway_cluster("attribution-db-poolbench-") as cluster:
        admin = cluster.url("postgres")
        dbname = "attribution_poolbench"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        url = cluster.url(dbname)
        subprocess.run([sys.executable, "-m", "attribution_db", "migrate"], env={**os.environ, "DATABASE_URL": url},
                       check=True, capture_output=True)  # fmt: skip
        seed(url)
        user, password = f"poolbench_{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE app_ro").format(sql.Identifier(user), sql.Literal(password)))
            verifier = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [user]).fetchone()[0]
        bouncers = {
            "pgbouncer, no reset": PgBouncer(executable, "127.0.0.1", str(cluster.port), {user: verifier}),
            "pgbouncer, server_reset_query_always = 1": PgBouncer(
                executable, "127.0.0.1", str(cluster.port), {user: verifier}, reset_always=True
            ),
        }
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "read_path.sql"
            script.write_text(SCRIPT.format(tenants=TENANTS), encoding="utf-8")
            discard = Path(tmp) / "read_path_discard.sql"
            discard.write_text(SCRIPT.format(tenants=TENANTS) + "DISCARD ALL;\n", encoding="utf-8")
            for bouncer in bouncers.values():
                bouncer.start()
            try:
                targets = {"direct (no pooler)": (cluster.port, script)}
                targets.update({name: (b.port, script) for name, b in bouncers.items()})
                targets["direct, DISCARD ALL after COMMIT"] = (cluster.port, discard)
                results: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
                for run in range(1, runs + 1):
                    for name, (port, path) in targets.items():
                        tps, latency = pgbench(port, dbname, user, password, path, seconds, clients)
                        results[name].append((tps, latency))
                        print(f"run {run}  {name:42s} tps {tps:9.1f}  latency {latency:7.3f} ms", flush=True)
            finally:
                for bouncer in bouncers.values():
                    bouncer.stop()
        print("\nmedian of runs:")
        for name, values in results.items():
            tps = statistics.median(v[0] for v in values)
            latency = statistics.median(v[1] for v in values)
            print(f"  {name:42s} tps {tps:9.1f}  latency {latency:7.3f} ms")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(user)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
