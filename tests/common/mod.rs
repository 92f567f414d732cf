//! Test harness: start the built `picket-server` (or Debian's redis-server)
//! on a free loopback port, talk to it with real clients, and kill it by PID
//! when the test ends.

#![allow(dead_code)]

pub mod data;
pub mod k8s;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Value;

/// A free loopback port (bind :0, read it, release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server process.
pub struct Proc {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// A scratch directory it runs in (`dir`).
    pub dir: tempfile::TempDir,
    /// Where its stdout/stderr go.
    pub log: PathBuf,
}

/// Path of the built picket-server.
pub fn picket_bin() -> &'static str {
    env!("CARGO_BIN_EXE_picket-server")
}

impl Proc {
    /// Starts picket-server with `--port <free> --bind 127.0.0.1` plus `args`.
    pub fn picket(args: &[&str]) -> Proc {
        Self::spawn(picket_bin(), None, args, None)
    }

    /// Starts picket-server on a given port (a restart in place).
    pub fn picket_on(port: u16, args: &[&str]) -> Proc {
        Self::spawn(picket_bin(), None, args, Some(port))
    }

    /// Starts picket-server with a config file containing `conf`, plus `args`.
    pub fn picket_with_conf(conf: &str, args: &[&str]) -> Proc {
        Self::spawn(picket_bin(), Some(conf), args, None)
    }

    /// Starts Debian's redis-server the same way (for side-by-side checks).
    pub fn redis(args: &[&str]) -> Proc {
        Self::spawn("redis-server", None, args, None)
    }

    fn spawn(bin: &str, conf: Option<&str>, args: &[&str], fixed: Option<u16>) -> Proc {
        let mut last_log = String::new();
        // A free port can be taken between probing and binding: retry a few times.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("server.log");
            let port = fixed.unwrap_or_else(free_port);
            let mut cmd = Command::new(bin);
            if let Some(c) = conf {
                let p = dir.path().join("picket.conf");
                std::fs::write(&p, c).unwrap();
                cmd.arg(&p);
            }
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                dir.path().to_str().unwrap(),
            ]);
            if bin.contains("redis-server") {
                cmd.args(["--save", "", "--appendonly", "no"]);
            }
            cmd.args(args);
            let out = std::fs::File::create(&log).unwrap();
            cmd.stdout(out.try_clone().unwrap())
                .stderr(out)
                .stdin(Stdio::null())
                .current_dir(dir.path());
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {bin}: {e}"));
            let mut p = Proc {
                child,
                port,
                dir,
                log,
            };
            if p.wait_ready(Duration::from_secs(10)) {
                return p;
            }
            last_log = p.log_text();
        }
        panic!("{bin} did not start: {last_log}");
    }

    fn wait_ready(&mut self, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                if s.write_all(b"PING\r\n").is_ok() {
                    let mut b = [0u8; 64];
                    if let Ok(n) = s.read(&mut b) {
                        // +PONG, or -NOAUTH when a password is set: either
                        // way it serves. -LOADING (redis-server replaying
                        // its files) is not ready yet.
                        if n > 0 && !b[..n].starts_with(b"-LOADING") {
                            return true;
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A `redis` crate client URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A synchronous `redis` crate connection.
    pub fn conn(&self) -> redis::Connection {
        let c = redis::Client::open(self.url()).unwrap();
        let conn = c
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn
    }

    /// A raw TCP connection (for protocol-level tests).
    pub fn raw(&self) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Raw { s }
    }

    /// Runs redis-cli against the server and returns its stdout. Bounded:
    /// coreutils `timeout` kills it after 30 s so no test can hang on it.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("timeout")
            .args(["30", "redis-cli", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli installed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `limit` for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Sends a signal to the process (by our own child's PID).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
    }

    /// The scratch directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw socket for sending exact bytes.
pub struct Raw {
    /// The stream.
    pub s: TcpStream,
}

impl Raw {
    /// Sends bytes.
    pub fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).unwrap();
    }

    /// Reads until `n` bytes or a timeout, returning what arrived.
    pub fn read_some(&mut self) -> Vec<u8> {
        let mut buf = vec![0u8; 65536];
        match self.s.read(&mut buf) {
            Ok(n) => buf[..n].to_vec(),
            Err(_) => Vec::new(),
        }
    }

    /// Reads until the accumulated reply ends with `suffix` (bounded by the
    /// read timeout).
    pub fn read_until(&mut self, suffix: &[u8]) -> Vec<u8> {
        let mut acc = Vec::new();
        let start = Instant::now();
        while !acc.ends_with(suffix) && start.elapsed() < Duration::from_secs(5) {
            let chunk = self.read_some();
            if chunk.is_empty() {
                break;
            }
            acc.extend(chunk);
        }
        acc
    }

    /// Sends a request and returns the reply bytes read back (one read).
    pub fn roundtrip(&mut self, b: &[u8]) -> Vec<u8> {
        self.send(b);
        self.read_until(b"\r\n")
    }

    /// Reads one whole RESP2 reply (bounded by the read timeout and 5 s),
    /// parsed by picket's client decoder.
    pub fn reply(&mut self) -> picket::resp::client::Reply {
        use picket::resp::client::{ReplyDecoder, ReplyLimits};
        let mut dec = ReplyDecoder::new(ReplyLimits::default());
        let start = Instant::now();
        loop {
            if let Some(r) = dec.next_reply().expect("a well-formed reply") {
                return r;
            }
            let chunk = self.read_some();
            assert!(
                !chunk.is_empty() && start.elapsed() < Duration::from_secs(5),
                "no whole reply within 5 s"
            );
            dec.extend(&chunk);
        }
    }

    /// Whether the server closed the connection (reads EOF).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 16];
        matches!(self.s.read(&mut b), Ok(0))
    }
}

/// Runs a command with the `redis` crate and returns the raw Value.
pub fn cmd(conn: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(conn)
}

/// The error text of a command that must fail (code + message), e.g.
/// "WRONGTYPE Operation against a key holding the wrong kind of value".
pub fn err(conn: &mut redis::Connection, args: &[&str]) -> String {
    match cmd(conn, args) {
        Ok(v) => panic!("{args:?} succeeded with {v:?}"),
        Err(e) => {
            let code = e.code().unwrap_or("");
            let detail = e.detail().unwrap_or("");
            if code.is_empty() {
                detail.to_string()
            } else if detail.is_empty() {
                code.to_string()
            } else {
                format!("{code} {detail}")
            }
        }
    }
}

// Helpers shared by the per-family tests (exact RESP bytes, RESP3, SCAN replies).

pub fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

/// Encodes a command as a RESP array (picket's own client encoder).
pub fn resp(args: &[&str]) -> Vec<u8> {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let mut out = Vec::new();
    picket::resp::client::encode_command(&mut out, &argv);
    out
}

/// A raw connection switched to RESP3.
pub fn raw3(p: &Proc) -> Raw {
    let mut r = p.raw();
    r.send(&resp(&["HELLO", "3"]));
    let hello = r.read_until(b"*0\r\n");
    assert!(
        hello.starts_with(b"%"),
        "{:?}",
        String::from_utf8_lossy(&hello)
    );
    r
}

/// Sends one command and reads a reply expected to be exactly `want`.
pub fn exact(r: &mut Raw, args: &[&str], want: &str) {
    r.send(&resp(args));
    let got = r.read_until(want.as_bytes());
    assert_eq!(String::from_utf8_lossy(&got), want, "{args:?}");
}

/// The elements of an HSCAN/SSCAN reply: (next cursor, items).
pub fn scan_reply(v: Value) -> (u64, Vec<String>) {
    let Value::Array(parts) = v else {
        panic!("scan reply {v:?}")
    };
    let (Value::BulkString(c), Value::Array(items)) = (&parts[0], &parts[1]) else {
        panic!("scan reply {parts:?}")
    };
    let cursor = String::from_utf8_lossy(c).parse().unwrap();
    let items = items
        .iter()
        .map(|i| match i {
            Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("scan item {other:?}"),
        })
        .collect();
    (cursor, items)
}
