//! The waterfall's rules that need no database (docs/layer5-contract.md, sections 2, 4 and 5):
//! the five levels, which one each user lands in, the columns and the test rows.

use rustc_hash::FxHashSet;
use serde::Serialize;
use uuid::Uuid;

/// A level of the waterfall, in the order they take their users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    NoShoes,
    NoBio,
    NoOffers,
    NoWishlist,
    NewStars,
}

impl Level {
    pub const ALL: [Level; 5] = [Level::NoShoes, Level::NoBio, Level::NoOffers, Level::NoWishlist, Level::NewStars];

    /// `new_user_level` in the files.
    pub fn number(self) -> u8 {
        self as u8 + 1
    }

    /// `audienceType` in results and manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::NoShoes => "no_shoes",
            Level::NoBio => "no_bio",
            Level::NoOffers => "no_offers",
            Level::NoWishlist => "no_wishlist",
            Level::NewStars => "new_stars",
        }
    }

    pub fn file_prefix(self) -> &'static str {
        match self {
            Level::NoShoes => "no-shoes-new-user",
            Level::NoBio => "no-bio-new-user",
            Level::NoOffers => "no-offers-new-user",
            Level::NoWishlist => "no-wishlist-new-user",
            Level::NewStars => "new-stars-new-user",
        }
    }

    /// Levels 3 to 5 carry the user's top target shoe.
    pub fn has_target_shoe(self) -> bool {
        self >= Level::NoOffers
    }

    pub fn header(self) -> &'static [&'static str] {
        if self.has_target_shoe() { &TARGET_COLUMNS } else { &TARGET_COLUMNS[..4] }
    }

    /// What sends a user to this level, for logs and explanations.
    pub fn rule(self) -> &'static str {
        match self {
            Level::NoShoes => "no closet item at all (inventory_items, any status)",
            Level::NoBio => "no bio (users.bio NULL or empty after trim())",
            Level::NoOffers => "never created an offer",
            Level::NoWishlist => "no live wishlist item (wishlist_items.deleted_at = 0)",
            Level::NewStars => "passed every check",
        }
    }
}

const TARGET_COLUMNS: [&str; 6] =
    ["user_id", "username", "firstName", "new_user_level", "top_target_shoe", "top_target_shoe_variantid"];

/// What the checks found about the base set's users: who has each thing.
#[derive(Debug, Default)]
pub struct Completion {
    pub has_closet_item: FxHashSet<Uuid>,
    pub has_bio: FxHashSet<Uuid>,
    pub has_offer: FxHashSet<Uuid>,
    pub has_wishlist_item: FxHashSet<Uuid>,
}

impl Completion {
    /// The level `user` lands in: the first check they fail, or new stars.
    pub fn level_of(&self, user: &Uuid) -> Level {
        if !self.has_closet_item.contains(user) {
            Level::NoShoes
        } else if !self.has_bio.contains(user) {
            Level::NoBio
        } else if !self.has_offer.contains(user) {
            Level::NoOffers
        } else if !self.has_wishlist_item.contains(user) {
            Level::NoWishlist
        } else {
            Level::NewStars
        }
    }
}

/// The base set's users split into the levels, each keeping the base set's order.
pub fn waterfall(users: &[Uuid], completion: &Completion) -> [Vec<usize>; 5] {
    let mut levels: [Vec<usize>; 5] = Default::default();
    for (index, user) in users.iter().enumerate() {
        levels[completion.level_of(user) as usize].push(index);
    }
    levels
}

pub const TEST_USER_ID: &str = "0e54067c-4c0e-4e4a-8a23-a47661578059";
pub const TEST_USERNAME: &str = "beems";
pub const TEST_FIRST_NAME: &str = "Mbiyimoh";
pub const TEST_TARGET_SHOE: &str = "Air Jordan 1 Retro High OG \"Bred Toe\"";
pub const TEST_TARGET_VARIANT: &str = "sample-variant-id-for-testing";

/// The level's test file row (contract section 5).
pub fn test_row(level: Level) -> Vec<String> {
    let mut row = vec![TEST_USER_ID.into(), TEST_USERNAME.into(), TEST_FIRST_NAME.into(), level.number().to_string()];
    if level.has_target_shoe() {
        row.extend([TEST_TARGET_SHOE.into(), TEST_TARGET_VARIANT.into()]);
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn each_user_lands_in_the_first_check_they_fail() {
        let users: Vec<Uuid> = (1..=6).map(id).collect();
        let completion = Completion {
            // 1 has nothing; 2 a closet item only; 3 and bio; 4 and an offer; 5 everything; 6 all but a closet item.
            has_closet_item: [id(2), id(3), id(4), id(5)].into_iter().collect(),
            has_bio: [id(3), id(4), id(5), id(6)].into_iter().collect(),
            has_offer: [id(4), id(5), id(6)].into_iter().collect(),
            has_wishlist_item: [id(5), id(6)].into_iter().collect(),
        };
        let levels = waterfall(&users, &completion);
        assert_eq!(levels, [vec![0, 5], vec![1], vec![2], vec![3], vec![4]]);
    }

    #[test]
    fn columns_and_test_rows_follow_the_level() {
        assert_eq!(Level::NoBio.header(), ["user_id", "username", "firstName", "new_user_level"]);
        assert_eq!(Level::NoOffers.header().len(), 6);
        assert_eq!(test_row(Level::NoShoes), [TEST_USER_ID, "beems", "Mbiyimoh", "1"]);
        assert_eq!(
            test_row(Level::NewStars),
            [
                TEST_USER_ID,
                "beems",
                "Mbiyimoh",
                "5",
                "Air Jordan 1 Retro High OG \"Bred Toe\"",
                "sample-variant-id-for-testing"
            ]
        );
        assert_eq!(Level::ALL.map(Level::number), [1, 2, 3, 4, 5]);
    }
}
