//! Decoders for the pre-7.0 compact encodings Redis 7.0 still loads:
//! ziplists (Redis: ziplist.c; lists, hashes and sorted sets in RDB 4-9)
//! and zipmaps (Redis: zipmap.c; hashes before 2.6). Picket never writes
//! them.
//!
//! Ziplist: `<zlbytes u32><zltail u32><zllen u16> <entry>* <0xFF>`, an
//! entry being `<prevlen: 1 byte, or 0xFE + u32><encoding><data>`.
//! Zipmap: `<zmlen u8> (<len>key<len><free>value<free bytes>)* <0xFF>`,
//! lengths 1 byte below 254, else 254 + u32.

use super::listpack::Entry;

const ZIP_END: u8 = 0xff;
const ZIP_BIG_PREVLEN: u8 = 0xfe;
const HEADER: usize = 10;

/// Decodes and validates a whole ziplist.
pub fn decode(zl: &[u8]) -> Result<Vec<Entry<'_>>, &'static str> {
    const SHORT: &str = "ziplist: truncated entry";
    if zl.len() < HEADER + 1 {
        return Err("ziplist: shorter than its header");
    }
    let zlbytes = u32::from_le_bytes([zl[0], zl[1], zl[2], zl[3]]) as usize;
    if zlbytes != zl.len() {
        return Err("ziplist: header size differs from blob size");
    }
    let zltail = u32::from_le_bytes([zl[4], zl[5], zl[6], zl[7]]) as usize;
    let zllen = u16::from_le_bytes([zl[8], zl[9]]);
    let mut out = Vec::with_capacity((zllen as usize).min(zl.len()));
    let mut p = HEADER;
    let mut prev_size = 0usize;
    let mut last_start = HEADER;
    loop {
        let first = *zl.get(p).ok_or("ziplist: missing terminator")?;
        if first == ZIP_END {
            break;
        }
        let start = p;
        let prevlen = if first == ZIP_BIG_PREVLEN {
            let b = zl.get(p + 1..p + 5).ok_or(SHORT)?;
            p += 5;
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize
        } else {
            p += 1;
            first as usize
        };
        if prevlen != prev_size {
            return Err("ziplist: prevlen mismatch");
        }
        let enc = *zl.get(p).ok_or(SHORT)?;
        let take = |from: usize, n: usize| -> Result<&[u8], &'static str> {
            zl.get(from..from.checked_add(n).ok_or(SHORT)?).ok_or(SHORT)
        };
        let entry = match enc >> 6 {
            0 => {
                let n = (enc & 0x3f) as usize;
                let s = take(p + 1, n)?;
                p += 1 + n;
                Entry::Str(s)
            }
            1 => {
                let b = take(p + 1, 1)?;
                let n = (((enc & 0x3f) as usize) << 8) | b[0] as usize;
                let s = take(p + 2, n)?;
                p += 2 + n;
                Entry::Str(s)
            }
            2 => {
                if enc != 0x80 {
                    return Err("ziplist: invalid string encoding");
                }
                let b = take(p + 1, 4)?;
                let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
                let s = take(p + 5, n)?;
                p += 5 + n;
                Entry::Str(s)
            }
            _ => {
                let (v, n) = match enc {
                    0xc0 => {
                        let b = take(p + 1, 2)?;
                        (i16::from_le_bytes([b[0], b[1]]) as i64, 2)
                    }
                    0xd0 => {
                        let b = take(p + 1, 4)?;
                        (i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64, 4)
                    }
                    0xe0 => {
                        let b = take(p + 1, 8)?;
                        let mut a = [0u8; 8];
                        a.copy_from_slice(b);
                        (i64::from_le_bytes(a), 8)
                    }
                    0xf0 => {
                        let b = take(p + 1, 3)?;
                        ((i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as i64, 3)
                    }
                    0xfe => {
                        let b = take(p + 1, 1)?;
                        (b[0] as i8 as i64, 1)
                    }
                    0xf1..=0xfd => (((enc & 0x0f) as i64) - 1, 0),
                    _ => return Err("ziplist: invalid integer encoding"),
                };
                p += 1 + n;
                Entry::Int(v)
            }
        };
        out.push(entry);
        prev_size = p - start;
        last_start = start;
    }
    if p + 1 != zl.len() {
        return Err("ziplist: data after terminator");
    }
    let expect_tail = if out.is_empty() { HEADER } else { last_start };
    if zltail != expect_tail {
        return Err("ziplist: bad tail offset");
    }
    if zllen != u16::MAX && zllen as usize != out.len() {
        return Err("ziplist: header count differs from entries");
    }
    Ok(out)
}

/// A field and its value, borrowed from the blob.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Decodes a zipmap into (field, value) pairs.
pub fn decode_zipmap(zm: &[u8]) -> Result<Vec<Pair<'_>>, &'static str> {
    const SHORT: &str = "zipmap: truncated";
    let mut p = 1usize; // zmlen is only a hint
    if zm.is_empty() {
        return Err(SHORT);
    }
    let read_len = |p: &mut usize| -> Result<Option<usize>, &'static str> {
        let b = *zm.get(*p).ok_or(SHORT)?;
        match b {
            ZIP_END => Ok(None),
            254 => {
                let l = zm.get(*p + 1..*p + 5).ok_or(SHORT)?;
                *p += 5;
                Ok(Some(u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize))
            }
            n => {
                *p += 1;
                Ok(Some(n as usize))
            }
        }
    };
    let take = |from: usize, n: usize| -> Result<&[u8], &'static str> {
        zm.get(from..from.checked_add(n).ok_or(SHORT)?).ok_or(SHORT)
    };
    let mut out = Vec::new();
    while let Some(klen) = read_len(&mut p)? {
        let key = take(p, klen)?;
        p += klen;
        let vlen = read_len(&mut p)?.ok_or("zipmap: key without value")?;
        let free = *zm.get(p).ok_or(SHORT)? as usize;
        p += 1;
        let val = take(p, vlen)?;
        p += vlen + free;
        out.push((key, val));
    }
    if p + 1 != zm.len() {
        return Err("zipmap: data after terminator");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist laid out as older Redis writes one for RPUSH l a 1 300.
    fn sample() -> Vec<u8> {
        let mut zl = vec![0u8; 10];
        let entries: Vec<Vec<u8>> = vec![
            vec![0x00, 0x01, b'a'],
            vec![0x03, 0xf2],
            vec![0x02, 0xc0, 0x2c, 0x01],
        ];
        let mut tail = 0;
        for e in &entries {
            tail = zl.len();
            zl.extend_from_slice(e);
        }
        zl.push(0xff);
        let n = zl.len() as u32;
        zl[0..4].copy_from_slice(&n.to_le_bytes());
        zl[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
        zl[8..10].copy_from_slice(&3u16.to_le_bytes());
        zl
    }

    #[test]
    fn ziplist_entries_decode() {
        let zl = sample();
        assert_eq!(
            decode(&zl).unwrap(),
            vec![Entry::Str(b"a"), Entry::Int(1), Entry::Int(300)]
        );
        for cut in 0..zl.len() {
            assert!(decode(&zl[..cut]).is_err());
        }
        let mut bad = zl.clone();
        bad[13] = 0x05; // wrong prevlen
        assert!(decode(&bad).is_err());
    }

    #[test]
    fn zipmap_pairs_decode_and_skip_free_bytes() {
        let zm = [2, 1, b'f', 2, 1, b'v', b'w', 0, 1, b'g', 0, 0, 0xff];
        assert_eq!(
            decode_zipmap(&zm).unwrap(),
            vec![(&b"f"[..], &b"vw"[..]), (&b"g"[..], &b""[..])]
        );
        // The same with one free byte after "vw".
        let zm2 = [2, 1, b'f', 2, 1, b'v', b'w', b'?', 1, b'g', 0, 0, 0xff];
        assert_eq!(decode_zipmap(&zm2).unwrap()[0], (&b"f"[..], &b"vw"[..]));
        assert!(decode_zipmap(&zm[..5]).is_err());
    }
}
