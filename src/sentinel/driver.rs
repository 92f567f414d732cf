//! The sentinel's driver: the part of the server that owns the sentinel's
//! connections and the clock. It feeds [`Sentinel`] its events (the
//! timer, replies, hellos, connections ending) and carries out the
//! [`Action`]s it returns, in order, before anything else runs: a vote is
//! on disk before the command that asked for it is answered.
//!
//! Connections the state no longer names (an instance forgotten, its
//! credentials changed) are closed here after every batch, so the state
//! never has to say so.

use std::collections::{HashMap, HashSet};

use super::link::{self, LinkHandle, SubHandle};
use super::{Action, LinkId, Req, Sentinel, Who};
use crate::resp::client::Reply;
use crate::server::Server;

/// The open connections.
#[derive(Debug, Default)]
pub struct Links {
    cmd: HashMap<LinkId, LinkHandle>,
    hello: HashMap<LinkId, SubHandle>,
}

impl Server {
    /// The sentinel timer (Redis: sentinelTimer), every 100 ms.
    pub fn sentinel_timer(&mut self, now_ms: i64) {
        let own_pass = self
            .config
            .requirepass
            .as_ref()
            .map(|p| p.expose().to_string());
        let own_port = self.tcp_port;
        self.with_sentinel(|s| {
            s.own_pass = own_pass;
            s.own_port = own_port;
            s.tick(now_ms);
        });
    }

    /// Runs `f` on the sentinel state, then carries out what it decided.
    /// Nothing (and `None`) outside sentinel mode.
    pub fn with_sentinel<T>(&mut self, f: impl FnOnce(&mut Sentinel) -> T) -> Option<T> {
        let out = f(self.sentinel.as_mut()?);
        self.sentinel_drive();
        Some(out)
    }

    /// Carries out the sentinel's actions, then closes the connections
    /// it forgot.
    pub fn sentinel_drive(&mut self) {
        while let Some(action) = self.sentinel.as_mut().and_then(Sentinel::poll_action) {
            self.sentinel_do(action);
        }
        let Some(s) = &self.sentinel else {
            return;
        };
        let live: HashSet<LinkId> = s.link_ids().collect();
        self.sentinel_links.cmd.retain(|id, l| {
            let keep = live.contains(id);
            if !keep {
                l.close();
            }
            keep
        });
        self.sentinel_links.hello.retain(|id, h| {
            let keep = live.contains(id);
            if !keep {
                h.close();
            }
            keep
        });
    }

    fn sentinel_do(&mut self, action: Action) {
        match action {
            Action::Connect { id, target } => {
                if let Some(l) = link::open(self.self_ref.clone(), id, target) {
                    self.sentinel_links.cmd.insert(id, l);
                }
            }
            Action::Subscribe { id, target } => {
                let h = link::subscribe(self.self_ref.clone(), id, target);
                self.sentinel_links.hello.insert(id, h);
            }
            Action::Send { id, req } => {
                if let Some(l) = self.sentinel_links.cmd.get(&id) {
                    l.send(req);
                }
            }
            Action::Emit { kind, master, msg } => {
                // Redis's line (which starts with the event's name), with
                // the master and the epoch as fields for log pipelines. The
                // name is not repeated as a field: whoever counts events
                // in the log, as in Redis's, would count each twice.
                let master = master.as_deref().unwrap_or_default();
                let epoch = self.sentinel.as_ref().map_or(0, |s| s.current_epoch);
                tracing::info!(master, epoch, "{kind} {msg}");
                let mut dummy =
                    crate::server::client::Client::new(0, String::new(), String::new(), true, 0);
                self.pubsub_publish(&mut dummy, kind.as_str().as_bytes(), msg.as_bytes());
            }
            Action::RunScript { path, args } => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                link::run_script(&path, &args);
            }
            Action::SaveConfig => {
                if let Some(s) = self.sentinel.as_mut().filter(|s| s.dirty) {
                    if let Err(e) = s.flush_config() {
                        tracing::warn!(
                            "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
                        );
                    }
                }
            }
            Action::Crash => {
                tracing::warn!("Sentinel CRASH because of SENTINEL simulate-failure");
                std::process::exit(99);
            }
        }
    }

    /// A command connection is up.
    pub fn sentinel_link_up(&mut self, master: &str, who: &Who, id: LinkId, local_ip: String) {
        self.with_sentinel(|s| s.handle_link_up(master, who, id, local_ip));
    }

    /// A reply on a command connection.
    pub fn sentinel_reply(
        &mut self,
        master: &str,
        who: &Who,
        id: LinkId,
        req: &Req,
        reply: &Reply,
    ) {
        let now = crate::util::time::now_ms();
        self.with_sentinel(|s| s.handle_reply(master, who, id, req, reply, now));
    }

    /// A command connection ended.
    pub fn sentinel_link_closed(&mut self, master: &str, who: &Who, id: LinkId) {
        self.sentinel_links.cmd.remove(&id);
        self.with_sentinel(|s| s.handle_link_closed(master, who, id));
    }

    /// An instance refused a connection's credentials.
    pub fn sentinel_link_refused(&mut self, master: &str, who: &Who, why: &str) {
        self.with_sentinel(|s| s.handle_link_refused(master, who, why));
    }

    /// A hello subscription ended.
    pub fn sentinel_unsubscribed(&mut self, master: &str, who: &Who, id: LinkId) {
        self.sentinel_links.hello.remove(&id);
        self.with_sentinel(|s| s.handle_unsubscribed(master, who, id));
    }

    /// A hello heard on a monitored server.
    pub fn sentinel_hello(&mut self, payload: &str) {
        let now = crate::util::time::now_ms();
        self.with_sentinel(|s| s.handle_hello(payload, now));
    }

    /// INFO's sentinel section.
    pub fn info_sentinel(&self, _now_ms: i64) -> String {
        self.sentinel
            .as_ref()
            .map(Sentinel::info_section)
            .unwrap_or_default()
    }
}
