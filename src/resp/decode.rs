//! Request decoding: multibulk (`*N\r\n$len\r\n...`) and inline commands.
//!
//! The parser is pure over a byte slice: it checks that a whole request is
//! present before producing anything, records argument positions instead of
//! copying, and reports how many bytes the request used. Limits and error
//! texts follow redis-server 7.0 (`processMultibulkBuffer`,
//! `processInlineBuffer`), because clients and tests match on them.

use thiserror::Error;

/// Longest inline request or header line accepted (Redis: PROTO_INLINE_MAX_SIZE).
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;

/// A malformed request. The connection answers `-ERR Protocol error: <msg>`
/// and is closed; the server keeps serving everyone else.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

/// Limits the parser enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: usize,
    /// Whether the client has authenticated. Unauthenticated clients may send
    /// at most 10 arguments of at most 16 KiB each, as in Redis 7.0.
    pub authenticated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            authenticated: true,
        }
    }
}

/// Where a decoded request's arguments are.
#[derive(Debug, PartialEq, Eq)]
pub enum ParsedRequest {
    /// Not enough bytes yet. `need` is the total buffer length that must be
    /// reached before parsing again is useful (0 when unknown).
    Incomplete { need: usize },
    /// A whole request of `consumed` bytes. Argument `i` is
    /// `source[args[i].0..args[i].1]`, where `source` is the input buffer for
    /// multibulk requests and the `scratch` vector for inline ones.
    Complete { consumed: usize, inline: bool },
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(off) = memchr(b'\r', &buf[i..]) {
        let p = i + off;
        if p + 1 < buf.len() {
            if buf[p + 1] == b'\n' {
                return Some(p);
            }
            i = p + 1;
        } else {
            return None;
        }
    }
    None
}

#[inline]
fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Parses a decimal integer the way Redis's `string2ll` does (no spaces, no
/// leading '+', no leading zeros except "0").
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = (c - b'0') as i64;
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    if neg && digits == b"0" {
        return None;
    }
    Some(v)
}

/// Decodes one request from the front of `buf`.
///
/// `args` is cleared and filled with argument positions. `scratch` receives
/// unescaped inline arguments. An empty inline line or `*0`/`*-1` yields a
/// complete request with no arguments, which the caller skips.
pub fn parse_request(
    buf: &[u8],
    args: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
    limits: &Limits,
) -> Result<ParsedRequest, ProtocolError> {
    args.clear();
    if buf.is_empty() {
        return Ok(ParsedRequest::Incomplete { need: 0 });
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, args, limits)
    } else {
        parse_inline(buf, args, scratch)
    }
}

fn parse_multibulk(
    buf: &[u8],
    args: &mut Vec<(usize, usize)>,
    limits: &Limits,
) -> Result<ParsedRequest, ProtocolError> {
    let Some(eol) = find_crlf(buf, 1) else {
        if buf.len() > PROTO_INLINE_MAX_SIZE {
            return Err(ProtocolError("too big mbulk count string".into()));
        }
        return Ok(ParsedRequest::Incomplete { need: 0 });
    };
    let count =
        parse_i64(&buf[1..eol]).ok_or_else(|| ProtocolError("invalid multibulk length".into()))?;
    if count > i32::MAX as i64 {
        return Err(ProtocolError("invalid multibulk length".into()));
    }
    if !limits.authenticated && count > 10 {
        return Err(ProtocolError("unauthenticated multibulk length".into()));
    }
    let mut pos = eol + 2;
    if count <= 0 {
        return Ok(ParsedRequest::Complete {
            consumed: pos,
            inline: false,
        });
    }
    args.reserve(count.min(1024) as usize);
    for _ in 0..count {
        if pos >= buf.len() {
            return Ok(ParsedRequest::Incomplete { need: 0 });
        }
        if buf[pos] != b'$' {
            return Err(ProtocolError(format!(
                "expected '$', got '{}'",
                buf[pos] as char
            )));
        }
        let Some(eol) = find_crlf(buf, pos + 1) else {
            if buf.len() - pos > PROTO_INLINE_MAX_SIZE {
                return Err(ProtocolError("too big bulk count string".into()));
            }
            return Ok(ParsedRequest::Incomplete { need: 0 });
        };
        let len = parse_i64(&buf[pos + 1..eol])
            .ok_or_else(|| ProtocolError("invalid bulk length".into()))?;
        if len < 0 || len as u64 > limits.max_bulk_len as u64 {
            return Err(ProtocolError("invalid bulk length".into()));
        }
        if !limits.authenticated && len > 16384 {
            return Err(ProtocolError("unauthenticated bulk length".into()));
        }
        let start = eol + 2;
        let end = start + len as usize;
        if buf.len() < end + 2 {
            return Ok(ParsedRequest::Incomplete { need: end + 2 });
        }
        // Redis does not check the terminator bytes; it skips two bytes.
        args.push((start, end));
        pos = end + 2;
    }
    Ok(ParsedRequest::Complete {
        consumed: pos,
        inline: false,
    })
}

fn parse_inline(
    buf: &[u8],
    args: &mut Vec<(usize, usize)>,
    scratch: &mut Vec<u8>,
) -> Result<ParsedRequest, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > PROTO_INLINE_MAX_SIZE {
            return Err(ProtocolError("too big inline request".into()));
        }
        return Ok(ParsedRequest::Incomplete { need: 0 });
    };
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    scratch.clear();
    split_args(line, args, scratch)
        .ok_or_else(|| ProtocolError("unbalanced quotes in request".into()))?;
    Ok(ParsedRequest::Complete {
        consumed: nl + 1,
        inline: true,
    })
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits a line into arguments like Redis's `sdssplitargs`: spaces separate,
/// "double quotes" take C escapes (\n \r \t \b \a \\ \" \xHH), 'single quotes'
/// take only \'. A closing quote must be followed by a space or the end.
/// Arguments are written to `out`, positions pushed to `args`. `None` on
/// unbalanced quotes.
pub fn split_args(line: &[u8], args: &mut Vec<(usize, usize)>, out: &mut Vec<u8>) -> Option<()> {
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(());
        }
        let start = out.len();
        let mut inq = false;
        let mut insq = false;
        loop {
            if inq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 3 < n && line[i + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(line[i + 2]), hex_val(line[i + 3])) {
                        out.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if line[i] == b'\\' && i + 1 < n {
                    let c = match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    };
                    out.push(c);
                    i += 2;
                    continue;
                }
                if line[i] == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                }
                out.push(line[i]);
                i += 1;
            } else if insq {
                if i >= n {
                    return None;
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    out.push(b'\'');
                    i += 2;
                    continue;
                }
                if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                }
                out.push(line[i]);
                i += 1;
            } else {
                if i >= n || line[i].is_ascii_whitespace() {
                    break;
                }
                match line[i] {
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => out.push(c),
                }
                i += 1;
            }
        }
        args.push((start, out.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<(ParsedRequest, Vec<Vec<u8>>), ProtocolError> {
        let mut args = Vec::new();
        let mut scratch = Vec::new();
        let r = parse_request(buf, &mut args, &mut scratch, &Limits::default())?;
        let src: &[u8] = match r {
            ParsedRequest::Complete { inline: true, .. } => &scratch,
            _ => buf,
        };
        let v = args.iter().map(|&(s, e)| src[s..e].to_vec()).collect();
        Ok((r, v))
    }

    #[test]
    fn multibulk_request_is_decoded_with_binary_args() {
        let (r, a) = parse(b"*2\r\n$3\r\nGET\r\n$3\r\na\0b\r\nrest").unwrap();
        assert_eq!(
            r,
            ParsedRequest::Complete {
                consumed: 22,
                inline: false
            }
        );
        assert_eq!(a, vec![b"GET".to_vec(), b"a\0b".to_vec()]);
    }

    #[test]
    fn partial_request_reports_incomplete_with_needed_length() {
        let (r, _) = parse(b"*2\r\n$3\r\nGET\r\n$10\r\nabc").unwrap();
        assert_eq!(r, ParsedRequest::Incomplete { need: 30 });
        let (r, _) = parse(b"*2\r\n$3\r\nGE").unwrap();
        assert!(matches!(r, ParsedRequest::Incomplete { .. }));
    }

    #[test]
    fn malformed_multibulk_gets_redis_error_text() {
        assert_eq!(parse(b"*x\r\n").unwrap_err().0, "invalid multibulk length");
        assert_eq!(
            parse(b"*1\r\n+foo\r\n").unwrap_err().0,
            "expected '$', got '+'"
        );
        assert_eq!(
            parse(b"*1\r\n$-5\r\n").unwrap_err().0,
            "invalid bulk length"
        );
        let lim = Limits {
            max_bulk_len: 10,
            authenticated: true,
        };
        let mut a = Vec::new();
        let mut s = Vec::new();
        assert_eq!(
            parse_request(b"*1\r\n$11\r\n", &mut a, &mut s, &lim)
                .unwrap_err()
                .0,
            "invalid bulk length"
        );
    }

    #[test]
    fn unauthenticated_clients_get_tight_limits() {
        let lim = Limits {
            max_bulk_len: 1 << 29,
            authenticated: false,
        };
        let mut a = Vec::new();
        let mut s = Vec::new();
        assert_eq!(
            parse_request(b"*11\r\n", &mut a, &mut s, &lim)
                .unwrap_err()
                .0,
            "unauthenticated multibulk length"
        );
        assert_eq!(
            parse_request(b"*1\r\n$16385\r\n", &mut a, &mut s, &lim)
                .unwrap_err()
                .0,
            "unauthenticated bulk length"
        );
    }

    #[test]
    fn inline_commands_split_like_sdssplitargs() {
        let (r, a) = parse(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n").unwrap();
        assert!(matches!(r, ParsedRequest::Complete { inline: true, .. }));
        assert_eq!(
            a,
            vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]
        );
        assert_eq!(
            parse(b"get \"abc\r\n").unwrap_err().0,
            "unbalanced quotes in request"
        );
        let (_, a) = parse(b"   \n").unwrap();
        assert!(a.is_empty());
    }

    #[test]
    fn oversized_lines_are_rejected() {
        let big = vec![b'a'; PROTO_INLINE_MAX_SIZE + 1];
        assert_eq!(parse(&big).unwrap_err().0, "too big inline request");
        let mut mb = b"*1".to_vec();
        mb.extend(std::iter::repeat_n(b'1', PROTO_INLINE_MAX_SIZE));
        assert_eq!(parse(&mb).unwrap_err().0, "too big mbulk count string");
    }

    #[test]
    fn parse_i64_matches_string2ll() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"0"), Some(0));
    }
}
