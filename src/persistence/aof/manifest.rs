//! The multi-part AOF manifest (Redis 7.0: aofLoadManifestFromFile,
//! getAofManifestAsString): which files make up the AOF, in order.
//!
//! ```text
//! file appendonly.aof.1.base.rdb seq 1 type b
//! file appendonly.aof.1.incr.aof seq 1 type i
//! file appendonly.aof.2.incr.aof seq 2 type i
//! ```
//!
//! One base file (an RDB, or commands), then the incremental files holding
//! the commands written after it, oldest first. `type h` marks files a
//! rewrite replaced and that are about to be deleted. Pure: parsing and
//! formatting only.

use std::fmt;

/// What a file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The snapshot the increments apply to.
    Base,
    /// Commands written after the base.
    Incr,
    /// Replaced by a rewrite, pending deletion.
    History,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::Base => 'b',
            Kind::Incr => 'i',
            Kind::History => 'h',
        }
    }
}

/// One file of the AOF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    /// File name inside the AOF directory.
    pub name: String,
    /// Sequence number.
    pub seq: u64,
    /// Its role.
    pub kind: Kind,
}

/// The manifest (Redis: aofManifest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofFile>,
    /// Incremental files, oldest first.
    pub incrs: Vec<AofFile>,
    /// Files pending deletion.
    pub history: Vec<AofFile>,
    /// Highest base sequence number used.
    pub base_seq: u64,
    /// Highest incr sequence number used.
    pub incr_seq: u64,
}

/// Why a manifest could not be read; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// A line is not `file <name> seq <n> type <b|i|h>`.
    #[error("invalid AOF manifest file format at line {line}: {what}")]
    Format {
        /// Line number.
        line: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// No file is listed.
    #[error("the AOF manifest lists no file")]
    Empty,
}

/// The longest manifest line Redis accepts (AOF_MANIFEST_MAX_LINE).
const MAX_LINE: usize = 1024;

impl Manifest {
    /// Parses a manifest. Unknown keys are ignored (forward compatibility,
    /// as in Redis); `#` starts a comment line.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut any = false;
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = i + 1;
            let fmt = |what| ManifestError::Format { line, what };
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.len() > MAX_LINE {
                return Err(fmt("line too long"));
            }
            let trimmed = raw.trim_ascii();
            if trimmed.is_empty() || trimmed[0] == b'#' {
                continue;
            }
            let mut pos = Vec::new();
            let mut buf = Vec::new();
            crate::resp::decode::split_args(trimmed, &mut pos, &mut buf)
                .ok_or_else(|| fmt("unbalanced quotes"))?;
            if pos.len() % 2 != 0 {
                return Err(fmt("the keys and values are not in pairs"));
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in pos.chunks(2) {
                let k = &buf[kv[0].0..kv[0].1];
                let v = &buf[kv[1].0..kv[1].1];
                match k {
                    b"file" => {
                        let s =
                            std::str::from_utf8(v).map_err(|_| fmt("file name is not UTF-8"))?;
                        if s.is_empty() || s.contains('/') {
                            return Err(fmt("bad file name"));
                        }
                        name = Some(s.to_string());
                    }
                    b"seq" => {
                        seq = Some(
                            std::str::from_utf8(v)
                                .ok()
                                .and_then(|s| s.parse::<u64>().ok())
                                .ok_or_else(|| fmt("seq is not a number"))?,
                        )
                    }
                    b"type" => {
                        kind = Some(match v {
                            b"b" => Kind::Base,
                            b"i" => Kind::Incr,
                            b"h" => Kind::History,
                            _ => return Err(fmt("unknown file type")),
                        })
                    }
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(fmt("a file line needs file, seq and type"));
            };
            any = true;
            let f = AofFile { name, seq, kind };
            match kind {
                Kind::Base => {
                    if m.base.is_some() {
                        return Err(fmt("found duplicate base file information"));
                    }
                    m.base_seq = seq;
                    m.base = Some(f);
                }
                Kind::History => m.history.push(f),
                Kind::Incr => {
                    if seq <= m.incr_seq {
                        return Err(fmt("found a non-monotonic sequence number"));
                    }
                    m.incr_seq = seq;
                    m.incrs.push(f);
                }
            }
        }
        if !any {
            return Err(ManifestError::Empty);
        }
        Ok(m)
    }

    /// The name of the next base file, `<prefix>.<seq>.base.rdb`, or
    /// `.base.aof` when it holds commands.
    pub fn next_base_name(&self, prefix: &str, rdb: bool) -> (String, u64) {
        let seq = self.base_seq + 1;
        let ext = if rdb { "rdb" } else { "aof" };
        (format!("{prefix}.{seq}.base.{ext}"), seq)
    }

    /// The name of the next incremental file, `<prefix>.<seq>.incr.aof`.
    pub fn next_incr_name(&self, prefix: &str) -> (String, u64) {
        let seq = self.incr_seq + 1;
        (format!("{prefix}.{seq}.incr.aof"), seq)
    }

    /// Adds a new incremental file after the others.
    pub fn push_incr(&mut self, name: String, seq: u64) {
        self.incr_seq = seq;
        self.incrs.push(AofFile {
            name,
            seq,
            kind: Kind::Incr,
        });
    }

    /// After a rewrite: `base` replaces the old base, and every increment
    /// but the last (the one written since the rewrite started) becomes
    /// history.
    pub fn install_base(&mut self, name: String, seq: u64) {
        if let Some(mut old) = self.base.take() {
            old.kind = Kind::History;
            self.history.push(old);
        }
        let keep = self.incrs.pop();
        for mut f in self.incrs.drain(..) {
            f.kind = Kind::History;
            self.history.push(f);
        }
        self.incrs.extend(keep);
        self.base_seq = seq;
        self.base = Some(AofFile {
            name,
            seq,
            kind: Kind::Base,
        });
    }

    /// Base first, then the increments: the order to load them in.
    pub fn load_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(self.incrs.iter())
    }
}

impl fmt::Display for Manifest {
    /// Base, history, then increments, as Redis writes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter())
        {
            writeln!(
                f,
                "file {} seq {} type {}",
                crate::config::quote(&a.name),
                a.seq,
                a.kind.letter()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_redis_writes() {
        let text = b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.incr_seq, 2);
        assert_eq!(m.to_string().as_bytes(), text);
        let order: Vec<_> = m.load_order().map(|f| f.name.as_str()).collect();
        assert_eq!(
            order,
            [
                "appendonly.aof.1.base.rdb",
                "appendonly.aof.1.incr.aof",
                "appendonly.aof.2.incr.aof"
            ]
        );
    }

    #[test]
    fn keys_in_any_order_comments_and_quoted_names() {
        let m = Manifest::parse(
            b"# comment\r\ntype b seq 3 file \"my file.rdb\" future x\n\nfile a.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "my file.rdb");
        assert_eq!(m.base_seq, 3);
        assert!(m
            .to_string()
            .starts_with("file \"my file.rdb\" seq 3 type b\n"));
        assert_eq!(Manifest::parse(m.to_string().as_bytes()).unwrap(), m);
    }

    #[test]
    fn rejects_bad_manifests_with_the_line() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "lists no file"),
            (b"file a seq 1\n", "line 1: a file line needs"),
            (b"file a seq x type b\n", "seq is not a number"),
            (b"file a seq 1 type z\n", "unknown file type"),
            (
                b"file a seq 1 type b\nfile c seq 2 type b\n",
                "line 2: found duplicate base",
            ),
            (
                b"file a seq 2 type i\nfile b seq 1 type i\n",
                "non-monotonic",
            ),
            (b"file ../x seq 1 type i\n", "bad file name"),
            (b"file \"a seq 1 type i\n", "unbalanced quotes"),
        ];
        for (text, want) in cases {
            let e = Manifest::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{e:?} should contain {want:?}");
        }
    }

    #[test]
    fn rewrite_moves_old_files_to_history() {
        let mut m = Manifest::default();
        let (b, s) = m.next_base_name("appendonly.aof", true);
        m.install_base(b, s);
        let (i, s) = m.next_incr_name("appendonly.aof");
        m.push_incr(i, s);
        // A rewrite starts: a new increment, then the new base.
        let (i, s) = m.next_incr_name("appendonly.aof");
        m.push_incr(i, s);
        let (b, s) = m.next_base_name("appendonly.aof", true);
        m.install_base(b, s);
        assert_eq!(
            m.to_string(),
            "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
    }
}
