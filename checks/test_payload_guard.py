"""The raw_payload guard under attack (issue 14 point 1, issue 15): size and depth limits,
a PII test linear in size, Unicode-normalised key matching, a capped error, and function
bodies that no search_path can subvert.

Attack payloads are written as app_rw for tenant A of the isolation checks' ``world``, each
on a fresh connection (so the backend's peak memory, VmHWM, belongs to that case alone).
Bounds here are generous on purpose (no flaky timing); the measured figures are in
docs/writing-data.md (bench/scripts/payload_guard.py prints them).
"""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import rows
from checks.payloads import ATTACKS, CHECK_VIOLATION, attack, deep, many_pii_keys
from checks.pgtap import lives_ok, results_eq, throws_ok
from checks.rows import begin_as

GUARDED = ("attribution_events", "dead_events")
MAX_MESSAGE = 2000  # characters: 20 paths and a count, never megabytes


def limits(catalog) -> tuple[int, int]:
    return catalog.execute("SELECT raw_payload_max_bytes(), raw_payload_max_depth()").fetchone()


@pytest.mark.parametrize("table", GUARDED)
@pytest.mark.parametrize("case", ATTACKS)
def test_attack_payload_is_rejected_cheaply_naming_column_and_limit(world, table, case):
    build, sqlstate, message = ATTACKS[case]
    outcome = attack(world["url"], world["A"]["tenants"], table, build())
    assert outcome["sqlstate"] == sqlstate, outcome
    assert message in outcome["message"], outcome
    assert len(outcome["message"]) < MAX_MESSAGE, len(outcome["message"])
    if sqlstate == CHECK_VIOLATION:
        assert outcome["message"].startswith(f"{table}.raw_payload "), outcome
        assert outcome["column"] == "raw_payload", outcome
    # Generous bounds (measured: tens of ms, tens of MB; see docs/writing-data.md).
    assert outcome["seconds"] < 20, outcome
    if outcome["vmhwm_kb"] is not None:
        assert outcome["vmhwm_kb"] < 256 * 1024, outcome


@pytest.mark.parametrize("table", GUARDED)
def test_payload_at_the_limits_is_accepted(world, catalog, table):
    _, max_depth = limits(catalog)
    assert attack(world["url"], world["A"]["tenants"], table, deep(max_depth))["sqlstate"] is None
    over = attack(world["url"], world["A"]["tenants"], table, deep(max_depth + 1))
    assert (over["sqlstate"], over["column"]) == (CHECK_VIOLATION, "raw_payload"), over


def test_depth_limit_counts_containers(catalog):
    """{} is depth 1; an empty container at the deepest level counts too."""
    _, max_depth = limits(catalog)
    for payload, ok in [("{}", True), ("1", True), ("[]", True),
                        ("[" * max_depth + "]" * max_depth, True),
                        ("[" * (max_depth + 1) + "]" * (max_depth + 1), False),
                        ('{"a":' * max_depth + "{}" + "}" * max_depth, False)]:  # fmt: skip
        results_eq(catalog, "SELECT raw_payload_within_limits(%s::jsonb)", [payload], [(ok,)])


def test_size_limit_is_checked_before_depth(catalog):
    max_bytes, _ = limits(catalog)
    big = json.dumps({"blob": "x" * (max_bytes + 1)})
    results_eq(catalog, "SELECT raw_payload_within_limits(%s::jsonb)", [big], [(False,)])


# == trigger order: the limit runs before the PII walk ==========================================
@pytest.mark.parametrize("table", GUARDED)
def test_limit_trigger_fires_before_the_pii_guard(catalog, table):
    """Triggers of one event fire in name order; the WHEN of the next is evaluated after the
    previous trigger returned, so an over-limit row never reaches has_pii_key."""
    names = [r[0] for r in catalog.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
        "AND tgtype & 1 = 1 AND tgtype & 2 = 2 AND tgtype & 4 = 4 ORDER BY tgname", [table])]  # fmt: skip
    limit, pii = f"trg_{table}_limit_raw_payload", f"trg_{table}_reject_pii"
    assert limit in names and pii in names, names
    assert names.index(limit) < names.index(pii), names


@pytest.mark.parametrize("table", GUARDED)
def test_over_limit_payload_with_pii_is_rejected_by_the_limit(db, table):
    payload = '{"email":' * 100 + "1" + "}" * 100
    throws_ok(db, *_payload_insert(db, table, payload), CHECK_VIOLATION, "nests deeper than the limit")


# == the clean-row fast path stays inlinable ===================================================
@pytest.mark.parametrize(("function", "volatility"),
                         [("has_pii_key(jsonb)", "i"), ("raw_payload_within_limits(jsonb)", "s")])  # fmt: skip
def test_when_clause_functions_are_plain_inlinable_sql(catalog, function, volatility):
    row = catalog.execute(
        "SELECT l.lanname, p.provolatile, p.proisstrict, p.proconfig, p.prosecdef FROM pg_proc p "
        "JOIN pg_language l ON l.oid = p.prolang WHERE p.oid = %s::regprocedure", [function]
    ).fetchone()
    assert row == ("sql", volatility, False, None, False), f"{function}: {row}"


@pytest.mark.parametrize("function", ["has_pii_key", "raw_payload_within_limits"])
def test_when_clause_function_is_inlined(catalog, function):
    plan = "\n".join(r[0] for r in catalog.execute(
        f"EXPLAIN (VERBOSE, COSTS OFF) SELECT {function}(raw_payload) FROM attribution_events"))  # fmt: skip
    assert f"{function}(" not in plan, plan


# == capped error ==============================================================================
def _payload_insert(conn, table, payload: str):
    values = {**rows.DEFAULTS[table](), "tenant_id": rows.tenant(conn), "raw_payload": payload}
    return rows.insert_sql(table, values), list(values.values())


def test_error_names_the_first_paths_and_counts_the_rest(db, catalog):
    shown = catalog.execute("SELECT pii_paths_shown()").fetchone()[0]
    exc = throws_ok(db, *_payload_insert(db, "attribution_events", many_pii_keys(shown + 5)), CHECK_VIOLATION)
    message = exc.diag.message_primary
    assert message.count("$[") == shown and message.endswith(" and 5 more"), message
    assert "$[0].email" in message


def test_pii_key_count_and_paths_agree(catalog):
    payload = json.dumps({"a": [{"Email": 1}, {"ｐｈｏｎｅ": 2}], "ip": {"ssn": 3}, "note": "email"})
    count, every, first = catalog.execute(
        "SELECT pii_key_count(%s), pii_key_paths(%s), pii_key_paths(%s, 2)", [payload] * 3
    ).fetchone()
    assert every == ["$.a[0].Email", '$.a[1]."ｐｈｏｎｅ"', "$.ip", "$.ip.ssn"] and count == 4, (count, every)
    assert len(first) == 2 and set(first) <= set(every), first


# == Unicode normalisation =====================================================================
SPELLINGS = {
    "fullwidth": "ｅｍａｉｌ",
    "mathematical bold": "𝐞𝐦𝐚𝐢𝐥",
    "upper case": "EMAIL",
    "zero-width space": "e\u200bmail",
    "zero-width joiner and non-joiner": "e\u200dm\u200cail",
    "word joiner": "em\u2060ail",
    "byte order mark": "\ufeffemail",
    "soft hyphen": "e\u00admail",
    "variation selector": "email\ufe0f",
    "tag characters": "email\U000e0041",
    "fullwidth upper with zero width": "Ｐ\u200bＨＯＮＥ",
    "circled": "ⓘⓟ",  # NFKC maps circled letters to ASCII
    "ligature": "ﬁrst_name",
}
SLIPS = {  # documented residuals: not the same letters after NFKC
    "cyrillic e": "\u0435mail",
    "other spelling": "emailAddress",
    "sharp s": "addreß",
}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_odd_unicode_spellings_of_a_pii_key_are_caught(db, spelling):
    throws_ok(db, *_payload_insert(db, "dead_events", json.dumps({"c": {SPELLINGS[spelling]: "x"}})),
              CHECK_VIOLATION, "raw_payload holds PII key(s) at $.c.")  # fmt: skip


@pytest.mark.parametrize("spelling", SLIPS)
def test_what_still_slips_through_is_as_documented(db, spelling):
    lives_ok(db, *_payload_insert(db, "dead_events", json.dumps({SLIPS[spelling]: "x"})))


def test_delimiter_lookalikes_in_values_are_not_keys(catalog):
    """Fullwidth quotes and colons in a value become ASCII under NFKC; they must not make a key."""
    for payload in ['{"n": "＂email＂： 1"}', '{"a\\"email": 1}', '{"x": "\\"email\\": 1"}', '{"＂email": 1}']:
        results_eq(catalog, "SELECT has_pii_key(%s::jsonb)", [payload], [(False,)])
    # ...while a key after an escaped backslash is a key (both the ASCII and the NFKC path).
    for payload in ['{"a\\\\": {"email": 1}}', '{"é\\\\": {"email": 1}}']:
        results_eq(catalog, "SELECT has_pii_key(%s::jsonb), pii_key_count(%s::jsonb)", [payload] * 2, [(True, 1)])


# -- property: has_pii_key agrees with a Python oracle ------------------------------------------
IGNORABLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\ufe0f", "\U000e0041"]


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def _bold(s: str) -> str:
    return "".join(chr(0x1D41A + ord(c) - 97) if "a" <= c <= "z" else c for c in s)


def oracle_is_pii(key: str, pii_keys: set[str]) -> bool:
    folded = unicodedata.normalize("NFKC", key)
    folded = "".join(c for c in folded if unicodedata.category(c) != "Cf" and not 0xFE00 <= ord(c) <= 0xFE0F)
    folded = "".join(c.lower() if "A" <= c <= "Z" else c for c in folded)
    return folded in pii_keys


def oracle_has_pii(value, pii_keys: set[str]) -> bool:
    if isinstance(value, dict):
        return any(oracle_is_pii(k, pii_keys) or oracle_has_pii(v, pii_keys) for k, v in value.items())
    if isinstance(value, list):
        return any(oracle_has_pii(v, pii_keys) for v in value)
    return False


@st.composite
def odd_keys(draw, pii_keys: list[str]):
    base = draw(st.sampled_from([*pii_keys, "emails", "mail", "id", "total", "é", "ａ", "\u0435mail"]))
    form = draw(st.sampled_from([str, str.upper, str.title, _fullwidth, _bold]))
    key = form(base)
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(key)))
        key = key[:at] + draw(st.sampled_from(IGNORABLE)) + key[at:]
    return key if draw(st.booleans()) else draw(st.text(alphabet="aeilmp_ＥＭ\u200b\"\\:", max_size=8))


def payloads(pii_keys: list[str]):
    scalars = st.one_of(st.none(), st.integers(), st.text(alphabet="email:\"＂：\\ ", max_size=10))
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                st.dictionaries(odd_keys(pii_keys), inner, max_size=3)),  # fmt: skip
        max_leaves=12,
    )


def test_has_pii_key_agrees_with_a_python_oracle(catalog):
    pii_keys = catalog.execute("SELECT pii_keys()").fetchone()[0]  # the one list, from the database

    @settings(max_examples=300, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
    @given(payloads(pii_keys))
    def agree(value):
        text = json.dumps(value, ensure_ascii=False)
        has, paths, count = catalog.execute(
            "SELECT has_pii_key(%s::jsonb), cardinality(pii_key_paths(%s::jsonb)), pii_key_count(%s::jsonb)",
            [text] * 3,
        ).fetchone()
        expected = oracle_has_pii(value, set(pii_keys))
        assert has is expected, text
        assert (paths > 0, count > 0) == (expected, expected), (text, paths, count)
        assert paths == count, (text, paths, count)

    agree()


# == search_path: temporary look-alikes cannot change the guard ================================
TEMP_OBJECTS = [
    "CREATE DOMAIN pg_temp.jsonb AS text CHECK (false)",
    "CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (false)",
    "CREATE DOMAIN pg_temp.int4 AS pg_catalog.int4 CHECK (false)",
    "CREATE DOMAIN pg_temp.integer AS pg_catalog.int4 CHECK (false)",
    "CREATE DOMAIN pg_temp.jsonpath AS pg_catalog.text CHECK (false)",
    "CREATE FUNCTION pg_temp.lower(pg_catalog.text) RETURNS pg_catalog.text LANGUAGE sql AS $$ SELECT 'x' $$",
    "CREATE FUNCTION pg_temp.normalize(pg_catalog.text, pg_catalog.text) RETURNS pg_catalog.text "
    "LANGUAGE sql AS $$ SELECT 'x' $$",
    "CREATE FUNCTION pg_temp.regexp_replace(pg_catalog.text, pg_catalog.text, pg_catalog.text, pg_catalog.text) "
    "RETURNS pg_catalog.text LANGUAGE sql AS $$ SELECT 'x' $$",
    "CREATE FUNCTION pg_temp.replace(pg_catalog.text, pg_catalog.text, pg_catalog.text) "
    "RETURNS pg_catalog.text LANGUAGE sql AS $$ SELECT 'x' $$",
    "CREATE FUNCTION pg_temp.jsonb_path_exists(pg_catalog.jsonb, pg_catalog.jsonpath, pg_catalog.jsonb, boolean) "
    "RETURNS boolean LANGUAGE sql AS $$ SELECT false $$",
]


def test_temporary_lookalike_types_and_functions_do_not_change_the_guard(world):
    """The session that creates the temporary objects (the owner here: app roles may lose TEMP)
    puts pg_temp first in its search_path and then writes: the guard is unchanged."""
    with psycopg.connect(world["url"]) as conn:
        for ddl in TEMP_OBJECTS:
            conn.execute(ddl)
        conn.execute("SET search_path = pg_temp, public, pg_catalog")
        tenant = world["A"]["tenants"]
        for table in GUARDED:
            values = lambda payload: {**rows.DEFAULTS[table](), "tenant_id": tenant, "raw_payload": payload}  # noqa: E731
            ok = values(json.dumps({"order": {"id": 1}}))
            lives_ok(conn, rows.insert_sql(table, ok), list(ok.values()))
            pii = values(json.dumps({"customer": {"ｅｍａｉｌ": "x"}}))
            throws_ok(conn, rows.insert_sql(table, pii), list(pii.values()), CHECK_VIOLATION,
                      f"{table}.raw_payload holds PII key(s) at $.customer.")  # fmt: skip
            over = values(deep(65))
            throws_ok(conn, rows.insert_sql(table, over), list(over.values()), CHECK_VIOLATION,
                      "nests deeper than the limit of 64 levels")  # fmt: skip
        conn.rollback()


# == dead letters keep the fact of a failure ===================================================
def test_dead_letter_summary_of_an_oversized_payload_is_accepted(world):
    """docs/writing-data.md: an over-limit payload is dead-lettered as a summary."""
    tenant = world["A"]["tenants"]
    summary = {"truncated": True, "reason": "raw_payload_max_bytes", "size": 9_400_113, "sha256": "9f" * 32}
    with psycopg.connect(world["url"]) as conn:
        begin_as(conn, "app_rw", tenant)
        values = {"tenant_id": tenant, "source": "shopify", "error_code": "payload_too_large",
                  "error_detail": json.dumps({"sqlstate": "23514", "limit": 524288}),
                  "raw_payload": json.dumps(summary)}  # fmt: skip
        lives_ok(conn, rows.insert_sql("dead_events", values), list(values.values()))
        conn.rollback()


# == fractional cents: the writer converts, the database would round ===========================
def test_numeric_cents_are_rounded_half_away_from_zero_on_assignment(db):
    """Why writers must send integer cents: a numeric 1.5 becomes 2 and 2.5 becomes 3 silently
    (float8 would round half to even), and a text '12.5' is refused."""
    tenant = rows.tenant(db)
    for sent, stored in [(Decimal("1.5"), 2), (Decimal("2.5"), 3), (Decimal("0.49"), 0), (Decimal("2.51"), 3)]:
        event = rows.event(db, tenant, revenue_cents=sent)
        results_eq(db, "SELECT revenue_cents FROM attribution_events WHERE id = %s", [event], [(stored,)])
    results_eq(db, "SELECT 2.5::float8::integer, 3.5::float8::integer", [], [(2, 4)])
    throws_ok(db, "INSERT INTO attribution_events (tenant_id, occurred_at, raw_payload, revenue_cents) "
                  "VALUES (%s, now(), '{}', '12.5')", [tenant], "22P02")  # fmt: skip
