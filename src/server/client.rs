//! Per-connection client state (Redis: `client` struct).
//!
//! A `Client` is shared between its connection task and the server's client
//! table through `Rc<RefCell<_>>`: the server writes replies, pub/sub
//! messages and unblocked results into `out` and wakes the task through
//! `notify`; the task flushes `out` to the socket. Everything runs on one
//! thread, so a `RefCell` borrow never waits; code that holds one client
//! mutably must not borrow the same client again (see `Server::deliver`).

use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

use tokio::sync::Notify;

use crate::keyspace::Sds;
use crate::resp::{encode, Proto};

/// A queued MULTI command: its arguments, owned.
pub type QueuedCommand = Vec<Vec<u8>>;

/// What a blocked client waits for (BLPOP, BLMOVE, BZPOPMIN, ...).
#[derive(Debug, Clone)]
pub struct BlockState {
    /// Database the keys are in.
    pub db: usize,
    /// Keys waited on, in argument order.
    pub keys: Vec<Sds>,
    /// Deadline in unix ms, or `None` to wait forever.
    pub deadline_ms: Option<i64>,
    /// The command to run again when a key becomes ready (owned args).
    pub argv: Vec<Vec<u8>>,
    /// On timeout reply a null bulk string (BLMOVE, BRPOPLPUSH) instead of
    /// a null array (BLPOP, BZPOPMIN).
    pub timeout_null_bulk: bool,
    /// WAIT: the offset to be acknowledged and by how many replicas.
    pub wait: Option<(u64, usize)>,
}

/// Client flags visible in CLIENT LIST (`flags=`).
#[derive(Debug, Default, Clone)]
pub struct Flags {
    /// In MULTI (`x`).
    pub multi: bool,
    /// A queued command failed: EXEC aborts (Redis: CLIENT_DIRTY_EXEC).
    pub dirty_exec: bool,
    /// In MONITOR mode (`O`).
    pub monitor: bool,
    /// Close once the pending output is written (QUIT, protocol error).
    pub close_after_reply: bool,
    /// Close now, discarding output (CLIENT KILL, output buffer limit).
    pub close_asap: bool,
    /// CLIENT NO-EVICT on (`e`).
    pub no_evict: bool,
    /// A replica of ours, after PSYNC/SYNC (`S`).
    pub replica: bool,
    /// The link to our master: its writes are obeyed (`M`).
    pub master: bool,
}

/// One connected client.
pub struct Client {
    /// Unique, increasing id (CLIENT ID).
    pub id: u64,
    /// Peer address `ip:port`.
    pub addr: String,
    /// Local address `ip:port`.
    pub laddr: String,
    /// CLIENT SETNAME.
    pub name: Option<String>,
    /// Selected database.
    pub db: usize,
    /// Protocol version.
    pub proto: Proto,
    /// Whether the client passed AUTH (or no password is required).
    pub authenticated: bool,
    /// Pending reply bytes.
    pub out: Vec<u8>,
    /// Flags.
    pub flags: Flags,
    /// Commands queued since MULTI.
    pub multi_queue: Vec<QueuedCommand>,
    /// Keys this client WATCHes (db, key).
    pub watched: Vec<(usize, Sds)>,
    /// The replication offset after its last write (WAIT waits for it).
    pub woff: u64,
    /// What it announced with REPLCONF (a replica about to PSYNC).
    pub repl_conf: Option<crate::replication::ReplConf>,
    /// Set when a watched key is touched (Redis: CLIENT_DIRTY_CAS). Shared
    /// with the server's watch table so it can be set while this client is
    /// borrowed.
    pub dirty_cas: Rc<Cell<bool>>,
    /// Subscribed channels.
    pub channels: HashSet<Sds>,
    /// Subscribed patterns.
    pub patterns: HashSet<Sds>,
    /// Set while blocked.
    pub blocked: Option<BlockState>,
    /// Creation time (unix ms).
    pub created_ms: i64,
    /// Last command time (unix ms), for `idle=` and `timeout`.
    pub last_interaction_ms: i64,
    /// Last command name, for CLIENT LIST `cmd=`.
    pub last_cmd: &'static str,
    /// Wakes the connection task: output is pending or state changed.
    pub notify: Rc<Notify>,
    /// Bytes waiting in the query buffer (CLIENT LIST `qbuf=`).
    pub qbuf: usize,
    /// Size of the soft output limit overrun start (unix ms), if over.
    pub obuf_soft_since: Option<i64>,
}

impl Client {
    /// A fresh client.
    pub fn new(id: u64, addr: String, laddr: String, authenticated: bool, now_ms: i64) -> Self {
        Client {
            id,
            addr,
            laddr,
            name: None,
            db: 0,
            proto: Proto::Resp2,
            authenticated,
            out: Vec::with_capacity(1024),
            flags: Flags::default(),
            multi_queue: Vec::new(),
            watched: Vec::new(),
            repl_conf: None,
            woff: 0,
            dirty_cas: Rc::new(Cell::new(false)),
            channels: HashSet::new(),
            patterns: HashSet::new(),
            blocked: None,
            created_ms: now_ms,
            last_interaction_ms: now_ms,
            last_cmd: "NULL",
            notify: Rc::new(Notify::new()),
            qbuf: 0,
            obuf_soft_since: None,
        }
    }

    /// Number of subscriptions (channels + patterns).
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether the client is in RESP2 subscriber mode, where only
    /// (P)SUBSCRIBE, (P)UNSUBSCRIBE, PING, QUIT and RESET are allowed.
    pub fn in_resp2_pubsub(&self) -> bool {
        self.proto == Proto::Resp2 && self.subscriptions() > 0
    }

    /// CLIENT LIST flags string.
    pub fn flags_str(&self) -> String {
        let mut s = String::new();
        if self.flags.monitor {
            s.push('O');
        }
        if self.subscriptions() > 0 {
            s.push('P');
        }
        if self.flags.multi {
            s.push('x');
        }
        if self.blocked.is_some() {
            s.push('b');
        }
        if self.dirty_cas.get() {
            s.push('d');
        }
        if self.flags.close_after_reply {
            s.push('c');
        }
        if self.flags.no_evict {
            s.push('e');
        }
        if self.flags.replica {
            s.push('S');
        }
        if s.is_empty() {
            s.push('N');
        }
        s
    }

    /// The CLIENT LIST / CLIENT INFO line for this client, in Redis's field
    /// order.
    pub fn info_line(&self, now_ms: i64) -> String {
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.name.as_deref().unwrap_or(""),
            (now_ms - self.created_ms).max(0) / 1000,
            (now_ms - self.last_interaction_ms).max(0) / 1000,
            self.flags_str(),
            self.db,
            self.channels.len(),
            self.patterns.len(),
            if self.flags.multi { self.multi_queue.len() as i64 } else { -1 },
            self.qbuf,
            self.out.len(),
            self.out.capacity() + self.qbuf,
            self.last_cmd,
            match self.proto {
                Proto::Resp2 => 2,
                Proto::Resp3 => 3,
            }
        )
    }

    // Reply helpers: a command writes its reply through these so both
    // protocol versions come out right.

    /// `+OK`
    pub fn ok(&mut self) {
        encode::ok(&mut self.out);
    }
    /// `+s`
    pub fn simple(&mut self, s: &str) {
        encode::simple(&mut self.out, s.as_bytes());
    }
    /// `-msg` (msg starts with the error code, e.g. "ERR ...").
    pub fn error(&mut self, msg: &str) {
        encode::error(&mut self.out, msg);
    }
    /// `:n`
    pub fn int(&mut self, n: i64) {
        encode::int(&mut self.out, n);
    }
    /// `$len` bulk string.
    pub fn bulk(&mut self, s: &[u8]) {
        encode::bulk(&mut self.out, s);
    }
    /// An integer as a bulk string.
    pub fn bulk_int(&mut self, n: i64) {
        encode::bulk_int(&mut self.out, n);
    }
    /// Null bulk (`$-1` / `_`).
    pub fn null(&mut self) {
        encode::null(&mut self.out, self.proto);
    }
    /// Null array (`*-1` / `_`).
    pub fn null_array(&mut self) {
        encode::null_array(&mut self.out, self.proto);
    }
    /// Array header.
    pub fn array(&mut self, n: usize) {
        encode::array(&mut self.out, n);
    }
    /// Map header.
    pub fn map(&mut self, n: usize) {
        encode::map(&mut self.out, self.proto, n);
    }
    /// Set header.
    pub fn set(&mut self, n: usize) {
        encode::set(&mut self.out, self.proto, n);
    }
    /// Double.
    pub fn double(&mut self, d: f64) {
        encode::double(&mut self.out, self.proto, d);
    }
    /// Boolean.
    pub fn boolean(&mut self, b: bool) {
        encode::boolean(&mut self.out, self.proto, b);
    }
    /// Verbatim text.
    pub fn verbatim(&mut self, s: &str) {
        encode::verbatim(&mut self.out, self.proto, s.as_bytes());
    }
    /// An array of bulk strings.
    pub fn bulks<'a, I: IntoIterator<Item = &'a [u8]>>(&mut self, items: I)
    where
        I::IntoIter: ExactSizeIterator,
    {
        encode::bulk_array(&mut self.out, items);
    }
}
