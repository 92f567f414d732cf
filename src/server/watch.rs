//! WATCH bookkeeping (Redis: multi.c watch section): which clients watch
//! which keys, and flagging them when a key is touched.

use super::client::Client;
use super::Server;
use crate::keyspace::Sds;

impl Server {
    /// Adds `key` in the client's db to its watched keys.
    pub fn watch_key(&mut self, c: &mut Client, key: &[u8]) {
        let k = (c.db, Sds::from_slice(key));
        if c.watched.contains(&k) {
            return;
        }
        self.watched
            .entry(k.clone())
            .or_default()
            .push((c.id, c.dirty_cas.clone()));
        c.watched.push(k);
    }

    /// Forgets all keys the client watches and clears its dirty flag.
    pub fn unwatch_all(&mut self, c: &mut Client) {
        for k in c.watched.drain(..) {
            if let Some(v) = self.watched.get_mut(&k) {
                v.retain(|(id, _)| *id != c.id);
                if v.is_empty() {
                    self.watched.remove(&k);
                }
            }
        }
        c.dirty_cas.set(false);
    }

    /// Marks every client watching `key` in `db` (Redis: touchWatchedKey).
    pub fn touch_watched_key(&mut self, db: usize, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(v) = self.watched.get(&(db, Sds::from_slice(key))) {
            for (_, flag) in v {
                flag.set(true);
            }
        }
    }

    /// Marks watchers of keys that exist in `db` (or any db) before a
    /// FLUSHDB/FLUSHALL/SWAPDB (Redis: touchAllWatchedKeysInDb).
    pub fn touch_watched_in_db(&mut self, db: Option<usize>) {
        for ((d, k), v) in &self.watched {
            if db.is_some_and(|x| x != *d) {
                continue;
            }
            if self.keyspace.dbs[*d].dict.contains_key(k) {
                for (_, flag) in v {
                    flag.set(true);
                }
            }
        }
    }

    /// Whether any watched key of the client expired since WATCH (EXEC then
    /// fails, as in Redis 7.0's isWatchedKeyExpired).
    pub fn watched_key_expired(&self, c: &Client, now_ms: i64) -> bool {
        c.watched
            .iter()
            .any(|(db, k)| self.keyspace.dbs[*db].is_expired(k, now_ms))
    }
}
