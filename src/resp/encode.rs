//! Reply encoding for RESP2 and RESP3.
//!
//! Each function appends one reply element to a byte buffer. Types RESP2
//! lacks (maps, sets, doubles, booleans, nulls, pushes, verbatim strings) are
//! written the way redis-server 7.0 downgrades them, so a command handler
//! writes one shape and both protocol versions come out right.

/// Protocol version a client negotiated with HELLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proto {
    /// RESP2, the default.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

#[inline]
fn header(out: &mut Vec<u8>, tag: u8, n: i64) {
    out.push(tag);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `+OK`.
#[inline]
pub fn ok(out: &mut Vec<u8>) {
    out.extend_from_slice(b"+OK\r\n");
}

/// A simple string `+s`. `s` must not contain CR or LF.
#[inline]
pub fn simple(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'+');
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

/// An error reply `-CODE message`. Newlines in the message are replaced by
/// spaces, as Redis does, so the reply stays one line.
pub fn error(out: &mut Vec<u8>, msg: &str) {
    out.push(b'-');
    if msg.bytes().any(|b| b == b'\r' || b == b'\n') {
        out.extend(
            msg.bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        out.extend_from_slice(msg.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// An integer `:n`.
#[inline]
pub fn int(out: &mut Vec<u8>, n: i64) {
    header(out, b':', n);
}

/// A bulk string `$len\r\n...`.
#[inline]
pub fn bulk(out: &mut Vec<u8>, s: &[u8]) {
    header(out, b'$', s.len() as i64);
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

/// An integer written as a bulk string (e.g. GET of an int-encoded value).
#[inline]
pub fn bulk_int(out: &mut Vec<u8>, n: i64) {
    let mut b = itoa::Buffer::new();
    bulk(out, b.format(n).as_bytes());
}

/// The null bulk string: `$-1` in RESP2, `_` in RESP3.
#[inline]
pub fn null(out: &mut Vec<u8>, p: Proto) {
    match p {
        Proto::Resp2 => out.extend_from_slice(b"$-1\r\n"),
        Proto::Resp3 => out.extend_from_slice(b"_\r\n"),
    }
}

/// The null array: `*-1` in RESP2, `_` in RESP3.
#[inline]
pub fn null_array(out: &mut Vec<u8>, p: Proto) {
    match p {
        Proto::Resp2 => out.extend_from_slice(b"*-1\r\n"),
        Proto::Resp3 => out.extend_from_slice(b"_\r\n"),
    }
}

/// An array header for `n` elements.
#[inline]
pub fn array(out: &mut Vec<u8>, n: usize) {
    header(out, b'*', n as i64);
}

/// A map header for `n` pairs (`%n` in RESP3, a flat array of 2n in RESP2).
#[inline]
pub fn map(out: &mut Vec<u8>, p: Proto, n: usize) {
    match p {
        Proto::Resp2 => header(out, b'*', 2 * n as i64),
        Proto::Resp3 => header(out, b'%', n as i64),
    }
}

/// A set header (`~n` in RESP3, an array in RESP2).
#[inline]
pub fn set(out: &mut Vec<u8>, p: Proto, n: usize) {
    match p {
        Proto::Resp2 => header(out, b'*', n as i64),
        Proto::Resp3 => header(out, b'~', n as i64),
    }
}

/// A push header (`>n` in RESP3, an array in RESP2) for pub/sub messages.
#[inline]
pub fn push(out: &mut Vec<u8>, p: Proto, n: usize) {
    match p {
        Proto::Resp2 => header(out, b'*', n as i64),
        Proto::Resp3 => header(out, b'>', n as i64),
    }
}

/// A double: `,d` in RESP3, a bulk string in RESP2, formatted as Redis 7.0
/// does (`%.17g`, with `inf`/`-inf`).
pub fn double(out: &mut Vec<u8>, p: Proto, d: f64) {
    let s = crate::util::num::fmt_g17(d);
    match p {
        Proto::Resp2 => bulk(out, s.as_bytes()),
        Proto::Resp3 => {
            out.push(b',');
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
#[inline]
pub fn boolean(out: &mut Vec<u8>, p: Proto, b: bool) {
    match p {
        Proto::Resp2 => int(out, b as i64),
        Proto::Resp3 => out.extend_from_slice(if b { b"#t\r\n" } else { b"#f\r\n" }),
    }
}

/// A verbatim string (`=len\r\ntxt:...` in RESP3, a bulk string in RESP2),
/// used by INFO, CLIENT LIST and friends.
pub fn verbatim(out: &mut Vec<u8>, p: Proto, s: &[u8]) {
    match p {
        Proto::Resp2 => bulk(out, s),
        Proto::Resp3 => {
            header(out, b'=', s.len() as i64 + 4);
            out.extend_from_slice(b"txt:");
            out.extend_from_slice(s);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// An array of bulk strings.
pub fn bulk_array<'a, I: IntoIterator<Item = &'a [u8]>>(out: &mut Vec<u8>, items: I)
where
    I::IntoIter: ExactSizeIterator,
{
    let it = items.into_iter();
    array(out, it.len());
    for s in it {
        bulk(out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp3_types_downgrade_like_redis_in_resp2() {
        let mut o = Vec::new();
        map(&mut o, Proto::Resp2, 2);
        null(&mut o, Proto::Resp2);
        boolean(&mut o, Proto::Resp2, true);
        double(&mut o, Proto::Resp2, 1.5);
        assert_eq!(o, b"*4\r\n$-1\r\n:1\r\n$3\r\n1.5\r\n");
        let mut o = Vec::new();
        map(&mut o, Proto::Resp3, 2);
        null(&mut o, Proto::Resp3);
        boolean(&mut o, Proto::Resp3, false);
        double(&mut o, Proto::Resp3, f64::INFINITY);
        verbatim(&mut o, Proto::Resp3, b"ab");
        assert_eq!(o, b"%2\r\n_\r\n#f\r\n,inf\r\n=6\r\ntxt:ab\r\n");
    }

    #[test]
    fn error_replies_stay_on_one_line() {
        let mut o = Vec::new();
        error(&mut o, "ERR a\r\nb");
        assert_eq!(o, b"-ERR a  b\r\n");
    }
}
