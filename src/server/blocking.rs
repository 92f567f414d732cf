//! Blocking operations (Redis: blocked.c): clients waiting on keys for
//! BLPOP/BRPOP/BLMOVE/BZPOPMIN/BZPOPMAX, served in arrival order when a key
//! receives data, or answered with a null reply at their deadline.
//!
//! Serving re-runs the client's command with `Ctx::unblocking` set; if the
//! key is still empty the command blocks again and keeps its place.

use super::client::{BlockState, Client};
use super::Server;
use crate::keyspace::Sds;

impl Server {
    /// Blocks a client (called through `Ctx::block`). When `front` is set
    /// (re-blocking while being served) it keeps its place at the head.
    pub fn block_client_at(&mut self, c: &mut Client, st: BlockState, front: bool) {
        for k in &st.keys {
            let q = self.blocking.entry((st.db, k.clone())).or_default();
            if !q.contains(&c.id) {
                if front {
                    q.push_front(c.id);
                } else {
                    q.push_back(c.id);
                }
            }
        }
        c.blocked = Some(st);
    }

    /// Blocks a client at the back of each key's queue.
    pub fn block_client(&mut self, c: &mut Client, st: BlockState) {
        self.block_client_at(c, st, false)
    }

    /// Removes a client from every wait queue and clears its blocked state.
    pub fn unblock_client(&mut self, c: &mut Client) -> Option<BlockState> {
        let st = c.blocked.take()?;
        for k in &st.keys {
            let key = (st.db, k.clone());
            if let Some(q) = self.blocking.get_mut(&key) {
                q.retain(|&id| id != c.id);
                if q.is_empty() {
                    self.blocking.remove(&key);
                }
            }
        }
        c.notify.notify_one();
        Some(st)
    }

    /// Number of blocked clients (INFO blocked_clients).
    pub fn blocked_clients(&self) -> usize {
        self.clients
            .values()
            .filter(|c| c.try_borrow().map(|c| c.blocked.is_some()).unwrap_or(true))
            .count()
    }

    /// Notes that `key` got data, if someone waits on it (Redis: signalKeyAsReady).
    pub fn signal_key_as_ready(&mut self, db: usize, key: &[u8]) {
        if self.blocking.is_empty() {
            return;
        }
        let k = (db, Sds::from_slice(key));
        if self.blocking.contains_key(&k) && !self.ready_keys.contains(&k) {
            self.ready_keys.push_back(k);
        }
    }

    /// Serves clients blocked on keys that became ready (Redis:
    /// handleClientsBlockedOnKeys). Runs after each top-level command.
    pub fn handle_clients_blocked_on_keys(&mut self, now_ms: i64) {
        // Serving can make more keys ready (BLMOVE pushes), so loop; bounded
        // because each pass serves at least one client or drains the list.
        let mut guard = 0;
        while let Some(key) = self.ready_keys.pop_front() {
            guard += 1;
            if guard > 100_000 {
                break;
            }
            let ids: Vec<u64> = match self.blocking.get(&key) {
                Some(q) => q.iter().copied().collect(),
                None => continue,
            };
            for id in ids {
                let Some(rc) = self.clients.get(&id).cloned() else {
                    continue;
                };
                let Ok(mut bc) = rc.try_borrow_mut() else {
                    continue;
                };
                let Some(st) = self.unblock_client(&mut bc) else {
                    continue;
                };
                let saved_db = bc.db;
                bc.db = st.db;
                let argv: Vec<&[u8]> = st.argv.iter().map(|a| a.as_slice()).collect();
                if let Ok(cmd) = self.commands.lookup(&argv) {
                    self.call(&mut bc, cmd, &argv, now_ms, false, Some(st.clone()));
                }
                bc.db = saved_db;
                bc.notify.notify_one();
                if bc.blocked.is_some() {
                    // Still nothing to pop: the rest of the queue waits too.
                    break;
                }
            }
        }
    }

    /// Answers a blocked client whose deadline passed.
    pub fn unblock_on_timeout(&mut self, c: &mut Client) {
        if let Some(st) = self.unblock_client(c) {
            if st.timeout_null_bulk {
                c.null();
            } else {
                c.null_array();
            }
        }
    }
}
