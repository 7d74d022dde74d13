"""Integrity added on top of the documented contract (DESIGN.md decision 9, issue 8), as data.

``contract.py`` is the data dictionary and stays exactly as documented: it is the floor.
Everything the schema carries beyond it is listed here, once, in the catalog's own spelling
(pg_get_constraintdef, pg_get_triggerdef), so a reviewer sees every extra object in one
place. The catalog checks that compare exact sets (checks, foreign keys, indexes) expect
"documented + ADDITIONS" through the helpers at the bottom; nothing else is tolerated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checks.contract import TABLES, Index


@dataclass(frozen=True)
class Added:
    """What one table carries beyond the dictionary. Definitions are as the catalog prints them."""

    unique: dict[str, str] = field(default_factory=dict)
    foreign_keys: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)
    triggers: dict[str, str] = field(default_factory=dict)


AUDIT_FUNCTION = "maintain_audit_timestamps"
PII_FUNCTION = "reject_pii_in_raw_payload"
LIMIT_FUNCTION = "reject_oversized_raw_payload"


def _audit_trigger(table: str) -> dict[str, str]:
    name = f"trg_{table}_audit_timestamps"
    return {name: f"CREATE TRIGGER {name} BEFORE UPDATE ON public.{table} "
                  f"FOR EACH ROW EXECUTE FUNCTION {AUDIT_FUNCTION}()"}  # fmt: skip


def _pii_trigger(table: str) -> dict[str, str]:
    name = f"trg_{table}_reject_pii"
    return {name: f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE OF raw_payload ON public.{table} "
                  f"FOR EACH ROW WHEN (has_pii_key(new.raw_payload)) EXECUTE FUNCTION {PII_FUNCTION}()"}  # fmt: skip


def _limit_trigger(table: str) -> dict[str, str]:
    # 202611281300: sorts before trg_<table>_reject_pii (triggers fire in name order).
    name = f"trg_{table}_limit_raw_payload"
    return {name: f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE OF raw_payload ON public.{table} "
                  f"FOR EACH ROW WHEN ((NOT raw_payload_within_limits(new.raw_payload))) "
                  f"EXECUTE FUNCTION {LIMIT_FUNCTION}()"}  # fmt: skip


def _rollup_triggers(table: str, function: str) -> dict[str, str]:
    # 202612071602: statement triggers with transition tables append to the rollup deltas.
    refs = {
        "insert": "REFERENCING NEW TABLE AS new_rows ",
        "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows ",
        "delete": "REFERENCING OLD TABLE AS old_rows ",
        "truncate": "",
    }
    return {
        f"trg_{table}_rollup_{op}": f"CREATE TRIGGER trg_{table}_rollup_{op} AFTER {op.upper()} "
        f"ON public.{table} {ref}FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        for op, ref in refs.items()
    }


ADDITIONS: dict[str, Added] = {
    "tenants": Added(triggers=_audit_trigger("tenants")),
    "attribution_events": Added(
        # 202511131400: the target of the tenant-consistent allocation foreign key.
        unique={"uq_attribution_events_tenant_id_id": "UNIQUE (tenant_id, id)"},
        indexes={"uq_attribution_events_tenant_id_id": Index(("tenant_id", "id"), unique=True)},
        # 202511131402 and 202511131403
        triggers={
            **_audit_trigger("attribution_events"),
            **_pii_trigger("attribution_events"),
            **_limit_trigger("attribution_events"),
        },
    ),
    "dead_events": Added(triggers={**_pii_trigger("dead_events"), **_limit_trigger("dead_events")}),
    "attribution_allocations": Added(
        # 202511131400: an allocation credits an event of its own tenant only.
        foreign_keys={
            "fk_attribution_allocations_tenant_event": "FOREIGN KEY (tenant_id, event_id) "
            "REFERENCES attribution_events(tenant_id, id) ON DELETE CASCADE",
        },
        indexes={"idx_attribution_allocations_tenant_event_id": Index(("tenant_id", "event_id"))},
        triggers={
            **_audit_trigger("attribution_allocations"),
            **_rollup_triggers("attribution_allocations", "rollup_allocations_delta"),
        },
    ),
    "revenue_ledger": Added(
        # 202511131401: a ledger row names a run of its own tenant; deleting the run clears
        # only reconciliation_run_id.
        foreign_keys={
            "fk_revenue_ledger_tenant_reconciliation_run": "FOREIGN KEY (tenant_id, reconciliation_run_id) "
            "REFERENCES reconciliation_runs(tenant_id, id) ON DELETE SET NULL (reconciliation_run_id)",
        },
        indexes={
            "idx_revenue_ledger_tenant_reconciliation_run_id": Index(
                ("tenant_id", "reconciliation_run_id"), where="(reconciliation_run_id IS NOT NULL)"
            ),
        },
        # 202511131404: a verified row says when it was verified.
        checks={"ck_revenue_ledger_verified_has_timestamp": "CHECK (((NOT is_verified) OR (verified_at IS NOT NULL)))"},
        triggers={
            **_audit_trigger("revenue_ledger"),
            **_rollup_triggers("revenue_ledger", "rollup_ledger_delta"),
        },
    ),
    "reconciliation_runs": Added(
        # 202511131401: the target of the tenant-consistent ledger foreign key.
        unique={"uq_reconciliation_runs_tenant_id_id": "UNIQUE (tenant_id, id)"},
        indexes={"uq_reconciliation_runs_tenant_id_id": Index(("tenant_id", "id"), unique=True)},
        triggers=_audit_trigger("reconciliation_runs"),
    ),
}

# Functions added (schema public), by signature as regprocedure prints it.
FUNCTIONS = {
    "maintain_audit_timestamps()": "trigger",
    "pii_keys()": "text[]",
    "is_pii_key(text)": "boolean",
    "has_pii_key(jsonb)": "boolean",
    "pii_key_paths(jsonb)": "text[]",
    "reject_pii_in_raw_payload()": "trigger",
    # 202611281300: raw_payload size and depth limits
    "raw_payload_max_bytes()": "integer",
    "raw_payload_max_depth()": "integer",
    "raw_payload_within_limits(jsonb)": "boolean",
    "reject_oversized_raw_payload()": "trigger",
    # 202611281301: the PII guard made linear, Unicode-normalised and capped
    "pii_ignorable_pattern()": "text",
    "pii_normalize_key(text)": "text",
    "pii_key_text(jsonb)": "text",
    "pii_key_pattern()": "text",
    "pii_key_ascii_pattern()": "text",
    "pii_key_count(jsonb)": "integer",
    "pii_paths_shown()": "integer",
    "pii_key_walk(jsonb)": "record",
    "pii_key_paths(jsonb,integer)": "text[]",
    # 202612071602/1604: rollup maintenance
    "rollup_allocations_delta()": "trigger",
    "rollup_ledger_delta()": "trigger",
    "fold_rollups()": "record",
    # 202612072002: one rollup's fold, of one tenant or all, and the batch a call moves
    "fold_rollup(text,uuid)": "bigint",
    "rollup_fold_batch_rows()": "bigint",
}

# 202611281500/1501: every timestamptz column an application role can write is finite
# (CHECK isfinite, 23514 for 'infinity' and '-infinity'), per table, as ck_<table>_<column>_finite.
FINITE_TIMESTAMPS: dict[str, tuple[str, ...]] = {
    "attribution_events": ("occurred_at", "created_at", "updated_at"),
    "dead_events": ("ingested_at",),
    "attribution_allocations": ("created_at", "updated_at"),
    "reconciliation_runs": ("last_run_at", "created_at", "updated_at"),
    "revenue_ledger": ("verified_at", "created_at", "updated_at"),
}
for _table, _columns in FINITE_TIMESTAMPS.items():
    ADDITIONS[_table].checks.update({f"ck_{_table}_{c}_finite": f"CHECK (isfinite({c}))" for c in _columns})

# 202612072000/2001: a channel fits every rollup key's index (23514 beyond 255 characters)
ADDITIONS["attribution_allocations"].checks["ck_attribution_allocations_channel_length"] = (
    "CHECK ((char_length(channel) <= 255))"
)


def added(table: str) -> Added:
    return ADDITIONS.get(table, Added())


# -- documented + added, for the exact-set checks ---------------------------------------------
def expected_checks(table: str) -> dict[str, str]:
    return {**TABLES[table].checks, **added(table).checks}


def expected_foreign_keys(table: str) -> set[str]:
    return {*TABLES[table].foreign_keys, *added(table).foreign_keys}


def expected_indexes(table: str) -> dict[str, Index]:
    return {**TABLES[table].indexes, **added(table).indexes}
