//! Values stored in the keyspace and their Redis-visible types and
//! encodings.
//!
//! Strings are `Sds` (a byte vector with 16 bytes inline, so the common
//! small key or value needs no allocation of its own) or, for integer
//! strings, an `i64`, like Redis's OBJ_ENCODING_INT. Collections are boxed so
//! that an entry stays small.

use std::collections::VecDeque;

use smallvec::SmallVec;

pub use crate::keyspace::zset::ZSet;

/// A binary-safe string, inline up to 16 bytes (Redis: sds).
pub type Sds = SmallVec<[u8; 16]>;

/// Hasher used by collection values (seeded per process).
pub type Hasher = foldhash::fast::RandomState;
/// A hash value (Redis: OBJ_HASH).
pub type HashValue = indexmap::IndexMap<Sds, Sds, Hasher>;
/// A set value (Redis: OBJ_SET).
pub type SetValue = indexmap::IndexSet<Sds, Hasher>;
/// A list value (Redis: OBJ_LIST).
pub type ListValue = VecDeque<Sds>;

/// A value of one of Redis's types.
pub enum Value {
    /// A string (Redis: OBJ_STRING with RAW or EMBSTR encoding).
    Str(Sds),
    /// A string holding a 64-bit integer (Redis: OBJ_ENCODING_INT).
    Int(i64),
    /// A list.
    List(Box<ListValue>),
    /// A hash.
    Hash(Box<HashValue>),
    /// A set.
    Set(Box<SetValue>),
    /// A sorted set.
    ZSet(Box<ZSet>),
}

/// The Redis type of a value, as TYPE and SCAN TYPE name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// "string"
    String,
    /// "list"
    List,
    /// "hash"
    Hash,
    /// "set"
    Set,
    /// "zset"
    ZSet,
}

impl ValueType {
    /// The name TYPE replies with.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::List => "list",
            ValueType::Hash => "hash",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
        }
    }

    /// Parses a SCAN TYPE argument (case-insensitive).
    pub fn from_name(s: &[u8]) -> Option<ValueType> {
        Some(match s.to_ascii_lowercase().as_slice() {
            b"string" => ValueType::String,
            b"list" => ValueType::List,
            b"hash" => ValueType::Hash,
            b"set" => ValueType::Set,
            b"zset" => ValueType::ZSet,
            _ => return None,
        })
    }
}

/// Thresholds that decide which encoding OBJECT ENCODING reports (the
/// `*-max-listpack-*` and `set-max-intset-entries` directives).
#[derive(Debug, Clone, Copy)]
pub struct EncodingLimits {
    /// hash-max-listpack-entries
    pub hash_entries: usize,
    /// hash-max-listpack-value
    pub hash_value: usize,
    /// set-max-intset-entries
    pub set_intset_entries: usize,
    /// zset-max-listpack-entries
    pub zset_entries: usize,
    /// zset-max-listpack-value
    pub zset_value: usize,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_entries: 512,
            hash_value: 64,
            set_intset_entries: 512,
            zset_entries: 128,
            zset_value: 64,
        }
    }
}

impl Value {
    /// A string value from bytes, integer-encoded when it reads back as the
    /// same integer text (Redis: tryObjectEncoding).
    pub fn from_bytes(b: &[u8]) -> Value {
        if b.len() <= 20 {
            if let Some(i) = crate::util::num::parse_i64(b) {
                return Value::Int(i);
            }
        }
        Value::Str(Sds::from_slice(b))
    }

    /// The value's Redis type.
    pub fn kind(&self) -> ValueType {
        match self {
            Value::Str(_) | Value::Int(_) => ValueType::String,
            Value::List(_) => ValueType::List,
            Value::Hash(_) => ValueType::Hash,
            Value::Set(_) => ValueType::Set,
            Value::ZSet(_) => ValueType::ZSet,
        }
    }

    /// The encoding OBJECT ENCODING reports, as redis-server 7.0 would
    /// choose it for the same contents.
    pub fn encoding(&self, lim: &EncodingLimits) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(s) if s.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
            Value::List(_) => "quicklist",
            Value::Hash(h) => {
                if h.len() <= lim.hash_entries
                    && h.iter()
                        .all(|(k, v)| k.len() <= lim.hash_value && v.len() <= lim.hash_value)
                {
                    "listpack"
                } else {
                    "hashtable"
                }
            }
            Value::Set(s) => {
                if s.len() <= lim.set_intset_entries
                    && s.iter().all(|m| crate::util::num::parse_i64(m).is_some())
                {
                    "intset"
                } else {
                    "hashtable"
                }
            }
            Value::ZSet(z) => {
                if z.len() <= lim.zset_entries && z.iter().all(|(m, _)| m.len() <= lim.zset_value) {
                    "listpack"
                } else {
                    "skiplist"
                }
            }
        }
    }

    /// A string value's bytes, writing integers into `buf`. `None` for other types.
    pub fn as_bytes<'a>(&'a self, buf: &'a mut itoa::Buffer) -> Option<&'a [u8]> {
        match self {
            Value::Str(s) => Some(s.as_slice()),
            Value::Int(i) => Some(buf.format(*i).as_bytes()),
            _ => None,
        }
    }

    /// Approximate heap bytes owned by the value beyond the entry itself
    /// (used by MEMORY USAGE-like estimates and tests).
    pub fn heap_size(&self) -> usize {
        fn sds(s: &Sds) -> usize {
            if s.spilled() {
                s.capacity()
            } else {
                0
            }
        }
        match self {
            Value::Str(s) => sds(s),
            Value::Int(_) => 0,
            Value::List(l) => {
                l.capacity() * std::mem::size_of::<Sds>() + l.iter().map(sds).sum::<usize>()
            }
            Value::Hash(h) => {
                h.capacity() * 64 + h.iter().map(|(k, v)| sds(k) + sds(v)).sum::<usize>()
            }
            Value::Set(s) => s.capacity() * 40 + s.iter().map(sds).sum::<usize>(),
            Value::ZSet(z) => z.len() * 96,
        }
    }
}

/// A keyspace object: a value and its access metadata for eviction.
pub struct Obj {
    /// The value.
    pub val: Value,
    /// LRU clock (seconds, 24 bits) or, under an LFU policy, the last
    /// decrement time in minutes (16 bits) and a logarithmic counter
    /// (8 bits), as Redis's `robj.lru`.
    pub lru: u32,
}

impl Obj {
    /// Wraps a value with the given access stamp.
    pub fn new(val: Value, lru: u32) -> Obj {
        Obj { val, lru }
    }
}
