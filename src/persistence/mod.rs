//! Persistence: the RDB format (Redis's own), DUMP/RESTORE payloads, RDB
//! snapshot files (`rdb::file` pure, `save` the server side: SAVE, BGSAVE,
//! save rules, shutdown, loading at start-up), the append-only file
//! (`aof`), and the offline checker for both (`check`).

pub mod aof;
pub mod check;
pub mod dump;
pub mod rdb;
pub mod save;
