"""The B0.3 Foundation contract (../shared/seeds/000_1b00233eaeea0a5e.txt) as data.

Written once, in the catalog's own spelling (format_type, pg_get_expr,
pg_get_constraintdef), so the checks compare it to the live database literally.
"""

from __future__ import annotations

from dataclasses import dataclass, field

UUID = "uuid"
TSTZ = "timestamp with time zone"
NOW = "now()"
GEN_UUID = "gen_random_uuid()"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None = None


@dataclass(frozen=True)
class Index:
    columns: tuple[str, ...]
    unique: bool = False
    where: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...] = ("id",)
    on_delete: str = "CASCADE"


@dataclass
class Table:
    name: str
    columns: list[Column]
    checks: dict[str, str] = field(default_factory=dict)
    foreign_keys: dict[str, ForeignKey] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ("id",)
    tenant_scoped: bool = True

    def __post_init__(self) -> None:
        # The primary key's index is part of the catalog's index list too.
        self.indexes = {f"{self.name}_pkey": Index(self.primary_key, unique=True), **self.indexes}


def _id() -> Column:
    return Column("id", UUID, True, GEN_UUID)


def _tenant() -> Column:
    return Column("tenant_id", UUID, True)


def _timestamps() -> list[Column]:
    return [Column("created_at", TSTZ, True, NOW), Column("updated_at", TSTZ, True, NOW)]


def _tenant_fk(table: str) -> dict[str, ForeignKey]:
    return {f"{table}_tenant_id_fkey": ForeignKey(("tenant_id",), "tenants")}


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "tenants",
            [_id(), Column("name", "character varying(255)", True), *_timestamps()],
            checks={"ck_tenants_name_not_empty": "CHECK (((name)::text ~ '[^[:space:]]'::text))"},
            indexes={"idx_tenants_name": Index(("name",))},
            tenant_scoped=False,
        ),
        Table(
            "attribution_events",
            [
                _id(), _tenant(), *_timestamps(),
                Column("occurred_at", TSTZ, True),
                Column("external_event_id", "text", False),
                Column("correlation_id", UUID, False),
                Column("session_id", UUID, False),
                Column("revenue_cents", "integer", True, "0"),
                Column("raw_payload", "jsonb", True),
            ],  # fmt: skip
            checks={"ck_attribution_events_revenue_positive": "CHECK ((revenue_cents >= 0))"},
            foreign_keys=_tenant_fk("attribution_events"),
            indexes={
                "idx_attribution_events_tenant_external_event_id": Index(
                    ("tenant_id", "external_event_id"), unique=True,
                    where="(external_event_id IS NOT NULL)",
                ),
                "idx_attribution_events_tenant_correlation_id": Index(
                    ("tenant_id", "correlation_id"), unique=True,
                    where="((correlation_id IS NOT NULL) AND (external_event_id IS NULL))",
                ),
                "idx_attribution_events_tenant_occurred_at": Index(("tenant_id", "occurred_at DESC")),
                "idx_attribution_events_session_id": Index(("session_id",), where="(session_id IS NOT NULL)"),
            },  # fmt: skip
        ),
        Table(
            "dead_events",
            [
                _id(), _tenant(),
                Column("ingested_at", TSTZ, True, NOW),
                Column("source", "text", True),
                Column("error_code", "text", True),
                Column("error_detail", "jsonb", True),
                Column("raw_payload", "jsonb", True),
                Column("correlation_id", UUID, False),
                Column("external_event_id", "text", False),
            ],  # fmt: skip
            foreign_keys=_tenant_fk("dead_events"),
            indexes={
                "idx_dead_events_tenant_ingested_at": Index(("tenant_id", "ingested_at DESC")),
                "idx_dead_events_source": Index(("source",)),
                "idx_dead_events_error_code": Index(("error_code",)),
            },
        ),
        Table(
            "attribution_allocations",
            [
                _id(), _tenant(),
                Column("event_id", UUID, True),
                *_timestamps(),
                Column("channel", "text", True),
                Column("allocated_revenue_cents", "integer", True, "0"),
                Column("model_metadata", "jsonb", False),
                Column("correlation_id", UUID, False),
            ],  # fmt: skip
            checks={"ck_attribution_allocations_revenue_positive": "CHECK ((allocated_revenue_cents >= 0))"},
            foreign_keys={
                **_tenant_fk("attribution_allocations"),
                "attribution_allocations_event_id_fkey": ForeignKey(("event_id",), "attribution_events"),
            },
            indexes={
                "idx_attribution_allocations_tenant_created_at": Index(("tenant_id", "created_at DESC")),
                "idx_attribution_allocations_event_id": Index(("event_id",)),
                "idx_attribution_allocations_channel": Index(("channel",)),
            },
        ),
        Table(
            "revenue_ledger",
            [
                _id(), _tenant(), *_timestamps(),
                Column("revenue_cents", "integer", True, "0"),
                Column("is_verified", "boolean", True, "false"),
                Column("verified_at", TSTZ, False),
                Column("reconciliation_run_id", UUID, False),
            ],  # fmt: skip
            checks={"ck_revenue_ledger_revenue_positive": "CHECK ((revenue_cents >= 0))"},
            foreign_keys=_tenant_fk("revenue_ledger"),
            indexes={
                "idx_revenue_ledger_tenant_updated_at": Index(("tenant_id", "updated_at DESC")),
                "idx_revenue_ledger_is_verified": Index(("is_verified",), where="(is_verified = true)"),
            },
        ),
        Table(
            "reconciliation_runs",
            [
                _id(), _tenant(), *_timestamps(),
                Column("last_run_at", TSTZ, True),
                Column("state", "character varying(20)", True, "'idle'::character varying"),
                Column("error_message", "text", False),
                Column("run_metadata", "jsonb", False),
            ],  # fmt: skip
            checks={
                "ck_reconciliation_runs_state_valid": "CHECK (((state)::text = ANY ((ARRAY['idle'::character "
                "varying, 'running'::character varying, 'failed'::character varying, "
                "'completed'::character varying])::text[])))"
            },
            foreign_keys=_tenant_fk("reconciliation_runs"),
            indexes={
                "idx_reconciliation_runs_tenant_last_run_at": Index(("tenant_id", "last_run_at DESC")),
                "idx_reconciliation_runs_state": Index(("state",)),
            },
        ),
    ]
}

TENANT_SCOPED = [name for name, table in TABLES.items() if table.tenant_scoped]
RECONCILIATION_STATES = ("idle", "running", "failed", "completed")

# -- Row-Level Security (RLS) Policies / Roles and GRANTs ---------------------------------
POLICY = "tenant_isolation_policy"
# pg_policies' deparsing of `tenant_id = current_setting('app.current_tenant_id')::uuid`
POLICY_EXPR = "(tenant_id = (current_setting('app.current_tenant_id'::text))::uuid)"
APP_ROLES = ("app_rw", "app_ro")
TABLE_GRANTS = {
    "app_rw": {"SELECT", "INSERT", "UPDATE", "DELETE"},
    "app_ro": {"SELECT"},
}

# -- Materialized Views -----------------------------------------------------------------
MATERIALIZED_VIEWS = {
    "mv_realtime_revenue": {
        "columns": [
            ("tenant_id", "uuid"),
            ("total_revenue", "numeric"),
            ("verified", "boolean"),
            ("data_freshness_seconds", "integer"),
        ],
        "index": "idx_mv_realtime_revenue_tenant_id",
    },
    "mv_reconciliation_status": {
        "columns": [
            ("tenant_id", "uuid"),
            ("state", "character varying(20)"),
            ("last_run_at", TSTZ),
            ("reconciliation_run_id", "uuid"),
        ],
        "index": "idx_mv_reconciliation_status_tenant_id",
    },
}
VIEW_GRANTS = {"app_rw": {"SELECT"}, "app_ro": {"SELECT"}}

# -- Beyond the dictionary (DESIGN decision 9): added objects, each with its reason ------
# The tenant-scoped read path of the API (docs/decisions/0001-materialized-views-and-rls.md).
CURRENT_TENANT_VIEWS = {
    "v_realtime_revenue_current_tenant": "mv_realtime_revenue",
    "v_reconciliation_status_current_tenant": "mv_reconciliation_status",
}
# Tables that hold no tenant data, beside the six documented ones.
EXTRA_TABLES = {
    "read_model_refreshes": "bookkeeping of refresh_read_model(): last refresh and its duration",
    "rollup_folds": "bookkeeping of fold_rollups(): last fold, its duration, its single-flight lock",
}
# The dashboard rollups (issue 11, docs/rollups.md): tenant-scoped, each with its delta table.
ROLLUP_TABLES = {
    "rollup_channel_daily": "rollup_channel_daily_delta",
    "rollup_ledger_daily": "rollup_ledger_daily_delta",
}
# Their read path: rollup plus unfolded deltas of the current tenant.
ROLLUP_VIEWS = {
    "v_rollup_channel_daily": "rollup_channel_daily",
    "v_rollup_ledger_daily": "rollup_ledger_daily",
}

#: Each table's Purpose, Data Class and Ownership as the dictionary states them; the table's
#: COMMENT carries them (first line the purpose, then "Data Class: ..." and "Ownership: ...").
TABLE_FACTS: dict[str, dict[str, str]] = {
    "tenants": {
        "Purpose": "Store tenant information for multi-tenant isolation",
        "Data Class": "Non-PII",
        "Ownership": "Backend service",
    },
    "attribution_events": {
        "Purpose": "Store attribution events for revenue tracking and attribution calculations",
        "Data Class": "Non-PII (PII stripped from raw_payload before persistence)",
        "Ownership": "Attribution service",
    },
    "dead_events": {
        "Purpose": "Dead-letter queue for invalid/unparseable webhook payloads",
        "Data Class": "Non-PII (PII stripped from raw_payload before persistence)",
        "Ownership": "Ingestion service",
    },
    "attribution_allocations": {
        "Purpose": "Store attribution model allocations (channel credit assignments)",
        "Data Class": "Non-PII",
        "Ownership": "Attribution service",
    },
    "revenue_ledger": {
        "Purpose": "Store verified revenue aggregates for reconciliation",
        "Data Class": "Non-PII",
        "Ownership": "Reconciliation service",
    },
    "reconciliation_runs": {
        "Purpose": "Store reconciliation pipeline run status and metadata",
        "Data Class": "Non-PII",
        "Ownership": "Reconciliation service",
    },
}
