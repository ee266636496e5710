-- The marketplace tables and columns that audience-engine reads.
--
-- This is the subset of the production schema the generators depend on, with the
-- column types production uses most often (timestamp without time zone, text
-- status, bigint deleted_at). The engine also works when created_at columns are
-- timestamptz, status is varchar or an enum, and deleted_at is int: the tests
-- load this file and then convert the columns (see ALTERNATE_TYPES_SQL in
-- __test__/helpers/db.ts).
--
-- Indexes are the ones a production app plausibly has: primary keys, foreign
-- keys, created_at on the activity tables and on users (Layer 5 takes the
-- users created in a window). The engine needs no other (see
-- recommended-indexes.sql for partial indexes that help other queries).

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    username    text NOT NULL,
    first_name  text,
    bio         text,
    deleted_at  bigint NOT NULL DEFAULT 0,
    created_at  timestamp NOT NULL DEFAULT now()
);
CREATE INDEX users_created_at_idx ON users (created_at);

CREATE TABLE user_activities (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id),
    last_active  timestamp
);
CREATE INDEX user_activities_user_id_idx ON user_activities (user_id);

CREATE TABLE attributes (
    id    uuid PRIMARY KEY,
    name  text NOT NULL
);

CREATE TABLE attribute_values (
    id            uuid PRIMARY KEY,
    attribute_id  uuid NOT NULL REFERENCES attributes (id),
    value         text NOT NULL
);
CREATE INDEX attribute_values_attribute_id_idx ON attribute_values (attribute_id);

CREATE TABLE user_preferences (
    id       uuid PRIMARY KEY,
    user_id  uuid NOT NULL REFERENCES users (id)
);
CREATE INDEX user_preferences_user_id_idx ON user_preferences (user_id);

CREATE TABLE attribute_preferences (
    id                  uuid PRIMARY KEY,
    user_preference_id  uuid NOT NULL REFERENCES user_preferences (id),
    attribute_value_id  uuid NOT NULL REFERENCES attribute_values (id),
    preferred           boolean NOT NULL DEFAULT false
);
CREATE INDEX attribute_preferences_user_preference_id_idx ON attribute_preferences (user_preference_id);
CREATE INDEX attribute_preferences_attribute_value_id_idx ON attribute_preferences (attribute_value_id);

CREATE TABLE products (
    id    uuid PRIMARY KEY,
    name  text NOT NULL
);

CREATE TABLE product_variants (
    id           uuid PRIMARY KEY,
    product_id   uuid NOT NULL REFERENCES products (id),
    index_cache  jsonb
);
CREATE INDEX product_variants_product_id_idx ON product_variants (product_id);

CREATE TABLE inventory_items (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id),
    product_variant_id  uuid NOT NULL REFERENCES product_variants (id),
    status              text NOT NULL,
    created_at          timestamp NOT NULL DEFAULT now()
);
CREATE INDEX inventory_items_user_id_idx ON inventory_items (user_id);
CREATE INDEX inventory_items_product_variant_id_idx ON inventory_items (product_variant_id);
CREATE INDEX inventory_items_created_at_idx ON inventory_items (created_at);

CREATE TABLE wishlist_items (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id),
    product_variant_id  uuid NOT NULL REFERENCES product_variants (id),
    deleted_at          bigint NOT NULL DEFAULT 0,
    created_at          timestamp NOT NULL DEFAULT now()
);
CREATE INDEX wishlist_items_user_id_idx ON wishlist_items (user_id);
CREATE INDEX wishlist_items_product_variant_id_idx ON wishlist_items (product_variant_id);
CREATE INDEX wishlist_items_created_at_idx ON wishlist_items (created_at);

CREATE TABLE offers (
    id               uuid PRIMARY KEY,
    creator_user_id  uuid NOT NULL REFERENCES users (id),
    created_at       timestamp NOT NULL DEFAULT now()
);
CREATE INDEX offers_creator_user_id_idx ON offers (creator_user_id);
CREATE INDEX offers_created_at_idx ON offers (created_at);

CREATE TABLE offer_items (
    id                  uuid PRIMARY KEY,
    offer_id            uuid NOT NULL REFERENCES offers (id),
    product_variant_id  uuid NOT NULL REFERENCES product_variants (id)
);
CREATE INDEX offer_items_offer_id_idx ON offer_items (offer_id);
CREATE INDEX offer_items_product_variant_id_idx ON offer_items (product_variant_id);

-- The shoes a user wants (Layer 5's top target shoe: the most offers_count first).
CREATE TABLE desired_items (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id),
    product_variant_id  uuid NOT NULL REFERENCES product_variants (id),
    offers_count        int NOT NULL DEFAULT 0,
    deleted_at          bigint NOT NULL DEFAULT 0,
    created_at          timestamp NOT NULL DEFAULT now()
);
CREATE INDEX desired_items_user_id_idx ON desired_items (user_id);
