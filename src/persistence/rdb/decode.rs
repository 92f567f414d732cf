//! RDB bytes → values (Redis: rdbLoadObjectType, rdbLoadObject,
//! rdbGenericLoadStringObject, rdbLoadLen).
//!
//! Hostile input must never panic or allocate without bound: every length
//! is checked against the bytes that remain before anything is reserved,
//! compact blobs are validated in full, and collections must be non-empty
//! and free of duplicates (Redis rejects empty keys and duplicate members
//! at load time).

use std::borrow::Cow;
use std::collections::VecDeque;

use super::listpack::Entry;
use super::{container, intset, len, listpack, lzf, types, ziplist, RdbError};
use crate::keyspace::value::{HashValue, Sds, SetValue, Value, ZSet};

/// A cursor over RDB bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// A string as stored: bytes, or an integer-encoded string.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbStr<'a> {
    /// Verbatim or decompressed bytes.
    Bytes(Cow<'a, [u8]>),
    /// An INT8/16/32 encoded string.
    Int(i64),
}

impl RdbStr<'_> {
    /// The string's bytes (integers in decimal).
    pub fn into_sds(self) -> Sds {
        match self {
            RdbStr::Bytes(b) => Sds::from_slice(&b),
            RdbStr::Int(i) => Sds::from_slice(itoa::Buffer::new().format(i).as_bytes()),
        }
    }

    /// A string value, integer-encoded when possible (Redis loads strings
    /// with tryObjectEncoding).
    pub fn into_value(self) -> Value {
        match self {
            RdbStr::Bytes(b) => Value::from_bytes(&b),
            RdbStr::Int(i) => Value::Int(i),
        }
    }
}

/// A length, or the marker of a specially encoded string.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Offset of the next byte.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        if n > self.remaining() {
            return Err(RdbError::Truncated { offset: self.pos });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Next byte.
    pub fn read_u8(&mut self) -> Result<u8, RdbError> {
        Ok(self.take(1)?[0])
    }

    fn invalid(&self, offset: usize, what: &'static str) -> RdbError {
        RdbError::Invalid { offset, what }
    }

    fn read_len_or_enc(&mut self) -> Result<Len, RdbError> {
        let b = self.read_u8()?;
        Ok(match b >> 6 {
            0 => Len::Plain((b & 0x3f) as u64),
            1 => Len::Plain((((b & 0x3f) as u64) << 8) | self.read_u8()? as u64),
            3 => Len::Encoded(b & 0x3f),
            _ => match b {
                len::BITS32 => {
                    let d = self.take(4)?;
                    Len::Plain(u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as u64)
                }
                len::BITS64 => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(self.take(8)?);
                    Len::Plain(u64::from_be_bytes(a))
                }
                _ => return Err(self.invalid(self.pos - 1, "unknown length encoding")),
            },
        })
    }

    /// Reads a length (Redis: rdbLoadLen).
    pub fn read_len(&mut self) -> Result<u64, RdbError> {
        let at = self.pos;
        match self.read_len_or_enc()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(self.invalid(at, "encoded value where a length belongs")),
        }
    }

    /// Reads a count of items that each take at least `min_item` bytes,
    /// rejecting counts the remaining bytes can't hold.
    fn read_count(&mut self, min_item: usize) -> Result<usize, RdbError> {
        let at = self.pos;
        let n = self.read_len()?;
        if n > (self.remaining() / min_item.max(1)) as u64 {
            return Err(self.invalid(at, "count larger than the data"));
        }
        Ok(n as usize)
    }

    /// Reads a string in any of its forms (Redis: rdbGenericLoadStringObject).
    pub fn read_string(&mut self) -> Result<RdbStr<'a>, RdbError> {
        let at = self.pos;
        match self.read_len_or_enc()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError::Truncated { offset: self.pos })?;
                Ok(RdbStr::Bytes(Cow::Borrowed(self.take(n)?)))
            }
            Len::Encoded(len::ENC_INT8) => Ok(RdbStr::Int(self.read_u8()? as i8 as i64)),
            Len::Encoded(len::ENC_INT16) => {
                let d = self.take(2)?;
                Ok(RdbStr::Int(i16::from_le_bytes([d[0], d[1]]) as i64))
            }
            Len::Encoded(len::ENC_INT32) => {
                let d = self.take(4)?;
                Ok(RdbStr::Int(
                    i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64
                ))
            }
            Len::Encoded(len::ENC_LZF) => {
                let clen = self.read_len()?;
                let ulen = self.read_len()?;
                let clen =
                    usize::try_from(clen).map_err(|_| RdbError::Truncated { offset: self.pos })?;
                let data_at = self.pos;
                let data = self.take(clen)?;
                let ulen = usize::try_from(ulen).map_err(|_| self.invalid(at, "lzf length"))?;
                let out =
                    lzf::decompress(data, ulen).map_err(|what| self.invalid(data_at, what))?;
                Ok(RdbStr::Bytes(Cow::Owned(out)))
            }
            Len::Encoded(_) => Err(self.invalid(at, "unknown string encoding")),
        }
    }

    /// Reads a string as bytes (compact blobs, members, fields).
    pub fn read_bytes(&mut self) -> Result<Cow<'a, [u8]>, RdbError> {
        Ok(match self.read_string()? {
            RdbStr::Bytes(b) => b,
            RdbStr::Int(i) => Cow::Owned(itoa::Buffer::new().format(i).as_bytes().to_vec()),
        })
    }

    /// Reads a binary double (Redis: rdbLoadBinaryDoubleValue).
    pub fn read_binary_double(&mut self) -> Result<f64, RdbError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(f64::from_le_bytes(a))
    }

    /// Reads a text double (Redis: rdbLoadDoubleValue): a length byte, with
    /// 253/254/255 meaning NaN/+inf/-inf.
    pub fn read_text_double(&mut self) -> Result<f64, RdbError> {
        let at = self.pos;
        match self.read_u8()? {
            255 => Ok(f64::NEG_INFINITY),
            254 => Ok(f64::INFINITY),
            253 => Ok(f64::NAN),
            n => {
                let text = self.take(n as usize)?;
                std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.trim().parse::<f64>().ok())
                    .ok_or_else(|| self.invalid(at, "bad double"))
            }
        }
    }
}

/// Reads a type byte and the value after it.
pub fn read_object(r: &mut Reader<'_>) -> Result<Value, RdbError> {
    let ty = r.read_u8()?;
    read_value(r, ty)
}

/// Reads a value of type `ty` (Redis: rdbLoadObject).
pub fn read_value(r: &mut Reader<'_>, ty: u8) -> Result<Value, RdbError> {
    let start = r.pos();
    let bad = |what: &'static str| RdbError::Invalid {
        offset: start,
        what,
    };
    let value = match ty {
        types::STRING => return Ok(r.read_string()?.into_value()),
        types::LIST => {
            let n = r.read_count(1)?;
            let mut l = VecDeque::with_capacity(n);
            for _ in 0..n {
                l.push_back(r.read_string()?.into_sds());
            }
            Value::List(Box::new(l))
        }
        types::LIST_ZIPLIST => {
            let (at, blob) = (r.pos(), r.read_bytes()?);
            let entries = ziplist::decode(&blob).map_err(|w| blob_err(at, w))?;
            Value::List(Box::new(entries.iter().map(Entry::to_sds).collect()))
        }
        types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
            let nodes = r.read_count(2)?;
            let mut l = VecDeque::new();
            for _ in 0..nodes {
                let kind = if ty == types::LIST_QUICKLIST_2 {
                    let at = r.pos();
                    let c = r.read_len()?;
                    if c != container::PLAIN && c != container::PACKED {
                        return Err(blob_err(at, "unknown quicklist container"));
                    }
                    c
                } else {
                    container::PACKED
                };
                let (at, blob) = (r.pos(), r.read_bytes()?);
                if kind == container::PLAIN {
                    l.push_back(Sds::from_slice(&blob));
                    continue;
                }
                let entries = if ty == types::LIST_QUICKLIST_2 {
                    listpack::decode(&blob)
                } else {
                    ziplist::decode(&blob)
                }
                .map_err(|w| blob_err(at, w))?;
                // Redis skips empty nodes rather than failing.
                l.extend(entries.iter().map(Entry::to_sds));
            }
            Value::List(Box::new(l))
        }
        types::SET => {
            let n = r.read_count(1)?;
            let mut s = SetValue::with_capacity_and_hasher(n, Default::default());
            for _ in 0..n {
                let at = r.pos();
                if !s.insert(r.read_string()?.into_sds()) {
                    return Err(blob_err(at, "duplicate set member"));
                }
            }
            Value::Set(Box::new(s))
        }
        types::SET_INTSET => {
            let (at, blob) = (r.pos(), r.read_bytes()?);
            let ints = intset::decode(&blob).map_err(|w| blob_err(at, w))?;
            let mut s = SetValue::with_capacity_and_hasher(ints.len(), Default::default());
            let mut b = itoa::Buffer::new();
            for i in ints {
                s.insert(Sds::from_slice(b.format(i).as_bytes()));
            }
            Value::Set(Box::new(s))
        }
        types::ZSET | types::ZSET_2 => {
            let n = r.read_count(2)?;
            let mut z = ZSet::new();
            for _ in 0..n {
                let at = r.pos();
                let m = r.read_string()?.into_sds();
                let score = if ty == types::ZSET_2 {
                    r.read_binary_double()?
                } else {
                    r.read_text_double()?
                };
                if score.is_nan() {
                    return Err(blob_err(at, "NaN score"));
                }
                if z.insert(&m, score).is_some() {
                    return Err(blob_err(at, "duplicate sorted set member"));
                }
            }
            Value::ZSet(Box::new(z))
        }
        types::ZSET_ZIPLIST | types::ZSET_LISTPACK => {
            let (at, blob) = (r.pos(), r.read_bytes()?);
            let entries = if ty == types::ZSET_LISTPACK {
                listpack::decode(&blob)
            } else {
                ziplist::decode(&blob)
            }
            .map_err(|w| blob_err(at, w))?;
            if entries.len() % 2 != 0 {
                return Err(blob_err(at, "sorted set blob with a member and no score"));
            }
            let mut z = ZSet::new();
            for pair in entries.chunks_exact(2) {
                let score = pair[1].to_score().ok_or(blob_err(at, "bad score"))?;
                if z.insert(&pair[0].to_sds(), score).is_some() {
                    return Err(blob_err(at, "duplicate sorted set member"));
                }
            }
            Value::ZSet(Box::new(z))
        }
        types::HASH => {
            let n = r.read_count(2)?;
            let mut h = HashValue::with_capacity_and_hasher(n, Default::default());
            for _ in 0..n {
                let at = r.pos();
                let f = r.read_string()?.into_sds();
                let v = r.read_string()?.into_sds();
                if h.insert(f, v).is_some() {
                    return Err(blob_err(at, "duplicate hash field"));
                }
            }
            Value::Hash(Box::new(h))
        }
        types::HASH_ZIPMAP => {
            let (at, blob) = (r.pos(), r.read_bytes()?);
            let pairs = ziplist::decode_zipmap(&blob).map_err(|w| blob_err(at, w))?;
            let mut h = HashValue::with_capacity_and_hasher(pairs.len(), Default::default());
            for (f, v) in pairs {
                if h.insert(Sds::from_slice(f), Sds::from_slice(v)).is_some() {
                    return Err(blob_err(at, "duplicate hash field"));
                }
            }
            Value::Hash(Box::new(h))
        }
        types::HASH_ZIPLIST | types::HASH_LISTPACK => {
            let (at, blob) = (r.pos(), r.read_bytes()?);
            let entries = if ty == types::HASH_LISTPACK {
                listpack::decode(&blob)
            } else {
                ziplist::decode(&blob)
            }
            .map_err(|w| blob_err(at, w))?;
            if entries.len() % 2 != 0 {
                return Err(blob_err(at, "hash blob with a field and no value"));
            }
            let mut h = HashValue::with_capacity_and_hasher(entries.len() / 2, Default::default());
            for pair in entries.chunks_exact(2) {
                if h.insert(pair[0].to_sds(), pair[1].to_sds()).is_some() {
                    return Err(blob_err(at, "duplicate hash field"));
                }
            }
            Value::Hash(Box::new(h))
        }
        _ => {
            return Err(RdbError::UnsupportedType {
                ty,
                offset: start.saturating_sub(1),
            })
        }
    };
    if is_empty(&value) {
        // Redis: RDB_LOAD_ERR_EMPTY_KEY.
        return Err(bad("empty collection"));
    }
    Ok(value)
}

fn blob_err(offset: usize, what: &'static str) -> RdbError {
    RdbError::Invalid { offset, what }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Str(_) | Value::Int(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::encode::{write_len, write_object, write_string, SaveOptions};
    use super::*;

    fn read(bytes: &[u8]) -> Result<Value, RdbError> {
        read_object(&mut Reader::new(bytes))
    }

    fn strings(v: &Value) -> Vec<Vec<u8>> {
        match v {
            Value::List(l) => l.iter().map(|s| s.to_vec()).collect(),
            Value::Set(s) => s.iter().map(|s| s.to_vec()).collect(),
            _ => panic!("not a list or set"),
        }
    }

    #[test]
    fn lengths_decode_in_every_form() {
        for n in [
            0u64,
            1,
            63,
            64,
            300,
            16383,
            16384,
            1 << 20,
            u32::MAX as u64,
            1 << 40,
        ] {
            let mut b = Vec::new();
            write_len(&mut b, n);
            let mut r = Reader::new(&b);
            assert_eq!(r.read_len().unwrap(), n);
            assert_eq!(r.remaining(), 0);
        }
        assert!(matches!(
            Reader::new(&[0x82]).read_len(),
            Err(RdbError::Invalid { offset: 0, .. })
        ));
        assert_eq!(
            Reader::new(&[0x80, 1]).read_len(),
            Err(RdbError::Truncated { offset: 1 })
        );
    }

    #[test]
    fn known_redis_payload_bodies_decode() {
        // Bodies of DUMP payloads from redis-server 7.0.15 (footer removed).
        let list = [
            0x12, 0x01, 0x02, 0x0c, 0x0c, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xff,
        ];
        assert_eq!(
            strings(&read(&list).unwrap()),
            [b"a".to_vec(), b"1".to_vec()]
        );
        let set = [
            0x0b, 0x14, 4, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x70, 0x11, 1, 0,
        ];
        assert_eq!(
            strings(&read(&set).unwrap()),
            [b"1".to_vec(), b"2".to_vec(), b"70000".to_vec()]
        );
        let zset = [
            0x11, 0x14, 0x14, 0, 0, 0, 4, 0, 0x81, b'a', 2, 1, 1, 0x81, b'b', 2, 0x83, b'2', b'.',
            b'5', 4, 0xff,
        ];
        match read(&zset).unwrap() {
            Value::ZSet(z) => {
                assert_eq!(z.score(b"a"), Some(1.0));
                assert_eq!(z.score(b"b"), Some(2.5));
            }
            _ => panic!("zset expected"),
        }
        let lzf_string = [
            0x00, 0xc3, 9, 30, 1, b'a', b'a', 0xe0, 0x11, 0, 1, b'a', b'a',
        ];
        match read(&lzf_string).unwrap() {
            Value::Str(s) => assert_eq!(s.as_slice(), &[b'a'; 30]),
            _ => panic!("string expected"),
        }
        assert!(matches!(
            read(&[0x00, 0xc1, 0x2c, 0x01]).unwrap(),
            Value::Int(300)
        ));
    }

    #[test]
    fn old_types_decode() {
        // RDB_TYPE_LIST, SET, ZSET (text scores), HASH.
        let mut b = vec![types::LIST];
        write_len(&mut b, 2);
        write_string(&mut b, b"x", false);
        write_string(&mut b, b"12", false);
        assert_eq!(strings(&read(&b).unwrap()), [b"x".to_vec(), b"12".to_vec()]);

        let mut z = vec![types::ZSET];
        write_len(&mut z, 3);
        for (m, s) in [(&b"a"[..], &b"1.5"[..]), (b"b", b"")] {
            write_string(&mut z, m, false);
            z.push(s.len() as u8);
            z.extend_from_slice(s);
        }
        z.truncate(z.len() - 1);
        z.push(254); // +inf
        write_string(&mut z, b"c", false);
        z.push(255); // -inf
        match read(&z).unwrap() {
            Value::ZSet(zs) => {
                assert_eq!(zs.score(b"a"), Some(1.5));
                assert_eq!(zs.score(b"b"), Some(f64::INFINITY));
                assert_eq!(zs.score(b"c"), Some(f64::NEG_INFINITY));
            }
            _ => panic!("zset expected"),
        }
        let mut nan = vec![types::ZSET];
        write_len(&mut nan, 1);
        write_string(&mut nan, b"a", false);
        nan.push(253);
        assert!(read(&nan).is_err());

        let mut zm = vec![types::HASH_ZIPMAP];
        write_string(&mut zm, &[1, 1, b'f', 1, 0, b'v', 0xff], false);
        match read(&zm).unwrap() {
            Value::Hash(h) => assert_eq!(h.get(&b"f"[..]).map(|v| v.as_slice()), Some(&b"v"[..])),
            _ => panic!("hash expected"),
        }
    }

    #[test]
    fn everything_written_reads_back() {
        let opts = SaveOptions::default();
        let mut list = VecDeque::new();
        for i in 0..3000 {
            list.push_back(Sds::from_slice(format!("item{i}").as_bytes()));
        }
        let mut b = Vec::new();
        write_object(&mut b, &Value::List(Box::new(list)), &opts);
        let v = read(&b).unwrap();
        assert_eq!(strings(&v).len(), 3000);
        assert_eq!(strings(&v)[2999], b"item2999");
    }

    #[test]
    fn bad_input_is_an_error_with_an_offset() {
        assert_eq!(read(&[]).err(), Some(RdbError::Truncated { offset: 0 }));
        assert!(matches!(
            read(&[15]),
            Err(RdbError::UnsupportedType { ty: 15, offset: 0 })
        ));
        assert!(matches!(
            read(&[6]),
            Err(RdbError::UnsupportedType { ty: 6, .. })
        ));
        // A string claiming 4 GB.
        assert!(matches!(
            read(&[0, 0x80, 0xff, 0xff, 0xff, 0xff, b'a']),
            Err(RdbError::Truncated { .. })
        ));
        // A set claiming 2^40 members.
        let mut huge = vec![types::SET];
        write_len(&mut huge, 1 << 40);
        assert!(matches!(
            read(&huge),
            Err(RdbError::Invalid { offset: 1, .. })
        ));
        // Empty collections and duplicates.
        assert!(read(&[types::SET, 0]).is_err());
        let mut dup = vec![types::SET];
        write_len(&mut dup, 2);
        write_string(&mut dup, b"a", false);
        write_string(&mut dup, b"a", false);
        assert!(read(&dup).is_err());
        // LZF claiming an impossible size.
        assert!(read(&[0, 0xc3, 2, 0x80, 0x10, 0, 0, 0, 0, b'a']).is_err());
    }

    #[test]
    fn quicklist_nodes_may_be_plain_and_unknown_containers_are_rejected() {
        let mut b = vec![types::LIST_QUICKLIST_2, 2];
        write_len(&mut b, container::PLAIN);
        write_string(&mut b, b"whole element", false);
        write_len(&mut b, container::PACKED);
        let mut lp = listpack::Builder::new();
        lp.append(b"next");
        write_string(&mut b, &lp.finish(), false);
        assert_eq!(
            strings(&read(&b).unwrap()),
            [b"whole element".to_vec(), b"next".to_vec()]
        );
        let bad = [types::LIST_QUICKLIST_2, 1, 3, 1, b'x'];
        assert!(matches!(
            read(&bad),
            Err(RdbError::Invalid { offset: 2, .. })
        ));
    }

    #[test]
    fn listpack_sorted_sets_reject_nan_and_odd_counts() {
        let mut lp = listpack::Builder::new();
        lp.append(b"m");
        lp.append(b"nan");
        let mut b = vec![types::ZSET_LISTPACK];
        write_string(&mut b, &lp.finish(), false);
        assert!(read(&b).is_err());
        let mut lp = listpack::Builder::new();
        lp.append(b"only-a-field");
        let mut h = vec![types::HASH_LISTPACK];
        write_string(&mut h, &lp.finish(), false);
        assert!(read(&h).is_err());
    }

    #[test]
    fn random_corruption_never_panics() {
        let opts = SaveOptions::default();
        let mut samples = Vec::new();
        let mut h = HashValue::default();
        for i in 0..20 {
            h.insert(
                Sds::from_slice(format!("f{i}").as_bytes()),
                Sds::from_slice(b"v"),
            );
        }
        let mut z = ZSet::new();
        for i in 0..20 {
            z.insert(format!("m{i}").as_bytes(), i as f64 / 3.0);
        }
        let list: VecDeque<Sds> = (0..50)
            .map(|i| Sds::from_slice(format!("{i}x").as_bytes()))
            .collect();
        for v in [
            Value::Hash(Box::new(h)),
            Value::ZSet(Box::new(z)),
            Value::List(Box::new(list)),
            Value::Str(Sds::from_slice(&b"abcdefgh".repeat(10))),
        ] {
            let mut b = Vec::new();
            write_object(&mut b, &v, &opts);
            samples.push(b);
        }
        let mut rng = fastrand::Rng::with_seed(9);
        for _ in 0..20_000 {
            let s = &samples[rng.usize(0..samples.len())];
            let mut junk = s.clone();
            for _ in 0..rng.usize(1..4) {
                let i = rng.usize(0..junk.len());
                junk[i] = rng.u8(..);
            }
            junk.truncate(rng.usize(0..=junk.len()));
            let _ = read(&junk);
        }
    }
}
