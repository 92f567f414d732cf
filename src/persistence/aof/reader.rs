//! Reading commands out of an AOF (Redis: loadSingleAppendOnlyFile's
//! parser and redis-check-aof's process loop).
//!
//! An AOF holds requests in RESP multi-bulk form (`*<argc>`, then `$<len>`
//! and the bytes of each argument), optionally `#` annotation lines.
//! [`Reader`] yields them one at a time and tells a file that merely
//! stops early (a crash while writing: [`ReadError::Truncated`]) from one
//! that holds something else ([`ReadError::Format`]). It also knows where
//! the file was last consistent: after the last complete command outside
//! a MULTI block, so a transaction cut off at the end is dropped whole.
//! Pure: no I/O.

/// One command.
#[derive(Debug, PartialEq, Eq)]
pub struct Command<'a> {
    /// The arguments.
    pub argv: Vec<&'a [u8]>,
    /// Byte offset where it starts.
    pub start: usize,
}

/// What stopped the reader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The file ends inside a command (or inside MULTI … EXEC).
    #[error("unexpected end of file at offset {offset} (line {line})")]
    Truncated {
        /// Where the incomplete part starts.
        offset: usize,
        /// Its line number, 1-based.
        line: usize,
    },
    /// Bytes that are not a command.
    #[error("bad file format at offset {offset} (line {line}): {what}")]
    Format {
        /// Where the bad item starts.
        offset: usize,
        /// Its line number, 1-based.
        line: usize,
        /// What is wrong.
        what: &'static str,
    },
}

/// The longest argument count accepted (Redis checks against memory; this
/// guards the allocation against garbage).
const MAX_ARGC: usize = 1 << 20;

/// Iterates over the commands of an AOF held in memory.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    line: usize,
    /// Offset and line of the MULTI that is still open.
    multi: Option<(usize, usize)>,
    /// End of the last command outside any open MULTI.
    valid_up_to: usize,
    valid_line: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, starting at `start` (after an RDB preamble).
    pub fn new(buf: &'a [u8], start: usize) -> Self {
        Reader {
            buf,
            pos: start,
            line: 1,
            multi: None,
            valid_up_to: start,
            valid_line: 1,
        }
    }

    /// Bytes up to which the file holds only complete commands and
    /// complete transactions.
    pub fn valid_up_to(&self) -> usize {
        self.valid_up_to
    }

    /// Lines in that part (redis-check-aof's ok_up_to_line).
    pub fn valid_lines(&self) -> usize {
        self.valid_line - 1
    }

    /// Reads one `\r\n`-terminated line; `None` at end of input.
    fn read_line(&mut self) -> Option<&'a [u8]> {
        let rest = &self.buf[self.pos..];
        let nl = rest.iter().position(|&b| b == b'\n')?;
        self.pos += nl + 1;
        self.line += 1;
        Some(rest[..nl].strip_suffix(b"\r").unwrap_or(&rest[..nl]))
    }

    fn number(digits: &[u8]) -> Option<usize> {
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    }

    /// The next command, `None` at a clean end of input.
    pub fn next_command(&mut self) -> Result<Option<Command<'a>>, ReadError> {
        loop {
            let start = self.pos;
            let start_line = self.line;
            let truncated = |r: &Self| {
                let (offset, line) = r.multi.unwrap_or((start, start_line));
                ReadError::Truncated { offset, line }
            };
            let format = |what| ReadError::Format {
                offset: start,
                line: start_line,
                what,
            };
            if self.pos >= self.buf.len() {
                if self.multi.is_some() {
                    return Err(truncated(self));
                }
                return Ok(None);
            }
            let Some(header) = self.read_line() else {
                return Err(truncated(self));
            };
            if header.first() == Some(&b'#') {
                // An annotation (aof-timestamp-enabled): not a command.
                if self.multi.is_none() {
                    self.valid_up_to = self.pos;
                    self.valid_line = self.line;
                }
                continue;
            }
            if header.first() != Some(&b'*') {
                return Err(format("expected '*' (a multi-bulk request)"));
            }
            let argc = Self::number(&header[1..])
                .filter(|&n| (1..=MAX_ARGC).contains(&n))
                .ok_or_else(|| format("invalid argument count"))?;
            let mut argv = Vec::with_capacity(argc.min(1024));
            for _ in 0..argc {
                let Some(h) = self.read_line() else {
                    return Err(truncated(self));
                };
                if h.first() != Some(&b'$') {
                    return Err(format("expected '$' (a bulk string)"));
                }
                let len = Self::number(&h[1..]).ok_or_else(|| format("invalid bulk length"))?;
                let end = self
                    .pos
                    .checked_add(len)
                    .ok_or_else(|| format("invalid bulk length"))?;
                if end + 2 > self.buf.len() {
                    return Err(truncated(self));
                }
                if &self.buf[end..end + 2] != b"\r\n" {
                    return Err(format("a bulk string is not followed by CRLF"));
                }
                let arg = &self.buf[self.pos..end];
                self.line += arg.iter().filter(|&&b| b == b'\n').count() + 1;
                self.pos = end + 2;
                argv.push(arg);
            }
            let name = argv[0];
            if name.eq_ignore_ascii_case(b"multi") {
                if self.multi.is_some() {
                    return Err(format("MULTI inside MULTI"));
                }
                self.multi = Some((start, start_line));
            } else if name.eq_ignore_ascii_case(b"exec") || name.eq_ignore_ascii_case(b"discard") {
                self.multi = None;
            }
            if self.multi.is_none() {
                self.valid_up_to = self.pos;
                self.valid_line = self.line;
            }
            return Ok(Some(Command { argv, start }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(buf: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<(), ReadError>, usize) {
        let mut r = Reader::new(buf, 0);
        let mut out = Vec::new();
        loop {
            match r.next_command() {
                Ok(Some(c)) => out.push(c.argv.iter().map(|a| a.to_vec()).collect()),
                Ok(None) => return (out, Ok(()), r.valid_up_to()),
                Err(e) => return (out, Err(e), r.valid_up_to()),
            }
        }
    }

    fn enc(cmds: &[&[&[u8]]]) -> Vec<u8> {
        use crate::resp::client::encode_command;
        let mut v = Vec::new();
        for c in cmds {
            encode_command(&mut v, c);
        }
        v
    }

    #[test]
    fn reads_commands_and_annotations() {
        let mut buf = b"#TS:1700000000\r\n".to_vec();
        buf.extend(enc(&[&[b"SELECT", b"0"], &[b"SET", b"k", b"a\r\nb"]]));
        let (cmds, res, valid) = all(&buf);
        assert_eq!(res, Ok(()));
        assert_eq!(valid, buf.len());
        assert_eq!(
            cmds[1],
            vec![b"SET".to_vec(), b"k".to_vec(), b"a\r\nb".to_vec()]
        );
    }

    #[test]
    fn every_cut_is_a_truncation_at_the_last_whole_command() {
        let buf = enc(&[&[b"SET", b"a", b"1"], &[b"SET", b"b", b"22"]]);
        let first = enc(&[&[b"SET", b"a", b"1"]]).len();
        for cut in first + 1..buf.len() {
            let (cmds, res, valid) = all(&buf[..cut]);
            assert_eq!(cmds.len(), 1, "cut at {cut}");
            assert_eq!(valid, first);
            assert!(
                matches!(res, Err(ReadError::Truncated { offset, line: 8 }) if offset == first),
                "cut at {cut}: {res:?}"
            );
        }
    }

    #[test]
    fn an_open_multi_at_the_end_is_dropped_whole() {
        let mut buf = enc(&[&[b"SET", b"a", b"1"]]);
        let before = buf.len();
        buf.extend(enc(&[&[b"MULTI"], &[b"INCR", b"a"]]));
        let (cmds, res, valid) = all(&buf);
        assert_eq!(cmds.len(), 3);
        assert_eq!(valid, before);
        assert_eq!(
            res,
            Err(ReadError::Truncated {
                offset: before,
                line: 8
            })
        );
        buf.extend(enc(&[&[b"EXEC"]]));
        assert_eq!(all(&buf).1, Ok(()));
        assert_eq!(all(&buf).2, buf.len());
    }

    #[test]
    fn garbage_is_a_format_error_with_its_offset() {
        let mut buf = enc(&[&[b"SET", b"a", b"1"]]);
        let at = buf.len();
        for bad in [
            &b"GARBAGE\r\n"[..],
            b"*0\r\n",
            b"*1\r\n:5\r\n",
            b"*1\r\n$3\r\nabcde\r\n",
            b"*x\r\n",
        ] {
            let mut b = buf.clone();
            b.extend_from_slice(bad);
            let (_, res, valid) = all(&b);
            assert!(
                matches!(res, Err(ReadError::Format { offset, .. }) if offset == at),
                "{bad:?}: {res:?}"
            );
            assert_eq!(valid, at);
        }
        buf.clear();
    }
}
