//! The Layer 3 rules that need no database: the per-user pick, the demand filter,
//! the order of the rows and the test row. See docs/layer3-contract.md.

use chrono::{DateTime, Utc};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use uuid::Uuid;

/// A high-intent action. The order of the variants is the priority: earlier wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    OfferCreated,
    ClosetAdd,
    WishlistAdd,
}

impl ActionKind {
    pub const ALL: [ActionKind; 3] = [ActionKind::OfferCreated, ActionKind::ClosetAdd, ActionKind::WishlistAdd];

    /// The code the activity query returns for this kind.
    pub fn from_code(code: i16) -> Option<ActionKind> {
        match code {
            1 => Some(ActionKind::OfferCreated),
            2 => Some(ActionKind::ClosetAdd),
            3 => Some(ActionKind::WishlistAdd),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::OfferCreated => "offer_created",
            ActionKind::ClosetAdd => "closet_add",
            ActionKind::WishlistAdd => "wishlist_add",
        }
    }

    /// Which demand count decides this kind's rows.
    pub fn demand(self) -> Demand {
        match self {
            ActionKind::ClosetAdd => Demand::Wishlist,
            ActionKind::OfferCreated | ActionKind::WishlistAdd => Demand::Inventory,
        }
    }

    pub fn audience(self) -> Audience {
        match self {
            ActionKind::OfferCreated => Audience::OfferCreators,
            ActionKind::ClosetAdd => Audience::ClosetAdders,
            ActionKind::WishlistAdd => Audience::WishlistAdders,
        }
    }
}

/// The demand measure of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demand {
    /// Open-for-trade inventory items of the variant held by live users.
    Inventory,
    /// Live wishlist items of the variant of live users.
    Wishlist,
}

impl Demand {
    /// The audiences whose rows this measure decides, in `Audience::ALL` order.
    pub fn audiences(self) -> &'static [Audience] {
        match self {
            Demand::Inventory => &[Audience::OfferCreators, Audience::WishlistAdders],
            Demand::Wishlist => &[Audience::ClosetAdders],
        }
    }

    pub fn column(self) -> &'static str {
        match self {
            Demand::Inventory => "inventory_count",
            Demand::Wishlist => "wishlist_count",
        }
    }
}

/// One audience: one CSV file (plus its test file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    OfferCreators,
    ClosetAdders,
    WishlistAdders,
}

impl Audience {
    pub const ALL: [Audience; 3] = [Audience::OfferCreators, Audience::ClosetAdders, Audience::WishlistAdders];

    /// `audienceType` in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::OfferCreators => "offer_creators",
            Audience::ClosetAdders => "closet_adders",
            Audience::WishlistAdders => "wishlist_adders",
        }
    }

    pub fn file_prefix(self) -> &'static str {
        match self {
            Audience::OfferCreators => "recent-offer-creators",
            Audience::ClosetAdders => "recent-closet-adders",
            Audience::WishlistAdders => "recent-wishlist-adders",
        }
    }

    pub fn kind(self) -> ActionKind {
        match self {
            Audience::OfferCreators => ActionKind::OfferCreated,
            Audience::ClosetAdders => ActionKind::ClosetAdd,
            Audience::WishlistAdders => ActionKind::WishlistAdd,
        }
    }

    pub fn header(self) -> [&'static str; 9] {
        [
            "user_id",
            "username",
            "firstName",
            "usersize",
            "relevant_variant_size",
            "product_name",
            "variantID",
            "lastActive",
            self.kind().demand().column(),
        ]
    }
}

/// One action found in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    pub user_id: Uuid,
    pub kind: ActionKind,
    pub variant_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// The inventory item, wishlist item or offer id: the last tie-breaker.
    pub record_id: Uuid,
}

impl Action {
    /// Among one user's actions the smallest rank wins: higher priority kind, then the most
    /// recent, then the smallest record id (uuid order is byte order, as in PostgreSQL).
    fn rank(&self) -> (ActionKind, std::cmp::Reverse<DateTime<Utc>>, Uuid) {
        (self.kind, std::cmp::Reverse(self.created_at), self.record_id)
    }
}

/// A user's winning action and the time of their most recent action of any type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub action: Action,
    pub latest_at: DateTime<Utc>,
}

/// Activity rows seen, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityCounts {
    pub offer_created: u64,
    pub closet_add: u64,
    pub wishlist_add: u64,
    pub total: u64,
}

impl ActivityCounts {
    fn of_kind(&mut self, kind: ActionKind) -> &mut u64 {
        match kind {
            ActionKind::OfferCreated => &mut self.offer_created,
            ActionKind::ClosetAdd => &mut self.closet_add,
            ActionKind::WishlistAdd => &mut self.wishlist_add,
        }
    }
}

impl std::ops::AddAssign for ActivityCounts {
    fn add_assign(&mut self, other: ActivityCounts) {
        self.offer_created += other.offer_created;
        self.closet_add += other.closet_add;
        self.wishlist_add += other.wishlist_add;
        self.total += other.total;
    }
}

/// Collects the window's actions and keeps one per user (rule 3). The actions are kept in a
/// flat list and sorted once at the end: at a million users that needs half the memory of a
/// map of picks updated per action, and no hashing.
#[derive(Debug, Default)]
pub struct Picker {
    actions: Vec<Action>,
    counts: ActivityCounts,
}

impl Picker {
    pub fn add(&mut self, action: Action) {
        *self.counts.of_kind(action.kind) += 1;
        self.counts.total += 1;
        self.actions.push(action);
    }

    /// One picker holding every action of `pickers` (each may have read one kind).
    pub fn merge(pickers: impl IntoIterator<Item = Picker>) -> Picker {
        let mut pickers: Vec<Picker> = pickers.into_iter().collect();
        // Appending to the largest list moves the fewest actions.
        pickers.sort_by_key(|p| std::cmp::Reverse(p.actions.len()));
        let mut pickers = pickers.into_iter();
        let mut merged = pickers.next().unwrap_or_default();
        for mut other in pickers {
            merged.counts += other.counts;
            merged.actions.append(&mut other.actions);
        }
        merged
    }

    /// The same picker without the actions of `users` (the deleted users, whose actions rule 2
    /// leaves out), its counts reduced to match.
    pub fn without_users(mut self, users: &FxHashSet<Uuid>) -> Picker {
        if users.is_empty() {
            return self;
        }
        let counts = &mut self.counts;
        self.actions.retain(|action| {
            let keep = !users.contains(&action.user_id);
            if !keep {
                *counts.of_kind(action.kind) -= 1;
                counts.total -= 1;
            }
            keep
        });
        self
    }

    /// Each user's winning action and latest action time, in user id order.
    pub fn finish(self) -> (Vec<Pick>, ActivityCounts) {
        let mut actions = self.actions;
        // Each user's actions together, the winner (smallest rank) first.
        actions.sort_unstable_by(|a, b| a.user_id.cmp(&b.user_id).then_with(|| a.rank().cmp(&b.rank())));
        let picks = actions
            .chunk_by(|a, b| a.user_id == b.user_id)
            .map(|actions| Pick {
                action: actions[0],
                latest_at: actions.iter().map(|a| a.created_at).max().unwrap_or(actions[0].created_at),
            })
            .collect();
        (picks, self.counts)
    }
}

/// The demand thresholds (rule 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub min_inventory_count: i64,
    pub min_wishlist_count: i64,
}

impl Thresholds {
    pub fn minimum(&self, demand: Demand) -> i64 {
        match demand {
            Demand::Inventory => self.min_inventory_count,
            Demand::Wishlist => self.min_wishlist_count,
        }
    }
}

/// A pick that passed the demand filter: what its row needs (56 bytes, where the whole pick
/// takes 88: at a million users the kept rows are ~200k).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    pub user_id: Uuid,
    /// The winning action's variant.
    pub variant_id: Uuid,
    /// The user's most recent action of any type: the file order (rule 6).
    pub latest_at: DateTime<Utc>,
    pub count: i64,
    /// The row's position among all kept rows in file order (`number_rows`): where its
    /// profile is stored.
    pub slot: u32,
}

impl Kept {
    /// `pick` with its count, its slot not yet numbered.
    pub fn new(pick: &Pick, count: i64) -> Kept {
        let action = &pick.action;
        Kept { user_id: action.user_id, variant_id: action.variant_id, latest_at: pick.latest_at, count, slot: 0 }
    }
}

/// One audience after the demand filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filtered {
    pub before_filter: usize,
    /// In file order.
    pub kept: Vec<Kept>,
}

/// The variants whose counts the filter needs, per demand measure.
pub fn variants_needing(picks: &[Pick], demand: Demand) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> =
        picks.iter().filter(|p| p.action.kind.demand() == demand).map(|p| p.action.variant_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The audiences `demand` decides, with the rows whose count meets `minimum` (rule 5; no
/// fallback to a lower-priority action), per audience in `demand.audiences()` order. A
/// variant absent from `counts` counts 0. Slots are left at 0 (see `number_rows`).
pub fn filter_and_order(picks: &[Pick], demand: Demand, counts: &FxHashMap<Uuid, i64>, minimum: i64) -> Vec<Filtered> {
    let audiences = demand.audiences();
    let mut out: Vec<Filtered> = vec![Filtered::default(); audiences.len()];
    for pick in picks.iter().filter(|p| p.action.kind.demand() == demand) {
        let Some(index) = audiences.iter().position(|a| *a == pick.action.kind.audience()) else { continue };
        let audience = &mut out[index];
        audience.before_filter += 1;
        let count = counts.get(&pick.action.variant_id).copied().unwrap_or(0);
        if count >= minimum {
            audience.kept.push(Kept::new(pick, count));
        }
    }
    for audience in out.iter_mut() {
        order_rows(&mut audience.kept);
    }
    out
}

/// Sets each kept row's slot to its position among all the rows of `audiences`, in order.
pub fn number_rows<'a>(audiences: impl IntoIterator<Item = &'a mut Filtered>) {
    let rows = audiences.into_iter().flat_map(|audience| audience.kept.iter_mut());
    for (slot, row) in rows.enumerate() {
        row.slot = slot as u32;
    }
}

/// File order (rule 6): the user's most recent action of any type, newest first; ties by user id.
pub fn order_rows(rows: &mut [Kept]) {
    rows.sort_unstable_by(|a, b| b.latest_at.cmp(&a.latest_at).then_with(|| a.user_id.cmp(&b.user_id)));
}

/// The internal test account of rule 7.
pub const TEST_USER_ID: &str = "0e54067c-4c0e-4e4a-8a23-a47661578059";
pub const TEST_USERNAME: &str = "beems";
pub const TEST_FIRST_NAME: &str = "Mbiyimoh";
pub const TEST_USERSIZE: &str = "13";

/// One CSV row, in column order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    pub user_id: String,
    pub username: String,
    pub first_name: String,
    pub usersize: String,
    pub relevant_variant_size: String,
    pub product_name: String,
    pub variant_id: String,
    pub last_active: String,
    /// Empty in a test row of an empty audience.
    pub count: String,
}

impl Row {
    pub fn fields(&self) -> [&str; 9] {
        [
            &self.user_id,
            &self.username,
            &self.first_name,
            &self.usersize,
            &self.relevant_variant_size,
            &self.product_name,
            &self.variant_id,
            &self.last_active,
            &self.count,
        ]
    }
}

/// The test file's single row (rule 7), taking the product columns from the audience's
/// first production row, or placeholders when it has none.
pub fn test_row(first: Option<&Row>, now: DateTime<Utc>) -> Row {
    let (size, product, variant, count) = match first {
        Some(row) => {
            (row.relevant_variant_size.clone(), row.product_name.clone(), row.variant_id.clone(), row.count.clone())
        }
        None => ("13".into(), "Test Product".into(), "test-variant-id".into(), String::new()),
    };
    Row {
        user_id: TEST_USER_ID.into(),
        username: TEST_USERNAME.into(),
        first_name: TEST_FIRST_NAME.into(),
        usersize: TEST_USERSIZE.into(),
        relevant_variant_size: size,
        product_name: product,
        variant_id: variant,
        last_active: crate::time::iso(now),
        count,
    }
}

/// The test file's single row under rules `v1` (contract section 9): the product columns of
/// the audience's second row, or of its first when it has one; the production script's fixed
/// `lastActive`. An empty audience has no test file.
pub fn test_row_v1(rows: &[Row]) -> Option<Row> {
    let source = rows.get(1).or(rows.first())?;
    Some(Row {
        user_id: TEST_USER_ID.into(),
        username: TEST_USERNAME.into(),
        first_name: TEST_FIRST_NAME.into(),
        usersize: TEST_USERSIZE.into(),
        relevant_variant_size: source.relevant_variant_size.clone(),
        product_name: source.product_name.clone(),
        variant_id: source.variant_id.clone(),
        last_active: V1_TEST_LAST_ACTIVE.into(),
        count: source.count.clone(),
    })
}

/// The test row's `lastActive` in the production script.
pub const V1_TEST_LAST_ACTIVE: &str = "2025-08-05 20:00:00.000000+00:00";

/// Under rules `v1` a row needs a first name and a size (the production script skips users
/// without them).
pub fn has_complete_profile_v1(first_name: &str, usersize: &str) -> bool {
    !first_name.is_empty() && !usersize.is_empty()
}

/// A timestamp as PostgreSQL writes it (`TimeZone = UTC`, `DateStyle = ISO`) rewritten as
/// Python's `str()` of the `datetime` psycopg2 returns for it: the fraction as six digits when
/// there is one, the offset as `+HH:MM`. `2026-11-28 08:07:00.12+00` becomes
/// `2026-11-28 08:07:00.120000+00:00`; a `timestamp without time zone` keeps having no offset.
/// Anything else (infinity, BC dates, years past 9999, which Python cannot hold) is left as is.
pub fn python_timestamp_text(pg: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let bytes = pg.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|b| b.iter().all(u8::is_ascii_digit));
    let shape_ok = bytes.len() >= 19
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b' '
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19);
    if !shape_ok {
        return Cow::Borrowed(pg);
    }
    let (base, mut rest) = pg.split_at(19);
    let mut fraction = "";
    if let Some(after_dot) = rest.strip_prefix('.') {
        let end = after_dot.find(|c: char| !c.is_ascii_digit()).unwrap_or(after_dot.len());
        fraction = &after_dot[..end];
        rest = &after_dot[end..];
        if fraction.is_empty() || fraction.len() > 6 {
            return Cow::Borrowed(pg);
        }
    }
    let offset = match rest.as_bytes() {
        [] => String::new(),
        [sign @ (b'+' | b'-'), h1, h2] if h1.is_ascii_digit() && h2.is_ascii_digit() => {
            format!("{}{}{}:00", *sign as char, *h1 as char, *h2 as char)
        }
        [b'+' | b'-', h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) => rest.to_string(),
        _ => return Cow::Borrowed(pg),
    };
    let fraction = if fraction.is_empty() || fraction.bytes().all(|b| b == b'0') {
        String::new()
    } else {
        format!(".{fraction:0<6}")
    };
    Cow::Owned(format!("{base}{fraction}{offset}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_read_as_python_prints_them() {
        let cases = [
            ("2026-11-28 08:07:00+00", "2026-11-28 08:07:00+00:00"),
            ("2026-11-28 08:07:00.12+00", "2026-11-28 08:07:00.120000+00:00"),
            ("2026-11-28 08:07:00.123456+00", "2026-11-28 08:07:00.123456+00:00"),
            ("2026-11-28 08:07:00.000001+00", "2026-11-28 08:07:00.000001+00:00"),
            ("2026-11-28 08:07:00", "2026-11-28 08:07:00"),
            ("2026-11-28 08:07:00.5", "2026-11-28 08:07:00.500000"),
            ("2026-11-28 08:07:00+05:30", "2026-11-28 08:07:00+05:30"),
            ("infinity", "infinity"),
            ("0044-03-15 00:00:00+00 BC", "0044-03-15 00:00:00+00 BC"),
            ("10000-01-01 00:00:00+00", "10000-01-01 00:00:00+00"),
            ("", ""),
        ];
        for (pg, python) in cases {
            assert_eq!(python_timestamp_text(pg), python, "{pg}");
        }
    }

    #[test]
    fn the_v1_test_row_takes_the_second_row() {
        let row = |n: &str| Row {
            user_id: format!("u{n}"),
            username: format!("name{n}"),
            first_name: "F".into(),
            usersize: "9".into(),
            relevant_variant_size: format!("s{n}"),
            product_name: format!("p{n}"),
            variant_id: format!("v{n}"),
            last_active: String::new(),
            count: n.into(),
        };
        assert_eq!(test_row_v1(&[]), None);
        let one = test_row_v1(&[row("1")]).unwrap();
        assert_eq!(one.fields(), [TEST_USER_ID, "beems", "Mbiyimoh", "13", "s1", "p1", "v1", V1_TEST_LAST_ACTIVE, "1"]);
        let second = test_row_v1(&[row("1"), row("2"), row("3")]).unwrap();
        assert_eq!(&second.fields()[4..], ["s2", "p2", "v2", V1_TEST_LAST_ACTIVE, "2"]);
    }

    #[test]
    fn complete_profiles_need_a_first_name_and_a_size() {
        assert!(has_complete_profile_v1("Ada", "10"));
        assert!(!has_complete_profile_v1("", "10"));
        assert!(!has_complete_profile_v1("Ada", ""));
        assert!(has_complete_profile_v1(" ", "0"), "Python's truthiness: a space and '0' are values");
    }
    use std::collections::HashMap;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, h, m, 0).unwrap()
    }
    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }
    fn action(user: u128, kind: ActionKind, variant: u128, at: DateTime<Utc>, record: u128) -> Action {
        Action { user_id: id(user), kind, variant_id: id(variant), created_at: at, record_id: id(record) }
    }
    fn pick_all(actions: &[Action]) -> HashMap<Uuid, Pick> {
        picks_of(actions).into_iter().map(|p| (p.action.user_id, p)).collect()
    }
    /// The picks of `actions`, in user id order.
    fn picks_of(actions: &[Action]) -> Vec<Pick> {
        let mut picker = Picker::default();
        actions.iter().for_each(|a| picker.add(*a));
        picker.finish().0
    }

    #[test]
    fn priority_beats_recency() {
        let picks = pick_all(&[
            action(1, ActionKind::WishlistAdd, 10, t(12, 0), 100),
            action(1, ActionKind::OfferCreated, 11, t(1, 0), 101),
            action(1, ActionKind::ClosetAdd, 12, t(11, 0), 102),
        ]);
        let p = picks[&id(1)];
        assert_eq!(p.action.kind, ActionKind::OfferCreated);
        assert_eq!(p.latest_at, t(12, 0), "latest_at covers every type");
    }

    #[test]
    fn most_recent_within_kind_then_smallest_record_id_in_any_arrival_order() {
        let a = action(1, ActionKind::ClosetAdd, 10, t(5, 0), 300);
        let b = action(1, ActionKind::ClosetAdd, 11, t(6, 0), 200);
        let c = action(1, ActionKind::ClosetAdd, 12, t(6, 0), 100);
        for order in [[a, b, c], [c, b, a], [b, a, c], [b, c, a]] {
            assert_eq!(pick_all(&order)[&id(1)].action.variant_id, id(12));
        }
    }

    #[test]
    fn merging_pickers_equals_one_picker() {
        let actions = [
            action(1, ActionKind::WishlistAdd, 10, t(12, 0), 100),
            action(1, ActionKind::OfferCreated, 11, t(1, 0), 101),
            action(2, ActionKind::ClosetAdd, 12, t(11, 0), 102),
            action(2, ActionKind::ClosetAdd, 13, t(11, 0), 99),
            action(3, ActionKind::WishlistAdd, 14, t(3, 0), 103),
        ];
        let whole = pick_all(&actions);
        let mut parts = [Picker::default(), Picker::default(), Picker::default()];
        for a in actions {
            parts[a.kind as usize].add(a);
        }
        let (picks, counts) = Picker::merge(parts).finish();
        let merged: HashMap<Uuid, Pick> = picks.into_iter().map(|p| (p.action.user_id, p)).collect();
        assert_eq!(merged, whole);
        assert_eq!(counts, ActivityCounts { offer_created: 1, closet_add: 2, wishlist_add: 2, total: 5 });
    }

    #[test]
    fn counts_rows_per_kind() {
        let mut picker = Picker::default();
        picker.add(action(1, ActionKind::ClosetAdd, 1, t(1, 0), 1));
        picker.add(action(2, ActionKind::ClosetAdd, 1, t(1, 0), 2));
        picker.add(action(2, ActionKind::OfferCreated, 1, t(1, 0), 3));
        let (picks, counts) = picker.finish();
        assert_eq!(picks.len(), 2);
        assert_eq!(counts, ActivityCounts { offer_created: 1, closet_add: 2, wishlist_add: 0, total: 3 });
    }

    #[test]
    fn a_kept_row_holds_only_what_its_row_needs() {
        assert_eq!(std::mem::size_of::<Kept>(), 56);
    }

    fn kept_users(rows: &[Kept]) -> Vec<Uuid> {
        rows.iter().map(|k| k.user_id).collect()
    }

    #[test]
    fn demand_filter_at_and_below_threshold_without_fallback() {
        let picks = picks_of(&[
            action(1, ActionKind::OfferCreated, 10, t(1, 0), 1), // inventory 3: kept
            action(2, ActionKind::OfferCreated, 11, t(1, 0), 2), // inventory 2: dropped
            action(2, ActionKind::ClosetAdd, 12, t(2, 0), 3),    // would pass, but no fallback
            action(3, ActionKind::ClosetAdd, 12, t(1, 0), 4),    // wishlist 2: kept
            action(4, ActionKind::ClosetAdd, 13, t(1, 0), 5),    // wishlist 1: dropped
            action(5, ActionKind::WishlistAdd, 14, t(1, 0), 6),  // no count at all: dropped
        ]);
        let inventory: FxHashMap<Uuid, i64> = [(id(10), 3), (id(11), 2)].into_iter().collect();
        let wishlist_counts: FxHashMap<Uuid, i64> = [(id(12), 2), (id(13), 1)].into_iter().collect();
        let [offers, wishlist] = filter_and_order(&picks, Demand::Inventory, &inventory, 3).try_into().unwrap();
        let [closet] = filter_and_order(&picks, Demand::Wishlist, &wishlist_counts, 2).try_into().unwrap();
        assert_eq!((offers.before_filter, kept_users(&offers.kept)), (2, vec![id(1)]));
        assert_eq!(offers.kept[0].count, 3);
        assert_eq!((closet.before_filter, kept_users(&closet.kept)), (2, vec![id(3)]));
        assert_eq!((wishlist.before_filter, wishlist.kept.len()), (1, 0));
    }

    #[test]
    fn number_rows_numbers_the_kept_rows_in_order() {
        let picks = picks_of(&[
            action(1, ActionKind::WishlistAdd, 10, t(1, 0), 1),
            action(2, ActionKind::OfferCreated, 10, t(2, 0), 2),
            action(3, ActionKind::WishlistAdd, 10, t(3, 0), 3),
            action(4, ActionKind::OfferCreated, 10, t(4, 0), 4),
            action(5, ActionKind::ClosetAdd, 10, t(5, 0), 5),
        ]);
        let counts: FxHashMap<Uuid, i64> = [(id(10), 9)].into_iter().collect();
        let [mut offers, mut wishlist] = filter_and_order(&picks, Demand::Inventory, &counts, 1).try_into().unwrap();
        let [mut closet] = filter_and_order(&picks, Demand::Wishlist, &counts, 1).try_into().unwrap();
        number_rows([&mut offers, &mut closet, &mut wishlist]);
        let slots = |f: &Filtered| f.kept.iter().map(|k| (k.user_id, k.slot)).collect::<Vec<_>>();
        assert_eq!(slots(&offers), vec![(id(4), 0), (id(2), 1)]);
        assert_eq!(slots(&closet), vec![(id(5), 2)]);
        assert_eq!(slots(&wishlist), vec![(id(3), 3), (id(1), 4)]);
    }

    #[test]
    fn without_users_drops_their_actions_and_recounts() {
        let mut picker = Picker::default();
        picker.add(action(1, ActionKind::ClosetAdd, 1, t(1, 0), 1));
        picker.add(action(2, ActionKind::OfferCreated, 1, t(1, 0), 2));
        picker.add(action(2, ActionKind::WishlistAdd, 1, t(9, 0), 3));
        let deleted: FxHashSet<Uuid> = [id(2)].into_iter().collect();
        let (picks, counts) = picker.without_users(&deleted).finish();
        assert_eq!(picks.iter().map(|p| p.action.user_id).collect::<Vec<_>>(), vec![id(1)]);
        assert_eq!(counts, ActivityCounts { offer_created: 0, closet_add: 1, wishlist_add: 0, total: 1 });
    }

    #[test]
    fn rows_ordered_by_latest_action_then_user_id() {
        let picks = picks_of(&[
            action(3, ActionKind::WishlistAdd, 1, t(1, 0), 1),
            action(3, ActionKind::ClosetAdd, 1, t(9, 0), 2), // latest any-type 9:00, kept in closet
            action(1, ActionKind::WishlistAdd, 1, t(5, 0), 3),
            action(2, ActionKind::WishlistAdd, 1, t(5, 0), 4),
            action(4, ActionKind::WishlistAdd, 1, t(7, 0), 5),
        ]);
        let counts: FxHashMap<Uuid, i64> = [(id(1), 5)].into_iter().collect();
        let [_, wishlist] = filter_and_order(&picks, Demand::Inventory, &counts, 0).try_into().unwrap();
        assert_eq!(kept_users(&wishlist.kept), vec![id(4), id(1), id(2)]);
    }

    #[test]
    fn test_row_copies_the_first_row_or_uses_placeholders() {
        let now = t(10, 0);
        let empty = test_row(None, now);
        assert_eq!(
            empty.fields(),
            [
                TEST_USER_ID,
                "beems",
                "Mbiyimoh",
                "13",
                "13",
                "Test Product",
                "test-variant-id",
                "2026-11-27T10:00:00.000Z",
                ""
            ]
        );
        let first = Row {
            user_id: "u".into(),
            username: "n".into(),
            relevant_variant_size: "9.5".into(),
            product_name: "Dunk, \"Low\"".into(),
            variant_id: "v".into(),
            count: "7".into(),
            ..Row::default()
        };
        let row = test_row(Some(&first), now);
        assert_eq!(row.fields()[4..7], ["9.5", "Dunk, \"Low\"", "v"]);
        assert_eq!(row.count, "7");
        assert_eq!(row.user_id, TEST_USER_ID);
    }

    #[test]
    fn headers() {
        assert_eq!(Audience::ClosetAdders.header()[8], "wishlist_count");
        assert_eq!(Audience::OfferCreators.header()[8], "inventory_count");
        assert_eq!(Audience::WishlistAdders.header()[..2], ["user_id", "username"]);
    }
}
