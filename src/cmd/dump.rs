//! DUMP and RESTORE: values serialized in Redis's RDB format (the codec is
//! `persistence::rdb`, the payload framing `persistence::dump`; this file
//! only parses arguments and applies the result to the keyspace).

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::keyspace::lfu;
use crate::keyspace::value::ValueType;
use crate::persistence::dump::{self as payload, PayloadError};
use crate::persistence::rdb::SaveOptions;
use crate::spec;

/// The dump family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!("dump", 2, READONLY, 1, 1, 1, "keyspace", dump),
    spec!("restore", -4, WRITE | DENYOOM, 1, 1, 1, "keyspace", restore),
];

/// Largest value of Redis's 24-bit LRU clock (Redis: LRU_CLOCK_MAX).
const LRU_CLOCK_MAX: i64 = (1 << 24) - 1;

/// ```text
/// DUMP key
/// ```
/// The value serialized as redis-server 7.0 would, or nil.
fn dump(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let opts = SaveOptions::from_config(&ctx.srv.config);
    match ctx.srv.keyspace.lookup_read(db, key, now) {
        Some(o) => {
            let p = payload::create(&o.val, &opts);
            ctx.client.bulk(&p);
        }
        None => ctx.client.null(),
    }
    Ok(())
}

/// ```text
/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
/// ```
/// Creates `key` from a DUMP payload. `ttl` is milliseconds from now, or
/// an absolute unix time in ms with ABSTTL; 0 means no expiry. A deadline
/// already past creates nothing (but REPLACE still deletes the old key).
/// IDLETIME sets the LRU idle time and FREQ the LFU counter; which one
/// applies depends on the maxmemory policy, as in Redis.
fn restore(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < ctx.argc() {
        let more = ctx.argc() - j - 1;
        if ctx.arg_is(j, "replace") {
            replace = true;
        } else if ctx.arg_is(j, "absttl") {
            absttl = true;
        } else if ctx.arg_is(j, "idletime") && more >= 1 && freq.is_none() {
            let v = ctx.int_arg(j + 1)?;
            if v < 0 {
                return Err(ErrorReply::lit("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if ctx.arg_is(j, "freq") && more >= 1 && idle.is_none() {
            let v = ctx.int_arg(j + 1)?;
            if !(0..=255).contains(&v) {
                return Err(ErrorReply::lit(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        j += 1;
    }

    if !replace && ctx.srv.keyspace.lookup_write(db, key, now).is_some() {
        return Err(ErrorReply::lit("BUSYKEY Target key name already exists."));
    }
    let mut ttl = ctx.int_arg(2)?;
    if ttl < 0 {
        return Err(ErrorReply::lit("ERR Invalid TTL value, must be >= 0"));
    }
    let val = match payload::parse(ctx.arg(3)) {
        Ok(v) => v,
        Err(PayloadError::VersionOrChecksum) => {
            return Err(ErrorReply::lit(
                "ERR DUMP payload version or checksum are wrong",
            ))
        }
        Err(PayloadError::BadData(e)) => {
            tracing::debug!(error = %e, "RESTORE payload rejected");
            return Err(ErrorReply::lit("ERR Bad data format"));
        }
    };

    let deleted = replace && ctx.srv.keyspace.delete(db, key, now);
    if ttl != 0 && !absttl {
        ttl = ttl.saturating_add(now);
    }
    // An already expired deadline creates nothing, except on a replica,
    // which keeps what its master sends (Redis: checkAlreadyExpired).
    if ttl != 0 && ttl <= now && !ctx.srv.keyspace.is_replica {
        if deleted {
            ctx.propagate_as(vec![vec![b"DEL".to_vec(), key.to_vec()]]);
            ctx.touch(key);
            ctx.dirty(1);
        }
        ctx.client.ok();
        return Ok(());
    }

    let kind = val.kind();
    let ks = &mut ctx.srv.keyspace;
    let lfu_policy = ks.lfu.is_some();
    let lru_clock = ks.lru_clock as i64;
    let obj = ks.add(db, key, val);
    // Redis: objectSetLRUOrLFU with a multiplier of 1000 ms per second.
    match (lfu_policy, freq, idle) {
        (true, Some(f), _) => obj.lru = ((lfu::minutes(now) as u32) << 8) | f as u32,
        (false, _, Some(secs)) => {
            let mut abs = lru_clock - secs.min(i64::MAX / 1000);
            if abs < 0 {
                abs += LRU_CLOCK_MAX;
            }
            // Redis stores the result in a 24-bit field: keep the low bits.
            obj.lru = (abs as u32) & LRU_CLOCK_MAX as u32;
        }
        _ => {}
    }
    if ttl != 0 {
        ks.dbs[db].set_expire(key, Some(ttl));
        if !absttl {
            // Replicate the deadline as an absolute time.
            let mut argv: Vec<Vec<u8>> = ctx.args.iter().map(|a| a.to_vec()).collect();
            argv[2] = ttl.to_string().into_bytes();
            argv.push(b"ABSTTL".to_vec());
            ctx.propagate_as(vec![argv]);
        }
    }
    if matches!(kind, ValueType::List | ValueType::ZSet) {
        ctx.signal_ready(key);
    }
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.ok();
    Ok(())
}
