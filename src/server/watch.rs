//! WATCH bookkeeping (Redis 7.0: multi.c watch section): which clients watch
//! which keys, and flagging them when a key is touched.
//!
//! The server maps (db, key) → watchers; each watcher holds a clone of its
//! client's `dirty_cas` flag, so a write by any client can flag a watcher
//! without borrowing it. A key that was already logically expired when
//! WATCHed is "stale" (Redis: `watchedKey.expired`): its deletion by lazy or
//! active expiry, or a flush, is no logical change and does not fail EXEC;
//! only writing it again does. A live key that expires after WATCH fails
//! EXEC (checked at EXEC time, and by the touch its expiry deletion makes).

use std::cell::Cell;
use std::rc::Rc;

use super::client::Client;
use super::Server;
use crate::keyspace::Sds;

/// One client watching one key.
pub struct Watcher {
    /// The client's id.
    pub id: u64,
    /// The client's CLIENT_DIRTY_CAS flag (shared with `Client::dirty_cas`).
    pub dirty: Rc<Cell<bool>>,
    /// The key was logically expired when WATCHed (Redis: wk->expired).
    pub expired: bool,
}

impl Server {
    /// Adds `key` in the client's db to its watched keys (Redis: watchForKey).
    pub fn watch_key(&mut self, c: &mut Client, key: &[u8], now_ms: i64) {
        let k = (c.db, Sds::from_slice(key));
        if c.watched.contains(&k) {
            return;
        }
        let expired = self.keyspace.dbs[c.db].is_expired(key, now_ms);
        self.watched.entry(k.clone()).or_default().push(Watcher {
            id: c.id,
            dirty: c.dirty_cas.clone(),
            expired,
        });
        c.watched.push(k);
    }

    /// Forgets all keys the client watches and clears its dirty flag
    /// (Redis: unwatchAllKeys plus clearing CLIENT_DIRTY_CAS).
    pub fn unwatch_all(&mut self, c: &mut Client) {
        for k in c.watched.drain(..) {
            if let Some(v) = self.watched.get_mut(&k) {
                v.retain(|w| w.id != c.id);
                if v.is_empty() {
                    self.watched.remove(&k);
                }
            }
        }
        c.dirty_cas.set(false);
    }

    /// Marks every client watching `key` in `db` (Redis: touchWatchedKey).
    /// Called after the key changed: for a stale watch, a key that is now
    /// gone was only deleted (expired), which clears the stale mark instead.
    pub fn touch_watched_key(&mut self, db: usize, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        let Server {
            watched, keyspace, ..
        } = self;
        let Some(v) = watched.get_mut(&(db, Sds::from_slice(key))) else {
            return;
        };
        let exists = keyspace.dbs[db].dict.contains_key(key);
        for w in v {
            if w.expired && !exists {
                w.expired = false;
                continue;
            }
            w.dirty.set(true);
        }
    }

    /// Marks watchers of keys that exist in `db` (or in any db for `None`)
    /// before a FLUSHDB/FLUSHALL empties it (Redis: touchAllWatchedKeysInDb
    /// with no replacement).
    pub fn touch_watched_in_db(&mut self, db: Option<usize>) {
        let Server {
            watched, keyspace, ..
        } = self;
        for ((d, k), v) in watched.iter_mut() {
            if db.is_some_and(|x| x != *d) || !keyspace.dbs[*d].dict.contains_key(k) {
                continue;
            }
            for w in v {
                if w.expired {
                    // A stale key flushed away: no logical change.
                    w.expired = false;
                } else {
                    w.dirty.set(true);
                }
            }
        }
    }

    /// SWAPDB `a` `b`, called before the swap: watchers of a key in either
    /// db see the other db's version of it (Redis: touchAllWatchedKeysInDb
    /// in both directions).
    pub fn touch_watched_swapdb(&mut self, a: usize, b: usize, now_ms: i64) {
        self.touch_watched_replaced(a, b, now_ms);
        self.touch_watched_replaced(b, a, now_ms);
    }

    /// Watched keys of `emptied` whose content is about to become
    /// `replaced_with`'s.
    fn touch_watched_replaced(&mut self, emptied: usize, replaced_with: usize, now_ms: i64) {
        let Server {
            watched, keyspace, ..
        } = self;
        for ((d, k), v) in watched.iter_mut() {
            if *d != emptied {
                continue;
            }
            let in_emptied = keyspace.dbs[emptied].dict.contains_key(k);
            let in_new = keyspace.dbs[replaced_with].dict.contains_key(k);
            if !in_emptied && !in_new {
                continue;
            }
            let new_expired = keyspace.dbs[replaced_with].is_expired(k, now_ms);
            for w in v.iter_mut() {
                if w.expired {
                    if !in_new {
                        // The stale key is just gone.
                        w.expired = false;
                        continue;
                    }
                    if new_expired {
                        // Still an expired key: no logical change.
                        continue;
                    }
                } else if !in_emptied && new_expired {
                    // A missing key replaced by an expired one: still missing.
                    w.expired = true;
                    continue;
                }
                w.dirty.set(true);
            }
        }
    }

    /// Whether a key the client watched while it was live has expired since
    /// (Redis 7.0: isWatchedKeyExpired); EXEC then fails.
    pub fn watched_key_expired(&self, c: &Client, now_ms: i64) -> bool {
        c.watched.iter().any(|k| {
            let stale = self
                .watched
                .get(k)
                .and_then(|v| v.iter().find(|w| w.id == c.id))
                .is_some_and(|w| w.expired);
            !stale && self.keyspace.dbs[k.0].is_expired(&k.1, now_ms)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::keyspace::Value;

    fn server_and_client() -> (Server, Client) {
        let srv = Server::new(Config::default());
        let c = Client::new(1, "127.0.0.1:1".into(), "127.0.0.1:2".into(), true, 0);
        (srv, c)
    }

    #[test]
    fn touching_a_watched_key_flags_its_watcher_until_unwatch() {
        let (mut srv, mut c) = server_and_client();
        srv.watch_key(&mut c, b"k", 1000);
        srv.touch_watched_key(0, b"other");
        assert!(!c.dirty_cas.get());
        srv.keyspace.dbs[0]
            .dict
            .insert(Sds::from_slice(b"k"), obj());
        srv.touch_watched_key(0, b"k");
        assert!(c.dirty_cas.get());
        srv.unwatch_all(&mut c);
        assert!(!c.dirty_cas.get());
        assert!(srv.watched.is_empty());
    }

    #[test]
    fn a_key_stale_at_watch_time_may_be_deleted_but_not_rewritten() {
        let (mut srv, mut c) = server_and_client();
        srv.keyspace.dbs[0]
            .dict
            .insert(Sds::from_slice(b"k"), obj());
        srv.keyspace.dbs[0].set_expire(b"k", Some(500));
        srv.watch_key(&mut c, b"k", 1000);
        assert!(!srv.watched_key_expired(&c, 2000));
        srv.keyspace.dbs[0].delete(b"k");
        srv.touch_watched_key(0, b"k");
        assert!(!c.dirty_cas.get());
        srv.keyspace.dbs[0]
            .dict
            .insert(Sds::from_slice(b"k"), obj());
        srv.touch_watched_key(0, b"k");
        assert!(c.dirty_cas.get());
    }

    #[test]
    fn a_live_watched_key_that_expires_fails_exec() {
        let (mut srv, mut c) = server_and_client();
        srv.keyspace.dbs[0]
            .dict
            .insert(Sds::from_slice(b"k"), obj());
        srv.keyspace.dbs[0].set_expire(b"k", Some(1500));
        srv.watch_key(&mut c, b"k", 1000);
        assert!(!srv.watched_key_expired(&c, 1400));
        assert!(srv.watched_key_expired(&c, 1600));
    }

    #[test]
    fn flushing_flags_watchers_of_existing_keys_only() {
        let (mut srv, mut c) = server_and_client();
        srv.watch_key(&mut c, b"missing", 0);
        srv.touch_watched_in_db(None);
        assert!(!c.dirty_cas.get());
        srv.keyspace.dbs[0]
            .dict
            .insert(Sds::from_slice(b"missing"), obj());
        srv.touch_watched_in_db(Some(1));
        assert!(!c.dirty_cas.get());
        srv.touch_watched_in_db(Some(0));
        assert!(c.dirty_cas.get());
    }

    #[test]
    fn swapdb_flags_a_watcher_when_the_other_db_has_the_key() {
        let (mut srv, mut c) = server_and_client();
        srv.watch_key(&mut c, b"k", 0);
        srv.keyspace.dbs[1]
            .dict
            .insert(Sds::from_slice(b"k"), obj());
        srv.touch_watched_swapdb(0, 1, 0);
        assert!(c.dirty_cas.get());
    }

    fn obj() -> crate::keyspace::Obj {
        crate::keyspace::Obj {
            val: Value::from_bytes(b"v"),
            lru: 0,
        }
    }
}
