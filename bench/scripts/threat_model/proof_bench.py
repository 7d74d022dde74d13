"""Alternating pgbench rounds with and without the tenant-proof prototype (decision 0002).

    .venv/bin/python bench/scripts/threat_model/proof_bench.py postgresql://postgres@127.0.0.1:54337/tm \
        --tenant-name 'bench tenant 10' --rounds 10 --seconds 6

Needs tenant_proof_prototype.sql applied to the database and a LOGIN member of app_ro named
api_reader. Each round runs pgbench -M prepared -r -c 1 for --seconds without the proof
policy and with it (order alternating per round), reads the per-statement mean latency and
prints, per statement, the median latency of each variant and the median ratio with a 95%
bootstrap interval over the rounds. Raw figures go to bench/scripts/threat_model/proof_bench.json.
"""

import argparse
import json
import pathlib
import random
import re
import statistics
import subprocess

import psycopg

HERE = pathlib.Path(__file__).parent
STATEMENTS = ["nonce", "set tenant+proof", "point lookup by id", "page of events", "ledger sum", "v_realtime_revenue_current_tenant"]

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("--tenant-name", default="bench tenant 10")
ap.add_argument("--rounds", type=int, default=10)
ap.add_argument("--seconds", type=int, default=6)
ap.add_argument("--login", default="api_reader")
a = ap.parse_args()

with psycopg.connect(a.url, autocommit=True) as conn:
    tenant, eid = conn.execute(
        "SELECT t.id, (SELECT e.id FROM attribution_events e WHERE e.tenant_id = t.id ORDER BY e.occurred_at LIMIT 1)"
        " FROM tenants t WHERE t.name = %s", [a.tenant_name]).fetchone()
    info = psycopg.conninfo.conninfo_to_dict(a.url)



def run_round() -> list[float]:
    cmd = ["pgbench", "-n", "-M", "prepared", "-r", "-c", "1", "-j", "1", "-T", str(a.seconds),
           "-h", info.get("host", "127.0.0.1"), "-p", str(info.get("port", 5432)), "-U", a.login,
           "-D", f"t={tenant}", "-D", f"eid={eid}", "-f", str(HERE / "proof_read_paths.pgbench"),
           info["dbname"]]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    lat = [float(m.group(1)) for m in re.finditer(r"^\s+([0-9.]+)\s+\d+\s+SELECT", out, re.M)]
    if len(lat) != len(STATEMENTS):
        lat = [float(m.group(1)) for m in re.finditer(r"^\s+([0-9.]+)\s+SELECT", out, re.M)]
    assert len(lat) == len(STATEMENTS), out
    return lat


raw = {"off": [], "on": []}
for r in range(a.rounds):
    order = ("off", "on") if r % 2 == 0 else ("on", "off")
    for variant in order:
        with psycopg.connect(a.url, autocommit=True) as conn:
            conn.execute((HERE / "tenant_proof_off.sql").read_text())
            if variant == "on":
                conn.execute((HERE / "tenant_proof_on.sql").read_text())
        raw[variant].append(run_round())
    print(f"round {r + 1}/{a.rounds}: off {raw['off'][-1]} on {raw['on'][-1]}", flush=True)
with psycopg.connect(a.url, autocommit=True) as conn:
    conn.execute((HERE / "tenant_proof_off.sql").read_text())

rng = random.Random(15)
summary = {}
for i, name in enumerate(STATEMENTS):
    off = [row[i] for row in raw["off"]]
    on = [row[i] for row in raw["on"]]
    ratios = [b / x for x, b in zip(off, on)]
    boot = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(2000))
    summary[name] = {
        "off_ms_median": statistics.median(off), "on_ms_median": statistics.median(on),
        "ratio_median": statistics.median(ratios), "ratio_ci95": [boot[50], boot[1949]],
        "added_us_median": 1000 * statistics.median([b - x for x, b in zip(off, on)]),
    }
    s = summary[name]
    print(f"{name:36s} off {s['off_ms_median']:.3f} ms  on {s['on_ms_median']:.3f} ms  "
          f"ratio {s['ratio_median']:.2f} [{s['ratio_ci95'][0]:.2f}, {s['ratio_ci95'][1]:.2f}]  "
          f"+{s['added_us_median']:.0f} us")
(HERE / "proof_bench.json").write_text(json.dumps(
    {"tenant": str(tenant), "tenant_name": a.tenant_name, "rounds": a.rounds, "seconds": a.seconds,
     "raw_ms": raw, "summary": summary}, indent=1) + "\n")
