"""Server-side cost of the tenant-proof policy per statement (decision 0002), low-noise.

    .venv/bin/python bench/scripts/threat_model/proof_loop.py postgresql://postgres@127.0.0.1:54337/tm \
        --tenant-name 'bench tenant 10' --rounds 20 --n 1000

pgbench end to end (proof_bench.py) is dominated by the noise of a shared machine. Here each
round runs, in one transaction per variant, as the superuser: drop (and for "on" create) the
proof policy, SET LOCAL ROLE api_reader (member of app_ro), set tenant and proof, then a
PL/pgSQL loop executes each read path --n times with cached plans (as a prepared statement
would) and returns the mean microseconds per execution. Variants alternate within seconds.
"""

import argparse
import json
import pathlib
import random
import statistics

import psycopg

HERE = pathlib.Path(__file__).parent
PATHS = {
    "point lookup by id": "PERFORM id, occurred_at, external_event_id, session_id, revenue_cents FROM attribution_events WHERE id = eid",
    "page of events": "PERFORM id, occurred_at, external_event_id, session_id, revenue_cents FROM attribution_events ORDER BY occurred_at DESC LIMIT 50",
    "ledger sum": "PERFORM sum(revenue_cents) FROM revenue_ledger",
    "v_realtime_revenue_current_tenant": "PERFORM total_revenue, verified, data_freshness_seconds FROM v_realtime_revenue_current_tenant",
}
TIMER = """
CREATE OR REPLACE FUNCTION pg_temp.time_paths(n int, eid uuid) RETURNS TABLE (path text, us float8)
LANGUAGE plpgsql AS $f$
DECLARE t0 timestamptz;
BEGIN
{blocks}
END $f$;
"""
BLOCK = """    t0 := clock_timestamp();
    FOR i IN 1..n LOOP {stmt}; END LOOP;
    path := {name}; us := extract(EPOCH FROM clock_timestamp() - t0) * 1e6 / n; RETURN NEXT;
"""

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("--tenant-name", default="bench tenant 10")
ap.add_argument("--rounds", type=int, default=20)
ap.add_argument("--n", type=int, default=1000)
a = ap.parse_args()

timer = TIMER.format(blocks="".join(
    BLOCK.format(stmt=s, name="'" + name + "'") for name, s in PATHS.items()))
raw = {"off": [], "on": []}
with psycopg.connect(a.url) as conn:
    tenant, eid = conn.execute(
        "SELECT t.id::text, (SELECT e.id FROM attribution_events e WHERE e.tenant_id = t.id ORDER BY e.occurred_at LIMIT 1)"
        " FROM tenants t WHERE t.name = %s", [a.tenant_name]).fetchone()
    conn.execute(timer)  # pg_temp function of this session (superuser), executable by the role below
    conn.commit()
    for r in range(a.rounds):
        for variant in (("off", "on") if r % 2 == 0 else ("on", "off")):
            with conn.transaction():
                conn.execute((HERE / "tenant_proof_off.sql").read_text())
                if variant == "on":
                    conn.execute((HERE / "tenant_proof_on.sql").read_text())
                conn.execute("SET LOCAL ROLE api_reader")
                conn.execute("SELECT set_config('app.current_tenant_id', %s, true), "
                             "set_config('app.tenant_proof', bench_issue_proof(%s), true)", [tenant, tenant])
                rows = conn.execute("SELECT path, us FROM pg_temp.time_paths(%s, %s)", [a.n, eid]).fetchall()
                raw[variant].append(dict(rows))
        print(f"round {r + 1}/{a.rounds}: " + ", ".join(
            f"{p} {raw['off'][-1][p]:.1f}/{raw['on'][-1][p]:.1f} us" for p in PATHS), flush=True)
    with conn.transaction():
        conn.execute((HERE / "tenant_proof_off.sql").read_text())

rng = random.Random(15)
summary = {}
for p in PATHS:
    off = [x[p] for x in raw["off"]]
    on = [x[p] for x in raw["on"]]
    ratios = [b / x for x, b in zip(off, on)]
    boot = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(2000))
    summary[p] = {"off_us_median": statistics.median(off), "on_us_median": statistics.median(on),
                  "ratio_median": statistics.median(ratios), "ratio_ci95": [boot[50], boot[1949]],
                  "added_us_median": statistics.median([b - x for x, b in zip(off, on)])}
    s = summary[p]
    print(f"{p:36s} off {s['off_us_median']:8.1f} us  on {s['on_us_median']:8.1f} us  ratio "
          f"{s['ratio_median']:.2f} [{s['ratio_ci95'][0]:.2f}, {s['ratio_ci95'][1]:.2f}]  +{s['added_us_median']:.1f} us")
(HERE / "proof_loop.json").write_text(json.dumps(
    {"tenant": tenant, "tenant_name": a.tenant_name, "rounds": a.rounds, "n": a.n, "raw_us": raw,
     "summary": summary}, indent=1) + "\n")
