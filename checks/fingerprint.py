"""A fingerprint of everything the migrations create: the catalog layer's description.

``attribution_db.catalog.describe`` (the description ``make verify`` compares with
sql/catalog.json): schemas, relations (with RLS flags, options, privileges, view
definitions), columns, constraints, indexes, functions, triggers, policies, types,
extensions, the database's own privileges and settings, default privileges, every comment.
Left out, because they outlive a rollback by design: the cluster-wide application roles
(created when missing, never dropped) and the migrator's run lock (schema
``attribution_migrate``, ``attribution_db.migrate.LOCK_SCHEMA``); yoyo's bookkeeping tables
are left out by the catalog layer itself. Two databases with equal fingerprints hold the
same schema; ``diff`` says what differs.
"""

from __future__ import annotations

import json

import psycopg

from attribution_db import catalog
from attribution_db.migrate import LOCK_SCHEMA

#: Categories of the description that the migrations' rollbacks keep on purpose.
KEPT_BY_ROLLBACK = ("roles",)


def _in_lock_schema(name: str) -> bool:
    return name == LOCK_SCHEMA or name.startswith(f"{LOCK_SCHEMA}.")


def fingerprint(url_or_conn) -> dict[str, list[tuple]]:
    """Every category of the description as a sorted list of (object, its attributes)."""
    if isinstance(url_or_conn, str):
        with psycopg.connect(url_or_conn, autocommit=True) as conn:
            return fingerprint(conn)
    described = catalog.describe(url_or_conn)
    return {
        category: sorted((name, json.dumps(attrs, sort_keys=True)) for name, attrs in objects.items()
                         if not _in_lock_schema(name))
        for category, objects in described.items() if category not in KEPT_BY_ROLLBACK
    }  # fmt: skip


def diff(expected: dict, actual: dict) -> str:
    """What ``actual`` lacks and has in excess, category by category ('' when equal)."""
    lines = []
    for name in expected:
        missing = sorted(set(expected[name]) - set(actual[name]))
        extra = sorted(set(actual[name]) - set(expected[name]))
        lines += [f"{name}: missing {row}" for row in missing[:5]]
        lines += [f"{name}: extra {row}" for row in extra[:5]]
    return "\n".join(lines)


def objects(fp: dict) -> int:
    return sum(len(rows) for rows in fp.values())
