//! The EXPIRE family, the TTL family and PERSIST (Redis: expire.c
//! expireGenericCommand, ttlGenericCommand, persistCommand).
//!
//! Deadlines are absolute unix milliseconds. EXPIRE-style commands always
//! replicate as `PEXPIREAT key <ms> [options]`, so replicas and the AOF
//! never depend on when they replay the command; a deadline already past
//! deletes the key on a master and replicates as DEL.

use super::lookup_notouch;
use crate::cmd::{CmdResult, Ctx, ErrorReply};

/// EXPIRE's NX/XX/GT/LT options (Redis: EXPIRE_NX ... flags).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// Parses options from argument 3 on (Redis: parseExtendedExpireArgumentsOrReply).
fn parse_expire_flags(args: &[&[u8]]) -> Result<ExpireFlags, ErrorReply> {
    let mut f = ExpireFlags::default();
    for opt in args.iter().skip(3) {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => f.nx = true,
            b"XX" => f.xx = true,
            b"GT" => f.gt = true,
            b"LT" => f.lt = true,
            _ => {
                return Err(ErrorReply::new(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(opt)
                )))
            }
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(ErrorReply::lit(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(ErrorReply::lit(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// Whether the options allow replacing deadline `current` (None = no TTL,
/// an infinite one) with `when`.
fn expire_allowed(f: ExpireFlags, current: Option<i64>, when: i64) -> bool {
    match current {
        None => !f.xx && !f.gt,
        Some(cur) => !(f.nx || (f.gt && when <= cur) || (f.lt && when >= cur)),
    }
}

/// Turns EXPIRE's argument into an absolute deadline in ms:
/// `n * (1000 if seconds) + base`, or None on overflow.
fn absolute_deadline(n: i64, seconds: bool, base: i64) -> Option<i64> {
    let ms = if seconds { n.checked_mul(1000)? } else { n };
    ms.checked_add(base)
}

/// ```text
/// EXPIRE key seconds [NX | XX | GT | LT]
/// ```
pub(super) fn expire(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms;
    expire_generic(ctx, now, true)
}

/// ```text
/// PEXPIRE key milliseconds [NX | XX | GT | LT]
/// ```
pub(super) fn pexpire(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms;
    expire_generic(ctx, now, false)
}

/// ```text
/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
/// ```
pub(super) fn expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 0, true)
}

/// ```text
/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
/// ```
pub(super) fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, 0, false)
}

/// The EXPIRE family (Redis: expireGenericCommand). A deadline already past
/// deletes the key (propagated as DEL, or UNLINK with lazyfree-lazy-expire);
/// otherwise the deadline is set and propagated as `PEXPIREAT key <ms>`
/// with the same options.
fn expire_generic(ctx: &mut Ctx, base: i64, seconds: bool) -> CmdResult {
    let flags = parse_expire_flags(ctx.args)?;
    let n = ctx.int_arg(2)?;
    let when = absolute_deadline(n, seconds, base).ok_or_else(|| {
        let name = String::from_utf8_lossy(ctx.arg(0)).to_ascii_lowercase();
        ErrorReply::new(format!("ERR invalid expire time in '{name}' command"))
    })?;
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let ks = &mut ctx.srv.keyspace;
    if ks.lookup_write(db, key, now).is_none() {
        ctx.client.int(0);
        return Ok(());
    }
    let current = ks.dbs[db].expire_of(key);
    if !expire_allowed(flags, current, when) {
        ctx.client.int(0);
        return Ok(());
    }
    // A replica keeps the key: its master sends the DEL.
    if when <= now && !ks.is_replica {
        ks.dbs[db].delete(key);
        let del: &[u8] = if ctx.srv.config.lazyfree_lazy_expire {
            b"UNLINK"
        } else {
            b"DEL"
        };
        ctx.propagate_as(vec![vec![del.to_vec(), key.to_vec()]]);
    } else {
        ks.dbs[db].set_expire(key, Some(when));
        // PEXPIREAT already carries the absolute form: propagate it as is.
        if base != 0 || seconds {
            let mut argv = vec![
                b"PEXPIREAT".to_vec(),
                key.to_vec(),
                when.to_string().into_bytes(),
            ];
            argv.extend(ctx.args[3..].iter().map(|a| a.to_vec()));
            ctx.propagate_as(vec![argv]);
        }
    }
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.int(1);
    Ok(())
}

/// What the TTL family reports.
#[derive(Clone, Copy)]
enum TtlKind {
    /// TTL: seconds left.
    Seconds,
    /// PTTL: milliseconds left.
    Millis,
    /// EXPIRETIME: unix seconds.
    AbsSeconds,
    /// PEXPIRETIME: unix milliseconds.
    AbsMillis,
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME (Redis: ttlGenericCommand): -2 when
/// the key is missing, -1 when it has no deadline. Seconds are rounded to
/// the nearest, as Redis does.
fn ttl_generic(ctx: &mut Ctx, kind: TtlKind) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let ks = &mut ctx.srv.keyspace;
    if lookup_notouch(ks, db, key, now).is_none() {
        ctx.client.int(-2);
        return Ok(());
    }
    let Some(when) = ks.dbs[db].expire_of(key) else {
        ctx.client.int(-1);
        return Ok(());
    };
    let v = match kind {
        TtlKind::Seconds | TtlKind::Millis => when.saturating_sub(now).max(0),
        TtlKind::AbsSeconds | TtlKind::AbsMillis => when.max(0),
    };
    let v = match kind {
        TtlKind::Millis | TtlKind::AbsMillis => v,
        // Rounded to the nearest second; redis-server's (ttl+500)/1000 does
        // not wrap near i64::MAX, so neither does this.
        TtlKind::Seconds | TtlKind::AbsSeconds => ((i128::from(v) + 500) / 1000) as i64,
    };
    ctx.client.int(v);
    Ok(())
}

/// ```text
/// TTL key
/// ```
pub(super) fn ttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, TtlKind::Seconds)
}

/// ```text
/// PTTL key
/// ```
pub(super) fn pttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, TtlKind::Millis)
}

/// ```text
/// EXPIRETIME key
/// ```
pub(super) fn expiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, TtlKind::AbsSeconds)
}

/// ```text
/// PEXPIRETIME key
/// ```
pub(super) fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, TtlKind::AbsMillis)
}

/// ```text
/// PERSIST key
/// ```
pub(super) fn persist(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let ks = &mut ctx.srv.keyspace;
    if ks.lookup_write(db, key, now).is_none() || ks.dbs[db].expire_of(key).is_none() {
        ctx.client.int(0);
        return Ok(());
    }
    ks.dbs[db].set_expire(key, None);
    ctx.touch(key);
    ctx.dirty(1);
    ctx.client.int(1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(opts: &[&str]) -> Result<ExpireFlags, ErrorReply> {
        let mut args: Vec<&[u8]> = vec![b"expire", b"k", b"10"];
        args.extend(opts.iter().map(|o| o.as_bytes()));
        parse_expire_flags(&args)
    }

    #[test]
    fn incompatible_options_are_rejected_with_redis_texts() {
        let nx_err = "ERR NX and XX, GT or LT options at the same time are not compatible";
        for opts in [&["nx", "xx"][..], &["NX", "gt"], &["lt", "nx"]] {
            assert_eq!(flags(opts).unwrap_err().0, nx_err);
        }
        assert_eq!(
            flags(&["gt", "LT"]).unwrap_err().0,
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(flags(&["xyz"]).unwrap_err().0, "ERR Unsupported option xyz");
        assert_eq!(
            flags(&["xx", "gt"]).unwrap(),
            ExpireFlags {
                xx: true,
                gt: true,
                ..Default::default()
            }
        );
    }

    #[test]
    fn options_compare_against_the_current_deadline() {
        let f = |o: &[&str]| flags(o).unwrap();
        // (options, current deadline, new deadline, allowed)
        let table: &[(&[&str], Option<i64>, i64, bool)] = &[
            (&[], None, 5, true),
            (&["nx"], None, 5, true),
            (&["nx"], Some(9), 5, false),
            (&["xx"], None, 5, false),
            (&["xx"], Some(9), 5, true),
            (&["gt"], None, 5, false),
            (&["gt"], Some(9), 9, false),
            (&["gt"], Some(9), 10, true),
            (&["lt"], None, 5, true),
            (&["lt"], Some(9), 9, false),
            (&["lt"], Some(9), 8, true),
            (&["xx", "lt"], None, 5, false),
        ];
        for (opts, cur, when, ok) in table {
            assert_eq!(
                expire_allowed(f(opts), *cur, *when),
                *ok,
                "{opts:?} {cur:?} {when}"
            );
        }
    }

    #[test]
    fn deadlines_overflow_into_none() {
        assert_eq!(absolute_deadline(10, true, 1000), Some(11_000));
        assert_eq!(absolute_deadline(-10, false, 1000), Some(990));
        assert_eq!(absolute_deadline(i64::MAX / 1000 + 1, true, 0), None);
        assert_eq!(absolute_deadline(i64::MAX, false, 1), None);
        assert_eq!(
            absolute_deadline(i64::MIN / 1000, true, 5),
            Some(i64::MIN / 1000 * 1000 + 5)
        );
    }
}
