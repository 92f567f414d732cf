//! Counters behind INFO stats, commandstats, errorstats and SLOWLOG.

use std::collections::HashMap;

/// Per-command counters are updated on every call: a fast hasher keeps that cheap.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Per-command counters (INFO commandstats).
#[derive(Debug, Default, Clone, Copy)]
pub struct CmdStat {
    /// Calls that ran.
    pub calls: u64,
    /// Total microseconds.
    pub usec: u64,
    /// Calls rejected before running (arity, auth, OOM, ...).
    pub rejected_calls: u64,
    /// Calls that ran and replied with an error.
    pub failed_calls: u64,
}

/// Server-wide counters (INFO stats).
#[derive(Debug, Default)]
pub struct Stats {
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
    pub total_net_repl_input_bytes: u64,
    pub total_net_repl_output_bytes: u64,
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub total_reads_processed: u64,
    pub total_writes_processed: u64,
    pub propagated_commands: u64,
    pub expired_stale_perc: f64,
    pub expired_time_cap_reached_count: u64,
    pub expire_cycle_cpu_ms: u64,
    /// Error code → count (INFO errorstats).
    pub errors: HashMap<String, u64>,
    /// Command full name → counters.
    pub commands: FastMap<&'static str, CmdStat>,
    /// Samples for instantaneous_ops_per_sec: (ms, total commands).
    pub ops_samples: Vec<(i64, u64, u64, u64)>,
    pub instantaneous_ops: f64,
    pub instantaneous_input_kbps: f64,
    pub instantaneous_output_kbps: f64,
}

impl Stats {
    /// Counts an error reply by its code (the first word).
    pub fn count_error(&mut self, msg: &str) {
        self.total_error_replies += 1;
        let code = msg.split(' ').next().unwrap_or("ERR");
        // Redis caps the errorstats table at 128 distinct codes.
        if self.errors.len() < 128 || self.errors.contains_key(code) {
            *self.errors.entry(code.to_string()).or_insert(0) += 1;
        }
    }

    /// Resets what CONFIG RESETSTAT resets.
    pub fn reset(&mut self) {
        let keep_conn = 0;
        *self = Stats {
            total_connections_received: keep_conn,
            ..Stats::default()
        };
    }

    /// Records a sample for the instantaneous metrics (called by the cron).
    pub fn sample(&mut self, now_ms: i64) {
        self.ops_samples.push((
            now_ms,
            self.total_commands_processed,
            self.total_net_input_bytes,
            self.total_net_output_bytes,
        ));
        if self.ops_samples.len() > 16 {
            self.ops_samples.remove(0);
        }
        if let (Some(first), Some(last)) = (self.ops_samples.first(), self.ops_samples.last()) {
            let dt = (last.0 - first.0) as f64 / 1000.0;
            if dt > 0.0 {
                self.instantaneous_ops = (last.1 - first.1) as f64 / dt;
                self.instantaneous_input_kbps = (last.2 - first.2) as f64 / dt / 1024.0;
                self.instantaneous_output_kbps = (last.3 - first.3) as f64 / dt / 1024.0;
            }
        }
    }
}

/// One SLOWLOG entry.
#[derive(Debug, Clone)]
pub struct SlowlogEntry {
    /// Increasing id.
    pub id: u64,
    /// Unix time (s).
    pub time: i64,
    /// Duration in microseconds.
    pub micros: u64,
    /// Arguments (at most 32, long ones truncated, as Redis does).
    pub argv: Vec<Vec<u8>>,
    /// Client address.
    pub addr: String,
    /// Client name.
    pub name: String,
}
