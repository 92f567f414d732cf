//! Master/replica replication, in the form redis-server 7.0 speaks it
//! (Redis: replication.c), so picket and Redis nodes replicate from each
//! other.
//!
//! - `backlog` and `proto` are pure: the ring buffer of the newest stream
//!   bytes, and the parsing of the handshake's replies.
//! - This module holds the state both roles share (replication id and
//!   offset, the backlog, the replicas) and the stream feed: every write
//!   that reaches `Server::propagate` is encoded (with SELECT when the
//!   database changes, MULTI/EXEC around a command that wrote several
//!   times) and appended to the backlog and to each replica's buffer.
//! - `master` answers PSYNC/SYNC: a partial resync from the backlog, or a
//!   full one through a forked child that writes the RDB (to a pipe the
//!   parent relays, or to disk); writes that arrive meanwhile are held
//!   per replica and sent after the snapshot.
//! - `replica` is the replica's side: the link task that connects,
//!   authenticates, syncs, loads the snapshot and applies the stream.

pub mod backlog;
pub mod master;
pub mod proto;
pub mod replica;

use std::collections::BTreeMap;
use std::rc::Rc;

use tokio::sync::Notify;

use crate::resp::client::encode_command;
use crate::server::Server;
use backlog::Backlog;

/// A replica's progress as its master sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for a snapshot to start (diskless delay, another child).
    WaitBgsaveStart,
    /// The snapshot is being produced; the stream is held back.
    WaitBgsaveEnd,
    /// The snapshot and then the stream flow.
    Online,
}

impl ReplicaState {
    /// The name INFO uses.
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsaveStart | ReplicaState::WaitBgsaveEnd => "wait_bgsave",
            ReplicaState::Online => "online",
        }
    }
}

/// One connected replica (master side).
pub struct Replica {
    /// Address the replica connected from.
    pub addr_ip: String,
    /// The IP it announced (REPLCONF ip-address), else `addr_ip`.
    pub ip: String,
    /// Its listening port (REPLCONF listening-port).
    pub port: u16,
    /// Where it is in the sync.
    pub state: ReplicaState,
    /// Bytes to send now.
    pub out: Vec<u8>,
    /// Stream bytes held back while its snapshot is produced.
    pub held: Vec<u8>,
    /// Wakes its sender task.
    pub notify: Rc<Notify>,
    /// The offset it last acknowledged (REPLCONF ACK).
    pub ack_offset: u64,
    /// When it last acknowledged, unix ms.
    pub ack_ms: i64,
    /// It accepts the `$EOF:` (diskless) form.
    pub capa_eof: bool,
    /// Set to make the sender task close the connection.
    pub close: bool,
    /// When it started waiting for a snapshot, unix ms.
    pub wait_since_ms: i64,
    /// It asked with PSYNC (else the old SYNC).
    pub psync: bool,
    /// Its snapshot streams through a pipe (no keepalive newlines then).
    pub diskless: bool,
    /// The snapshot is sent; the stream starts with its first ACK, so the
    /// `$EOF:` mark is the last thing it reads before loading (Redis:
    /// repl_start_cmd_stream_on_ack).
    pub start_on_ack: bool,
}

/// What a client announced with REPLCONF before PSYNC.
#[derive(Debug, Clone, Default)]
pub struct ReplConf {
    /// REPLCONF listening-port.
    pub port: u16,
    /// REPLCONF ip-address.
    pub ip: Option<String>,
    /// REPLCONF capa eof.
    pub capa_eof: bool,
    /// REPLCONF capa psync2.
    pub capa_psync2: bool,
}

/// The replica's view of its link to the master (Redis: repl_state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected; the link task will connect.
    Connect,
    /// Connecting and handshaking.
    Connecting,
    /// Receiving the snapshot.
    Transfer,
    /// Synced: applying the stream.
    Connected,
}

impl LinkState {
    /// ROLE's name for it.
    pub fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The master this server replicates from.
#[derive(Debug, Clone)]
pub struct MasterLink {
    /// Host as configured.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The link's state.
    pub state: LinkState,
    /// Last time data arrived from the master, unix ms.
    pub last_io_ms: i64,
    /// Since when the link is down, unix ms (0 = never up yet).
    pub down_since_ms: i64,
    /// Snapshot bytes expected (-1 for the `$EOF:` form) and read so far.
    pub transfer_size: i64,
    /// Snapshot bytes read so far.
    pub transfer_read: u64,
}

/// Replication state (Redis: server.repl_*, server.master*, server.slaves).
pub struct ReplState {
    /// This server's replication id (master_replid).
    pub replid: String,
    /// The previous one, valid up to `second_offset` (PSYNC2).
    pub replid2: String,
    /// master_repl_offset: bytes of stream produced or applied.
    pub offset: u64,
    /// Last offset valid under `replid2`, -1 when none.
    pub second_offset: i64,
    /// The backlog, created when the first replica connects.
    pub backlog: Option<Backlog>,
    /// Connected replicas by client id.
    pub replicas: BTreeMap<u64, Replica>,
    /// The database the stream last SELECTed (Redis: slaveseldb).
    selected_db: Option<usize>,
    /// One top-level command's stream, wrapped in MULTI/EXEC when it
    /// holds several commands.
    staging: Vec<u8>,
    staged: u32,
    in_command: bool,
    /// The master, when this server is a replica.
    pub master: Option<MasterLink>,
    /// Bumped at every REPLICAOF: a link task whose epoch is stale stops.
    pub link_epoch: u64,
    /// Wakes the link task (REPLICAOF, shutdown).
    pub link_notify: Rc<Notify>,
    /// The master's stream is being applied: the writes go to the AOF but
    /// are not re-encoded for our replicas (the raw bytes are relayed).
    pub applying_master: bool,
    /// The database the master's stream last selected, kept across
    /// reconnections (Redis: the cached master's db).
    pub master_db: usize,
    /// The replica read this much of the master's stream.
    pub read_offset: u64,
    /// A full sync child (diskless: the relay owns it).
    pub sync_child: Option<i32>,
    /// The BGSAVE made for replicas writing to disk.
    pub disk_sync_pid: Option<i32>,
    /// When the last replica left, unix ms (repl-backlog-ttl).
    pub no_replicas_since_ms: i64,
    /// Last PING fed to the replicas, unix ms.
    pub last_ping_ms: i64,
    /// Replicas whose lag is within min-replicas-max-lag.
    pub good_replicas: usize,
    /// Set when a clients waits (WAIT): send GETACK with the next cron.
    pub get_ack_pending: bool,
}

/// A fresh 40-hex-digit replication id (Redis: changeReplicationId).
pub fn new_replid() -> String {
    (0..40)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
        .collect()
}

/// The id Redis prints when there is no previous one.
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

impl ReplState {
    /// A master with a new id, offset 0 and no backlog.
    pub fn new() -> ReplState {
        ReplState {
            replid: new_replid(),
            replid2: NO_REPLID.to_string(),
            offset: 0,
            second_offset: -1,
            backlog: None,
            replicas: BTreeMap::new(),
            selected_db: None,
            staging: Vec::new(),
            staged: 0,
            in_command: false,
            master: None,
            link_epoch: 0,
            link_notify: Rc::new(Notify::new()),
            applying_master: false,
            master_db: 0,
            read_offset: 0,
            sync_child: None,
            disk_sync_pid: None,
            no_replicas_since_ms: 0,
            last_ping_ms: 0,
            good_replicas: 0,
            get_ack_pending: false,
        }
    }

    /// Whether the stream is being recorded.
    pub fn active(&self) -> bool {
        self.backlog.is_some()
    }

    /// Makes the previous history the secondary one and starts a new id
    /// (Redis: shiftReplicationId), at a promotion.
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, new_replid());
        self.second_offset = self.offset as i64 + 1;
    }

    /// Forgets the secondary history (Redis: clearReplicationId2).
    pub fn clear_replid2(&mut self) {
        self.replid2 = NO_REPLID.to_string();
        self.second_offset = -1;
    }

    /// Creates the backlog at the current offset if there is none.
    pub fn ensure_backlog(&mut self, size: u64) {
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::new(size as usize, self.offset));
            // The next command selects its database explicitly.
            self.selected_db = None;
        }
    }

    /// Makes the next command start with a SELECT (a new full sync).
    pub fn reset_selected_db(&mut self) {
        self.selected_db = None;
    }

    /// Encodes one command into the stream (Redis:
    /// replicationFeedSlaves), with a SELECT when `db` changes; `db` None
    /// for commands outside any database (PING, REPLCONF GETACK).
    fn encode(&mut self, db: Option<usize>, argv: &[&[u8]]) {
        if let Some(db) = db {
            if self.selected_db != Some(db) {
                let mut num = itoa::Buffer::new();
                encode_command(&mut self.staging, &[b"SELECT", num.format(db).as_bytes()]);
                self.selected_db = Some(db);
            }
        }
        encode_command(&mut self.staging, argv);
        self.staged += 1;
    }

    /// Feeds raw stream bytes to the backlog and the replicas (a master's
    /// encoded commands, or a replica relaying its master's stream).
    pub fn feed_raw(&mut self, bytes: &[u8]) {
        let Some(b) = &mut self.backlog else {
            return;
        };
        b.feed(bytes);
        self.offset = b.end();
        for r in self.replicas.values_mut() {
            match r.state {
                ReplicaState::Online => {
                    r.out.extend_from_slice(bytes);
                    r.notify.notify_one();
                }
                ReplicaState::WaitBgsaveEnd => r.held.extend_from_slice(bytes),
                ReplicaState::WaitBgsaveStart => {}
            }
        }
    }

    fn flush_staging(&mut self) {
        if self.staging.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.staging);
        self.feed_raw(&bytes);
        self.staging = bytes;
        self.staging.clear();
        self.staged = 0;
    }

    /// Feeds one command: staged while a command runs, at once otherwise.
    pub fn feed(&mut self, db: Option<usize>, argv: &[&[u8]]) {
        if !self.active() || self.applying_master {
            return;
        }
        self.encode(db, argv);
        if !self.in_command {
            self.flush_staging();
        }
    }

    /// Starts staging one top-level command's writes.
    pub fn begin_command(&mut self) {
        self.in_command = self.active();
    }

    /// Ends it: several writes are wrapped in MULTI … EXEC (Redis:
    /// propagatePendingCommands), then everything is fed.
    pub fn end_command(&mut self) {
        if !self.in_command {
            return;
        }
        self.in_command = false;
        if self.staged > 1 {
            let mut wrapped = Vec::with_capacity(self.staging.len() + 32);
            encode_command(&mut wrapped, &[b"MULTI"]);
            wrapped.extend_from_slice(&self.staging);
            encode_command(&mut wrapped, &[b"EXEC"]);
            self.staging = wrapped;
        }
        self.flush_staging();
    }

    /// Replicas whose last ACK is within `max_lag` seconds.
    pub fn count_good(&self, now_ms: i64, max_lag: i64) -> usize {
        self.replicas
            .values()
            .filter(|r| r.state == ReplicaState::Online && now_ms - r.ack_ms <= max_lag * 1000)
            .count()
    }

    /// Online replicas that acknowledged at least `offset` (WAIT).
    pub fn acked(&self, offset: u64) -> usize {
        self.replicas
            .values()
            .filter(|r| r.state == ReplicaState::Online && r.ack_offset >= offset)
            .count()
    }
}

impl Default for ReplState {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// The replication position to save with a snapshot, when there is a
    /// history worth continuing (Redis: rdbPopulateSaveInfo).
    pub fn repl_aux(&self) -> Option<crate::persistence::rdb::file::ReplAux> {
        let r = &self.repl;
        let db = match &r.master {
            Some(_) => r.master_db,
            None if r.backlog.is_some() => r.selected_db.unwrap_or(0),
            None => return None,
        };
        Some(crate::persistence::rdb::file::ReplAux {
            stream_db: db,
            id: r.replid.as_bytes().try_into().ok()?,
            offset: r.offset,
        })
    }

    /// After loading a snapshot that carries a replication position: the
    /// history continues from there, so replicas (or our master) can
    /// resume with a partial resync.
    pub fn restore_repl_aux(&mut self, a: &crate::persistence::rdb::file::ReplAux) {
        let r = &mut self.repl;
        r.replid = String::from_utf8_lossy(&a.id).into_owned();
        r.offset = a.offset;
        r.read_offset = a.offset;
        r.master_db = a.stream_db;
        r.backlog = None;
        r.ensure_backlog(self.config.repl_backlog_size);
        tracing::info!(
            "Restored replication ID {} and offset {} from the RDB file",
            r.replid,
            r.offset
        );
    }

    /// Whether this server replicates from a master.
    pub fn is_replica(&self) -> bool {
        self.repl.master.is_some()
    }

    /// The replication part of the cron (Redis: replicationCron): PINGs
    /// into the stream, GETACKs for WAIT, timed-out replicas, the backlog's
    /// time to live, pending full syncs, min-replicas accounting.
    pub fn replication_cron(&mut self, now_ms: i64) {
        let period = self.config.repl_ping_replica_period.max(1) * 1000;
        if !self.is_replica()
            && !self.repl.replicas.is_empty()
            && now_ms - self.repl.last_ping_ms >= period
        {
            self.repl.last_ping_ms = now_ms;
            self.repl.feed(None, &[b"PING"]);
        }
        if self.repl.get_ack_pending {
            self.repl.get_ack_pending = false;
            self.repl.feed(None, &[b"REPLCONF", b"GETACK", b"*"]);
        }
        // Replicas waiting for a snapshot get a newline every second so
        // their read does not time out (Redis: the "\n" keepalive).
        let timeout = self.config.repl_timeout * 1000;
        for (id, r) in self.repl.replicas.iter_mut() {
            match r.state {
                ReplicaState::WaitBgsaveStart | ReplicaState::WaitBgsaveEnd => {
                    if r.out.is_empty() && !r.diskless {
                        r.out.push(b'\n');
                        r.notify.notify_one();
                    }
                }
                ReplicaState::Online => {
                    if now_ms - r.ack_ms > timeout && !r.close {
                        tracing::warn!(
                            replica = id,
                            "Disconnecting timedout replica (streaming sync): {}:{}",
                            r.ip,
                            r.port
                        );
                        r.close = true;
                        r.notify.notify_one();
                    }
                }
            }
        }
        if self.repl.replicas.is_empty() && self.repl.backlog.is_some() && !self.is_replica() {
            let ttl = self.config.repl_backlog_ttl;
            if ttl > 0 && now_ms - self.repl.no_replicas_since_ms > ttl * 1000 {
                // Nobody can continue from it any more: a new history starts.
                tracing::info!(
                    "Replication backlog freed after {ttl} seconds without connected replicas."
                );
                self.repl.backlog = None;
                self.repl.replid = new_replid();
                self.repl.clear_replid2();
            }
        }
        self.repl.good_replicas = self
            .repl
            .count_good(now_ms, self.config.min_replicas_max_lag);
        self.start_pending_full_sync(now_ms);
        self.replica_cron(now_ms);
    }

    /// Whether writes are refused for lack of good replicas (Redis:
    /// checkGoodReplicasStatus).
    pub fn not_enough_good_replicas(&self) -> bool {
        !self.is_replica()
            && self.config.min_replicas_to_write > 0
            && self.config.min_replicas_max_lag > 0
            && (self.repl.good_replicas as i64) < self.config.min_replicas_to_write
    }

    /// INFO replication.
    pub fn info_replication(&self, now_ms: i64) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let r = &self.repl;
        match &r.master {
            None => s.push_str("role:master\r\n"),
            Some(m) => {
                let up = m.state == LinkState::Connected;
                let _ = write!(
                    s,
                    "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
                    m.host,
                    m.port,
                    if up { "up" } else { "down" },
                    if up { (now_ms - m.last_io_ms) / 1000 } else { -1 },
                    (m.state == LinkState::Transfer) as i32,
                    r.read_offset,
                    r.offset,
                );
                if m.state == LinkState::Transfer {
                    let total = m.transfer_size;
                    let left = if total >= 0 {
                        total - m.transfer_read as i64
                    } else {
                        0
                    };
                    let perc = if total > 0 {
                        m.transfer_read as f64 * 100.0 / total as f64
                    } else {
                        0.0
                    };
                    let _ = write!(
                        s,
                        "master_sync_total_bytes:{total}\r\nmaster_sync_read_bytes:{}\r\nmaster_sync_left_bytes:{left}\r\nmaster_sync_perc:{perc:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
                        m.transfer_read,
                        (now_ms - m.last_io_ms) / 1000
                    );
                }
                if !up {
                    let since = if m.down_since_ms > 0 {
                        (now_ms - m.down_since_ms) / 1000
                    } else {
                        -1
                    };
                    let _ = write!(s, "master_link_down_since_seconds:{since}\r\n");
                }
                let _ = write!(
                    s,
                    "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                    self.config.replica_priority,
                    self.config.replica_read_only as i32,
                    self.config.replica_announced as i32
                );
            }
        }
        let _ = write!(s, "connected_slaves:{}\r\n", r.replicas.len());
        if self.config.min_replicas_to_write > 0 && self.config.min_replicas_max_lag > 0 {
            let _ = write!(s, "min_slaves_good_slaves:{}\r\n", r.good_replicas);
        }
        for (i, rep) in r.replicas.values().enumerate() {
            let lag = (now_ms - rep.ack_ms) / 1000;
            let _ = write!(
                s,
                "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
                rep.ip,
                rep.port,
                rep.state.name(),
                rep.ack_offset,
                lag
            );
        }
        let (active, first, histlen) = match &r.backlog {
            Some(b) => (1, b.first_offset(), b.histlen()),
            None => (0, 0, 0),
        };
        let _ = write!(
            s,
            "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{active}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{first}\r\nrepl_backlog_histlen:{histlen}\r\n",
            r.replid,
            r.replid2,
            r.offset,
            r.second_offset,
            self.config.repl_backlog_size,
        );
        s
    }
}
