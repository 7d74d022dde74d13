"""The RLS overhead timed inside the server: each side's statement in a PL/pgSQL loop.

The pgbench rounds (``rls.py``) time a statement from the client: latency of a pipelined
transaction minus that of an empty one. On statements of 20-30 us that subtraction carries the
client's and the kernel's jitter, and the method's own control (the same statement on both
sides) reaches past 1.10x in one cell of ten. Here the server times itself:

* one transaction per side, path and tenant sets the role and the tenant as the application
  does (``set_config(..., true)``), then runs one ``DO`` block that executes the path's
  statement as static SQL (so through the plan cache, parameters bound, as a prepared
  statement is) ``WARMUP`` times untimed, then ``n`` times between two ``clock_timestamp()``
  calls, and the same loop with ``PERFORM 1`` to subtract the loop's own cost;
* everything a statement costs inside the server counts (executor start with its privilege
  checks, custom planning where the plan cache chooses it, the policy's qual, the scan), and
  nothing outside it (protocol, network, client);
* sides, comparisons and the estimator are those of ``rls.py`` (geometric mean over rounds
  of the per-round ratio, 95% t-interval on the logarithms), minus the owner's
  ``tenant_id = $1`` sides, whose plans differ and which the pgbench rounds already give;
* within a round the sides of one path run back to back in a random order, so drift from
  other work on the machine hits them alike.
"""

from __future__ import annotations

import os
import random
import re
import time
from datetime import datetime

import psycopg

from attribution_db.bench import paths as qp
from attribution_db.bench import rls

SIDES = ("rls", "owner_setting", "bypass_setting", "rls_control")
COMPARISONS = tuple(c for c in rls.COMPARISONS if c[1] in SIDES and c[2] in SIDES)
ROLE = {"rls": "app_ro", "rls_control": "app_ro", "owner_setting": "none"}
WARMUP = 6  # past the five custom plans the plan cache tries before it may go generic
BLOCK_MS = 8.0  # aim of one timed loop: enough to dwarf clock_timestamp()'s own cost
MAX_LOOPS = 2000
#: What a block leaves in the transaction: timings (us), and the last execution's row count and
#: role, so a check can tell that each side ran as it should.
OUTPUTS = ("elapsed_us", "empty_us", "rows", "user")
VARIABLE = re.compile(r":p_(\w+)::(\w+)")  # how rls.render writes a parameter (prefix "p")


def block(path: qp.Path, side: str, params: dict, loops: int, warmup: int) -> str:
    """The DO block for one side: parameters as PL/pgSQL variables (bound like $n)."""
    text = rls.render(path, side, "p", params)
    declared: dict[str, str] = {}

    def variable(m: re.Match) -> str:
        name, kind = m.group(1), m.group(2)
        value = params[name]
        literal = (value.isoformat() if isinstance(value, datetime) else str(value)).replace("'", "''")
        declared[name] = f"v_{name} {kind} := '{literal}';"
        return f"v_{name}"

    statement = VARIABLE.sub(variable, text)
    assert statement.startswith("SELECT "), statement
    perform = "PERFORM " + statement[len("SELECT "):]

    def keep(name: str, value: str) -> str:
        return f"  PERFORM set_config('attribution_bench.{name}', ({value})::text, true);\n"

    return (
        "DO $bench$\nDECLARE\n  t0 timestamptz;\n  n bigint;\n  " + "\n  ".join(declared.values()) + "\nBEGIN\n"
        f"  FOR i IN 1..{warmup} LOOP {perform}; END LOOP;\n"
        f"  t0 := clock_timestamp();\n  FOR i IN 1..{loops} LOOP {perform}; END LOOP;\n"
        + keep("elapsed_us", "extract(epoch FROM clock_timestamp() - t0) * 1e6")
        + f"  t0 := clock_timestamp();\n  FOR i IN 1..{loops} LOOP PERFORM 1; END LOOP;\n"
        + keep("empty_us", "extract(epoch FROM clock_timestamp() - t0) * 1e6")
        + f"  {perform};\n  GET DIAGNOSTICS n = ROW_COUNT;\n"
        + keep("rows", "n") + keep("user", "current_user")
        + "END\n$bench$"
    )


def run_block(conn: psycopg.Connection, path: qp.Path, side: str, tenant: str, params: dict, loops: int,
              warmup: int) -> dict:
    """One block in its own transaction (rolled back), as the side's role, for ``tenant``."""
    role = rls.BYPASS_ROLE if side == "bypass_setting" else ROLE[side]
    with conn.transaction(force_rollback=True):
        conn.execute("SELECT set_config('role', %s, true), set_config('app.current_tenant_id', %s, true)",
                     (role, tenant))
        conn.execute(block(path, side, params, loops, warmup))
        got = conn.execute("SELECT " + ", ".join(f"current_setting('attribution_bench.{o}')" for o in OUTPUTS)).fetchone()
    out = dict(zip(OUTPUTS, got))
    return {**out, "elapsed_us": float(out["elapsed_us"]), "empty_us": float(out["empty_us"]), "rows": int(out["rows"])}


def timed(conn: psycopg.Connection, path: qp.Path, side: str, tenant: str, params: dict, loops: int,
          warmup: int) -> float:
    """Microseconds per execution of the statement, the empty loop's cost taken off."""
    got = run_block(conn, path, side, tenant, params, loops, warmup)
    return (got["elapsed_us"] - got["empty_us"]) / loops


def calibrate(conn: psycopg.Connection, present: list[qp.Path], ctx: dict) -> dict[str, tuple[int, int]]:
    """Per path (loops, warm-up): about BLOCK_MS of timed work; one warm-up for slow statements."""
    plan = {}
    for p in present:
        params = rls.params_for(p, ctx, 0)
        us = timed(conn, p, "rls", str(ctx["tenant_id"]), params, 1, 1)
        if us < 1000:  # a fast statement: time it again past the plan cache's first choices
            us = timed(conn, p, "rls", str(ctx["tenant_id"]), params, 50, WARMUP)
        loops = max(2, min(MAX_LOOPS, round(BLOCK_MS * 1000 / max(us, 1.0))))
        plan[p.name] = (loops, WARMUP if us < 1000 else 1)
    return plan


def measure(url: str, contexts: dict, rounds: int, log=print) -> dict:
    """Rounds of every path, tenant and side; per path, tenant and comparison an interval."""
    with psycopg.connect(url) as conn:
        present = [p for p in qp.PATHS if not qp.missing_objects(conn, p)]
        rls.load_policy_quals(conn)
    result: dict = {
        "method": {
            "rounds": rounds, "sides": list(SIDES), "warmup": WARMUP, "block_ms": BLOCK_MS,
            "comparisons": {c[0]: {"ratio_of": [c[1], c[2]], "what": c[3]} for c in COMPARISONS},
            "headline": rls.HEADLINE, "timer": "clock_timestamp() around a PL/pgSQL loop, empty loop subtracted",
        },  # fmt: skip
        "tenants": {},
    }
    rng = random.Random(7)
    with rls.bypass_role(url), psycopg.connect(url, autocommit=True) as conn:
        loops = {label: calibrate(conn, present, ctx) for label, ctx in contexts.items()}
        samples = {label: {p.name: {s: [] for s in SIDES} for p in present} for label in contexts}
        t0 = time.monotonic()
        loads = []
        for r in range(rounds):
            for label, ctx in contexts.items():
                for p in present:
                    params = rls.params_for(p, ctx, r)
                    n, warm = loops[label][p.name]
                    for side in rng.sample(SIDES, len(SIDES)):
                        samples[label][p.name][side].append(timed(conn, p, side, str(ctx["tenant_id"]), params, n, warm))
            loads.append(round(os.getloadavg()[0], 2))
            log(f"rls in-server rounds: {r + 1}/{rounds} ({time.monotonic() - t0:.0f} s, load {loads[-1]})")
    result["wall_s"] = round(time.monotonic() - t0, 1)
    result["loadavg_per_round"] = loads
    for label in contexts:
        per_path = {}
        for p in present:
            got = samples[label][p.name]
            entry = {"loops": loops[label][p.name][0], "warmup": loops[label][p.name][1],
                     "stmt_us": {s: [round(x, 3) for x in got[s]] for s in SIDES}, "comparisons": {}}
            for name, num, den, _ in COMPARISONS:
                pairs = [(a, b) for a, b in zip(got[num], got[den]) if a > 0 and b > 0]
                entry["comparisons"][name] = {
                    **rls.interval([a / b for a, b in pairs]),
                    "difference_us": rls.difference([a - b for a, b in zip(got[num], got[den])]),
                }
            per_path[p.name] = entry
        result["tenants"][label] = per_path
    return result
