//! A small RESP client for the operator's questions to data pods and
//! sentinels (ROLE, INFO, SENTINEL ..., REPLICAOF, CLIENT KILL): one
//! connection per call, every step bounded by a timeout. Reuses the
//! sentinel's reply parser and the AOF's command encoder.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::persistence::aof::reader::encode_command;
use crate::sentinel::proto::parse_reply;
pub use crate::sentinel::proto::Reply;

/// How long one connect or reply may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// A connection, authenticated when a password is given.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to `addr` (`host:port`) and sends AUTH when `password`.
    pub async fn open(addr: &str, password: Option<&str>) -> Result<Conn, String> {
        let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("{addr}: connect timeout"))?
            .map_err(|e| format!("{addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut c = Conn {
            stream,
            buf: Vec::new(),
        };
        if let Some(p) = password {
            if let Reply::Error(e) = c.call(&["AUTH", p]).await? {
                return Err(format!("{addr}: AUTH: {e}"));
            }
        }
        Ok(c)
    }

    /// Sends one command and reads its reply (an error reply is a reply).
    pub async fn call(&mut self, args: &[&str]) -> Result<Reply, String> {
        self.send(args).await?;
        self.read().await
    }

    /// Sends one command without reading (its reply comes in order with
    /// a subscription's messages).
    pub async fn send(&mut self, args: &[&str]) -> Result<(), String> {
        let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut out = Vec::new();
        encode_command(&mut out, &argv);
        tokio::time::timeout(TIMEOUT, self.stream.write_all(&out))
            .await
            .map_err(|_| "write timeout".to_string())?
            .map_err(|e| e.to_string())
    }

    /// Reads the next reply or push (a subscription's message).
    pub async fn read(&mut self) -> Result<Reply, String> {
        self.read_within(TIMEOUT).await
    }

    /// Reads the next reply, waiting up to `limit`.
    pub async fn read_within(&mut self, limit: Duration) -> Result<Reply, String> {
        loop {
            if let Some((r, used)) = parse_reply(&self.buf)? {
                self.buf.drain(..used);
                return Ok(r);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = tokio::time::timeout(limit, self.stream.read(&mut chunk))
                .await
                .map_err(|_| "reply timeout".to_string())?
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// One command on a fresh connection.
pub async fn command(addr: &str, password: Option<&str>, args: &[&str]) -> Result<Reply, String> {
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
