//! Transaction commands: MULTI EXEC DISCARD WATCH UNWATCH (Redis: multi.c).
//!
//! The dispatcher queues every command a client sends between MULTI and
//! EXEC (except the `NO_MULTI` ones, which run at once) and marks the
//! transaction dirty (`dirty_exec`) when it rejects one while queuing. EXEC
//! then either aborts (EXECABORT), fails because a WATCHed key changed or
//! expired (null array), or runs the queue through `Server::call`, one
//! reply element per command; a command's error is just its element.
//!
//! Propagation: each write inside EXEC is propagated by its own `call`, as
//! it runs; EXEC itself is never propagated. Redis 7.0 wraps a transaction
//! that propagates more than one command in MULTI ... EXEC so replicas and
//! the AOF apply it atomically; that wrapping belongs with the replication
//! stream (Server::propagate) and is not done yet.

use super::{flags::*, CmdResult, CommandSpec, Ctx, ErrorReply, Propagate};
use crate::server::client::Client;
use crate::server::Server;
use crate::spec;

/// The transactions family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!(
        "multi",
        1,
        NO_MULTI | LOADING | STALE | FAST,
        0,
        0,
        0,
        "transaction",
        multi
    ),
    spec!(
        "exec",
        1,
        NO_MULTI | LOADING | STALE | SKIP_SLOWLOG,
        0,
        0,
        0,
        "transaction",
        exec
    ),
    spec!(
        "discard",
        1,
        NO_MULTI | LOADING | STALE | FAST,
        0,
        0,
        0,
        "transaction",
        discard
    ),
    spec!(
        "watch",
        -2,
        NO_MULTI | LOADING | STALE | FAST,
        1,
        -1,
        1,
        "transaction",
        watch
    ),
    spec!(
        "unwatch",
        1,
        LOADING | STALE | FAST,
        0,
        0,
        0,
        "transaction",
        unwatch
    ),
];

/// Ends the client's transaction: drops the queue, clears MULTI and its
/// dirty flags, unwatches every key (Redis: discardTransaction).
pub fn discard_transaction(srv: &mut Server, c: &mut Client) {
    c.multi_queue.clear();
    c.flags.multi = false;
    c.flags.dirty_exec = false;
    srv.unwatch_all(c);
}

/// ```text
/// MULTI
/// ```
fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.flags.multi {
        return Err(ErrorReply::lit("ERR MULTI calls can not be nested"));
    }
    ctx.client.flags.multi = true;
    ctx.client.ok();
    Ok(())
}

/// ```text
/// EXEC
/// ```
fn exec(ctx: &mut Ctx) -> CmdResult {
    // The inner calls propagate themselves; a bare EXEC must not follow.
    ctx.propagate = Propagate::Never;
    if !ctx.client.flags.multi {
        return Err(ErrorReply::lit("ERR EXEC without MULTI"));
    }
    let now = ctx.now_ms;
    if ctx.srv.watched_key_expired(ctx.client, now) {
        ctx.client.dirty_cas.set(true);
    }
    if ctx.client.flags.dirty_exec || ctx.client.dirty_cas.get() {
        if ctx.client.flags.dirty_exec {
            ctx.client
                .error("EXECABORT Transaction discarded because of previous errors.");
        } else {
            ctx.client.null_array();
        }
        discard_transaction(ctx.srv, ctx.client);
        return Ok(());
    }
    // Unwatch first: the transaction's own writes must not flag it.
    ctx.srv.unwatch_all(ctx.client);
    let queue = std::mem::take(&mut ctx.client.multi_queue);
    ctx.client.array(queue.len());
    for argv in &queue {
        let args: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        match ctx.srv.commands.lookup(&args) {
            Ok(cmd) => ctx.srv.call(ctx.client, cmd, &args, now, true, None),
            // Queuing only accepts commands that resolve; keep the reply
            // shape right even so.
            Err(_) => ctx.client.error("ERR unknown command"),
        }
    }
    discard_transaction(ctx.srv, ctx.client);
    Ok(())
}

/// ```text
/// DISCARD
/// ```
fn discard(ctx: &mut Ctx) -> CmdResult {
    if !ctx.client.flags.multi {
        return Err(ErrorReply::lit("ERR DISCARD without MULTI"));
    }
    discard_transaction(ctx.srv, ctx.client);
    ctx.client.ok();
    Ok(())
}

/// ```text
/// WATCH key [key ...]
/// ```
fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.flags.multi {
        return Err(ErrorReply::lit("ERR WATCH inside MULTI is not allowed"));
    }
    // Already doomed: watching more changes nothing (as in Redis).
    if !ctx.client.dirty_cas.get() {
        let now = ctx.now_ms;
        for &key in &ctx.args[1..] {
            ctx.srv.watch_key(ctx.client, key, now);
        }
    }
    ctx.client.ok();
    Ok(())
}

/// ```text
/// UNWATCH
/// ```
fn unwatch(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.unwatch_all(ctx.client);
    ctx.client.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn a_blocking_command_run_by_exec_replies_its_timeout_reply_at_once() {
        let mut srv = Server::new(Config::default());
        let mut c = Client::new(1, "127.0.0.1:1".into(), "127.0.0.1:2".into(), true, 0);
        let args: [&[u8]; 3] = [b"blpop", b"l", b"0"];
        for (null_bulk, expected) in [(false, &b"*-1\r\n"[..]), (true, &b"$-1\r\n"[..])] {
            let mut ctx = Ctx {
                srv: &mut srv,
                client: &mut c,
                args: &args,
                now_ms: 0,
                propagate: Propagate::AsIs,
                in_exec: true,
                prev_block: None,
            };
            ctx.block(
                vec![crate::keyspace::Sds::from_slice(b"l")],
                None,
                null_bulk,
            );
            assert_eq!(c.out, expected);
            assert!(c.blocked.is_none());
            c.out.clear();
        }
    }
}
