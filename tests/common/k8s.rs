//! The Kubernetes test bed (scripts/dev-cluster) as tests see it: kubectl
//! against its kubeconfig, a namespace per test removed at the end, the
//! fault helper, bounded waits. The cluster must be up (`.ci/run` brings
//! it up before `cargo test` and down after); a test fails, naming the
//! command to run, when it isn't.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The state directory of the test bed.
pub fn state_dir() -> PathBuf {
    std::env::var_os("PICKET_CLUSTER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/dev-cluster"))
}

/// Where scripts/build-testbed put kubectl and the other components.
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("TESTBED_CACHE") {
        return PathBuf::from(d).join("bin");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        });
    cache.join("picket/testbed/bin")
}

/// `KEY=value` lines printed by `scripts/dev-cluster env`.
pub fn cluster_env(key: &str) -> String {
    let out = Command::new(root().join("scripts/dev-cluster"))
        .arg("env")
        .output()
        .expect("scripts/dev-cluster env");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_else(|| panic!("dev-cluster env has no {key}"))
}

/// Runs kubectl with the test bed's kubeconfig; stdout, or stderr as the
/// error.
pub fn kubectl(args: &[&str]) -> Result<String, String> {
    kubectl_in(args, None)
}

/// kubectl with `input` on stdin.
pub fn kubectl_in(args: &[&str], input: Option<&str>) -> Result<String, String> {
    let mut cmd = Command::new(bin_dir().join("kubectl"));
    cmd.arg("--kubeconfig")
        .arg(state_dir().join("admin.kubeconfig"))
        .arg("--request-timeout=20s")
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("kubectl: {e}"))?;
    if let Some(text) = input {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// kubectl that must succeed.
pub fn k(args: &[&str]) -> String {
    kubectl(args).unwrap_or_else(|e| panic!("kubectl {args:?}: {e}"))
}

/// Polls `f` every 500 ms for up to `limit`.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

/// Fails the test unless the test bed answers.
pub fn require_cluster() {
    if let Err(e) = kubectl(&["get", "--raw", "/readyz"]) {
        panic!(
            "the Kubernetes test bed is not up ({e}): run `scripts/dev-cluster up` \
             (bash .ci/run does it before the tests)"
        );
    }
}

/// A namespace for one test, deleted (without waiting) when dropped.
pub struct Namespace {
    /// Its name.
    pub name: String,
}

impl Namespace {
    /// Creates `name` (deleting a leftover of an earlier run first).
    pub fn new(name: &str) -> Namespace {
        require_cluster();
        if kubectl(&["get", "namespace", name]).is_ok() {
            let _ = kubectl(&["delete", "namespace", name, "--timeout=120s"]);
        }
        k(&["create", "namespace", name]);
        // The ServiceAccount controller creates `default` shortly after.
        assert!(eventually(Duration::from_secs(30), || kubectl(&[
            "-n",
            name,
            "get",
            "serviceaccount",
            "default"
        ])
        .is_ok()));
        Namespace {
            name: name.to_string(),
        }
    }

    /// kubectl in this namespace.
    pub fn k(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", &self.name];
        a.extend_from_slice(args);
        k(&a)
    }

    /// kubectl in this namespace, the result as it came.
    pub fn kubectl(&self, args: &[&str]) -> Result<String, String> {
        let mut a = vec!["-n", &self.name];
        a.extend_from_slice(args);
        kubectl(&a)
    }

    /// kubectl apply -f - in this namespace.
    pub fn apply(&self, yaml: &str) -> String {
        kubectl_in(&["-n", &self.name, "apply", "-f", "-"], Some(yaml))
            .unwrap_or_else(|e| panic!("apply failed: {e}\n{yaml}"))
    }

    /// A jsonpath of an object.
    pub fn jsonpath(&self, what: &[&str], path: &str) -> String {
        let jp = format!("jsonpath={path}");
        let mut a = vec!["get"];
        a.extend_from_slice(what);
        a.extend_from_slice(&["-o", &jp]);
        self.kubectl(&a).unwrap_or_default()
    }

    /// Runs the fault helper (scripts/testbed/fault) on a pod here.
    pub fn fault(&self, op: &str, pod: &str) -> String {
        let out = Command::new(root().join("scripts/testbed/fault"))
            .args([op, pod])
            .env("NS", &self.name)
            .output()
            .expect("scripts/testbed/fault");
        assert!(
            out.status.success(),
            "fault {op} {pod}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Events and pods, for a failing assertion's message.
    pub fn describe(&self) -> String {
        let pods = self
            .kubectl(&["get", "pods", "-o", "wide"])
            .unwrap_or_default();
        let events = self
            .kubectl(&["get", "events", "--sort-by=.lastTimestamp"])
            .unwrap_or_default();
        format!("{pods}\n{events}")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = kubectl(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}

/// Sends one command to `addr` over TCP and returns the reply's text
/// (`PONG`, `ERR ...`, a bulk string's value), read with picket's client
/// decoder; an error reply keeps its code (`NOAUTH ...`).
pub fn tcp_command(addr: &str, cmd: &str) -> Result<String, String> {
    use picket::resp::client::{encode_command, Reply, ReplyDecoder, ReplyLimits};
    use std::io::{Read, Write};
    let sock: std::net::SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut s = std::net::TcpStream::connect_timeout(&sock, Duration::from_secs(2))
        .map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let argv: Vec<&[u8]> = cmd.split_whitespace().map(str::as_bytes).collect();
    let mut req = Vec::new();
    encode_command(&mut req, &argv);
    s.write_all(&req).map_err(|e| e.to_string())?;
    let mut dec = ReplyDecoder::new(ReplyLimits::default());
    let mut buf = [0u8; 16 * 1024];
    loop {
        match dec.next_reply().map_err(|e| e.to_string())? {
            Some(Reply::Error(e)) => return Ok(format!("-{e}")),
            Some(Reply::Status(t)) => return Ok(format!("+{t}")),
            Some(Reply::Int(n)) => return Ok(format!(":{n}")),
            Some(r) => return Ok(r.text()),
            None => {}
        }
        let n = s.read(&mut buf).map_err(|e| format!("{addr}: {e}"))?;
        if n == 0 {
            return Err(format!("{addr}: connection closed before a reply"));
        }
        dec.extend(&buf[..n]);
    }
}
