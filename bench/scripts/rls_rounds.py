"""Measure the RLS overhead again, alone, on a benchmark database kept by `make bench KEEP=1`.

    .venv/bin/python bench/scripts/rls_rounds.py SCALE [ROUNDS] [--server-only]    (default 30)

`make bench` measures the RLS overhead between the path timings and the ingest runs; at the
large scale the whole run takes 13 minutes. This re-runs only the RLS measurement on the kept
database of SCALE (the same tenants and parameters as `make bench` picks), with the pgbench
rounds (4 s each) and the in-server rounds, or only the latter with --server-only, and
stores the result in bench/results/<SCALE>.json, noting when it was measured. Regenerate the
report with `make bench-report`. Uses DATABASE_URL when set, else the local server.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from attribution_db import dburl
from attribution_db.bench import rls, rls_server
from attribution_db.bench.run import RESULTS, pick_tenants, prepare_database, scale_named, tenant_context
from attribution_db.targets import target


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    scale = scale_named(args[0] if args else "small")
    rounds = int(args[1]) if len(args) > 1 else 30
    out = RESULTS / f"{scale.name}.json"
    result = json.loads(out.read_text(encoding="utf-8"))
    url, needs_seed = prepare_database(target(), scale, True, print)
    if needs_seed:
        print(f"no kept {scale.name} database: run `make bench SCALE={scale.name} KEEP=1` first", file=sys.stderr)
        return 2
    with dburl.connect(url, autocommit=True) as conn:
        anchor = conn.execute("SELECT max(occurred_at) FROM attribution_events").fetchone()[0]
        tenants = pick_tenants(conn)
        contexts = {label: tenant_context(conn, t["tenant_id"], anchor, scale.samples) for label, t in tenants.items()}
    stamp = datetime.now(timezone.utc).isoformat()
    if "--server-only" not in argv:
        result["rls_overhead"] = rls.measure(url, contexts, rounds, 4.0) | {"measured_at": stamp}
    result["rls_server"] = rls_server.measure(url, contexts, rounds) | {"measured_at": stamp}
    out.write_text(json.dumps(result, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out}: the RLS overhead measured at {stamp}, the rest of the file from the run of {result['started_at']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
