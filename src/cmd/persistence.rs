//! Persistence commands: SAVE BGSAVE LASTSAVE BGREWRITEAOF (the work is
//! in `persistence::save` and `persistence::aof`).

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::spec;

/// The persistence family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!("save", 1, ADMIN | NO_MULTI, 0, 0, 0, "admin", save),
    spec!("bgsave", -1, ADMIN, 0, 0, 0, "admin", bgsave),
    spec!("bgrewriteaof", 1, ADMIN, 0, 0, 0, "admin", bgrewriteaof),
    spec!(
        "lastsave",
        1,
        FAST | LOADING | STALE,
        0,
        0,
        0,
        "admin",
        lastsave
    ),
];

const IN_PROGRESS: ErrorReply = ErrorReply::lit("ERR Background save already in progress");

/// ```text
/// SAVE
/// ```
fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.rdb.child.is_some() {
        return Err(IN_PROGRESS);
    }
    ctx.srv
        .rdb_save(ctx.now_ms)
        .map_err(|_| ErrorReply::lit("ERR"))?;
    ctx.srv.rdb.saves += 1;
    ctx.client.ok();
    Ok(())
}

/// ```text
/// BGSAVE [SCHEDULE]
/// ```
fn bgsave(ctx: &mut Ctx) -> CmdResult {
    let schedule = match ctx.argc() {
        1 => false,
        2 if ctx.arg_is(1, "SCHEDULE") => true,
        _ => return Err(errors::SYNTAX),
    };
    if ctx.srv.rdb.child.is_some() {
        return Err(IN_PROGRESS);
    }
    // Inside EXEC Redis never forks: the cron starts the save afterwards.
    // A running AOF rewrite makes it wait only when asked to.
    if ctx.srv.aof.child.is_some() && !ctx.in_exec {
        if !schedule {
            return Err(ErrorReply::lit("ERR An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."));
        }
        ctx.srv.rdb.bgsave_scheduled = true;
        ctx.client.simple("Background saving scheduled");
        return Ok(());
    }
    if ctx.in_exec {
        ctx.srv.rdb.bgsave_scheduled = true;
        ctx.client.simple("Background saving scheduled");
        return Ok(());
    }
    ctx.srv
        .rdb_bgsave(ctx.now_ms)
        .map_err(|_| ErrorReply::lit("ERR"))?;
    ctx.client.simple("Background saving started");
    Ok(())
}

/// ```text
/// LASTSAVE
/// ```
fn lastsave(ctx: &mut Ctx) -> CmdResult {
    let t = ctx.srv.lastsave;
    ctx.client.int(t);
    Ok(())
}

/// ```text
/// BGREWRITEAOF
/// ```
fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.aof.child.is_some() {
        return Err(ErrorReply::lit(
            "ERR Background append only file rewriting already in progress",
        ));
    }
    // Another child, or inside EXEC: the cron starts it when it can.
    if ctx.srv.has_active_child() || ctx.in_exec {
        ctx.srv.aof.rewrite_scheduled = true;
        ctx.client
            .simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    ctx.srv.aof_rewrite_background(ctx.now_ms).map_err(|_| {
        ErrorReply::lit("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")
    })?;
    ctx.client
        .simple("Background append only file rewriting started");
    Ok(())
}
