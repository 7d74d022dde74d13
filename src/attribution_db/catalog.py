"""One reading of the schema from pg_catalog: a canonical, deterministic description.

``describe(conn)`` returns ``{category: {object: {attribute: value}}}`` for everything the
migrations create: schemas, relations (tables, views, materialized views, sequences),
columns, constraints, indexes, functions, triggers, policies, types, extensions, the
application roles, the database's privileges and default privileges. Only catalog
queries, so any role that can log in can run it, inside a READ ONLY transaction. The one
lock it takes: ``pg_get_viewdef`` opens each view with ACCESS SHARE (the weakest lock, it
conflicts only with ACCESS EXCLUSIVE); no user table is read.

The description leaves out what varies between databases built from the same migrations:
OIDs, the database's name, and the name of the migrating role (an object's owner is
written ``<owner>`` in its privileges; grantors are left out). Owners are read separately
by ``owners``: they belong to the health check, not to the schema.

``sql/catalog.json`` is this description of a database migrated from zero (``make schema``);
``attribution-db verify`` compares a live database with it, and the checks' fingerprint
(checks/fingerprint.py) is this description too.

The second half reads the same catalog as objects (``read_schema``, ``read_relations``:
tables with their columns, constraints, indexes, triggers, policies and privileges), for
the document generator (docs.py renders them) and the checks' pgTAP-style assertions
(checks/pgtap.py). This module is the one place that queries ``pg_catalog`` for them
(issue 13: one catalog layer), and the one place that names yoyo's tables.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import psycopg

CATALOG_NAME = "sql/catalog.json"

#: yoyo's bookkeeping tables: not schema. Everything here leaves them (and what hangs on
#: them: columns, constraints, indexes) out.
YOYO_TABLES = ("_yoyo_log", "_yoyo_migration", "_yoyo_version", "yoyo_lock")

#: The roles the migrations create (cluster-wide); their attributes belong to the contract.
ROLES = ("app_rw", "app_ro")

#: Attributes that say whether an object is healthy rather than what it is: ``verify``
#: reports them as health findings, not as drift.
HEALTH_ATTRIBUTES = ("valid", "validated", "populated")

USER_NS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
"""


def not_yoyo(rel: str) -> str:
    names = ", ".join(f"'{name}'" for name in YOYO_TABLES)
    return f"({rel}.relname IS NULL OR {rel}.relname NOT IN ({names}))"


def acl(expr: str, owner: str, kind: str | None) -> str:
    """A sorted text[] of ``grantee:PRIVILEGE`` (``*`` when grantable) for an ACL column.

    NULL means the object's default privileges (``acldefault``) when ``kind`` is given, none
    otherwise (columns). PUBLIC is ``PUBLIC``, the owner ``<owner>``; grantors are left out.
    """
    source = f"coalesce({expr}, acldefault({kind}, {owner}))" if kind else expr
    return f"""ARRAY(
        SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                    WHEN a.grantee = {owner} THEN '<owner>'
                    ELSE pg_get_userbyid(a.grantee) END
               || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END
        FROM aclexplode({source}) a ORDER BY 1)"""


#: acldefault's object type of a relation: sequences have their own default privileges.
RELATION_ACL_KIND = "CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::\"char\""

#: category -> query whose first column is the object's name and whose other columns are
#: its attributes (column aliases are the attribute names).
QUERIES: dict[str, str] = {
    "schemas": f"""
        SELECT n.nspname AS name, {acl('n.nspacl', 'n.nspowner', "'n'")} AS privileges,
               obj_description(n.oid, 'pg_namespace') AS comment
        FROM pg_namespace n WHERE {USER_NS}""",
    "relations": f"""
        SELECT n.nspname || '.' || c.relname AS name,
               CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                    WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                    WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table'
                    ELSE c.relkind::text END AS kind,
               c.relrowsecurity AS row_level_security,
               c.relforcerowsecurity AS force_row_level_security,
               coalesce(c.reloptions, '{{}}') AS options,
               c.relpersistence::text AS persistence,
               {acl('c.relacl', 'c.relowner', RELATION_ACL_KIND)} AS privileges,
               CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS definition,
               CASE WHEN c.relkind = 'm' THEN c.relispopulated END AS populated,
               CASE WHEN c.relkind = 'S' THEN
                   (SELECT format('%s start %s increment %s min %s max %s cache %s%s',
                                  format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
                                  s.seqmin, s.seqmax, s.seqcache,
                                  CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END)
                    FROM pg_sequence s WHERE s.seqrelid = c.oid) END AS sequence,
               obj_description(c.oid, 'pg_class') AS comment
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NS} AND {not_yoyo('c')} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')""",
    "columns": f"""
        SELECT n.nspname || '.' || c.relname || '.' || a.attname AS name,
               row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) AS position,
               format_type(a.atttypid, a.atttypmod) AS type,
               a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS "default",
               a.attidentity::text AS identity, a.attgenerated::text AS generated,
               CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text END AS collation,
               {acl('a.attacl', 'c.relowner', None)} AS privileges,
               col_description(c.oid, a.attnum) AS comment
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE {USER_NS} AND {not_yoyo('c')} AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')""",
    "constraints": f"""
        SELECT n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || k.conname AS name,
               CASE k.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique'
                    WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check' WHEN 'x' THEN 'exclusion'
                    WHEN 't' THEN 'trigger' ELSE k.contype::text END AS type,
               pg_get_constraintdef(k.oid) AS definition,
               k.condeferrable AS deferrable, k.condeferred AS deferred,
               k.convalidated AS validated,
               obj_description(k.oid, 'pg_constraint') AS comment
        FROM pg_constraint k
        JOIN pg_namespace n ON n.oid = k.connamespace
        LEFT JOIN pg_class c ON c.oid = k.conrelid
        LEFT JOIN pg_type t ON t.oid = k.contypid
        WHERE {USER_NS} AND {not_yoyo('c')}""",
    "indexes": f"""
        SELECT n.nspname || '.' || i.relname AS name,
               n.nspname || '.' || c.relname AS "table",
               pg_get_indexdef(i.oid) AS definition,
               x.indisvalid AND x.indisready AS valid,
               obj_description(i.oid, 'pg_class') AS comment
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE {USER_NS} AND {not_yoyo('c')}""",
    "functions": f"""
        SELECT n.nspname || '.' || p.oid::regprocedure::text AS name,
               CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure'
                    WHEN 'a' THEN 'aggregate' WHEN 'w' THEN 'window' END AS kind,
               p.provolatile::text AS volatility, p.prosecdef AS security_definer,
               coalesce(p.proconfig, '{{}}') AS config,
               CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS definition,
               {acl('p.proacl', 'p.proowner', "'f'")} AS privileges,
               obj_description(p.oid, 'pg_proc') AS comment
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE {USER_NS}
          AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass
                          AND e.objid = p.oid AND e.deptype = 'e')""",
    "triggers": f"""
        SELECT n.nspname || '.' || c.relname || '.' || t.tgname AS name,
               pg_get_triggerdef(t.oid) AS definition,
               CASE t.tgenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled'
                    WHEN 'R' THEN 'replica only' WHEN 'A' THEN 'always' END AS enabled,
               obj_description(t.oid, 'pg_trigger') AS comment
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NS} AND NOT t.tgisinternal""",
    "policies": f"""
        SELECT n.nspname || '.' || c.relname || '.' || p.polname AS name,
               CASE p.polcmd WHEN '*' THEN 'ALL' WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                    WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' END AS command,
               p.polpermissive AS permissive,
               ARRAY(SELECT CASE r WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END
                     FROM unnest(p.polroles) r ORDER BY 1) AS roles,
               pg_get_expr(p.polqual, p.polrelid) AS "using",
               pg_get_expr(p.polwithcheck, p.polrelid) AS with_check,
               obj_description(p.oid, 'pg_policy') AS comment
        FROM pg_policy p
        JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NS}""",
    "types": f"""
        SELECT n.nspname || '.' || t.typname AS name,
               CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'c' THEN 'composite'
                    WHEN 'r' THEN 'range' END AS kind,
               CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base,
               ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid
                     ORDER BY e.enumsortorder) AS labels,
               {acl('t.typacl', 't.typowner', "'T'")} AS privileges,
               obj_description(t.oid, 'pg_type') AS comment
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE {USER_NS} AND t.typtype IN ('e', 'd', 'c', 'r')
          AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')""",
    "extensions": """
        SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace""",
    "roles": f"""
        SELECT r.rolname AS name, r.rolcanlogin AS login, r.rolsuper AS superuser,
               r.rolbypassrls AS bypassrls, r.rolcreatedb AS createdb,
               r.rolcreaterole AS createrole, r.rolreplication AS replication,
               r.rolinherit AS inherit, r.rolconnlimit AS connection_limit,
               coalesce((SELECT s.setconfig FROM pg_db_role_setting s
                         WHERE s.setrole = r.oid AND s.setdatabase = 0), '{{}}') AS config,
               ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                     WHERE m.member = r.oid ORDER BY 1) AS member_of
        FROM pg_roles r WHERE r.rolname IN ({", ".join(f"'{role}'" for role in ROLES)})""",
    "database": f"""
        SELECT 'current database' AS name,
               {acl('d.datacl', 'd.datdba', "'d'")} AS privileges,
               coalesce((SELECT s.setconfig FROM pg_db_role_setting s
                         WHERE s.setdatabase = d.oid AND s.setrole = 0), '{{}}') AS config
        FROM pg_database d WHERE d.datname = current_database()""",
    "default_privileges": f"""
        SELECT coalesce(nullif(d.defaclnamespace, 0)::regnamespace::text, '(all schemas)')
               || ' ' || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences'
                    WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' END
               || ' created by ' || CASE WHEN d.defaclrole = (SELECT datdba FROM pg_database
                   WHERE datname = current_database()) THEN '<database owner>'
                   ELSE pg_get_userbyid(d.defaclrole) END AS name,
               {acl('d.defaclacl', 'd.defaclrole', None)} AS privileges
        FROM pg_default_acl d""",
}

#: What one object of each category is called in a finding.
NOUNS = {
    "schemas": "schema", "relations": "relation", "columns": "column", "constraints": "constraint",
    "indexes": "index", "functions": "function", "triggers": "trigger", "policies": "policy",
    "types": "type", "extensions": "extension", "roles": "role", "database": "database",
    "default_privileges": "default privileges",
}  # fmt: skip


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def describe(conn: psycopg.Connection) -> dict[str, dict[str, dict]]:
    """The description of the database of ``conn`` (catalog reads only)."""
    result: dict[str, dict[str, dict]] = {}
    for category, query in QUERIES.items():
        cur = conn.execute(query)
        names = [col.name for col in cur.description][1:]
        result[category] = {
            row[0]: {name: _plain(value) for name, value in zip(names, row[1:])}
            for row in sorted(cur.fetchall(), key=lambda r: r[0])
        }
    return result


def to_json(description: dict) -> str:
    """The canonical text: keys sorted, two-space indent, one trailing newline."""
    return json.dumps(description, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


OWNERS_QUERY = f"""
    SELECT 'relation ' || n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {USER_NS} AND {not_yoyo('c')} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
    UNION ALL
    SELECT 'function ' || n.nspname || '.' || p.oid::regprocedure::text, pg_get_userbyid(p.proowner)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE {USER_NS} AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass
                                    AND e.objid = p.oid AND e.deptype = 'e')
    UNION ALL
    SELECT 'type ' || n.nspname || '.' || t.typname, pg_get_userbyid(t.typowner)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE {USER_NS} AND t.typtype IN ('e', 'd', 'r')
"""


def owners(conn: psycopg.Connection) -> dict[str, str]:
    """``{"relation public.tenants": owner, ...}`` for every relation, function and type."""
    return dict(sorted(conn.execute(OWNERS_QUERY).fetchall()))


def migrating_role(conn: psycopg.Connection) -> str | None:
    """The owner of yoyo's migration table: the role that ran the migrations (catalog only)."""
    names = ", ".join(f"'{name}'" for name in YOYO_TABLES)
    row = conn.execute(
        f"SELECT pg_get_userbyid(c.relowner) FROM pg_class c WHERE c.relname IN ({names}) "
        "AND c.relkind = 'r' ORDER BY c.relname = '_yoyo_migration' DESC, c.relname LIMIT 1"
    ).fetchone()
    return row[0] if row else None


# == the schema as objects: what the document generator renders and the checks assert ==========
#: The schema the documents and the checks' assertions walk.
SCHEMA = "public"

# relkinds: r table, p partitioned table, v view, m materialized view, S sequence
RELATION_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "S": "sequence"}
FK_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
POLICY_COMMANDS = {"*": "ALL", "r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE"}

# Objects that belong to an extension are the extension's, not this schema's.
NOT_EXTENSION = (
    "NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = {cls}::regclass "
    "AND dep.objid = {oid} AND dep.deptype = 'e')"
)


def _rows(conn, query: str, params=()) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def _records(conn, names: str, query: str, params=()) -> list[dict]:
    """Rows as dicts keyed by the space-separated ``names``."""
    return [dict(zip(names.split(), row)) for row in _rows(conn, query, params)]


@dataclass
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None
    comment: str | None
    identity: str = ""
    generated: str = ""


@dataclass
class Constraint:
    name: str
    kind: str
    definition: str
    comment: str | None
    columns: tuple[str, ...] = ()
    ref_table: str | None = None
    ref_columns: tuple[str, ...] = ()
    on_delete: str = ""
    on_update: str = ""
    index: str | None = None


@dataclass
class Index:
    name: str
    definition: str
    unique: bool
    primary: bool
    constraint: str | None
    comment: str | None
    #: key columns (expressions) in order, `` DESC`` appended when descending
    columns: list[str] = field(default_factory=list)
    #: the partial index's predicate
    where: str | None = None


@dataclass
class Trigger:
    name: str
    definition: str
    enabled: str
    comment: str | None


@dataclass
class Policy:
    name: str
    table: str
    command: str
    permissive: bool
    roles: list[str]
    using: str | None
    check: str | None
    comment: str | None


@dataclass
class Relation:
    oid: int
    name: str
    kind: str
    comment: str | None
    rls: bool = False
    rls_forced: bool = False
    options: list[str] = field(default_factory=list)
    owner: str = ""
    #: effective privileges ``grantee:PRIVILEGE`` (``PUBLIC`` for everyone; the default ACL when none was set)
    acl: list[str] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    triggers: list[Trigger] = field(default_factory=list)
    rules: list[tuple[str, str, str | None]] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    definition: str | None = None

    @property
    def primary_key(self) -> tuple[str, ...]:
        return next((c.columns for c in self.constraints if c.kind == "p"), ())

    @property
    def unique_keys(self) -> list[tuple[str, ...]]:
        keys = [c.columns for c in self.constraints if c.kind in "pu"]
        keys += [tuple(i.definition.split("(", 1)[1].rsplit(")", 1)[0].split(", "))
                 for i in self.indexes if i.unique and " WHERE " not in i.definition]  # fmt: skip
        return keys


@dataclass
class Schema:
    relations: dict[str, Relation]
    policies: list[Policy]
    functions: list[dict]
    types: list[dict]
    roles: list[dict]
    grants: dict[str, dict[str, list[str]]]  # grantee -> object label -> privileges
    schema_grants: dict[str, list[str]]

    def of_kind(self, *kinds: str) -> list[Relation]:
        return [r for r in self.relations.values() if r.kind in kinds]

    @property
    def tables(self) -> list[Relation]:
        return self.of_kind("r", "p")


def read_relations(conn: psycopg.Connection, schema: str = SCHEMA, only: Sequence[str] | None = None) -> dict[str, Relation]:
    """Tables, views, materialized views and sequences of ``schema`` (yoyo's and extensions'
    left out), each with its columns, constraints, indexes, triggers, rules and policies;
    ``only`` restricts the walk to the relations so named."""
    relations: dict[str, Relation] = {}
    for oid, name, kind, comment, rls, forced, options, owner, privileges in _rows(
        conn,
        "SELECT c.oid, c.relname, c.relkind, obj_description(c.oid, 'pg_class'), "
        "c.relrowsecurity, c.relforcerowsecurity, coalesce(c.reloptions, '{}'), c.relowner::regrole::text, "
        "ARRAY(SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END "
        "             || ':' || a.privilege_type "
        f"      FROM aclexplode(coalesce(c.relacl, acldefault({RELATION_ACL_KIND}, c.relowner))) a) "
        "FROM pg_class c WHERE c.relnamespace = %s::regnamespace "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND " + not_yoyo("c") + " AND "
        + NOT_EXTENSION.format(cls="'pg_class'", oid="c.oid")
        + (" AND c.relname = ANY(%s)" if only is not None else "") + " ORDER BY c.relname",
        (schema, list(only)) if only is not None else (schema,),
    ):  # fmt: skip
        relations[name] = Relation(oid, name, kind, comment, rls, forced, sorted(options), owner, list(privileges))
    by_oid = {r.oid: r for r in relations.values()}
    if not by_oid:
        return relations

    for relid, name, type_, not_null, default, comment, identity, generated in _rows(
        conn,
        "SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum), "
        "a.attidentity, a.attgenerated FROM pg_attribute a "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attrelid, a.attnum",
        (list(by_oid),),
    ):
        by_oid[relid].columns.append(Column(name, type_, not_null, default, comment, identity, generated))

    for relid, name, kind, definition, comment, cols, ref, ref_cols, deltype, updtype, index in _rows(
        conn,
        "SELECT con.conrelid, con.conname, con.contype, pg_get_constraintdef(con.oid), "
        "obj_description(con.oid, 'pg_constraint'), "
        "ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i) "
        "      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i), "
        "fr.relname, "
        "ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i) "
        "      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i), "
        "con.confdeltype, con.confupdtype, ix.relname "
        "FROM pg_constraint con LEFT JOIN pg_class fr ON fr.oid = con.confrelid "
        "LEFT JOIN pg_class ix ON ix.oid = con.conindid AND con.contype IN ('p', 'u', 'x') "
        "WHERE con.conrelid = ANY(%s) ORDER BY con.conname",
        (list(by_oid),),
    ):  # fmt: skip
        by_oid[relid].constraints.append(
            Constraint(name, kind, definition, comment, tuple(cols), ref, tuple(ref_cols or ()),
                       FK_ACTIONS.get(deltype, ""), FK_ACTIONS.get(updtype, ""), index)  # fmt: skip
        )

    for relid, name, definition, unique, primary, constraint, comment, columns, where in _rows(
        conn,
        "SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique, "
        "i.indisprimary, con.conname, obj_description(i.indexrelid, 'pg_class'), "
        "  (SELECT array_agg(pg_get_indexdef(i.indexrelid, k.ord::int, true) "
        "          || CASE WHEN i.indoption[k.ord - 1] & 1 = 1 THEN ' DESC' ELSE '' END ORDER BY k.ord) "
        "   FROM generate_series(1, i.indnkeyatts) AS k (ord)), "
        "pg_get_expr(i.indpred, i.indrelid) "
        "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
        "LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid "
        "AND con.contype IN ('p', 'u', 'x') "
        "WHERE i.indrelid = ANY(%s) ORDER BY ic.relname",
        (list(by_oid),),
    ):
        by_oid[relid].indexes.append(Index(name, definition, unique, primary, constraint, comment, list(columns or ()), where))

    for relid, name, definition, enabled, comment in _rows(
        conn,
        "SELECT t.tgrelid, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled, "
        "obj_description(t.oid, 'pg_trigger') FROM pg_trigger t "
        "WHERE t.tgrelid = ANY(%s) AND NOT t.tgisinternal ORDER BY t.tgname",
        (list(by_oid),),
    ):
        by_oid[relid].triggers.append(Trigger(name, definition, enabled, comment))

    for relid, name, definition, comment in _rows(
        conn,
        "SELECT r.ev_class, r.rulename, pg_get_ruledef(r.oid), obj_description(r.oid, 'pg_rewrite') "
        "FROM pg_rewrite r WHERE r.ev_class = ANY(%s) AND r.rulename <> '_RETURN' "
        "ORDER BY r.rulename",
        (list(by_oid),),
    ):
        by_oid[relid].rules.append((name, definition, comment))

    for rel in relations.values():
        if rel.kind in "vm":
            rel.definition = conn.execute("SELECT pg_get_viewdef(%s::oid, true)", (rel.oid,)).fetchone()[0]

    for relid, name, table, cmd, permissive, roles, using, check, comment in _rows(
        conn,
        "SELECT c.oid, p.polname, c.relname, p.polcmd, p.polpermissive, "
        "ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r) END "
        "      FROM unnest(p.polroles) r), "
        "pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid), "
        "obj_description(p.oid, 'pg_policy') "
        "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid "
        "WHERE c.oid = ANY(%s) ORDER BY c.relname, p.polname",
        (list(by_oid),),
    ):
        by_oid[relid].policies.append(
            Policy(name, table, POLICY_COMMANDS[cmd], permissive, sorted(roles), using, check, comment)
        )
    return relations


def read_roles(conn: psycopg.Connection, names: Sequence[str] = ROLES) -> list[dict]:
    """The roles so named that exist, with their attributes and comment (by name, descending)."""
    return _records(
        conn,
        "name login superuser bypassrls createdb createrole inherit comment",
        "SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolinherit, "
        "shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = ANY(%s) "
        "ORDER BY rolname DESC",
        (list(names),),
    )


def read_schema(conn: psycopg.Connection, schema: str = SCHEMA) -> Schema:
    """Everything of ``schema`` the documents show, and the application roles."""
    relations = read_relations(conn, schema)
    by_oid = {r.oid: r for r in relations.values()}
    policies = [policy for rel in relations.values() for policy in rel.policies]

    functions = _records(
        conn,
        "oid signature kind result language security_definer volatility config comment",
        "SELECT p.oid, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', "
        "p.prokind, pg_get_function_result(p.oid), l.lanname, p.prosecdef, p.provolatile, "
        "coalesce(p.proconfig, '{}'), obj_description(p.oid, 'pg_proc') "
        "FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
        "WHERE p.pronamespace = %s::regnamespace AND "
        + NOT_EXTENSION.format(cls="'pg_proc'", oid="p.oid") + " ORDER BY 2",
        (schema,),
    )  # fmt: skip

    types = _records(
        conn,
        "name kind definition comment",
        "SELECT t.typname, t.typtype, CASE t.typtype "
        "  WHEN 'e' THEN 'ENUM (' || (SELECT string_agg(quote_literal(e.enumlabel), ', ' "
        "     ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')' "
        "  WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod) END, "
        "obj_description(t.oid, 'pg_type') FROM pg_type t "
        "WHERE t.typnamespace = %s::regnamespace AND t.typtype IN ('d', 'e') AND "
        + NOT_EXTENSION.format(cls="'pg_type'", oid="t.oid") + " ORDER BY t.typname",
        (schema,),
    )  # fmt: skip

    roles = read_roles(conn, ROLES)

    grants: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    wanted = list(ROLES)
    for grantee, label, privilege in _rows(
        conn,
        "SELECT CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee) END, "
        "       c.relname, acl.privilege_type "
        "FROM pg_class c, aclexplode(c.relacl) acl "
        "WHERE c.oid = ANY(%s) AND (acl.grantee = 0 OR pg_get_userbyid(acl.grantee) = ANY(%s)) "
        "UNION ALL "
        "SELECT CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee) END, "
        "       p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', acl.privilege_type "
        "FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl "
        "WHERE p.oid = ANY(%s) AND (acl.grantee = 0 OR pg_get_userbyid(acl.grantee) = ANY(%s))",
        (list(by_oid), wanted, [f["oid"] for f in functions], wanted),
    ):
        grants[grantee][label].append(privilege)
    schema_grants: dict[str, list[str]] = defaultdict(list)
    for grantee, privilege in _rows(
        conn,
        "SELECT CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(acl.grantee) END, "
        "acl.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) acl "
        "WHERE n.nspname = %s AND (acl.grantee = 0 OR pg_get_userbyid(acl.grantee) = ANY(%s))",
        (schema, wanted),
    ):
        schema_grants[grantee].append(privilege)
    return Schema(relations, policies, functions, types, roles, grants, schema_grants)


def domain_constraints(conn: psycopg.Connection, schema: str = SCHEMA) -> dict[str, tuple[str, str | None]]:
    """``{"domain:constraint": (constraint, comment)}`` for every domain constraint of ``schema``."""
    return {
        f"{typ}:{con}": (con, comment)
        for typ, con, comment in _rows(
            conn,
            "SELECT t.typname, con.conname, obj_description(con.oid, 'pg_constraint') "
            "FROM pg_constraint con JOIN pg_type t ON t.oid = con.contypid "
            "WHERE t.typnamespace = %s::regnamespace",
            (schema,),
        )
    }


def uncommented_objects(conn: psycopg.Connection, schema: str = SCHEMA) -> list[str]:
    """Every object of ``schema`` (and each application role) without a comment."""
    cat = read_schema(conn, schema)
    missing: list[str] = []

    def need(label: str, text: str | None) -> None:
        if not text or not text.strip():
            missing.append(label)

    for rel in cat.relations.values():
        kind = RELATION_KINDS[rel.kind]
        need(f"{kind} {rel.name}", rel.comment)
        for col in rel.columns:
            need(f"column {rel.name}.{col.name}", col.comment)
        for con in rel.constraints:
            need(f"constraint {con.name} on {rel.name}", con.comment)
        for idx in rel.indexes:
            need(f"index {idx.name} (on {rel.name})", idx.comment)
        for trg in rel.triggers:
            need(f"trigger {trg.name} on {rel.name}", trg.comment)
        for name, _definition, comment in rel.rules:
            need(f"rule {name} on {rel.name}", comment)
    for pol in cat.policies:
        need(f"policy {pol.name} on {pol.table}", pol.comment)
    for fn in cat.functions:
        need(f"{'procedure' if fn['kind'] == 'p' else 'function'} {fn['signature']}", fn["comment"])
    for typ in cat.types:
        need(f"{'domain' if typ['kind'] == 'd' else 'type'} {typ['name']}", typ["comment"])
    for name, (domain_constraint, comment) in domain_constraints(conn, schema).items():
        need(f"constraint {domain_constraint} on domain {name}", comment)
    present = {r["name"] for r in cat.roles}
    for role in ROLES:
        if role not in present:
            missing.append(f"role {role} (does not exist)")
    for role in cat.roles:
        need(f"role {role['name']}", role["comment"])
    return sorted(missing)


# -- single facts the checks ask for --------------------------------------------------------
def function_result(conn: psycopg.Connection, signature: str, schema: str = SCHEMA) -> str | None:
    """format_type of the result of ``schema.signature`` (like 'pii_key_paths(jsonb)'), or None."""
    row = conn.execute(
        "SELECT format_type(prorettype, NULL) FROM pg_proc WHERE oid = to_regprocedure(%s)",
        (f"{schema}.{signature}",),
    ).fetchone()
    return row[0] if row else None


def owned_objects(conn: psycopg.Connection, role: str) -> list[str]:
    """What ``role`` owns in this database or cluster-wide (``pg_shdepend``), as catalog:oid."""
    return [
        row[0]
        for row in _rows(
            conn,
            "SELECT classid::regclass::text || ' ' || objid FROM pg_shdepend "
            "WHERE refobjid = (SELECT oid FROM pg_roles WHERE rolname = %s) AND deptype = 'o' "
            "AND dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))",
            (role,),
        )
    ]


def schema_privileges(conn: psycopg.Connection, role: str, schema: str) -> list[str]:
    """The effective privileges (USAGE, CREATE) of ``role`` on ``schema``."""
    return [p for p in ("USAGE", "CREATE") if conn.execute(
        "SELECT has_schema_privilege(%s, %s, %s)", (role, schema, p)).fetchone()[0]]  # fmt: skip

