//! INFO rendering (Redis: genRedisInfoString). Field names and meanings
//! follow redis-server 7.0 because clients, Sentinel, exporters and the
//! operator parse them.

use std::fmt::Write;

use super::Server;

/// Sections printed by `INFO` / `INFO default`.
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
/// Extra sections of `INFO all` / `INFO everything`.
const ALL_EXTRA: &[&str] = &["commandstats", "latencystats"];

/// Formats bytes like Redis's bytesToHuman.
pub fn bytes_to_human(n: u64) -> String {
    let n = n as f64;
    let units = [
        (1024f64.powi(5), "P"),
        (1024f64.powi(4), "T"),
        (1024f64.powi(3), "G"),
        (1024f64.powi(2), "M"),
        (1024.0, "K"),
    ];
    for (div, u) in units {
        if n >= div {
            return format!("{:.2}{u}", n / div);
        }
    }
    format!("{}B", n as u64)
}

fn rusage(who: i32) -> (f64, f64) {
    // SAFETY: getrusage writes into the zeroed struct we pass; no aliasing.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(who, &mut ru) != 0 {
            return (0.0, 0.0);
        }
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        (t(ru.ru_stime), t(ru.ru_utime))
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

impl Server {
    /// Renders INFO for the requested sections (empty = default).
    pub fn info(&self, sections: &[String], now_ms: i64) -> String {
        let mut want: Vec<String> = Vec::new();
        let lower: Vec<String> = sections.iter().map(|s| s.to_ascii_lowercase()).collect();
        if self.sentinel.is_some()
            && (lower.is_empty()
                || lower
                    .iter()
                    .any(|s| s == "default" || s == "all" || s == "everything"))
        {
            // Sentinel mode: no data sections (Redis: sentinelInfoCommand).
            want.extend(["server", "clients", "cpu", "stats", "sentinel"].map(String::from));
        } else if lower.is_empty() || lower.iter().any(|s| s == "default") {
            want.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string()));
        }
        if self.sentinel.is_none() && lower.iter().any(|s| s == "all" || s == "everything") {
            want.extend(
                DEFAULT_SECTIONS
                    .iter()
                    .chain(ALL_EXTRA)
                    .map(|s| s.to_string()),
            );
        }
        for s in &lower {
            if !["default", "all", "everything"].contains(&s.as_str()) && !want.contains(s) {
                want.push(s.clone());
            }
        }
        let order: Vec<&str> = DEFAULT_SECTIONS
            .iter()
            .chain(ALL_EXTRA)
            .copied()
            .chain(["sentinel"])
            .collect();
        let mut out = String::new();
        for sec in order {
            if !want.iter().any(|w| w == sec) {
                continue;
            }
            let body = match sec {
                "server" => self.info_server(now_ms),
                "clients" => self.info_clients(),
                "memory" => self.info_memory(),
                "persistence" => self.info_persistence(now_ms),
                "stats" => self.info_stats(),
                "replication" => self.info_replication(now_ms),
                "cpu" => self.info_cpu(),
                "modules" => String::new(),
                "errorstats" => self.info_errorstats(),
                "cluster" => "cluster_enabled:0\r\n".into(),
                "keyspace" => self.info_keyspace(),
                "commandstats" => self.info_commandstats(),
                "latencystats" => String::new(),
                "sentinel" if self.sentinel.is_some() => self.info_sentinel(now_ms),
                _ => continue,
            };
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            let mut title = sec.to_string();
            title[..1].make_ascii_uppercase();
            if sec == "cpu" {
                title = "CPU".into();
            }
            let _ = write!(out, "# {title}\r\n{body}");
        }
        out
    }

    fn info_server(&self, now_ms: i64) -> String {
        let mode = if self.sentinel.is_some() {
            "sentinel"
        } else {
            "standalone"
        };
        let uptime = (now_ms - self.start_ms) / 1000;
        let uname = uname();
        format!(
            "redis_version:7.0.15\r\npicket_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:{mode}\r\nos:{}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\n",
            env!("CARGO_PKG_VERSION"),
            uname,
            std::process::id(),
            self.run_id,
            self.tcp_port,
            now_ms * 1000,
            uptime,
            uptime / 86400,
            self.config.hz,
            self.config.hz,
            self.keyspace.lru_clock,
            self.executable,
            self.config.file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        )
    }

    fn info_clients(&self) -> String {
        let blocked = self.blocked_clients();
        let pubsub = self
            .clients
            .values()
            .filter(|c| {
                c.try_borrow()
                    .map(|c| c.subscriptions() > 0)
                    .unwrap_or(false)
            })
            .count();
        format!(
            "connected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:0\r\npubsub_clients:{}\r\nclients_in_timeout_table:{}\r\n",
            self.clients.len(),
            self.config.maxclients,
            blocked,
            pubsub,
            blocked
        )
    }

    fn info_memory(&self) -> String {
        let used = self.used_memory() as u64;
        let peak = (self.peak_memory as u64).max(used);
        let rss = rss_bytes();
        let total = total_system_memory();
        let maxmem = self.config.maxmemory;
        let dataset_overhead: u64 = self
            .keyspace
            .dbs
            .iter()
            .map(|d| (d.dict.buckets() * 8 + d.expires.buckets() * 8 + d.expires.len() * 56) as u64)
            .sum();
        let clients_mem: u64 = self
            .clients
            .values()
            .filter_map(|c| {
                c.try_borrow()
                    .ok()
                    .map(|c| (c.out.capacity() + c.qbuf) as u64)
            })
            .sum();
        let overhead = dataset_overhead + clients_mem;
        let dataset = used.saturating_sub(overhead);
        format!(
            "used_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{overhead}\r\nused_memory_startup:0\r\nused_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\nallocator_allocated:{used}\r\nallocator_active:{used}\r\nallocator_resident:{rss}\r\ntotal_system_memory:{total}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:0\r\nused_memory_vm_eval:0\r\nused_memory_lua_human:0B\r\nused_memory_scripts_eval:0\r\nnumber_of_cached_scripts:0\r\nnumber_of_functions:0\r\nnumber_of_libraries:0\r\nused_memory_vm_functions:0\r\nused_memory_vm_total:0\r\nused_memory_vm_total_human:0B\r\nused_memory_functions:0\r\nused_memory_scripts:0\r\nused_memory_scripts_human:0B\r\nmaxmemory:{maxmem}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:1.00\r\nallocator_frag_bytes:0\r\nallocator_rss_ratio:1.00\r\nallocator_rss_bytes:0\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\nmem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\nmem_clients_normal:{clients_mem}\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:jemalloc-5.3.0\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
            bytes_to_human(used),
            bytes_to_human(rss),
            bytes_to_human(peak),
            if peak > 0 { used as f64 * 100.0 / peak as f64 } else { 0.0 },
            if used > 0 { dataset as f64 * 100.0 / used as f64 } else { 0.0 },
            bytes_to_human(total),
            bytes_to_human(maxmem),
            self.config.maxmemory_policy.name(),
            if used > 0 { rss as f64 / used as f64 } else { 0.0 },
            rss as i64 - used as i64,
        )
    }

    fn info_persistence(&self, now_ms: i64) -> String {
        let r = &self.rdb;
        let current = r.child.map_or(-1, |c| (now_ms - c.start_ms) / 1000);
        format!(
            "loading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n{}",
            self.dirty,
            r.child.is_some() as i32,
            self.lastsave,
            if r.last_bgsave_ok { "ok" } else { "err" },
            r.last_bgsave_time_sec,
            current,
            r.saves,
            r.last_load_keys_expired,
            r.last_load_keys_loaded,
            self.info_aof(now_ms),
        )
    }

    fn info_stats(&self) -> String {
        let s = &self.stats;
        let (repl_in, repl_out) = (s.total_net_repl_input_bytes, s.total_net_repl_output_bytes);
        let (sync_full, sync_ok, sync_err) = (s.sync_full, s.sync_partial_ok, s.sync_partial_err);
        format!(
            "total_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ntotal_net_repl_input_bytes:{repl_in}\r\ntotal_net_repl_output_bytes:{repl_out}\r\ninstantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:{sync_full}\r\nsync_partial_ok:{sync_ok}\r\nsync_partial_err:{sync_err}\r\nexpired_keys:{}\r\nexpired_stale_perc:{:.2}\r\nexpired_time_cap_reached_count:{}\r\nexpire_cycle_cpu_milliseconds:{}\r\nevicted_keys:{}\r\nevicted_clients:0\r\ntotal_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:0\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntracking_total_keys:0\r\ntracking_total_items:0\r\ntracking_total_prefixes:0\r\nunexpected_error_replies:{}\r\ntotal_error_replies:{}\r\ndump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\nreply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n",
            s.total_connections_received,
            s.total_commands_processed,
            s.instantaneous_ops.round() as u64,
            s.total_net_input_bytes,
            s.total_net_output_bytes,
            s.instantaneous_input_kbps,
            s.instantaneous_output_kbps,
            s.rejected_connections,
            s.expired_keys,
            s.expired_stale_perc * 100.0,
            s.expired_time_cap_reached_count,
            s.expire_cycle_cpu_ms,
            s.evicted_keys,
            self.keyspace.hits,
            self.keyspace.misses,
            self.pubsub.channels.len(),
            self.pubsub.patterns.len(),
            s.unexpected_error_replies,
            s.total_error_replies,
            s.total_reads_processed,
            s.total_writes_processed,
        )
    }

    fn info_cpu(&self) -> String {
        let (sys, user) = rusage(libc::RUSAGE_SELF);
        let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
        format!(
            "used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:{csys:.6}\r\nused_cpu_user_children:{cuser:.6}\r\nused_cpu_sys_main_thread:{sys:.6}\r\nused_cpu_user_main_thread:{user:.6}\r\n"
        )
    }

    fn info_errorstats(&self) -> String {
        let mut v: Vec<_> = self.stats.errors.iter().collect();
        v.sort();
        v.iter()
            .map(|(code, n)| format!("errorstat_{code}:count={n}\r\n"))
            .collect()
    }

    fn info_keyspace(&self) -> String {
        let mut s = String::new();
        for (i, db) in self.keyspace.dbs.iter().enumerate() {
            if !db.is_empty() {
                let _ = write!(
                    s,
                    "db{i}:keys={},expires={},avg_ttl={}\r\n",
                    db.len(),
                    db.expires.len(),
                    db.avg_ttl
                );
            }
        }
        s
    }

    fn info_commandstats(&self) -> String {
        let mut v: Vec<_> = self.stats.commands.iter().collect();
        v.sort_by_key(|(n, _)| *n);
        let mut s = String::new();
        for (name, st) in v {
            let per = if st.calls > 0 {
                st.usec as f64 / st.calls as f64
            } else {
                0.0
            };
            let _ = write!(
                s,
                "cmdstat_{name}:calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
                st.calls, st.usec, st.rejected_calls, st.failed_calls
            );
        }
        s
    }
}

fn uname() -> String {
    // SAFETY: uname fills the zeroed struct; fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "Linux".into();
        }
        let f = |a: &[libc::c_char]| {
            std::ffi::CStr::from_ptr(a.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        format!("{} {} {}", f(&u.sysname), f(&u.release), f(&u.machine))
    }
}

#[cfg(test)]
mod tests {
    use super::bytes_to_human;

    #[test]
    fn human_sizes_match_redis() {
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(1536 * 1024), "1.50M");
    }
}
