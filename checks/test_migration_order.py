"""Apply order is legible: from now on a migration's id says when it runs.

yoyo applies the folders of yoyo.ini one after the other, file by file, then moves a
migration after what its `-- depends:` names. The landed migrations up to LAST_LEGACY do not
follow id order (sql/migrations/202511131400-1601 run before sql/policies/202511131118) and
stay as they are: landed files never change. Every later migration must run after every
migration with a smaller id, so that sorting the ids of the migration folders gives the
apply order. `make status` lists migrations in the real apply order.

Mutation killed (new-migration-without-its-ordering-depends): a new migration in
sql/migrations/ without the `-- depends:` that orders it after the sql/policies/ ones.
"""

from __future__ import annotations

from yoyo.migrations import topological_sort

from attribution_db import migrate as migrate_module

#: The newest migration written before the rule; ids up to it keep their historical order.
LAST_LEGACY = "202511131601_comment_read_model_refreshes_pkey_index"


def apply_order() -> list[str]:
    return [m.id for m in topological_sort(migrate_module.load())]


def test_legacy_boundary_exists():
    assert LAST_LEGACY in apply_order(), f"{LAST_LEGACY} is gone from the migration folders"


def test_every_new_migration_runs_after_every_smaller_id():
    order = apply_order()
    late = []
    for position, mid in enumerate(order):
        if mid <= LAST_LEGACY:
            continue
        later_smaller = [other for other in order[position + 1 :] if other < mid]
        if later_smaller:
            late.append(f"{mid} runs before {', '.join(later_smaller)}")
    assert not late, (
        "id order is not apply order for new migrations (add `-- depends: <previous id>` to the "
        "header of the later one): " + "; ".join(late)
    )

