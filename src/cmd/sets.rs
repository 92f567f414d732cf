//! Set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP
//! SRANDMEMBER SINTER SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE
//! SDIFFSTORE SMOVE SSCAN (Redis: t_set.c).
//!
//! A set is an `IndexSet`; removals are `swap_remove`s so random picks are
//! O(1) and SSCAN can use the shared index cursor (`hashes::scan_indexed`).
//! A set whose last member goes is deleted. Multi-key commands treat a
//! missing key as an empty set and fail with WRONGTYPE if any key holds
//! another type, as redis-server 7.0 does.

use super::hashes::{rand_count_arg, random_distinct, scan_collection};
use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::cmd::{lookup_read_as, lookup_write_as};
use crate::keyspace::value::{Hasher, SetValue};
use crate::keyspace::{Keyspace, Obj, Sds, Value};
use crate::spec;
use crate::util::num::parse_i64;

/// The sets family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!("sadd", -3, WRITE | DENYOOM | FAST, 1, 1, 1, "set", sadd),
    spec!("srem", -3, WRITE | FAST, 1, 1, 1, "set", srem),
    spec!("smembers", 2, READONLY, 1, 1, 1, "set", smembers),
    spec!("sismember", 3, READONLY | FAST, 1, 1, 1, "set", sismember),
    spec!(
        "smismember",
        -3,
        READONLY | FAST,
        1,
        1,
        1,
        "set",
        smismember
    ),
    spec!("scard", 2, READONLY | FAST, 1, 1, 1, "set", scard),
    spec!("spop", -2, WRITE | FAST, 1, 1, 1, "set", spop),
    spec!("srandmember", -2, READONLY, 1, 1, 1, "set", srandmember),
    spec!("sinter", -2, READONLY, 1, -1, 1, "set", sinter),
    // Keys follow numkeys: like Redis's legacy triple, no fixed positions.
    spec!("sintercard", -3, READONLY, 0, 0, 0, "set", sintercard),
    spec!("sunion", -2, READONLY, 1, -1, 1, "set", sunion),
    spec!("sdiff", -2, READONLY, 1, -1, 1, "set", sdiff),
    spec!(
        "sinterstore",
        -3,
        WRITE | DENYOOM,
        1,
        -1,
        1,
        "set",
        sinterstore
    ),
    spec!(
        "sunionstore",
        -3,
        WRITE | DENYOOM,
        1,
        -1,
        1,
        "set",
        sunionstore
    ),
    spec!(
        "sdiffstore",
        -3,
        WRITE | DENYOOM,
        1,
        -1,
        1,
        "set",
        sdiffstore
    ),
    spec!("smove", 4, WRITE | FAST, 1, 2, 1, "set", smove),
    spec!("sscan", -3, READONLY, 1, 1, 1, "set", sscan),
];

/// SPOP propagates its removals as SREMs of at most this many members
/// (Redis: the batch size in spopWithCountCommand).
const SPOP_BATCH: usize = 1024;

// ---------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------

/// Looks up every key as a set (read lookups, counted as hits or misses,
/// even for the STORE variants, as redis-server 7.0 does): `None` for a
/// missing key, WRONGTYPE if any key holds another type.
fn lookup_sets<'a>(
    ks: &'a mut Keyspace,
    db: usize,
    keys: &[&[u8]],
    now: i64,
) -> Result<Vec<Option<&'a SetValue>>, ErrorReply> {
    let mut present = Vec::with_capacity(keys.len());
    for k in keys {
        match ks.lookup_read(db, k, now) {
            None => present.push(false),
            Some(o) if matches!(o.val, Value::Set(_)) => present.push(true),
            Some(_) => return Err(errors::WRONGTYPE),
        }
    }
    // Second pass with shared borrows; keys hidden by expiry (on a replica
    // they stay in the dict) were recorded as missing above.
    let dict = &ks.dbs[db].dict;
    Ok(keys
        .iter()
        .zip(present)
        .map(|(k, p)| match dict.get(k) {
            Some(Obj {
                val: Value::Set(s), ..
            }) if p => Some(&**s),
            _ => None,
        })
        .collect())
}

// ---------------------------------------------------------------------------
// Set algebra (pure)
// ---------------------------------------------------------------------------

/// The intersection, stopping after `limit` members (0 = no limit). Any
/// missing set makes it empty.
fn inter<'a>(sets: &[Option<&'a SetValue>], limit: usize) -> Vec<&'a Sds> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<_>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in first.iter() {
        if rest
            .iter()
            .all(|s| std::ptr::eq(*s, *first) || s.contains(m))
        {
            out.push(m);
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// The union; missing sets count as empty.
fn union<'a>(sets: &[Option<&'a SetValue>]) -> Vec<&'a Sds> {
    let mut seen: indexmap::IndexSet<&'a Sds, Hasher> = indexmap::IndexSet::default();
    for s in sets.iter().flatten() {
        seen.extend(s.iter());
    }
    seen.into_iter().collect()
}

/// The first set minus all the others; missing sets count as empty.
fn diff<'a>(sets: &[Option<&'a SetValue>]) -> Vec<&'a Sds> {
    let Some(Some(first)) = sets.first() else {
        return Vec::new();
    };
    let rest: Vec<&SetValue> = sets[1..].iter().flatten().copied().collect();
    first
        .iter()
        .filter(|m| !rest.iter().any(|s| s.contains(*m)))
        .collect()
}

/// Which operation a multi-key command performs.
#[derive(Clone, Copy)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

/// SINTER/SUNION/SDIFF and their STORE variants: keys from `first_key` on,
/// result replied as a set or stored at `dst`.
fn setop_generic(ctx: &mut Ctx, op: SetOp, first_key: usize, dst: Option<&[u8]>) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let keys = &ctx.args[first_key..];
    let sets = lookup_sets(&mut ctx.srv.keyspace, db, keys, now)?;
    let result = match op {
        SetOp::Inter => inter(&sets, 0),
        SetOp::Union => union(&sets),
        SetOp::Diff => diff(&sets),
    };
    let Some(dst) = dst else {
        let c = &mut *ctx.client;
        c.set(result.len());
        for m in result {
            c.bulk(m);
        }
        return Ok(());
    };
    let n = result.len();
    if n == 0 {
        if ctx.srv.keyspace.delete(db, dst, now) {
            ctx.touch(dst);
            ctx.dirty(1);
        }
        ctx.client.int(0);
        return Ok(());
    }
    let mut stored = SetValue::with_capacity_and_hasher(n, Hasher::default());
    stored.extend(result.into_iter().cloned());
    ctx.srv
        .keyspace
        .set(db, dst, Value::Set(Box::new(stored)), false);
    ctx.touch(dst);
    ctx.dirty(1);
    ctx.client.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

/// ```text
/// SADD key member [member ...]
/// ```
fn sadd(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let ks = &mut ctx.srv.keyspace;
    let s = match lookup_write_as::<SetValue>(ks, db, key, now)? {
        Some(s) => s,
        None => match &mut ks.add(db, key, Value::Set(Box::default())).val {
            Value::Set(s) => s,
            // `add` stored exactly the set created on the line above.
            _ => unreachable!("a new set was just added"),
        },
    };
    let mut added = 0;
    for m in &ctx.args[2..] {
        if !s.contains(*m) {
            s.insert(Sds::from_slice(m));
            added += 1;
        }
    }
    if added > 0 {
        ctx.touch(key);
        ctx.dirty(added);
    }
    ctx.client.int(added as i64);
    Ok(())
}

/// ```text
/// SREM key member [member ...]
/// ```
fn srem(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let Some(s) = lookup_write_as::<SetValue>(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.int(0);
        return Ok(());
    };
    let mut removed = 0;
    for m in &ctx.args[2..] {
        if s.swap_remove(*m) {
            removed += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if s.is_empty() {
        ctx.srv.keyspace.dbs[db].delete(key);
    }
    if removed > 0 {
        ctx.touch(key);
        ctx.dirty(removed);
    }
    ctx.client.int(removed as i64);
    Ok(())
}

/// ```text
/// SMEMBERS key
/// ```
fn smembers(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, SetOp::Inter, 1, None)
}

/// ```text
/// SISMEMBER key member
/// ```
fn sismember(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key, m) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    let found = lookup_read_as::<SetValue>(&mut ctx.srv.keyspace, db, key, now)?
        .is_some_and(|s| s.contains(m));
    ctx.client.int(i64::from(found));
    Ok(())
}

/// ```text
/// SMISMEMBER key member [member ...]
/// ```
fn smismember(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let members = &ctx.args[2..];
    let s = lookup_read_as::<SetValue>(&mut ctx.srv.keyspace, db, key, now)?;
    ctx.client.array(members.len());
    for m in members {
        let found = s.as_ref().is_some_and(|s| s.contains(*m));
        ctx.client.int(i64::from(found));
    }
    Ok(())
}

/// ```text
/// SCARD key
/// ```
fn scard(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let n = lookup_read_as::<SetValue>(&mut ctx.srv.keyspace, db, key, now)?.map_or(0, |s| s.len());
    ctx.client.int(n as i64);
    Ok(())
}

/// ```text
/// SPOP key [count]
/// ```
/// Propagated as `SREM key member...` (batches of 1024), or as DEL/UNLINK
/// when the whole set is popped.
fn spop(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(errors::SYNTAX);
    }
    if ctx.argc() == 3 {
        return spop_count(ctx);
    }
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let Some(s) = lookup_write_as::<SetValue>(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.null();
        return Ok(());
    };
    let Some(m) = s.swap_remove_index(fastrand::usize(..s.len().max(1))) else {
        ctx.client.null();
        return Ok(());
    };
    if s.is_empty() {
        ctx.srv.keyspace.dbs[db].delete(key);
    }
    ctx.client.bulk(&m);
    ctx.propagate_as(vec![vec![b"SREM".to_vec(), key.to_vec(), m.to_vec()]]);
    ctx.touch(key);
    ctx.dirty(1);
    Ok(())
}

fn spop_count(ctx: &mut Ctx) -> CmdResult {
    let count = parse_i64(ctx.arg(2))
        .filter(|n| *n >= 0)
        .ok_or(errors::POSITIVE)?;
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let lazy_del = ctx.srv.config.lazyfree_lazy_server_del;
    let Some(s) = lookup_write_as::<SetValue>(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.client.set(0);
        return Ok(());
    }
    let size = s.len();
    let c = &mut *ctx.client;
    if count >= size {
        c.set(size);
        for m in s.iter() {
            c.bulk(m);
        }
        ctx.srv.keyspace.dbs[db].delete(key);
        let del: &[u8] = if lazy_del { b"UNLINK" } else { b"DEL" };
        ctx.propagate_as(vec![vec![del.to_vec(), key.to_vec()]]);
        ctx.touch(key);
        ctx.dirty(size as u64);
        return Ok(());
    }
    c.set(count);
    let mut popped = Vec::with_capacity(count);
    for _ in 0..count {
        let Some(m) = s.swap_remove_index(fastrand::usize(..s.len())) else {
            break;
        };
        c.bulk(&m);
        popped.push(m);
    }
    let props = srem_batches(key, &popped);
    ctx.propagate_as(props);
    ctx.touch(key);
    ctx.dirty(count as u64);
    Ok(())
}

/// The SREM commands that replicate popping `members` from `key`, at most
/// `SPOP_BATCH` members each.
fn srem_batches(key: &[u8], members: &[Sds]) -> Vec<Vec<Vec<u8>>> {
    members
        .chunks(SPOP_BATCH)
        .map(|chunk| {
            let mut argv = Vec::with_capacity(2 + chunk.len());
            argv.push(b"SREM".to_vec());
            argv.push(key.to_vec());
            argv.extend(chunk.iter().map(|m| m.to_vec()));
            argv
        })
        .collect()
}

/// ```text
/// SRANDMEMBER key [count]
/// ```
/// A negative count may repeat members; a positive one returns distinct
/// members (the whole set if the count reaches its size), as an array.
fn srandmember(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(errors::SYNTAX);
    }
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    if ctx.argc() == 2 {
        let s = lookup_read_as::<SetValue>(&mut ctx.srv.keyspace, db, key, now)?;
        match s.and_then(|s| s.get_index(fastrand::usize(..s.len().max(1)))) {
            Some(m) => ctx.client.bulk(m),
            None => ctx.client.null(),
        }
        return Ok(());
    }
    let l = rand_count_arg(ctx.arg(2))?;
    let Some(s) = lookup_read_as::<SetValue>(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.array(0);
        return Ok(());
    };
    let c = &mut *ctx.client;
    let count = l.unsigned_abs() as usize;
    if count == 0 || s.is_empty() {
        c.array(0);
    } else if l < 0 {
        c.array(count);
        for _ in 0..count {
            if let Some(m) = s.get_index(fastrand::usize(..s.len())) {
                c.bulk(m);
            }
        }
    } else if count >= s.len() {
        c.bulks(s.iter().map(|m| m.as_slice()));
    } else {
        c.array(count);
        for i in random_distinct(s.len(), count) {
            if let Some(m) = s.get_index(i) {
                c.bulk(m);
            }
        }
    }
    Ok(())
}

/// ```text
/// SINTER key [key ...]
/// ```
fn sinter(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, SetOp::Inter, 1, None)
}

/// ```text
/// SINTERSTORE destination key [key ...]
/// ```
fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.arg(1);
    setop_generic(ctx, SetOp::Inter, 2, Some(dst))
}

/// ```text
/// SUNION key [key ...]
/// ```
fn sunion(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, SetOp::Union, 1, None)
}

/// ```text
/// SUNIONSTORE destination key [key ...]
/// ```
fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.arg(1);
    setop_generic(ctx, SetOp::Union, 2, Some(dst))
}

/// ```text
/// SDIFF key [key ...]
/// ```
fn sdiff(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, SetOp::Diff, 1, None)
}

/// ```text
/// SDIFFSTORE destination key [key ...]
/// ```
fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    let dst = ctx.arg(1);
    setop_generic(ctx, SetOp::Diff, 2, Some(dst))
}

/// ```text
/// SINTERCARD numkeys key [key ...] [LIMIT limit]
/// ```
fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let numkeys = parse_i64(ctx.arg(1))
        .filter(|n| *n >= 1)
        .ok_or(ErrorReply::lit("ERR numkeys should be greater than 0"))?;
    if numkeys > (ctx.argc() - 2) as i64 {
        return Err(ErrorReply::lit(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let numkeys = numkeys as usize;
    let mut limit = 0;
    let mut j = 2 + numkeys;
    while j < ctx.argc() {
        if ctx.arg_is(j, "LIMIT") && j + 1 < ctx.argc() {
            let l = parse_i64(ctx.arg(j + 1))
                .filter(|n| *n >= 0)
                .ok_or(ErrorReply::lit("ERR LIMIT can't be negative"))?;
            limit = usize::try_from(l).unwrap_or(usize::MAX);
            j += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let keys = &ctx.args[2..2 + numkeys];
    let sets = lookup_sets(&mut ctx.srv.keyspace, db, keys, now)?;
    let n = inter(&sets, limit).len();
    ctx.client.int(n as i64);
    Ok(())
}

/// ```text
/// SMOVE source destination member
/// ```
fn smove(ctx: &mut Ctx) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let (src, dst, m) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let ks = &mut ctx.srv.keyspace;
    // Redis: a missing source replies 0 before any type check.
    let src_is_set = match ks.lookup_write(db, src, now) {
        None => {
            ctx.client.int(0);
            return Ok(());
        }
        Some(o) => matches!(o.val, Value::Set(_)),
    };
    let dst_exists = match ks.lookup_write(db, dst, now) {
        None => false,
        Some(o) if matches!(o.val, Value::Set(_)) => true,
        Some(_) => return Err(errors::WRONGTYPE),
    };
    if !src_is_set {
        return Err(errors::WRONGTYPE);
    }
    if src == dst {
        let found = lookup_read_as::<SetValue>(ks, db, src, now)?.is_some_and(|s| s.contains(m));
        ctx.client.int(i64::from(found));
        return Ok(());
    }
    let Some(s) = lookup_write_as::<SetValue>(ks, db, src, now)? else {
        ctx.client.int(0);
        return Ok(());
    };
    if !s.swap_remove(m) {
        ctx.client.int(0);
        return Ok(());
    }
    if s.is_empty() {
        ks.dbs[db].delete(src);
    }
    let added = if dst_exists {
        match lookup_write_as::<SetValue>(ks, db, dst, now)? {
            Some(d) => d.insert(Sds::from_slice(m)),
            None => false,
        }
    } else {
        let mut d = SetValue::default();
        d.insert(Sds::from_slice(m));
        ks.add(db, dst, Value::Set(Box::new(d)));
        true
    };
    ctx.touch(src);
    ctx.dirty(1);
    if added {
        ctx.touch(dst);
        ctx.dirty(1);
    }
    ctx.client.int(1);
    Ok(())
}

/// ```text
/// SSCAN key cursor [MATCH pattern] [COUNT count]
/// ```
/// A set small enough for intset encoding is returned whole with cursor 0,
/// as Redis does; a larger one is walked with `scan_indexed`.
fn sscan(ctx: &mut Ctx) -> CmdResult {
    scan_collection::<SetValue>(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> SetValue {
        items
            .iter()
            .map(|s| Sds::from_slice(s.as_bytes()))
            .collect()
    }

    fn sorted(v: Vec<&Sds>) -> Vec<String> {
        let mut v: Vec<String> = v
            .into_iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn spop_replicates_as_srem_batches_of_1024() {
        let members: Vec<Sds> = (0..2500)
            .map(|i| Sds::from_slice(i.to_string().as_bytes()))
            .collect();
        let b = srem_batches(b"k", &members);
        assert_eq!(b.len(), 3);
        assert_eq!(
            b.iter().map(|a| a.len()).collect::<Vec<_>>(),
            [1026, 1026, 454]
        );
        assert_eq!(
            &b[0][..3],
            &[b"SREM".to_vec(), b"k".to_vec(), b"0".to_vec()]
        );
        assert_eq!(b[2].last().unwrap(), b"2499");
    }

    #[test]
    fn intersection_is_empty_when_any_set_is_missing() {
        let a = set(&["1", "2", "3"]);
        let b = set(&["2", "3", "4"]);
        assert_eq!(sorted(inter(&[Some(&a), Some(&b)], 0)), ["2", "3"]);
        assert!(inter(&[Some(&a), None], 0).is_empty());
        assert_eq!(inter(&[Some(&a), Some(&b)], 1).len(), 1);
        assert_eq!(sorted(inter(&[Some(&a), Some(&a)], 0)), ["1", "2", "3"]);
    }

    #[test]
    fn union_and_difference_treat_missing_sets_as_empty() {
        let a = set(&["1", "2", "3"]);
        let b = set(&["3", "4"]);
        assert_eq!(
            sorted(union(&[None, Some(&a), Some(&b)])),
            ["1", "2", "3", "4"]
        );
        assert_eq!(sorted(diff(&[Some(&a), None, Some(&b)])), ["1", "2"]);
        assert!(diff(&[None, Some(&a)]).is_empty());
        assert!(diff(&[Some(&a), Some(&a)]).is_empty());
    }
}
