//! String commands: GET SET SETNX SETEX PSETEX MGET MSET MSETNX GETSET GETDEL
//! GETEX INCR DECR INCRBY DECRBY INCRBYFLOAT APPEND STRLEN GETRANGE SETRANGE.

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::keyspace::{Keyspace, Value};
use crate::spec;
use crate::util::num::{fmt_incr_float, parse_f64, parse_i64};

/// Largest string value (Redis: proto-max-bulk-len default, 512 MB).
const MAX_STRING: usize = 512 * 1024 * 1024;

/// The strings family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!("get", 2, READONLY | FAST, 1, 1, 1, "string", get),
    spec!("set", -3, WRITE | DENYOOM, 1, 1, 1, "string", set),
    spec!("setnx", 3, WRITE | DENYOOM | FAST, 1, 1, 1, "string", setnx),
    spec!("setex", 4, WRITE | DENYOOM, 1, 1, 1, "string", setex),
    spec!("psetex", 4, WRITE | DENYOOM, 1, 1, 1, "string", psetex),
    spec!("mget", -2, READONLY | FAST, 1, -1, 1, "string", mget),
    spec!("mset", -3, WRITE | DENYOOM, 1, -1, 2, "string", mset),
    spec!("msetnx", -3, WRITE | DENYOOM, 1, -1, 2, "string", msetnx),
    spec!(
        "getset",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "string",
        getset
    ),
    spec!("getdel", 2, WRITE | FAST, 1, 1, 1, "string", getdel),
    spec!("getex", -2, WRITE | FAST, 1, 1, 1, "string", getex),
    spec!("incr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, "string", incr),
    spec!("decr", 2, WRITE | DENYOOM | FAST, 1, 1, 1, "string", decr),
    spec!(
        "incrby",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "string",
        incrby
    ),
    spec!(
        "decrby",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "string",
        decrby
    ),
    spec!(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "string",
        incrbyfloat
    ),
    spec!(
        "append",
        3,
        WRITE | DENYOOM | FAST,
        1,
        1,
        1,
        "string",
        append
    ),
    spec!("strlen", 2, READONLY | FAST, 1, 1, 1, "string", strlen),
    spec!("getrange", 4, READONLY, 1, 1, 1, "string", getrange),
    spec!("substr", 4, READONLY, 1, 1, 1, "string", getrange),
    spec!("setrange", 4, WRITE | DENYOOM, 1, 1, 1, "string", setrange),
];

/// Reads a string value: `Ok(None)` if missing, WRONGTYPE for other types.
fn read_string<'a>(
    ks: &'a mut Keyspace,
    db: usize,
    key: &[u8],
    now: i64,
) -> Result<Option<&'a Value>, ErrorReply> {
    match ks.lookup_read(db, key, now) {
        None => Ok(None),
        Some(o) => match &o.val {
            v @ (Value::Str(_) | Value::Int(_)) => Ok(Some(v)),
            _ => Err(errors::WRONGTYPE),
        },
    }
}

/// Writes a string value as a bulk reply.
fn reply_value(c: &mut crate::server::client::Client, v: &Value) {
    match v {
        Value::Str(s) => c.bulk(s),
        Value::Int(i) => c.bulk_int(*i),
        _ => c.null(),
    }
}

/// ```text
/// GET key
/// ```
fn get(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    match read_string(&mut ctx.srv.keyspace, db, key, now)? {
        Some(v) => reply_value(ctx.client, v),
        None => ctx.client.null(),
    }
    Ok(())
}

/// Expiry options shared by SET and GETEX.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ttl {
    None,
    Keep,
    Persist,
    /// Absolute deadline, unix ms.
    At(i64),
}

/// Parses `EX|PX|EXAT|PXAT <n>` at `i` into an absolute deadline.
fn parse_expire(ctx: &Ctx, i: usize, cmd: &str) -> Result<i64, ErrorReply> {
    let invalid = || ErrorReply::new(format!("ERR invalid expire time in '{cmd}' command"));
    let n = ctx.int_arg(i + 1)?;
    if n <= 0 {
        return Err(invalid());
    }
    let unit = ctx.arg(i).to_ascii_uppercase();
    let at = match unit.as_slice() {
        b"EX" => n
            .checked_mul(1000)
            .and_then(|ms| ms.checked_add(ctx.now_ms)),
        b"PX" => n.checked_add(ctx.now_ms),
        b"EXAT" => n.checked_mul(1000),
        _ => Some(n),
    };
    at.ok_or_else(invalid)
}

/// The propagated form of a write with an absolute deadline: `SET key value PXAT ms`.
fn pxat_args(key: &[u8], val: &[u8], at: i64) -> Vec<Vec<u8>> {
    vec![
        b"SET".to_vec(),
        key.to_vec(),
        val.to_vec(),
        b"PXAT".to_vec(),
        at.to_string().into_bytes(),
    ]
}

/// ```text
/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds |
///     EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]
/// ```
fn set(ctx: &mut Ctx) -> CmdResult {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut ttl = Ttl::None;
    let mut i = 3;
    while i < ctx.argc() {
        let a = ctx.arg(i);
        let has_next = i + 1 < ctx.argc();
        if a.eq_ignore_ascii_case(b"NX") && !xx {
            nx = true;
        } else if a.eq_ignore_ascii_case(b"XX") && !nx {
            xx = true;
        } else if a.eq_ignore_ascii_case(b"GET") {
            get = true;
        } else if a.eq_ignore_ascii_case(b"KEEPTTL") && ttl == Ttl::None {
            ttl = Ttl::Keep;
        } else if ["EX", "PX", "EXAT", "PXAT"]
            .iter()
            .any(|u| a.eq_ignore_ascii_case(u.as_bytes()))
            && ttl == Ttl::None
            && has_next
        {
            ttl = Ttl::At(parse_expire(ctx, i, "set")?);
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let (db, now, key, val) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    let ks = &mut ctx.srv.keyspace;
    let exists = if get {
        match read_string(ks, db, key, now)? {
            Some(v) => {
                reply_value(ctx.client, v);
                true
            }
            None => {
                ctx.client.null();
                false
            }
        }
    } else {
        ks.exists(db, key, now)
    };
    if (nx && exists) || (xx && !exists) {
        if !get {
            ctx.client.null();
        }
        return Ok(());
    }
    ks.set(db, key, Value::from_bytes(val), ttl == Ttl::Keep);
    if let Ttl::At(at) = ttl {
        ks.dbs[db].set_expire(key, Some(at));
        let mut argv = pxat_args(key, val, at);
        if get {
            argv.push(b"GET".to_vec());
        }
        ctx.propagate_as(vec![argv]);
    }
    ctx.touch(key);
    ctx.dirty(1);
    if !get {
        ctx.client.ok();
    }
    Ok(())
}

/// ```text
/// SETNX key value
/// ```
fn setnx(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key, val) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    if ctx.srv.keyspace.exists(db, key, now) {
        ctx.client.int(0);
        return Ok(());
    }
    ctx.srv.keyspace.set(db, key, Value::from_bytes(val), false);
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.int(1);
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, unit_ms: i64, name: &str) -> CmdResult {
    let n = ctx.int_arg(2)?;
    let invalid = || ErrorReply::new(format!("ERR invalid expire time in '{name}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let at = n
        .checked_mul(unit_ms)
        .and_then(|ms| ms.checked_add(ctx.now_ms))
        .ok_or_else(invalid)?;
    let (db, key, val) = (ctx.client.db, ctx.arg(1), ctx.arg(3));
    ctx.srv.keyspace.set(db, key, Value::from_bytes(val), false);
    ctx.srv.keyspace.dbs[db].set_expire(key, Some(at));
    ctx.propagate_as(vec![pxat_args(key, val, at)]);
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.ok();
    Ok(())
}

/// ```text
/// SETEX key seconds value
/// ```
fn setex(ctx: &mut Ctx) -> CmdResult {
    setex_generic(ctx, 1000, "setex")
}

/// ```text
/// PSETEX key milliseconds value
/// ```
fn psetex(ctx: &mut Ctx) -> CmdResult {
    setex_generic(ctx, 1, "psetex")
}

/// ```text
/// MGET key [key ...]
/// ```
fn mget(ctx: &mut Ctx) -> CmdResult {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    ctx.client.array(ctx.argc() - 1);
    for i in 1..ctx.argc() {
        let key = ctx.args[i];
        match ctx.srv.keyspace.lookup_read(db, key, now) {
            Some(o) if matches!(o.val, Value::Str(_) | Value::Int(_)) => {
                reply_value(ctx.client, &o.val)
            }
            _ => ctx.client.null(),
        }
    }
    Ok(())
}

/// Sets every key/value pair of MSET/MSETNX (arity already checked).
fn set_pairs(ctx: &mut Ctx) {
    let db = ctx.client.db;
    for i in (1..ctx.argc()).step_by(2) {
        let (k, v) = (ctx.args[i], ctx.args[i + 1]);
        ctx.srv.keyspace.set(db, k, Value::from_bytes(v), false);
        ctx.touch(k);
    }
    ctx.dirty(((ctx.argc() - 1) / 2) as u64);
}

/// ```text
/// MSET key value [key value ...]
/// ```
fn mset(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc().is_multiple_of(2) {
        return Err(ErrorReply::lit(
            "ERR wrong number of arguments for 'mset' command",
        ));
    }
    set_pairs(ctx);
    ctx.client.ok();
    Ok(())
}

/// ```text
/// MSETNX key value [key value ...]
/// ```
fn msetnx(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc().is_multiple_of(2) {
        return Err(ErrorReply::lit(
            "ERR wrong number of arguments for 'msetnx' command",
        ));
    }
    let (db, now) = (ctx.client.db, ctx.now_ms);
    for i in (1..ctx.argc()).step_by(2) {
        if ctx.srv.keyspace.exists(db, ctx.args[i], now) {
            ctx.client.int(0);
            return Ok(());
        }
    }
    set_pairs(ctx);
    ctx.client.int(1);
    Ok(())
}

/// ```text
/// GETSET key value
/// ```
fn getset(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key, val) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    match read_string(&mut ctx.srv.keyspace, db, key, now)? {
        Some(v) => reply_value(ctx.client, v),
        None => ctx.client.null(),
    }
    ctx.srv.keyspace.set(db, key, Value::from_bytes(val), false);
    ctx.touch(key);
    ctx.dirty(1);
    Ok(())
}

/// ```text
/// GETDEL key
/// ```
fn getdel(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    match read_string(&mut ctx.srv.keyspace, db, key, now)? {
        Some(v) => reply_value(ctx.client, v),
        None => {
            ctx.client.null();
            return Ok(());
        }
    }
    ctx.srv.keyspace.dbs[db].delete(key);
    ctx.propagate_as(vec![vec![b"DEL".to_vec(), key.to_vec()]]);
    ctx.touch(key);
    ctx.dirty(1);
    Ok(())
}

/// ```text
/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
///     PXAT unix-time-milliseconds | PERSIST]
/// ```
fn getex(ctx: &mut Ctx) -> CmdResult {
    let mut ttl = Ttl::None;
    let mut i = 2;
    while i < ctx.argc() {
        let a = ctx.arg(i);
        if a.eq_ignore_ascii_case(b"PERSIST") && ttl == Ttl::None {
            ttl = Ttl::Persist;
        } else if ["EX", "PX", "EXAT", "PXAT"]
            .iter()
            .any(|u| a.eq_ignore_ascii_case(u.as_bytes()))
            && ttl == Ttl::None
            && i + 1 < ctx.argc()
        {
            ttl = Ttl::At(parse_expire(ctx, i, "getex")?);
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    match read_string(&mut ctx.srv.keyspace, db, key, now)? {
        Some(v) => reply_value(ctx.client, v),
        None => {
            ctx.client.null();
            return Ok(());
        }
    }
    match ttl {
        Ttl::At(at) if at <= now => {
            ctx.srv.keyspace.dbs[db].delete(key);
            ctx.propagate_as(vec![vec![b"DEL".to_vec(), key.to_vec()]]);
        }
        Ttl::At(at) => {
            ctx.srv.keyspace.dbs[db].set_expire(key, Some(at));
            ctx.propagate_as(vec![vec![
                b"PEXPIREAT".to_vec(),
                key.to_vec(),
                at.to_string().into_bytes(),
            ]]);
        }
        Ttl::Persist if ctx.srv.keyspace.dbs[db].expire_of(key).is_some() => {
            ctx.srv.keyspace.dbs[db].set_expire(key, None);
            ctx.propagate_as(vec![vec![b"PERSIST".to_vec(), key.to_vec()]]);
        }
        _ => return Ok(()),
    }
    ctx.touch(key);
    ctx.dirty(1);
    Ok(())
}

fn incr_generic(ctx: &mut Ctx, by: i64) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let ks = &mut ctx.srv.keyspace;
    let new = match ks.lookup_write(db, key, now) {
        Some(o) => {
            let cur = match &o.val {
                Value::Int(i) => *i,
                Value::Str(s) => parse_i64(s).ok_or(errors::NOT_INT)?,
                _ => return Err(errors::WRONGTYPE),
            };
            let new = cur.checked_add(by).ok_or(errors::OVERFLOW)?;
            o.val = Value::Int(new);
            new
        }
        None => {
            ks.add(db, key, Value::Int(by));
            by
        }
    };
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.int(new);
    Ok(())
}

/// ```text
/// INCR key
/// ```
fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_generic(ctx, 1)
}

/// ```text
/// DECR key
/// ```
fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_generic(ctx, -1)
}

/// ```text
/// INCRBY key increment
/// ```
fn incrby(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.int_arg(2)?;
    incr_generic(ctx, by)
}

/// ```text
/// DECRBY key decrement
/// ```
fn decrby(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.int_arg(2)?;
    if by == i64::MIN {
        return Err(ErrorReply::lit("ERR decrement would overflow"));
    }
    incr_generic(ctx, -by)
}

/// ```text
/// INCRBYFLOAT key increment
/// ```
/// Propagated as `SET key <result> KEEPTTL`, so replicas get the exact text.
fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let by = ctx.float_arg(2)?;
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let cur = match read_string(&mut ctx.srv.keyspace, db, key, now)? {
        None => 0.0,
        Some(Value::Int(i)) => *i as f64,
        Some(Value::Str(s)) => parse_f64(s).ok_or(errors::NOT_FLOAT)?,
        Some(_) => unreachable!("read_string returns strings only"),
    };
    let new = cur + by;
    if !new.is_finite() {
        return Err(ErrorReply::lit(
            "ERR increment would produce NaN or Infinity",
        ));
    }
    let text = fmt_incr_float(new);
    ctx.srv
        .keyspace
        .set(db, key, Value::from_bytes(text.as_bytes()), true);
    ctx.propagate_as(vec![vec![
        b"SET".to_vec(),
        key.to_vec(),
        text.clone().into_bytes(),
        b"KEEPTTL".to_vec(),
    ]]);
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.bulk(text.as_bytes());
    Ok(())
}

/// ```text
/// APPEND key value
/// ```
fn append(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key, add) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(2));
    let ks = &mut ctx.srv.keyspace;
    let len = match ks.lookup_write(db, key, now) {
        Some(o) => {
            let cur_len = match &o.val {
                Value::Str(s) => s.len(),
                Value::Int(i) => itoa::Buffer::new().format(*i).len(),
                _ => return Err(errors::WRONGTYPE),
            };
            if cur_len + add.len() > MAX_STRING {
                return Err(ErrorReply::lit(
                    "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
                ));
            }
            let mut s = match std::mem::replace(&mut o.val, Value::Int(0)) {
                Value::Str(s) => s,
                Value::Int(i) => {
                    crate::keyspace::Sds::from_slice(itoa::Buffer::new().format(i).as_bytes())
                }
                _ => unreachable!("checked above"),
            };
            s.extend_from_slice(add);
            let l = s.len();
            o.val = Value::Str(s);
            l
        }
        None => {
            ks.add(db, key, Value::Str(crate::keyspace::Sds::from_slice(add)));
            add.len()
        }
    };
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.int(len as i64);
    Ok(())
}

/// ```text
/// STRLEN key
/// ```
fn strlen(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let n = match read_string(&mut ctx.srv.keyspace, db, key, now)? {
        Some(Value::Str(s)) => s.len(),
        Some(Value::Int(i)) => itoa::Buffer::new().format(*i).len(),
        _ => 0,
    };
    ctx.client.int(n as i64);
    Ok(())
}

/// ```text
/// GETRANGE key start end
/// ```
fn getrange(ctx: &mut Ctx) -> CmdResult {
    let mut start = ctx.int_arg(2)?;
    let mut end = ctx.int_arg(3)?;
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let mut buf = itoa::Buffer::new();
    let bytes: &[u8] = match read_string(&mut ctx.srv.keyspace, db, key, now)? {
        Some(Value::Str(s)) => s,
        Some(Value::Int(i)) => buf.format(*i).as_bytes(),
        _ => b"",
    };
    let len = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.client.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.client.bulk(b"");
    } else {
        let slice = bytes[start as usize..=end as usize].to_vec();
        ctx.client.bulk(&slice);
    }
    Ok(())
}

/// ```text
/// SETRANGE key offset value
/// ```
fn setrange(ctx: &mut Ctx) -> CmdResult {
    let offset = ctx.int_arg(2)?;
    if offset < 0 {
        return Err(ErrorReply::lit("ERR offset is out of range"));
    }
    let offset = offset as usize;
    let (db, now, key, val) = (ctx.client.db, ctx.now_ms, ctx.arg(1), ctx.arg(3));
    let too_big = ErrorReply::lit("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    let ks = &mut ctx.srv.keyspace;
    let len = match ks.lookup_write(db, key, now) {
        Some(o) => {
            let mut s = match &o.val {
                Value::Str(s) => s.clone(),
                Value::Int(i) => {
                    crate::keyspace::Sds::from_slice(itoa::Buffer::new().format(*i).as_bytes())
                }
                _ => return Err(errors::WRONGTYPE),
            };
            if val.is_empty() {
                ctx.client.int(s.len() as i64);
                return Ok(());
            }
            if offset + val.len() > MAX_STRING {
                return Err(too_big);
            }
            if s.len() < offset + val.len() {
                s.resize(offset + val.len(), 0);
            }
            s[offset..offset + val.len()].copy_from_slice(val);
            let l = s.len();
            o.val = Value::Str(s);
            l
        }
        None => {
            if val.is_empty() {
                ctx.client.int(0);
                return Ok(());
            }
            if offset + val.len() > MAX_STRING {
                return Err(too_big);
            }
            let mut s = crate::keyspace::Sds::from_elem(0, offset + val.len());
            s[offset..].copy_from_slice(val);
            let l = s.len();
            ks.add(db, key, Value::Str(s));
            l
        }
    };
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.int(len as i64);
    Ok(())
}
