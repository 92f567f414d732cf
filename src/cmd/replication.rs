//! Replication commands: REPLICAOF/SLAVEOF, REPLCONF, PSYNC, SYNC, ROLE,
//! WAIT (the work is in `crate::replication`).

use super::{errors, flags::*, CmdResult, CommandSpec, Ctx, ErrorReply};
use crate::replication::{LinkState, ReplConf};
use crate::spec;

/// The replication family.
pub static COMMANDS: &[CommandSpec] = &[
    spec!(
        "replicaof",
        3,
        ADMIN | NO_MULTI | STALE,
        0,
        0,
        0,
        "server",
        replicaof
    ),
    spec!(
        "slaveof",
        3,
        ADMIN | NO_MULTI | STALE,
        0,
        0,
        0,
        "server",
        replicaof
    ),
    spec!(
        "replconf",
        -1,
        ADMIN | NO_MULTI | STALE | LOADING,
        0,
        0,
        0,
        "server",
        replconf
    ),
    spec!("psync", -3, ADMIN | NO_MULTI, 0, 0, 0, "server", psync),
    spec!("sync", 1, ADMIN | NO_MULTI, 0, 0, 0, "server", sync),
    spec!("role", 1, FAST | STALE | LOADING, 0, 0, 0, "admin", role),
    spec!("wait", 3, 0, 0, 0, 0, "generic", wait),
];

/// ```text
/// REPLICAOF host port | NO ONE
/// ```
fn replicaof(ctx: &mut Ctx) -> CmdResult {
    if ctx.arg_is(1, "no") && ctx.arg_is(2, "one") {
        if ctx.srv.is_replica() {
            ctx.srv.stop_replication();
        }
        ctx.client.ok();
        return Ok(());
    }
    let host = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    let port = ctx
        .int_arg(2)
        .ok()
        .filter(|p| (0..=65535).contains(p))
        .ok_or(ErrorReply::lit("ERR Invalid master port"))? as u16;
    if let Some(m) = &ctx.srv.repl.master {
        if m.host.eq_ignore_ascii_case(&host) && m.port == port {
            tracing::info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            ctx.client
                .simple("OK Already connected to specified master");
            return Ok(());
        }
    }
    tracing::info!(
        "REPLICAOF {host}:{port} enabled (user request from 'id={} addr={}')",
        ctx.client.id,
        ctx.client.addr
    );
    ctx.srv.start_replication(&host, port);
    ctx.client.ok();
    Ok(())
}

/// Redis's NET_HOST_STR_LEN: the longest host name plus its NUL.
const NET_HOST_STR_LEN: usize = 256;

/// The address a replica announces (REPLCONF ip-address). Redis checks
/// only its length; picket also wants a host name or an IP address, since
/// it is printed into INFO's `slaveN:` lines, which Sentinel and the
/// operator parse: a CR or LF in it would add fields of the replica's
/// choosing (`role:slave`, `master_repl_offset`).
fn announced_host(val: &[u8]) -> Result<String, ErrorReply> {
    if val.len() >= NET_HOST_STR_LEN {
        return Err(ErrorReply::new(format!(
            "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
            val.len()
        )));
    }
    // Letters, digits, '-', '.', and for IPv6 ':' and a zone's '%'.
    let host = val
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"-.:%_".contains(b));
    if !host {
        return Err(ErrorReply::lit(
            "ERR REPLCONF ip-address provided by replica instance is not a host name or an IP address",
        ));
    }
    Ok(String::from_utf8_lossy(val).into_owned())
}

/// ```text
/// REPLCONF option value [option value ...]
/// ```
fn replconf(ctx: &mut Ctx) -> CmdResult {
    if ctx.argc().is_multiple_of(2) {
        return Err(errors::SYNTAX);
    }
    let mut conf = ctx.client.repl_conf.clone().unwrap_or_default();
    for i in (1..ctx.argc()).step_by(2) {
        let val = ctx.arg(i + 1);
        if ctx.arg_is(i, "listening-port") {
            conf.port = ctx
                .int_arg(i + 1)
                .ok()
                .filter(|p| (0..=65535).contains(p))
                .ok_or(errors::NOT_INT)? as u16;
        } else if ctx.arg_is(i, "ip-address") {
            // An empty one announces nothing: the connection's address
            // is shown.
            conf.ip = Some(announced_host(val)?).filter(|ip| !ip.is_empty());
        } else if ctx.arg_is(i, "capa") {
            if val.eq_ignore_ascii_case(b"eof") {
                conf.capa_eof = true;
            } else if val.eq_ignore_ascii_case(b"psync2") {
                conf.capa_psync2 = true;
            }
        } else if ctx.arg_is(i, "ack") || ctx.arg_is(i, "fack") {
            // Only replicas ACK, and they get no reply.
            if ctx.client.flags.replica && ctx.arg_is(i, "ack") {
                let off = ctx.int_arg(i + 1)?;
                let (id, now) = (ctx.client.id, ctx.now_ms);
                ctx.srv.replica_ack(id, off.max(0) as u64, now);
            }
            return Ok(());
        } else if ctx.arg_is(i, "getack") {
            // Only meaningful from our master, on the link task.
            return Ok(());
        } else if ctx.arg_is(i, "rdb-only") || ctx.arg_is(i, "rdb-filter-only") {
        } else {
            return Err(ErrorReply::new(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(ctx.arg(i))
            )));
        }
    }
    ctx.client.repl_conf = Some(conf);
    ctx.client.ok();
    Ok(())
}

fn start_sync(ctx: &mut Ctx, psync: Option<(&str, i64)>) -> CmdResult {
    let now = ctx.now_ms;
    ctx.srv.replica_sync(ctx.client, psync, now)
}

/// ```text
/// PSYNC replicationid offset
/// ```
fn psync(ctx: &mut Ctx) -> CmdResult {
    let replid = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    let offset = ctx.int_arg(2)?;
    if ctx.client.repl_conf.is_none() {
        ctx.client.repl_conf = Some(ReplConf::default());
    }
    start_sync(ctx, Some((&replid, offset)))
}

/// ```text
/// SYNC
/// ```
fn sync(ctx: &mut Ctx) -> CmdResult {
    start_sync(ctx, None)
}

/// ```text
/// ROLE
/// ```
fn role(ctx: &mut Ctx) -> CmdResult {
    let srv = &*ctx.srv;
    let c = &mut *ctx.client;
    if let Some(s) = &srv.sentinel {
        c.array(2);
        c.bulk(b"sentinel");
        c.array(s.masters.len());
        for name in s.masters.keys() {
            c.bulk(name.as_bytes());
        }
        return Ok(());
    }
    match &srv.repl.master {
        None => {
            c.array(3);
            c.bulk(b"master");
            c.int(srv.repl.offset as i64);
            let online: Vec<_> = srv.repl.replicas.values().collect();
            c.array(online.len());
            for r in online {
                c.array(3);
                c.bulk(r.ip.as_bytes());
                c.bulk(r.port.to_string().as_bytes());
                c.bulk(r.ack_offset.to_string().as_bytes());
            }
        }
        Some(m) => {
            c.array(5);
            c.bulk(b"slave");
            c.bulk(m.host.as_bytes());
            c.int(m.port as i64);
            c.bulk(m.state.role_name().as_bytes());
            c.int(if m.state == LinkState::Connected {
                srv.repl.offset as i64
            } else {
                -1
            });
        }
    }
    Ok(())
}

/// ```text
/// WAIT numreplicas timeout
/// ```
fn wait(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.is_replica() {
        return Err(ErrorReply::lit("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let numreplicas = ctx.int_arg(1)?;
    let timeout = ctx.int_arg(2)?;
    if timeout < 0 {
        return Err(errors::TIMEOUT_NEGATIVE);
    }
    let offset = ctx.client.woff;
    let acked = ctx.srv.repl.acked(offset);
    if acked as i64 >= numreplicas || ctx.client.flags.multi || ctx.in_exec {
        ctx.client.int(acked as i64);
        return Ok(());
    }
    // Ask the replicas for their offset now rather than within a second.
    ctx.srv.repl.feed(None, &[b"REPLCONF", b"GETACK", b"*"]);
    let deadline = (timeout > 0).then(|| ctx.now_ms + timeout);
    let state = crate::server::client::BlockState {
        db: ctx.client.db,
        keys: Vec::new(),
        deadline_ms: deadline,
        argv: ctx.args.iter().map(|a| a.to_vec()).collect(),
        timeout_null_bulk: false,
        wait: Some((offset, numreplicas.max(0) as usize)),
    };
    ctx.srv.block_client(ctx.client, state);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announced_address_is_a_host_name_or_an_ip_of_redis_s_length() {
        for ok in [
            "10.0.0.7",
            "fe80::1%eth0",
            "::1",
            "cache-0.cache.ns.svc",
            "",
        ] {
            assert_eq!(announced_host(ok.as_bytes()).unwrap(), ok);
        }
        for bad in [
            "10.0.0.7\r\nrole:slave",
            "a b",
            "x\nmaster_repl_offset:9",
            "1.2.3.4,port=1",
        ] {
            let e = announced_host(bad.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("not a host name"), "{bad:?}: {e}");
        }
        let long = "a".repeat(NET_HOST_STR_LEN);
        assert_eq!(
            announced_host(long.as_bytes()).unwrap_err().to_string(),
            "ERR REPLCONF ip-address provided by replica instance is too long: 256 bytes"
        );
        assert!(announced_host("a".repeat(255).as_bytes()).is_ok());
    }
}
