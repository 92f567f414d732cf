//! The master's side (Redis: syncCommand, masterTryPartialResynchronization,
//! startBgsaveForReplication, rdbSaveToSlavesSockets, replconfCommand).
//!
//! A client that sends PSYNC/SYNC becomes a replica: its connection task
//! hands the socket to [`serve_replica`], which writes the replica's
//! buffer (the sync reply, the snapshot, then the stream) and reads its
//! REPLCONF ACKs. A partial resync copies the backlog from the requested
//! offset. A full resync waits for a snapshot: diskless (the default, when
//! the replica accepts `$EOF:`), a child writes the RDB into a pipe that
//! [`relay`] copies to every replica in the batch; on disk, the child is a
//! BGSAVE and the finished file is sent with a `$<len>` header. Writes made
//! after the fork are held per replica and follow the snapshot.

use std::cell::RefCell;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::rc::Rc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{new_replid, Replica, ReplicaState};
use crate::cmd::ErrorReply;
use crate::resp::{parse_request, Limits, ParsedRequest};
use crate::server::client::Client;
use crate::server::Server;

/// A replica whose unsent output passes this is dropped (the hard limit
/// of the default `client-output-buffer-limit slave`).
const RELAY_PAUSE_BYTES: usize = 16 << 20;

impl Server {
    /// PSYNC/SYNC (Redis: syncCommand): makes `c` a replica and queues the
    /// answer. `psync` is None for SYNC.
    pub fn replica_sync(
        &mut self,
        c: &mut Client,
        psync: Option<(&str, i64)>,
        now_ms: i64,
    ) -> Result<(), ErrorReply> {
        if c.flags.replica {
            return Ok(());
        }
        if let Some(m) = &self.repl.master {
            if m.state != super::LinkState::Connected {
                return Err(ErrorReply::lit(
                    "NOMASTERLINK Can't SYNC while not connected with my master",
                ));
            }
        }
        if c.flags.multi {
            return Err(ErrorReply::lit("ERR Replica can't be in MULTI state"));
        }
        let conf = c.repl_conf.clone().unwrap_or_default();
        let ip = conf.ip.clone().unwrap_or_else(|| {
            c.addr
                .rsplit_once(':')
                .map_or(c.addr.clone(), |(h, _)| h.to_string())
        });
        let mut replica = Replica {
            addr_ip: c.addr.clone(),
            ip,
            port: conf.port,
            state: ReplicaState::WaitBgsaveStart,
            out: Vec::new(),
            held: Vec::new(),
            notify: c.notify.clone(),
            ack_offset: 0,
            ack_ms: now_ms,
            capa_eof: conf.capa_eof,
            close: false,
            wait_since_ms: now_ms,
            psync: true,
            diskless: false,
            start_on_ack: false,
        };
        c.flags.replica = true;
        if let Some((replid, offset)) = psync {
            if let Some(data) = self.partial_resync_data(replid, offset) {
                tracing::info!(
                    replica = %c.addr,
                    offset,
                    bytes = data.len(),
                    "Partial resynchronization request from {} accepted. Sending {} bytes of backlog starting from offset {offset}.",
                    c.addr,
                    data.len()
                );
                let line = if conf.capa_psync2 {
                    format!("+CONTINUE {}\r\n", self.repl.replid)
                } else {
                    "+CONTINUE\r\n".to_string()
                };
                replica.out.extend_from_slice(line.as_bytes());
                replica.out.extend_from_slice(&data);
                replica.state = ReplicaState::Online;
                self.repl.replicas.insert(c.id, replica);
                self.stats.sync_partial_ok += 1;
                return Ok(());
            }
            if replid != "?" {
                self.stats.sync_partial_err += 1;
                if replid != self.repl.replid && replid != self.repl.replid2 {
                    tracing::info!("Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{}' and '{}')", self.repl.replid, self.repl.replid2);
                } else {
                    tracing::info!("Unable to partial resync with replica {} for lack of backlog (Replica request was: {offset}).", c.addr);
                }
            } else {
                tracing::info!(replica = %c.addr, "Full resync requested by replica {}", c.addr);
            }
        }
        self.stats.sync_full += 1;
        if self.repl.backlog.is_none() && !self.is_replica() {
            // A new history starts: nobody could continue the old one.
            self.repl.replid = new_replid();
            self.repl.clear_replid2();
        }
        self.repl.ensure_backlog(self.config.repl_backlog_size);
        // SYNC (the old protocol) gets the snapshot without a FULLRESYNC
        // line and never in the `$EOF:` form.
        replica.psync = psync.is_some();
        replica.capa_eof &= replica.psync;
        self.repl.replicas.insert(c.id, replica);
        tracing::info!(replica = %c.addr, "Replica {} asks for synchronization", c.addr);
        self.start_pending_full_sync(now_ms);
        Ok(())
    }

    /// The backlog from `offset` when a replica may continue from there.
    fn partial_resync_data(&self, replid: &str, offset: i64) -> Option<Vec<u8>> {
        let r = &self.repl;
        let ours = replid == r.replid || (replid == r.replid2 && offset <= r.second_offset);
        if !ours || offset < 0 {
            return None;
        }
        r.backlog.as_ref()?.since(offset as u64)
    }

    /// Starts a snapshot for the replicas waiting for one, when no other
    /// child runs and (diskless) the delay for more replicas has passed.
    pub fn start_pending_full_sync(&mut self, now_ms: i64) {
        if self.has_active_child() {
            return;
        }
        let waiting: Vec<u64> = self
            .repl
            .replicas
            .iter()
            .filter(|(_, r)| r.state == ReplicaState::WaitBgsaveStart)
            .map(|(&id, _)| id)
            .collect();
        if waiting.is_empty() {
            return;
        }
        let diskless = self.config.repl_diskless_sync
            && waiting.iter().all(|id| self.repl.replicas[id].capa_eof);
        if diskless {
            let oldest = waiting
                .iter()
                .map(|id| self.repl.replicas[id].wait_since_ms)
                .min()
                .unwrap_or(now_ms);
            if now_ms - oldest < self.config.repl_diskless_sync_delay * 1000 {
                return;
            }
        }
        // The stream after the fork starts with a SELECT.
        self.repl.reset_selected_db();
        let offset = self.repl.offset;
        let res = if diskless {
            self.fork_diskless(&waiting, now_ms)
        } else {
            tracing::info!("Starting BGSAVE for SYNC with target: disk");
            self.rdb_bgsave(now_ms).map(|_| {
                self.repl.disk_sync_pid = self.rdb.child.map(|c| c.pid);
            })
        };
        if let Err(e) = res {
            tracing::warn!("BGSAVE for replication failed: {e}");
            for id in &waiting {
                if let Some(r) = self.repl.replicas.get_mut(id) {
                    r.close = true;
                    r.notify.notify_one();
                }
            }
            return;
        }
        let line = format!("+FULLRESYNC {} {offset}\r\n", self.repl.replid);
        for id in &waiting {
            if let Some(r) = self.repl.replicas.get_mut(id) {
                // Keepalive newlines may be queued: the reply goes after.
                if r.psync {
                    r.out.extend_from_slice(line.as_bytes());
                }
                r.diskless = diskless;
                r.state = ReplicaState::WaitBgsaveEnd;
                r.notify.notify_one();
            }
        }
    }

    /// Forks a child that writes the RDB into a pipe, and a relay that
    /// copies it to the replicas (Redis: rdbSaveToSlavesSockets).
    fn fork_diskless(&mut self, targets: &[u64], now_ms: i64) -> std::io::Result<()> {
        let mut fds = [0i32; 2];
        // SAFETY: creates a pipe into a valid two-int array.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let snap = self.snapshot(now_ms, false);
        let listeners = self.rdb.listener_fds.clone();
        // The child writes the RDB into the pipe; the read end is ours.
        let forked = crate::util::fork::fork_child(&listeners, || {
            // SAFETY: the read end is the parent's; the write end is ours.
            unsafe { libc::close(fds[0]) };
            // SAFETY: fds[1] is an open descriptor owned by nobody else here.
            let f = unsafe { std::fs::File::from_raw_fd(fds[1]) };
            snap.write_into(std::io::BufWriter::with_capacity(1 << 16, f))
                .is_ok()
        });
        // SAFETY: the write end belongs to the child now (or, when the
        // fork failed, to nobody).
        unsafe { libc::close(fds[1]) };
        let pid = match forked {
            Ok(pid) => pid,
            Err(e) => {
                // SAFETY: closing our own read end.
                unsafe { libc::close(fds[0]) };
                return Err(e);
            }
        };
        tracing::info!(
            "Starting BGSAVE for SYNC with target: replicas sockets (pid {pid}, {} replicas)",
            targets.len()
        );
        self.repl.sync_child = Some(pid);
        // SAFETY: fds[0] is our open read end, handed to the relay.
        let pipe = unsafe { std::fs::File::from_raw_fd(fds[0]) };
        let mark: Vec<u8> = new_replid().into_bytes();
        if let Some(srv) = self.self_ref.upgrade() {
            tokio::task::spawn_local(relay(srv, pipe, pid, targets.to_vec(), mark));
        }
        Ok(())
    }

    /// A disk-based snapshot for replicas finished (from the BGSAVE reaper).
    pub fn full_sync_disk_done(&mut self, pid: i32, ok: bool) {
        if self.repl.disk_sync_pid != Some(pid) {
            return;
        }
        self.repl.disk_sync_pid = None;
        let data = if ok {
            std::fs::read(self.rdb_path()).ok()
        } else {
            None
        };
        for r in self.repl.replicas.values_mut() {
            if r.state != ReplicaState::WaitBgsaveEnd {
                continue;
            }
            match &data {
                Some(d) => {
                    r.out
                        .extend_from_slice(format!("${}\r\n", d.len()).as_bytes());
                    r.out.extend_from_slice(d);
                    finish_sync(r);
                }
                None => r.close = true,
            }
            r.notify.notify_one();
        }
        if data.is_some() {
            tracing::info!("Synchronization with replicas succeeded (disk)");
        }
    }

    /// REPLCONF ACK from replica `id`.
    pub fn replica_ack(&mut self, id: u64, offset: u64, now_ms: i64) {
        if let Some(r) = self.repl.replicas.get_mut(&id) {
            if offset > r.ack_offset {
                r.ack_offset = offset;
            }
            r.ack_ms = now_ms;
            if r.start_on_ack {
                r.start_on_ack = false;
                finish_sync(r);
                r.notify.notify_one();
            }
        }
        self.unblock_waiting_for_acks();
    }

    /// Forgets a replica whose connection ended.
    pub fn remove_replica(&mut self, id: u64, now_ms: i64) {
        if let Some(r) = self.repl.replicas.remove(&id) {
            tracing::info!(replica_ip = %r.ip, replica_port = r.port, "Connection with replica {}:{} lost.", r.ip, r.port);
        }
        if self.repl.replicas.is_empty() {
            self.repl.no_replicas_since_ms = now_ms;
        }
    }
}

/// The snapshot is out: the held stream follows and the replica is online.
fn finish_sync(r: &mut Replica) {
    let held = std::mem::take(&mut r.held);
    r.out.extend_from_slice(&held);
    r.state = ReplicaState::Online;
    r.ack_ms = crate::util::time::now_ms();
}

/// Copies the child's RDB from the pipe to the replicas of the batch,
/// framed as `$EOF:<mark>` … `<mark>`, then releases their held stream.
async fn relay(
    srv: Rc<RefCell<Server>>,
    pipe: std::fs::File,
    pid: i32,
    targets: Vec<u64>,
    mark: Vec<u8>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
    // Pipes are read by a plain thread: the event loop never blocks.
    let reader = std::thread::Builder::new()
        .name("repl-relay".into())
        .spawn(move || {
            let mut pipe = pipe;
            let mut total = 0u64;
            loop {
                let mut buf = vec![0u8; 1 << 16];
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        total += n as u64;
                        if tx.blocking_send(buf).is_err() {
                            break;
                        }
                    }
                }
            }
            total
        });
    {
        let mut s = srv.borrow_mut();
        let mut head = b"$EOF:".to_vec();
        head.extend_from_slice(&mark);
        head.extend_from_slice(b"\r\n");
        for id in &targets {
            if let Some(r) = s.repl.replicas.get_mut(id) {
                r.out.extend_from_slice(&head);
                r.notify.notify_one();
            }
        }
    }
    while let Some(chunk) = rx.recv().await {
        // Wait while a replica has a lot unsent (the pipe then fills and
        // the child waits): memory stays bounded for large datasets.
        loop {
            let behind = {
                let s = srv.borrow();
                targets
                    .iter()
                    .filter_map(|id| s.repl.replicas.get(id))
                    .any(|r| r.out.len() > RELAY_PAUSE_BYTES && !r.close)
            };
            if !behind {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let mut s = srv.borrow_mut();
        for id in &targets {
            if let Some(r) = s.repl.replicas.get_mut(id) {
                r.out.extend_from_slice(&chunk);
                r.notify.notify_one();
            }
        }
    }
    let total = reader.ok().and_then(|h| h.join().ok()).unwrap_or(0);
    let mut status = 0;
    // SAFETY: reaping our own child, which closed the pipe as it exited.
    let reaped = unsafe { libc::waitpid(pid, &mut status, 0) } == pid;
    let ok = reaped && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let mut s = srv.borrow_mut();
    s.repl.sync_child = None;
    for id in &targets {
        if let Some(r) = s.repl.replicas.get_mut(id) {
            if ok {
                r.out.extend_from_slice(&mark);
                r.start_on_ack = true;
                r.ack_ms = crate::util::time::now_ms();
            } else {
                r.close = true;
            }
            r.notify.notify_one();
        }
    }
    if ok {
        tracing::info!(
            "Diskless sync of {total} bytes to {} replicas finished",
            targets.len()
        );
    } else {
        tracing::warn!("Diskless sync child failed; the replicas will retry");
    }
    let now = crate::util::time::now_ms();
    s.start_pending_full_sync(now);
}

/// Serves a replica's connection after PSYNC/SYNC: writes its buffer,
/// reads its REPLCONF ACKs, until either side closes.
pub async fn serve_replica(
    srv: Rc<RefCell<Server>>,
    client: Rc<RefCell<Client>>,
    stream: TcpStream,
    mut inbuf: BytesMut,
) {
    let (id, notify, first) = {
        let mut c = client.borrow_mut();
        (c.id, c.notify.clone(), std::mem::take(&mut c.out))
    };
    let (mut rd, mut wr) = stream.into_split();
    let reader_srv = srv.clone();
    let reader_notify = notify.clone();
    let reader = tokio::task::spawn_local(async move {
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        loop {
            loop {
                let limits = Limits {
                    max_bulk_len: 1 << 20,
                    authenticated: true,
                };
                match parse_request(&inbuf, &mut args, &mut scratch, &limits) {
                    Ok(ParsedRequest::Complete { consumed, inline }) => {
                        let src: &[u8] = if inline { &scratch } else { &inbuf };
                        let argv: Vec<&[u8]> = args.iter().map(|&(s, e)| &src[s..e]).collect();
                        let now = crate::util::time::now_ms();
                        if argv.len() >= 3
                            && argv[0].eq_ignore_ascii_case(b"replconf")
                            && argv[1].eq_ignore_ascii_case(b"ack")
                        {
                            if let Some(off) = std::str::from_utf8(argv[2])
                                .ok()
                                .and_then(|s| s.parse::<u64>().ok())
                            {
                                reader_srv.borrow_mut().replica_ack(id, off, now);
                            }
                        } else if let Some(r) = reader_srv.borrow_mut().repl.replicas.get_mut(&id) {
                            // Anything else (PING) still shows the replica lives.
                            r.ack_ms = now;
                        }
                        inbuf.advance(consumed);
                    }
                    Ok(ParsedRequest::Incomplete { .. }) => break,
                    Err(_) => {
                        inbuf.clear();
                        break;
                    }
                }
            }
            match rd.read_buf(&mut inbuf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if let Some(r) = reader_srv.borrow_mut().repl.replicas.get_mut(&id) {
            r.close = true;
        }
        reader_notify.notify_one();
    });
    let mut ok = wr.write_all(&first).await.is_ok();
    let limit = srv.borrow().obuf_replica_limit();
    while ok {
        let killed = client.borrow().flags.close_asap;
        let (buf, close) = {
            let mut s = srv.borrow_mut();
            match s.repl.replicas.get_mut(&id) {
                Some(r) => {
                    let over =
                        limit > 0 && r.state == ReplicaState::Online && r.out.len() as u64 > limit;
                    if over {
                        tracing::warn!("Client id={id} scheduled to be closed ASAP for overcoming of output buffer limits (replica).");
                    }
                    (std::mem::take(&mut r.out), r.close || over || killed)
                }
                None => (Vec::new(), true),
            }
        };
        if close {
            break;
        }
        if buf.is_empty() {
            notify.notified().await;
            continue;
        }
        ok = wr.write_all(&buf).await.is_ok();
        srv.borrow_mut().stats.total_net_repl_output_bytes += buf.len() as u64;
    }
    reader.abort();
    let _ = wr.shutdown().await;
    let now = crate::util::time::now_ms();
    let mut s = srv.borrow_mut();
    s.remove_replica(id, now);
    let mut c = client.borrow_mut();
    s.unregister_client(&mut c);
}
