//! Sentinel mode (Redis: sentinel.c): monitoring, notification and
//! automatic failover, speaking Redis Sentinel's protocol so picket and
//! Redis sentinels and servers mix.
//!
//! # Shape
//!
//! [`Sentinel`] is a state machine without sockets or clock, in the manner
//! of quinn-proto and raft-rs. Events go in as method calls that take
//! `now_ms`: [`Sentinel::tick`] (Redis: sentinelTimer, every 100 ms),
//! `handle_reply`, `handle_link_up`/`_closed`/`_refused`,
//! `handle_hello`, and the SENTINEL subcommands. What it wants done comes
//! out as [`Action`]s from [`Sentinel::poll_action`]: open or use a
//! connection, publish an event, run a script, persist the configuration,
//! crash for SIMULATE-FAILURE. `driver` (part of the server) owns the
//! connections and the clock and carries the actions out; everything
//! else here is pure and tested with virtual time (see `sim` in the
//! tests).
//!
//! Files follow sentinel.c's sections:
//! - `instance`: masters, their servers and the other sentinels;
//! - `monitor`: the periodic PING / INFO / hello and their replies
//!   (Redis: sentinelSendPeriodicCommands, sentinelRefreshInstanceInfo);
//! - `hello`: what other sentinels announce (sentinelProcessHelloMessage);
//! - `availability`: sdown and odown, TILT;
//! - `election`: asking the others, the vote (one per epoch, persisted
//!   before the reply) and counting the leader;
//! - `failover`: the failover state machine, one function per
//!   SENTINEL_FAILOVER_STATE_*, replica selection, the switch of master
//!   and the role fixes after it;
//! - `events`: the events and their exact text;
//! - `config`: the `sentinel` statements (pure), `proto`: the hello
//!   message, INFO parsing and a reply reader (pure);
//! - `link` and `driver`: the I/O.
//!
//! # Invariants
//!
//! - A sentinel votes at most once per epoch, and persists the vote
//!   before it answers (an [`Action::SaveConfig`] precedes the reply).
//! - A failover runs in an epoch of its own, and only its elected leader
//!   (or SENTINEL FAILOVER, with no vote) promotes a replica.
//! - A newer configuration epoch always wins: hellos carry it, and a
//!   sentinel that hears a newer one switches to that master.

pub mod availability;
pub mod config;
pub mod driver;
pub mod election;
pub mod events;
pub mod failover;
pub mod hello;
pub mod instance;
pub mod link;
pub mod monitor;
pub mod proto;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use config::SentinelConf;
pub use events::Event;
pub use failover::{Failover, FailoverState};
pub use instance::{Instance, LinkState, Master, Peer, Reconf, Who};

/// PING period (Redis: SENTINEL_PING_PERIOD).
const PING_PERIOD_MS: i64 = 1000;
/// INFO period when all is well (SENTINEL_INFO_PERIOD).
const INFO_PERIOD_MS: i64 = 10_000;
/// Hello period (SENTINEL_PUBLISH_PERIOD).
const HELLO_PERIOD_MS: i64 = 2000;
/// How often to ask the others whether the master is down.
const ASK_PERIOD_MS: i64 = 1000;
/// A peer's vote older than this is forgotten (SENTINEL_ASK_FORCED...).
const VOTE_VALIDITY_MS: i64 = 5000;
/// Random delay before a failover starts, so sentinels don't all start at
/// once (SENTINEL_MAX_DESYNC).
const MAX_DESYNC_MS: i64 = 1000;
/// Clock jumps beyond this enter TILT (SENTINEL_TILT_TRIGGER).
const TILT_TRIGGER_MS: i64 = 2000;
/// TILT lasts this long (SENTINEL_TILT_PERIOD).
const TILT_PERIOD_MS: i64 = 30_000;

/// SENTINEL SIMULATE-FAILURE crash-after-election.
pub const SIMFAILURE_CRASH_AFTER_ELECTION: u8 = 1;
/// SENTINEL SIMULATE-FAILURE crash-after-promotion.
pub const SIMFAILURE_CRASH_AFTER_PROMOTION: u8 = 2;

/// Names one connection of the driver's: a command link or a hello
/// subscription.
pub type LinkId = u64;

/// The credentials a connection logs in with: user (None: `default`) and
/// password (None: no AUTH).
pub type Credentials = (Option<String>, Option<String>);

/// What a command connection is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Req {
    /// PING.
    Ping,
    /// INFO.
    Info,
    /// PUBLISH a hello.
    Publish(String),
    /// SENTINEL IS-MASTER-DOWN-BY-ADDR.
    IsMasterDown {
        /// The master's address.
        ip: String,
        /// Port.
        port: u16,
        /// Our current epoch.
        epoch: u64,
        /// Our id when asking for a vote, else `*`.
        runid: String,
    },
    /// REPLICAOF NO ONE (and CONFIG REWRITE).
    Promote,
    /// REPLICAOF ip port (and CONFIG REWRITE).
    ReplicaOf(String, u16),
}

/// Who a connection is for, and how it logs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The monitored master's name.
    pub master: String,
    /// Which of its instances.
    pub who: Who,
    /// Address.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// AUTH with these, when there is a password.
    pub auth: Credentials,
    /// Our run id, for the connection's name.
    pub myid: String,
}

/// What the sentinel asks its driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open command connection `id` to `target`; its outcome comes back
    /// as `handle_link_up`, `handle_reply`, `handle_link_closed` or
    /// `handle_link_refused`. A connection whose id the state no longer
    /// holds is closed by the driver.
    Connect {
        /// The new connection.
        id: LinkId,
        /// Where to.
        target: Target,
    },
    /// Subscribe `id` to the hello channel of `target`; hellos come back
    /// as `handle_hello`, the end as `handle_unsubscribed`.
    Subscribe {
        /// The new subscription.
        id: LinkId,
        /// Where to.
        target: Target,
    },
    /// Queue a request on command connection `id`.
    Send {
        /// The connection.
        id: LinkId,
        /// What to send.
        req: Req,
    },
    /// Log an event and publish it on the channel named after it.
    Emit {
        /// The event.
        kind: Event,
        /// The master it is about (None for a global one, e.g. `+tilt`).
        master: Option<String>,
        /// Its text.
        msg: String,
    },
    /// Run a notification or client-reconfig script, without waiting.
    RunScript {
        /// The script.
        path: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Write the state into the configuration file (Redis:
    /// sentinelFlushConfig).
    SaveConfig,
    /// Exit with status 99 (SENTINEL SIMULATE-FAILURE).
    Crash,
}

/// The sentinel (Redis: the `sentinel` global).
pub struct Sentinel {
    /// Everything from the config file (rendered back on flush).
    pub conf: SentinelConf,
    /// Our id.
    pub myid: String,
    /// The current epoch.
    pub current_epoch: u64,
    /// Monitored masters by name.
    pub masters: BTreeMap<String, Master>,
    /// The config file, rewritten to persist state.
    pub config_path: PathBuf,
    /// The config needs writing.
    pub dirty: bool,
    /// Last timer run, for TILT.
    pub last_timer_ms: i64,
    /// TILT since (0 = not in TILT).
    pub tilt_since: i64,
    /// Scripts running or queued (INFO).
    pub running_scripts: usize,
    /// SENTINEL SIMULATE-FAILURE flags.
    pub simfailure: u8,
    /// Our own port, announced when no announce-port is set (the driver
    /// keeps it current).
    pub own_port: u16,
    /// Our own requirepass: other sentinels are asked with it when no
    /// sentinel-pass is set (Redis 6.2+; the driver keeps it current).
    pub own_pass: Option<String>,
    /// What the driver has still to do.
    actions: VecDeque<Action>,
    /// The next connection id.
    next_link: LinkId,
    /// Jitter for start delays (seeded in simulations).
    rng: fastrand::Rng,
}

impl Sentinel {
    /// From the parsed statements.
    pub fn new(mut conf: SentinelConf, config_path: PathBuf, now_ms: i64) -> Sentinel {
        let myid = conf
            .myid
            .clone()
            .unwrap_or_else(crate::replication::new_replid);
        conf.myid = Some(myid.clone());
        let mut masters = BTreeMap::new();
        for mc in &conf.masters {
            let m = Master::new(mc.clone(), |ip| conf.instance_addr(ip), now_ms);
            masters.insert(mc.name.clone(), m);
        }
        Sentinel {
            current_epoch: conf.current_epoch,
            conf,
            myid,
            masters,
            config_path,
            dirty: true,
            last_timer_ms: now_ms,
            tilt_since: 0,
            running_scripts: 0,
            simfailure: 0,
            own_port: 26379,
            own_pass: None,
            actions: VecDeque::new(),
            next_link: 1,
            rng: fastrand::Rng::new(),
        }
    }

    /// Seeds the jitter, so a simulation replays the same run.
    pub fn seed(&mut self, seed: u64) {
        self.rng = fastrand::Rng::with_seed(seed);
    }

    /// The next thing to do, in the order it was decided.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Every connection the state holds; the driver closes the others.
    pub fn link_ids(&self) -> impl Iterator<Item = LinkId> + '_ {
        self.masters.values().flat_map(Master::link_ids)
    }

    /// Marks the configuration to be written now (a vote, a new epoch
    /// that must survive a restart before we answer).
    fn save_now(&mut self) {
        self.dirty = true;
        self.actions.push_back(Action::SaveConfig);
    }

    /// The sentinel timer (Redis: sentinelTimer), every 100 ms: the
    /// monitoring half (links, PING, INFO, hello) for every master, then,
    /// out of TILT, the acting half (sdown, odown, votes, failover).
    pub fn tick(&mut self, now_ms: i64) {
        let tilt = self.check_tilt(now_ms);
        let names: Vec<String> = self.masters.keys().cloned().collect();
        for name in &names {
            self.send_periodic(name, now_ms);
            if tilt {
                continue;
            }
            self.check_sdown(name, now_ms);
            self.check_odown(name, now_ms);
            self.ask_others(name, now_ms);
            self.start_failover_if_needed(name, now_ms);
            if self.failover_step(name, now_ms).is_break() {
                // SIMULATE-FAILURE: nothing after the crash happens.
                return;
            }
            self.fix_roles(name, now_ms);
        }
        if self.dirty {
            self.actions.push_back(Action::SaveConfig);
        }
    }

    /// The statements that describe the current state.
    pub fn render(&self) -> String {
        let mut c = self.conf.clone();
        c.myid = Some(self.myid.clone());
        c.current_epoch = self.current_epoch;
        c.masters = self
            .masters
            .values()
            .map(|m| {
                let mut mc = m.conf.clone();
                mc.ip = m.inst.ip.clone();
                mc.port = m.inst.port;
                mc.known_replicas = m
                    .replicas
                    .values()
                    .map(|r| (r.ip.clone(), r.port))
                    .collect();
                mc.known_sentinels = m
                    .sentinels
                    .values()
                    .map(|p| (p.ip.clone(), p.port, p.runid.clone()))
                    .collect();
                mc
            })
            .collect();
        c.render()
    }

    /// Writes the state into the config file (Redis: sentinelFlushConfig).
    pub fn flush_config(&mut self) -> std::io::Result<()> {
        let old = std::fs::read_to_string(&self.config_path).unwrap_or_default();
        let text = config::rewrite_text(&old, &self.render());
        crate::persistence::aof::write_atomic(&self.config_path, text.as_bytes())?;
        self.dirty = false;
        Ok(())
    }

    /// INFO's sentinel section.
    pub fn info_section(&self) -> String {
        let mut out = format!(
            "sentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\nsentinel_running_scripts:{}\r\nsentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n",
            self.masters.len(),
            (self.tilt_since > 0) as i32,
            if self.tilt_since > 0 { (self.last_timer_ms - self.tilt_since) / 1000 } else { -1 },
            self.running_scripts,
        );
        for (i, m) in self.masters.values().enumerate() {
            let status = if m.odown_since > 0 {
                "odown"
            } else if m.inst.sdown_since > 0 {
                "sdown"
            } else {
                "ok"
            };
            out.push_str(&format!(
                "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                m.conf.name,
                m.inst.ip,
                m.inst.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
        out
    }
}

#[cfg(test)]
mod sim;
