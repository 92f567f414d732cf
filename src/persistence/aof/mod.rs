//! The append-only file, Redis 7.0's multi-part form (Redis: aof.c).
//!
//! `dir/appenddirname/` holds a manifest (`<appendfilename>.manifest`), a
//! base file (an RDB snapshot, `<appendfilename>.<n>.base.rdb`) and
//! incremental files (`<appendfilename>.<n>.incr.aof`) with every write
//! command since, in RESP form. The layout is the one redis-server 7.0
//! writes, so either server loads the other's directory.
//!
//! Writes: every command that changed the dataset reaches
//! `Server::propagate`, which appends it to `AofState::buf` (with a
//! SELECT when the database changes; a command that propagated several
//! writes, like EXEC, is wrapped in MULTI/EXEC). Connections call
//! [`Server::write_aof`] before they send replies, so a client never sees
//! an acknowledgement for a write that is not in the file. With
//! `appendfsync always` the reply also waits for an fsync that covers it:
//! the connection yields once so the other connections that have
//! requests ready write theirs too, and the first to resume fsyncs for
//! all of them ([`Server::sync_aof`], a group commit, as redis-server's
//! one fsync per event-loop turn). With `everysec` a background thread
//! fsyncs once a second; with `no` the kernel decides.
//!
//! Rewrites (BGREWRITEAOF, and automatically when the AOF has grown by
//! `auto-aof-rewrite-percentage`): the parent starts a new incremental file
//! and records it in the manifest, then forks; the child writes the
//! dataset as a new base RDB; when it succeeds the parent installs the new
//! base, and the old base and increments become history and are deleted.
//! A crash at any point leaves a manifest whose files all exist.
//!
//! `manifest` and `reader` are pure; `load` replays the files at start-up.

pub mod load;
pub mod manifest;
pub mod reader;
pub mod rewrite;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use manifest::{Kind, Manifest};

use crate::persistence::save::Child;
use crate::persistence::LoadError;
use crate::server::Server;

/// Whether the AOF is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// appendonly no.
    #[default]
    Off,
    /// Writing.
    On,
    /// Turned on at run time: writing to a temporary increment until the
    /// first rewrite has made a base (Redis: AOF_WAIT_REWRITE).
    WaitRewrite,
}

/// Fsync policy (`appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After every write, before the reply.
    Always,
    /// Once a second, in the background.
    EverySec,
    /// Left to the kernel.
    No,
}

impl Fsync {
    /// From the directive's value.
    pub fn parse(s: &str) -> Fsync {
        match s {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// State shared with the background fsync thread (Redis: the bio thread's
/// BIO_AOF_FSYNC jobs).
#[derive(Default)]
struct Syncer {
    file: Mutex<Option<Arc<File>>>,
    /// Bytes were written since the last fsync.
    pending: AtomicBool,
    /// An fsync is running (INFO aof_pending_bio_fsync).
    running: AtomicBool,
}

impl Syncer {
    fn run(self: Arc<Self>) {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            if !self.pending.swap(false, Ordering::AcqRel) {
                continue;
            }
            let f = self.file.lock().ok().and_then(|g| g.clone());
            if let Some(f) = f {
                self.running.store(true, Ordering::Release);
                if let Err(e) = f.sync_data() {
                    tracing::warn!("Error syncing the AOF to disk: {e}");
                }
                self.running.store(false, Ordering::Release);
            }
        }
    }
}

/// AOF bookkeeping (Redis: server.aof_*).
pub struct AofState {
    /// On, off, or waiting for its first rewrite.
    pub status: Status,
    /// The files that make up the AOF.
    pub manifest: Manifest,
    /// The increment being appended to.
    file: Option<Arc<File>>,
    /// Commands not yet written (Redis: aof_buf).
    pub buf: Vec<u8>,
    /// The database the file's last SELECT chose.
    selected_db: Option<usize>,
    /// Size of all files (INFO aof_current_size).
    pub current_size: u64,
    /// Size after the last rewrite (aof_base_size), the base of the
    /// auto-rewrite growth check.
    pub base_size: u64,
    /// The running rewrite.
    pub child: Option<Child>,
    /// The running rewrite writes an RDB (else commands).
    child_rdb: bool,
    /// Unix seconds of the last `#TS:` annotation (aof-timestamp-enabled).
    last_ts: i64,
    /// A rewrite waits for another child to finish.
    pub rewrite_scheduled: bool,
    /// Whether the last rewrite succeeded.
    pub last_rewrite_failed: bool,
    /// Seconds the last rewrite took, -1 before any.
    pub last_rewrite_time_sec: i64,
    /// Rewrites started.
    pub rewrites: u64,
    /// Failed rewrites in a row.
    pub consecutive_failures: u64,
    /// Bytes written to the files since start-up.
    written: u64,
    /// Of those, bytes known to be fsynced (appendfsync always).
    synced: u64,
    /// The last write error, while writes fail (aof_last_write_status).
    pub write_error: Option<String>,
    /// Unix ms of the last failed rewrite (to pace retries).
    last_failure_ms: i64,
    syncer: Option<Arc<Syncer>>,
    /// Where the current top-level command's propagation starts in `buf`
    /// and how many commands it propagated (for MULTI/EXEC wrapping).
    mark: Option<(usize, u32)>,
}

impl Default for AofState {
    fn default() -> Self {
        AofState {
            status: Status::Off,
            manifest: Manifest::default(),
            file: None,
            buf: Vec::new(),
            selected_db: None,
            current_size: 0,
            base_size: 0,
            child: None,
            child_rdb: true,
            last_ts: 0,
            rewrite_scheduled: false,
            last_rewrite_failed: false,
            last_rewrite_time_sec: -1,
            rewrites: 0,
            consecutive_failures: 0,
            written: 0,
            synced: 0,
            write_error: None,
            last_failure_ms: 0,
            syncer: None,
            mark: None,
        }
    }
}

/// Where the AOF lives.
pub struct Paths {
    /// `dir/appenddirname`.
    pub dir: PathBuf,
    /// `appendfilename`, the prefix of every file name.
    pub prefix: String,
}

impl Paths {
    /// From the configuration.
    pub fn new(cfg: &crate::config::Config) -> Paths {
        Paths {
            dir: Path::new(&cfg.dir).join(&cfg.appenddirname),
            prefix: cfg.appendfilename.clone(),
        }
    }

    /// The manifest's path.
    pub fn manifest(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.prefix))
    }

    /// A file of the AOF.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The increment written while the first rewrite runs.
    fn temp_incr(&self) -> PathBuf {
        self.dir.join(format!("temp-{}.incr", self.prefix))
    }
}

/// Writes `bytes` to `path` through a temp file: write, fsync, rename,
/// fsync the directory (Redis: persistAofManifest).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        "temp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

fn open_append(path: &Path) -> io::Result<Arc<File>> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    Ok(Arc::new(f))
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// `MULTI` as it appears in the file.
const MULTI: &[u8] = b"*1\r\n$5\r\nMULTI\r\n";

impl AofState {
    /// Whether commands are being appended.
    pub fn is_on(&self) -> bool {
        self.status != Status::Off
    }

    /// Appends one command, preceded by SELECT when `db` differs from the
    /// file's current database and, with `ts` (aof-timestamp-enabled), by
    /// a `#TS:<unix seconds>` annotation when the second changed (Redis:
    /// feedAppendOnlyFile).
    pub fn feed(&mut self, db: usize, argv: &[&[u8]], ts: Option<i64>) {
        if let Some(t) = ts.filter(|&t| t > self.last_ts) {
            self.buf
                .extend_from_slice(format!("#TS:{t}\r\n").as_bytes());
            self.last_ts = t;
        }
        if self.selected_db != Some(db) {
            let mut num = itoa::Buffer::new();
            crate::resp::client::encode_command(
                &mut self.buf,
                &[b"SELECT", num.format(db).as_bytes()],
            );
            self.selected_db = Some(db);
        }
        crate::resp::client::encode_command(&mut self.buf, argv);
        if let Some((_, n)) = &mut self.mark {
            *n += 1;
        }
    }

    /// Starts collecting one top-level command's propagation.
    pub fn begin_command(&mut self) {
        if self.is_on() {
            self.mark = Some((self.buf.len(), 0));
        }
    }

    /// Ends it: several commands (EXEC, a write that also expired keys)
    /// are wrapped in MULTI … EXEC so they load all or nothing (Redis:
    /// propagatePendingCommands).
    pub fn end_command(&mut self) {
        let Some((start, n)) = self.mark.take() else {
            return;
        };
        if n > 1 && start <= self.buf.len() {
            self.buf.splice(start..start, MULTI.iter().copied());
            crate::resp::client::encode_command(&mut self.buf, &[b"EXEC"]);
        }
    }

    fn set_file(&mut self, f: Option<Arc<File>>) {
        if let Some(s) = &self.syncer {
            if let Ok(mut g) = s.file.lock() {
                *g = f.clone();
            }
        }
        self.file = f;
        // A new file starts without a selected database or timestamp.
        self.selected_db = None;
        self.last_ts = 0;
    }

    fn syncer(&mut self) -> &Arc<Syncer> {
        self.syncer.get_or_insert_with(|| {
            let s = Arc::new(Syncer::default());
            *s.file.lock().unwrap_or_else(|e| e.into_inner()) = self.file.clone();
            let t = s.clone();
            // The thread lives as long as the process.
            let _ = std::thread::Builder::new()
                .name("aof-fsync".into())
                .spawn(move || t.run());
            s
        })
    }

    /// INFO aof_pending_bio_fsync.
    pub fn fsync_in_progress(&self) -> bool {
        self.syncer
            .as_ref()
            .is_some_and(|s| s.running.load(Ordering::Acquire))
    }
}

impl Server {
    /// Writes the buffered commands and applies the fsync policy at once
    /// (Redis: flushAppendOnlyFile), for callers outside a connection
    /// (the cron, a rewrite starting, shutdown).
    pub fn flush_aof(&mut self) {
        if let Some(target) = self.write_aof() {
            self.sync_aof(target);
        }
    }

    /// Fsyncs the AOF up to `target` (a `written` count) unless an fsync
    /// since already covered it. Under `appendfsync always` only.
    pub fn sync_aof(&mut self, target: u64) {
        if self.aof.synced >= target {
            return;
        }
        // Writes queued by connections that ran meanwhile join this fsync.
        self.write_aof();
        let Some(f) = self.aof.file.clone() else {
            return;
        };
        if let Err(e) = f.sync_data() {
            tracing::warn!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting...");
            std::process::exit(1);
        }
        self.aof.synced = self.aof.written;
    }

    /// Writes the buffered commands to the AOF (before any reply goes
    /// out). Returns the `written` count an fsync must reach before the
    /// replies may be sent, under `appendfsync always`.
    pub fn write_aof(&mut self) -> Option<u64> {
        let always = Fsync::parse(&self.config.appendfsync) == Fsync::Always;
        let aof = &mut self.aof;
        let pending = || (always && aof.synced < aof.written).then_some(aof.written);
        if aof.buf.is_empty() {
            return pending();
        }
        let f = aof.file.clone()?;
        let before = aof.current_size;
        match (&*f).write_all(&aof.buf) {
            Ok(()) => {
                aof.current_size += aof.buf.len() as u64;
                aof.written += aof.buf.len() as u64;
                aof.buf.clear();
                if aof.buf.capacity() > 4 << 20 {
                    aof.buf.shrink_to(64 << 10);
                }
                if aof.write_error.take().is_some() {
                    tracing::warn!("AOF write error looks solved, Redis can write again.");
                }
            }
            Err(e) => {
                // Cut a partial write off so the file ends at a command
                // boundary, and keep the buffer to retry.
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                let written = size.saturating_sub(before);
                if written > 0 && f.set_len(size - written).is_err() {
                    // The partial command stays in the file; drop what did
                    // reach it from the buffer so the retry completes it.
                    let n = (written as usize).min(aof.buf.len());
                    aof.buf.drain(..n);
                    aof.current_size += written;
                }
                tracing::warn!("Error writing to the AOF file: {e}");
                if Fsync::parse(&self.config.appendfsync) == Fsync::Always {
                    // The reply must not go out, and the data can't be
                    // made durable: stop, as redis-server does.
                    tracing::warn!("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                    std::process::exit(1);
                }
                aof.write_error = Some(e.to_string());
                return None;
            }
        }
        // no-appendfsync-on-rewrite: a child's disk traffic must not make
        // the server wait on fsync; the data is written, not yet synced.
        if self.config.no_appendfsync_on_rewrite && self.has_active_child() {
            self.aof.synced = self.aof.written;
            return None;
        }
        let aof = &mut self.aof;
        match Fsync::parse(&self.config.appendfsync) {
            Fsync::Always => {}
            Fsync::EverySec => {
                aof.syncer().pending.store(true, Ordering::Release);
            }
            Fsync::No => {}
        }
        let aof = &self.aof;
        (always && aof.synced < aof.written).then_some(aof.written)
    }

    /// Writes are refused while the AOF can't be written (Redis:
    /// writeCommandsDeniedByDiskError's AOF half).
    pub fn aof_write_error(&self) -> Option<String> {
        if !self.aof.is_on() {
            return None;
        }
        self.aof
            .write_error
            .as_ref()
            .map(|e| format!("MISCONF Errors writing to the AOF file: {e}"))
    }

    fn persist_manifest(&self, paths: &Paths) -> io::Result<()> {
        write_atomic(&paths.manifest(), self.aof.manifest.to_string().as_bytes())
    }

    /// Opens the AOF for appending after start-up loading (Redis:
    /// aofOpenIfNeededOnServerStart): with no files yet, the current
    /// dataset becomes the first base; the last increment is opened, or a
    /// new one is started and recorded in the manifest.
    pub fn open_aof_on_start(&mut self, now_ms: i64) -> Result<(), LoadError> {
        let paths = Paths::new(&self.config);
        std::fs::create_dir_all(&paths.dir)
            .map_err(LoadError::io("Can't create the AOF directory", &paths.dir))?;
        if self.aof.manifest.base.is_none() && self.aof.manifest.incrs.is_empty() {
            let (name, seq) = self
                .aof
                .manifest
                .next_base_name(&paths.prefix, self.config.aof_use_rdb_preamble);
            self.snapshot(now_ms, true)
                .write_to(
                    &paths.file(&format!("temp-{name}")),
                    Some(&paths.file(&name)),
                )
                .map_err(LoadError::io(
                    "Can't create the AOF base file",
                    paths.file(&name),
                ))?;
            self.aof.manifest.install_base(name.clone(), seq);
            tracing::info!("Creating AOF base file {name} on server start");
        }
        let incr = match self.aof.manifest.incrs.last() {
            Some(f) => f.name.clone(),
            None => {
                let (name, seq) = self.aof.manifest.next_incr_name(&paths.prefix);
                self.aof.manifest.push_incr(name.clone(), seq);
                tracing::info!("Creating AOF incr file {name} on server start");
                name
            }
        };
        let f = open_append(&paths.file(&incr)).map_err(LoadError::io(
            "Can't open the append-only file",
            paths.file(&incr),
        ))?;
        self.persist_manifest(&paths).map_err(LoadError::io(
            "Can't persist the AOF manifest",
            paths.manifest(),
        ))?;
        self.aof.set_file(Some(f));
        self.aof.status = Status::On;
        self.aof.current_size = self
            .aof
            .manifest
            .load_order()
            .map(|f| file_size(&paths.file(&f.name)))
            .sum();
        self.aof.base_size = self.aof.current_size;
        self.delete_aof_history(&paths);
        Ok(())
    }

    /// Removes the files a rewrite replaced (Redis: aofDelHistoryFiles).
    fn delete_aof_history(&mut self, paths: &Paths) {
        if self.aof.manifest.history.is_empty() {
            return;
        }
        for f in std::mem::take(&mut self.aof.manifest.history) {
            tracing::info!("Removing the history file {} in the background", f.name);
            let _ = std::fs::remove_file(paths.file(&f.name));
        }
        if let Err(e) = self.persist_manifest(paths) {
            tracing::warn!("Can't persist the AOF manifest: {e}");
        }
    }

    /// Whether a background save or rewrite is running (Redis:
    /// hasActiveChildProcess).
    pub fn has_active_child(&self) -> bool {
        self.rdb.child.is_some() || self.aof.child.is_some() || self.repl.sync_child.is_some()
    }

    /// BGREWRITEAOF (Redis: rewriteAppendOnlyFileBackground): a new
    /// increment receives the writes from now on, and a child writes the
    /// dataset as the next base.
    pub fn aof_rewrite_background(&mut self, now_ms: i64) -> io::Result<()> {
        let paths = Paths::new(&self.config);
        self.flush_aof();
        std::fs::create_dir_all(&paths.dir)?;
        // The writes after the fork go to a fresh increment (unless the
        // current one is still empty), recorded in the manifest first.
        match self.aof.status {
            Status::On => {
                let reuse = self
                    .aof
                    .manifest
                    .incrs
                    .last()
                    .is_some_and(|f| file_size(&paths.file(&f.name)) == 0);
                if !reuse {
                    let (name, seq) = self.aof.manifest.next_incr_name(&paths.prefix);
                    let f = open_append(&paths.file(&name))?;
                    self.aof.manifest.push_incr(name, seq);
                    if let Err(e) = self.persist_manifest(&paths) {
                        self.aof.manifest.incrs.pop();
                        self.aof.manifest.incr_seq -= 1;
                        let _ = std::fs::remove_file(
                            paths.file(&format!("{}.{seq}.incr.aof", paths.prefix)),
                        );
                        return Err(e);
                    }
                    if let Some(old) = self.aof.file.take() {
                        let _ = old.sync_data();
                    }
                    self.aof.set_file(Some(f));
                }
            }
            Status::WaitRewrite => {
                // Writes since AOF was turned on go to a temporary increment
                // that becomes the first real one when the base is done.
                if self.aof.file.is_none() {
                    let f = OpenOptions::new()
                        .create(true)
                        .write(true)
                        .truncate(true)
                        .open(paths.temp_incr())?;
                    self.aof.set_file(Some(Arc::new(f)));
                }
            }
            Status::Off => {}
        }
        let forked = {
            let snap = self.snapshot(now_ms, true);
            let listeners = self.rdb.listener_fds.clone();
            crate::util::fork::fork_child(&listeners, || {
                let tmp = paths.file(&format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
                snap.write_to(&tmp, None).is_ok()
            })
        };
        let pid = match forked {
            Ok(pid) => pid,
            Err(e) => {
                tracing::warn!("Can't rewrite append only file in background: fork: {e}");
                self.aof_rewrite_failed(now_ms);
                return Err(e);
            }
        };
        tracing::info!("Background append only file rewriting started by pid {pid}");
        self.aof.child = Some(Child {
            pid,
            start_ms: now_ms,
            dirty_at_fork: self.dirty,
        });
        self.aof.child_rdb = self.config.aof_use_rdb_preamble;
        self.aof.rewrite_scheduled = false;
        self.aof.rewrites += 1;
        Ok(())
    }

    fn aof_rewrite_failed(&mut self, now_ms: i64) {
        self.aof.last_rewrite_failed = true;
        self.aof.consecutive_failures += 1;
        self.aof.last_failure_ms = now_ms;
    }

    /// A rewrite child ended (Redis: backgroundRewriteDoneHandler).
    pub(crate) fn aof_rewrite_done(&mut self, child: Child, ok: bool, now_ms: i64) {
        self.aof.child = None;
        self.aof.last_rewrite_time_sec = (now_ms - child.start_ms) / 1000;
        let paths = Paths::new(&self.config);
        let tmp = paths.file(&format!("temp-rewriteaof-bg-{}.aof", child.pid));
        if !ok || self.aof.status == Status::Off {
            let _ = std::fs::remove_file(&tmp);
            if ok {
                return;
            }
            tracing::warn!("Background AOF rewrite terminated with error");
            self.aof_rewrite_failed(now_ms);
            return;
        }
        let res = self.install_rewritten_base(&paths, &tmp);
        if let Err(e) = res {
            tracing::warn!("Error installing the rewritten AOF base: {e}");
            let _ = std::fs::remove_file(&tmp);
            self.aof_rewrite_failed(now_ms);
            return;
        }
        self.aof.last_rewrite_failed = false;
        self.aof.consecutive_failures = 0;
        self.delete_aof_history(&paths);
        self.aof.current_size = self
            .aof
            .manifest
            .load_order()
            .map(|f| file_size(&paths.file(&f.name)))
            .sum::<u64>()
            + self.aof.buf.len() as u64;
        self.aof.base_size = self.aof.current_size;
        tracing::info!("Background AOF rewrite finished successfully");
    }

    /// Renames the child's file into the next base and records it; when AOF
    /// was just turned on, the temporary increment becomes the first one.
    fn install_rewritten_base(&mut self, paths: &Paths, tmp: &Path) -> io::Result<()> {
        let old = self.aof.manifest.clone();
        let (base, bseq) = self
            .aof
            .manifest
            .next_base_name(&paths.prefix, self.aof.child_rdb);
        std::fs::rename(tmp, paths.file(&base))?;
        let mut new_incr = None;
        if self.aof.status == Status::WaitRewrite {
            // Every earlier file (from a previous time AOF was on) is
            // replaced: the new base covers the whole dataset.
            for f in self.aof.manifest.incrs.drain(..) {
                self.aof.manifest.history.push(manifest::AofFile {
                    kind: Kind::History,
                    ..f
                });
            }
            let (name, seq) = self.aof.manifest.next_incr_name(&paths.prefix);
            self.flush_aof();
            std::fs::rename(paths.temp_incr(), paths.file(&name))?;
            self.aof.manifest.push_incr(name.clone(), seq);
            new_incr = Some(name);
        }
        self.aof.manifest.install_base(base, bseq);
        if let Err(e) = self.persist_manifest(paths) {
            self.aof.manifest = old;
            if let Some(name) = &new_incr {
                let _ = std::fs::rename(paths.file(name), paths.temp_incr());
            }
            return Err(e);
        }
        if new_incr.is_some() {
            // The open descriptor followed the rename.
            self.aof.status = Status::On;
            tracing::info!("Background AOF rewrite terminated with success; AOF is on");
        }
        Ok(())
    }

    /// Kills a running rewrite (SHUTDOWN, turning AOF off) and removes its
    /// temp file (Redis: killAppendOnlyChild).
    pub fn kill_aof_child(&mut self) {
        if let Some(child) = self.aof.child.take() {
            tracing::info!("Killing running AOF rewrite child: {}", child.pid);
            let mut status = 0;
            // SAFETY: signalling and reaping our own child.
            unsafe {
                libc::kill(child.pid, libc::SIGUSR1);
                libc::waitpid(child.pid, &mut status, 0);
            }
            let paths = Paths::new(&self.config);
            let _ =
                std::fs::remove_file(paths.file(&format!("temp-rewriteaof-bg-{}.aof", child.pid)));
        }
    }

    /// CONFIG SET appendonly yes (Redis: startAppendOnly): writes go to a
    /// temporary increment at once, and a rewrite makes the base.
    pub fn start_aof(&mut self, now_ms: i64) -> Result<(), crate::cmd::ErrorReply> {
        self.aof.status = Status::WaitRewrite;
        self.aof.selected_db = None;
        if self.rdb.child.is_some() {
            self.aof.rewrite_scheduled = true;
            tracing::info!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
            // Writes are collected from now on.
            let paths = Paths::new(&self.config);
            let f = std::fs::create_dir_all(&paths.dir).and_then(|_| {
                OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(true)
                    .open(paths.temp_incr())
            });
            return match f {
                Ok(f) => {
                    self.aof.set_file(Some(Arc::new(f)));
                    Ok(())
                }
                Err(e) => {
                    self.aof.status = Status::Off;
                    Err(crate::cmd::ErrorReply::err(format_args!(
                        "Can't open the append-only file: {e}"
                    )))
                }
            };
        }
        self.kill_aof_child();
        if let Err(e) = self.aof_rewrite_background(now_ms) {
            self.aof.status = Status::Off;
            self.aof.set_file(None);
            return Err(crate::cmd::ErrorReply::err(format_args!(
                "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the server logs for more information on the error: {e}"
            )));
        }
        Ok(())
    }

    /// CONFIG SET appendonly no (Redis: stopAppendOnly).
    pub fn stop_aof(&mut self) {
        self.flush_aof();
        if let Some(f) = &self.aof.file {
            let _ = f.sync_data();
        }
        self.kill_aof_child();
        if self.aof.status == Status::WaitRewrite {
            let _ = std::fs::remove_file(Paths::new(&self.config).temp_incr());
        }
        self.aof.set_file(None);
        self.aof.buf.clear();
        self.aof.status = Status::Off;
        self.aof.rewrite_scheduled = false;
    }

    /// The AOF part of the cron: reaps a rewrite, starts a scheduled one,
    /// and rewrites automatically when the files have grown enough.
    pub fn aof_cron(&mut self, now_ms: i64) {
        if let Some(child) = self.aof.child {
            let mut status = 0;
            // SAFETY: waitpid on our own child, non-blocking.
            let r = unsafe { libc::waitpid(child.pid, &mut status, libc::WNOHANG) };
            if r == child.pid || r < 0 {
                let ok =
                    r == child.pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
                self.aof_rewrite_done(child, ok, now_ms);
            }
        }
        self.flush_aof();
        if self.has_active_child() || !self.aof.is_on() {
            return;
        }
        // After failures, wait a little before the next try (Redis backs
        // off once three in a row failed).
        if self.aof.consecutive_failures >= 3 && now_ms - self.aof.last_failure_ms < 60_000 {
            return;
        }
        if self.aof.rewrite_scheduled || self.aof.status == Status::WaitRewrite {
            let _ = self.aof_rewrite_background(now_ms);
            return;
        }
        let perc = self.config.auto_aof_rewrite_percentage;
        let min = self.config.auto_aof_rewrite_min_size;
        let size = self.aof.current_size;
        if perc > 0 && size > min {
            let base = self.aof.base_size.max(1);
            let growth = (size as i128 * 100 / base as i128) - 100;
            if growth >= perc as i128 {
                tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
                let _ = self.aof_rewrite_background(now_ms);
            }
        }
    }

    /// The AOF step of a shutdown (Redis: prepareForShutdown): a rewrite
    /// is killed, the buffer written and fsynced. While AOF was just
    /// turned on and has no base yet, exiting would lose data, so it is
    /// refused unless forced.
    pub fn aof_shutdown(&mut self, force: bool) -> io::Result<()> {
        if self.aof.status == Status::WaitRewrite && !force {
            tracing::warn!("Writing initial AOF, can't exit.");
            return Err(io::Error::other("writing initial AOF"));
        }
        self.kill_aof_child();
        if self.aof.is_on() {
            tracing::info!("Calling fsync() on the AOF file.");
            self.flush_aof();
            if let Some(f) = &self.aof.file {
                let _ = f.sync_data();
            }
        }
        Ok(())
    }

    /// INFO's aof fields.
    pub fn info_aof(&self, now_ms: i64) -> String {
        let a = &self.aof;
        let mut s = format!(
            "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
            a.is_on() as i32,
            a.child.is_some() as i32,
            a.rewrite_scheduled as i32,
            a.last_rewrite_time_sec,
            a.child.map_or(-1, |c| (now_ms - c.start_ms) / 1000),
            if a.last_rewrite_failed { "err" } else { "ok" },
            a.rewrites,
            a.consecutive_failures,
            if a.write_error.is_some() { "err" } else { "ok" },
        );
        if a.is_on() {
            s.push_str(&format!(
                "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:{}\r\naof_delayed_fsync:0\r\n",
                a.current_size,
                a.base_size,
                a.rewrite_scheduled as i32,
                a.buf.len(),
                a.fsync_in_progress() as i32,
            ));
        }
        s
    }
}
