"""Command line: ``attribution-db migrate|status|rollback|mark|break-lock|manifest|schema|verify|refresh|docs|rehearse|mutate|server|url|psql``.

Expected failures (no server binaries, a bad DATABASE_URL, a failing migration) print one
line on stderr and exit with status 1 (``verify``: 2); nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

import psycopg

from attribution_db import CliError, dburl
from attribution_db.cluster import Cluster
from attribution_db.targets import ensure_database, server_url, start_embedded, target, where


def cmd_migrate(args) -> int:
    from attribution_db.migrate import Migrator

    migrator = Migrator(target())
    applied = migrator.apply()
    total = len(migrator.status().applied)
    if applied:
        print(f"applied {len(applied)} migration(s); {total} applied in all, none pending")
    else:
        print(f"nothing to apply: the database is up to date ({total} migrations applied)")
    return 0


def cmd_status(args) -> int:
    from attribution_db.migrate import Migrator

    state = Migrator(target(start=False)).status()
    for mid in state.applied:
        print(f"  applied  {mid}")
    for mid in state.pending:
        print(f"  pending  {mid}")
    for mid in state.missing or []:
        print(f"  applied  {mid}  (recorded, but no migration file has it any more)")
    print(f"{len(state.applied)} applied, {len(state.pending)} pending")
    if state.stale_lock:
        pid, ctime = state.stale_lock
        print(f"warning: a stale migration lock (pid {pid}, taken {ctime} UTC) is left; `make break-lock` removes it")
    return 0


def cmd_rollback(args) -> int:
    from attribution_db.migrate import Migrator

    if args.count is not None and args.count < 1:
        raise CliError("--count must be at least 1 (use --all to roll back every migration)")
    migrator = Migrator(target(start=False))
    done = migrator.rollback(None if args.all else (args.count or 1))
    remaining = len(migrator.status().applied)
    if not done:
        print("nothing to roll back: no migration is applied")
    else:
        print(f"rolled back {len(done)} migration(s): {', '.join(done)}; {remaining} still applied")
    return 0


def cmd_refresh(args) -> int:
    from attribution_db import refresh

    if args.ttl < 0 or (args.every is not None and args.every <= 0):
        raise CliError("--ttl must be >= 0 and --every > 0 (seconds)")
    for name in ("stale_after", "lock_timeout", "statement_timeout", "max_backoff"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise CliError(f"--{name.replace('_', '-')} must be > 0 (seconds)")
    return refresh.run(
        target(start=False), args.ttl, args.force, args.every, stale_after=args.stale_after,
        lock_timeout=args.lock_timeout or refresh.LOCK_TIMEOUT,
        statement_timeout=args.statement_timeout or refresh.STATEMENT_TIMEOUT,
        max_backoff=args.max_backoff or refresh.MAX_BACKOFF,
    )  # fmt: skip


def cmd_mark(args) -> int:
    from attribution_db.migrate import Migrator

    path = Migrator(target(start=False)).mark(args.migration_id)
    print(f"recorded {args.migration_id} ({path}) as applied without running it")
    return 0


def cmd_break_lock(args) -> int:
    from attribution_db.migrate import Migrator

    row = Migrator(target(start=False)).break_lock()
    if row:
        print(f"removed the stale migration lock of pid {row[0]} (taken {row[1]} UTC)")
    else:
        print("no migration lock to remove")
    return 0


def cmd_manifest(args) -> int:
    from attribution_db import history

    if args.check:
        history.check()
        print(f"{history.MANIFEST_NAME}: every recorded migration file is unchanged")
    else:
        added = history.update()
        for path in added:
            print(f"  added {path}")
        print(f"{history.MANIFEST_NAME}: {len(added)} file(s) added" if added else f"{history.MANIFEST_NAME}: up to date")
    return 0


def cmd_schema(args) -> int:
    from attribution_db import snapshot

    schema_text, catalog_text = snapshot.fresh(server_url())
    if args.check:
        snapshot.check(schema_text)
        snapshot.check(catalog_text, snapshot.CATALOG)
        print(f"{snapshot.SNAPSHOT_NAME} and {snapshot.CATALOG_NAME} are up to date")
    else:
        for name, path, text in ((snapshot.SNAPSHOT_NAME, snapshot.SNAPSHOT, schema_text),
                                 (snapshot.CATALOG_NAME, snapshot.CATALOG, catalog_text)):
            print(f"{name} {'rewritten' if snapshot.write(text, path) else 'unchanged'}")
    return 0


def cmd_verify(args) -> int:
    from attribution_db import verify

    if args.max_age is not None and args.max_age <= 0:
        print("error: --max-age must be > 0 (seconds)", file=sys.stderr)
        return 2
    try:
        url = dburl.from_env()
        if not url:
            cluster = Cluster.embedded()
            if not cluster.running():
                raise verify.CannotVerify("the local PostgreSQL is not running and DATABASE_URL is not set")
            url = cluster.url()
        return verify.run(url, as_json=args.json, max_age=args.max_age, owner=args.owner,
                          check_rollups=not args.skip_rollups)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_docs(args) -> int:
    from attribution_db import catalog, docs

    if args.url:
        with dburl.connect(args.url, autocommit=True) as conn:
            documents = docs.generate(conn)
    else:
        with docs.fresh_database() as url, dburl.connect(url, autocommit=True) as conn:
            missing = catalog.uncommented_objects(conn)
            documents = docs.generate(conn)
        for label in missing:
            print(f"warning: no COMMENT on {label}", file=sys.stderr)
    if args.check:
        stale = docs.stale_documents(documents)
        for path in stale:
            print(f"{path} is stale: run make docs", file=sys.stderr)
        if stale:
            return 1
        print(f"up to date: {', '.join(f'docs/{name}' for name in sorted(documents))}")
        return 0
    changed = docs.write_documents(documents)
    for name in sorted(documents):
        state = "updated" if f"docs/{name}" in changed else "unchanged"
        print(f"{state}: docs/{name}")
    return 0


def cmd_server(args) -> int:
    cluster = Cluster.embedded()
    if args.action == "start":
        started = start_embedded(cluster)
        ensure_database(cluster)
        if not started:
            print(f"local PostgreSQL already running on 127.0.0.1:{cluster.port} ({where(cluster)})")
        print(f"url: {cluster.url(with_password=False)} (password: PGPASSFILE={cluster.pgpass})")
    elif args.action == "stop":
        print("local PostgreSQL stopped" if cluster.stop() else "local PostgreSQL was not running")
    else:
        running = cluster.running()
        state = f"running on 127.0.0.1:{cluster.port}" if running else "not running"
        if not cluster.home.exists():
            print(f"local PostgreSQL {state}: not created yet (`make migrate` creates it in {cluster.home})")
        else:
            print(f"local PostgreSQL {state} ({where(cluster)})")
        return 0 if running else 3
    return 0


def cmd_url(args) -> int:
    """The URL without its password; for the local server, say on stderr where that is."""
    url = dburl.from_env()
    if url:
        print(dburl.redact(url))
        return 0
    cluster = Cluster.embedded()
    print(cluster.url(with_password=False))
    print(f"password: PGPASSFILE={cluster.pgpass}", file=sys.stderr)
    return 0


def cmd_bench(args) -> int:
    if args.action == "run":
        from attribution_db.bench.run import run

        run(args.scale, keep=args.keep, rls_rounds=args.rls_rounds, rls_seconds=args.rls_seconds)
    else:
        from attribution_db.bench.report import write_report

        write_report()
    return 0


def cmd_psql(args) -> int:
    psql = shutil.which("psql")
    if not psql:
        raise CliError("psql not found; install it with `apt-get install postgresql-client-15`")
    url = dburl.from_env()
    env = dict(os.environ)
    if url:
        url, secret_env = dburl.for_subprocess(url)  # no password on psql's command line
        env.update(secret_env)
    else:
        cluster = Cluster.embedded()
        if not cluster.running():
            raise CliError("the local PostgreSQL is not running; start it with `make db-start`")
        url = cluster.url(with_password=False)
        if cluster.pgpass.exists():
            env["PGPASSFILE"] = str(cluster.pgpass)
    os.execve(psql, [psql, url, *args.psql_args], env)
    return 0  # pragma: no cover


def cmd_rehearse(args) -> int:
    from attribution_db import rehearse

    if args.report:
        from attribution_db.rehearse_report import write_report

        for path in write_report(rehearse.RESULTS):
            print(f"wrote {path.relative_to(rehearse.PROJECT_ROOT)}")
        return 0
    code, _ = rehearse.run(args.scale, keep=args.keep, count=args.count, log=lambda line: print(line, flush=True))
    return code


def cmd_mutate(args) -> int:
    from attribution_db import mutate

    only = [i.strip() for i in (args.only or "").split(",") if i.strip()]
    return mutate.run(only=only or None, jobs=args.jobs, out=lambda line: print(line, flush=True))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attribution-db", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply every pending migration").set_defaults(func=cmd_migrate)
    sub.add_parser("status", help="list applied and pending migrations").set_defaults(func=cmd_status)
    rollback = sub.add_parser("rollback", help="roll back the latest migration(s)")
    group = rollback.add_mutually_exclusive_group()
    group.add_argument("--count", type=int, help="how many to roll back (default 1)")
    group.add_argument("--all", action="store_true", help="roll back every applied migration")
    rollback.set_defaults(func=cmd_rollback)
    refresh = sub.add_parser("refresh", help="refresh the materialized views older than the TTL")
    refresh.add_argument("--ttl", type=float, default=30.0, help="seconds a view stays fresh (default 30)")
    refresh.add_argument("--force", action="store_true", help="refresh regardless of age")
    refresh.add_argument("--every", type=float, metavar="N", help="sidecar mode: refresh every N seconds until SIGTERM")
    refresh.add_argument("--stale-after", type=float, metavar="S",
                         help="sidecar: warn when a view was last refreshed more than S seconds ago (default 3 x max(ttl, every))")
    refresh.add_argument("--lock-timeout", type=float, metavar="S", help="seconds a refresh may wait for a lock (default 5)")
    refresh.add_argument("--statement-timeout", type=float, metavar="S", help="seconds one refresh may run (default 300)")
    refresh.add_argument("--max-backoff", type=float, metavar="S", help="sidecar: cap of the retry delay after errors (default 60)")
    refresh.set_defaults(func=cmd_refresh)  # fmt: skip
    mark = sub.add_parser("mark", help="record a pending migration as applied without running it")
    mark.add_argument("migration_id")
    mark.set_defaults(func=cmd_mark)
    sub.add_parser("break-lock", help="remove a stale migration lock left by a killed run").set_defaults(
        func=cmd_break_lock
    )
    manifest = sub.add_parser("manifest", help="add new migration files to the checksum manifest")
    manifest.add_argument("--check", action="store_true", help="only check the recorded checksums")
    manifest.set_defaults(func=cmd_manifest)
    schema = sub.add_parser("schema", help="write sql/schema.sql and sql/catalog.json from a freshly migrated database")
    schema.add_argument("--check", action="store_true", help="fail when sql/schema.sql or sql/catalog.json is stale")
    schema.set_defaults(func=cmd_schema)
    verify = sub.add_parser("verify", help="check a live database against the migrations, read-only")
    verify.add_argument("--json", action="store_true", help="one JSON document instead of lines")
    verify.add_argument("--max-age", type=float, default=3600.0, metavar="SECONDS",
                        help="report a materialized view refreshed longer ago than this (default 3600)")
    verify.add_argument("--owner", help="the role expected to own every object (default: the owner of yoyo's table)")
    verify.add_argument("--skip-rollups", action="store_true",
                        help="leave out the rollup drift check (one aggregate of each raw table: about 30 s at 10M events)")
    verify.set_defaults(func=cmd_verify)
    docs = sub.add_parser(
        "docs", help="regenerate docs/data_dictionary.md and docs/erd.md from a freshly migrated database"
    )
    docs.add_argument("--check", action="store_true", help="write nothing; exit 1 when a document is stale")
    docs.add_argument("--url", help="read this (already migrated) database instead of a fresh one")
    docs.set_defaults(func=cmd_docs)
    server = sub.add_parser("server", help="manage the local PostgreSQL")
    server.add_argument("action", choices=["start", "stop", "status"])
    server.set_defaults(func=cmd_server)
    sub.add_parser("url", help="print the database URL in use").set_defaults(func=cmd_url)
    bench = sub.add_parser("bench", help="performance benchmark and its report (make bench)")
    bench.add_argument("action", choices=["run", "report"])
    bench.add_argument("--scale", default="small", help="small, medium or large (default small)")
    bench.add_argument("--keep", action="store_true", help="keep the database (and reuse a kept one)")
    bench.add_argument("--rls-rounds", type=int, default=30, help="alternating pgbench rounds for the RLS overhead (0: skip)")
    bench.add_argument("--rls-seconds", type=float, default=4.0, help="seconds of each pgbench round (one tenant, every side)")
    bench.set_defaults(func=cmd_bench)
    rehearse = sub.add_parser("rehearse", help="roll back and re-apply the latest migrations of a loaded benchmark database, measuring each")
    rehearse.add_argument("--scale", default="small", help="small, medium or large (default small)")
    rehearse.add_argument("--keep", action="store_true", help="keep the database (and reuse a kept one)")
    rehearse.add_argument("--count", type=int, help="the latest N migrations (default: every one that can be)")
    rehearse.add_argument("--report", action="store_true", help="only rewrite docs/migrations.md from bench/results/")
    rehearse.set_defaults(func=cmd_rehearse)
    mutate = sub.add_parser("mutate", help="apply each schema mutation of checks/mutations/*.yaml and run its checks")
    mutate.add_argument("--only", help="comma-separated mutation ids (default: every entry)")
    mutate.add_argument("--jobs", type=int, default=2, help="mutants run at a time (default 2)")
    mutate.set_defaults(func=cmd_mutate)
    psql = sub.add_parser("psql", help="open psql on the database in use")
    psql.set_defaults(func=cmd_psql)  # further arguments go to psql unchanged
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "psql":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.psql_args = extra
    try:
        return args.func(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"error: database: {dburl.first_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
