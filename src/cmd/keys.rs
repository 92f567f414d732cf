//! Key-space commands (Redis: db.c, expire.c and object.c command sections):
//! DEL UNLINK EXISTS TYPE KEYS SCAN RENAME RENAMENX RANDOMKEY COPY MOVE
//! TOUCH SWAPDB here; the EXPIRE/TTL family in `expire`, OBJECT in `object`.
//!
//! These commands work on keys whatever their type, so they own the generic
//! key bookkeeping Redis does around them: WATCH invalidation (`touch`) for
//! every key changed, in whichever database it lives; waking clients blocked
//! on a key that a rename, copy, move or swap made appear; and the rewritten
//! propagation of the EXPIRE family (always as an absolute PEXPIREAT, or as a
//! DEL when the deadline is already past). DUMP/RESTORE live in `dump.rs`.
//!
//! Lookups come in Redis's three flavours: `lookup_read` (counts hits and
//! misses, stamps the access), `lookup_write` (stamps, no stats) and
//! `lookup_notouch` below (stats, no stamp: EXISTS, TYPE, TTL, OBJECT), so
//! introspection never changes what eviction sees.

mod expire;
mod object;

use expire::{expire, expireat, expiretime, persist, pexpire, pexpireat, pexpiretime, pttl, ttl};
pub use object::idle_seconds;
use object::{object_encoding, object_freq, object_help, object_idletime, object_refcount};

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::keyspace::value::ZSet;
use crate::keyspace::{Keyspace, Obj, Sds, Value, ValueType};
use crate::spec;
use crate::util::glob::glob_match;
use crate::util::num::parse_i64;

/// The keys family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!("del", -2, WRITE, 1, -1, 1, "keyspace", del),
    spec!("unlink", -2, WRITE | FAST, 1, -1, 1, "keyspace", del),
    spec!("exists", -2, READONLY | FAST, 1, -1, 1, "keyspace", exists),
    spec!("type", 2, READONLY | FAST, 1, 1, 1, "keyspace", type_cmd),
    spec!("keys", 2, READONLY, 0, 0, 0, "keyspace", keys),
    spec!("scan", -2, READONLY, 0, 0, 0, "keyspace", scan),
    spec!("rename", 3, WRITE, 1, 2, 1, "keyspace", rename),
    spec!("renamenx", 3, WRITE | FAST, 1, 2, 1, "keyspace", renamenx),
    spec!("randomkey", 1, READONLY, 0, 0, 0, "keyspace", randomkey),
    spec!("copy", -3, WRITE | DENYOOM, 1, 2, 1, "keyspace", copy),
    spec!("move", 3, WRITE | FAST, 1, 1, 1, "keyspace", move_cmd),
    spec!("expire", -3, WRITE | FAST, 1, 1, 1, "keyspace", expire),
    spec!("pexpire", -3, WRITE | FAST, 1, 1, 1, "keyspace", pexpire),
    spec!("expireat", -3, WRITE | FAST, 1, 1, 1, "keyspace", expireat),
    spec!(
        "pexpireat",
        -3,
        WRITE | FAST,
        1,
        1,
        1,
        "keyspace",
        pexpireat
    ),
    spec!("ttl", 2, READONLY | FAST, 1, 1, 1, "keyspace", ttl),
    spec!("pttl", 2, READONLY | FAST, 1, 1, 1, "keyspace", pttl),
    spec!(
        "expiretime",
        2,
        READONLY | FAST,
        1,
        1,
        1,
        "keyspace",
        expiretime
    ),
    spec!(
        "pexpiretime",
        2,
        READONLY | FAST,
        1,
        1,
        1,
        "keyspace",
        pexpiretime
    ),
    spec!("persist", 2, WRITE | FAST, 1, 1, 1, "keyspace", persist),
    spec!("touch", -2, READONLY | FAST, 1, -1, 1, "keyspace", touch),
    spec!("swapdb", 3, WRITE | FAST, 0, 0, 0, "keyspace", swapdb),
    CommandSpec {
        name: "object",
        arity: -2,
        flags: CONTAINER,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "keyspace",
        handler: object_help,
        subcommands: &[
            spec!(
                "object|encoding",
                3,
                READONLY,
                2,
                2,
                1,
                "keyspace",
                object_encoding
            ),
            spec!("object|freq", 3, READONLY, 2, 2, 1, "keyspace", object_freq),
            spec!(
                "object|idletime",
                3,
                READONLY,
                2,
                2,
                1,
                "keyspace",
                object_idletime
            ),
            spec!(
                "object|refcount",
                3,
                READONLY,
                2,
                2,
                1,
                "keyspace",
                object_refcount
            ),
            spec!(
                "object|help",
                2,
                LOADING | STALE,
                0,
                0,
                0,
                "keyspace",
                object_help
            ),
        ],
    },
];

/// shared.sameobjecterr
const SAME_OBJECT: ErrorReply = ErrorReply::lit("ERR source and destination objects are the same");

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Looks a key up without stamping its access time, counting hits and misses
/// (Redis: lookupKeyReadWithFlags with LOOKUP_NOTOUCH).
pub(crate) fn lookup_notouch<'a>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
    now: i64,
) -> Option<&'a Obj> {
    if ks.expire_if_needed(db, key, now) {
        ks.misses += 1;
        return None;
    }
    match ks.dbs[db].dict.get(key) {
        Some(o) => {
            ks.hits += 1;
            Some(o)
        }
        None => {
            ks.misses += 1;
            None
        }
    }
}

/// A copy of a value sharing nothing with the original (Redis: the
/// dup*Object family COPY uses).
pub fn deep_clone(v: &Value) -> Value {
    match v {
        Value::Str(s) => Value::Str(s.clone()),
        Value::Int(i) => Value::Int(*i),
        Value::List(l) => Value::List(l.clone()),
        Value::Hash(h) => Value::Hash(h.clone()),
        Value::Set(s) => Value::Set(s.clone()),
        Value::ZSet(z) => {
            let mut n = ZSet::new();
            for (m, score) in z.iter() {
                n.insert(m, score);
            }
            Value::ZSet(Box::new(n))
        }
    }
}

/// Whether a key of this value type can unblock BLPOP/BZPOPMIN-style
/// waiters (Redis: the type check in signalKeyAsReady).
fn may_unblock(v: &Value) -> bool {
    matches!(v.kind(), ValueType::List | ValueType::ZSet)
}

/// Parses an argument the way getIntFromObjectOrReply does: a 64-bit
/// integer that must also fit an `int`. `msg` replaces both errors when
/// given, as in Redis.
fn int32_arg(ctx: &Ctx, i: usize, msg: Option<ErrorReply>) -> Result<i64, ErrorReply> {
    let Some(n) = parse_i64(ctx.arg(i)) else {
        return Err(msg.unwrap_or(errors::NOT_INT));
    };
    if i32::try_from(n).is_err() {
        return Err(msg.unwrap_or(ErrorReply::lit(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        )));
    }
    Ok(n)
}

/// Parses a database index for MOVE and COPY: an int, then in range
/// ("DB index is out of range", Redis: selectDb failing).
fn db_index_arg(ctx: &Ctx, i: usize) -> Result<usize, ErrorReply> {
    let n = int32_arg(ctx, i, None)?;
    let dbs = ctx.srv.keyspace.dbs.len();
    usize::try_from(n)
        .ok()
        .filter(|&n| n < dbs)
        .ok_or(errors::DB_RANGE)
}

/// Signals a key in `db` as ready if its value may unblock waiters.
fn signal_if_blocking_type(ctx: &mut Ctx, db: usize, key: &[u8]) {
    let unblocks = ctx.srv.keyspace.dbs[db]
        .dict
        .get(key)
        .is_some_and(|o| may_unblock(&o.val));
    if unblocks {
        ctx.srv.signal_key_as_ready(db, key);
    }
}

// ---------------------------------------------------------------------------
// DEL UNLINK EXISTS TYPE TOUCH
// ---------------------------------------------------------------------------

/// ```text
/// DEL key [key ...]
/// UNLINK key [key ...]
/// ```
/// Replies the number of keys removed; a key named twice counts once.
fn del(ctx: &mut Ctx) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let mut removed = 0;
    for i in 1..ctx.argc() {
        let key = ctx.arg(i);
        if ctx.srv.keyspace.delete(db, key, now) {
            ctx.touch(key);
            ctx.dirty(1);
            removed += 1;
        }
    }
    ctx.client.int(removed);
    Ok(())
}

/// ```text
/// EXISTS key [key ...]
/// ```
/// A key named twice counts twice.
fn exists(ctx: &mut Ctx) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let mut count = 0;
    for i in 1..ctx.argc() {
        let key = ctx.arg(i);
        if lookup_notouch(&mut ctx.srv.keyspace, db, key, now).is_some() {
            count += 1;
        }
    }
    ctx.client.int(count);
    Ok(())
}

/// ```text
/// TYPE key
/// ```
fn type_cmd(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let name =
        lookup_notouch(&mut ctx.srv.keyspace, db, key, now).map_or("none", |o| o.val.kind().name());
    ctx.client.simple(name);
    Ok(())
}

/// ```text
/// TOUCH key [key ...]
/// ```
/// Stamps the access time of each key; replies how many exist (a key named
/// twice counts twice).
fn touch(ctx: &mut Ctx) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let mut count = 0;
    for i in 1..ctx.argc() {
        let key = ctx.arg(i);
        if ctx.srv.keyspace.lookup_read(db, key, now).is_some() {
            count += 1;
        }
    }
    ctx.client.int(count);
    Ok(())
}

// ---------------------------------------------------------------------------
// KEYS SCAN RANDOMKEY
// ---------------------------------------------------------------------------

/// ```text
/// KEYS pattern
/// ```
/// Expired keys are skipped but not deleted (Redis: keysCommand).
fn keys(ctx: &mut Ctx) -> CmdResult {
    let (db, now, pattern) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    // Redis's allkeys shortcut: "*" matches every key without the matcher.
    let all = pattern == b"*";
    let d = &ctx.srv.keyspace.dbs[db];
    let found: Vec<&Sds> = d
        .dict
        .iter()
        .filter(|(k, _)| all || glob_match(pattern, k, false))
        .filter(|(k, _)| !d.is_expired(k, now))
        .map(|(k, _)| k)
        .collect();
    ctx.client.bulks(found.iter().map(|k| k.as_slice()));
    Ok(())
}

/// Parses a SCAN cursor like Redis's parseScanCursorOrReply, which uses
/// `strtoul(s, &end, 10)`: an optional sign (a minus wraps), decimal digits,
/// nothing after them, no leading space; the empty string is cursor 0.
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { n.wrapping_neg() } else { n })
}

/// ```text
/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
/// ```
/// Walks the database with the reverse-binary cursor (`Dict::scan`), up to
/// COUNT keys or 10×COUNT buckets per call, then filters by pattern, type and
/// expiry (expired keys are deleted on the way, as Redis does).
fn scan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(ctx.arg(1)).ok_or(ErrorReply::lit("ERR invalid cursor"))?;
    let mut count: i64 = 10;
    let mut pattern: Option<&[u8]> = None;
    let mut type_name: Option<&[u8]> = None;
    let mut i = 2;
    while i < ctx.argc() {
        let has_value = i + 1 < ctx.argc();
        if ctx.arg_is(i, "COUNT") && has_value {
            count = ctx.int_arg(i + 1)?;
            if count < 1 {
                return Err(errors::SYNTAX);
            }
        } else if ctx.arg_is(i, "MATCH") && has_value {
            // "*" disables the matcher, like Redis.
            pattern = Some(ctx.arg(i + 1)).filter(|p| *p != b"*");
        } else if ctx.arg_is(i, "TYPE") && has_value {
            type_name = Some(ctx.arg(i + 1));
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }

    let (db, now) = (ctx.client.db, ctx.now_ms);
    let dict = &ctx.srv.keyspace.dbs[db].dict;
    let mut found: Vec<Sds> = Vec::new();
    let mut cursor = cursor;
    // Bound the work when the table is sparse (Redis: maxiterations).
    let mut budget = count.saturating_mul(10);
    loop {
        cursor = dict.scan(cursor, |k, _| found.push(k.clone()));
        if cursor == 0 || budget == 0 || found.len() as i64 >= count {
            break;
        }
        budget -= 1;
    }

    // Redis 7.0 compares the type names; an unknown name matches nothing.
    let wanted = type_name.map(ValueType::from_name);
    let ks = &mut ctx.srv.keyspace;
    found.retain(|k| {
        if pattern.is_some_and(|p| !glob_match(p, k, false)) {
            return false;
        }
        if let Some(wanted) = wanted {
            let kind = lookup_notouch(ks, db, k, now).map(|o| o.val.kind());
            if kind.is_none() || kind != wanted {
                return false;
            }
        }
        !ks.expire_if_needed(db, k, now)
    });

    let c = &mut *ctx.client;
    c.array(2);
    c.bulk(cursor.to_string().as_bytes());
    c.bulks(found.iter().map(|k| k.as_slice()));
    Ok(())
}

/// ```text
/// RANDOMKEY
/// ```
/// A random key that has not expired, or nil. Expired keys met on the way
/// are deleted, so on a master the loop ends; on a replica (which only hides
/// expired keys) a database of volatile keys gives up after 100 tries and
/// returns a possibly expired name, as Redis's dbRandomKey does.
fn randomkey(ctx: &mut Ctx) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let ks = &mut ctx.srv.keyspace;
    let all_volatile = ks.dbs[db].dict.len() == ks.dbs[db].expires.len();
    let mut tries = 100;
    let key = loop {
        let d = &ks.dbs[db];
        let Some(entry) = d.dict.random_entry() else {
            break None;
        };
        let key = entry.key.clone();
        if d.expires.contains_key(&key) {
            if all_volatile && ks.is_replica {
                tries -= 1;
                if tries == 0 {
                    break Some(key);
                }
            }
            if ks.expire_if_needed(db, &key, now) {
                continue;
            }
        }
        break Some(key);
    };
    match key {
        Some(k) => ctx.client.bulk(&k),
        None => ctx.client.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// RENAME RENAMENX MOVE COPY SWAPDB
// ---------------------------------------------------------------------------

/// ```text
/// RENAME key newkey
/// ```
fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)
}

/// ```text
/// RENAMENX key newkey
/// ```
fn renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, true)
}

/// RENAME and RENAMENX (Redis: renameGenericCommand). The object moves as
/// is, keeping its TTL and access stamp.
fn rename_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    let ks = &mut ctx.srv.keyspace;
    if ks.lookup_write(db, src, now).is_none() {
        return Err(errors::NO_SUCH_KEY);
    }
    if src == dst {
        if nx {
            ctx.client.int(0);
        } else {
            ctx.client.ok();
        }
        return Ok(());
    }
    let expire = ks.dbs[db].expire_of(src);
    if ks.lookup_write(db, dst, now).is_some() {
        if nx {
            ctx.client.int(0);
            return Ok(());
        }
        ks.dbs[db].delete(dst);
    }
    let d = &mut ks.dbs[db];
    let Some(obj) = d.delete(src) else {
        return Err(errors::NO_SUCH_KEY);
    };
    d.dict.insert_new(Sds::from_slice(dst), obj);
    d.set_expire(dst, expire);
    ctx.touch(src);
    ctx.touch(dst);
    signal_if_blocking_type(ctx, db, dst);
    ctx.dirty(1);
    if nx {
        ctx.client.int(1);
    } else {
        ctx.client.ok();
    }
    Ok(())
}

/// ```text
/// MOVE key db
/// ```
fn move_cmd(ctx: &mut Ctx) -> CmdResult {
    let (src_db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let dst_db = db_index_arg(ctx, 2)?;
    if dst_db == src_db {
        return Err(SAME_OBJECT);
    }
    let ks = &mut ctx.srv.keyspace;
    if ks.lookup_write(src_db, key, now).is_none() {
        ctx.client.int(0);
        return Ok(());
    }
    let expire = ks.dbs[src_db].expire_of(key);
    if ks.lookup_write(dst_db, key, now).is_some() {
        ctx.client.int(0);
        return Ok(());
    }
    let Some(obj) = ks.dbs[src_db].delete(key) else {
        ctx.client.int(0);
        return Ok(());
    };
    let dst = &mut ks.dbs[dst_db];
    dst.dict.insert_new(Sds::from_slice(key), obj);
    dst.set_expire(key, expire);
    ctx.srv.touch_watched_key(src_db, key);
    ctx.srv.touch_watched_key(dst_db, key);
    signal_if_blocking_type(ctx, dst_db, key);
    ctx.dirty(1);
    ctx.client.int(1);
    Ok(())
}

/// ```text
/// COPY source destination [DB destination-db] [REPLACE]
/// ```
/// The copy is a new object (fresh access stamp) with the source's TTL.
fn copy(ctx: &mut Ctx) -> CmdResult {
    let (src_db, now) = (ctx.client.db, ctx.now_ms);
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    let mut dst_db = src_db;
    let mut replace = false;
    let mut j = 3;
    while j < ctx.argc() {
        if ctx.arg_is(j, "REPLACE") {
            replace = true;
        } else if ctx.arg_is(j, "DB") && j + 1 < ctx.argc() {
            dst_db = db_index_arg(ctx, j + 1)?;
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    if src_db == dst_db && src == dst {
        return Err(SAME_OBJECT);
    }
    let ks = &mut ctx.srv.keyspace;
    let Some(obj) = ks.lookup_read(src_db, src, now) else {
        ctx.client.int(0);
        return Ok(());
    };
    let val = deep_clone(&obj.val);
    let expire = ks.dbs[src_db].expire_of(src);
    if ks.lookup_write(dst_db, dst, now).is_some() {
        if !replace {
            ctx.client.int(0);
            return Ok(());
        }
        ks.dbs[dst_db].delete(dst);
    }
    ks.add(dst_db, dst, val);
    ks.dbs[dst_db].set_expire(dst, expire);
    ctx.srv.touch_watched_key(dst_db, dst);
    signal_if_blocking_type(ctx, dst_db, dst);
    ctx.dirty(1);
    ctx.client.int(1);
    Ok(())
}

/// ```text
/// SWAPDB index1 index2
/// ```
/// Clients stay in their database number and see the other data set:
/// watchers of keys present on either side are invalidated, and clients
/// blocked on a key that now exists with a list or sorted set are woken
/// (Redis: dbSwapDatabases and scanDatabaseForReadyKeys).
fn swapdb(ctx: &mut Ctx) -> CmdResult {
    let a = int32_arg(ctx, 1, Some(ErrorReply::lit("ERR invalid first DB index")))?;
    let b = int32_arg(ctx, 2, Some(ErrorReply::lit("ERR invalid second DB index")))?;
    let dbs = ctx.srv.keyspace.dbs.len();
    let index = |n: i64| usize::try_from(n).ok().filter(|&n| n < dbs);
    let (Some(a), Some(b)) = (index(a), index(b)) else {
        return Err(errors::DB_RANGE);
    };
    if a != b {
        // A watched key is touched if it exists before the swap (checked
        // now) or after it (checked again once swapped).
        ctx.srv.touch_watched_in_db(Some(a));
        ctx.srv.touch_watched_in_db(Some(b));
        ctx.srv.keyspace.dbs.swap(a, b);
        ctx.srv.touch_watched_in_db(Some(a));
        ctx.srv.touch_watched_in_db(Some(b));
        let waited: Vec<(usize, Sds)> = ctx
            .srv
            .blocking
            .keys()
            .filter(|(d, _)| *d == a || *d == b)
            .cloned()
            .collect();
        for (d, k) in waited {
            signal_if_blocking_type(ctx, d, &k);
        }
    }
    ctx.dirty(1);
    ctx.client.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::Propagate;
    use crate::config::Config;
    use crate::server::client::Client;
    use crate::server::Server;
    use std::collections::VecDeque;

    const NOW: i64 = 1_700_000_000_000;

    /// Runs one command handler directly; returns the reply bytes and how
    /// the command asked to be propagated.
    fn run(srv: &mut Server, c: &mut Client, args: &[&str]) -> (String, Propagate) {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let Ok(cmd) = srv.commands.lookup(&argv) else {
            panic!("unknown command {args:?}");
        };
        c.out.clear();
        let mut ctx = Ctx {
            srv,
            client: c,
            args: &argv,
            now_ms: NOW,
            propagate: Propagate::AsIs,
            in_exec: false,
            prev_block: None,
        };
        if let Err(e) = (cmd.handler)(&mut ctx) {
            ctx.client.error(&e.0);
        }
        let p = std::mem::take(&mut ctx.propagate);
        (String::from_utf8_lossy(&c.out).into_owned(), p)
    }

    fn setup() -> (Server, Client) {
        let srv = Server::new(Config::default());
        let c = Client::new(1, "test".into(), "test".into(), true, NOW);
        (srv, c)
    }

    fn list(items: &[&str]) -> Value {
        Value::List(Box::new(
            items
                .iter()
                .map(|s| Sds::from_slice(s.as_bytes()))
                .collect(),
        ))
    }

    fn rewritten(p: Propagate) -> Vec<Vec<String>> {
        match p {
            Propagate::Rewritten(cmds) => cmds
                .into_iter()
                .map(|a| {
                    a.into_iter()
                        .map(|b| String::from_utf8(b).unwrap())
                        .collect()
                })
                .collect(),
            other => panic!("not rewritten: {other:?}"),
        }
    }

    #[test]
    fn scan_cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+3"), Some(3));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1 "), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b"0x10"), None);
    }

    #[test]
    fn deep_clone_shares_nothing_with_the_original() {
        let mut z = ZSet::new();
        z.insert(b"m", 1.5);
        let originals = [
            list(&["a", "b"]),
            Value::ZSet(Box::new(z)),
            Value::from_bytes(b"42"),
            Value::from_bytes(b"text"),
        ];
        for v in &originals {
            let c = deep_clone(v);
            assert_eq!(c.kind(), v.kind());
            assert_eq!(
                c.encoding(&Default::default()),
                v.encoding(&Default::default())
            );
        }
        let mut orig = list(&["a", "b"]);
        let copy = deep_clone(&orig);
        if let Value::List(l) = &mut orig {
            l.push_back(Sds::from_slice(b"c"));
        }
        match copy {
            Value::List(l) => assert_eq!(l.len(), 2),
            _ => panic!("copy changed type"),
        }
        match deep_clone(&originals[1]) {
            Value::ZSet(z) => assert_eq!(z.score(b"m"), Some(1.5)),
            _ => panic!("copy changed type"),
        }
    }

    #[test]
    fn copy_to_another_db_is_independent_and_keeps_the_ttl() {
        let (mut srv, mut c) = setup();
        srv.keyspace.add(0, b"l", list(&["x", "y"]));
        srv.keyspace.dbs[0].set_expire(b"l", Some(NOW + 5000));
        assert_eq!(
            run(&mut srv, &mut c, &["COPY", "l", "l2", "DB", "3"]).0,
            ":1\r\n"
        );
        if let Some(o) = srv.keyspace.dbs[0].dict.get_mut(b"l") {
            if let Value::List(l) = &mut o.val {
                l.clear();
            }
        }
        match &srv.keyspace.dbs[3].dict.get(b"l2").unwrap().val {
            Value::List(l) => assert_eq!(l.len(), 2),
            _ => panic!("wrong type"),
        }
        assert_eq!(srv.keyspace.dbs[3].expire_of(b"l2"), Some(NOW + 5000));
        assert_eq!(
            run(&mut srv, &mut c, &["COPY", "l", "l2", "DB", "3"]).0,
            ":0\r\n"
        );
    }

    #[test]
    fn swapdb_wakes_clients_blocked_on_keys_that_now_hold_lists() {
        let (mut srv, mut c) = setup();
        srv.keyspace.add(1, b"q", list(&["job"]));
        srv.keyspace.add(1, b"s", Value::from_bytes(b"str"));
        for k in [&b"q"[..], b"s", b"none"] {
            srv.blocking
                .insert((0, Sds::from_slice(k)), VecDeque::from([99]));
        }
        assert_eq!(run(&mut srv, &mut c, &["SWAPDB", "0", "1"]).0, "+OK\r\n");
        assert_eq!(srv.ready_keys, VecDeque::from([(0, Sds::from_slice(b"q"))]));
        assert!(srv.keyspace.dbs[1].is_empty());
        assert_eq!(srv.keyspace.dbs[0].len(), 2);
    }

    #[test]
    fn rename_and_move_of_a_list_signal_waiters() {
        let (mut srv, mut c) = setup();
        srv.keyspace.add(0, b"src", list(&["a"]));
        srv.blocking
            .insert((0, Sds::from_slice(b"dst")), VecDeque::from([99]));
        srv.blocking
            .insert((2, Sds::from_slice(b"dst")), VecDeque::from([98]));
        assert_eq!(
            run(&mut srv, &mut c, &["RENAME", "src", "dst"]).0,
            "+OK\r\n"
        );
        assert_eq!(
            srv.ready_keys.pop_front(),
            Some((0, Sds::from_slice(b"dst")))
        );
        assert_eq!(run(&mut srv, &mut c, &["MOVE", "dst", "2"]).0, ":1\r\n");
        assert_eq!(
            srv.ready_keys.pop_front(),
            Some((2, Sds::from_slice(b"dst")))
        );
    }

    #[test]
    fn expire_family_propagates_as_pexpireat_or_del() {
        let (mut srv, mut c) = setup();
        srv.keyspace.add(0, b"k", Value::from_bytes(b"v"));
        let (reply, p) = run(&mut srv, &mut c, &["EXPIRE", "k", "100", "nx"]);
        assert_eq!(reply, ":1\r\n");
        let at = (NOW + 100_000).to_string();
        assert_eq!(
            rewritten(p),
            vec![vec!["PEXPIREAT".to_string(), "k".into(), at, "nx".into()]]
        );
        let (_, p) = run(&mut srv, &mut c, &["PEXPIREAT", "k", "9999999999999"]);
        assert!(matches!(p, Propagate::AsIs));
        let (reply, p) = run(&mut srv, &mut c, &["PEXPIRE", "k", "-5"]);
        assert_eq!(reply, ":1\r\n");
        assert_eq!(rewritten(p), vec![vec!["DEL".to_string(), "k".into()]]);
        assert!(srv.keyspace.dbs[0].is_empty());
        assert!(srv.keyspace.dbs[0].expires.is_empty());
    }

    #[test]
    fn a_replica_keeps_keys_given_a_past_deadline() {
        let (mut srv, mut c) = setup();
        srv.keyspace.is_replica = true;
        srv.keyspace.add(0, b"k", Value::from_bytes(b"v"));
        assert_eq!(run(&mut srv, &mut c, &["EXPIREAT", "k", "1"]).0, ":1\r\n");
        assert_eq!(srv.keyspace.dbs[0].expire_of(b"k"), Some(1000));
        assert_eq!(srv.keyspace.dbs[0].len(), 1);
    }

    #[test]
    fn object_and_ttl_do_not_stamp_the_access_time() {
        let (mut srv, mut c) = setup();
        srv.keyspace.lru_clock = 1000;
        srv.keyspace.add(0, b"k", Value::from_bytes(b"v"));
        srv.keyspace.lru_clock = 1030;
        for args in [
            &["OBJECT", "IDLETIME", "k"][..],
            &["OBJECT", "ENCODING", "k"],
            &["TTL", "k"],
            &["TYPE", "k"],
            &["EXISTS", "k"],
        ] {
            run(&mut srv, &mut c, args);
        }
        assert_eq!(srv.keyspace.dbs[0].dict.get(b"k").unwrap().lru, 1000);
        assert_eq!(
            run(&mut srv, &mut c, &["OBJECT", "IDLETIME", "k"]).0,
            ":30\r\n"
        );
        run(&mut srv, &mut c, &["TOUCH", "k"]);
        assert_eq!(
            run(&mut srv, &mut c, &["OBJECT", "IDLETIME", "k"]).0,
            ":0\r\n"
        );
    }

    #[test]
    fn changes_invalidate_watchers_in_the_right_database() {
        let (mut srv, mut c) = setup();
        let mut w = Client::new(2, "w".into(), "w".into(), true, NOW);
        let dirty = |w: &Client| w.dirty_cas.get();
        srv.keyspace.add(0, b"k", Value::from_bytes(b"v"));
        srv.keyspace.add(1, b"only1", Value::from_bytes(b"v"));
        // Each case: the watcher's db and key, then a command that must touch it.
        let cases: &[(usize, &str, &[&str])] = &[
            (0, "k", &["EXPIRE", "k", "100"]),
            (0, "k", &["PERSIST", "k"]),
            (0, "k2", &["RENAME", "k", "k2"]),
            (0, "k3", &["COPY", "k2", "k3"]),
            (4, "k2", &["COPY", "k2", "k2", "DB", "4"]),
            (5, "k3", &["MOVE", "k3", "5"]),
            (0, "k2", &["DEL", "k2"]),
            // SWAPDB: the key exists only after the swap in db 0, and only
            // before it in db 1.
            (0, "only1", &["SWAPDB", "0", "1"]),
            (0, "only1", &["SWAPDB", "1", "0"]),
        ];
        for (db, key, args) in cases {
            w.db = *db;
            srv.watch_key(&mut w, key.as_bytes(), 0);
            assert!(!dirty(&w));
            let (reply, _) = run(&mut srv, &mut c, args);
            assert!(!reply.starts_with('-'), "{args:?}: {reply}");
            assert!(dirty(&w), "{args:?} did not touch {db}/{key}");
            srv.unwatch_all(&mut w);
        }
        // A failed or no-op command touches nothing.
        srv.watch_key(&mut w, b"nokey", 0);
        run(&mut srv, &mut c, &["EXPIRE", "nokey", "10"]);
        run(&mut srv, &mut c, &["DEL", "nokey"]);
        assert!(!dirty(&w));
    }

    #[test]
    fn idle_time_survives_the_lru_clock_wrapping() {
        assert_eq!(idle_seconds(100, 40), 60);
        assert_eq!(idle_seconds(5, (1 << 24) - 11), 15);
        assert_eq!(idle_seconds(7, 7), 0);
    }

    #[test]
    fn randomkey_deletes_expired_keys_it_meets() {
        let (mut srv, mut c) = setup();
        for i in 0..20 {
            let k = format!("old{i}");
            srv.keyspace.add(0, k.as_bytes(), Value::from_bytes(b"v"));
            srv.keyspace.dbs[0].set_expire(k.as_bytes(), Some(NOW - 1));
        }
        srv.keyspace.add(0, b"live", Value::from_bytes(b"v"));
        assert_eq!(run(&mut srv, &mut c, &["RANDOMKEY"]).0, "$4\r\nlive\r\n");
        srv.keyspace.dbs[0].delete(b"live");
        assert_eq!(run(&mut srv, &mut c, &["RANDOMKEY"]).0, "$-1\r\n");
        assert!(srv.keyspace.dbs[0].is_empty());
    }
}
