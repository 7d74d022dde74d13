"""Headers say what and why in a few lines (issue 13, docs/decisions/0004-short-migration-headers.md).

From FIRST_UNDER_RULE on, every migration of the yoyo folders starts with a header of at
most MAX_HEADER_LINES comment lines (the leading `--` lines, yoyo's own `-- depends:` and
`-- transactional:` lines included), the `-- depends:` line is inside it, and its
`.rollback.sql` exists beside it. Longer reasoning goes to docs/decisions/. The landed
migrations before FIRST_UNDER_RULE keep their longer headers: landed files never change.

Mutation killed (header-longer-than-eight-lines): 202611281550's header grown to 9 lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from attribution_db.migrate import sources

#: The first migration written under the rule (it conforms); every later id must too.
FIRST_UNDER_RULE = "202611281550"
MAX_HEADER_LINES = 8


def header(text: str) -> list[str]:
    """The leading comment lines of a migration (up to the first other line)."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    return lines


def header_problems(path: Path) -> list[str]:
    """What is wrong with one migration's header and rollback ([] when nothing)."""
    problems = []
    lines = header(path.read_text(encoding="utf-8"))
    if len(lines) > MAX_HEADER_LINES:
        problems.append(f"{path.name}: header of {len(lines)} comment lines (at most {MAX_HEADER_LINES}; "
                        "move the reasoning to docs/decisions/)")  # fmt: skip
    if not any(line.startswith("-- depends:") for line in lines):
        problems.append(f"{path.name}: no `-- depends:` line in its header")
    if not path.with_name(path.name.removesuffix(".sql") + ".rollback.sql").exists():
        problems.append(f"{path.name}: no {path.name.removesuffix('.sql')}.rollback.sql beside it")
    return problems


def migrations_under_rule(folders: list[str]) -> list[Path]:
    return sorted(
        (p for folder in folders for p in Path(folder).glob("*.sql")
         if not p.name.endswith(".rollback.sql") and p.name[:12] >= FIRST_UNDER_RULE),
        key=lambda p: p.name,
    )  # fmt: skip


def test_first_migration_under_the_rule_exists():
    names = [p.name for p in migrations_under_rule(sources())]
    assert any(name.startswith(FIRST_UNDER_RULE) for name in names), names


def test_every_new_migration_has_a_short_header_with_depends_and_a_rollback():
    problems = [problem for path in migrations_under_rule(sources()) for problem in header_problems(path)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("body", "rollback", "expected"),
    [
        ("-- what\n" * 8 + "-- depends: x\n\nSELECT 1;\n", True, "header of 9 comment lines"),
        ("-- what and why\n\n-- depends: x\nSELECT 1;\n", True, "no `-- depends:` line"),
        ("-- what and why\n-- depends: x\n\nSELECT 1;\n", False, "no 209912312359_x.rollback.sql"),
    ],
    ids=["too-long", "depends-outside-header", "no-rollback"],
)
def test_a_bad_header_is_reported(tmp_path, body, rollback, expected):
    migration = tmp_path / "209912312359_x.sql"
    migration.write_text(body, encoding="utf-8")
    if rollback:
        (tmp_path / "209912312359_x.rollback.sql").write_text("-- undo\n", encoding="utf-8")
    assert migrations_under_rule([str(tmp_path)]) == [migration]
    problems = header_problems(migration)
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_good_header_passes(tmp_path):
    migration = tmp_path / "209912312359_x.sql"
    migration.write_text("-- what\n" * 6 + "-- transactional: false\n-- depends: x\n\nSELECT 1;\n", encoding="utf-8")
    (tmp_path / "209912312359_x.rollback.sql").write_text("-- undo\n", encoding="utf-8")
    assert header_problems(migration) == []
