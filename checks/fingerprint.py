"""A fingerprint of everything the migrations create, read from pg_catalog.

Covers every schema but PostgreSQL's own: schemas (with ACLs), relations (tables, views,
materialized views, sequences, indexes; with RLS flags, options and ACLs), columns,
constraints, index and view definitions, functions, triggers, policies, types, extensions
the database's own ACL and settings, and every comment. yoyo's bookkeeping tables and the migrator's run lock
(schema attribution_migrate) are left out. Two databases with equal
fingerprints hold the same schema; ``diff`` says what differs.
"""

from __future__ import annotations

import psycopg

USER_NS = """
    n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'
    AND n.nspname <> 'attribution_migrate'
"""
NOT_YOYO = "c.relname NOT LIKE '\\_yoyo\\_%' AND c.relname <> 'yoyo_lock'"

QUERIES = {
    "schemas": f"""
        SELECT n.nspname, n.nspacl::text, obj_description(n.oid, 'pg_namespace')
        FROM pg_namespace n WHERE {USER_NS}""",
    "relations": f"""
        SELECT n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
               c.reloptions::text, c.relpersistence,
               -- NULL means the default ACL: compare effective privileges, not spelling
               coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner))::text,
               obj_description(c.oid, 'pg_class')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NS} AND {NOT_YOYO} AND c.relkind <> 'i'""",
    "columns": f"""
        SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
               a.attacl::text, col_description(c.oid, a.attnum), a.attnum
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE {USER_NS} AND {NOT_YOYO} AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')""",
    "constraints": f"""
        SELECT n.nspname, coalesce(c.relname, t.typname), k.conname, k.contype,
               pg_get_constraintdef(k.oid), k.convalidated, obj_description(k.oid, 'pg_constraint')
        FROM pg_constraint k
        JOIN pg_namespace n ON n.oid = k.connamespace
        LEFT JOIN pg_class c ON c.oid = k.conrelid
        LEFT JOIN pg_type t ON t.oid = k.contypid
        WHERE {USER_NS} AND (c.relname IS NULL OR ({NOT_YOYO}))""",
    "indexes": f"""
        SELECT n.nspname, i.relname, pg_get_indexdef(i.oid), obj_description(i.oid, 'pg_class')
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE {USER_NS} AND {NOT_YOYO}""",
    "views": f"""
        SELECT n.nspname, c.relname, pg_get_viewdef(c.oid, true)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NS} AND c.relkind IN ('v', 'm')""",
    "functions": f"""
        SELECT n.nspname, p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid)),
               p.prosecdef, p.proconfig::text, coalesce(p.proacl, acldefault('f', p.proowner))::text, obj_description(p.oid, 'pg_proc')
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE {USER_NS} AND p.prokind IN ('f', 'p', 'w')""",
    "triggers": f"""
        SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled,
               obj_description(t.oid, 'pg_trigger')
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NS} AND NOT t.tgisinternal""",
    "policies": f"""
        SELECT n.nspname, c.relname, p.polname, p.polcmd, p.polpermissive,
               ARRAY(SELECT CASE r WHEN 0 THEN 'public' ELSE r::regrole::text END
                     FROM unnest(p.polroles) r ORDER BY 1)::text,
               pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid),
               obj_description(p.oid, 'pg_policy')
        FROM pg_policy p
        JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NS}""",
    "types": f"""
        SELECT n.nspname, t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod),
               ARRAY(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid
                     ORDER BY e.enumsortorder)::text,
               t.typacl::text, obj_description(t.oid, 'pg_type')
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE {USER_NS} AND t.typtype IN ('e', 'd', 'c', 'r')
          AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')""",
    "extensions": """
        SELECT e.extname, e.extversion, n.nspname
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname <> 'plpgsql'""",
    # the database's own privileges (TEMPORARY, 202611281400) and settings (202611281402);
    # pg_catalog's function privileges are left out: 202611281401 is kept by its rollback
    "database": """
        SELECT a.grantee::regrole::text, a.privilege_type, a.is_grantable
        FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
        WHERE d.datname = current_database() AND a.grantee <> 0
        UNION ALL
        SELECT 'PUBLIC', a.privilege_type, a.is_grantable
        FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
        WHERE d.datname = current_database() AND a.grantee = 0
        UNION ALL
        SELECT 'setting', s.setting, NULL
        FROM pg_database d JOIN pg_db_role_setting r ON r.setdatabase = d.oid AND r.setrole = 0,
             unnest(r.setconfig) s(setting)
        WHERE d.datname = current_database()""",
    "default_privileges": """
        SELECT d.defaclrole::regrole::text, d.defaclnamespace::regnamespace::text,
               d.defaclobjtype, d.defaclacl::text
        FROM pg_default_acl d""",
}


def fingerprint(url_or_conn) -> dict[str, list[tuple]]:
    """Every category of QUERIES as a sorted list of rows."""
    if isinstance(url_or_conn, str):
        with psycopg.connect(url_or_conn, autocommit=True) as conn:
            return fingerprint(conn)
    conn = url_or_conn
    return {
        name: sorted((tuple(map(str, row)) for row in conn.execute(query).fetchall()))
        for name, query in QUERIES.items()
    }


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
