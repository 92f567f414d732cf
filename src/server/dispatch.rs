//! The command path (Redis: processCommand and call in server.c).
//!
//! Admission checks run in redis-server 7.0's order, because which error a
//! client sees when several apply is observable: unknown command, arity,
//! authentication, out of memory, RESP2 subscriber context, then MULTI
//! queuing, then the call. `call` runs the handler, writes its error reply,
//! counts stats, feeds the slow log, MONITOR and propagation.

use std::time::Instant;

use super::client::{BlockState, Client};
use super::stats::SlowlogEntry;
use super::Server;
use crate::cmd::table::LookupError;
use crate::cmd::{errors, flags, CommandSpec, Ctx, Propagate};

impl Server {
    /// Runs one request from a client. Replies go to `c.out`.
    pub fn process_command(&mut self, c: &mut Client, args: &[&[u8]], now_ms: i64) {
        c.last_interaction_ms = now_ms;
        let cmd = match self.commands.lookup(args) {
            Ok(cmd) => cmd,
            Err(e) => {
                let msg = match e {
                    LookupError::UnknownCommand => {
                        let mut m = format!(
                            "ERR unknown command '{}', with args beginning with: ",
                            trunc(args[0], 128)
                        );
                        for a in args.iter().skip(1).take(128) {
                            m.push_str(&format!("'{}' ", trunc(a, 128)));
                        }
                        m
                    }
                    LookupError::UnknownSubcommand(parent) => format!(
                        "ERR unknown subcommand '{}'. Try {} HELP.",
                        trunc(args[1], 128),
                        parent.name.to_ascii_uppercase()
                    ),
                };
                self.reject(c, None, args, &msg);
                return;
            }
        };
        // A sentinel answers only its own commands; a data server has no
        // SENTINEL command (Redis: two command tables).
        let sentinel_mode = self.sentinel.is_some();
        // (A subcommand, `acl|setuser`, goes with its container.)
        let family = cmd.name.split('|').next().unwrap_or(cmd.name);
        let allowed = crate::cmd::sentinel::SENTINEL_MODE_COMMANDS.contains(&family);
        if (sentinel_mode && !allowed) || (!sentinel_mode && cmd.name == "sentinel") {
            let mut m = format!(
                "ERR unknown command '{}', with args beginning with: ",
                trunc(args[0], 128)
            );
            for a in args.iter().skip(1).take(128) {
                m.push_str(&format!("'{}' ", trunc(a, 128)));
            }
            self.reject(c, None, args, &m);
            return;
        }
        if !cmd.arity_ok(args.len()) {
            let msg = format!("ERR wrong number of arguments for '{}' command", cmd.name);
            self.reject(c, Some(cmd), args, &msg);
            return;
        }
        if !c.authenticated && !cmd.has(flags::NO_AUTH) {
            self.reject(c, Some(cmd), args, &errors::NOAUTH.0);
            return;
        }
        // The master's own stream is obeyed whatever the state here.
        let obey = c.flags.master;
        // A replica leaves memory to its master, which evicts and sends
        // the DELs (replica-ignore-maxmemory, on in Redis by default).
        if self.config.maxmemory > 0 && !self.is_replica() {
            let out_of_memory = !self.perform_evictions(now_ms);
            let in_multi_queueing = c.flags.multi && !cmd.has(flags::NO_MULTI);
            if out_of_memory && (cmd.has(flags::DENYOOM) || in_multi_queueing) {
                self.reject(c, Some(cmd), args, &errors::OOM.0);
                return;
            }
        }
        // Redis refuses PING too, so clients notice (processCommand).
        if (cmd.has(flags::WRITE) || cmd.name == "ping") && !obey {
            if self.writes_denied_by_disk_error() {
                self.reject(c, Some(cmd), args, crate::persistence::save::MISCONF);
                return;
            }
            if let Some(msg) = self.aof_write_error() {
                self.reject(c, Some(cmd), args, &msg);
                return;
            }
        }
        if cmd.has(flags::WRITE) && !obey {
            if self.not_enough_good_replicas() {
                self.reject(
                    c,
                    Some(cmd),
                    args,
                    "NOREPLICAS Not enough good replicas to write.",
                );
                return;
            }
            if self.is_replica() && self.config.replica_read_only {
                self.reject(
                    c,
                    Some(cmd),
                    args,
                    "READONLY You can't write against a read only replica.",
                );
                return;
            }
        }
        if c.in_resp2_pubsub() && !cmd.has(flags::PUBSUB_CONTEXT) {
            let msg = format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                cmd.name
            );
            self.reject(c, Some(cmd), args, &msg);
            return;
        }
        if !self.config.replica_serve_stale_data
            && !cmd.has(flags::STALE)
            && self
                .repl
                .master
                .as_ref()
                .is_some_and(|m| m.state != crate::replication::LinkState::Connected)
        {
            self.reject(
                c,
                Some(cmd),
                args,
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
            );
            return;
        }
        if c.flags.multi && !cmd.has(flags::NO_MULTI) {
            c.multi_queue
                .push(args.iter().map(|a| a.to_vec()).collect());
            c.simple("QUEUED");
            return;
        }
        self.call(c, cmd, args, now_ms, false, None);
        if !self.ready_keys.is_empty() {
            self.handle_clients_blocked_on_keys(now_ms);
        }
    }

    /// Writes a rejection and counts it; inside MULTI it also dooms EXEC.
    fn reject(
        &mut self,
        c: &mut Client,
        cmd: Option<&'static CommandSpec>,
        args: &[&[u8]],
        msg: &str,
    ) {
        if c.flags.multi {
            c.flags.dirty_exec = true;
        }
        if cmd.is_some_and(|cmd| cmd.name == "exec") {
            // A rejected EXEC ends the transaction (Redis: execCommandAbort).
            crate::cmd::transactions::discard_transaction(self, c);
            let why = msg.strip_prefix("ERR ").unwrap_or(msg);
            c.error(&format!(
                "EXECABORT Transaction discarded because of: {why}"
            ));
            self.stats.count_error("EXECABORT");
            if !self.monitors.is_empty() {
                let now_ms = c.last_interaction_ms;
                self.feed_monitors(c, "exec", args, now_ms);
            }
        } else {
            c.error(msg);
            self.stats.count_error(msg);
        }
        if let Some(cmd) = cmd {
            self.stats
                .commands
                .entry(cmd.name)
                .or_default()
                .rejected_calls += 1;
        }
    }

    /// Executes a command (Redis: call). `in_exec` is set for commands run by
    /// EXEC; `prev_block` when serving a blocked client.
    pub fn call(
        &mut self,
        c: &mut Client,
        cmd: &'static CommandSpec,
        args: &[&[u8]],
        now_ms: i64,
        in_exec: bool,
        prev_block: Option<BlockState>,
    ) {
        let reprocessing = prev_block.is_some();
        let dirty_before = self.dirty;
        if !in_exec {
            self.aof.begin_command();
            self.repl.begin_command();
        }
        self.keyspace.now_ms = now_ms;
        // Set before the call, as Redis does, so CLIENT LIST/INFO show the
        // running command for the calling client.
        c.last_cmd = cmd.name;
        let start = Instant::now();
        let mut ctx = Ctx {
            srv: self,
            client: c,
            args,
            now_ms,
            propagate: Propagate::AsIs,
            in_exec,
            prev_block,
        };
        let res = (cmd.handler)(&mut ctx);
        let propagate = std::mem::take(&mut ctx.propagate);
        let micros = start.elapsed().as_micros() as u64;
        let failed = if let Err(e) = res {
            c.error(&e.0);
            self.stats.count_error(&e.0);
            true
        } else {
            false
        };
        if c.blocked.is_none() && !self.loading {
            let st = self.stats.commands.entry(cmd.name).or_default();
            st.calls += 1;
            st.usec += micros;
            if failed {
                st.failed_calls += 1;
            }
            self.stats.total_commands_processed += 1;
            self.slowlog_push(c, cmd, args, micros, now_ms);
        }
        // After the call, as Redis 7.0 does: EXEC shows after the commands
        // it ran, SELECT with its new db. Admin commands are never shown.
        if !self.monitors.is_empty()
            && !cmd.has(flags::SKIP_MONITOR | flags::ADMIN)
            && !reprocessing
        {
            self.feed_monitors(c, cmd.name, args, now_ms);
        }
        // Keys the command found expired are deleted before it acted, so
        // their DELs go first.
        self.propagate_expired();
        // A save inside the command (SHUTDOWN, SAVE) lowers `dirty`: only
        // growth counts as a change (Redis: call's dirty < 0 → 0).
        let changed = self.dirty > dirty_before;
        if (changed || matches!(propagate, Propagate::Always)) && !cmd.has(flags::NO_PROPAGATE) {
            match propagate {
                Propagate::AsIs | Propagate::Always => self.propagate(c.db, args),
                Propagate::Rewritten(cmds) => {
                    for argv in cmds {
                        let v: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
                        self.propagate(c.db, &v);
                    }
                }
                Propagate::Never => {}
            }
        }
        if !in_exec {
            self.aof.end_command();
            self.repl.end_command();
            if changed {
                c.woff = self.repl.offset;
            }
        }
    }

    /// Propagates DELs for keys that lazy or active expiry removed.
    pub fn propagate_expired(&mut self) {
        if self.keyspace.expired.is_empty() {
            return;
        }
        let expired = std::mem::take(&mut self.keyspace.expired);
        self.stats.expired_keys += expired.len() as u64;
        for (db, key) in expired {
            self.touch_watched_key(db, &key);
            self.propagate(db, &[b"DEL", &key]);
        }
    }

    fn slowlog_push(
        &mut self,
        c: &Client,
        cmd: &CommandSpec,
        args: &[&[u8]],
        micros: u64,
        now_ms: i64,
    ) {
        let threshold = self.config.slowlog_log_slower_than;
        if threshold < 0 || (micros as i64) < threshold || cmd.has(flags::SKIP_SLOWLOG) {
            return;
        }
        // Redis keeps at most 32 arguments and 128 bytes of each, and no
        // secret.
        let secret = super::redact::redacted(cmd.name, args);
        let mut argv: Vec<Vec<u8>> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let a: &[u8] = if secret.contains(&i) {
                super::redact::REDACTED
            } else {
                a
            };
            if i == 31 && args.len() > 32 {
                argv.push(format!("... ({} more arguments)", args.len() - 31).into_bytes());
                break;
            }
            if a.len() > 128 {
                let mut v = a[..128].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
                argv.push(v);
            } else {
                argv.push(a.to_vec());
            }
        }
        let e = SlowlogEntry {
            id: self.slowlog_next_id,
            time: now_ms / 1000,
            micros,
            argv,
            addr: c.addr.clone(),
            name: c.name.clone().unwrap_or_default(),
        };
        self.slowlog_next_id += 1;
        self.slowlog.push_front(e);
        while self.slowlog.len() > self.config.slowlog_max_len.max(0) as usize {
            self.slowlog.pop_back();
        }
    }

    /// Sends a command to MONITOR clients (Redis: replicationFeedMonitors),
    /// with secrets redacted (see `redact`).
    fn feed_monitors(&mut self, c: &mut Client, name: &str, args: &[&[u8]], now_ms: i64) {
        let mut line = format!(
            "{}.{:06} [{} {}]",
            now_ms / 1000,
            (now_ms % 1000) * 1000,
            c.db,
            c.addr
        );
        let secret = super::redact::redacted(name, args);
        for (i, a) in args.iter().enumerate() {
            if secret.contains(&i) {
                line.push_str(" \"(redacted)\"");
                continue;
            }
            line.push_str(" \"");
            for &b in a.iter() {
                match b {
                    b'\\' => line.push_str("\\\\"),
                    b'"' => line.push_str("\\\""),
                    b'\n' => line.push_str("\\n"),
                    b'\r' => line.push_str("\\r"),
                    b'\t' => line.push_str("\\t"),
                    7 => line.push_str("\\a"),
                    8 => line.push_str("\\b"),
                    0x20..=0x7e => line.push(b as char),
                    _ => line.push_str(&format!("\\x{b:02x}")),
                }
            }
            line.push('"');
        }
        let ids = self.monitors.clone();
        for id in ids {
            self.with_client(c, id, |m| m.simple(&line));
        }
    }
}

fn trunc(a: &[u8], n: usize) -> String {
    String::from_utf8_lossy(&a[..a.len().min(n)]).into_owned()
}
