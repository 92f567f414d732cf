//! Sorted set commands against a real picket-server, side by side with
//! Debian's redis-server 7.0 where the output is deterministic.

mod common;
use common::{cmd, err, Proc, Raw};
use redis::Value;
use std::time::{Duration, Instant};

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

fn bulks(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
}

/// A command's outcome as comparable text: the value or the error.
fn outcome(c: &mut redis::Connection, args: &[&str]) -> String {
    match cmd(c, args) {
        Ok(v) => format!("{v:?}"),
        Err(e) => format!(
            "ERR-REPLY {} {}",
            e.code().unwrap_or(""),
            e.detail().unwrap_or("")
        ),
    }
}

/// Runs every command on picket and on redis-server and asserts identical
/// replies (RESP2, through the `redis` crate).
fn same_as_redis(script: &[&[&str]]) {
    let p = Proc::picket(&[]);
    let r = Proc::redis(&[]);
    let (mut pc, mut rc) = (p.conn(), r.conn());
    for args in script {
        let want = outcome(&mut rc, args);
        let got = outcome(&mut pc, args);
        assert_eq!(got, want, "command {args:?}");
    }
}

/// Encodes a command as a RESP array of bulk strings.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend(format!("${}\r\n{}\r\n", a.len(), a).into_bytes());
    }
    v
}

/// Length of the first complete RESP2/RESP3 frame in `b`, if complete.
fn frame_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&b[1..line_end]).ok()?;
    let after = line_end + 2;
    match b.first()? {
        b'+' | b'-' | b':' | b',' | b'_' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'%' | b'>' => {
            let n: i64 = line.parse().ok()?;
            let items = if b[0] == b'%' { 2 * n } else { n };
            let mut pos = after;
            for _ in 0..items.max(0) {
                pos += frame_len(&b[pos..])?;
            }
            Some(pos)
        }
        _ => None,
    }
}

/// Sends a command and reads exactly one reply frame.
fn roundtrip(raw: &mut Raw, args: &[&str]) -> Vec<u8> {
    raw.send(&resp(args));
    read_frame(raw)
}

fn read_frame(raw: &mut Raw) -> Vec<u8> {
    let mut acc = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Some(n) = frame_len(&acc) {
            assert_eq!(n, acc.len(), "one reply expected");
            return acc;
        }
        let chunk = raw.read_some();
        if chunk.is_empty() {
            break;
        }
        acc.extend(chunk);
    }
    panic!("incomplete reply: {:?}", String::from_utf8_lossy(&acc));
}

/// A raw connection switched to RESP3.
fn resp3(p: &Proc) -> Raw {
    let mut raw = p.raw();
    let hello = roundtrip(&mut raw, &["HELLO", "3"]);
    assert!(hello.starts_with(b"%"), "HELLO 3 replies a map");
    raw
}

#[test]
fn zadd_flags_and_errors_match_redis() {
    same_as_redis(&[
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "z", "NX", "10", "a", "4", "d"],
        &["ZADD", "z", "XX", "CH", "10", "a", "5", "e"],
        &["ZADD", "z", "GT", "CH", "5", "a", "20", "b"],
        &["ZADD", "z", "LT", "CH", "5", "a", "30", "b"],
        &["ZADD", "z", "CH", "5", "a", "7", "b", "1", "new"],
        &["ZADD", "z", "INCR", "2.5", "a"],
        &["ZADD", "z", "NX", "INCR", "1", "a"],
        &["ZADD", "z", "XX", "INCR", "1", "missing"],
        &["ZADD", "z", "GT", "INCR", "-1", "a"],
        &["ZADD", "nokey", "XX", "1", "a"],
        &["ZADD", "nokey", "XX", "INCR", "1", "a"],
        &["ZADD", "z", "NX", "XX", "1", "a"],
        &["ZADD", "z", "GT", "LT", "1", "a"],
        &["ZADD", "z", "GT", "NX", "1", "a"],
        &["ZADD", "z", "INCR", "1", "a", "2", "b"],
        &["ZADD", "z", "1"],
        &["ZADD", "z", "1", "a", "2"],
        &["ZADD", "z", "NX", "1"],
        &["ZADD", "z", "x", "a"],
        &["ZADD", "z", "nan", "a"],
        &["ZADD", "z", "inf", "i", "-inf", "ni"],
        &["ZADD", "z", "INCR", "-inf", "i"],
        &["ZINCRBY", "z", "inf", "ni"],
        &["ZINCRBY", "z", "0.1", "b"],
        &["ZINCRBY", "z", "abc", "b"],
        &["ZINCRBY", "z", "1", "fresh"],
        &["ZINCRBY", "z", "nx", "b"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["SET", "str", "x"],
        &["ZADD", "str", "1", "a"],
        &["ZINCRBY", "str", "1", "a"],
        &["ZADD", "z"],
    ]);
}

#[test]
fn point_reads_and_removal_match_redis() {
    same_as_redis(&[
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "-0", "zero"],
        &["ZSCORE", "z", "a"],
        &["ZSCORE", "z", "zero"],
        &["ZSCORE", "z", "nope"],
        &["ZSCORE", "nokey", "a"],
        &["ZMSCORE", "z", "a", "nope", "c"],
        &["ZMSCORE", "nokey", "a", "b"],
        &["ZCARD", "z"],
        &["ZCARD", "nokey"],
        &["ZRANK", "z", "c"],
        &["ZREVRANK", "z", "c"],
        &["ZRANK", "z", "nope"],
        &["ZRANK", "nokey", "a"],
        &["ZREM", "z", "a", "nope", "b"],
        &["ZREM", "nokey", "a"],
        &["ZREM", "z", "c", "zero"],
        &["ZCARD", "z"],
        &["GET", "z"],
        &["SET", "str", "x"],
        &["ZSCORE", "str", "a"],
        &["ZMSCORE", "str", "a"],
        &["ZCARD", "str"],
        &["ZRANK", "str", "a"],
        &["ZREM", "str", "a"],
        &["ZRANK", "z", "a", "WITHSCORE"],
    ]);
}

#[test]
fn counts_and_ranges_by_rank_score_and_lex_match_redis() {
    same_as_redis(&[
        &[
            "ZADD", "z", "1", "a", "2", "b", "2", "c", "3", "d", "4.5", "e",
        ],
        &[
            "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
        ],
        &["ZCOUNT", "z", "2", "3"],
        &["ZCOUNT", "z", "(2", "3"],
        &["ZCOUNT", "z", "-inf", "+inf"],
        &["ZCOUNT", "z", "3", "1"],
        &["ZCOUNT", "z", "(2", "(2"],
        &["ZCOUNT", "z", "x", "1"],
        &["ZCOUNT", "z", "", "1"],
        &["ZCOUNT", "nokey", "0", "1"],
        &["ZLEXCOUNT", "l", "-", "+"],
        &["ZLEXCOUNT", "l", "[b", "(d"],
        &["ZLEXCOUNT", "l", "+", "-"],
        &["ZLEXCOUNT", "l", "b", "d"],
        &["ZLEXCOUNT", "l", "+x", "+"],
        &["ZRANGE", "z", "0", "-1"],
        &["ZRANGE", "z", "1", "2", "WITHSCORES"],
        &["ZRANGE", "z", "-2", "100"],
        &["ZRANGE", "z", "3", "1"],
        &["ZRANGE", "z", "-100", "-50"],
        &["ZRANGE", "z", "0", "1", "REV", "WITHSCORES"],
        &["ZREVRANGE", "z", "0", "1", "WITHSCORES"],
        &["ZRANGE", "z", "(1", "3", "BYSCORE"],
        &["ZRANGE", "z", "3", "(1", "BYSCORE", "REV", "WITHSCORES"],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"],
        &[
            "ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2",
        ],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "2", "-1"],
        &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "10", "1"],
        &["ZRANGE", "l", "[b", "[d", "BYLEX"],
        &["ZRANGE", "l", "[d", "(a", "BYLEX", "REV", "LIMIT", "1", "5"],
        &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"],
        &["ZRANGE", "z", "0", "1", "LIMIT", "3", "-1"],
        &["ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES"],
        &["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"],
        &["ZRANGE", "z", "0", "1", "REV", "REV"],
        &["ZRANGE", "z", "0", "1", "LIMIT", "1"],
        &["ZRANGE", "z", "a", "1"],
        &["ZRANGE", "z", "a", "1", "BYSCORE"],
        &["ZRANGE", "l", "a", "b", "BYLEX"],
        &["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "x", "1"],
        &["ZRANGE", "nokey", "0", "-1"],
        &[
            "ZRANGEBYSCORE",
            "z",
            "2",
            "+inf",
            "WITHSCORES",
            "LIMIT",
            "0",
            "2",
        ],
        &["ZRANGEBYSCORE", "z", "2", "4", "REV"],
        &["ZRANGEBYSCORE", "z", "2", "4", "BYLEX"],
        &["ZREVRANGEBYSCORE", "z", "+inf", "(2", "WITHSCORES"],
        &["ZREVRANGEBYSCORE", "z", "2", "4"],
        &["ZRANGEBYLEX", "l", "(a", "[c"],
        &["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "2", "2"],
        &["ZRANGEBYLEX", "l", "-", "+", "WITHSCORES"],
        &["ZREVRANGEBYLEX", "l", "+", "[c"],
        &["ZREVRANGEBYLEX", "l", "[c", "+"],
        &["ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1"],
        &["SET", "str", "x"],
        &["ZRANGE", "str", "0", "-1"],
        &["ZCOUNT", "str", "0", "1"],
        &["ZRANGE", "str", "x", "1"],
    ]);
}

#[test]
fn range_store_and_range_removal_match_redis() {
    same_as_redis(&[
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        &["ZRANGESTORE", "dst", "z", "1", "3"],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &[
            "ZRANGESTORE",
            "dst",
            "z",
            "(1",
            "4",
            "BYSCORE",
            "REV",
            "LIMIT",
            "0",
            "2",
        ],
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        &["ZRANGESTORE", "dst", "z", "[a", "[b", "BYLEX"],
        &["ZRANGESTORE", "dst", "z", "0", "1", "WITHSCORES"],
        &["ZRANGESTORE", "dst", "z", "10", "20"],
        &["ZCARD", "dst"],
        &["SET", "s", "x"],
        &["ZRANGESTORE", "s", "z", "0", "0"],
        &["ZRANGE", "s", "0", "-1"],
        &["ZRANGESTORE", "s", "nokey", "0", "-1"],
        &["GET", "s"],
        &["ZREMRANGEBYRANK", "z", "0", "0"],
        &["ZREMRANGEBYRANK", "z", "-1", "-1"],
        &["ZREMRANGEBYRANK", "z", "5", "10"],
        &["ZRANGE", "z", "0", "-1"],
        &["ZREMRANGEBYSCORE", "z", "(2", "+inf"],
        &["ZREMRANGEBYSCORE", "z", "x", "1"],
        &["ZREMRANGEBYSCORE", "nokey", "0", "1"],
        &["ZREMRANGEBYRANK", "z", "x", "1"],
        &["ZADD", "l", "0", "a", "0", "b", "0", "c"],
        &["ZREMRANGEBYLEX", "l", "[a", "(c"],
        &["ZREMRANGEBYLEX", "l", "a", "c"],
        &["ZREMRANGEBYLEX", "l", "-", "+"],
        &["GET", "l"],
        &["ZREMRANGEBYSCORE", "z", "-inf", "+inf"],
        &["GET", "z"],
    ]);
}

#[test]
fn pops_and_set_algebra_match_redis() {
    same_as_redis(&[
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZPOPMIN", "z"],
        &["ZPOPMAX", "z", "2"],
        &["ZPOPMIN", "z", "0"],
        &["ZPOPMIN", "z", "-1"],
        &["ZPOPMIN", "z", "x"],
        &["ZPOPMIN", "z", "1", "2"],
        &["ZPOPMIN", "nokey"],
        &["ZPOPMIN", "nokey", "3"],
        &["ZPOPMAX", "z", "10"],
        &["GET", "z"],
        &["BZPOPMIN", "nokey", "x"],
        &["BZPOPMIN", "nokey", "-1"],
        &["ZADD", "a", "1", "x", "2", "y", "3", "z"],
        &["ZADD", "b", "10", "y", "20", "z", "30", "w"],
        &["BZPOPMAX", "nokey", "a", "0"],
        &["ZADD", "a", "3", "z"],
        &["ZUNION", "2", "a", "b", "WITHSCORES"],
        &[
            "ZUNION",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "2",
            "0.5",
            "AGGREGATE",
            "MAX",
            "WITHSCORES",
        ],
        &["ZINTER", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"],
        &["ZINTER", "2", "a", "nokey"],
        &["ZDIFF", "2", "a", "b", "WITHSCORES"],
        &["ZDIFF", "2", "a", "a"],
        &["ZINTER", "2", "a", "a", "WITHSCORES"],
        &["ZUNIONSTORE", "u", "2", "a", "b"],
        &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
        &["ZINTERSTORE", "i", "2", "a", "b", "WEIGHTS", "1", "-1"],
        &["ZRANGE", "i", "0", "-1", "WITHSCORES"],
        &["ZDIFFSTORE", "d", "2", "b", "a"],
        &["ZRANGE", "d", "0", "-1", "WITHSCORES"],
        &["ZINTERSTORE", "d", "2", "a", "nokey"],
        &["GET", "d"],
        &["ZINTERCARD", "2", "a", "b"],
        &["ZINTERCARD", "2", "a", "b", "LIMIT", "1"],
        &["ZINTERCARD", "2", "a", "b", "LIMIT", "-1"],
        &["ZUNION", "0", "a"],
        &["ZUNIONSTORE", "u", "0", "a"],
        &["ZUNION", "3", "a", "b"],
        &["ZUNION", "x", "a"],
        &["ZUNION", "2", "a", "b", "WEIGHTS", "1"],
        &["ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"],
        &["ZUNION", "2", "a", "b", "AGGREGATE", "AVG"],
        &["ZDIFF", "2", "a", "b", "WEIGHTS", "1", "2"],
        &["ZUNIONSTORE", "u", "2", "a", "b", "WITHSCORES"],
        &["ZUNION", "2", "a", "b", "WITHSCORES", "WITHSCORES"],
        &["SET", "str", "x"],
        &["ZUNION", "2", "a", "str"],
        &["ZUNION", "2", "str", "a", "BOGUS"],
        &["ZUNIONSTORE", "str", "1", "a"],
        &["ZRANGE", "str", "0", "-1"],
        &["ZUNION", "1", "a", "WEIGHTS", "inf", "WITHSCORES"],
    ]);
}

#[test]
fn negative_zero_survives_only_in_large_sets_like_redis() {
    let mut big: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..200 {
        big.push(i.to_string());
        big.push(format!("m{i}"));
    }
    let big: Vec<&str> = big.iter().map(|s| s.as_str()).collect();
    same_as_redis(&[
        &["ZADD", "small", "-0", "a", "1", "b"],
        &["ZSCORE", "small", "a"],
        &["ZINCRBY", "small", "-0", "c"],
        &["ZSCORE", "small", "c"],
        &["ZSCAN", "small", "0"],
        &big,
        &["ZADD", "big", "-0", "zero"],
        &["ZSCORE", "big", "zero"],
        &["ZINCRBY", "big", "-0", "neg"],
        &["ZSCORE", "big", "neg"],
        &["ZUNIONSTORE", "u", "1", "small", "WEIGHTS", "-1"],
        &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
        &["ZUNION", "1", "small", "WEIGHTS", "-1", "WITHSCORES"],
    ]);
}

#[test]
fn resp3_replies_nest_member_score_pairs_like_redis() {
    let p = Proc::picket(&[]);
    let r = Proc::redis(&[]);
    let (mut pc, mut rc) = (resp3(&p), resp3(&r));
    let script: &[&[&str]] = &[
        &["ZADD", "z", "1", "a", "2.5", "b", "3", "c"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZRANGE", "z", "0", "-1"],
        &["ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES"],
        &["ZREVRANGE", "z", "0", "0", "WITHSCORES"],
        &["ZSCORE", "z", "b"],
        &["ZSCORE", "z", "nope"],
        &["ZMSCORE", "z", "a", "nope"],
        &["ZINCRBY", "z", "0.5", "a"],
        &["ZADD", "z", "NX", "INCR", "1", "a"],
        &["ZRANK", "z", "nope"],
        &["ZUNION", "1", "z", "WITHSCORES"],
        &["ZRANDMEMBER", "z", "5", "WITHSCORES"],
        &["ZRANDMEMBER", "nokey"],
        &["ZSCAN", "z", "0"],
        &["ZPOPMIN", "z"],
        &["ZPOPMIN", "z", "1"],
        &["ZPOPMAX", "z", "5"],
        &["ZPOPMIN", "z"],
        &["ZADD", "z", "1", "a"],
        &["BZPOPMIN", "z", "0"],
        &["BZPOPMIN", "z", "0.01"],
    ];
    for args in script {
        let want = roundtrip(&mut rc, args);
        let got = roundtrip(&mut pc, args);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "command {args:?}"
        );
    }
}

#[test]
fn scores_print_with_17_significant_digits() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    cmd(&mut c, &["ZADD", "z", "0.1", "a", "1e20", "b", "-inf", "c"]).unwrap();
    assert_eq!(
        cmd(&mut c, &["ZSCORE", "z", "a"]).unwrap(),
        bulk("0.10000000000000001")
    );
    assert_eq!(
        cmd(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]).unwrap(),
        bulks(&["c", "-inf", "a", "0.10000000000000001", "b", "1e+20"])
    );
    // ZSCAN of a small set prints scores as its listpack stores them.
    cmd(&mut c, &["ZADD", "z", "4000000000000000000", "d"]).unwrap();
    let Value::Array(scan) = cmd(&mut c, &["ZSCAN", "z", "0"]).unwrap() else {
        panic!("ZSCAN replies an array");
    };
    assert_eq!(scan[0], bulk("0"));
    assert_eq!(
        scan[1],
        bulks(&[
            "c",
            "-inf",
            "a",
            "0.10000000000000001",
            "d",
            "4000000000000000000",
            "b",
            "1e+20"
        ])
    );
}

#[test]
fn zscan_small_sets_reply_whole_and_large_sets_page_without_losing_members() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(
        cmd(&mut c, &["ZSCAN", "nokey", "0"]).unwrap(),
        Value::Array(vec![bulk("0"), Value::Array(vec![])])
    );
    cmd(&mut c, &["ZADD", "small", "1", "a", "2", "b", "3", "ab"]).unwrap();
    assert_eq!(
        cmd(
            &mut c,
            &["ZSCAN", "small", "0", "MATCH", "a*", "COUNT", "1"]
        )
        .unwrap(),
        Value::Array(vec![bulk("0"), bulks(&["a", "1", "ab", "3"])])
    );
    assert_eq!(err(&mut c, &["ZSCAN", "small", "x"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut c, &["ZSCAN", "small", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZSCAN", "small", "0", "TYPE", "zset"]),
        "ERR syntax error"
    );

    // 300 members: beyond zset-max-listpack-entries, so the cursor pages.
    let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..300 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    cmd(&mut c, &argv).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds < 1000, "scan must terminate");
        let Value::Array(r) = cmd(&mut c, &["ZSCAN", "big", &cursor, "COUNT", "20"]).unwrap()
        else {
            panic!("array");
        };
        let Value::BulkString(next) = &r[0] else {
            panic!("cursor");
        };
        let Value::Array(items) = &r[1] else {
            panic!("items");
        };
        for pair in items.chunks(2) {
            if let Value::BulkString(m) = &pair[0] {
                seen.insert(String::from_utf8_lossy(m).into_owned());
            }
        }
        // Members removed mid-scan must not make others vanish.
        if rounds == 3 {
            cmd(&mut c, &["ZREM", "big", "m0", "m1", "m2", "m150"]).unwrap();
            seen.extend(["m0", "m1", "m2", "m150"].map(String::from));
        }
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 300);
    assert!(rounds > 10, "a large set is scanned in pages");
}

#[test]
fn zrandmember_picks_members_with_and_without_repetition() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(cmd(&mut c, &["ZRANDMEMBER", "nokey"]).unwrap(), Value::Nil);
    assert_eq!(
        cmd(&mut c, &["ZRANDMEMBER", "nokey", "3"]).unwrap(),
        Value::Array(vec![])
    );
    cmd(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]).unwrap();
    let Value::BulkString(m) = cmd(&mut c, &["ZRANDMEMBER", "z"]).unwrap() else {
        panic!("bulk");
    };
    assert!(["a", "b", "c"].contains(&String::from_utf8_lossy(&m).as_ref()));
    // A count covering the set returns all of it, highest first, as Redis.
    assert_eq!(
        cmd(&mut c, &["ZRANDMEMBER", "z", "10", "WITHSCORES"]).unwrap(),
        bulks(&["c", "3", "b", "2", "a", "1"])
    );
    let Value::Array(two) = cmd(&mut c, &["ZRANDMEMBER", "z", "2"]).unwrap() else {
        panic!("array");
    };
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1], "a positive count never repeats");
    let Value::Array(rep) = cmd(&mut c, &["ZRANDMEMBER", "z", "-20", "WITHSCORES"]).unwrap() else {
        panic!("array");
    };
    assert_eq!(rep.len(), 40);
    assert_eq!(
        cmd(&mut c, &["ZRANDMEMBER", "z", "0"]).unwrap(),
        Value::Array(vec![])
    );
    assert_eq!(
        err(&mut c, &["ZRANDMEMBER", "z", "1", "BOGUS"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZRANDMEMBER", "z", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(
            &mut c,
            &["ZRANDMEMBER", "z", "-9223372036854775808", "WITHSCORES"]
        ),
        "ERR value is out of range"
    );
}

#[test]
fn bzpopmin_blocks_until_another_client_adds_a_member() {
    let p = Proc::picket(&[]);
    let mut waiter = p.raw();
    waiter.send(&resp(&["BZPOPMIN", "other", "bz", "5"]));
    // Give the server time to park the client, then feed the key.
    std::thread::sleep(Duration::from_millis(100));
    let mut c = p.conn();
    assert_eq!(
        cmd(&mut c, &["ZADD", "bz", "2", "b", "1", "a"]).unwrap(),
        Value::Int(2)
    );
    let reply = read_frame(&mut waiter);
    assert_eq!(reply, b"*3\r\n$2\r\nbz\r\n$1\r\na\r\n$1\r\n1\r\n".to_vec());
    assert_eq!(cmd(&mut c, &["ZCARD", "bz"]).unwrap(), Value::Int(1));

    // BZPOPMAX served the same way; the emptied key is deleted.
    waiter.send(&resp(&["BZPOPMAX", "bz2", "5"]));
    std::thread::sleep(Duration::from_millis(100));
    cmd(&mut c, &["ZINCRBY", "bz2", "7", "x"]).unwrap();
    assert_eq!(
        read_frame(&mut waiter),
        b"*3\r\n$3\r\nbz2\r\n$1\r\nx\r\n$1\r\n7\r\n".to_vec()
    );
    assert_eq!(cmd(&mut c, &["GET", "bz2"]).unwrap(), Value::Nil);

    // A ZUNIONSTORE into the awaited key serves the waiter too.
    waiter.send(&resp(&["BZPOPMIN", "dst", "5"]));
    std::thread::sleep(Duration::from_millis(100));
    cmd(&mut c, &["ZUNIONSTORE", "dst", "1", "bz"]).unwrap();
    assert_eq!(
        read_frame(&mut waiter),
        b"*3\r\n$3\r\ndst\r\n$1\r\nb\r\n$1\r\n2\r\n".to_vec()
    );
}

#[test]
fn blocked_poppers_are_served_in_arrival_order_one_member_each() {
    let p = Proc::picket(&[]);
    let (mut first, mut second) = (p.raw(), p.raw());
    first.send(&resp(&["BZPOPMIN", "q", "5"]));
    std::thread::sleep(Duration::from_millis(100));
    second.send(&resp(&["BZPOPMIN", "q", "5"]));
    std::thread::sleep(Duration::from_millis(100));
    let mut c = p.conn();
    cmd(&mut c, &["ZADD", "q", "1", "one"]).unwrap();
    assert_eq!(
        read_frame(&mut first),
        b"*3\r\n$1\r\nq\r\n$3\r\none\r\n$1\r\n1\r\n".to_vec()
    );
    cmd(&mut c, &["ZADD", "q", "2", "two"]).unwrap();
    assert_eq!(
        read_frame(&mut second),
        b"*3\r\n$1\r\nq\r\n$3\r\ntwo\r\n$1\r\n2\r\n".to_vec()
    );
    assert_eq!(cmd(&mut c, &["ZCARD", "q"]).unwrap(), Value::Int(0));
}

#[test]
fn bzpopmin_times_out_with_a_null_array() {
    let p = Proc::picket(&[]);
    let mut raw = p.raw();
    let start = Instant::now();
    assert_eq!(
        roundtrip(&mut raw, &["BZPOPMIN", "nokey", "0.2"]),
        b"*-1\r\n"
    );
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(150), "waited {waited:?}");
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    let mut c = p.conn();
    cmd(&mut c, &["SET", "str", "x"]).unwrap();
    assert_eq!(
        err(&mut c, &["BZPOPMIN", "str", "1"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        err(&mut c, &["BZPOPMIN", "k", "x"]),
        "ERR timeout is not a float or out of range"
    );
}

#[test]
fn range_queries_scale_to_large_sets() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    for chunk in 0..20 {
        let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
        for i in 0..1000 {
            let n = chunk * 1000 + i;
            args.push(n.to_string());
            args.push(format!("m{n:05}"));
        }
        let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        cmd(&mut c, &argv).unwrap();
    }
    assert_eq!(cmd(&mut c, &["ZCARD", "big"]).unwrap(), Value::Int(20_000));
    assert_eq!(
        cmd(&mut c, &["ZRANK", "big", "m12345"]).unwrap(),
        Value::Int(12_345)
    );
    assert_eq!(
        cmd(&mut c, &["ZRANGE", "big", "19998", "-1"]).unwrap(),
        bulks(&["m19998", "m19999"])
    );
    assert_eq!(
        cmd(
            &mut c,
            &["ZRANGEBYSCORE", "big", "(100", "+inf", "LIMIT", "5", "2"]
        )
        .unwrap(),
        bulks(&["m00106", "m00107"])
    );
    assert_eq!(
        cmd(&mut c, &["ZREMRANGEBYRANK", "big", "0", "9999"]).unwrap(),
        Value::Int(10_000)
    );
    assert_eq!(
        cmd(&mut c, &["ZRANGE", "big", "0", "0", "WITHSCORES"]).unwrap(),
        bulks(&["m10000", "10000"])
    );
    assert_eq!(
        cmd(&mut c, &["ZCOUNT", "big", "15000", "(16000"]).unwrap(),
        Value::Int(1000)
    );
}
