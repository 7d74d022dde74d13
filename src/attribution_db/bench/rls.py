"""The RLS overhead as a number with a 95% interval: rounds of pgbench, sides interleaved.

Each contract path (``paths.PATHS``) is written as a pgbench script once per *side*. A
round is one pgbench run (``-M prepared``, one client, per-transaction log and ``-r``) for
one tenant that holds every path of every side, chosen at random per transaction: the
sides are interleaved transaction by transaction, so load from other work on the machine
hits every side of a comparison alike. Script weights give each path a similar share of the
time (a large tenant's aggregates would otherwise crowd out the sub-millisecond paths); the
parameters are one sample of the tenant's events, a different one each round. Each
transaction's four statements go in one pipeline (one round trip).

* ``rls``: ``app_ro``, tenant set per transaction with ``set_config(..., true)``, no
  ``tenant_id`` predicate (what applications send);
* ``owner_param``: the owner (superuser, no RLS) with ``WHERE tenant_id = $1``, an explicit
  WHERE as an application binds it (default plan caching);
* ``owner_generic``: the same with ``plan_cache_mode = force_generic_plan``;
* ``owner_setting``: the owner with ``WHERE tenant_id = current_setting('app.current_tenant_id')::uuid``,
  the policy's own expression written by hand: the same plan and plan caching as ``rls``,
  so ``rls`` / ``owner_setting`` is what the policy machinery itself costs (the headline);
* ``bypass_setting``: ``owner_setting``'s statement run by a NOLOGIN member of ``app_ro`` with
  BYPASSRLS (made for the rounds, dropped after): app_ro's privileges without the policy;
* ``rls_control``: ``rls`` again as separate prepared statements: ``rls`` / ``rls_control``
  is the method's own noise.

Every side's transaction is the same (BEGIN; one ``set_config`` of role, tenant and
plan_cache_mode; the statement; COMMIT), and each side also runs it with ``SELECT 1``: a
statement's latency in a round is the median latency of its transactions minus the median
of its side's empty transactions. Per round and path, the ratio of two sides' statement
latencies is one observation; the estimate is the geometric mean over rounds with a
t-interval on the logarithms, cross-checked by a percentile bootstrap over rounds.
"""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path as FsPath

import psycopg
from psycopg import sql

from attribution_db import CliError, dburl
from attribution_db.bench import paths as qp

PGBENCH_DIRS = ("/usr/lib/postgresql/15/bin",)
SIDES = ("rls", "owner_param", "owner_generic", "owner_setting", "bypass_setting", "rls_control")
#: A NOLOGIN member of app_ro with BYPASSRLS, made for the rounds and dropped after them: the
#: privileges of app_ro without the policy, to split the overhead in two.
BYPASS_ROLE = f"attribution_bench_bypassrls_{os.getpid()}"  # per run: roles are cluster-wide
#: The owner's hand-written form of the policy: the policy's own qual, read from the catalog
#: by ``measure`` (so a changed policy changes it too); this text where a table has none.
SETTING_QUAL = "tenant_id = current_setting('app.current_tenant_id')::uuid"
POLICY_QUALS: dict[str, str] = {}
POLICY_QUALS_SQL = """
SELECT c.relname, pg_get_expr(p.polqual, p.polrelid)
FROM pg_policy AS p JOIN pg_class AS c ON c.oid = p.polrelid
WHERE c.relnamespace = 'public'::regnamespace AND p.polname = 'tenant_isolation_policy'
"""
#: (name, numerator side, denominator side, what it measures)
COMPARISONS = (
    ("policy", "rls", "owner_setting", "like with like: the policy's expression written by hand as the owner"),
    ("policy_alone", "rls", "bypass_setting", "the policy alone: app_ro's privileges on both sides, BYPASSRLS on one"),
    ("privileges", "bypass_setting", "owner_setting", "a non-superuser's privilege checks, no policy on either side"),
    ("explicit_where", "rls", "owner_param", "against WHERE tenant_id = $1 as an application binds it (default plan caching)"),
    ("explicit_where_generic", "rls", "owner_generic", "against WHERE tenant_id = $1 with generic plans forced"),
    ("control", "rls", "rls_control", "the same statement on both sides: the method's own noise"),
)
HEADLINE = "policy"
#: Share of the time per side: the plan effects of owner_param/owner_generic are large (0.05x
#: to 5x) and need fewer samples than the few-percent comparisons.
SIDE_SHARE = {"rls": 1.0, "owner_setting": 1.0, "bypass_setting": 1.0, "rls_control": 1.0,
              "owner_param": 0.25, "owner_generic": 0.25}
BOOTSTRAP = 10_000
PIPELINE = True  # the four statements of a transaction in one round trip (pgbench \startpipeline)
NULL = "empty"  # each side's transaction with SELECT 1: subtracted to leave the statement
#: Two-sided 95% quantiles of Student's t by degrees of freedom (beyond 30: interpolated to 1.96).
T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
    10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
    18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060,
    26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980,
}  # fmt: skip


def t975(df: int) -> float:
    if df in T975:
        return T975[df]
    keys = sorted(T975)
    if df > keys[-1]:
        return 1.96
    lo = max(k for k in keys if k < df)
    hi = min(k for k in keys if k > df)
    return T975[lo] + (T975[hi] - T975[lo]) * (df - lo) / (hi - lo)


def interval(ratios: list[float], seed: int = 11) -> dict:
    """Geometric mean of per-round ratios with a 95% t-interval (on logs) and a bootstrap one."""
    logs = [math.log(r) for r in ratios if r > 0]
    n = len(logs)
    if n < 2:
        return {"n": n}
    mean = sum(logs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    rng = random.Random(seed)
    boots = sorted(
        sum(rng.choice(logs) for _ in range(n)) / n for _ in range(BOOTSTRAP)
    )
    return {
        "n": n,
        "ratio": round(math.exp(mean), 4),
        "ci95": [round(math.exp(mean - half), 4), round(math.exp(mean + half), 4)],
        "ci95_bootstrap": [round(math.exp(boots[int(0.025 * BOOTSTRAP)]), 4), round(math.exp(boots[int(0.975 * BOOTSTRAP) - 1]), 4)],
        "round_min": round(math.exp(min(logs)), 4),
        "round_max": round(math.exp(max(logs)), 4),
    }


def difference(values: list[float]) -> dict:
    """Mean of per-round differences (us) with a 95% t-interval."""
    n = len(values)
    if n < 2:
        return {"n": n}
    mean = sum(values) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in values) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean_us": round(mean, 1), "ci95_us": [round(mean - half, 1), round(mean + half, 1)]}


# -- pgbench ------------------------------------------------------------------------------
def load_policy_quals(conn: psycopg.Connection) -> None:
    """POLICY_QUALS from the live policies, so the owner's sides write what the policy says."""
    POLICY_QUALS.clear()
    POLICY_QUALS.update(dict(conn.execute(POLICY_QUALS_SQL).fetchall()))


def pgbench() -> str:
    found = shutil.which("pgbench")
    for folder in PGBENCH_DIRS:
        candidate = os.path.join(folder, "pgbench")
        if os.access(candidate, os.X_OK):
            found = found or candidate
    if not found:
        raise CliError("pgbench not found (install postgresql-15 or postgresql-client-15): the RLS overhead needs it")
    return found


def pg_type(value, key: str = "") -> str:
    if key == "tenant_id" or isinstance(value, uuid.UUID):
        return "uuid"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, datetime):
        return "timestamptz"
    return "text"


def render(path: qp.Path | None, side: str, prefix: str, params: dict) -> str:
    """The path's statement for one side, with pgbench variables (bound as parameters);
    ``SELECT 1`` for the side's empty transaction (``path`` None)."""
    if path is None:
        return "SELECT 1"
    owner = side.startswith(("owner", "bypass"))
    text = path.sql(owner=owner)
    if side in ("owner_setting", "bypass_setting"):
        text = text.replace("tenant_id = %(tenant_id)s", POLICY_QUALS.get(path.table, SETTING_QUAL))
    return re.sub(
        r"%\((\w+)\)s",
        lambda m: f":{prefix}_{m.group(1)}::{pg_type(params[m.group(1)], m.group(1))}",
        text,
    )


def script(path: qp.Path | None, side: str, prefix: str, params: dict) -> str:
    """One transaction as the side runs it. Every side sets a role, the tenant and
    plan_cache_mode, so the statements around the measured one are the same everywhere."""
    role = {"rls": "'app_ro'", "rls_control": "'app_ro'", "bypass_setting": f"'{BYPASS_ROLE}'"}.get(side, "'none'")
    mode = "'force_generic_plan'" if side == "owner_generic" else "'auto'"
    body = (
        "BEGIN;\n"
        f"SELECT set_config('role', {role}, true), set_config('app.current_tenant_id', :tenant_id, true), "
        f"set_config('plan_cache_mode', {mode}, true);\n"
        f"{render(path, side, prefix, params)};\n"
        "COMMIT;\n"
    )
    return f"\\startpipeline\n{body}\\endpipeline\n" if PIPELINE else body


STATEMENT_LINE = re.compile(r"^\s+(\d+\.\d+)\s+(?:\d+\s+)?(.*)$")


def parse_report(out: str) -> dict[str, dict]:
    """Per script file name: transactions and per-statement mean latencies (ms), in order."""
    scripts: dict[str, dict] = {}
    current = None
    for line in out.splitlines():
        m = re.match(r"^SQL script \d+: (.*)$", line)
        if m:
            current = {"tx": 0, "statements": []}
            scripts[FsPath(m.group(1)).stem] = current
            continue
        if current is None:
            continue
        m = re.match(r"^ - (\d+) transactions", line)
        if m:
            current["tx"] = int(m.group(1))
            continue
        m = STATEMENT_LINE.match(line)
        if m:
            current["statements"].append(float(m.group(1)))
    if not scripts:  # one script: pgbench prints no "SQL script" header
        current = {"tx": 0, "statements": []}
        for line in out.splitlines():
            m = re.match(r"^number of transactions actually processed: (\d+)", line)
            if m:
                current["tx"] = int(m.group(1))
            m = STATEMENT_LINE.match(line)
            if m:
                current["statements"].append(float(m.group(1)))
        scripts["only"] = current
    return scripts


def run_scripts(binary: str, url: str, folder: FsPath, scripts: dict[str, str], weights: dict[str, int],
                variables: dict[str, str], seconds: float) -> dict[str, dict]:
    """One pgbench run (one client) of every script, chosen at random per transaction by
    weight. Per script: transactions, the median transaction latency (us, from the
    per-transaction log) and the mean latency (ms, ``-r``) of its measured statement."""
    for old in folder.glob("tx.*"):
        old.unlink()
    args = [binary, "-n", "-M", "prepared", "-r", "-c", "1", "-j", "1", "-T", str(max(1, round(seconds))),
            "--log", f"--log-prefix={folder / 'tx'}"]  # fmt: skip
    order = list(scripts)
    for name in order:
        file = folder / f"{name}.sql"
        file.write_text(scripts[name], encoding="utf-8")
        args += ["-f", f"{file}@{weights[name]}"]
    for key, value in variables.items():
        args += ["-D", f"{key}={value}"]
    bare, env_extra = dburl.for_subprocess(url)
    env = {**os.environ, **env_extra}
    proc = subprocess.run([*args, bare], capture_output=True, text=True, env=env, cwd=folder)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        errors = [line for line in lines if "error" in line.lower() and "aborted" not in line] or lines or ["no output"]
        raise CliError(f"pgbench failed: {errors[0]}")
    latencies: dict[int, list[int]] = {}
    for log_file in folder.glob("tx.*"):
        for line in log_file.read_text(encoding="utf-8").splitlines():
            fields = line.split()
            if len(fields) >= 4:
                latencies.setdefault(int(fields[3]), []).append(int(fields[2]))
    report = parse_report(proc.stdout)
    out = {}
    for number, name in enumerate(order):
        tx = sorted(latencies.get(number, []))
        entry = report.get(name, {"statements": []})
        if tx:
            out[name] = {
                "tx": len(tx),
                "median_us": statistics.median(tx),
                "stmt_mean_ms": entry["statements"][2] if len(entry["statements"]) >= 3 else None,
            }
    return out


# -- plans --------------------------------------------------------------------------------
def plans(url: str, path: qp.Path, params: dict) -> dict:
    """Plan shapes of the sides, each as pgbench runs it: prepared, after six executions."""
    out = {}
    for side in ("rls", "owner_param", "owner_generic", "owner_setting", "bypass_setting"):
        mode = "force_generic_plan" if side == "owner_generic" else "auto"
        text = render(path, side, "p", params)
        names = re.findall(r":p_(\w+)::(\w+)", text)
        order = list(dict.fromkeys(n for n, _ in names))
        types = {n: t for n, t in names}
        for k, name in enumerate(order, start=1):
            text = text.replace(f":p_{name}::{types[name]}", f"${k}::{types[name]}")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"SET plan_cache_mode = {mode}")
            conn.execute(f"PREPARE q({', '.join(types[n] for n in order)}) AS {text}" if order else f"PREPARE q AS {text}")
            literals = [
                sql.Literal(params[n].isoformat() if isinstance(params[n], datetime) else str(params[n])).as_string(conn)
                + f"::{types[n]}"
                for n in order
            ]
            execute = f"EXECUTE q({', '.join(literals)})" if order else "EXECUTE q"
            role = {"rls": "app_ro", "bypass_setting": BYPASS_ROLE}.get(side, "none")
            shape = None
            for _ in range(7):  # past the five custom plans the plan cache always tries
                with conn.transaction():
                    conn.execute("SELECT set_config('role', %s, true), set_config('app.current_tenant_id', %s, true)",
                                 (role, str(params["tenant_id"])))
                    conn.execute(execute).fetchall()
            with conn.transaction():
                conn.execute("SELECT set_config('role', %s, true), set_config('app.current_tenant_id', %s, true)",
                             (role, str(params["tenant_id"])))
                plan = conn.execute("EXPLAIN (FORMAT JSON) " + execute, prepare=False).fetchone()[0][0]["Plan"]
                shape = qp.plan_summary(plan)
            generic, custom = conn.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'q'"
            ).fetchone()
            out[side] = shape
            # past the first five, a custom plan at every execution means planning on every call
            out[f"{side}_cache"] = "custom (planned at every execution)" if custom > 5 else "generic (planned once)"
    return out


# -- the measurement -----------------------------------------------------------------------
def measure(url: str, contexts: dict, rounds: int, seconds: float, log=print) -> dict:
    """Alternating rounds for every tenant of ``contexts``; per path, tenant and comparison an interval."""
    binary = pgbench()
    with psycopg.connect(url) as conn:
        present = [p for p in qp.PATHS if not qp.missing_objects(conn, p)]
        load_policy_quals(conn)
    names = {p.name: f"p{i:02d}" for i, p in enumerate(present)}
    result: dict = {
        "method": {
            "rounds": rounds, "seconds_per_side": seconds, "sides": list(SIDES),
            "comparisons": {c[0]: {"ratio_of": [c[1], c[2]], "what": c[3]} for c in COMPARISONS},
            "headline": HEADLINE, "pgbench": binary, "mode": "-M prepared, 1 client, -r",
        },  # fmt: skip
        "tenants": {},
    }
    with bypass_role(url):
        return rounds_and_plans(url, binary, present, names, contexts, rounds, seconds, result, log)


@contextmanager
def bypass_role(url: str):
    """BYPASS_ROLE for the length of a measurement (roles are cluster-wide: dropped after)."""
    drop = sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(BYPASS_ROLE))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN BYPASSRLS IN ROLE app_ro").format(sql.Identifier(BYPASS_ROLE)))
    try:
        yield BYPASS_ROLE
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(drop)


def rounds_and_plans(url: str, binary: str, present: list[qp.Path], names: dict, contexts: dict, rounds: int,
                     seconds: float, result: dict, log=print) -> dict:
    with tempfile.TemporaryDirectory(prefix="attribution-rls-") as tmp:
        folder = FsPath(tmp)
        weights_by_tenant = {}
        for label, ctx in contexts.items():
            weights_by_tenant[label] = calibrate(binary, url, folder, present, names, ctx)
        samples = {label: {side: {name: [] for name in [*names, NULL]} for side in SIDES} for label in contexts}
        loads = []
        t0 = time.monotonic()
        for r in range(rounds):
            for label, ctx in contexts.items():
                params = {p.name: params_for(p, ctx, r) for p in present}
                variables = variables_for(present, names, params, ctx)
                scripts, weights = {}, {}
                heaviest = max(weights_by_tenant[label].values())
                for side in SIDES:
                    for p in present:
                        key = f"{side}.{names[p.name]}"
                        scripts[key] = script(p, side, names[p.name], params[p.name])
                        weights[key] = max(1, round(weights_by_tenant[label][names[p.name]] * SIDE_SHARE[side]))
                    scripts[f"{side}.{NULL}"] = script(None, side, NULL, {})
                    weights[f"{side}.{NULL}"] = heaviest
                got = run_scripts(binary, url, folder, scripts, weights, variables, seconds)
                for side in SIDES:
                    null = got.get(f"{side}.{NULL}")
                    samples[label][side][NULL].append(null)
                    for p in present:
                        entry = got.get(f"{side}.{names[p.name]}")
                        if entry and null:
                            entry["stmt_us"] = entry["median_us"] - null["median_us"]
                        samples[label][side][p.name].append(entry)
            loads.append(round(os.getloadavg()[0], 2))
            log(f"rls rounds: {r + 1}/{rounds} ({time.monotonic() - t0:.0f} s, load {loads[-1]})")
        result["loadavg_per_round"] = loads
        result["wall_s"] = round(time.monotonic() - t0, 1)
        for label, ctx in contexts.items():
            per_path = {}
            for p in present:
                entry = {"weight": weights_by_tenant[label][names[p.name]], "sides": {}, "comparisons": {}}
                for side in SIDES:
                    rows = samples[label][side][p.name]
                    entry["sides"][side] = {
                        "tx_per_round": [e["tx"] if e else 0 for e in rows],
                        "tx_median_us": [e["median_us"] if e else None for e in rows],
                        "stmt_us": [e.get("stmt_us") if e else None for e in rows],
                        "stmt_mean_ms_r": [e["stmt_mean_ms"] if e else None for e in rows],
                    }
                for name, num, den, _ in COMPARISONS:
                    a_rows, b_rows = samples[label][num][p.name], samples[label][den][p.name]
                    pairs = [(a, b) for a, b in zip(a_rows, b_rows) if a and b]
                    stmt = [a["stmt_us"] / b["stmt_us"] for a, b in pairs
                            if a.get("stmt_us", 0) > 0 and b.get("stmt_us", 0) > 0]
                    entry["comparisons"][name] = {
                        **interval(stmt),
                        "transaction": interval([a["median_us"] / b["median_us"] for a, b in pairs]),
                        "difference_us": difference([a["stmt_us"] - b["stmt_us"] for a, b in pairs
                                                     if "stmt_us" in a and "stmt_us" in b]),
                    }
                entry["plans"] = plans(url, p, {"tenant_id": ctx["tenant_id"], **p.params(ctx, 0)})
                entry["same_plan_as_policy"] = {
                    side: entry["plans"][side] == entry["plans"]["rls"]
                    and entry["plans"][f"{side}_cache"] == entry["plans"]["rls_cache"]
                    for side in ("owner_param", "owner_generic", "owner_setting", "bypass_setting")
                }
                per_path[p.name] = entry
            result["tenants"][label] = per_path
    return result


def params_for(path: qp.Path, ctx: dict, i: int) -> dict:
    return {"tenant_id": ctx["tenant_id"], **path.params(ctx, i)}


def variables_for(present: list[qp.Path], names: dict, params: dict, ctx: dict) -> dict[str, str]:
    out = {"tenant_id": str(ctx["tenant_id"])}
    for p in present:
        for key, value in params[p.name].items():
            out[f"{names[p.name]}_{key}"] = value.isoformat() if isinstance(value, datetime) else str(value)
    return out


def calibrate(binary: str, url: str, folder: FsPath, present: list[qp.Path], names: dict, ctx: dict) -> dict[str, int]:
    """Script weights: inversely proportional to each path's latency, so each gets a similar
    share of a run's time (the aggregates of a large tenant would otherwise crowd out the rest)."""
    params = {p.name: params_for(p, ctx, 0) for p in present}
    variables = variables_for(present, names, params, ctx)
    scripts = {names[p.name]: script(p, "rls", names[p.name], params[p.name]) for p in present}
    got = run_scripts(binary, url, folder, scripts, dict.fromkeys(scripts, 1), variables, 1)
    lat = {name: max(got[name]["median_us"], 1) if name in got else 1000 for name in scripts}
    slowest = max(lat.values())
    return {name: max(4, min(4000, round(4 * slowest / ms))) for name, ms in lat.items()}
