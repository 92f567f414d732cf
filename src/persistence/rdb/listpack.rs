//! Listpacks (Redis: listpack.c), the compact encoding of small hashes and
//! sorted sets and of each quicklist node in RDB version 10.
//!
//! Layout: `<total bytes u32 LE><count u16 LE (65535 = unknown)>
//! <entry>* <0xFF>`; an entry is `<encoding+data><backlen>`, where backlen
//! is the size of encoding+data in 1-5 bytes readable from the right.
//! Strings that read as canonical integers are stored as integers, like
//! `lpAppend` does. The decoder checks every length against the blob and
//! the header against the contents (Redis's deep integrity check), so a
//! corrupt blob is an error, never a panic.

use crate::keyspace::value::Sds;
use crate::util::num::{parse_f64, parse_i64};

/// Size of the listpack header (Redis: LP_HDR_SIZE).
pub const HDR_SIZE: usize = 6;
/// Terminator byte (Redis: LP_EOF).
pub const EOF: u8 = 0xff;
/// Header count meaning "count the entries" (Redis: LP_HDR_NUMELE_UNKNOWN).
const NUMELE_UNKNOWN: u16 = u16::MAX;

/// One element of a listpack or ziplist: integers are kept as numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entry<'a> {
    /// A string element.
    Str(&'a [u8]),
    /// An integer-encoded element.
    Int(i64),
}

impl Entry<'_> {
    /// The element as a string, integers in decimal.
    pub fn to_sds(&self) -> Sds {
        match self {
            Entry::Str(s) => Sds::from_slice(s),
            Entry::Int(i) => Sds::from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        }
    }

    /// The element as a sorted-set score (Redis: zzlGetScore); `None` for
    /// text that is not a number or is NaN.
    pub fn to_score(&self) -> Option<f64> {
        match self {
            Entry::Int(i) => Some(*i as f64),
            Entry::Str(s) => {
                if s.eq_ignore_ascii_case(b"nan") {
                    return None;
                }
                parse_f64(s)
            }
        }
    }
}

/// Builds a listpack by appending elements (Redis: lpNew + lpAppend).
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// An empty listpack.
    pub fn new() -> Self {
        Builder {
            buf: vec![0; HDR_SIZE],
            count: 0,
        }
    }

    /// Number of elements appended.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size the finished listpack would have (Redis: lpBytes).
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends an element, integer-encoded when it is a canonical integer.
    pub fn append(&mut self, ele: &[u8]) {
        match parse_i64(ele) {
            Some(v) => self.append_int(v),
            None => self.append_str(ele),
        }
    }

    /// Appends an integer with the smallest encoding that holds it.
    pub fn append_int(&mut self, v: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = if v < 0 { (1 << 13) + v } else { v } as u64;
            b.push(0xc0 | (u >> 8) as u8);
            b.push(u as u8);
        } else if (-32768..=32767).contains(&v) {
            b.push(0xf1);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            b.push(0xf2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            b.push(0xf3);
            b.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            b.push(0xf4);
            b.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    /// Appends a string without trying the integer encodings.
    pub fn append_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let b = &mut self.buf;
        let n = s.len();
        if n < 64 {
            b.push(0x80 | n as u8);
        } else if n < 4096 {
            b.push(0xe0 | (n >> 8) as u8);
            b.push(n as u8);
        } else {
            b.push(0xf0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        self.finish_entry(start);
    }

    fn finish_entry(&mut self, start: usize) {
        let l = (self.buf.len() - start) as u64;
        let mut back = [0u8; 5];
        let n = encode_backlen(&mut back, l);
        self.buf.extend_from_slice(&back[..n]);
        self.count += 1;
    }

    /// The finished listpack bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        let num = if self.count < NUMELE_UNKNOWN as usize {
            self.count as u16
        } else {
            NUMELE_UNKNOWN
        };
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&num.to_le_bytes());
        self.buf
    }
}

/// Writes the backlen of an entry of `l` bytes (Redis: lpEncodeBacklen):
/// 7 bits per byte, the lowest bits last, every byte but the first with the
/// high bit set.
fn encode_backlen(buf: &mut [u8; 5], l: u64) -> usize {
    let n = backlen_size(l);
    for (i, byte) in buf[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - i);
        *byte = ((l >> shift) & 127) as u8 | if i > 0 { 128 } else { 0 };
    }
    n
}

/// Bytes the backlen of an entry of `l` bytes takes.
fn backlen_size(l: u64) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    }
}

/// Decodes and validates a whole listpack.
pub fn decode(lp: &[u8]) -> Result<Vec<Entry<'_>>, &'static str> {
    if lp.len() < HDR_SIZE + 1 {
        return Err("listpack: shorter than its header");
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return Err("listpack: header size differs from blob size");
    }
    let numele = u16::from_le_bytes([lp[4], lp[5]]);
    let mut out = Vec::with_capacity((numele as usize).min(lp.len()));
    let mut p = HDR_SIZE;
    loop {
        let first = *lp.get(p).ok_or("listpack: missing terminator")?;
        if first == EOF {
            break;
        }
        let (entry, len) = decode_entry(&lp[p..])?;
        let back = backlen_size(len as u64);
        let back_bytes = lp
            .get(p + len..p + len + back)
            .ok_or("listpack: entry past end")?;
        let mut expect = [0u8; 5];
        encode_backlen(&mut expect, len as u64);
        if back_bytes != &expect[..back] {
            return Err("listpack: bad backlen");
        }
        out.push(entry);
        p += len + back;
    }
    if p + 1 != lp.len() {
        return Err("listpack: data after terminator");
    }
    if numele != NUMELE_UNKNOWN && numele as usize != out.len() {
        return Err("listpack: header count differs from entries");
    }
    Ok(out)
}

/// Decodes the entry at the start of `p`: the element and the size of its
/// encoding+data (backlen excluded).
fn decode_entry(p: &[u8]) -> Result<(Entry<'_>, usize), &'static str> {
    const SHORT: &str = "listpack: truncated entry";
    let b0 = p[0];
    let get = |range: std::ops::Range<usize>| p.get(range).ok_or(SHORT);
    if b0 & 0x80 == 0 {
        return Ok((Entry::Int(b0 as i64), 1));
    }
    if b0 & 0xc0 == 0x80 {
        let n = (b0 & 0x3f) as usize;
        return Ok((Entry::Str(get(1..1 + n)?), 1 + n));
    }
    if b0 & 0xe0 == 0xc0 {
        let lo = *get(1..2)?.first().ok_or(SHORT)?;
        let u = (((b0 & 0x1f) as i64) << 8) | lo as i64;
        let v = if u >= 1 << 12 { u - (1 << 13) } else { u };
        return Ok((Entry::Int(v), 2));
    }
    if b0 & 0xf0 == 0xe0 {
        let lo = *get(1..2)?.first().ok_or(SHORT)?;
        let n = (((b0 & 0x0f) as usize) << 8) | lo as usize;
        return Ok((Entry::Str(get(2..2 + n)?), 2 + n));
    }
    match b0 {
        0xf0 => {
            let l = get(1..5)?;
            let n = u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize;
            let s = p.get(5..5usize.checked_add(n).ok_or(SHORT)?).ok_or(SHORT)?;
            Ok((Entry::Str(s), 5 + n))
        }
        0xf1 => {
            let d = get(1..3)?;
            Ok((Entry::Int(i16::from_le_bytes([d[0], d[1]]) as i64), 3))
        }
        0xf2 => {
            let d = get(1..4)?;
            // Sign-extend 24 bits.
            let v = i32::from_le_bytes([0, d[0], d[1], d[2]]) >> 8;
            Ok((Entry::Int(v as i64), 4))
        }
        0xf3 => {
            let d = get(1..5)?;
            Ok((
                Entry::Int(i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64),
                5,
            ))
        }
        0xf4 => {
            let d = get(1..9)?;
            let mut a = [0u8; 8];
            a.copy_from_slice(d);
            Ok((Entry::Int(i64::from_le_bytes(a)), 9))
        }
        _ => Err("listpack: invalid entry encoding"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(items: &[&[u8]]) -> Vec<u8> {
        let mut b = Builder::new();
        for i in items {
            b.append(i);
        }
        b.finish()
    }

    #[test]
    fn small_listpack_matches_redis_bytes() {
        // RPUSH l a 1 on redis-server 7.0.15: the quicklist node's listpack.
        let lp = build(&[b"a", b"1"]);
        assert_eq!(lp, [0x0c, 0, 0, 0, 2, 0, 0x81, b'a', 2, 0x01, 1, 0xff]);
    }

    #[test]
    fn every_encoding_round_trips() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let ints: Vec<String> = [
            0i64,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            -32768,
            32767,
            40000,
            -8_388_608,
            8_388_607,
            8_388_608,
            i32::MIN as i64,
            i32::MAX as i64,
            i64::MIN,
            i64::MAX,
        ]
        .iter()
        .map(|i| i.to_string())
        .collect();
        let mut items: Vec<&[u8]> = ints.iter().map(|s| s.as_bytes()).collect();
        items.extend([&b""[..], b"hello", &mid, &long, b"007", b"-0", b"+1"]);
        let lp = build(&items);
        let got = decode(&lp).unwrap();
        assert_eq!(got.len(), items.len());
        for (g, want) in got.iter().zip(&items) {
            assert_eq!(g.to_sds().as_slice(), *want);
        }
        assert_eq!(got[15], Entry::Int(i64::MIN));
        assert_eq!(got[21], Entry::Str(b"007"));
    }

    #[test]
    fn huge_listpacks_store_an_unknown_count() {
        let mut b = Builder::new();
        for _ in 0..70_000 {
            b.append_int(1);
        }
        let lp = b.finish();
        assert_eq!(&lp[4..6], &[0xff, 0xff]);
        assert_eq!(decode(&lp).unwrap().len(), 70_000);
    }

    #[test]
    fn long_entries_get_multi_byte_backlens() {
        let big = vec![b'z'; 20_000];
        let lp = build(&[&big, b"after"]);
        let got = decode(&lp).unwrap();
        assert_eq!(got[1], Entry::Str(b"after"));
    }

    #[test]
    fn corrupt_listpacks_are_rejected() {
        let good = build(&[b"abc", b"12345"]);
        assert!(decode(&good).is_ok());
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut {cut}");
        }
        let mut bad_count = good.clone();
        bad_count[4] = 5;
        assert!(decode(&bad_count).is_err());
        let mut bad_len = good.clone();
        bad_len[6] = 0x80 | 60; // string length past the end
        assert!(decode(&bad_len).is_err());
        let mut bad_back = good.clone();
        bad_back[10] = 9;
        assert!(decode(&bad_back).is_err());
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..5000 {
            let mut junk = good.clone();
            let i = rng.usize(0..junk.len());
            junk[i] = rng.u8(..);
            let _ = decode(&junk);
        }
    }
}
