"""Every contract query path uses its intended index (plans, never timings).

The database is seeded with the benchmark's small scale (10,000 events over 1,000 skewed
tenants, every table in proportion, then ANALYZE), the same seeding `make bench` runs. Each
path of ``attribution_db.bench.paths`` (one definition shared with the benchmark) is
EXPLAINed as ``app_ro`` with the tenant set, for the largest, the median and the smallest
tenant; the plan must use the path's index (for a tenant with at most ``FEW_ROWS`` rows in the
table, any index leading with tenant_id: they all read exactly that tenant's rows). A path
whose table, view or index is missing fails, naming it (it is never skipped).
"""

from __future__ import annotations

import psycopg
import pytest

from attribution_db.bench import paths as qp
from attribution_db.bench import rls, rls_server
from attribution_db.bench.run import pick_tenants, refresh_all, tenant_context
from attribution_db.bench.seed import SCALES, seed
from checks.cli import run_cli
from checks.contract import TABLES

LABELS = ("large", "median", "small")


@pytest.fixture(scope="module")
def seeded(make_database):
    url = make_database("plans")
    run_cli("migrate", url=url)
    with psycopg.connect(url, autocommit=True) as conn:
        seed(conn, SCALES["small"], log=lambda *_: None)
        refresh_all(conn)
        tenants = pick_tenants(conn)
        anchor = conn.execute("SELECT max(occurred_at) FROM attribution_events").fetchone()[0]
        contexts = {label: tenant_context(conn, t["tenant_id"], anchor, 20) for label, t in tenants.items()}
    return url, contexts, tenants


@pytest.mark.parametrize("label", LABELS)
@pytest.mark.parametrize("path", qp.PATHS, ids=lambda p: p.name)
def test_path_uses_its_index(seeded, path, label):
    url, contexts, tenants = seeded
    ctx = contexts[label]
    rows = tenants[label]["rows"].get(path.table)
    with psycopg.connect(url) as conn:
        missing = qp.missing_objects(conn, path)
        assert not missing, f"{path.name} reads objects the migrations did not create: {', '.join(missing)}"
        with conn.transaction():
            qp.as_tenant(conn, ctx["tenant_id"])
            assert conn.execute("SELECT current_user").fetchone()[0] == "app_ro"
            plan = qp.explain(conn, path, {"tenant_id": ctx["tenant_id"], **path.params(ctx, 0)})
        used = qp.plan_indexes(plan)
        assert qp.plan_ok(conn, path, used, rows), (
            f"{path.name} for the {label} tenant ({rows} rows) should use {' or '.join(path.accepted)}, "
            f"plan uses {used or 'no index'}:\n{qp.plan_summary(plan)}"
        )


def test_every_documented_index_has_a_path_or_a_reason():
    documented = {name for table in TABLES.values() for name in table.indexes if name.startswith("idx_")}
    covered = {p.documented for p in qp.PATHS} | {p.index for p in qp.PATHS}
    uncovered = documented - covered - set(qp.NOT_READ_PATHS)
    assert not uncovered, f"documented indexes with no query path and no reason: {sorted(uncovered)}"
    stale = set(qp.NOT_READ_PATHS) - documented
    assert not stale, f"reasons for indexes that are not documented: {sorted(stale)}"


def test_paths_run_under_rls_without_a_tenant_predicate():
    for path in qp.PATHS:
        assert "tenant_id =" not in path.sql(), f"{path.name}: the policy, not the query, scopes the tenant"
        assert "tenant_id = %(tenant_id)s" in path.sql(owner=True)


@pytest.mark.parametrize(
    ("args", "url", "fragment"),
    [
        (("--scale", "huge"), None, "SCALE must be one of small, medium, large"),
        ((), "mysql://u@h/db", "must be a libpq URI"),
    ],
)
def test_bench_errors_are_one_line(args, url, fragment):
    proc = run_cli("bench", "run", *args, url=url, check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_in_server_rls_rounds_run_each_side_as_its_role_over_the_same_rows(seeded):
    """bench/rls_server.py times four sides of each path; the ratio means something only if each
    side runs as the role it stands for and reads exactly the rows the application reads.
    Kills: rls-server-rls-side-as-owner, rls-server-owner-side-without-the-tenant."""
    url, contexts, _ = seeded
    ctx = contexts["median"]
    tenant = str(ctx["tenant_id"])
    wrong = []
    with rls.bypass_role(url) as bypass, psycopg.connect(url, autocommit=True) as conn:
        rls.load_policy_quals(conn)
        owner = conn.execute("SELECT session_user").fetchone()[0]
        expected_user = {"rls": "app_ro", "rls_control": "app_ro", "bypass_setting": bypass, "owner_setting": owner}
        for path in qp.PATHS:
            params = rls.params_for(path, ctx, 0)
            with conn.transaction(force_rollback=True):
                qp.as_tenant(conn, ctx["tenant_id"])
                app_rows = len(conn.execute(path.sql(), params).fetchall())
            for side in rls_server.SIDES:
                got = rls_server.run_block(conn, path, side, tenant, params, 2, 1)
                if (got["user"], got["rows"]) != (expected_user[side], app_rows):
                    wrong.append(f"{path.name} {side}: ran as {got['user']} over {got['rows']} rows, "
                                 f"expected {expected_user[side]} over {app_rows}")
                if got["elapsed_us"] <= 0:
                    wrong.append(f"{path.name} {side}: no time measured")
    assert not wrong, "\n".join(wrong)
