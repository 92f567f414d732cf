//! Key-space commands (DEL ... SWAPDB, the EXPIRE and TTL families, OBJECT)
//! against a real picket-server, and side by side with Debian's
//! redis-server 7.0 where replies are deterministic.

mod common;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{cmd, err, Proc};
use redis::Value;

/// A reply as comparable data: the value, or the error's "CODE message".
fn reply(c: &mut redis::Connection, args: &[&str]) -> Result<Value, String> {
    cmd(c, args).map_err(|e| {
        let code = e.code().unwrap_or("");
        let detail = e.detail().unwrap_or("");
        format!("{code} {detail}").trim().to_string()
    })
}

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn int(c: &mut redis::Connection, args: &[&str]) -> i64 {
    match cmd(c, args).unwrap() {
        Value::Int(n) => n,
        other => panic!("{args:?} replied {other:?}"),
    }
}

/// The key names in an array reply, sorted.
fn names(v: Value) -> Vec<String> {
    let Value::Array(items) = v else {
        panic!("not an array: {v:?}");
    };
    let mut out: Vec<String> = items
        .into_iter()
        .map(|i| match i {
            Value::BulkString(b) => String::from_utf8(b).unwrap(),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

/// One SCAN call: (next cursor, keys).
fn scan_once(c: &mut redis::Connection, args: &[&str]) -> (String, Vec<String>) {
    let Value::Array(mut parts) = cmd(c, args).unwrap() else {
        panic!("SCAN reply is not an array");
    };
    assert_eq!(parts.len(), 2);
    let keys = names(parts.pop().unwrap());
    let Some(Value::BulkString(cur)) = parts.pop() else {
        panic!("SCAN cursor is not a bulk string");
    };
    (String::from_utf8(cur).unwrap(), keys)
}

/// A full SCAN with extra options; returns every key seen.
fn scan_all(c: &mut redis::Connection, opts: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    for _ in 0..100_000 {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(opts);
        let (next, keys) = scan_once(c, &args);
        seen.extend(keys);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0", "SCAN did not finish");
    seen.sort();
    seen.dedup();
    seen
}

/// Runs the same commands on picket and on redis-server and asserts equal
/// replies, command by command.
fn same_as_redis(script: &[&[&str]]) {
    let p = Proc::picket(&[]);
    let r = Proc::redis(&[]);
    let (mut pc, mut rc) = (p.conn(), r.conn());
    for args in script {
        let want = reply(&mut rc, args);
        let got = reply(&mut pc, args);
        assert_eq!(got, want, "{args:?}");
    }
}

#[test]
fn del_unlink_exists_type_and_renames_reply_like_redis() {
    same_as_redis(&[
        &["SET", "a", "1"],
        &["SET", "b", "hello"],
        &["EXISTS", "a", "b", "a", "nokey"],
        &["DEL", "a", "a", "nokey"],
        &["UNLINK", "b", "b"],
        &["DEL", "nokey"],
        &["TYPE", "b"],
        &["SET", "s", "x"],
        &["TYPE", "s"],
        &["RENAME", "nokey", "x"],
        &["RENAMENX", "nokey", "x"],
        &["RENAME", "s", "s"],
        &["RENAMENX", "s", "s"],
        &["SET", "t", "y"],
        &["RENAMENX", "s", "t"],
        &["RENAME", "s", "t"],
        &["GET", "t"],
        &["EXISTS", "s"],
        &["EXPIRE", "t", "100"],
        &["RENAME", "t", "u"],
        &["TTL", "u"],
        &["RENAMENX", "u", "v"],
        &["TTL", "v"],
        &["TOUCH", "v", "v", "nokey"],
        &["DEL"],
        &["UNLINK"],
        &["EXISTS"],
        &["TYPE"],
        &["TYPE", "a", "b"],
        &["RENAME", "a"],
        &["RENAMENX", "a", "b", "c"],
        &["TOUCH"],
    ]);
}

#[test]
fn expire_family_replies_like_redis() {
    same_as_redis(&[
        &["SET", "u", "v"],
        &["TTL", "u"],
        &["TTL", "nokey"],
        &["PTTL", "nokey"],
        &["EXPIRETIME", "u"],
        &["PEXPIRETIME", "nokey"],
        &["EXPIRE", "nokey", "10"],
        &["EXPIRE", "u", "100", "XX"],
        &["EXPIRE", "u", "100", "GT"],
        &["EXPIRE", "u", "100", "lt"],
        &["TTL", "u"],
        &["EXPIRE", "u", "100", "NX"],
        &["EXPIRE", "u", "50", "GT"],
        &["EXPIRE", "u", "200", "gt"],
        &["TTL", "u"],
        &["EXPIRE", "u", "300", "LT"],
        &["EXPIRE", "u", "10", "LT", "XX"],
        &["TTL", "u"],
        &["PERSIST", "u"],
        &["PERSIST", "u"],
        &["PERSIST", "nokey"],
        &["TTL", "u"],
        &["EXPIRE", "u", "10", "NX", "XX"],
        &["EXPIRE", "u", "10", "XX", "NX"],
        &["EXPIRE", "u", "10", "nx", "gt"],
        &["EXPIRE", "u", "10", "GT", "LT"],
        &["EXPIRE", "u", "10", "foo"],
        &["EXPIRE", "u", "10", "NX", "foo"],
        &["EXPIRE", "u", "abc"],
        &["EXPIRE", "u", "abc", "bad"],
        &["EXPIRE", "u", "9223372036854775807"],
        &["EXPIRE", "u", "-9223372036854775807"],
        &["PEXPIRE", "u", "9223372036854775807"],
        &["EXPIREAT", "u", "9223372036854775807"],
        &["PEXPIREAT", "u", "9223372036854775807"],
        &["PEXPIRETIME", "u"],
        &["EXPIRETIME", "u"],
        &["SET", "e", "v"],
        &["EXPIREAT", "e", "4102444800"],
        &["EXPIRETIME", "e"],
        &["PEXPIRETIME", "e"],
        &["PEXPIREAT", "e", "4102444800123"],
        &["EXPIRETIME", "e"],
        &["PEXPIREAT", "e", "4102444800500"],
        &["EXPIRETIME", "e"],
        &["EXPIRE", "u", "-1"],
        &["EXISTS", "u"],
        &["SET", "u", "v"],
        &["PEXPIREAT", "u", "1"],
        &["EXISTS", "u"],
        &["SET", "u", "v"],
        &["EXPIRE", "u", "0", "NX"],
        &["TYPE", "u"],
        &["EXPIRE", "u"],
        &["TTL"],
        &["PTTL", "a", "b"],
        &["PERSIST"],
        &["EXPIRETIME"],
    ]);
}

#[test]
fn move_copy_and_swapdb_reply_like_redis() {
    same_as_redis(&[
        &["SET", "e", "v"],
        &["PEXPIREAT", "e", "4102444800123"],
        &["MOVE", "e", "1"],
        &["MOVE", "e", "1"],
        &["SELECT", "1"],
        &["PEXPIRETIME", "e"],
        &["MOVE", "e", "1"],
        &["MOVE", "e", "0"],
        &["SELECT", "0"],
        &["MOVE", "e", "x"],
        &["MOVE", "e", "16"],
        &["MOVE", "e", "-1"],
        &["MOVE", "e", "4294967296"],
        &["MOVE", "nokey", "0"],
        &["SET", "dup", "here"],
        &["SELECT", "1"],
        &["SET", "dup", "there"],
        &["SELECT", "0"],
        &["MOVE", "dup", "1"],
        &["COPY", "e", "e"],
        &["COPY", "e", "e", "DB", "0"],
        &["COPY", "e", "e", "DB", "1"],
        &["COPY", "e", "e", "DB", "1"],
        &["COPY", "e", "e", "DB", "1", "REPLACE"],
        &["COPY", "e", "f"],
        &["PEXPIRETIME", "f"],
        &["COPY", "nokey", "f"],
        &["COPY", "e", "f", "REPLACE", "DB"],
        &["COPY", "e", "f", "DB", "99"],
        &["COPY", "e", "f", "DB", "x"],
        &["COPY", "e", "f", "BAD"],
        &["COPY", "e", "g", "replace", "db", "2"],
        &["SELECT", "2"],
        &["GET", "g"],
        &["SELECT", "0"],
        &["SWAPDB", "0", "2"],
        &["GET", "g"],
        &["GET", "e"],
        &["SWAPDB", "x", "1"],
        &["SWAPDB", "0", "x"],
        &["SWAPDB", "x", "y"],
        &["SWAPDB", "0", "99"],
        &["SWAPDB", "-1", "0"],
        &["SWAPDB", "0", "0"],
        &["SWAPDB", "4294967296", "0"],
        &["SWAPDB", "0", "-4294967296"],
        &["COPY", "e", "f", "DB", "4294967296"],
        &["GET", "g"],
        &["SWAPDB", "1"],
        &["MOVE", "e"],
        &["COPY", "e"],
    ]);
}

#[test]
fn object_scan_keys_and_randomkey_reply_like_redis() {
    let raw = "x".repeat(50);
    same_as_redis(&[
        &["OBJECT", "ENCODING", "nokey"],
        &["OBJECT", "REFCOUNT", "nokey"],
        &["OBJECT", "IDLETIME", "nokey"],
        &["OBJECT", "FREQ", "nokey"],
        &["SET", "i", "123"],
        &["OBJECT", "ENCODING", "i"],
        &["OBJECT", "REFCOUNT", "i"],
        &["SET", "big", "123456"],
        &["OBJECT", "REFCOUNT", "big"],
        &["SET", "emb", "short"],
        &["OBJECT", "ENCODING", "emb"],
        &["OBJECT", "REFCOUNT", "emb"],
        &["SET", "raw", &raw],
        &["OBJECT", "encoding", "raw"],
        &["OBJECT", "FREQ", "i"],
        &["OBJECT", "HELP"],
        &["OBJECT", "help"],
        &["OBJECT", "foo"],
        &["OBJECT", "foo", "bar"],
        &["OBJECT"],
        &["OBJECT", "ENCODING"],
        &["OBJECT", "ENCODING", "a", "b"],
        &["OBJECT", "HELP", "x"],
        &["SCAN", "x"],
        &["SCAN", " 0"],
        &["SCAN", "0x1"],
        &["SCAN", "18446744073709551616"],
        &["SCAN", "0", "COUNT", "0"],
        &["SCAN", "0", "COUNT", "-1"],
        &["SCAN", "0", "COUNT", "x"],
        &["SCAN", "0", "MATCH"],
        &["SCAN", "0", "TYPE"],
        &["SCAN", "0", "FOO", "bar"],
        &["SCAN", "0", "MATCH", "*", "COUNT"],
        &["SCAN"],
        &["SELECT", "2"],
        &["SET", "", "empty"],
        &["KEYS", "*"],
        &["KEYS", "?"],
        &["KEYS", ""],
        &["SCAN", "0"],
        &["SCAN", ""],
        &["SCAN", "+0"],
        &["SCAN", "0", "MATCH", "*"],
        &["SCAN", "0", "MATCH", "?"],
        &["SCAN", "0", "TYPE", "string"],
        &["SCAN", "0", "TYPE", "STRING", "MATCH", "*"],
        &["SCAN", "0", "TYPE", "list"],
        &["SCAN", "0", "TYPE", "nosuchtype"],
        &["SCAN", "0", "COUNT", "1", "COUNT", "5"],
        &["RANDOMKEY"],
        &["SELECT", "3"],
        &["RANDOMKEY"],
        &["KEYS", "*"],
        &["SCAN", "0"],
        &["SCAN", "12345"],
        &["KEYS"],
        &["KEYS", "a", "b"],
        &["RANDOMKEY", "x"],
    ]);
}

#[test]
fn lfu_policy_switches_object_freq_and_idletime_like_redis() {
    let args = ["--maxmemory-policy", "allkeys-lfu"];
    let p = Proc::picket(&args);
    let r = Proc::redis(&args);
    let (mut pc, mut rc) = (p.conn(), r.conn());
    for args in [
        &["SET", "k", "v"][..],
        &["OBJECT", "FREQ", "k"],
        &["OBJECT", "IDLETIME", "k"],
        &["OBJECT", "FREQ", "nokey"],
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
        &["OBJECT", "FREQ", "k"],
    ] {
        assert_eq!(reply(&mut pc, args), reply(&mut rc, args), "{args:?}");
    }
    assert_eq!(
        err(&mut pc, &["OBJECT", "FREQ", "k"]),
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
    );
}

#[test]
fn shared_integers_are_not_shared_under_an_lru_limit_like_redis() {
    let args = ["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"];
    let p = Proc::picket(&args);
    let r = Proc::redis(&args);
    let (mut pc, mut rc) = (p.conn(), r.conn());
    for args in [
        &["SET", "n", "5"][..],
        &["OBJECT", "REFCOUNT", "n"],
        &["OBJECT", "ENCODING", "n"],
    ] {
        assert_eq!(reply(&mut pc, args), reply(&mut rc, args), "{args:?}");
    }
    assert_eq!(int(&mut pc, &["OBJECT", "REFCOUNT", "n"]), 1);
}

#[test]
fn object_idletime_counts_seconds_since_the_last_access() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["SET", "k", "v"]).unwrap();
    assert!(int(&mut c, &["OBJECT", "IDLETIME", "k"]) <= 1);
    std::thread::sleep(Duration::from_millis(2100));
    let idle = int(&mut c, &["OBJECT", "IDLETIME", "k"]);
    assert!((1..=3).contains(&idle), "idle {idle}");
    // OBJECT, TTL and TYPE must not count as an access.
    cmd(&mut c, &["TTL", "k"]).unwrap();
    cmd(&mut c, &["TYPE", "k"]).unwrap();
    assert!(int(&mut c, &["OBJECT", "IDLETIME", "k"]) >= idle);
    assert_eq!(int(&mut c, &["TOUCH", "k"]), 1);
    assert!(int(&mut c, &["OBJECT", "IDLETIME", "k"]) <= 1);
}

#[test]
fn keys_matches_patterns_and_star_returns_the_empty_key() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    for k in ["one", "two", "three", "", "h?llo", "hallo", "hbllo"] {
        cmd(&mut c, &["SET", k, "v"]).unwrap();
    }
    let all = names(cmd(&mut c, &["KEYS", "*"]).unwrap());
    assert_eq!(all.len(), 7);
    assert!(all.contains(&String::new()));
    assert_eq!(
        names(cmd(&mut c, &["KEYS", "t*"]).unwrap()),
        vec!["three", "two"]
    );
    assert_eq!(
        names(cmd(&mut c, &["KEYS", "h[ab]llo"]).unwrap()),
        vec!["hallo", "hbllo"]
    );
    assert_eq!(
        names(cmd(&mut c, &["KEYS", "h\\?llo"]).unwrap()),
        vec!["h?llo"]
    );
    assert_eq!(names(cmd(&mut c, &["KEYS", "nomatch*"]).unwrap()).len(), 0);
}

#[test]
fn expired_keys_are_never_listed_or_counted() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["SET", "live", "v"]).unwrap();
    for k in ["gone1", "gone2", "gone3"] {
        cmd(&mut c, &["SET", k, "v", "PX", "1"]).unwrap();
    }
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(names(cmd(&mut c, &["KEYS", "*"]).unwrap()), vec!["live"]);
    assert_eq!(scan_all(&mut c, &[]), vec!["live"]);
    assert_eq!(scan_all(&mut c, &["TYPE", "string"]), vec!["live"]);
    assert_eq!(int(&mut c, &["EXISTS", "gone1", "live"]), 1);
    assert_eq!(
        cmd(&mut c, &["TYPE", "gone2"]).unwrap(),
        Value::SimpleString("none".into())
    );
    assert_eq!(int(&mut c, &["TTL", "gone3"]), -2);
    assert_eq!(int(&mut c, &["DEL", "gone1", "gone2", "gone3"]), 0);
    assert_eq!(cmd(&mut c, &["RANDOMKEY"]).unwrap(), bulk("live"));
    assert_eq!(err(&mut c, &["RENAME", "gone1", "x"]), "ERR no such key");
    assert_eq!(
        cmd(&mut c, &["OBJECT", "ENCODING", "gone1"]).unwrap(),
        Value::Nil
    );
}

#[test]
fn scan_filters_by_match_type_and_count() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    for i in 0..200 {
        cmd(&mut c, &["SET", &format!("user:{i}"), "v"]).unwrap();
        cmd(&mut c, &["SET", &format!("item:{i}"), "v"]).unwrap();
    }
    let users = scan_all(&mut c, &["MATCH", "user:*", "COUNT", "7"]);
    assert_eq!(users.len(), 200);
    assert!(users.iter().all(|k| k.starts_with("user:")));
    assert_eq!(scan_all(&mut c, &["COUNT", "1000"]).len(), 400);
    assert_eq!(scan_all(&mut c, &["TYPE", "string"]).len(), 400);
    assert_eq!(scan_all(&mut c, &["TYPE", "hash"]).len(), 0);
    // strtoul's cursor syntax: "-1" wraps to the largest cursor.
    let (cursor, _) = scan_once(&mut c, &["SCAN", "-1"]);
    assert_eq!(cursor, "0");
    // COUNT is a hint: one call with a large COUNT returns the whole table.
    let (cursor, keys) = scan_once(&mut c, &["SCAN", "0", "COUNT", "10000"]);
    assert_eq!(cursor, "0");
    assert_eq!(keys.len(), 400);
    // The default COUNT is 10: a first call returns a handful, not all.
    let (cursor, keys) = scan_once(&mut c, &["SCAN", "0"]);
    assert_ne!(cursor, "0");
    assert!(!keys.is_empty() && keys.len() < 50, "{}", keys.len());
}

#[test]
fn scan_returns_every_key_present_throughout_while_many_keys_are_added() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET").arg(format!("stable:{i}")).arg("v").ignore();
    }
    pipe.query::<()>(&mut c).unwrap();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut added = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (next, keys) = scan_once(&mut c, &["SCAN", &cursor, "COUNT", "10"]);
        seen.extend(keys);
        cursor = next;
        if cursor == "0" {
            break;
        }
        // Grow the table between calls so it rehashes mid-scan (bounded).
        if added < 30_000 {
            let mut pipe = redis::pipe();
            for _ in 0..100 {
                pipe.cmd("SET")
                    .arg(format!("new:{added}"))
                    .arg("v")
                    .ignore();
                added += 1;
            }
            pipe.query::<()>(&mut c).unwrap();
        }
        assert!(Instant::now() < deadline, "scan did not finish in time");
    }
    assert!(added >= 1000, "the table barely grew: {added}");
    for i in 0..1000 {
        assert!(seen.contains(&format!("stable:{i}")), "stable:{i} missed");
    }
}

#[test]
fn rename_keeps_the_ttl_and_replaces_the_target() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["SET", "a", "1", "PXAT", "4102444800000"]).unwrap();
    cmd(&mut c, &["SET", "b", "2", "EX", "100"]).unwrap();
    assert_eq!(cmd(&mut c, &["RENAME", "a", "b"]).unwrap(), Value::Okay);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "b"]), 4102444800000);
    assert_eq!(cmd(&mut c, &["GET", "b"]).unwrap(), bulk("1"));
    assert_eq!(int(&mut c, &["EXISTS", "a"]), 0);
    cmd(&mut c, &["SET", "c", "3"]).unwrap();
    assert_eq!(int(&mut c, &["RENAMENX", "b", "c"]), 0);
    assert_eq!(int(&mut c, &["RENAMENX", "b", "d"]), 1);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "d"]), 4102444800000);
    // A plain key renamed over a volatile one loses the old TTL.
    cmd(&mut c, &["SET", "v", "x", "EX", "100"]).unwrap();
    assert_eq!(cmd(&mut c, &["RENAME", "c", "v"]).unwrap(), Value::Okay);
    assert_eq!(int(&mut c, &["TTL", "v"]), -1);
}

#[test]
fn copy_move_and_swapdb_move_data_between_databases() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["SET", "k", "v0", "EX", "1000"]).unwrap();
    assert_eq!(int(&mut c, &["COPY", "k", "k", "DB", "5"]), 1);
    assert_eq!(int(&mut c, &["MOVE", "k", "5"]), 0);
    cmd(&mut c, &["SELECT", "5"]).unwrap();
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), bulk("v0"));
    assert!(int(&mut c, &["TTL", "k"]) > 990);
    cmd(&mut c, &["SET", "k", "v5"]).unwrap();
    cmd(&mut c, &["SELECT", "0"]).unwrap();
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), bulk("v0"));
    cmd(&mut c, &["SET", "only0", "x"]).unwrap();
    assert_eq!(int(&mut c, &["MOVE", "only0", "7"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "only0"]), 0);

    let mut other = p.conn();
    cmd(&mut other, &["SELECT", "5"]).unwrap();
    assert_eq!(cmd(&mut c, &["SWAPDB", "0", "5"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), bulk("v5"));
    assert_eq!(cmd(&mut other, &["GET", "k"]).unwrap(), bulk("v0"));
    assert_eq!(int(&mut other, &["DBSIZE"]), 1);
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    assert_eq!(cmd(&mut c, &["SWAPDB", "5", "0"]).unwrap(), Value::Okay);
    assert_eq!(cmd(&mut c, &["GET", "k"]).unwrap(), bulk("v0"));
}

#[test]
fn randomkey_returns_only_existing_keys() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(cmd(&mut c, &["RANDOMKEY"]).unwrap(), Value::Nil);
    for k in ["a", "b", "c"] {
        cmd(&mut c, &["SET", k, "v"]).unwrap();
    }
    let mut seen = HashSet::new();
    for _ in 0..200 {
        match cmd(&mut c, &["RANDOMKEY"]).unwrap() {
            Value::BulkString(b) => seen.insert(String::from_utf8(b).unwrap()),
            other => panic!("RANDOMKEY replied {other:?}"),
        };
    }
    let want: HashSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    assert_eq!(seen, want);
}

#[test]
fn ttl_family_reports_remaining_and_absolute_time() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["SET", "k", "v"]).unwrap();
    assert_eq!(int(&mut c, &["PEXPIRE", "k", "10000"]), 1);
    let pttl = int(&mut c, &["PTTL", "k"]);
    assert!((9000..=10000).contains(&pttl), "{pttl}");
    assert_eq!(int(&mut c, &["TTL", "k"]), 10);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let at = int(&mut c, &["PEXPIRETIME", "k"]);
    assert!((at - now_ms - 10_000).abs() < 2000, "{at} vs {now_ms}");
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]), (at + 500) / 1000);
    assert_eq!(int(&mut c, &["PERSIST", "k"]), 1);
    assert_eq!(int(&mut c, &["PTTL", "k"]), -1);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), -1);
    // A past deadline deletes the key at once.
    assert_eq!(int(&mut c, &["EXPIREAT", "k", "1"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 0);
    assert_eq!(int(&mut c, &["PTTL", "k"]), -2);
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]), -2);
}
