//! Whole RDB files (Redis: rdbSaveRio / rdbLoadRio): the "REDIS0010"
//! header, aux fields, per-database SELECTDB and RESIZEDB records, keys
//! with their expiry, the EOF opcode and the CRC64 trailer.
//!
//! Pure: [`write`] serializes databases to any `Write`, [`load`] reads a
//! whole file from bytes into databases. Loading never panics on corrupt
//! or truncated input; every error carries the byte offset of the bad item.

use std::io::{self, Write};

use super::crc64::crc64;
use super::{encode, RdbError, Reader, SaveOptions, RDB_VERSION};
use crate::keyspace::{Db, Obj, Sds};

/// Opcodes (Redis: RDB_OPCODE_*).
pub mod opcode {
    /// RDB_OPCODE_FUNCTION2: a function library (Redis 7.0).
    pub const FUNCTION2: u8 = 0xF5;
    /// RDB_OPCODE_FUNCTION_PRE_GA: a function (7.0 release candidates).
    pub const FUNCTION_PRE_GA: u8 = 0xF6;
    /// RDB_OPCODE_MODULE_AUX: module auxiliary data.
    pub const MODULE_AUX: u8 = 0xF7;
    /// RDB_OPCODE_IDLE: LRU idle time of the next key.
    pub const IDLE: u8 = 0xF8;
    /// RDB_OPCODE_FREQ: LFU counter of the next key.
    pub const FREQ: u8 = 0xF9;
    /// RDB_OPCODE_AUX: a name/value string pair.
    pub const AUX: u8 = 0xFA;
    /// RDB_OPCODE_RESIZEDB: hash table size hints.
    pub const RESIZEDB: u8 = 0xFB;
    /// RDB_OPCODE_EXPIRETIME_MS: unix ms, 8 bytes little-endian.
    pub const EXPIRETIME_MS: u8 = 0xFC;
    /// RDB_OPCODE_EXPIRETIME: unix seconds, 4 bytes little-endian.
    pub const EXPIRETIME: u8 = 0xFD;
    /// RDB_OPCODE_SELECTDB
    pub const SELECTDB: u8 = 0xFE;
    /// RDB_OPCODE_EOF
    pub const EOF: u8 = 0xFF;
}

/// The aux fields that change from save to save, and how access stamps
/// are saved.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// Unix seconds at save time ("ctime").
    pub ctime: i64,
    /// Used memory in bytes ("used-mem").
    pub used_mem: u64,
    /// IDLE/FREQ records per key (under LRU and LFU policies).
    pub access: Access,
    /// The file is the base of an AOF ("aof-base" 1).
    pub aof_base: bool,
    /// Replication position, so a restarted server continues its history
    /// ("repl-stream-db", "repl-id", "repl-offset").
    pub repl: Option<ReplAux>,
}

/// Replication position saved in a snapshot (Redis: rdbSaveInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplAux {
    /// The database the replication stream had selected.
    pub stream_db: usize,
    /// The replication id (40 hex digits).
    pub id: [u8; 40],
    /// The replication offset.
    pub offset: u64,
}

impl ReplAux {
    /// Reads the three aux fields back, when all are present and sane.
    pub fn from_aux(aux: &[(Sds, Sds)]) -> Option<ReplAux> {
        let get = |name: &str| {
            aux.iter()
                .find(|(k, _)| k.as_slice() == name.as_bytes())
                .map(|(_, v)| v.as_slice())
        };
        let num = |v: &[u8]| std::str::from_utf8(v).ok()?.parse::<i64>().ok();
        let id: [u8; 40] = get("repl-id")?.try_into().ok()?;
        let offset = num(get("repl-offset")?)?;
        let db = get("repl-stream-db").and_then(num).unwrap_or(0);
        (offset >= 0 && db >= 0 && id.iter().all(u8::is_ascii_hexdigit)).then_some(ReplAux {
            stream_db: db as usize,
            id,
            offset: offset as u64,
        })
    }
}

/// What `Obj::lru` holds, which decides the IDLE (0xF8) and FREQ (0xF9)
/// records (Redis: rdbSaveKeyValuePair writes them under LRU and LFU
/// maxmemory policies; objectSetLRUOrLFU restores them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Access {
    /// Neither is written (random, ttl and noeviction policies); on load,
    /// IDLE still sets the LRU clock, as Redis does.
    #[default]
    Plain,
    /// An LRU policy: IDLE seconds are written.
    Lru,
    /// An LFU policy: the decayed counter is written as FREQ.
    Lfu {
        /// lfu-decay-time in minutes.
        decay_time: i64,
    },
}

/// The 24-bit LRU clock's size (Redis: LRU_CLOCK_MAX + 1).
const LRU_CLOCK_SIZE: i64 = 1 << 24;

/// Flushes the buffer to the sink once it holds this many bytes.
const CHUNK: usize = 64 * 1024;

/// A buffered sink that keeps the running CRC64.
struct Sink<W: Write> {
    w: W,
    buf: Vec<u8>,
    crc: u64,
    checksum: bool,
}

impl<W: Write> Sink<W> {
    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64(self.crc, &self.buf);
        }
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

fn aux(out: &mut Vec<u8>, name: &str, val: &[u8], compress: bool) {
    out.push(opcode::AUX);
    encode::write_string(out, name.as_bytes(), compress);
    encode::write_string(out, val, compress);
}

/// Writes `dbs` as a complete RDB file, as redis-server 7.0 would: magic,
/// aux fields (redis-ver, redis-bits, ctime, used-mem, aof-base), each
/// non-empty database with SELECTDB and RESIZEDB, then EOF and the CRC64
/// of everything before it (zero when `checksum` is off, as with
/// `rdbchecksum no`). Keys already past their deadline are written too;
/// the loader drops them.
pub fn write<W: Write>(
    w: W,
    dbs: &[Db],
    hdr: &Header,
    opts: &SaveOptions,
    checksum: bool,
) -> io::Result<()> {
    write_with(w, dbs, hdr, opts, checksum, hdr.ctime * 1000, || {})
}

/// [`write`] at `now_ms` (for IDLE/FREQ), calling `per_key` after each
/// key (the server's `rdb-key-save-delay` test aid).
pub fn write_with<W: Write>(
    w: W,
    dbs: &[Db],
    hdr: &Header,
    opts: &SaveOptions,
    checksum: bool,
    now_ms: i64,
    mut per_key: impl FnMut(),
) -> io::Result<()> {
    let clock = ((now_ms / 1000) & (LRU_CLOCK_SIZE - 1)) as u32;
    let mut s = Sink {
        w,
        buf: Vec::with_capacity(CHUNK + 4096),
        crc: 0,
        checksum,
    };
    let c = opts.compress;
    s.buf
        .extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    aux(&mut s.buf, "redis-ver", b"7.0.15", c);
    aux(&mut s.buf, "redis-bits", b"64", c);
    aux(&mut s.buf, "ctime", hdr.ctime.to_string().as_bytes(), c);
    aux(
        &mut s.buf,
        "used-mem",
        hdr.used_mem.to_string().as_bytes(),
        c,
    );
    if let Some(r) = &hdr.repl {
        aux(
            &mut s.buf,
            "repl-stream-db",
            r.stream_db.to_string().as_bytes(),
            c,
        );
        aux(&mut s.buf, "repl-id", &r.id, c);
        aux(
            &mut s.buf,
            "repl-offset",
            r.offset.to_string().as_bytes(),
            c,
        );
    }
    aux(
        &mut s.buf,
        "aof-base",
        if hdr.aof_base { b"1" } else { b"0" },
        c,
    );
    for (i, db) in dbs.iter().enumerate() {
        if db.dict.is_empty() {
            continue;
        }
        s.buf.push(opcode::SELECTDB);
        encode::write_len(&mut s.buf, i as u64);
        s.buf.push(opcode::RESIZEDB);
        encode::write_len(&mut s.buf, db.dict.len() as u64);
        encode::write_len(&mut s.buf, db.expires.len() as u64);
        for (key, obj) in db.dict.iter() {
            if let Some(when) = db.expire_of(key) {
                s.buf.push(opcode::EXPIRETIME_MS);
                s.buf.extend_from_slice(&when.to_le_bytes());
            }
            match hdr.access {
                Access::Plain => {}
                Access::Lru => {
                    let idle = (clock as i64 - obj.lru as i64).rem_euclid(LRU_CLOCK_SIZE);
                    s.buf.push(opcode::IDLE);
                    encode::write_len(&mut s.buf, idle as u64);
                }
                Access::Lfu { decay_time } => {
                    s.buf.push(opcode::FREQ);
                    s.buf
                        .push(crate::keyspace::lfu::decayed(obj.lru, now_ms, decay_time));
                }
            }
            s.buf.push(encode::object_type(&obj.val, opts));
            encode::write_string(&mut s.buf, key, c);
            encode::write_value(&mut s.buf, &obj.val, opts);
            s.flush_if_full()?;
            per_key();
        }
    }
    s.buf.push(opcode::EOF);
    s.flush()?;
    let crc = if checksum { s.crc } else { 0 };
    s.w.write_all(&crc.to_le_bytes())?;
    s.w.flush()
}

/// How to load.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Unix ms now: keys with an earlier deadline are skipped on a master.
    pub now_ms: i64,
    /// Whether this server is a master (replicas keep expired keys: their
    /// master sends the DELs).
    pub master: bool,
    /// `rdbchecksum`: verify a non-zero CRC64 trailer.
    pub verify_checksum: bool,
    /// The access stamp loaded objects get.
    pub lru: u32,
    /// Whether `Obj::lru` holds LFU counters (FREQ applies) or the LRU
    /// clock (IDLE applies).
    pub lfu: bool,
}

/// What a load found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// The file's RDB version.
    pub version: u32,
    /// Keys added.
    pub keys_loaded: u64,
    /// Keys skipped because their deadline had passed.
    pub keys_expired: u64,
    /// The aux fields, in file order.
    pub aux: Vec<(Sds, Sds)>,
    /// Bytes read, through the checksum: where an AOF's command tail
    /// starts when the RDB is its preamble.
    pub consumed: usize,
}

/// Whether `ty` is a value type byte some Redis version writes.
fn known_type(ty: u8) -> bool {
    matches!(ty, 0..=7 | 9..=19)
}

/// Reads a whole RDB file into `dbs` (which should be empty). Accepts
/// everything redis-server 7.0 writes except functions and module data,
/// and every older RDB version.
pub fn load(bytes: &[u8], dbs: &mut [Db], opts: &LoadOptions) -> Result<Loaded, RdbError> {
    if bytes.len() < 9 || &bytes[..5] != b"REDIS" {
        return Err(RdbError::Invalid {
            offset: 0,
            what: "wrong signature: not an RDB file (it must start with REDIS)",
        });
    }
    let digits = &bytes[5..9];
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(RdbError::Invalid {
            offset: 5,
            what: "the RDB version is not a number",
        });
    }
    let version = digits.iter().fold(0u32, |v, d| v * 10 + (d - b'0') as u32);
    if version < 1 || version > RDB_VERSION as u32 {
        return Err(RdbError::Version { version, offset: 5 });
    }
    let mut r = Reader::new(bytes);
    r.take(9)?;
    let mut out = Loaded {
        version,
        ..Loaded::default()
    };
    let mut db = 0usize;
    let mut expire: Option<i64> = None;
    let (mut idle, mut freq): (Option<u64>, Option<u8>) = (None, None);
    let clock = ((opts.now_ms / 1000) & (LRU_CLOCK_SIZE - 1)) as u32;
    loop {
        let at = r.pos();
        let op = r.read_u8()?;
        match op {
            opcode::EXPIRETIME => {
                let b = r.take(4)?;
                expire = Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64 * 1000);
            }
            opcode::EXPIRETIME_MS => {
                let mut a = [0u8; 8];
                a.copy_from_slice(r.take(8)?);
                expire = Some(i64::from_le_bytes(a));
            }
            opcode::FREQ => freq = Some(r.read_u8()?),
            opcode::IDLE => idle = Some(r.read_len()?),
            opcode::EOF => break,
            opcode::SELECTDB => {
                let n = r.read_len()?;
                if n >= dbs.len() as u64 {
                    return Err(RdbError::Invalid {
                        offset: at,
                        what: "SELECTDB names a database beyond `databases`",
                    });
                }
                db = n as usize;
            }
            opcode::RESIZEDB => {
                r.read_len()?;
                r.read_len()?;
            }
            opcode::AUX => {
                let k = r.read_string()?.into_sds();
                let v = r.read_string()?.into_sds();
                out.aux.push((k, v));
            }
            opcode::MODULE_AUX => {
                return Err(RdbError::Unsupported {
                    offset: at,
                    what: "module auxiliary data (MODULE_AUX)",
                })
            }
            opcode::FUNCTION2 | opcode::FUNCTION_PRE_GA => {
                return Err(RdbError::Unsupported {
                    offset: at,
                    what: "function libraries (FUNCTION2)",
                })
            }
            ty if known_type(ty) => {
                let key = r.read_string()?.into_sds();
                let val = super::read_value(&mut r, ty)?;
                let when = expire.take();
                let lru = match (opts.lfu, freq.take(), idle.take()) {
                    (true, Some(f), _) => {
                        ((crate::keyspace::lfu::minutes(opts.now_ms) as u32) << 8) | f as u32
                    }
                    (false, _, Some(i)) => (clock as i64 - (i as i64 % LRU_CLOCK_SIZE))
                        .rem_euclid(LRU_CLOCK_SIZE)
                        as u32,
                    _ => opts.lru,
                };
                if opts.master && when.is_some_and(|w| w < opts.now_ms) {
                    out.keys_expired += 1;
                    continue;
                }
                let d = &mut dbs[db];
                if d.dict.contains_key(&key) {
                    return Err(RdbError::Invalid {
                        offset: at,
                        what: "duplicated key",
                    });
                }
                d.dict.insert_new(key.clone(), Obj::new(val, lru));
                if when.is_some() {
                    d.set_expire(&key, when);
                }
                out.keys_loaded += 1;
            }
            ty => return Err(RdbError::UnsupportedType { ty, offset: at }),
        }
    }
    if version >= 5 {
        let at = r.pos();
        let mut a = [0u8; 8];
        a.copy_from_slice(r.take(8)?);
        let expected = u64::from_le_bytes(a);
        if opts.verify_checksum && expected != 0 {
            let computed = crc64(0, &bytes[..at]);
            if computed != expected {
                return Err(RdbError::Checksum {
                    offset: at,
                    expected,
                    computed,
                });
            }
        }
    }
    out.consumed = r.pos();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;

    fn opts(now_ms: i64) -> LoadOptions {
        LoadOptions {
            now_ms,
            master: true,
            verify_checksum: true,
            lru: 0,
            lfu: false,
        }
    }

    fn dbs(n: usize) -> Vec<Db> {
        (0..n).map(|_| Db::default()).collect()
    }

    fn put(db: &mut Db, k: &str, v: Value, ttl: Option<i64>) {
        db.dict
            .insert_new(Sds::from_slice(k.as_bytes()), Obj::new(v, 0));
        if ttl.is_some() {
            db.set_expire(k.as_bytes(), ttl);
        }
    }

    fn save(d: &[Db], checksum: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let hdr = Header {
            ctime: 1_700_000_000,
            used_mem: 1_000_000,
            access: Access::Plain,
            aof_base: false,
            repl: None,
        };
        write(&mut out, d, &hdr, &SaveOptions::default(), checksum).unwrap();
        out
    }

    fn sample() -> Vec<Db> {
        let mut d = dbs(16);
        put(&mut d[0], "s", Value::from_bytes(b"hello"), None);
        put(&mut d[0], "n", Value::Int(12345), Some(4_000_000_000_000));
        let mut h = crate::keyspace::value::HashValue::default();
        h.insert(Sds::from_slice(b"f"), Sds::from_slice(b"v"));
        put(&mut d[3], "h", Value::Hash(Box::new(h)), None);
        d
    }

    #[test]
    fn a_keyspace_round_trips_with_its_deadlines() {
        let bytes = save(&sample(), true);
        let mut back = dbs(16);
        let l = load(&bytes, &mut back, &opts(0)).unwrap();
        assert_eq!(l.version, 10);
        assert_eq!(l.keys_loaded, 3);
        assert_eq!(back[0].len(), 2);
        assert_eq!(back[3].len(), 1);
        assert_eq!(back[0].expire_of(b"n"), Some(4_000_000_000_000));
        assert_eq!(back[0].expire_of(b"s"), None);
        assert!(matches!(
            back[0].dict.get(b"n".as_slice()).unwrap().val,
            Value::Int(12345)
        ));
        // Key order follows the hash table, so compare sizes, not bytes.
        assert_eq!(save(&back, true).len(), bytes.len());
    }

    #[test]
    fn the_header_and_trailer_are_what_redis_writes() {
        let bytes = save(&dbs(16), true);
        let mut expect = b"REDIS0010".to_vec();
        expect.extend_from_slice(b"\xfa\x09redis-ver\x067.0.15");
        expect.extend_from_slice(b"\xfa\x0aredis-bits\xc0\x40");
        expect.extend_from_slice(b"\xfa\x05ctime\xc2");
        expect.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        expect.extend_from_slice(b"\xfa\x08used-mem\xc2");
        expect.extend_from_slice(&1_000_000u32.to_le_bytes());
        expect.extend_from_slice(b"\xfa\x08aof-base\xc0\x00\xff");
        assert_eq!(&bytes[..bytes.len() - 8], &expect[..]);
        let crc = crc64(0, &expect);
        assert_eq!(&bytes[bytes.len() - 8..], &crc.to_le_bytes());
        let unchecked = save(&dbs(16), false);
        assert_eq!(&unchecked[unchecked.len() - 8..], &[0u8; 8]);
        // A zero checksum is not verified.
        assert!(load(&unchecked, &mut dbs(16), &opts(0)).is_ok());
    }

    #[test]
    fn idle_and_freq_records_carry_access_stamps_across_a_restart() {
        let mut d = dbs(1);
        let now_ms = 1_700_000_000_000;
        let clock = ((now_ms / 1000) & 0xff_ffff) as u32;
        put(&mut d[0], "k", Value::Int(1), None);
        d[0].dict.get_mut(b"k".as_slice()).unwrap().lru = clock - 100;
        let mut hdr = Header {
            ctime: now_ms / 1000,
            used_mem: 0,
            access: Access::Lru,
            aof_base: false,
            repl: None,
        };
        let mut bytes = Vec::new();
        write(&mut bytes, &d, &hdr, &SaveOptions::default(), true).unwrap();
        assert!(bytes.windows(3).any(|w| w == [opcode::IDLE, 0x40, 100]));
        let mut back = dbs(1);
        load(&bytes, &mut back, &opts(now_ms + 50_000)).unwrap();
        assert_eq!(
            back[0].dict.get(b"k".as_slice()).unwrap().lru,
            clock + 50 - 100
        );

        let lfu_stamp = crate::keyspace::lfu::init(now_ms) & !0xff | 42;
        d[0].dict.get_mut(b"k".as_slice()).unwrap().lru = lfu_stamp;
        hdr.access = Access::Lfu { decay_time: 1 };
        let mut bytes = Vec::new();
        write(&mut bytes, &d, &hdr, &SaveOptions::default(), true).unwrap();
        assert!(bytes.windows(2).any(|w| w == [opcode::FREQ, 42]));
        let mut back = dbs(1);
        let o = LoadOptions {
            lfu: true,
            ..opts(now_ms)
        };
        load(&bytes, &mut back, &o).unwrap();
        assert_eq!(back[0].dict.get(b"k".as_slice()).unwrap().lru, lfu_stamp);
    }

    #[test]
    fn keys_past_their_deadline_are_skipped_on_a_master_only() {
        let mut d = dbs(1);
        put(&mut d[0], "old", Value::Int(1), Some(1000));
        put(&mut d[0], "new", Value::Int(2), Some(5000));
        let bytes = save(&d, true);
        let mut back = dbs(1);
        let l = load(&bytes, &mut back, &opts(2000)).unwrap();
        assert_eq!((l.keys_loaded, l.keys_expired), (1, 1));
        let mut replica = dbs(1);
        let o = LoadOptions {
            master: false,
            ..opts(2000)
        };
        assert_eq!(load(&bytes, &mut replica, &o).unwrap().keys_loaded, 2);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_an_error_not_a_panic() {
        let bytes = save(&sample(), true);
        for n in 0..bytes.len() {
            assert!(load(&bytes[..n], &mut dbs(16), &opts(0)).is_err(), "{n}");
        }
        for i in 9..bytes.len() - 8 {
            let mut b = bytes.clone();
            b[i] ^= 0x5a;
            // Either a decode error or, failing that, the checksum catches it.
            assert!(load(&b, &mut dbs(16), &opts(0)).is_err(), "{i}");
        }
    }

    #[test]
    fn header_errors_name_the_problem() {
        let mut bytes = save(&dbs(1), true);
        assert!(matches!(
            load(b"RADIS0010\xff", &mut dbs(1), &opts(0)),
            Err(RdbError::Invalid { offset: 0, .. })
        ));
        bytes[5..9].copy_from_slice(b"0011");
        assert_eq!(
            load(&bytes, &mut dbs(1), &opts(0)),
            Err(RdbError::Version {
                version: 11,
                offset: 5
            })
        );
        let crc_at = save(&dbs(1), true).len() - 8;
        let mut bad = save(&dbs(1), true);
        bad[crc_at] ^= 1;
        assert!(matches!(
            load(&bad, &mut dbs(1), &opts(0)),
            Err(RdbError::Checksum { offset, .. }) if offset == crc_at
        ));
    }

    #[test]
    fn old_versions_opcodes_and_unsupported_records_are_handled() {
        // Version 3 (no checksum), seconds expiry, IDLE and FREQ, db 1.
        let mut f = b"REDIS0003".to_vec();
        f.extend_from_slice(b"\xfe\x01\xf8\x05\xf9\x07\xfd");
        f.extend_from_slice(&4_000_000i32.to_le_bytes());
        f.extend_from_slice(b"\x00\x01k\x01v\xff");
        let mut d = dbs(2);
        let l = load(&f, &mut d, &opts(0)).unwrap();
        assert_eq!(l.keys_loaded, 1);
        assert_eq!(d[1].expire_of(b"k"), Some(4_000_000_000));
        let f = b"REDIS0010\xf5\x00";
        assert!(matches!(
            load(f, &mut dbs(1), &opts(0)),
            Err(RdbError::Unsupported { offset: 9, .. })
        ));
        let f = b"REDIS0010\xf7\x00";
        assert!(matches!(
            load(f, &mut dbs(1), &opts(0)),
            Err(RdbError::Unsupported { offset: 9, .. })
        ));
        let f = b"REDIS0010\xfe\x05\xff";
        assert!(matches!(
            load(f, &mut dbs(2), &opts(0)),
            Err(RdbError::Invalid { offset: 9, .. })
        ));
        let f = b"REDIS0009\x08\x01k";
        assert!(matches!(
            load(f, &mut dbs(1), &opts(0)),
            Err(RdbError::UnsupportedType { ty: 8, offset: 9 })
        ));
    }
}
