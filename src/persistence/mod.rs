//! Persistence: the RDB format (Redis's own), DUMP/RESTORE payloads, RDB
//! snapshot files (`rdb::file` pure, `save` the server side: SAVE, BGSAVE,
//! save rules, shutdown, loading at start-up), the append-only file
//! (`aof`), and the offline checker for both (`check`).

pub mod aof;
pub mod check;
pub mod dump;
pub mod rdb;
pub mod save;

use std::path::PathBuf;

/// Why start-up could not load or open the data files. Every variant
/// names the file; those about its contents name the byte offset. The
/// texts are Redis's where Redis has one (`Bad file format reading the
/// append only file`, `Unexpected end of file ...`), since operators grep
/// for them. A partial load is never served: the server exits.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read, created or written.
    #[error("{what} {}: {source}", file.display())]
    Io {
        /// What was being done (`Fatal error loading the DB`, ...).
        what: &'static str,
        /// The file.
        file: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// An RDB file, or an AOF base's RDB part, is damaged.
    #[error("Fatal error loading {what} {}: {source}. Exiting.", file.display())]
    Rdb {
        /// `the DB`, or `the RDB part of the append only file`.
        what: &'static str,
        /// The file.
        file: PathBuf,
        /// What is wrong, at which offset.
        source: rdb::RdbError,
    },
    /// The AOF manifest is malformed.
    #[error("Fatal error reading the AOF manifest {}: {source}", file.display())]
    Manifest {
        /// The manifest.
        file: PathBuf,
        /// What is wrong, at which line.
        source: aof::manifest::ManifestError,
    },
    /// Bytes of an AOF file are not commands.
    #[error(
        "Bad file format reading the append only file {} at offset {offset} (line {line}): {what}. Make a backup of your AOF directory, then use `picket-server --check-aof --fix {}` to cut the file at its last valid command.",
        file.display(),
        manifest.display()
    )]
    AofFormat {
        /// The AOF file.
        file: PathBuf,
        /// Where the bad bytes start.
        offset: usize,
        /// Their line.
        line: usize,
        /// What is wrong.
        what: &'static str,
        /// The manifest (for the fix command).
        manifest: PathBuf,
    },
    /// An AOF file ends inside a command where that is not allowed (not
    /// the last file, or `aof-load-truncated no`).
    #[error(
        "Unexpected end of file reading the append only file {} at offset {offset}. You can: 1) Make a backup of your AOF directory, then use `picket-server --check-aof --fix {}`. 2) Alternatively set the 'aof-load-truncated' configuration option to yes and restart the server.",
        file.display(),
        manifest.display()
    )]
    AofTruncated {
        /// The AOF file.
        file: PathBuf,
        /// The end of its last complete command.
        offset: usize,
        /// The manifest (for the fix command).
        manifest: PathBuf,
    },
    /// A command in the AOF could not be run.
    #[error("Fatal error loading the append only file {} at offset {offset}: {what}. Exiting.", file.display())]
    AofCommand {
        /// The AOF file.
        file: PathBuf,
        /// Where the command starts.
        offset: usize,
        /// Why.
        what: aof::load::ReplayError,
    },
}

impl LoadError {
    /// For `map_err`: an I/O failure doing `what` to `file`.
    pub fn io(what: &'static str, file: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let file = file.into();
        move |source| LoadError::Io { what, file, source }
    }
}
