//! Sorted set commands (Redis: t_zset.c): ZADD ZINCRBY ZREM ZCARD ZSCORE
//! ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT, the ZRANGE family (ZRANGE
//! ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX
//! ZRANGESTORE), ZREMRANGEBYRANK/SCORE/LEX, ZPOPMIN ZPOPMAX BZPOPMIN
//! BZPOPMAX, ZRANDMEMBER and ZSCAN. The set operations (ZUNION ZINTER ZDIFF,
//! their STORE forms and ZINTERCARD) live in `setops`.
//!
//! Every range command reduces its range to a rank interval of the
//! `ZSet` (see `keyspace::zset`), so REV and LIMIT are rank arithmetic.
//! Writers touch the key (WATCH), count dirty changes, delete the key when
//! its last member goes, and signal the key ready when it gains members
//! (BZPOPMIN/BZPOPMAX waiters).

mod setops;

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, RErr};
use crate::keyspace::value::EncodingLimits;
use crate::keyspace::zset::{LexRange, ScoreRange, ZSet};
use crate::keyspace::{Keyspace, Sds, Value};
use crate::resp::Proto;
use crate::server::client::Client;
use crate::spec;
use crate::util::num::{fmt_g17, parse_i64};

/// The zsets family.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    spec!("zadd", -4, WRITE | DENYOOM | FAST, 1, 1, 1, "sortedset", zadd),
    spec!("zincrby", 4, WRITE | DENYOOM | FAST, 1, 1, 1, "sortedset", zincrby),
    spec!("zrem", -3, WRITE | FAST, 1, 1, 1, "sortedset", zrem),
    spec!("zcard", 2, READONLY | FAST, 1, 1, 1, "sortedset", zcard),
    spec!("zscore", 3, READONLY | FAST, 1, 1, 1, "sortedset", zscore),
    spec!("zmscore", -3, READONLY | FAST, 1, 1, 1, "sortedset", zmscore),
    spec!("zrank", 3, READONLY | FAST, 1, 1, 1, "sortedset", zrank),
    spec!("zrevrank", 3, READONLY | FAST, 1, 1, 1, "sortedset", zrevrank),
    spec!("zcount", 4, READONLY | FAST, 1, 1, 1, "sortedset", zcount),
    spec!("zlexcount", 4, READONLY | FAST, 1, 1, 1, "sortedset", zlexcount),
    spec!("zrange", -4, READONLY, 1, 1, 1, "sortedset", zrange),
    spec!("zrevrange", -4, READONLY, 1, 1, 1, "sortedset", zrevrange),
    spec!("zrangebyscore", -4, READONLY, 1, 1, 1, "sortedset", zrangebyscore),
    spec!("zrevrangebyscore", -4, READONLY, 1, 1, 1, "sortedset", zrevrangebyscore),
    spec!("zrangebylex", -4, READONLY, 1, 1, 1, "sortedset", zrangebylex),
    spec!("zrevrangebylex", -4, READONLY, 1, 1, 1, "sortedset", zrevrangebylex),
    spec!("zrangestore", -5, WRITE | DENYOOM, 1, 2, 1, "sortedset", zrangestore),
    spec!("zremrangebyrank", 4, WRITE, 1, 1, 1, "sortedset", zremrangebyrank),
    spec!("zremrangebyscore", 4, WRITE, 1, 1, 1, "sortedset", zremrangebyscore),
    spec!("zremrangebylex", 4, WRITE, 1, 1, 1, "sortedset", zremrangebylex),
    spec!("zpopmin", -2, WRITE | FAST, 1, 1, 1, "sortedset", zpopmin),
    spec!("zpopmax", -2, WRITE | FAST, 1, 1, 1, "sortedset", zpopmax),
    spec!("bzpopmin", -3, WRITE | FAST | BLOCKING, 1, -2, 1, "sortedset", bzpopmin),
    spec!("bzpopmax", -3, WRITE | FAST | BLOCKING, 1, -2, 1, "sortedset", bzpopmax),
    spec!("zrandmember", -2, READONLY, 1, 1, 1, "sortedset", zrandmember),
    spec!("zscan", -3, READONLY, 1, 1, 1, "sortedset", zscan),
    spec!("zunionstore", -4, WRITE | DENYOOM, 1, 1, 1, "sortedset", setops::zunionstore),
    spec!("zinterstore", -4, WRITE | DENYOOM, 1, 1, 1, "sortedset", setops::zinterstore),
    spec!("zdiffstore", -4, WRITE | DENYOOM, 1, 1, 1, "sortedset", setops::zdiffstore),
    spec!("zunion", -3, READONLY, 0, 0, 0, "sortedset", setops::zunion),
    spec!("zinter", -3, READONLY, 0, 0, 0, "sortedset", setops::zinter),
    spec!("zdiff", -3, READONLY, 0, 0, 0, "sortedset", setops::zdiff),
    spec!("zintercard", -3, READONLY, 0, 0, 0, "sortedset", setops::zintercard),
];

/// Redis: "min or max is not a float".
const MINMAX_NOT_FLOAT: RErr = RErr::lit("ERR min or max is not a float");
/// Redis: "min or max not valid string range item".
const MINMAX_NOT_LEX: RErr = RErr::lit("ERR min or max not valid string range item");
/// Redis: the ZADD/ZINCRBY result is NaN (inf + -inf).
const NAN_SCORE: RErr = RErr::lit("ERR resulting score is not a number (NaN)");

// ---------------------------------------------------------------------------
// Lookups and replies
// ---------------------------------------------------------------------------

/// Looks a sorted set up for reading: `Ok(None)` if missing, WRONGTYPE for
/// other types.
fn read_zset<'a>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a ZSet>, RErr> {
    match ks.lookup_read(db, key, now) {
        None => Ok(None),
        Some(o) => match &o.val {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// Looks a sorted set up for writing.
fn write_zset<'a>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a mut ZSet>, RErr> {
    match ks.lookup_write(db, key, now) {
        None => Ok(None),
        Some(o) => match &mut o.val {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// Deletes the key if its sorted set became empty (an empty collection
/// never stays in the keyspace).
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.client.db;
    let empty = matches!(
        ctx.srv.keyspace.dbs[db].dict.get(key).map(|o| &o.val),
        Some(Value::ZSet(z)) if z.is_empty()
    );
    if empty {
        ctx.srv.keyspace.dbs[db].delete(key);
    }
}

/// Writes members, with their scores when `withscores`: flat, or as
/// `[member, score]` pairs when `pairs` (RESP3 replies of ZRANGE & co.).
fn reply_members<'a>(
    c: &mut Client,
    withscores: bool,
    pairs: bool,
    items: impl ExactSizeIterator<Item = (&'a [u8], f64)>,
) {
    let pairs = withscores && pairs;
    let n = items.len();
    c.array(if withscores && !pairs { n * 2 } else { n });
    for (m, s) in items {
        if pairs {
            c.array(2);
        }
        c.bulk(m);
        if withscores {
            c.double(s);
        }
    }
}

/// Whether the client speaks RESP3 (scored replies nest pairs).
fn resp3(c: &Client) -> bool {
    c.proto == Proto::Resp3
}

/// Whether redis-server 7.0 would hold these contents listpack-encoded
/// (the rule `Value::encoding` reports).
fn is_listpack(z: &ZSet, lim: &EncodingLimits) -> bool {
    z.len() <= lim.zset_entries && z.iter().all(|(m, _)| m.len() <= lim.zset_value)
}

/// A listpack stores scores as text through d2string, which writes -0 as
/// "0": a small set never keeps a negative zero, while a skiplist-encoded
/// one does. Applied where scores are stored.
fn listpack_zero_scores(z: &mut ZSet, lim: &EncodingLimits) {
    if !is_listpack(z, lim) {
        return;
    }
    let negative: Vec<Sds> = z
        .iter()
        .filter(|(_, s)| *s == 0.0 && s.is_sign_negative())
        .map(|(m, _)| m.clone())
        .collect();
    for m in negative {
        z.insert(&m, 0.0);
    }
}

/// A score as a ZSCAN reply prints it for a listpack-encoded set (Redis:
/// d2string): integral values in range as integers, others as `%.17g`.
fn listpack_score(s: f64) -> String {
    const LIM: f64 = (i64::MAX / 2) as f64;
    if s.is_finite() && s.fract() == 0.0 && (-LIM..=LIM).contains(&s) {
        (s as i64).to_string()
    } else {
        fmt_g17(s)
    }
}

// ---------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------

/// ```text
/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
/// ```
fn zadd(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, false)
}

/// ```text
/// ZINCRBY key increment member
/// ```
fn zincrby(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, true)
}

/// ZADD's flags (Redis: ZADD_IN_*).
#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Redis: zaddGenericCommand. ZINCRBY is ZADD with INCR forced; like
/// Redis, flags are recognised in its argument positions too.
fn zadd_generic(ctx: &mut Ctx, zincrby: bool) -> CmdResult {
    let mut f = AddFlags {
        incr: zincrby,
        ..Default::default()
    };
    let mut idx = 2;
    while idx < ctx.argc() {
        match ctx.arg(idx).to_ascii_lowercase().as_slice() {
            b"nx" => f.nx = true,
            b"xx" => f.xx = true,
            b"gt" => f.gt = true,
            b"lt" => f.lt = true,
            b"ch" => f.ch = true,
            b"incr" => f.incr = true,
            _ => break,
        }
        idx += 1;
    }
    let rest = ctx.argc() - idx;
    if rest == 0 || rest % 2 != 0 {
        return Err(errors::SYNTAX);
    }
    let elements = rest / 2;
    if f.nx && f.xx {
        return Err(RErr::lit(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.gt && f.nx) || (f.lt && f.nx) || (f.gt && f.lt) {
        return Err(RErr::lit(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && elements > 1 {
        return Err(RErr::lit(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        scores.push(ctx.float_arg(idx + 2 * j)?);
    }

    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let ks = &mut ctx.srv.keyspace;
    let z = match write_zset(ks, db, key, now)? {
        Some(_) => None,
        None if f.xx => {
            if f.incr {
                ctx.client.null();
            } else {
                ctx.client.int(0);
            }
            return Ok(());
        }
        None => Some(Value::ZSet(Box::default())),
    };
    if let Some(v) = z {
        ks.add(db, key, v);
    }
    let Some(Value::ZSet(z)) = ks.dbs[db].dict.get_mut(key).map(|o| &mut o.val) else {
        return Err(errors::WRONGTYPE);
    };

    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut last = 0.0;
    let mut failed = false;
    let mut negative_zero = false;
    for (j, &score) in scores.iter().enumerate() {
        let member = ctx.args[idx + 2 * j + 1];
        match z.score(member) {
            Some(cur) => {
                if f.nx {
                    continue;
                }
                let new = if f.incr { cur + score } else { score };
                if new.is_nan() {
                    failed = true;
                    break;
                }
                if (f.lt && new >= cur) || (f.gt && new <= cur) {
                    continue;
                }
                // Redis compares with `!=`: -0 over 0 is no update.
                if new != cur {
                    negative_zero |= new == 0.0 && new.is_sign_negative();
                    z.insert(member, new);
                    updated += 1;
                }
                processed += 1;
                last = new;
            }
            None if f.xx => {}
            None => {
                negative_zero |= score == 0.0 && score.is_sign_negative();
                z.insert(member, score);
                added += 1;
                processed += 1;
                last = score;
            }
        }
    }
    if negative_zero {
        listpack_zero_scores(z, &ctx.srv.config.enc);
    }
    if added + updated > 0 {
        ctx.dirty(added + updated);
        ctx.touch(key);
        ctx.signal_ready(key);
    }
    // A key created for elements that all failed must not stay empty.
    delete_if_empty(ctx, key);
    if failed {
        return Err(NAN_SCORE);
    }
    if f.incr {
        if processed > 0 {
            ctx.client.double(last);
        } else {
            ctx.client.null();
        }
    } else {
        ctx.client
            .int((if f.ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

/// ```text
/// ZREM key member [member ...]
/// ```
fn zrem(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let Some(z) = write_zset(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.int(0);
        return Ok(());
    };
    let deleted = ctx.args[2..]
        .iter()
        .filter(|m| z.remove(m).is_some())
        .count();
    if deleted > 0 {
        delete_if_empty(ctx, key);
        ctx.touch(key);
        ctx.dirty(deleted as u64);
    }
    ctx.client.int(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// Point reads and counts
// ---------------------------------------------------------------------------

/// ```text
/// ZCARD key
/// ```
fn zcard(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let n = read_zset(&mut ctx.srv.keyspace, db, key, now)?.map_or(0, |z| z.len());
    ctx.client.int(n as i64);
    Ok(())
}

/// ```text
/// ZSCORE key member
/// ```
fn zscore(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let z = read_zset(&mut ctx.srv.keyspace, db, key, now)?;
    match z.and_then(|z| z.score(ctx.args[2])) {
        Some(s) => ctx.client.double(s),
        None => ctx.client.null(),
    }
    Ok(())
}

/// ```text
/// ZMSCORE key member [member ...]
/// ```
fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let z = read_zset(&mut ctx.srv.keyspace, db, key, now)?;
    let members = &ctx.args[2..];
    ctx.client.array(members.len());
    for m in members {
        match z.and_then(|z| z.score(m)) {
            Some(s) => ctx.client.double(s),
            None => ctx.client.null(),
        }
    }
    Ok(())
}

/// ```text
/// ZRANK key member
/// ```
fn zrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, false)
}

/// ```text
/// ZREVRANK key member
/// ```
fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, true)
}

fn rank_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let z = read_zset(&mut ctx.srv.keyspace, db, key, now)?;
    let rank = z.and_then(|z| {
        z.rank(ctx.args[2])
            .map(|r| if rev { z.len() - 1 - r } else { r })
    });
    match rank {
        Some(r) => ctx.client.int(r as i64),
        None => ctx.client.null(),
    }
    Ok(())
}

/// ```text
/// ZCOUNT key min max
/// ```
fn zcount(ctx: &mut Ctx) -> CmdResult {
    let r = ScoreRange::parse(ctx.arg(2), ctx.arg(3)).ok_or(MINMAX_NOT_FLOAT)?;
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let n = read_zset(&mut ctx.srv.keyspace, db, key, now)?.map_or(0, |z| {
        let (a, b) = z.score_ranks(&r);
        b - a
    });
    ctx.client.int(n as i64);
    Ok(())
}

/// ```text
/// ZLEXCOUNT key min max
/// ```
fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let r = LexRange::parse(ctx.arg(2), ctx.arg(3)).ok_or(MINMAX_NOT_LEX)?;
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let n = read_zset(&mut ctx.srv.keyspace, db, key, now)?.map_or(0, |z| {
        let (a, b) = z.lex_ranks(&r);
        b - a
    });
    ctx.client.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// The ZRANGE family
// ---------------------------------------------------------------------------

/// How a ZRANGE range is given (Redis: zrange_type).
#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Rank,
    Score,
    Lex,
}

/// A parsed range.
enum RangeSpec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// ```text
/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
/// ```
fn zrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, None, None)
}

/// ```text
/// ZREVRANGE key start stop [WITHSCORES]
/// ```
fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, Some(RangeType::Rank), Some(true))
}

/// ```text
/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
/// ```
fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, Some(RangeType::Score), Some(false))
}

/// ```text
/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
/// ```
fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, Some(RangeType::Score), Some(true))
}

/// ```text
/// ZRANGEBYLEX key min max [LIMIT offset count]
/// ```
fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, Some(RangeType::Lex), Some(false))
}

/// ```text
/// ZREVRANGEBYLEX key max min [LIMIT offset count]
/// ```
fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, Some(RangeType::Lex), Some(true))
}

/// ```text
/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
/// ```
fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.arg(1);
    zrange_generic(ctx, 2, Some(dst), None, None)
}

/// The rank interval `lo..hi` (walked backwards when `rev`) a range selects
/// in `z`, after REV, LIMIT and index normalisation (Redis:
/// genericZrangebyrankCommand / ...byscore / ...bylex).
fn select_ranks(z: &ZSet, spec: &RangeSpec, rev: bool, offset: i64, limit: i64) -> (usize, usize) {
    let len = z.len() as i64;
    let (a, b) = match spec {
        RangeSpec::Rank(start, end) => {
            let mut start = if *start < 0 { len + start } else { *start };
            let mut end = if *end < 0 { len + end } else { *end };
            start = start.max(0);
            if start > end || start >= len {
                return (0, 0);
            }
            end = end.min(len - 1);
            return if rev {
                ((len - 1 - end) as usize, (len - start) as usize)
            } else {
                (start as usize, (end + 1) as usize)
            };
        }
        RangeSpec::Score(r) => z.score_ranks(r),
        RangeSpec::Lex(r) => z.lex_ranks(r),
    };
    // Redis skips `offset` elements with `while (offset--)`: a negative
    // offset never stops skipping, so the reply is empty.
    if offset < 0 {
        return (0, 0);
    }
    let n = (b - a) as u64;
    let offset = offset as u64;
    if offset >= n {
        return (0, 0);
    }
    let mut count = n - offset;
    if limit >= 0 {
        count = count.min(limit as u64);
    }
    let count = count as usize;
    if rev {
        let hi = b - offset as usize;
        (hi - count, hi)
    } else {
        let lo = a + offset as usize;
        (lo, lo + count)
    }
}

/// Redis: zrangeGenericCommand. `forced_type`/`forced_rev` are set by the
/// legacy commands (then BYSCORE/BYLEX/REV are syntax errors); `store` is
/// ZRANGESTORE's destination.
fn zrange_generic(
    ctx: &mut Ctx,
    first: usize,
    store: Option<&[u8]>,
    forced_type: Option<RangeType>,
    forced_rev: Option<bool>,
) -> CmdResult {
    let (mut rtype, mut rev) = (forced_type, forced_rev);
    let (mut offset, mut limit, mut withscores) = (0i64, -1i64, false);
    let mut j = first + 3;
    while j < ctx.argc() {
        let left = ctx.argc() - j - 1;
        if store.is_none() && ctx.arg_is(j, "withscores") {
            withscores = true;
        } else if ctx.arg_is(j, "limit") && left >= 2 {
            offset = ctx.int_arg(j + 1)?;
            limit = ctx.int_arg(j + 2)?;
            j += 2;
        } else if rev.is_none() && ctx.arg_is(j, "rev") {
            rev = Some(true);
        } else if rtype.is_none() && ctx.arg_is(j, "bylex") {
            rtype = Some(RangeType::Lex);
        } else if rtype.is_none() && ctx.arg_is(j, "byscore") {
            rtype = Some(RangeType::Score);
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    let rtype = rtype.unwrap_or(RangeType::Rank);
    let rev = rev.unwrap_or(false);
    // Redis checks only the count: `LIMIT 5 -1` passes with a rank range
    // (and is then ignored).
    if limit != -1 && rtype == RangeType::Rank {
        return Err(RErr::lit(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(RErr::lit(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (ctx.arg(first + 1), ctx.arg(first + 2));
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let spec = match rtype {
        RangeType::Rank => {
            let start = parse_i64(min).ok_or(errors::NOT_INT)?;
            let end = parse_i64(max).ok_or(errors::NOT_INT)?;
            RangeSpec::Rank(start, end)
        }
        RangeType::Score => RangeSpec::Score(ScoreRange::parse(min, max).ok_or(MINMAX_NOT_FLOAT)?),
        RangeType::Lex => RangeSpec::Lex(LexRange::parse(min, max).ok_or(MINMAX_NOT_LEX)?),
    };

    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(first));
    let z = read_zset(&mut ctx.srv.keyspace, db, key, now)?;
    let Some(dst) = store else {
        match z {
            None => ctx.client.array(0),
            Some(z) => {
                let (lo, hi) = select_ranks(z, &spec, rev, offset, limit);
                let items = z.range(lo, hi, rev).map(|(m, s)| (m.as_slice(), s));
                reply_members(ctx.client, withscores, resp3(ctx.client), items);
            }
        }
        return Ok(());
    };
    let mut out = ZSet::new();
    if let Some(z) = z {
        let (lo, hi) = select_ranks(z, &spec, rev, offset, limit);
        for (m, s) in z.range(lo, hi, rev) {
            out.insert(m, s);
        }
    }
    store_result(ctx, dst, out);
    Ok(())
}

/// Stores a computed sorted set at `dst` (replacing whatever is there and
/// its TTL) and replies its size; an empty result deletes `dst` instead
/// (Redis: zrangeResultFinalizeStore, zunionInterDiffGenericCommand).
fn store_result(ctx: &mut Ctx, dst: &[u8], mut out: ZSet) {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    listpack_zero_scores(&mut out, &ctx.srv.config.enc);
    let n = out.len();
    if n > 0 {
        ctx.srv
            .keyspace
            .set(db, dst, Value::ZSet(Box::new(out)), false);
        ctx.touch(dst);
        ctx.dirty(1);
        ctx.signal_ready(dst);
    } else if ctx.srv.keyspace.delete(db, dst, now) {
        ctx.touch(dst);
        ctx.dirty(1);
    }
    ctx.client.int(n as i64);
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*
// ---------------------------------------------------------------------------

/// ```text
/// ZREMRANGEBYRANK key start stop
/// ```
fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    let start = ctx.int_arg(2)?;
    let end = ctx.int_arg(3)?;
    zremrange_generic(ctx, RangeSpec::Rank(start, end))
}

/// ```text
/// ZREMRANGEBYSCORE key min max
/// ```
fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    let r = ScoreRange::parse(ctx.arg(2), ctx.arg(3)).ok_or(MINMAX_NOT_FLOAT)?;
    zremrange_generic(ctx, RangeSpec::Score(r))
}

/// ```text
/// ZREMRANGEBYLEX key min max
/// ```
fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    let r = LexRange::parse(ctx.arg(2), ctx.arg(3)).ok_or(MINMAX_NOT_LEX)?;
    zremrange_generic(ctx, RangeSpec::Lex(r))
}

fn zremrange_generic(ctx: &mut Ctx, spec: RangeSpec) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let Some(z) = write_zset(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.int(0);
        return Ok(());
    };
    let (lo, hi) = select_ranks(z, &spec, false, 0, -1);
    let deleted = z.remove_ranks(lo, hi);
    if deleted > 0 {
        delete_if_empty(ctx, key);
        ctx.touch(key);
        ctx.dirty(deleted as u64);
    }
    ctx.client.int(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------

/// Removes up to `count` members from the low (or, with `max`, the high)
/// end, in pop order.
fn pop_members(z: &mut ZSet, max: bool, count: usize) -> Vec<(Sds, f64)> {
    let len = z.len();
    let count = count.min(len);
    let (lo, hi) = if max { (len - count, len) } else { (0, count) };
    let out: Vec<(Sds, f64)> = z.range(lo, hi, max).map(|(m, s)| (m.clone(), s)).collect();
    z.remove_ranks(lo, hi);
    out
}

/// ```text
/// ZPOPMIN key [count]
/// ```
fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, false)
}

/// ```text
/// ZPOPMAX key [count]
/// ```
fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, true)
}

/// Redis: zpopMinMaxCommand + genericZpopCommand (without a key in the
/// reply). With a count, RESP3 replies nested `[member, score]` pairs.
fn zpop_generic(ctx: &mut Ctx, max: bool) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(errors::SYNTAX);
    }
    let count = if ctx.argc() == 3 {
        // Redis: getPositiveLongFromObjectOrReply, one message for both
        // a non-integer and a negative count.
        let c = parse_i64(ctx.arg(2))
            .filter(|c| *c >= 0)
            .ok_or(errors::POSITIVE)?;
        Some(c as usize)
    } else {
        None
    };
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let Some(z) = write_zset(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.array(0);
        return Ok(());
    };
    if count == Some(0) {
        ctx.client.array(0);
        return Ok(());
    }
    let popped = pop_members(z, max, count.unwrap_or(1));
    delete_if_empty(ctx, key);
    ctx.touch(key);
    ctx.dirty(popped.len() as u64);
    // RESP3 nests [member, score] pairs only when a count was given.
    let pairs = count.is_some() && ctx.client.proto == Proto::Resp3;
    let items = popped.iter().map(|(m, s)| (m.as_slice(), *s));
    reply_members(ctx.client, true, pairs, items);
    Ok(())
}

/// ```text
/// BZPOPMIN key [key ...] timeout
/// ```
fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    bzpop_generic(ctx, false)
}

/// ```text
/// BZPOPMAX key [key ...] timeout
/// ```
fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    bzpop_generic(ctx, true)
}

/// Redis: blockingGenericZpopCommand. Pops from the first non-empty key and
/// replies `[key, member, score]`, propagated as ZPOPMIN/ZPOPMAX key; blocks
/// when every key is empty (also when re-run to serve a blocked client).
fn bzpop_generic(ctx: &mut Ctx, max: bool) -> CmdResult {
    let last = ctx.argc() - 1;
    let deadline = ctx.timeout_arg(last)?;
    let (db, now) = (ctx.client.db, ctx.now_ms);
    for i in 1..last {
        let key = ctx.arg(i);
        let Some(z) = write_zset(&mut ctx.srv.keyspace, db, key, now)? else {
            continue;
        };
        if z.is_empty() {
            continue;
        }
        let popped = pop_members(z, max, 1);
        delete_if_empty(ctx, key);
        ctx.touch(key);
        ctx.dirty(1);
        let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        ctx.propagate_as(vec![vec![name.to_vec(), key.to_vec()]]);
        ctx.client.array(3);
        ctx.client.bulk(key);
        for (m, s) in &popped {
            ctx.client.bulk(m);
            ctx.client.double(*s);
        }
        return Ok(());
    }
    let keys = ctx.args[1..last]
        .iter()
        .map(|k| Sds::from_slice(k))
        .collect();
    ctx.block(keys, deadline, false);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN
// ---------------------------------------------------------------------------

/// ```text
/// ZRANDMEMBER key [count [WITHSCORES]]
/// ```
fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    if ctx.argc() == 2 {
        match read_zset(&mut ctx.srv.keyspace, db, key, now)? {
            None => ctx.client.null(),
            Some(z) => {
                let i = fastrand::usize(..z.len());
                if let Some((m, _)) = z.get_index(i) {
                    ctx.client.bulk(m);
                }
            }
        }
        return Ok(());
    }
    let l = ctx.int_arg(2)?;
    let withscores = match ctx.argc() {
        3 => false,
        4 if ctx.arg_is(3, "withscores") => true,
        _ => return Err(errors::SYNTAX),
    };
    if withscores && !(i64::MIN / 2..=i64::MAX / 2).contains(&l) {
        return Err(RErr::lit("ERR value is out of range"));
    }
    let Some(z) = read_zset(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.array(0);
        return Ok(());
    };
    let size = z.len();
    let c = &mut *ctx.client;
    if l == 0 {
        c.array(0);
        return Ok(());
    }
    let pick = |i: usize| z.get_index(i).map(|(m, s)| (m.as_slice(), s));
    if l < 0 || l == 1 {
        // Repetitions allowed: `count` independent draws.
        let count = l.unsigned_abs() as usize;
        let draws: Vec<_> = (0..count)
            .filter_map(|_| pick(fastrand::usize(..size)))
            .collect();
        reply_members(c, withscores, resp3(c), draws.into_iter());
        return Ok(());
    }
    let count = l as usize;
    if count >= size {
        // The whole set, in the order Redis's zset iterator walks it:
        // from the highest member down.
        let items = z.range(0, size, true).map(|(m, s)| (m.as_slice(), s));
        reply_members(c, withscores, resp3(c), items);
        return Ok(());
    }
    // Distinct members: a partial Fisher-Yates shuffle of the indices when
    // the sample is a large part of the set, rejection sampling otherwise.
    let chosen: Vec<usize> = if count * 3 > size {
        let mut idx: Vec<usize> = (0..size).collect();
        for i in 0..count {
            let j = fastrand::usize(i..size);
            idx.swap(i, j);
        }
        idx.truncate(count);
        idx
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut v = Vec::with_capacity(count);
        while v.len() < count {
            let i = fastrand::usize(..size);
            if seen.insert(i) {
                v.push(i);
            }
        }
        v
    };
    let items: Vec<_> = chosen.into_iter().filter_map(pick).collect();
    reply_members(c, withscores, resp3(c), items.into_iter());
    Ok(())
}

/// Parses a SCAN cursor like Redis's parseScanCursorOrReply (strtoul: an
/// optional sign, digits, no surrounding space, no overflow).
fn parse_cursor(b: &[u8]) -> Option<u64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(if neg { v.wrapping_neg() } else { v })
}

/// ```text
/// ZSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
///
/// A small (listpack-encoded) set replies everything with cursor 0, as
/// Redis does. A large one walks the member map's indices from the end:
/// the cursor is the number of positions not yet visited. Removal moves
/// only the last entry (swap_remove), which is always in the visited part,
/// so a member present for the whole scan is never skipped.
fn zscan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(ctx.arg(2)).ok_or(RErr::lit("ERR invalid cursor"))?;
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let limits = ctx.srv.config.enc;
    let Some(z) = read_zset(&mut ctx.srv.keyspace, db, key, now)? else {
        let c = &mut *ctx.client;
        c.array(2);
        c.bulk(b"0");
        c.array(0);
        return Ok(());
    };
    let args = ctx.args;
    let is = |i: usize, s: &str| args[i].eq_ignore_ascii_case(s.as_bytes());
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut j = 3;
    while j < args.len() {
        let left = args.len() - j;
        if is(j, "count") && left >= 2 {
            let n = parse_i64(args[j + 1]).ok_or(errors::NOT_INT)?;
            if n < 1 {
                return Err(errors::SYNTAX);
            }
            count = n as usize;
        } else if is(j, "match") && left >= 2 {
            pattern = Some(args[j + 1]);
        } else {
            return Err(errors::SYNTAX);
        }
        j += 2;
    }
    let matches = |m: &[u8]| match pattern {
        None => true,
        Some(p) if p == b"*" => true,
        Some(p) => crate::util::glob::glob_match(p, m, false),
    };
    let small =
        z.len() <= limits.zset_entries && z.iter().all(|(m, _)| m.len() <= limits.zset_value);
    let mut found: Vec<(Sds, String)> = Vec::new();
    let next;
    if small {
        for (m, s) in z.iter() {
            if matches(m) {
                found.push((m.clone(), listpack_score(s)));
            }
        }
        next = 0;
    } else {
        let len = z.len() as u64;
        let pos = if cursor == 0 { len } else { cursor.min(len) };
        let visit = (count as u64).min(pos);
        for i in (pos - visit..pos).rev() {
            if let Some((m, s)) = z.get_index(i as usize) {
                if matches(m) {
                    found.push((m.clone(), fmt_g17(s)));
                }
            }
        }
        next = pos - visit;
    }
    let c = &mut *ctx.client;
    c.array(2);
    c.bulk(next.to_string().as_bytes());
    c.array(found.len() * 2);
    for (m, s) in &found {
        c.bulk(m);
        c.bulk(s.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_scores_print_integers_plainly() {
        assert_eq!(listpack_score(3.0), "3");
        assert_eq!(listpack_score(4e18), "4000000000000000000");
        assert_eq!(listpack_score(1e20), "1e+20");
        assert_eq!(listpack_score(0.1), "0.10000000000000001");
        assert_eq!(listpack_score(-0.0), "0");
        assert_eq!(listpack_score(f64::INFINITY), "inf");
    }

    #[test]
    fn scan_cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"+12"), Some(12));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"1x"), None);
        assert_eq!(parse_cursor(b""), None);
        assert_eq!(parse_cursor(b"99999999999999999999999"), None);
    }

    fn set_of(n: usize) -> ZSet {
        let mut z = ZSet::new();
        for i in 0..n {
            z.insert(format!("m{i}").as_bytes(), i as f64);
        }
        z
    }

    #[test]
    fn rank_ranges_normalise_like_redis() {
        let z = set_of(5);
        let r = |a, b, rev| select_ranks(&z, &RangeSpec::Rank(a, b), rev, 0, -1);
        assert_eq!(r(0, -1, false), (0, 5));
        assert_eq!(r(-2, 100, false), (3, 5));
        assert_eq!(r(3, 1, false), (0, 0));
        assert_eq!(r(5, 10, false), (0, 0));
        assert_eq!(r(-100, -100, false), (0, 0));
        // REV: ranks counted from the top.
        assert_eq!(r(0, 1, true), (3, 5));
    }

    #[test]
    fn limit_offsets_apply_in_walking_order() {
        let z = set_of(10);
        let all = RangeSpec::Score(ScoreRange::parse(b"-inf", b"+inf").unwrap());
        assert_eq!(select_ranks(&z, &all, false, 2, 3), (2, 5));
        assert_eq!(select_ranks(&z, &all, true, 2, 3), (5, 8));
        assert_eq!(select_ranks(&z, &all, false, 8, -5), (8, 10));
        assert_eq!(select_ranks(&z, &all, false, -1, 3), (0, 0));
        assert_eq!(select_ranks(&z, &all, false, 10, 3), (0, 0));
        assert_eq!(select_ranks(&z, &all, false, 0, 0), (0, 0));
    }
}
