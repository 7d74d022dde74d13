"""Living documentation: the data dictionary and the ERD, generated from the catalog.

Everything in the generated documents is read from ``pg_catalog`` of a freshly migrated
database (descriptions come from ``COMMENT ON``), except the header, which comes from the
repository (the schema version in ``pyproject.toml``'s ``[tool.attribution-db]`` table and
the migration ids of the yoyo sources). Nothing depends on the clock, on the server's name
or on the migrating role, and every list is sorted: regenerating on a fresh clone gives the
same bytes.

``attribution-db docs`` (``make docs``) writes the documents; ``attribution-db docs --check``
and ``checks/test_docs.py`` fail when the committed ones are stale.

This module renders only: the catalog is read by ``attribution_db.catalog.read_schema``
(generic over schema ``public``: tables, views, materialized views, their columns,
constraints of every kind, indexes, triggers, rules, policies, sequences, domains and enum
types, functions and procedures, and the application roles; yoyo's own bookkeeping tables
are left out, they are the tool's, not the schema's).
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from pathlib import Path

import psycopg

from attribution_db import PROJECT_ROOT, CliError, dburl
from attribution_db.catalog import SCHEMA, Relation, read_schema
from attribution_db.catalog import Schema as Catalog

DOCS_DIR = PROJECT_ROOT / "docs"
DICTIONARY = "data_dictionary.md"
ERD = "erd.md"

#: Keys of a table or view comment, after its first line (the purpose), in display order.
#: Other ``Key: value`` lines are shown after these, in the order the comment has them.
KNOWN_KEYS = ("Data Class", "Ownership", "Contract Mapping")

CONSTRAINT_KINDS = {
    "p": "Primary Key",
    "f": "Foreign Key",
    "u": "Unique",
    "c": "Check Constraint",
    "x": "Exclusion",
    "t": "Constraint Trigger",
}
CONSTRAINT_ORDER = "pfucxt"
PRIVILEGE_ORDER = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
                   "USAGE", "EXECUTE", "CREATE")  # fmt: skip


# -- the repository's side: version and migrations ---------------------------------------
def schema_version() -> str:
    """``[tool.attribution-db] schema-version`` of pyproject.toml, with the package version."""
    data = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    name = data.get("tool", {}).get("attribution-db", {}).get("schema-version")
    if not name:
        raise CliError("pyproject.toml has no [tool.attribution-db] schema-version")
    return f"{name} (attribution-db {data['project']['version']})"


def migration_files() -> list[str]:
    """Every migration of the yoyo sources, as paths relative to the checkout, by id."""
    from attribution_db.migrate import load, relpath

    return [relpath(m) for m in sorted(load(), key=lambda m: m.id)]


# -- small helpers ------------------------------------------------------------------------
def md(text: str | None) -> str:
    """Text fit for one cell of a Markdown table (one line, pipes escaped)."""
    if text is None or not str(text).strip():
        return "-"
    return " ".join(str(text).split()).replace("|", "\\|")


def code(text: str) -> str:
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def comment_line(text: str | None) -> str:
    return " ".join(text.split()) if text and text.strip() else "(no comment)"


def split_comment(text: str | None) -> tuple[str, dict[str, str]]:
    """A multi-line object comment: first line is the purpose, then ``Key: value`` lines.

    A line that is not ``Key: value`` continues the line before it.
    """
    if not text or not text.strip():
        return "(no comment)", {}
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    purpose, fields, last = lines[0], {}, None
    for line in lines[1:]:
        match = re.fullmatch(r"([A-Z][A-Za-z /-]{1,40}):\s*(.*)", line)
        if match:
            last = match.group(1)
            fields[last] = match.group(2)
        elif last:
            fields[last] += " " + line
        else:
            purpose += " " + line
    return purpose, fields


def short_type(pg_type: str) -> str:
    """A PostgreSQL type as one Mermaid-safe word (timestamptz, varchar(20), numeric(12_2))."""
    text = pg_type.replace("timestamp with time zone", "timestamptz")
    text = text.replace("timestamp without time zone", "timestamp")
    text = text.replace("time with time zone", "timetz").replace("time without time zone", "time")
    text = text.replace("character varying", "varchar").replace("double precision", "float8")
    text = text.replace(",", "_")
    return re.sub(r"[^A-Za-z0-9_()\[\]-]", "_", text)


# -- rendering: the data dictionary -------------------------------------------------------
def _header_fields(rel: Relation) -> list[str]:
    purpose, fields = split_comment(rel.comment)
    lines = [f"**Purpose**: {purpose}"]
    for key in KNOWN_KEYS[:2]:
        if key in fields:
            lines.append(f"**{key}**: {fields[key]}")
    if rel.kind in "rp":
        lines.append(f"**RLS**: {_rls_text(rel)}")
    elif rel.kind == "m":
        lines.append("**RLS**: not applicable (materialized views cannot carry row-level security)")
    for key, value in fields.items():
        if key not in KNOWN_KEYS[:2]:
            lines.append(f"**{key}**: {value}")
    if rel.options:
        lines.append(f"**Options**: {', '.join(code(o) for o in rel.options)}")
    return ["  \n".join(lines), ""]


def _rls_text(rel: Relation) -> str:
    if not rel.rls:
        return "Disabled"
    return "Enabled and forced (the owner obeys the policies too)" if rel.rls_forced else (
        "Enabled, not forced (the owner bypasses it)"
    )


def _columns_table(rel: Relation, with_defaults: bool) -> list[str]:
    if with_defaults:
        out = ["| Column | Type | Nullable | Default | Description |",
               "|--------|------|----------|---------|-------------|"]  # fmt: skip
    else:
        out = ["| Column | Type | Description |", "|--------|------|-------------|"]
    for col in rel.columns:
        if with_defaults:
            default = col.default
            if col.identity:
                default = f"GENERATED {'ALWAYS' if col.identity == 'a' else 'BY DEFAULT'} AS IDENTITY"
            elif col.generated:
                default = f"GENERATED ALWAYS AS ({col.default}) STORED"
            nullable = "NOT NULL" if col.not_null else "NULL"
            out.append(f"| {col.name} | {md(col.type)} | {nullable} | {md(default)} | {md(col.comment)} |")
        else:
            out.append(f"| {col.name} | {md(col.type)} | {md(col.comment)} |")
    return out + [""]


def _constraints(rel: Relation) -> list[str]:
    out = ["#### Constraints", ""]
    cons = sorted(rel.constraints, key=lambda c: (CONSTRAINT_ORDER.index(c.kind), c.name))
    if not cons:
        return out + ["None", ""]
    for con in cons:
        out.append(f"- **{CONSTRAINT_KINDS[con.kind]}**: {code(con.name)} - {code(con.definition)}"
                   f" - {comment_line(con.comment)}")  # fmt: skip
    return out + [""]


def _indexes(rel: Relation) -> list[str]:
    out = ["#### Indexes", ""]
    if not rel.indexes:
        return out + ["None", ""]
    for idx in rel.indexes:
        definition = idx.definition.split(" USING ", 1)[1] if " USING " in idx.definition else idx.definition
        flags = "unique " if idx.unique else ""
        backs = f" (backs constraint {code(idx.constraint)})" if idx.constraint else ""
        out.append(f"- {code(idx.name)} - {flags}{code(definition)}{backs} - {comment_line(idx.comment)}")
    return out + [""]


def _foreign_keys(rel: Relation, cat: Catalog) -> list[str]:
    out = ["#### Foreign Keys", ""]
    fks = [c for c in rel.constraints if c.kind == "f"]
    for fk in fks:
        target = f"{fk.ref_table}({', '.join(fk.ref_columns)})"
        line = f"- {code(', '.join(fk.columns))} REFERENCES {code(target)} ON DELETE {fk.on_delete}"
        if fk.on_update != "NO ACTION":
            line += f" ON UPDATE {fk.on_update}"
        out.append(line + f" ({code(fk.name)})")
    incoming = sorted(
        (other.name, con.name, con.columns)
        for other in cat.tables
        for con in other.constraints
        if con.kind == "f" and con.ref_table == rel.name
    )
    if not fks:
        out.append("None" if not incoming else "None (this table references no other)")
    if incoming:
        out += ["", "Referenced by:", ""]
        out += [f"- {code(t + '(' + ', '.join(cols) + ')')} ({code(n)})" for t, n, cols in incoming]
    return out + [""]


def _triggers(rel: Relation) -> list[str]:
    if not rel.triggers and not rel.rules:
        return []
    out = ["#### Triggers", ""]
    for trg in rel.triggers:
        state = "" if trg.enabled == "O" else " (disabled)" if trg.enabled == "D" else f" (enabled: {trg.enabled})"
        match = re.match(r"CREATE (?:CONSTRAINT )?TRIGGER \S+ (.*?) ON \S+ (.*)$", trg.definition)
        body = f"{match.group(1)} {match.group(2)}" if match else trg.definition
        out.append(f"- {code(trg.name)} - {code(body)}{state} - {comment_line(trg.comment)}")
    for name, definition, comment in rel.rules:
        out.append(f"- rule {code(name)} - {code(' '.join(definition.split()))} - {comment_line(comment)}")
    return out + [""]


def _view_section(rel: Relation, level: str = "###") -> list[str]:
    out = [f"{level} {rel.name}", ""] + _header_fields(rel)
    out += ["#### Columns", ""] + _columns_table(rel, with_defaults=False)
    if rel.kind == "m":
        out += _indexes(rel)
    out += _triggers(rel)
    out += ["#### Definition", "", "```sql", rel.definition.strip(), "```", "", "---", ""]
    return out


def render_dictionary(cat: Catalog, version: str, migrations: list[str]) -> str:
    out = [
        "# Data Dictionary",
        "",
        "<!-- Generated by `make docs` from a freshly migrated database: do not edit by hand. -->",
        "",
        "  \n".join([
            f"**Schema Version**: {version}",
            f"**Migration Baseline**: {code(migrations[0]) if migrations else '-'}",
            f"**Latest Migration**: {code(migrations[-1]) if migrations else '-'}",
            f"**Migrations**: {len(migrations)}",
        ]),
        "",
        "## Overview",
        "",
        "This data dictionary documents every table, column, constraint, index, view, function, "
        "trigger, policy, role and grant of schema `public`. It is generated from the catalog "
        "of a freshly migrated database; every description is the object's `COMMENT`. "
        "The entity-relationship diagram is in [erd.md](erd.md); the API contract mapping in "
        "[contract_schema_mapping.yaml](contract_schema_mapping.yaml).",
        "",
        "## Tables",
        "",
    ]  # fmt: skip
    for rel in cat.tables:
        out += [f"### {rel.name}", ""] + _header_fields(rel)
        out += ["#### Columns", ""] + _columns_table(rel, with_defaults=True)
        out += _constraints(rel) + _indexes(rel) + _foreign_keys(rel, cat) + _triggers(rel)
        out += ["---", ""]

    for title, kind in (("Materialized Views", "m"), ("Views", "v")):
        rels = cat.of_kind(kind)
        out += [f"## {title}", ""]
        if not rels:
            out += ["None", "", "---", ""]
        for rel in rels:
            out += _view_section(rel)

    sequences = cat.of_kind("S")
    if sequences:
        out += ["## Sequences", ""]
        out += [f"- {code(s.name)} - {comment_line(s.comment)}" for s in sequences] + ["", "---", ""]
    if cat.types:
        out += ["## Types and Domains", ""]
        out += [f"- {code(t['name'])} - {code(t['definition'])} - {comment_line(t['comment'])}"
                for t in cat.types] + ["", "---", ""]  # fmt: skip

    out += ["## Functions and Procedures", ""]
    if not cat.functions:
        out += ["None", ""]
    for fn in cat.functions:
        kind = {"p": "procedure", "a": "aggregate", "w": "window function"}.get(fn["kind"], "function")
        result = f" returns {code(fn['result'])}" if fn["result"] else ""
        volatility = {"i": "immutable", "s": "stable", "v": "volatile"}[fn["volatility"]]
        security = "SECURITY DEFINER" if fn["security_definer"] else "SECURITY INVOKER"
        config = "".join(f", {code('SET ' + c)}" for c in fn["config"])
        out.append(f"- {code(fn['signature'])} - {kind}{result}, {fn['language']}, {volatility}, "
                   f"{security}{config} - {comment_line(fn['comment'])}")  # fmt: skip
    out += ["", "---", ""]

    out += ["## Row-Level Security (RLS) Policies", ""]
    out += ["| Table | RLS | Forced | Policies |", "|-------|-----|--------|----------|"]
    for rel in cat.tables:
        names = ", ".join(p.name for p in cat.policies if p.table == rel.name) or "-"
        out.append(f"| {rel.name} | {'enabled' if rel.rls else 'disabled'} | "
                   f"{'yes' if rel.rls_forced else 'no'} | {names} |")  # fmt: skip
    out.append("")
    for pol in cat.policies:
        kind = "permissive" if pol.permissive else "restrictive"
        out += [f"### {pol.name} on {pol.table}", "", comment_line(pol.comment), ""]
        out += ["  \n".join([
            f"**Command**: {pol.command} ({kind})",
            f"**Roles**: {', '.join(pol.roles)}",
            f"**USING**: {code(pol.using) if pol.using else '-'}",
            f"**WITH CHECK**: {code(pol.check) if pol.check else '-'}",
        ]), ""]  # fmt: skip
    out += ["---", ""]

    out += ["## Roles and GRANTs", ""]
    for role in cat.roles:
        attrs = ["LOGIN" if role["login"] else "NOLOGIN", "SUPERUSER" if role["superuser"] else "NOSUPERUSER",
                 "BYPASSRLS" if role["bypassrls"] else "NOBYPASSRLS"]  # fmt: skip
        out += [f"### {role['name']}", "", comment_line(role["comment"]), "",
                f"**Attributes**: {', '.join(attrs)}", ""]  # fmt: skip
        out += _grants(cat, role["name"])
    out += ["### PUBLIC", "", "Every role; what is granted to PUBLIC is granted to all.", ""]
    out += _grants(cat, "PUBLIC")
    out += ["---", "", "## Cross-References", ""]
    out += [
        "- **ERD**: [erd.md](erd.md)",
        "- **Contract Mapping**: [contract_schema_mapping.yaml](contract_schema_mapping.yaml)",
        "- **Migrations**: " + ", ".join(code(f"{d}/") for d in _folders(migrations)),
        "- **Regenerate**: `make docs` (a check fails when this file is stale)",
        "",
    ]
    return "\n".join(out)


def _folders(migrations: list[str]) -> list[str]:
    return list(dict.fromkeys(str(Path(m).parent) for m in migrations))


def _grants(cat: Catalog, grantee: str) -> list[str]:
    out: list[str] = []
    given = cat.grants.get(grantee, {})
    sections = (
        ("Grants on Tables", [r.name for r in cat.tables]),
        ("Grants on Views", [r.name for r in cat.of_kind("m", "v")]),
        ("Grants on Sequences", [r.name for r in cat.of_kind("S")]),
        ("Grants on Functions", [f["signature"] for f in cat.functions]),
    )
    for title, labels in sections:
        lines = [f"- {code(label)}: {', '.join(_sorted_privileges(given[label]))}"
                 for label in labels if given.get(label)]  # fmt: skip
        if labels:
            out += [f"**{title}**:"] + (lines or ["- none"]) + [""]
    schema = _sorted_privileges(cat.schema_grants.get(grantee, []))
    out += [f"**Schema `{SCHEMA}`**: {', '.join(schema) if schema else 'nothing'}", ""]
    return out


def _sorted_privileges(privileges: list[str]) -> list[str]:
    return sorted(set(privileges), key=lambda p: (PRIVILEGE_ORDER.index(p) if p in PRIVILEGE_ORDER else 99, p))


# -- rendering: the ERD -------------------------------------------------------------------
def render_erd(cat: Catalog, version: str, migrations: list[str]) -> str:
    out = [
        "# Entity-Relationship Diagram",
        "",
        "<!-- Generated by `make docs` from a freshly migrated database: do not edit by hand. -->",
        "",
        f"**Schema Version**: {version}  ",
        f"**Latest Migration**: {code(migrations[-1]) if migrations else '-'}",
        "",
        "Every table of schema `public` with its columns (PK primary key, FK foreign key, "
        "UK part of a unique key) and every foreign key as a relationship. Cardinality comes "
        "from the catalog: the referenced side is exactly one when the referencing columns "
        "are NOT NULL (zero or one otherwise); the referencing side is zero or one when its "
        "columns are unique, zero or many otherwise. Column descriptions are in the "
        "[data dictionary](data_dictionary.md).",
        "",
        "```mermaid",
        "erDiagram",
    ]  # fmt: skip
    for rel in cat.tables:
        fk_cols = {c for con in rel.constraints if con.kind == "f" for c in con.columns}
        pk = set(rel.primary_key)
        uk = {c for con in rel.constraints if con.kind == "u" for c in con.columns}
        out.append(f"    {rel.name} {{")
        for col in rel.columns:
            keys = [k for k, cols in (("PK", pk), ("FK", fk_cols), ("UK", uk)) if col.name in cols]
            out.append(f"        {short_type(col.type)} {col.name}" + (f" {', '.join(keys)}" if keys else ""))
        out.append("    }")
    relationships = []
    for rel in cat.tables:
        columns = {c.name: c for c in rel.columns}
        for fk in (c for c in rel.constraints if c.kind == "f"):
            required = all(columns[c].not_null for c in fk.columns)
            unique = any(set(key) <= set(fk.columns) for key in rel.unique_keys if key)
            parent = "||" if required else "|o"
            child = "o|" if unique else "o{"
            line = "--" if set(fk.columns) <= set(rel.primary_key) else ".."
            label = ", ".join(fk.columns)
            relationships.append(f'    {fk.ref_table} {parent}{line}{child} {rel.name} : "{label}"')
    out += sorted(relationships)
    out += ["```", ""]
    out += ["| Relationship | Foreign key | On delete |", "|--------------|-------------|-----------|"]
    rows = []
    for rel in cat.tables:
        for fk in (c for c in rel.constraints if c.kind == "f"):
            rows.append(f"| {rel.name}({', '.join(fk.columns)}) → {fk.ref_table}({', '.join(fk.ref_columns)}) "
                        f"| {code(fk.name)} | {fk.on_delete} |")  # fmt: skip
    out += sorted(rows) + [""]
    return "\n".join(out)


# -- generation ---------------------------------------------------------------------------
def generate(conn: psycopg.Connection) -> dict[str, str]:
    """The documents, by file name under docs/, from the database behind ``conn``."""
    cat = read_schema(conn)
    version, migrations = schema_version(), migration_files()
    return {
        DICTIONARY: render_dictionary(cat, version, migrations),
        ERD: render_erd(cat, version, migrations),
    }


@contextlib.contextmanager
def fresh_database():
    """A freshly migrated throwaway database; yields its URL and removes it afterwards.

    With DATABASE_URL set, a temporary database on that server (the role needs CREATEDB);
    otherwise a throwaway cluster in a temporary folder on a free port.
    """
    from attribution_db.cluster import throwaway_cluster
    from attribution_db.migrate import scratch_database

    external = dburl.from_env()
    with contextlib.ExitStack() as stack:
        server_url = external or stack.enter_context(throwaway_cluster("attribution-db-docs-")).url("postgres")
        yield stack.enter_context(scratch_database(server_url, "docs"))


def stale_documents(documents: dict[str, str], folder: Path = DOCS_DIR) -> list[str]:
    """The documents whose committed file differs from ``documents`` (or is missing)."""
    stale = []
    for name, text in sorted(documents.items()):
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(f"docs/{name}")
    return stale


def write_documents(documents: dict[str, str], folder: Path = DOCS_DIR) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    changed = stale_documents(documents, folder)
    for name, text in documents.items():
        (folder / name).write_text(text, encoding="utf-8")
    return changed
