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
``attribution-db verify`` compares a live database with it. Meant to serve, later, the
checks' fingerprint and the docs generator too (one catalog layer, issue 13).
"""

from __future__ import annotations

import json

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
