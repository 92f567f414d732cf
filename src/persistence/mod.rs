//! Persistence: the RDB format (Redis's own), DUMP/RESTORE payloads, and
//! (later) RDB files and the AOF.

pub mod dump;
pub mod rdb;
pub mod save;
