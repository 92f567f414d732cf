//! Sorted set commands (Redis: t_zset.c): ZADD ZINCRBY ZREM ZCARD ZSCORE
//! ZMSCORE ZRANK ZREVRANK ZCOUNT ZLEXCOUNT, the ZRANGE family (ZRANGE
//! ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX
//! ZRANGESTORE), ZREMRANGEBYRANK/SCORE/LEX, ZPOPMIN ZPOPMAX BZPOPMIN
//! BZPOPMAX, ZRANDMEMBER and ZSCAN, plus ZUNION ZINTER ZDIFF, their STORE
//! forms and ZINTERCARD.
//!
//! This file holds the table, the shared lookups and reply helpers, ZADD
//! ZINCRBY ZREM, point reads and counts, and the pops; `ranges` the ZRANGE
//! and ZREMRANGE families; `scan` ZRANDMEMBER and ZSCAN; `setops` the set
//! algebra.
//!
//! Every range command reduces its range to a rank interval of the
//! `ZSet` (see `keyspace::zset`), so REV and LIMIT are rank arithmetic.
//! Writers touch the key (WATCH), count dirty changes, delete the key when
//! its last member goes, and signal the key ready when it gains members
//! (BZPOPMIN/BZPOPMAX waiters).

mod ranges;
mod scan;
mod setops;

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::cmd::{lookup_read_as, lookup_write_as};
use crate::keyspace::value::EncodingLimits;
use crate::keyspace::zset::{LexRange, ScoreRange, ZSet};
use crate::keyspace::{Sds, Value};
use crate::resp::Proto;
use crate::server::client::Client;
use crate::spec;
use crate::util::num::parse_i64;

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
    spec!("zrange", -4, READONLY, 1, 1, 1, "sortedset", ranges::zrange),
    spec!("zrevrange", -4, READONLY, 1, 1, 1, "sortedset", ranges::zrevrange),
    spec!("zrangebyscore", -4, READONLY, 1, 1, 1, "sortedset", ranges::zrangebyscore),
    spec!("zrevrangebyscore", -4, READONLY, 1, 1, 1, "sortedset", ranges::zrevrangebyscore),
    spec!("zrangebylex", -4, READONLY, 1, 1, 1, "sortedset", ranges::zrangebylex),
    spec!("zrevrangebylex", -4, READONLY, 1, 1, 1, "sortedset", ranges::zrevrangebylex),
    spec!("zrangestore", -5, WRITE | DENYOOM, 1, 2, 1, "sortedset", ranges::zrangestore),
    spec!("zremrangebyrank", 4, WRITE, 1, 1, 1, "sortedset", ranges::zremrangebyrank),
    spec!("zremrangebyscore", 4, WRITE, 1, 1, 1, "sortedset", ranges::zremrangebyscore),
    spec!("zremrangebylex", 4, WRITE, 1, 1, 1, "sortedset", ranges::zremrangebylex),
    spec!("zpopmin", -2, WRITE | FAST, 1, 1, 1, "sortedset", zpopmin),
    spec!("zpopmax", -2, WRITE | FAST, 1, 1, 1, "sortedset", zpopmax),
    spec!("bzpopmin", -3, WRITE | FAST | BLOCKING, 1, -2, 1, "sortedset", bzpopmin),
    spec!("bzpopmax", -3, WRITE | FAST | BLOCKING, 1, -2, 1, "sortedset", bzpopmax),
    spec!("zrandmember", -2, READONLY, 1, 1, 1, "sortedset", scan::zrandmember),
    spec!("zscan", -3, READONLY, 1, 1, 1, "sortedset", scan::zscan),
    spec!("zunionstore", -4, WRITE | DENYOOM, 1, 1, 1, "sortedset", setops::zunionstore),
    spec!("zinterstore", -4, WRITE | DENYOOM, 1, 1, 1, "sortedset", setops::zinterstore),
    spec!("zdiffstore", -4, WRITE | DENYOOM, 1, 1, 1, "sortedset", setops::zdiffstore),
    spec!("zunion", -3, READONLY, 0, 0, 0, "sortedset", setops::zunion),
    spec!("zinter", -3, READONLY, 0, 0, 0, "sortedset", setops::zinter),
    spec!("zdiff", -3, READONLY, 0, 0, 0, "sortedset", setops::zdiff),
    spec!("zintercard", -3, READONLY, 0, 0, 0, "sortedset", setops::zintercard),
];

/// Redis: "min or max is not a float".
const MINMAX_NOT_FLOAT: ErrorReply = ErrorReply::lit("ERR min or max is not a float");
/// Redis: "min or max not valid string range item".
const MINMAX_NOT_LEX: ErrorReply = ErrorReply::lit("ERR min or max not valid string range item");
/// Redis: the ZADD/ZINCRBY result is NaN (inf + -inf).
const NAN_SCORE: ErrorReply = ErrorReply::lit("ERR resulting score is not a number (NaN)");

// ---------------------------------------------------------------------------
// Lookups and replies
// ---------------------------------------------------------------------------

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
        let a = ctx.arg(idx);
        let flag = |name: &[u8]| a.eq_ignore_ascii_case(name);
        if flag(b"nx") {
            f.nx = true;
        } else if flag(b"xx") {
            f.xx = true;
        } else if flag(b"gt") {
            f.gt = true;
        } else if flag(b"lt") {
            f.lt = true;
        } else if flag(b"ch") {
            f.ch = true;
        } else if flag(b"incr") {
            f.incr = true;
        } else {
            break;
        }
        idx += 1;
    }
    let rest = ctx.argc() - idx;
    if rest == 0 || !rest.is_multiple_of(2) {
        return Err(errors::SYNTAX);
    }
    let elements = rest / 2;
    if f.nx && f.xx {
        return Err(ErrorReply::lit(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(ErrorReply::lit(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && elements > 1 {
        return Err(ErrorReply::lit(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        scores.push(ctx.float_arg(idx + 2 * j)?);
    }

    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let ks = &mut ctx.srv.keyspace;
    let z = match lookup_write_as::<ZSet>(ks, db, key, now)? {
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
    let Some(z) = lookup_write_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)? else {
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
    let n = lookup_read_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)?.map_or(0, |z| z.len());
    ctx.client.int(n as i64);
    Ok(())
}

/// ```text
/// ZSCORE key member
/// ```
fn zscore(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let z = lookup_read_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)?;
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
    let z = lookup_read_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)?.map(|z| &*z);
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
    let z = lookup_read_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)?;
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
    let n = lookup_read_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)?.map_or(0, |z| {
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
    let n = lookup_read_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)?.map_or(0, |z| {
        let (a, b) = z.lex_ranks(&r);
        b - a
    });
    ctx.client.int(n as i64);
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
    let Some(z) = lookup_write_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)? else {
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
        let Some(z) = lookup_write_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)? else {
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
