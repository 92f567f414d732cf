//! Sorted set storage (Redis: OBJ_ZSET with the SKIPLIST encoding): a
//! member → score map plus an order by (score, member) that answers rank
//! queries in O(log n).
//!
//! # Design
//!
//! - `dict` is an insertion-indexed map member → score: O(1) ZSCORE, O(1)
//!   random member by index (ZRANDMEMBER) and an index-based ZSCAN cursor.
//!   Removal is `swap_remove`, so only the last entry ever moves.
//! - `order` is an order-statistics treap kept in an arena (`Vec<Node>` plus
//!   a free list; no `unsafe`, no `Rc`). Each node carries the size of its
//!   subtree, which gives rank, select-by-rank and "how many elements precede
//!   this bound" in O(log n) expected time. Redis uses a skiplist with spans
//!   for the same purpose; a treap needs no level arrays and its split/merge
//!   make range removal O(log n + k).
//! - Every range query (by rank, by score, by lex) reduces to a half-open
//!   rank interval `start..end`, computed from two monotone "precedes the
//!   bound" predicates; REV and LIMIT are then rank arithmetic.
//!
//! Invariants: `dict` and the treap hold exactly the same members with the
//! same scores; scores are never NaN (commands reject NaN before storing);
//! the treap is a binary search tree by (score, member bytes) and a heap by
//! `prio`; `size` of a node = 1 + sizes of its children.

use std::cmp::Ordering;

use crate::keyspace::value::{Hasher, Sds};

/// Arena index meaning "no node".
const NIL: u32 = u32::MAX;

/// One treap node.
#[derive(Clone)]
struct Node {
    member: Sds,
    score: f64,
    left: u32,
    right: u32,
    /// Heap priority (random).
    prio: u32,
    /// Number of nodes in this subtree.
    size: u32,
}

/// Compares (score, member) pairs the way Redis's skiplist orders them:
/// by score, then by member bytes. Scores are never NaN; -0 equals 0.
#[inline]
fn cmp_key(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

/// A score interval (Redis: zrangespec), as ZRANGEBYSCORE takes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Lower bound.
    pub min: f64,
    /// Lower bound is exclusive (`(min`).
    pub min_ex: bool,
    /// Upper bound.
    pub max: f64,
    /// Upper bound is exclusive (`(max`).
    pub max_ex: bool,
}

impl ScoreRange {
    /// Parses `min` and `max` like Redis's zslParseRange: an optional `(`
    /// then a strtod number (`inf`, `-inf` accepted; an empty number reads
    /// as 0, as strtod leaves it). `None` if either is not a float.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, min_ex) = parse_score_bound(min)?;
        let (max, max_ex) = parse_score_bound(max)?;
        Some(ScoreRange {
            min,
            min_ex,
            max,
            max_ex,
        })
    }

    /// Whether `s` is at or above the lower bound.
    pub fn gte_min(&self, s: f64) -> bool {
        if self.min_ex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    /// Whether `s` is at or below the upper bound.
    pub fn lte_max(&self, s: f64) -> bool {
        if self.max_ex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One score bound: `(` prefix for exclusive, then a number.
fn parse_score_bound(b: &[u8]) -> Option<(f64, bool)> {
    let (num, ex) = match b.first() {
        Some(b'(') => (&b[1..], true),
        _ => (b, false),
    };
    // strtod skips leading whitespace and reads "" as 0 (end pointer at the
    // start, which is the terminator): Redis accepts both.
    let start = num
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(num.len());
    let num = &num[start..];
    if num.is_empty() {
        return if start == 0 { Some((0.0, ex)) } else { None };
    }
    crate::util::num::parse_f64(num).map(|v| (v, ex))
}

/// One end of a lex interval (Redis: zlexrangespec items).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    NegInf,
    /// `+`: above every member.
    PosInf,
    /// `[member`
    Incl(Sds),
    /// `(member`
    Excl(Sds),
}

impl LexBound {
    /// Parses `-`, `+`, `[x` or `(x` (Redis: zslParseLexRangeItem).
    pub fn parse(b: &[u8]) -> Option<LexBound> {
        match b.first()? {
            b'+' if b.len() == 1 => Some(LexBound::PosInf),
            b'-' if b.len() == 1 => Some(LexBound::NegInf),
            b'[' => Some(LexBound::Incl(Sds::from_slice(&b[1..]))),
            b'(' => Some(LexBound::Excl(Sds::from_slice(&b[1..]))),
            _ => None,
        }
    }
}

/// A lex interval (Redis: zlexrangespec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

impl LexRange {
    /// Parses both ends; `None` if either is invalid.
    pub fn parse(min: &[u8], max: &[u8]) -> Option<LexRange> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    /// Whether `m` is at or above the lower end.
    pub fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(x) => m >= x.as_slice(),
            LexBound::Excl(x) => m > x.as_slice(),
        }
    }

    /// Whether `m` is at or below the upper end.
    pub fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m <= x.as_slice(),
            LexBound::Excl(x) => m < x.as_slice(),
        }
    }
}

/// A sorted set.
#[derive(Clone)]
pub struct ZSet {
    dict: indexmap::IndexMap<Sds, f64, Hasher>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            dict: Default::default(),
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
        }
    }
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

    /// Inserts or updates a member; returns the previous score. The score
    /// must not be NaN.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        debug_assert!(!score.is_nan());
        match self.dict.get_mut(member) {
            Some(s) => {
                let old = *s;
                // Same value, same place: -0 and 0 compare equal but must be
                // stored as given (ZSCORE prints "-0").
                if old.to_bits() != score.to_bits() {
                    *s = score;
                    let n = self.tree_remove(old, member);
                    self.nodes[n as usize].score = score;
                    self.tree_insert(n);
                }
                Some(old)
            }
            None => {
                let m = Sds::from_slice(member);
                self.dict.insert(m.clone(), score);
                let n = self.alloc(m, score);
                self.tree_insert(n);
                None
            }
        }
    }

    /// Removes a member; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let s = self.dict.swap_remove(member)?;
        let n = self.tree_remove(s, member);
        self.release(n);
        Some(s)
    }

    /// Members in (score, member) order.
    pub fn iter(&self) -> Range<'_> {
        self.range(0, self.len(), false)
    }

    /// The members of ranks `start..end` (clamped to the set), ascending, or
    /// descending from `end - 1` when `rev`.
    pub fn range(&self, start: usize, end: usize, rev: bool) -> Range<'_> {
        let end = end.min(self.len());
        let start = start.min(end);
        let mut it = Range {
            set: self,
            stack: Vec::new(),
            remaining: end - start,
            rev,
        };
        if it.remaining > 0 {
            it.seek(if rev { end - 1 } else { start });
        }
        it
    }

    /// 0-based rank of a member in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let s = self.score(member)?;
        Some(self.count_while(|n| cmp_key(n.score, &n.member, s, member) == Ordering::Less))
    }

    /// The member at a 0-based ascending rank.
    pub fn select(&self, rank: usize) -> Option<(&Sds, f64)> {
        let mut t = self.root;
        let mut r = rank;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let ls = self.size(n.left);
            match r.cmp(&ls) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some((&n.member, n.score)),
                Ordering::Greater => {
                    r -= ls + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// The rank interval `start..end` of the members whose score is in range.
    pub fn score_ranks(&self, r: &ScoreRange) -> (usize, usize) {
        let start = self.count_while(|n| !r.gte_min(n.score));
        let end = self.count_while(|n| r.lte_max(n.score));
        (start, end.max(start))
    }

    /// The rank interval `start..end` of the members in a lex range (the
    /// result is meaningful when all scores are equal, as Redis documents).
    pub fn lex_ranks(&self, r: &LexRange) -> (usize, usize) {
        let start = self.count_while(|n| !r.gte_min(&n.member));
        let end = self.count_while(|n| r.lte_max(&n.member));
        (start, end.max(start))
    }

    /// Removes the members of ranks `start..end` (clamped) in O(log n + k);
    /// returns how many were removed.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        let (l, r) = self.split_at(self.root, start);
        let (m, r) = self.split_at(r, end - start);
        self.root = self.merge(l, r);
        let mut stack = vec![m];
        let mut removed = 0;
        while let Some(t) = stack.pop() {
            if t == NIL {
                continue;
            }
            let (left, right) = {
                let n = &self.nodes[t as usize];
                (n.left, n.right)
            };
            stack.push(left);
            stack.push(right);
            let member = std::mem::take(&mut self.nodes[t as usize].member);
            self.dict.swap_remove(member.as_slice());
            self.release(t);
            removed += 1;
        }
        removed
    }

    /// The entry at a dict index (insertion order, disturbed by removals):
    /// for random members and the ZSCAN cursor.
    pub fn get_index(&self, i: usize) -> Option<(&Sds, f64)> {
        self.dict.get_index(i).map(|(m, s)| (m, *s))
    }

    /// Number of members before the first one for which `pred` is false;
    /// `pred` must be true for a prefix of the order.
    fn count_while(&self, pred: impl Fn(&Node) -> bool) -> usize {
        let mut t = self.root;
        let mut count = 0;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if pred(n) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    #[inline]
    fn size(&self, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size as usize
        }
    }

    #[inline]
    fn update(&mut self, t: u32) {
        let (l, r) = {
            let n = &self.nodes[t as usize];
            (n.left, n.right)
        };
        self.nodes[t as usize].size = (1 + self.size(l) + self.size(r)) as u32;
    }

    fn alloc(&mut self, member: Sds, score: f64) -> u32 {
        let node = Node {
            member,
            score,
            left: NIL,
            right: NIL,
            prio: fastrand::u32(..),
            size: 1,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, t: u32) {
        let n = &mut self.nodes[t as usize];
        n.member = Sds::new();
        n.left = NIL;
        n.right = NIL;
        self.free.push(t);
        if self.dict.is_empty() {
            self.nodes.clear();
            self.free.clear();
            self.root = NIL;
        }
    }

    /// Links a detached node into the tree.
    fn tree_insert(&mut self, n: u32) {
        let (s, m) = {
            let node = &mut self.nodes[n as usize];
            node.left = NIL;
            node.right = NIL;
            node.size = 1;
            (node.score, std::mem::take(&mut node.member))
        };
        let (l, r) = self.split_by(self.root, &|x: &Node| {
            cmp_key(x.score, &x.member, s, &m) == Ordering::Less
        });
        self.nodes[n as usize].member = m;
        let l = self.merge(l, n);
        self.root = self.merge(l, r);
    }

    /// Unlinks the node holding (score, member) and returns it (detached).
    fn tree_remove(&mut self, s: f64, member: &[u8]) -> u32 {
        let (l, r) = self.split_by(self.root, &|x: &Node| {
            cmp_key(x.score, &x.member, s, member) == Ordering::Less
        });
        let (m, r) = self.split_at(r, 1);
        debug_assert!(m != NIL && self.nodes[m as usize].member.as_slice() == member);
        self.root = self.merge(l, r);
        m
    }

    /// Splits `t` into the prefix where `pred` holds and the rest.
    fn split_by(&mut self, t: u32, pred: &dyn Fn(&Node) -> bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if pred(&self.nodes[t as usize]) {
            let (l, r) = self.split_by(self.nodes[t as usize].right, pred);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        } else {
            let (l, r) = self.split_by(self.nodes[t as usize].left, pred);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        }
    }

    /// Splits `t` into its first `k` nodes and the rest.
    fn split_at(&mut self, t: u32, k: usize) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let left = self.nodes[t as usize].left;
        let ls = self.size(left);
        if k <= ls {
            let (l, r) = self.split_at(left, k);
            self.nodes[t as usize].left = r;
            self.update(t);
            (l, t)
        } else {
            let (l, r) = self.split_at(self.nodes[t as usize].right, k - ls - 1);
            self.nodes[t as usize].right = l;
            self.update(t);
            (t, r)
        }
    }

    /// Joins two trees where every node of `a` precedes every node of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = r;
            self.update(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = l;
            self.update(b);
            b
        }
    }
}

/// An in-order walk over a rank interval (see `ZSet::range`).
pub struct Range<'a> {
    set: &'a ZSet,
    /// Nodes still to yield, next on top (with their pending subtrees).
    stack: Vec<u32>,
    remaining: usize,
    rev: bool,
}

impl Range<'_> {
    /// Positions the walk at `rank`: the stack holds the path's nodes that
    /// come at or after it in walking order.
    fn seek(&mut self, rank: usize) {
        let nodes = &self.set.nodes;
        let mut t = self.set.root;
        let mut r = rank;
        while t != NIL {
            let n = &nodes[t as usize];
            let ls = self.set.size(n.left);
            match r.cmp(&ls) {
                Ordering::Less => {
                    if !self.rev {
                        self.stack.push(t);
                    }
                    t = n.left;
                }
                Ordering::Equal => {
                    self.stack.push(t);
                    return;
                }
                Ordering::Greater => {
                    if self.rev {
                        self.stack.push(t);
                    }
                    r -= ls + 1;
                    t = n.right;
                }
            }
        }
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = (&'a Sds, f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let nodes = &self.set.nodes;
        let t = self.stack.pop()?;
        self.remaining -= 1;
        let n = &nodes[t as usize];
        // Push the next subtree's nearest path in walking order.
        let mut c = if self.rev { n.left } else { n.right };
        while c != NIL {
            self.stack.push(c);
            let cn = &nodes[c as usize];
            c = if self.rev { cn.right } else { cn.left };
        }
        Some((&n.member, n.score))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Range<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        z.iter().map(|(m, s)| (m.to_vec(), s)).collect()
    }

    /// Checks the treap's structural invariants.
    fn check(z: &ZSet) {
        fn walk(z: &ZSet, t: u32, out: &mut Vec<(f64, Vec<u8>)>) -> usize {
            if t == NIL {
                return 0;
            }
            let n = &z.nodes[t as usize];
            for c in [n.left, n.right] {
                if c != NIL {
                    assert!(z.nodes[c as usize].prio <= n.prio, "heap order");
                }
            }
            let l = walk(z, n.left, out);
            out.push((n.score, n.member.to_vec()));
            let r = walk(z, n.right, out);
            assert_eq!(n.size as usize, l + r + 1, "subtree size");
            l + r + 1
        }
        let mut out = Vec::new();
        assert_eq!(walk(z, z.root, &mut out), z.len());
        for w in out.windows(2) {
            assert_eq!(
                cmp_key(w[0].0, &w[0].1, w[1].0, &w[1].1),
                Ordering::Less,
                "search order"
            );
        }
        for (s, m) in &out {
            assert_eq!(z.score(m), Some(*s));
        }
    }

    #[test]
    fn members_are_ordered_by_score_then_bytes() {
        let mut z = ZSet::new();
        z.insert(b"b", 1.0);
        z.insert(b"a", 1.0);
        z.insert(b"c", 0.5);
        z.insert(b"d", f64::NEG_INFINITY);
        assert_eq!(
            members(&z),
            vec![
                (b"d".to_vec(), f64::NEG_INFINITY),
                (b"c".to_vec(), 0.5),
                (b"a".to_vec(), 1.0),
                (b"b".to_vec(), 1.0)
            ]
        );
        assert_eq!(z.insert(b"c", 2.0), Some(0.5));
        assert_eq!(z.rank(b"c"), Some(3));
        assert_eq!(z.remove(b"a"), Some(1.0));
        assert_eq!(z.remove(b"a"), None);
        assert_eq!(z.len(), 3);
        check(&z);
    }

    #[test]
    fn rank_ranges_walk_both_directions() {
        let mut z = ZSet::new();
        for i in 0..10 {
            z.insert(format!("m{i}").as_bytes(), i as f64);
        }
        let fwd: Vec<f64> = z.range(2, 5, false).map(|(_, s)| s).collect();
        assert_eq!(fwd, vec![2.0, 3.0, 4.0]);
        let rev: Vec<f64> = z.range(2, 5, true).map(|(_, s)| s).collect();
        assert_eq!(rev, vec![4.0, 3.0, 2.0]);
        assert_eq!(z.range(8, 100, false).count(), 2);
        assert_eq!(z.range(5, 5, false).count(), 0);
        assert_eq!(z.select(7).map(|(m, _)| m.to_vec()), Some(b"m7".to_vec()));
        assert!(z.select(10).is_none());
    }

    #[test]
    fn score_and_lex_bounds_parse_like_redis() {
        let r = ScoreRange::parse(b"(1", b"+inf").unwrap();
        assert!(r.min_ex && !r.max_ex && r.max == f64::INFINITY);
        assert_eq!(ScoreRange::parse(b"(", b"").unwrap().min, 0.0);
        assert!(ScoreRange::parse(b"a", b"1").is_none());
        assert!(ScoreRange::parse(b"nan", b"1").is_none());
        assert!(ScoreRange::parse(b"1x", b"1").is_none());
        assert_eq!(LexBound::parse(b"+"), Some(LexBound::PosInf));
        assert_eq!(LexBound::parse(b"-"), Some(LexBound::NegInf));
        assert_eq!(
            LexBound::parse(b"[a"),
            Some(LexBound::Incl(Sds::from_slice(b"a")))
        );
        assert_eq!(LexBound::parse(b"("), Some(LexBound::Excl(Sds::new())));
        assert!(LexBound::parse(b"a").is_none());
        assert!(LexBound::parse(b"+a").is_none());
        assert!(LexBound::parse(b"").is_none());
    }

    #[test]
    fn score_ranks_honour_exclusive_and_infinite_bounds() {
        let mut z = ZSet::new();
        for (m, s) in [("a", 1.0), ("b", 2.0), ("c", 2.0), ("d", 3.0)] {
            z.insert(m.as_bytes(), s);
        }
        let q = |min: &str, max: &str| {
            z.score_ranks(&ScoreRange::parse(min.as_bytes(), max.as_bytes()).unwrap())
        };
        assert_eq!(q("-inf", "+inf"), (0, 4));
        assert_eq!(q("2", "2"), (1, 3));
        assert_eq!(q("(2", "3"), (3, 4));
        assert_eq!(q("1", "(2"), (0, 1));
        assert_eq!(q("(2", "(2"), (3, 3));
        assert_eq!(q("3", "1"), (3, 3));
        let l = |min: &str, max: &str| {
            z.lex_ranks(&LexRange::parse(min.as_bytes(), max.as_bytes()).unwrap())
        };
        let mut y = ZSet::new();
        for m in ["a", "b", "c", "d"] {
            y.insert(m.as_bytes(), 0.0);
        }
        let ly = |min: &str, max: &str| {
            y.lex_ranks(&LexRange::parse(min.as_bytes(), max.as_bytes()).unwrap())
        };
        assert_eq!(ly("-", "+"), (0, 4));
        assert_eq!(ly("[b", "(d"), (1, 3));
        assert_eq!(ly("(b", "[b"), (2, 2));
        assert_eq!(ly("+", "-"), (4, 4));
        assert_eq!(l("-", "+"), (0, 4));
    }

    #[test]
    fn removing_a_rank_interval_keeps_map_and_order_in_step() {
        let mut z = ZSet::new();
        for i in 0..100 {
            z.insert(format!("{i:03}").as_bytes(), i as f64);
        }
        assert_eq!(z.remove_ranks(10, 20), 10);
        assert_eq!(z.len(), 90);
        assert!(z.score(b"015").is_none());
        assert_eq!(z.select(10).map(|(_, s)| s), Some(20.0));
        assert_eq!(z.remove_ranks(80, 200), 10);
        assert_eq!(z.remove_ranks(5, 5), 0);
        check(&z);
        assert_eq!(z.remove_ranks(0, 1000), 80);
        assert!(z.is_empty() && z.iter().next().is_none());
        z.insert(b"x", 1.0);
        check(&z);
    }

    #[test]
    fn negative_zero_is_kept_as_given() {
        let mut z = ZSet::new();
        z.insert(b"a", 0.0);
        z.insert(b"a", -0.0);
        assert!(z.score(b"a").unwrap().is_sign_negative());
        check(&z);
    }

    /// A tiny deterministic generator so failures reproduce.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn random_operations_match_a_sorted_vec_model() {
        let mut rng = Lcg(7);
        let mut z = ZSet::new();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        let sort = |m: &mut Vec<(f64, Vec<u8>)>| {
            m.sort_by(|a, b| cmp_key(a.0, &a.1, b.0, &b.1));
        };
        for step in 0..20_000 {
            let member = format!("m{}", rng.next(300)).into_bytes();
            let score = rng.next(40) as f64 - 20.0;
            match rng.next(10) {
                0..=4 => {
                    let old = model.iter().position(|(_, m)| *m == member);
                    let expect = old.map(|i| model.remove(i).0);
                    model.push((score, member.clone()));
                    sort(&mut model);
                    assert_eq!(z.insert(&member, score), expect);
                }
                5..=6 => {
                    let old = model.iter().position(|(_, m)| *m == member);
                    let expect = old.map(|i| model.remove(i).0);
                    assert_eq!(z.remove(&member), expect);
                }
                7 => {
                    let a = rng.next(model.len() as u64 + 3) as usize;
                    let b = a + rng.next(5) as usize;
                    let expect = b.min(model.len()).saturating_sub(a);
                    if a < model.len() {
                        model.drain(a..b.min(model.len()));
                    }
                    assert_eq!(z.remove_ranks(a, b), expect);
                }
                8 => {
                    let lo = rng.next(40) as f64 - 20.0;
                    let hi = lo + rng.next(10) as f64;
                    let r = ScoreRange {
                        min: lo,
                        min_ex: rng.next(2) == 0,
                        max: hi,
                        max_ex: rng.next(2) == 0,
                    };
                    let expect: Vec<_> = model
                        .iter()
                        .filter(|(s, _)| r.gte_min(*s) && r.lte_max(*s))
                        .cloned()
                        .collect();
                    let (a, b) = z.score_ranks(&r);
                    let got: Vec<_> = z.range(a, b, false).map(|(m, s)| (s, m.to_vec())).collect();
                    assert_eq!(got, expect);
                    let mut rev: Vec<_> =
                        z.range(a, b, true).map(|(m, s)| (s, m.to_vec())).collect();
                    rev.reverse();
                    assert_eq!(rev, expect);
                }
                _ => {
                    let expect = model.iter().position(|(_, m)| *m == member);
                    assert_eq!(z.rank(&member), expect);
                    if let Some(i) = expect {
                        assert_eq!(z.select(i).map(|(m, _)| m.to_vec()), Some(member.clone()));
                    }
                }
            }
            assert_eq!(z.len(), model.len());
            if step % 1000 == 0 {
                check(&z);
                let all: Vec<_> = z.iter().map(|(m, s)| (s, m.to_vec())).collect();
                assert_eq!(all, model);
            }
        }
        check(&z);
    }
}
