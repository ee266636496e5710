-- Contender 4: one SQL statement for the three production audiences, written by hand for
-- schema/marketplace.sql (timestamp columns, text status, bigint deleted_at), no engine.
--
--   PGTZ=UTC psql -X -q -v ON_ERROR_STOP=1 -v window_start='2026-10-31 00:00:00' \
--        -v window_end='2026-11-01 00:00:00' -v min_inventory=3 -v min_wishlist=2 \
--        -f bench/contenders/one-statement.sql -o all.csv "$DATABASE_URL"
--
-- Output: COPY CSV without a header, one line per production row, ordered by audience then by
-- the contract's order; the first column names the audience (offer_creators, closet_adders,
-- wishlist_adders), the other nine are the audience file's columns. COPY quotes differently
-- from the contract's CSV (an empty string is written as ""), so bench/run.js compares parsed
-- rows, per audience, with V2's files.
COPY (
WITH acts AS (
    SELECT o.creator_user_id AS user_id, 1 AS kind, fi.product_variant_id AS variant_id,
           o.created_at, o.id AS record_id
      FROM offers o
     CROSS JOIN LATERAL (SELECT oi.product_variant_id FROM offer_items oi
                          WHERE oi.offer_id = o.id ORDER BY oi.id LIMIT 1) fi
     WHERE o.created_at >= :'window_start' AND o.created_at < :'window_end'
    UNION ALL
    SELECT i.user_id, 2, i.product_variant_id, i.created_at, i.id
      FROM inventory_items i
     WHERE i.status = 'OPEN_FOR_TRADE'
       AND i.created_at >= :'window_start' AND i.created_at < :'window_end'
    UNION ALL
    SELECT w.user_id, 3, w.product_variant_id, w.created_at, w.id
      FROM wishlist_items w
     WHERE w.deleted_at = 0
       AND w.created_at >= :'window_start' AND w.created_at < :'window_end'
),
picked AS (          -- rule 3: one action per user, and the user's latest action (row order)
    SELECT DISTINCT ON (a.user_id)
           a.user_id, a.kind, a.variant_id, max(a.created_at) OVER (PARTITION BY a.user_id) AS latest
      FROM acts a
      JOIN users u ON u.id = a.user_id AND u.deleted_at = 0
     ORDER BY a.user_id, a.kind, a.created_at DESC, a.record_id
),
inventory_demand AS (
    SELECT i.product_variant_id, count(*) AS n
      FROM inventory_items i
      JOIN users u ON u.id = i.user_id AND u.deleted_at = 0
     WHERE i.status = 'OPEN_FOR_TRADE'
       AND i.product_variant_id IN (SELECT variant_id FROM picked WHERE kind <> 2)
     GROUP BY i.product_variant_id
),
wishlist_demand AS (
    SELECT w.product_variant_id, count(*) AS n
      FROM wishlist_items w
      JOIN users u ON u.id = w.user_id AND u.deleted_at = 0
     WHERE w.deleted_at = 0
       AND w.product_variant_id IN (SELECT variant_id FROM picked WHERE kind = 2)
     GROUP BY w.product_variant_id
),
kept AS (            -- rule 5, no fall-back
    SELECT p.*, CASE WHEN p.kind = 2 THEN coalesce(wd.n, 0) ELSE coalesce(id.n, 0) END AS n
      FROM picked p
      LEFT JOIN inventory_demand id ON p.kind <> 2 AND id.product_variant_id = p.variant_id
      LEFT JOIN wishlist_demand wd ON p.kind = 2 AND wd.product_variant_id = p.variant_id
     WHERE CASE WHEN p.kind = 2 THEN coalesce(wd.n, 0) >= :min_wishlist
                ELSE coalesce(id.n, 0) >= :min_inventory END
)
SELECT CASE k.kind WHEN 1 THEN 'offer_creators' WHEN 2 THEN 'closet_adders' ELSE 'wishlist_adders' END,
       k.user_id,
       u.username,
       coalesce(u.first_name, ''),
       coalesce(size.value, ''),
       coalesce(pv.index_cache ->> 'mens_size', 'Unknown'),
       coalesce(pr.name, ''),
       k.variant_id,
       coalesce(activity.last_active, ''),
       k.n
  FROM kept k
  JOIN users u ON u.id = k.user_id
  LEFT JOIN LATERAL (
        SELECT min(av.value COLLATE "C") AS value
          FROM user_preferences up
          JOIN attribute_preferences ap ON ap.user_preference_id = up.id AND ap.preferred
          JOIN attribute_values av ON av.id = ap.attribute_value_id
          JOIN attributes a ON a.id = av.attribute_id AND a.name = 'mens_size'
         WHERE up.user_id = k.user_id) size ON true
  LEFT JOIN LATERAL (
        SELECT max(ua.last_active)::text AS last_active
          FROM user_activities ua
         WHERE ua.user_id = k.user_id) activity ON true
  LEFT JOIN product_variants pv ON pv.id = k.variant_id
  LEFT JOIN products pr ON pr.id = pv.product_id
 ORDER BY k.kind, k.latest DESC, k.user_id
) TO STDOUT WITH (FORMAT csv);
