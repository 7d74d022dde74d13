"""``attribution-db verify``: is this live database still what the migrations say it is?

Read-only, inside one ``READ ONLY`` transaction that is rolled back: catalog queries
(``attribution_db.catalog``) plus, when the role may read them, yoyo's ``_yoyo_migration``
and ``read_model_refreshes``. Four kinds of finding, one line each:

- ``migrations``: a pending migration, an applied one without a file, an applied one whose
  file no longer matches ``sql/manifest.sha256``;
- ``security``: row-level security flags, policies, privileges (PUBLIC included), the
  application roles' attributes and memberships, database and default privileges;
- ``drift``: any other object added, dropped or changed by hand, against ``sql/catalog.json``;
- ``health``: INVALID indexes, NOT VALID constraints, materialized views unpopulated or older
  than a bound, objects owned by another role than the one that migrated;
- ``rollups``: a group of a rollup whose folded value plus unfolded deltas differs from the
  aggregate of the raw rows (docs/rollups.md); needs a role that bypasses RLS, costs one
  aggregate of each raw table, and is left out with ``--skip-rollups``.

Exit status: 0 clean, 1 findings, 2 when it cannot verify (bad URL, unreachable server,
refused login, missing ``sql/catalog.json``, a query failing).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

from attribution_db import PROJECT_ROOT, CliError, catalog, dburl

CATALOG = PROJECT_ROOT / catalog.CATALOG_NAME
#: A statement waiting longer than this for a lock gives up: verify must never queue behind
#: (and so in front of) a migration's ACCESS EXCLUSIVE lock for long.
LOCK_TIMEOUT = "2s"
STATEMENT_TIMEOUT = "60s"
#: The rollup drift check aggregates both raw tables (30-37 s as the owner at 10M events), so
#: it gets its own bound; ``--skip-rollups`` leaves it out for a catalog check in seconds.
ROLLUP_STATEMENT_TIMEOUT = "15min"

SECURITY_CATEGORIES = {"policies", "roles", "database", "default_privileges"}
SECURITY_ATTRIBUTES = {"row_level_security", "force_row_level_security", "privileges", "security_definer"}
NAMES = {  # how an attribute reads in a finding
    "row_level_security": "ROW LEVEL SECURITY",
    "force_row_level_security": "FORCE ROW LEVEL SECURITY",
    "using": "USING expression",
    "with_check": "WITH CHECK expression",
    "enabled": "trigger state",
}


@dataclass(frozen=True)
class Finding:
    kind: str  # migrations | security | drift | health | rollups
    object: str
    message: str

    def line(self) -> str:
        return f"{self.kind}: {self.object}: {self.message}"


class CannotVerify(CliError):
    """Verification could not run at all (exit status 2)."""


# -- drift and security: the live description against sql/catalog.json ---------------------


def load_expected(path: Path = CATALOG) -> dict:
    if not path.exists():
        raise CannotVerify(f"{catalog.CATALOG_NAME} is missing: run `make schema` and commit it")
    return json.loads(path.read_text(encoding="utf-8"))


def _short(value, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe_change(attr: str, live, expected) -> str:
    label = NAMES.get(attr, attr)
    if isinstance(live, list) and isinstance(expected, list):
        added = [v for v in live if v not in expected]
        removed = [v for v in expected if v not in live]
        parts = []
        if added:
            parts.append(f"has {', '.join(map(str, added))} that the migrations do not give")
        if removed:
            parts.append(f"lacks {', '.join(map(str, removed))}")
        if not parts:
            parts.append(f"is {_short(live)}, migrations give {_short(expected)} (order)")
        return f"{label} " + "; ".join(parts)
    if isinstance(live, bool) and isinstance(expected, bool) and attr != "populated":
        return f"{label} is {'on' if live else 'off'}, migrations give {'on' if expected else 'off'}"
    if isinstance(live, str) and isinstance(expected, str) and ("\n" in live or "\n" in expected):
        a, b = live.splitlines(), expected.splitlines()
        n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        got = a[n].strip() if n < len(a) else "<end>"
        want = b[n].strip() if n < len(b) else "<end>"
        return f"{label} differs at line {n + 1}: {_short(got, 80)}, migrations give {_short(want, 80)}"
    return f"{label} is {_short(live)}, migrations give {_short(expected)}"


def drift(expected: dict, live: dict) -> list[Finding]:
    """Every difference between two descriptions, health attributes left out."""
    found: list[Finding] = []
    for category in sorted(set(expected) | set(live)):
        want, got = expected.get(category, {}), live.get(category, {})
        noun = catalog.NOUNS.get(category, category)
        kind = "security" if category in SECURITY_CATEGORIES else "drift"
        for name in sorted(set(want) - set(got)):
            found.append(Finding(kind, f"{noun} {name}", "missing: the migrations create it (dropped by hand?)"))
        for name in sorted(set(got) - set(want)):
            what = got[name].get("definition") or got[name].get("kind") or ""
            detail = f": {_short(what)}" if what else ""
            found.append(Finding(kind, f"{noun} {name}", f"not created by the migrations (added by hand?){detail}"))
        for name in sorted(set(want) & set(got)):
            for attr in sorted(set(want[name]) | set(got[name])):
                if attr in catalog.HEALTH_ATTRIBUTES:
                    continue
                a, b = got[name].get(attr), want[name].get(attr)
                if a != b:
                    attr_kind = "security" if attr in SECURITY_ATTRIBUTES else kind
                    noun_here = got[name].get("kind", noun) if category == "relations" else noun
                    found.append(Finding(attr_kind, f"{noun_here} {name}", _describe_change(attr, a, b)))
    return found


# -- health ---------------------------------------------------------------------------------


def health(conn: psycopg.Connection, live: dict, owner: str | None, max_age: float | None, notes: list[str]):
    found: list[Finding] = []
    for name, index in live.get("indexes", {}).items():
        if index.get("valid") is False:
            found.append(Finding("health", f"index {name}", "INVALID (indisvalid/indisready false): a failed "
                                 "CREATE INDEX CONCURRENTLY? drop it and build it again"))
    for name, con in live.get("constraints", {}).items():
        if con.get("validated") is False:
            found.append(Finding("health", f"constraint {name}", "NOT VALID: existing rows are unchecked; "
                                 "run ALTER TABLE ... VALIDATE CONSTRAINT"))
    views = {name: rel for name, rel in live.get("relations", {}).items() if rel.get("kind") == "materialized view"}
    for name, rel in views.items():
        if rel.get("populated") is False:
            found.append(Finding("health", f"materialized view {name}", "not populated: every read fails "
                                 "until it is refreshed (make refresh FORCE=1)"))
    if max_age is not None and views:
        found += _staleness(conn, views, max_age, notes)

    owned = catalog.owners(conn)
    expected_owner = owner or catalog.migrating_role(conn)
    if expected_owner is None and owned:
        expected_owner = Counter(owned.values()).most_common(1)[0][0]
        notes.append(f"owners: no yoyo table to tell the migrating role; the most common owner "
                     f"{expected_owner} is taken as expected (--owner sets it)")
    for label, role in owned.items():
        if role != expected_owner:
            found.append(Finding("health", label, f"owned by {role}, expected {expected_owner} "
                                 "(the role that ran the migrations)"))
    return found


def _staleness(conn, views: dict, max_age: float, notes: list[str]) -> list[Finding]:
    readable = conn.execute(
        "SELECT c.oid IS NOT NULL AND has_table_privilege(c.oid, 'SELECT') "
        "FROM (SELECT to_regclass('read_model_refreshes') AS oid) c"
    ).fetchone()[0]
    if not readable:
        notes.append("read models: refresh ages not checkable as this role (no SELECT on "
                     "read_model_refreshes); population is still checked")
        return []
    rows = dict(conn.execute(
        "SELECT view_name, extract(epoch FROM clock_timestamp() - last_refreshed_at)::float8 "
        "FROM read_model_refreshes"
    ).fetchall())  # fmt: skip
    found = []
    for name in sorted(views):
        short = name.split(".", 1)[1]
        age = rows.get(short, rows.get(name))
        if age is None:
            notes.append(f"read models: {name} has no refresh record (never refreshed since it was created)")
        elif age > max_age:
            found.append(Finding("health", f"materialized view {name}",
                                 f"last refreshed {age:.0f} s ago, older than the bound {max_age:g} s"))
    return found


# -- rollups ---------------------------------------------------------------------------------
#: rollup, delta table, key columns, value columns, the aggregate of the raw rows per key.
ROLLUPS = (
    ("rollup_channel_daily", "rollup_channel_daily_delta", ("tenant_id", "utc_day", "channel"),
     ("allocations", "allocated_revenue_cents"),
     "SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date AS utc_day, channel, "
     "count(*) AS allocations, sum(allocated_revenue_cents) AS allocated_revenue_cents "
     "FROM attribution_allocations GROUP BY 1, 2, 3"),
    ("rollup_ledger_daily", "rollup_ledger_daily_delta", ("tenant_id", "utc_day"),
     ("ledger_rows", "verified_rows", "verified_revenue_cents", "unverified_revenue_cents"),
     "SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date AS utc_day, count(*) AS ledger_rows, "
     "count(*) FILTER (WHERE is_verified) AS verified_rows, "
     "coalesce(sum(revenue_cents) FILTER (WHERE is_verified), 0) AS verified_revenue_cents, "
     "coalesce(sum(revenue_cents) FILTER (WHERE NOT is_verified), 0) AS unverified_revenue_cents "
     "FROM revenue_ledger GROUP BY 1, 2"),
)
ROLLUP_FINDINGS_SHOWN = 10  # per rollup; the count of the others follows


def rollup_drift_sql(rollup: str, delta: str, keys: tuple, values: tuple, raw: str) -> str:
    """Groups where rollup + delta (of existing tenants) differs from the raw aggregate."""
    k, v = ", ".join(keys), ", ".join(values)
    sums = ", ".join(f"sum({c}) AS {c}" for c in values)
    nonzero = " OR ".join(f"sum({c}) <> 0" for c in values)
    differs = " OR ".join(f"r.{c} IS DISTINCT FROM a.{c}" for c in values)
    shown = ", ".join(f"r.{c}, a.{c}" for c in values)
    return (
        f"WITH r AS (SELECT {k}, {sums} FROM (SELECT {k}, {v} FROM {rollup} UNION ALL "
        f"SELECT {k}, {v} FROM {delta}) AS u WHERE EXISTS (SELECT FROM tenants AS t "
        f"WHERE t.id = u.tenant_id) GROUP BY {k} HAVING {nonzero}), a AS ({raw}) "
        f"SELECT {', '.join(f'coalesce(r.{c}, a.{c})' for c in keys)}, {shown} "
        f"FROM r FULL JOIN a USING ({k}) WHERE {differs} ORDER BY {k}"
    )


def rollups(conn: psycopg.Connection, notes: list[str]) -> list[Finding]:
    present = conn.execute(
        "SELECT to_regclass('rollup_channel_daily') IS NOT NULL AND to_regclass('rollup_ledger_daily') IS NOT NULL"
    ).fetchone()[0]
    if not present:
        return []
    bypasses = conn.execute(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()[0]
    readable = all(
        conn.execute("SELECT has_table_privilege(%s, 'SELECT')", (t,)).fetchone()[0]
        for r in ROLLUPS for t in (r[0], r[1])
    )
    if not (bypasses and readable):
        notes.append("rollups: drift not checkable as this role (it must bypass RLS and read the "
                     "rollups and their delta tables); run make verify as the owner")
        return []
    found: list[Finding] = []
    started = time.monotonic()
    conn.execute(f"SET LOCAL statement_timeout = '{ROLLUP_STATEMENT_TIMEOUT}'")
    for rollup, delta, keys, values, raw in ROLLUPS:
        bad = conn.execute(rollup_drift_sql(rollup, delta, keys, values, raw)).fetchall()
        for row in bad[:ROLLUP_FINDINGS_SHOWN]:
            key = " ".join(str(x) for x in row[: len(keys)])
            pairs = row[len(keys):]
            what = ", ".join(f"{c} {pairs[2 * i]} (rollup + delta) != {pairs[2 * i + 1]} (raw rows)"
                             for i, c in enumerate(values) if pairs[2 * i] != pairs[2 * i + 1])
            found.append(Finding("rollups", f"{rollup} {key}", f"drift: {what}"))
        if len(bad) > ROLLUP_FINDINGS_SHOWN:
            found.append(Finding("rollups", rollup, f"drift in {len(bad) - ROLLUP_FINDINGS_SHOWN} more group(s)"))
    conn.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
    notes.append(f"rollups: drift checked against the raw rows in {time.monotonic() - started:.2f} s "
                 "(--skip-rollups leaves it out)")
    return found


# -- migrations -----------------------------------------------------------------------------


def migrations(conn: psycopg.Connection, notes: list[str]) -> list[Finding]:
    from attribution_db import history
    from attribution_db.migrate import load, relpath

    known = {m.id: m for m in load()}
    row = conn.execute(
        "SELECT c.oid IS NOT NULL, c.oid IS NOT NULL AND has_table_privilege(c.oid, 'SELECT') "
        "FROM (SELECT to_regclass('_yoyo_migration') AS oid) c"
    ).fetchone()
    applied: list[str] | None
    if not row[0]:
        applied = []
    elif not row[1]:
        applied = None
        notes.append("migrations: applied/pending not checkable as this role (no SELECT on _yoyo_migration); "
                     "the drift check still compares every object the migrations create")
    else:
        applied = [r[0] for r in conn.execute("SELECT migration_id FROM _yoyo_migration ORDER BY applied_at_utc")]

    found: list[Finding] = []
    if applied is not None:
        for mid in sorted(set(known) - set(applied)):
            found.append(Finding("migrations", mid, f"pending: not applied ({relpath(known[mid])}); run make migrate"))
        for mid in applied:
            if mid not in known:
                found.append(Finding("migrations", mid, "applied, but no migration file here has it "
                                     "(a newer or another checkout?)"))
    recorded = history.read()
    for mid in sorted(known if applied is None else set(applied) & set(known)):
        path = relpath(known[mid])
        rollback = path[: -len(".sql")] + ".rollback.sql" if path.endswith(".sql") else None
        for file in filter(None, (path, rollback)):
            full = PROJECT_ROOT / file
            if not full.exists():
                continue
            if file not in recorded:
                found.append(Finding("migrations", mid, f"{file} is not in {history.MANIFEST_NAME}"))
            elif history.digest(full) != recorded[file]:
                found.append(Finding("migrations", mid, f"{file} no longer matches {history.MANIFEST_NAME}: "
                                     "the database ran the recorded version, not this one"))
    return found


# -- the command ----------------------------------------------------------------------------


def connect(url: str) -> psycopg.Connection:
    try:
        conn = dburl.connect(url)
    except CliError as exc:
        raise CannotVerify(str(exc)) from None
    conn.read_only = True  # BEGIN READ ONLY
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # one snapshot for every query
    return conn


def verify(conn: psycopg.Connection, max_age: float | None = None, owner: str | None = None,
           expected: dict | None = None, check_rollups: bool = True) -> tuple[list[Finding], list[str]]:
    """All findings and notes for the database of ``conn`` (left in an open read-only transaction)."""
    expected = load_expected() if expected is None else expected
    conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    conn.execute(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
    notes: list[str] = []
    live = catalog.describe(conn)
    found = migrations(conn, notes)
    found += drift(expected, live)
    found += health(conn, live, owner, max_age, notes)
    if check_rollups:
        found += rollups(conn, notes)
    else:
        notes.append("rollups: drift not checked (--skip-rollups)")
    return found, notes


def run(url: str, as_json: bool = False, max_age: float | None = None, owner: str | None = None,
        check_rollups: bool = True) -> int:
    started = time.monotonic()
    try:
        dburl.parse(url)
    except CliError as exc:
        raise CannotVerify(str(exc)) from None
    expected = load_expected()
    with connect(url) as conn:
        try:
            found, notes = verify(conn, max_age, owner, expected, check_rollups)
            role = conn.execute("SELECT current_user").fetchone()[0]
        except psycopg.Error as exc:
            raise CannotVerify(f"cannot verify {dburl.redact(url)}: {dburl.first_line(exc)}") from None
        finally:
            conn.rollback()
    seconds = time.monotonic() - started
    if as_json:
        print(json.dumps({
            "database": dburl.redact(url), "role": role, "clean": not found, "seconds": round(seconds, 3),
            "findings": [asdict(f) for f in found], "notes": notes,
        }, indent=2))  # fmt: skip
    else:
        for finding in found:
            print(finding.line())
        for note in notes:
            print(f"note: {note}")
        kinds = Counter(f.kind for f in found)
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        verdict = f"{len(found)} finding(s) ({summary})" if found else "clean: the database is what the migrations say"
        print(f"verify: {verdict}; as {role}, read-only, {seconds:.2f} s")
    return 1 if found else 0
