//! The text columns that enrich the kept rows, stored compactly: each id gets a slot (its
//! position in the id list the query was given), and each column keeps all its text in one
//! buffer with a span per slot. At 1M users this holds the ~215k kept users' profiles in
//! ~20 MB, where a map of heap strings per value took ~60 MB.

use rustc_hash::FxHashMap;
use uuid::Uuid;

use crate::error::{EngineError, Result};

/// The slot of each id a query asks about: enrich queries answer in any order, and their
/// columns store each answer at its id's slot.
#[derive(Debug, Default)]
pub struct Slots {
    by_id: FxHashMap<Uuid, u32>,
    /// Slots a column needs.
    len: usize,
}

impl Slots {
    /// Slot `i` is `ids[i]`; `ids` must be distinct.
    pub fn new(ids: &[Uuid]) -> Self {
        let mut by_id = FxHashMap::with_capacity_and_hasher(ids.len(), Default::default());
        by_id.extend(ids.iter().enumerate().map(|(slot, id)| (*id, slot as u32)));
        Slots { by_id, len: ids.len() }
    }

    pub fn get(&self, id: &Uuid) -> Option<usize> {
        self.by_id.get(id).map(|slot| *slot as usize)
    }

    /// Slots a column needs.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// At most one text value per slot.
#[derive(Debug, Default)]
pub struct TextColumn {
    text: String,
    /// `(start, len)` in `text`; `UNSET` when the slot has no value.
    spans: Vec<(u32, u32)>,
}

const UNSET: (u32, u32) = (u32::MAX, 0);

impl TextColumn {
    pub fn new(slots: usize) -> Self {
        TextColumn { text: String::new(), spans: vec![UNSET; slots] }
    }

    /// Sets the slot's value (a later value replaces an earlier one).
    pub fn set(&mut self, slot: usize, value: &str) -> Result<()> {
        let start = self.text.len();
        if start + value.len() >= u32::MAX as usize {
            return Err(EngineError::internal("an enrich column exceeds 4 GiB of text"));
        }
        self.text.push_str(value);
        self.spans[slot] = (start as u32, value.len() as u32);
        Ok(())
    }

    pub fn get(&self, slot: usize) -> Option<&str> {
        let (start, len) = *self.spans.get(slot)?;
        if (start, len) == UNSET {
            return None;
        }
        self.text.get(start as usize..start as usize + len as usize)
    }

    /// Values counted so far.
    pub fn count(&self) -> usize {
        self.spans.iter().filter(|span| **span != UNSET).count()
    }
}

/// One value per slot out of a small set of values, keeping the smallest when a slot is given
/// several. "Smallest" is the order the values were given in: the database's
/// `ORDER BY … COLLATE "C"`, its byte order in its own encoding, as V1's `min(… COLLATE "C")`.
#[derive(Debug, Default)]
pub struct MinValueColumn {
    /// Distinct values, smallest first: a slot stores a rank.
    values: Vec<Box<str>>,
    ranks: Vec<u32>,
}

const NO_RANK: u32 = u32::MAX;

impl MinValueColumn {
    /// `values` smallest first, equal values next to each other; `slots` slots, all empty.
    pub fn new(values: impl IntoIterator<Item = Box<str>>, slots: usize) -> Self {
        let mut values: Vec<Box<str>> = values.into_iter().collect();
        values.dedup();
        MinValueColumn { values, ranks: vec![NO_RANK; slots] }
    }

    /// The rank of `value` (`None` if it is not one of the column's values). The values are
    /// few (a size attribute's), so a scan.
    pub fn rank_of(&self, value: &str) -> Option<u32> {
        self.values.iter().position(|v| **v == *value).map(|rank| rank as u32)
    }

    pub fn offer(&mut self, slot: usize, rank: u32) {
        let current = &mut self.ranks[slot];
        *current = (*current).min(rank);
    }

    pub fn get(&self, slot: usize) -> Option<&str> {
        let rank = *self.ranks.get(slot)?;
        self.values.get(rank as usize).map(|v| &**v)
    }

    pub fn count(&self) -> usize {
        self.ranks.iter().filter(|rank| **rank != NO_RANK).count()
    }

    /// A column of the same values with `slots` empty slots.
    pub fn empty_like(&self, slots: usize) -> MinValueColumn {
        MinValueColumn { values: self.values.clone(), ranks: vec![NO_RANK; slots] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_list_order() {
        let ids = [Uuid::from_u128(7), Uuid::from_u128(3)];
        let slots = Slots::new(&ids);
        assert_eq!((slots.get(&ids[0]), slots.get(&ids[1]), slots.get(&Uuid::nil())), (Some(0), Some(1), None));
        assert_eq!(slots.len(), 2);
    }

    #[test]
    fn text_column_keeps_one_value_per_slot() {
        let mut column = TextColumn::new(3);
        column.set(2, "Zoë, \"Z\"").unwrap();
        column.set(0, "").unwrap();
        assert_eq!(
            (column.get(0), column.get(1), column.get(2), column.get(3)),
            (Some(""), None, Some("Zoë, \"Z\""), None)
        );
        column.set(2, "again").unwrap();
        assert_eq!(column.get(2), Some("again"));
        assert_eq!(column.count(), 2);
    }

    #[test]
    fn min_value_column_keeps_the_smallest_in_the_given_order() {
        // As the database orders them: byte order, so "10" before "9".
        let mut column = MinValueColumn::new(["10", "10", "9", "9.5"].map(Box::from), 2);
        let (nine, ten) = (column.rank_of("9").unwrap(), column.rank_of("10").unwrap());
        assert_eq!(column.rank_of("11"), None);
        column.offer(0, nine);
        column.offer(0, ten);
        assert_eq!((column.get(0), column.get(1)), (Some("10"), None));
        column.offer(1, nine);
        assert_eq!(column.get(1), Some("9"));
        assert_eq!(column.count(), 2);
    }
}
