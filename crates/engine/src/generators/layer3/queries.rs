//! Layer 3's SQL and the rows it returns. Every value is a bound parameter.
//!
//! Column types differ between real schemas, so the SQL casts what it reads:
//! `status::text` (text, varchar or enum), `created_at::timestamptz` (timestamp read as
//! UTC, or timestamptz), `deleted_at = 0` (int or bigint), `::text` on names. Window
//! bounds are bound as `timestamp` (UTC wall clock), which compares with either column
//! type without casting the column, so an index on `created_at` stays usable.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::PgConnection;
use uuid::Uuid;

use super::rules::{Action, ActionKind, DemandCounts, Picker};
use crate::error::{EngineError, Result};

// The window's actions, one query per kind so the three can run in parallel. Actions of
// deleted users are left out with an anti-join against the (few) deleted users; every
// item's user exists (foreign keys), so this equals joining the live users.
const OFFERS_IN_WINDOW_SQL: &str = r#"
SELECT o.creator_user_id, first_item.product_variant_id, o.created_at::timestamptz, o.id
FROM offers o
CROSS JOIN LATERAL (
    SELECT oi.product_variant_id FROM offer_items oi
    WHERE oi.offer_id = o.id ORDER BY oi.id LIMIT 1
) first_item
WHERE o.created_at >= $1 AND o.created_at < $2
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = o.creator_user_id AND u.deleted_at <> 0)
"#;

const CLOSET_ADDS_IN_WINDOW_SQL: &str = r#"
SELECT i.user_id, i.product_variant_id, i.created_at::timestamptz, i.id
FROM inventory_items i
WHERE i.created_at >= $1 AND i.created_at < $2 AND i.status::text = 'OPEN_FOR_TRADE'
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = i.user_id AND u.deleted_at <> 0)
"#;

const WISHLIST_ADDS_IN_WINDOW_SQL: &str = r#"
SELECT w.user_id, w.product_variant_id, w.created_at::timestamptz, w.id
FROM wishlist_items w
WHERE w.created_at >= $1 AND w.created_at < $2 AND w.deleted_at = 0
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = w.user_id AND u.deleted_at <> 0)
"#;

/// Streams the window's actions of one kind, by live users, into `picker`.
pub async fn read_actions(
    conn: &mut PgConnection,
    kind: ActionKind,
    start: NaiveDateTime,
    end: NaiveDateTime,
    picker: &mut Picker,
) -> Result<()> {
    let sql = match kind {
        ActionKind::OfferCreated => OFFERS_IN_WINDOW_SQL,
        ActionKind::ClosetAdd => CLOSET_ADDS_IN_WINDOW_SQL,
        ActionKind::WishlistAdd => WISHLIST_ADDS_IN_WINDOW_SQL,
    };
    let doing = format!("reading {} activity", kind.as_str());
    let mut rows = sqlx::query_as::<_, (Uuid, Uuid, DateTime<Utc>, Uuid)>(sql).bind(start).bind(end).fetch(conn);
    while let Some((user_id, variant_id, created_at, record_id)) =
        rows.try_next().await.map_err(|e| EngineError::from_sqlx(&doing, e))?
    {
        picker.add(Action { user_id, kind, variant_id, created_at, record_id });
    }
    Ok(())
}

// All-time demand per variant, for the picked variants. "Items of live users" is computed as
// "items whose user is not deleted": an anti-join against the few deleted users is far
// cheaper than joining every user, and gives the same counts because every item's user
// exists (foreign keys). The id list is joined as `unnest($1)`, which the
// planner sizes correctly (sessions force custom plans), where `= ANY($1)` of a large array
// costs much planning. Matching items are picked first, and only they are checked against
// the deleted users; run with nested loops off (`read_*_counts_for`), so the table is read
// in one sequential pass instead of by hundreds of thousands of index probes.
const INVENTORY_COUNTS_FOR_SQL: &str = r#"
WITH matched AS MATERIALIZED (
    SELECT i.product_variant_id, i.user_id
    FROM inventory_items i
    WHERE i.status::text = 'OPEN_FOR_TRADE'
      AND i.product_variant_id IN (SELECT unnest($1::uuid[]))
)
SELECT m.product_variant_id, count(*)::int8
FROM matched m
WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id AND u.deleted_at <> 0)
GROUP BY m.product_variant_id
"#;

const WISHLIST_COUNTS_FOR_SQL: &str = r#"
WITH matched AS MATERIALIZED (
    SELECT w.product_variant_id, w.user_id
    FROM wishlist_items w
    WHERE w.deleted_at = 0
      AND w.product_variant_id IN (SELECT unnest($1::uuid[]))
)
SELECT m.product_variant_id, count(*)::int8
FROM matched m
WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id AND u.deleted_at <> 0)
GROUP BY m.product_variant_id
"#;

async fn fetch_counts(
    mut rows: futures_util::stream::BoxStream<'_, std::result::Result<(Uuid, i64), sqlx::Error>>,
    doing: &str,
) -> Result<HashMap<Uuid, i64>> {
    let mut counts = HashMap::new();
    while let Some((variant, count)) = rows.try_next().await.map_err(|e| EngineError::from_sqlx(doing, e))? {
        counts.insert(variant, count);
    }
    Ok(counts)
}

/// Open-for-trade inventory of live users for the given variants. Turns nested loops off
/// for the rest of the connection's transaction.
pub async fn read_inventory_counts_for(conn: &mut PgConnection, variants: &[Uuid]) -> Result<HashMap<Uuid, i64>> {
    if variants.is_empty() {
        return Ok(HashMap::new());
    }
    without_nested_loops(conn).await?;
    fetch_counts(sqlx::query_as(INVENTORY_COUNTS_FOR_SQL).bind(variants).fetch(conn), "counting open inventory").await
}

/// Live wishlist items of live users for the given variants. Turns nested loops off for
/// the rest of the connection's transaction.
pub async fn read_wishlist_counts_for(conn: &mut PgConnection, variants: &[Uuid]) -> Result<HashMap<Uuid, i64>> {
    if variants.is_empty() {
        return Ok(HashMap::new());
    }
    without_nested_loops(conn).await?;
    fetch_counts(sqlx::query_as(WISHLIST_COUNTS_FOR_SQL).bind(variants).fetch(conn), "counting wishlist items").await
}

async fn without_nested_loops(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT set_config('enable_nestloop', 'off', true)")
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| EngineError::from_sqlx("configuring the demand count", e))
}

/// All-time demand counts for the given variants (explainUser: a single variant, where an
/// index lookup is best, so nested loops stay on).
pub async fn read_demand_for(
    conn: &mut PgConnection,
    inventory_variants: &[Uuid],
    wishlist_variants: &[Uuid],
) -> Result<DemandCounts> {
    let mut counts = DemandCounts::default();
    if !inventory_variants.is_empty() {
        counts.inventory = count_by_variant(conn, INVENTORY_COUNTS_FOR_SQL, inventory_variants, "counting open inventory").await?;
    }
    if !wishlist_variants.is_empty() {
        counts.wishlist = count_by_variant(conn, WISHLIST_COUNTS_FOR_SQL, wishlist_variants, "counting wishlist items").await?;
    }
    Ok(counts)
}

async fn count_by_variant(
    conn: &mut PgConnection,
    sql: &'static str,
    variants: &[Uuid],
    doing: &str,
) -> Result<HashMap<Uuid, i64>> {
    fetch_counts(sqlx::query_as(sql).bind(variants).fetch(conn), doing).await
}

/// The profile columns of the kept users, as three maps filled by three parallel queries.
/// Values are `Box<str>`: hundreds of thousands of them, never grown.
#[derive(Debug, Default)]
pub struct Profiles {
    pub names: HashMap<Uuid, (Box<str>, Box<str>)>,
    pub sizes: HashMap<Uuid, Box<str>>,
    pub last_active: HashMap<Uuid, Box<str>>,
}

impl Profiles {
    pub fn username(&self, user: &Uuid) -> &str {
        self.names.get(user).map_or("", |(username, _)| username)
    }
    pub fn first_name(&self, user: &Uuid) -> &str {
        self.names.get(user).map_or("", |(_, first_name)| first_name)
    }
    pub fn usersize(&self, user: &Uuid) -> &str {
        self.sizes.get(user).map_or("", |size| size)
    }
    pub fn last_active(&self, user: &Uuid) -> &str {
        self.last_active.get(user).map_or("", |at| at)
    }
}

const NAMES_SQL: &str = r#"
SELECT u.id, coalesce(u.username::text, ''), coalesce(u.first_name::text, '')
FROM unnest($1::uuid[]) AS k(id)
JOIN users u ON u.id = k.id
"#;

// The users' preferred values first, then their attribute: the planner underestimates how
// many preferences are `mens_size` and would otherwise join every preference in the table.
const SIZES_SQL: &str = r#"
WITH preferred AS MATERIALIZED (
    SELECT up.user_id, ap.attribute_value_id
    FROM unnest($1::uuid[]) AS k(id)
    JOIN user_preferences up ON up.user_id = k.id
    JOIN attribute_preferences ap ON ap.user_preference_id = up.id AND ap.preferred
)
SELECT p.user_id, min(av.value::text COLLATE "C")
FROM preferred p
JOIN attribute_values av ON av.id = p.attribute_value_id
JOIN attributes a ON a.id = av.attribute_id AND a.name::text = 'mens_size'
GROUP BY p.user_id
"#;

const LAST_ACTIVE_SQL: &str = r#"
SELECT ua.user_id, max(ua.last_active)::text
FROM unnest($1::uuid[]) AS k(id)
JOIN user_activities ua ON ua.user_id = k.id
WHERE ua.last_active IS NOT NULL
GROUP BY ua.user_id
"#;

/// `username` and `first_name` per user.
pub async fn read_names(conn: &mut PgConnection, users: &[Uuid]) -> Result<HashMap<Uuid, (Box<str>, Box<str>)>> {
    let mut rows = sqlx::query_as::<_, (Uuid, String, String)>(NAMES_SQL).bind(users).fetch(conn);
    let mut names = HashMap::with_capacity(users.len());
    while let Some((id, username, first_name)) =
        rows.try_next().await.map_err(|e| EngineError::from_sqlx("reading user names", e))?
    {
        names.insert(id, (username.into_boxed_str(), first_name.into_boxed_str()));
    }
    Ok(names)
}

/// The preferred `mens_size` per user (the smallest in byte order when there are several).
pub async fn read_sizes(conn: &mut PgConnection, users: &[Uuid]) -> Result<HashMap<Uuid, Box<str>>> {
    text_by_user(sqlx::query_as(SIZES_SQL).bind(users).fetch(conn), users.len(), "reading user sizes").await
}

/// The latest `last_active` per user, as PostgreSQL renders it in UTC.
pub async fn read_last_active(conn: &mut PgConnection, users: &[Uuid]) -> Result<HashMap<Uuid, Box<str>>> {
    text_by_user(sqlx::query_as(LAST_ACTIVE_SQL).bind(users).fetch(conn), users.len(), "reading last activity").await
}

async fn text_by_user(
    mut rows: futures_util::stream::BoxStream<'_, std::result::Result<(Uuid, String), sqlx::Error>>,
    capacity: usize,
    doing: &str,
) -> Result<HashMap<Uuid, Box<str>>> {
    let mut values = HashMap::with_capacity(capacity);
    while let Some((id, text)) = rows.try_next().await.map_err(|e| EngineError::from_sqlx(doing, e))? {
        values.insert(id, text.into_boxed_str());
    }
    Ok(values)
}

/// All three profile reads on one connection (explainUser).
pub async fn read_profiles(conn: &mut PgConnection, users: &[Uuid]) -> Result<Profiles> {
    let names = read_names(conn, users).await?;
    let sizes = read_sizes(conn, users).await?;
    let last_active = read_last_active(conn, users).await?;
    Ok(Profiles { names, sizes, last_active })
}

/// The product columns of one variant.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct VariantInfo {
    pub id: Uuid,
    pub product_name: String,
    pub size: String,
}

const VARIANTS_SQL: &str = r#"
SELECT pv.id,
       coalesce(p.name::text, '') AS product_name,
       coalesce(pv.index_cache::jsonb ->> 'mens_size', 'Unknown') AS size
FROM unnest($1::uuid[]) AS k(id)
JOIN product_variants pv ON pv.id = k.id
LEFT JOIN products p ON p.id = pv.product_id
"#;

pub async fn read_variants(conn: &mut PgConnection, variants: &[Uuid]) -> Result<HashMap<Uuid, VariantInfo>> {
    if variants.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<VariantInfo> = sqlx::query_as(VARIANTS_SQL)
        .bind(variants)
        .fetch_all(conn)
        .await
        .map_err(|e| EngineError::from_sqlx("reading product variants", e))?;
    Ok(rows.into_iter().map(|v| (v.id, v)).collect())
}

/// `DateTime<Utc>` as the `timestamp` the window is bound as.
pub fn utc_wall_clock(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// Whether the user exists and is live (`deleted_at = 0`); `None` if there is no such user.
pub async fn read_user_liveness(conn: &mut PgConnection, user: Uuid) -> Result<Option<bool>> {
    let row: Option<(bool,)> = sqlx::query_as("SELECT deleted_at = 0 FROM users WHERE id = $1")
        .bind(user)
        .fetch_optional(conn)
        .await
        .map_err(|e| EngineError::from_sqlx("reading the user", e))?;
    Ok(row.map(|(live,)| live))
}

/// Every action of one user, at any time, by the rules of the window queries above except the
/// window (for `explainUser`: it shows what lies outside the window too).
const USER_ACTIONS_SQL: &str = r#"
SELECT $1::uuid AS user_id, a.kind, a.product_variant_id, a.created_at, a.record_id
FROM (
    SELECT 1::int2 AS kind, first_item.product_variant_id, o.created_at::timestamptz AS created_at, o.id AS record_id
    FROM offers o
    CROSS JOIN LATERAL (
        SELECT oi.product_variant_id FROM offer_items oi
        WHERE oi.offer_id = o.id ORDER BY oi.id LIMIT 1
    ) first_item
    WHERE o.creator_user_id = $1
    UNION ALL
    SELECT 2::int2, i.product_variant_id, i.created_at::timestamptz, i.id
    FROM inventory_items i
    WHERE i.user_id = $1 AND i.status::text = 'OPEN_FOR_TRADE'
    UNION ALL
    SELECT 3::int2, w.product_variant_id, w.created_at::timestamptz, w.id
    FROM wishlist_items w
    WHERE w.user_id = $1 AND w.deleted_at = 0
) a
ORDER BY a.created_at DESC, a.kind, a.record_id
"#;

pub async fn read_user_actions(conn: &mut PgConnection, user: Uuid) -> Result<Vec<Action>> {
    let rows: Vec<(Uuid, i16, Uuid, DateTime<Utc>, Uuid)> = sqlx::query_as(USER_ACTIONS_SQL)
        .bind(user)
        .fetch_all(conn)
        .await
        .map_err(|e| EngineError::from_sqlx("reading the user's actions", e))?;
    rows.into_iter()
        .map(|(user_id, code, variant_id, created_at, record_id)| {
            let kind = ActionKind::from_code(code)
                .ok_or_else(|| EngineError::internal(format!("unknown activity kind {code}")))?;
            Ok(Action { user_id, kind, variant_id, created_at, record_id })
        })
        .collect()
}
