//! Hash commands against a real picket-server: replies, errors and RESP3
//! types as redis-server 7.0 gives them, and HSCAN while the hash changes.

mod common;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{bulk, cmd, err, exact, raw3, scan_reply, Proc};
use redis::Value;

fn bulks(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
}

#[test]
fn hset_hget_and_friends_read_and_write_fields() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(
        cmd(&mut c, &["HSET", "h", "a", "1", "b", "2"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        cmd(&mut c, &["HSET", "h", "a", "10", "c", "3"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(cmd(&mut c, &["HGET", "h", "a"]).unwrap(), bulk("10"));
    assert_eq!(cmd(&mut c, &["HGET", "h", "zz"]).unwrap(), Value::Nil);
    assert_eq!(cmd(&mut c, &["HGET", "nokey", "a"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut c, &["HMGET", "h", "a", "zz", "c"]).unwrap(),
        Value::Array(vec![bulk("10"), Value::Nil, bulk("3")])
    );
    assert_eq!(
        cmd(&mut c, &["HMGET", "nokey", "a"]).unwrap(),
        Value::Array(vec![Value::Nil])
    );
    assert_eq!(cmd(&mut c, &["HLEN", "h"]).unwrap(), Value::Int(3));
    assert_eq!(cmd(&mut c, &["HLEN", "nokey"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["HEXISTS", "h", "b"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["HEXISTS", "h", "zz"]).unwrap(), Value::Int(0));
    assert_eq!(cmd(&mut c, &["HSTRLEN", "h", "a"]).unwrap(), Value::Int(2));
    assert_eq!(cmd(&mut c, &["HSTRLEN", "h", "zz"]).unwrap(), Value::Int(0));
    assert_eq!(
        cmd(&mut c, &["HSETNX", "h", "a", "x"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut c, &["HSETNX", "h", "d", "4"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut c, &["HMSET", "h", "e", "5", "a", "1"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        cmd(&mut c, &["HKEYS", "h"]).unwrap(),
        bulks(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(
        cmd(&mut c, &["HVALS", "h"]).unwrap(),
        bulks(&["1", "2", "3", "4", "5"])
    );
    assert_eq!(
        cmd(&mut c, &["HGETALL", "h"]).unwrap(),
        bulks(&["a", "1", "b", "2", "c", "3", "d", "4", "e", "5"])
    );
    assert_eq!(cmd(&mut c, &["HKEYS", "nokey"]).unwrap(), bulks(&[]));
    assert_eq!(cmd(&mut c, &["HGETALL", "nokey"]).unwrap(), bulks(&[]));
    // Binary-safe fields and values.
    assert_eq!(
        cmd(&mut c, &["HSET", "bin", "k\r\n\0", ""]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(cmd(&mut c, &["HGET", "bin", "k\r\n\0"]).unwrap(), bulk(""));
}

#[test]
fn hdel_removes_fields_and_deletes_the_emptied_key() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]).unwrap();
    assert_eq!(
        cmd(&mut c, &["HDEL", "h", "a", "zz", "a"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(cmd(&mut c, &["HDEL", "nokey", "a"]).unwrap(), Value::Int(0));
    assert_eq!(
        cmd(&mut c, &["HDEL", "h", "b", "c", "d"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(cmd(&mut c, &["HLEN", "h"]).unwrap(), Value::Int(0));
    // The key is gone, so another type can take the name.
    assert_eq!(cmd(&mut c, &["SADD", "h", "x"]).unwrap(), Value::Int(1));
}

#[test]
fn hash_errors_match_redis_texts() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    cmd(&mut c, &["SET", "str", "x"]).unwrap();
    for args in [
        &["HSET", "str", "a", "1"][..],
        &["HSETNX", "str", "a", "1"],
        &["HGET", "str", "a"],
        &["HMGET", "str", "a"],
        &["HMSET", "str", "a", "1"],
        &["HDEL", "str", "a"],
        &["HEXISTS", "str", "a"],
        &["HLEN", "str"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HGETALL", "str"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HSTRLEN", "str", "a"],
        &["HSCAN", "str", "0"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "2"],
    ] {
        assert_eq!(err(&mut c, args), wrongtype, "{args:?}");
    }
    assert_eq!(
        err(&mut c, &["HSET", "h", "a", "1", "b"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err(&mut c, &["HSET", "h", "a"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err(&mut c, &["HMSET", "h", "a", "1", "b"]),
        "ERR wrong number of arguments for 'hmset' command"
    );
    assert_eq!(
        err(&mut c, &["HGET", "h"]),
        "ERR wrong number of arguments for 'hget' command"
    );
}

#[test]
fn hincrby_and_hincrbyfloat_follow_redis_number_rules() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(
        cmd(&mut c, &["HINCRBY", "h", "n", "5"]).unwrap(),
        Value::Int(5)
    );
    assert_eq!(
        cmd(&mut c, &["HINCRBY", "h", "n", "-7"]).unwrap(),
        Value::Int(-2)
    );
    assert_eq!(cmd(&mut c, &["HGET", "h", "n"]).unwrap(), bulk("-2"));
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "n", "x"]),
        "ERR value is not an integer or out of range"
    );
    cmd(
        &mut c,
        &["HSET", "h", "s", "abc", "big", "9223372036854775807"],
    )
    .unwrap();
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "s", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "big", "1"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        cmd(&mut c, &["HINCRBYFLOAT", "h", "f", "10.5"]).unwrap(),
        bulk("10.5")
    );
    assert_eq!(
        cmd(&mut c, &["HINCRBYFLOAT", "h", "f", "0.1"]).unwrap(),
        bulk("10.6")
    );
    assert_eq!(
        cmd(&mut c, &["HINCRBYFLOAT", "h", "n", "3.0e0"]).unwrap(),
        bulk("1")
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "s", "1"]),
        "ERR hash value is not a float"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "f", "inf"]),
        "ERR value is NaN or Infinity"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "f", "nan"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "f", "abc"]),
        "ERR value is not a valid float"
    );
    cmd(&mut c, &["HSET", "h", "inf", "inf"]).unwrap();
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "inf", "1"]),
        "ERR increment would produce NaN or Infinity"
    );
    // A failed increment leaves no empty hash behind.
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "fresh", "f", "inf"]),
        "ERR value is NaN or Infinity"
    );
    assert_eq!(cmd(&mut c, &["SADD", "fresh", "x"]).unwrap(), Value::Int(1));
}

#[test]
fn hscan_returns_a_small_hash_whole_and_walks_a_large_one() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["HSET", "small", "a1", "1", "b1", "2", "a2", "3"]).unwrap();
    let (cur, items) = scan_reply(cmd(&mut c, &["HSCAN", "small", "0", "COUNT", "1"]).unwrap());
    assert_eq!(cur, 0);
    assert_eq!(items, ["a1", "1", "b1", "2", "a2", "3"]);
    let (cur, items) = scan_reply(cmd(&mut c, &["HSCAN", "small", "0", "MATCH", "a*"]).unwrap());
    assert_eq!(
        (cur, items),
        (0, vec!["a1".into(), "1".into(), "a2".into(), "3".into()])
    );
    assert_eq!(
        scan_reply(cmd(&mut c, &["HSCAN", "nokey", "0", "COUNT", "0"]).unwrap()),
        (0, vec![])
    );

    // 600 fields: beyond hash-max-listpack-entries (512), so a real cursor.
    for i in 0..600 {
        cmd(&mut c, &["HSET", "big", &format!("f{i}"), &format!("v{i}")]).unwrap();
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, items) =
            scan_reply(cmd(&mut c, &["HSCAN", "big", &cursor, "COUNT", "25"]).unwrap());
        assert!(items.len() <= 50);
        for pair in items.chunks(2) {
            assert_eq!(pair[1], pair[0].replace('f', "v"));
            seen.insert(pair[0].clone());
        }
        calls += 1;
        assert!(calls < 100, "scan does not finish");
        if next == 0 {
            break;
        }
        cursor = next.to_string();
    }
    assert_eq!(seen.len(), 600);
    assert!(calls > 1, "a large hash is walked in steps");

    let (_, items) = scan_reply(
        cmd(
            &mut c,
            &["HSCAN", "big", "0", "COUNT", "1000", "MATCH", "f1?"],
        )
        .unwrap(),
    );
    assert_eq!(items.len(), 20);

    for (args, want) in [
        (&["HSCAN", "big", "x"][..], "ERR invalid cursor"),
        (
            &["HSCAN", "big", "18446744073709551616"],
            "ERR invalid cursor",
        ),
        (&["HSCAN", "big", "0", "COUNT", "0"], "ERR syntax error"),
        (
            &["HSCAN", "big", "0", "COUNT", "x"],
            "ERR value is not an integer or out of range",
        ),
        (&["HSCAN", "big", "0", "MATCH"], "ERR syntax error"),
        (&["HSCAN", "big", "0", "NOVALUES"], "ERR syntax error"),
    ] {
        assert_eq!(err(&mut c, args), want, "{args:?}");
    }
}

#[test]
fn hscan_keeps_every_stable_field_while_the_hash_changes() {
    let p = Proc::picket(&[]);
    let mut scanner = p.conn();
    let mut writer = p.conn();
    // Temporary fields first, then the fields that stay for the whole scan,
    // so deleting a temporary field moves a stable one (the last entry) into
    // its place: a cursor that ignores that would skip stable fields.
    let mut pipe = redis::pipe();
    for i in 0..400 {
        pipe.cmd("HSET")
            .arg("h")
            .arg(format!("tmp{i}"))
            .arg("v")
            .ignore();
    }
    for i in 0..400 {
        pipe.cmd("HSET")
            .arg("h")
            .arg(format!("keep{i}"))
            .arg("v")
            .ignore();
    }
    pipe.query::<()>(&mut writer).unwrap();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let start = Instant::now();
    let mut step = 0;
    loop {
        let (next, items) =
            scan_reply(cmd(&mut scanner, &["HSCAN", "h", &cursor, "COUNT", "7"]).unwrap());
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        if next == 0 {
            break;
        }
        cursor = next.to_string();
        // Between steps another client deletes and adds temporary fields.
        let del = format!("tmp{step}");
        assert_eq!(
            cmd(&mut writer, &["HDEL", "h", &del]).unwrap(),
            Value::Int(1)
        );
        if step % 3 == 0 {
            let add = format!("new{step}");
            cmd(&mut writer, &["HSET", "h", &add, "v"]).unwrap();
        }
        step += 1;
        assert!(step < 400, "scan did not finish");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "scan did not finish"
        );
    }
    assert!(step > 50, "the hash changed during many scan steps");
    for i in 0..400 {
        assert!(seen.contains(&format!("keep{i}")), "keep{i} was skipped");
    }
}

#[test]
fn hrandfield_counts_behave_like_redis() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(
        &mut c,
        &["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"],
    )
    .unwrap();
    let all: HashSet<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
    let names = |v: Value| -> Vec<String> {
        let Value::Array(items) = v else {
            panic!("{v:?}")
        };
        items
            .into_iter()
            .map(|i| match i {
                Value::BulkString(b) => String::from_utf8(b).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    match cmd(&mut c, &["HRANDFIELD", "h"]).unwrap() {
        Value::BulkString(b) => assert!(all.contains(&String::from_utf8(b).unwrap())),
        other => panic!("{other:?}"),
    }
    assert_eq!(cmd(&mut c, &["HRANDFIELD", "nokey"]).unwrap(), Value::Nil);
    for _ in 0..20 {
        let v = names(cmd(&mut c, &["HRANDFIELD", "h", "3"]).unwrap());
        let distinct: HashSet<_> = v.iter().cloned().collect();
        assert_eq!((v.len(), distinct.len()), (3, 3));
        assert!(distinct.is_subset(&all));
    }
    let v = names(cmd(&mut c, &["HRANDFIELD", "h", "10"]).unwrap());
    assert_eq!(v, ["a", "b", "c", "d"]);
    let v = names(cmd(&mut c, &["HRANDFIELD", "h", "-50"]).unwrap());
    assert_eq!(v.len(), 50);
    assert!(v.iter().all(|f| all.contains(f)));
    let v = names(cmd(&mut c, &["HRANDFIELD", "h", "-3", "WITHVALUES"]).unwrap());
    assert_eq!(v.len(), 6);
    for pair in v.chunks(2) {
        let want = (pair[0].as_bytes()[0] - b'a' + b'1') as char;
        assert_eq!(pair[1], want.to_string());
    }
    assert_eq!(cmd(&mut c, &["HRANDFIELD", "h", "0"]).unwrap(), bulks(&[]));
    assert_eq!(
        cmd(&mut c, &["HRANDFIELD", "nokey", "5", "WITHVALUES"]).unwrap(),
        bulks(&[])
    );
    for (args, want) in [
        (&["HRANDFIELD", "h", "x"][..], "ERR value is not an integer or out of range"),
        (
            &["HRANDFIELD", "h", "-9223372036854775808"],
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ),
        (&["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"], "ERR value is out of range"),
        (&["HRANDFIELD", "h", "1", "WITHVALUE"], "ERR syntax error"),
        (&["HRANDFIELD", "h", "1", "WITHVALUES", "x"], "ERR syntax error"),
    ] {
        assert_eq!(err(&mut c, args), want, "{args:?}");
    }
}

#[test]
fn resp3_replies_use_maps_nulls_and_pair_arrays() {
    let p = Proc::picket(&[]);
    let mut r = raw3(&p);
    exact(&mut r, &["HSET", "h", "a", "1", "b", "2"], ":2\r\n");
    exact(
        &mut r,
        &["HGETALL", "h"],
        "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    exact(&mut r, &["HGETALL", "nokey"], "%0\r\n");
    exact(&mut r, &["HGET", "h", "zz"], "_\r\n");
    exact(&mut r, &["HMGET", "h", "a", "zz"], "*2\r\n$1\r\n1\r\n_\r\n");
    exact(&mut r, &["HRANDFIELD", "nokey"], "_\r\n");
    exact(
        &mut r,
        &["HRANDFIELD", "h", "5", "WITHVALUES"],
        "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    exact(&mut r, &["HKEYS", "h"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    exact(
        &mut r,
        &["HSCAN", "h", "0"],
        "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    exact(&mut r, &["HINCRBYFLOAT", "h", "a", "1.5"], "$3\r\n2.5\r\n");
}

#[test]
fn resp3_through_the_redis_crate_reads_hgetall_as_a_map() {
    let p = Proc::picket(&[]);
    let client = redis::Client::open(format!("{}?protocol=resp3", p.url())).unwrap();
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    cmd(&mut c, &["HSET", "h", "a", "1"]).unwrap();
    assert_eq!(
        cmd(&mut c, &["HGETALL", "h"]).unwrap(),
        Value::Map(vec![(bulk("a"), bulk("1"))])
    );
}
