"""The mutation catalog (checks/mutations/*.yaml) is well-formed, and the harness refuses bad entries.

Needs no database: `make mutate` does the running; this keeps a catalog entry from rotting
(a `find` that no longer occurs exactly once) between mutation runs.
"""

from __future__ import annotations

import textwrap

import pytest

from attribution_db import mutate


def test_every_catalog_entry_is_well_formed():
    entries = mutate.load_catalog()
    assert len(entries) >= 27
    broken = [f"{e.source}: {e.id}: {e.problem}" for e in entries if e.problem]
    assert not broken, "\n".join(broken)


def _catalog(tmp_path, body: str):
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "a.sql").write_text("CREATE TABLE t (x int);\nSELECT 1;\nSELECT 1;\n", encoding="utf-8")
    (tmp_path / "checks" / "mutations").mkdir(parents=True)
    (tmp_path / "checks" / "mutations" / "x.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return {e.id: e.problem for e in mutate.load_catalog(tmp_path)}


ENTRY = """\
- id: {id}
  file: {file}
  find: "{find}"
  replace: "x"
  kills: [{kills}]
  why: w
"""


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, None),
        ({"find": "no such text"}, "occurs 0 times"),
        ({"find": "SELECT 1;"}, "occurs 2 times"),
        ({"file": "sql/missing.sql"}, "does not exist"),
        ({"kills": "checks/test_lifecycle.py::test_manifest_records_every_migration_file_unchanged"}, "staleness"),
        ({"kills": "checks/test_docs.py::test_committed_document_is_up_to_date"}, "staleness"),
        ({"kills": "checks/test_x.py"}, "node ids"),
        ({"id": "Not_Kebab"}, "kebab"),
    ],
)
def test_bad_entries_are_named(tmp_path, fields, expected):
    values = {"id": "m", "file": "sql/a.sql", "find": "CREATE TABLE t", "kills": "checks/test_x.py::test_y", **fields}
    problems = _catalog(tmp_path, ENTRY.format(**values))
    (problem,) = problems.values()
    if expected is None:
        assert problem is None
    else:
        assert problem and expected in problem, problem


def test_duplicate_ids_and_missing_keys_are_named(tmp_path):
    body = ENTRY.format(id="m", file="sql/a.sql", find="CREATE TABLE t", kills="checks/t.py::a") * 2
    body += "- id: n\n  file: sql/a.sql\n"
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "a.sql").write_text("CREATE TABLE t (x int);\n", encoding="utf-8")
    (tmp_path / "checks" / "mutations").mkdir(parents=True)
    (tmp_path / "checks" / "mutations" / "x.yaml").write_text(body, encoding="utf-8")
    problems = [e.problem for e in mutate.load_catalog(tmp_path)]
    assert problems[0] is None
    assert "id also used" in problems[1]
    assert "missing find, replace, kills, why" in problems[2]


def test_node_id_expansion_covers_parameters_only():
    collected = {"c.py::t[a]", "c.py::t[b]", "c.py::t_other", "c.py::u"}
    assert mutate.expand("c.py::t", collected) == ["c.py::t[a]", "c.py::t[b]"]
    assert mutate.expand("c.py::u", collected) == ["c.py::u"]
    assert mutate.expand("c.py::v", collected) == []


def test_role_mutations_get_a_server_of_their_own():
    entry = mutate.Entry("r", "sql/x.sql", "NOLOGIN", "LOGIN", ["a::b"], "w", "x.yaml")
    assert not entry.own_server
    entry.replace = "ALTER ROLE app_rw LOGIN"
    assert entry.own_server


def test_a_mutation_of_a_definition_replaced_later_is_named_inert(tmp_path):
    """A mutation that edits a function or view a later migration defines again changes
    nothing in force (no-path-cap and five read-model mutations survived so in CI); the
    harness names it, in make test, before any mutation run. Kills: inert-mutations-judged
    (checks/mutations/layout.yaml)."""
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (tmp_path / "yoyo.ini").write_text("[DEFAULT]\nsources = sql\n", encoding="utf-8")
    body = "CREATE OR REPLACE FUNCTION f(payload jsonb, shown integer DEFAULT 20) RETURNS int\nLANGUAGE sql AS $$ SELECT {} $$;\n"
    tagged = ("CREATE FUNCTION g() RETURNS int LANGUAGE plpgsql AS $fn$\nDECLARE n int;\nBEGIN\n"
              "    n := {};\n    RETURN n;\nEND\n$fn$;\n")  # a tagged body with statements inside
    (sql_dir / "1_first.sql").write_text(body.format(1) + "CREATE VIEW v AS SELECT 1 AS one;\n" + tagged.format(7),
                                         encoding="utf-8")  # fmt: skip
    (sql_dir / "2_second.sql").write_text("-- depends: 1_first\n" + body.format(2) + tagged.replace("CREATE", "CREATE OR REPLACE", 1).format(8),
                                          encoding="utf-8")  # fmt: skip
    (sql_dir / "3_other.sql").write_text("-- depends: 2_second\nCREATE FUNCTION f(payload text) RETURNS int\nLANGUAGE sql AS $$ SELECT 3 $$;\n", encoding="utf-8")
    (tmp_path / "checks" / "mutations").mkdir(parents=True)
    entries = "".join(ENTRY.format(id=i, file=f, find=find, kills="checks/t.py::a") for i, f, find in [
        ("replaced", "sql/1_first.sql", "SELECT 1 $$"),
        ("in-force", "sql/2_second.sql", "SELECT 2 $$"),
        ("view-kept", "sql/1_first.sql", "SELECT 1 AS one"),
        ("overload-kept", "sql/3_other.sql", "SELECT 3 $$"),
        ("tagged-replaced", "sql/1_first.sql", "n := 7;"),
    ])  # fmt: skip
    (tmp_path / "checks" / "mutations" / "x.yaml").write_text(entries, encoding="utf-8")
    problems = {e.id: e.problem for e in mutate.load_catalog(tmp_path)}
    assert problems["replaced"] and "inert: function f is defined again by sql/2_second.sql" in problems["replaced"]
    assert problems["in-force"] is None and problems["view-kept"] is None and problems["overload-kept"] is None
    assert problems["tagged-replaced"] and "inert: function g is defined again by sql/2_second.sql" in problems["tagged-replaced"]
