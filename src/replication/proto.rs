//! The replication handshake's replies, parsed (Redis:
//! slaveTryPartialResynchronization, readSyncBulkPayload). Pure.

/// The length of the `$EOF:` mark (Redis: RDB_EOF_MARK_SIZE).
pub const EOF_MARK_LEN: usize = 40;

/// The master's answer to PSYNC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PsyncReply {
    /// `+FULLRESYNC <replid> <offset>`: a snapshot follows.
    Full {
        /// The master's replication id.
        replid: String,
        /// The offset the snapshot corresponds to.
        offset: u64,
    },
    /// `+CONTINUE [<replid>]`: the missing stream follows.
    Continue {
        /// The master's new id, when it changed (PSYNC2).
        replid: Option<String>,
    },
    /// `-NOMASTERLINK`, `-LOADING`: try again later.
    TryLater(String),
    /// Any other error.
    Error(String),
}

/// Parses the reply line (without CRLF).
pub fn parse_psync_reply(line: &str) -> PsyncReply {
    if let Some(rest) = line.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        if let (Some(id), Some(off)) = (it.next(), it.next()) {
            if let Ok(offset) = off.parse::<u64>() {
                if id.len() == 40 {
                    return PsyncReply::Full {
                        replid: id.to_string(),
                        offset,
                    };
                }
            }
        }
        return PsyncReply::Error(format!("bad FULLRESYNC reply: {line}"));
    }
    if let Some(rest) = line.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        return PsyncReply::Continue {
            replid: (id.len() == 40).then(|| id.to_string()),
        };
    }
    if line.starts_with("-NOMASTERLINK") || line.starts_with("-LOADING") {
        return PsyncReply::TryLater(line[1..].to_string());
    }
    PsyncReply::Error(line.trim_start_matches(['-', '+']).to_string())
}

/// How the snapshot is framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    /// `$<len>`: that many bytes.
    Len(u64),
    /// `$EOF:<mark>`: bytes until they end with the 40-byte mark.
    Eof(Vec<u8>),
}

/// Parses the bulk header line (without CRLF); `None` if malformed.
pub fn parse_bulk_header(line: &[u8]) -> Option<Transfer> {
    let rest = line.strip_prefix(b"$")?;
    if let Some(mark) = rest.strip_prefix(b"EOF:") {
        return (mark.len() == EOF_MARK_LEN).then(|| Transfer::Eof(mark.to_vec()));
    }
    std::str::from_utf8(rest)
        .ok()?
        .parse()
        .ok()
        .map(Transfer::Len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psync_replies() {
        let id = "a".repeat(40);
        assert_eq!(
            parse_psync_reply(&format!("+FULLRESYNC {id} 1234")),
            PsyncReply::Full {
                replid: id.clone(),
                offset: 1234
            }
        );
        assert_eq!(
            parse_psync_reply(&format!("+CONTINUE {id}")),
            PsyncReply::Continue { replid: Some(id) }
        );
        assert_eq!(
            parse_psync_reply("+CONTINUE"),
            PsyncReply::Continue { replid: None }
        );
        assert!(matches!(
            parse_psync_reply("-NOMASTERLINK Can't SYNC"),
            PsyncReply::TryLater(_)
        ));
        assert!(matches!(
            parse_psync_reply("+FULLRESYNC x y"),
            PsyncReply::Error(_)
        ));
        assert_eq!(
            parse_psync_reply("-ERR nope"),
            PsyncReply::Error("ERR nope".into())
        );
    }

    #[test]
    fn bulk_headers() {
        assert_eq!(parse_bulk_header(b"$175"), Some(Transfer::Len(175)));
        let mark = vec![b'x'; 40];
        let mut h = b"$EOF:".to_vec();
        h.extend_from_slice(&mark);
        assert_eq!(parse_bulk_header(&h), Some(Transfer::Eof(mark)));
        assert_eq!(parse_bulk_header(b"$EOF:short"), None);
        assert_eq!(parse_bulk_header(b"+OK"), None);
        assert_eq!(parse_bulk_header(b"$-1x"), None);
    }
}
