//! Eviction under `maxmemory` (Redis: evict.c performEvictions).
//!
//! Design, as in redis-server 7.0:
//! - **When.** Before every command while `maxmemory` is set (the dispatcher
//!   calls `perform_evictions`) and from the cron, so an idle server that was
//!   left over the limit (a time-capped call, CONFIG SET maxmemory) keeps
//!   evicting, as Redis's eviction timer proc does.
//! - **What.** The policy picks the candidate set (`dict` for allkeys-*,
//!   `expires` for volatile-*). Random policies take a random key, visiting
//!   the databases round robin. LRU, LFU and TTL policies are approximated:
//!   each pass samples `maxmemory-samples` keys per database into an
//!   eviction pool of the 16 best candidates seen so far (kept across calls),
//!   then evict the best one that still exists. A pool entry is a "ghost" when
//!   its key was deleted meanwhile; it is dropped and the next one tried.
//! - **Score ("idle").** Higher is evicted first. LRU: seconds since last
//!   access on the 24-bit clock (wrap-around handled); LFU: 255 minus the
//!   decayed counter; TTL: the further in the past the deadline, the higher
//!   (u64::MAX - deadline).
//! - **How much.** Memory to free is fixed at the start (used - maxmemory);
//!   each deletion counts the allocator delta around the delete only, so
//!   memory growing elsewhere meanwhile (propagation buffers) cannot make the
//!   loop evict forever. With `lazyfree-lazy-eviction` big values are dropped
//!   on a background thread, so the loop also re-reads used memory every 16
//!   keys.
//! - **Bounded.** Every 16 keys the loop checks a time limit (Redis's
//!   default tenacity: 500 µs). Hitting it counts as "eviction running", not
//!   out of memory: the command proceeds and the next command or cron tick
//!   continues.
//! - **Out of memory** (`false`): `noeviction`, or nothing left to evict
//!   (e.g. volatile-* with no keys that have a TTL).
//!
//! Each evicted key is deleted, counted in `evicted_keys`, invalidates
//! WATCH, and is propagated as DEL (UNLINK under lazy eviction).

use std::sync::mpsc::Sender;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::Server;
use crate::config::EvictionPolicy;
use crate::keyspace::{lfu, Obj, Sds, Value};

/// Candidates kept in the pool (Redis: EVPOOL_SIZE).
pub const EVPOOL_SIZE: usize = 16;
/// Time spent in one call before yielding (Redis: evictionTimeLimitUs with
/// the default maxmemory-eviction-tenacity 10).
const EVICTION_TIME_LIMIT: Duration = Duration::from_micros(500);
/// Values with more elements than this are freed on the lazyfree thread
/// (Redis: LAZYFREE_THRESHOLD).
const LAZYFREE_THRESHOLD: usize = 64;
/// The 24-bit LRU clock's maximum (Redis: LRU_CLOCK_MAX).
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// One pool slot (Redis: struct evictionPoolEntry).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PoolEntry {
    idle: u64,
    db: usize,
    key: Sds,
}

/// The eviction pool: up to `EVPOOL_SIZE` candidates sorted by ascending
/// score, so the best candidate is last (Redis: EvictionPoolLRU).
#[derive(Debug, Default)]
pub struct EvictionPool {
    entries: Vec<PoolEntry>,
    /// Round-robin database for the random policies (Redis: next_db).
    next_db: usize,
    /// The policy the scores were computed under: a CONFIG SET of
    /// `maxmemory-policy` makes them meaningless.
    policy: Option<EvictionPolicy>,
}

impl EvictionPool {
    /// Offers a candidate (Redis: the insertion half of
    /// evictionPoolPopulate). When the pool is full, a candidate worse than
    /// every entry is dropped, otherwise the worst entry makes room.
    pub fn insert(&mut self, idle: u64, db: usize, key: &[u8]) {
        if self
            .entries
            .iter()
            .any(|e| e.db == db && e.key.as_slice() == key)
        {
            return;
        }
        let k = self.entries.partition_point(|e| e.idle < idle);
        if k == 0 && self.entries.len() == EVPOOL_SIZE {
            return;
        }
        self.entries.insert(
            k,
            PoolEntry {
                idle,
                db,
                key: Sds::from_slice(key),
            },
        );
        if self.entries.len() > EVPOOL_SIZE {
            self.entries.remove(0);
        }
    }

    /// Removes and returns the best candidate.
    pub fn pop_best(&mut self) -> Option<(usize, Sds)> {
        self.entries.pop().map(|e| (e.db, e.key))
    }

    /// Number of candidates held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool holds no candidate.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every candidate (after FLUSHALL or a policy change the scores
    /// are meaningless).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Seconds since `lru` on the 24-bit clock `now` (Redis:
/// estimateObjectIdleTime, which works in the same 1 s resolution).
pub fn idle_seconds(now: u32, lru: u32) -> u64 {
    if now >= lru {
        (now - lru) as u64
    } else {
        (now as u64) + (LRU_CLOCK_MAX - lru) as u64
    }
}

/// Whether the policy samples `expires` (keys with a TTL) instead of `dict`.
pub fn is_volatile(p: EvictionPolicy) -> bool {
    matches!(
        p,
        EvictionPolicy::VolatileLru
            | EvictionPolicy::VolatileLfu
            | EvictionPolicy::VolatileRandom
            | EvictionPolicy::VolatileTtl
    )
}

fn is_random(p: EvictionPolicy) -> bool {
    matches!(
        p,
        EvictionPolicy::AllKeysRandom | EvictionPolicy::VolatileRandom
    )
}

/// What the policy ranks a key by.
#[derive(Debug, Clone, Copy)]
pub struct ScoreClock {
    /// The LRU clock (`keyspace.lru_clock`).
    pub lru_clock: u32,
    /// Now, for LFU decay.
    pub now_ms: i64,
    /// `lfu-decay-time` in minutes.
    pub lfu_decay_time: i64,
}

/// A key's eviction score under `policy`: higher is evicted first.
/// `lru` is the object's stamp (LRU clock or LFU stamp), `expire` its
/// deadline (volatile-ttl only).
pub fn score(policy: EvictionPolicy, lru: u32, expire: Option<i64>, clock: ScoreClock) -> u64 {
    match policy {
        EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => {
            255 - lfu::decayed(lru, clock.now_ms, clock.lfu_decay_time) as u64
        }
        EvictionPolicy::VolatileTtl => u64::MAX - expire.unwrap_or(i64::MAX).max(0) as u64,
        _ => idle_seconds(clock.lru_clock, lru),
    }
}

/// The thread that drops big evicted values off the event loop (Redis:
/// the BIO_LAZY_FREE job queue). Started on first use.
fn lazyfree_sender() -> Option<&'static Sender<Obj>> {
    static TX: OnceLock<Option<Sender<Obj>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Obj>();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for obj in rx {
                    drop(obj);
                }
            })
            .ok()
            .map(|_| tx)
    })
    .as_ref()
}

/// Freeing effort of a value (Redis: lazyfreeGetFreeEffort): its element
/// count for collections, 1 for strings.
fn free_effort(v: &Value) -> usize {
    match v {
        Value::Str(_) | Value::Int(_) => 1,
        Value::List(l) => l.len(),
        Value::Hash(h) => h.len(),
        Value::Set(s) => s.len(),
        Value::ZSet(z) => z.len(),
    }
}

impl Server {
    /// Frees memory by evicting keys per `maxmemory-policy` until used
    /// memory is under `maxmemory`. Returns false when still over the limit
    /// and nothing more can be evicted (the caller refuses memory-growing
    /// commands with -OOM); true when under the limit or when the per-call
    /// time limit stopped a still-progressing eviction (Redis: EVICT_OK or
    /// EVICT_RUNNING).
    pub fn perform_evictions(&mut self, now_ms: i64) -> bool {
        self.evict_within(now_ms, EVICTION_TIME_LIMIT)
    }

    /// The cron's share of eviction: goes on with an eviction that commands
    /// left unfinished, for up to a quarter of a tick (Redis runs its
    /// eviction timer proc on every event loop iteration instead).
    pub fn cron_evictions(&mut self, now_ms: i64) {
        let hz = self.config.hz.clamp(1, 500) as u64;
        self.evict_within(now_ms, Duration::from_micros(1_000_000 / hz / 4));
    }

    /// `perform_evictions` with a time limit.
    fn evict_within(&mut self, now_ms: i64, time_limit: Duration) -> bool {
        let maxmemory = self.config.maxmemory as usize;
        // A replica mirrors its master's dataset: the master evicts and sends
        // DELs (Redis's default replica-ignore-maxmemory yes).
        if maxmemory == 0 || self.keyspace.is_replica {
            return true;
        }
        let used = self.used_memory();
        if used <= maxmemory {
            return true;
        }
        let policy = self.config.maxmemory_policy;
        if policy == EvictionPolicy::NoEviction {
            return false;
        }
        let lazy = self.config.lazyfree_lazy_eviction;
        let to_free = (used - maxmemory) as i64;
        let mut freed: i64 = 0;
        let mut keys_freed = 0u64;
        let start = Instant::now();
        while freed < to_free {
            let Some((db, key)) = self.select_victim(policy, now_ms) else {
                return false;
            };
            freed += self.evict_key(db, &key, lazy);
            keys_freed += 1;
            if keys_freed.is_multiple_of(16) {
                if lazy && self.used_memory() <= maxmemory {
                    break;
                }
                if start.elapsed() > time_limit {
                    // Still over: the next command or cron tick goes on.
                    return true;
                }
            }
        }
        true
    }

    /// Picks the next key to evict under `policy`, or None when no
    /// candidate exists (Redis: the selection half of performEvictions).
    pub fn select_victim(&mut self, policy: EvictionPolicy, now_ms: i64) -> Option<(usize, Sds)> {
        let volatile = is_volatile(policy);
        let ndbs = self.keyspace.dbs.len();
        if self.evict_pool.policy != Some(policy) {
            self.evict_pool.clear();
            self.evict_pool.policy = Some(policy);
        }
        if is_random(policy) {
            for _ in 0..ndbs {
                self.evict_pool.next_db = (self.evict_pool.next_db + 1) % ndbs;
                let d = &self.keyspace.dbs[self.evict_pool.next_db];
                let key = if volatile {
                    d.expires.random_entry().map(|e| e.key.clone())
                } else {
                    d.dict.random_entry().map(|e| e.key.clone())
                };
                if let Some(k) = key {
                    return Some((self.evict_pool.next_db, k));
                }
            }
            return None;
        }
        loop {
            let candidates: usize = self
                .keyspace
                .dbs
                .iter()
                .map(|d| if volatile { d.expires.len() } else { d.len() })
                .sum();
            if candidates == 0 {
                return None;
            }
            for db in 0..ndbs {
                self.populate_pool(db, policy, now_ms);
            }
            while let Some((db, key)) = self.evict_pool.pop_best() {
                let d = &self.keyspace.dbs[db];
                let present = if volatile {
                    d.expires.contains_key(&key)
                } else {
                    d.dict.contains_key(&key)
                };
                if present {
                    return Some((db, key));
                }
                // A ghost: deleted since it was sampled. Try the next one.
            }
        }
    }

    /// Samples `maxmemory-samples` keys of `db` into the pool (Redis:
    /// evictionPoolPopulate).
    fn populate_pool(&mut self, db: usize, policy: EvictionPolicy, now_ms: i64) {
        let samples = self.config.maxmemory_samples.clamp(1, 64) as usize;
        let clock = ScoreClock {
            lru_clock: self.keyspace.lru_clock,
            now_ms,
            lfu_decay_time: self.config.lfu_decay_time,
        };
        let d = &self.keyspace.dbs[db];
        let pool = &mut self.evict_pool;
        if is_volatile(policy) {
            d.expires.sample(samples, |k, &when| {
                // volatile-ttl needs no object; the others rank the object.
                let lru = if policy == EvictionPolicy::VolatileTtl {
                    0
                } else {
                    match d.dict.get(k) {
                        Some(o) => o.lru,
                        None => return,
                    }
                };
                pool.insert(score(policy, lru, Some(when), clock), db, k);
            });
        } else {
            d.dict.sample(samples, |k, o| {
                pool.insert(score(policy, o.lru, None, clock), db, k);
            });
        }
    }

    /// Deletes one evicted key with its side effects and returns the bytes
    /// the allocator reports freed by the delete itself.
    fn evict_key(&mut self, db: usize, key: &[u8], lazy: bool) -> i64 {
        let before = self.used_memory() as i64;
        if let Some(obj) = self.keyspace.dbs[db].delete(key) {
            match lazyfree_sender() {
                Some(tx) if lazy && free_effort(&obj.val) > LAZYFREE_THRESHOLD => {
                    // If the thread is gone the value comes back and drops here.
                    if let Err(e) = tx.send(obj) {
                        drop(e.0);
                    }
                }
                _ => drop(obj),
            }
        }
        let freed = before - self.used_memory() as i64;
        self.stats.evicted_keys += 1;
        self.touch_watched_key(db, key);
        let del: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        self.propagate(db, &[del, key]);
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn server(policy: EvictionPolicy) -> Server {
        Server::new(Config {
            maxmemory_policy: policy,
            maxmemory_samples: 10,
            ..Config::default()
        })
    }

    #[test]
    fn pool_keeps_the_sixteen_highest_scores_best_last() {
        let mut p = EvictionPool::default();
        for i in 0..40u64 {
            // Scores in a scrambled order.
            let idle = (i * 17) % 40;
            p.insert(idle, 0, format!("k{idle}").as_bytes());
        }
        assert_eq!(p.len(), EVPOOL_SIZE);
        // Worse than everything in a full pool: dropped.
        p.insert(1, 0, b"low");
        assert_eq!(p.len(), EVPOOL_SIZE);
        let mut got = Vec::new();
        while let Some((_, k)) = p.pop_best() {
            got.push(String::from_utf8(k.to_vec()).unwrap());
        }
        let want: Vec<String> = (24..40).rev().map(|i| format!("k{i}")).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn pool_ignores_a_key_it_already_holds() {
        let mut p = EvictionPool::default();
        p.insert(5, 0, b"a");
        p.insert(9, 0, b"a");
        p.insert(9, 1, b"a");
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn idle_time_survives_the_24_bit_clock_wrapping() {
        assert_eq!(idle_seconds(100, 40), 60);
        assert_eq!(idle_seconds(10, LRU_CLOCK_MAX - 5), 15);
        assert_eq!(idle_seconds(7, 7), 0);
    }

    #[test]
    fn scores_rank_lru_lfu_and_ttl_the_redis_way() {
        let clock = ScoreClock {
            lru_clock: 1000,
            now_ms: 0,
            lfu_decay_time: 1,
        };
        let lru = EvictionPolicy::AllKeysLru;
        assert!(score(lru, 10, None, clock) > score(lru, 900, None, clock));
        // LFU: a low counter scores higher than a high one.
        let lfu = EvictionPolicy::AllKeysLfu;
        assert!(score(lfu, 1, None, clock) > score(lfu, 200, None, clock));
        // TTL: the nearer deadline scores higher.
        let ttl = EvictionPolicy::VolatileTtl;
        assert!(score(ttl, 0, Some(1_000), clock) > score(ttl, 0, Some(2_000), clock));
    }

    #[test]
    fn lru_selection_picks_the_longest_idle_keys() {
        let mut s = server(EvictionPolicy::AllKeysLru);
        s.keyspace.lru_clock = 10_000;
        for i in 0..200 {
            // One key in five idle for hours, the rest accessed just now.
            let k = if i % 5 == 0 {
                format!("old{i}")
            } else {
                format!("new{i}")
            };
            let o = s.keyspace.add(0, k.as_bytes(), Value::from_bytes(b"v"));
            o.lru = if i % 5 == 0 { 10 } else { 9_999 };
        }
        let mut old = 0;
        for _ in 0..20 {
            let (db, k) = s.select_victim(EvictionPolicy::AllKeysLru, 0).unwrap();
            if k.starts_with(b"old") {
                old += 1;
            }
            s.keyspace.dbs[db].delete(&k);
        }
        // A pass of 10 samples holds an idle key ~89% of the time, against a
        // base rate of 20%: sampling is approximate, the bound is loose.
        assert!(old >= 12, "only {old} of 20 victims were idle keys");
    }

    #[test]
    fn volatile_policies_find_nothing_without_ttls() {
        for p in [
            EvictionPolicy::VolatileLru,
            EvictionPolicy::VolatileLfu,
            EvictionPolicy::VolatileRandom,
            EvictionPolicy::VolatileTtl,
        ] {
            let mut s = server(p);
            s.keyspace.add(0, b"a", Value::from_bytes(b"v"));
            assert!(s.select_victim(p, 0).is_none(), "{p:?}");
        }
    }

    #[test]
    fn volatile_ttl_picks_the_nearest_deadline_first() {
        let p = EvictionPolicy::VolatileTtl;
        let mut s = server(p);
        // 64 samples cover all 30 keys, so the order is exact.
        s.config.maxmemory_samples = 64;
        for i in 0..30i64 {
            let k = format!("k{i}");
            s.keyspace.add(0, k.as_bytes(), Value::from_bytes(b"v"));
            s.keyspace.dbs[0].set_expire(k.as_bytes(), Some(1_000_000 + i));
        }
        s.keyspace.add(0, b"persistent", Value::from_bytes(b"v"));
        let mut picked = Vec::new();
        while let Some((db, k)) = s.select_victim(p, 0) {
            picked.push(String::from_utf8(k.to_vec()).unwrap());
            s.keyspace.dbs[db].delete(&k);
        }
        let want: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
        assert_eq!(picked, want);
        assert!(s.keyspace.dbs[0].dict.contains_key(b"persistent"));
    }

    #[test]
    fn random_policies_visit_databases_round_robin() {
        let p = EvictionPolicy::AllKeysRandom;
        let mut s = server(p);
        s.keyspace.add(2, b"x", Value::from_bytes(b"v"));
        s.keyspace.add(5, b"y", Value::from_bytes(b"v"));
        let (a, _) = s.select_victim(p, 0).unwrap();
        let (b, _) = s.select_victim(p, 0).unwrap();
        assert_ne!(a, b);
        assert!([2, 5].contains(&a) && [2, 5].contains(&b));
    }

    #[test]
    fn noeviction_and_unlimited_memory_never_select() {
        let mut s = server(EvictionPolicy::NoEviction);
        s.keyspace.add(0, b"a", Value::from_bytes(b"v"));
        // maxmemory 0 = no limit.
        assert!(s.perform_evictions(0));
        assert_eq!(s.stats.evicted_keys, 0);
    }
}
