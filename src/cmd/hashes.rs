//! Hash commands: HSET HSETNX HGET HMGET HMSET HDEL HEXISTS HLEN HKEYS HVALS
//! HGETALL HINCRBY HINCRBYFLOAT HSTRLEN HSCAN HRANDFIELD (Redis: t_hash.c).
//!
//! Also the collection-scan and random-pick helpers that the set commands
//! share: the SCAN cursor over an insertion-indexed collection
//! (`scan_indexed`), HSCAN/SSCAN argument parsing, and distinct random
//! indices for HRANDFIELD/SRANDMEMBER.
//!
//! A hash is an `IndexMap`, and every removal is a `swap_remove` (the last
//! entry moves into the hole), which keeps random picks O(1) and is what the
//! scan cursor is designed around. A hash whose last field goes is deleted.

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::cmd::{lookup_read_as, lookup_write_as};
use crate::keyspace::value::HashValue;
use crate::keyspace::{Keyspace, Sds, Value};
use crate::resp::encode::Proto;
use crate::spec;
use crate::util::glob::glob_match;
use crate::util::num::{fmt_incr_float, parse_f64, parse_i64};

/// The hashes family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!("hset", -4, WRITE | DENYOOM | FAST, 1, 1, 1, "hash", hset),
    spec!("hsetnx", 4, WRITE | DENYOOM | FAST, 1, 1, 1, "hash", hsetnx),
    spec!("hget", 3, READONLY | FAST, 1, 1, 1, "hash", hget),
    spec!("hmget", -3, READONLY | FAST, 1, 1, 1, "hash", hmget),
    spec!("hmset", -4, WRITE | DENYOOM | FAST, 1, 1, 1, "hash", hmset),
    spec!("hdel", -3, WRITE | FAST, 1, 1, 1, "hash", hdel),
    spec!("hexists", 3, READONLY | FAST, 1, 1, 1, "hash", hexists),
    spec!("hlen", 2, READONLY | FAST, 1, 1, 1, "hash", hlen),
    spec!("hkeys", 2, READONLY, 1, 1, 1, "hash", hkeys),
    spec!("hvals", 2, READONLY, 1, 1, 1, "hash", hvals),
    spec!("hgetall", 2, READONLY, 1, 1, 1, "hash", hgetall),
    spec!(
        "hincrby",
        4,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "hash",
        hincrby
    ),
    spec!(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "hash",
        hincrbyfloat
    ),
    spec!("hstrlen", 3, READONLY | FAST, 1, 1, 1, "hash", hstrlen),
    spec!("hscan", -3, READONLY, 1, 1, 1, "hash", hscan),
    spec!("hrandfield", -2, READONLY, 1, 1, 1, "hash", hrandfield),
];

// ---------------------------------------------------------------------------
// Shared collection helpers (also used by the set commands)
// ---------------------------------------------------------------------------

/// One step of a SCAN over a collection addressed by index `0..len` whose
/// removals are `swap_remove`s and whose insertions append.
///
/// The cursor counts the positions not yet visited: positions
/// `0..remaining` are still to come and the scan walks from the end toward
/// the start. Cursor 0 starts a scan (everything remaining), and a returned
/// cursor of 0 means the scan is done. This keeps SCAN's guarantee (an
/// element present for the whole scan is returned at least once):
/// a `swap_remove` moves the last element, which is either in the visited
/// tail (it moves into the unvisited head and is seen again, or stays in the
/// visited region) or already unvisited; appended elements land past
/// `remaining` and may be missed, which SCAN allows for elements added during
/// the scan. A cursor past the end (the collection shrank) is clamped.
///
/// Returns the index range to visit now (at most `count` positions) and the
/// cursor for the next call.
pub(crate) fn scan_indexed(len: usize, cursor: u64, count: usize) -> (std::ops::Range<usize>, u64) {
    let remaining = if cursor == 0 || cursor > len as u64 {
        len
    } else {
        cursor as usize
    };
    let start = remaining.saturating_sub(count.max(1));
    (start..remaining, start as u64)
}

/// Parses a SCAN cursor like Redis's `parseScanCursorOrReply` (C `strtoul`):
/// no leading space, an optional sign (a minus wraps, as strtoul does),
/// digits, nothing after; the empty string is cursor 0.
pub(crate) fn parse_scan_cursor(s: &[u8]) -> Result<u64, ErrorReply> {
    let invalid = ErrorReply::lit("ERR invalid cursor");
    if s.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid);
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or_else(|| invalid.clone())?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// HSCAN/SSCAN options after the cursor.
pub(crate) struct ScanOpts<'a> {
    /// MATCH pattern (`None` for none or `*`).
    pub pattern: Option<&'a [u8]>,
    /// COUNT hint.
    pub count: usize,
}

impl ScanOpts<'_> {
    /// Whether an element passes the MATCH filter.
    pub fn matches(&self, s: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob_match(p, s, false))
    }
}

/// Parses `[MATCH pattern] [COUNT count]` from argument `from` on, with
/// Redis's errors (scanGenericCommand): a bad COUNT number is "not an
/// integer", COUNT < 1 and anything unknown is a syntax error.
pub(crate) fn parse_scan_opts<'a>(
    args: &[&'a [u8]],
    from: usize,
) -> Result<ScanOpts<'a>, ErrorReply> {
    let mut opts = ScanOpts {
        pattern: None,
        count: 10,
    };
    let mut i = from;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if args[i].eq_ignore_ascii_case(b"COUNT") && has_value {
            let n = parse_i64(args[i + 1]).ok_or(errors::NOT_INT)?;
            if n < 1 {
                return Err(errors::SYNTAX);
            }
            opts.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if args[i].eq_ignore_ascii_case(b"MATCH") && has_value {
            let p = args[i + 1];
            opts.pattern = if p == b"*" { None } else { Some(p) };
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    Ok(opts)
}

/// The empty SCAN reply: cursor "0" and no elements (Redis: shared.emptyscan).
pub(crate) fn empty_scan(c: &mut crate::server::client::Client) {
    c.array(2);
    c.bulk(b"0");
    c.array(0);
}

/// A collection HSCAN and SSCAN walk by index.
pub(crate) trait Scannable: crate::cmd::TypedValue {
    /// The encoding (as OBJECT ENCODING names it) under which Redis returns
    /// the whole collection in one reply with cursor 0.
    const COMPACT: &'static str;
    /// Number of elements.
    fn count(&self) -> usize;
    /// Element `i`: a member, and for hashes its value.
    fn item(&self, i: usize) -> Option<(&Sds, Option<&Sds>)>;
}

impl Scannable for HashValue {
    const COMPACT: &'static str = "listpack";
    fn count(&self) -> usize {
        self.len()
    }
    fn item(&self, i: usize) -> Option<(&Sds, Option<&Sds>)> {
        self.get_index(i).map(|(k, v)| (k, Some(v)))
    }
}

impl Scannable for crate::keyspace::value::SetValue {
    const COMPACT: &'static str = "intset";
    fn count(&self) -> usize {
        self.len()
    }
    fn item(&self, i: usize) -> Option<(&Sds, Option<&Sds>)> {
        self.get_index(i).map(|m| (m, None))
    }
}

/// HSCAN/SSCAN: `key cursor [MATCH pattern] [COUNT count]`. A collection in
/// its compact encoding is returned whole with cursor 0, as Redis does; a
/// larger one is walked with `scan_indexed`.
pub(crate) fn scan_collection<T: Scannable>(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_scan_cursor(ctx.arg(2))?;
    let (db, now, key, args) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.args);
    let enc = ctx.srv.config.enc;
    let Some(obj) = ctx.srv.keyspace.lookup_read(db, key, now) else {
        empty_scan(ctx.client);
        return Ok(());
    };
    let compact = obj.val.encoding(&enc) == T::COMPACT;
    let Some(coll) = T::cast(&mut obj.val) else {
        return Err(errors::WRONGTYPE);
    };
    let opts = parse_scan_opts(args, 3)?;
    let (range, next) = if compact {
        (0..coll.count(), 0)
    } else {
        scan_indexed(coll.count(), cursor, opts.count)
    };
    let found: Vec<(&Sds, Option<&Sds>)> = range
        .filter_map(|i| coll.item(i))
        .filter(|(k, _)| opts.matches(k))
        .collect();
    let c = &mut *ctx.client;
    c.array(2);
    c.bulk(itoa::Buffer::new().format(next).as_bytes());
    c.array(found.iter().map(|(_, v)| 1 + v.is_some() as usize).sum());
    for (k, v) in found {
        c.bulk(k);
        if let Some(v) = v {
            c.bulk(v);
        }
    }
    Ok(())
}

/// `count` distinct random indices in `0..len` (`count <= len`).
pub(crate) fn random_distinct(len: usize, count: usize) -> Vec<usize> {
    let count = count.min(len);
    if count.saturating_mul(3) >= len {
        // A large share: partial Fisher-Yates over all indices.
        let mut idx: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = fastrand::usize(i..len);
            idx.swap(i, j);
        }
        idx.truncate(count);
        idx
    } else {
        // A small share: rejection sampling terminates quickly.
        let mut seen = std::collections::HashSet::with_capacity(count * 2);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let i = fastrand::usize(..len);
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    }
}

/// Parses the count argument of HRANDFIELD/SRANDMEMBER (Redis:
/// getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)).
pub(crate) fn rand_count_arg(s: &[u8]) -> Result<i64, ErrorReply> {
    let n = parse_i64(s).ok_or(errors::NOT_INT)?;
    if n == i64::MIN {
        return Err(ErrorReply::lit(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(n)
}

// ---------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------

/// A hash for writing, created empty if missing (Redis:
/// hashTypeLookupWriteOrCreate). The caller must add a field to a created
/// hash before returning, so no empty hash stays in the keyspace.
fn hash_or_create<'a>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
    now: i64,
) -> Result<&'a mut HashValue, ErrorReply> {
    let obj = if ks.lookup_write(db, key, now).is_some() {
        ks.dbs[db].dict.get_mut(key)
    } else {
        Some(ks.add(db, key, Value::Hash(Box::default())))
    };
    match obj.map(|o| &mut o.val) {
        Some(Value::Hash(h)) => Ok(h),
        _ => Err(errors::WRONGTYPE),
    }
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// Sets the field/value pairs from argument 2 on; returns how many fields
/// were new.
fn set_pairs(ctx: &mut Ctx) -> Result<usize, ErrorReply> {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let h = hash_or_create(&mut ctx.srv.keyspace, db, key, now)?;
    let mut created = 0;
    for pair in ctx.args[2..].chunks_exact(2) {
        let v = Sds::from_slice(pair[1]);
        match h.get_mut(pair[0]) {
            Some(old) => *old = v,
            None => {
                h.insert(Sds::from_slice(pair[0]), v);
                created += 1;
            }
        }
    }
    ctx.touch(key);
    ctx.dirty(((ctx.argc() - 2) / 2) as u64);
    Ok(created)
}

/// ```text
/// HSET key field value [field value ...]
/// ```
fn hset(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() % 2 == 1 {
        return Err(ErrorReply::lit(
            "ERR wrong number of arguments for 'hset' command",
        ));
    }
    let created = set_pairs(ctx)?;
    ctx.client.int(created as i64);
    Ok(())
}

/// ```text
/// HMSET key field value [field value ...]
/// ```
fn hmset(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() % 2 == 1 {
        return Err(ErrorReply::lit(
            "ERR wrong number of arguments for 'hmset' command",
        ));
    }
    set_pairs(ctx)?;
    ctx.client.ok();
    Ok(())
}

/// ```text
/// HSETNX key field value
/// ```
fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key, field, val) = (
        ctx.client.db,
        ctx.now_ms,
        ctx.arg(1),
        ctx.arg(2),
        ctx.arg(3),
    );
    let h = hash_or_create(&mut ctx.srv.keyspace, db, key, now)?;
    if h.contains_key(field) {
        ctx.client.int(0);
        return Ok(());
    }
    h.insert(Sds::from_slice(field), Sds::from_slice(val));
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.int(1);
    Ok(())
}

/// ```text
/// HGET key field
/// ```
fn hget(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key, field) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    match lookup_read_as::<HashValue>(&mut ctx.srv.keyspace, db, key, now)?
        .and_then(|h| h.get(field))
    {
        Some(v) => ctx.client.bulk(v),
        None => ctx.client.null(),
    }
    Ok(())
}

/// ```text
/// HMGET key field [field ...]
/// ```
fn hmget(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let fields = &ctx.args[2..];
    let h = lookup_read_as::<HashValue>(&mut ctx.srv.keyspace, db, key, now)?;
    ctx.client.array(fields.len());
    for field in fields {
        match h.as_ref().and_then(|h| h.get(*field)) {
            Some(v) => ctx.client.bulk(v),
            None => ctx.client.null(),
        }
    }
    Ok(())
}

/// ```text
/// HDEL key field [field ...]
/// ```
fn hdel(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let Some(h) = lookup_write_as::<HashValue>(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.int(0);
        return Ok(());
    };
    let mut deleted = 0;
    for field in &ctx.args[2..] {
        if h.swap_remove(*field).is_some() {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if h.is_empty() {
        ctx.srv.keyspace.dbs[db].delete(key);
    }
    if deleted > 0 {
        ctx.touch(key);
        ctx.dirty(deleted);
    }
    ctx.client.int(deleted as i64);
    Ok(())
}

/// ```text
/// HEXISTS key field
/// ```
fn hexists(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key, field) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    let found = lookup_read_as::<HashValue>(&mut ctx.srv.keyspace, db, key, now)?
        .is_some_and(|h| h.contains_key(field));
    ctx.client.int(i64::from(found));
    Ok(())
}

/// ```text
/// HLEN key
/// ```
fn hlen(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let n =
        lookup_read_as::<HashValue>(&mut ctx.srv.keyspace, db, key, now)?.map_or(0, |h| h.len());
    ctx.client.int(n as i64);
    Ok(())
}

/// ```text
/// HSTRLEN key field
/// ```
fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key, field) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    let n = lookup_read_as::<HashValue>(&mut ctx.srv.keyspace, db, key, now)?
        .and_then(|h| h.get(field))
        .map_or(0, |v| v.len());
    ctx.client.int(n as i64);
    Ok(())
}

/// What HKEYS/HVALS/HGETALL reply with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Keys,
    Values,
    Both,
}

fn getall_generic(ctx: &mut Ctx, part: Part) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let h = lookup_read_as::<HashValue>(&mut ctx.srv.keyspace, db, key, now)?;
    let c = &mut *ctx.client;
    let Some(h) = h else {
        if part == Part::Both {
            c.map(0);
        } else {
            c.array(0);
        }
        return Ok(());
    };
    match part {
        Part::Keys => c.bulks(h.keys().map(|k| k.as_slice())),
        Part::Values => c.bulks(h.values().map(|v| v.as_slice())),
        Part::Both => {
            c.map(h.len());
            for (k, v) in h.iter() {
                c.bulk(k);
                c.bulk(v);
            }
        }
    }
    Ok(())
}

/// ```text
/// HKEYS key
/// ```
fn hkeys(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, Part::Keys)
}

/// ```text
/// HVALS key
/// ```
fn hvals(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, Part::Values)
}

/// ```text
/// HGETALL key
/// ```
fn hgetall(ctx: &mut Ctx) -> CmdResult {
    getall_generic(ctx, Part::Both)
}

/// ```text
/// HINCRBY key field increment
/// ```
fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.int_arg(3)?;
    let (db, now, key, field) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    let h = hash_or_create(&mut ctx.srv.keyspace, db, key, now)?;
    let cur = match h.get(field) {
        Some(v) => parse_i64(v).ok_or(ErrorReply::lit("ERR hash value is not an integer"))?,
        None => 0,
    };
    let new = cur.checked_add(by).ok_or(errors::OVERFLOW)?;
    let mut buf = itoa::Buffer::new();
    let text = Sds::from_slice(buf.format(new).as_bytes());
    match h.get_mut(field) {
        Some(v) => *v = text,
        None => {
            h.insert(Sds::from_slice(field), text);
        }
    }
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.int(new);
    Ok(())
}

/// ```text
/// HINCRBYFLOAT key field increment
/// ```
/// Propagated as `HSET key field <result>`, so replicas store the exact text.
fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.float_arg(3)?;
    if !by.is_finite() {
        return Err(ErrorReply::lit("ERR value is NaN or Infinity"));
    }
    let (db, now, key, field) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    let h = hash_or_create(&mut ctx.srv.keyspace, db, key, now)?;
    let cur = match h.get(field) {
        Some(v) => parse_f64(v).ok_or(ErrorReply::lit("ERR hash value is not a float"))?,
        None => 0.0,
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err(ErrorReply::lit(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = fmt_incr_float(new);
    let val = Sds::from_slice(text.as_bytes());
    match h.get_mut(field) {
        Some(v) => *v = val,
        None => {
            h.insert(Sds::from_slice(field), val);
        }
    }
    ctx.propagate_as(vec![vec![
        b"HSET".to_vec(),
        key.to_vec(),
        field.to_vec(),
        text.clone().into_bytes(),
    ]]);
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.bulk(text.as_bytes());
    Ok(())
}

/// ```text
/// HSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
/// A hash small enough for listpack encoding is returned whole with cursor
/// 0, as Redis does; a larger one is walked with `scan_indexed`.
fn hscan(ctx: &mut Ctx) -> CmdResult {
    scan_collection::<HashValue>(ctx)
}

/// ```text
/// HRANDFIELD key [count [WITHVALUES]]
/// ```
/// A negative count may repeat fields; a positive one returns distinct
/// fields (the whole hash if the count reaches its size). In RESP3,
/// WITHVALUES pairs are 2-element arrays, as redis-server 7.0 replies.
fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    if ctx.argc() == 2 {
        match lookup_read_as::<HashValue>(&mut ctx.srv.keyspace, db, key, now)? {
            Some(h) if !h.is_empty() => match h.get_index(fastrand::usize(..h.len())) {
                Some((k, _)) => ctx.client.bulk(k),
                None => ctx.client.null(),
            },
            _ => ctx.client.null(),
        }
        return Ok(());
    }
    let l = rand_count_arg(ctx.arg(2))?;
    if ctx.argc() > 4 || (ctx.argc() == 4 && !ctx.arg_is(3, "WITHVALUES")) {
        return Err(errors::SYNTAX);
    }
    let withvalues = ctx.argc() == 4;
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(ErrorReply::lit("ERR value is out of range"));
    }
    let Some(h) = lookup_read_as::<HashValue>(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.array(0);
        return Ok(());
    };
    let c = &mut *ctx.client;
    let resp3 = c.proto == Proto::Resp3;
    let count = l.unsigned_abs() as usize;
    if count == 0 || h.is_empty() {
        c.array(0);
        return Ok(());
    }
    let header = |c: &mut crate::server::client::Client, n: usize| {
        c.array(if withvalues && !resp3 { n * 2 } else { n });
    };
    let emit = |c: &mut crate::server::client::Client, k: &Sds, v: &Sds| {
        if withvalues && resp3 {
            c.array(2);
        }
        c.bulk(k);
        if withvalues {
            c.bulk(v);
        }
    };
    if l < 0 {
        header(c, count);
        for _ in 0..count {
            if let Some((k, v)) = h.get_index(fastrand::usize(..h.len())) {
                emit(c, k, v);
            }
        }
    } else if count >= h.len() {
        header(c, h.len());
        for (k, v) in h.iter() {
            emit(c, k, v);
        }
    } else {
        header(c, count);
        for i in random_distinct(h.len(), count) {
            if let Some((k, v)) = h.get_index(i) {
                emit(c, k, v);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Runs a full scan of `items` with `count`, applying `mutate` between
    /// steps, and returns everything returned.
    fn full_scan(
        items: &mut Vec<u32>,
        count: usize,
        mut mutate: impl FnMut(&mut Vec<u32>, usize),
    ) -> HashSet<u32> {
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            let (range, next) = scan_indexed(items.len(), cursor, count);
            for i in range {
                seen.insert(items[i]);
            }
            if next == 0 {
                return seen;
            }
            cursor = next;
            mutate(items, step);
            step += 1;
            assert!(step < 10_000, "scan did not terminate");
        }
    }

    #[test]
    fn a_scan_without_changes_returns_every_element_once() {
        let items: Vec<u32> = (0..95).collect();
        let mut cursor = 0;
        let mut seen = Vec::new();
        loop {
            let (range, next) = scan_indexed(items.len(), cursor, 10);
            assert!(range.len() <= 10);
            seen.extend(range.map(|i| items[i]));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        seen.sort();
        assert_eq!(seen, items);
    }

    #[test]
    fn an_empty_collection_finishes_at_once() {
        assert_eq!(scan_indexed(0, 0, 10), (0..0, 0));
        assert_eq!(scan_indexed(0, 7, 10), (0..0, 0));
    }

    #[test]
    fn a_cursor_past_the_end_after_shrinking_is_clamped() {
        assert_eq!(scan_indexed(5, 40, 3), (2..5, 2));
        assert_eq!(scan_indexed(5, 2, 3), (0..2, 0));
    }

    #[test]
    fn elements_present_throughout_survive_swap_removes_and_appends() {
        for seed in 0..50u64 {
            fastrand::seed(seed);
            // 0..100 are temporary and placed first; 100..200 stay for the
            // whole scan and sit at the end, so removals move them around.
            let mut items: Vec<u32> = (0..200).collect();
            let mut next_new = 1000;
            let stays = |x: u32| (100..200).contains(&x);
            let seen = full_scan(&mut items, 7, |v, _| {
                for _ in 0..3 {
                    let removable: Vec<usize> = (0..v.len()).filter(|&i| !stays(v[i])).collect();
                    if !removable.is_empty() && fastrand::u8(..4) != 0 {
                        let i = removable[fastrand::usize(..removable.len())];
                        v.swap_remove(i);
                    } else {
                        v.push(next_new);
                        next_new += 1;
                    }
                }
            });
            for x in 100..200 {
                assert!(seen.contains(&x), "seed {seed}: {x} was skipped");
            }
        }
    }

    #[test]
    fn scan_cursors_parse_like_strtoul() {
        assert_eq!(parse_scan_cursor(b"0"), Ok(0));
        assert_eq!(parse_scan_cursor(b""), Ok(0));
        assert_eq!(parse_scan_cursor(b"+12"), Ok(12));
        assert_eq!(parse_scan_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_scan_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b"x",
            b" 1",
            b"1 ",
            b"-",
            b"1.5",
        ] {
            assert_eq!(
                parse_scan_cursor(bad),
                Err(ErrorReply::lit("ERR invalid cursor")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn scan_options_follow_redis_rules() {
        let a: Vec<&[u8]> = vec![b"MATCH", b"a*", b"count", b"5"];
        let o = parse_scan_opts(&a, 0).unwrap();
        assert_eq!((o.pattern, o.count), (Some(&b"a*"[..]), 5));
        assert!(o.matches(b"abc") && !o.matches(b"bc"));
        let star: Vec<&[u8]> = vec![b"match", b"*"];
        assert!(parse_scan_opts(&star, 0).unwrap().pattern.is_none());
        let zero: Vec<&[u8]> = vec![b"COUNT", b"0"];
        assert_eq!(parse_scan_opts(&zero, 0).err(), Some(errors::SYNTAX));
        let nan: Vec<&[u8]> = vec![b"COUNT", b"x"];
        assert_eq!(parse_scan_opts(&nan, 0).err(), Some(errors::NOT_INT));
        let dangling: Vec<&[u8]> = vec![b"MATCH"];
        assert_eq!(parse_scan_opts(&dangling, 0).err(), Some(errors::SYNTAX));
    }

    #[test]
    fn random_distinct_indices_are_distinct_and_in_range() {
        for (len, count) in [(10, 10), (10, 9), (1000, 5), (1000, 400), (3, 0)] {
            let v = random_distinct(len, count);
            assert_eq!(v.len(), count);
            let s: HashSet<_> = v.iter().collect();
            assert_eq!(s.len(), count);
            assert!(v.iter().all(|&i| i < len));
        }
    }
}
