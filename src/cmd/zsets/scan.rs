//! ZRANDMEMBER and ZSCAN: reads that sample or walk the member map by
//! index rather than by order.

use super::{is_listpack, reply_members, resp3};
use crate::cmd::lookup_read_as;
use crate::cmd::{errors, CmdResult, Ctx, ErrorReply};
use crate::keyspace::zset::ZSet;
use crate::keyspace::Sds;
use crate::util::num::{fmt_g17, parse_i64};

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

/// ```text
/// ZRANDMEMBER key [count [WITHSCORES]]
/// ```
pub(super) fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    if ctx.argc() == 2 {
        match lookup_read_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)? {
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
        return Err(ErrorReply::lit("ERR value is out of range"));
    }
    let Some(z) = lookup_read_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)? else {
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
        // Streamed: a huge count must not build a second copy in memory.
        let count = l.unsigned_abs() as usize;
        let pairs = resp3(c);
        let draws = (0..count).map(|_| {
            // An index below `size` (the set is not empty) always exists.
            pick(fastrand::usize(..size)).expect("index within the set")
        });
        reply_members(c, withscores, pairs, draws);
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
pub(super) fn zscan(ctx: &mut Ctx) -> CmdResult {
    let cursor = parse_cursor(ctx.arg(2)).ok_or(ErrorReply::lit("ERR invalid cursor"))?;
    let (db, now, key) = (ctx.client.db, ctx.now_ms, ctx.arg(1));
    let limits = ctx.srv.config.enc;
    let Some(z) = lookup_read_as::<ZSet>(&mut ctx.srv.keyspace, db, key, now)? else {
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
    let small = is_listpack(z, &limits);
    let mut found: Vec<(Sds, String)> = Vec::new();
    let next = if small {
        for (m, s) in z.iter() {
            if matches(m) {
                found.push((m.clone(), listpack_score(s)));
            }
        }
        0
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
        pos - visit
    };
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
}
