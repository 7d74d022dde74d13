"""docs/contract_schema_mapping.yaml agrees with the API contract and with the database.

Every mapped column exists with a type compatible with its API field, every source column
has the type the mapping states, the reconciliation state enum equals the values
``ck_reconciliation_runs_state_valid`` allows, and the money conversion (integer cents to
exact numeric dollars) holds on real rows. A mapped view that does not exist is a failure,
never a skip. The API contract itself (responses, fields, API types) lives only in the
mapping file; the checks read it from there.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal

import pytest
import yaml

from attribution_db import PROJECT_ROOT, catalog
from checks.contract import RECONCILIATION_STATES

MAPPING_FILE = PROJECT_ROOT / "docs" / "contract_schema_mapping.yaml"

#: API type -> PostgreSQL types (format_type without type modifiers) that can carry it.
TYPE_COMPATIBILITY = {
    "number": {"numeric", "integer", "bigint"},
    "integer": {"integer", "bigint"},
    "boolean": {"boolean"},
    "uuid": {"uuid"},
    "date-time": {"timestamp with time zone"},
    "enum": {"character varying", "text"},
}

def load_mapping() -> dict:
    return yaml.safe_load(MAPPING_FILE.read_text(encoding="utf-8"))


def api_fields(mapping: dict) -> dict[str, dict[str, str]]:
    """The API contract as the mapping states it (its one source): response -> field -> API type."""
    return {
        response: {field: spec.get("api_type") for field, spec in ((body or {}).get("fields") or {}).items()}
        for response, body in (mapping.get("responses") or {}).items()
    }


def _relation(conn, relation: str):
    return catalog.read_relations(conn, "public", only=[relation]).get(relation)


def relation_kind(conn, relation: str) -> str | None:
    rel = _relation(conn, relation)
    return rel.kind if rel else None


def column_type(conn, qualified: str) -> str | None:
    """format_type of ``relation.column`` in schema public, or None when it does not exist."""
    relation, column = qualified.split(".", 1)
    rel = _relation(conn, relation)
    return next((c.type for c in rel.columns if c.name == column), None) if rel else None


def base_type(pg_type: str) -> str:
    return re.sub(r"\(.*\)", "", pg_type).strip()


def check_constraint_values(conn, qualified: str) -> tuple[str, list[str]]:
    """The column a ``col IN (...)`` check constraint tests, and the values it allows."""
    table, name = qualified.split(".", 1)
    rel = _relation(conn, table)
    found = [c.definition for c in (rel.constraints if rel else []) if c.name == name and c.kind == "c"]
    assert found, f"check constraint {name} on {table} does not exist"
    definition = found[0]
    column = re.match(r"CHECK \(+(\w+)\)?(::\w+)? = ANY", definition)
    assert column, f"{name} is not of the form `column IN (...)`: {definition}"
    values = [v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", definition)]
    return column.group(1), values


def field_problems(conn, response: str, field: str, spec: dict) -> tuple[list[str], str | None]:
    """What is wrong with one mapped field, and why its view column was not checked (if so)."""
    where = f"{response}.{field}"
    problems: list[str] = []
    api_type = spec.get("api_type")
    if api_type not in TYPE_COMPATIBILITY:
        problems.append(f"{where}: unknown api_type {api_type!r} (known: {sorted(TYPE_COMPATIBILITY)})")
    for source in spec.get("sources") or []:
        have = column_type(conn, source["column"])
        if have is None:
            problems.append(f"{where}: source column {source['column']} does not exist")
        elif have != source["type"]:
            problems.append(f"{where}: source column {source['column']} is {have}, the mapping says {source['type']}")
    if not spec.get("sources"):
        problems.append(f"{where}: no source column")
    if api_type == "enum":
        column, allowed = check_constraint_values(conn, spec["constraint"])
        if spec.get("values") != allowed:
            problems.append(f"{where}: values {spec.get('values')} but {spec['constraint']} allows {allowed}")
        source_columns = {s["column"] for s in spec.get("sources") or []}
        if f"{spec['constraint'].split('.')[0]}.{column}" not in source_columns:
            problems.append(f"{where}: {spec['constraint']} tests {column}, not a source of this field")
    have = column_type(conn, spec["column"])
    if have is None:
        problems.append(f"{where}: column {spec['column']} does not exist")
    elif api_type in TYPE_COMPATIBILITY and base_type(have) not in TYPE_COMPATIBILITY[api_type]:
        problems.append(
            f"{where}: column {spec['column']} is {have}, not compatible with API type {api_type} "
            f"(compatible: {sorted(TYPE_COMPATIBILITY[api_type])})"
        )
    return problems, None


def mapping_problems(conn, mapping: dict) -> tuple[list[str], list[str]]:
    """Every problem of the whole mapping, and every view column skipped (with the reason)."""
    problems, skipped = [], []
    responses = mapping.get("responses") or {}
    for response in responses:
        mapped = (responses.get(response) or {}).get("fields") or {}
        if not mapped:
            problems.append(f"{response}: no fields")
        for field, spec in mapped.items():
            found, skip = field_problems(conn, response, field, spec)
            problems += found
            if skip and skip.split(": ")[0] not in skipped:
                skipped.append(skip.split(": ")[0])
        api_view = (responses.get(response) or {}).get("api_view")
        for field, spec in mapped.items():
            have = column_type(conn, f"{api_view}.{field}") if api_view else None
            if have is None:
                problems.append(f"{response}.{field}: the API view {api_view}.{field} does not exist")
            elif spec.get("api_type") in TYPE_COMPATIBILITY and base_type(have) not in TYPE_COMPATIBILITY[spec["api_type"]]:
                problems.append(f"{response}.{field}: {api_view}.{field} is {have}, not compatible with {spec['api_type']}")
        read_model = (responses.get(response) or {}).get("read_model")
        if any(spec["column"].split(".")[0] != read_model for spec in mapped.values()):
            problems.append(f"{response}: every field must come from its read_model {read_model}")
    return problems, skipped


# -- the checks --------------------------------------------------------------------------
FIELDS = [(response, field) for response, fields in api_fields(load_mapping()).items() for field in fields]


def test_mapping_matches_the_api_contract():
    mapping = load_mapping()
    fields = api_fields(mapping)
    assert set(fields) == {"RealtimeRevenueResponse", "ReconciliationStatusResponse"}, sorted(fields)
    for response, body in mapping["responses"].items():
        assert body.get("endpoint", "").startswith("GET /api/"), f"{response}: no endpoint"
        assert body.get("read_model") and body.get("api_view"), f"{response}: no read_model or api_view"
        assert fields[response], f"{response}: no fields"
        for field, api_type in fields[response].items():
            assert api_type in TYPE_COMPATIBILITY, f"{response}.{field}: api_type {api_type!r}"
            assert body["fields"][field].get("required") is True, f"{response}.{field}: not required"
    realtime = mapping["responses"]["RealtimeRevenueResponse"]["fields"]
    assert realtime["data_freshness_seconds"]["minimum"] == 0
    conversion = realtime["total_revenue"]["conversion"]
    assert conversion["divisor"] == 100 and conversion["result_type"] == "numeric" and conversion["exact"] is True
    assert mapping["responses"]["ReconciliationStatusResponse"]["fields"]["state"]["values"] == list(RECONCILIATION_STATES)


@pytest.mark.parametrize(("response", "field"), FIELDS, ids=[f"{r}.{f}" for r, f in FIELDS])
def test_mapped_field_exists_with_a_compatible_type(catalog, response, field):
    spec = load_mapping()["responses"][response]["fields"][field]
    problems, skip = field_problems(catalog, response, field, spec)
    assert not problems, "\n".join(problems)
    assert skip is None, skip


def test_state_enum_equals_the_check_constraint(catalog):
    column, allowed = check_constraint_values(catalog, "reconciliation_runs.ck_reconciliation_runs_state_valid")
    assert column == "state"
    spec = load_mapping()["responses"]["ReconciliationStatusResponse"]["fields"]["state"]
    assert spec["values"] == allowed == list(RECONCILIATION_STATES)


def _needs(conn, relation: str) -> None:
    assert relation_kind(conn, relation) == "m", f"{relation} is not a materialized view in the migrated database"


def test_money_conversion_is_exact_cents_to_dollars(db):
    """1999 + 1 + 2 cents are exactly 20.02 dollars in mv_realtime_revenue, as numeric."""
    _needs(db, "mv_realtime_revenue")
    tenant = db.execute("INSERT INTO tenants (name) VALUES ('mapping probe') RETURNING id").fetchone()[0]
    for cents in (1999, 1, 2):
        db.execute(
            "INSERT INTO revenue_ledger (tenant_id, revenue_cents, is_verified, verified_at) "
            "VALUES (%s, %s, true, now())",
            (tenant, cents),
        )
    db.execute("REFRESH MATERIALIZED VIEW mv_realtime_revenue")
    row = db.execute(
        "SELECT total_revenue, pg_typeof(total_revenue)::text, verified, data_freshness_seconds "
        "FROM mv_realtime_revenue WHERE tenant_id = %s",
        (tenant,),
    ).fetchone()
    assert row is not None, "the refreshed mv_realtime_revenue has no row for a tenant with ledger rows"
    total, pg_type, verified, freshness = row
    assert pg_type == "numeric", f"total_revenue is {pg_type}, the mapping says exact numeric"
    assert isinstance(total, Decimal) and total == Decimal("20.02"), total
    assert verified is True
    assert freshness >= 0


def test_reconciliation_status_carries_the_constrained_state(db):
    _needs(db, "mv_reconciliation_status")
    tenant = db.execute("INSERT INTO tenants (name) VALUES ('mapping probe') RETURNING id").fetchone()[0]
    db.execute(
        "INSERT INTO reconciliation_runs (tenant_id, last_run_at, state) "
        "VALUES (%s, now() - interval '1 hour', 'failed'), (%s, now(), 'completed')",
        (tenant, tenant),
    )
    db.execute("REFRESH MATERIALIZED VIEW mv_reconciliation_status")
    state = db.execute("SELECT state FROM mv_reconciliation_status WHERE tenant_id = %s", (tenant,)).fetchone()
    assert state is not None and state[0] == "completed"


def test_whole_mapping_has_no_problem(catalog):
    problems, skipped = mapping_problems(catalog, load_mapping())
    assert not problems, "\n".join(problems)
    assert not skipped, "; ".join(skipped)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("RealtimeRevenueResponse", "total_revenue", "sources", 0, "column"), "revenue_ledger.revenue",
         "source column revenue_ledger.revenue does not exist"),
        (("RealtimeRevenueResponse", "total_revenue", "sources", 0, "type"), "numeric",
         "source column revenue_ledger.revenue_cents is integer, the mapping says numeric"),
        (("ReconciliationStatusResponse", "state", "values"), ["idle", "running", "failed", "done"],
         "allows ['idle', 'running', 'failed', 'completed']"),
        (("ReconciliationStatusResponse", "last_run_at", "api_type"), "integer",
         "column mv_reconciliation_status.last_run_at is timestamp with time zone, not compatible with API type integer"),
        (("RealtimeRevenueResponse", "verified", "column"), "revenue_ledger.no_such_column",
         "every field must come from its read_model"),
        (("RealtimeRevenueResponse", "verified", "column"), "mv_realtime_revenue.verified_flag",
         "column mv_realtime_revenue.verified_flag does not exist"),
        (("ReconciliationStatusResponse", "state", "column"), "mv_reconciliation_status.reconciliation_run_id",
         "mv_reconciliation_status.reconciliation_run_id is uuid, not compatible with API type enum"),
    ],
)  # fmt: skip
def test_a_broken_mapping_is_reported(catalog, path, value, expected):
    """The mapping check can fail: each kind of break is named."""
    mapping = copy.deepcopy(load_mapping())
    node = mapping["responses"][path[0]]["fields"]
    for key in path[1:-1]:
        node = node[key]
    node[path[-1]] = value
    problems, _ = mapping_problems(catalog, mapping)
    assert any(expected in p for p in problems), problems


def test_a_missing_api_view_is_reported(catalog):
    mapping = copy.deepcopy(load_mapping())
    mapping["responses"]["ReconciliationStatusResponse"]["api_view"] = "v_no_such_view"
    problems, _ = mapping_problems(catalog, mapping)
    assert any("the API view v_no_such_view.state does not exist" in p for p in problems), problems


def test_an_incompatible_view_column_type_is_reported(catalog):
    _needs(catalog, "mv_realtime_revenue")
    mapping = copy.deepcopy(load_mapping())
    mapping["responses"]["RealtimeRevenueResponse"]["fields"]["verified"]["api_type"] = "uuid"
    problems, _ = mapping_problems(catalog, mapping)
    assert any("mv_realtime_revenue.verified is boolean, not compatible with API type uuid" in p for p in problems)
