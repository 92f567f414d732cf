//! Sorted set storage (Redis: OBJ_ZSET): a member → score map plus an order
//! by (score, member).
//!
//! This first version keeps the order in a `BTreeSet`; rank queries walk it.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::keyspace::value::{Hasher, Sds};

/// A score ordered totally (scores are never NaN: commands reject NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// A sorted set.
#[derive(Default)]
pub struct ZSet {
    dict: indexmap::IndexMap<Sds, f64, Hasher>,
    order: BTreeSet<(Score, Sds)>,
}

impl ZSet {
    /// An empty sorted set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// A member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.dict.get(member).copied()
    }

    /// Inserts or updates a member; returns the previous score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let m = Sds::from_slice(member);
        let old = self.dict.insert(m.clone(), score);
        if let Some(o) = old {
            self.order.remove(&(Score(o), m.clone()));
        }
        self.order.insert((Score(score), m));
        old
    }

    /// Removes a member; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (m, s) = self.dict.swap_remove_entry(member)?;
        self.order.remove(&(Score(s), m));
        Some(s)
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Sds, f64)> {
        self.order.iter().map(|(s, m)| (m, s.0))
    }
}
