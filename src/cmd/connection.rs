//! Connection commands: PING ECHO QUIT SELECT AUTH HELLO RESET CLIENT.

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::resp::Proto;
use crate::spec;

/// The connection family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!(
        "ping",
        -1,
        FAST | STALE | LOADING | PUBSUB_CONTEXT,
        0,
        0,
        0,
        "connection",
        ping
    ),
    spec!(
        "echo",
        2,
        FAST | STALE | LOADING,
        0,
        0,
        0,
        "connection",
        echo
    ),
    spec!(
        "quit",
        -1,
        NO_AUTH | NO_MULTI | FAST | STALE | LOADING | PUBSUB_CONTEXT,
        0,
        0,
        0,
        "connection",
        quit
    ),
    spec!(
        "select",
        2,
        FAST | LOADING | STALE,
        0,
        0,
        0,
        "connection",
        select
    ),
    spec!(
        "auth",
        -2,
        NO_AUTH | FAST | STALE | LOADING,
        0,
        0,
        0,
        "connection",
        auth
    ),
    spec!(
        "hello",
        -1,
        NO_AUTH | FAST | STALE | LOADING,
        0,
        0,
        0,
        "connection",
        hello
    ),
    spec!(
        "reset",
        1,
        NO_AUTH | NO_MULTI | FAST | STALE | LOADING | PUBSUB_CONTEXT,
        0,
        0,
        0,
        "connection",
        reset
    ),
    CommandSpec {
        name: "client",
        arity: -2,
        flags: CONTAINER,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "connection",
        handler: client_help,
        subcommands: &[
            spec!(
                "client|id",
                2,
                FAST | STALE | LOADING,
                0,
                0,
                0,
                "connection",
                client_id
            ),
            spec!(
                "client|setname",
                3,
                FAST | STALE | LOADING,
                0,
                0,
                0,
                "connection",
                client_setname
            ),
            spec!(
                "client|getname",
                2,
                FAST | STALE | LOADING,
                0,
                0,
                0,
                "connection",
                client_getname
            ),
            spec!(
                "client|list",
                -2,
                ADMIN | STALE | LOADING,
                0,
                0,
                0,
                "connection",
                client_list
            ),
            spec!(
                "client|info",
                2,
                FAST | STALE | LOADING,
                0,
                0,
                0,
                "connection",
                client_info
            ),
            spec!(
                "client|kill",
                -3,
                ADMIN | STALE | LOADING,
                0,
                0,
                0,
                "connection",
                client_kill
            ),
            spec!(
                "client|no-evict",
                3,
                ADMIN | STALE | LOADING,
                0,
                0,
                0,
                "connection",
                client_no_evict
            ),
            spec!(
                "client|help",
                2,
                STALE | LOADING,
                0,
                0,
                0,
                "connection",
                client_help
            ),
        ],
    },
];

/// ```text
/// PING [message]
/// ```
/// In RESP2 subscriber mode the reply is `["pong", message]`, as in Redis.
fn ping(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 2 {
        return Err(ErrorReply::new(format!(
            "ERR wrong number of arguments for '{}' command",
            "ping"
        )));
    }
    if ctx.client.in_resp2_pubsub() {
        ctx.client.array(2);
        ctx.client.bulk(b"pong");
        ctx.client
            .bulk(if ctx.argc() == 2 { ctx.arg(1) } else { b"" });
    } else if ctx.argc() == 2 {
        let m = ctx.arg(1);
        ctx.client.bulk(m);
    } else {
        ctx.client.simple("PONG");
    }
    Ok(())
}

/// ```text
/// ECHO message
/// ```
fn echo(ctx: &mut Ctx) -> CmdResult {
    let m = ctx.arg(1);
    ctx.client.bulk(m);
    Ok(())
}

/// ```text
/// QUIT
/// ```
fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.client.ok();
    ctx.client.flags.close_after_reply = true;
    Ok(())
}

/// ```text
/// SELECT index
/// ```
fn select(ctx: &mut Ctx) -> CmdResult {
    let idx = ctx.int_arg(1).map_err(|_| errors::NOT_INT)?;
    if idx < 0 || idx as usize >= ctx.srv.keyspace.dbs.len() {
        return Err(errors::DB_RANGE);
    }
    ctx.client.db = idx as usize;
    ctx.client.ok();
    Ok(())
}

const WRONGPASS: ErrorReply =
    ErrorReply::lit("WRONGPASS invalid username-password pair or user is disabled.");

/// Checks credentials for the `default` user, the only user picket has.
fn check_auth(ctx: &mut Ctx, user: Option<&[u8]>, pass: &[u8]) -> CmdResult {
    if let Some(u) = user {
        if u != b"default" {
            return Err(WRONGPASS);
        }
    }
    if ctx.srv.default_user.accepts(pass) {
        ctx.client.authenticated = true;
        Ok(())
    } else {
        tracing::warn!(client = %ctx.client.addr, "authentication failed");
        Err(WRONGPASS)
    }
}

/// ```text
/// AUTH [username] password
/// ```
fn auth(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() > 3 {
        return Err(errors::SYNTAX);
    }
    if ctx.argc() == 2 && ctx.srv.default_user.nopass {
        return Err(ErrorReply::lit(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    let (user, pass) = if ctx.argc() == 3 {
        (Some(ctx.arg(1)), ctx.arg(2))
    } else {
        (None, ctx.arg(1))
    };
    check_auth(ctx, user, pass)?;
    ctx.client.ok();
    Ok(())
}

/// ```text
/// HELLO [protover [AUTH username password] [SETNAME clientname]]
/// ```
fn hello(ctx: &mut Ctx) -> CmdResult {
    let mut proto = None;
    let mut i = 1;
    if ctx.argc() >= 2 {
        let v = ctx.int_arg(1).map_err(|_| {
            ErrorReply::lit("ERR Protocol version is not an integer or out of range")
        })?;
        proto = Some(match v {
            2 => Proto::Resp2,
            3 => Proto::Resp3,
            _ => return Err(ErrorReply::lit("NOPROTO unsupported protocol version")),
        });
        i = 2;
    }
    let mut name = None;
    let mut creds = None;
    while i < ctx.argc() {
        let more = ctx.argc() - i - 1;
        if ctx.arg_is(i, "AUTH") && more >= 2 {
            creds = Some((ctx.arg(i + 1), ctx.arg(i + 2)));
            i += 3;
        } else if ctx.arg_is(i, "SETNAME") && more >= 1 {
            name = Some(ctx.arg(i + 1));
            i += 2;
        } else {
            return Err(ErrorReply::new(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(ctx.arg(i))
            )));
        }
    }
    if let Some((u, p)) = creds {
        check_auth(ctx, Some(u), p)?;
    }
    if !ctx.client.authenticated {
        return Err(ErrorReply::lit("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        validate_name(n)?;
        ctx.client.name = if n.is_empty() {
            None
        } else {
            Some(String::from_utf8_lossy(n).into_owned())
        };
    }
    if let Some(p) = proto {
        ctx.client.proto = p;
    }
    let c = &mut *ctx.client;
    c.map(7);
    c.bulk(b"server");
    c.bulk(b"redis");
    c.bulk(b"version");
    c.bulk(b"7.0.15");
    c.bulk(b"proto");
    c.int(if c.proto == Proto::Resp3 { 3 } else { 2 });
    c.bulk(b"id");
    c.int(c.id as i64);
    c.bulk(b"mode");
    c.bulk(if ctx.srv.sentinel.is_some() {
        b"sentinel"
    } else {
        b"standalone"
    });
    c.bulk(b"role");
    c.bulk(if ctx.srv.keyspace.is_replica {
        b"replica"
    } else {
        b"master"
    });
    c.bulk(b"modules");
    c.array(0);
    Ok(())
}

/// ```text
/// RESET
/// ```
fn reset(ctx: &mut Ctx) -> CmdResult {
    let c = &mut *ctx.client;
    c.flags.multi = false;
    c.flags.dirty_exec = false;
    c.multi_queue.clear();
    ctx.srv.unwatch_all(c);
    ctx.srv.pubsub_unsubscribe_all(c);
    if c.flags.monitor {
        c.flags.monitor = false;
        let id = c.id;
        ctx.srv.monitors.retain(|&m| m != id);
    }
    c.db = 0;
    c.proto = Proto::Resp2;
    c.name = None;
    c.flags.no_evict = false;
    c.authenticated = ctx.srv.default_user.logged_in_by_default();
    c.simple("RESET");
    Ok(())
}

fn validate_name(n: &[u8]) -> CmdResult {
    if n.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(ErrorReply::lit(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

/// ```text
/// CLIENT ID
/// ```
fn client_id(ctx: &mut Ctx) -> CmdResult {
    let id = ctx.client.id as i64;
    ctx.client.int(id);
    Ok(())
}

/// ```text
/// CLIENT SETNAME connection-name
/// ```
fn client_setname(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.arg(2);
    validate_name(n)?;
    ctx.client.name = if n.is_empty() {
        None
    } else {
        Some(String::from_utf8_lossy(n).into_owned())
    };
    ctx.client.ok();
    Ok(())
}

/// ```text
/// CLIENT GETNAME
/// ```
fn client_getname(ctx: &mut Ctx) -> CmdResult {
    match ctx.client.name.clone() {
        Some(n) => ctx.client.bulk(n.as_bytes()),
        None => ctx.client.null(),
    }
    Ok(())
}

/// Whether a client matches a CLIENT LIST/KILL `TYPE`.
fn type_matches(c: &crate::server::client::Client, t: &[u8]) -> Option<bool> {
    Some(match t.to_ascii_lowercase().as_slice() {
        b"normal" => c.subscriptions() == 0 && !c.flags.replica && !c.flags.master,
        b"pubsub" => c.subscriptions() > 0,
        b"replica" | b"slave" => c.flags.replica,
        b"master" => c.flags.master,
        _ => return None,
    })
}

/// ```text
/// CLIENT LIST [TYPE normal|master|replica|pubsub] [ID client-id [client-id ...]]
/// ```
fn client_list(ctx: &mut Ctx) -> CmdResult {
    let mut ty: Option<&[u8]> = None;
    let mut ids: Option<Vec<u64>> = None;
    if ctx.argc() >= 4 && ctx.arg_is(2, "TYPE") && ctx.argc() == 4 {
        ty = Some(ctx.arg(3));
        if type_matches(ctx.client, ctx.arg(3)).is_none() {
            return Err(ErrorReply::new(format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(ctx.arg(3))
            )));
        }
    } else if ctx.argc() >= 4 && ctx.arg_is(2, "ID") {
        let mut v = Vec::new();
        for i in 3..ctx.argc() {
            let id = ctx
                .int_arg(i)
                .ok()
                .filter(|x| *x > 0)
                .ok_or(ErrorReply::lit("ERR Invalid client ID"))?;
            v.push(id as u64);
        }
        ids = Some(v);
    } else if ctx.argc() != 2 {
        return Err(errors::SYNTAX);
    }
    let now = ctx.now_ms;
    let mut text = String::new();
    let me = ctx.client.id;
    let selected: Vec<u64> = ctx.srv.clients.keys().copied().collect();
    for id in selected {
        if ids.as_ref().is_some_and(|v| !v.contains(&id)) {
            continue;
        }
        let line = if id == me {
            if ty.is_some_and(|t| type_matches(ctx.client, t) != Some(true)) {
                continue;
            }
            ctx.client.info_line(now)
        } else {
            let Some(rc) = ctx.srv.clients.get(&id) else {
                continue;
            };
            let Ok(c) = rc.try_borrow() else { continue };
            if ty.is_some_and(|t| type_matches(&c, t) != Some(true)) {
                continue;
            }
            c.info_line(now)
        };
        text.push_str(&line);
        text.push('\n');
    }
    ctx.client.verbatim(&text);
    Ok(())
}

/// ```text
/// CLIENT INFO
/// ```
fn client_info(ctx: &mut Ctx) -> CmdResult {
    let mut line = ctx.client.info_line(ctx.now_ms);
    line.push('\n');
    ctx.client.verbatim(&line);
    Ok(())
}

/// ```text
/// CLIENT KILL ip:port
/// CLIENT KILL [ID client-id] [TYPE normal|master|replica|pubsub] [USER username]
///             [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no] ...
/// ```
fn client_kill(ctx: &mut Ctx) -> CmdResult {
    let old_style = ctx.argc() == 3;
    let mut f_id = None;
    let mut f_addr: Option<&[u8]> = None;
    let mut f_laddr: Option<&[u8]> = None;
    let mut f_type: Option<&[u8]> = None;
    let mut f_user: Option<&[u8]> = None;
    let mut skipme = true;
    if old_style {
        f_addr = Some(ctx.arg(2));
        skipme = false;
    } else {
        if !ctx.argc().is_multiple_of(2) {
            return Err(errors::SYNTAX);
        }
        let mut i = 2;
        while i + 1 < ctx.argc() {
            let v = ctx.arg(i + 1);
            if ctx.arg_is(i, "ID") {
                f_id = Some(
                    ctx.int_arg(i + 1)
                        .ok()
                        .filter(|x| *x > 0)
                        .ok_or(ErrorReply::lit("ERR client-id should be greater than 0"))?
                        as u64,
                );
            } else if ctx.arg_is(i, "ADDR") {
                f_addr = Some(v);
            } else if ctx.arg_is(i, "LADDR") {
                f_laddr = Some(v);
            } else if ctx.arg_is(i, "TYPE") {
                if type_matches(ctx.client, v).is_none() {
                    return Err(ErrorReply::new(format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(v)
                    )));
                }
                f_type = Some(v);
            } else if ctx.arg_is(i, "USER") {
                f_user = Some(v);
            } else if ctx.arg_is(i, "SKIPME") {
                skipme = match v.to_ascii_lowercase().as_slice() {
                    b"yes" => true,
                    b"no" => false,
                    _ => return Err(errors::SYNTAX),
                };
            } else {
                return Err(errors::SYNTAX);
            }
            i += 2;
        }
    }
    let me = ctx.client.id;
    let mut killed = 0;
    let ids: Vec<u64> = ctx.srv.clients.keys().copied().collect();
    for id in ids {
        if skipme && id == me {
            continue;
        }
        let matches = |c: &crate::server::client::Client| {
            f_id.is_none_or(|x| x == c.id)
                && f_addr.is_none_or(|a| a == c.addr.as_bytes())
                && f_laddr.is_none_or(|a| a == c.laddr.as_bytes())
                && f_type.is_none_or(|t| type_matches(c, t) == Some(true))
                && f_user.is_none_or(|u| u == b"default")
        };
        if id == me {
            if matches(ctx.client) {
                ctx.client.flags.close_after_reply = true;
                killed += 1;
            }
            continue;
        }
        let Some(rc) = ctx.srv.clients.get(&id) else {
            continue;
        };
        let Ok(mut c) = rc.try_borrow_mut() else {
            continue;
        };
        if matches(&c) {
            c.flags.close_asap = true;
            c.notify.notify_one();
            killed += 1;
        }
    }
    if old_style {
        if killed == 0 {
            return Err(ErrorReply::lit("ERR No such client"));
        }
        ctx.client.ok();
    } else {
        ctx.client.int(killed);
    }
    Ok(())
}

/// ```text
/// CLIENT NO-EVICT on|off
/// ```
fn client_no_evict(ctx: &mut Ctx) -> CmdResult {
    ctx.client.flags.no_evict = match ctx.arg(2).to_ascii_lowercase().as_slice() {
        b"on" => true,
        b"off" => false,
        _ => return Err(errors::SYNTAX),
    };
    ctx.client.ok();
    Ok(())
}

/// ```text
/// CLIENT HELP
/// ```
fn client_help(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() == 1 {
        return Err(ErrorReply::lit(
            "ERR wrong number of arguments for 'client' command",
        ));
    }
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, TYPE, USER, ADDR, LADDR, SKIPME.",
        "LIST [options ...]",
        "    Return information about client connections. Options: TYPE, ID.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Print this help.",
    ];
    super::help_reply(ctx, &lines)
}
