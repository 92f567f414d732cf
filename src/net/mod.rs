//! Networking: listeners and the per-connection driver. The only code that
//! touches sockets for the data server; it moves bytes between sockets and
//! `Server::process_command` and knows nothing about commands.

pub mod connection;
pub mod listener;
pub mod metrics;

pub use listener::{bind_all, serve};
