-- Optional indexes for the Layer 3 demand counts (docs/layer3-contract.md, rule 4):
-- all-time open inventory and live wishlist items per variant. Without them PostgreSQL
-- reads every item of each counted variant through the plain product_variant_id index
-- and checks status / deleted_at on the heap; with them the counts can be index-only
-- scans of the matching items, carrying user_id for the live-owner check.
--
-- Partial indexes: their predicates match the engine's `status::text = 'OPEN_FOR_TRADE'`
-- and `deleted_at = 0` when status is text (as in marketplace.sql). Benchmark: bench/README.md.
-- On a live database, prefer CREATE INDEX CONCURRENTLY (outside a transaction).

CREATE INDEX IF NOT EXISTS inventory_items_open_variant_user_idx
    ON inventory_items (product_variant_id, user_id)
    WHERE status = 'OPEN_FOR_TRADE';

CREATE INDEX IF NOT EXISTS wishlist_items_live_variant_user_idx
    ON wishlist_items (product_variant_id, user_id)
    WHERE deleted_at = 0;
