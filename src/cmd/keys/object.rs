//! OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT | HELP (Redis: object.c
//! objectCommand).
//!
//! Introspection must not disturb what it measures: the key is looked up
//! without stamping its access time (Redis: LOOKUP_NOTOUCH).

use super::lookup_notouch;
use crate::cmd::{CmdResult, Ctx, ErrorReply};
use crate::config::EvictionPolicy;
use crate::keyspace::{Keyspace, Obj, Value};
use crate::server::client::Client;

/// Redis's OBJ_SHARED_REFCOUNT: the refcount of the shared small integers.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Integers 0..this are shared objects in Redis (OBJ_SHARED_INTEGERS).
const SHARED_INTEGERS: i64 = 10_000;
/// Largest value of the 24-bit LRU clock (Redis: LRU_CLOCK_MAX).
const LRU_CLOCK_MAX: u64 = (1 << 24) - 1;

/// Seconds since an object's last access from its 24-bit LRU stamp, with
/// the clock's wrap-around (Redis: estimateObjectIdleTime / 1000).
pub fn idle_seconds(clock: u32, lru: u32) -> u64 {
    let (clock, lru) = (
        u64::from(clock) & LRU_CLOCK_MAX,
        u64::from(lru) & LRU_CLOCK_MAX,
    );
    if clock >= lru {
        clock - lru
    } else {
        clock + (LRU_CLOCK_MAX - lru)
    }
}

/// Looks up OBJECT's key without stamping its access; replies nil and
/// returns `None` when it is missing.
fn object_lookup<'a>(
    ks: &'a mut Keyspace,
    client: &mut Client,
    db: usize,
    key: &[u8],
    now: i64,
) -> Option<&'a Obj> {
    let found = lookup_notouch(ks, db, key, now);
    if found.is_none() {
        client.null();
    }
    found
}

/// ```text
/// OBJECT ENCODING key
/// ```
pub(super) fn object_encoding(ctx: &mut Ctx) -> CmdResult {
    let limits = ctx.srv.config.enc;
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(2));
    if let Some(o) = object_lookup(&mut ctx.srv.keyspace, ctx.client, db, key, now) {
        let enc = o.val.encoding(&limits);
        ctx.client.bulk(enc.as_bytes());
    }
    Ok(())
}

/// ```text
/// OBJECT REFCOUNT key
/// ```
/// Small integers 0..9999 are shared objects in Redis (unless maxmemory
/// with an LRU or LFU policy disables sharing) and report INT_MAX.
pub(super) fn object_refcount(ctx: &mut Ctx) -> CmdResult {
    let cfg = &ctx.srv.config;
    let policy = cfg.maxmemory_policy;
    let no_sharing = cfg.maxmemory > 0
        && (policy.is_lfu()
            || matches!(
                policy,
                EvictionPolicy::AllKeysLru | EvictionPolicy::VolatileLru
            ));
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(2));
    if let Some(o) = object_lookup(&mut ctx.srv.keyspace, ctx.client, db, key, now) {
        let shared =
            !no_sharing && matches!(o.val, Value::Int(i) if (0..SHARED_INTEGERS).contains(&i));
        ctx.client.int(if shared { SHARED_REFCOUNT } else { 1 });
    }
    Ok(())
}

/// ```text
/// OBJECT IDLETIME key
/// ```
pub(super) fn object_idletime(ctx: &mut Ctx) -> CmdResult {
    let lfu = ctx.srv.config.maxmemory_policy.is_lfu();
    let clock = ctx.srv.keyspace.lru_clock;
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(2));
    if let Some(o) = object_lookup(&mut ctx.srv.keyspace, ctx.client, db, key, now) {
        if lfu {
            return Err(ErrorReply::lit("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        let idle = idle_seconds(clock, o.lru);
        ctx.client.int(idle as i64);
    }
    Ok(())
}

/// ```text
/// OBJECT FREQ key
/// ```
pub(super) fn object_freq(ctx: &mut Ctx) -> CmdResult {
    let lfu = ctx.srv.config.maxmemory_policy.is_lfu();
    let decay = ctx.srv.config.lfu_decay_time;
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(2));
    if let Some(o) = object_lookup(&mut ctx.srv.keyspace, ctx.client, db, key, now) {
        if !lfu {
            return Err(ErrorReply::lit("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
        }
        let freq = crate::keyspace::lfu::decayed(o.lru, now, decay);
        ctx.client.int(i64::from(freq));
    }
    Ok(())
}

/// ```text
/// OBJECT HELP
/// ```
pub(super) fn object_help(ctx: &mut Ctx) -> CmdResult {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    crate::cmd::help_reply(ctx, LINES)
}
