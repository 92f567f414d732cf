//! picket-operator on the Kubernetes test bed: the CRD as the API server
//! enforces it, and caches driven by a real operator through failovers,
//! a force-deleted master, an operator killed mid-failover, and the
//! in-cluster install from deploy/ with two replicas and a Lease. Tests
//! that run an operator take turns (an operator serves every namespace).
//! Every wait is bounded.

mod common;
use common::k8s::*;
use std::time::Duration;

const CRD_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crds/replicatedcaches.picket.dev.yaml"
);

/// crds/ holds exactly what the code generates.
#[test]
fn the_crd_file_is_what_the_code_generates() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_picket-crdgen"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn install_crd() {
    require_cluster();
    k(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        CRD_FILE,
    ]);
    assert!(eventually(Duration::from_secs(60), || kubectl(&[
        "get",
        "crd",
        "replicatedcaches.picket.dev",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status}"
    ])
    .as_deref()
        == Ok("True")));
}

fn cache_yaml(name: &str, spec: &str) -> String {
    format!("apiVersion: picket.dev/v1alpha1\nkind: ReplicatedCache\nmetadata: {{name: {name}}}\nspec:\n{spec}")
}

/// Invalid resources are refused at apply by the API server, with a
/// message that names the field; a valid one gets the defaults.
#[test]
fn the_api_server_validates_replicated_caches() {
    install_crd();
    let ns = Namespace::new("operator-crd");
    let cases = [
        ("  sentinels: 2\n", "spec.sentinels"),
        ("  sentinels: 3\n  quorum: 4\n", "spec.quorum"),
        ("  quorum: 0\n", "spec.quorum"),
        ("  replicas: 0\n", "spec.replicas"),
        ("  maxMemory: lots\n", "spec.maxMemory"),
        ("  maxMemoryPolicy: sometimes\n", "spec.maxMemoryPolicy"),
        ("  config: {port: \"7000\"}\n", "spec.config"),
        ("  config: {requirepass: x}\n", "spec.config"),
        (
            "  persistence: {enabled: true, size: big}\n",
            "spec.persistence.size",
        ),
        ("  auth: {secretName: \"\"}\n", "spec.auth.secretName"),
    ];
    for (spec, field) in cases {
        let err = kubectl_in(
            &["-n", &ns.name, "apply", "-f", "-"],
            Some(&cache_yaml("bad", spec)),
        )
        .expect_err(spec);
        assert!(
            err.contains("is invalid") && err.contains(field),
            "{spec} -> {err}"
        );
    }
    assert!(ns.kubectl(&["get", "rcache", "bad"]).is_err());
    // A valid one: the schema's defaults are filled in.
    ns.apply(&cache_yaml(
        "good",
        "  maxMemory: 64mb\n  config: {hz: \"20\"}\n",
    ));
    assert_eq!(
        ns.jsonpath(
            &["rcache", "good"],
            "{.spec.replicas} {.spec.sentinels} {.spec.minReplicasToWrite}"
        ),
        "3 3 0"
    );
    let table = ns.k(&["get", "rcache"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "MASTER", "READY", "SENTINELS", "AGE"]);
}

/// Operators serve every namespace: the tests that run one take turns.
fn one_operator_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The operator as a process on the host (a local run with the test
/// bed's kubeconfig, leader election on), stopped when dropped.
struct Operator {
    child: std::process::Child,
    /// Its /metrics, /healthz, /readyz address.
    http: String,
}

impl Operator {
    fn start(log: &std::path::Path) -> Operator {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let http = format!("127.0.0.1:{}", common::free_port());
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_picket-operator"))
            .args(["--http-addr", &http])
            .env("KUBECONFIG", state_dir().join("admin.kubeconfig"))
            .env("RUST_LOG", "info,kube=warn")
            .env("NO_COLOR", "1")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Operator { child, http }
    }

    /// A counter from its /metrics.
    fn counter(&self, name: &str) -> u64 {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.http).unwrap();
        s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in /metrics:\n{body}"))
    }
}

impl Operator {
    /// SIGKILL: no chance to hand the Lease back.
    fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    /// SIGTERM (it releases the Lease for the next test), then SIGKILL.
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return; // already reaped (kill_hard): its PID is not ours any more
        }
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (120 s) for `rcache/<name>` to be Available; on failure shows
/// the namespace and `more()` (the operator's log).
fn wait_available(ns: &Namespace, name: &str, more: &dyn Fn() -> String) {
    let rc = format!("rcache/{name}");
    let available = ns.kubectl(&["wait", "--for=condition=Available", &rc, "--timeout=120s"]);
    assert!(
        available.is_ok(),
        "{available:?}\n{}\n{}",
        ns.describe(),
        more()
    );
}

/// A test's cache `cache` Available in its own namespace, under a local
/// operator whose log is `log`; the test holds the operators' turn.
struct Running {
    _turn: std::sync::MutexGuard<'static, ()>,
    ns: Namespace,
    _dir: tempfile::TempDir,
    log: std::path::PathBuf,
    op: Operator,
    pw: String,
}

/// Takes the turn, starts an operator, applies `yaml` in namespace `ns`
/// and waits for it to be Available.
fn running(ns: &str, yaml: &str) -> Running {
    let turn = one_operator_at_a_time();
    install_crd();
    settle_earlier_tests();
    let ns = Namespace::new(ns);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("operator.log");
    let op = Operator::start(&log);
    ns.apply(yaml);
    wait_available(&ns, "cache", &log_of(&log));
    let pw = secret_password(&ns, "cache-auth");
    Running {
        _turn: turn,
        ns,
        _dir: dir,
        log,
        op,
        pw,
    }
}

/// The sentinels' own logs (their events, with times), for failure
/// messages.
fn sentinel_logs(ns: &Namespace) -> String {
    (0..3)
        .map(|i| {
            let pod = format!("cache-sentinel-{i}");
            let logs = ns
                .kubectl(&["logs", &pod, "--tail=60"])
                .unwrap_or_else(|e| e);
            format!("--- {pod}\n{logs}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits (up to 3 minutes) until no earlier test's namespace is still
/// being torn down: its pods' preStop hooks, failovers and Events would
/// otherwise run beside the next test's timing-sensitive steps, under the
/// next test's operator (which watches every namespace).
fn settle_earlier_tests() {
    let terminating = || {
        kubectl(&[
            "get",
            "namespaces",
            "-o",
            "jsonpath={range .items[?(@.status.phase==\"Terminating\")]}{.metadata.name}{\"\\n\"}{end}",
        ])
        .unwrap_or_default()
    };
    let mut left = String::new();
    let settled = eventually(Duration::from_secs(180), || {
        left = terminating();
        left.trim().is_empty()
    });
    if !settled {
        eprintln!("namespaces still terminating after 3 minutes: {left}");
    }
}

/// The operator's log file, for failure messages.
fn log_of(log: &std::path::Path) -> impl Fn() -> String + '_ {
    move || std::fs::read_to_string(log).unwrap_or_default()
}

/// The notes of the Events with `reason` in the namespace.
fn event_notes(ns: &Namespace, reason: &str) -> Vec<String> {
    let jp =
        format!("jsonpath={{range .items[?(@.reason==\"{reason}\")]}}{{.note}}{{\"\\n\"}}{{end}}");
    ns.kubectl(&["get", "events.events.k8s.io", "-o", &jp])
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The master Service's `ip:6379` once kube-proxy has programmed it.
fn service_addr(ns: &Namespace) -> String {
    let vip = ns.jsonpath(&["service", "cache"], "{.spec.clusterIP}");
    let addr = format!("{vip}:6379");
    assert!(
        eventually(Duration::from_secs(30), || {
            std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1))
                .is_ok()
        }),
        "{addr} does not accept connections"
    );
    addr
}

/// SENTINEL FAILOVER on cache-sentinel-0, retried while it has no
/// replica to promote yet (-NOGOODSLAVE: the replicas' first INFO or sync
/// is still to come); the connection, for more questions.
fn sentinel_failover(ns: &Namespace, pw: &str) -> redis::Connection {
    let s0 = pod_ip(ns, "cache-sentinel-0");
    let mut s = redis_at(&format!("{s0}:26379"), pw);
    let mut last = None;
    let ok = eventually(Duration::from_secs(60), || {
        let r = redis::cmd("SENTINEL")
            .arg("FAILOVER")
            .arg("cache")
            .query::<()>(&mut s);
        let ok = r.is_ok();
        last = Some(r);
        ok
    });
    assert!(ok, "SENTINEL FAILOVER: {last:?}");
    s
}

/// A pod's IP.
fn pod_ip(ns: &Namespace, pod: &str) -> String {
    ns.jsonpath(&["pod", pod], "{.status.podIP}")
}

/// The data pods that answer ROLE master.
fn masters(ns: &Namespace, pw: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("cache-{i}"))
        .filter(|p| {
            let ip = pod_ip(ns, p);
            !ip.is_empty() && role_within(&format!("{ip}:6379"), pw).as_deref() == Some("master")
        })
        .collect()
}

/// ROLE's first element, or None when the server does not answer.
fn role_within(addr: &str, pw: &str) -> Option<String> {
    let c = redis::Client::open(format!("redis://:{pw}@{addr}/")).ok()?;
    let mut c = c.get_connection_with_timeout(Duration::from_secs(2)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let v: Vec<redis::Value> = redis::cmd("ROLE").query(&mut c).ok()?;
    match v.first() {
        Some(redis::Value::BulkString(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Polls the master EndpointSlice every 50 ms for up to `limit` until it
/// holds one address other than `old`; fails on ever seeing two.
fn wait_master_moved(ns: &Namespace, old: &[String], limit: Duration) -> Option<String> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        let now = master_slice(ns);
        assert!(now.len() <= 1, "two masters behind the Service: {now:?}");
        if now.len() == 1 && now != old {
            return now.into_iter().next();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn secret_password(ns: &Namespace, secret: &str) -> String {
    let b64 = ns.jsonpath(&["secret", secret], "{.data.password}");
    let out = std::process::Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b64.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn redis_at(addr: &str, pw: &str) -> redis::Connection {
    let c = redis::Client::open(format!("redis://:{pw}@{addr}/")).unwrap();
    let c = c
        .get_connection_with_timeout(Duration::from_secs(3))
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

fn master_slice(ns: &Namespace) -> Vec<String> {
    ns.jsonpath(&["endpointslice", "cache"], "{.endpoints[*].addresses[*]}")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn role(addr: &str, pw: &str) -> String {
    let mut c = redis_at(addr, pw);
    let v: Vec<redis::Value> = redis::cmd("ROLE").query(&mut c).unwrap_or_default();
    match v.first() {
        Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

/// examples/cache.yaml becomes Available; a write through the master
/// Service reaches every replica; SENTINEL FAILOVER moves the master
/// Service to the promoted pod, never showing two masters, and the status
/// records the switch.
#[test]
fn a_cache_comes_up_serves_through_its_service_and_follows_a_failover() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cache.yaml"))
            .unwrap();
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op,
        pw,
    } = running("operator-e2e", &example);
    let mut row = String::new();
    assert!(
        eventually(Duration::from_secs(60), || {
            row = ns.k(&["get", "rcache", "cache", "--no-headers"]);
            row.split_whitespace()
                .take(4)
                .eq(["cache", "cache-0", "3/3", "3/3"])
        }),
        "{row}"
    );

    // A write through the master Service's ClusterIP (kube-proxy) is on
    // every replica.
    assert_eq!(pw.len(), 32);
    let vip = ns.jsonpath(&["service", "cache"], "{.spec.clusterIP}");
    // (kube-proxy programs a new Service within its sync period)
    assert!(eventually(Duration::from_secs(30), || {
        std::net::TcpStream::connect_timeout(
            &format!("{vip}:6379").parse().unwrap(),
            Duration::from_secs(1),
        )
        .is_ok()
    }));
    let mut m = redis_at(&format!("{vip}:6379"), &pw);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("through-the-service")
        .query(&mut m)
        .unwrap();
    // Both replicas have it (they may still be finishing their first sync).
    let mut last = None;
    assert!(
        eventually(Duration::from_secs(30), || {
            let r = redis::cmd("WAIT").arg(2).arg(2000).query::<i64>(&mut m);
            let ok = matches!(r, Ok(2));
            last = Some(r);
            ok
        }),
        "WAIT 2: {last:?}"
    );
    for i in 1..3 {
        let ip = ns.jsonpath(&["pod", &format!("cache-{i}")], "{.status.podIP}");
        let mut r = redis_at(&format!("{ip}:6379"), &pw);
        let v: String = redis::cmd("GET").arg("k").query(&mut r).unwrap();
        assert_eq!(v, "through-the-service");
    }
    let before = master_slice(&ns);
    assert_eq!(before.len(), 1);
    // Settled (Progressing False): reconciles (the 10 s backstop, pod
    // updates) write nothing.
    assert!(eventually(Duration::from_secs(60), || ns.jsonpath(
        &["rcache", "cache"],
        "{.status.conditions[?(@.type==\"Progressing\")].status}"
    ) == "False"));
    // A window of reconciles with no write at all (the settling cache may
    // still change once or twice; an operator that wrote on every
    // reconcile would never have one).
    let mut quiet = false;
    let mut tried = Vec::new();
    for _ in 0..4 {
        let (r0, w0) = (
            op.counter("picket_operator_reconciles_total"),
            op.counter("picket_operator_writes_total"),
        );
        std::thread::sleep(Duration::from_secs(11));
        let (r1, w1) = (
            op.counter("picket_operator_reconciles_total"),
            op.counter("picket_operator_writes_total"),
        );
        tried.push((r1 - r0, w1 - w0));
        if r1 > r0 && w1 == w0 {
            quiet = true;
            break;
        }
    }
    assert!(
        quiet,
        "(reconciles, writes) per window: {tried:?}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // A manual failover: the master Service follows, one address at a time.
    sentinel_failover(&ns, &pw);
    let mut seen = Vec::new();
    let moved = {
        let start = std::time::Instant::now();
        let mut moved = false;
        while start.elapsed() < Duration::from_secs(60) {
            let now = master_slice(&ns);
            assert!(now.len() <= 1, "two masters behind the Service: {now:?}");
            if !now.is_empty() && now != before {
                seen = now;
                moved = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        moved
    };
    assert!(
        moved,
        "the master Service did not move\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(role(&format!("{}:6379", seen[0]), &pw), "master");
    let latency = ns.jsonpath(&["rcache", "cache"], "{.status.lastSwitchLatencyMs}");
    assert!(latency.parse::<i64>().is_ok(), "latency {latency:?}");
    eprintln!("switch latency: {latency} ms");
    assert_eq!(
        op.counter("picket_operator_failovers_total"),
        1,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // The data followed, and the service takes writes again.
    let mut m = redis_at(&format!("{vip}:6379"), &pw);
    let v: String = redis::cmd("GET").arg("k").query(&mut m).unwrap();
    assert_eq!(v, "through-the-service");
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("failover")
        .query(&mut m)
        .unwrap();
    // Status follows: the new master, 3/3.
    assert!(eventually(Duration::from_secs(60), || {
        let st = ns.jsonpath(&["rcache", "cache"], "{.status.master} {.status.ready}");
        let ip = ns.jsonpath(
            &["pod", st.split(' ').next().unwrap_or("-")],
            "{.status.podIP}",
        );
        ip == seen[0] && st.ends_with("3/3")
    }));
    // Events tell the story: the bootstrap and the switch with its latency.
    let new_pod = ns.jsonpath(&["rcache", "cache"], "{.status.master}");
    assert!(
        event_notes(&ns, "Bootstrapped")
            .iter()
            .any(|n| n.starts_with("master cache-0;")),
        "{}",
        ns.describe()
    );
    assert!(
        eventually(Duration::from_secs(10), || event_notes(
            &ns,
            "MasterSwitched"
        )
        .iter()
        .any(|n| n.contains(&format!("promoted {new_pod} (was cache-0)"))
            && n.ends_with("ms after +switch-master"))),
        "{:?}",
        event_notes(&ns, "MasterSwitched")
    );
    assert!(
        eventually(Duration::from_secs(30), || !event_notes(
            &ns,
            "FailoverEnded"
        )
        .is_empty()),
        "{}",
        ns.describe()
    );

    // Every sentinel lost at once (their state is on empty volumes): the
    // operator configures the new ones to monitor the recorded master,
    // the promoted pod, not ordinal 0; the Service never moves meanwhile.
    let _ = ns.kubectl(&[
        "delete",
        "pod",
        "-l",
        "app.kubernetes.io/instance=cache,app.kubernetes.io/component=sentinel",
        "--grace-period=0",
        "--force",
    ]);
    let new_host = format!("{new_pod}.");
    let all_know = eventually(Duration::from_secs(120), || {
        assert_eq!(master_slice(&ns), seen, "the master Service moved");
        (0..3).all(|i| {
            let ip = pod_ip(&ns, &format!("cache-sentinel-{i}"));
            let Ok(c) = redis::Client::open(format!("redis://:{pw}@{ip}:26379/")) else {
                return false;
            };
            let Ok(mut c) = c.get_connection_with_timeout(Duration::from_secs(2)) else {
                return false;
            };
            let a: Vec<String> = redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg("cache")
                .query(&mut c)
                .unwrap_or_default();
            a.first().is_some_and(|h| h.starts_with(&new_host))
        })
    });
    assert!(
        all_know,
        "{}\n{}",
        ns.describe(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let mut m = redis_at(&service_addr(&ns), &pw);
    let v: String = redis::cmd("GET").arg("after").query(&mut m).unwrap();
    assert_eq!(v, "failover");
}

/// After a failed command the writers wait 10 ms before reconnecting, as
/// a client library's backoff would (a server refusing every command at
/// once would otherwise use up the ephemeral ports in TIME_WAIT); the
/// first few errors are printed.
fn note_error(e: &redis::RedisError) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    if SEEN.fetch_add(1, Ordering::Relaxed) < 5 {
        eprintln!("writer: {e}");
    }
    std::thread::sleep(Duration::from_millis(10));
}

/// Writes `w<i>` through `addr` until `stop`, each acknowledged by one
/// replica (WAIT 1) before the next; reconnects on errors. Returns the
/// acknowledged keys and when each write was accepted.
fn acknowledged_writer(
    addr: String,
    pw: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(Vec<String>, Vec<std::time::Instant>)> {
    std::thread::spawn(move || {
        let mut acked = Vec::new();
        let mut accepted = Vec::new();
        let mut conn: Option<redis::Connection> = None;
        let mut i = 0u64;
        let start = std::time::Instant::now();
        while !stop.load(std::sync::atomic::Ordering::Relaxed)
            && start.elapsed() < Duration::from_secs(600)
        {
            if conn.is_none() {
                conn = redis::Client::open(format!("redis://:{pw}@{addr}/"))
                    .ok()
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)).ok());
                if let Some(c) = &conn {
                    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                } else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            }
            let c = conn.as_mut().unwrap();
            let key = format!("w{i}");
            i += 1;
            if let Err(e) = redis::cmd("SET").arg(&key).arg(i).query::<()>(c) {
                note_error(&e);
                conn = None;
                continue;
            }
            accepted.push(std::time::Instant::now());
            match redis::cmd("WAIT").arg(1).arg(500).query::<i64>(c) {
                Ok(n) if n >= 1 => acked.push(key),
                Ok(_) => {}
                Err(e) => {
                    note_error(&e);
                    conn = None
                }
            }
        }
        (acked, accepted)
    })
}

/// Waits (60 s) until both replicas acknowledge the master at `service`.
fn wait_both_replicas_synced(service: &str, pw: &str) {
    assert!(eventually(Duration::from_secs(60), || {
        let mut m = redis_at(service, pw);
        matches!(
            redis::cmd("WAIT").arg(2).arg(1000).query::<i64>(&mut m),
            Ok(2)
        )
    }));
}

/// The keys of `keys` missing on the server at `addr`.
fn missing_keys(addr: &str, pw: &str, keys: &[String]) -> Vec<String> {
    let mut c = redis_at(addr, pw);
    let mut missing = Vec::new();
    for chunk in keys.chunks(500) {
        let vals: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(&mut c).unwrap();
        missing.extend(
            chunk
                .iter()
                .zip(vals)
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| k.clone()),
        );
    }
    missing
}

/// Force-deleting the master pod: a replica is promoted and the Service
/// follows, no write acknowledged by a replica (WAIT 1) is lost, the
/// recreated pod rejoins as a replica (it never comes back as an empty
/// master), and exactly one pod says master.
#[test]
fn a_force_deleted_master_loses_no_acknowledged_write_and_its_pod_rejoins() {
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op: _op,
        pw,
    } = running(
        "operator-kill",
        &cache_yaml(
            "cache",
            "  sentinel: {downAfterMilliseconds: 2000, failoverTimeout: 10000}\n",
        ),
    );
    let service = service_addr(&ns);
    // Both replicas synced before the fault.
    wait_both_replicas_synced(&service, &pw);
    let old = master_slice(&ns);
    assert_eq!(old.len(), 1);
    let old_pod = ns.jsonpath(&["rcache", "cache"], "{.status.master}");
    assert_eq!(old_pod, "cache-0");

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = acknowledged_writer(service.clone(), pw.clone(), stop.clone());
    std::thread::sleep(Duration::from_secs(3));
    let killed = std::time::Instant::now();
    ns.fault("force-delete", &old_pod);
    let new_ip = wait_master_moved(&ns, &old, Duration::from_secs(90));
    assert!(
        new_ip.is_some(),
        "the master Service did not move\n{}\n{}",
        ns.describe(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let new_ip = new_ip.unwrap();
    // Writes through the Service resume on the new master.
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, accepted) = writer.join().unwrap();
    let first_after = accepted
        .iter()
        .find(|t| **t > killed + Duration::from_millis(10))
        .map(|t| t.duration_since(killed));
    eprintln!(
        "{} writes acknowledged; first write accepted {first_after:?} after the deletion",
        acked.len()
    );
    assert!(
        first_after.is_some(),
        "no write accepted after the deletion"
    );
    assert!(acked.len() > 10, "{}", acked.len());
    let new_master = format!("{new_ip}:6379");
    assert_eq!(role(&new_master, &pw), "master");
    let lost = missing_keys(&new_master, &pw, &acked);
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");

    // The recreated pod rejoins as a replica of the new master, with the
    // data; exactly one master.
    let new_pod = ns.jsonpath(&["rcache", "cache"], "{.status.master}");
    assert!(
        eventually(Duration::from_secs(90), || {
            let ip = pod_ip(&ns, &old_pod);
            if ip.is_empty() || ip == old[0] {
                return false;
            }
            let Ok(mut c) = redis::Client::open(format!("redis://:{pw}@{ip}:6379/"))
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            else {
                return false;
            };
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut c)
                .unwrap_or_default();
            info.contains("role:slave")
                && info.contains("master_link_status:up")
                && info.contains(&format!("master_host:{new_pod}."))
        }),
        "{} did not rejoin\n{}\n{}",
        old_pod,
        ns.describe(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let rejoined = format!("{}:6379", pod_ip(&ns, &old_pod));
    let lost = missing_keys(&rejoined, &pw, &acked);
    assert!(
        lost.is_empty(),
        "the rejoined pod lacks {} keys",
        lost.len()
    );
    assert_eq!(masters(&ns, &pw, 3), vec![new_pod.clone()]);
    assert!(eventually(Duration::from_secs(60), || ns
        .jsonpath(&["rcache", "cache"], "{.status.ready}")
        == "3/3"));
}

/// The operator killed (SIGKILL) right as a failover starts, then started
/// again: it takes the Lease over, moves the master Service to the
/// promoted pod (never two addresses), and no data is lost.
#[test]
fn an_operator_killed_during_a_failover_converges_when_restarted() {
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op,
        pw,
    } = running("operator-restart", &cache_yaml("cache", "  replicas: 2\n"));
    let service = service_addr(&ns);
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
    let mut m = redis_at(&service, &pw);
    for k in &keys {
        let _: () = redis::cmd("SET").arg(k).arg(k).query(&mut m).unwrap();
    }
    assert!(eventually(Duration::from_secs(60), || matches!(
        redis::cmd("WAIT").arg(1).arg(1000).query::<i64>(&mut m),
        Ok(1)
    )));
    let old = master_slice(&ns);
    let mut s = sentinel_failover(&ns, &pw);
    op.kill_hard();
    // The sentinels finish without it; the Service still shows the old
    // master (now a replica) or nothing new.
    assert!(eventually(Duration::from_secs(60), || {
        let a: Vec<String> = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg("cache")
            .query(&mut s)
            .unwrap_or_default();
        a.first().is_some_and(|h| h.starts_with("cache-1."))
    }));
    assert!(master_slice(&ns).len() <= 1);
    let op = Operator::start(&log);
    let moved = wait_master_moved(&ns, &old, Duration::from_secs(60));
    assert_eq!(
        moved.as_deref(),
        Some(pod_ip(&ns, "cache-1").as_str()),
        "{}\n{}",
        ns.describe(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(op.counter("picket_operator_leader"), 1);
    let lost = missing_keys(&service, &pw, &keys);
    assert!(lost.is_empty(), "{} keys lost", lost.len());
    assert!(eventually(Duration::from_secs(60), || ns
        .jsonpath(&["rcache", "cache"], "{.status.master}")
        == "cache-1"));
    assert_eq!(masters(&ns, &pw, 2), vec!["cache-1".to_string()]);
}

/// `kubectl apply -f deploy/`, undone (but the CRD) when dropped: the
/// namespace and its pods are gone before the next test runs an operator.
struct Installed;

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");

impl Installed {
    fn apply() -> Installed {
        k(&["apply", "-f", DEPLOY]);
        Installed
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = kubectl(&[
            "delete",
            "namespace",
            "picket-system",
            "--ignore-not-found",
            "--timeout=120s",
        ]);
        let _ = kubectl(&[
            "delete",
            "clusterrole,clusterrolebinding",
            "picket-operator",
            "--ignore-not-found",
        ]);
    }
}

fn lease_holder() -> String {
    kubectl(&[
        "-n",
        "picket-system",
        "get",
        "lease",
        "picket-operator",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ])
    .unwrap_or_default()
}

/// GET `path` from `addr`, the body.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) =
        std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))
    else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes());
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

/// The README's install: `kubectl apply -f deploy/` runs two operator
/// replicas in the cluster (its ServiceAccount, least-privilege RBAC),
/// one holding the Lease, the other ready on standby. A cache comes up;
/// the leader's pod is deleted, the standby takes the Lease and follows
/// the next failover.
#[test]
fn the_operator_installed_from_deploy_runs_in_the_cluster_with_a_standby() {
    let _turn = one_operator_at_a_time();
    install_crd();
    settle_earlier_tests();
    let _installed = Installed::apply();
    let sys = |args: &[&str]| {
        let mut a = vec!["-n", "picket-system"];
        a.extend_from_slice(args);
        kubectl(&a)
    };
    let rolled = sys(&[
        "rollout",
        "status",
        "deployment/picket-operator",
        "--timeout=120s",
    ]);
    assert!(
        rolled.is_ok(),
        "{rolled:?}\n{}",
        sys(&["describe", "pods"]).unwrap_or_default()
    );
    let pods = || -> Vec<String> {
        sys(&[
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/name=picket-operator",
            "--field-selector=status.phase=Running",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
    };
    let mut holder = String::new();
    assert!(eventually(Duration::from_secs(60), || {
        holder = lease_holder();
        pods().contains(&holder)
    }));
    let logs = |pod: &str| sys(&["logs", pod]).unwrap_or_else(|e| e);

    let ns = Namespace::new("operator-incluster");
    ns.apply(&cache_yaml("cache", "  replicas: 2\n"));
    wait_available(&ns, "cache", &|| logs(&holder));
    // The leader says so on /metrics; the standby is ready but idle.
    let leader_ip = sys(&["get", "pod", &holder, "-o", "jsonpath={.status.podIP}"]).unwrap();
    assert!(
        http_get(&format!("{leader_ip}:8080"), "/metrics").contains("\npicket_operator_leader 1\n")
    );
    let standby = pods()
        .into_iter()
        .find(|p| *p != holder)
        .expect("a standby pod");
    let standby_ip = sys(&["get", "pod", &standby, "-o", "jsonpath={.status.podIP}"]).unwrap();
    let sm = http_get(&format!("{standby_ip}:8080"), "/metrics");
    assert!(sm.contains("\npicket_operator_leader 0\n"), "{sm}");
    assert!(
        sm.contains("\npicket_operator_reconciles_total 0\n"),
        "{sm}"
    );

    // The leader stalls (SIGSTOP: no renewals, and its pod stays, so no
    // replacement races for the Lease): the standby takes over once the
    // Lease expires.
    let fault = |op: &str, pod: &str| {
        let out = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/testbed/fault"
        ))
        .args([op, pod])
        .env("NS", "picket-system")
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    fault("freeze", &holder);
    assert!(
        eventually(Duration::from_secs(60), || lease_holder() == standby),
        "holder {}\n{}",
        lease_holder(),
        logs(&standby)
    );
    let old = master_slice(&ns);
    let pw = secret_password(&ns, "cache-auth");
    sentinel_failover(&ns, &pw);
    let moved = wait_master_moved(&ns, &old, Duration::from_secs(60));
    assert_eq!(
        moved.as_deref(),
        Some(pod_ip(&ns, "cache-1").as_str()),
        "{}\n{}",
        ns.describe(),
        logs(&standby)
    );
    let m = http_get(&format!("{standby_ip}:8080"), "/metrics");
    assert!(m.contains("\npicket_operator_leader 1\n"), "{m}");
    // The stalled leader, resumed, finds the Lease gone and exits: its
    // container restarts as a standby; the Lease stays where it is.
    fault("thaw", &holder);
    assert!(
        eventually(Duration::from_secs(60), || sys(&[
            "get",
            "pod",
            &holder,
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}"
        ])
        .is_ok_and(|n| n.trim().parse::<i32>().unwrap_or(0) >= 1)),
        "{}",
        sys(&["logs", &holder]).unwrap_or_default()
    );
    assert_eq!(lease_holder(), standby);
    let previous = sys(&["logs", &holder, "--previous"]).unwrap_or_default();
    assert!(
        previous.contains("leader Lease") && previous.contains("exiting"),
        "{previous}"
    );
}

/// A scale-down from 3 data pods to 2: the sentinels still remember the
/// removed pod (down forever, handed to clients asking for replicas); the
/// operator resets them one at a time until each knows exactly the one
/// live replica, and says so in Events.
#[test]
fn after_a_scale_down_the_sentinels_are_reset_one_at_a_time() {
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op,
        pw,
    } = running("operator-scale", &cache_yaml("cache", "  replicas: 3\n"));
    let replicas_known = |i: usize| -> Option<usize> {
        let ip = pod_ip(&ns, &format!("cache-sentinel-{i}"));
        let c = redis::Client::open(format!("redis://:{pw}@{ip}:26379/")).ok()?;
        let mut c = c.get_connection_with_timeout(Duration::from_secs(2)).ok()?;
        let r: Vec<redis::Value> = redis::cmd("SENTINEL")
            .arg("REPLICAS")
            .arg("cache")
            .query(&mut c)
            .ok()?;
        Some(r.len())
    };
    // Every sentinel knows both replicas first.
    assert!(eventually(Duration::from_secs(60), || (0..3)
        .all(|i| replicas_known(i) == Some(2))));
    patch_cache(&ns, "{\"spec\":{\"replicas\":2}}");
    assert!(eventually(Duration::from_secs(60), || ns
        .kubectl(&["get", "pod", "cache-2"])
        .is_err()));
    // Three resets, 30 s apart at the least.
    let all_reset = eventually(Duration::from_secs(180), || {
        (0..3).all(|i| replicas_known(i) == Some(1))
    });
    assert!(
        all_reset,
        "{:?}\n{}\n{}",
        (0..3).map(replicas_known).collect::<Vec<_>>(),
        ns.describe(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let resets = event_notes(&ns, "SentinelReset");
    assert_eq!(resets.len(), 3, "{resets:?}");
    // At least one per sentinel; one may be reset again when it learnt a
    // removed replica back (identical Events within a minute are one).
    assert!(op.counter("picket_operator_sentinel_resets_total") >= 3);
    // Failover still works with the reset sentinels.
    let old = master_slice(&ns);
    sentinel_failover(&ns, &pw);
    let moved = wait_master_moved(&ns, &old, Duration::from_secs(60));
    assert_eq!(moved.as_deref(), Some(pod_ip(&ns, "cache-1").as_str()));
}

/// `kubectl patch rcache cache --type=merge -p <patch>`.
fn patch_cache(ns: &Namespace, patch: &str) -> String {
    ns.k(&["patch", "rcache", "cache", "--type=merge", "-p", patch])
}

/// The reason of condition `type_` on rcache/cache.
fn reason_of(ns: &Namespace, type_: &str) -> String {
    ns.jsonpath(
        &["rcache", "cache"],
        &format!("{{.status.conditions[?(@.type==\"{type_}\")].reason}}"),
    )
}

/// The UIDs of pods `<prefix>0..n`, "" for one that does not exist.
fn uids(ns: &Namespace, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| ns.jsonpath(&["pod", &format!("{prefix}{i}")], "{.metadata.uid}"))
        .collect()
}

/// One `CONFIG GET` (or `SENTINEL MASTER` field) value per pod.
fn config_of(ns: &Namespace, pw: &str, pod: &str, port: u16, cmd: &[&str], key: &str) -> String {
    let ip = pod_ip(ns, pod);
    let Ok(c) = redis::Client::open(format!("redis://:{pw}@{ip}:{port}/")) else {
        return String::new();
    };
    let Ok(mut c) = c.get_connection_with_timeout(Duration::from_secs(2)) else {
        return String::new();
    };
    let mut q = redis::cmd(cmd[0]);
    for a in &cmd[1..] {
        q.arg(*a);
    }
    let kv: Vec<String> = q.query(&mut c).unwrap_or_default();
    kv.chunks(2)
        .find(|p| p.len() == 2 && p[0] == key)
        .map(|p| p[1].clone())
        .unwrap_or_default()
}

/// The longest gap between two accepted writes after `from`.
fn longest_outage(accepted: &[std::time::Instant], from: std::time::Instant) -> Duration {
    accepted
        .windows(2)
        .filter(|w| w[1] > from)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default()
}

/// Live settings (maxMemory, maxMemoryPolicy, a sentinel timing) reach
/// every pod with no restart; then a pod-template change rolls every
/// sentinel and data pod exactly once, one at a time, the master last
/// after exactly one handover, with a writer running: no write it had
/// acknowledged (WAIT 1) is lost, and its longest outage is printed.
#[test]
fn live_settings_apply_without_restarts_and_a_template_change_rolls_with_one_handover() {
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op: _op,
        pw,
    } = running(
        "operator-roll",
        &cache_yaml(
            "cache",
            "  sentinel: {downAfterMilliseconds: 3000, failoverTimeout: 10000}\n",
        ),
    );
    let service = service_addr(&ns);
    let data_before = uids(&ns, "cache-", 3);
    let sentinels_before = uids(&ns, "cache-sentinel-", 3);

    // Live settings.
    patch_cache(
        &ns,
        r#"{"spec":{"maxMemory":"64mb","maxMemoryPolicy":"allkeys-lru","sentinel":{"downAfterMilliseconds":4000,"failoverTimeout":10000}}}"#,
    );
    let applied = eventually(Duration::from_secs(60), || {
        (0..3).all(|i| {
            let pod = format!("cache-{i}");
            let get = |k: &str| config_of(&ns, &pw, &pod, 6379, &["CONFIG", "GET", k], k);
            get("maxmemory") == "67108864" && get("maxmemory-policy") == "allkeys-lru"
        }) && (0..3).all(|i| {
            let pod = format!("cache-sentinel-{i}");
            let m = ["SENTINEL", "MASTER", "cache"];
            config_of(&ns, &pw, &pod, 26379, &m, "down-after-milliseconds") == "4000"
        })
    });
    assert!(applied, "live settings not applied\n{}", log_of(&log)());
    assert_eq!(uids(&ns, "cache-", 3), data_before, "a data pod restarted");
    assert_eq!(uids(&ns, "cache-sentinel-", 3), sentinels_before);
    assert!(!event_notes(&ns, "SettingsApplied").is_empty());
    assert!(!event_notes(&ns, "SentinelSettingsApplied").is_empty());

    // A template change, under a writer.
    wait_both_replicas_synced(&service, &pw);
    let old_master = ns.jsonpath(&["rcache", "cache"], "{.status.master}");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = acknowledged_writer(service.clone(), pw.clone(), stop.clone());
    std::thread::sleep(Duration::from_secs(2));
    let changed = std::time::Instant::now();
    patch_cache(
        &ns,
        r#"{"spec":{"podAnnotations":{"picket.dev/test-rollout":"1"}}}"#,
    );
    // Every UID each pod had, and when each new one was first seen.
    let names: Vec<String> = (0..3)
        .map(|i| format!("cache-{i}"))
        .chain((0..3).map(|i| format!("cache-sentinel-{i}")))
        .collect();
    let mut seen: Vec<Vec<(String, std::time::Instant)>> = data_before
        .iter()
        .chain(&sentinels_before)
        .map(|u| vec![(u.clone(), changed)])
        .collect();
    let converged = eventually(Duration::from_secs(420), || {
        let now: Vec<String> = uids(&ns, "cache-", 3)
            .into_iter()
            .chain(uids(&ns, "cache-sentinel-", 3))
            .collect();
        for (i, u) in now.iter().enumerate() {
            if !u.is_empty() && seen[i].last().map(|(l, _)| l) != Some(u) {
                seen[i].push((u.clone(), std::time::Instant::now()));
            }
        }
        let all_new = seen.iter().all(|s| s.len() >= 2);
        all_new && reason_of(&ns, "Progressing") == "Converged"
    });
    assert!(
        converged,
        "the rollout did not finish: {seen:?}\n{}\n{}",
        ns.describe(),
        log_of(&log)()
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, accepted) = writer.join().unwrap();
    for (name, s) in names.iter().zip(&seen) {
        assert_eq!(s.len(), 2, "{name} restarted {} times", s.len() - 1);
    }
    // The master last: its new pod came after both replicas' new pods.
    let at = |pod: &str| seen[names.iter().position(|n| n == pod).unwrap()][1].1;
    for p in names.iter().take(3).filter(|p| **p != old_master) {
        assert!(at(p) < at(&old_master), "{p} restarted after the master");
    }
    let handovers = event_notes(&ns, "Handover");
    assert_eq!(handovers.len(), 1, "{handovers:?}");
    let switched = event_notes(&ns, "MasterSwitched");
    assert_eq!(switched.len(), 1, "{switched:?}");
    assert_eq!(event_notes(&ns, "RollingRestart").len(), 6);
    let new_master = ns.jsonpath(&["rcache", "cache"], "{.status.master}");
    assert_ne!(new_master, old_master);
    assert_eq!(masters(&ns, &pw, 3), vec![new_master.clone()]);
    let missing = missing_keys(&format!("{}:6379", pod_ip(&ns, &new_master)), &pw, &acked);
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost (of {}), from {:?} to {:?}\n{}\n{}",
        missing.len(),
        acked.len(),
        missing.first(),
        missing.last(),
        ns.describe(),
        log_of(&log)()
    );
    eprintln!(
        "rollout of 6 pods: {:?}; {} writes acknowledged, 0 lost; the writer's longest outage {:?}",
        changed.elapsed(),
        acked.len(),
        longest_outage(&accepted, changed)
    );
}

/// The pause annotation holds every change (a live setting stays as it
/// was, the status says Paused) until removed; a scale-down that would
/// remove the master hands it over to a kept pod first, losing no
/// acknowledged write.
#[test]
fn a_paused_cache_is_left_alone_and_a_scale_down_hands_the_master_over_first() {
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op: _op,
        pw,
    } = running(
        "operator-pause",
        &cache_yaml(
            "cache",
            "  sentinel: {downAfterMilliseconds: 3000, failoverTimeout: 10000}\n",
        ),
    );
    let maxmemory = |pod: &str| {
        config_of(
            &ns,
            &pw,
            pod,
            6379,
            &["CONFIG", "GET", "maxmemory"],
            "maxmemory",
        )
    };
    ns.k(&["annotate", "rcache", "cache", "picket.dev/paused=true"]);
    assert!(eventually(Duration::from_secs(30), || reason_of(
        &ns,
        "Progressing"
    ) == "Paused"));
    patch_cache(&ns, r#"{"spec":{"maxMemory":"32mb"}}"#);
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(maxmemory("cache-0"), "0", "changed while paused");
    ns.k(&["annotate", "rcache", "cache", "picket.dev/paused-"]);
    assert!(eventually(Duration::from_secs(30), || maxmemory("cache-0")
        == "33554432"));

    // The master moves off ordinal 0, then the cache shrinks to one pod.
    let old = master_slice(&ns);
    sentinel_failover(&ns, &pw);
    assert!(wait_master_moved(&ns, &old, Duration::from_secs(60)).is_some());
    let moved_off_0 = eventually(Duration::from_secs(30), || {
        ns.jsonpath(&["rcache", "cache"], "{.status.master}") != "cache-0"
    });
    assert!(moved_off_0, "{}\n{}", ns.describe(), log_of(&log)());
    let service = service_addr(&ns);
    // Both replicas follow the new master before the writer starts.
    wait_both_replicas_synced(&service, &pw);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = acknowledged_writer(service.clone(), pw.clone(), stop.clone());
    std::thread::sleep(Duration::from_secs(2));
    let changed = std::time::Instant::now();
    patch_cache(&ns, r#"{"spec":{"replicas":1}}"#);
    let shrunk = eventually(Duration::from_secs(180), || {
        ns.kubectl(&["get", "pod", "cache-1"]).is_err()
            && ns.kubectl(&["get", "pod", "cache-2"]).is_err()
            && ns.jsonpath(&["rcache", "cache"], "{.status.master}") == "cache-0"
    });
    assert!(shrunk, "{}\n{}", ns.describe(), log_of(&log)());
    // Writes go on after the move (WAIT 1 has no replica left to ack).
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, accepted) = writer.join().unwrap();
    let handovers = event_notes(&ns, "Handover");
    assert_eq!(handovers.len(), 1, "{handovers:?}");
    assert!(accepted.last().is_some_and(|t| *t > changed));
    let missing = missing_keys(&format!("{}:6379", pod_ip(&ns, "cache-0")), &pw, &acked);
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost (of {}), from {:?} to {:?}\n{}\n{}",
        missing.len(),
        acked.len(),
        missing.first(),
        missing.last(),
        ns.describe(),
        log_of(&log)()
    );
    assert_eq!(masters(&ns, &pw, 1), vec!["cache-0".to_string()]);
    eprintln!(
        "scale-down 3 -> 1 past the master: {} writes acknowledged, 0 lost; the writer's longest outage {:?}",
        acked.len(),
        longest_outage(&accepted, changed)
    );
}

/// Evicting the master through the Eviction API (what a node drain does):
/// its preStop hook hands over first (a manual failover, no down-after
/// wait: the sentinels never see it objectively down), the Service
/// follows, no acknowledged write is lost, and the pod comes back as a
/// replica.
#[test]
fn an_evicted_master_hands_over_before_it_stops() {
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op: _op,
        pw,
    } = running(
        "operator-evict",
        &cache_yaml(
            "cache",
            "  sentinel: {downAfterMilliseconds: 5000, failoverTimeout: 10000}\n",
        ),
    );
    let service = service_addr(&ns);
    wait_both_replicas_synced(&service, &pw);
    let old = master_slice(&ns);
    let old_master = ns.jsonpath(&["rcache", "cache"], "{.status.master}");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = acknowledged_writer(service.clone(), pw.clone(), stop.clone());
    std::thread::sleep(Duration::from_secs(2));
    let evicted = std::time::Instant::now();
    let eviction = format!(
        "{{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{{\"name\":\"{old_master}\",\"namespace\":\"{}\"}}}}",
        ns.name
    );
    let path = format!("/api/v1/namespaces/{}/pods/{old_master}/eviction", ns.name);
    let r = common::k8s::kubectl_in(&["create", "--raw", &path, "-f", "-"], Some(&eviction));
    assert!(r.is_ok(), "eviction: {r:?}");
    let moved = wait_master_moved(&ns, &old, Duration::from_secs(60));
    assert!(moved.is_some(), "{}\n{}", ns.describe(), log_of(&log)());
    // The pod comes back and follows the new master with the data.
    let back = eventually(Duration::from_secs(90), || {
        let ip = pod_ip(&ns, &old_master);
        !ip.is_empty()
            && !old.contains(&ip)
            && role_within(&format!("{ip}:6379"), &pw).as_deref() == Some("slave")
    });
    assert!(back, "{}\n{}", ns.describe(), log_of(&log)());
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, accepted) = writer.join().unwrap();
    let new_master = ns.jsonpath(&["rcache", "cache"], "{.status.master}");
    assert_ne!(new_master, old_master);
    let missing = missing_keys(&format!("{}:6379", pod_ip(&ns, &new_master)), &pw, &acked);
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost (of {}; first {:?}, last {:?})\n{}\n{}\n{}",
        missing.len(),
        acked.len(),
        missing.first(),
        missing.last(),
        ns.describe(),
        sentinel_logs(&ns),
        log_of(&log)()
    );
    // A handover, not a timeout: no sentinel saw the master objectively
    // down.
    let odown = event_notes(&ns, "MasterObjectivelyDown");
    assert!(odown.is_empty(), "{odown:?}");
    assert_eq!(masters(&ns, &pw, 3), vec![new_master]);
    eprintln!(
        "evicted master: {} writes acknowledged, 0 lost; the writer's longest outage {:?}",
        acked.len(),
        longest_outage(&accepted, evicted)
    );
}

/// What sentinel pod `cache-sentinel-<i>` says: its peers (SENTINEL
/// SENTINELS) and the replicas it knows (SENTINEL REPLICAS), each as a
/// pod name (an announced host name's first label, or the pod with that
/// IP), and its CKQUORUM answer. None when it does not answer.
fn sentinel_knows(
    ns: &Namespace,
    pw: &str,
    i: usize,
) -> Option<(Vec<String>, Vec<String>, String)> {
    let ip = pod_ip(ns, &format!("cache-sentinel-{i}"));
    let c = redis::Client::open(format!("redis://:{pw}@{ip}:26379/")).ok()?;
    let mut c = c.get_connection_with_timeout(Duration::from_secs(2)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let by_ip: std::collections::BTreeMap<String, String> = ns
        .k(&[
            "get",
            "pod",
            "-o",
            "jsonpath={range .items[*]}{.status.podIP} {.metadata.name}{\"\\n\"}{end}",
        ])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let mut names = |sub: &str| -> Option<Vec<String>> {
        let r: Vec<std::collections::HashMap<String, String>> = redis::cmd("SENTINEL")
            .arg(sub)
            .arg("cache")
            .query(&mut c)
            .ok()?;
        let mut v: Vec<String> = r
            .iter()
            .filter_map(|m| m.get("ip"))
            .map(|h| match by_ip.get(h) {
                Some(pod) => pod.clone(),
                None => h.split('.').next().unwrap_or_default().to_string(),
            })
            .collect();
        v.sort();
        Some(v)
    };
    let peers = names("SENTINELS")?;
    let replicas = names("REPLICAS")?;
    let ck = redis::cmd("SENTINEL")
        .arg("CKQUORUM")
        .arg("cache")
        .query::<String>(&mut c)
        .unwrap_or_else(|e| e.to_string());
    Some((peers, replicas, ck))
}

/// Whether each of `sentinels` sentinel pods lists exactly the other live
/// sentinels and the `replicas - 1` replicas of master cache-0, and says
/// CKQUORUM OK.
fn sentinels_exact(ns: &Namespace, pw: &str, sentinels: usize, replicas: usize) -> bool {
    (0..sentinels).all(|i| {
        let peers: Vec<String> = (0..sentinels)
            .filter(|j| *j != i)
            .map(|j| format!("cache-sentinel-{j}"))
            .collect();
        let reps: Vec<String> = (1..replicas).map(|j| format!("cache-{j}")).collect();
        sentinel_knows(ns, pw, i)
            .is_some_and(|(p, r, ck)| p == peers && r == reps && ck.starts_with("OK "))
    })
}

/// Replicas 3 -> 5 and sentinels 3 -> 5 with a writer running; then a
/// shrink to 2 and 3 while two of the sentinels it would keep are frozen
/// is refused whole (Degraded UnsafeQuorum, an Event, not even its
/// maxMemory applied); thawed, it goes through: every sentinel lists
/// exactly the live peers and replicas, CKQUORUM OK, the master never
/// moved nor restarted, no acknowledged write lost.
#[test]
fn scaling_forgets_removed_peers_and_an_unsafe_shrink_waits_for_its_sentinels() {
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op: _op,
        pw,
    } = running("operator-grow", &cache_yaml("cache", "  quorum: 2\n"));
    let master_uid = ns.jsonpath(&["pod", "cache-0"], "{.metadata.uid}");
    assert_eq!(
        ns.jsonpath(&["rcache", "cache"], "{.status.master}"),
        "cache-0"
    );
    let service = service_addr(&ns);
    wait_both_replicas_synced(&service, &pw);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = acknowledged_writer(service.clone(), pw.clone(), stop.clone());
    let changed = std::time::Instant::now();
    patch_cache(&ns, r#"{"spec":{"replicas":5,"sentinels":5}}"#);
    let grown = eventually(Duration::from_secs(240), || sentinels_exact(&ns, &pw, 5, 5));
    assert!(
        grown,
        "{:?}\n{}\n{}",
        (0..5)
            .map(|i| sentinel_knows(&ns, &pw, i))
            .collect::<Vec<_>>(),
        ns.describe(),
        log_of(&log)()
    );

    // Two of the sentinels a shrink to 3 would keep stop answering.
    let maxmemory = || {
        config_of(
            &ns,
            &pw,
            "cache-0",
            6379,
            &["CONFIG", "GET", "maxmemory"],
            "maxmemory",
        )
    };
    let before = maxmemory();
    ns.fault("freeze", "cache-sentinel-1");
    ns.fault("freeze", "cache-sentinel-2");
    // Room for every key the writer sets (the policy is noeviction).
    patch_cache(
        &ns,
        r#"{"spec":{"replicas":2,"sentinels":3,"maxMemory":"512mb"}}"#,
    );
    let degraded = || reason_of(&ns, "Degraded");
    let refused = eventually(Duration::from_secs(60), || degraded() == "UnsafeQuorum");
    std::thread::sleep(Duration::from_secs(5));
    let replicas_of = |sts: &str| ns.jsonpath(&["statefulset", sts], "{.spec.replicas}");
    let held = (
        replicas_of("cache"),
        replicas_of("cache-sentinel"),
        maxmemory(),
    );
    ns.fault("thaw", "cache-sentinel-1");
    ns.fault("thaw", "cache-sentinel-2");
    assert!(refused, "{}\n{}", ns.describe(), log_of(&log)());
    assert_eq!(
        held,
        ("5".into(), "5".into(), before.clone()),
        "half-applied"
    );
    let notes = event_notes(&ns, "UnsafeQuorum");
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("spec.sentinels 5 -> 3 would leave 1 working")),
        "{notes:?}"
    );

    // Thawed: the shrink goes through and the sentinels forget the rest.
    let shrunk = eventually(Duration::from_secs(360), || {
        (2..5).all(|i| ns.kubectl(&["get", "pod", &format!("cache-{i}")]).is_err())
            && (3..5).all(|i| {
                ns.kubectl(&["get", "pod", &format!("cache-sentinel-{i}")])
                    .is_err()
            })
            && sentinels_exact(&ns, &pw, 3, 2)
    });
    assert!(
        shrunk,
        "{:?}\n{}\n{}",
        (0..3)
            .map(|i| sentinel_knows(&ns, &pw, i))
            .collect::<Vec<_>>(),
        ns.describe(),
        log_of(&log)()
    );
    assert!(eventually(Duration::from_secs(30), || degraded() != "UnsafeQuorum"));
    assert_eq!(maxmemory(), "536870912");
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, accepted) = writer.join().unwrap();
    assert_eq!(
        ns.jsonpath(&["pod", "cache-0"], "{.metadata.uid}"),
        master_uid
    );
    assert_eq!(masters(&ns, &pw, 2), vec!["cache-0".to_string()]);
    assert!(event_notes(&ns, "Handover").is_empty());
    let missing = missing_keys(&service, &pw, &acked);
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost (of {})\n{}",
        missing.len(),
        acked.len(),
        log_of(&log)()
    );
    eprintln!(
        "scaling 3 -> 5 -> 2 replicas, 3 -> 5 -> 3 sentinels: {} writes acknowledged, 0 lost; the writer's longest outage {:?}",
        acked.len(),
        longest_outage(&accepted, changed)
    );
}

/// With persistence, every data pod deleted at once (what a node loss or
/// `kubectl delete pod --all` does): the pods come back on their claims,
/// the node with the newest data is master, and every write acknowledged
/// before and during the deletion (WAIT 1) is there.
#[test]
fn with_persistence_every_data_pod_deleted_at_once_keeps_every_acknowledged_write() {
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op: _op,
        pw,
    } = running(
        "operator-persist",
        &cache_yaml("cache", "  persistence: {enabled: true, size: 64Mi}\n"),
    );
    let service = service_addr(&ns);
    wait_both_replicas_synced(&service, &pw);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = acknowledged_writer(service.clone(), pw.clone(), stop.clone());
    std::thread::sleep(Duration::from_secs(3));
    let old = uids(&ns, "cache-", 3);
    let deleted = std::time::Instant::now();
    ns.k(&[
        "delete",
        "pod",
        "cache-0",
        "cache-1",
        "cache-2",
        "--wait=false",
    ]);
    // All three recreated, and writes acknowledged again.
    let back = eventually(Duration::from_secs(240), || {
        let now = uids(&ns, "cache-", 3);
        now.iter().zip(&old).all(|(n, o)| !n.is_empty() && n != o)
            && redis::Client::open(format!("redis://:{pw}@{service}/"))
                .ok()
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)).ok())
                .is_some_and(|mut c| {
                    redis::cmd("SET")
                        .arg("after")
                        .arg("1")
                        .query::<()>(&mut c)
                        .is_ok()
                        && redis::cmd("WAIT").arg(1).arg(1000).query::<i64>(&mut c) == Ok(1)
                })
    });
    assert!(back, "{}\n{}", ns.describe(), log_of(&log)());
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (acked, accepted) = writer.join().unwrap();
    assert!(accepted.last().is_some_and(|t| *t > deleted));
    let missing = missing_keys(&service, &pw, &acked);
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost (of {}), from {:?} to {:?}\n{}\n{}",
        missing.len(),
        acked.len(),
        missing.first(),
        missing.last(),
        ns.describe(),
        log_of(&log)()
    );
    assert_eq!(masters(&ns, &pw, 3).len(), 1);
    eprintln!(
        "every data pod deleted at once with persistence: {} writes acknowledged, 0 lost; the writer's longest outage {:?}",
        acked.len(),
        longest_outage(&accepted, deleted)
    );
}

/// Writes `<prefix><i>` through `addr` with password `pw` (SET, then WAIT
/// 1 100) until `stop`, reconnecting after an error; every command's
/// outcome with its time. Acknowledged keys are the `Ok`s.
#[allow(clippy::type_complexity)]
fn logged_writer(
    addr: String,
    pw: String,
    prefix: &'static str,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<(std::time::Instant, Result<String, String>)>> {
    std::thread::spawn(move || {
        let mut log = Vec::new();
        let mut conn: Option<redis::Connection> = None;
        let start = std::time::Instant::now();
        let mut i = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed)
            && start.elapsed() < Duration::from_secs(300)
        {
            if conn.is_none() {
                let c = redis::Client::open(format!("redis://:{pw}@{addr}/"))
                    .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)));
                match c {
                    Ok(c) => {
                        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                        conn = Some(c);
                    }
                    Err(e) => {
                        log.push((std::time::Instant::now(), Err(e.to_string())));
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                }
            }
            let c = conn.as_mut().unwrap();
            let key = format!("{prefix}{i}");
            i += 1;
            let r = redis::cmd("SET")
                .arg(&key)
                .arg(i)
                .query::<()>(c)
                .and_then(|_| redis::cmd("WAIT").arg(1).arg(100).query::<i64>(c));
            match r {
                Ok(n) if n >= 1 => log.push((std::time::Instant::now(), Ok(key))),
                Ok(_) => {}
                Err(e) => {
                    log.push((std::time::Instant::now(), Err(e.to_string())));
                    note_error(&e);
                    conn = None;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        log
    })
}

/// Whether a fresh connection to `addr` with `pw` logs in.
fn logs_in(addr: &str, pw: &str) -> bool {
    redis::Client::open(format!("redis://:{pw}@{addr}/"))
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok()
}

/// The password changed in the Secret while a writer runs with the old
/// one: every pod accepts both (a second writer starts with the new one),
/// then, after the grace period, only the new one. Neither writer sees a
/// failed command, no acknowledged write is lost, the old password no
/// longer logs in anywhere, and a failover afterwards works (replication
/// and the sentinels moved to the new password).
#[test]
fn a_password_rotation_keeps_old_and_new_clients_working_until_the_old_is_removed() {
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op: _op,
        pw: old,
    } = running(
        "operator-rotate",
        &cache_yaml("cache", "  passwordRotationGraceSeconds: 15\n"),
    );
    let service = service_addr(&ns);
    wait_both_replicas_synced(&service, &old);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let old_writer = logged_writer(service.clone(), old.clone(), "o", stop.clone());
    std::thread::sleep(Duration::from_secs(1));
    let new = format!("rotated{}", std::process::id());
    let rotation = || {
        ns.jsonpath(
            &["rcache", "cache"],
            "{.status.passwordRotation.phase}/{.status.passwordRotation.bothAcceptedSince}",
        )
    };
    ns.k(&[
        "patch",
        "secret",
        "cache-auth",
        "-p",
        &format!("{{\"stringData\":{{\"password\":\"{new}\"}}}}"),
    ]);
    let both = eventually(Duration::from_secs(60), || {
        let r = rotation();
        r.starts_with("AcceptingBoth/") && r.len() > "AcceptingBoth/".len()
    });
    assert!(
        both,
        "{}\n{}\n{}",
        rotation(),
        ns.describe(),
        log_of(&log)()
    );
    let both_seen = std::time::Instant::now();
    let new_writer = logged_writer(service.clone(), new.clone(), "n", stop.clone());
    // Both log in everywhere while both are accepted.
    let pods: Vec<(String, u16)> = (0..3)
        .map(|i| (format!("cache-{i}"), 6379))
        .chain((0..3).map(|i| (format!("cache-sentinel-{i}"), 26379)))
        .collect();
    for (p, port) in &pods {
        let addr = format!("{}:{port}", pod_ip(&ns, p));
        assert!(logs_in(&addr, &old) && logs_in(&addr, &new), "{p}");
    }
    // Then the old one goes.
    let mut last_accepting = both_seen;
    let start = std::time::Instant::now();
    let mut done = false;
    while start.elapsed() < Duration::from_secs(120) {
        let r = rotation();
        if r.starts_with("AcceptingBoth") {
            last_accepting = std::time::Instant::now();
        } else if r == "/" {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        done,
        "{}\n{}\n{}",
        rotation(),
        ns.describe(),
        log_of(&log)()
    );
    assert!(
        last_accepting.duration_since(both_seen) >= Duration::from_secs(10),
        "the grace period was cut short: {:?}",
        last_accepting.duration_since(both_seen)
    );
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (old_log, new_log) = (old_writer.join().unwrap(), new_writer.join().unwrap());
    let failed = |l: &[(std::time::Instant, Result<String, String>)], until: std::time::Instant| {
        l.iter()
            .filter(|(t, r)| *t <= until && r.is_err())
            .map(|(_, r)| r.clone().unwrap_err())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        failed(&old_log, last_accepting),
        Vec::<String>::new(),
        "old-password writer"
    );
    let end = std::time::Instant::now();
    assert_eq!(
        failed(&new_log, end),
        Vec::<String>::new(),
        "new-password writer"
    );
    let acked: Vec<String> = old_log
        .iter()
        .chain(&new_log)
        .filter_map(|(_, r)| r.clone().ok())
        .collect();
    let old_after = old_log
        .iter()
        .filter(|(t, r)| *t > both_seen && r.is_ok())
        .count();
    assert!(
        old_after > 0,
        "the old password stopped working while both were accepted"
    );
    for (p, port) in &pods {
        let addr = format!("{}:{port}", pod_ip(&ns, p));
        assert!(!logs_in(&addr, &old), "{p} still takes the old password");
        assert!(logs_in(&addr, &new), "{p} refuses the new password");
    }
    assert_eq!(event_notes(&ns, "PasswordRotated").len(), 1);
    let missing = missing_keys(&service, &new, &acked);
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost",
        missing.len()
    );
    // Replication and the sentinels use the new password: a failover
    // works and both replicas follow the new master.
    let before = master_slice(&ns);
    let switches = || log_of(&log)().matches("master Service switched").count();
    let switched_before = switches();
    sentinel_failover(&ns, &new);
    let moved = wait_master_moved(&ns, &before, Duration::from_secs(60));
    assert!(moved.is_some(), "{}\n{}", ns.describe(), log_of(&log)());
    // The event follower's subscriptions opened with the old password
    // (still logged in): its switch checks the new master with the
    // current one, so +switch-master moves the Service, not only the
    // next reconcile.
    assert!(
        eventually(Duration::from_secs(10), || switches() > switched_before),
        "+switch-master did not move the Service after the rotation: {}",
        log_of(&log)()
    );
    wait_both_replicas_synced(&service_addr(&ns), &new);
    eprintln!(
        "password rotation: {} writes acknowledged ({} with the old password after the new one was accepted), 0 failed while their password was accepted, 0 lost",
        acked.len(),
        old_after
    );
}

/// An image that does not run (the toolbox's: the pod crash-loops): the
/// rollout restarts one sentinel, then stops with Degraded
/// RolloutStalled after rolloutStepTimeoutSeconds and touches no other
/// pod; the image reverted, the stuck pod is restarted at the reverted
/// revision and the cache is whole again, no other pod ever restarted.
#[test]
fn a_change_that_does_not_start_stalls_the_rollout_and_reverting_it_recovers() {
    let Running {
        _turn,
        ns,
        _dir,
        log,
        op: _op,
        pw: _pw,
    } = running(
        "operator-stall",
        &cache_yaml("cache", "  rolloutStepTimeoutSeconds: 10\n"),
    );
    let sentinels = uids(&ns, "cache-sentinel-", 3);
    let data = uids(&ns, "cache-", 3);
    let degraded = || reason_of(&ns, "Degraded");
    let toolbox = cluster_env("TOOLBOX_IMAGE");
    patch_cache(&ns, &format!("{{\"spec\":{{\"image\":\"{toolbox}\"}}}}"));
    let stalled = eventually(Duration::from_secs(120), || degraded() == "RolloutStalled");
    assert!(stalled, "{}\n{}", ns.describe(), log_of(&log)());
    std::thread::sleep(Duration::from_secs(5));
    let now = uids(&ns, "cache-sentinel-", 3);
    assert_eq!(now[..2], sentinels[..2], "another sentinel was restarted");
    assert_ne!(now[2], sentinels[2], "the highest sentinel goes first");
    assert_eq!(uids(&ns, "cache-", 3), data, "a data pod was restarted");
    assert!(!event_notes(&ns, "RolloutStalled").is_empty());

    // Reverted: the stuck sentinel is restarted at the old revision.
    patch_cache(&ns, r#"{"spec":{"image":null}}"#);
    let recovered = eventually(Duration::from_secs(120), || {
        degraded() == "AsExpected"
            && ns.jsonpath(
                &["pod", "cache-sentinel-2"],
                "{.status.conditions[?(@.type==\"Ready\")].status}",
            ) == "True"
            && uids(&ns, "cache-sentinel-", 3)[2] != now[2]
    });
    assert!(recovered, "{}\n{}", ns.describe(), log_of(&log)());
    wait_available(&ns, "cache", &log_of(&log));
    assert_eq!(uids(&ns, "cache-sentinel-", 3)[..2], sentinels[..2]);
    assert_eq!(uids(&ns, "cache-", 3), data, "a data pod was restarted");
}
