//! The offline file checker (`picket-server --check-rdb FILE`,
//! `picket-server --check-aof [--fix] FILE|MANIFEST`), in the manner of
//! redis-check-rdb and redis-check-aof: it reads the files without a
//! server, says what is wrong and where, and for an AOF can cut the last
//! file back to its last complete command.

use std::io::Write;
use std::path::Path;

use super::aof::manifest::{Kind, Manifest};
use super::aof::reader::{ReadError, Reader};
use super::rdb::file::{self, LoadOptions};
use crate::keyspace::Db;

/// Databases the checker accepts in SELECTDB (more than any real setup).
const CHECK_DATABASES: usize = 1024;

/// Checks an RDB held in memory; returns the end of its RDB part.
fn check_rdb_bytes(name: &str, bytes: &[u8], out: &mut dyn Write) -> Result<usize, ()> {
    let _ = writeln!(out, "[offset 0] Checking RDB file {name}");
    let mut dbs: Vec<Db> = (0..CHECK_DATABASES).map(|_| Db::default()).collect();
    let opts = LoadOptions {
        now_ms: crate::util::time::now_ms(),
        master: true,
        verify_checksum: true,
        lru: 0,
        lfu: false,
    };
    match file::load(bytes, &mut dbs, &opts) {
        Ok(l) => {
            for (k, v) in &l.aux {
                let _ = writeln!(
                    out,
                    "[info] AUX FIELD {} = '{}'",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(v)
                );
            }
            let expires: usize = dbs.iter().map(|d| d.expires.len()).sum();
            let _ = writeln!(out, "[offset {}] \\o/ RDB looks OK! \\o/", l.consumed);
            let _ = writeln!(out, "[info] {} keys read", l.keys_loaded + l.keys_expired);
            let _ = writeln!(out, "[info] {expires} expires");
            let _ = writeln!(out, "[info] {} already expired", l.keys_expired);
            Ok(l.consumed)
        }
        Err(e) => {
            let _ = writeln!(out, "--- RDB ERROR DETECTED ---");
            let _ = writeln!(out, "[{name}] {e}");
            Err(())
        }
    }
}

/// `--check-rdb FILE`: true when the file is sound.
pub fn check_rdb(path: &Path, out: &mut dyn Write) -> bool {
    match std::fs::read(path) {
        Ok(b) => check_rdb_bytes(&path.display().to_string(), &b, out).is_ok(),
        Err(e) => {
            let _ = writeln!(out, "Cannot open file {}: {e}", path.display());
            false
        }
    }
}

/// The verdict on one AOF file.
enum Verdict {
    Valid,
    /// Bad from `ok_up_to` on.
    Invalid {
        ok_up_to: usize,
        truncated: bool,
    },
    /// Unreadable, or a damaged RDB part: nothing to fix.
    Broken,
}

/// Checks one AOF file (an RDB preamble, then commands).
fn check_aof_file(path: &Path, out: &mut dyn Write) -> Verdict {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(out, "Cannot open file {name}: {e}");
            return Verdict::Broken;
        }
    };
    let mut start = 0;
    if bytes.starts_with(b"REDIS") {
        let _ = writeln!(out, "The AOF appears to start with an RDB preamble.");
        match check_rdb_bytes(&name, &bytes, out) {
            Ok(end) => {
                start = end;
                let _ = writeln!(out, "RDB preamble is OK, proceeding with AOF tail...");
            }
            Err(()) => {
                let _ = writeln!(out, "RDB preamble of AOF file is not sane, aborting.");
                return Verdict::Broken;
            }
        }
    }
    let mut r = Reader::new(&bytes, start);
    let err = loop {
        match r.next_command() {
            Ok(Some(_)) => {}
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    let ok_up_to = r.valid_up_to();
    if let Some(e) = &err {
        let _ = writeln!(
            out,
            "0x{:>8x}: {e}",
            match e {
                ReadError::Truncated { offset, .. } | ReadError::Format { offset, .. } => *offset,
            }
        );
    }
    let _ = writeln!(
        out,
        "AOF analyzed: filename={name}, size={}, ok_up_to={ok_up_to}, ok_up_to_line={}, diff={}",
        bytes.len(),
        r.valid_lines(),
        bytes.len() - ok_up_to
    );
    match err {
        None => Verdict::Valid,
        Some(e) => Verdict::Invalid {
            ok_up_to,
            truncated: matches!(e, ReadError::Truncated { .. }),
        },
    }
}

fn truncate(path: &Path, len: usize, out: &mut dyn Write) -> bool {
    let res = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len as u64).and_then(|_| f.sync_all()));
    match res {
        Ok(()) => {
            let _ = writeln!(out, "Successfully truncated AOF {}", path.display());
            true
        }
        Err(e) => {
            let _ = writeln!(out, "Failed to truncate AOF {}: {e}", path.display());
            false
        }
    }
}

/// `--check-aof [--fix] FILE|MANIFEST`: checks a multi-part AOF through its
/// manifest, or a single AOF file. With `fix`, damage at the end of the
/// last file is cut off. True when everything is (now) sound.
pub fn check_aof(path: &Path, fix: bool, out: &mut dyn Write) -> bool {
    let manifest = std::fs::read(path)
        .ok()
        .filter(|_| path.extension().is_some_and(|e| e == "manifest"));
    let files: Vec<(std::path::PathBuf, Kind)> = match manifest {
        Some(text) => {
            let _ = writeln!(out, "Start checking Multi Part AOF");
            match Manifest::parse(&text) {
                Ok(m) => {
                    let dir = path.parent().unwrap_or(Path::new("."));
                    m.load_order()
                        .map(|f| (dir.join(&f.name), f.kind))
                        .collect()
                }
                Err(e) => {
                    let _ = writeln!(out, "Invalid AOF manifest {}: {e}", path.display());
                    return false;
                }
            }
        }
        None => {
            let _ = writeln!(out, "Start checking Old-Style AOF");
            vec![(path.to_path_buf(), Kind::Incr)]
        }
    };
    let n = files.len();
    for (i, (p, kind)) in files.iter().enumerate() {
        let last = i + 1 == n;
        let what = if *kind == Kind::Base {
            "BASE AOF"
        } else {
            "AOF"
        };
        match check_aof_file(p, out) {
            Verdict::Valid => {
                let _ = writeln!(out, "{what} {} is valid", p.display());
            }
            Verdict::Broken => return false,
            Verdict::Invalid {
                ok_up_to,
                truncated,
            } => {
                if !last {
                    let _ = writeln!(
                        out,
                        "{what} {} is not valid, and it is not the last file: it can't be fixed by cutting its end",
                        p.display()
                    );
                    return false;
                }
                if !fix {
                    let _ = writeln!(
                        out,
                        "{what} {} {}. Use the --fix option to try fixing it.",
                        p.display(),
                        if truncated {
                            "is not valid"
                        } else {
                            "format error"
                        }
                    );
                    return false;
                }
                let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                let _ = writeln!(
                    out,
                    "This will shrink the AOF {} from {size} bytes, with {} bytes, to {ok_up_to} bytes",
                    p.display(),
                    size.saturating_sub(ok_up_to as u64)
                );
                if !truncate(p, ok_up_to, out) {
                    return false;
                }
            }
        }
    }
    let _ = writeln!(out, "All AOF files and manifest are valid");
    true
}
