//! RDB snapshots on disk (Redis: rdbSave, rdbSaveBackground,
//! backgroundSaveDoneHandler, the save-rule check in serverCron,
//! prepareForShutdown's save, and loading at start-up).
//!
//! SAVE writes synchronously; BGSAVE forks: the child serializes the
//! keyspace it inherited (copy-on-write), writes `temp-<pid>.rdb` in
//! `dir`, fsyncs, renames it over `dbfilename`, fsyncs the directory and
//! `_exit`s; the parent keeps serving and the cron reaps the child.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::rdb::file::{self, Access, Header, LoadOptions};
use super::rdb::SaveOptions;
use crate::keyspace::Keyspace;
use crate::server::{Server, ShutdownMode};

/// The reply to writes after a failed background save
/// (stop-writes-on-bgsave-error).
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Seconds to wait after a failed background save before the save rules
/// may start another (Redis: CONFIG_BGSAVE_RETRY_DELAY).
const BGSAVE_RETRY_DELAY: i64 = 5;

/// A running background save.
#[derive(Debug, Clone, Copy)]
pub struct Child {
    /// The child's pid.
    pub pid: i32,
    /// When it started, unix ms.
    pub start_ms: i64,
    /// `dirty` when it forked: what the snapshot covers.
    pub dirty_at_fork: u64,
}

/// Snapshot bookkeeping (Redis: server.rdb_*, lastbgsave_*).
#[derive(Debug)]
pub struct RdbState {
    /// The background save in progress.
    pub child: Option<Child>,
    /// The listening sockets, closed in a save child (Redis:
    /// closeChildUnusedResourceAfterFork) so that a server restarted after
    /// its parent died can bind the port while the child still writes.
    pub listener_fds: Vec<i32>,
    /// BGSAVE SCHEDULE was asked while a save could not start.
    pub bgsave_scheduled: bool,
    /// Whether the last background save succeeded (rdb_last_bgsave_status).
    pub last_bgsave_ok: bool,
    /// Unix seconds of the last background save attempt.
    pub last_bgsave_try: i64,
    /// Duration of the last background save in seconds, -1 before any.
    pub last_bgsave_time_sec: i64,
    /// Snapshots made since start-up.
    pub saves: u64,
    /// Keys loaded from the file at start-up.
    pub last_load_keys_loaded: u64,
    /// Keys found expired in the file at start-up.
    pub last_load_keys_expired: u64,
}

impl Default for RdbState {
    fn default() -> Self {
        RdbState {
            listener_fds: Vec::new(),
            child: None,
            bgsave_scheduled: false,
            last_bgsave_ok: true,
            last_bgsave_try: 0,
            last_bgsave_time_sec: -1,
            saves: 0,
            last_load_keys_loaded: 0,
            last_load_keys_expired: 0,
        }
    }
}

/// What the snapshot writer needs from the server.
pub(crate) struct Snapshot<'a> {
    keyspace: &'a Keyspace,
    opts: SaveOptions,
    checksum: bool,
    header: Header,
    dir: PathBuf,
    dbfilename: PathBuf,
    key_delay_us: i64,
    now_ms: i64,
    /// Written as commands instead of an RDB (`aof-use-rdb-preamble no`).
    pub(crate) as_commands: bool,
    /// fsync every 4 MiB while writing (`rdb-save-incremental-fsync`,
    /// `aof-rewrite-incremental-fsync`).
    pub(crate) incremental_fsync: bool,
}

/// Bytes between fsyncs in incremental mode (Redis: REDIS_AUTOSYNC_BYTES).
const AUTOSYNC_BYTES: usize = 4 << 20;

/// A file that fsyncs every `AUTOSYNC_BYTES` when `every` is set, so the
/// kernel never holds a whole snapshot of dirty pages to flush at the end.
struct IncrementalFsync {
    f: File,
    every: bool,
    since: usize,
}

impl io::Write for IncrementalFsync {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.f.write(buf)?;
        self.since += n;
        if self.every && self.since >= AUTOSYNC_BYTES {
            self.f.sync_data()?;
            self.since = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.f.flush()
    }
}

impl Snapshot<'_> {
    /// Writes `temp-<pid>.rdb`, fsyncs it, renames it over the final name
    /// and fsyncs the directory. The temp file is removed on failure.
    fn write(&self, pid: u32) -> io::Result<()> {
        self.write_to(
            &self.dir.join(format!("temp-{pid}.rdb")),
            Some(&self.dir.join(&self.dbfilename)),
        )
    }

    /// Called after each key: sleeps `rdb-key-save-delay` µs (a test aid).
    fn per_key(&self) -> impl FnMut() {
        let delay = std::time::Duration::from_micros(self.key_delay_us.max(0) as u64);
        move || {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
    }

    /// Writes the snapshot as an RDB into `w` (a file, or a pipe to
    /// replicas).
    pub(crate) fn write_into<W: io::Write>(&self, mut w: W) -> io::Result<()> {
        file::write_with(
            &mut w,
            &self.keyspace.dbs,
            &self.header,
            &self.opts,
            self.checksum,
            self.now_ms,
            self.per_key(),
        )?;
        w.flush()
    }

    /// Writes the snapshot to `tmp` and fsyncs it; with `dest`, renames it
    /// there and fsyncs the directory. `tmp` is removed on failure.
    pub(crate) fn write_to(&self, tmp: &Path, dest: Option<&Path>) -> io::Result<()> {
        let res = (|| {
            let f = IncrementalFsync {
                f: File::create(tmp)?,
                every: self.incremental_fsync,
                since: 0,
            };
            let mut w = BufWriter::with_capacity(1 << 16, f);
            if self.as_commands {
                super::aof::rewrite::write_commands(
                    &mut w,
                    &self.keyspace.dbs,
                    self.now_ms,
                    self.per_key(),
                )?;
            } else {
                self.write_into(&mut w)?;
            }
            let f = w.into_inner().map_err(|e| e.into_error())?.f;
            f.sync_all()?;
            if let Some(dest) = dest {
                std::fs::rename(tmp, dest)?;
                let dir = dest.parent().unwrap_or(Path::new("."));
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if res.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        res
    }
}

/// Which access records the policy asks for (Redis: MAXMEMORY_FLAG_LRU /
/// MAXMEMORY_FLAG_LFU).
fn access(cfg: &crate::config::Config) -> Access {
    use crate::config::EvictionPolicy as P;
    match cfg.maxmemory_policy {
        P::AllKeysLru | P::VolatileLru => Access::Lru,
        P::AllKeysLfu | P::VolatileLfu => Access::Lfu {
            decay_time: cfg.lfu_decay_time,
        },
        _ => Access::Plain,
    }
}

impl Server {
    /// How this server loads an RDB: `drop_expired` leaves out keys whose
    /// deadline passed (a master's start-up; not an AOF preamble, not a
    /// replica's copy, where later commands or DELs still refer to them).
    pub fn rdb_load_options(&self, drop_expired: bool) -> LoadOptions {
        LoadOptions {
            now_ms: crate::util::time::now_ms(),
            master: drop_expired,
            verify_checksum: self.config.rdbchecksum,
            lru: self.keyspace.new_stamp(),
            lfu: self.config.maxmemory_policy.is_lfu(),
        }
    }

    /// `dir/dbfilename`.
    pub fn rdb_path(&self) -> PathBuf {
        Path::new(&self.config.dir).join(&self.config.dbfilename)
    }

    /// The dataset as an RDB writer sees it; `aof_base` marks an AOF base.
    pub(crate) fn snapshot(&self, now_ms: i64, aof_base: bool) -> Snapshot<'_> {
        Snapshot {
            keyspace: &self.keyspace,
            opts: SaveOptions::from_config(&self.config),
            checksum: self.config.rdbchecksum,
            header: Header {
                ctime: now_ms / 1000,
                used_mem: self.used_memory() as u64,
                access: access(&self.config),
                aof_base,
                repl: self.repl_aux(),
            },
            now_ms,
            as_commands: aof_base && !self.config.aof_use_rdb_preamble,
            incremental_fsync: if aof_base {
                self.config.aof_rewrite_incremental_fsync
            } else {
                self.config.rdb_save_incremental_fsync
            },
            dir: PathBuf::from(&self.config.dir),
            dbfilename: PathBuf::from(&self.config.dbfilename),
            key_delay_us: self.config.rdb_key_save_delay,
        }
    }

    /// SAVE: writes the snapshot in the foreground (Redis: rdbSave).
    pub fn rdb_save(&mut self, now_ms: i64) -> io::Result<()> {
        match self.snapshot(now_ms, false).write(std::process::id()) {
            Ok(()) => {
                tracing::info!("DB saved on disk");
                self.dirty = 0;
                self.lastsave = now_ms / 1000;
                self.rdb.last_bgsave_ok = true;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(path = %self.rdb_path().display(), "Write error saving DB on disk: {e}");
                Err(e)
            }
        }
    }

    /// BGSAVE: forks a child that writes the snapshot (Redis:
    /// rdbSaveBackground). The caller checks no save is running.
    pub fn rdb_bgsave(&mut self, now_ms: i64) -> io::Result<()> {
        self.rdb.last_bgsave_try = now_ms / 1000;
        let dirty_at_fork = self.dirty;
        let listeners = self.rdb.listener_fds.clone();
        let forked = crate::util::fork::fork_child(&listeners, || {
            self.snapshot(now_ms, false)
                .write(std::process::id())
                .is_ok()
        });
        let pid = match forked {
            Ok(pid) => pid,
            Err(e) => {
                self.rdb.last_bgsave_ok = false;
                tracing::warn!("Can't save in background: fork: {e}");
                return Err(e);
            }
        };
        tracing::info!("Background saving started by pid {pid}");
        self.rdb.child = Some(Child {
            pid,
            start_ms: now_ms,
            dirty_at_fork,
        });
        self.rdb.saves += 1;
        Ok(())
    }

    /// Whether writes are refused because the last background save failed
    /// (Redis: writeCommandsDeniedByDiskError).
    pub fn writes_denied_by_disk_error(&self) -> bool {
        self.config.stop_writes_on_bgsave_error
            && !self.config.save.is_empty()
            && !self.rdb.last_bgsave_ok
    }

    /// The persistence part of the cron: reaps a finished child, starts a
    /// scheduled BGSAVE, applies the save rules.
    pub fn rdb_cron(&mut self, now_ms: i64) {
        if let Some(child) = self.rdb.child {
            let mut status = 0;
            // SAFETY: waitpid on our own child, non-blocking.
            let r = unsafe { libc::waitpid(child.pid, &mut status, libc::WNOHANG) };
            if r == child.pid || r < 0 {
                self.bgsave_done(child, r == child.pid, status, now_ms);
            }
            return;
        }
        if self.aof.child.is_some() {
            return;
        }
        let now = now_ms / 1000;
        let may_retry =
            now - self.rdb.last_bgsave_try > BGSAVE_RETRY_DELAY || self.rdb.last_bgsave_ok;
        if self.rdb.bgsave_scheduled && may_retry {
            if self.rdb_bgsave(now_ms).is_ok() {
                self.rdb.bgsave_scheduled = false;
            }
            return;
        }
        let rule = self.config.save.iter().copied().find(|&(secs, changes)| {
            self.dirty >= changes.max(0) as u64 && now - self.lastsave > secs && may_retry
        });
        if let Some((secs, changes)) = rule {
            tracing::info!("{changes} changes in {secs} seconds. Saving...");
            let _ = self.rdb_bgsave(now_ms);
        }
    }

    /// Records how a background save ended (Redis:
    /// backgroundSaveDoneHandlerDisk).
    fn bgsave_done(&mut self, child: Child, reaped: bool, status: i32, now_ms: i64) {
        self.rdb.child = None;
        let ok = reaped && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        if ok {
            tracing::info!("Background saving terminated with success");
            self.dirty = self.dirty.saturating_sub(child.dirty_at_fork);
            self.lastsave = now_ms / 1000;
            self.rdb.last_bgsave_ok = true;
        } else {
            if reaped && libc::WIFSIGNALED(status) {
                tracing::warn!(
                    "Background saving terminated by signal {}",
                    libc::WTERMSIG(status)
                );
            } else {
                tracing::warn!("Background saving error");
            }
            let _ = std::fs::remove_file(
                Path::new(&self.config.dir).join(format!("temp-{}.rdb", child.pid)),
            );
            self.rdb.last_bgsave_ok = false;
        }
        self.rdb.last_bgsave_time_sec = (now_ms - child.start_ms) / 1000;
        self.full_sync_disk_done(child.pid, ok);
    }

    /// Stops a background save (SHUTDOWN, FLUSHALL): kills the child,
    /// reaps it and removes its temp file, without counting an error.
    pub fn kill_rdb_child(&mut self) {
        if let Some(child) = self.rdb.child.take() {
            tracing::warn!("There is a child saving an .rdb. Killing it!");
            let mut status = 0;
            // SAFETY: signalling and reaping our own child.
            unsafe {
                libc::kill(child.pid, libc::SIGUSR1);
                libc::waitpid(child.pid, &mut status, 0);
            }
            let _ = std::fs::remove_file(
                Path::new(&self.config.dir).join(format!("temp-{}.rdb", child.pid)),
            );
        }
    }

    /// After FLUSHALL (Redis: flushAllDataAndResetRDB): a running
    /// background save is stopped, and with save rules the now empty
    /// dataset is saved at once, so a restart can't bring the data back.
    pub fn flushall_reset_rdb(&mut self, now_ms: i64) {
        self.kill_rdb_child();
        if !self.config.save.is_empty() {
            let _ = self.rdb_save(now_ms);
        }
    }

    /// The save step of a shutdown (Redis: prepareForShutdown): saves when
    /// save rules exist or SAVE was asked, unless NOSAVE. A failed save
    /// aborts the shutdown unless `force`.
    pub fn prepare_shutdown(&mut self, mode: ShutdownMode, force: bool) -> io::Result<()> {
        self.aof_shutdown(force)?;
        self.kill_rdb_child();
        let save = match mode {
            ShutdownMode::Save => true,
            ShutdownMode::NoSave => false,
            ShutdownMode::Default => !self.config.save.is_empty(),
        };
        if save {
            tracing::info!("Saving the final RDB snapshot before exiting.");
            let now = crate::util::time::now_ms();
            if let Err(e) = self.rdb_save(now) {
                if !force {
                    tracing::warn!("Error trying to save the DB, can't exit.");
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Loads `dir/dbfilename` when it exists (start-up). The error names
    /// the file, the byte offset and what is wrong.
    pub fn load_rdb_file(&mut self) -> Result<(), super::LoadError> {
        let path = self.rdb_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(super::LoadError::io("Fatal error loading the DB", path)(e)),
        };
        let start = Instant::now();
        let opts = self.rdb_load_options(!self.keyspace.is_replica);
        // A partial load must not be served: the caller exits.
        let loaded = file::load(&bytes, &mut self.keyspace.dbs, &opts).map_err(|source| {
            super::LoadError::Rdb {
                what: "the DB",
                file: path.clone(),
                source,
            }
        })?;
        if let Some((_, v)) = loaded
            .aux
            .iter()
            .find(|(k, _)| k.as_slice() == b"redis-ver")
        {
            tracing::info!(
                "Loading RDB produced by version {}",
                String::from_utf8_lossy(v)
            );
        }
        tracing::info!(
            "DB loaded from disk: {:.3} seconds",
            start.elapsed().as_secs_f64()
        );
        tracing::info!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            loaded.keys_loaded,
            loaded.keys_expired
        );
        self.rdb.last_load_keys_loaded = loaded.keys_loaded;
        self.rdb.last_load_keys_expired = loaded.keys_expired;
        if let Some(r) = file::ReplAux::from_aux(&loaded.aux) {
            self.restore_repl_aux(&r);
        }
        Ok(())
    }
}
