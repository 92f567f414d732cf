//! The RDB value encoding (Redis: rdb.c / rdb.h, RDB_VERSION 10), shared by
//! DUMP/RESTORE payloads and RDB files.
//!
//! Owns: lengths, strings (integer and LZF forms), every value type Redis
//! 7.0 writes (picket writes the same type byte and encoding redis-server
//! 7.0 would for equal data) and every older type it still loads. Does not
//! own: keys, expiry records, aux fields, file framing (the RDB file layer)
//! or the DUMP footer (`persistence::dump`). Everything here is pure:
//! encoders append to a `Vec<u8>`, decoders walk a byte slice through
//! [`Reader`] and report the byte offset of the first bad byte.
//!
//! Module map: [`encode`] (values → bytes), [`decode`] (bytes → values,
//! never panicking on hostile input), [`listpack`], [`intset`],
//! [`ziplist`] (also zipmap), [`lzf`], [`crc64`].

pub mod crc64;
pub mod decode;
pub mod encode;
pub mod file;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod ziplist;

pub use decode::{read_object, read_value, RdbStr, Reader};
pub use encode::{object_type, write_len, write_object, write_string, write_value, SaveOptions};

/// The RDB format version picket writes and the newest it reads (Redis
/// 7.0: RDB_VERSION).
pub const RDB_VERSION: u16 = 10;

/// Value type bytes (Redis: RDB_TYPE_*).
pub mod types {
    /// RDB_TYPE_STRING
    pub const STRING: u8 = 0;
    /// RDB_TYPE_LIST: a length and that many strings (before 3.2).
    pub const LIST: u8 = 1;
    /// RDB_TYPE_SET: a length and that many members.
    pub const SET: u8 = 2;
    /// RDB_TYPE_ZSET: members with scores as text.
    pub const ZSET: u8 = 3;
    /// RDB_TYPE_HASH: a length and that many field/value pairs.
    pub const HASH: u8 = 4;
    /// RDB_TYPE_ZSET_2: members with binary double scores.
    pub const ZSET_2: u8 = 5;
    /// RDB_TYPE_MODULE (unsupported).
    pub const MODULE: u8 = 6;
    /// RDB_TYPE_MODULE_2 (unsupported).
    pub const MODULE_2: u8 = 7;
    /// RDB_TYPE_HASH_ZIPMAP (before 2.6).
    pub const HASH_ZIPMAP: u8 = 9;
    /// RDB_TYPE_LIST_ZIPLIST (before 3.2).
    pub const LIST_ZIPLIST: u8 = 10;
    /// RDB_TYPE_SET_INTSET
    pub const SET_INTSET: u8 = 11;
    /// RDB_TYPE_ZSET_ZIPLIST (before 7.0).
    pub const ZSET_ZIPLIST: u8 = 12;
    /// RDB_TYPE_HASH_ZIPLIST (before 7.0).
    pub const HASH_ZIPLIST: u8 = 13;
    /// RDB_TYPE_LIST_QUICKLIST: ziplist nodes (3.2 to 6.2).
    pub const LIST_QUICKLIST: u8 = 14;
    /// RDB_TYPE_STREAM_LISTPACKS (unsupported).
    pub const STREAM_LISTPACKS: u8 = 15;
    /// RDB_TYPE_HASH_LISTPACK
    pub const HASH_LISTPACK: u8 = 16;
    /// RDB_TYPE_ZSET_LISTPACK
    pub const ZSET_LISTPACK: u8 = 17;
    /// RDB_TYPE_LIST_QUICKLIST_2: listpack (or plain) nodes.
    pub const LIST_QUICKLIST_2: u8 = 18;
    /// RDB_TYPE_STREAM_LISTPACKS_2 (unsupported).
    pub const STREAM_LISTPACKS_2: u8 = 19;
}

/// Quicklist node containers in RDB_TYPE_LIST_QUICKLIST_2 (Redis:
/// QUICKLIST_NODE_CONTAINER_*).
pub mod container {
    /// QUICKLIST_NODE_CONTAINER_PLAIN: the node is one raw element.
    pub const PLAIN: u64 = 1;
    /// QUICKLIST_NODE_CONTAINER_PACKED: the node is a listpack.
    pub const PACKED: u64 = 2;
}

/// Length prefixes and special string encodings (Redis: RDB_6BITLEN ...
/// RDB_ENC_LZF).
pub mod len {
    /// RDB_6BITLEN: `00xxxxxx`.
    pub const BITS6: u8 = 0;
    /// RDB_14BITLEN: `01xxxxxx xxxxxxxx`.
    pub const BITS14: u8 = 1;
    /// RDB_32BITLEN: `0x80` + 4 bytes big-endian.
    pub const BITS32: u8 = 0x80;
    /// RDB_64BITLEN: `0x81` + 8 bytes big-endian.
    pub const BITS64: u8 = 0x81;
    /// RDB_ENCVAL: `11xxxxxx`, a specially encoded string follows.
    pub const ENCVAL: u8 = 3;
    /// RDB_ENC_INT8
    pub const ENC_INT8: u8 = 0;
    /// RDB_ENC_INT16
    pub const ENC_INT16: u8 = 1;
    /// RDB_ENC_INT32
    pub const ENC_INT32: u8 = 2;
    /// RDB_ENC_LZF: `<clen><len><lzf data>`.
    pub const ENC_LZF: u8 = 3;
}

/// Why RDB bytes could not be decoded. The offset counts from the start
/// of the bytes given to the [`Reader`]; for errors inside a compact blob
/// (listpack, ziplist, intset, LZF data) it is the blob's offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdbError {
    /// The data ended in the middle of a value.
    #[error("unexpected end of RDB data at offset {offset}")]
    Truncated {
        /// Where the missing data should have started.
        offset: usize,
    },
    /// The data is malformed.
    #[error("invalid RDB data at offset {offset}: {what}")]
    Invalid {
        /// Where the bad item starts.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A value type picket does not load (streams, modules, unknown).
    #[error("unsupported RDB value type {ty} at offset {offset}")]
    UnsupportedType {
        /// The type byte.
        ty: u8,
        /// Where the type byte is.
        offset: usize,
    },
    /// An RDB file from a newer Redis (or not a version number at all).
    #[error(
        "can't handle RDB format version {version} (at offset {offset}; picket reads 1 to 10)"
    )]
    Version {
        /// The version in the header.
        version: u32,
        /// Where the version digits start.
        offset: usize,
    },
    /// The CRC64 trailer does not match the file's contents.
    #[error("wrong RDB checksum at offset {offset}: the file says {expected:016x}, the data gives {computed:016x}")]
    Checksum {
        /// Where the checksum is.
        offset: usize,
        /// The checksum stored in the file.
        expected: u64,
        /// The checksum of the bytes before it.
        computed: u64,
    },
    /// Content picket does not load (functions, module data).
    #[error("unsupported RDB content at offset {offset}: {what}")]
    Unsupported {
        /// Where the item starts.
        offset: usize,
        /// What it is.
        what: &'static str,
    },
}

impl RdbError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> usize {
        match *self {
            RdbError::Truncated { offset }
            | RdbError::Invalid { offset, .. }
            | RdbError::UnsupportedType { offset, .. }
            | RdbError::Version { offset, .. }
            | RdbError::Checksum { offset, .. }
            | RdbError::Unsupported { offset, .. } => offset,
        }
    }
}
