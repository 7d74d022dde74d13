"""``make rehearse``: every recent migration measured against a loaded benchmark database.

On a seeded benchmark database (bench/seed.py, the same database ``make bench`` keeps),
ingestion writers (``app_rw``: idempotent inserts of events with their allocations) and API
readers (``app_ro``: the contract read paths of bench/paths.py, the current-tenant views
among them) run the whole time, each setting role and tenant per transaction as
applications do. Meanwhile the latest migrations are rolled back one by one, newest first,
and applied again one by one. For each migration and direction: its duration, the longest
any write and any read waited while it ran (a transaction's wall time, overlapping the
migration), the writes and reads that failed (SQLSTATE), and the locks it held that blocked
others (pg_locks and pg_blocking_pids sampled every 50 ms from a connection of its own).

Which migrations: the latest N in apply order (``--count``), or by default every applied
migration that can be rolled back without losing the benchmark's data or breaking the
workload, and whose applied dependants (``-- depends:``) are rehearsed too. A probe decides
before the load starts: in ONE transaction that is rolled back at the end, the rollback
files run newest first (a non-transactional one with CONCURRENTLY removed, which ends in the
same state); a rollback that would drop a seeded table or column, delete or empty seeded
rows, change a seeded table's row-level security, policies or the application roles'
privileges on it, drop an application role, or drop a relation the readers read, is undone
to its savepoint and left out, with its reason. Nothing in this module names a migration.

The standard (decision 0007): a migration newer than STANDARD_SINCE must not make any write
wait more than MAX_WRITE_STALL_S nor fail one, in either direction; the rehearsal exits 1
naming each offender. Landed migrations (STANDARD_SINCE and older) are reported only.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from attribution_db import PROJECT_ROOT, CliError, dburl
from attribution_db.bench import paths as qp
from attribution_db.bench.seed import TABLES, Scale

RESULTS = PROJECT_ROOT / "bench" / "results"
DOC = PROJECT_ROOT / "docs" / "migrations.md"

#: The newest migration landed before the standard: newer ones must meet it.
STANDARD_SINCE = "202611281550"
MAX_WRITE_STALL_S = 1.0

SAMPLE_EVERY_S = 0.05
SETTLE_S = 1.0  # load alone before the first migration (the baseline) and between two
WRITERS = 2
READERS = 2
PACE_S = 0.02  # pause between two transactions of one worker (a steady load, not a flood)
ROLES = ("app_rw", "app_ro")


# -- the range: which migrations can be rehearsed ---------------------------------------
def read_objects() -> list[str]:
    """Every relation the readers read (tables and tenant-scoped views)."""
    names: list[str] = []
    for path in qp.PATHS:
        for name in (path.table, *path.requires):
            if name not in names:
                names.append(name)
    return names


def _state(conn) -> dict:
    """What the probe compares: seeded tables, their protection and data, the readers' objects."""
    out: dict = {"tables": {}, "objects": {}}
    roles = {r for (r,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(ROLES),))}
    for table in TABLES:
        oid = conn.execute("SELECT to_regclass(%s)::oid", (table,)).fetchone()[0]
        if oid is None:
            out["tables"][table] = None
            continue
        cls = conn.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s", (oid,)).fetchone()
        privileges = {
            f"{role} {priv}": conn.execute("SELECT has_table_privilege(%s, %s::oid, %s)", (role, oid, priv)).fetchone()[0]
            for role in sorted(roles)
            for priv in ("SELECT", "INSERT", "UPDATE", "DELETE")
        }
        ident = sql.Identifier(table)
        out["tables"][table] = {
            "columns": {r[0] for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped", (oid,))},
            "rls": tuple(cls),
            "policies": {r[0] for r in conn.execute("SELECT polname FROM pg_policy WHERE polrelid = %s", (oid,))},
            "privileges": privileges,
            "has_rows": conn.execute(sql.SQL("SELECT EXISTS (SELECT FROM {})").format(ident)).fetchone()[0],
            "deleted": conn.execute("SELECT coalesce(pg_stat_get_xact_tuples_deleted(%s), 0)", (oid,)).fetchone()[0],
        }  # fmt: skip
    out["roles"] = roles
    for name in read_objects():
        out["objects"][name] = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]
    return out


def _loss(before: dict, after: dict, deleted_before: dict[str, int]) -> str | None:
    """Why the state ``after`` a rollback is not rehearsable, or None. ``before``: the state
    before the probe; ``deleted_before``: the transaction's delete counters just before this
    rollback (they are not undone by ROLLBACK TO SAVEPOINT)."""
    if after["roles"] != before["roles"]:
        return f"drops role(s) {', '.join(sorted(before['roles'] - after['roles']))}"
    for table, was in before["tables"].items():
        now = after["tables"][table]
        if was is None:
            continue
        if now is None:
            return f"drops seeded table {table}"
        if was["columns"] - now["columns"]:
            return f"drops column(s) {', '.join(f'{table}.{c}' for c in sorted(was['columns'] - now['columns']))}"
        if now["deleted"] > deleted_before.get(table, 0) or (was["has_rows"] and not now["has_rows"]):
            return f"deletes seeded rows of {table}"
        if now["rls"] != was["rls"] or now["policies"] != was["policies"]:
            return f"changes the row-level security of {table}"
        changed = [k for k, v in was["privileges"].items() if now["privileges"].get(k) != v]
        if changed:
            return f"changes privileges on {table} ({', '.join(changed)})"
    gone = [name for name, present in before["objects"].items() if present and not after["objects"][name]]
    if gone:
        return f"drops what the readers read ({', '.join(gone)})"
    return None


def rollback_text(migration) -> str:
    """The rollback file's SQL, as the probe runs it inside its transaction."""
    path = Path(migration.path)
    rollback = path.with_name(path.name[: -len(".sql")] + ".rollback.sql")
    if not rollback.exists():
        raise CliError(f"{path.name} has no rollback file ({rollback.name}); it cannot be rehearsed")
    text = rollback.read_text(encoding="utf-8")
    if not migration.use_transactions:
        text = re.sub(r"\bCONCURRENTLY\b", "", text, flags=re.IGNORECASE)
    return text


def probe(url: str, newest_first: list, count: int | None, log=print) -> tuple[list, list]:
    """(the migrations to rehearse, newest first; those left out, each with the reason).

    ``count``: exactly the latest ``count`` in apply order, or a one-line error naming the
    first that cannot be rehearsed. Default: every applied migration whose rollback loses
    nothing (see the module's docstring) and whose applied dependants are all rehearsed too,
    so that rolling it back never leaves a migration applied on top of what it needs.
    """
    dependants: dict[str, set[str]] = {m.id: set() for m in newest_first}
    for m in newest_first:
        for needed in m.depends:
            if needed.id in dependants:
                dependants[needed.id].add(m.id)
    chosen: list = []
    skipped: list[dict] = []
    candidates = newest_first if count is None else newest_first[:count]
    with dburl.connect(url, autocommit=True) as conn:
        conn.execute("BEGIN")
        try:
            conn.execute("SET LOCAL lock_timeout = '30s'")
            before = _state(conn)
            for migration in candidates:
                migration.load()
                blocked = dependants[migration.id] - {m.id for m in chosen}
                if blocked:
                    skipped.append({"migration": migration.id,
                                    "reason": f"{', '.join(sorted(blocked))} depends on it and is not rehearsed"})  # fmt: skip
                    continue
                deleted = {t: v["deleted"] for t, v in _state(conn)["tables"].items() if v}
                conn.execute("SAVEPOINT probe")
                try:
                    conn.execute(rollback_text(migration))
                    reason = _loss(before, _state(conn), deleted)
                except psycopg.Error as exc:
                    conn.execute("ROLLBACK TO SAVEPOINT probe")
                    reason = f"fails in the probe: {dburl.first_line(exc)}"
                if reason:
                    conn.execute("ROLLBACK TO SAVEPOINT probe")
                    skipped.append({"migration": migration.id, "reason": f"its rollback {reason}"})
                    continue
                conn.execute("RELEASE SAVEPOINT probe")
                chosen.append(migration)
        finally:
            conn.execute("ROLLBACK")
    if count is not None and skipped:
        first = skipped[0]
        raise CliError(
            f"cannot rehearse the latest {count}: {first['migration']} is one of them and {first['reason']}; "
            "leave N unset to rehearse every migration that can be"
        )
    if not chosen:
        raise CliError("nothing can be rehearsed: " + "; ".join(f"{s['migration']}: {s['reason']}" for s in skipped[:3]))
    return chosen, skipped


# -- the load ---------------------------------------------------------------------------
@dataclass
class Op:
    kind: str  # write | read
    start: float
    end: float
    sqlstate: str | None = None


INSERT_EVENT = (
    "INSERT INTO attribution_events (tenant_id, occurred_at, external_event_id, correlation_id, "
    "session_id, revenue_cents, raw_payload) VALUES (%s, now(), %s, %s, %s, %s, %s)"
    " ON CONFLICT (tenant_id, external_event_id) WHERE external_event_id IS NOT NULL DO NOTHING"
    " RETURNING id"
)
INSERT_ALLOCATIONS = (
    "INSERT INTO attribution_allocations (tenant_id, event_id, channel, allocated_revenue_cents, "
    "model_metadata, correlation_id) SELECT %s, %s, c, %s, %s, %s FROM unnest(%s::text[]) AS c"
)


def workload_tenants(conn) -> list[str]:
    """Three bench tenants of different sizes (ranks 3, 30, 300), else any three with events."""
    rows = conn.execute(
        "SELECT id FROM tenants WHERE name IN ('bench tenant 3', 'bench tenant 30', 'bench tenant 300') ORDER BY name"
    ).fetchall()
    if len(rows) < 3:
        rows = conn.execute(
            "SELECT t.id FROM tenants AS t WHERE EXISTS (SELECT FROM attribution_events AS e "
            "WHERE e.tenant_id = t.id) ORDER BY t.id LIMIT 3"
        ).fetchall()
    if not rows:
        raise CliError("the benchmark database holds no tenant with events; run without KEEP=1 to reseed")
    return [str(r[0]) for r in rows]


class Load:
    """Writer and reader threads, each on its own connection, recording every transaction."""

    def __init__(self, url: str, contexts: list[dict], writers: int, readers: int, pace: float) -> None:
        self.url = url
        self.contexts = contexts
        self.ops: list[Op] = []
        self.pids: dict[int, str] = {}
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.run_id = uuid.uuid4().hex[:8]
        self.pace = pace
        self.threads = [threading.Thread(target=self._loop, args=("write", k), daemon=True) for k in range(writers)]
        self.threads += [threading.Thread(target=self._loop, args=("read", k), daemon=True) for k in range(readers)]
        self.ready = threading.Barrier(len(self.threads) + 1)
        self.error: str | None = None

    def _connect(self, kind: str) -> psycopg.Connection:
        # prepare_threshold=None: no server-side prepared statements, as behind PgBouncer
        # (docs/pooling.md); a plan cached across a migration's DDL is not what we measure.
        conn = psycopg.connect(self.url, autocommit=True, prepare_threshold=None)
        with self.lock:
            self.pids[conn.info.backend_pid] = kind
        return conn

    def _loop(self, kind: str, k: int) -> None:
        try:
            conn = self._connect(kind)
        except (psycopg.Error, CliError) as exc:
            self.error = f"a {kind}r could not connect: {dburl.first_line(exc)}"
            self.ready.abort()
            return
        try:
            self.ready.wait()
        except threading.BrokenBarrierError:
            conn.close()
            return
        i = 0
        while not self.stopping.is_set():
            ctx = self.contexts[(i + k) % len(self.contexts)]
            t0 = time.monotonic()
            state = None
            try:
                with conn.transaction():
                    if kind == "write":
                        self._write(conn, ctx["tenant_id"], k, i)
                    else:
                        self._read(conn, ctx, i)
            except psycopg.Error as exc:
                state = getattr(exc, "sqlstate", None) or "connection"
            self.ops.append(Op(kind, t0, time.monotonic(), state))
            if conn.broken or conn.closed:
                try:
                    conn = self._connect(kind)
                except (psycopg.Error, CliError):
                    time.sleep(0.2)
            i += 1
            time.sleep(self.pace)
        conn.close()

    def _write(self, conn, tenant_id: str, k: int, i: int) -> None:
        qp.as_tenant(conn, tenant_id, "app_rw")
        # every fourth write replays an earlier one: the idempotent path (conflict, nothing inserted)
        n = i - 3 if i % 4 == 3 else i
        ext = f"rehearse-{self.run_id}-{k}-{n}"
        row = conn.execute(
            INSERT_EVENT,
            (tenant_id, ext, uuid.uuid4(), uuid.uuid4(), 1000 + i % 500,
             json.dumps({"source": "shopify", "order": n, "currency": "USD"})),
        ).fetchone()  # fmt: skip
        if row:
            conn.execute(
                INSERT_ALLOCATIONS,
                (tenant_id, row[0], (1000 + i % 500) // 2, json.dumps({"model": "shapley"}), uuid.uuid4(),
                 ["google_search", "email"]),
            )  # fmt: skip

    def _read(self, conn, ctx: dict, i: int) -> None:
        path = qp.PATHS[i % len(qp.PATHS)]
        qp.as_tenant(conn, ctx["tenant_id"], "app_ro")
        conn.execute(path.sql(), {"tenant_id": ctx["tenant_id"], **path.params(ctx, i)}).fetchall()

    def start(self) -> None:
        for t in self.threads:
            t.start()
        try:
            self.ready.wait()
        except threading.BrokenBarrierError:
            self.stop()
            raise CliError(self.error or "the load did not start") from None

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join()


class Sampler:
    """Every SAMPLE_EVERY_S: each backend waiting on a lock, what it wants, who blocks it with what."""

    QUERY = """
    SELECT w.pid, wl.locktype, coalesce(wl.relation::regclass::text, wl.locktype) AS target,
           wl.mode AS wanted, b.pid AS blocker,
           (SELECT string_agg(DISTINCT bl.mode || CASE WHEN bl.granted THEN '' ELSE ' (queued)' END, ', ')
            FROM pg_locks AS bl
            WHERE bl.pid = b.pid AND bl.locktype = wl.locktype
              AND bl.database IS NOT DISTINCT FROM wl.database
              AND bl.relation IS NOT DISTINCT FROM wl.relation
              AND bl.transactionid IS NOT DISTINCT FROM wl.transactionid
              AND bl.virtualxid IS NOT DISTINCT FROM wl.virtualxid
              AND bl.objid IS NOT DISTINCT FROM wl.objid) AS held
    FROM pg_stat_activity AS w
    CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS b(pid)
    JOIN pg_locks AS wl ON wl.pid = w.pid AND NOT wl.granted  -- granted meanwhile: not waiting
    WHERE w.datname = current_database() AND w.pid <> pg_backend_pid()
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple] = []  # (t, waiter, locktype, target, wanted, blocker, held)
        self.count = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '1s'")
            while not self.stopping.is_set():
                t = time.monotonic()
                try:
                    rows = conn.execute(self.QUERY).fetchall()
                except psycopg.Error:
                    rows = []  # a relation dropped between two catalog reads: skip one sample
                self.samples.extend((t, *row) for row in rows)
                self.count += 1
                time.sleep(max(0.0, SAMPLE_EVERY_S - (time.monotonic() - t)))

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


# -- measuring one migration ------------------------------------------------------------
@dataclass
class Step:
    migration: str
    direction: str  # rollback | apply
    file: str
    transactional: bool
    start: float
    end: float = 0.0
    error: str | None = None
    extra: dict = field(default_factory=dict)


def _ops_summary(ops: list[Op], kind: str, t0: float, t1: float) -> dict:
    during = [o for o in ops if o.kind == kind and o.start < t1 and o.end > t0]
    failed = [o for o in during if o.sqlstate]
    return {
        "transactions": len(during),
        "max_wait_s": round(max((o.end - o.start for o in during), default=0.0), 3),
        "failed": len(failed),
        "sqlstates": dict(Counter(o.sqlstate for o in failed)),
    }


def _locks_summary(samples: list[tuple], t0: float, t1: float, mine: set[int], pids: dict[int, str]) -> tuple[list, list]:
    """(locks the migration held that blocked the load; locks of others the migration waited for)."""
    blocking: dict[tuple, dict] = {}
    waited: dict[tuple, dict] = {}
    for t, waiter, locktype, target, wanted, blocker, held in samples:
        if not t0 <= t <= t1:
            continue
        if blocker in mine and waiter not in mine:
            key = (target, held or "?", wanted or locktype)
            entry = blocking.setdefault(key, {"relation": target, "held": held or "?", "blocked_wanting": wanted or locktype,
                                              "blocked": Counter(), "first": t, "last": t, "samples": set()})  # fmt: skip
            entry["blocked"][pids.get(waiter, "other")] += 1
            entry["last"] = t
            entry["samples"].add(t)
        elif waiter in mine and blocker not in mine:
            key = (target, wanted or locktype, pids.get(blocker, "other"))
            entry = waited.setdefault(key, {"relation": target, "wanting": wanted or locktype,
                                            "behind": pids.get(blocker, "other"), "samples": set()})  # fmt: skip
            entry["samples"].add(t)
    out_blocking = [
        {"relation": e["relation"], "held": e["held"], "blocked_wanting": e["blocked_wanting"],
         "blocked_writers": e["blocked"].get("write", 0), "blocked_readers": e["blocked"].get("read", 0),
         "samples": len(e["samples"]), "seen_for_s": round(e["last"] - e["first"] + SAMPLE_EVERY_S, 2)}
        for e in blocking.values()
    ]  # fmt: skip
    out_waited = [
        {"relation": e["relation"], "wanting": e["wanting"], "behind": e["behind"], "samples": len(e["samples"])}
        for e in waited.values()
    ]
    return sorted(out_blocking, key=lambda e: -e["samples"]), out_waited


def summarise(step: Step, load: Load, sampler: Sampler, mine: set[int]) -> dict:
    blocking, waited = _locks_summary(sampler.samples, step.start, step.end, mine, load.pids)
    landed = step.migration.split("_", 1)[0] <= STANDARD_SINCE
    write = _ops_summary(load.ops, "write", step.start, step.end)
    out = {
        "migration": step.migration, "direction": step.direction, "file": step.file,
        "transactional": step.transactional, "duration_s": round(step.end - step.start, 3),
        "write": write, "read": _ops_summary(load.ops, "read", step.start, step.end),
        "blocking_locks": blocking, "waited_for": waited, "landed": landed,
        "meets_standard": write["max_wait_s"] <= MAX_WRITE_STALL_S and write["failed"] == 0 and not step.error,
    }  # fmt: skip
    if step.error:
        out["error"] = step.error
    return out


def offence(entry: dict) -> str:
    parts = []
    if entry["write"]["max_wait_s"] > MAX_WRITE_STALL_S:
        parts.append(f"made a write wait {entry['write']['max_wait_s']:.2f} s (limit {MAX_WRITE_STALL_S:g} s)")
    if entry["write"]["failed"]:
        states = ", ".join(f"{s} x{n}" for s, n in entry["write"]["sqlstates"].items())
        parts.append(f"failed {entry['write']['failed']} write(s) ({states})")
    if entry.get("error"):
        parts.append(f"failed: {entry['error']}")
    locks = "; ".join(f"{b['held']} on {b['relation']}" for b in entry["blocking_locks"][:3])
    text = f"{entry['migration']} ({entry['direction']}) " + " and ".join(parts)
    return text + (f"; it held {locks}" if locks else "")


# -- the whole run ----------------------------------------------------------------------
def rehearse_database(url: str, count: int | None, extra_sources: tuple[str, ...] = (), writers: int = WRITERS,
                      readers: int = READERS, pace: float = PACE_S, log=print) -> dict:  # fmt: skip
    """Rehearse the latest migrations of the seeded, migrated database at ``url``."""
    from attribution_db.migrate import Migrator, relpath

    migrator = Migrator(url, extra_sources=extra_sources)
    pending = migrator.apply(report=lambda line: log(f"  {line}"))  # e.g. a new migration not yet applied
    newest_first = list(migrator.backend.to_rollback(migrator.migrations))
    chosen, skipped = probe(url, newest_first, count, log)
    ids = [m.id for m in chosen]
    log(f"rehearsing {len(chosen)} migration(s), {ids[-1]} .. {ids[0]}")
    for s in skipped:
        log(f"  not rehearsed: {s['migration']}: {s['reason']}")
    with dburl.connect(url, autocommit=True) as conn:
        anchor = conn.execute("SELECT max(occurred_at) FROM attribution_events").fetchone()[0]
        from attribution_db.bench.run import refresh_all, tenant_context

        refresh_all(conn)  # the views the readers read are populated, as after a refresh sidecar tick
        contexts = [tenant_context(conn, tid, anchor, 50) for tid in workload_tenants(conn)]
    mine = {migrator.backend.connection.info.backend_pid}
    load = Load(url, contexts, writers, readers, pace)
    sampler = Sampler(url)
    steps: list[Step] = []
    failure = None
    sampler.start()
    load.start()
    t_base = time.monotonic()
    try:
        time.sleep(SETTLE_S)
        baseline_end = time.monotonic()
        plan = [(m, "rollback") for m in chosen] + [(m, "apply") for m in reversed(chosen)]
        for migration, direction in plan:
            step = Step(migration.id, direction, relpath(migration), migration.use_transactions, time.monotonic())
            steps.append(step)
            try:
                migrator.run_one(migration.id, direction, report=lambda line: log(f"  {line}"))
            except CliError as exc:
                step.error = str(exc)
                failure = exc
            step.end = time.monotonic()
            mine.add(migrator.backend.connection.info.backend_pid)
            if failure:
                break
            time.sleep(SETTLE_S)
    finally:
        load.stop()
        sampler.stop()
    baseline = {kind: _ops_summary(load.ops, kind, t_base, baseline_end) for kind in ("write", "read")}
    entries = [summarise(s, load, sampler, mine) for s in steps]
    for e in entries:
        w, r = e["write"], e["read"]
        flag = "" if e["meets_standard"] else ("  OVER THE STANDARD" if not e["landed"] else "  (landed: reported)")
        log(f"{e['migration']} {e['direction']:<8} {e['duration_s']:7.2f} s  write max {w['max_wait_s']:.3f} s "
            f"({w['failed']} failed)  read max {r['max_wait_s']:.3f} s  {len(e['blocking_locks'])} blocking lock(s){flag}")  # fmt: skip
    totals = {kind: {"transactions": sum(1 for o in load.ops if o.kind == kind),
                     "failed": sum(1 for o in load.ops if o.kind == kind and o.sqlstate)} for kind in ("write", "read")}  # fmt: skip
    result = {
        "range": {"requested": count, "migrations": ids[::-1], "not_rehearsed": skipped,
                  "rule": "every applied migration whose rollback keeps every seeded table, column and row, "
                          "their row-level security and the app roles' privileges, and every relation the "
                          "readers read, and whose applied dependants are rehearsed too"},
        "standard": {"newer_than": STANDARD_SINCE, "max_write_stall_s": MAX_WRITE_STALL_S, "failed_writes": 0},
        "load": {"writers": writers, "readers": readers, "pace_s": pace, "tenants": [c["tenant_id"] for c in contexts],
                 "sample_every_s": SAMPLE_EVERY_S, "lock_samples": sampler.count, "baseline": baseline, "totals": totals},
        "applied_before_start": pending,
        "steps": entries,
        "offenders": [offence(e) for e in entries if not e["landed"] and not e["meets_standard"]],
    }  # fmt: skip
    if failure:
        result["failure"] = str(failure)
    return result


def run(scale: Scale | str, keep: bool = False, count: int | None = None, extra_sources: tuple[str, ...] = (),
        results_dir: Path | None = RESULTS, write_doc: bool = True, base: str | None = None, log=print) -> tuple[int, dict]:  # fmt: skip
    """Prepare (or reuse) the benchmark database, rehearse, write the results; (exit code, result)."""
    from attribution_db.bench.run import benchmark_database, scale_named
    from attribution_db.targets import target

    if isinstance(scale, str):
        scale = scale_named(scale)
    if count is not None and count < 1:
        raise CliError("N must be at least 1 (leave it unset to rehearse every migration that can be)")
    wall0 = time.monotonic()
    with benchmark_database(scale, keep, base or target(), log) as (url, result):
        result["counts"] = result["seed"]["counts"]
        result.update(rehearse_database(url, count, extra_sources, log=log))
        result["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = round(time.monotonic() - wall0, 1)
    if results_dir is not None:
        results_dir.mkdir(parents=True, exist_ok=True)
        out = results_dir / f"rehearse-{scale.name}.json"
        out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
        log(f"wrote {out.relative_to(PROJECT_ROOT) if out.is_relative_to(PROJECT_ROOT) else out}")
        if write_doc:
            from attribution_db.rehearse_report import write_report

            for path in write_report(results_dir):
                log(f"wrote {path.relative_to(PROJECT_ROOT)}")
    if result.get("failure"):
        raise CliError(
            f"the rehearsal stopped: {result['failure']}; what it measured so far is in the results file, and "
            "the migrations it rolled back are pending: `make rehearse KEEP=1` or `make migrate` applies them again"
        )
    if result["offenders"]:
        for line in result["offenders"]:
            log(f"over the standard: {line}")
        return 1, result
    return 0, result
