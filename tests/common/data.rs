//! Shared data helpers for the persistence tests: fill a server with every
//! type and encoding, read a whole keyspace back in a comparable form,
//! start picket on a given directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use redis::Value;

use super::{cmd, picket_bin, Proc};

pub fn dir_arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// picket on an existing directory (the harness's own scratch dir only
/// holds the log).
pub fn picket_in(dir: &Path, extra: &[&str]) -> Proc {
    let mut args = vec!["--dir", dir_arg(dir)];
    args.extend_from_slice(extra);
    Proc::picket(&args)
}

pub fn s(v: Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::SimpleString(s) => s,
        Value::Okay => "OK".into(),
        Value::Int(i) => i.to_string(),
        Value::Nil => "(nil)".into(),
        Value::Double(d) => d.to_string(),
        Value::Array(a) | Value::Set(a) => {
            let v: Vec<String> = a.into_iter().map(s).collect();
            format!("[{}]", v.join(","))
        }
        v => format!("{v:?}"),
    }
}

pub fn strs(v: Value) -> Vec<String> {
    match v {
        Value::Array(a) | Value::Set(a) => a.into_iter().map(s).collect(),
        v => panic!("not an array: {v:?}"),
    }
}

pub fn q(c: &mut redis::Connection, args: &[&str]) -> String {
    s(cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}")))
}

/// Every key of every database: type, encoding, contents in a canonical
/// order, and whether it has a TTL (within a minute of `ttl_ms` when set).
pub fn snapshot(c: &mut redis::Connection) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for db in 0..16 {
        q(c, &["SELECT", &db.to_string()]);
        for k in strs(cmd(c, &["KEYS", "*"]).unwrap()) {
            let ty = q(c, &["TYPE", &k]);
            let enc = q(c, &["OBJECT", "ENCODING", &k]);
            let body = match ty.as_str() {
                "string" => q(c, &["GET", &k]),
                "list" => q(c, &["LRANGE", &k, "0", "-1"]),
                "hash" => {
                    let mut v = strs(cmd(c, &["HGETALL", &k]).unwrap());
                    let mut pairs: Vec<String> = v
                        .chunks_mut(2)
                        .map(|p| format!("{}={}", p[0], p[1]))
                        .collect();
                    pairs.sort();
                    pairs.join(",")
                }
                "set" => {
                    let mut v = strs(cmd(c, &["SMEMBERS", &k]).unwrap());
                    v.sort();
                    v.join(",")
                }
                "zset" => q(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"]),
                t => panic!("type {t}"),
            };
            let pttl: i64 = q(c, &["PTTL", &k]).parse().unwrap();
            let ttl = if pttl < 0 {
                pttl.to_string()
            } else {
                format!("~{}m", (pttl + 30_000) / 60_000)
            };
            out.insert(format!("{db}/{k}"), format!("{ty} {enc} ttl={ttl} {body}"));
        }
    }
    q(c, &["SELECT", "0"]);
    out
}

/// One key of every type and encoding, some with TTLs, in two databases.
pub fn populate(c: &mut redis::Connection) {
    let long = "x".repeat(300);
    let big: Vec<String> = (0..300).map(|i| format!("member-{i}")).collect();
    q(c, &["SET", "str", "hello"]);
    q(c, &["SET", "int", "-123456"]);
    q(c, &["SET", "long", &long]);
    q(c, &["SET", "bin", "a\u{1}\u{0}b"]);
    q(c, &["SET", "ttl", "v", "PX", "500000"]);
    q(c, &["RPUSH", "list", "a", "1", "b", "-7"]);
    let mut a = vec!["RPUSH", "biglist"];
    a.extend(big.iter().map(String::as_str));
    a.push(&long);
    q(c, &a);
    q(c, &["HSET", "hash", "f1", "v1", "f2", "22"]);
    let mut a = vec!["HSET", "bighash"];
    for m in &big {
        a.push(m);
        a.push("v");
    }
    q(c, &a);
    q(c, &["SADD", "intset", "1", "2", "-300", "70000"]);
    q(c, &["SADD", "smallset", "a", "b", "3"]);
    let mut a = vec!["SADD", "bigset"];
    a.extend(big.iter().map(String::as_str));
    q(c, &a);
    q(c, &["ZADD", "zset", "1", "a", "2.5", "b", "-3", "c"]);
    let mut a = vec!["ZADD", "bigzset"];
    let scores: Vec<String> = (0..300).map(|i| format!("{}.25", i)).collect();
    for (m, sc) in big.iter().zip(&scores) {
        a.push(sc);
        a.push(m);
    }
    q(c, &a);
    q(c, &["EXPIRE", "hash", "100000"]);
    q(c, &["SELECT", "5"]);
    q(c, &["SET", "in5", "five"]);
    q(c, &["LPUSH", "l5", "x"]);
    q(c, &["SELECT", "0"]);
}

pub fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

pub fn info_field(c: &mut redis::Connection, name: &str) -> String {
    let info = q(c, &["INFO", "persistence"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
}

/// Starts picket on `dir` expecting it to fail; returns (exit code, output).
pub fn failed_start(dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new("timeout")
        .args(["20", picket_bin(), "--port", "0", "--bind", "127.0.0.1"])
        .args(["--dir", dir_arg(dir)])
        .args(extra)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}
