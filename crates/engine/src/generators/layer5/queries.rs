//! Layer 5's SQL (docs/layer5-contract.md). Every value is a bound parameter and every query an
//! unnamed statement (`persistent(false)`, for transaction-mode poolers). Timestamps are bound as
//! `timestamp` (UTC wall clock), which compares with `timestamp` and `timestamptz` columns alike
//! under the run's `TimeZone = UTC`.

use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::TryStreamExt;
use rustc_hash::{FxHashMap, FxHashSet};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{EngineError, Result};

/// One user of the base set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub id: Uuid,
    pub username: String,
    pub first_name: String,
    /// Level 2's check, read with the user (the no-bio rule: `has_bio_sql!`).
    pub has_bio: bool,
}

/// Level 2's check, "the user has a bio": not NULL and not empty after PostgreSQL's `trim()`,
/// which removes spaces only (a tab or a newline is a bio), as the script's `TRIM(bio)`.
macro_rules! has_bio_sql {
    () => {
        "(u.bio IS NOT NULL AND trim(u.bio::text) <> '')"
    };
}

const BASE_SET_SQL: &str = concat!(
    "SELECT u.id, coalesce(u.username::text, ''), u.first_name::text, ",
    has_bio_sql!(),
    "
FROM users u
WHERE u.created_at >= $1 AND u.created_at <= $2
  AND u.deleted_at = 0
  AND u.first_name IS NOT NULL
ORDER BY u.created_at DESC, u.id"
);

/// Rule 1: the users created in `[from, to]`, live, with a first name; newest first.
pub async fn read_base_set(conn: &mut PgConnection, from: NaiveDateTime, to: NaiveDateTime) -> Result<Vec<NewUser>> {
    let rows: Vec<(Uuid, String, String, bool)> = sqlx::query_as(BASE_SET_SQL)
        .bind(from)
        .bind(to)
        .persistent(false)
        .fetch_all(conn)
        .await
        .map_err(|e| EngineError::from_sqlx("reading the new users", e))?;
    Ok(rows
        .into_iter()
        .map(|(id, username, first_name, has_bio)| NewUser { id, username, first_name, has_bio })
        .collect())
}

/// One account as `explainUser` needs it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Account {
    /// `None` when the column holds `infinity` or `-infinity`, which no window holds.
    pub created_at: Option<DateTime<Utc>>,
    pub live: bool,
    pub username: String,
    pub first_name: Option<String>,
    pub has_bio: bool,
}

const ACCOUNT_SQL: &str = concat!(
    "SELECT CASE WHEN isfinite(u.created_at) THEN u.created_at::timestamptz END AS created_at,
       u.deleted_at = 0 AS live, coalesce(u.username::text, '') AS username, u.first_name::text AS first_name, ",
    has_bio_sql!(),
    " AS has_bio
FROM users u
WHERE u.id = $1"
);

/// The account `user`, or `None` when there is no such user.
pub async fn read_account(conn: &mut PgConnection, user: Uuid) -> Result<Option<Account>> {
    sqlx::query_as::<_, Account>(ACCOUNT_SQL)
        .bind(user)
        .persistent(false)
        .fetch_optional(conn)
        .await
        .map_err(|e| EngineError::from_sqlx("reading the user", e))
}

/// The checks of rule 2 that read other tables, each answering the users (of `$1`) who have
/// the thing (the bio is read with the user: `has_bio_sql!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    ClosetItem,
    Offer,
    WishlistItem,
}

impl Check {
    pub const ALL: [Check; 3] = [Check::ClosetItem, Check::Offer, Check::WishlistItem];

    fn sql(self) -> &'static str {
        match self {
            Check::ClosetItem => {
                "SELECT DISTINCT ii.user_id FROM inventory_items ii WHERE ii.user_id = ANY($1::uuid[])"
            }
            Check::Offer => "SELECT DISTINCT o.creator_user_id FROM offers o WHERE o.creator_user_id = ANY($1::uuid[])",
            Check::WishlistItem => {
                "SELECT DISTINCT wi.user_id FROM wishlist_items wi WHERE wi.user_id = ANY($1::uuid[]) AND wi.deleted_at = 0"
            }
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Check::ClosetItem => "closet items",
            Check::Offer => "offers",
            Check::WishlistItem => "wishlist items",
        }
    }
}

/// The users of `users` that pass `check`.
pub async fn read_check(conn: &mut PgConnection, check: Check, users: &[Uuid]) -> Result<FxHashSet<Uuid>> {
    sqlx::query_scalar::<_, Uuid>(check.sql())
        .bind(users)
        .persistent(false)
        .fetch(conn)
        .try_collect()
        .await
        .map_err(|e| EngineError::from_sqlx(&format!("checking {}", check.label()), e))
}

/// A user's top target shoe: the product's name and the variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetShoe {
    pub product_name: String,
    pub variant_id: Uuid,
}

/// The steps of rule 3, in order; each one only for the users the earlier ones left without.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSource {
    DesiredItem,
    LatestOffer,
    NewestWishlistItem,
    AnyOfferItem,
}

impl TargetSource {
    pub const ALL: [TargetSource; 4] = [
        TargetSource::DesiredItem,
        TargetSource::LatestOffer,
        TargetSource::NewestWishlistItem,
        TargetSource::AnyOfferItem,
    ];

    fn sql(self) -> &'static str {
        match self {
            TargetSource::DesiredItem => {
                r#"
SELECT DISTINCT ON (di.user_id) di.user_id, di.product_variant_id, p.name::text
FROM desired_items di
JOIN product_variants pv ON pv.id = di.product_variant_id
JOIN products p ON p.id = pv.product_id
WHERE di.user_id = ANY($1::uuid[]) AND di.deleted_at = 0
ORDER BY di.user_id, di.offers_count DESC, di.created_at DESC, di.id
"#
            }
            TargetSource::LatestOffer => {
                r#"
SELECT DISTINCT ON (o.creator_user_id) o.creator_user_id, oi.product_variant_id, p.name::text
FROM offers o
JOIN offer_items oi ON oi.offer_id = o.id
JOIN product_variants pv ON pv.id = oi.product_variant_id
JOIN products p ON p.id = pv.product_id
WHERE o.creator_user_id = ANY($1::uuid[])
ORDER BY o.creator_user_id, o.created_at DESC, o.id, oi.id
"#
            }
            TargetSource::NewestWishlistItem => {
                r#"
SELECT DISTINCT ON (wi.user_id) wi.user_id, wi.product_variant_id, p.name::text
FROM wishlist_items wi
JOIN product_variants pv ON pv.id = wi.product_variant_id
JOIN products p ON p.id = pv.product_id
WHERE wi.user_id = ANY($1::uuid[]) AND wi.deleted_at = 0
ORDER BY wi.user_id, wi.created_at DESC, wi.id
"#
            }
            TargetSource::AnyOfferItem => {
                r#"
SELECT DISTINCT ON (o.creator_user_id) o.creator_user_id, oi.product_variant_id,
       coalesce(p.name::text, 'Unknown Product')
FROM offers o
JOIN offer_items oi ON oi.offer_id = o.id
LEFT JOIN product_variants pv ON pv.id = oi.product_variant_id
LEFT JOIN products p ON p.id = pv.product_id
WHERE o.creator_user_id = ANY($1::uuid[]) AND oi.product_variant_id IS NOT NULL
ORDER BY o.creator_user_id, o.created_at DESC, o.id, oi.id
"#
            }
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TargetSource::DesiredItem => "desired items",
            TargetSource::LatestOffer => "latest offers",
            TargetSource::NewestWishlistItem => "newest wishlist items",
            TargetSource::AnyOfferItem => "any offer items",
        }
    }
}

/// Step `source` of rule 3 for `users`: the shoe of each user it finds one for.
pub async fn read_target_shoes(
    conn: &mut PgConnection,
    source: TargetSource,
    users: &[Uuid],
) -> Result<FxHashMap<Uuid, TargetShoe>> {
    if users.is_empty() {
        return Ok(FxHashMap::default());
    }
    sqlx::query_as::<_, (Uuid, Uuid, String)>(source.sql())
        .bind(users)
        .persistent(false)
        .fetch(conn)
        .map_ok(|(user, variant_id, product_name)| (user, TargetShoe { product_name, variant_id }))
        .try_collect()
        .await
        .map_err(|e| EngineError::from_sqlx(&format!("reading {}", source.label()), e))
}
