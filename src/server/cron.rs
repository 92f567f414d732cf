//! Periodic work (Redis: serverCron and activeExpireCycle), run `hz` times
//! a second by the event loop: the eviction clock, active expiry,
//! incremental rehashing, idle-client timeouts and instantaneous metrics.

use std::time::{Duration, Instant};

use super::Server;
use crate::keyspace::Sds;

/// Keys sampled per database per loop of active expiry
/// (Redis: ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
const EXPIRE_KEYS_PER_LOOP: usize = 20;
/// Keep looping while more than this percentage of sampled keys was expired.
const EXPIRE_ACCEPTABLE_STALE: usize = 10;

/// The 24-bit LRU clock in seconds (Redis: LRU_CLOCK with 1 s resolution).
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u32) & 0x00ff_ffff
}

impl Server {
    /// One cron tick.
    pub fn cron(&mut self, now_ms: i64) {
        self.keyspace.lru_clock = lru_clock(now_ms);
        if !self.keyspace.is_replica {
            self.active_expire_cycle(now_ms);
        }
        if self.config.activerehashing {
            for db in &mut self.keyspace.dbs {
                db.dict.shrink_if_needed();
                db.expires.shrink_if_needed();
                if db.dict.is_rehashing() {
                    db.dict.rehash_for(Duration::from_micros(500));
                }
                if db.expires.is_rehashing() {
                    db.expires.rehash_for(Duration::from_micros(500));
                }
            }
        }
        // Continues an eviction a command's time limit cut short (Redis: the
        // eviction timer proc).
        self.cron_evictions(now_ms);
        self.close_idle_clients(now_ms);
        self.rdb_cron(now_ms);
        self.aof_cron(now_ms);
        self.replication_cron(now_ms);
        self.stats.sample(now_ms);
        self.peak_memory = self.peak_memory.max(self.used_memory());
    }

    /// Samples keys with a TTL and deletes the expired ones, repeating while
    /// many were expired, within a time budget of 25% of a tick (Redis's
    /// slow cycle).
    pub fn active_expire_cycle(&mut self, now_ms: i64) {
        let hz = self.config.hz.clamp(1, 500) as u64;
        let budget = Duration::from_micros(1_000_000 / hz * 25 / 100);
        let start = Instant::now();
        let mut sampled_total = 0usize;
        let mut expired_total = 0usize;
        'dbs: for dbi in 0..self.keyspace.dbs.len() {
            loop {
                let db = &mut self.keyspace.dbs[dbi];
                if db.expires.is_empty() {
                    break;
                }
                let mut victims: Vec<Sds> = Vec::new();
                let sampled = db.expires.sample(EXPIRE_KEYS_PER_LOOP, |k, &when| {
                    if when <= now_ms {
                        victims.push(k.clone());
                    }
                });
                sampled_total += sampled;
                expired_total += victims.len();
                // A sample can hold the same key twice (consecutive buckets
                // wrap around a small table): count each deletion once.
                victims.retain(|k| db.delete(k).is_some());
                self.keyspace
                    .expired
                    .extend(victims.iter().map(|k| (dbi, k.clone())));
                if start.elapsed() > budget {
                    self.stats.expired_time_cap_reached_count += 1;
                    break 'dbs;
                }
                if sampled == 0 || victims.len() * 100 / sampled <= EXPIRE_ACCEPTABLE_STALE {
                    break;
                }
            }
        }
        if sampled_total > 0 {
            let perc = expired_total as f64 / sampled_total as f64;
            self.stats.expired_stale_perc = perc * 0.05 + self.stats.expired_stale_perc * 0.95;
        }
        self.stats.expire_cycle_cpu_ms += start.elapsed().as_millis() as u64;
        self.propagate_expired();
    }

    /// Closes clients idle longer than `timeout` seconds (not blocked,
    /// not subscribers, not monitors, as in Redis).
    fn close_idle_clients(&mut self, now_ms: i64) {
        let timeout = self.config.timeout;
        let now = now_ms;
        for rc in self.clients.values() {
            let Ok(mut c) = rc.try_borrow_mut() else {
                continue;
            };
            if let Some(b) = &c.blocked {
                if b.deadline_ms.is_some_and(|d| d <= now) {
                    // The connection task answers the timeout; wake it.
                    c.notify.notify_one();
                }
                continue;
            }
            if timeout > 0
                && c.subscriptions() == 0
                && !c.flags.monitor
                && now - c.last_interaction_ms > timeout * 1000
            {
                c.flags.close_asap = true;
                c.notify.notify_one();
            }
        }
    }
}
