//! The keyspace hash table: Redis's `dict`, chained buckets with incremental
//! rehashing, rewritten in Rust.
//!
//! Why not a std or hashbrown map: a keyspace needs three things those do
//! not give.
//! - **No resize pause.** Growing a 10M-key open-addressing table moves every
//!   entry at once; here a resize allocates the new bucket array and entries
//!   move a few buckets per operation (and in the server cron), as in Redis.
//! - **SCAN's guarantee.** The reverse-binary cursor (`scan`) returns every
//!   entry present for the whole scan at least once, even while the table
//!   grows, shrinks or rehashes. That depends on power-of-two chained tables.
//! - **Random sampling.** Eviction and active expiry sample random entries
//!   (`random_entry`, `sample`), in O(1) expected time.
//!
//! Terms: `tables[0]` is the live table; while rehashing, `tables[1]` is the
//! new one and `rehash_idx` is the next bucket of `tables[0]` to move. An
//! entry lives in exactly one table. Invariant: when not rehashing,
//! `tables[1]` is empty.

use std::hash::BuildHasher;

use crate::keyspace::value::Sds;

/// One chained entry.
pub struct Entry<V> {
    next: Option<Box<Entry<V>>>,
    /// The key.
    pub key: Sds,
    /// The value.
    pub val: V,
}

type Bucket<V> = Option<Box<Entry<V>>>;

struct Table<V> {
    buckets: Vec<Bucket<V>>,
    used: usize,
}

impl<V> Table<V> {
    fn empty() -> Self {
        Table {
            buckets: Vec::new(),
            used: 0,
        }
    }
    fn with_size(n: usize) -> Self {
        let mut buckets = Vec::with_capacity(n);
        buckets.resize_with(n, || None);
        Table { buckets, used: 0 }
    }
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }
}

/// Smallest table (Redis: DICT_HT_INITIAL_SIZE).
const INITIAL_SIZE: usize = 4;
/// Grow even when resizing is discouraged (a fork is running) past this
/// ratio (Redis: dict_force_resize_ratio).
const FORCE_RESIZE_RATIO: usize = 5;

/// A chained hash table from binary keys to `V`.
pub struct Dict<V> {
    tables: [Table<V>; 2],
    rehash_idx: Option<usize>,
    hasher: foldhash::fast::RandomState,
    /// When false (a snapshot child is running, in later issues), the table
    /// grows only past FORCE_RESIZE_RATIO, to limit copy-on-write.
    pub can_resize: bool,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Dict<V> {
    /// An empty table; no buckets are allocated until the first insert.
    pub fn new() -> Self {
        Dict {
            tables: [Table::empty(), Table::empty()],
            rehash_idx: None,
            hasher: foldhash::fast::RandomState::default(),
            can_resize: true,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.tables[0].used + self.tables[1].used
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total buckets across both tables (for memory accounting and INFO).
    pub fn buckets(&self) -> usize {
        self.tables[0].buckets.len() + self.tables[1].buckets.len()
    }

    /// Whether an incremental rehash is in progress.
    pub fn is_rehashing(&self) -> bool {
        self.rehash_idx.is_some()
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> usize {
        self.hasher.hash_one(key) as usize
    }

    /// Looks a key up.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|e| &e.val)
    }

    /// Looks a key up for modification.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.find_mut(key).map(|e| &mut e.val)
    }

    /// Looks an entry up (key and value).
    pub fn find(&self, key: &[u8]) -> Option<&Entry<V>> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        for t in 0..2 {
            let table = &self.tables[t];
            if !table.buckets.is_empty() {
                let mut cur = table.buckets[h & table.mask()].as_deref();
                while let Some(e) = cur {
                    if e.key.as_slice() == key {
                        return Some(e);
                    }
                    cur = e.next.as_deref();
                }
            }
            if self.rehash_idx.is_none() {
                break;
            }
        }
        None
    }

    /// Which table and bucket hold `key`, if present.
    fn locate(&self, key: &[u8]) -> Option<(usize, usize)> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        for t in 0..2 {
            let table = &self.tables[t];
            if !table.buckets.is_empty() {
                let idx = h & table.mask();
                let mut cur = table.buckets[idx].as_deref();
                while let Some(e) = cur {
                    if e.key.as_slice() == key {
                        return Some((t, idx));
                    }
                    cur = e.next.as_deref();
                }
            }
            if self.rehash_idx.is_none() {
                break;
            }
        }
        None
    }

    /// Looks an entry up for modification.
    pub fn find_mut(&mut self, key: &[u8]) -> Option<&mut Entry<V>> {
        let (t, idx) = self.locate(key)?;
        let mut cur = self.tables[t].buckets[idx].as_deref_mut();
        while let Some(e) = cur {
            if e.key.as_slice() == key {
                return Some(e);
            }
            cur = e.next.as_deref_mut();
        }
        None
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Inserts or replaces; returns the old value if the key was present.
    pub fn insert(&mut self, key: Sds, val: V) -> Option<V> {
        if let Some(e) = self.find_mut(&key) {
            return Some(std::mem::replace(&mut e.val, val));
        }
        self.insert_new(key, val);
        None
    }

    /// Inserts a key known to be absent (the caller just looked it up).
    /// Returns a reference to the stored value.
    pub fn insert_new(&mut self, key: Sds, val: V) -> &mut V {
        debug_assert!(!self.contains_key(&key));
        self.rehash_step();
        self.expand_if_needed();
        let h = self.hash(&key);
        let t = if self.rehash_idx.is_some() { 1 } else { 0 };
        let table = &mut self.tables[t];
        let idx = h & table.mask();
        let next = table.buckets[idx].take();
        table.buckets[idx] = Some(Box::new(Entry { next, key, val }));
        table.used += 1;
        &mut table.buckets[idx].as_mut().expect("just inserted").val
    }

    /// Removes a key, returning its entry's key and value.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Sds, V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step();
        let h = self.hash(key);
        let rehashing = self.rehash_idx.is_some();
        for t in 0..2 {
            let table = &mut self.tables[t];
            if !table.buckets.is_empty() {
                let idx = h & table.mask();
                // Walk with a cursor to the link that owns the matching entry.
                let mut link = &mut table.buckets[idx];
                loop {
                    match link {
                        None => break,
                        Some(e) if e.key.as_slice() == key => {
                            let mut boxed = link.take().expect("matched Some");
                            *link = boxed.next.take();
                            table.used -= 1;
                            let Entry { key, val, .. } = *boxed;
                            return Some((key, val));
                        }
                        Some(e) => link = &mut e.next,
                    }
                }
            }
            if !rehashing {
                break;
            }
        }
        None
    }

    /// Drops every entry and bucket.
    pub fn clear(&mut self) {
        *self = Dict {
            hasher: self.hasher.clone(),
            can_resize: self.can_resize,
            ..Dict::new()
        };
    }

    /// Takes every entry out, leaving an empty table (for asynchronous
    /// freeing: the caller drops the result on another thread).
    pub fn take(&mut self) -> Dict<V> {
        let fresh = Dict {
            hasher: self.hasher.clone(),
            can_resize: self.can_resize,
            ..Dict::new()
        };
        std::mem::replace(self, fresh)
    }

    fn expand_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        let size = self.tables[0].buckets.len();
        if size == 0 {
            self.tables[0] = Table::with_size(INITIAL_SIZE);
            return;
        }
        let used = self.tables[0].used;
        if used >= size && (self.can_resize || used / size > FORCE_RESIZE_RATIO) {
            self.resize_to(used + 1);
        }
    }

    /// Starts an incremental rehash into a table of the next power of two
    /// at least `min` (and at least INITIAL_SIZE).
    fn resize_to(&mut self, min: usize) {
        let size = min.max(INITIAL_SIZE).next_power_of_two();
        if self.rehash_idx.is_some() || size == self.tables[0].buckets.len() {
            return;
        }
        if self.tables[0].buckets.is_empty() {
            self.tables[0] = Table::with_size(size);
            return;
        }
        self.tables[1] = Table::with_size(size);
        self.rehash_idx = Some(0);
    }

    /// Shrinks the table when it is under 10% full (Redis: htNeedsResize then
    /// dictResize). Called from the server cron, never on the command path.
    pub fn shrink_if_needed(&mut self) {
        let size = self.tables[0].buckets.len();
        if self.can_resize
            && self.rehash_idx.is_none()
            && size > INITIAL_SIZE
            && self.len() * 100 / size < 10
        {
            self.resize_to(self.len());
        }
    }

    fn rehash_step(&mut self) {
        if self.rehash_idx.is_some() {
            self.rehash(1);
        }
    }

    /// Moves up to `n` buckets from the old table to the new one, visiting at
    /// most `n * 10` empty buckets. Returns true if more remain.
    pub fn rehash(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = n * 10;
        let mut n = n;
        let [t0, t1] = &mut self.tables;
        let mask1 = t1.mask();
        while n > 0 && t0.used != 0 {
            while t0.buckets[idx].is_none() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            let mut chain = t0.buckets[idx].take();
            while let Some(mut e) = chain {
                chain = e.next.take();
                let h = self.hasher.hash_one(e.key.as_slice()) as usize & mask1;
                e.next = t1.buckets[h].take();
                t1.buckets[h] = Some(e);
                t0.used -= 1;
                t1.used += 1;
            }
            idx += 1;
            n -= 1;
        }
        if t0.used == 0 {
            self.tables.swap(0, 1);
            self.tables[1] = Table::empty();
            self.rehash_idx = None;
            return false;
        }
        self.rehash_idx = Some(idx);
        true
    }

    /// Rehashes in steps of 100 buckets for about `budget` (cron work).
    pub fn rehash_for(&mut self, budget: std::time::Duration) {
        let start = std::time::Instant::now();
        while self.rehash(100) {
            if start.elapsed() >= budget {
                break;
            }
        }
    }

    /// Calls `f` for every entry of the buckets at `cursor` and returns the
    /// next cursor (0 when the scan is complete). Redis's `dictScan`: the
    /// cursor's bits are incremented from the high end, so buckets that
    /// split or merge on a resize are never skipped.
    pub fn scan<F: FnMut(&Sds, &V)>(&self, cursor: u64, mut f: F) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor as usize;
        let emit = |t: &Table<V>, idx: usize, f: &mut F| {
            let mut cur = t.buckets[idx & t.mask()].as_deref();
            while let Some(e) = cur {
                f(&e.key, &e.val);
                cur = e.next.as_deref();
            }
        };
        if self.rehash_idx.is_none() {
            let t0 = &self.tables[0];
            let m0 = t0.mask();
            emit(t0, v & m0, &mut f);
            v |= !m0;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
        } else {
            let (small, big) = if self.tables[0].buckets.len() <= self.tables[1].buckets.len() {
                (&self.tables[0], &self.tables[1])
            } else {
                (&self.tables[1], &self.tables[0])
            };
            let m0 = small.mask();
            let m1 = big.mask();
            emit(small, v & m0, &mut f);
            loop {
                emit(big, v & m1, &mut f);
                v |= !m1;
                v = v.reverse_bits().wrapping_add(1).reverse_bits();
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v as u64
    }

    /// A uniformly chosen bucket's random entry (Redis: dictGetRandomKey).
    pub fn random_entry(&self) -> Option<&Entry<V>> {
        if self.is_empty() {
            return None;
        }
        let head = loop {
            let b = if let Some(ridx) = self.rehash_idx {
                let s0 = self.tables[0].buckets.len();
                let total = s0 + self.tables[1].buckets.len();
                // Buckets of table 0 below rehash_idx are empty: skip them.
                let i = ridx + fastrand::usize(..total - ridx);
                if i >= s0 {
                    self.tables[1].buckets[i - s0].as_deref()
                } else {
                    self.tables[0].buckets[i].as_deref()
                }
            } else {
                let t = &self.tables[0];
                t.buckets[fastrand::usize(..t.buckets.len())].as_deref()
            };
            if let Some(e) = b {
                break e;
            }
        };
        let mut len = 0;
        let mut cur = Some(head);
        while let Some(e) = cur {
            len += 1;
            cur = e.next.as_deref();
        }
        let mut pick = fastrand::usize(..len);
        let mut cur = head;
        while pick > 0 {
            cur = cur.next.as_deref().expect("within chain length");
            pick -= 1;
        }
        Some(cur)
    }

    /// Calls `f` on up to `count` entries taken from consecutive buckets
    /// starting at a random one (Redis: dictGetSomeKeys). Faster than
    /// `count` calls to `random_entry`; used by eviction and active expiry.
    pub fn sample<F: FnMut(&Sds, &V)>(&self, count: usize, mut f: F) -> usize {
        if self.is_empty() || count == 0 {
            return 0;
        }
        let count = count.min(self.len());
        let mut emitted = 0;
        let max_size = self.tables[0]
            .buckets
            .len()
            .max(self.tables[1].buckets.len());
        let mut i = fastrand::usize(..max_size);
        let mut steps = count * 10;
        let mut empty_run = 0;
        while emitted < count && steps > 0 {
            steps -= 1;
            for t in 0..2 {
                let table = &self.tables[t];
                if t == 1 && self.rehash_idx.is_none() {
                    break;
                }
                if t == 0 {
                    if let Some(r) = self.rehash_idx {
                        if i < r {
                            continue;
                        }
                    }
                }
                if i >= table.buckets.len() {
                    continue;
                }
                let mut cur = table.buckets[i].as_deref();
                if cur.is_none() {
                    empty_run += 1;
                    if empty_run >= 5 && empty_run > count {
                        i = fastrand::usize(..max_size);
                        empty_run = 0;
                    }
                }
                while let Some(e) = cur {
                    empty_run = 0;
                    f(&e.key, &e.val);
                    emitted += 1;
                    if emitted == count {
                        return emitted;
                    }
                    cur = e.next.as_deref();
                }
            }
            i = (i + 1) % max_size;
        }
        emitted
    }

    /// Iterates over all entries (order unspecified).
    pub fn iter(&self) -> impl Iterator<Item = (&Sds, &V)> {
        self.tables
            .iter()
            .flat_map(|t| t.buckets.iter())
            .flat_map(|b| {
                let mut cur = b.as_deref();
                std::iter::from_fn(move || {
                    let e = cur?;
                    cur = e.next.as_deref();
                    Some((&e.key, &e.val))
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn k(i: usize) -> Sds {
        Sds::from_slice(format!("key:{i}").as_bytes())
    }

    #[test]
    fn insert_get_remove_through_rehashing() {
        let mut d = Dict::new();
        for i in 0..10_000 {
            assert!(d.insert(k(i), i).is_none());
        }
        assert_eq!(d.len(), 10_000);
        for i in 0..10_000 {
            assert_eq!(d.get(&k(i)), Some(&i));
        }
        for i in (0..10_000).step_by(2) {
            assert_eq!(d.remove(&k(i)).map(|(_, v)| v), Some(i));
        }
        assert_eq!(d.len(), 5_000);
        assert_eq!(d.get(&k(2)), None);
        assert_eq!(d.get(&k(3)), Some(&3));
        assert_eq!(d.insert(k(3), 33), Some(3));
        assert_eq!(d.iter().count(), 5_000);
    }

    #[test]
    fn scan_returns_every_stable_key_while_table_grows() {
        let mut d = Dict::new();
        for i in 0..1000 {
            d.insert(k(i), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut added = 1000;
        loop {
            cursor = d.scan(cursor, |key, _| {
                seen.insert(key.clone());
            });
            // Grow the table between calls (bounded), forcing rehashes mid-scan.
            if added < 20_000 {
                for _ in 0..50 {
                    d.insert(k(added), ());
                    added += 1;
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(&k(i)), "key {i} missed");
        }
    }

    #[test]
    fn scan_returns_every_stable_key_while_table_shrinks() {
        let mut d = Dict::new();
        for i in 0..5000 {
            d.insert(k(i), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut next_del = 1000;
        loop {
            cursor = d.scan(cursor, |key, _| {
                seen.insert(key.clone());
            });
            for _ in 0..100 {
                if next_del < 5000 {
                    d.remove(&k(next_del));
                    next_del += 1;
                }
            }
            d.shrink_if_needed();
            d.rehash(3);
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(&k(i)), "key {i} missed");
        }
    }

    #[test]
    fn random_sampling_finds_entries() {
        let mut d = Dict::new();
        assert!(d.random_entry().is_none());
        for i in 0..100 {
            d.insert(k(i), i);
        }
        let mut seen = HashSet::new();
        for _ in 0..2000 {
            seen.insert(d.random_entry().unwrap().val);
        }
        assert!(seen.len() > 90);
        let mut n = 0;
        assert_eq!(d.sample(5, |_, _| n += 1), 5);
        assert_eq!(n, 5);
    }

    #[test]
    fn entry_stays_small() {
        // Memory per key is a benchmark target: entry + bucket must stay < 105 bytes.
        assert!(std::mem::size_of::<Entry<crate::keyspace::value::Obj>>() <= 72);
    }
}
