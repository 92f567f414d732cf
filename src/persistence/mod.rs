//! Persistence: the RDB format (Redis's own), DUMP/RESTORE payloads, RDB
//! snapshot files (`rdb::file` pure, `save` the server side: SAVE, BGSAVE,
//! save rules, shutdown, loading at start-up) and (later) the AOF.

pub mod dump;
pub mod rdb;
pub mod save;
