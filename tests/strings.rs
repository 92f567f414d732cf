//! String commands against a real picket-server, through the `redis` crate.

mod common;
use common::{cmd, err, Proc};
use redis::Value;

#[test]
fn set_get_and_options_behave_like_redis() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(cmd(&mut c, &["SET", "k", "v"]).unwrap(), Value::Okay);
    assert_eq!(
        cmd(&mut c, &["GET", "k"]).unwrap(),
        Value::BulkString(b"v".to_vec())
    );
    assert_eq!(cmd(&mut c, &["SET", "k", "w", "NX"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut c, &["SET", "k", "w", "XX", "GET"]).unwrap(),
        Value::BulkString(b"v".to_vec())
    );
    assert_eq!(cmd(&mut c, &["SET", "new", "x", "XX"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut c, &["SET", "t", "1", "EX", "100"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        err(&mut c, &["SET", "k", "v", "NX", "XX"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SET", "k", "v", "EX", "0"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(&mut c, &["SET", "k", "v", "EX", "abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["SET", "k"]),
        "ERR wrong number of arguments for 'set' command"
    );
}

#[test]
fn counters_report_overflow_and_type_errors() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(cmd(&mut c, &["INCR", "n"]).unwrap(), Value::Int(1));
    assert_eq!(cmd(&mut c, &["INCRBY", "n", "41"]).unwrap(), Value::Int(42));
    assert_eq!(cmd(&mut c, &["DECRBY", "n", "2"]).unwrap(), Value::Int(40));
    assert_eq!(
        cmd(&mut c, &["SET", "big", "9223372036854775807"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        err(&mut c, &["INCR", "big"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(cmd(&mut c, &["SET", "s", "abc"]).unwrap(), Value::Okay);
    assert_eq!(
        err(&mut c, &["INCR", "s"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        cmd(&mut c, &["INCRBYFLOAT", "f", "10.5"]).unwrap(),
        Value::BulkString(b"10.5".to_vec())
    );
    assert_eq!(
        cmd(&mut c, &["INCRBYFLOAT", "f", "0.1"]).unwrap(),
        Value::BulkString(b"10.6".to_vec())
    );
    assert_eq!(
        err(&mut c, &["INCRBYFLOAT", "s", "1"]),
        "ERR value is not a valid float"
    );
}

#[test]
fn append_ranges_and_binary_values_round_trip() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let bin: Vec<u8> = (0u8..=255).collect();
    redis::cmd("SET")
        .arg(&b"bin\x00key"[..])
        .arg(&bin)
        .query::<()>(&mut c)
        .unwrap();
    let got: Vec<u8> = redis::cmd("GET")
        .arg(&b"bin\x00key"[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(got, bin);
    assert_eq!(
        cmd(&mut c, &["APPEND", "a", "Hello"]).unwrap(),
        Value::Int(5)
    );
    assert_eq!(
        cmd(&mut c, &["APPEND", "a", " World"]).unwrap(),
        Value::Int(11)
    );
    assert_eq!(
        cmd(&mut c, &["GETRANGE", "a", "-5", "-1"]).unwrap(),
        Value::BulkString(b"World".to_vec())
    );
    assert_eq!(
        cmd(&mut c, &["GETRANGE", "a", "5", "2"]).unwrap(),
        Value::BulkString(b"".to_vec())
    );
    assert_eq!(
        cmd(&mut c, &["SETRANGE", "z", "3", "ab"]).unwrap(),
        Value::Int(5)
    );
    assert_eq!(
        cmd(&mut c, &["GET", "z"]).unwrap(),
        Value::BulkString(b"\0\0\0ab".to_vec())
    );
    assert_eq!(cmd(&mut c, &["STRLEN", "a"]).unwrap(), Value::Int(11));
    assert_eq!(
        err(&mut c, &["SETRANGE", "z", "-1", "x"]),
        "ERR offset is out of range"
    );
    assert_eq!(
        cmd(&mut c, &["MSET", "m1", "1", "m2", "2"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        cmd(&mut c, &["MGET", "m1", "nosuch", "m2"]).unwrap(),
        Value::Array(vec![
            Value::BulkString(b"1".to_vec()),
            Value::Nil,
            Value::BulkString(b"2".to_vec())
        ])
    );
    assert_eq!(
        cmd(&mut c, &["MSETNX", "m1", "x", "m3", "3"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut c, &["MSETNX", "m3", "3", "m4", "4"]).unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        cmd(&mut c, &["GETDEL", "m3"]).unwrap(),
        Value::BulkString(b"3".to_vec())
    );
    assert_eq!(cmd(&mut c, &["GET", "m3"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut c, &["GETSET", "m4", "5"]).unwrap(),
        Value::BulkString(b"4".to_vec())
    );
}
