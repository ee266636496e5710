//! Layer 3's SQL and the rows it returns. Every value is a bound parameter, and every query
//! is an unnamed statement (`persistent(false)`): behind a transaction-mode pooler a named
//! one, prepared on one server connection, is missing or taken on the next.
//!
//! Column types differ between real schemas, so the SQL casts what it reads:
//! `status::text` (text, varchar or enum), `created_at::timestamptz` (timestamp read as
//! UTC, or timestamptz), `deleted_at = 0` (int or bigint), `::text` on names. Window
//! bounds are bound as `timestamp` (UTC wall clock), which compares with either column
//! type without casting the column, so an index on `created_at` stays usable.

use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::TryStreamExt;
use futures_util::stream::BoxStream;
use rustc_hash::FxHashMap;
use sqlx::PgConnection;
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::columns::{MinValueColumn, Slots, TextColumn};
use super::rules::{Action, ActionKind, Demand, Picker};
use crate::error::{EngineError, Result};

// How the run's queries stay cheap at a million users (bench/README.md has the numbers):
// - Soft-deleted users are read once (`read_deleted_users`). The window's actions are read
//   for every user and the deleted users' actions dropped in memory; the demand counts leave
//   their items out with `user_id <> ALL($deleted)`, a hashed filter on each row, instead of
//   anti-joining `users`. Every item's user exists (foreign keys), so "not a deleted user"
//   equals "a live user".
// - Id lists are bound as arrays and matched with `= ANY($n)`. Sessions force custom plans,
//   so the array is a constant to the planner, and PostgreSQL (14+) matches each row against
//   it with a hash table: far cheaper per row than a (semi-)join node. The planner estimates
//   a constant array element by element (~0.3 µs each: ~65 ms for 200k ids); where a list
//   only filters a sequential scan, `coalesce(c, c)` (the same value: the columns are NOT
//   NULL) makes that estimate cheap.
// - Id lists are bound sorted (uuid byte order, as in PostgreSQL). An index scan sorts its
//   `= ANY` list first, and a sorted list takes one pass: ~80 ms less per 200k ids on the
//   names and last-activity lookups.

const DELETED_USERS_SQL: &str = "SELECT u.id FROM users u WHERE u.deleted_at <> 0";

/// The ids of the soft-deleted users (`deleted_at <> 0`).
pub async fn read_deleted_users(conn: &mut PgConnection) -> Result<Vec<Uuid>> {
    sqlx::query_scalar(DELETED_USERS_SQL)
        .persistent(false)
        .fetch_all(conn)
        .await
        .map_err(|e| EngineError::from_sqlx("reading the deleted users", e))
}

// The window's actions, one query per kind so the three can run in parallel. Deleted users'
// actions are among them, dropped in memory before the pick (`Picker::without_users`).
const OFFERS_IN_WINDOW_SQL: &str = r#"
SELECT o.creator_user_id, first_item.product_variant_id, o.created_at::timestamptz, o.id
FROM offers o
CROSS JOIN LATERAL (
    SELECT oi.product_variant_id FROM offer_items oi
    WHERE oi.offer_id = o.id ORDER BY oi.id LIMIT 1
) first_item
WHERE o.created_at >= $1 AND o.created_at < $2
"#;

const CLOSET_ADDS_IN_WINDOW_SQL: &str = r#"
SELECT i.user_id, i.product_variant_id, i.created_at::timestamptz, i.id
FROM inventory_items i
WHERE i.created_at >= $1 AND i.created_at < $2 AND i.status::text = 'OPEN_FOR_TRADE'
"#;

const WISHLIST_ADDS_IN_WINDOW_SQL: &str = r#"
SELECT w.user_id, w.product_variant_id, w.created_at::timestamptz, w.id
FROM wishlist_items w
WHERE w.created_at >= $1 AND w.created_at < $2 AND w.deleted_at = 0
"#;

/// Streams the window's actions of one kind into `picker`.
pub async fn read_actions(
    conn: &mut PgConnection,
    kind: ActionKind,
    (start, end): (NaiveDateTime, NaiveDateTime),
    picker: &mut Picker,
) -> Result<()> {
    let sql = match kind {
        ActionKind::OfferCreated => OFFERS_IN_WINDOW_SQL,
        ActionKind::ClosetAdd => CLOSET_ADDS_IN_WINDOW_SQL,
        ActionKind::WishlistAdd => WISHLIST_ADDS_IN_WINDOW_SQL,
    };
    let doing = format!("reading {} activity", kind.as_str());
    let mut rows =
        sqlx::query_as::<_, (Uuid, Uuid, DateTime<Utc>, Uuid)>(sql).bind(start).bind(end).persistent(false).fetch(conn);
    while let Some((user_id, variant_id, created_at, record_id)) =
        rows.try_next().await.map_err(|e| EngineError::from_sqlx(&doing, e))?
    {
        picker.add(Action { user_id, kind, variant_id, created_at, record_id });
    }
    Ok(())
}

// All-time demand per variant, for the picked variants: one sequential pass over the item
// table. The variants are matched through `coalesce` (see above): without it, planning the
// ~100k variants took ~0.3 s per count at 1M users. Variants below the threshold are left
// out (`HAVING`): the filter drops their rows either way, so only counts it keeps are sent.
const INVENTORY_COUNTS_SQL: &str = r#"
SELECT i.product_variant_id, count(*)::int8
FROM inventory_items i
WHERE i.status::text = 'OPEN_FOR_TRADE'
  AND coalesce(i.product_variant_id, i.product_variant_id) = ANY($1::uuid[])
  AND i.user_id <> ALL($2::uuid[])
GROUP BY i.product_variant_id
HAVING count(*) >= $3
"#;

const WISHLIST_COUNTS_SQL: &str = r#"
SELECT w.product_variant_id, count(*)::int8
FROM wishlist_items w
WHERE w.deleted_at = 0
  AND coalesce(w.product_variant_id, w.product_variant_id) = ANY($1::uuid[])
  AND w.user_id <> ALL($2::uuid[])
GROUP BY w.product_variant_id
HAVING count(*) >= $3
"#;

async fn fetch_counts(mut rows: BoxStream<'_, sqlx::Result<(Uuid, i64)>>, doing: &str) -> Result<FxHashMap<Uuid, i64>> {
    let mut counts = FxHashMap::default();
    while let Some((variant, count)) = rows.try_next().await.map_err(|e| EngineError::from_sqlx(doing, e))? {
        counts.insert(variant, count);
    }
    Ok(counts)
}

/// The demand counts of the given variants that reach `minimum`: open-for-trade inventory
/// items or live wishlist items of users not in `deleted`. A variant below `minimum` is absent,
/// as is one without any item.
pub async fn read_counts(
    conn: &mut PgConnection,
    demand: Demand,
    variants: &[Uuid],
    deleted: &[Uuid],
    minimum: i64,
) -> Result<FxHashMap<Uuid, i64>> {
    if variants.is_empty() {
        return Ok(FxHashMap::default());
    }
    let (sql, doing) = match demand {
        Demand::Inventory => (INVENTORY_COUNTS_SQL, "counting open inventory"),
        Demand::Wishlist => (WISHLIST_COUNTS_SQL, "counting wishlist items"),
    };
    fetch_counts(sqlx::query_as(sql).bind(variants).bind(deleted).bind(minimum).persistent(false).fetch(conn), doing)
        .await
}

// One variant's demand (explainUser): the same rules as the counts above, through the
// `product_variant_id` index, with the deleted users checked by key.
const ONE_VARIANT_INVENTORY_COUNT_SQL: &str = r#"
SELECT count(*)::int8
FROM inventory_items i
WHERE i.product_variant_id = $1 AND i.status::text = 'OPEN_FOR_TRADE'
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = i.user_id AND u.deleted_at <> 0)
"#;

const ONE_VARIANT_WISHLIST_COUNT_SQL: &str = r#"
SELECT count(*)::int8
FROM wishlist_items w
WHERE w.product_variant_id = $1 AND w.deleted_at = 0
  AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = w.user_id AND u.deleted_at <> 0)
"#;

/// The demand count of one variant (explainUser).
pub async fn read_one_variant_demand(conn: &mut PgConnection, demand: Demand, variant: Uuid) -> Result<i64> {
    let (sql, doing) = match demand {
        Demand::Inventory => (ONE_VARIANT_INVENTORY_COUNT_SQL, "counting open inventory"),
        Demand::Wishlist => (ONE_VARIANT_WISHLIST_COUNT_SQL, "counting wishlist items"),
    };
    sqlx::query_scalar(sql)
        .bind(variant)
        .persistent(false)
        .fetch_one(conn)
        .await
        .map_err(|e| EngineError::from_sqlx(doing, e))
}

/// The profile columns of users, each value at its user's slot (`slots`).
#[derive(Debug, Default)]
pub struct Profiles {
    pub slots: Slots,
    pub usernames: TextColumn,
    pub first_names: TextColumn,
    pub sizes: MinValueColumn,
    pub last_active: TextColumn,
}

/// One user's profile values ("" where the user has none).
pub struct ProfileFields<'a> {
    pub username: &'a str,
    pub first_name: &'a str,
    pub usersize: &'a str,
    pub last_active: &'a str,
}

impl Profiles {
    /// The profile stored at `slot`.
    pub fn at(&self, slot: usize) -> ProfileFields<'_> {
        ProfileFields {
            username: self.usernames.get(slot).unwrap_or(""),
            first_name: self.first_names.get(slot).unwrap_or(""),
            usersize: self.sizes.get(slot).unwrap_or(""),
            last_active: self.last_active.get(slot).unwrap_or(""),
        }
    }
}

/// Streams the rows of `query` to `each`, mapping errors to "`doing` failed".
async fn for_each_row(
    mut rows: BoxStream<'_, sqlx::Result<PgRow>>,
    doing: &str,
    mut each: impl FnMut(&PgRow) -> sqlx::Result<()>,
) -> Result<()> {
    let fail = |e| EngineError::from_sqlx(doing, e);
    while let Some(row) = rows.try_next().await.map_err(fail)? {
        each(&row).map_err(fail)?;
    }
    Ok(())
}

/// The slot of a row's user id (column 0): every row answers one of the given ids.
fn slot_of(slots: &Slots, row: &PgRow) -> sqlx::Result<usize> {
    let id: Uuid = row.try_get(0)?;
    slots
        .get(&id)
        .ok_or_else(|| sqlx::Error::Protocol(format!("the database answered an id it was not asked for: {id}")))
}

fn column_error(e: EngineError) -> sqlx::Error {
    sqlx::Error::Decode(e.to_string().into())
}

const NAMES_SQL: &str = r#"
SELECT u.id, coalesce(u.username::text, ''), coalesce(u.first_name::text, '')
FROM users u
WHERE u.id = ANY($1::uuid[])
"#;

/// `username` and `first_name` of each user of `users`, stored at the user's slot.
pub async fn read_names(conn: &mut PgConnection, users: &[Uuid], slots: &Slots) -> Result<(TextColumn, TextColumn)> {
    let (mut usernames, mut first_names) = (TextColumn::new(slots.len()), TextColumn::new(slots.len()));
    let rows = sqlx::query(NAMES_SQL).bind(users).persistent(false).fetch(conn);
    for_each_row(rows, "reading user names", |row| {
        let slot = slot_of(slots, row)?;
        usernames.set(slot, row.try_get(1)?).map_err(column_error)?;
        first_names.set(slot, row.try_get(2)?).map_err(column_error)
    })
    .await?;
    Ok((usernames, first_names))
}

// A size is a preferred value of the `mens_size` attribute. Its few values are read first,
// smallest first in the database's byte order (`COLLATE "C"`, in the database's encoding,
// as V1's `min(value COLLATE "C")`), so the preferences are filtered by value id and the
// smallest value per user is kept here by rank.
const MENS_SIZE_VALUES_SQL: &str = r#"
SELECT av.id, av.value::text
FROM attribute_values av
JOIN attributes a ON a.id = av.attribute_id
WHERE a.name::text = 'mens_size'
ORDER BY av.value::text COLLATE "C"
"#;

const PREFERRED_SIZES_SQL: &str = r#"
SELECT up.user_id, ap.attribute_value_id
FROM attribute_preferences ap
JOIN user_preferences up ON up.id = ap.user_preference_id
WHERE ap.preferred AND ap.attribute_value_id = ANY($1::uuid[]) AND up.user_id = ANY($2::uuid[])
"#;

/// The `mens_size` attribute's values by id, smallest first (see above).
pub async fn read_size_values(conn: &mut PgConnection) -> Result<Vec<(Uuid, String)>> {
    sqlx::query_as(MENS_SIZE_VALUES_SQL)
        .persistent(false)
        .fetch_all(conn)
        .await
        .map_err(|e| EngineError::from_sqlx("reading the mens_size values", e))
}

/// Users' preferred `mens_size` values, as read: a user may have several. `column` keeps the
/// smallest of each user's values (byte order) at the user's slot.
#[derive(Debug, Default)]
pub struct PreferredSizes {
    /// The `mens_size` values, no slots: `preferences` hold ranks in it.
    values: MinValueColumn,
    preferences: Vec<(Uuid, u32)>,
}

impl PreferredSizes {
    /// Each user's size at its slot; users without a slot are left out.
    pub fn column(&self, slots: &Slots) -> MinValueColumn {
        let mut column = self.values.empty_like(slots.len());
        for (user, rank) in &self.preferences {
            if let Some(slot) = slots.get(user) {
                column.offer(slot, *rank);
            }
        }
        column
    }
}

/// The preferred `mens_size` values of the users of `users`. `size_values` are an attribute's
/// values (tens): ranking them by `MinValueColumn::rank_of`, a scan each, stays cheap.
pub async fn read_sizes(
    conn: &mut PgConnection,
    users: &[Uuid],
    size_values: &[(Uuid, String)],
) -> Result<PreferredSizes> {
    let values = MinValueColumn::new(size_values.iter().map(|(_, value)| Box::from(value.as_str())), 0);
    if size_values.is_empty() || users.is_empty() {
        return Ok(PreferredSizes { values, preferences: Vec::new() });
    }
    // Most users have one preferred size at most: sized for that, the list rarely grows.
    let mut preferences = Vec::with_capacity(users.len());
    let rank_by_value_id: FxHashMap<Uuid, u32> =
        size_values.iter().filter_map(|(id, value)| Some((*id, values.rank_of(value)?))).collect();
    let value_ids: Vec<Uuid> = size_values.iter().map(|(id, _)| *id).collect();
    let mut rows = sqlx::query_as::<_, (Uuid, Uuid)>(PREFERRED_SIZES_SQL)
        .bind(value_ids)
        .bind(users)
        .persistent(false)
        .fetch(conn);
    let fail = |e| EngineError::from_sqlx("reading user sizes", e);
    while let Some((user, value_id)) = rows.try_next().await.map_err(fail)? {
        if let Some(rank) = rank_by_value_id.get(&value_id) {
            preferences.push((user, *rank));
        }
    }
    Ok(PreferredSizes { values, preferences })
}

const LAST_ACTIVE_SQL: &str = r#"
SELECT ua.user_id, max(ua.last_active)::text
FROM user_activities ua
WHERE ua.user_id = ANY($1::uuid[]) AND ua.last_active IS NOT NULL
GROUP BY ua.user_id
"#;

/// The latest `last_active` of each user of `users`, as PostgreSQL renders it in UTC, stored
/// at the user's slot.
pub async fn read_last_active(conn: &mut PgConnection, users: &[Uuid], slots: &Slots) -> Result<TextColumn> {
    let mut last_active = TextColumn::new(slots.len());
    let rows = sqlx::query(LAST_ACTIVE_SQL).bind(users).persistent(false).fetch(conn);
    for_each_row(rows, "reading last activity", |row| {
        last_active.set(slot_of(slots, row)?, row.try_get(1)?).map_err(column_error)
    })
    .await?;
    Ok(last_active)
}

/// All profile reads on one connection (explainUser).
pub async fn read_profiles(conn: &mut PgConnection, users: &[Uuid]) -> Result<Profiles> {
    let slots = Slots::new(users);
    let (usernames, first_names) = read_names(conn, users, &slots).await?;
    let size_values = read_size_values(conn).await?;
    let sizes = read_sizes(conn, users, &size_values).await?.column(&slots);
    let last_active = read_last_active(conn, users, &slots).await?;
    Ok(Profiles { slots, usernames, first_names, sizes, last_active })
}

/// The product columns of variants, by slot.
#[derive(Debug, Default)]
pub struct Variants {
    slots: Slots,
    product_names: TextColumn,
    sizes: TextColumn,
}

impl Variants {
    /// The product name and `mens_size` of a variant; `None` if no such variant exists.
    pub fn get(&self, variant: &Uuid) -> Option<(&str, &str)> {
        let slot = self.slots.get(variant)?;
        Some((self.product_names.get(slot)?, self.sizes.get(slot)?))
    }

    /// Variants found.
    pub fn len(&self) -> usize {
        self.product_names.count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

const VARIANTS_SQL: &str = r#"
SELECT pv.id,
       coalesce(p.name::text, '') AS product_name,
       coalesce(pv.index_cache::jsonb ->> 'mens_size', 'Unknown') AS size
FROM product_variants pv
LEFT JOIN products p ON p.id = pv.product_id
WHERE pv.id = ANY($1::uuid[])
"#;

/// The product columns of `variants` (distinct ids).
pub async fn read_variants(conn: &mut PgConnection, variants: &[Uuid]) -> Result<Variants> {
    let slots = Slots::new(variants);
    let (mut product_names, mut sizes) = (TextColumn::new(variants.len()), TextColumn::new(variants.len()));
    if !variants.is_empty() {
        let rows = sqlx::query(VARIANTS_SQL).bind(variants).persistent(false).fetch(conn);
        for_each_row(rows, "reading product variants", |row| {
            let slot = slot_of(&slots, row)?;
            product_names.set(slot, row.try_get(1)?).map_err(column_error)?;
            sizes.set(slot, row.try_get(2)?).map_err(column_error)
        })
        .await?;
    }
    Ok(Variants { slots, product_names, sizes })
}

/// `DateTime<Utc>` as the `timestamp` the window is bound as.
pub fn utc_wall_clock(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

/// Whether the user exists and is live (`deleted_at = 0`); `None` if there is no such user.
pub async fn read_user_liveness(conn: &mut PgConnection, user: Uuid) -> Result<Option<bool>> {
    let row: Option<(bool,)> = sqlx::query_as("SELECT deleted_at = 0 FROM users WHERE id = $1")
        .bind(user)
        .persistent(false)
        .fetch_optional(conn)
        .await
        .map_err(|e| EngineError::from_sqlx("reading the user", e))?;
    Ok(row.map(|(live,)| live))
}

/// Every action of one user, at any time, by the rules of the window queries above except the
/// window (for `explainUser`: it shows what lies outside the window too). Actions stamped
/// `infinity` or `-infinity` are left out: no window holds them, and they have no date to show.
const USER_ACTIONS_SQL: &str = r#"
SELECT $1::uuid AS user_id, a.kind, a.product_variant_id, a.created_at, a.record_id
FROM (
    SELECT 1::int2 AS kind, first_item.product_variant_id, o.created_at::timestamptz AS created_at, o.id AS record_id
    FROM offers o
    CROSS JOIN LATERAL (
        SELECT oi.product_variant_id FROM offer_items oi
        WHERE oi.offer_id = o.id ORDER BY oi.id LIMIT 1
    ) first_item
    WHERE o.creator_user_id = $1 AND isfinite(o.created_at)
    UNION ALL
    SELECT 2::int2, i.product_variant_id, i.created_at::timestamptz, i.id
    FROM inventory_items i
    WHERE i.user_id = $1 AND i.status::text = 'OPEN_FOR_TRADE' AND isfinite(i.created_at)
    UNION ALL
    SELECT 3::int2, w.product_variant_id, w.created_at::timestamptz, w.id
    FROM wishlist_items w
    WHERE w.user_id = $1 AND w.deleted_at = 0 AND isfinite(w.created_at)
) a
ORDER BY a.created_at DESC, a.kind, a.record_id
"#;

pub async fn read_user_actions(conn: &mut PgConnection, user: Uuid) -> Result<Vec<Action>> {
    let rows: Vec<(Uuid, i16, Uuid, DateTime<Utc>, Uuid)> = sqlx::query_as(USER_ACTIONS_SQL)
        .bind(user)
        .persistent(false)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_sizes_keep_each_slotted_users_smallest_value() {
        let values = MinValueColumn::new(["10", "11", "9"].map(Box::from), 0);
        let rank = |value| values.rank_of(value).unwrap();
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let preferences = vec![(a, rank("9")), (c, rank("11")), (a, rank("10")), (b, rank("11"))];
        let sizes = PreferredSizes { values: values.empty_like(0), preferences };
        // `b` has no slot: its preference is left out; slot 2 has no user with a preference.
        let column = sizes.column(&Slots::new(&[c, a, Uuid::from_u128(4)]));
        assert_eq!((column.get(0), column.get(1), column.get(2)), (Some("11"), Some("10"), None));
        assert_eq!(column.count(), 2);
    }
}
