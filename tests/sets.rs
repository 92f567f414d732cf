//! Set commands against a real picket-server: replies, errors and RESP3
//! types as redis-server 7.0 gives them, and SSCAN while the set changes.

mod common;
use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{bulk, cmd, err, exact, raw3, scan_reply, Proc};
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// The members of an array reply, in reply order.
fn members(v: Value) -> Vec<String> {
    let Value::Array(items) = v else {
        panic!("not an array: {v:?}")
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::BulkString(b) => String::from_utf8(b).unwrap(),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect()
}

/// The members of an array reply, sorted.
fn sorted(v: Value) -> Vec<String> {
    let mut m = members(v);
    m.sort();
    m
}

#[test]
fn sadd_srem_and_membership_queries() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(
        cmd(&mut c, &["SADD", "s", "a", "b", "a", "c"]).unwrap(),
        Value::Int(3)
    );
    assert_eq!(
        cmd(&mut c, &["SADD", "s", "c", "d"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(cmd(&mut c, &["SCARD", "s"]).unwrap(), Value::Int(4));
    assert_eq!(cmd(&mut c, &["SCARD", "nokey"]).unwrap(), Value::Int(0));
    assert_eq!(
        cmd(&mut c, &["SISMEMBER", "s", "a"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut c, &["SISMEMBER", "s", "z"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut c, &["SISMEMBER", "nokey", "a"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut c, &["SMISMEMBER", "s", "a", "z", "d"]).unwrap(),
        Value::Array(vec![Value::Int(1), Value::Int(0), Value::Int(1)])
    );
    assert_eq!(
        cmd(&mut c, &["SMISMEMBER", "nokey", "a"]).unwrap(),
        Value::Array(vec![Value::Int(0)])
    );
    assert_eq!(
        sorted(cmd(&mut c, &["SMEMBERS", "s"]).unwrap()),
        ["a", "b", "c", "d"]
    );
    assert!(members(cmd(&mut c, &["SMEMBERS", "nokey"]).unwrap()).is_empty());
    assert_eq!(
        cmd(&mut c, &["SREM", "s", "a", "z", "a"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(cmd(&mut c, &["SREM", "nokey", "a"]).unwrap(), Value::Int(0));
    assert_eq!(
        cmd(&mut c, &["SREM", "s", "b", "c", "d"]).unwrap(),
        Value::Int(3)
    );
    // The emptied set is deleted: the name is free for another type.
    assert_eq!(
        cmd(&mut c, &["HSET", "s", "f", "v"]).unwrap(),
        Value::Int(1)
    );
}

#[test]
fn set_commands_reject_other_types_and_bad_arguments() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["SET", "str", "x"]).unwrap();
    cmd(&mut c, &["SADD", "s", "1", "2", "3"]).unwrap();
    for args in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "1"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "1"],
        &["SSCAN", "str", "0"],
        // Multi-key commands check every key's type, even after a missing key.
        &["SINTER", "nokey", "str"],
        &["SINTER", "s", "str"],
        &["SUNION", "nokey", "str"],
        &["SDIFF", "nokey", "str"],
        &["SINTERCARD", "2", "nokey", "str"],
        &["SINTERSTORE", "d", "nokey", "str"],
        &["SUNIONSTORE", "d", "s", "str"],
        &["SDIFFSTORE", "d", "nokey", "str"],
        &["SMOVE", "str", "s", "1"],
        &["SMOVE", "s", "str", "1"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    for (args, want) in [
        (&["SPOP", "s", "-1"][..], "ERR value is out of range, must be positive"),
        (&["SPOP", "s", "x"], "ERR value is out of range, must be positive"),
        (&["SPOP", "s", "1", "2"], "ERR syntax error"),
        (&["SRANDMEMBER", "s", "x"], "ERR value is not an integer or out of range"),
        (
            &["SRANDMEMBER", "s", "-9223372036854775808"],
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ),
        (&["SRANDMEMBER", "s", "1", "2"], "ERR syntax error"),
        (&["SINTERCARD", "0", "s"], "ERR numkeys should be greater than 0"),
        (&["SINTERCARD", "x", "s"], "ERR numkeys should be greater than 0"),
        (&["SINTERCARD", "3", "s"], "ERR Number of keys can't be greater than number of args"),
        (&["SINTERCARD", "1", "s", "LIMIT", "-1"], "ERR LIMIT can't be negative"),
        (&["SINTERCARD", "1", "s", "LIMIT", "x"], "ERR LIMIT can't be negative"),
        (&["SINTERCARD", "1", "s", "LIMIT"], "ERR syntax error"),
        (&["SINTERCARD", "1", "s", "FOO"], "ERR syntax error"),
        (&["SADD", "s"], "ERR wrong number of arguments for 'sadd' command"),
        (&["SMOVE", "s", "d"], "ERR wrong number of arguments for 'smove' command"),
    ] {
        assert_eq!(err(&mut c, args), want, "{args:?}");
    }
    // A missing SMOVE source answers 0 before the destination's type is checked.
    assert_eq!(
        cmd(&mut c, &["SMOVE", "nokey", "str", "1"]).unwrap(),
        Value::Int(0)
    );
}

#[test]
fn set_algebra_treats_missing_keys_as_empty_sets() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["SADD", "a", "1", "2", "3", "4"]).unwrap();
    cmd(&mut c, &["SADD", "b", "3", "4", "5"]).unwrap();
    cmd(&mut c, &["SADD", "c", "4", "6"]).unwrap();
    assert_eq!(
        sorted(cmd(&mut c, &["SINTER", "a", "b"]).unwrap()),
        ["3", "4"]
    );
    assert_eq!(
        sorted(cmd(&mut c, &["SINTER", "a", "b", "c"]).unwrap()),
        ["4"]
    );
    assert!(members(cmd(&mut c, &["SINTER", "a", "nokey"]).unwrap()).is_empty());
    assert!(members(cmd(&mut c, &["SINTER", "nokey", "a"]).unwrap()).is_empty());
    assert_eq!(
        sorted(cmd(&mut c, &["SUNION", "a", "nokey", "c"]).unwrap()),
        ["1", "2", "3", "4", "6"]
    );
    assert_eq!(
        sorted(cmd(&mut c, &["SDIFF", "a", "b", "nokey"]).unwrap()),
        ["1", "2"]
    );
    assert!(members(cmd(&mut c, &["SDIFF", "nokey", "a"]).unwrap()).is_empty());
    assert!(members(cmd(&mut c, &["SDIFF", "a", "a"]).unwrap()).is_empty());
    assert_eq!(
        cmd(&mut c, &["SINTERCARD", "2", "a", "b"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        cmd(&mut c, &["SINTERCARD", "2", "a", "b", "LIMIT", "1"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut c, &["SINTERCARD", "1", "a", "LIMIT", "0"]).unwrap(),
        Value::Int(4)
    );
    assert_eq!(
        cmd(&mut c, &["SINTERCARD", "2", "a", "nokey"]).unwrap(),
        Value::Int(0)
    );
}

#[test]
fn store_variants_overwrite_or_delete_the_destination() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["SADD", "a", "1", "2", "3"]).unwrap();
    cmd(&mut c, &["SADD", "b", "2", "3", "4"]).unwrap();
    cmd(&mut c, &["SET", "dst", "a string"]).unwrap();
    assert_eq!(
        cmd(&mut c, &["SINTERSTORE", "dst", "a", "b"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        sorted(cmd(&mut c, &["SMEMBERS", "dst"]).unwrap()),
        ["2", "3"]
    );
    assert_eq!(
        cmd(&mut c, &["SUNIONSTORE", "dst", "a", "b", "nokey"]).unwrap(),
        Value::Int(4)
    );
    assert_eq!(cmd(&mut c, &["SCARD", "dst"]).unwrap(), Value::Int(4));
    assert_eq!(
        cmd(&mut c, &["SDIFFSTORE", "dst", "a", "b"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(sorted(cmd(&mut c, &["SMEMBERS", "dst"]).unwrap()), ["1"]);
    // The destination may be one of the sources.
    assert_eq!(
        cmd(&mut c, &["SUNIONSTORE", "a", "a", "b"]).unwrap(),
        Value::Int(4)
    );
    // An empty result deletes the destination and answers 0.
    assert_eq!(
        cmd(&mut c, &["SINTERSTORE", "dst", "a", "nokey"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut c, &["HSET", "dst", "f", "v"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut c, &["SDIFFSTORE", "dst", "b", "b"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(cmd(&mut c, &["HLEN", "dst"]).unwrap(), Value::Int(0));
    assert_eq!(
        cmd(&mut c, &["SUNIONSTORE", "dst", "nokey"]).unwrap(),
        Value::Int(0)
    );
}

#[test]
fn smove_moves_members_between_sets() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["SADD", "src", "a", "b"]).unwrap();
    cmd(&mut c, &["SADD", "dst", "b"]).unwrap();
    assert_eq!(
        cmd(&mut c, &["SMOVE", "src", "dst", "zz"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut c, &["SMOVE", "src", "src", "a"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut c, &["SMOVE", "src", "src", "zz"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut c, &["SMOVE", "src", "dst", "a"]).unwrap(),
        Value::Int(1)
    );
    // Moving a member the destination already has still removes it from the source.
    assert_eq!(
        cmd(&mut c, &["SMOVE", "src", "dst", "b"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(cmd(&mut c, &["SCARD", "src"]).unwrap(), Value::Int(0));
    assert_eq!(
        sorted(cmd(&mut c, &["SMEMBERS", "dst"]).unwrap()),
        ["a", "b"]
    );
    assert_eq!(
        cmd(&mut c, &["SMOVE", "dst", "fresh", "a"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(sorted(cmd(&mut c, &["SMEMBERS", "fresh"]).unwrap()), ["a"]);
    assert_eq!(
        cmd(&mut c, &["SMOVE", "nokey", "dst", "a"]).unwrap(),
        Value::Int(0)
    );
}

#[test]
fn spop_and_srandmember_counts_behave_like_redis() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let all: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let mut args = vec!["SADD", "s"];
    args.extend(all.iter().map(|s| s.as_str()));
    cmd(&mut c, &args).unwrap();
    let universe: HashSet<String> = all.iter().cloned().collect();

    match cmd(&mut c, &["SRANDMEMBER", "s"]).unwrap() {
        Value::BulkString(b) => assert!(universe.contains(&String::from_utf8(b).unwrap())),
        other => panic!("{other:?}"),
    }
    assert_eq!(cmd(&mut c, &["SRANDMEMBER", "nokey"]).unwrap(), Value::Nil);
    assert!(members(cmd(&mut c, &["SRANDMEMBER", "nokey", "-3"]).unwrap()).is_empty());
    assert!(members(cmd(&mut c, &["SRANDMEMBER", "s", "0"]).unwrap()).is_empty());
    for _ in 0..20 {
        let m = members(cmd(&mut c, &["SRANDMEMBER", "s", "4"]).unwrap());
        let d: HashSet<String> = m.iter().cloned().collect();
        assert_eq!((m.len(), d.len()), (4, 4));
        assert!(d.is_subset(&universe));
    }
    assert_eq!(sorted(cmd(&mut c, &["SRANDMEMBER", "s", "50"]).unwrap()), {
        let mut a = all.clone();
        a.sort();
        a
    });
    let m = members(cmd(&mut c, &["SRANDMEMBER", "s", "-100"]).unwrap());
    assert_eq!(m.len(), 100);
    assert!(m.iter().all(|x| universe.contains(x)));
    assert_eq!(cmd(&mut c, &["SCARD", "s"]).unwrap(), Value::Int(10));

    assert_eq!(cmd(&mut c, &["SPOP", "nokey"]).unwrap(), Value::Nil);
    assert!(members(cmd(&mut c, &["SPOP", "nokey", "3"]).unwrap()).is_empty());
    assert!(members(cmd(&mut c, &["SPOP", "s", "0"]).unwrap()).is_empty());
    let one = match cmd(&mut c, &["SPOP", "s"]).unwrap() {
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        other => panic!("{other:?}"),
    };
    let three = members(cmd(&mut c, &["SPOP", "s", "3"]).unwrap());
    assert_eq!(three.len(), 3);
    assert_eq!(cmd(&mut c, &["SCARD", "s"]).unwrap(), Value::Int(6));
    let rest = members(cmd(&mut c, &["SPOP", "s", "100"]).unwrap());
    assert_eq!(rest.len(), 6);
    let mut popped: Vec<String> = rest.into_iter().chain(three).chain([one]).collect();
    popped.sort();
    let mut want = all.clone();
    want.sort();
    assert_eq!(popped, want, "every member popped exactly once");
    // The whole set was popped, so the key is gone.
    assert_eq!(
        cmd(&mut c, &["HSET", "s", "f", "v"]).unwrap(),
        Value::Int(1)
    );
}

#[test]
fn sscan_returns_a_small_set_whole_and_walks_a_large_one() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["SADD", "small", "1", "2", "13"]).unwrap();
    assert_eq!(
        scan_reply(cmd(&mut c, &["SSCAN", "small", "0", "COUNT", "1"]).unwrap()),
        (0, vec!["1".into(), "2".into(), "13".into()])
    );
    assert_eq!(
        scan_reply(cmd(&mut c, &["SSCAN", "small", "0", "MATCH", "1*"]).unwrap()),
        (0, vec!["1".into(), "13".into()])
    );
    assert_eq!(
        scan_reply(cmd(&mut c, &["SSCAN", "nokey", "0"]).unwrap()),
        (0, vec![])
    );
    // Non-integer members: not an intset, so a real cursor.
    let names: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    let mut args = vec!["SADD", "big"];
    args.extend(names.iter().map(|s| s.as_str()));
    cmd(&mut c, &args).unwrap();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, items) =
            scan_reply(cmd(&mut c, &["SSCAN", "big", &cursor, "COUNT", "30"]).unwrap());
        assert!(items.len() <= 30);
        seen.extend(items);
        calls += 1;
        assert!(calls < 50, "scan does not finish");
        if next == 0 {
            break;
        }
        cursor = next.to_string();
    }
    assert_eq!(seen.len(), 200);
    assert!(calls > 1);
    for (args, want) in [
        (&["SSCAN", "big", "x"][..], "ERR invalid cursor"),
        (&["SSCAN", "big", "0", "COUNT", "0"], "ERR syntax error"),
        (&["SSCAN", "big", "0", "MATCH"], "ERR syntax error"),
        (&["SSCAN", "big", "0", "TYPE", "set"], "ERR syntax error"),
    ] {
        assert_eq!(err(&mut c, args), want, "{args:?}");
    }
}

#[test]
fn sscan_keeps_every_stable_member_while_the_set_changes() {
    let p = Proc::picket(&[]);
    let mut scanner = p.conn();
    let mut writer = p.conn();
    // Temporary members first, stable ones last: removing a temporary
    // member moves a stable one into its slot.
    let mut pipe = redis::pipe();
    for i in 0..300 {
        pipe.cmd("SADD").arg("s").arg(format!("tmp{i}")).ignore();
    }
    for i in 0..300 {
        pipe.cmd("SADD").arg("s").arg(format!("keep{i}")).ignore();
    }
    pipe.query::<()>(&mut writer).unwrap();
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let start = Instant::now();
    let mut step = 0;
    loop {
        let (next, items) =
            scan_reply(cmd(&mut scanner, &["SSCAN", "s", &cursor, "COUNT", "5"]).unwrap());
        seen.extend(items);
        if next == 0 {
            break;
        }
        cursor = next.to_string();
        let del = format!("tmp{step}");
        assert_eq!(
            cmd(&mut writer, &["SREM", "s", &del]).unwrap(),
            Value::Int(1)
        );
        if step % 4 == 0 {
            let add = format!("new{step}");
            cmd(&mut writer, &["SADD", "s", &add]).unwrap();
        }
        step += 1;
        assert!(step < 300, "scan did not finish");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "scan did not finish"
        );
    }
    assert!(step > 50);
    for i in 0..300 {
        assert!(seen.contains(&format!("keep{i}")), "keep{i} was skipped");
    }
}

#[test]
fn resp3_replies_use_set_types_where_redis_does() {
    let p = Proc::picket(&[]);
    let mut r = raw3(&p);
    exact(&mut r, &["SADD", "s", "a", "b"], ":2\r\n");
    exact(&mut r, &["SMEMBERS", "s"], "~2\r\n$1\r\na\r\n$1\r\nb\r\n");
    exact(&mut r, &["SMEMBERS", "nokey"], "~0\r\n");
    exact(&mut r, &["SINTER", "s"], "~2\r\n$1\r\na\r\n$1\r\nb\r\n");
    exact(&mut r, &["SINTER", "s", "nokey"], "~0\r\n");
    exact(
        &mut r,
        &["SUNION", "s", "nokey"],
        "~2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    exact(
        &mut r,
        &["SDIFF", "s", "nokey"],
        "~2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    // SRANDMEMBER with a count is an array, even for the whole set.
    exact(
        &mut r,
        &["SRANDMEMBER", "s", "5"],
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    exact(&mut r, &["SRANDMEMBER", "nokey", "5"], "*0\r\n");
    exact(&mut r, &["SRANDMEMBER", "nokey"], "_\r\n");
    exact(&mut r, &["SPOP", "nokey"], "_\r\n");
    exact(&mut r, &["SPOP", "nokey", "2"], "~0\r\n");
    exact(&mut r, &["SPOP", "s", "0"], "~0\r\n");
    exact(&mut r, &["SMISMEMBER", "s", "a", "z"], "*2\r\n:1\r\n:0\r\n");
    exact(
        &mut r,
        &["SSCAN", "s", "0"],
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    exact(&mut r, &["SPOP", "s", "5"], "~2\r\n$1\r\na\r\n$1\r\nb\r\n");
    exact(&mut r, &["SCARD", "s"], ":0\r\n");
}

#[test]
fn resp3_through_the_redis_crate_reads_smembers_as_a_set() {
    let p = Proc::picket(&[]);
    let client = redis::Client::open(format!("{}?protocol=resp3", p.url())).unwrap();
    let mut c = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    cmd(&mut c, &["SADD", "s", "x"]).unwrap();
    assert_eq!(
        cmd(&mut c, &["SMEMBERS", "s"]).unwrap(),
        Value::Set(vec![bulk("x")])
    );
}
