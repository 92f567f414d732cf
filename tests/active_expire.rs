//! Active expiry (Redis: activeExpireCycle): keys whose TTL passed are
//! reclaimed by the cron even when nobody reads them.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{cmd, Proc};

fn info_u64(c: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info = match cmd(c, &["INFO", section]).unwrap() {
        redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
        v => panic!("INFO replied {v:?}"),
    };
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .parse()
        .unwrap()
}

fn dbsize(c: &mut redis::Connection) -> i64 {
    match cmd(c, &["DBSIZE"]).unwrap() {
        redis::Value::Int(n) => n,
        v => panic!("DBSIZE replied {v:?}"),
    }
}

#[test]
fn keys_with_short_ttls_are_reclaimed_without_being_accessed() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    // 10k SET k v PX 100, pipelined on a raw socket.
    let s = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut buf = Vec::new();
    for i in 0..10_000 {
        let k = format!("k{i}");
        buf.extend(common::resp(&["SET", &k, "v", "PX", "100"]));
    }
    w.write_all(&buf).unwrap();
    for _ in 0..10_000 {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "+OK\r\n");
    }
    // Nothing reads the keys: only the cron can remove them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = dbsize(&mut c);
    while left > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        left = dbsize(&mut c);
    }
    assert_eq!(left, 0, "keys left after 10 s");
    assert_eq!(info_u64(&mut c, "stats", "expired_keys"), 10_000);
    assert_eq!(info_u64(&mut c, "stats", "keyspace_hits"), 0);
    assert_eq!(info_u64(&mut c, "stats", "keyspace_misses"), 0);
}
