//! The operator's questions to data pods and sentinels (ROLE, INFO,
//! SENTINEL ..., REPLICAOF, CLIENT KILL): one connection per call over
//! the shared RESP client ([`crate::resp::client`]), every step bounded
//! by [`TIMEOUT`], and helpers to read the replies.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

pub use crate::resp::client::{ClientError, Reply};

/// How long one connect or reply may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// A connection, authenticated as `default` when a password is given.
pub struct Conn(crate::resp::client::Conn);

impl Conn {
    /// Connects to `addr` (`host:port`) and sends AUTH when `password`.
    pub async fn open(addr: &str, password: Option<&str>) -> Result<Conn, ClientError> {
        crate::resp::client::Conn::open(addr, (None, password), TIMEOUT)
            .await
            .map(Conn)
    }
}

impl Deref for Conn {
    type Target = crate::resp::client::Conn;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// One command on a fresh connection.
pub async fn command(
    addr: &str,
    password: Option<&str>,
    args: &[&str],
) -> Result<Reply, ClientError> {
    Conn::open(addr, password).await?.call(args).await
}

/// A reply's array of strings (bulk, status or integer items).
pub fn strings(r: &Reply) -> Vec<String> {
    match r {
        Reply::Array(Some(items)) => items.iter().map(Reply::text).collect(),
        _ => Vec::new(),
    }
}

/// The `field:value` of an INFO reply.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// A field of a flat key/value reply (`SENTINEL MASTER`, one entry of
/// `SENTINEL REPLICAS`, `CONFIG GET`), as [`strings`] gives it.
pub fn field(kv: &[String], key: &str) -> Option<String> {
    kv.chunks(2)
        .find(|c| c.len() == 2 && c[0] == key)
        .map(|c| c[1].clone())
}
