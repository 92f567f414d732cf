//! List commands (Redis: t_list.c): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN
//! LRANGE LINDEX LSET LREM LTRIM LINSERT LPOS LMOVE RPOPLPUSH LMPOP, and the
//! blocking forms BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP.
//!
//! A list is a `VecDeque<Sds>`; a key never holds an empty list (the last
//! pop deletes it). Every change touches the key (WATCH) and counts dirty;
//! every push signals the key ready so blocked clients get served.
//!
//! Blocking commands that find nothing call `Ctx::block`; the server re-runs
//! them when a key they wait on is signalled (server/blocking.rs). On such a
//! re-run `ctx.prev_block.keys` holds only the key that became ready, and,
//! as redis-server 7.0 does, a served client pops from that key only, and a
//! ready key of another type leaves it blocked (only the first call replies
//! WRONGTYPE). Served or not, a blocking pop replies and propagates exactly
//! as its non-blocking form (BLPOP as LPOP key, BLMOVE as LMOVE).

use crate::cmd::{lookup_read_as, lookup_write_as};
use std::collections::VecDeque;

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::keyspace::{Keyspace, Sds, Value};
use crate::spec;
use crate::util::num::parse_i64;

/// The lists family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!("lpush", -3, WRITE | DENYOOM | FAST, 1, 1, 1, "list", lpush),
    spec!("rpush", -3, WRITE | DENYOOM | FAST, 1, 1, 1, "list", rpush),
    spec!(
        "lpushx",
        -3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "list",
        lpushx
    ),
    spec!(
        "rpushx",
        -3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "list",
        rpushx
    ),
    spec!("lpop", -2, WRITE | FAST, 1, 1, 1, "list", lpop),
    spec!("rpop", -2, WRITE | FAST, 1, 1, 1, "list", rpop),
    spec!("llen", 2, READONLY | FAST, 1, 1, 1, "list", llen),
    spec!("lrange", 4, READONLY, 1, 1, 1, "list", lrange),
    spec!("lindex", 3, READONLY, 1, 1, 1, "list", lindex),
    spec!("lset", 4, WRITE | DENYOOM, 1, 1, 1, "list", lset),
    spec!("lrem", 4, WRITE, 1, 1, 1, "list", lrem),
    spec!("ltrim", 4, WRITE, 1, 1, 1, "list", ltrim),
    spec!("linsert", 5, WRITE | DENYOOM, 1, 1, 1, "list", linsert),
    spec!("lpos", -3, READONLY, 1, 1, 1, "list", lpos),
    spec!("lmove", 5, WRITE | DENYOOM, 1, 2, 1, "list", lmove),
    spec!("rpoplpush", 3, WRITE | DENYOOM, 1, 2, 1, "list", rpoplpush),
    spec!("lmpop", -4, WRITE, 0, 0, 0, "list", lmpop),
    spec!("blpop", -3, WRITE | BLOCKING, 1, -2, 1, "list", blpop),
    spec!("brpop", -3, WRITE | BLOCKING, 1, -2, 1, "list", brpop),
    spec!(
        "blmove",
        6,
        WRITE | DENYOOM | BLOCKING,
        1,
        2,
        1,
        "list",
        blmove
    ),
    spec!(
        "brpoplpush",
        4,
        WRITE | DENYOOM | BLOCKING,
        1,
        2,
        1,
        "list",
        brpoplpush
    ),
    spec!("blmpop", -5, WRITE | BLOCKING, 0, 0, 0, "list", blmpop),
];

/// A list end (Redis: LIST_HEAD / LIST_TAIL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// LEFT, the head.
    Left,
    /// RIGHT, the tail.
    Right,
}

impl End {
    fn name(self) -> &'static [u8] {
        match self {
            End::Left => b"LEFT",
            End::Right => b"RIGHT",
        }
    }
    fn pop_cmd(self) -> &'static [u8] {
        match self {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        }
    }
}

type List = VecDeque<Sds>;

/// Parses LEFT|RIGHT (Redis: getListPositionFromObjectOrReply).
fn end_arg(ctx: &Ctx, i: usize) -> Result<End, ErrorReply> {
    if ctx.arg_is(i, "LEFT") {
        Ok(End::Left)
    } else if ctx.arg_is(i, "RIGHT") {
        Ok(End::Right)
    } else {
        Err(errors::SYNTAX)
    }
}

/// Deletes `key` if its list is empty (an empty list never stays).
fn drop_if_empty(ks: &mut Keyspace, db: usize, key: &[u8]) {
    let empty = matches!(ks.dbs[db].dict.get(key), Some(o) if matches!(&o.val, Value::List(l) if l.is_empty()));
    if empty {
        ks.dbs[db].delete(key);
    }
}

fn push(l: &mut List, end: End, v: Sds) {
    match end {
        End::Left => l.push_front(v),
        End::Right => l.push_back(v),
    }
}

fn pop(l: &mut List, end: End) -> Option<Sds> {
    match end {
        End::Left => l.pop_front(),
        End::Right => l.pop_back(),
    }
}

/// Pops `n` elements (at most the list's length) from `end` and writes them
/// as an array reply.
fn pop_reply(c: &mut crate::server::client::Client, l: &mut List, end: End, n: usize) {
    c.array(n);
    for _ in 0..n {
        let v = pop(l, end).unwrap_or_default();
        c.bulk(&v);
    }
}

/// Normalizes a start/stop pair against `len` (Redis's LRANGE rules):
/// `None` when the range is empty.
fn range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut stop = if stop < 0 { len + stop } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((start as usize, stop as usize))
}

/// Resolves a possibly negative index against `len`.
fn index(i: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if i < 0 { len + i } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

// ---------------------------------------------------------------------------
// Pushes
// ---------------------------------------------------------------------------

/// ```text
/// LPUSH key element [element ...]
/// ```
fn lpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Left, false)
}

/// ```text
/// RPUSH key element [element ...]
/// ```
fn rpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Right, false)
}

/// ```text
/// LPUSHX key element [element ...]
/// ```
fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Left, true)
}

/// ```text
/// RPUSHX key element [element ...]
/// ```
fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Right, true)
}

fn push_generic(ctx: &mut Ctx, end: End, only_existing: bool) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let elems = &ctx.args[2..];
    let ks = &mut ctx.srv.keyspace;
    let len = match lookup_write_as::<List>(ks, db, key, now)? {
        Some(l) => {
            for e in elems {
                push(l, end, Sds::from_slice(e));
            }
            l.len()
        }
        None if only_existing => {
            ctx.client.int(0);
            return Ok(());
        }
        None => {
            let mut l = List::with_capacity(elems.len());
            for e in elems {
                push(&mut l, end, Sds::from_slice(e));
            }
            let n = l.len();
            ks.add(db, key, Value::List(Box::new(l)));
            n
        }
    };
    ctx.touch(key);
    ctx.signal_ready(key);
    ctx.dirty(elems.len() as u64);
    ctx.client.int(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------

/// ```text
/// LPOP key [count]
/// ```
fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, End::Left)
}

/// ```text
/// RPOP key [count]
/// ```
fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, End::Right)
}

fn pop_generic(ctx: &mut Ctx, end: End) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(ErrorReply::new(format!(
            "ERR wrong number of arguments for '{}' command",
            String::from_utf8_lossy(ctx.arg(0)).to_ascii_lowercase()
        )));
    }
    let count = if ctx.argc() == 3 {
        Some(
            ctx.int_arg(2)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(errors::POSITIVE)?,
        )
    } else {
        None
    };
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let ks = &mut ctx.srv.keyspace;
    let Some(l) = lookup_write_as::<List>(ks, db, key, now)? else {
        match count {
            Some(_) => ctx.client.null_array(),
            None => ctx.client.null(),
        }
        return Ok(());
    };
    let popped = match count {
        None => {
            let v = pop(l, end).unwrap_or_default();
            ctx.client.bulk(&v);
            1
        }
        Some(0) => {
            ctx.client.array(0);
            return Ok(());
        }
        Some(n) => {
            let n = (n as usize).min(l.len());
            pop_reply(ctx.client, l, end, n);
            n
        }
    };
    drop_if_empty(ks, db, key);
    ctx.touch(key);
    ctx.dirty(popped as u64);
    Ok(())
}

// ---------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------

/// ```text
/// LLEN key
/// ```
fn llen(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let n = lookup_read_as::<List>(&mut ctx.srv.keyspace, db, key, now)?.map_or(0, |l| l.len());
    ctx.client.int(n as i64);
    Ok(())
}

/// ```text
/// LRANGE key start stop
/// ```
fn lrange(ctx: &mut Ctx) -> CmdResult {
    let (start, stop) = (ctx.int_arg(2)?, ctx.int_arg(3)?);
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let Some(l) = lookup_read_as::<List>(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.array(0);
        return Ok(());
    };
    match range(start, stop, l.len()) {
        None => ctx.client.array(0),
        Some((s, e)) => ctx.client.bulks(l.range(s..=e).map(|v| v.as_slice())),
    }
    Ok(())
}

/// ```text
/// LINDEX key index
/// ```
fn lindex(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key, idx) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    // Redis looks the key up before parsing the index.
    let Some(l) = lookup_read_as::<List>(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.null();
        return Ok(());
    };
    let i = parse_i64(idx).ok_or(errors::NOT_INT)?;
    match index(i, l.len()) {
        Some(i) => ctx.client.bulk(&l[i]),
        None => ctx.client.null(),
    }
    Ok(())
}

/// ```text
/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
/// ```
fn lpos(ctx: &mut Ctx) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < ctx.argc() {
        let more = j + 1 < ctx.argc();
        if ctx.arg_is(j, "RANK") && more {
            j += 1;
            rank = ctx.int_arg(j)?;
            if rank == 0 {
                return Err(ErrorReply::lit(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if ctx.arg_is(j, "COUNT") && more {
            j += 1;
            count = Some(
                ctx.int_arg(j)
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or(ErrorReply::lit("ERR COUNT can't be negative"))?,
            );
        } else if ctx.arg_is(j, "MAXLEN") && more {
            j += 1;
            maxlen = ctx
                .int_arg(j)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or(ErrorReply::lit("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    // A negative rank scans from the tail. Like redis-server 7.0 (C signed
    // arithmetic), RANK -9223372036854775808 stays negative after negation.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let (db, now, key, ele) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    let Some(l) = lookup_read_as::<List>(&mut ctx.srv.keyspace, db, key, now)? else {
        match count {
            Some(_) => ctx.client.array(0),
            None => ctx.client.null(),
        }
        return Ok(());
    };
    let len = l.len();
    let mut found: Vec<i64> = Vec::new();
    let mut matches: i64 = 0;
    for scanned in 0..len {
        if maxlen != 0 && scanned as i64 >= maxlen {
            break;
        }
        let i = if from_tail {
            len - 1 - scanned
        } else {
            scanned
        };
        if l[i].as_slice() != ele {
            continue;
        }
        matches += 1;
        if matches >= rank {
            found.push(i as i64);
            match count {
                None => break,
                Some(c) if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c => break,
                Some(_) => {}
            }
        }
    }
    match count {
        Some(_) => {
            ctx.client.array(found.len());
            for i in found {
                ctx.client.int(i);
            }
        }
        None => match found.first() {
            Some(&i) => ctx.client.int(i),
            None => ctx.client.null(),
        },
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// In-place changes
// ---------------------------------------------------------------------------

/// ```text
/// LSET key index element
/// ```
fn lset(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key, idx, ele) = (
        ctx.client.db,
        ctx.now_ms,
        ctx.arg(1),
        ctx.arg(2),
        ctx.arg(3),
    );
    // Redis looks the key up before parsing the index.
    let Some(l) = lookup_write_as::<List>(&mut ctx.srv.keyspace, db, key, now)? else {
        return Err(errors::NO_SUCH_KEY);
    };
    let i = parse_i64(idx).ok_or(errors::NOT_INT)?;
    let Some(i) = index(i, l.len()) else {
        return Err(errors::OUT_OF_RANGE);
    };
    l[i] = Sds::from_slice(ele);
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.ok();
    Ok(())
}

/// ```text
/// LREM key count element
/// ```
///
/// count > 0 removes from the head, count < 0 from the tail, 0 removes all.
fn lrem(ctx: &mut Ctx) -> CmdResult {
    let count = ctx.int_arg(2)?;
    let (db, now, key, ele) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(3));
    let ks = &mut ctx.srv.keyspace;
    let Some(l) = lookup_write_as::<List>(ks, db, key, now)? else {
        ctx.client.int(0);
        return Ok(());
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs().min(usize::MAX as u64) as usize
    };
    let mut removed = 0usize;
    if count >= 0 {
        let mut i = 0;
        while i < l.len() && removed < limit {
            if l[i].as_slice() == ele {
                l.remove(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
    } else {
        let mut i = l.len();
        while i > 0 && removed < limit {
            i -= 1;
            if l[i].as_slice() == ele {
                l.remove(i);
                removed += 1;
            }
        }
    }
    drop_if_empty(ks, db, key);
    if removed > 0 {
        ctx.touch(key);
        ctx.dirty(removed as u64);
    }
    ctx.client.int(removed as i64);
    Ok(())
}

/// ```text
/// LTRIM key start stop
/// ```
fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let (start, stop) = (ctx.int_arg(2)?, ctx.int_arg(3)?);
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let ks = &mut ctx.srv.keyspace;
    let Some(l) = lookup_write_as::<List>(ks, db, key, now)? else {
        ctx.client.ok();
        return Ok(());
    };
    let len = l.len();
    let removed = match range(start, stop, len) {
        None => {
            l.clear();
            len
        }
        Some((s, e)) => {
            l.truncate(e + 1);
            l.drain(..s);
            len - l.len()
        }
    };
    drop_if_empty(ks, db, key);
    // Redis signals the key even when nothing was trimmed.
    ctx.touch(key);
    ctx.dirty(removed as u64);
    ctx.client.ok();
    Ok(())
}

/// ```text
/// LINSERT key BEFORE|AFTER pivot element
/// ```
fn linsert(ctx: &mut Ctx) -> CmdResult {
    let after = if ctx.arg_is(2, "AFTER") {
        true
    } else if ctx.arg_is(2, "BEFORE") {
        false
    } else {
        return Err(errors::SYNTAX);
    };
    let (db, now, key, pivot, ele) = (
        ctx.client.db,
        ctx.now_ms,
        ctx.arg(1),
        ctx.arg(3),
        ctx.arg(4),
    );
    let Some(l) = lookup_write_as::<List>(&mut ctx.srv.keyspace, db, key, now)? else {
        ctx.client.int(0);
        return Ok(());
    };
    let Some(pos) = l.iter().position(|v| v.as_slice() == pivot) else {
        ctx.client.int(-1);
        return Ok(());
    };
    l.insert(if after { pos + 1 } else { pos }, Sds::from_slice(ele));
    let len = l.len();
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.int(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------

/// What an LMOVE attempt did.
enum Moved {
    /// The source is missing (or, when serving, not a list).
    Nothing,
    /// Moved this element.
    Value(Sds),
}

/// Pops from `src` and pushes onto `dst` (Redis: lmoveGenericCommand).
/// WRONGTYPE if either key holds another type; when `serving` a source of
/// another type counts as missing (the client stays blocked, as in 7.0).
fn lmove_core(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    serving: bool,
) -> Result<Moved, ErrorReply> {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let ks = &mut ctx.srv.keyspace;
    match lookup_write_as::<List>(ks, db, src, now) {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(Moved::Nothing),
        Err(_) if serving => return Ok(Moved::Nothing),
        Err(e) => return Err(e),
    }
    let dst_exists = lookup_write_as::<List>(ks, db, dst, now)?.is_some();
    let Some(v) = lookup_write_as::<List>(ks, db, src, now)?.and_then(|l| pop(l, from)) else {
        return Ok(Moved::Nothing);
    };
    // With src == dst the key exists (it was the source) and rotates.
    if dst_exists {
        if let Some(d) = lookup_write_as::<List>(ks, db, dst, now)? {
            push(d, to, v.clone());
        }
    } else {
        let mut l = List::new();
        l.push_back(v.clone());
        ks.add(db, dst, Value::List(Box::new(l)));
    }
    drop_if_empty(ks, db, src);
    ctx.touch(dst);
    ctx.signal_ready(dst);
    ctx.touch(src);
    ctx.dirty(1);
    Ok(Moved::Value(v))
}

/// ```text
/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
/// ```
fn lmove(ctx: &mut Ctx) -> CmdResult {
    let (from, to) = (end_arg(ctx, 3)?, end_arg(ctx, 4)?);
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    match lmove_core(ctx, src, dst, from, to, false)? {
        Moved::Value(v) => ctx.client.bulk(&v),
        Moved::Nothing => ctx.client.null(),
    }
    Ok(())
}

/// ```text
/// RPOPLPUSH source destination
/// ```
fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    match lmove_core(ctx, src, dst, End::Right, End::Left, false)? {
        Moved::Value(v) => ctx.client.bulk(&v),
        Moved::Nothing => ctx.client.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Multi-key pops
// ---------------------------------------------------------------------------

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` starting at
/// `at` (Redis: lmpopGenericCommand).
fn parse_mpop(ctx: &Ctx, at: usize) -> Result<(Vec<Sds>, End, usize), ErrorReply> {
    let numkeys = ctx
        .int_arg(at)
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ErrorReply::lit("ERR numkeys should be greater than 0"))? as usize;
    let where_at = at
        .checked_add(numkeys)
        .and_then(|x| x.checked_add(1))
        .filter(|x| *x < ctx.argc())
        .ok_or(errors::SYNTAX)?;
    let keys = ctx.args[at + 1..where_at]
        .iter()
        .map(|k| Sds::from_slice(k))
        .collect();
    let end = end_arg(ctx, where_at)?;
    let mut count: Option<usize> = None;
    let mut j = where_at + 1;
    while j < ctx.argc() {
        if count.is_none() && ctx.arg_is(j, "COUNT") && j + 1 < ctx.argc() {
            j += 1;
            count = Some(
                ctx.int_arg(j)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(ErrorReply::lit("ERR count should be greater than 0"))?
                    as usize,
            );
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }
    Ok((keys, end, count.unwrap_or(1)))
}

/// Pops up to `count` elements from `key`, replying `[key, [elements]]` and
/// propagating as LPOP/RPOP key count. `Ok(false)` if the key is missing
/// (or, when `serving`, holds another type).
fn mpop_key(
    ctx: &mut Ctx,
    key: &[u8],
    end: End,
    count: usize,
    serving: bool,
) -> Result<bool, ErrorReply> {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let ks = &mut ctx.srv.keyspace;
    let l = match lookup_write_as::<List>(ks, db, key, now) {
        Ok(Some(l)) if !l.is_empty() => l,
        Ok(_) => return Ok(false),
        Err(_) if serving => return Ok(false),
        Err(e) => return Err(e),
    };
    let n = count.min(l.len());
    ctx.client.array(2);
    ctx.client.bulk(key);
    pop_reply(ctx.client, l, end, n);
    drop_if_empty(ks, db, key);
    ctx.touch(key);
    ctx.dirty(n as u64);
    ctx.propagate_as(vec![vec![
        end.pop_cmd().to_vec(),
        key.to_vec(),
        n.to_string().into_bytes(),
    ]]);
    Ok(true)
}

/// ```text
/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
/// ```
fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let (keys, end, count) = parse_mpop(ctx, 1)?;
    for k in &keys {
        if mpop_key(ctx, k, end, count, false)? {
            return Ok(());
        }
    }
    ctx.client.null_array();
    Ok(())
}

// ---------------------------------------------------------------------------
// Blocking forms
// ---------------------------------------------------------------------------

/// The keys to try when serving: on a re-run only the key that became ready.
fn serving_keys(ctx: &Ctx) -> Option<Vec<Sds>> {
    ctx.prev_block.as_ref().map(|b| b.keys.clone())
}

/// ```text
/// BLPOP key [key ...] timeout
/// ```
fn blpop(ctx: &mut Ctx) -> CmdResult {
    bpop_generic(ctx, End::Left)
}

/// ```text
/// BRPOP key [key ...] timeout
/// ```
fn brpop(ctx: &mut Ctx) -> CmdResult {
    bpop_generic(ctx, End::Right)
}

fn bpop_generic(ctx: &mut Ctx, end: End) -> CmdResult {
    let last = ctx.argc() - 1;
    let deadline = ctx.timeout_arg(last)?;
    let all: Vec<Sds> = ctx.args[1..last]
        .iter()
        .map(|k| Sds::from_slice(k))
        .collect();
    let serving = serving_keys(ctx);
    let candidates = serving.as_ref().unwrap_or(&all);
    let (db, now) = (ctx.client.db, ctx.now_ms);
    for key in candidates {
        let ks = &mut ctx.srv.keyspace;
        let l = match lookup_write_as::<List>(ks, db, key, now) {
            Ok(Some(l)) if !l.is_empty() => l,
            Ok(_) => continue,
            // Served clients ignore a ready key of another type (7.0).
            Err(_) if serving.is_some() => continue,
            Err(e) => return Err(e),
        };
        let v = pop(l, end).unwrap_or_default();
        drop_if_empty(ks, db, key);
        ctx.client.array(2);
        ctx.client.bulk(key);
        ctx.client.bulk(&v);
        ctx.touch(key);
        ctx.dirty(1);
        ctx.propagate_as(vec![vec![end.pop_cmd().to_vec(), key.to_vec()]]);
        return Ok(());
    }
    ctx.block(all, deadline, false);
    Ok(())
}

/// ```text
/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
/// ```
fn blmove(ctx: &mut Ctx) -> CmdResult {
    let (from, to) = (end_arg(ctx, 3)?, end_arg(ctx, 4)?);
    let deadline = ctx.timeout_arg(5)?;
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    let serving = ctx.prev_block.is_some();
    match lmove_core(ctx, src, dst, from, to, serving)? {
        Moved::Value(v) => {
            ctx.client.bulk(&v);
            ctx.propagate_as(vec![vec![
                b"LMOVE".to_vec(),
                src.to_vec(),
                dst.to_vec(),
                from.name().to_vec(),
                to.name().to_vec(),
            ]]);
        }
        Moved::Nothing => ctx.block(vec![Sds::from_slice(src)], deadline, true),
    }
    Ok(())
}

/// ```text
/// BRPOPLPUSH source destination timeout
/// ```
fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    let deadline = ctx.timeout_arg(3)?;
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    let serving = ctx.prev_block.is_some();
    match lmove_core(ctx, src, dst, End::Right, End::Left, serving)? {
        Moved::Value(v) => {
            ctx.client.bulk(&v);
            ctx.propagate_as(vec![vec![
                b"RPOPLPUSH".to_vec(),
                src.to_vec(),
                dst.to_vec(),
            ]]);
        }
        Moved::Nothing => ctx.block(vec![Sds::from_slice(src)], deadline, true),
    }
    Ok(())
}

/// ```text
/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
/// ```
fn blmpop(ctx: &mut Ctx) -> CmdResult {
    // Redis parses numkeys, the end and COUNT before the timeout.
    let (keys, end, count) = parse_mpop(ctx, 2)?;
    let deadline = ctx.timeout_arg(1)?;
    let serving = serving_keys(ctx);
    let candidates = serving.clone().unwrap_or_else(|| keys.clone());
    for k in &candidates {
        if mpop_key(ctx, k, end, count, serving.is_some())? {
            return Ok(());
        }
    }
    ctx.block(keys, deadline, false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_lrange_rules() {
        assert_eq!(range(0, -1, 3), Some((0, 2)));
        assert_eq!(range(-100, 100, 3), Some((0, 2)));
        assert_eq!(range(2, 1, 3), None);
        assert_eq!(range(3, 5, 3), None);
        assert_eq!(range(-1, -1, 3), Some((2, 2)));
        assert_eq!(range(0, -4, 3), None);
        assert_eq!(range(0, 0, 0), None);
        assert_eq!(range(i64::MIN + 1, i64::MAX, 3), Some((0, 2)));
    }

    #[test]
    fn indexes_count_from_either_end() {
        assert_eq!(index(0, 3), Some(0));
        assert_eq!(index(-1, 3), Some(2));
        assert_eq!(index(-3, 3), Some(0));
        assert_eq!(index(-4, 3), None);
        assert_eq!(index(3, 3), None);
        assert_eq!(index(i64::MIN, 3), None);
    }
}
