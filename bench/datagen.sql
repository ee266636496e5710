-- Synthetic marketplace for the Layer 3 benchmark, generated entirely inside PostgreSQL.
--
-- Parameters (psql variables): users (N) and seed. Run after schema/marketplace.sql, e.g.
--   psql -v users=100000 -v seed=1 -f schema/marketplace.sql -f bench/datagen.sql "$URL"
-- (bench/datagen.js does the same through node-postgres, substituting the two variables.)
--
-- Deterministic for a given (N, seed): every id is md5(seed/table/index)::uuid and every
-- random choice is hashint8extended(index, seed-derived key), so no random() and no
-- dependence on plan or parallelism.
--
-- Shape per N users (see bench/README.md):
--   users            N, 2% soft-deleted (deleted_at <> 0)
--   user_preferences ~0.9N (+5% second rows); attribute_preferences: ~80% of those have a
--                    preferred mens_size (25% two of them, so "smallest in byte order" matters),
--                    ~10% only other attributes or a non-preferred mens_size; ~10% of users none
--   user_activities  ~0.9N users with a row (10% of them two rows, 1% NULL last_active)
--   products         N/20, names with commas, quotes, non-ASCII (and a rare newline)
--   product_variants 10 per product; ~2% no mens_size key, ~0.5% NULL index_cache,
--                    ~0.5% JSON null, ~10% the size as a JSON number
--   inventory_items  5N, 80% OPEN_FOR_TRADE
--   wishlist_items   5N, 10% soft-deleted
--   offers           N, 1-4 items each (0.5% with none: no activity per the contract)
--   created_at       uniform over the 30 days before T0 = 2026-11-01 00:00 (30% whole seconds);
--                    the activity tables' rows are stored in created_at order, as an app that
--                    appends them when users act stores them (offer items with their offer)
--                    bench/run.js uses asOf = T0 + 12 h, so the default window
--                    [asOf-36h, asOf-12h) = the last day = 1/30 of the activity
--   popularity       variants and users are drawn Zipf-like (rank = floor(M * u^k)) through a
--                    fixed permutation, so the demand thresholds keep most rows and drop a real share
--
-- Layer 5 (new-user waterfall): rows added after all of the above, drawn from keys of their own
-- (seed * 100 + 200 and up), so the rows above are exactly those of the Layer 3 data (the same
-- rows in the same physical order, every table's new rows after them):
--   the N users      their created_at spans 400 days, so ~3.4% of them fall in Layer 5's default
--                    window [asOf - 14 d, asOf - 12 h] too; their bio is NULL (left as it was), so
--                    they land in level 1 (no closet item, ~2% of them) or level 2
--   desired_items    N/2 rows for users drawn uniformly from the N, on the catalogue above
--   new users        max(20, N/100) more users ('nu'), created over the 15 days before
--                    asOf = T0 + 12 h (~90% in the default window; one account on each of its
--                    ends and one a microsecond outside each, four at one instant), 5%
--                    NULL and 3% '' first names, 2% soft-deleted; bio NULL 20%, '' 6%, spaces 6%,
--                    a tab 3% and a newline 2% (both a bio), else text; 60% a closet (1-3 items,
--                    any status), 55% offers (1-3, 3% of them without items, some at the same
--                    instant), wishlist 45% live (with some deleted) / 10% deleted only / 45% none,
--                    50% desired items (1-4, offers_count 0-3 so ties are common, 10% deleted,
--                    30% of users' items at one instant); 80% a preference row (30% two preferred
--                    mens sizes) and 80% 1-3 user_activities rows (the production script's LEFT
--                    JOINs would repeat them)
--                    Their closet and wishlist items are on a catalogue of their own (products
--                    'np', N/2000 or more, 5 variants each) and all their activity is dated 31-60
--                    days before T0, before the Layer 3 activity span: no Layer 3 window of up to
--                    30 days and no demand count changes. Offers and desired items also use the
--                    main catalogue (Layer 3 counts neither). The schema's foreign keys keep every
--                    variant and product in place: the target shoe's "Unknown Product" fallback
--                    cannot occur in this data (the tests' fixture covers it).
--
-- Indexes: the ones in schema/marketplace.sql only. For loading speed they (and the keys)
-- are dropped first and re-created at the end, identically (pg_get_indexdef / constraintdef).

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET maintenance_work_mem = '512MB';
SET work_mem = '256MB';

DROP TABLE IF EXISTS pg_temp.bench_params;
CREATE TEMP TABLE bench_params AS
SELECT (:users)::bigint AS n,
       (:seed)::bigint AS seed,
       greatest(1, (:users)::bigint / 20) AS n_products,
       greatest(1, (:users)::bigint / 20) * 10 AS n_variants,
       timestamp '2026-11-01 00:00:00' AS t0,
       -- Layer 5: the new users, their own catalogue (5 variants per product), the bench's asOf.
       greatest(20, (:users)::bigint / 100) AS n_new,
       greatest(2, (:users)::bigint / 2000) AS n_new_products,
       greatest(2, (:users)::bigint / 2000) * 5 AS n_new_variants,
       timestamp '2026-11-01 12:00:00' AS as_of;

-- A uniform number in [0, 1) from (index, key): 32 bits of hashint8extended. Inlined by the planner.
CREATE OR REPLACE FUNCTION pg_temp.rnd(i bigint, k bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (hashint8extended(i, k) & 4294967295)::float8 / 4294967296.0 $$;

-- A deterministic uuid.
CREATE OR REPLACE FUNCTION pg_temp.uid(seed bigint, tag text, i bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT md5(seed::text || '/' || tag || '/' || i::text)::uuid $$;

-- Zipf-like pick of an index in [1, m]: rank = floor(m * u^k) (rank 0 the most popular),
-- spread over [1, m] by a fixed permutation (multiplication by the prime 2^31-1, plus an offset).
CREATE OR REPLACE FUNCTION pg_temp.skewed(u float8, m bigint, k float8, off bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ((least(floor(m * power(u, k))::bigint, m - 1) * 2147483647 + off) % m) + 1 $$;

-- A timestamp uniform over the 30 days before t0; 30% of them whole seconds.
CREATE OR REPLACE FUNCTION pg_temp.activity_time(t0 timestamp, u float8, v float8) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN v < 0.3
               THEN date_trunc('second', t0 - make_interval(secs => u * 2592000))
               ELSE t0 - make_interval(secs => round((u * 2592000)::numeric, 6)::float8) END $$;

-- Drop the keys and indexes (re-created identically at the end).
DROP TABLE IF EXISTS pg_temp.bench_defs;
CREATE TEMP TABLE bench_defs (ord int, tbl regclass, name text, def text, kind text);
INSERT INTO bench_defs
SELECT CASE c.contype WHEN 'p' THEN 1 ELSE 2 END, c.conrelid::regclass, c.conname,
       pg_get_constraintdef(c.oid), c.contype::text
FROM pg_constraint c
WHERE c.conrelid IN ('users'::regclass, 'user_activities'::regclass, 'attributes'::regclass,
                     'attribute_values'::regclass, 'user_preferences'::regclass,
                     'attribute_preferences'::regclass, 'products'::regclass,
                     'product_variants'::regclass, 'inventory_items'::regclass,
                     'wishlist_items'::regclass, 'offers'::regclass, 'offer_items'::regclass,
                     'desired_items'::regclass)
  AND c.contype IN ('p', 'f', 'u');
INSERT INTO bench_defs
SELECT 3, i.indrelid::regclass, ic.relname, pg_get_indexdef(i.indexrelid), 'i'
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid IN (SELECT DISTINCT tbl FROM bench_defs)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);

DO $$
DECLARE d record;
BEGIN
  FOR d IN SELECT * FROM pg_temp.bench_defs WHERE kind = 'f' LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', d.tbl, d.name);
  END LOOP;
  FOR d IN SELECT * FROM pg_temp.bench_defs WHERE kind IN ('p', 'u') LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', d.tbl, d.name);
  END LOOP;
  FOR d IN SELECT * FROM pg_temp.bench_defs WHERE kind = 'i' LOOP
    EXECUTE format('DROP INDEX %I', d.name);
  END LOOP;
END $$;

TRUNCATE users, user_activities, attributes, attribute_values, user_preferences, attribute_preferences,
         products, product_variants, inventory_items, wishlist_items, offers, offer_items, desired_items;

-- Users ---------------------------------------------------------------------------------
INSERT INTO users (id, username, first_name, deleted_at, created_at)
SELECT pg_temp.uid(p.seed, 'u', g.i),
       CASE WHEN pg_temp.rnd(g.i, p.seed * 100 + 1) < 0.01 THEN 'zoë_ünï_' || g.i
            WHEN pg_temp.rnd(g.i, p.seed * 100 + 1) < 0.015 THEN 'kicks, "fresh" ' || g.i
            ELSE 'user' || g.i END,
       CASE WHEN pg_temp.rnd(g.i, p.seed * 100 + 2) < 0.08 THEN NULL
            WHEN pg_temp.rnd(g.i, p.seed * 100 + 2) < 0.10 THEN ''
            ELSE (ARRAY['James', 'Mary', 'José', 'Zoë', 'O''Brien', 'Anne-Marie', 'Jean, Jr.',
                        '"Kicks"', 'Łukasz', '李', 'Ana María', 'Chloé', 'Mohammed', 'Søren',
                        'Priya', 'Kwame', 'Olivia', 'Noah', 'Emma', 'Liam'])
                 [1 + floor(pg_temp.rnd(g.i, p.seed * 100 + 3) * 20)::int] END,
       CASE WHEN pg_temp.rnd(g.i, p.seed * 100 + 4) < 0.02 THEN 1700000000000 + g.i ELSE 0 END,
       p.t0 - make_interval(secs => pg_temp.rnd(g.i, p.seed * 100 + 5) * 400 * 86400)
FROM bench_params p, generate_series(1, p.n) AS g(i);

-- Attributes and values -------------------------------------------------------------------
INSERT INTO attributes (id, name)
SELECT pg_temp.uid(p.seed, 'a', a.ord), a.name
FROM bench_params p,
     unnest(ARRAY['mens_size', 'womens_size', 'color', 'width']) WITH ORDINALITY AS a(name, ord);

DROP TABLE IF EXISTS pg_temp.bench_values;
CREATE TEMP TABLE bench_values AS
SELECT attr, ord, value, pg_temp.uid(p.seed, 'av/' || attr, ord) AS id, attr_ord
FROM bench_params p,
     LATERAL (
       SELECT 'mens_size' AS attr, 1 AS attr_ord, s.ord, s.value
       FROM unnest(ARRAY['7', '7.5', '8', '8.5', '9', '9.5', '10', '10.5', '11', '11.5', '12',
                         '12.5', '13', '14', '15', '16', '6.5']) WITH ORDINALITY AS s(value, ord)
       UNION ALL
       SELECT 'womens_size', 2, s.ord, s.value
       FROM unnest(ARRAY['5', '5.5', '6', '6.5', '7', '7.5', '8', '8.5', '9', '10', '11', '12'])
            WITH ORDINALITY AS s(value, ord)
       UNION ALL
       SELECT 'color', 3, s.ord, s.value
       FROM unnest(ARRAY['black', 'white', 'red', 'blue', 'green', 'grey'])
            WITH ORDINALITY AS s(value, ord)
       UNION ALL
       SELECT 'width', 4, s.ord, s.value
       FROM unnest(ARRAY['D', '2E', '4E', 'B']) WITH ORDINALITY AS s(value, ord)
     ) v;

INSERT INTO attribute_values (id, attribute_id, value)
SELECT v.id, pg_temp.uid(p.seed, 'a', v.attr_ord), v.value
FROM bench_params p, bench_values v;

-- User preferences: ~90% of users one row, 5% of those a second one.
INSERT INTO user_preferences (id, user_id)
SELECT pg_temp.uid(p.seed, 'up', g.i * 2 + j.j), pg_temp.uid(p.seed, 'u', g.i)
FROM bench_params p, generate_series(1, p.n) AS g(i), generate_series(0, 1) AS j(j)
WHERE pg_temp.rnd(g.i, p.seed * 100 + 10) < 0.9
  AND (j.j = 0 OR pg_temp.rnd(g.i, p.seed * 100 + 11) < 0.05);

-- Attribute preferences, per preference row (user i, row j), four slots:
--   1: a preferred mens_size (80% of rows: the "size" category)
--   2: a second preferred mens_size (25% of the size category)
--   3: a non-preferred mens_size (30% of all rows)
--   4: another attribute, preferred 70% of the time (80% of rows; always outside the size category)
-- mens_size values are drawn triangular around the middle sizes.
INSERT INTO attribute_preferences (id, user_preference_id, attribute_value_id, preferred)
SELECT pg_temp.uid(p.seed, 'ap', (g.i * 2 + j.j) * 4 + s.slot),
       pg_temp.uid(p.seed, 'up', g.i * 2 + j.j),
       CASE WHEN s.slot <= 3
            THEN pg_temp.uid(p.seed, 'av/mens_size',
                   1 + floor((pg_temp.rnd(h.k, p.seed * 100 + 20 + s.slot)
                              + pg_temp.rnd(h.k, p.seed * 100 + 30 + s.slot)) / 2 * 17)::bigint)
            ELSE pg_temp.uid(p.seed,
                   'av/' || (ARRAY['womens_size', 'color', 'width'])[1 + floor(pg_temp.rnd(h.k, p.seed * 100 + 40) * 3)::int],
                   1 + floor(pg_temp.rnd(h.k, p.seed * 100 + 41) * 4)::bigint) END,
       CASE WHEN s.slot <= 2 THEN true
            WHEN s.slot = 3 THEN false
            ELSE pg_temp.rnd(h.k, p.seed * 100 + 42) < 0.7 END
FROM bench_params p, generate_series(1, p.n) AS g(i), generate_series(0, 1) AS j(j),
     LATERAL (SELECT g.i * 2 + j.j AS k) h,
     generate_series(1, 4) AS s(slot)
WHERE pg_temp.rnd(g.i, p.seed * 100 + 10) < 0.9
  AND (j.j = 0 OR pg_temp.rnd(g.i, p.seed * 100 + 11) < 0.05)
  AND CASE s.slot
        WHEN 1 THEN pg_temp.rnd(h.k, p.seed * 100 + 12) < 0.8
        WHEN 2 THEN pg_temp.rnd(h.k, p.seed * 100 + 12) < 0.8 AND pg_temp.rnd(h.k, p.seed * 100 + 13) < 0.25
        WHEN 3 THEN pg_temp.rnd(h.k, p.seed * 100 + 14) < 0.3
        ELSE pg_temp.rnd(h.k, p.seed * 100 + 12) >= 0.8 OR pg_temp.rnd(h.k, p.seed * 100 + 15) < 0.8 END;

-- User activities: ~90% of users, 10% of those two rows, 1% NULL last_active.
INSERT INTO user_activities (id, user_id, last_active)
SELECT pg_temp.uid(p.seed, 'ua', g.i * 2 + j.j), pg_temp.uid(p.seed, 'u', g.i),
       CASE WHEN pg_temp.rnd(g.i * 2 + j.j, p.seed * 100 + 52) < 0.01 THEN NULL
            ELSE pg_temp.activity_time(p.t0 + interval '1 day',
                   pg_temp.rnd(g.i * 2 + j.j, p.seed * 100 + 53),
                   pg_temp.rnd(g.i * 2 + j.j, p.seed * 100 + 54)) END
FROM bench_params p, generate_series(1, p.n) AS g(i), generate_series(0, 1) AS j(j)
WHERE pg_temp.rnd(g.i, p.seed * 100 + 50) < 0.9
  AND (j.j = 0 OR pg_temp.rnd(g.i, p.seed * 100 + 51) < 0.1);

-- Products and variants ---------------------------------------------------------------------
INSERT INTO products (id, name)
SELECT pg_temp.uid(p.seed, 'p', g.i),
       (ARRAY['Nike', 'Jordan', 'adidas', 'New Balance', 'ASICS', 'Saucony', 'Onitsuka Tiger',
              'Hoka', 'Puma', 'Reebok', 'Converse', 'Vans'])[1 + floor(pg_temp.rnd(g.i, p.seed * 100 + 60) * 12)::int]
       || ' ' ||
       (ARRAY['Air Max 90', 'Dunk Low', 'Samba OG', '990v6', 'Gel-Kayano 14', 'Forum 84',
              'Chuck 70', 'Old Skool', 'Clifton 9', 'Gazelle', 'Air Force 1', 'Retro High OG'])
             [1 + floor(pg_temp.rnd(g.i, p.seed * 100 + 61) * 12)::int]
       || CASE WHEN pg_temp.rnd(g.i, p.seed * 100 + 62) < 0.15 THEN ' "Infrared"'
               WHEN pg_temp.rnd(g.i, p.seed * 100 + 62) < 0.25 THEN ', Chicago'
               WHEN pg_temp.rnd(g.i, p.seed * 100 + 62) < 0.32 THEN ' — Édition Spéciale'
               WHEN pg_temp.rnd(g.i, p.seed * 100 + 62) < 0.36 THEN ' „Ünïcødé“ 限定版'
               WHEN pg_temp.rnd(g.i, p.seed * 100 + 62) < 0.38 THEN ' 12" tall, "Bred"'
               WHEN pg_temp.rnd(g.i, p.seed * 100 + 62) < 0.381 THEN E'\nsecond line'
               ELSE '' END
       || ' #' || g.i
FROM bench_params p, generate_series(1, p.n_products) AS g(i);

INSERT INTO product_variants (id, product_id, index_cache)
SELECT pg_temp.uid(p.seed, 'v', g.i),
       pg_temp.uid(p.seed, 'p', (g.i - 1) / 10 + 1),
       CASE WHEN r.u < 0.005 THEN NULL
            WHEN r.u < 0.025 THEN jsonb_build_object('color', 'black', 'sku', 'SKU-' || g.i)
            WHEN r.u < 0.030 THEN jsonb_build_object('mens_size', NULL, 'sku', 'SKU-' || g.i)
            WHEN r.u < 0.130 THEN jsonb_build_object('mens_size', r.size::numeric, 'sku', 'SKU-' || g.i)
            ELSE jsonb_build_object('mens_size', r.size, 'color', 'white', 'sku', 'SKU-' || g.i) END
FROM bench_params p, generate_series(1, p.n_variants) AS g(i),
     LATERAL (SELECT pg_temp.rnd(g.i, p.seed * 100 + 70) AS u,
                     (ARRAY['7', '7.5', '8', '8.5', '9', '9.5', '10', '10.5', '11', '11.5', '12',
                            '12.5', '13', '14', '15', '16'])[1 + ((g.i - 1) % 10) + floor(pg_temp.rnd(g.i, p.seed * 100 + 71) * 6)::int]
                     AS size) r;

-- Activity ----------------------------------------------------------------------------------
-- Users: rank = floor(N * u^1.6) (a mild skew: some heavy traders). Variants: rank =
-- floor(V * u^4) (strong skew), a different permutation offset per table so the tables'
-- popular variants overlap only partly.
INSERT INTO inventory_items (id, user_id, product_variant_id, status, created_at)
SELECT pg_temp.uid(p.seed, 'ii', g.i),
       pg_temp.uid(p.seed, 'u', pg_temp.skewed(pg_temp.rnd(g.i, p.seed * 100 + 80), p.n, 1.6, 11)),
       pg_temp.uid(p.seed, 'v', pg_temp.skewed(pg_temp.rnd(g.i, p.seed * 100 + 81), p.n_variants, 4, 0)),
       CASE WHEN pg_temp.rnd(g.i, p.seed * 100 + 82) < 0.80 THEN 'OPEN_FOR_TRADE'
            WHEN pg_temp.rnd(g.i, p.seed * 100 + 82) < 0.90 THEN 'SOLD'
            WHEN pg_temp.rnd(g.i, p.seed * 100 + 82) < 0.95 THEN 'PENDING'
            ELSE 'HIDDEN' END,
       pg_temp.activity_time(p.t0, pg_temp.rnd(g.i, p.seed * 100 + 83), pg_temp.rnd(g.i, p.seed * 100 + 84))
FROM bench_params p, generate_series(1, 5 * p.n) AS g(i)
ORDER BY 5, 1;

INSERT INTO wishlist_items (id, user_id, product_variant_id, deleted_at, created_at)
SELECT pg_temp.uid(p.seed, 'wi', g.i),
       pg_temp.uid(p.seed, 'u', pg_temp.skewed(pg_temp.rnd(g.i, p.seed * 100 + 90), p.n, 1.6, 13)),
       pg_temp.uid(p.seed, 'v', pg_temp.skewed(pg_temp.rnd(g.i, p.seed * 100 + 91), p.n_variants, 4, 7)),
       CASE WHEN pg_temp.rnd(g.i, p.seed * 100 + 92) < 0.10 THEN 1700000000000 + g.i ELSE 0 END,
       pg_temp.activity_time(p.t0, pg_temp.rnd(g.i, p.seed * 100 + 93), pg_temp.rnd(g.i, p.seed * 100 + 94))
FROM bench_params p, generate_series(1, 5 * p.n) AS g(i)
ORDER BY 5, 1;

INSERT INTO offers (id, creator_user_id, created_at)
SELECT pg_temp.uid(p.seed, 'o', g.i),
       pg_temp.uid(p.seed, 'u', pg_temp.skewed(pg_temp.rnd(g.i, p.seed * 100 + 100), p.n, 1.6, 17)),
       pg_temp.activity_time(p.t0, pg_temp.rnd(g.i, p.seed * 100 + 101), pg_temp.rnd(g.i, p.seed * 100 + 102))
FROM bench_params p, generate_series(1, p.n) AS g(i)
ORDER BY 3, 1;

-- 1-4 items per offer (0.5% none); an item's variant is drawn like an inventory item's.
INSERT INTO offer_items (id, offer_id, product_variant_id)
SELECT pg_temp.uid(p.seed, 'oi', g.i * 4 + k.k),
       pg_temp.uid(p.seed, 'o', g.i),
       pg_temp.uid(p.seed, 'v', pg_temp.skewed(pg_temp.rnd(g.i * 4 + k.k, p.seed * 100 + 111), p.n_variants, 4, 0))
FROM bench_params p, generate_series(1, p.n) AS g(i), generate_series(0, 3) AS k(k)
WHERE pg_temp.rnd(g.i, p.seed * 100 + 110) >= 0.005
  AND k.k <= floor(pg_temp.rnd(g.i, p.seed * 100 + 112) * 4)
ORDER BY pg_temp.activity_time(p.t0, pg_temp.rnd(g.i, p.seed * 100 + 101), pg_temp.rnd(g.i, p.seed * 100 + 102)), 2, 1;

-- Layer 5 (new-user waterfall) ----------------------------------------------------------------
-- Everything below uses keys seed * 100 + 200 and up (none above does) and ids of its own tags,
-- so the rows above are exactly those of a run without this section.

-- A time 31-60 days before t0 (before the Layer 3 activity span); 30% whole seconds.
CREATE OR REPLACE FUNCTION pg_temp.before_span(t0 timestamp, u float8, v float8) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN v < 0.3
               THEN date_trunc('second', t0 - interval '31 days' - make_interval(secs => u * 29 * 86400))
               ELSE t0 - interval '31 days' - make_interval(secs => round((u * 29 * 86400)::numeric, 6)::float8) END $$;

-- Desired items of the N users above: user uniform, variant Zipf-like as the inventory's,
-- offers_count mostly small (ties), 5% deleted.
INSERT INTO desired_items (id, user_id, product_variant_id, offers_count, deleted_at, created_at)
SELECT pg_temp.uid(p.seed, 'di', g.i),
       pg_temp.uid(p.seed, 'u', 1 + floor(pg_temp.rnd(g.i, p.seed * 100 + 240) * p.n)::bigint),
       pg_temp.uid(p.seed, 'v', pg_temp.skewed(pg_temp.rnd(g.i, p.seed * 100 + 241), p.n_variants, 4, 3)),
       floor(power(pg_temp.rnd(g.i, p.seed * 100 + 242), 3) * 40)::int,
       CASE WHEN pg_temp.rnd(g.i, p.seed * 100 + 243) < 0.05 THEN 1700000000000 + g.i ELSE 0 END,
       pg_temp.activity_time(p.t0, pg_temp.rnd(g.i, p.seed * 100 + 244), pg_temp.rnd(g.i, p.seed * 100 + 245))
FROM bench_params p, generate_series(1, p.n / 2) AS g(i);

-- The new users' catalogue: products 'np', 5 variants each ('nv').
INSERT INTO products (id, name)
SELECT pg_temp.uid(p.seed, 'np', g.i),
       (ARRAY['Air Jordan 1 Retro High OG "Bred Toe"', 'Dunk Low, "Panda"', 'Samba OG — Édition', 'Gel-1130',
              'Yeezy Slide „Onyx“', '990v6 Grey'])[1 + floor(pg_temp.rnd(g.i, p.seed * 100 + 250) * 6)::int]
       || ' (new release #' || g.i || ')'
FROM bench_params p, generate_series(1, p.n_new_products) AS g(i);

INSERT INTO product_variants (id, product_id, index_cache)
SELECT pg_temp.uid(p.seed, 'nv', g.i),
       pg_temp.uid(p.seed, 'np', (g.i - 1) / 5 + 1),
       jsonb_build_object('mens_size', (ARRAY['8', '9', '10', '10.5', '11'])[1 + (g.i - 1) % 5], 'sku', 'NEW-' || g.i)
FROM bench_params p, generate_series(1, p.n_new_variants) AS g(i);

-- The new users and what each has done (one row per user, its draws kept for the inserts below).
DROP TABLE IF EXISTS pg_temp.bench_new_users;
CREATE TEMP TABLE bench_new_users AS
SELECT g.j,
       pg_temp.uid(p.seed, 'nu', g.j) AS id,
       CASE g.j
         WHEN 1 THEN p.as_of - interval '12 hours'                            -- the window's end: in
         WHEN 2 THEN p.as_of - interval '12 hours' + interval '1 microsecond' -- out
         WHEN 3 THEN p.as_of - interval '14 days'                             -- the window's start: in
         WHEN 4 THEN p.as_of - interval '14 days' - interval '1 microsecond'  -- out
         WHEN 5 THEN p.as_of - interval '2 days'                              -- 5-8: one instant, ordered by id
         WHEN 6 THEN p.as_of - interval '2 days'
         WHEN 7 THEN p.as_of - interval '2 days'
         WHEN 8 THEN p.as_of - interval '2 days'
         ELSE CASE WHEN pg_temp.rnd(g.j, p.seed * 100 + 201) < 0.3
                   THEN date_trunc('second', p.as_of - make_interval(secs => pg_temp.rnd(g.j, p.seed * 100 + 202) * 15 * 86400))
                   ELSE p.as_of - make_interval(secs => round((pg_temp.rnd(g.j, p.seed * 100 + 202) * 15 * 86400)::numeric, 6)::float8) END
       END AS created_at,
       pg_temp.rnd(g.j, p.seed * 100 + 203) AS r_username,
       pg_temp.rnd(g.j, p.seed * 100 + 204) AS r_first_name,
       pg_temp.rnd(g.j, p.seed * 100 + 205) AS r_deleted,
       pg_temp.rnd(g.j, p.seed * 100 + 206) AS r_bio,
       pg_temp.rnd(g.j, p.seed * 100 + 207) < 0.60 AS has_closet,
       pg_temp.rnd(g.j, p.seed * 100 + 208) < 0.55 AS has_offers,
       CASE WHEN pg_temp.rnd(g.j, p.seed * 100 + 209) < 0.45 THEN 'live'
            WHEN pg_temp.rnd(g.j, p.seed * 100 + 209) < 0.55 THEN 'deleted'
            ELSE 'none' END AS wishlist,
       pg_temp.rnd(g.j, p.seed * 100 + 210) < 0.50 AS has_desired,
       pg_temp.rnd(g.j, p.seed * 100 + 211) AS r_count,      -- how many items of each kind
       pg_temp.rnd(g.j, p.seed * 100 + 212) < 0.2 AS same_instant  -- a user's offers, wishes, desires at one instant
FROM bench_params p, generate_series(1, p.n_new) AS g(j);

INSERT INTO users (id, username, first_name, bio, deleted_at, created_at)
SELECT nu.id,
       CASE WHEN nu.r_username < 0.02 THEN 'nöö_ñew_' || nu.j
            WHEN nu.r_username < 0.04 THEN 'new, "kicks" ' || nu.j
            ELSE 'newuser' || nu.j END,
       CASE WHEN nu.r_first_name < 0.05 THEN NULL
            WHEN nu.r_first_name < 0.08 THEN ''
            ELSE (ARRAY['Ada', 'Bo', 'Chloé', 'Dmitri, Jr.', '"Deco"', 'Eun-ji', 'Farah', 'Gus', 'Hana', '王'])
                 [1 + floor(pg_temp.rnd(nu.j, p.seed * 100 + 213) * 10)::int] END,
       CASE WHEN nu.r_bio < 0.20 THEN NULL
            WHEN nu.r_bio < 0.26 THEN ''
            WHEN nu.r_bio < 0.32 THEN '   '
            WHEN nu.r_bio < 0.35 THEN E'\t'
            WHEN nu.r_bio < 0.37 THEN E'\n'
            ELSE 'New here, into ' || (ARRAY['Jordans', 'runners', 'dunks', 'grails'])[1 + nu.j % 4] END,
       CASE WHEN nu.r_deleted < 0.02 THEN 1800000000000 + nu.j ELSE 0 END,
       nu.created_at
FROM bench_params p, bench_new_users nu
ORDER BY nu.j;

-- Preferences: 80% a row, with one preferred mens_size, 30% of them a second.
INSERT INTO user_preferences (id, user_id)
SELECT pg_temp.uid(p.seed, 'nup', nu.j), nu.id
FROM bench_params p, bench_new_users nu
WHERE pg_temp.rnd(nu.j, p.seed * 100 + 214) < 0.8;

INSERT INTO attribute_preferences (id, user_preference_id, attribute_value_id, preferred)
SELECT pg_temp.uid(p.seed, 'nap', nu.j * 2 + s.slot),
       pg_temp.uid(p.seed, 'nup', nu.j),
       pg_temp.uid(p.seed, 'av/mens_size', 1 + floor(pg_temp.rnd(nu.j * 2 + s.slot, p.seed * 100 + 215) * 17)::bigint),
       true
FROM bench_params p, bench_new_users nu, generate_series(0, 1) AS s(slot)
WHERE pg_temp.rnd(nu.j, p.seed * 100 + 214) < 0.8
  AND (s.slot = 0 OR pg_temp.rnd(nu.j, p.seed * 100 + 216) < 0.3);

-- Activity rows: 80% of the new users 1-3.
INSERT INTO user_activities (id, user_id, last_active)
SELECT pg_temp.uid(p.seed, 'nua', nu.j * 4 + k.k), nu.id,
       nu.created_at + make_interval(secs => round((pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 218) * 86400)::numeric, 6)::float8)
FROM bench_params p, bench_new_users nu, generate_series(0, 2) AS k(k)
WHERE pg_temp.rnd(nu.j, p.seed * 100 + 217) < 0.8
  AND k.k <= floor(pg_temp.rnd(nu.j, p.seed * 100 + 219) * 3);

-- Closets: 1-3 items on the new catalogue, any status.
INSERT INTO inventory_items (id, user_id, product_variant_id, status, created_at)
SELECT pg_temp.uid(p.seed, 'nii', nu.j * 4 + k.k), nu.id,
       pg_temp.uid(p.seed, 'nv', 1 + floor(pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 220) * p.n_new_variants)::bigint),
       CASE WHEN pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 221) < 0.7 THEN 'OPEN_FOR_TRADE'
            WHEN pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 221) < 0.8 THEN 'SOLD'
            WHEN pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 221) < 0.9 THEN 'PENDING'
            ELSE 'HIDDEN' END,
       pg_temp.before_span(p.t0, pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 222), pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 223))
FROM bench_params p, bench_new_users nu, generate_series(0, 2) AS k(k)
WHERE nu.has_closet AND k.k <= floor(nu.r_count * 3);

-- Offers: 1-3, on the main and the new catalogue; a user's offers at one instant for 20% (the
-- newest is then the smallest offer id); 3% of offers have no item.
DROP TABLE IF EXISTS pg_temp.bench_new_offers;
CREATE TEMP TABLE bench_new_offers AS
SELECT nu.j * 4 + k.k AS o, pg_temp.uid(p.seed, 'no', nu.j * 4 + k.k) AS id, nu.id AS user_id,
       CASE WHEN nu.same_instant THEN pg_temp.before_span(p.t0, pg_temp.rnd(nu.j, p.seed * 100 + 224), 0)
            ELSE pg_temp.before_span(p.t0, pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 225), pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 226)) END
       AS created_at
FROM bench_params p, bench_new_users nu, generate_series(0, 2) AS k(k)
WHERE nu.has_offers AND k.k <= floor(pg_temp.rnd(nu.j, p.seed * 100 + 227) * 3);

INSERT INTO offers (id, creator_user_id, created_at)
SELECT id, user_id, created_at FROM bench_new_offers ORDER BY created_at, id;

INSERT INTO offer_items (id, offer_id, product_variant_id)
SELECT pg_temp.uid(p.seed, 'noi', no.o * 4 + m.m), no.id,
       CASE WHEN pg_temp.rnd(no.o * 4 + m.m, p.seed * 100 + 228) < 0.5
            THEN pg_temp.uid(p.seed, 'v', pg_temp.skewed(pg_temp.rnd(no.o * 4 + m.m, p.seed * 100 + 229), p.n_variants, 4, 0))
            ELSE pg_temp.uid(p.seed, 'nv', 1 + floor(pg_temp.rnd(no.o * 4 + m.m, p.seed * 100 + 229) * p.n_new_variants)::bigint) END
FROM bench_params p, bench_new_offers no, generate_series(0, 2) AS m(m)
WHERE pg_temp.rnd(no.o, p.seed * 100 + 230) >= 0.03
  AND m.m <= floor(pg_temp.rnd(no.o, p.seed * 100 + 231) * 3)
ORDER BY no.created_at, no.id, 1;

-- Wishlists on the new catalogue: 'live' 1-3 live items (and 30% of those users a deleted one),
-- 'deleted' 1-2 deleted items only.
INSERT INTO wishlist_items (id, user_id, product_variant_id, deleted_at, created_at)
SELECT pg_temp.uid(p.seed, 'nwi', nu.j * 4 + k.k), nu.id,
       pg_temp.uid(p.seed, 'nv', 1 + floor(pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 232) * p.n_new_variants)::bigint),
       CASE WHEN nu.wishlist = 'deleted' OR k.k = 3 THEN 1800000000000 + nu.j * 4 + k.k ELSE 0 END,
       CASE WHEN nu.same_instant THEN pg_temp.before_span(p.t0, pg_temp.rnd(nu.j, p.seed * 100 + 233), 0)
            ELSE pg_temp.before_span(p.t0, pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 234), pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 235)) END
FROM bench_params p, bench_new_users nu, generate_series(0, 3) AS k(k)
WHERE CASE nu.wishlist
        WHEN 'live' THEN k.k <= floor(pg_temp.rnd(nu.j, p.seed * 100 + 236) * 3)
                         OR (k.k = 3 AND pg_temp.rnd(nu.j, p.seed * 100 + 237) < 0.3)
        WHEN 'deleted' THEN k.k <= floor(pg_temp.rnd(nu.j, p.seed * 100 + 236) * 2)
        ELSE false END;

-- Desired items: 1-4, offers_count 0-3 (ties), 10% deleted, on either catalogue.
INSERT INTO desired_items (id, user_id, product_variant_id, offers_count, deleted_at, created_at)
SELECT pg_temp.uid(p.seed, 'ndi', nu.j * 4 + k.k), nu.id,
       CASE WHEN pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 238) < 0.5
            THEN pg_temp.uid(p.seed, 'v', pg_temp.skewed(pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 239), p.n_variants, 4, 3))
            ELSE pg_temp.uid(p.seed, 'nv', 1 + floor(pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 239) * p.n_new_variants)::bigint) END,
       floor(pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 246) * 4)::int,
       CASE WHEN pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 247) < 0.1 THEN 1800000000000 + nu.j * 4 + k.k ELSE 0 END,
       CASE WHEN nu.same_instant THEN pg_temp.before_span(p.t0, pg_temp.rnd(nu.j, p.seed * 100 + 248), 0)
            ELSE pg_temp.before_span(p.t0, pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 249), pg_temp.rnd(nu.j * 4 + k.k, p.seed * 100 + 251)) END
FROM bench_params p, bench_new_users nu, generate_series(0, 3) AS k(k)
WHERE nu.has_desired AND k.k <= floor(pg_temp.rnd(nu.j, p.seed * 100 + 252) * 4);

-- Keys and indexes back, as schema/marketplace.sql defines them -------------------------------
DO $$
DECLARE d record;
BEGIN
  FOR d IN SELECT * FROM pg_temp.bench_defs ORDER BY ord, name LOOP
    IF d.kind = 'i' THEN
      EXECUTE d.def;
    ELSE
      EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', d.tbl, d.name, d.def);
    END IF;
  END LOOP;
END $$;
