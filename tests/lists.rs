//! The list family: every command's replies and errors, compared byte for
//! byte with redis-server 7.0 where it is installed, and the blocking pops
//! (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) driven from several connections.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{cmd, err, Proc};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn bulks(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
}

fn ints(items: &[i64]) -> Value {
    Value::Array(items.iter().map(|i| Value::Int(*i)).collect())
}

/// DBSIZE: proves emptied lists leave the keyspace.
fn dbsize(c: &mut redis::Connection) -> i64 {
    match ok(c, &["DBSIZE"]) {
        Value::Int(n) => n,
        v => panic!("DBSIZE replied {v:?}"),
    }
}

fn ok(c: &mut redis::Connection, args: &[&str]) -> Value {
    cmd(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Encodes a request as RESP.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend(format!("${}\r\n{}\r\n", a.len(), a).into_bytes());
    }
    v
}

/// The raw reply bytes to one request.
fn raw_reply(p: &Proc, args: &[&str]) -> Vec<u8> {
    let mut r = p.raw();
    r.send(&resp(args));
    let mut acc = Vec::new();
    let start = Instant::now();
    // Replies here are small; read until a short quiet period.
    r.s.set_read_timeout(Some(Duration::from_millis(150)))
        .unwrap();
    while start.elapsed() < Duration::from_secs(3) {
        let chunk = r.read_some();
        if chunk.is_empty() && !acc.is_empty() {
            break;
        }
        acc.extend(chunk);
    }
    acc
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let v = ok(c, &["INFO", "clients"]);
    let text = match v {
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        Value::VerbatimString { text, .. } => text,
        other => panic!("INFO replied {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .to_string()
}

/// Waits (bounded) until INFO reports `n` blocked clients.
fn wait_blocked(c: &mut redis::Connection, n: usize) {
    let start = Instant::now();
    loop {
        let got: usize = info_field(c, "blocked_clients").parse().unwrap();
        if got == n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "blocked_clients stayed {got}, wanted {n}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a command on a fresh connection in a thread.
fn spawn_cmd(p: &Proc, args: &[&str]) -> thread::JoinHandle<redis::RedisResult<Value>> {
    let mut c = p.conn();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    thread::spawn(move || {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        cmd(&mut c, &a)
    })
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn pushes_create_lists_and_report_the_new_length() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(ok(&mut c, &["LPUSH", "l", "a", "b"]), Value::Int(2));
    assert_eq!(ok(&mut c, &["RPUSH", "l", "c", "d"]), Value::Int(4));
    assert_eq!(
        ok(&mut c, &["LRANGE", "l", "0", "-1"]),
        bulks(&["b", "a", "c", "d"])
    );
    assert_eq!(ok(&mut c, &["LPUSHX", "nokey", "a"]), Value::Int(0));
    assert_eq!(ok(&mut c, &["RPUSHX", "nokey", "a"]), Value::Int(0));
    assert_eq!(dbsize(&mut c), 1);
    assert_eq!(ok(&mut c, &["LPUSHX", "l", "x", "y"]), Value::Int(6));
    assert_eq!(ok(&mut c, &["RPUSHX", "l", "z"]), Value::Int(7));
    assert_eq!(
        ok(&mut c, &["LRANGE", "l", "0", "-1"]),
        bulks(&["y", "x", "b", "a", "c", "d", "z"])
    );

    ok(&mut c, &["SET", "s", "v"]);
    for name in ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"] {
        assert_eq!(err(&mut c, &[name, "s", "a"]), WRONGTYPE);
        assert_eq!(
            err(&mut c, &[name, "l"]),
            format!(
                "ERR wrong number of arguments for '{}' command",
                name.to_lowercase()
            )
        );
    }
}

#[test]
fn pops_with_and_without_count() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    ok(&mut c, &["RPUSH", "l", "a", "b", "c", "d", "e"]);
    assert_eq!(ok(&mut c, &["LPOP", "l"]), bulk("a"));
    assert_eq!(ok(&mut c, &["RPOP", "l"]), bulk("e"));
    assert_eq!(ok(&mut c, &["LPOP", "l", "0"]), Value::Array(vec![]));
    assert_eq!(ok(&mut c, &["RPOP", "l", "2"]), bulks(&["d", "c"]));
    assert_eq!(ok(&mut c, &["LPOP", "l", "10"]), bulks(&["b"]));
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(ok(&mut c, &["LPOP", "l"]), Value::Nil);
    assert_eq!(ok(&mut c, &["RPOP", "l", "3"]), Value::Nil);
    let pos = "ERR value is out of range, must be positive";
    assert_eq!(err(&mut c, &["LPOP", "l", "-1"]), pos);
    assert_eq!(err(&mut c, &["RPOP", "l", "x"]), pos);
    assert_eq!(
        err(&mut c, &["RPOP", "l", "1", "2"]),
        "ERR wrong number of arguments for 'rpop' command"
    );
    ok(&mut c, &["SET", "s", "v"]);
    assert_eq!(err(&mut c, &["LPOP", "s"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["RPOP", "s", "0"]), WRONGTYPE);
    // The count is checked before the type.
    assert_eq!(err(&mut c, &["LPOP", "s", "-1"]), pos);
    // Missing key with a count is a null array, without one a null bulk.
    assert_eq!(raw_reply(&p, &["LPOP", "nokey", "1"]), b"*-1\r\n");
    assert_eq!(raw_reply(&p, &["LPOP", "nokey", "0"]), b"*-1\r\n");
    assert_eq!(raw_reply(&p, &["RPOP", "nokey"]), b"$-1\r\n");
}

#[test]
fn llen_lindex_and_lrange_read_with_negative_indexes() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    ok(&mut c, &["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(ok(&mut c, &["LLEN", "l"]), Value::Int(3));
    assert_eq!(ok(&mut c, &["LLEN", "nokey"]), Value::Int(0));
    assert_eq!(ok(&mut c, &["LINDEX", "l", "0"]), bulk("a"));
    assert_eq!(ok(&mut c, &["LINDEX", "l", "-1"]), bulk("c"));
    assert_eq!(ok(&mut c, &["LINDEX", "l", "-3"]), bulk("a"));
    assert_eq!(ok(&mut c, &["LINDEX", "l", "-4"]), Value::Nil);
    assert_eq!(ok(&mut c, &["LINDEX", "l", "3"]), Value::Nil);
    assert_eq!(ok(&mut c, &["LINDEX", "nokey", "x"]), Value::Nil);
    assert_eq!(
        err(&mut c, &["LINDEX", "l", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(ok(&mut c, &["LRANGE", "l", "-2", "-1"]), bulks(&["b", "c"]));
    assert_eq!(
        ok(&mut c, &["LRANGE", "l", "-100", "100"]),
        bulks(&["a", "b", "c"])
    );
    assert_eq!(ok(&mut c, &["LRANGE", "l", "2", "1"]), bulks(&[]));
    assert_eq!(ok(&mut c, &["LRANGE", "l", "3", "5"]), bulks(&[]));
    assert_eq!(ok(&mut c, &["LRANGE", "l", "0", "-4"]), bulks(&[]));
    assert_eq!(ok(&mut c, &["LRANGE", "nokey", "0", "-1"]), bulks(&[]));
    assert_eq!(
        err(&mut c, &["LRANGE", "nokey", "a", "1"]),
        "ERR value is not an integer or out of range"
    );
    ok(&mut c, &["SET", "s", "v"]);
    assert_eq!(err(&mut c, &["LLEN", "s"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["LINDEX", "s", "x"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["LRANGE", "s", "0", "1"]), WRONGTYPE);
}

#[test]
fn lset_replaces_by_index_and_names_its_errors() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(err(&mut c, &["LSET", "nokey", "0", "a"]), "ERR no such key");
    assert_eq!(err(&mut c, &["LSET", "nokey", "x", "a"]), "ERR no such key");
    ok(&mut c, &["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(ok(&mut c, &["LSET", "l", "-3", "z"]), Value::Okay);
    assert_eq!(ok(&mut c, &["LSET", "l", "1", "y"]), Value::Okay);
    assert_eq!(
        ok(&mut c, &["LRANGE", "l", "0", "-1"]),
        bulks(&["z", "y", "c"])
    );
    assert_eq!(
        err(&mut c, &["LSET", "l", "3", "q"]),
        "ERR index out of range"
    );
    assert_eq!(
        err(&mut c, &["LSET", "l", "-4", "q"]),
        "ERR index out of range"
    );
    assert_eq!(
        err(&mut c, &["LSET", "l", "x", "q"]),
        "ERR value is not an integer or out of range"
    );
    ok(&mut c, &["SET", "s", "v"]);
    assert_eq!(err(&mut c, &["LSET", "s", "0", "a"]), WRONGTYPE);
}

#[test]
fn lrem_count_sign_picks_the_direction() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let fill = |c: &mut redis::Connection| {
        ok(c, &["FLUSHDB"]);
        ok(c, &["RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"]);
    };
    fill(&mut c);
    assert_eq!(ok(&mut c, &["LREM", "l", "2", "a"]), Value::Int(2));
    assert_eq!(
        ok(&mut c, &["LRANGE", "l", "0", "-1"]),
        bulks(&["b", "c", "a", "b", "a"])
    );
    fill(&mut c);
    assert_eq!(ok(&mut c, &["LREM", "l", "-2", "a"]), Value::Int(2));
    assert_eq!(
        ok(&mut c, &["LRANGE", "l", "0", "-1"]),
        bulks(&["a", "b", "a", "c", "b"])
    );
    fill(&mut c);
    assert_eq!(ok(&mut c, &["LREM", "l", "0", "a"]), Value::Int(4));
    assert_eq!(
        ok(&mut c, &["LRANGE", "l", "0", "-1"]),
        bulks(&["b", "c", "b"])
    );
    assert_eq!(ok(&mut c, &["LREM", "l", "0", "zz"]), Value::Int(0));
    assert_eq!(ok(&mut c, &["LREM", "l", "-100", "b"]), Value::Int(2));
    assert_eq!(ok(&mut c, &["LREM", "l", "1", "c"]), Value::Int(1));
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(ok(&mut c, &["LREM", "nokey", "1", "a"]), Value::Int(0));
    assert_eq!(
        err(&mut c, &["LREM", "nokey", "x", "a"]),
        "ERR value is not an integer or out of range"
    );
    ok(&mut c, &["SET", "s", "v"]);
    assert_eq!(err(&mut c, &["LREM", "s", "0", "a"]), WRONGTYPE);
}

#[test]
fn ltrim_keeps_a_range_and_deletes_an_emptied_list() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let fill = |c: &mut redis::Connection| {
        ok(c, &["FLUSHDB"]);
        ok(c, &["RPUSH", "l", "a", "b", "c", "d", "e"]);
    };
    fill(&mut c);
    assert_eq!(ok(&mut c, &["LTRIM", "l", "1", "-2"]), Value::Okay);
    assert_eq!(
        ok(&mut c, &["LRANGE", "l", "0", "-1"]),
        bulks(&["b", "c", "d"])
    );
    fill(&mut c);
    ok(&mut c, &["LTRIM", "l", "-100", "100"]);
    assert_eq!(ok(&mut c, &["LLEN", "l"]), Value::Int(5));
    ok(&mut c, &["LTRIM", "l", "-2", "-1"]);
    assert_eq!(ok(&mut c, &["LRANGE", "l", "0", "-1"]), bulks(&["d", "e"]));
    fill(&mut c);
    ok(&mut c, &["LTRIM", "l", "3", "1"]);
    assert_eq!(dbsize(&mut c), 0);
    fill(&mut c);
    ok(&mut c, &["LTRIM", "l", "5", "10"]);
    assert_eq!(dbsize(&mut c), 0);
    assert_eq!(ok(&mut c, &["LTRIM", "nokey", "0", "1"]), Value::Okay);
    assert_eq!(
        err(&mut c, &["LTRIM", "nokey", "x", "1"]),
        "ERR value is not an integer or out of range"
    );
    ok(&mut c, &["SET", "s", "v"]);
    assert_eq!(err(&mut c, &["LTRIM", "s", "0", "1"]), WRONGTYPE);
}

#[test]
fn linsert_places_before_or_after_the_first_pivot() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    ok(&mut c, &["RPUSH", "l", "a", "b", "a"]);
    assert_eq!(
        ok(&mut c, &["LINSERT", "l", "BEFORE", "a", "x"]),
        Value::Int(4)
    );
    assert_eq!(
        ok(&mut c, &["LINSERT", "l", "after", "b", "y"]),
        Value::Int(5)
    );
    assert_eq!(
        ok(&mut c, &["LRANGE", "l", "0", "-1"]),
        bulks(&["x", "a", "b", "y", "a"])
    );
    assert_eq!(
        ok(&mut c, &["LINSERT", "l", "AFTER", "nope", "z"]),
        Value::Int(-1)
    );
    assert_eq!(
        ok(&mut c, &["LINSERT", "nokey", "AFTER", "a", "z"]),
        Value::Int(0)
    );
    assert_eq!(dbsize(&mut c), 1);
    assert_eq!(
        err(&mut c, &["LINSERT", "nokey", "middle", "a", "z"]),
        "ERR syntax error"
    );
    ok(&mut c, &["SET", "s", "v"]);
    assert_eq!(
        err(&mut c, &["LINSERT", "s", "BEFORE", "a", "z"]),
        WRONGTYPE
    );
}

#[test]
fn lpos_combines_rank_count_and_maxlen() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    ok(&mut c, &["RPUSH", "l", "a", "b", "a", "c", "a"]);
    assert_eq!(ok(&mut c, &["LPOS", "l", "a"]), Value::Int(0));
    assert_eq!(ok(&mut c, &["LPOS", "l", "c"]), Value::Int(3));
    assert_eq!(ok(&mut c, &["LPOS", "l", "z"]), Value::Nil);
    assert_eq!(ok(&mut c, &["LPOS", "l", "a", "RANK", "2"]), Value::Int(2));
    assert_eq!(ok(&mut c, &["LPOS", "l", "a", "RANK", "-1"]), Value::Int(4));
    assert_eq!(ok(&mut c, &["LPOS", "l", "a", "RANK", "4"]), Value::Nil);
    assert_eq!(
        ok(&mut c, &["LPOS", "l", "a", "COUNT", "0"]),
        ints(&[0, 2, 4])
    );
    assert_eq!(ok(&mut c, &["LPOS", "l", "a", "COUNT", "2"]), ints(&[0, 2]));
    assert_eq!(
        ok(&mut c, &["LPOS", "l", "a", "RANK", "-2", "COUNT", "0"]),
        ints(&[2, 0])
    );
    assert_eq!(
        ok(
            &mut c,
            &["LPOS", "l", "a", "RANK", "2", "COUNT", "2", "MAXLEN", "4"]
        ),
        ints(&[2])
    );
    assert_eq!(
        ok(&mut c, &["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "2"]),
        Value::Int(4)
    );
    assert_eq!(ok(&mut c, &["LPOS", "l", "c", "MAXLEN", "3"]), Value::Nil);
    assert_eq!(ok(&mut c, &["LPOS", "l", "z", "COUNT", "1"]), ints(&[]));
    // C's signed negation leaves LLONG_MIN negative: from the tail, all matches.
    assert_eq!(
        ok(&mut c, &["LPOS", "l", "a", "RANK", "-9223372036854775808"]),
        Value::Int(4)
    );
    assert_eq!(
        ok(
            &mut c,
            &[
                "LPOS",
                "l",
                "a",
                "RANK",
                "-9223372036854775808",
                "COUNT",
                "1"
            ]
        ),
        ints(&[4, 2, 0])
    );
    assert_eq!(ok(&mut c, &["LPOS", "nokey", "a"]), Value::Nil);
    assert_eq!(ok(&mut c, &["LPOS", "nokey", "a", "COUNT", "0"]), ints(&[]));
    let rank0 = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
    assert_eq!(err(&mut c, &["LPOS", "l", "a", "RANK", "0"]), rank0);
    assert_eq!(err(&mut c, &["LPOS", "nokey", "a", "RANK", "0"]), rank0);
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "RANK", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "COUNT", "-1"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "COUNT", "x"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "MAXLEN", "-1"]),
        "ERR MAXLEN can't be negative"
    );
    assert_eq!(err(&mut c, &["LPOS", "l", "a", "RANK"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["LPOS", "l", "a", "FOO", "1"]),
        "ERR syntax error"
    );
    ok(&mut c, &["SET", "s", "v"]);
    assert_eq!(err(&mut c, &["LPOS", "s", "a"]), WRONGTYPE);
    assert_eq!(err(&mut c, &["LPOS", "s", "a", "RANK", "0"]), rank0);
}

#[test]
fn lmove_and_rpoplpush_move_between_ends() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    ok(&mut c, &["RPUSH", "src", "a", "b", "c"]);
    assert_eq!(
        ok(&mut c, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]),
        bulk("a")
    );
    assert_eq!(
        ok(&mut c, &["LMOVE", "src", "dst", "right", "left"]),
        bulk("c")
    );
    assert_eq!(
        ok(&mut c, &["LRANGE", "dst", "0", "-1"]),
        bulks(&["c", "a"])
    );
    assert_eq!(ok(&mut c, &["RPOPLPUSH", "src", "dst"]), bulk("b"));
    assert_eq!(dbsize(&mut c), 1);
    assert_eq!(
        ok(&mut c, &["LRANGE", "dst", "0", "-1"]),
        bulks(&["b", "c", "a"])
    );
    // Same key: a rotation.
    assert_eq!(
        ok(&mut c, &["LMOVE", "dst", "dst", "LEFT", "RIGHT"]),
        bulk("b")
    );
    assert_eq!(
        ok(&mut c, &["LRANGE", "dst", "0", "-1"]),
        bulks(&["c", "a", "b"])
    );
    assert_eq!(ok(&mut c, &["RPOPLPUSH", "dst", "dst"]), bulk("b"));
    ok(&mut c, &["RPUSH", "one", "x"]);
    assert_eq!(ok(&mut c, &["RPOPLPUSH", "one", "one"]), bulk("x"));
    assert_eq!(ok(&mut c, &["LRANGE", "one", "0", "-1"]), bulks(&["x"]));
    assert_eq!(
        ok(&mut c, &["LMOVE", "nokey", "dst", "LEFT", "LEFT"]),
        Value::Nil
    );
    assert_eq!(ok(&mut c, &["RPOPLPUSH", "nokey", "dst"]), Value::Nil);
    assert_eq!(
        err(&mut c, &["LMOVE", "src", "dst", "UP", "LEFT"]),
        "ERR syntax error"
    );
    ok(&mut c, &["SET", "s", "v"]);
    assert_eq!(
        err(&mut c, &["LMOVE", "s", "dst", "LEFT", "LEFT"]),
        WRONGTYPE
    );
    assert_eq!(
        err(&mut c, &["LMOVE", "dst", "s", "LEFT", "LEFT"]),
        WRONGTYPE
    );
    assert_eq!(err(&mut c, &["RPOPLPUSH", "dst", "s"]), WRONGTYPE);
    // A missing source wins over a wrong-typed destination.
    assert_eq!(ok(&mut c, &["RPOPLPUSH", "nokey", "s"]), Value::Nil);
    // Nothing moved on error.
    assert_eq!(ok(&mut c, &["LLEN", "dst"]), Value::Int(3));
}

#[test]
fn lmpop_pops_from_the_first_non_empty_key() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    ok(&mut c, &["RPUSH", "b", "1", "2", "3"]);
    assert_eq!(
        ok(&mut c, &["LMPOP", "2", "a", "b", "LEFT"]),
        Value::Array(vec![bulk("b"), bulks(&["1"])])
    );
    assert_eq!(
        ok(&mut c, &["LMPOP", "2", "a", "b", "RIGHT", "COUNT", "5"]),
        Value::Array(vec![bulk("b"), bulks(&["3", "2"])])
    );
    assert_eq!(ok(&mut c, &["LMPOP", "1", "b", "LEFT"]), Value::Nil);
    assert_eq!(
        err(&mut c, &["LMPOP", "0", "a", "LEFT"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["LMPOP", "3", "a", "LEFT"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "a", "LEFT", "COUNT", "0"]),
        "ERR count should be greater than 0"
    );
    assert_eq!(
        err(
            &mut c,
            &["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"]
        ),
        "ERR syntax error"
    );
}

/// Byte-for-byte replies against Debian's redis-server 7.0 for a script of
/// list commands covering edge cases.
#[test]
fn replies_match_redis_byte_for_byte() {
    let script: &[&[&str]] = &[
        &["RPUSH", "l", "a", "b", "c", "a", "d", "a"],
        &["SET", "s", "v"],
        &["LPOP", "nokey", "0"],
        &["LPOP", "l", "0"],
        &["LPOP", "s", "0"],
        &["LPOP", "s", "-1"],
        &["LPOP", "nokey"],
        &["LINDEX", "nokey", "x"],
        &["LINDEX", "s", "x"],
        &["LINDEX", "l", "x"],
        &["LSET", "nokey", "x", "a"],
        &["LSET", "l", "x", "a"],
        &["LSET", "l", "100", "a"],
        &["LRANGE", "l", "-3", "-2"],
        &["LRANGE", "l", "5", "-100"],
        &["LREM", "l", "-1", "a"],
        &["LPOS", "l", "a", "RANK", "-1", "COUNT", "0", "MAXLEN", "3"],
        &["LPOS", "l", "a", "COUNT", "0", "RANK", "2"],
        &["LPOS", "l", "a", "MAXLEN", "1", "RANK", "1"],
        &["LPOS", "nokey", "a", "COUNT", "2"],
        &["LPOS", "l", "a", "COUNT"],
        &["LINSERT", "l", "BEFORE", "d", "q"],
        &["LINSERT", "l", "AFTER", "nope", "q"],
        &["LTRIM", "l", "1", "-1"],
        &["LRANGE", "l", "0", "-1"],
        &["LMOVE", "l", "m", "LEFT", "LEFT"],
        &["LMOVE", "l", "s", "LEFT", "LEFT"],
        &["LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "2"],
        &["LMPOP", "-1", "l", "LEFT"],
        &["LMPOP", "x", "l", "LEFT"],
        &["LMPOP", "1", "l", "UP"],
        &["LMPOP", "1", "l", "LEFT", "COUNT", "x"],
        &["BLPOP", "l", "nokey", "0"],
        &["BLPOP", "nokey", "s", "0"],
        &["BLPOP", "nokey", "-1"],
        &["BLPOP", "nokey", "abc"],
        &["BLPOP", "nokey", "inf"],
        &["BLPOP", "nokey", "1e16"],
        &["BRPOP", "l", "0"],
        &["BLMOVE", "a", "b", "LEFT", "UP", "0"],
        &["BLMOVE", "a", "b", "LEFT", "LEFT", "x"],
        &["BRPOPLPUSH", "a", "b", "-1"],
        &["BLMPOP", "0", "0", "a", "LEFT"],
        &["BLMPOP", "x", "1", "a", "LEFT"],
        &["BLMPOP", "x", "1", "a", "UP"],
        &["BLMPOP", "0", "1", "m", "LEFT", "COUNT", "3"],
        &["LPUSHX", "s", "a"],
        &["LPOP", "l", "1", "2"],
        &["BLPOP", "l"],
    ];
    let picket = Proc::picket(&[]);
    let redis = Proc::redis(&[]);
    let (mut a, mut b) = (picket.raw(), redis.raw());
    for args in script {
        a.send(&resp(args));
        b.send(&resp(args));
        // Both servers answer each request with one short reply.
        let want = b.read_until(b"\r\n");
        let mut got = a.read_until(b"\r\n");
        while got.len() < want.len() {
            let more = a.read_some();
            if more.is_empty() {
                break;
            }
            got.extend(more);
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "reply to {args:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Blocking
// ---------------------------------------------------------------------------

#[test]
fn blpop_returns_at_once_when_data_is_there() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    ok(&mut c, &["RPUSH", "b", "x", "y"]);
    assert_eq!(ok(&mut c, &["BLPOP", "a", "b", "0"]), bulks(&["b", "x"]));
    assert_eq!(ok(&mut c, &["BRPOP", "a", "b", "0"]), bulks(&["b", "y"]));
    assert_eq!(dbsize(&mut c), 0);
    ok(&mut c, &["SET", "s", "v"]);
    assert_eq!(err(&mut c, &["BLPOP", "a", "s", "0"]), WRONGTYPE);
    assert_eq!(
        err(&mut c, &["BLPOP", "a", "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        err(&mut c, &["BLPOP", "a", "x"]),
        "ERR timeout is not a float or out of range"
    );
}

#[test]
fn blocked_clients_are_served_in_arrival_order() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let first = spawn_cmd(&p, &["BLPOP", "q", "5"]);
    wait_blocked(&mut c, 1);
    let second = spawn_cmd(&p, &["BLPOP", "q", "5"]);
    wait_blocked(&mut c, 2);
    assert_eq!(ok(&mut c, &["RPUSH", "q", "one"]), Value::Int(1));
    assert_eq!(first.join().unwrap().unwrap(), bulks(&["q", "one"]));
    wait_blocked(&mut c, 1);
    ok(&mut c, &["RPUSH", "q", "two"]);
    assert_eq!(second.join().unwrap().unwrap(), bulks(&["q", "two"]));
    wait_blocked(&mut c, 0);
    assert_eq!(dbsize(&mut c), 0);
}

#[test]
fn one_push_of_several_elements_serves_several_clients() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let first = spawn_cmd(&p, &["BLPOP", "q", "5"]);
    wait_blocked(&mut c, 1);
    let second = spawn_cmd(&p, &["BRPOP", "q", "5"]);
    wait_blocked(&mut c, 2);
    assert_eq!(ok(&mut c, &["RPUSH", "q", "a", "b", "c"]), Value::Int(3));
    assert_eq!(first.join().unwrap().unwrap(), bulks(&["q", "a"]));
    assert_eq!(second.join().unwrap().unwrap(), bulks(&["q", "c"]));
    assert_eq!(ok(&mut c, &["LRANGE", "q", "0", "-1"]), bulks(&["b"]));
    wait_blocked(&mut c, 0);
}

#[test]
fn blpop_on_several_keys_is_served_by_the_key_that_gets_data() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let h = spawn_cmd(&p, &["BLPOP", "k1", "k2", "k3", "5"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["RPUSH", "k3", "v3"]);
    assert_eq!(h.join().unwrap().unwrap(), bulks(&["k3", "v3"]));
    wait_blocked(&mut c, 0);
    // The client left every queue: a later push stays in the list.
    ok(&mut c, &["RPUSH", "k1", "v1"]);
    assert_eq!(ok(&mut c, &["LLEN", "k1"]), Value::Int(1));
}

#[test]
fn a_waiter_that_is_not_served_keeps_its_place_on_its_other_keys() {
    // C3 waits on k2; C1 on k1; C2 on k1 and k2. A push of one element to k1
    // serves C1 only; C2 must not jump ahead of C3 on k2.
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let c3 = spawn_cmd(&p, &["BLPOP", "k2", "5"]);
    wait_blocked(&mut c, 1);
    let c1 = spawn_cmd(&p, &["BLPOP", "k1", "5"]);
    wait_blocked(&mut c, 2);
    let c2 = spawn_cmd(&p, &["BLPOP", "k1", "k2", "5"]);
    wait_blocked(&mut c, 3);
    ok(&mut c, &["RPUSH", "k1", "x"]);
    assert_eq!(c1.join().unwrap().unwrap(), bulks(&["k1", "x"]));
    wait_blocked(&mut c, 2);
    ok(&mut c, &["RPUSH", "k2", "y"]);
    assert_eq!(c3.join().unwrap().unwrap(), bulks(&["k2", "y"]));
    wait_blocked(&mut c, 1);
    ok(&mut c, &["RPUSH", "k2", "z"]);
    assert_eq!(c2.join().unwrap().unwrap(), bulks(&["k2", "z"]));
}

#[test]
fn a_served_client_pops_from_the_key_that_became_ready() {
    // As redis-server 7.0: the key pushed first serves, not the first argument.
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let h = spawn_cmd(&p, &["BLPOP", "k1", "k2", "5"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["MULTI"]);
    ok(&mut c, &["RPUSH", "k2", "b"]);
    ok(&mut c, &["RPUSH", "k1", "a"]);
    ok(&mut c, &["EXEC"]);
    assert_eq!(h.join().unwrap().unwrap(), bulks(&["k2", "b"]));
    assert_eq!(ok(&mut c, &["LLEN", "k1"]), Value::Int(1));
}

#[test]
fn a_push_inside_multi_serves_the_waiter_after_exec() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let h = spawn_cmd(&p, &["BLPOP", "q", "5"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["MULTI"]);
    ok(&mut c, &["RPUSH", "q", "a", "b"]);
    ok(&mut c, &["LPOP", "q"]);
    assert_eq!(
        ok(&mut c, &["EXEC"]),
        Value::Array(vec![Value::Int(2), bulk("a")])
    );
    assert_eq!(h.join().unwrap().unwrap(), bulks(&["q", "b"]));
    wait_blocked(&mut c, 0);
}

#[test]
fn blocking_pops_inside_multi_do_not_block() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    ok(&mut c, &["MULTI"]);
    ok(&mut c, &["BLPOP", "q", "0"]);
    ok(&mut c, &["BLMOVE", "q", "d", "LEFT", "LEFT", "0"]);
    ok(&mut c, &["BRPOPLPUSH", "q", "d", "0"]);
    ok(&mut c, &["BLMPOP", "0", "1", "q", "LEFT"]);
    assert_eq!(
        ok(&mut c, &["EXEC"]),
        Value::Array(vec![Value::Nil, Value::Nil, Value::Nil, Value::Nil])
    );
    let mut r = p.raw();
    r.send(&resp(&["MULTI"]));
    r.read_until(b"+OK\r\n");
    r.send(&resp(&["BLPOP", "q", "0"]));
    r.send(&resp(&["BLMOVE", "q", "d", "LEFT", "LEFT", "0"]));
    r.read_until(b"+QUEUED\r\n+QUEUED\r\n");
    r.send(&resp(&["EXEC"]));
    assert_eq!(r.read_until(b"$-1\r\n"), b"*2\r\n*-1\r\n$-1\r\n");
}

#[test]
fn blmove_chains_wake_a_client_waiting_on_the_destination() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let mover = spawn_cmd(&p, &["BLMOVE", "a", "b", "RIGHT", "LEFT", "5"]);
    wait_blocked(&mut c, 1);
    let popper = spawn_cmd(&p, &["BRPOP", "b", "5"]);
    wait_blocked(&mut c, 2);
    ok(&mut c, &["RPUSH", "a", "x"]);
    assert_eq!(mover.join().unwrap().unwrap(), bulk("x"));
    assert_eq!(popper.join().unwrap().unwrap(), bulks(&["b", "x"]));
    wait_blocked(&mut c, 0);
    assert_eq!(dbsize(&mut c), 0);
}

#[test]
fn brpoplpush_and_blmove_serve_like_their_plain_forms() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    ok(&mut c, &["RPUSH", "d", "old"]);
    let h = spawn_cmd(&p, &["BRPOPLPUSH", "s", "d", "5"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["RPUSH", "s", "1", "2"]);
    assert_eq!(h.join().unwrap().unwrap(), bulk("2"));
    assert_eq!(
        ok(&mut c, &["LRANGE", "d", "0", "-1"]),
        bulks(&["2", "old"])
    );
    let h = spawn_cmd(&p, &["BLMOVE", "e", "d", "LEFT", "RIGHT", "5"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["LPUSH", "e", "3"]);
    assert_eq!(h.join().unwrap().unwrap(), bulk("3"));
    assert_eq!(
        ok(&mut c, &["LRANGE", "d", "0", "-1"]),
        bulks(&["2", "old", "3"])
    );
    // Immediately available data.
    assert_eq!(
        ok(&mut c, &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"]),
        bulk("1")
    );
    assert_eq!(dbsize(&mut c), 1);
}

#[test]
fn blmpop_is_served_with_the_key_and_up_to_count_elements() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let h = spawn_cmd(&p, &["BLMPOP", "5", "2", "a", "b", "RIGHT", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["RPUSH", "b", "1", "2", "3"]);
    assert_eq!(
        h.join().unwrap().unwrap(),
        Value::Array(vec![bulk("b"), bulks(&["3", "2"])])
    );
    assert_eq!(
        raw_reply(&p, &["BLMPOP", "0.05", "1", "a", "LEFT"]),
        b"*-1\r\n"
    );
}

#[test]
fn timeouts_reply_null_array_or_null_bulk() {
    let p = Proc::picket(&[]);
    let start = Instant::now();
    assert_eq!(raw_reply(&p, &["BLPOP", "q", "0.2"]), b"*-1\r\n");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
        "waited {waited:?}"
    );
    assert_eq!(raw_reply(&p, &["BRPOP", "q", "r", "0.1"]), b"*-1\r\n");
    assert_eq!(
        raw_reply(&p, &["BLMOVE", "q", "d", "LEFT", "LEFT", "0.1"]),
        b"$-1\r\n"
    );
    assert_eq!(raw_reply(&p, &["BRPOPLPUSH", "q", "d", "0.1"]), b"$-1\r\n");
    let mut c = p.conn();
    wait_blocked(&mut c, 0);
    // A timed out client runs its next command.
    let mut r = p.raw();
    r.send(&resp(&["BLPOP", "q", "0.1"]));
    r.send(&resp(&["PING"]));
    assert_eq!(r.read_until(b"+PONG\r\n"), b"*-1\r\n+PONG\r\n");
    assert_eq!(dbsize(&mut c), 0);
}

#[test]
fn resp3_timeouts_reply_null() {
    let p = Proc::picket(&[]);
    let mut r = p.raw();
    r.send(&resp(&["HELLO", "3"]));
    r.read_until(b"\r\n");
    std::thread::sleep(Duration::from_millis(100));
    r.read_some();
    r.send(&resp(&["BLPOP", "q", "0.05"]));
    assert_eq!(r.read_until(b"\r\n"), b"_\r\n");
}

#[test]
fn commands_pipelined_behind_a_blocked_pop_run_after_it_is_served() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let mut r = p.raw();
    let mut req = resp(&["BLPOP", "q", "5"]);
    req.extend(resp(&["LLEN", "q"]));
    r.send(&req);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["RPUSH", "q", "a", "b"]);
    assert_eq!(
        r.read_until(b":1\r\n"),
        b"*2\r\n$1\r\nq\r\n$1\r\na\r\n:1\r\n"
    );
}

#[test]
fn a_blocked_client_that_disconnects_leaves_no_trace() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    {
        let mut r = p.raw();
        r.send(&resp(&["BLPOP", "q", "0"]));
        wait_blocked(&mut c, 1);
        let list = match ok(&mut c, &["CLIENT", "LIST"]) {
            Value::BulkString(b) => String::from_utf8(b).unwrap(),
            Value::VerbatimString { text, .. } => text,
            v => panic!("{v:?}"),
        };
        assert!(list.contains("flags=b"), "{list}");
        assert!(list.contains("cmd=blpop"), "{list}");
    }
    wait_blocked(&mut c, 0);
    let start = Instant::now();
    loop {
        if info_field(&mut c, "connected_clients") == "1" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5));
        thread::sleep(Duration::from_millis(10));
    }
    // The push stays: nobody is waiting any more.
    ok(&mut c, &["RPUSH", "q", "a"]);
    assert_eq!(ok(&mut c, &["LLEN", "q"]), Value::Int(1));
}

#[test]
fn a_killed_blocked_client_is_unblocked_and_removed() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let mut r = p.raw();
    r.send(&resp(&["CLIENT", "ID"]));
    let id = r.reply().text();
    r.send(&resp(&["BLPOP", "q", "0"]));
    wait_blocked(&mut c, 1);
    assert_eq!(ok(&mut c, &["CLIENT", "KILL", "ID", &id]), Value::Int(1));
    wait_blocked(&mut c, 0);
    assert!(r.closed());
}

#[test]
fn a_ready_key_of_another_type_leaves_list_waiters_blocked() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let h = spawn_cmd(&p, &["BLPOP", "k", "5"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["SET", "k", "string"]);
    thread::sleep(Duration::from_millis(50));
    wait_blocked(&mut c, 1);
    ok(&mut c, &["GETDEL", "k"]);
    ok(&mut c, &["RPUSH", "k", "v"]);
    assert_eq!(h.join().unwrap().unwrap(), bulks(&["k", "v"]));
}

#[test]
fn blmove_served_onto_a_wrong_typed_destination_gets_wrongtype() {
    // redis-server 7.0: the waiter is answered WRONGTYPE, the source keeps
    // the element.
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    ok(&mut c, &["SET", "d", "string"]);
    let h = spawn_cmd(&p, &["BLMOVE", "s", "d", "LEFT", "LEFT", "5"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["RPUSH", "s", "x"]);
    let e = h.join().unwrap().unwrap_err();
    assert_eq!(e.code(), Some("WRONGTYPE"));
    wait_blocked(&mut c, 0);
    assert_eq!(ok(&mut c, &["LRANGE", "s", "0", "-1"]), bulks(&["x"]));
}

#[test]
fn served_and_timed_out_blocking_calls_are_counted_once() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let h = spawn_cmd(&p, &["BLPOP", "q", "5"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["RPUSH", "q", "a"]);
    h.join().unwrap().unwrap();
    raw_reply(&p, &["BLPOP", "q", "0.05"]);
    let stats = match ok(&mut c, &["INFO", "commandstats"]) {
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        Value::VerbatimString { text, .. } => text,
        v => panic!("{v:?}"),
    };
    let line = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_blpop:"))
        .unwrap_or_else(|| panic!("{stats}"));
    assert!(line.starts_with("cmdstat_blpop:calls=2,"), "{line}");
}

#[test]
fn a_key_signalled_but_left_another_type_keeps_the_waiter_blocked() {
    // redis-server 7.0 serves only list waiters from a list key: a key that
    // got a push but ends the transaction as a string leaves BLPOP waiting.
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let h = spawn_cmd(&p, &["BLPOP", "k", "5"]);
    wait_blocked(&mut c, 1);
    ok(&mut c, &["MULTI"]);
    ok(&mut c, &["RPUSH", "k", "a"]);
    ok(&mut c, &["LPOP", "k"]);
    ok(&mut c, &["SET", "k", "string"]);
    ok(&mut c, &["EXEC"]);
    thread::sleep(Duration::from_millis(50));
    wait_blocked(&mut c, 1);
    ok(&mut c, &["GETDEL", "k"]);
    ok(&mut c, &["RPUSH", "k", "v"]);
    assert_eq!(h.join().unwrap().unwrap(), bulks(&["k", "v"]));
}
