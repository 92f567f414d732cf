//! The directive table: every configuration name picket accepts, its type,
//! default, and whether CONFIG SET may change it at run time.
//!
//! Names, value syntax (yes/no, memory units such as `1gb`) and error texts
//! follow redis-server 7.0, so existing redis.conf files and tools work.

use std::path::PathBuf;

use crate::keyspace::value::EncodingLimits;

/// A secret: its Debug and Display never show the text.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Password(s.into())
    }
    /// The secret itself, for comparison and for sending to a peer.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(redacted)")
    }
}
impl std::fmt::Display for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(redacted)")
    }
}

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionPolicy {
    /// noeviction
    NoEviction,
    /// allkeys-lru
    AllKeysLru,
    /// allkeys-lfu
    AllKeysLfu,
    /// allkeys-random
    AllKeysRandom,
    /// volatile-lru
    VolatileLru,
    /// volatile-lfu
    VolatileLfu,
    /// volatile-random
    VolatileRandom,
    /// volatile-ttl
    VolatileTtl,
}

impl EvictionPolicy {
    const ALL: [(&'static str, EvictionPolicy); 8] = [
        ("volatile-lru", EvictionPolicy::VolatileLru),
        ("volatile-lfu", EvictionPolicy::VolatileLfu),
        ("volatile-random", EvictionPolicy::VolatileRandom),
        ("volatile-ttl", EvictionPolicy::VolatileTtl),
        ("allkeys-lru", EvictionPolicy::AllKeysLru),
        ("allkeys-lfu", EvictionPolicy::AllKeysLfu),
        ("allkeys-random", EvictionPolicy::AllKeysRandom),
        ("noeviction", EvictionPolicy::NoEviction),
    ];
    /// The directive value.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .unwrap_or("noeviction")
    }
    /// Whether the policy uses LFU counters in `Obj::lru`.
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu
        )
    }
}

/// `loglevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// debug
    Debug,
    /// verbose
    Verbose,
    /// notice
    Notice,
    /// warning
    Warning,
    /// nothing
    Nothing,
}

impl LogLevel {
    const ALL: [(&'static str, LogLevel); 5] = [
        ("debug", LogLevel::Debug),
        ("verbose", LogLevel::Verbose),
        ("notice", LogLevel::Notice),
        ("warning", LogLevel::Warning),
        ("nothing", LogLevel::Nothing),
    ];
    /// The directive value.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .unwrap_or("notice")
    }
    /// The tracing filter directive for this level.
    pub fn filter(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Verbose => "debug",
            LogLevel::Notice => "info",
            LogLevel::Warning => "warn",
            LogLevel::Nothing => "off",
        }
    }
}

/// The server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file, if any (CONFIG REWRITE writes it).
    pub file: Option<PathBuf>,
    /// Whether a `save` line was read already (later lines add rules).
    pub save_from_file: bool,
    pub port: i64,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub tcp_backlog: i64,
    pub timeout: i64,
    pub tcp_keepalive: i64,
    pub databases: i64,
    pub requirepass: Option<Password>,
    pub maxclients: i64,
    pub maxmemory: u64,
    pub maxmemory_policy: EvictionPolicy,
    pub maxmemory_samples: i64,
    pub lfu_log_factor: i64,
    pub lfu_decay_time: i64,
    pub loglevel: LogLevel,
    pub logfile: String,
    pub daemonize: bool,
    pub pidfile: String,
    pub dir: String,
    pub dbfilename: String,
    /// enable-protected-configs: no (default), yes, or local (loopback
    /// and Unix-socket clients only) may CONFIG SET `dir`/`dbfilename`.
    pub enable_protected_configs: String,
    pub save: Vec<(i64, i64)>,
    pub appendonly: bool,
    pub appendfsync: String,
    pub appendfilename: String,
    pub appenddirname: String,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub stop_writes_on_bgsave_error: bool,
    /// Test aid: microseconds to sleep per key while saving (Redis's
    /// hidden `rdb-key-save-delay`).
    pub rdb_key_save_delay: i64,
    pub aof_load_truncated: bool,
    pub aof_use_rdb_preamble: bool,
    pub aof_timestamp_enabled: bool,
    pub no_appendfsync_on_rewrite: bool,
    pub aof_rewrite_incremental_fsync: bool,
    pub rdb_save_incremental_fsync: bool,
    pub auto_aof_rewrite_percentage: i64,
    pub auto_aof_rewrite_min_size: u64,
    pub hz: i64,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub client_output_buffer_limit: String,
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: i64,
    pub latency_tracking: bool,
    pub enc: EncodingLimits,
    pub list_max_listpack_size: i64,
    pub activerehashing: bool,
    pub lazyfree_lazy_eviction: bool,
    pub lazyfree_lazy_expire: bool,
    pub lazyfree_lazy_server_del: bool,
    pub lazyfree_lazy_user_del: bool,
    pub lazyfree_lazy_user_flush: bool,
    pub notify_keyspace_events: String,
    pub metrics_port: i64,
    pub metrics_bind: String,
    pub replicaof: Option<(String, i64)>,
    pub masterauth: Option<Password>,
    pub masteruser: String,
    pub replica_read_only: bool,
    pub replica_serve_stale_data: bool,
    pub replica_priority: i64,
    pub replica_announced: bool,
    pub replica_announce_ip: String,
    pub replica_announce_port: i64,
    pub repl_backlog_size: u64,
    pub repl_backlog_ttl: i64,
    pub repl_timeout: i64,
    pub repl_ping_replica_period: i64,
    pub repl_diskless_sync: bool,
    pub repl_diskless_sync_delay: i64,
    pub repl_diskless_load: String,
    pub min_replicas_to_write: i64,
    pub min_replicas_max_lag: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            file: None,
            save_from_file: false,
            port: 6379,
            bind: vec!["*".into(), "-::*".into()],
            protected_mode: true,
            tcp_backlog: 511,
            timeout: 0,
            tcp_keepalive: 300,
            databases: 16,
            requirepass: None,
            maxclients: 10000,
            maxmemory: 0,
            maxmemory_policy: EvictionPolicy::NoEviction,
            maxmemory_samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            daemonize: false,
            pidfile: String::new(),
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            enable_protected_configs: "no".into(),
            save: vec![(3600, 1), (300, 100), (60, 10000)],
            appendonly: false,
            appendfsync: "everysec".into(),
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            rdbcompression: true,
            rdbchecksum: true,
            stop_writes_on_bgsave_error: true,
            rdb_key_save_delay: 0,
            aof_load_truncated: true,
            aof_use_rdb_preamble: true,
            aof_timestamp_enabled: false,
            no_appendfsync_on_rewrite: false,
            aof_rewrite_incremental_fsync: true,
            rdb_save_incremental_fsync: true,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            hz: 10,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            client_output_buffer_limit:
                "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60".into(),
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_tracking: true,
            enc: EncodingLimits::default(),
            list_max_listpack_size: -2,
            activerehashing: true,
            lazyfree_lazy_eviction: false,
            lazyfree_lazy_expire: false,
            lazyfree_lazy_server_del: false,
            lazyfree_lazy_user_del: false,
            lazyfree_lazy_user_flush: false,
            notify_keyspace_events: String::new(),
            metrics_port: 0,
            metrics_bind: "127.0.0.1".into(),
            replicaof: None,
            masterauth: None,
            masteruser: String::new(),
            replica_read_only: true,
            replica_serve_stale_data: true,
            replica_priority: 100,
            replica_announced: true,
            replica_announce_ip: String::new(),
            replica_announce_port: 0,
            repl_backlog_size: 1024 * 1024,
            repl_backlog_ttl: 3600,
            repl_timeout: 60,
            repl_ping_replica_period: 10,
            repl_diskless_sync: true,
            repl_diskless_sync_delay: 5,
            repl_diskless_load: "disabled".into(),
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
        }
    }
}

/// Why a directive's arguments were refused: Redis's own text (`argument
/// must be 'yes' or 'no'`), which CONFIG SET shows after `ERR CONFIG SET
/// failed (possibly related to argument '...') - ` and the config-file
/// loader after the line it read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadValue(pub String);

impl From<&str> for BadValue {
    fn from(s: &str) -> Self {
        BadValue(s.to_string())
    }
}

impl From<String> for BadValue {
    fn from(s: String) -> Self {
        BadValue(s)
    }
}

impl PartialEq<&str> for BadValue {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// One configuration directive.
pub struct Directive {
    /// Canonical name (CONFIG GET reports it).
    pub name: &'static str,
    /// Older names accepted too (e.g. `slaveof` for `replicaof`).
    pub aliases: &'static [&'static str],
    /// Whether CONFIG SET may change it.
    pub mutable: bool,
    /// Renders the current value as CONFIG GET and CONFIG REWRITE show it.
    pub get: fn(&Config) -> String,
    /// Validates and stores arguments (the directive name excluded).
    pub set: fn(&mut Config, &[String]) -> Result<(), BadValue>,
}

fn one(a: &[String]) -> Result<&str, BadValue> {
    match a {
        [v] => Ok(v),
        _ => Err("wrong number of arguments".into()),
    }
}

fn yes_no(s: &str) -> Result<bool, BadValue> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn yn(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn int_in(s: &str, min: i64, max: i64) -> Result<i64, BadValue> {
    let v: i64 = crate::util::num::parse_i64(s.as_bytes())
        .ok_or("argument couldn't be parsed into an integer")?;
    if v < min || v > max {
        return Err(BadValue(format!(
            "argument must be between {min} and {max} inclusive"
        )));
    }
    Ok(v)
}

/// Parses memory values like Redis's `memtoull`: `1k` is 1000, `1kb` 1024,
/// units are case-insensitive.
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.to_ascii_lowercase();
    let digits_end = l.find(|c: char| !c.is_ascii_digit()).unwrap_or(l.len());
    let (num, unit) = l.split_at(digits_end);
    if num.is_empty() {
        return None;
    }
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

fn mem(s: &str) -> Result<u64, BadValue> {
    parse_memory(s).ok_or_else(|| "argument must be a memory value".into())
}

fn password(a: &[String]) -> Result<Option<Password>, BadValue> {
    let v = one(a)?;
    Ok(if v.is_empty() {
        None
    } else {
        Some(Password::new(v))
    })
}

macro_rules! boolean {
    ($name:literal, $f:ident) => {
        boolean!($name, $f, true)
    };
    ($name:literal, $f:ident, $m:expr) => {
        Directive {
            name: $name,
            aliases: &[],
            mutable: $m,
            get: |c| yn(c.$f),
            set: |c, a| {
                c.$f = yes_no(one(a)?)?;
                Ok(())
            },
        }
    };
}
macro_rules! integer {
    ($name:literal, $f:ident, $min:expr, $max:expr) => {
        integer!($name, $f, $min, $max, true)
    };
    ($name:literal, $f:ident, $min:expr, $max:expr, $m:expr) => {
        Directive {
            name: $name,
            aliases: &[],
            mutable: $m,
            get: |c| c.$f.to_string(),
            set: |c, a| {
                c.$f = int_in(one(a)?, $min, $max)?;
                Ok(())
            },
        }
    };
}
macro_rules! memory {
    ($name:literal, $f:ident) => {
        Directive {
            name: $name,
            aliases: &[],
            mutable: true,
            get: |c| c.$f.to_string(),
            set: |c, a| {
                c.$f = mem(one(a)?)?;
                Ok(())
            },
        }
    };
}
macro_rules! string {
    ($name:literal, $f:ident, $m:expr) => {
        Directive {
            name: $name,
            aliases: &[],
            mutable: $m,
            get: |c| c.$f.clone(),
            set: |c, a| {
                c.$f = one(a)?.to_string();
                Ok(())
            },
        }
    };
}
macro_rules! choice {
    ($name:literal, $f:ident, [$($v:literal),*]) => {
        Directive { name: $name, aliases: &[], mutable: true, get: |c| c.$f.clone(), set: |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            const ALLOWED: &[&str] = &[$($v),*];
            if !ALLOWED.contains(&v.as_str()) {
                return Err(BadValue(format!("argument(s) must be one of the following: {}", ALLOWED.join(", "))));
            }
            c.$f = v; Ok(())
        } }
    };
}
macro_rules! enc_limit {
    ($name:literal, $alias:literal, $f:ident) => {
        Directive {
            name: $name,
            aliases: &[$alias],
            mutable: true,
            get: |c| c.enc.$f.to_string(),
            set: |c, a| {
                c.enc.$f = int_in(one(a)?, 0, i64::MAX)? as usize;
                Ok(())
            },
        }
    };
}

/// Every directive picket accepts, in CONFIG GET order.
pub static DIRECTIVES: &[Directive] = &[
    integer!("port", port, 0, 65535, false),
    Directive {
        name: "bind",
        aliases: &[],
        mutable: false,
        get: |c| c.bind.join(" "),
        set: |c, a| {
            if a.is_empty() || a.len() > 16 {
                return Err("wrong number of arguments".into());
            }
            c.bind = a.to_vec();
            Ok(())
        },
    },
    boolean!("protected-mode", protected_mode),
    integer!("tcp-backlog", tcp_backlog, 0, i32::MAX as i64, false),
    integer!("timeout", timeout, 0, i32::MAX as i64),
    integer!("tcp-keepalive", tcp_keepalive, 0, i32::MAX as i64),
    integer!("databases", databases, 1, i32::MAX as i64, false),
    Directive {
        name: "requirepass",
        aliases: &[],
        mutable: true,
        get: |c| {
            c.requirepass
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default()
        },
        set: |c, a| {
            c.requirepass = password(a)?;
            Ok(())
        },
    },
    integer!("maxclients", maxclients, 1, i32::MAX as i64),
    memory!("maxmemory", maxmemory),
    Directive {
        name: "maxmemory-policy",
        aliases: &[],
        mutable: true,
        get: |c| c.maxmemory_policy.name().into(),
        set: |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            c.maxmemory_policy = EvictionPolicy::ALL
                .iter()
                .find(|(n, _)| *n == v)
                .map(|(_, p)| *p)
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        EvictionPolicy::ALL.map(|(n, _)| n).join(", ")
                    )
                })?;
            Ok(())
        },
    },
    integer!("maxmemory-samples", maxmemory_samples, 1, 64),
    integer!("lfu-log-factor", lfu_log_factor, 0, i32::MAX as i64),
    integer!("lfu-decay-time", lfu_decay_time, 0, i32::MAX as i64),
    Directive {
        name: "loglevel",
        aliases: &[],
        mutable: true,
        get: |c| c.loglevel.name().into(),
        set: |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            c.loglevel = LogLevel::ALL
                .iter()
                .find(|(n, _)| *n == v)
                .map(|(_, p)| *p)
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        LogLevel::ALL.map(|(n, _)| n).join(", ")
                    )
                })?;
            Ok(())
        },
    },
    string!("logfile", logfile, false),
    Directive {
        name: "daemonize",
        aliases: &[],
        mutable: false,
        get: |c| yn(c.daemonize),
        set: |c, a| {
            c.daemonize = yes_no(one(a)?)?;
            if c.daemonize {
                return Err("daemonize yes is not supported: run picket-server under a supervisor (systemd, Kubernetes)".into());
            }
            Ok(())
        },
    },
    string!("pidfile", pidfile, false),
    string!("dir", dir, true),
    string!("dbfilename", dbfilename, true),
    Directive {
        name: "enable-protected-configs",
        aliases: &[],
        mutable: false,
        get: |c| c.enable_protected_configs.clone(),
        set: |c, a| {
            let v = one(a)?.to_ascii_lowercase();
            if !["no", "yes", "local"].contains(&v.as_str()) {
                return Err("argument(s) must be one of the following: no, yes, local".into());
            }
            c.enable_protected_configs = v;
            Ok(())
        },
    },
    Directive {
        name: "save",
        aliases: &[],
        mutable: true,
        get: |c| {
            c.save
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(" ")
        },
        set: |c, a| {
            // `save ""` clears the rules; otherwise pairs of <seconds> <changes>.
            // Several `save` lines in a file accumulate, as in Redis; CONFIG SET replaces.
            // `--save "3600 1 300 100"` on the command line is one argument.
            let args: Vec<&str> = a.iter().flat_map(|s| s.split_whitespace()).collect();
            if args.is_empty() {
                c.save.clear();
                return Ok(());
            }
            if !args.len().is_multiple_of(2) {
                return Err("Invalid save parameters".into());
            }
            let mut rules = Vec::new();
            for p in args.chunks(2) {
                let s = crate::util::num::parse_i64(p[0].as_bytes()).filter(|v| *v >= 1);
                let n = crate::util::num::parse_i64(p[1].as_bytes()).filter(|v| *v >= 0);
                match (s, n) {
                    (Some(s), Some(n)) => rules.push((s, n)),
                    _ => return Err("Invalid save parameters".into()),
                }
            }
            c.save = rules;
            Ok(())
        },
    },
    boolean!("appendonly", appendonly),
    choice!("appendfsync", appendfsync, ["always", "everysec", "no"]),
    string!("appendfilename", appendfilename, false),
    string!("appenddirname", appenddirname, false),
    boolean!("rdbcompression", rdbcompression),
    boolean!("rdbchecksum", rdbchecksum),
    boolean!("stop-writes-on-bgsave-error", stop_writes_on_bgsave_error),
    boolean!("aof-load-truncated", aof_load_truncated),
    boolean!("aof-use-rdb-preamble", aof_use_rdb_preamble),
    boolean!("aof-timestamp-enabled", aof_timestamp_enabled),
    boolean!("no-appendfsync-on-rewrite", no_appendfsync_on_rewrite),
    boolean!(
        "aof-rewrite-incremental-fsync",
        aof_rewrite_incremental_fsync
    ),
    boolean!("rdb-save-incremental-fsync", rdb_save_incremental_fsync),
    integer!(
        "auto-aof-rewrite-percentage",
        auto_aof_rewrite_percentage,
        0,
        i32::MAX as i64
    ),
    memory!("auto-aof-rewrite-min-size", auto_aof_rewrite_min_size),
    integer!("hz", hz, 0, i32::MAX as i64),
    integer!(
        "rdb-key-save-delay",
        rdb_key_save_delay,
        i32::MIN as i64,
        i32::MAX as i64
    ),
    memory!("proto-max-bulk-len", proto_max_bulk_len),
    memory!("client-query-buffer-limit", client_query_buffer_limit),
    Directive {
        name: "client-output-buffer-limit",
        aliases: &[],
        mutable: true,
        get: |c| c.client_output_buffer_limit.clone(),
        set: |c, a| {
            // Merged per class into the current value: `<class> <hard> <soft> <seconds>`...
            let toks: Vec<&str> = a.iter().flat_map(|s| s.split_whitespace()).collect();
            if toks.is_empty() || !toks.len().is_multiple_of(4) {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            let mut classes =
                crate::config::directives::parse_output_limits(&c.client_output_buffer_limit)?;
            for q in toks.chunks(4) {
                let class = match q[0].to_ascii_lowercase().as_str() {
                    "normal" => "normal",
                    "slave" | "replica" => "slave",
                    "pubsub" => "pubsub",
                    _ => {
                        return Err(
                            "Invalid client class specified in buffer limit configuration.".into(),
                        )
                    }
                };
                let hard = mem(q[1]).map_err(|_| {
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .to_string()
                })?;
                let soft = mem(q[2]).map_err(|_| {
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .to_string()
                })?;
                let secs = crate::util::num::parse_i64(q[3].as_bytes()).filter(|v| *v >= 0).ok_or("Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
                for e in classes.iter_mut() {
                    if e.0 == class {
                        *e = (class, hard, soft, secs);
                    }
                }
            }
            c.client_output_buffer_limit = classes
                .iter()
                .map(|(n, h, s, t)| format!("{n} {h} {s} {t}"))
                .collect::<Vec<_>>()
                .join(" ");
            Ok(())
        },
    },
    integer!(
        "slowlog-log-slower-than",
        slowlog_log_slower_than,
        -1,
        i64::MAX
    ),
    integer!("slowlog-max-len", slowlog_max_len, 0, i64::MAX),
    boolean!("latency-tracking", latency_tracking),
    enc_limit!(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        hash_entries
    ),
    enc_limit!(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        hash_value
    ),
    enc_limit!(
        "set-max-intset-entries",
        "set-max-intset-entries",
        set_intset_entries
    ),
    enc_limit!(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        zset_entries
    ),
    enc_limit!(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        zset_value
    ),
    Directive {
        name: "list-max-listpack-size",
        aliases: &["list-max-ziplist-size"],
        mutable: true,
        get: |c| c.list_max_listpack_size.to_string(),
        set: |c, a| {
            c.list_max_listpack_size = int_in(one(a)?, i64::MIN, i64::MAX)?;
            Ok(())
        },
    },
    boolean!("activerehashing", activerehashing),
    boolean!("lazyfree-lazy-eviction", lazyfree_lazy_eviction),
    boolean!("lazyfree-lazy-expire", lazyfree_lazy_expire),
    boolean!("lazyfree-lazy-server-del", lazyfree_lazy_server_del),
    boolean!("lazyfree-lazy-user-del", lazyfree_lazy_user_del),
    boolean!("lazyfree-lazy-user-flush", lazyfree_lazy_user_flush),
    Directive {
        name: "notify-keyspace-events",
        aliases: &[],
        mutable: true,
        get: |c| c.notify_keyspace_events.clone(),
        set: |c, a| {
            let v = one(a)?;
            if !v.chars().all(|ch| "KEg$lshzxetmdnA".contains(ch)) {
                return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into());
            }
            c.notify_keyspace_events = v.to_string();
            Ok(())
        },
    },
    integer!("metrics-port", metrics_port, 0, 65535, false),
    string!("metrics-bind", metrics_bind, false),
    Directive {
        name: "replicaof",
        aliases: &["slaveof"],
        mutable: false,
        get: |c| {
            c.replicaof
                .as_ref()
                .map(|(h, p)| format!("{h} {p}"))
                .unwrap_or_default()
        },
        set: |c, a| {
            match a {
                [h, p] if h.eq_ignore_ascii_case("no") && p.eq_ignore_ascii_case("one") => {
                    c.replicaof = None
                }
                [h, p] => {
                    c.replicaof = Some((
                        h.clone(),
                        int_in(p, 1, 65535).map_err(|_| "Invalid master port".to_string())?,
                    ))
                }
                [v] if v.is_empty() => c.replicaof = None,
                _ => return Err("wrong number of arguments".into()),
            }
            Ok(())
        },
    },
    Directive {
        name: "masterauth",
        aliases: &[],
        mutable: true,
        get: |c| {
            c.masterauth
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default()
        },
        set: |c, a| {
            c.masterauth = password(a)?;
            Ok(())
        },
    },
    string!("masteruser", masteruser, true),
    Directive {
        name: "replica-read-only",
        aliases: &["slave-read-only"],
        ..boolean!("replica-read-only", replica_read_only)
    },
    Directive {
        name: "replica-serve-stale-data",
        aliases: &["slave-serve-stale-data"],
        ..boolean!("replica-serve-stale-data", replica_serve_stale_data)
    },
    Directive {
        name: "replica-priority",
        aliases: &["slave-priority"],
        ..integer!("replica-priority", replica_priority, 0, i32::MAX as i64)
    },
    boolean!("replica-announced", replica_announced),
    Directive {
        name: "replica-announce-ip",
        aliases: &["slave-announce-ip"],
        ..string!("replica-announce-ip", replica_announce_ip, true)
    },
    Directive {
        name: "replica-announce-port",
        aliases: &["slave-announce-port"],
        ..integer!("replica-announce-port", replica_announce_port, 0, 65535)
    },
    memory!("repl-backlog-size", repl_backlog_size),
    integer!("repl-backlog-ttl", repl_backlog_ttl, 0, i32::MAX as i64),
    integer!("repl-timeout", repl_timeout, 1, i32::MAX as i64),
    Directive {
        name: "repl-ping-replica-period",
        aliases: &["repl-ping-slave-period"],
        ..integer!(
            "repl-ping-replica-period",
            repl_ping_replica_period,
            1,
            i32::MAX as i64
        )
    },
    boolean!("repl-diskless-sync", repl_diskless_sync),
    integer!(
        "repl-diskless-sync-delay",
        repl_diskless_sync_delay,
        0,
        i32::MAX as i64
    ),
    choice!(
        "repl-diskless-load",
        repl_diskless_load,
        ["disabled", "on-empty-db", "swapdb"]
    ),
    Directive {
        name: "min-replicas-to-write",
        aliases: &["min-slaves-to-write"],
        ..integer!(
            "min-replicas-to-write",
            min_replicas_to_write,
            0,
            i32::MAX as i64
        )
    },
    Directive {
        name: "min-replicas-max-lag",
        aliases: &["min-slaves-max-lag"],
        ..integer!(
            "min-replicas-max-lag",
            min_replicas_max_lag,
            0,
            i32::MAX as i64
        )
    },
];

/// Parses the client-output-buffer-limit value into (class, hard, soft, seconds).
pub fn parse_output_limits(s: &str) -> Result<Vec<(&'static str, u64, u64, i64)>, BadValue> {
    let mut out = vec![
        ("normal", 0, 0, 0),
        ("slave", 256 << 20, 64 << 20, 60),
        ("pubsub", 32 << 20, 8 << 20, 60),
    ];
    let toks: Vec<&str> = s.split_whitespace().collect();
    for q in toks.chunks(4) {
        if q.len() != 4 {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let idx = match q[0] {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        out[idx].1 = mem(q[1])?;
        out[idx].2 = mem(q[2])?;
        out[idx].3 = crate::util::num::parse_i64(q[3].as_bytes()).unwrap_or(0);
    }
    Ok(out)
}

impl Config {
    /// Finds a directive by name or alias (case-insensitive).
    pub fn directive(name: &str) -> Option<&'static Directive> {
        DIRECTIVES.iter().find(|d| {
            d.name.eq_ignore_ascii_case(name)
                || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }

    /// Applies one config-file line (`args[0]` is the directive name).
    /// Several `save` lines accumulate, like redis-server.
    pub fn apply(&mut self, args: &[String]) -> Result<(), BadValue> {
        let Some(d) = Self::directive(&args[0]) else {
            return Err("Bad directive or wrong number of arguments".into());
        };
        if d.name == "save" && !(args.len() == 2 && args[1].is_empty()) {
            let before = self.save.clone();
            (d.set)(self, &args[1..])?;
            let mut merged = if self.save_from_file {
                before
            } else {
                Vec::new()
            };
            merged.extend(self.save.iter().copied());
            self.save = merged;
            self.save_from_file = true;
            return Ok(());
        }
        (d.set)(self, &args[1..])
    }

    /// Checks relations between directives after loading.
    pub fn validate(&self) -> Result<(), BadValue> {
        if self.bind.is_empty() {
            return Err("bind needs at least one address".into());
        }
        Ok(())
    }

    /// Current value of a directive by canonical name.
    pub fn get(&self, name: &str) -> Option<String> {
        Self::directive(name).map(|d| (d.get)(self))
    }

    /// The bind addresses to listen on, resolving Redis's `*` and `-::*`
    /// (a leading `-` means "skip if unavailable").
    pub fn bind_addrs(&self) -> Vec<(String, bool)> {
        self.bind
            .iter()
            .map(|b| {
                let (optional, a) = match b.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, b.as_str()),
                };
                let host = match a {
                    "*" => "0.0.0.0",
                    "::*" => "::",
                    other => other,
                };
                (host.to_string(), optional)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(c: &mut Config, line: &str) -> Result<(), BadValue> {
        let args: Vec<String> = line.split(' ').map(String::from).collect();
        c.apply(&args)
    }

    #[test]
    fn values_parse_with_redis_syntax_and_errors() {
        let mut c = Config::default();
        apply(&mut c, "maxmemory 100mb").unwrap();
        assert_eq!(c.maxmemory, 100 * 1024 * 1024);
        apply(&mut c, "maxmemory 1k").unwrap();
        assert_eq!(c.maxmemory, 1000);
        assert_eq!(
            apply(&mut c, "maxmemory lots").unwrap_err(),
            "argument must be a memory value"
        );
        assert_eq!(
            apply(&mut c, "appendonly maybe").unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
        assert_eq!(
            apply(&mut c, "port 70000").unwrap_err(),
            "argument must be between 0 and 65535 inclusive"
        );
        assert_eq!(
            apply(&mut c, "nosuchthing 1").unwrap_err(),
            "Bad directive or wrong number of arguments"
        );
        apply(&mut c, "slaveof 10.0.0.1 6380").unwrap();
        assert_eq!(c.replicaof, Some(("10.0.0.1".into(), 6380)));
        apply(&mut c, "maxmemory-policy allkeys-lru").unwrap();
        assert_eq!(c.maxmemory_policy, EvictionPolicy::AllKeysLru);
    }

    #[test]
    fn save_lines_accumulate_and_empty_clears() {
        let mut c = Config::default();
        apply(&mut c, "save 900 1").unwrap();
        apply(&mut c, "save 300 10").unwrap();
        assert_eq!(c.save, vec![(900, 1), (300, 10)]);
        c.apply(&["save".into(), "".into()]).unwrap();
        assert!(c.save.is_empty());
    }

    #[test]
    fn passwords_are_redacted_in_debug_output() {
        let mut c = Config::default();
        apply(&mut c, "requirepass s3cret").unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.get("requirepass").unwrap(), "s3cret");
    }

    #[test]
    fn output_buffer_limits_merge_per_class() {
        let mut c = Config::default();
        apply(&mut c, "client-output-buffer-limit pubsub 64mb 16mb 30").unwrap();
        assert!(c
            .client_output_buffer_limit
            .contains("pubsub 67108864 16777216 30"));
        assert!(c.client_output_buffer_limit.contains("slave 268435456"));
    }
}
