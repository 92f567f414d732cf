//! The SENTINEL command (Redis: sentinelCommand), answered in sentinel
//! mode only; the state and the work are in `crate::sentinel`.

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::sentinel::config::{links_reset_by, Links};
use crate::sentinel::{Event, Instance, Master, Peer, Sentinel, Who};
use crate::spec;

/// The sentinel family.
pub static COMMANDS: &[CommandSpec] = &[spec!(
    "sentinel",
    -2,
    ADMIN | STALE | LOADING,
    0,
    0,
    0,
    "sentinel",
    sentinel
)];

/// Commands a sentinel answers (Redis: the sentinel command table).
pub const SENTINEL_MODE_COMMANDS: &[&str] = &[
    "ping",
    "sentinel",
    "subscribe",
    "unsubscribe",
    "psubscribe",
    "punsubscribe",
    "publish",
    "info",
    "role",
    "client",
    "shutdown",
    "auth",
    "hello",
    "command",
    "quit",
    "reset",
    "acl",
];

/// One server's last INFO for SENTINEL INFO-CACHE: its age in ms and
/// its text (none before the first reply).
type InfoCache = (i64, Option<String>);

const NO_MASTER: ErrorReply = ErrorReply::lit("ERR No such master with that name");

fn pairs(c: &mut crate::server::client::Client, kv: &[(&str, String)]) {
    c.map(kv.len());
    for (k, v) in kv {
        c.bulk(k.as_bytes());
        c.bulk(v.as_bytes());
    }
}

fn master_fields(m: &Master, now_ms: i64) -> Vec<(&'static str, String)> {
    let i = &m.inst;
    let mut flags = String::from("master");
    if i.sdown_since > 0 {
        flags.push_str(",s_down");
    }
    if m.odown_since > 0 {
        flags.push_str(",o_down");
    }
    if i.link.is_none() {
        flags.push_str(",disconnected");
    }
    if m.failover.is_some() {
        flags.push_str(",failover_in_progress");
    }
    let mut v = vec![
        ("name", m.conf.name.clone()),
        ("ip", i.ip.clone()),
        ("port", i.port.to_string()),
        ("runid", i.run_id.clone()),
        ("flags", flags),
        ("link-pending-commands", "0".into()),
        ("link-refcount", "1".into()),
        (
            "last-ping-sent",
            if i.ping_pending_ms > 0 {
                (now_ms - i.ping_pending_ms).to_string()
            } else {
                "0".into()
            },
        ),
        (
            "last-ok-ping-reply",
            (now_ms - i.last_ok_ping_ms).to_string(),
        ),
        ("last-ping-reply", (now_ms - i.last_ok_ping_ms).to_string()),
        ("down-after-milliseconds", m.conf.down_after_ms.to_string()),
        (
            "info-refresh",
            if i.info_ms > 0 {
                (now_ms - i.info_ms).to_string()
            } else {
                "0".into()
            },
        ),
        (
            "role-reported",
            if i.info.is_master || i.info_ms == 0 {
                "master".into()
            } else {
                "slave".into()
            },
        ),
        (
            "role-reported-time",
            (now_ms - i.role_change_ms).to_string(),
        ),
        ("config-epoch", m.conf.config_epoch.to_string()),
        ("num-slaves", m.replicas.len().to_string()),
        ("num-other-sentinels", m.sentinels.len().to_string()),
        ("quorum", m.conf.quorum.to_string()),
        ("failover-timeout", m.conf.failover_timeout_ms.to_string()),
        ("parallel-syncs", m.conf.parallel_syncs.to_string()),
    ];
    if i.sdown_since > 0 {
        v.push(("s-down-time", (now_ms - i.sdown_since).to_string()));
    }
    if m.odown_since > 0 {
        v.push(("o-down-time", (now_ms - m.odown_since).to_string()));
    }
    if let Some(f) = &m.failover {
        v.push(("failover-state", f.state.as_str().into()));
    }
    v
}

fn replica_fields(r: &Instance, m: &Master, now_ms: i64) -> Vec<(&'static str, String)> {
    let mut flags = String::from("slave");
    if r.sdown_since > 0 {
        flags.push_str(",s_down");
    }
    if r.link.is_none() {
        flags.push_str(",disconnected");
    }
    let _ = m;
    vec![
        ("name", r.key()),
        ("ip", r.ip.clone()),
        ("port", r.port.to_string()),
        ("runid", r.run_id.clone()),
        ("flags", flags),
        ("link-pending-commands", "0".into()),
        ("link-refcount", "1".into()),
        (
            "last-ping-sent",
            if r.ping_pending_ms > 0 {
                (now_ms - r.ping_pending_ms).to_string()
            } else {
                "0".into()
            },
        ),
        (
            "last-ok-ping-reply",
            (now_ms - r.last_ok_ping_ms).to_string(),
        ),
        ("last-ping-reply", (now_ms - r.last_ok_ping_ms).to_string()),
        ("down-after-milliseconds", m.conf.down_after_ms.to_string()),
        (
            "info-refresh",
            if r.info_ms > 0 {
                (now_ms - r.info_ms).to_string()
            } else {
                "0".into()
            },
        ),
        (
            "role-reported",
            if r.info.is_master {
                "master".into()
            } else {
                "slave".into()
            },
        ),
        (
            "role-reported-time",
            (now_ms - r.role_change_ms).to_string(),
        ),
        (
            "master-link-down-time",
            if r.info.link_up {
                "0".into()
            } else {
                (r.info.link_down_since_secs.max(0) * 1000).to_string()
            },
        ),
        (
            "master-link-status",
            if r.info.link_up {
                "ok".into()
            } else {
                "err".into()
            },
        ),
        ("master-host", r.info.master_host.clone()),
        ("master-port", r.info.master_port.to_string()),
        ("slave-priority", r.info.priority.to_string()),
        ("slave-repl-offset", r.info.repl_offset.to_string()),
        ("replica-announced", (r.info.announced as i32).to_string()),
    ]
}

fn peer_fields(p: &Peer, now_ms: i64) -> Vec<(&'static str, String)> {
    let mut flags = String::from("sentinel");
    if p.link.is_none() {
        flags.push_str(",disconnected");
    }
    let (leader, epoch) = p.leader.clone().unwrap_or(("*".into(), 0));
    vec![
        ("name", p.runid.clone()),
        ("ip", p.ip.clone()),
        ("port", p.port.to_string()),
        ("runid", p.runid.clone()),
        ("flags", flags),
        ("link-pending-commands", "0".into()),
        ("link-refcount", "1".into()),
        (
            "last-ping-sent",
            if p.ping_pending_ms > 0 {
                (now_ms - p.ping_pending_ms).to_string()
            } else {
                "0".into()
            },
        ),
        (
            "last-ok-ping-reply",
            (now_ms - p.last_ok_ping_ms).to_string(),
        ),
        ("last-ping-reply", (now_ms - p.last_ok_ping_ms).to_string()),
        ("last-hello-message", (now_ms - p.hello_ms).to_string()),
        ("voted-leader", leader),
        ("voted-leader-epoch", epoch.to_string()),
    ]
}

fn sentinel_state<'a>(ctx: &'a mut Ctx) -> Result<&'a mut Sentinel, ErrorReply> {
    ctx.srv.sentinel.as_mut().ok_or(ErrorReply::lit(
        "ERR This instance has sentinel support disabled",
    ))
}

fn arg_str(ctx: &Ctx, i: usize) -> String {
    String::from_utf8_lossy(ctx.arg(i)).into_owned()
}

/// ```text
/// SENTINEL <subcommand> [arguments]
/// ```
fn sentinel(ctx: &mut Ctx) -> CmdResult {
    let res = subcommand(ctx);
    // What the subcommand decided (events, new or closed links, a vote
    // persisted) is carried out before the reply goes out.
    ctx.srv.sentinel_drive();
    res
}

fn subcommand(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now_ms;
    let sub = arg_str(ctx, 1).to_ascii_lowercase();
    let argc = ctx.argc();
    match (sub.as_str(), argc) {
        ("masters", 2) => sub_masters(ctx, now),
        ("master", 3) => sub_master(ctx, now),
        ("replicas" | "slaves", 3) => sub_replicas(ctx, now),
        ("sentinels", 3) => sub_sentinels(ctx, now),
        ("get-master-addr-by-name", 3) => sub_get_master_addr_by_name(ctx),
        ("is-master-down-by-addr", 6) => sub_is_master_down_by_addr(ctx, now),
        ("myid", 2) => sub_myid(ctx),
        ("failover", 3) => sub_failover(ctx, now),
        ("reset", 3) => sub_reset(ctx),
        ("ckquorum", 3) => sub_ckquorum(ctx, now),
        ("flushconfig", 2) => sub_flushconfig(ctx),
        ("monitor", 6) => sub_monitor(ctx, now),
        ("remove", 3) => sub_remove(ctx),
        ("set", n) if n >= 5 && n % 2 == 1 => sub_set(ctx, n),
        ("config", n) if n >= 4 => sub_config(ctx, n),
        ("info-cache", n) => sub_info_cache(ctx, now, n),
        ("simulate-failure", n) => sub_simulate_failure(ctx, n),
        ("help", 2) => sub_help(ctx),
        _ => Err(ErrorReply::new(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try SENTINEL HELP.",
            arg_str(ctx, 1)
        ))),
    }
}

/// SENTINEL MASTERS
fn sub_masters(ctx: &mut Ctx, now: i64) -> CmdResult {
    let s = sentinel_state(ctx)?;
    let all: Vec<_> = s.masters.values().map(|m| master_fields(m, now)).collect();
    ctx.client.array(all.len());
    for f in all {
        pairs(ctx.client, &f);
    }
    Ok(())
}

/// SENTINEL MASTER <name>
fn sub_master(ctx: &mut Ctx, now: i64) -> CmdResult {
    let name = arg_str(ctx, 2);
    let s = sentinel_state(ctx)?;
    let f = master_fields(s.masters.get(&name).ok_or(NO_MASTER)?, now);
    pairs(ctx.client, &f);
    Ok(())
}

/// SENTINEL REPLICAS <name> (and its old name SLAVES)
fn sub_replicas(ctx: &mut Ctx, now: i64) -> CmdResult {
    let name = arg_str(ctx, 2);
    let s = sentinel_state(ctx)?;
    let m = s.masters.get(&name).ok_or(NO_MASTER)?;
    let all: Vec<_> = m
        .replicas
        .values()
        .map(|r| replica_fields(r, m, now))
        .collect();
    ctx.client.array(all.len());
    for f in all {
        pairs(ctx.client, &f);
    }
    Ok(())
}

/// SENTINEL SENTINELS <name>
fn sub_sentinels(ctx: &mut Ctx, now: i64) -> CmdResult {
    let name = arg_str(ctx, 2);
    let s = sentinel_state(ctx)?;
    let m = s.masters.get(&name).ok_or(NO_MASTER)?;
    let all: Vec<_> = m.sentinels.values().map(|p| peer_fields(p, now)).collect();
    ctx.client.array(all.len());
    for f in all {
        pairs(ctx.client, &f);
    }
    Ok(())
}

/// SENTINEL GET-MASTER-ADDR-BY-NAME <name>
fn sub_get_master_addr_by_name(ctx: &mut Ctx) -> CmdResult {
    let name = arg_str(ctx, 2);
    let s = sentinel_state(ctx)?;
    match s.masters.get(&name) {
        Some(m) => {
            let (ip, port) = m.current_addr();
            let port = port.to_string();
            ctx.client.array(2);
            ctx.client.bulk(ip.as_bytes());
            ctx.client.bulk(port.as_bytes());
        }
        None => ctx.client.null_array(),
    }
    Ok(())
}

/// SENTINEL IS-MASTER-DOWN-BY-ADDR <ip> <port> <epoch> <runid>
fn sub_is_master_down_by_addr(ctx: &mut Ctx, now: i64) -> CmdResult {
    sentinel_state(ctx)?;
    let ip = arg_str(ctx, 2);
    let port = ctx.int_arg(3)? as u16;
    let epoch = ctx.int_arg(4)?.max(0) as u64;
    let runid = arg_str(ctx, 5);
    let (down, leader, e) = ctx
        .srv
        .with_sentinel(|s| s.is_master_down(&ip, port, epoch, &runid, now))
        .unwrap_or((false, "*".into(), 0));
    ctx.client.array(3);
    ctx.client.int(down as i64);
    ctx.client.bulk(leader.as_bytes());
    ctx.client.int(e as i64);
    Ok(())
}

/// SENTINEL MYID
fn sub_myid(ctx: &mut Ctx) -> CmdResult {
    let id = sentinel_state(ctx)?.myid.clone();
    ctx.client.bulk(id.as_bytes());
    Ok(())
}

/// SENTINEL FAILOVER <name>
fn sub_failover(ctx: &mut Ctx, now: i64) -> CmdResult {
    let name = arg_str(ctx, 2);
    let s = sentinel_state(ctx)?;
    let m = s.masters.get(&name).ok_or(NO_MASTER)?;
    if m.failover.is_some() {
        return Err(ErrorReply::lit("INPROG Failover already in progress"));
    }
    if !m
        .replicas
        .values()
        .any(|r| r.sdown_since == 0 && r.link.is_some() && r.info.priority != 0)
    {
        return Err(ErrorReply::lit(
            "NOGOODSLAVE No suitable replica to promote",
        ));
    }
    ctx.srv
        .with_sentinel(|s| s.start_failover(&name, now, true));
    ctx.client.ok();
    Ok(())
}

/// SENTINEL RESET <pattern>
fn sub_reset(ctx: &mut Ctx) -> CmdResult {
    let pat = ctx.arg(2).to_vec();
    let s = sentinel_state(ctx)?;
    let names: Vec<String> = s
        .masters
        .keys()
        .filter(|n| crate::util::glob::glob_match(&pat, n.as_bytes(), false))
        .cloned()
        .collect();
    for n in &names {
        let m = s.masters.get_mut(n).unwrap();
        m.replicas.clear();
        m.sentinels.clear();
        m.failover = None;
        m.odown_since = 0;
        m.inst.sdown_since = 0;
        m.leader = None;
        s.dirty = true;
    }
    for n in &names {
        s.event(Event::ResetMaster, n, &Who::Master, "");
    }
    ctx.client.int(names.len() as i64);
    Ok(())
}

/// SENTINEL CKQUORUM <name>
fn sub_ckquorum(ctx: &mut Ctx, now: i64) -> CmdResult {
    let name = arg_str(ctx, 2);
    let s = sentinel_state(ctx)?;
    let m = s.masters.get(&name).ok_or(NO_MASTER)?;
    let usable = 1 + m
        .sentinels
        .values()
        .filter(|p| p.link.is_some() && now - p.last_ok_ping_ms < 5000)
        .count();
    let voters = m.sentinels.len() + 1;
    let majority = voters / 2 + 1;
    if usable < m.conf.quorum {
        return Err(ErrorReply::new(format!("NOQUORUM {usable} usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master")));
    }
    if usable < majority {
        return Err(ErrorReply::new(format!("NOQUORUM {usable} usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover")));
    }
    ctx.client.simple(&format!(
        "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
    ));
    Ok(())
}

/// SENTINEL FLUSHCONFIG
fn sub_flushconfig(ctx: &mut Ctx) -> CmdResult {
    let s = sentinel_state(ctx)?;
    s.flush_config()
        .map_err(|e| ErrorReply::new(format!("ERR Failed to save config: {e}")))?;
    ctx.client.ok();
    Ok(())
}

/// SENTINEL MONITOR <name> <ip> <port> <quorum>
fn sub_monitor(ctx: &mut Ctx, now: i64) -> CmdResult {
    let (name, ip) = (arg_str(ctx, 2), arg_str(ctx, 3));
    let port = ctx.int_arg(4)?;
    let quorum = ctx.int_arg(5)?;
    if quorum <= 0 {
        return Err(ErrorReply::lit("ERR Quorum must be 1 or greater."));
    }
    if !(1..=65535).contains(&port) {
        return Err(ErrorReply::lit("ERR Invalid port number"));
    }
    let s = sentinel_state(ctx)?;
    if !s.conf.host_allowed(&ip) {
        return Err(ErrorReply::lit(
            "ERR Invalid IP address or hostname specified",
        ));
    }
    if s.masters.contains_key(&name) {
        return Err(ErrorReply::lit("ERR Duplicated master name"));
    }
    let mut conf = s.conf.clone();
    conf.masters.clear();
    conf.apply(&[
        "monitor".into(),
        name.clone(),
        ip,
        port.to_string(),
        quorum.to_string(),
    ])
    .map_err(|e| ErrorReply::new(format!("ERR {e}")))?;
    let fresh = Sentinel::new(conf, s.config_path.clone(), now);
    let m = fresh.masters.into_values().next().expect("one master");
    s.masters.insert(name.clone(), m);
    s.dirty = true;
    s.event(
        Event::Monitor,
        &name,
        &Who::Master,
        &format!("quorum {quorum}"),
    );
    ctx.client.ok();
    Ok(())
}

/// SENTINEL REMOVE <name>
fn sub_remove(ctx: &mut Ctx) -> CmdResult {
    let name = arg_str(ctx, 2);
    let s = sentinel_state(ctx)?;
    if !s.masters.contains_key(&name) {
        return Err(NO_MASTER);
    }
    s.event(Event::MonitorExit, &name, &Who::Master, "");
    s.masters.remove(&name);
    s.dirty = true;
    ctx.client.ok();
    Ok(())
}

/// SENTINEL SET <name> <option> <value> ...
fn sub_set(ctx: &mut Ctx, n: usize) -> CmdResult {
    let name = arg_str(ctx, 2);
    let args: Vec<String> = (3..n).map(|i| arg_str(ctx, i)).collect();
    let s = sentinel_state(ctx)?;
    let m = s.masters.get_mut(&name).ok_or(NO_MASTER)?;
    for kv in args.chunks(2) {
        let opt = kv[0].to_ascii_lowercase();
        if matches!(
            opt.as_str(),
            "notification-script" | "client-reconfig-script"
        ) && s.conf.deny_scripts_reconfig
        {
            return Err(ErrorReply::lit("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration"));
        }
        if opt == "quorum" {
            let q: usize = kv[1].parse().map_err(|_| errors::NOT_INT)?;
            if q == 0 {
                return Err(ErrorReply::lit("ERR Quorum must be 1 or greater."));
            }
            m.conf.quorum = q;
            continue;
        }
        let mut tmp = crate::sentinel::config::SentinelConf::new();
        tmp.masters.push(m.conf.clone());
        tmp.apply(&[opt.clone(), name.clone(), kv[1].clone()])
            .map_err(|_| {
                ErrorReply::new(format!(
                    "ERR Invalid argument '{}' for SENTINEL SET '{opt}'",
                    kv[1]
                ))
            })?;
        m.conf = tmp.masters.pop().expect("the master");
    }
    // New credentials: the links reconnect with them (Redis drops
    // them too; links opened between MONITOR and this SET would
    // otherwise stay unauthenticated).
    if args
        .chunks(2)
        .any(|kv| links_reset_by(&kv[0]) == Some(Links::Instances))
    {
        m.drop_links(Links::Instances);
    }
    s.dirty = true;
    ctx.client.ok();
    Ok(())
}

/// SENTINEL CONFIG GET <param>
/// SENTINEL CONFIG SET <param> <value>
fn sub_config(ctx: &mut Ctx, n: usize) -> CmdResult {
    let s = sentinel_state(ctx)?;
    let c = &s.conf;
    let all = [
        (
            "resolve-hostnames",
            if c.resolve_hostnames { "yes" } else { "no" }.to_string(),
        ),
        (
            "announce-hostnames",
            if c.announce_hostnames { "yes" } else { "no" }.to_string(),
        ),
        ("announce-ip", c.announce_ip.clone().unwrap_or_default()),
        ("announce-port", c.announce_port.unwrap_or(0).to_string()),
        ("sentinel-user", c.sentinel_user.clone().unwrap_or_default()),
        ("sentinel-pass", c.sentinel_pass.clone().unwrap_or_default()),
    ];
    if ctx.arg_is(2, "get") && n == 4 {
        let pat = ctx.arg(3).to_vec();
        let hits: Vec<_> = all
            .iter()
            .filter(|(k, _)| crate::util::glob::glob_match(&pat, k.as_bytes(), true))
            .cloned()
            .collect();
        pairs(ctx.client, &hits);
    } else if ctx.arg_is(2, "set") && n == 5 {
        let (k, v) = (arg_str(ctx, 3), arg_str(ctx, 4));
        // Redis 7.0 changes these six at run time and nothing else: not
        // deny-scripts-reconfig, the guard on the scripts' paths.
        if !all.iter().any(|(name, _)| name.eq_ignore_ascii_case(&k)) {
            return Err(ErrorReply::new(format!(
                "ERR Invalid argument '{k}' to SENTINEL CONFIG SET"
            )));
        }
        let s = sentinel_state(ctx)?;
        s.conf
            .apply(&[k.to_ascii_lowercase(), v.clone()])
            .map_err(|_| {
                ErrorReply::new(format!(
                    "ERR Invalid value '{v}' to SENTINEL CONFIG SET '{k}'"
                ))
            })?;
        s.flush_config().map_err(|e| {
            tracing::warn!(
                "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
            );
            ErrorReply::lit("ERR Failed to save config file. Check server logs.")
        })?;
        if let Some(which) = links_reset_by(&k.to_ascii_lowercase()) {
            for m in s.masters.values_mut() {
                m.drop_links(which);
            }
        }
        ctx.client.ok();
    } else {
        return Err(errors::SYNTAX);
    }
    Ok(())
}

/// SENTINEL INFO-CACHE [<name> ...]
fn sub_info_cache(ctx: &mut Ctx, now: i64, n: usize) -> CmdResult {
    let wanted: Vec<String> = (2..n).map(|i| arg_str(ctx, i)).collect();
    let s = sentinel_state(ctx)?;
    let caches: Vec<(String, Vec<InfoCache>)> = s
        .masters
        .values()
        .filter(|m| wanted.is_empty() || wanted.contains(&m.conf.name))
        .map(|m| {
            let infos = std::iter::once(&m.inst)
                .chain(m.replicas.values())
                .map(|i| match i.info_ms {
                    0 => (0, None),
                    t => (now - t, Some(i.info_text.clone())),
                })
                .collect();
            (m.conf.name.clone(), infos)
        })
        .collect();
    ctx.client.array(caches.len() * 2);
    for (name, infos) in caches {
        ctx.client.bulk(name.as_bytes());
        ctx.client.array(infos.len());
        for (age, text) in infos {
            ctx.client.array(2);
            ctx.client.int(age);
            match text {
                Some(t) => ctx.client.bulk(t.as_bytes()),
                None => ctx.client.null(),
            }
        }
    }
    Ok(())
}

/// SENTINEL SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]
fn sub_simulate_failure(ctx: &mut Ctx, n: usize) -> CmdResult {
    use crate::sentinel::{
        SIMFAILURE_CRASH_AFTER_ELECTION as ELECTION, SIMFAILURE_CRASH_AFTER_PROMOTION as PROMOTION,
    };
    let mut flags = 0;
    for i in 2..n {
        if ctx.arg_is(i, "crash-after-election") {
            flags |= ELECTION;
        } else if ctx.arg_is(i, "crash-after-promotion") {
            flags |= PROMOTION;
        } else if ctx.arg_is(i, "help") {
            ctx.client.array(2);
            ctx.client.bulk(b"crash-after-election");
            ctx.client.bulk(b"crash-after-promotion");
            return Ok(());
        } else {
            return Err(ErrorReply::lit("ERR Unknown failure simulation specified"));
        }
    }
    if flags & ELECTION != 0 {
        tracing::warn!("Failure simulation: this Sentinel will crash after being successfully elected as failover leader");
    }
    if flags & PROMOTION != 0 {
        tracing::warn!("Failure simulation: this Sentinel will crash after promoting the selected replica to master");
    }
    sentinel_state(ctx)?.simfailure = flags;
    ctx.client.ok();
    Ok(())
}

/// SENTINEL HELP
fn sub_help(ctx: &mut Ctx) -> CmdResult {
    super::help_reply(
        ctx,
        &[
            "MASTERS",
            "MASTER <name>",
            "REPLICAS <name>",
            "SENTINELS <name>",
            "GET-MASTER-ADDR-BY-NAME <name>",
            "IS-MASTER-DOWN-BY-ADDR <ip> <port> <epoch> <runid>",
            "RESET <pattern>",
            "FAILOVER <name>",
            "CKQUORUM <name>",
            "FLUSHCONFIG",
            "MYID",
            "MONITOR <name> <ip> <port> <quorum>",
            "REMOVE <name>",
            "SET <name> <option> <value> ...",
            "CONFIG GET <param>",
            "CONFIG SET <param> <value>",
            "INFO-CACHE [<name> ...]",
            "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
        ],
    )
}
