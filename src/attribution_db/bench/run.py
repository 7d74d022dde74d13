"""The benchmark: seed a database, time every contract query path, ingestion and refresh.

Reads run as ``app_ro`` with the tenant set per transaction (the role and the tenant in one
``set_config`` statement, as an application behind PgBouncer would); their owner-side twins
run in the same loop, interleaved, as the (superuser) owner with an explicit ``tenant_id``
predicate. Latency is the path's statement alone (execute and fetch); throughput counts
whole transactions (BEGIN, role and tenant, statement, COMMIT) per second.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import platform
import statistics
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from attribution_db import PROJECT_ROOT, CliError, dburl, refresh
from attribution_db.bench import paths as qp
from attribution_db.bench import rls
from attribution_db.bench.seed import SCALES, SPAN, Scale, count_rows, seed
from attribution_db.targets import target

RESULTS = PROJECT_ROOT / "bench" / "results"
CLIENTS = (1, 2)
AGGREGATE_SAMPLES = 30  # aggregates are slow on the largest tenant: fewer runs
WARMUP = 5
INTERLEAVE_FACTOR = 3  # more RLS/owner pairs than samples: the ratio of sub-ms medians is noisy
MATVIEWS = ("mv_realtime_revenue", "mv_reconciliation_status")
ROLLUP_SECONDS = {"small": 2.0, "medium": 3.0, "large": 3.0}  # per rollup ingest run
ROLLUP_ROUNDS = 3  # runs per configuration and side; the median is reported


# -- statistics -------------------------------------------------------------------------
def pct(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_ms:
        return float("nan")
    rank = max(1, -(-len(sorted_ms) * q // 100))
    return sorted_ms[int(rank) - 1]


def summary(ms: list[float]) -> dict:
    data = sorted(ms)
    return {
        "n": len(data),
        "p50_ms": round(pct(data, 50), 4),
        "p95_ms": round(pct(data, 95), 4),
        "p99_ms": round(pct(data, 99), 4),
        "mean_ms": round(statistics.fmean(data), 4) if data else None,
        "max_ms": round(data[-1], 4) if data else None,
    }


# -- the server and the database --------------------------------------------------------
def marker(scale: Scale) -> str:
    return f"attribution-db bench {scale.name} {scale.events} events"


def prepare_database(base: str, scale: Scale, keep: bool, log=print) -> tuple[str, bool]:
    """(url, needs_seed): a fresh migrated database, or the kept one when it is complete."""
    from attribution_db.migrate import Migrator

    name = f"attribution_bench_{scale.name}"
    url = dburl.with_dbname(base, name)
    with dburl.connect(base, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if row and keep and row[0] == marker(scale):
            log(f"database {name}: kept from an earlier run (KEEP=1), not reseeded")
            Migrator(url).apply(report=lambda line: log(f"  {line}"))
            return url, False
        if row:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    applied = Migrator(url).apply(report=lambda line: None)
    log(f"database {name}: created and migrated ({len(applied)} migrations)")
    return url, True


def drop_database(base: str, url: str) -> None:
    name = dburl.parse(url)["dbname"]
    with dburl.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def machine(conn) -> dict:
    def read(path: str, key: str) -> str | None:
        try:
            for line in open(path, encoding="utf-8"):
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            return None
        return None

    settings = {
        name: conn.execute("SELECT current_setting(%s)", (name,)).fetchone()[0]
        for name in ("shared_buffers", "work_mem", "effective_cache_size", "random_page_cost",
                     "jit", "fsync", "synchronous_commit", "max_parallel_workers_per_gather")
    }  # fmt: skip
    return {
        "platform": platform.platform(),
        "cpu": read("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory": read("/proc/meminfo", "MemTotal"),
        "python": platform.python_version(),
        "psycopg": psycopg.__version__,
        "postgres": conn.execute("SHOW server_version").fetchone()[0],
        "settings": settings,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# -- read models ------------------------------------------------------------------------
def present_matviews(conn) -> list[str]:
    return [m for m in MATVIEWS if conn.execute("SELECT to_regclass(%s)", (m,)).fetchone()[0]]


def refresh_function(conn) -> bool:
    return conn.execute("SELECT to_regproc('refresh_read_models') IS NOT NULL").fetchone()[0]


def refresh_all(conn) -> None:
    for mv in present_matviews(conn):
        conn.execute(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(sql.Identifier(mv)))


def bench_refresh(conn, repeats: int = 3, log=print) -> dict:
    views = present_matviews(conn)
    if not views:
        log("refresh: skipped, mv_realtime_revenue and mv_reconciliation_status are not present yet")
        return {"skipped": "materialized views not present yet"}
    out: dict = {"views": {}}
    for mv in views:
        entry = {}
        for mode, stmt in (("plain", "REFRESH MATERIALIZED VIEW {}"), ("concurrently", "REFRESH MATERIALIZED VIEW CONCURRENTLY {}")):
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                conn.execute(sql.SQL(stmt).format(sql.Identifier(mv)))
                times.append((time.perf_counter() - t0) * 1000)
            entry[mode] = summary(times)
        entry["rows"] = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(mv))).fetchone()[0]
        out["views"][mv] = entry
        log(
            f"refresh {mv} ({entry['rows']} rows): plain median {entry['plain']['p50_ms']:.0f} ms, "
            f"concurrently median {entry['concurrently']['p50_ms']:.0f} ms (max {entry['concurrently']['max_ms']:.0f})"
        )
    if refresh_function(conn):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            conn.execute("SELECT refresh_read_models(force => true)")
            times.append((time.perf_counter() - t0) * 1000)
        out["refresh_read_models_force"] = summary(times)
        log(f"refresh_read_models(force => true): median {out['refresh_read_models_force']['p50_ms']:.0f} ms")
    worst = max(v["concurrently"]["max_ms"] for v in out["views"].values())
    out["freshness_note"] = (
        f"with the documented 30 s TTL a reader sees data at most 30 s + one concurrent refresh "
        f"({worst / 1000:.2f} s at this scale) old; refreshing back to back would bound it by "
        f"the refresh time itself"
    )
    return out


# -- tenants and parameters -------------------------------------------------------------
def pick_tenants(conn) -> dict[str, dict]:
    rows = conn.execute(
        """
        SELECT t.id, t.name, count(e.id) AS events
        FROM tenants AS t LEFT JOIN attribution_events AS e ON e.tenant_id = t.id
        WHERE t.name LIKE 'bench tenant %%'
        GROUP BY t.id, t.name
        ORDER BY count(e.id) DESC, t.name
        """
    ).fetchall()
    if not rows:
        raise CliError("the benchmark database holds no bench tenants; run without KEEP=1 to reseed")
    chosen = {"large": rows[0], "median": rows[len(rows) // 2], "small": rows[-1]}
    out = {}
    for label, (tid, name, events) in chosen.items():
        per_table = {
            t: conn.execute(f"SELECT count(*) FROM {t} WHERE tenant_id = %s", (tid,)).fetchone()[0]
            for t in ("attribution_events", "attribution_allocations", "dead_events", "revenue_ledger", "reconciliation_runs")
        }
        out[label] = {"tenant_id": str(tid), "name": name, "rows": per_table}
    return out


def tenant_context(conn, tenant_id: str, anchor: datetime, n: int) -> dict:
    args = {"tenant_id": tenant_id, "anchor": anchor, "span": SPAN, "n": n}
    with conn.cursor(row_factory=dict_row) as cur:
        events = cur.execute(qp.EVENT_SAMPLE_SQL, args).fetchall()
        if len(events) < min(n, 3):
            events = cur.execute(qp.EVENT_ANY_SQL, args).fetchall()
    if not events:
        raise CliError(f"tenant {tenant_id} has no events to sample")
    return {"tenant_id": tenant_id, "anchor": anchor, "events": events}


def params_for(path: qp.Path, ctx: dict, i: int) -> dict:
    return {"tenant_id": ctx["tenant_id"], **path.params(ctx, i)}


# -- timing -----------------------------------------------------------------------------
def timed(conn, path: qp.Path, params: dict, owner: bool) -> float:
    """One transaction; returns the path statement's milliseconds."""
    with conn.transaction():
        if not owner:
            qp.as_tenant(conn, params["tenant_id"])
        t0 = time.perf_counter()
        conn.execute(path.sql(owner), params).fetchall()
        return (time.perf_counter() - t0) * 1000


def interleaved(url: str, path: qp.Path, ctx: dict, samples: int) -> dict:
    """One client: RLS and owner runs alternate, so both see the same machine."""
    rls, own = [], []
    with psycopg.connect(url) as rconn, psycopg.connect(url) as oconn:
        for i in range(WARMUP):
            timed(rconn, path, params_for(path, ctx, i), False)
            timed(oconn, path, params_for(path, ctx, i), True)
        for i in range(samples):
            params = params_for(path, ctx, i)
            if i % 2:
                own.append(timed(oconn, path, params, True))
                rls.append(timed(rconn, path, params, False))
            else:
                rls.append(timed(rconn, path, params, False))
                own.append(timed(oconn, path, params, True))
    r, o = summary(rls), summary(own)
    return {
        "rls": r,
        "owner": o,
        "rls_overhead_p50": round(r["p50_ms"] / o["p50_ms"], 3),
        "rls_overhead_p95": round(r["p95_ms"] / o["p95_ms"], 3),
    }


def together(workers: int, work, meanwhile=None) -> float:
    """Run ``work(k, start)`` in ``workers`` threads that each wait on ``start`` when ready;
    the seconds from the moment all are there until the last one ends (``meanwhile`` runs in
    that time, e.g. a sleep that then tells them to stop). The first error is raised after
    every thread has ended."""
    errors: list[BaseException] = []
    start = threading.Barrier(workers + 1)

    def guarded(k: int) -> None:
        try:
            work(k, start)
        except BaseException as exc:  # reported after the join
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    t0 = time.perf_counter()
    if meanwhile:
        meanwhile()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return wall


def concurrent(url: str, path: qp.Path, ctx: dict, samples: int, clients: int) -> dict:
    """``clients`` threads, each with its own connection, ``samples`` RLS transactions each."""
    conns = [psycopg.connect(url) for _ in range(clients)]
    lat: list[list[float]] = [[] for _ in range(clients)]

    def work(k: int, start: threading.Barrier) -> None:
        for i in range(WARMUP):
            timed(conns[k], path, params_for(path, ctx, i), False)
        start.wait()
        for i in range(samples):
            lat[k].append(timed(conns[k], path, params_for(path, ctx, i * clients + k), False))

    try:
        wall = together(clients, work)
    finally:
        for c in conns:
            c.close()
    out = summary([x for per in lat for x in per])
    out["throughput_tps"] = round(clients * samples / wall, 1)
    return out


def explain_path(url: str, path: qp.Path, ctx: dict, tenant_rows: int | None) -> dict:
    params = params_for(path, ctx, 0)
    with psycopg.connect(url) as conn:
        with conn.transaction():
            qp.as_tenant(conn, ctx["tenant_id"])
            rls = qp.explain(conn, path, params)
        with conn.transaction():
            own = qp.explain(conn, path, params, owner=True)
        used = qp.plan_indexes(rls)
        ok = qp.plan_ok(conn, path, used, tenant_rows)
    return {
        "indexes_rls": used,
        "indexes_owner": qp.plan_indexes(own),
        "uses_intended": ok,
        "uses_path_index": bool(set(used) & set(path.accepted)),
        "plan_rls": qp.plan_summary(rls),
        "plan_owner": qp.plan_summary(own),
        "same_shape": qp.plan_shape(rls) == qp.plan_shape(own),
        "estimated_cost_rls": rls.get("Total Cost"),
    }


# -- ingestion --------------------------------------------------------------------------
INSERT_COLS = "tenant_id, occurred_at, external_event_id, correlation_id, session_id, revenue_cents, raw_payload"
SINGLE = f"INSERT INTO attribution_events ({INSERT_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
BATCH = (
    f"INSERT INTO attribution_events ({INSERT_COLS}) "
    "SELECT * FROM unnest(%s::uuid[], %s::timestamptz[], %s::text[], %s::uuid[], %s::uuid[], %s::int[], %s::jsonb[])"
)
IDEMPOTENT = " ON CONFLICT (tenant_id, external_event_id) WHERE external_event_id IS NOT NULL DO NOTHING"


def make_rows(tenant_id: str, prefix: str, n: int, anchor: datetime) -> list[tuple]:
    return [
        (
            tenant_id, anchor + timedelta(seconds=i), f"{prefix}-{i}", uuid.uuid4(), uuid.uuid4(),
            1000 + i % 5000, json.dumps({"source": "shopify", "order": i, "currency": "USD"}),
        )
        for i in range(n)
    ]


def bench_ingest(url: str, tenant_id: str, scale: Scale, anchor: datetime, log=print) -> dict:
    """Plain vs idempotent, single-row and batched, then replays; interleaved unit by unit."""
    run = uuid.uuid4().hex[:8]
    n_single, n_batch, batch = scale.ingest_rows // 2, scale.ingest_rows * 5, 500
    rows = {
        mode: make_rows(tenant_id, f"ingest-{run}-{mode}", n, anchor)
        for mode, n in (("single_plain", n_single), ("single_idempotent", n_single),
                        ("batch_plain", n_batch), ("batch_idempotent", n_batch))
    }  # fmt: skip
    spent = {mode: 0.0 for mode in (*rows, "replay_single_idempotent", "replay_batch_idempotent")}
    inserted = dict.fromkeys(spent, 0)

    def write(conn, mode: str, statement: str, args) -> None:
        t0 = time.perf_counter()
        with conn.transaction():
            qp.as_tenant(conn, tenant_id, "app_rw")
            cur = conn.execute(statement, args)
        spent[mode] += time.perf_counter() - t0
        inserted[mode] += cur.rowcount

    def single(conn, mode: str, row: tuple, idempotent: bool) -> None:
        write(conn, mode, SINGLE + (IDEMPOTENT if idempotent else ""), row)

    def batched(conn, mode: str, chunk: list[tuple], idempotent: bool) -> None:
        write(conn, mode, BATCH + (IDEMPOTENT if idempotent else ""), [list(col) for col in zip(*chunk)])

    with psycopg.connect(url) as conn:
        for a, b in zip(rows["single_plain"], rows["single_idempotent"]):
            single(conn, "single_plain", a, False)
            single(conn, "single_idempotent", b, True)
        for k in range(0, n_batch, batch):
            batched(conn, "batch_plain", rows["batch_plain"][k : k + batch], False)
            batched(conn, "batch_idempotent", rows["batch_idempotent"][k : k + batch], True)
        for row in rows["single_idempotent"]:
            single(conn, "replay_single_idempotent", row, True)
        for k in range(0, n_batch, batch):
            batched(conn, "replay_batch_idempotent", rows["batch_idempotent"][k : k + batch], True)
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [r[2] for mode in rows.values() for r in mode]
        conn.execute(
            "DELETE FROM attribution_events WHERE tenant_id = %s AND external_event_id = ANY(%s)", (tenant_id, ids)
        )
    counts = {**{m: len(r) for m, r in rows.items()}, "replay_single_idempotent": n_single, "replay_batch_idempotent": n_batch}
    out = {"tenant_id": tenant_id, "batch_size": batch, "modes": {}}
    for mode, secs in spent.items():
        out["modes"][mode] = {
            "rows": counts[mode], "inserted": inserted[mode], "seconds": round(secs, 3),
            "rows_per_s": round(counts[mode] / secs, 1),
        }  # fmt: skip
    m = out["modes"]
    out["ratios"] = {
        "single_idempotent_vs_plain": round(m["single_idempotent"]["rows_per_s"] / m["single_plain"]["rows_per_s"], 3),
        "batch_idempotent_vs_plain": round(m["batch_idempotent"]["rows_per_s"] / m["batch_plain"]["rows_per_s"], 3),
        "replay_single_vs_plain": round(m["replay_single_idempotent"]["rows_per_s"] / m["single_plain"]["rows_per_s"], 3),
        "replay_batch_vs_plain": round(m["replay_batch_idempotent"]["rows_per_s"] / m["batch_plain"]["rows_per_s"], 3),
    }
    for mode, r in m.items():
        log(f"ingest {mode}: {r['rows']} rows, {r['inserted']} inserted, {r['rows_per_s']:,.0f} rows/s")
    log("ingest ratios: " + ", ".join(f"{k} {v}" for k, v in out["ratios"].items()))
    return out


# -- the rollups (issue 11) ---------------------------------------------------------------
ROLLUP_TRIGGERS = {
    "attribution_allocations": "trg_attribution_allocations_rollup_insert",
    "revenue_ledger": "trg_revenue_ledger_rollup_insert",
}
ROLLUP_WRITERS = (1, 4)
ROLLUP_BATCH = 250
ALLOC_BATCH = (
    "INSERT INTO attribution_allocations (tenant_id, event_id, channel, allocated_revenue_cents, correlation_id) "
    "SELECT %s, e, c, v, %s FROM unnest(%s::uuid[], %s::text[], %s::int[]) AS u (e, c, v)"
)
LEDGER_BATCH = (
    "INSERT INTO revenue_ledger (tenant_id, revenue_cents, verified_at) "
    "SELECT %s, v, %s FROM unnest(%s::int[]) AS u (v)"
)
ROLLUP_CHANNELS = ("google_search", "facebook_ads", "email", "direct")


def rollups_present(conn) -> bool:
    return conn.execute("SELECT to_regprocedure('fold_rollups()') IS NOT NULL").fetchone()[0]


def set_rollup_triggers(conn, enabled: bool) -> None:
    """Enable or disable the rollup maintenance on inserts (the bench database only)."""
    for table, trigger in ROLLUP_TRIGGERS.items():
        conn.execute(sql.SQL("ALTER TABLE {} {} TRIGGER {}").format(
            sql.Identifier(table), sql.SQL("ENABLE" if enabled else "DISABLE"), sql.Identifier(trigger)))


def bench_rollup_paths(url: str, scale: Scale, contexts: dict, log=print) -> dict:
    out: dict = {}
    for path in qp.ROLLUP_PATHS:
        entry: dict = {"title": path.title, "kind": path.kind, "sql_rls": path.sql(), "tenants": {}}
        out[path.name] = entry
        for label, ctx in contexts.items():
            t = {"clients": {str(c): concurrent(url, path, ctx, scale.samples, c) for c in CLIENTS}}
            with psycopg.connect(url) as conn, conn.transaction():
                qp.as_tenant(conn, ctx["tenant_id"])
                t["plan_rls"] = qp.plan_summary(qp.explain(conn, path, params_for(path, ctx, 0)))
            entry["tenants"][label] = t
            c1, c2 = t["clients"]["1"], t["clients"]["2"]
            log(f"{path.name:<28} {label:<6} p95 {c1['p95_ms']:7.3f} ms (2 clients {c2['p95_ms']:7.3f}), "
                f"{c1['throughput_tps']:7.0f}/{c2['throughput_tps']:7.0f} tx/s")
    return out


def bench_rollup_ingest(url: str, tenant_id: str, seconds: float, log=print) -> dict:
    """Allocation + ledger ingest of one tenant (its hot days and channels), single-row and
    batched, 1 and 4 writers, with and without the rollup triggers: ROLLUP_ROUNDS runs of
    ``seconds`` per side, in alternating order, the median run reported."""
    with psycopg.connect(url, autocommit=True) as conn:
        events = [r[0] for r in conn.execute(
            "SELECT id FROM attribution_events WHERE tenant_id = %s ORDER BY occurred_at DESC LIMIT 1000", (tenant_id,))]
    if not events:
        return {"skipped": "the tenant has no events"}
    out: dict = {"tenant_id": tenant_id, "seconds_per_run": seconds, "batch_size": ROLLUP_BATCH, "runs": {}}
    kept: list[tuple] = []  # (tag, stamp) of the maintained runs, deleted at the end
    runs = itertools.count(1)

    def one(rows_per_tx: int, writers: int, maintained: bool) -> dict:
        tag = uuid.uuid4()
        # verified_at of this run's ledger rows (is_verified stays false): how they are found again
        stamp = datetime(1999, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=next(runs))
        done = [0] * writers
        stop = threading.Event()

        def work(k: int, start: threading.Barrier) -> None:
            with psycopg.connect(url) as conn:
                i = 0
                start.wait()
                while not stop.is_set():
                    ev = [events[(i + j) % len(events)] for j in range(rows_per_tx)]
                    ch = [ROLLUP_CHANNELS[(i + j) % len(ROLLUP_CHANNELS)] for j in range(rows_per_tx)]
                    cents = [100 + (i + j) % 900 for j in range(rows_per_tx)]
                    with conn.transaction():
                        qp.as_tenant(conn, tenant_id, "app_rw")
                        conn.execute(ALLOC_BATCH, (tenant_id, tag, ev, ch, cents))
                        conn.execute(LEDGER_BATCH, (tenant_id, stamp, cents))
                    done[k] += rows_per_tx
                    i += rows_per_tx

        def run_then_stop() -> None:
            time.sleep(seconds)
            stop.set()

        try:
            wall = together(writers, work, run_then_stop)
        finally:
            stop.set()
        if not maintained:  # rows the rollups never saw leave with the triggers still off
            with psycopg.connect(url, autocommit=True) as conn:
                set_rollup_triggers(conn, False)
                conn.execute("ALTER TABLE attribution_allocations DISABLE TRIGGER trg_attribution_allocations_rollup_delete")
                conn.execute("ALTER TABLE revenue_ledger DISABLE TRIGGER trg_revenue_ledger_rollup_delete")
                conn.execute("DELETE FROM attribution_allocations WHERE tenant_id = %s AND correlation_id = %s", (tenant_id, tag))
                conn.execute("DELETE FROM revenue_ledger WHERE tenant_id = %s AND verified_at = %s AND NOT is_verified",
                             (tenant_id, stamp))  # fmt: skip
                conn.execute("ALTER TABLE attribution_allocations ENABLE TRIGGER trg_attribution_allocations_rollup_delete")
                conn.execute("ALTER TABLE revenue_ledger ENABLE TRIGGER trg_revenue_ledger_rollup_delete")
        if maintained:
            kept.append((tag, stamp))
        rows = sum(done)
        return {"rows": rows, "transactions": rows // rows_per_tx, "seconds": round(wall, 3),
                "rows_per_s": round(rows / wall, 1), "tx_per_s": round(rows / rows_per_tx / wall, 1)}  # fmt: skip

    with psycopg.connect(url, autocommit=True) as conn:
        for mode, per_tx in (("single", 1), ("batch", ROLLUP_BATCH)):
            for writers in ROLLUP_WRITERS:
                key = f"{mode}_{writers}w"
                rounds: dict = {"with": [], "without": []}
                for r in range(ROLLUP_ROUNDS):  # alternating order: neither side always runs first
                    for maintained in ((True, False) if r % 2 == 0 else (False, True)):
                        set_rollup_triggers(conn, maintained)
                        rounds["with" if maintained else "without"].append(one(per_tx, writers, maintained))
                set_rollup_triggers(conn, True)
                pair = {}
                for side, runs_ in rounds.items():  # the median round by rows/s
                    pair[side] = sorted(runs_, key=lambda x: x["rows_per_s"])[len(runs_) // 2]
                    pair[side]["rounds_rows_per_s"] = [x["rows_per_s"] for x in runs_]
                pair["ratio"] = round(pair["with"]["rows_per_s"] / pair["without"]["rows_per_s"], 3)
                out["runs"][key] = pair
                log(f"rollup ingest {key}: with maintenance {pair['with']['rows_per_s']:,.0f} rows/s, "
                    f"without {pair['without']['rows_per_s']:,.0f} rows/s, ratio {pair['ratio']}")
        set_rollup_triggers(conn, True)
        for tag, stamp in kept:  # maintained rows leave through the triggers (deltas for the fold)
            conn.execute("DELETE FROM attribution_allocations WHERE tenant_id = %s AND correlation_id = %s", (tenant_id, tag))
            conn.execute("DELETE FROM revenue_ledger WHERE tenant_id = %s AND verified_at = %s AND NOT is_verified",
                         (tenant_id, stamp))  # fmt: skip
    return out


def bench_freshness(url: str, tenant_id: str, trials: int = 20) -> dict:
    """Commit one allocation as app_rw, then read the channel view as app_ro: the time from
    the commit's return to a read that includes it (every read after the commit does)."""
    lat, misses = [], 0
    with psycopg.connect(url) as w, psycopg.connect(url) as r:
        event = w.execute("SELECT id FROM attribution_events WHERE tenant_id = %s LIMIT 1", (tenant_id,)).fetchone()[0]
        w.commit()
        total = "SELECT coalesce(sum(allocated_revenue_cents), 0) FROM v_rollup_channel_daily"
        tag = uuid.uuid4()
        for i in range(trials):
            with r.transaction():
                qp.as_tenant(r, tenant_id)
                before = r.execute(total).fetchone()[0]
            with w.transaction():
                qp.as_tenant(w, tenant_id, "app_rw")
                w.execute("INSERT INTO attribution_allocations (tenant_id, event_id, channel, allocated_revenue_cents, "
                          "correlation_id) VALUES (%s, %s, 'freshness', 1, %s)", (tenant_id, event, tag))  # fmt: skip
            t0 = time.perf_counter()
            with r.transaction():
                qp.as_tenant(r, tenant_id)
                after = r.execute(total).fetchone()[0]
            lat.append((time.perf_counter() - t0) * 1000)
            misses += after != before + 1
        with w.transaction():
            w.execute("DELETE FROM attribution_allocations WHERE tenant_id = %s AND correlation_id = %s", (tenant_id, tag))
    return {"trials": trials, "reads_missing_the_commit": misses, "commit_to_visible_ms": summary(lat)}


def bench_fold(conn, log=print) -> dict:
    """fold_rollups() after the ingest runs (their deltas), then on empty deltas."""
    out = {}
    for label in ("after_ingest", "empty"):
        deltas = conn.execute("SELECT (SELECT count(*) FROM rollup_channel_daily_delta) + "
                              "(SELECT count(*) FROM rollup_ledger_daily_delta)").fetchone()[0]  # fmt: skip
        t0 = time.perf_counter()
        conn.execute("SELECT * FROM fold_rollups()").fetchall()
        out[label] = {"delta_rows": deltas, "ms": round((time.perf_counter() - t0) * 1000, 3)}
        log(f"fold_rollups() {label}: {deltas} delta rows in {out[label]['ms']:.1f} ms")
    out["rollup_rows"] = conn.execute("SELECT (SELECT count(*) FROM rollup_channel_daily), "
                                      "(SELECT count(*) FROM rollup_ledger_daily)").fetchone()  # fmt: skip
    return out


def rollup_drift(conn) -> int:
    """Groups where rollup + delta differs from the raw rows (make verify's query)."""
    from attribution_db import verify

    return sum(len(conn.execute(verify.rollup_drift_sql(*r)).fetchall()) for r in verify.ROLLUPS)


# -- the whole run ----------------------------------------------------------------------
def scale_named(name: str) -> Scale:
    if name not in SCALES:
        raise CliError(f"SCALE must be one of {', '.join(SCALES)}, got {name!r}")
    return SCALES[name]


@contextlib.contextmanager
def benchmark_database(scale: Scale, keep: bool, base: str, log=print):
    """The benchmark database of ``scale`` on the server of ``base``: created, migrated and
    seeded, or with ``keep`` reused when an earlier KEEP=1 run left it (new migrations
    applied); dropped at the end unless ``keep``. Yields (url, result), result holding the
    scale, the start time, the machine and the seed (make bench and make rehearse share it)."""
    url, needs_seed = prepare_database(base, scale, keep, log)
    result: dict = {"scale": scale.name, "target_events": scale.events, "started_at": datetime.now(timezone.utc).isoformat()}
    try:
        with dburl.connect(url, autocommit=True) as conn:
            result["machine"] = machine(conn)
            if needs_seed:
                log(f"seeding {scale.name}: {scale.events:,} events over 1,000 tenants")
                result["seed"] = seed(conn, scale, log=log)
                conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(dburl.parse(url)["dbname"]), sql.Literal(marker(scale))))  # fmt: skip
            else:
                result["seed"] = {"kept": True, "counts": count_rows(conn), **earlier_seed(scale)}
        yield url, result
    finally:
        if not keep:
            drop_database(base, url)
            log(f"dropped {dburl.parse(url)['dbname']} (KEEP=1 keeps it)")


def run(scale_name: str, keep: bool = False, rls_rounds: int = 30, rls_seconds: float = 4.0, log=print) -> dict:
    scale = scale_named(scale_name)
    wall0 = time.monotonic()
    # DATABASE_URL, else the local server (started as by `make db-start`)
    with benchmark_database(scale, keep, target(), log) as (url, result):
        with dburl.connect(url, autocommit=True) as conn:
            result["migrations"] = [r[0] for r in conn.execute("SELECT migration_id FROM _yoyo_migration ORDER BY applied_at_utc, migration_id")]
            anchor = conn.execute("SELECT max(occurred_at) FROM attribution_events").fetchone()[0]
            if rollups_present(conn):  # what the sidecar does after a load: fold, then refresh
                t0 = time.perf_counter()
                moved: dict[str, int] = {}
                for name, _, rows_, _, _ in refresh.fold(conn, until_done=True):  # batch after batch
                    moved[name] = moved.get(name, 0) + (rows_ or 0)
                result["initial_fold_s"] = round(time.perf_counter() - t0, 3)
                result["initial_fold_delta_rows"] = moved
            t0 = time.perf_counter()
            refresh_all(conn)
            result["initial_refresh_s"] = round(time.perf_counter() - t0, 3)
            result["tenants"] = pick_tenants(conn)
            contexts = {label: tenant_context(conn, t["tenant_id"], anchor, scale.samples) for label, t in result["tenants"].items()}
        log("tenants: " + "; ".join(f"{k} {v['rows']['attribution_events']:,} events" for k, v in result["tenants"].items()))
        result["paths"] = bench_paths(url, scale, contexts, result["tenants"], log)
        if rls_rounds > 0:
            log(f"rls overhead: {rls_rounds} rounds x 3 tenants x {len(rls.SIDES)} sides x {rls_seconds:g} s of pgbench")
            result["rls_overhead"] = rls.measure(url, contexts, rls_rounds, rls_seconds, log)
            log_rls(result["rls_overhead"], log)
        result["ingest"] = bench_ingest(url, result["tenants"]["large"]["tenant_id"], scale, anchor, log)
        with psycopg.connect(url, autocommit=True) as conn:
            rollups = rollups_present(conn)
        if rollups:
            large = result["tenants"]["large"]["tenant_id"]
            result["rollup_paths"] = bench_rollup_paths(url, scale, contexts, log)
            result["rollup_ingest"] = bench_rollup_ingest(url, large, ROLLUP_SECONDS[scale.name], log)
            result["rollup_freshness"] = bench_freshness(url, large)
            f = result["rollup_freshness"]
            log(f"rollup freshness: {f['reads_missing_the_commit']} of {f['trials']} reads missed the commit; "
                f"commit-to-visible p95 {f['commit_to_visible_ms']['p95_ms']:.3f} ms")
        with psycopg.connect(url, autocommit=True) as conn:
            if rollups:
                result["rollup_fold"] = bench_fold(conn, log)
            result["refresh"] = bench_refresh(conn, log=log)
            if rollups:
                result["rollup_drift_groups"] = rollup_drift(conn)
                log(f"rollup drift after the run: {result['rollup_drift_groups']} group(s)")
            result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = round(time.monotonic() - wall0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{scale.name}.json"
    out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    log(f"wrote {out.relative_to(PROJECT_ROOT)} ({result['wall_s']} s)")
    return result


def log_rls(found: dict, log=print) -> None:
    for label, per_path in found["tenants"].items():
        for name, entry in per_path.items():
            c = entry["comparisons"]
            parts = []
            for key in ("policy", "explicit_where", "control"):
                ci = c[key].get("ci95")
                parts.append(f"{key} x{c[key]['ratio']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{key} n/a")
            log(f"rls {name:<28} {label:<6} " + "  ".join(parts))


def earlier_seed(scale: Scale) -> dict:
    """The seeding figures of the run that seeded a kept database (from its results file)."""
    try:
        seeded = json.loads((RESULTS / f"{scale.name}.json").read_text(encoding="utf-8"))["seed"]
    except (OSError, ValueError, KeyError):
        return {}
    keys = ("anchor", "timings_s")
    return {k: seeded[k] for k in keys if k in seeded}


def bench_paths(url: str, scale: Scale, contexts: dict, tenants: dict, log=print) -> dict:
    out: dict = {}
    with psycopg.connect(url) as conn:
        missing = {p.name: qp.missing_objects(conn, p) for p in qp.PATHS}
    for path in qp.PATHS:
        entry: dict = {
            "title": path.title, "kind": path.kind, "index": path.index,
            "documented_index": path.documented, "note": path.note,
            "sql_rls": path.sql(), "sql_owner": path.sql(owner=True), "tenants": {},
        }  # fmt: skip
        out[path.name] = entry
        if missing[path.name]:
            entry["skipped"] = f"not present yet: {', '.join(missing[path.name])}"
            log(f"{path.name}: skipped ({entry['skipped']})")
            continue
        samples = AGGREGATE_SAMPLES if path.kind == "aggregate" else scale.samples
        for label, ctx in contexts.items():
            t: dict = {"explain": explain_path(url, path, ctx, tenants[label]["rows"].get(path.table))}
            pairs = samples if path.kind == "aggregate" else samples * INTERLEAVE_FACTOR
            t["interleaved"] = interleaved(url, path, ctx, pairs)
            t["clients"] = {str(c): concurrent(url, path, ctx, samples, c) for c in CLIENTS}
            entry["tenants"][label] = t
            c1, c2 = t["clients"]["1"], t["clients"]["2"]
            flag = "" if t["explain"]["uses_intended"] else f"  PLAN MISS (wanted {path.index})"
            log(
                f"{path.name:<28} {label:<6} p95 {c1['p95_ms']:7.3f} ms (2 clients {c2['p95_ms']:7.3f}), "
                f"{c1['throughput_tps']:7.0f}/{c2['throughput_tps']:7.0f} tx/s, "
                f"RLS x{t['interleaved']['rls_overhead_p50']:.2f}  {','.join(t['explain']['indexes_rls'])}{flag}"
            )
    return out
