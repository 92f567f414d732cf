//! picket: a replicated, self-healing Redis-compatible cache.
//!
//! Crate map (each module's header says what it owns):
//! - [`resp`]: the wire protocol, pure (decode requests, encode replies).
//! - [`config`]: redis.conf parsing, the directive table, CONFIG REWRITE.
//! - [`keyspace`]: databases, the dict, values, expiry.
//! - [`server`]: server state, the command path, clients, INFO, cron.
//! - [`cmd`]: the command table and one file per command family.
//! - [`net`]: listeners and connection drivers (the only socket code).
//! - [`persistence`]: the RDB format, DUMP/RESTORE payloads, files and AOF.
//! - [`alloc`]: allocator accounting behind `used_memory`.
//! - [`replication`], [`sentinel`]: master/replica links and Sentinel mode.
//! - [`operator`]: the Kubernetes operator's resource, builders and controller.
//! - [`util`]: glob matching, Redis number rules, time.

pub mod alloc;
pub mod cmd;
pub mod config;
pub mod keyspace;
pub mod net;
pub mod operator;
pub mod persistence;
pub mod replication;
pub mod resp;
pub mod sentinel;
pub mod server;
pub mod util;
