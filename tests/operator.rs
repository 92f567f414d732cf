//! picket-operator on the Kubernetes test bed: the CRD as the API server
//! enforces it. Every wait is bounded.

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

/// The operator as a process on the host (a local run with the test
/// bed's kubeconfig), killed when dropped.
struct Operator {
    child: std::process::Child,
    /// Its /metrics, /healthz, /readyz address.
    http: String,
}

impl Operator {
    fn start(log: &std::path::Path) -> Operator {
        let out = std::fs::File::create(log).unwrap();
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

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    install_crd();
    let ns = Namespace::new("operator-e2e");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("operator.log");
    let op = Operator::start(&log);
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cache.yaml"))
            .unwrap();
    ns.apply(&example);
    let available = ns.kubectl(&[
        "wait",
        "--for=condition=Available",
        "rcache/cache",
        "--timeout=120s",
    ]);
    assert!(
        available.is_ok(),
        "{available:?}\n{}\n{}",
        ns.describe(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
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
    let pw = secret_password(&ns, "cache-auth");
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
    let s0 = ns.jsonpath(&["pod", "cache-sentinel-0"], "{.status.podIP}");
    let mut s = redis_at(&format!("{s0}:26379"), &pw);
    let _: () = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg("cache")
        .query(&mut s)
        .unwrap();
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
}
