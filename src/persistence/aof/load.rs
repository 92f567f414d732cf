//! Loading the AOF at start-up (Redis: loadAppendOnlyFiles,
//! loadSingleAppendOnlyFile, aofUpgradePrepare).
//!
//! The base is read as an RDB (or as commands, for a base without an RDB
//! preamble), then every increment's commands are run by a client that
//! has no connection, in order. A file that ends inside a command is a
//! crash's torn write: when it is the last file and `aof-load-truncated`
//! is on, it is cut back to its last complete command and start-up goes
//! on; anywhere else, or with the option off, start-up stops. Bytes that
//! are not commands always stop start-up, naming file, offset and line.

use std::io;
use std::path::Path;
use std::time::Instant;

use super::manifest::{AofFile, Kind, Manifest};
use super::reader::{ReadError, Reader};
use super::Paths;
use crate::persistence::rdb::file as rdbfile;
use crate::persistence::LoadError;
use crate::server::client::Client;
use crate::server::Server;

/// Why a command read from the AOF could not be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// No such command.
    #[error("Unknown command '{0}' reading the append only file")]
    Unknown(String),
    /// Not as many arguments as the command takes.
    #[error("wrong number of arguments for '{0}' reading the append only file")]
    Arity(&'static str),
}

/// What start-up found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// No AOF on disk.
    Nothing,
    /// The AOF was loaded.
    Loaded,
}

/// Reads the manifest if the AOF directory has one.
pub fn read_manifest(paths: &Paths) -> Result<Option<Manifest>, LoadError> {
    let path = paths.manifest();
    match std::fs::read(&path) {
        Ok(b) => Manifest::parse(&b)
            .map(Some)
            .map_err(|source| LoadError::Manifest { file: path, source }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LoadError::io("Fatal error reading the AOF manifest", path)(
            e,
        )),
    }
}

impl Server {
    /// Start-up loading (Redis: loadDataFromDisk): the AOF when
    /// `appendonly yes` (then opened for appending), otherwise the RDB.
    pub fn load_data_on_start(&mut self) -> Result<(), LoadError> {
        if self.config.appendonly {
            self.load_aof()?;
            self.open_aof_on_start(crate::util::time::now_ms())
        } else {
            self.read_aof_manifest_if_off();
            self.load_rdb_file()
        }
    }

    /// Loads the manifest of an AOF directory that exists while AOF is off,
    /// so turning it on later continues its sequence numbers (the old
    /// files then become history). A broken one is only reported.
    pub fn read_aof_manifest_if_off(&mut self) {
        match read_manifest(&Paths::new(&self.config)) {
            Ok(Some(m)) => self.aof.manifest = m,
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}"),
        }
    }

    /// Loads the AOF (start-up with `appendonly yes`). An old single-file
    /// `appendonly.aof` in `dir` is first moved into the AOF directory as
    /// its base, as redis-server 7.0 does.
    pub fn load_aof(&mut self) -> Result<Found, LoadError> {
        let paths = Paths::new(&self.config);
        let manifest = match read_manifest(&paths)? {
            Some(m) => m,
            None => match self.upgrade_single_file_aof(&paths)? {
                Some(m) => m,
                None => {
                    if self.rdb_path().exists() {
                        tracing::warn!(
                            "appendonly is yes and there is no AOF yet: {} is NOT loaded. To keep its data, start without appendonly and run CONFIG SET appendonly yes.",
                            self.rdb_path().display()
                        );
                    }
                    return Ok(Found::Nothing);
                }
            },
        };
        let start = Instant::now();
        let files: Vec<AofFile> = manifest.load_order().cloned().collect();
        self.keyspace.expire_paused = true;
        self.loading = true;
        let res = (|| {
            for (i, f) in files.iter().enumerate() {
                let last = i + 1 == files.len();
                self.load_aof_file(&paths, f, last)?;
            }
            Ok::<_, LoadError>(())
        })();
        self.keyspace.expire_paused = false;
        self.loading = false;
        res?;
        self.aof.manifest = manifest;
        tracing::info!(
            "DB loaded from append only file: {:.3} seconds",
            start.elapsed().as_secs_f64()
        );
        Ok(Found::Loaded)
    }

    fn upgrade_single_file_aof(&mut self, paths: &Paths) -> Result<Option<Manifest>, LoadError> {
        let old = Path::new(&self.config.dir).join(&paths.prefix);
        if !old.is_file() {
            return Ok(None);
        }
        std::fs::create_dir_all(&paths.dir)
            .map_err(LoadError::io("Can't create the AOF directory", &paths.dir))?;
        let m = Manifest {
            base: Some(AofFile {
                name: paths.prefix.clone(),
                seq: 1,
                kind: Kind::Base,
            }),
            base_seq: 1,
            ..Manifest::default()
        };
        std::fs::rename(&old, paths.file(&paths.prefix)).map_err(LoadError::io(
            "Can't move into the AOF directory the old AOF",
            &old,
        ))?;
        super::write_atomic(&paths.manifest(), m.to_string().as_bytes()).map_err(LoadError::io(
            "Can't persist the AOF manifest",
            paths.manifest(),
        ))?;
        tracing::info!(
            "Successfully migrated an old-style AOF into the AOF directory {}",
            paths.dir.display()
        );
        Ok(Some(m))
    }

    /// Loads one file of the AOF.
    fn load_aof_file(&mut self, paths: &Paths, f: &AofFile, last: bool) -> Result<(), LoadError> {
        let path = paths.file(&f.name);
        let bytes = std::fs::read(&path).map_err(LoadError::io(
            "Fatal error: can't open the append log file",
            &path,
        ))?;
        let mut start = 0;
        if bytes.starts_with(b"REDIS") {
            // An RDB preamble: keys past their deadline are kept, as later
            // commands may still refer to them (Redis: RDBFLAGS_AOF_PREAMBLE).
            let opts = self.rdb_load_options(false);
            tracing::info!("Reading RDB base file on AOF loading...");
            let loaded =
                rdbfile::load(&bytes, &mut self.keyspace.dbs, &opts).map_err(|source| {
                    LoadError::Rdb {
                        what: "the RDB part of the append only file",
                        file: path.clone(),
                        source,
                    }
                })?;
            start = loaded.consumed;
            self.rdb.last_load_keys_loaded += loaded.keys_loaded;
        }
        let mut fake = Client::new(u64::MAX, String::new(), String::new(), true, 0);
        let mut reader = Reader::new(&bytes, start);
        let mut commands = 0u64;
        let end = loop {
            match reader.next_command() {
                Ok(Some(cmd)) => {
                    self.replay(&mut fake, &cmd.argv)
                        .map_err(|what| LoadError::AofCommand {
                            file: path.clone(),
                            offset: cmd.start,
                            what,
                        })?;
                    commands += 1;
                }
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        match end {
            None => {}
            Some(ReadError::Format { offset, line, what }) => {
                return Err(LoadError::AofFormat {
                    file: path,
                    offset,
                    line,
                    what,
                    manifest: paths.manifest(),
                })
            }
            Some(ReadError::Truncated { offset, .. }) => {
                if !last || !self.config.aof_load_truncated {
                    return Err(LoadError::AofTruncated {
                        file: path,
                        offset,
                        manifest: paths.manifest(),
                    });
                }
                tracing::warn!(
                    "!!! Warning: short read while loading the AOF file {}!!!",
                    path.display()
                );
                tracing::warn!("!!! Truncating the AOF at offset {offset} !!!");
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|file| {
                        file.set_len(offset as u64)?;
                        file.sync_all()
                    })
                    .map_err(LoadError::io("Error truncating the AOF file", &path))?;
                tracing::warn!("AOF loaded anyway because aof-load-truncated is enabled");
            }
        }
        // A MULTI left open at the end is dropped, not run.
        fake.multi_queue.clear();
        tracing::info!(
            "DB loaded from {} file {}: {commands} commands",
            if f.kind == Kind::Base { "base" } else { "incr" },
            f.name
        );
        Ok(())
    }

    /// Runs one command from the AOF for the connectionless client,
    /// queueing it inside MULTI as a connection would.
    fn replay(&mut self, fake: &mut Client, argv: &[&[u8]]) -> Result<(), ReplayError> {
        let cmd = self
            .commands
            .lookup(argv)
            .map_err(|_| ReplayError::Unknown(String::from_utf8_lossy(argv[0]).into_owned()))?;
        let arity = cmd.arity;
        if (arity > 0 && argv.len() as i32 != arity) || (argv.len() as i32) < -arity {
            return Err(ReplayError::Arity(cmd.name));
        }
        let queue = fake.flags.multi && !matches!(cmd.name, "exec" | "discard" | "multi");
        if queue {
            fake.multi_queue
                .push(argv.iter().map(|a| a.to_vec()).collect());
        } else {
            let now = crate::util::time::now_ms();
            self.call(fake, cmd, argv, now, false, None);
        }
        fake.out.clear();
        Ok(())
    }
}
