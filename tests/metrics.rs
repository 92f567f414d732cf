//! The optional Prometheus endpoint (`metrics-port`): scraped over a plain
//! TcpStream with HTTP/1.1, as Prometheus does.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{cmd, free_port, Proc};

/// GETs `path` and returns (status line, headers, body).
fn http_get(port: u16, method: &str, path: &str) -> (String, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").expect("a full HTTP response");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (
        status.to_string(),
        headers.to_ascii_lowercase(),
        body.to_string(),
    )
}

fn value_of<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
}

#[test]
fn metrics_endpoint_serves_info_figures_in_prometheus_format() {
    let mport = free_port();
    let p = Proc::picket(&["--metrics-port", &mport.to_string(), "--maxmemory", "64mb"]);
    let mut c = p.conn();
    for i in 0..5 {
        cmd(&mut c, &["SET", &format!("k{i}"), "v"]).unwrap();
    }
    cmd(&mut c, &["SET", "ttl", "v", "EX", "100"]).unwrap();
    cmd(&mut c, &["GET", "k0"]).unwrap();
    cmd(&mut c, &["GET", "missing"]).unwrap();
    cmd(&mut c, &["INCR", "k1"]).unwrap_err();

    let (status, headers, body) = http_get(mport, "GET", "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    assert_eq!(value_of(&body, "redis_up"), Some("1"));
    assert!(body.contains("# TYPE redis_up gauge\n"));
    assert!(body.contains("# HELP redis_commands_processed_total "));
    assert!(body.contains("# TYPE redis_commands_processed_total counter\n"));
    assert_eq!(value_of(&body, "redis_db_keys{db=\"db0\"}"), Some("6"));
    assert_eq!(
        value_of(&body, "redis_db_keys_expiring{db=\"db0\"}"),
        Some("1")
    );
    assert_eq!(
        value_of(&body, "redis_commands_total{cmd=\"set\"}"),
        Some("6")
    );
    assert_eq!(
        value_of(&body, "redis_commands_total{cmd=\"get\"}"),
        Some("2")
    );
    assert!(value_of(&body, "redis_commands_duration_seconds_total{cmd=\"set\"}").is_some());
    assert_eq!(value_of(&body, "redis_keyspace_hits_total"), Some("1"));
    assert_eq!(value_of(&body, "redis_keyspace_misses_total"), Some("1"));
    // The same count INFO errorstats shows (the client library's own
    // handshake may add errors of its own).
    let info = match cmd(&mut c, &["INFO", "errorstats"]).unwrap() {
        redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
        v => panic!("{v:?}"),
    };
    let errs = info
        .lines()
        .find_map(|l| l.strip_prefix("errorstat_ERR:count="))
        .unwrap();
    assert_eq!(
        value_of(&body, "redis_errors_total{err=\"ERR\"}"),
        Some(errs)
    );
    assert_eq!(value_of(&body, "redis_memory_max_bytes"), Some("67108864"));
    let clients: u64 = value_of(&body, "redis_connected_clients")
        .unwrap()
        .parse()
        .unwrap();
    assert!(clients >= 1);
    assert_eq!(value_of(&body, "redis_evicted_keys_total"), Some("0"));
    assert_eq!(value_of(&body, "redis_expired_keys_total"), Some("0"));
    let processed: u64 = value_of(&body, "redis_commands_processed_total")
        .unwrap()
        .parse()
        .unwrap();
    assert!(processed >= 9, "{processed}");
    let used: u64 = value_of(&body, "redis_memory_used_bytes")
        .unwrap()
        .parse()
        .unwrap();
    assert!(used > 0);
    assert!(value_of(&body, "redis_net_input_bytes_total").is_some());
    assert!(value_of(&body, "redis_net_output_bytes_total").is_some());
    assert!(value_of(&body, "redis_uptime_in_seconds").is_some());
    assert!(value_of(&body, "redis_blocked_clients").is_some());
    assert!(value_of(&body, "redis_instantaneous_ops_per_sec").is_some());
    assert!(body.contains("redis_instance_info{role=\"master\","));
    // Every sample line is "name[{labels}] number".
    for l in body.lines().filter(|l| !l.starts_with('#')) {
        let v = l.rsplit(' ').next().unwrap();
        assert!(v.parse::<f64>().is_ok(), "bad sample {l:?}");
    }

    // Scrapes do not count as Redis commands or clients.
    let (_, _, again) = http_get(mport, "GET", "/metrics");
    let clients_again: u64 = value_of(&again, "redis_connected_clients")
        .unwrap()
        .parse()
        .unwrap();
    assert!(clients_again <= clients);

    let (status, ..) = http_get(mport, "GET", "/other");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, headers, _) = http_get(mport, "POST", "/metrics");
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert!(headers.contains("allow: get, head"));
    // The data port keeps serving.
    assert_eq!(
        cmd(&mut c, &["GET", "k2"]).unwrap(),
        redis::Value::BulkString(b"v".to_vec())
    );
}

#[test]
fn metrics_endpoint_is_off_by_default() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let port = match cmd(&mut c, &["CONFIG", "GET", "metrics-port"]).unwrap() {
        redis::Value::Array(v) => match &v[1] {
            redis::Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
            x => panic!("{x:?}"),
        },
        v => panic!("{v:?}"),
    };
    assert_eq!(port, "0");
    // Only the data port is listening: no other TCP socket of the process.
    let pid = p.pid();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap();
    let sockets: std::collections::HashSet<String> = fds
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|l| l.display().to_string())
        .filter(|l| l.starts_with("socket:["))
        .collect();
    let listening = std::fs::read_to_string("/proc/net/tcp").unwrap()
        + &std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    let ours: Vec<&str> = listening
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // st 0A = LISTEN; field 9 is the inode.
            f.len() > 9 && f[3] == "0A" && sockets.contains(&format!("socket:[{}]", f[9]))
        })
        .collect();
    assert_eq!(ours.len(), 1, "listening sockets: {ours:?}");
    assert!(ours[0].contains(&format!(":{:04X}", p.port)), "{ours:?}");
}
