//! The replica's side (Redis: connectWithMaster, syncWithMaster,
//! readSyncBulkPayload, replicationSendAck, replicationSetMaster,
//! replicationUnsetMaster).
//!
//! One task per configured master ([`link_task`]) connects, sends PING,
//! AUTH (masteruser/masterauth), REPLCONF listening-port/ip-address/capa,
//! then `PSYNC <replid> <offset+1>` with the history this server has (its
//! own when it was a master: a former master continues from where it
//! was). On +FULLRESYNC it reads the snapshot (`$<len>` or `$EOF:<mark>`),
//! loads it in place of the dataset and starts a new backlog; on
//! +CONTINUE it keeps its data. Then it applies the master's stream as a
//! client that may write, relays the same bytes to its own replicas and
//! backlog, and ACKs its offset every second and on GETACK. A lost link
//! is retried every second; REPLICAOF bumps the epoch and the old task
//! stops.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::proto::{parse_bulk_header, parse_psync_reply, PsyncReply, Transfer, EOF_MARK_LEN};
use super::{LinkState, MasterLink};
use crate::keyspace::Db;
use crate::persistence::rdb::file as rdbfile;
use crate::resp::client::{self, Reply};
use crate::resp::{parse_request, Limits, ParsedRequest};
use crate::server::client::Client;
use crate::server::Server;

/// Why a sync attempt ended. Each variant's text is the line Redis logs
/// for it (replication.c); the link is tried again a second later.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    /// The master did not accept the connection in time.
    #[error("Timeout connecting to the MASTER {0}")]
    ConnectTimeout(String),
    /// The connection was refused or failed.
    #[error("Error condition on socket for SYNC: {0}")]
    Connect(client::ClientError),
    /// A handshake reply did not come, or not as RESP.
    #[error("Error reading from MASTER: {0}")]
    Handshake(client::ClientError),
    /// PSYNC could not be sent.
    #[error("Error writing to MASTER: {0}")]
    SendPsync(client::ClientError),
    /// PING was refused for another reason than authentication.
    #[error("Error reply to PING from master: '{0}'")]
    Ping(String),
    /// AUTH was refused, or the master wants it and masterauth is unset.
    #[error("Unable to AUTH to MASTER: {0}")]
    Auth(String),
    /// `-LOADING`, `-NOMASTERLINK`: the master will take a PSYNC later.
    #[error("Master is currently unable to PSYNC but should be in the future: {0}")]
    TryLater(String),
    /// Any other PSYNC reply.
    #[error("Unexpected reply to PSYNC from master: {0}")]
    Psync(String),
    /// The snapshot's header is no `$<len>` or `$EOF:<mark>`.
    #[error("Bad protocol from MASTER, the first byte is not '$' (we received '{0}'), are you sure the host and port are right?")]
    SnapshotHeader(String),
    /// The snapshot does not load.
    #[error("Failed trying to load the MASTER synchronization DB from socket: {0}")]
    Load(crate::persistence::rdb::RdbError),
    /// The stream holds something that is not a command.
    #[error("Protocol error from MASTER: {0}")]
    Protocol(crate::resp::ProtocolError),
    /// Nothing arrived within repl-timeout during the handshake or the
    /// snapshot.
    #[error("Timeout connecting to the MASTER...")]
    ReadTimeout,
    /// Reading the handshake or the snapshot failed.
    #[error("Error reading from MASTER: {0}")]
    Read(std::io::Error),
    /// The master closed the connection.
    #[error("Connection with master lost.")]
    Closed,
    /// The stream's connection failed.
    #[error("Connection with master lost: {0}")]
    Lost(std::io::Error),
    /// Nothing arrived within repl-timeout on the stream.
    #[error("MASTER timeout: no data nor PING received...")]
    Silent,
    /// An ACK could not be written within repl-timeout.
    #[error("Timeout writing to MASTER")]
    WriteTimeout,
}

/// How a sync attempt ended.
type LinkResult = Result<(), LinkError>;

impl Server {
    /// REPLICAOF host port (and `replicaof` at start-up): becomes a
    /// replica and starts the link task (Redis: replicationSetMaster).
    pub fn start_replication(&mut self, host: &str, port: u16) {
        let now = crate::util::time::now_ms();
        if self.repl.master.is_none() {
            // A former master continues from its own history (Redis:
            // replicationCacheMasterUsingMyself).
            tracing::info!("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.");
        }
        // Our replicas must learn about the new history: they reconnect
        // and continue (or resync) with us.
        for r in self.repl.replicas.values_mut() {
            r.close = true;
            r.notify.notify_one();
        }
        self.kill_sync_children();
        self.repl.master = Some(MasterLink {
            host: host.to_string(),
            port,
            state: LinkState::Connect,
            last_io_ms: now,
            down_since_ms: now,
            transfer_size: -1,
            transfer_read: 0,
        });
        self.keyspace.is_replica = true;
        self.config.replicaof = Some((host.to_string(), port as i64));
        self.repl.link_epoch += 1;
        self.repl.link_notify.notify_waiters();
        tracing::info!(
            master_host = host,
            master_port = port,
            "Connecting to MASTER {host}:{port}"
        );
        if let Some(srv) = self.self_ref.upgrade() {
            tokio::task::spawn_local(link_task(srv, self.repl.link_epoch));
        }
    }

    /// REPLICAOF NO ONE: a master again, keeping the data and the history
    /// (replid2) so the other replicas continue with a partial resync.
    pub fn stop_replication(&mut self) {
        if self.repl.master.take().is_none() {
            return;
        }
        self.repl.shift_replid();
        self.repl.ensure_backlog(self.config.repl_backlog_size);
        self.keyspace.is_replica = false;
        self.config.replicaof = None;
        self.repl.link_epoch += 1;
        self.repl.link_notify.notify_waiters();
        for r in self.repl.replicas.values_mut() {
            r.close = true;
            r.notify.notify_one();
        }
        tracing::info!(
            "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
            self.repl.replid2,
            self.repl.second_offset,
            self.repl.replid
        );
        tracing::info!("MASTER MODE enabled (user request from 'id=?')");
    }

    /// Kills a snapshot child made for replicas (their sync is void).
    fn kill_sync_children(&mut self) {
        if let Some(pid) = self.repl.disk_sync_pid.take() {
            let _ = pid;
            self.kill_rdb_child();
        }
        // A diskless child is reaped by its relay, which then drops the
        // replicas of the batch.
        if let Some(pid) = self.repl.sync_child {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGUSR1) };
        }
    }

    /// The replica's part of the cron.
    pub(crate) fn replica_cron(&mut self, _now_ms: i64) {}

    /// Replaces the dataset with a snapshot from the master (Redis:
    /// readSyncBulkPayload's load step) and starts the new history.
    fn load_from_master(
        &mut self,
        rdb: &[u8],
        replid: &str,
        offset: u64,
    ) -> Result<u64, LinkError> {
        let mut dbs: Vec<Db> = (0..self.keyspace.dbs.len())
            .map(|_| Db::default())
            .collect();
        let opts = self.rdb_load_options(false);
        let loaded = rdbfile::load(rdb, &mut dbs, &opts).map_err(LinkError::Load)?;
        // Watchers of any key see the flush (Redis: emptyData signals).
        self.touch_watched_in_db(None);
        let old = std::mem::replace(&mut self.keyspace.dbs, dbs);
        // Freeing a large dataset takes a while: not on the event loop.
        std::thread::spawn(move || drop(old));
        self.repl.replid = replid.to_string();
        self.repl.clear_replid2();
        self.repl.offset = offset;
        self.repl.read_offset = offset;
        self.repl.backlog = None;
        self.repl.ensure_backlog(self.config.repl_backlog_size);
        self.repl.master_db = 0;
        self.dirty += 1;
        if self.aof.is_on() {
            // The AOF must describe the new dataset: rewrite it.
            self.stop_aof();
            if let Err(e) = self.start_aof(crate::util::time::now_ms()) {
                tracing::warn!(
                    "Failed enabling the AOF after successful master synchronization: {e}"
                );
            }
        }
        Ok(loaded.keys_loaded)
    }

    fn set_link_state(&mut self, epoch: u64, st: LinkState) -> bool {
        if self.repl.link_epoch != epoch {
            return false;
        }
        let now = crate::util::time::now_ms();
        if let Some(m) = &mut self.repl.master {
            if m.state == LinkState::Connected && st != LinkState::Connected {
                m.down_since_ms = now;
            }
            m.state = st;
            m.last_io_ms = now;
            true
        } else {
            false
        }
    }

    /// Applies one command of the master's stream and relays its bytes.
    fn apply_master_command(&mut self, mc: &mut Client, argv: &[&[u8]], raw: &[u8], now_ms: i64) {
        self.repl.applying_master = true;
        self.keyspace.expire_paused = true;
        self.process_command(mc, argv, now_ms);
        self.keyspace.expire_paused = false;
        self.repl.applying_master = false;
        mc.out.clear();
        self.repl.master_db = mc.db;
        // Our backlog and replicas get the very same bytes (Redis:
        // replicationFeedStreamFromMasterStream).
        self.repl.feed_raw(raw);
        if self.repl.backlog.is_none() {
            self.repl.offset += raw.len() as u64;
        }
        self.repl.read_offset = self.repl.offset;
    }
}

/// The link after the handshake: it reads CRLF lines (the snapshot's
/// header, keepalives) and raw bytes (the snapshot, the stream).
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    timeout: Duration,
}

impl Conn {
    async fn fill(&mut self) -> Result<usize, LinkError> {
        match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await {
            Err(_) => Err(LinkError::ReadTimeout),
            Ok(Ok(0)) => Err(LinkError::Closed),
            Ok(Err(e)) => Err(LinkError::Read(e)),
            Ok(Ok(n)) => Ok(n),
        }
    }

    /// The next line without CRLF; lone newlines (keepalives) skipped.
    async fn line(&mut self) -> Result<String, LinkError> {
        loop {
            while self.buf.first() == Some(&b'\n') {
                self.buf.advance(1);
            }
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let raw = self.buf.split_to(i + 1);
                let l = raw.strip_suffix(b"\r\n").unwrap_or(&raw[..i]);
                return Ok(String::from_utf8_lossy(l).into_owned());
            }
            self.fill().await?;
        }
    }
}

/// What the handshake needs from the config.
struct LinkConfig {
    host: String,
    port: u16,
    auth: Option<(String, String)>,
    listening_port: u16,
    announce_ip: String,
    timeout: Duration,
    replid: String,
    offset: u64,
}

fn link_config(s: &Server) -> Option<LinkConfig> {
    let m = s.repl.master.as_ref()?;
    let auth = s
        .config
        .masterauth
        .as_ref()
        .map(|p| (s.config.masteruser.clone(), p.expose().to_string()));
    Some(LinkConfig {
        host: m.host.clone(),
        port: m.port,
        auth,
        listening_port: if s.config.replica_announce_port > 0 {
            s.config.replica_announce_port as u16
        } else {
            s.tcp_port
        },
        announce_ip: s.config.replica_announce_ip.clone(),
        timeout: Duration::from_secs(s.config.repl_timeout.max(1) as u64),
        replid: s.repl.replid.clone(),
        offset: s.repl.offset,
    })
}

/// The handshake (Redis: syncWithMaster's REPL_STATE_SEND_HANDSHAKE to
/// REPL_STATE_RECEIVE_PSYNC_REPLY): PING, AUTH, REPLCONF listening-port,
/// ip-address and capa, then PSYNC, each a request and its reply on the
/// client connection ([`client::Conn`]), except PSYNC's reply, read raw.
/// Returns the PSYNC reply line and the raw connection: the snapshot and
/// the stream follow.
async fn handshake(cfg: &LinkConfig) -> Result<(String, Conn), LinkError> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let mut c = client::Conn::open(&addr, (None, None), cfg.timeout)
        .await
        .map_err(|e| match e {
            client::ClientError::Timeout { .. } => LinkError::ConnectTimeout(addr.clone()),
            e => LinkError::Connect(e),
        })?;
    tracing::info!("MASTER <-> REPLICA sync started");
    let mut call = async |argv: &[&str]| {
        c.call(argv)
            .await
            .map(|r| status_line(&r))
            .map_err(LinkError::Handshake)
    };
    let pong = call(&["PING"]).await?;
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(LinkError::Ping(pong));
    }
    tracing::info!("Master replied to PING, replication can continue...");
    if let Some((user, pass)) = &cfg.auth {
        let mut argv = vec!["AUTH"];
        if !user.is_empty() {
            argv.push(user);
        }
        argv.push(pass);
        let r = call(&argv).await?;
        if r.starts_with('-') {
            return Err(LinkError::Auth(r));
        }
    } else if pong.starts_with("-NOAUTH") {
        return Err(LinkError::Auth(
            "the master requires a password and masterauth is not set".into(),
        ));
    }
    let port = cfg.listening_port.to_string();
    let r = call(&["REPLCONF", "listening-port", &port]).await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF listening-port: {r}");
    }
    if !cfg.announce_ip.is_empty() {
        let r = call(&["REPLCONF", "ip-address", &cfg.announce_ip]).await?;
        if r.starts_with('-') {
            tracing::info!("(Non critical) Master does not understand REPLCONF ip-address: {r}");
        }
    }
    let r = call(&["REPLCONF", "capa", "eof", "capa", "psync2"]).await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF capa: {r}");
    }
    let want = (cfg.offset + 1).to_string();
    tracing::info!(
        "Trying a partial resynchronization (request {}:{want}).",
        cfg.replid
    );
    c.send(&["PSYNC", &cfg.replid, &want])
        .await
        .map_err(LinkError::SendPsync)?;
    // The PSYNC reply is read as a line on the raw connection: while a
    // master waits to start the snapshot (repl-diskless-sync-delay) it
    // sends a newline a second before +FULLRESYNC, which is no RESP reply
    // (Redis: replicationCron's keepalive, skipped by syncReadLine).
    let (stream, rest) = c.into_parts();
    let mut conn = Conn {
        stream,
        buf: BytesMut::from(&rest[..]),
        timeout: cfg.timeout,
    };
    let reply = conn.line().await?;
    Ok((reply, conn))
}

/// A status or error reply as the line it came in (`+PONG`, `-NOAUTH
/// ...`): the handshake's replies are single lines.
fn status_line(r: &Reply) -> String {
    match r {
        Reply::Status(s) => format!("+{s}"),
        Reply::Error(e) => format!("-{e}"),
        other => other.text(),
    }
}

/// Connects and syncs until the link breaks or the epoch changes.
pub async fn link_task(srv: Rc<RefCell<Server>>, epoch: u64) {
    let notify = srv.borrow().repl.link_notify.clone();
    loop {
        if srv.borrow().repl.link_epoch != epoch {
            return;
        }
        let res = sync_with_master(&srv, epoch).await;
        if !srv.borrow_mut().set_link_state(epoch, LinkState::Connect) {
            return;
        }
        if let Err(e) = res {
            tracing::warn!("{e}");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = notify.notified() => {}
        }
    }
}

async fn sync_with_master(srv: &Rc<RefCell<Server>>, epoch: u64) -> LinkResult {
    let Some(cfg) = link_config(&srv.borrow()) else {
        return Ok(());
    };
    srv.borrow_mut()
        .set_link_state(epoch, LinkState::Connecting);
    let (reply, mut conn) = handshake(&cfg).await?;
    match parse_psync_reply(&reply) {
        PsyncReply::Full { replid, offset } => {
            tracing::info!(%replid, offset, "Full resync from master: {replid}:{offset}");
            full_sync(srv, epoch, &mut conn, &replid, offset).await?;
        }
        PsyncReply::Continue { replid } => {
            let mut s = srv.borrow_mut();
            if let Some(new) = replid {
                if new != s.repl.replid {
                    // The master's history continues ours under a new id.
                    s.repl.replid2 = std::mem::replace(&mut s.repl.replid, new);
                    s.repl.second_offset = s.repl.offset as i64 + 1;
                    tracing::info!("Master replication ID changed to {}", s.repl.replid);
                    for r in s.repl.replicas.values_mut() {
                        r.close = true;
                        r.notify.notify_one();
                    }
                }
            }
            let size = s.config.repl_backlog_size;
            s.repl.ensure_backlog(size);
            tracing::info!("Successful partial resynchronization with master.");
            tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        }
        PsyncReply::TryLater(why) => return Err(LinkError::TryLater(why)),
        PsyncReply::Error(why) => return Err(LinkError::Psync(why)),
    }
    if !srv.borrow_mut().set_link_state(epoch, LinkState::Connected) {
        return Ok(());
    }
    stream_from_master(srv, epoch, conn).await
}

/// Reads the snapshot and loads it.
async fn full_sync(
    srv: &Rc<RefCell<Server>>,
    epoch: u64,
    conn: &mut Conn,
    replid: &str,
    offset: u64,
) -> LinkResult {
    srv.borrow_mut().set_link_state(epoch, LinkState::Transfer);
    let header = conn.line().await?;
    let transfer = parse_bulk_header(header.as_bytes())
        .ok_or_else(|| LinkError::SnapshotHeader(header.clone()))?;
    let size = match &transfer {
        Transfer::Len(n) => *n as i64,
        Transfer::Eof(_) => -1,
    };
    tracing::info!(
        "MASTER <-> REPLICA sync: receiving {} from master to memory",
        if size >= 0 {
            format!("{size} bytes")
        } else {
            "streamed RDB".into()
        }
    );
    // The master's declared size is not trusted for allocation: the
    // buffer starts at most at 16 MiB and grows as bytes arrive, so a
    // forged `$<huge>` costs nothing until the bytes come.
    let mut data: Vec<u8> = Vec::with_capacity((size.max(0) as usize).min(16 << 20));
    let mut last_log = std::time::Instant::now();
    loop {
        let have = data.len() + conn.buf.len();
        let done = match &transfer {
            Transfer::Len(n) => have as u64 >= *n,
            Transfer::Eof(mark) => {
                data.extend_from_slice(&conn.buf);
                conn.buf.clear();
                data.len() >= EOF_MARK_LEN && data.ends_with(mark)
            }
        };
        if let Transfer::Len(n) = &transfer {
            let take = ((*n as usize).saturating_sub(data.len())).min(conn.buf.len());
            data.extend_from_slice(&conn.buf[..take]);
            conn.buf.advance(take);
        }
        {
            let mut s = srv.borrow_mut();
            if s.repl.link_epoch != epoch {
                return Ok(());
            }
            if let Some(m) = &mut s.repl.master {
                m.transfer_size = size;
                m.transfer_read = data.len() as u64;
                m.last_io_ms = crate::util::time::now_ms();
            }
        }
        if done {
            break;
        }
        if last_log.elapsed() > Duration::from_secs(1) {
            last_log = std::time::Instant::now();
            tracing::info!("MASTER <-> REPLICA sync: {} bytes received", data.len());
        }
        conn.fill().await?;
    }
    if let Transfer::Eof(_) = transfer {
        data.truncate(data.len() - EOF_MARK_LEN);
    }
    tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    let start = std::time::Instant::now();
    let keys = srv.borrow_mut().load_from_master(&data, replid, offset)?;
    tracing::info!(
        "MASTER <-> REPLICA sync: Finished with success ({keys} keys, {} bytes, loaded in {:.3} s)",
        data.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Applies the master's stream until the link breaks.
async fn stream_from_master(srv: &Rc<RefCell<Server>>, epoch: u64, conn: Conn) -> LinkResult {
    let Conn {
        mut stream,
        mut buf,
        timeout,
    } = conn;
    let db = srv.borrow().repl.master_db;
    let mut mc = Client::new(
        0,
        "master".into(),
        String::new(),
        true,
        crate::util::time::now_ms(),
    );
    mc.flags.master = true;
    mc.db = db;
    let notify = srv.borrow().repl.link_notify.clone();
    let mut ack = tokio::time::interval(Duration::from_secs(1));
    ack.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut args = Vec::new();
    let mut scratch = Vec::new();
    let mut last_io = std::time::Instant::now();
    loop {
        // Apply every complete command that arrived.
        let mut send_ack = false;
        {
            let mut s = srv.borrow_mut();
            if s.repl.link_epoch != epoch {
                return Ok(());
            }
            let now = crate::util::time::now_ms();
            let limits = Limits {
                max_bulk_len: s.config.proto_max_bulk_len as usize,
                authenticated: true,
            };
            loop {
                match parse_request(&buf, &mut args, &mut scratch, &limits) {
                    Ok(ParsedRequest::Complete { consumed, inline }) => {
                        let src: &[u8] = if inline { &scratch } else { &buf };
                        let argv: Vec<&[u8]> = args.iter().map(|&(a, b)| &src[a..b]).collect();
                        let getack = argv.len() >= 2
                            && argv[0].eq_ignore_ascii_case(b"replconf")
                            && argv[1].eq_ignore_ascii_case(b"getack");
                        if getack {
                            send_ack = true;
                            s.repl.feed_raw(&buf[..consumed]);
                            if s.repl.backlog.is_none() {
                                s.repl.offset += consumed as u64;
                            }
                            s.repl.read_offset = s.repl.offset;
                        } else if !argv.is_empty() {
                            let raw = buf[..consumed].to_vec();
                            s.apply_master_command(&mut mc, &argv, &raw, now);
                        }
                        buf.advance(consumed);
                    }
                    Ok(ParsedRequest::Incomplete { .. }) => break,
                    Err(e) => return Err(LinkError::Protocol(e)),
                }
            }
            if let Some(m) = &mut s.repl.master {
                m.last_io_ms = now;
            }
            s.flush_aof();
        }
        if send_ack {
            let off = srv.borrow().repl.offset.to_string();
            write_ack(&mut stream, &off, timeout).await?;
        }
        tokio::select! {
            r = stream.read_buf(&mut buf) => {
                match r {
                    Ok(0) => return Err(LinkError::Closed),
                    Err(e) => return Err(LinkError::Lost(e)),
                    Ok(n) => {
                        last_io = std::time::Instant::now();
                        srv.borrow_mut().stats.total_net_repl_input_bytes += n as u64;
                    }
                }
            }
            _ = ack.tick() => {
                if last_io.elapsed() > timeout {
                    return Err(LinkError::Silent);
                }
                let off = srv.borrow().repl.offset.to_string();
                write_ack(&mut stream, &off, timeout).await?;
            }
            _ = notify.notified() => {}
        }
    }
}

async fn write_ack(stream: &mut TcpStream, off: &str, timeout: Duration) -> LinkResult {
    let mut out = Vec::new();
    crate::resp::client::encode_command(&mut out, &[b"REPLCONF", b"ACK", off.as_bytes()]);
    tokio::time::timeout(timeout, stream.write_all(&out))
        .await
        .map_err(|_| LinkError::WriteTimeout)?
        .map_err(LinkError::Lost)
}
