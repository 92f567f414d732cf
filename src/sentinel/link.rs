//! Sentinel's connections (Redis: instanceLink): a command connection
//! per monitored server and per other sentinel, serving a queue of
//! requests one at a time, and a subscription to `__sentinel__:hello` on
//! every monitored server. Replies and hellos are applied to the state
//! through the server handle; a connection that fails is reported closed
//! and the timer opens a new one.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::proto::{parse_reply, Reply, HELLO_CHANNEL};
use super::Who;
use crate::persistence::aof::reader::encode_command;
use crate::server::Server;

/// What a command connection is asked to do.
#[derive(Debug, Clone)]
pub enum Req {
    /// PING.
    Ping,
    /// INFO.
    Info,
    /// PUBLISH a hello.
    Publish(String),
    /// SENTINEL IS-MASTER-DOWN-BY-ADDR.
    IsMasterDown {
        /// The master's address.
        ip: String,
        /// Port.
        port: u16,
        /// Our current epoch.
        epoch: u64,
        /// Our id when asking for a vote, else `*`.
        runid: String,
    },
    /// REPLICAOF NO ONE (and CONFIG REWRITE).
    Promote,
    /// REPLICAOF ip port (and CONFIG REWRITE).
    ReplicaOf(String, u16),
}

/// The sentinel's handle on a command connection.
#[derive(Debug, Clone)]
pub struct LinkHandle {
    /// Distinguishes it from a later connection to the same instance.
    pub id: u64,
    tx: mpsc::UnboundedSender<Req>,
    info_pending: Rc<Cell<bool>>,
    local_ip: Rc<RefCell<String>>,
}

impl LinkHandle {
    /// Queues a request.
    pub fn send(&self, r: Req) {
        if matches!(r, Req::Info) {
            self.info_pending.set(true);
        }
        let _ = self.tx.send(r);
    }

    /// An INFO is queued or running.
    pub fn info_pending(&self) -> bool {
        self.info_pending.get()
    }

    /// Our address on this connection (announced in hellos).
    pub fn local_ip(&self) -> String {
        let ip = self.local_ip.borrow().clone();
        if ip.is_empty() {
            "127.0.0.1".into()
        } else {
            ip
        }
    }
}

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

/// Connects, authenticates when `auth` has a password, and returns the
/// stream.
async fn connect(
    ip: &str,
    port: u16,
    auth: &(Option<String>, Option<String>),
) -> Result<TcpStream, String> {
    let addr = format!("{ip}:{port}");
    let mut s = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&addr))
        .await
        .map_err(|_| format!("timeout connecting to {addr}"))?
        .map_err(|e| format!("{addr}: {e}"))?;
    let _ = s.set_nodelay(true);
    if let (user, Some(pass)) = auth {
        let mut argv: Vec<&[u8]> = vec![b"AUTH"];
        if let Some(u) = user {
            argv.push(u.as_bytes());
        }
        argv.push(pass.as_bytes());
        let mut buf = Vec::new();
        let r = roundtrip(&mut s, &argv, &mut buf).await?;
        if let Reply::Error(e) = r {
            return Err(format!("AUTH failed on {addr}: {e}"));
        }
    }
    Ok(s)
}

/// Sends one command and reads its reply.
async fn roundtrip(s: &mut TcpStream, argv: &[&[u8]], buf: &mut Vec<u8>) -> Result<Reply, String> {
    let mut out = Vec::new();
    encode_command(&mut out, argv);
    s.write_all(&out).await.map_err(|e| e.to_string())?;
    read_reply(s, buf).await
}

async fn read_reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Reply, String> {
    loop {
        if let Some((r, used)) = parse_reply(buf)? {
            buf.drain(..used);
            return Ok(r);
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut chunk))
            .await
            .map_err(|_| "reply timeout".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Opens a command connection to an instance of master `name`.
pub fn open(
    srv: Weak<RefCell<Server>>,
    name: &str,
    who: Who,
    ip: &str,
    port: u16,
    auth: (Option<String>, Option<String>),
) -> Option<LinkHandle> {
    srv.upgrade()?;
    let id = NEXT_ID.with(|n| {
        let v = n.get();
        n.set(v + 1);
        v
    });
    let (tx, mut rx) = mpsc::unbounded_channel::<Req>();
    let handle = LinkHandle {
        id,
        tx,
        info_pending: Rc::new(Cell::new(false)),
        local_ip: Rc::new(RefCell::new(String::new())),
    };
    let (info_pending, local_ip) = (handle.info_pending.clone(), handle.local_ip.clone());
    let (name, ip) = (name.to_string(), ip.to_string());
    tokio::task::spawn_local(async move {
        let res: Result<(), String> = async {
            let mut s = connect(&ip, port, &auth).await?;
            if let Ok(a) = s.local_addr() {
                *local_ip.borrow_mut() = a.ip().to_string();
            }
            let mut buf = Vec::new();
            while let Some(req) = rx.recv().await {
                let port_s;
                let epoch_s;
                let argvs: Vec<Vec<&[u8]>> = match &req {
                    Req::Ping => vec![vec![b"PING"]],
                    Req::Info => vec![vec![b"INFO"]],
                    Req::Publish(h) => {
                        vec![vec![b"PUBLISH", HELLO_CHANNEL.as_bytes(), h.as_bytes()]]
                    }
                    Req::IsMasterDown {
                        ip,
                        port,
                        epoch,
                        runid,
                    } => {
                        port_s = port.to_string();
                        epoch_s = epoch.to_string();
                        vec![vec![
                            b"SENTINEL",
                            b"is-master-down-by-addr",
                            ip.as_bytes(),
                            port_s.as_bytes(),
                            epoch_s.as_bytes(),
                            runid.as_bytes(),
                        ]]
                    }
                    Req::Promote => {
                        vec![vec![b"SLAVEOF", b"NO", b"ONE"], vec![b"CONFIG", b"REWRITE"]]
                    }
                    Req::ReplicaOf(h, p) => {
                        port_s = p.to_string();
                        vec![
                            vec![b"SLAVEOF", h.as_bytes(), port_s.as_bytes()],
                            vec![b"CONFIG", b"REWRITE"],
                        ]
                    }
                };
                let mut first = None;
                for argv in &argvs {
                    let r = roundtrip(&mut s, argv, &mut buf).await?;
                    first.get_or_insert(r);
                }
                if matches!(req, Req::Info) {
                    info_pending.set(false);
                }
                let Some(srv) = srv.upgrade() else {
                    return Ok(());
                };
                let now = crate::util::time::now_ms();
                if let Some(r) = first {
                    srv.borrow_mut().sentinel_reply(&name, &who, &req, &r, now);
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = res {
            tracing::debug!("sentinel link to {ip}:{port} closed: {e}");
        }
        info_pending.set(false);
        if let Some(srv) = srv.upgrade() {
            srv.borrow_mut().sentinel_link_closed(&name, &who, id);
        }
    });
    Some(handle)
}

/// Subscribes to the hello channel of a monitored server.
pub fn subscribe(
    srv: Weak<RefCell<Server>>,
    name: &str,
    who: Who,
    ip: &str,
    port: u16,
    auth: (Option<String>, Option<String>),
) {
    let (name, ip) = (name.to_string(), ip.to_string());
    tokio::task::spawn_local(async move {
        let res: Result<(), String> = async {
            let mut s = connect(&ip, port, &auth).await?;
            let mut buf = Vec::new();
            roundtrip(&mut s, &[b"SUBSCRIBE", HELLO_CHANNEL.as_bytes()], &mut buf).await?;
            loop {
                let r = read_reply(&mut s, &mut buf).await;
                let r = match r {
                    Err(e) if e == "reply timeout" => continue,
                    r => r?,
                };
                if let Reply::Array(Some(a)) = r {
                    if a.len() == 3 && a[0].text() == "message" {
                        let Some(srv) = srv.upgrade() else {
                            return Ok(());
                        };
                        let now = crate::util::time::now_ms();
                        srv.borrow_mut().sentinel_hello(&a[2].text(), now);
                    }
                }
            }
        }
        .await;
        if let Err(e) = res {
            tracing::debug!("sentinel hello subscription to {ip}:{port} ended: {e}");
        }
        // Retry no faster than once a second.
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(srv) = srv.upgrade() {
            srv.borrow_mut().sentinel_unsubscribed(&name, &who);
        }
    });
}

/// Runs a notification or reconfiguration script with `args`, at most
/// 60 seconds (Redis: SENTINEL_SCRIPT_MAX_RUNTIME), without waiting.
pub fn run_script(path: &str, args: &[&str]) {
    let mut cmd = std::process::Command::new(path);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match cmd.spawn() {
        Ok(mut child) => {
            let _ = std::thread::Builder::new()
                .name("sentinel-script".into())
                .spawn(move || {
                    let start = std::time::Instant::now();
                    loop {
                        match child.try_wait() {
                            Ok(Some(_)) | Err(_) => return,
                            Ok(None) if start.elapsed() > Duration::from_secs(60) => {
                                let _ = child.kill();
                                let _ = child.wait();
                                return;
                            }
                            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                        }
                    }
                });
        }
        Err(e) => tracing::warn!("Can't execute the script {path}: {e}"),
    }
}
