//! The client side of RESP: what picket sends when it talks to another
//! server (a sentinel's links, the operator's questions, the replica's
//! handshake, the AOF's and the replication stream's command encoding)
//! and how it reads the replies.
//!
//! - [`encode_command`]: a command as a RESP multi-bulk request.
//! - [`ReplyDecoder`]: RESP2 replies from a byte stream, resumable (a
//!   reply split over many reads is parsed once, not again from its
//!   first byte at every read) and bounded: nesting depth, bulk size,
//!   element count and a whole reply's size have limits, and a declared
//!   length is never trusted for allocation. Errors are typed.
//! - [`Conn`]: one async connection with a timeout on every step and
//!   AUTH, used by the sentinel's links and the operator.
//!
//! The peer may be hostile: nothing here panics on what it sends, and
//! nothing grows past the limits because it claims so.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Appends `argv` as a RESP multi-bulk request (Redis:
/// catAppendOnlyGenericCommand).
pub fn encode_command(out: &mut Vec<u8>, argv: &[&[u8]]) {
    let mut num = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(num.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        out.extend_from_slice(num.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+...`
    Status(String),
    /// `-...`
    Error(String),
    /// `:n`
    Int(i64),
    /// `$n ...` (None for `$-1`).
    Bulk(Option<Vec<u8>>),
    /// `*n ...` (None for `*-1`).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a status, error, bulk or integer reply.
    pub fn text(&self) -> String {
        match self {
            Reply::Status(s) | Reply::Error(s) => s.clone(),
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Reply::Int(n) => n.to_string(),
            _ => String::new(),
        }
    }
}

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The first byte names no RESP2 type.
    #[error("Protocol error: unexpected reply type byte {0:#04x}")]
    UnexpectedType(u8),
    /// A length or integer is not a number.
    #[error("Protocol error: bad number '{0}'")]
    BadNumber(String),
    /// A status or error line is not UTF-8.
    #[error("Protocol error: reply line is not UTF-8")]
    NotUtf8,
    /// A line is longer than any reply line should be.
    #[error("Protocol error: reply line longer than {0} bytes")]
    LineTooLong(usize),
    /// A bulk or an array declares more than the limit.
    #[error("Protocol error: {what} of {declared} is over the limit of {limit}")]
    TooLong {
        /// "bulk length" or "array length".
        what: &'static str,
        /// What the peer declared.
        declared: i64,
        /// The limit.
        limit: usize,
    },
    /// Arrays nest deeper than the limit.
    #[error("Protocol error: replies nested deeper than {0}")]
    TooDeep(usize),
    /// A reply is larger than the limit.
    #[error("Protocol error: reply larger than {0} bytes")]
    TooLarge(usize),
    /// A bulk is not followed by CRLF.
    #[error("Protocol error: bulk not terminated by CRLF")]
    BadBulkEnd,
}

/// What a [`ReplyDecoder`] accepts.
#[derive(Debug, Clone, Copy)]
pub struct ReplyLimits {
    /// Longest status, error or length line.
    pub max_line: usize,
    /// Largest bulk.
    pub max_bulk: usize,
    /// Most elements in one array.
    pub max_items: usize,
    /// Deepest nesting of arrays.
    pub max_depth: usize,
    /// Largest whole reply, in bytes on the wire.
    pub max_reply: usize,
}

impl Default for ReplyLimits {
    /// Ample for what picket asks (INFO, ROLE, SENTINEL ...): 64 MiB a
    /// reply, 1M elements, 16 levels.
    fn default() -> Self {
        ReplyLimits {
            max_line: 64 * 1024,
            max_bulk: 64 << 20,
            max_items: 1 << 20,
            max_depth: 16,
            max_reply: 64 << 20,
        }
    }
}

/// Reads RESP2 replies from bytes as they arrive. Keeps its place across
/// reads: the arrays under way and the position in the buffer.
#[derive(Debug, Default)]
pub struct ReplyDecoder {
    buf: Vec<u8>,
    /// Where the next unparsed byte is.
    pos: usize,
    /// Arrays being filled: (elements still to come, elements so far).
    stack: Vec<(usize, Vec<Reply>)>,
    /// Where the reply under way began, counting bytes already dropped.
    reply_start: usize,
    /// Bytes dropped from the front of `buf` since the reply began.
    dropped: usize,
    limits: ReplyLimits,
}

impl ReplyDecoder {
    /// A decoder with these limits.
    pub fn new(limits: ReplyLimits) -> ReplyDecoder {
        ReplyDecoder {
            limits,
            ..ReplyDecoder::default()
        }
    }

    /// Adds bytes read from the peer.
    pub fn extend(&mut self, bytes: &[u8]) {
        // Drop what was parsed before growing, so the buffer holds at
        // most one partial element plus what just came.
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.dropped += self.pos;
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet part of a returned reply.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The bytes received after the last returned reply (none of them
    /// parsed yet: a reply is returned as soon as it is whole).
    pub fn into_rest(mut self) -> Vec<u8> {
        debug_assert!(self.stack.is_empty(), "only between replies");
        self.buf.split_off(self.pos)
    }

    /// The next whole reply, `Ok(None)` when more bytes are needed. After
    /// an error the stream is out of step: drop the connection.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        loop {
            let Some(mut r) = self.element()? else {
                return Ok(None);
            };
            // Each element is bounded on its own (a bulk by max_bulk, a
            // line by max_line), so what is buffered is too; this bounds
            // what the elements add up to.
            if self.dropped + self.pos - self.reply_start > self.limits.max_reply {
                return Err(ReplyError::TooLarge(self.limits.max_reply));
            }
            // Fold finished arrays into their parents.
            loop {
                match self.stack.last_mut() {
                    None => {
                        self.reply_start = self.dropped + self.pos;
                        return Ok(Some(r));
                    }
                    Some((left, items)) => {
                        items.push(r);
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        let (_, items) = self.stack.pop().expect("just seen");
                        r = Reply::Array(Some(items));
                    }
                }
            }
        }
    }

    /// The CRLF-terminated line at `pos`, without its type byte.
    fn line(&self) -> Result<Option<(&[u8], usize)>, ReplyError> {
        let rest = &self.buf[self.pos..];
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(nl) if nl > self.limits.max_line => {
                Err(ReplyError::LineTooLong(self.limits.max_line))
            }
            Some(nl) => Ok(Some((&rest[1..nl], nl + 2))),
            None if rest.len() > self.limits.max_line => {
                Err(ReplyError::LineTooLong(self.limits.max_line))
            }
            None => Ok(None),
        }
    }

    /// One element (a scalar, or the header of an array, which is pushed
    /// on the stack and yields nothing yet unless empty or null).
    fn element(&mut self) -> Result<Option<Reply>, ReplyError> {
        loop {
            let Some(&kind) = self.buf.get(self.pos) else {
                return Ok(None);
            };
            let Some((line, used)) = self.line()? else {
                return Ok(None);
            };
            let text = || std::str::from_utf8(line).map_err(|_| ReplyError::NotUtf8);
            let int = || -> Result<i64, ReplyError> {
                let s = std::str::from_utf8(line).map_err(|_| ReplyError::NotUtf8)?;
                s.parse()
                    .map_err(|_| ReplyError::BadNumber(s.chars().take(32).collect()))
            };
            let r = match kind {
                b'+' => Reply::Status(text()?.to_string()),
                b'-' => Reply::Error(text()?.to_string()),
                b':' => Reply::Int(int()?),
                b'$' => {
                    let n = int()?;
                    if n < 0 {
                        Reply::Bulk(None)
                    } else {
                        if n as u64 > self.limits.max_bulk as u64 {
                            return Err(ReplyError::TooLong {
                                what: "bulk length",
                                declared: n,
                                limit: self.limits.max_bulk,
                            });
                        }
                        let n = n as usize;
                        let start = self.pos + used;
                        if self.buf.len() < start + n + 2 {
                            return Ok(None);
                        }
                        if &self.buf[start + n..start + n + 2] != b"\r\n" {
                            return Err(ReplyError::BadBulkEnd);
                        }
                        let b = self.buf[start..start + n].to_vec();
                        self.pos = start + n + 2;
                        return Ok(Some(Reply::Bulk(Some(b))));
                    }
                }
                b'*' => {
                    let n = int()?;
                    if n > self.limits.max_items as i64 {
                        return Err(ReplyError::TooLong {
                            what: "array length",
                            declared: n,
                            limit: self.limits.max_items,
                        });
                    }
                    if n > 0 {
                        if self.stack.len() >= self.limits.max_depth {
                            return Err(ReplyError::TooDeep(self.limits.max_depth));
                        }
                        self.pos += used;
                        let n = n as usize;
                        self.stack.push((n, Vec::with_capacity(n.min(1024))));
                        continue;
                    }
                    if n == 0 {
                        Reply::Array(Some(Vec::new()))
                    } else {
                        Reply::Array(None)
                    }
                }
                other => return Err(ReplyError::UnexpectedType(other)),
            };
            self.pos += used;
            return Ok(Some(r));
        }
    }
}

/// Parses one whole reply from the front of `buf`: `Ok(None)` when more
/// bytes are needed, else the reply and the bytes it used. For tests and
/// one-shot buffers; a connection keeps a [`ReplyDecoder`].
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ReplyError> {
    let mut d = ReplyDecoder::new(ReplyLimits::default());
    d.extend(buf);
    Ok(d.next_reply()?.map(|r| (r, d.pos)))
}

/// Why a client connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, reading or writing did not finish in time.
    #[error("{addr}: {what} timeout")]
    Timeout {
        /// The peer.
        addr: String,
        /// "connect", "write" or "reply".
        what: &'static str,
    },
    /// The socket failed.
    #[error("{addr}: {source}")]
    Io {
        /// The peer.
        addr: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The peer closed the connection.
    #[error("{0}: connection closed")]
    Closed(String),
    /// The peer sent something that is not a RESP2 reply, or too much.
    #[error("{addr}: {source}")]
    Protocol {
        /// The peer.
        addr: String,
        /// What was wrong.
        source: ReplyError,
    },
    /// The peer refused our credentials.
    #[error("{addr}: AUTH: {reply}")]
    Auth {
        /// The peer.
        addr: String,
        /// Its error reply.
        reply: String,
    },
}

impl ClientError {
    /// Whether it is a timeout waiting for a reply (a quiet subscription
    /// is not an error).
    pub fn is_reply_timeout(&self) -> bool {
        matches!(self, ClientError::Timeout { what: "reply", .. })
    }
}

/// One connection to a Redis-protocol server, every step bounded by
/// `timeout`.
pub struct Conn {
    addr: String,
    stream: TcpStream,
    decoder: ReplyDecoder,
    timeout: Duration,
}

impl Conn {
    /// Connects to `addr` (`host:port`), then AUTHs as `user` (None:
    /// `default`) when there is a password. An error reply to AUTH is
    /// [`ClientError::Auth`].
    pub async fn open(
        addr: &str,
        auth: (Option<&str>, Option<&str>),
        timeout: Duration,
    ) -> Result<Conn, ClientError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout {
                addr: addr.to_string(),
                what: "connect",
            })?
            .map_err(|source| ClientError::Io {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let mut c = Conn {
            addr: addr.to_string(),
            stream,
            decoder: ReplyDecoder::new(ReplyLimits::default()),
            timeout,
        };
        if let (user, Some(pass)) = auth {
            let mut argv = vec!["AUTH"];
            argv.extend(user);
            argv.push(pass);
            if let Reply::Error(reply) = c.call(&argv).await? {
                return Err(ClientError::Auth {
                    addr: addr.to_string(),
                    reply,
                });
            }
        }
        Ok(c)
    }

    /// Changes the timeout of every later step.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Gives up the connection: its socket and the bytes read after the
    /// last reply. A replica's handshake is request/reply; after PSYNC
    /// the master sends a snapshot and a stream, which are not replies.
    pub fn into_parts(self) -> (TcpStream, Vec<u8>) {
        (self.stream, self.decoder.into_rest())
    }

    /// Our address on the connection.
    pub fn local_ip(&self) -> Option<String> {
        self.stream.local_addr().ok().map(|a| a.ip().to_string())
    }

    /// Sends one command and reads its reply (an error reply is a reply).
    pub async fn call(&mut self, args: &[&str]) -> Result<Reply, ClientError> {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.call_bytes(&argv).await
    }

    /// As [`Conn::call`], with binary arguments.
    pub async fn call_bytes(&mut self, argv: &[&[u8]]) -> Result<Reply, ClientError> {
        self.send_bytes(argv).await?;
        self.read().await
    }

    /// Sends one command without reading (its reply comes in order with
    /// a subscription's messages).
    pub async fn send(&mut self, args: &[&str]) -> Result<(), ClientError> {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send_bytes(&argv).await
    }

    /// As [`Conn::send`], with binary arguments.
    pub async fn send_bytes(&mut self, argv: &[&[u8]]) -> Result<(), ClientError> {
        let mut out = Vec::new();
        encode_command(&mut out, argv);
        tokio::time::timeout(self.timeout, self.stream.write_all(&out))
            .await
            .map_err(|_| ClientError::Timeout {
                addr: self.addr.clone(),
                what: "write",
            })?
            .map_err(|source| ClientError::Io {
                addr: self.addr.clone(),
                source,
            })
    }

    /// Reads the next reply or push (a subscription's message).
    pub async fn read(&mut self) -> Result<Reply, ClientError> {
        self.read_within(self.timeout).await
    }

    /// Reads the next reply, waiting up to `limit`.
    pub async fn read_within(&mut self, limit: Duration) -> Result<Reply, ClientError> {
        loop {
            let next = self
                .decoder
                .next_reply()
                .map_err(|source| ClientError::Protocol {
                    addr: self.addr.clone(),
                    source,
                })?;
            if let Some(r) = next {
                return Ok(r);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = tokio::time::timeout(limit, self.stream.read(&mut chunk))
                .await
                .map_err(|_| ClientError::Timeout {
                    addr: self.addr.clone(),
                    what: "reply",
                })?
                .map_err(|source| ClientError::Io {
                    addr: self.addr.clone(),
                    source,
                })?;
            if n == 0 {
                return Err(ClientError::Closed(self.addr.clone()));
            }
            self.decoder.extend(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_after_a_reply_are_handed_over_unparsed() {
        // A replica's PSYNC reply, then the start of a diskless snapshot
        // (`$EOF:` is no RESP reply).
        let mut d = ReplyDecoder::new(ReplyLimits::default());
        d.extend(b"+FULLRESYNC 8de1 0\r\n$EOF:0123");
        assert_eq!(
            d.next_reply().unwrap(),
            Some(Reply::Status("FULLRESYNC 8de1 0".into()))
        );
        assert_eq!(d.into_rest(), b"$EOF:0123");
    }

    fn all(bytes: &[u8], limits: ReplyLimits) -> Result<Vec<Reply>, ReplyError> {
        let mut d = ReplyDecoder::new(limits);
        d.extend(bytes);
        let mut out = Vec::new();
        while let Some(r) = d.next_reply()? {
            out.push(r);
        }
        Ok(out)
    }

    #[test]
    fn replies_of_every_type_and_their_lengths() {
        assert_eq!(
            parse_reply(b"+PONG\r\n").unwrap(),
            Some((Reply::Status("PONG".into()), 7))
        );
        assert_eq!(parse_reply(b"$3\r\nab").unwrap(), None);
        let (r, n) = parse_reply(b"*3\r\n:0\r\n$1\r\n*\r\n:0\r\nxx")
            .unwrap()
            .unwrap();
        assert_eq!(n, 19);
        assert_eq!(
            r,
            Reply::Array(Some(vec![
                Reply::Int(0),
                Reply::Bulk(Some(b"*".to_vec())),
                Reply::Int(0)
            ]))
        );
        let d = ReplyLimits::default();
        assert_eq!(
            all(b"*-1\r\n$-1\r\n*0\r\n-ERR x\r\n*2\r\n*1\r\n:1\r\n*0\r\n", d).unwrap(),
            vec![
                Reply::Array(None),
                Reply::Bulk(None),
                Reply::Array(Some(vec![])),
                Reply::Error("ERR x".into()),
                Reply::Array(Some(vec![
                    Reply::Array(Some(vec![Reply::Int(1)])),
                    Reply::Array(Some(vec![]))
                ])),
            ]
        );
    }

    #[test]
    fn a_reply_fed_one_byte_at_a_time_is_parsed_once_in_order() {
        let wire = b"*3\r\n$5\r\nhello\r\n*2\r\n:7\r\n+OK\r\n-ERR no\r\n:42\r\n";
        let mut d = ReplyDecoder::new(ReplyLimits::default());
        let mut got = Vec::new();
        for b in wire {
            d.extend(&[*b]);
            while let Some(r) = d.next_reply().unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got, all(wire, ReplyLimits::default()).unwrap());
        assert_eq!(got.len(), 2);
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn hostile_replies_get_typed_errors_and_no_allocation_they_claim() {
        let small = ReplyLimits {
            max_line: 32,
            max_bulk: 100,
            max_items: 10,
            max_depth: 3,
            max_reply: 200,
        };
        let cases: &[(&[u8], ReplyError)] = &[
            (b"?x\r\n", ReplyError::UnexpectedType(b'?')),
            (b":abc\r\n", ReplyError::BadNumber("abc".into())),
            (
                b"$99999999999\r\n",
                ReplyError::TooLong {
                    what: "bulk length",
                    declared: 99_999_999_999,
                    limit: 100,
                },
            ),
            (
                b"*9223372036854775807\r\n",
                ReplyError::TooLong {
                    what: "array length",
                    declared: i64::MAX,
                    limit: 10,
                },
            ),
            (b"*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", ReplyError::TooDeep(3)),
            (b"$3\r\nabcXY", ReplyError::BadBulkEnd),
            (
                b"+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                ReplyError::LineTooLong(32),
            ),
            (b"-\xff\xfe\r\n", ReplyError::NotUtf8),
        ];
        for (wire, want) in cases {
            assert_eq!(
                all(wire, small).unwrap_err(),
                *want,
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
        // Many small elements add up past the reply limit, though each
        // is fine.
        let mut wire = b"*10\r\n".to_vec();
        for _ in 0..10 {
            wire.extend_from_slice(b"$30\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(all(&wire, small).unwrap_err(), ReplyError::TooLarge(200));
        // A claimed length allocates nothing before the bytes come.
        let mut d = ReplyDecoder::new(ReplyLimits::default());
        d.extend(b"*1000000\r\n");
        assert_eq!(d.next_reply().unwrap(), None);
        assert!(d.stack[0].1.capacity() <= 1024);
    }

    #[test]
    fn commands_are_encoded_as_multibulk() {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }
}
