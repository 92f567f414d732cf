//! Values → RDB bytes, choosing the type byte and encoding redis-server
//! 7.0 would write for the same contents (Redis: rdbSaveObjectType,
//! rdbSaveObject, rdbSaveRawString, rdbSaveLen).

use super::{container, intset, len, listpack, lzf, types};
use crate::keyspace::value::{EncodingLimits, ListValue, Value};
use crate::util::num::{fmt_g17, parse_i64};

/// What decides encodings when saving: the config directives Redis reads
/// in rdbSaveObject and when it builds the objects.
#[derive(Debug, Clone, Copy)]
pub struct SaveOptions {
    /// rdbcompression: LZF-compress strings longer than 20 bytes when it
    /// saves space.
    pub compress: bool,
    /// list-max-listpack-size: quicklist node fill (negative: byte size
    /// class, positive: element count).
    pub list_fill: i64,
    /// hash/set/zset encoding thresholds.
    pub limits: EncodingLimits,
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions {
            compress: true,
            list_fill: -2,
            limits: EncodingLimits::default(),
        }
    }
}

impl SaveOptions {
    /// The options a server's configuration implies.
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        SaveOptions {
            compress: cfg.rdbcompression,
            list_fill: cfg.list_max_listpack_size,
            limits: cfg.enc,
        }
    }
}

/// Writes an RDB length (Redis: rdbSaveLen).
pub fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push((len::BITS6 << 6) | n as u8);
    } else if n < 1 << 14 {
        out.push((len::BITS14 << 6) | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(len::BITS32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(len::BITS64);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes `v` as an INT8/16/32 encoded string if it fits (Redis:
/// rdbEncodeInteger); false when it needs more than 32 bits.
fn write_int_encoded(out: &mut Vec<u8>, v: i64) -> bool {
    let enc = |e: u8| (len::ENCVAL << 6) | e;
    if let Ok(b) = i8::try_from(v) {
        out.push(enc(len::ENC_INT8));
        out.push(b as u8);
    } else if let Ok(h) = i16::try_from(v) {
        out.push(enc(len::ENC_INT16));
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push(enc(len::ENC_INT32));
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Writes a string (Redis: rdbSaveRawString): as an integer encoding when
/// it is a canonical integer of at most 32 bits, LZF-compressed when
/// `compress`, longer than 20 bytes and smaller that way, else verbatim.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if s.len() <= 11 {
        if let Some(v) = parse_i64(s) {
            if write_int_encoded(out, v) {
                return;
            }
        }
    }
    // Under 20 bytes LZF can't win even on "aaaa...".
    if compress && s.len() > 20 {
        // Redis gives lzf_compress a budget of len - 4 bytes (rdbSaveLzfStringObject).
        if let Some(c) = lzf::compress(s, s.len() - 4) {
            out.push((len::ENCVAL << 6) | len::ENC_LZF);
            write_len(out, c.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Writes an integer string value (Redis: rdbSaveLongLongAsStringObject).
fn write_int_string(out: &mut Vec<u8>, v: i64) {
    if !write_int_encoded(out, v) {
        let mut b = itoa::Buffer::new();
        let s = b.format(v).as_bytes();
        write_len(out, s.len() as u64);
        out.extend_from_slice(s);
    }
}

/// Writes a binary double, little-endian IEEE 754 (Redis:
/// rdbSaveBinaryDoubleValue).
fn write_binary_double(out: &mut Vec<u8>, d: f64) {
    out.extend_from_slice(&d.to_le_bytes());
}

/// The type byte redis-server 7.0 writes for this value (Redis:
/// rdbSaveObjectType).
pub fn object_type(v: &Value, opts: &SaveOptions) -> u8 {
    match v {
        Value::Str(_) | Value::Int(_) => types::STRING,
        Value::List(_) => types::LIST_QUICKLIST_2,
        Value::Hash(_) => match v.encoding(&opts.limits) {
            "listpack" => types::HASH_LISTPACK,
            _ => types::HASH,
        },
        Value::Set(_) => match v.encoding(&opts.limits) {
            "intset" => types::SET_INTSET,
            _ => types::SET,
        },
        Value::ZSet(_) => match v.encoding(&opts.limits) {
            "listpack" => types::ZSET_LISTPACK,
            _ => types::ZSET_2,
        },
    }
}

/// Writes the type byte and the value.
pub fn write_object(out: &mut Vec<u8>, v: &Value, opts: &SaveOptions) {
    out.push(object_type(v, opts));
    write_value(out, v, opts);
}

/// Writes the value in the encoding [`object_type`] names (Redis:
/// rdbSaveObject).
pub fn write_value(out: &mut Vec<u8>, v: &Value, opts: &SaveOptions) {
    let c = opts.compress;
    match v {
        Value::Str(s) => write_string(out, s, c),
        Value::Int(i) => write_int_string(out, *i),
        Value::List(l) => {
            let nodes = quicklist_nodes(l, opts.list_fill);
            write_len(out, nodes.len() as u64);
            for node in &nodes {
                match node {
                    Node::Packed(lp) => {
                        write_len(out, container::PACKED);
                        write_string(out, lp, c);
                    }
                    Node::Plain(e) => {
                        write_len(out, container::PLAIN);
                        write_string(out, e, c);
                    }
                }
            }
        }
        Value::Hash(h) => {
            if object_type(v, opts) == types::HASH_LISTPACK {
                let mut lp = listpack::Builder::new();
                for (f, val) in h.iter() {
                    lp.append(f);
                    lp.append(val);
                }
                write_string(out, &lp.finish(), c);
            } else {
                write_len(out, h.len() as u64);
                for (f, val) in h.iter() {
                    write_string(out, f, c);
                    write_string(out, val, c);
                }
            }
        }
        Value::Set(s) => {
            if object_type(v, opts) == types::SET_INTSET {
                let mut ints: Vec<i64> = s.iter().filter_map(|m| parse_i64(m)).collect();
                ints.sort_unstable();
                write_string(out, &intset::encode(&ints), c);
            } else {
                write_len(out, s.len() as u64);
                for m in s.iter() {
                    write_string(out, m, c);
                }
            }
        }
        Value::ZSet(z) => {
            if object_type(v, opts) == types::ZSET_LISTPACK {
                let mut lp = listpack::Builder::new();
                for (m, score) in z.iter() {
                    lp.append(m);
                    lp.append(score_text(score).as_bytes());
                }
                write_string(out, &lp.finish(), c);
            } else {
                write_len(out, z.len() as u64);
                // Redis walks the skiplist from the tail so that loading
                // inserts each member at the head in O(1).
                for (m, score) in z.range(0, z.len(), true) {
                    write_string(out, m, c);
                    write_binary_double(out, score);
                }
            }
        }
    }
}

/// A score as a listpack stores it (Redis: d2string): integral values
/// within ±2^52 as integers, others as `%.17g`.
fn score_text(d: f64) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (min, max) = (-4_503_599_627_370_495.0, 4_503_599_627_370_496.0);
    if d > min && d < max && d == (d as i64) as f64 {
        (d as i64).to_string()
    } else {
        fmt_g17(d)
    }
}

/// A quicklist node as saved.
enum Node<'a> {
    /// A listpack of several elements.
    Packed(Vec<u8>),
    /// One element too large for a listpack.
    Plain(&'a [u8]),
}

/// Elements at or above this size get a plain node of their own (Redis:
/// packed_threshold, 1 GB).
const PACKED_THRESHOLD: usize = 1 << 30;
/// Byte limits per negative fill -1..-5 (Redis: optimization_level).
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Largest listpack a count-limited node may grow to (Redis:
/// SIZE_SAFETY_LIMIT).
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Estimated per-entry overhead when checking whether an element fits
/// (Redis: SIZE_ESTIMATE_OVERHEAD).
const SIZE_ESTIMATE_OVERHEAD: usize = 8;

/// Splits a list into quicklist nodes as RPUSHing its elements one by one
/// into redis-server 7.0 would (Redis: quicklistPushTail,
/// _quicklistNodeAllowInsert).
fn quicklist_nodes(l: &ListValue, fill: i64) -> Vec<Node<'_>> {
    let fill = fill.clamp(-5, (1 << 15) - 1);
    let exceeds = |new_sz: usize, new_count: usize| -> bool {
        if fill >= 0 {
            let count_limit = if fill == 0 { 1 } else { fill as usize };
            new_sz > SIZE_SAFETY_LIMIT || new_count > count_limit
        } else {
            new_sz > OPTIMIZATION_LEVEL[(-fill - 1) as usize]
        }
    };
    let mut nodes = Vec::new();
    let mut cur: Option<listpack::Builder> = None;
    for e in l.iter() {
        if e.len() >= PACKED_THRESHOLD {
            if let Some(b) = cur.take() {
                nodes.push(Node::Packed(b.finish()));
            }
            nodes.push(Node::Plain(e));
            continue;
        }
        let fits = cur
            .as_ref()
            .is_some_and(|b| !exceeds(b.bytes() + e.len() + SIZE_ESTIMATE_OVERHEAD, b.len() + 1));
        if !fits {
            if let Some(b) = cur.take() {
                nodes.push(Node::Packed(b.finish()));
            }
        }
        cur.get_or_insert_with(listpack::Builder::new).append(e);
    }
    if let Some(b) = cur {
        nodes.push(Node::Packed(b.finish()));
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len_bytes(n: u64) -> Vec<u8> {
        let mut v = Vec::new();
        write_len(&mut v, n);
        v
    }

    #[test]
    fn lengths_use_the_shortest_form() {
        assert_eq!(len_bytes(0), [0x00]);
        assert_eq!(len_bytes(63), [0x3f]);
        assert_eq!(len_bytes(64), [0x40, 0x40]);
        assert_eq!(len_bytes(16383), [0x7f, 0xff]);
        assert_eq!(len_bytes(16384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(len_bytes(u32::MAX as u64), [0x80, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(len_bytes(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    fn string_bytes(s: &[u8], compress: bool) -> Vec<u8> {
        let mut v = Vec::new();
        write_string(&mut v, s, compress);
        v
    }

    #[test]
    fn integer_strings_use_int_encodings() {
        assert_eq!(string_bytes(b"0", true), [0xc0, 0]);
        assert_eq!(string_bytes(b"-128", true), [0xc0, 0x80]);
        assert_eq!(string_bytes(b"300", true), [0xc1, 0x2c, 0x01]);
        assert_eq!(string_bytes(b"70000", true), [0xc2, 0x70, 0x11, 1, 0]);
        // Too wide for INT32, or not canonical: stored as text.
        assert_eq!(string_bytes(b"4294967296", true)[0], 10);
        assert_eq!(string_bytes(b"007", true), [3, b'0', b'0', b'7']);
        assert_eq!(string_bytes(b"+1", true), [2, b'+', b'1']);
    }

    #[test]
    fn long_strings_are_compressed_only_when_enabled_and_smaller() {
        let a30 = [b'a'; 30];
        assert_eq!(
            string_bytes(&a30, true),
            [0xc3, 9, 30, 1, b'a', b'a', 0xe0, 0x11, 0, 1, b'a', b'a']
        );
        assert_eq!(string_bytes(&a30, false)[0], 30);
        let short = [b'a'; 20];
        assert_eq!(string_bytes(&short, true)[0], 20);
        let noise: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(97)).collect();
        assert_eq!(string_bytes(&noise, true)[..2], [0x40, 100]);
    }

    #[test]
    fn listpack_scores_are_written_like_d2string() {
        assert_eq!(score_text(1.0), "1");
        assert_eq!(score_text(-0.0), "-0");
        assert_eq!(score_text(2.5), "2.5");
        assert_eq!(score_text(0.1), "0.10000000000000001");
        assert_eq!(score_text(1e20), "1e+20");
        assert_eq!(score_text(f64::INFINITY), "inf");
    }

    #[test]
    fn list_nodes_split_at_the_fill_limit() {
        let l: ListValue = (0..1000)
            .map(|i| crate::keyspace::Sds::from_slice(format!("element-{i:05}").as_bytes()))
            .collect();
        let nodes = quicklist_nodes(&l, -2);
        assert!(nodes.len() > 1);
        for n in &nodes {
            if let Node::Packed(lp) = n {
                assert!(lp.len() <= 8192);
            }
        }
        let by_count = quicklist_nodes(&l, 100);
        assert_eq!(by_count.len(), 10);
        assert_eq!(quicklist_nodes(&l, 0).len(), 1000);
    }
}
