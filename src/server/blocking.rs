//! Blocking operations (Redis: blocked.c): clients waiting on keys for
//! BLPOP/BRPOP/BLMOVE/BZPOPMIN/BZPOPMAX, served in arrival order when a key
//! receives data, or answered with a null reply at their deadline.
//!
//! Serving re-runs the client's command with `Ctx::prev_block` set (its
//! `keys` narrowed to the key that became ready); if the command cannot be
//! served it blocks again and keeps its place in every queue.

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

    /// Number of blocked clients (INFO blocked_clients). A client that is
    /// borrowed is the one running a command, so it is not blocked.
    pub fn blocked_clients(&self) -> usize {
        self.clients
            .values()
            .filter(|c| c.try_borrow().map(|c| c.blocked.is_some()).unwrap_or(false))
            .count()
    }

    /// Takes `id` out of the wait queues of `st`'s keys.
    fn remove_from_queues(&mut self, id: u64, st: &BlockState) {
        for k in &st.keys {
            let key = (st.db, k.clone());
            if let Some(q) = self.blocking.get_mut(&key) {
                q.retain(|&x| x != id);
                if q.is_empty() {
                    self.blocking.remove(&key);
                }
            }
        }
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
    /// handleClientsBlockedOnKeys). Runs after each top-level command
    /// (after EXEC as a whole, never inside it).
    ///
    /// Each waiter of a ready key, in arrival order, re-runs its command with
    /// `prev_block` holding only the ready key. A waiter keeps its place in
    /// every queue while it re-runs; it leaves them all only when served (or
    /// answered with an error). Serving stops once the key is gone, as Redis
    /// stops when the list is deleted; a waiter the key cannot serve (another
    /// type) is skipped and the next one tried.
    pub fn handle_clients_blocked_on_keys(&mut self, now_ms: i64) {
        // Serving can make more keys ready (BLMOVE pushes), so loop until no
        // key is ready; every pass consumes one ready key and BLMOVE chains
        // end when their elements settle, so this terminates.
        while let Some(key) = self.ready_keys.pop_front() {
            let ids: Vec<u64> = match self.blocking.get(&key) {
                Some(q) => q.iter().copied().collect(),
                None => continue,
            };
            for id in ids {
                if !self.keyspace.dbs[key.0].dict.contains_key(&key.1) {
                    break;
                }
                let Some(rc) = self.clients.get(&id).cloned() else {
                    continue;
                };
                let Ok(mut bc) = rc.try_borrow_mut() else {
                    continue;
                };
                // Still waiting on this key? (It may have been served through
                // another key earlier in this loop.)
                let waits_here = bc
                    .blocked
                    .as_ref()
                    .is_some_and(|st| st.db == key.0 && st.keys.contains(&key.1));
                if !waits_here {
                    continue;
                }
                let Some(st) = bc.blocked.take() else {
                    continue;
                };
                let saved_db = bc.db;
                bc.db = st.db;
                let argv: Vec<&[u8]> = st.argv.iter().map(|a| a.as_slice()).collect();
                let mut hint = st.clone();
                hint.keys = vec![key.1.clone()];
                match self.commands.lookup(&argv) {
                    Ok(cmd) => self.call(&mut bc, cmd, &argv, now_ms, false, Some(hint)),
                    // Cannot happen (it ran before); answer rather than hang.
                    Err(_) => bc.null_array(),
                }
                bc.db = saved_db;
                if bc.blocked.is_none() {
                    // Served (or answered with an error): leave every queue.
                    self.remove_from_queues(id, &st);
                    bc.notify.notify_one();
                }
            }
        }
    }

    /// Answers the clients in WAIT whose offset enough replicas now
    /// acknowledged (Redis: processClientsWaitingReplicas).
    pub fn unblock_waiting_for_acks(&mut self) {
        let ids: Vec<u64> = self.clients.keys().copied().collect();
        for id in ids {
            let Some(rc) = self.clients.get(&id).cloned() else {
                continue;
            };
            let Ok(mut c) = rc.try_borrow_mut() else {
                continue;
            };
            let Some((offset, n)) = c.blocked.as_ref().and_then(|b| b.wait) else {
                continue;
            };
            let acked = self.repl.acked(offset);
            if acked >= n {
                self.unblock_client(&mut c);
                c.int(acked as i64);
                self.stats.commands.entry("wait").or_default().calls += 1;
                self.stats.total_commands_processed += 1;
            }
        }
    }

    /// Answers a blocked client whose deadline passed.
    pub fn unblock_on_timeout(&mut self, c: &mut Client) {
        if let Some(st) = self.unblock_client(c) {
            if let Some((offset, _)) = st.wait {
                c.int(self.repl.acked(offset) as i64);
            } else if st.timeout_null_bulk {
                c.null();
            } else {
                c.null_array();
            }
            // The call completes now (Redis: updateStatsOnUnblock).
            let argv: Vec<&[u8]> = st.argv.iter().map(|a| a.as_slice()).collect();
            if let Ok(cmd) = self.commands.lookup(&argv) {
                self.stats.commands.entry(cmd.name).or_default().calls += 1;
                self.stats.total_commands_processed += 1;
            }
        }
    }
}
