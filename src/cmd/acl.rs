//! ACL, for the one user picket has: `default` (see
//! [`crate::server::acl`]). SETUSER changes its passwords and on/off,
//! which is what a password rotation without downtime needs; the
//! read-only subcommands answer as Redis 7.0 does for that user.

use super::{flags::*, help_reply, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::spec;

const ONLY_DEFAULT: ErrorReply =
    ErrorReply::lit("ERR picket has only the 'default' user: users cannot be created or removed");

/// The ACL container and its subcommands.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "acl",
    arity: -2,
    flags: CONTAINER,
    first_key: 0,
    last_key: 0,
    step: 0,
    group: "server",
    handler: without_sub,
    subcommands: &[
        spec!(
            "acl|setuser",
            -3,
            ADMIN | LOADING | STALE | NO_PROPAGATE,
            0,
            0,
            0,
            "server",
            setuser
        ),
        spec!(
            "acl|getuser",
            3,
            ADMIN | LOADING | STALE,
            0,
            0,
            0,
            "server",
            getuser
        ),
        spec!(
            "acl|deluser",
            -3,
            ADMIN | LOADING | STALE,
            0,
            0,
            0,
            "server",
            deluser
        ),
        spec!(
            "acl|users",
            2,
            ADMIN | LOADING | STALE,
            0,
            0,
            0,
            "server",
            users
        ),
        spec!(
            "acl|list",
            2,
            ADMIN | LOADING | STALE,
            0,
            0,
            0,
            "server",
            list
        ),
        spec!("acl|whoami", 2, LOADING | STALE, 0, 0, 0, "server", whoami),
        spec!("acl|help", 2, LOADING | STALE, 0, 0, 0, "server", help),
    ],
}];

fn without_sub(ctx: &mut Ctx) -> CmdResult {
    let _ = ctx;
    Err(ErrorReply::lit(
        "ERR wrong number of arguments for 'acl' command",
    ))
}

fn is_default(name: &[u8]) -> bool {
    name == b"default"
}

/// ```text
/// ACL SETUSER default [rule ...]
/// ```
fn setuser(ctx: &mut Ctx) -> CmdResult {
    if !is_default(ctx.arg(2)) {
        return Err(ONLY_DEFAULT);
    }
    let rules: Vec<&[u8]> = ctx.args[3..].to_vec();
    ctx.srv.default_user.apply(&rules)?;
    tracing::info!("ACL SETUSER default: the default user's passwords or flags changed");
    ctx.client.ok();
    Ok(())
}

/// ```text
/// ACL GETUSER username
/// ```
fn getuser(ctx: &mut Ctx) -> CmdResult {
    if !is_default(ctx.arg(2)) {
        ctx.client.null();
        return Ok(());
    }
    let u = ctx.srv.default_user.clone();
    let c = &mut *ctx.client;
    c.map(6);
    c.bulk(b"flags");
    let flags = u.flags();
    c.array(flags.len());
    for f in flags {
        c.bulk(f.as_bytes());
    }
    c.bulk(b"passwords");
    let hashes = u.password_hashes();
    c.array(hashes.len());
    for h in hashes {
        c.bulk(h.as_bytes());
    }
    for (k, v) in [("commands", "+@all"), ("keys", "~*"), ("channels", "&*")] {
        c.bulk(k.as_bytes());
        c.bulk(v.as_bytes());
    }
    c.bulk(b"selectors");
    c.array(0);
    Ok(())
}

/// ```text
/// ACL DELUSER username [username ...]
/// ```
fn deluser(ctx: &mut Ctx) -> CmdResult {
    if ctx.args[2..].iter().any(|u| is_default(u)) {
        return Err(ErrorReply::lit("ERR The 'default' user cannot be removed"));
    }
    // No other user exists: none deleted.
    ctx.client.int(0);
    Ok(())
}

/// ```text
/// ACL USERS
/// ```
fn users(ctx: &mut Ctx) -> CmdResult {
    ctx.client.array(1);
    ctx.client.bulk(b"default");
    Ok(())
}

/// ```text
/// ACL LIST
/// ```
fn list(ctx: &mut Ctx) -> CmdResult {
    let line = ctx.srv.default_user.describe();
    ctx.client.array(1);
    ctx.client.bulk(line.as_bytes());
    Ok(())
}

/// ```text
/// ACL WHOAMI
/// ```
fn whoami(ctx: &mut Ctx) -> CmdResult {
    ctx.client.bulk(b"default");
    Ok(())
}

fn help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        &[
            "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "SETUSER default <attribute> [<attribute> ...]",
            "    Change the default user's passwords (>pass, <pass, #hash, !hash, nopass,",
            "    resetpass) or switch it on or off.",
            "GETUSER <username>",
            "    Get the user's details.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users (picket has only 'default', which cannot be).",
            "USERS",
            "    List all the registered usernames.",
            "LIST",
            "    Show users details in config file format.",
            "WHOAMI",
            "    Return the current connection username.",
            "HELP",
            "    Print this help.",
        ],
    )
}
