"""Cost per row of the trigger WHEN tests, old (202511131403) against new (202611281300/1301),
on 10,000 stored ~1.9 KB Shopify-like payloads (ASCII-only) and 10,000 with non-ASCII values.
Evaluates the expressions in a SELECT (no insert noise); minimum of 5 runs.

    ATTRIBUTION_DB_PORT=54331 .venv/bin/python bench/scripts/payload_guard_when_cost.py

Creates and drops the scratch table h1_bench and schema oldg in the local database.
"""

import time

import psycopg

from attribution_db import dburl
from attribution_db.cluster import Cluster

SETUP = r"""DROP TABLE IF EXISTS h1_bench;
DROP SCHEMA IF EXISTS oldg CASCADE;
CREATE SCHEMA oldg;
CREATE FUNCTION oldg.has_pii_key(payload jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(jsonb_path_query_array(payload, 'strict $.** ? (@.type() == "object").keyvalue().key')::text)::jsonb ?| public.pii_keys() $$;
CREATE TABLE h1_bench AS SELECT n, jsonb_build_object('id', 5678901234+n, 'currency','EUR','total_price','129.90',
   'note_attributes', jsonb_build_array(jsonb_build_object('name','utm_source','value','google')),
   'line_items', (SELECT jsonb_agg(jsonb_build_object('id', g, 'sku','SKU-'||g, 'title', CASE WHEN n % 2 = 0 THEN 'Product title number ' ELSE 'Produkt Größe € ' END ||g, 'quantity', 1, 'price','12.99',
      'price_set', jsonb_build_object('shop_money', jsonb_build_object('amount','12.99','currency_code','EUR'), 'presentment_money', jsonb_build_object('amount','12.99','currency_code','EUR')),
      'tax_lines', jsonb_build_array(jsonb_build_object('rate',0.19,'title','MwSt','price','2.07')))) FROM generate_series(1,6) g)) AS p
 FROM generate_series(1,20000) n;
ALTER TABLE h1_bench ALTER p SET STORAGE EXTERNAL;
VACUUM ANALYZE h1_bench;
"""

exprs = {
  "baseline (detoast only)": "p IS NOT NULL",
  "old has_pii_key (202511131403)": "oldg.has_pii_key(p)",
  "new has_pii_key": "public.has_pii_key(p)",
  "new raw_payload_within_limits": "public.raw_payload_within_limits(p)",
  "new both WHEN tests": "public.raw_payload_within_limits(p) AND public.has_pii_key(p)",
}
url = dburl.from_env() or Cluster.embedded().url()
with psycopg.connect(url, autocommit=True) as conn:
    for statement in SETUP.split(";\n"):
        if statement.strip():
            conn.execute(statement)
res = {k: {"ascii": [], "non-ascii": []} for k in exprs}
with psycopg.connect(url, autocommit=True) as conn:
    for _ in range(5):
        for k, e in exprs.items():
            for kind, cond in (("ascii", "n % 2 = 0"), ("non-ascii", "n % 2 = 1")):
                t = time.perf_counter()
                conn.execute(f"SELECT count(*) FROM h1_bench WHERE {cond} AND ({e}) IS NOT NULL").fetchone()
                res[k][kind].append((time.perf_counter() - t) / 10000 * 1e6)
for k, v in res.items():
    print(f"{k:34} ASCII-only {min(v['ascii']):6.1f} us/row   with non-ASCII {min(v['non-ascii']):6.1f} us/row  (min of 5 x 10,000 rows)")

with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("DROP TABLE h1_bench; DROP SCHEMA oldg CASCADE")
