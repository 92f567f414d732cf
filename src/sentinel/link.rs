//! Sentinel's connections (Redis: instanceLink): a command connection
//! per monitored server and per other sentinel, serving a queue of
//! requests one at a time, and a subscription to `__sentinel__:hello` on
//! every monitored server, each named by the id the state gave it.
//! Replies, hellos and a connection's end go back to the state through
//! the driver (`super::driver`); the state's timer opens a new one.
//!
//! Credentials are read when a connection opens. A change of them closes
//! the connections it concerns (see [`super::config::links_reset_by`]),
//! and a connection the instance refuses (an error to AUTH, `-NOAUTH` or
//! `-WRONGPASS` to a command, an error to SUBSCRIBE) is reported as
//! refused and closed, never kept: the next one reads the credentials
//! anew. Every connection names itself `sentinel-<id>-cmd` or
//! `-pubsub`, as Redis's sentinel does (CLIENT SETNAME).

use std::cell::RefCell;
use std::rc::Weak;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::proto::HELLO_CHANNEL;
use super::{LinkId, Req, Target};
use crate::resp::client::{ClientError, Conn, Reply};
use crate::server::Server;

/// How long connecting and logging in may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a reply may take once connected.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Connecting, reading or writing failed, or the reply was not RESP.
    #[error("{0}")]
    Io(String),
    /// The instance refused our credentials: an error to AUTH, a
    /// `-NOAUTH` or `-WRONGPASS` reply, or an error to SUBSCRIBE.
    #[error("{0}")]
    Refused(String),
}

impl From<ClientError> for LinkError {
    fn from(e: ClientError) -> Self {
        LinkError::Io(e.to_string())
    }
}

/// Whether an error reply says the connection is not authenticated as it
/// should be (as opposed to a refused command, `-NOPERM`, which leaves
/// the other commands working).
pub fn is_auth_error(e: &str) -> bool {
    e.starts_with("NOAUTH") || e.starts_with("WRONGPASS")
}

/// The driver's handle on a command connection.
#[derive(Debug)]
pub struct LinkHandle {
    tx: mpsc::UnboundedSender<Req>,
    task: TaskGuard,
}

/// A connection's task, ended when the last handle on it is dropped: an
/// instance forgotten (RESET, REMOVE, a sentinel's new address) leaves no
/// connection behind (Redis: releaseInstance closes its links).
#[derive(Debug)]
struct TaskGuard(AbortHandle);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The driver's handle on a hello subscription.
#[derive(Debug)]
pub struct SubHandle {
    task: TaskGuard,
}

impl SubHandle {
    /// Ends the subscription now (Redis: instanceLinkCloseConnection on
    /// the pubsub link).
    pub fn close(&self) {
        self.task.0.abort();
    }
}

impl LinkHandle {
    /// Ends the connection now, dropping what is queued (Redis:
    /// instanceLinkCloseConnection on the command link).
    pub fn close(&self) {
        self.task.0.abort();
    }

    /// Queues a request.
    pub fn send(&self, r: Req) {
        let _ = self.tx.send(r);
    }
}

/// The name a connection gives itself (Redis: sentinelSetClientName,
/// `sentinel-<first 8 of our id>-<cmd|pubsub>`).
fn client_name(myid: &str, kind: &str) -> String {
    let short: String = myid.chars().take(8).collect();
    format!("sentinel-{short}-{kind}")
}

/// Connects, authenticates when the target has a password and names the
/// connection `kind`.
async fn connect(t: &Target, kind: &str) -> Result<Conn, LinkError> {
    let addr = format!("{}:{}", t.ip, t.port);
    let auth = (t.auth.0.as_deref(), t.auth.1.as_deref());
    let mut c = match Conn::open(&addr, auth, CONNECT_TIMEOUT).await {
        Ok(c) => c,
        Err(ClientError::Auth { reply, .. }) => {
            return Err(LinkError::Refused(format!("AUTH: {reply}")))
        }
        Err(e) => return Err(e.into()),
    };
    let name = client_name(&t.myid, kind);
    // Its reply is otherwise ignored, as Redis does (CLIENT may be
    // renamed or refused), but it tells at once that a password is due.
    match c.call(&["CLIENT", "SETNAME", &name]).await? {
        Reply::Error(e) if is_auth_error(&e) => Err(LinkError::Refused(e)),
        _ => {
            c.set_timeout(REPLY_TIMEOUT);
            Ok(c)
        }
    }
}

/// The command for a request: one or two commands, the first one's reply
/// is the one applied.
fn request_argv(req: &Req) -> Vec<Vec<Vec<u8>>> {
    let v = |parts: &[&[u8]]| parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
    match req {
        Req::Ping => vec![v(&[b"PING"])],
        Req::Info => vec![v(&[b"INFO"])],
        Req::Publish(h) => vec![v(&[b"PUBLISH", HELLO_CHANNEL.as_bytes(), h.as_bytes()])],
        Req::IsMasterDown {
            ip,
            port,
            epoch,
            runid,
        } => vec![v(&[
            b"SENTINEL",
            b"is-master-down-by-addr",
            ip.as_bytes(),
            port.to_string().as_bytes(),
            epoch.to_string().as_bytes(),
            runid.as_bytes(),
        ])],
        Req::Promote => vec![v(&[b"SLAVEOF", b"NO", b"ONE"]), v(&[b"CONFIG", b"REWRITE"])],
        Req::ReplicaOf(h, p) => vec![
            v(&[b"SLAVEOF", h.as_bytes(), p.to_string().as_bytes()]),
            v(&[b"CONFIG", b"REWRITE"]),
        ],
    }
}

/// Reports how a connection ended: a refusal to the sentinel (it logs it
/// once), anything else at debug level.
fn report_end(srv: &Weak<RefCell<Server>>, t: &Target, what: &str, res: Result<(), LinkError>) {
    match res {
        Ok(()) => {}
        Err(LinkError::Refused(why)) => {
            if let Some(srv) = srv.upgrade() {
                srv.borrow_mut()
                    .sentinel_link_refused(&t.master, &t.who, &why);
            }
        }
        Err(LinkError::Io(e)) => {
            tracing::debug!("sentinel {what} to {}:{} ended: {e}", t.ip, t.port)
        }
    }
}

/// Opens command connection `id` to an instance of a monitored master.
pub fn open(srv: Weak<RefCell<Server>>, id: LinkId, t: Target) -> Option<LinkHandle> {
    srv.upgrade()?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Req>();
    let task = tokio::task::spawn_local(async move {
        let res: Result<(), LinkError> = async {
            let mut c = connect(&t, "cmd").await?;
            if let (Some(ip), Some(srv)) = (c.local_ip(), srv.upgrade()) {
                srv.borrow_mut().sentinel_link_up(&t.master, &t.who, id, ip);
            }
            while let Some(req) = rx.recv().await {
                let mut first = None;
                for argv in request_argv(&req) {
                    let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
                    let r = c.call_bytes(&argv).await?;
                    first.get_or_insert(r);
                }
                let Some(srv) = srv.upgrade() else {
                    return Ok(());
                };
                if let Some(r) = first {
                    srv.borrow_mut()
                        .sentinel_reply(&t.master, &t.who, id, &req, &r);
                    // A connection that is not (or no longer) logged in is
                    // closed: the next one reads the credentials anew.
                    if let Reply::Error(e) = &r {
                        if is_auth_error(e) {
                            return Err(LinkError::Refused(e.clone()));
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        report_end(&srv, &t, "link", res);
        if let Some(srv) = srv.upgrade() {
            srv.borrow_mut().sentinel_link_closed(&t.master, &t.who, id);
        }
    });
    Some(LinkHandle {
        tx,
        task: TaskGuard(task.abort_handle()),
    })
}

/// Subscribes to the hello channel of a monitored server. A refused or
/// failed subscription ends, and the timer starts another no sooner than
/// a second later.
pub fn subscribe(srv: Weak<RefCell<Server>>, id: LinkId, t: Target) -> SubHandle {
    let task = tokio::task::spawn_local(async move {
        let res: Result<(), LinkError> = async {
            let mut c = connect(&t, "pubsub").await?;
            match c.call(&["SUBSCRIBE", HELLO_CHANNEL]).await? {
                Reply::Array(Some(a)) if a.first().is_some_and(|k| k.text() == "subscribe") => {}
                Reply::Error(e) => return Err(LinkError::Refused(format!("SUBSCRIBE: {e}"))),
                r => {
                    return Err(LinkError::Io(format!(
                        "unexpected reply to SUBSCRIBE: {r:?}"
                    )))
                }
            }
            loop {
                let r = match c.read().await {
                    Err(e) if e.is_reply_timeout() => continue,
                    r => r?,
                };
                if let Reply::Array(Some(a)) = r {
                    if a.len() == 3 && a[0].text() == "message" {
                        let Some(srv) = srv.upgrade() else {
                            return Ok(());
                        };
                        srv.borrow_mut().sentinel_hello(&a[2].text());
                    }
                }
            }
        }
        .await;
        report_end(&srv, &t, "hello subscription", res);
        // Retry no faster than once a second.
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(srv) = srv.upgrade() {
            srv.borrow_mut()
                .sentinel_unsubscribed(&t.master, &t.who, id);
        }
    });
    SubHandle {
        task: TaskGuard(task.abort_handle()),
    }
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
