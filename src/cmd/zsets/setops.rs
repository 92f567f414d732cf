//! Sorted set algebra (Redis: zunionInterDiffGenericCommand): ZUNION ZINTER
//! ZDIFF, their STORE forms, and ZINTERCARD. Sources may be sorted sets or
//! plain sets (every member scoring 1); missing keys are empty.
//!
//! The computation (`compute`) is pure over borrowed sources; the handlers
//! parse, validate the key types, and reply or store.

use indexmap::IndexMap;

use super::ranges::store_result;
use super::{reply_members, resp3};
use crate::cmd::{errors, CmdResult, Ctx, ErrorReply};
use crate::keyspace::value::{Hasher, SetValue};
use crate::keyspace::zset::ZSet;
use crate::keyspace::{Sds, Value};
use crate::util::num::{parse_f64, parse_i64};

/// Which operation (Redis: SET_OP_*).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

/// How scores of a member found in several sources combine (Redis:
/// REDIS_AGGR_*).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis: zunionInterAggregate, including its NaN rules (a NaN sum
    /// becomes 0; MIN and MAX keep the target when a comparison fails).
    fn apply(self, target: &mut f64, val: f64) {
        match self {
            Aggregate::Sum => {
                *target += val;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if val < *target {
                    *target = val;
                }
            }
            Aggregate::Max => {
                if val > *target {
                    *target = val;
                }
            }
        }
    }
}

/// One input: a sorted set, a set (scores 1), or nothing (missing key).
#[derive(Clone, Copy)]
enum Source<'a> {
    Missing,
    ZSet(&'a ZSet),
    Set(&'a SetValue),
}

impl<'a> Source<'a> {
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::ZSet(z) => z.len(),
            Source::Set(s) => s.len(),
        }
    }

    fn find(&self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::ZSet(z) => z.score(m),
            Source::Set(s) => s.contains(m).then_some(1.0),
        }
    }

    fn members(&self) -> Box<dyn Iterator<Item = (&'a Sds, f64)> + 'a> {
        match *self {
            Source::Missing => Box::new(std::iter::empty()),
            Source::ZSet(z) => Box::new((0..z.len()).filter_map(move |i| z.get_index(i))),
            Source::Set(s) => Box::new(s.iter().map(|m| (m, 1.0))),
        }
    }

    /// Whether two sources are the same stored value (Redis compares the
    /// object pointers: a key given twice).
    fn same(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::ZSet(a), Source::ZSet(b)) => std::ptr::eq(*a, *b),
            (Source::Set(a), Source::Set(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

/// Computes the operation over weighted sources (Redis's algorithm and
/// source order: union and intersection visit sources smallest first).
fn compute(op: Op, mut src: Vec<(Source, f64)>, agg: Aggregate) -> ZSet {
    let mut out = ZSet::new();
    if op != Op::Diff {
        src.sort_by_key(|(s, _)| s.len());
    }
    match op {
        Op::Inter => {
            let (first, w0) = src[0];
            for (m, s) in first.members() {
                let mut score = w0 * s;
                if score.is_nan() {
                    score = 0.0;
                }
                let mut all = true;
                for (other, w) in &src[1..] {
                    let value = if other.same(&first) {
                        Some(s)
                    } else {
                        other.find(m)
                    };
                    match value {
                        Some(v) => agg.apply(&mut score, v * w),
                        None => {
                            all = false;
                            break;
                        }
                    }
                }
                if all {
                    out.insert(m, score);
                }
            }
        }
        Op::Union => {
            let mut acc: IndexMap<&[u8], f64, Hasher> = IndexMap::default();
            for (s, w) in &src {
                for (m, sc) in s.members() {
                    let mut score = w * sc;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m.as_slice()) {
                        Some(t) => agg.apply(t, score),
                        None => {
                            acc.insert(m.as_slice(), score);
                        }
                    }
                }
            }
            for (m, s) in acc {
                out.insert(m, s);
            }
        }
        Op::Diff => {
            let (first, _) = src[0];
            'members: for (m, s) in first.members() {
                for (other, _) in &src[1..] {
                    if other.same(&first) || other.find(m).is_some() {
                        continue 'members;
                    }
                }
                out.insert(m, s);
            }
        }
    }
    out
}

/// ```text
/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
/// ```
pub(super) fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, Op::Union, true, false)
}

/// ```text
/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
/// ```
pub(super) fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, Op::Inter, true, false)
}

/// ```text
/// ZDIFFSTORE destination numkeys key [key ...]
/// ```
pub(super) fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, Op::Diff, true, false)
}

/// ```text
/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
/// ```
pub(super) fn zunion(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, Op::Union, false, false)
}

/// ```text
/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
/// ```
pub(super) fn zinter(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, Op::Inter, false, false)
}

/// ```text
/// ZDIFF numkeys key [key ...] [WITHSCORES]
/// ```
pub(super) fn zdiff(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, Op::Diff, false, false)
}

/// ```text
/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
/// ```
pub(super) fn zintercard(ctx: &mut Ctx) -> CmdResult {
    generic(ctx, Op::Inter, false, true)
}

/// Redis: zunionInterDiffGenericCommand. Checks in Redis's order: numkeys,
/// key count, key types, then options.
fn generic(ctx: &mut Ctx, op: Op, store: bool, card_only: bool) -> CmdResult {
    let numkeys_idx = if store { 2 } else { 1 };
    let setnum = ctx.int_arg(numkeys_idx)?;
    if setnum < 1 {
        let name = String::from_utf8_lossy(ctx.arg(0)).to_lowercase();
        return Err(ErrorReply::new(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if setnum > (ctx.argc() - numkeys_idx - 1) as i64 {
        return Err(errors::SYNTAX);
    }
    let setnum = setnum as usize;
    let first = numkeys_idx + 1;
    let keys = &ctx.args[first..first + setnum];

    // Type checks (and lazy expiry, hit/miss counts) key by key, as Redis.
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let mut present = Vec::with_capacity(setnum);
    for k in keys {
        match ctx.srv.keyspace.lookup_read(db, k, now) {
            None => present.push(false),
            Some(o) => match o.val {
                Value::ZSet(_) | Value::Set(_) => present.push(true),
                _ => return Err(errors::WRONGTYPE),
            },
        }
    }

    let mut weights = vec![1.0; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = first + setnum;
    while j < ctx.argc() {
        let remaining = ctx.argc() - j;
        if op != Op::Diff && !card_only && remaining > setnum && ctx.arg_is(j, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = parse_f64(ctx.arg(j + 1 + i))
                    .ok_or(ErrorReply::lit("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != Op::Diff && !card_only && remaining >= 2 && ctx.arg_is(j, "aggregate") {
            agg = match ctx.arg(j + 1).to_ascii_lowercase().as_slice() {
                b"sum" => Aggregate::Sum,
                b"min" => Aggregate::Min,
                b"max" => Aggregate::Max,
                _ => return Err(errors::SYNTAX),
            };
            j += 2;
        } else if !store && !card_only && ctx.arg_is(j, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && ctx.arg_is(j, "limit") {
            let l = parse_i64(ctx.arg(j + 1))
                .filter(|l| *l >= 0)
                .ok_or(ErrorReply::lit("ERR LIMIT can't be negative"))?;
            limit = l as usize;
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }

    let dict = &ctx.srv.keyspace.dbs[db].dict;
    let src: Vec<(Source, f64)> = keys
        .iter()
        .zip(&present)
        .zip(&weights)
        .map(|((k, &here), &w)| {
            let s = match dict.get(k).filter(|_| here).map(|o| &o.val) {
                Some(Value::ZSet(z)) => Source::ZSet(z),
                Some(Value::Set(s)) => Source::Set(s),
                _ => Source::Missing,
            };
            (s, w)
        })
        .collect();
    let out = compute(op, src, agg);

    if card_only {
        let n = if limit > 0 {
            out.len().min(limit)
        } else {
            out.len()
        };
        ctx.client.int(n as i64);
    } else if store {
        let dst = ctx.arg(1);
        store_result(ctx, dst, out);
    } else {
        let items = out.iter().map(|(m, s)| (m.as_slice(), s));
        reply_members(ctx.client, withscores, resp3(ctx.client), items);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zs(items: &[(&str, f64)]) -> ZSet {
        let mut z = ZSet::new();
        for (m, s) in items {
            z.insert(m.as_bytes(), *s);
        }
        z
    }

    fn dump(z: &ZSet) -> Vec<(String, f64)> {
        z.iter()
            .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s))
            .collect()
    }

    #[test]
    fn union_weights_and_aggregates() {
        let a = zs(&[("x", 1.0), ("y", 2.0)]);
        let b = zs(&[("y", 10.0), ("z", 3.0)]);
        let src = vec![(Source::ZSet(&a), 2.0), (Source::ZSet(&b), 1.0)];
        let u = compute(Op::Union, src.clone(), Aggregate::Sum);
        assert_eq!(
            dump(&u),
            vec![("x".into(), 2.0), ("z".into(), 3.0), ("y".into(), 14.0)]
        );
        let u = compute(Op::Union, src, Aggregate::Min);
        assert_eq!(dump(&u)[2], ("y".into(), 4.0));
    }

    #[test]
    fn plain_sets_score_one_and_missing_keys_are_empty() {
        let a = zs(&[("x", 5.0), ("y", 2.0)]);
        let mut s = SetValue::default();
        s.insert(Sds::from_slice(b"x"));
        let src = vec![(Source::ZSet(&a), 1.0), (Source::Set(&s), 1.0)];
        assert_eq!(
            dump(&compute(Op::Inter, src.clone(), Aggregate::Sum)),
            vec![("x".into(), 6.0)]
        );
        assert_eq!(
            dump(&compute(Op::Diff, src, Aggregate::Sum)),
            vec![("y".into(), 2.0)]
        );
        let src = vec![(Source::ZSet(&a), 1.0), (Source::Missing, 1.0)];
        assert!(compute(Op::Inter, src, Aggregate::Sum).is_empty());
    }

    #[test]
    fn infinite_weights_that_make_nan_score_zero() {
        let a = zs(&[("x", 0.0)]);
        let src = vec![(Source::ZSet(&a), f64::INFINITY)];
        assert_eq!(
            dump(&compute(Op::Union, src, Aggregate::Sum)),
            vec![("x".into(), 0.0)]
        );
        let mut t = f64::INFINITY;
        Aggregate::Sum.apply(&mut t, f64::NEG_INFINITY);
        assert_eq!(t, 0.0);
    }

    #[test]
    fn a_key_given_twice_differs_from_itself_to_nothing() {
        let a = zs(&[("x", 1.0)]);
        let src = vec![(Source::ZSet(&a), 1.0), (Source::ZSet(&a), 1.0)];
        assert!(compute(Op::Diff, src.clone(), Aggregate::Sum).is_empty());
        assert_eq!(
            dump(&compute(Op::Inter, src, Aggregate::Sum)),
            vec![("x".into(), 2.0)]
        );
    }
}
