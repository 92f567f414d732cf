//! Server commands: INFO CONFIG DBSIZE FLUSHDB FLUSHALL SHUTDOWN TIME
//! COMMAND SLOWLOG MONITOR.

use super::{
    errors, flags, flags::*, help_reply, CmdResult, CommandSpec, Ctx, ErrorReply, Propagate,
};
use crate::config::Config;
use crate::server::ShutdownMode;
use crate::spec;
use crate::util::glob::glob_match;

macro_rules! container {
    ($name:literal, $arity:expr, $group:literal, [$($sub:expr),* $(,)?]) => {
        CommandSpec { name: $name, arity: $arity, flags: CONTAINER, first_key: 0, last_key: 0, step: 0, group: $group, handler: container_without_sub, subcommands: &[$($sub),*] }
    };
}

/// The server family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!("info", -1, LOADING | STALE, 0, 0, 0, "dangerous", info),
    container!(
        "config",
        -2,
        "admin",
        [
            spec!(
                "config|get",
                -3,
                ADMIN | LOADING | STALE,
                0,
                0,
                0,
                "admin",
                config_get
            ),
            spec!(
                "config|set",
                -4,
                ADMIN | LOADING | STALE | NO_PROPAGATE,
                0,
                0,
                0,
                "admin",
                config_set
            ),
            spec!(
                "config|rewrite",
                2,
                ADMIN | LOADING | STALE,
                0,
                0,
                0,
                "admin",
                config_rewrite
            ),
            spec!(
                "config|resetstat",
                2,
                ADMIN | LOADING | STALE,
                0,
                0,
                0,
                "admin",
                config_resetstat
            ),
            spec!(
                "config|help",
                2,
                LOADING | STALE,
                0,
                0,
                0,
                "admin",
                config_help
            ),
        ]
    ),
    spec!("dbsize", 1, READONLY | FAST, 0, 0, 0, "keyspace", dbsize),
    spec!("flushdb", -1, WRITE, 0, 0, 0, "keyspace", flushdb),
    spec!("flushall", -1, WRITE, 0, 0, 0, "keyspace", flushall),
    spec!(
        "shutdown",
        -1,
        ADMIN | NO_MULTI | LOADING | STALE,
        0,
        0,
        0,
        "admin",
        shutdown
    ),
    spec!("time", 1, LOADING | STALE | FAST, 0, 0, 0, "fast", time),
    CommandSpec {
        name: "command",
        arity: -1,
        flags: CONTAINER | LOADING | STALE,
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "connection",
        handler: command_all,
        subcommands: &[
            spec!(
                "command|count",
                2,
                LOADING | STALE,
                0,
                0,
                0,
                "connection",
                command_count
            ),
            spec!(
                "command|info",
                -2,
                LOADING | STALE,
                0,
                0,
                0,
                "connection",
                command_info
            ),
            spec!(
                "command|docs",
                -2,
                LOADING | STALE,
                0,
                0,
                0,
                "connection",
                command_docs
            ),
            spec!(
                "command|list",
                -2,
                LOADING | STALE,
                0,
                0,
                0,
                "connection",
                command_list
            ),
            spec!(
                "command|getkeys",
                -3,
                LOADING | STALE,
                0,
                0,
                0,
                "connection",
                command_getkeys
            ),
            spec!(
                "command|help",
                2,
                LOADING | STALE,
                0,
                0,
                0,
                "connection",
                command_help
            ),
        ],
    },
    container!(
        "slowlog",
        -2,
        "admin",
        [
            spec!(
                "slowlog|get",
                -2,
                ADMIN | LOADING | STALE,
                0,
                0,
                0,
                "admin",
                slowlog_get
            ),
            spec!(
                "slowlog|len",
                2,
                ADMIN | LOADING | STALE,
                0,
                0,
                0,
                "admin",
                slowlog_len
            ),
            spec!(
                "slowlog|reset",
                2,
                ADMIN | LOADING | STALE,
                0,
                0,
                0,
                "admin",
                slowlog_reset
            ),
            spec!(
                "slowlog|help",
                2,
                LOADING | STALE,
                0,
                0,
                0,
                "admin",
                slowlog_help
            ),
        ]
    ),
    spec!(
        "monitor",
        1,
        ADMIN | NO_MULTI | LOADING | STALE,
        0,
        0,
        0,
        "admin",
        monitor
    ),
];

fn container_without_sub(ctx: &mut Ctx) -> CmdResult {
    let name = String::from_utf8_lossy(ctx.arg(0)).to_ascii_lowercase();
    Err(ErrorReply::new(format!(
        "ERR wrong number of arguments for '{name}' command"
    )))
}

/// ```text
/// INFO [section [section ...]]
/// ```
fn info(ctx: &mut Ctx) -> CmdResult {
    let sections: Vec<String> = ctx.args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let text = ctx.srv.info(&sections, ctx.now_ms);
    ctx.client.verbatim(&text);
    Ok(())
}

/// ```text
/// CONFIG GET parameter [parameter ...]
/// ```
fn config_get(ctx: &mut Ctx) -> CmdResult {
    let mut pairs: Vec<(&'static str, String)> = Vec::new();
    for i in 2..ctx.argc() {
        let pat = ctx.arg(i);
        for d in crate::config::directives_table() {
            let names = std::iter::once(d.name).chain(d.aliases.iter().copied());
            for n in names {
                let hit = if pat.iter().any(|b| b"*?[".contains(b)) {
                    glob_match(pat, n.as_bytes(), true)
                } else {
                    pat.eq_ignore_ascii_case(n.as_bytes())
                };
                if hit && !pairs.iter().any(|(p, _)| *p == n) {
                    pairs.push((n, (d.get)(&ctx.srv.config)));
                }
            }
        }
    }
    ctx.client.map(pairs.len());
    for (n, v) in pairs {
        ctx.client.bulk(n.as_bytes());
        ctx.client.bulk(v.as_bytes());
    }
    Ok(())
}

/// Redis 7.0's PROTECTED_CONFIG settings: where files are written. A
/// client that may change them can make the server write a file anywhere
/// it may, so CONFIG SET refuses them unless enable-protected-configs
/// allows it.
const PROTECTED: &[&str] = &["dir", "dbfilename"];

/// Whether enable-protected-configs (`no`, `yes`, `local`) lets a client
/// at `addr` change a protected setting (Redis: allowProtectedAction; a
/// local client is a loopback one).
fn protected_allowed(setting: &str, addr: &str) -> bool {
    match setting {
        "yes" => true,
        "local" => addr
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_loopback()),
        _ => false,
    }
}

/// ```text
/// CONFIG SET parameter value [parameter value ...]
/// ```
/// All parameters are applied or none (Redis 7.0).
fn config_set(ctx: &mut Ctx) -> CmdResult {
    // Arity (-4) already rejected `CONFIG SET name`; an odd tail is a
    // syntax error in Redis 7.0.
    if !ctx.argc().is_multiple_of(2) {
        return Err(errors::SYNTAX);
    }
    let mut newcfg = ctx.srv.config.clone();
    let mut seen: Vec<&'static str> = Vec::new();
    for i in (2..ctx.argc()).step_by(2) {
        let name = String::from_utf8_lossy(ctx.arg(i)).into_owned();
        let Some(d) = Config::directive(&name) else {
            return Err(ErrorReply::new(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        let fail = |why: &str| {
            ErrorReply::new(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        };
        if seen.contains(&d.name) {
            return Err(fail("duplicate parameter"));
        }
        seen.push(d.name);
        if !d.mutable {
            return Err(fail("can't set immutable config"));
        }
        if PROTECTED.contains(&d.name)
            && !protected_allowed(&ctx.srv.config.enable_protected_configs, &ctx.client.addr)
        {
            return Err(fail("can't set protected config"));
        }
        let val = String::from_utf8(ctx.arg(i + 1).to_vec())
            .map_err(|_| fail("argument must be valid UTF-8"))?;
        // CONFIG SET takes space-separated multi-argument values in one string.
        let args: Vec<String> = match d.name {
            "save" | "client-output-buffer-limit" => {
                val.split_whitespace().map(String::from).collect()
            }
            _ => vec![val],
        };
        let args = if args.is_empty() {
            vec![String::new()]
        } else {
            args
        };
        (d.set)(&mut newcfg, &args).map_err(|e| fail(&e.0))?;
    }
    let old = std::mem::replace(&mut ctx.srv.config, newcfg);
    if let Err(e) = ctx.srv.config_changed(&old) {
        ctx.srv.config = old;
        return Err(e);
    }
    ctx.client.ok();
    Ok(())
}

/// ```text
/// CONFIG REWRITE
/// ```
fn config_rewrite(ctx: &mut Ctx) -> CmdResult {
    let Some(path) = ctx.srv.config.file.clone() else {
        return Err(ErrorReply::lit(
            "ERR The server is running without a config file",
        ));
    };
    match crate::config::rewrite_file(&path, &ctx.srv.config) {
        Ok(()) => {
            tracing::info!(file = %path.display(), "CONFIG REWRITE executed with success");
            ctx.client.ok();
            Ok(())
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "CONFIG REWRITE failed");
            Err(ErrorReply::new(format!("ERR Rewriting config file: {e}")))
        }
    }
}

/// ```text
/// CONFIG RESETSTAT
/// ```
fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.stats.reset();
    ctx.srv.keyspace.hits = 0;
    ctx.srv.keyspace.misses = 0;
    ctx.srv.slowlog.clear();
    ctx.client.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        &[
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Print this help.",
        ],
    )
}

/// ```text
/// DBSIZE
/// ```
fn dbsize(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.keyspace.dbs[ctx.client.db].len() as i64;
    ctx.client.int(n);
    Ok(())
}

/// Parses the optional ASYNC|SYNC flag of FLUSHDB/FLUSHALL.
fn flush_async(ctx: &Ctx) -> Result<bool, ErrorReply> {
    match ctx.argc() {
        1 => Ok(ctx.srv.config.lazyfree_lazy_user_flush),
        2 if ctx.arg_is(1, "ASYNC") => Ok(true),
        2 if ctx.arg_is(1, "SYNC") => Ok(false),
        _ => Err(errors::SYNTAX),
    }
}

/// Empties databases; with `lazy`, frees the memory on another thread.
fn empty_dbs(ctx: &mut Ctx, db: Option<usize>, lazy: bool) -> u64 {
    ctx.srv.touch_watched_in_db(db);
    let mut removed = 0u64;
    let mut garbage = Vec::new();
    for (i, d) in ctx.srv.keyspace.dbs.iter_mut().enumerate() {
        if db.is_some_and(|x| x != i) {
            continue;
        }
        removed += d.len() as u64;
        garbage.push((d.dict.take(), d.expires.take()));
    }
    if lazy && removed > 0 {
        std::thread::spawn(move || drop(garbage));
    }
    removed
}

/// ```text
/// FLUSHDB [ASYNC | SYNC]
/// ```
fn flushdb(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_async(ctx)?;
    let db = ctx.client.db;
    let n = empty_dbs(ctx, Some(db), lazy);
    ctx.dirty(n + 1);
    ctx.client.ok();
    Ok(())
}

/// ```text
/// FLUSHALL [ASYNC | SYNC]
/// ```
fn flushall(ctx: &mut Ctx) -> CmdResult {
    let lazy = flush_async(ctx)?;
    let n = empty_dbs(ctx, None, lazy);
    ctx.dirty(n + 1);
    ctx.srv.flushall_reset_rdb(ctx.now_ms);
    ctx.propagate = Propagate::Always;
    ctx.client.ok();
    Ok(())
}

/// ```text
/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]
/// ```
/// On success the server exits and the connection closes without a reply.
fn shutdown(ctx: &mut Ctx) -> CmdResult {
    let mut mode = ShutdownMode::Default;
    let mut force = false;
    for i in 1..ctx.argc() {
        if ctx.arg_is(i, "NOSAVE") {
            mode = ShutdownMode::NoSave;
        } else if ctx.arg_is(i, "SAVE") {
            mode = ShutdownMode::Save;
        } else if ctx.arg_is(i, "NOW") {
        } else if ctx.arg_is(i, "FORCE") {
            force = true;
        } else if ctx.arg_is(i, "ABORT") {
            if ctx.srv.shutdown.take().is_none() {
                return Err(ErrorReply::lit("ERR No shutdown in progress."));
            }
            ctx.client.ok();
            return Ok(());
        } else {
            return Err(errors::SYNTAX);
        }
    }
    tracing::warn!(client = %ctx.client.addr, "User requested shutdown...");
    ctx.srv
        .prepare_shutdown(mode, force)
        .map_err(|_| ErrorReply::lit("ERR Errors trying to SHUTDOWN. Check logs."))?;
    ctx.srv.shutdown = Some(mode);
    ctx.srv.shutdown_notify.notify_one();
    Ok(())
}

/// ```text
/// TIME
/// ```
fn time(ctx: &mut Ctx) -> CmdResult {
    let us = crate::util::time::now_us();
    ctx.client.array(2);
    ctx.client.bulk_int(us / 1_000_000);
    ctx.client.bulk_int(us % 1_000_000);
    Ok(())
}

/// Flag names COMMAND INFO reports.
fn flag_names(c: &CommandSpec) -> Vec<&'static str> {
    let table = [
        (flags::WRITE, "write"),
        (flags::READONLY, "readonly"),
        (flags::DENYOOM, "denyoom"),
        (flags::ADMIN, "admin"),
        (flags::PUBSUB, "pubsub"),
        (flags::NO_AUTH, "no_auth"),
        (flags::FAST, "fast"),
        (flags::BLOCKING, "blocking"),
        (flags::NO_MULTI, "no_multi"),
        (flags::LOADING, "loading"),
        (flags::STALE, "stale"),
        (flags::SKIP_MONITOR, "skip_monitor"),
        (flags::SKIP_SLOWLOG, "skip_slowlog"),
    ];
    table
        .iter()
        .filter(|(f, _)| c.has(*f))
        .map(|(_, n)| *n)
        .collect()
}

fn write_command_info(ctx: &mut Ctx, c: &CommandSpec) {
    let fl = flag_names(c);
    let cl = &mut *ctx.client;
    cl.array(10);
    cl.bulk(c.name.as_bytes());
    cl.int(c.arity as i64);
    cl.set(fl.len());
    for f in fl {
        cl.simple(f);
    }
    cl.int(c.first_key as i64);
    cl.int(c.last_key as i64);
    cl.int(c.step as i64);
    cl.set(1);
    cl.simple(&format!("@{}", c.group));
    cl.set(0); // tips
    cl.array(0); // key specs
    cl.array(c.subcommands.len());
    for s in c.subcommands {
        write_command_info(ctx, s);
    }
}

/// ```text
/// COMMAND
/// ```
fn command_all(ctx: &mut Ctx) -> CmdResult {
    let mut all: Vec<&CommandSpec> = ctx.srv.commands.iter().collect();
    all.sort_by_key(|c| c.name);
    ctx.client.array(all.len());
    for c in all {
        write_command_info(ctx, c);
    }
    Ok(())
}

/// ```text
/// COMMAND COUNT
/// ```
fn command_count(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.commands.len() as i64;
    ctx.client.int(n);
    Ok(())
}

fn find_command(ctx: &Ctx, name: &[u8]) -> Option<&'static CommandSpec> {
    let s = String::from_utf8_lossy(name).to_ascii_lowercase();
    match s.split_once('|') {
        Some((p, _)) => ctx
            .srv
            .commands
            .by_name(p.as_bytes())?
            .subcommands
            .iter()
            .find(|c| c.name == s),
        None => ctx.srv.commands.by_name(name),
    }
}

/// ```text
/// COMMAND INFO [command-name [command-name ...]]
/// ```
fn command_info(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc() == 2 {
        return command_all(ctx);
    }
    ctx.client.array(ctx.argc() - 2);
    for i in 2..ctx.argc() {
        match find_command(ctx, ctx.arg(i)) {
            Some(c) => write_command_info(ctx, c),
            None => ctx.client.null_array(),
        }
    }
    Ok(())
}

fn write_docs(ctx: &mut Ctx, c: &CommandSpec) {
    let cl = &mut *ctx.client;
    cl.bulk(c.name.as_bytes());
    let has_subs = !c.subcommands.is_empty();
    cl.map(if has_subs { 4 } else { 3 });
    cl.bulk(b"summary");
    cl.bulk(format!("{} command", c.name.to_ascii_uppercase()).as_bytes());
    cl.bulk(b"since");
    cl.bulk(b"1.0.0");
    cl.bulk(b"group");
    cl.bulk(c.group.as_bytes());
    if has_subs {
        cl.bulk(b"subcommands");
        cl.map(c.subcommands.len());
        for s in c.subcommands {
            write_docs(ctx, s);
        }
    }
}

/// ```text
/// COMMAND DOCS [command-name [command-name ...]]
/// ```
fn command_docs(ctx: &mut Ctx) -> CmdResult {
    let cmds: Vec<&'static CommandSpec> = if ctx.argc() == 2 {
        let mut v: Vec<_> = ctx.srv.commands.iter().collect();
        v.sort_by_key(|c| c.name);
        v
    } else {
        (2..ctx.argc())
            .filter_map(|i| find_command(ctx, ctx.arg(i)))
            .collect()
    };
    ctx.client.map(cmds.len());
    for c in cmds {
        write_docs(ctx, c);
    }
    Ok(())
}

/// ```text
/// COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]
/// ```
fn command_list(ctx: &mut Ctx) -> CmdResult {
    let mut names: Vec<&'static str> = Vec::new();
    for c in ctx.srv.commands.iter() {
        names.push(c.name);
        names.extend(c.subcommands.iter().map(|s| s.name));
    }
    names.sort();
    if ctx.argc() == 5 && ctx.arg_is(2, "FILTERBY") {
        let v = ctx.arg(4);
        if ctx.arg_is(3, "PATTERN") {
            names.retain(|n| glob_match(v, n.as_bytes(), true));
        } else if ctx.arg_is(3, "ACLCAT") {
            let cat = String::from_utf8_lossy(v).to_ascii_lowercase();
            names.retain(|n| find_command(ctx, n.as_bytes()).is_some_and(|c| c.group == cat));
        } else if ctx.arg_is(3, "MODULE") {
            names.clear();
        } else {
            return Err(errors::SYNTAX);
        }
    } else if ctx.argc() != 2 {
        return Err(errors::SYNTAX);
    }
    ctx.client.array(names.len());
    for n in names {
        ctx.client.bulk(n.as_bytes());
    }
    Ok(())
}

/// ```text
/// COMMAND GETKEYS command [arg [arg ...]]
/// ```
fn command_getkeys(ctx: &mut Ctx) -> CmdResult {
    let sub = &ctx.args[2..];
    let c = ctx
        .srv
        .commands
        .lookup(sub)
        .map_err(|_| ErrorReply::lit("ERR Invalid command specified"))?;
    if !c.arity_ok(sub.len()) {
        return Err(ErrorReply::lit(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let pos = c.key_positions(sub.len());
    if pos.is_empty() {
        return Err(ErrorReply::lit("ERR The command has no key arguments"));
    }
    ctx.client.array(pos.len());
    for p in pos {
        ctx.client.bulk(sub[p]);
    }
    Ok(())
}

fn command_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        &[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
            "HELP",
            "    Print this help.",
        ],
    )
}

/// ```text
/// SLOWLOG GET [count]
/// ```
fn slowlog_get(ctx: &mut Ctx) -> CmdResult {
    let count = if ctx.argc() == 3 {
        let n = ctx.int_arg(2)?;
        if n < -1 {
            return Err(ErrorReply::lit(
                "ERR count should be greater than or equal to -1",
            ));
        }
        if n == -1 {
            usize::MAX
        } else {
            n as usize
        }
    } else if ctx.argc() == 2 {
        10
    } else {
        return Err(errors::SYNTAX);
    };
    let entries: Vec<_> = ctx.srv.slowlog.iter().take(count).cloned().collect();
    let c = &mut *ctx.client;
    c.array(entries.len());
    for e in entries {
        c.array(6);
        c.int(e.id as i64);
        c.int(e.time);
        c.int(e.micros as i64);
        c.array(e.argv.len());
        for a in &e.argv {
            c.bulk(a);
        }
        c.bulk(e.addr.as_bytes());
        c.bulk(e.name.as_bytes());
    }
    Ok(())
}

/// ```text
/// SLOWLOG LEN
/// ```
fn slowlog_len(ctx: &mut Ctx) -> CmdResult {
    let n = ctx.srv.slowlog.len() as i64;
    ctx.client.int(n);
    Ok(())
}

/// ```text
/// SLOWLOG RESET
/// ```
fn slowlog_reset(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.slowlog.clear();
    ctx.client.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx) -> CmdResult {
    help_reply(
        ctx,
        &[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help.",
        ],
    )
}

/// ```text
/// MONITOR
/// ```
fn monitor(ctx: &mut Ctx) -> CmdResult {
    if !ctx.client.flags.monitor {
        ctx.client.flags.monitor = true;
        ctx.srv.monitors.push(ctx.client.id);
    }
    ctx.client.ok();
    Ok(())
}
