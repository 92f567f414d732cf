//! The server: keyspace, clients, and the path every command takes.
//!
//! `Server` is owned by one thread (the event loop), like redis-server's
//! global `server`, but passed explicitly. `dispatch` holds the admission
//! checks in Redis's order (processCommand) and the call path (call);
//! `blocking`, `watch` and `pubsub` hold the cross-client bookkeeping;
//! `info` renders INFO; `cron` is the periodic work (serverCron).

pub mod acl;
pub mod blocking;
pub mod client;
pub mod cron;
pub mod dispatch;
pub mod evict;
pub mod info;
pub mod metrics;
pub mod pubsub;
pub mod redact;
pub mod stats;
pub mod watch;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use tokio::sync::Notify;

use crate::cmd::table::CommandTable;
use crate::config::Config;
use crate::keyspace::{Keyspace, Sds};
use client::Client;
use stats::{SlowlogEntry, Stats};

/// How SHUTDOWN asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Save if save rules or AOF are configured (the default).
    Default,
    /// SHUTDOWN SAVE.
    Save,
    /// SHUTDOWN NOSAVE.
    NoSave,
}

/// Server state. See the module docs.
pub struct Server {
    /// The running configuration.
    pub config: Config,
    /// The default user's passwords (`requirepass` sets them; ACL SETUSER
    /// changes them).
    pub default_user: acl::DefaultUser,
    /// The data.
    pub keyspace: Keyspace,
    /// Connected clients by id.
    pub clients: BTreeMap<u64, Rc<RefCell<Client>>>,
    next_client_id: u64,
    /// Counters for INFO stats.
    pub stats: Stats,
    /// Changes since the last save (Redis: server.dirty).
    pub dirty: u64,
    /// Pub/Sub subscriptions.
    pub pubsub: pubsub::PubSub,
    /// WATCHed keys: (db, key) → its watchers.
    pub watched: HashMap<(usize, Sds), Vec<watch::Watcher>>,
    /// Clients blocked per key, in arrival order.
    pub blocking: HashMap<(usize, Sds), VecDeque<u64>>,
    /// Keys that received data while clients wait on them.
    pub ready_keys: VecDeque<(usize, Sds)>,
    /// Clients in MONITOR mode.
    pub monitors: Vec<u64>,
    /// The slow log, newest first.
    pub slowlog: VecDeque<SlowlogEntry>,
    /// Next slow log entry id.
    pub slowlog_next_id: u64,
    /// 40 hex chars identifying this run (INFO run_id).
    pub run_id: String,
    /// Start time, unix ms.
    pub start_ms: i64,
    /// Unix time (s) of the last successful save (LASTSAVE).
    pub lastsave: i64,
    /// Set by SHUTDOWN; the main loop acts on it.
    pub shutdown: Option<ShutdownMode>,
    /// Wakes the main loop for shutdown.
    pub shutdown_notify: Rc<Notify>,
    /// The command table.
    pub commands: &'static CommandTable,
    /// Peak of used memory seen by the cron.
    pub peak_memory: usize,
    /// The port actually listened on (for INFO when `port 0`).
    pub tcp_port: u16,
    /// Executable path (INFO executable).
    pub executable: String,
    /// Output buffer hard limits in bytes (0 = none) for normal and pubsub
    /// clients, parsed from `client-output-buffer-limit`.
    pub obuf_hard_limits: (u64, u64),
    /// Eviction candidates kept across calls (Redis: EvictionPoolLRU).
    pub evict_pool: evict::EvictionPool,
    /// RDB snapshot state (background save, save statistics).
    pub rdb: crate::persistence::save::RdbState,
    /// The append-only file.
    pub aof: crate::persistence::aof::AofState,
    /// Replication, as master and as replica.
    pub repl: crate::replication::ReplState,
    /// The AOF is being replayed: nothing is propagated or counted.
    pub loading: bool,
    /// Sentinel mode's state (`--sentinel`); None for a data server.
    pub sentinel: Option<crate::sentinel::Sentinel>,
    /// Sentinel mode's connections, by the id the state names them with.
    pub sentinel_links: crate::sentinel::driver::Links,
    /// This server's own handle, for tasks spawned from commands (set by
    /// the binary; empty in unit tests).
    pub self_ref: std::rc::Weak<RefCell<Server>>,
    /// Applies a new `loglevel` to the running logger (set by the binary).
    pub on_loglevel: Option<Box<dyn Fn(crate::config::LogLevel)>>,
}

impl Server {
    /// A server with the given configuration and empty keyspace.
    pub fn new(config: Config) -> Self {
        let dbs = config.databases.max(1) as usize;
        let now = crate::util::time::now_ms();
        let run_id: String = (0..40)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
            .collect();
        let mut keyspace = Keyspace::new(dbs);
        keyspace.lfu = lfu_settings(&config);
        // Stamp objects created before the first cron tick with the real
        // clock (Redis: initServerConfig sets server.lruclock).
        keyspace.lru_clock = cron::lru_clock(now);
        Server {
            keyspace,
            clients: BTreeMap::new(),
            next_client_id: 1,
            stats: Stats::default(),
            dirty: 0,
            pubsub: pubsub::PubSub::default(),
            watched: HashMap::new(),
            blocking: HashMap::new(),
            ready_keys: VecDeque::new(),
            monitors: Vec::new(),
            slowlog: VecDeque::new(),
            slowlog_next_id: 0,
            run_id,
            start_ms: now,
            lastsave: now / 1000,
            shutdown: None,
            shutdown_notify: Rc::new(Notify::new()),
            commands: CommandTable::get(),
            peak_memory: 0,
            tcp_port: config.port as u16,
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            on_loglevel: None,
            rdb: Default::default(),
            aof: Default::default(),
            repl: crate::replication::ReplState::new(),
            loading: false,
            sentinel: None,
            sentinel_links: Default::default(),
            self_ref: std::rc::Weak::new(),
            obuf_hard_limits: hard_limits(&config),
            evict_pool: evict::EvictionPool::default(),
            default_user: acl::DefaultUser::from_requirepass(
                config.requirepass.as_ref().map(|p| p.expose()),
            ),
            config,
        }
    }

    /// Registers a new connection and returns its client.
    pub fn register_client(
        &mut self,
        addr: String,
        laddr: String,
        now_ms: i64,
    ) -> Rc<RefCell<Client>> {
        let id = self.next_client_id;
        self.next_client_id += 1;
        let authed = self.default_user.logged_in_by_default();
        let c = Rc::new(RefCell::new(Client::new(id, addr, laddr, authed, now_ms)));
        self.clients.insert(id, c.clone());
        self.stats.total_connections_received += 1;
        c
    }

    /// Removes a client and everything that refers to it.
    pub fn unregister_client(&mut self, c: &mut Client) {
        self.unwatch_all(c);
        self.pubsub_unsubscribe_all(c);
        if c.blocked.is_some() {
            self.unblock_client(c);
        }
        if c.flags.monitor {
            self.monitors.retain(|&id| id != c.id);
        }
        self.clients.remove(&c.id);
    }

    /// Runs `f` on client `id` and wakes its connection. `current` is the
    /// client whose command is running (already borrowed): when `id` is the
    /// current client, `f` runs on it directly instead of borrowing again.
    pub fn with_client(&self, current: &mut Client, id: u64, f: impl FnOnce(&mut Client)) {
        if id == current.id {
            f(current);
            return;
        }
        if let Some(rc) = self.clients.get(&id) {
            // A client is only borrowed by its own task while it runs a command,
            // and only one command runs at a time, so this cannot fail; if it
            // ever did, dropping one message beats a panic.
            if let Ok(mut c) = rc.try_borrow_mut() {
                f(&mut c);
                c.notify.notify_one();
            }
        }
    }

    /// Applies side effects of a CONFIG SET (the new config is in place).
    /// An error (AOF could not be turned on) means the caller restores
    /// the old config.
    pub fn config_changed(&mut self, old: &Config) -> Result<(), crate::cmd::ErrorReply> {
        if old.appendonly != self.config.appendonly {
            if self.config.appendonly {
                self.start_aof(crate::util::time::now_ms())?;
            } else {
                self.stop_aof();
            }
        }
        if old.loglevel != self.config.loglevel {
            if let Some(f) = &self.on_loglevel {
                f(self.config.loglevel);
            }
        }
        self.obuf_hard_limits = hard_limits(&self.config);
        self.keyspace.lfu = lfu_settings(&self.config);
        if old.requirepass != self.config.requirepass {
            // As in Redis: the default user's passwords become exactly it.
            self.default_user
                .set_requirepass(self.config.requirepass.as_ref().map(|p| p.expose()));
            tracing::info!("requirepass changed");
        }
        Ok(())
    }

    /// Output buffer hard limit for replicas in bytes (0 = none), from
    /// `client-output-buffer-limit slave`.
    pub fn obuf_replica_limit(&self) -> u64 {
        crate::config::parse_output_limits(&self.config.client_output_buffer_limit)
            .unwrap_or_default()
            .iter()
            .find(|(n, ..)| *n == "slave")
            .map(|(_, h, ..)| *h)
            .unwrap_or(0)
    }

    /// Used memory as the allocator reports it (Redis: zmalloc_used_memory).
    pub fn used_memory(&self) -> usize {
        crate::alloc::allocated()
    }

    /// Feeds a command that changed the dataset to the AOF (and, with
    /// replication, to replicas). Nothing is fed while loading.
    pub fn propagate(&mut self, db: usize, argv: &[&[u8]]) {
        if self.loading {
            return;
        }
        self.stats.propagated_commands += 1;
        self.repl.feed(Some(db), argv);
        if self.aof.is_on() {
            let ts = self
                .config
                .aof_timestamp_enabled
                .then_some(self.keyspace.now_ms / 1000);
            self.aof.feed(db, argv, ts);
        }
    }
}

fn hard_limits(cfg: &Config) -> (u64, u64) {
    let v = crate::config::parse_output_limits(&cfg.client_output_buffer_limit).unwrap_or_default();
    let get = |class: &str| {
        v.iter()
            .find(|(n, ..)| *n == class)
            .map(|(_, h, ..)| *h)
            .unwrap_or(0)
    };
    (get("normal"), get("pubsub"))
}

fn lfu_settings(cfg: &Config) -> Option<(i64, i64)> {
    cfg.maxmemory_policy
        .is_lfu()
        .then_some((cfg.lfu_log_factor, cfg.lfu_decay_time))
}
