//! Databases and lookups with expiry (Redis: db.c and expire.c lookups).
//!
//! Each database is two dicts, as in Redis: `dict` maps keys to objects and
//! `expires` maps keys that have a time to live to their deadline (unix ms).
//! Lazy expiry happens here, on lookup: an expired key found on a master is
//! deleted and reported through `Keyspace::expired`, so the server can count
//! it and propagate a DEL; on a replica it is only hidden.

use crate::keyspace::dict::Dict;
use crate::keyspace::value::{Obj, Sds, Value};

/// One numbered database.
#[derive(Default)]
pub struct Db {
    /// Keys to objects.
    pub dict: Dict<Obj>,
    /// Keys with a time to live, to their deadline in unix milliseconds.
    pub expires: Dict<i64>,
    /// Running average TTL for INFO keyspace (Redis: avg_ttl).
    pub avg_ttl: i64,
}

impl Db {
    /// The key's deadline, if it has one.
    pub fn expire_of(&self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Whether the key exists but its deadline has passed.
    pub fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        matches!(self.expire_of(key), Some(when) if when <= now_ms)
    }

    /// Deletes a key and its expiry. Returns whether it existed.
    pub fn delete(&mut self, key: &[u8]) -> Option<Obj> {
        let removed = self.dict.remove(key).map(|(_, o)| o);
        if removed.is_some() && !self.expires.is_empty() {
            self.expires.remove(key);
        }
        removed
    }

    /// Sets or clears the key's deadline. The key must exist.
    pub fn set_expire(&mut self, key: &[u8], when: Option<i64>) {
        match when {
            Some(w) => {
                if let Some(e) = self.expires.get_mut(key) {
                    *e = w;
                } else {
                    self.expires.insert_new(Sds::from_slice(key), w);
                }
            }
            None => {
                if !self.expires.is_empty() {
                    self.expires.remove(key);
                }
            }
        }
    }

    /// Number of keys (including expired ones not yet reclaimed).
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    /// Whether the database has no keys.
    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }
}

/// All databases plus the bookkeeping lookups need.
pub struct Keyspace {
    /// The databases, `databases` of them.
    pub dbs: Vec<Db>,
    /// True on a replica: expired keys are hidden, never deleted (the master
    /// sends the DEL).
    pub is_replica: bool,
    /// Keys deleted by lazy or active expiry since the server last drained
    /// this list (db index, key): the server counts and propagates them.
    pub expired: Vec<(usize, Sds)>,
    /// Lookups that found a key (INFO keyspace_hits).
    pub hits: u64,
    /// Lookups that found nothing (INFO keyspace_misses).
    pub misses: u64,
    /// The eviction clock stamped on touched objects.
    pub lru_clock: u32,
    /// Under an LFU policy: (lfu-log-factor, lfu-decay-time); objects then
    /// carry LFU stamps instead of LRU clocks.
    pub lfu: Option<(i64, i64)>,
    /// Time of the current command (unix ms), for LFU stamps.
    pub now_ms: i64,
    /// Set while the AOF is replayed or the master's stream applied:
    /// nothing expires (Redis: keyIsExpired is false while loading and for
    /// the master client), so each command finds the keys it found when
    /// it first ran.
    pub expire_paused: bool,
}

impl Keyspace {
    /// `n` empty databases.
    pub fn new(n: usize) -> Self {
        Keyspace {
            dbs: (0..n).map(|_| Db::default()).collect(),
            is_replica: false,
            expired: Vec::new(),
            hits: 0,
            misses: 0,
            lru_clock: 0,
            lfu: None,
            now_ms: 0,
            expire_paused: false,
        }
    }

    /// The stamp for a new object.
    #[inline]
    pub fn new_stamp(&self) -> u32 {
        match self.lfu {
            None => self.lru_clock,
            Some(_) => crate::keyspace::lfu::init(self.now_ms),
        }
    }

    /// Expires the key if its deadline passed. Returns true if the key is
    /// (logically) gone.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        let d = &mut self.dbs[db];
        if self.expire_paused || !d.is_expired(key, now_ms) {
            return false;
        }
        if self.is_replica {
            return true;
        }
        d.delete(key);
        self.expired.push((db, Sds::from_slice(key)));
        true
    }

    /// Looks a key up for reading: counts hits/misses and stamps the access.
    pub fn lookup_read(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&mut Obj> {
        if self.expire_if_needed(db, key, now_ms) {
            self.misses += 1;
            return None;
        }
        let lfu = self.lfu.is_some();
        let clock = self.lru_clock;
        let (now, lfu_cfg) = (self.now_ms, self.lfu);
        match self.dbs[db].dict.get_mut(key) {
            Some(o) => {
                self.hits += 1;
                o.lru = if lfu {
                    let (f, d) = lfu_cfg.unwrap_or((10, 1));
                    crate::keyspace::lfu::touch(o.lru, now, f, d)
                } else {
                    clock
                };
                Some(o)
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Looks a key up for writing: no hit/miss accounting.
    pub fn lookup_write(&mut self, db: usize, key: &[u8], now_ms: i64) -> Option<&mut Obj> {
        if self.expire_if_needed(db, key, now_ms) {
            return None;
        }
        let (clock, now, lfu_cfg) = (self.lru_clock, self.now_ms, self.lfu);
        let o = self.dbs[db].dict.get_mut(key)?;
        o.lru = match lfu_cfg {
            None => clock,
            Some((f, d)) => crate::keyspace::lfu::touch(o.lru, now, f, d),
        };
        Some(o)
    }

    /// Whether a key exists (after expiry), without touching its access time.
    pub fn exists(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        !self.expire_if_needed(db, key, now_ms) && self.dbs[db].dict.contains_key(key)
    }

    /// Adds a key that does not exist (the caller looked it up).
    pub fn add(&mut self, db: usize, key: &[u8], val: Value) -> &mut Obj {
        let clock = self.new_stamp();
        self.dbs[db]
            .dict
            .insert_new(Sds::from_slice(key), Obj::new(val, clock))
    }

    /// Sets a key to a value, replacing any old value. The deadline is
    /// removed unless `keep_ttl` (Redis: setKey).
    pub fn set(&mut self, db: usize, key: &[u8], val: Value, keep_ttl: bool) {
        let clock = self.new_stamp();
        let lfu = self.lfu.is_some();
        let d = &mut self.dbs[db];
        match d.dict.get_mut(key) {
            Some(o) => {
                o.val = val;
                // Overwriting keeps an LFU counter (Redis keeps the old object's
                // frequency on SET); an LRU clock is refreshed.
                if !lfu {
                    o.lru = clock;
                }
            }
            None => {
                d.dict
                    .insert_new(Sds::from_slice(key), Obj::new(val, clock));
            }
        }
        if !keep_ttl {
            d.set_expire(key, None);
        }
    }

    /// Deletes a key (after checking expiry). Returns whether it existed.
    pub fn delete(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        if self.expire_if_needed(db, key, now_ms) {
            return false;
        }
        self.dbs[db].delete(key).is_some()
    }

    /// Total keys over all databases.
    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_keys_are_never_returned_and_are_reported() {
        let mut ks = Keyspace::new(2);
        ks.set(0, b"a", Value::from_bytes(b"1"), false);
        ks.dbs[0].set_expire(b"a", Some(1000));
        assert!(ks.lookup_read(0, b"a", 999).is_some());
        assert!(ks.lookup_read(0, b"a", 1000).is_none());
        assert_eq!(ks.expired.len(), 1);
        assert!(ks.dbs[0].dict.is_empty());
        assert!(ks.dbs[0].expires.is_empty());
    }

    #[test]
    fn replicas_hide_expired_keys_without_deleting() {
        let mut ks = Keyspace::new(1);
        ks.is_replica = true;
        ks.set(0, b"a", Value::from_bytes(b"x"), false);
        ks.dbs[0].set_expire(b"a", Some(10));
        assert!(ks.lookup_read(0, b"a", 20).is_none());
        assert_eq!(ks.dbs[0].len(), 1);
        assert!(ks.expired.is_empty());
    }

    #[test]
    fn set_clears_ttl_unless_kept() {
        let mut ks = Keyspace::new(1);
        ks.set(0, b"a", Value::from_bytes(b"x"), false);
        ks.dbs[0].set_expire(b"a", Some(5000));
        ks.set(0, b"a", Value::from_bytes(b"y"), true);
        assert_eq!(ks.dbs[0].expire_of(b"a"), Some(5000));
        ks.set(0, b"a", Value::from_bytes(b"z"), false);
        assert_eq!(ks.dbs[0].expire_of(b"a"), None);
    }
}
