//! The ZRANGE family (ZRANGE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE
//! ZRANGEBYLEX ZREVRANGEBYLEX ZRANGESTORE) and ZREMRANGEBYRANK/SCORE/LEX
//! (Redis: zrangeGenericCommand, zremrangeGenericCommand).
//!
//! A range is parsed into a `RangeSpec`, then `select_ranks` turns it, with
//! REV and LIMIT, into the rank interval the reply walks.

use super::{delete_if_empty, listpack_zero_scores, reply_members, resp3};
use super::{MINMAX_NOT_FLOAT, MINMAX_NOT_LEX};
use crate::cmd::{errors, CmdResult, Ctx, ErrorReply};
use crate::cmd::{lookup_read_as, lookup_write_as};
use crate::keyspace::zset::{LexRange, ScoreRange, ZSet};
use crate::keyspace::Value;
use crate::util::num::parse_i64;

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
pub(super) fn zrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, None, None)
}

/// ```text
/// ZREVRANGE key start stop [WITHSCORES]
/// ```
pub(super) fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, Some(RangeType::Rank), Some(true))
}

/// ```text
/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
/// ```
pub(super) fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, Some(RangeType::Score), Some(false))
}

/// ```text
/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
/// ```
pub(super) fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, Some(RangeType::Score), Some(true))
}

/// ```text
/// ZRANGEBYLEX key min max [LIMIT offset count]
/// ```
pub(super) fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, Some(RangeType::Lex), Some(false))
}

/// ```text
/// ZREVRANGEBYLEX key max min [LIMIT offset count]
/// ```
pub(super) fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, 1, None, Some(RangeType::Lex), Some(true))
}

/// ```text
/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
/// ```
pub(super) fn zrangestore(ctx: &mut Ctx) -> CmdResult {
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
        return Err(ErrorReply::lit(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(ErrorReply::lit(
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
    let z = lookup_read_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)?;
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
pub(super) fn store_result(ctx: &mut Ctx, dst: &[u8], mut out: ZSet) {
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
pub(super) fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    let start = ctx.int_arg(2)?;
    let end = ctx.int_arg(3)?;
    zremrange_generic(ctx, RangeSpec::Rank(start, end))
}

/// ```text
/// ZREMRANGEBYSCORE key min max
/// ```
pub(super) fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    let r = ScoreRange::parse(ctx.arg(2), ctx.arg(3)).ok_or(MINMAX_NOT_FLOAT)?;
    zremrange_generic(ctx, RangeSpec::Score(r))
}

/// ```text
/// ZREMRANGEBYLEX key min max
/// ```
pub(super) fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    let r = LexRange::parse(ctx.arg(2), ctx.arg(3)).ok_or(MINMAX_NOT_LEX)?;
    zremrange_generic(ctx, RangeSpec::Lex(r))
}

fn zremrange_generic(ctx: &mut Ctx, spec: RangeSpec) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let Some(z) = lookup_write_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)? else {
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

#[cfg(test)]
mod tests {
    use super::*;

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
