//! Prometheus exposition of the INFO figures (pure rendering).
//!
//! `Server::metrics_snapshot` copies the figures out of the server (a brief
//! borrow); `render` turns a snapshot into the Prometheus text format
//! (version 0.0.4) with HELP and TYPE lines. Names follow the widely used
//! redis_exporter (`redis_` prefix, counters end in `_total`, bytes in
//! `_bytes`), so its dashboards and alerts work against picket unchanged.
//! The HTTP side lives in `net::metrics`.

use std::fmt::Write;

use super::Server;

/// The figures exported, copied out of the server at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// "master" or "slave" (INFO's spelling).
    pub role: &'static str,
    pub run_id: String,
    pub tcp_port: u16,
    pub process_id: u32,
    pub maxmemory_policy: &'static str,
    pub uptime_seconds: i64,
    pub connected_clients: u64,
    pub blocked_clients: u64,
    pub memory_used: u64,
    pub memory_peak: u64,
    pub memory_max: u64,
    pub commands_processed: u64,
    pub connections_received: u64,
    pub rejected_connections: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub instantaneous_ops_per_sec: f64,
    pub pubsub_channels: u64,
    pub pubsub_patterns: u64,
    pub connected_slaves: u64,
    /// Changes since the last save.
    pub rdb_changes_since_last_save: u64,
    /// Per database with keys: (index, keys, keys with a TTL, avg TTL ms).
    pub dbs: Vec<(usize, u64, u64, i64)>,
    /// Per command: (name, calls, microseconds, rejected, failed), by name.
    pub commands: Vec<(String, u64, u64, u64, u64)>,
    /// Error replies by code, by code.
    pub errors: Vec<(String, u64)>,
}

impl Server {
    /// Copies the exported figures (see `render`).
    pub fn metrics_snapshot(&self, now_ms: i64) -> Snapshot {
        let s = &self.stats;
        let mut commands: Vec<_> = s
            .commands
            .iter()
            .map(|(n, c)| {
                (
                    n.to_string(),
                    c.calls,
                    c.usec,
                    c.rejected_calls,
                    c.failed_calls,
                )
            })
            .collect();
        commands.sort();
        let mut errors: Vec<_> = s.errors.iter().map(|(k, v)| (k.clone(), *v)).collect();
        errors.sort();
        let used = self.used_memory() as u64;
        Snapshot {
            role: if self.keyspace.is_replica {
                "slave"
            } else {
                "master"
            },
            run_id: self.run_id.clone(),
            tcp_port: self.tcp_port,
            process_id: std::process::id(),
            maxmemory_policy: self.config.maxmemory_policy.name(),
            uptime_seconds: (now_ms - self.start_ms) / 1000,
            connected_clients: self.clients.len() as u64,
            blocked_clients: self.blocked_clients() as u64,
            memory_used: used,
            memory_peak: (self.peak_memory as u64).max(used),
            memory_max: self.config.maxmemory,
            commands_processed: s.total_commands_processed,
            connections_received: s.total_connections_received,
            rejected_connections: s.rejected_connections,
            net_input_bytes: s.total_net_input_bytes,
            net_output_bytes: s.total_net_output_bytes,
            keyspace_hits: self.keyspace.hits,
            keyspace_misses: self.keyspace.misses,
            expired_keys: s.expired_keys,
            evicted_keys: s.evicted_keys,
            instantaneous_ops_per_sec: s.instantaneous_ops,
            pubsub_channels: self.pubsub.channels.len() as u64,
            pubsub_patterns: self.pubsub.patterns.len() as u64,
            connected_slaves: 0,
            rdb_changes_since_last_save: self.dirty,
            dbs: self
                .keyspace
                .dbs
                .iter()
                .enumerate()
                .filter(|(_, d)| !d.is_empty())
                .map(|(i, d)| (i, d.len() as u64, d.expires.len() as u64, d.avg_ttl))
                .collect(),
            commands,
            errors,
        }
    }
}

/// Escapes a label value (backslash, double quote, newline).
fn label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for ch in v.chars() {
        match ch {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Writes the HELP and TYPE lines of a family.
fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// A family with one unlabelled sample.
fn single(out: &mut String, name: &str, kind: &str, help: &str, v: impl std::fmt::Display) {
    head(out, name, kind, help);
    let _ = writeln!(out, "{name} {v}");
}

/// Renders the snapshot in the Prometheus text format.
pub fn render(s: &Snapshot) -> String {
    let mut o = String::with_capacity(4096 + s.commands.len() * 256);
    let gauges: [(&str, &str, u64); 10] = [
        ("redis_up", "Whether the server is up", 1),
        (
            "redis_connected_clients",
            "Number of client connections",
            s.connected_clients,
        ),
        (
            "redis_blocked_clients",
            "Clients blocked on a blocking call",
            s.blocked_clients,
        ),
        (
            "redis_memory_used_bytes",
            "Bytes allocated by the server (INFO used_memory)",
            s.memory_used,
        ),
        (
            "redis_memory_used_peak_bytes",
            "Peak of used_memory",
            s.memory_peak,
        ),
        (
            "redis_memory_max_bytes",
            "The maxmemory setting (0 = no limit)",
            s.memory_max,
        ),
        (
            "redis_pubsub_channels",
            "Channels with subscribers",
            s.pubsub_channels,
        ),
        (
            "redis_pubsub_patterns",
            "Patterns with subscribers",
            s.pubsub_patterns,
        ),
        (
            "redis_connected_slaves",
            "Number of connected replicas",
            s.connected_slaves,
        ),
        (
            "redis_rdb_changes_since_last_save",
            "Changes to the dataset since the last save",
            s.rdb_changes_since_last_save,
        ),
    ];
    for (name, help, v) in gauges {
        single(&mut o, name, "gauge", help, v);
    }
    single(
        &mut o,
        "redis_uptime_in_seconds",
        "gauge",
        "Seconds since the server started",
        s.uptime_seconds,
    );
    single(
        &mut o,
        "redis_instantaneous_ops_per_sec",
        "gauge",
        "Commands processed per second, recent average",
        fmt_f64(s.instantaneous_ops_per_sec),
    );
    let counters: [(&str, &str, u64); 9] = [
        (
            "redis_commands_processed_total",
            "Commands processed by the server",
            s.commands_processed,
        ),
        (
            "redis_connections_received_total",
            "Connections accepted by the server",
            s.connections_received,
        ),
        (
            "redis_rejected_connections_total",
            "Connections rejected (maxclients, protected mode)",
            s.rejected_connections,
        ),
        (
            "redis_net_input_bytes_total",
            "Bytes read from the network",
            s.net_input_bytes,
        ),
        (
            "redis_net_output_bytes_total",
            "Bytes written to the network",
            s.net_output_bytes,
        ),
        (
            "redis_keyspace_hits_total",
            "Successful key lookups",
            s.keyspace_hits,
        ),
        (
            "redis_keyspace_misses_total",
            "Failed key lookups",
            s.keyspace_misses,
        ),
        (
            "redis_expired_keys_total",
            "Keys deleted because their TTL passed",
            s.expired_keys,
        ),
        (
            "redis_evicted_keys_total",
            "Keys evicted under maxmemory",
            s.evicted_keys,
        ),
    ];
    for (name, help, v) in counters {
        single(&mut o, name, "counter", help, v);
    }

    head(
        &mut o,
        "redis_instance_info",
        "gauge",
        "Information about the Redis instance",
    );
    let _ = writeln!(
        o,
        "redis_instance_info{{role=\"{}\",redis_version=\"7.0.15\",redis_mode=\"standalone\",maxmemory_policy=\"{}\",tcp_port=\"{}\",run_id=\"{}\",process_id=\"{}\"}} 1",
        s.role,
        s.maxmemory_policy,
        s.tcp_port,
        label(&s.run_id),
        s.process_id
    );

    head(
        &mut o,
        "redis_db_keys",
        "gauge",
        "Total number of keys by DB",
    );
    for (db, keys, ..) in &s.dbs {
        let _ = writeln!(o, "redis_db_keys{{db=\"db{db}\"}} {keys}");
    }
    head(
        &mut o,
        "redis_db_keys_expiring",
        "gauge",
        "Total number of expiring keys by DB",
    );
    for (db, _, exp, _) in &s.dbs {
        let _ = writeln!(o, "redis_db_keys_expiring{{db=\"db{db}\"}} {exp}");
    }
    head(
        &mut o,
        "redis_db_avg_ttl_seconds",
        "gauge",
        "Avg TTL in seconds",
    );
    for (db, _, _, ttl) in &s.dbs {
        let _ = writeln!(
            o,
            "redis_db_avg_ttl_seconds{{db=\"db{db}\"}} {}",
            fmt_f64(*ttl as f64 / 1000.0)
        );
    }

    type CmdField = fn(&(String, u64, u64, u64, u64)) -> String;
    let per_cmd: [(&str, &str, CmdField); 4] = [
        (
            "redis_commands_total",
            "Total number of calls per command",
            |c| c.1.to_string(),
        ),
        (
            "redis_commands_duration_seconds_total",
            "Total amount of time in seconds spent per command",
            |c| fmt_f64(c.2 as f64 / 1e6),
        ),
        (
            "redis_commands_rejected_calls_total",
            "Total number of calls rejected per command",
            |c| c.3.to_string(),
        ),
        (
            "redis_commands_failed_calls_total",
            "Total number of calls failed per command",
            |c| c.4.to_string(),
        ),
    ];
    for (name, help, f) in per_cmd {
        head(&mut o, name, "counter", help);
        for c in &s.commands {
            let _ = writeln!(o, "{name}{{cmd=\"{}\"}} {}", label(&c.0), f(c));
        }
    }

    head(
        &mut o,
        "redis_errors_total",
        "counter",
        "Total number of errors per error type",
    );
    for (code, n) in &s.errors {
        let _ = writeln!(o, "redis_errors_total{{err=\"{}\"}} {n}", label(code));
    }
    o
}

/// Formats a float the way Prometheus clients do: integers without a
/// fraction, others in the shortest round-trip form.
fn fmt_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            role: "master",
            run_id: "abc".into(),
            tcp_port: 6379,
            process_id: 42,
            maxmemory_policy: "allkeys-lru",
            uptime_seconds: 12,
            connected_clients: 3,
            memory_used: 1_000_000,
            memory_max: 2_000_000,
            commands_processed: 99,
            keyspace_hits: 7,
            keyspace_misses: 2,
            evicted_keys: 5,
            expired_keys: 4,
            instantaneous_ops_per_sec: 12.5,
            dbs: vec![(0, 10, 3, 1500), (3, 1, 0, 0)],
            commands: vec![
                ("config|get".into(), 1, 20, 0, 0),
                ("get".into(), 8, 1_500_000, 1, 2),
            ],
            errors: vec![("ERR".into(), 3), ("WRONGTYPE".into(), 1)],
            ..Snapshot::default()
        }
    }

    fn value_of<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn renders_scalar_figures_with_help_and_type() {
        let t = render(&sample());
        assert!(t.contains("# HELP redis_up "));
        assert!(t.contains("# TYPE redis_up gauge\nredis_up 1\n"));
        assert!(t.contains("# TYPE redis_keyspace_hits_total counter\n"));
        assert_eq!(value_of(&t, "redis_uptime_in_seconds"), Some("12"));
        assert_eq!(value_of(&t, "redis_connected_clients"), Some("3"));
        assert_eq!(value_of(&t, "redis_memory_used_bytes"), Some("1000000"));
        assert_eq!(value_of(&t, "redis_memory_max_bytes"), Some("2000000"));
        assert_eq!(value_of(&t, "redis_commands_processed_total"), Some("99"));
        assert_eq!(value_of(&t, "redis_keyspace_misses_total"), Some("2"));
        assert_eq!(value_of(&t, "redis_evicted_keys_total"), Some("5"));
        assert_eq!(value_of(&t, "redis_expired_keys_total"), Some("4"));
        assert_eq!(
            value_of(&t, "redis_instantaneous_ops_per_sec"),
            Some("12.5")
        );
        assert!(t.contains("redis_instance_info{role=\"master\","));
    }

    #[test]
    fn renders_labelled_families_per_db_command_and_error() {
        let t = render(&sample());
        assert_eq!(value_of(&t, "redis_db_keys{db=\"db0\"}"), Some("10"));
        assert_eq!(value_of(&t, "redis_db_keys{db=\"db3\"}"), Some("1"));
        assert_eq!(
            value_of(&t, "redis_db_keys_expiring{db=\"db0\"}"),
            Some("3")
        );
        assert_eq!(
            value_of(&t, "redis_db_avg_ttl_seconds{db=\"db0\"}"),
            Some("1.5")
        );
        assert_eq!(value_of(&t, "redis_commands_total{cmd=\"get\"}"), Some("8"));
        assert_eq!(
            value_of(&t, "redis_commands_duration_seconds_total{cmd=\"get\"}"),
            Some("1.5")
        );
        assert_eq!(
            value_of(&t, "redis_commands_total{cmd=\"config|get\"}"),
            Some("1")
        );
        assert_eq!(
            value_of(&t, "redis_commands_failed_calls_total{cmd=\"get\"}"),
            Some("2")
        );
        assert_eq!(value_of(&t, "redis_errors_total{err=\"ERR\"}"), Some("3"));
        assert_eq!(
            value_of(&t, "redis_errors_total{err=\"WRONGTYPE\"}"),
            Some("1")
        );
    }

    #[test]
    fn every_family_is_declared_once_and_every_sample_is_declared() {
        let t = render(&sample());
        let mut declared = std::collections::HashSet::new();
        for l in t.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(declared.insert(name.to_string()), "{name} declared twice");
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap();
                assert!(declared.contains(name), "{name} sampled before its TYPE");
                let v = l.rsplit(' ').next().unwrap();
                assert!(v.parse::<f64>().is_ok(), "bad value in {l:?}");
            }
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn snapshot_reads_the_server() {
        let mut srv = Server::new(crate::config::Config::default());
        srv.keyspace
            .add(0, b"k", crate::keyspace::Value::from_bytes(b"v"));
        srv.stats.evicted_keys = 9;
        let s = srv.metrics_snapshot(srv.start_ms + 5_000);
        assert_eq!(s.uptime_seconds, 5);
        assert_eq!(s.dbs, vec![(0, 1, 0, 0)]);
        assert_eq!(s.evicted_keys, 9);
        assert_eq!(s.role, "master");
    }
}
