-- Optional partial indexes on the open inventory and the live wishlist per variant
-- (docs/layer3-contract.md, rule 4: the all-time demand counts).
--
-- V2 does not need them and does not use them: it counts each table in one sequential pass,
-- matching the picked variants through a hash table, and that pass measured as fast as an
-- index-only scan of these indexes at 1M users (1.35 s vs 1.33 s for the inventory count;
-- the index-only scan checks the visibility map per entry). They make the one-statement SQL
-- of bench/ about 3x faster and the seed plan a little faster: create them only for such
-- queries, since every insert and status change then updates them too. Benchmark:
-- bench/README.md ("with recommended-indexes.sql").
--
-- Their predicates match `status::text = 'OPEN_FOR_TRADE'` and `deleted_at = 0` when status
-- is text (as in marketplace.sql). On a live database, prefer CREATE INDEX CONCURRENTLY
-- (outside a transaction).

CREATE INDEX IF NOT EXISTS inventory_items_open_variant_user_idx
    ON inventory_items (product_variant_id, user_id)
    WHERE status = 'OPEN_FOR_TRADE';

CREATE INDEX IF NOT EXISTS wishlist_items_live_variant_user_idx
    ON wishlist_items (product_variant_id, user_id)
    WHERE deleted_at = 0;

-- Layer 5 (docs/layer5-contract.md, level 4 "no wishlist"): the live wishlist items per user.
-- With only the schema's index on wishlist_items (user_id), the check reads each new user's
-- wishlist rows from the table to test deleted_at (53,138 pages for 160k rows at 1M users,
-- 405-470 ms); with this index it is an index-only scan (123-127 ms). Measured in bench/README.md
-- ("Layer 5"). 61 MB at 1M users.
CREATE INDEX IF NOT EXISTS wishlist_items_live_user_idx
    ON wishlist_items (user_id)
    WHERE deleted_at = 0;
