//! DUMP/RESTORE interoperability with Debian's redis-server 7.0: payloads
//! travel both ways, for every type and every encoding, and errors match.
//!
//! picket's other families are built in parallel, so contents are compared
//! on the redis-server side: a value goes redis → picket → redis and must
//! come back equal, and picket's own DUMP must be byte-identical to
//! redis-server's for the same data (same type byte, same encoding).

mod common;
use common::{cmd, err, Proc};
use redis::Value;

/// Runs a command whose arguments may be binary.
fn bin(c: &mut redis::Connection, args: &[&[u8]]) -> redis::RedisResult<Value> {
    let mut q = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        q.arg(*a);
    }
    q.query(c)
}

fn dump(c: &mut redis::Connection, key: &str) -> Option<Vec<u8>> {
    match bin(c, &[b"DUMP", key.as_bytes()]).unwrap() {
        Value::BulkString(b) => Some(b),
        Value::Nil => None,
        v => panic!("DUMP {key}: {v:?}"),
    }
}

fn restore(
    c: &mut redis::Connection,
    key: &str,
    ttl: &str,
    payload: &[u8],
    extra: &[&str],
) -> redis::RedisResult<Value> {
    let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload];
    args.extend(extra.iter().map(|s| s.as_bytes()));
    bin(c, &args)
}

fn restore_err(
    c: &mut redis::Connection,
    key: &str,
    ttl: &str,
    p: &[u8],
    extra: &[&str],
) -> String {
    match restore(c, key, ttl, p, extra) {
        Ok(v) => panic!("RESTORE {key} succeeded with {v:?}"),
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
    }
}

/// Bulk strings of an array reply.
fn bulks(v: Value) -> Vec<Vec<u8>> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::BulkString(b) => b,
                Value::Int(n) => n.to_string().into_bytes(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// A key's type, encoding and contents as redis-server reports them
/// (unordered types sorted).
fn contents(c: &mut redis::Connection, key: &str) -> (String, String, Vec<Vec<u8>>) {
    let ty = match cmd(c, &["TYPE", key]).unwrap() {
        Value::SimpleString(s) => s,
        v => panic!("{v:?}"),
    };
    let enc = match cmd(c, &["OBJECT", "ENCODING", key]).unwrap() {
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        v => panic!("{v:?}"),
    };
    let mut items = match ty.as_str() {
        "string" => match cmd(c, &["GET", key]).unwrap() {
            Value::BulkString(b) => vec![b],
            v => panic!("{v:?}"),
        },
        "list" => bulks(cmd(c, &["LRANGE", key, "0", "-1"]).unwrap()),
        "set" => bulks(cmd(c, &["SMEMBERS", key]).unwrap()),
        "hash" => {
            let flat = bulks(cmd(c, &["HGETALL", key]).unwrap());
            flat.chunks(2)
                .map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat())
                .collect()
        }
        "zset" => bulks(cmd(c, &["ZRANGE", key, "0", "-1", "WITHSCORES"]).unwrap()),
        other => panic!("type {other}"),
    };
    if ty == "set" || ty == "hash" {
        items.sort();
    }
    (ty, enc, items)
}

/// Deterministic pseudo-random bytes.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Fills a redis-server with one key per type and encoding. Returns the
/// key names.
fn populate(r: &mut redis::Connection) -> Vec<String> {
    let mut keys = Vec::new();
    let mut put = |args: Vec<Vec<u8>>| {
        keys.push(String::from_utf8(args[1].clone()).unwrap());
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        bin(r, &refs).unwrap();
    };
    let s = |x: &str| x.as_bytes().to_vec();
    let binary: Vec<u8> = (0..=255u8).collect();
    // Strings: text, ints of every width, non-canonical ints, binary,
    // compressible and incompressible long values, empty.
    for (k, v) in [
        ("s:text", s("hello")),
        ("s:int8", s("-100")),
        ("s:int16", s("30000")),
        ("s:int32", s("-2000000000")),
        ("s:int64", s("9223372036854775807")),
        ("s:min64", s("-9223372036854775808")),
        ("s:noncanon", s("007")),
        ("s:plus", s("+5")),
        ("s:binary", binary.clone()),
        ("s:long", b"abcdefgh".repeat(500)),
        ("s:noise", noise(3000, 1)),
        ("s:empty", Vec::new()),
        ("s:21", s("aaaaaaaaaaaaaaaaaaaaa")),
    ] {
        put(vec![s("SET"), s(k), v]);
    }
    // Lists: mixed small, many nodes, elements beyond the node size, a
    // compressible node.
    let mut small = vec![s("RPUSH"), s("l:small")];
    for e in [
        "a",
        "1",
        "-5",
        "300",
        "70000",
        "-8388608",
        "4294967296",
        "",
        "007",
    ] {
        small.push(s(e));
    }
    small.push(binary.clone());
    put(small);
    let mut big = vec![s("RPUSH"), s("l:big")];
    for i in 0..5000 {
        big.push(match i % 4 {
            0 => i.to_string().into_bytes(),
            1 => format!("element-{i}").into_bytes(),
            2 => noise(i % 97, i as u64),
            _ => vec![b'z'; i % 300],
        });
    }
    put(big);
    let mut huge = vec![s("RPUSH"), s("l:hugeelems")];
    for i in 0..5 {
        huge.push(noise(10_000 + i, 100 + i as u64));
    }
    put(huge);
    let mut comp = vec![s("RPUSH"), s("l:compressible")];
    for _ in 0..200 {
        comp.push(b"the same words again and again ".to_vec());
    }
    put(comp);
    // Hashes: listpack with ints, a long value (hashtable), many fields.
    put(vec![
        s("HSET"),
        s("h:small"),
        s("f"),
        s("v"),
        s("n"),
        s("5"),
        s("12"),
        s("-70000"),
        s("bin"),
        binary[..60].to_vec(),
        s("empty"),
        Vec::new(),
    ]);
    put(vec![
        s("HSET"),
        s("h:longvalue"),
        s("f"),
        vec![b'x'; 65],
        s("g"),
        s("1"),
    ]);
    let mut many = vec![s("HSET"), s("h:many")];
    for i in 0..300 {
        many.push(format!("field:{i}").into_bytes());
        many.push(if i % 2 == 0 {
            i.to_string().into_bytes()
        } else {
            noise(i % 50, i as u64)
        });
    }
    put(many);
    // Sets: intset (16, 32, 64-bit), hashtable strings, too many ints.
    put(vec![
        s("SADD"),
        s("set:int16"),
        s("1"),
        s("-3"),
        s("32767"),
        s("0"),
    ]);
    put(vec![
        s("SADD"),
        s("set:int32"),
        s("5"),
        s("70000"),
        s("-70000"),
    ]);
    put(vec![
        s("SADD"),
        s("set:int64"),
        s("9223372036854775807"),
        s("-9223372036854775808"),
        s("42"),
    ]);
    put(vec![
        s("SADD"),
        s("set:str"),
        s("a"),
        s("b"),
        s("1"),
        binary.clone(),
    ]);
    let mut manyints = vec![s("SADD"), s("set:manyints")];
    for i in 0..600 {
        manyints.push((i * 7 - 1000).to_string().into_bytes());
    }
    put(manyints);
    // Sorted sets: listpack with every kind of score, long member
    // (skiplist), many members (skiplist).
    put(vec![
        s("ZADD"),
        s("z:small"),
        s("1"),
        s("a"),
        s("2.5"),
        s("b"),
        s("-3"),
        s("c"),
        s("1e20"),
        s("d"),
        s("inf"),
        s("e"),
        s("-inf"),
        s("f"),
        s("0.1"),
        s("g"),
        s("12"),
        s("13"),
        s("4503599627370497"),
        s("h"),
        s("-0"),
        s("i"),
    ]);
    put(vec![
        s("ZADD"),
        s("z:longmember"),
        s("1"),
        vec![b'm'; 65],
        s("2"),
        s("n"),
    ]);
    let mut zmany = vec![s("ZADD"), s("z:many")];
    for i in 0..200 {
        zmany.push(format!("{}", (i as f64) * 1.25 - 50.0).into_bytes());
        zmany.push(format!("member-{i}").into_bytes());
    }
    put(zmany);
    keys
}

#[test]
fn every_type_and_encoding_travels_from_redis_to_picket_and_back() {
    let redis_srv = Proc::redis(&[]);
    let picket = Proc::picket(&[]);
    let mut r = redis_srv.conn();
    let mut p = picket.conn();
    for key in populate(&mut r) {
        let from_redis = dump(&mut r, &key).unwrap();
        assert_eq!(
            restore(&mut p, &key, "0", &from_redis, &[]).unwrap(),
            Value::Okay,
            "{key}"
        );
        let from_picket = dump(&mut p, &key).unwrap();
        if from_picket != from_redis {
            let at = from_picket
                .iter()
                .zip(&from_redis)
                .position(|(a, b)| a != b)
                .unwrap_or(from_picket.len().min(from_redis.len()));
            let lo = at.saturating_sub(16);
            panic!(
                "{key}: picket's DUMP differs from redis-server's at byte {at} (lengths {} vs {})\n picket: {:02x?}\n  redis: {:02x?}",
                from_picket.len(),
                from_redis.len(),
                &from_picket[lo..(at + 16).min(from_picket.len())],
                &from_redis[lo..(at + 16).min(from_redis.len())]
            );
        }
        let copy = format!("copy:{key}");
        assert_eq!(
            restore(&mut r, &copy, "0", &from_picket, &[]).unwrap(),
            Value::Okay
        );
        assert_eq!(contents(&mut r, &key), contents(&mut r, &copy), "{key}");
    }
    // Strings are readable in picket directly.
    assert_eq!(
        cmd(&mut p, &["GET", "s:long"]).unwrap(),
        Value::BulkString(b"abcdefgh".repeat(500))
    );
    assert_eq!(
        cmd(&mut p, &["GET", "s:min64"]).unwrap(),
        Value::BulkString(b"-9223372036854775808".to_vec())
    );
}

#[test]
fn small_limits_and_no_compression_give_the_same_bytes_as_redis() {
    let conf: &[&str] = &[
        "--list-max-listpack-size",
        "3",
        "--hash-max-listpack-entries",
        "2",
        "--hash-max-listpack-value",
        "8",
        "--zset-max-listpack-entries",
        "2",
        "--set-max-intset-entries",
        "3",
        "--rdbcompression",
        "no",
    ];
    let redis_srv = Proc::redis(conf);
    let picket = Proc::picket(conf);
    let mut r = redis_srv.conn();
    let mut p = picket.conn();
    for args in [
        vec!["RPUSH", "list", "a", "b", "c", "d", "e", "f", "g"],
        vec!["HSET", "h2", "a", "1", "b", "2"],
        vec!["HSET", "h3", "a", "1", "b", "2", "c", "3"],
        vec!["HSET", "hv", "a", "123456789"],
        vec!["SADD", "s3", "1", "2", "3"],
        vec!["SADD", "s4", "1", "2", "3", "4"],
        vec!["ZADD", "z2", "1", "a", "2", "b"],
        vec!["ZADD", "z3", "1", "a", "2", "b", "3", "c"],
        vec![
            "SET",
            "long",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ],
    ] {
        cmd(&mut r, &args).unwrap();
        let key = args[1];
        let from_redis = dump(&mut r, key).unwrap();
        restore(&mut p, key, "0", &from_redis, &[]).unwrap();
        assert_eq!(dump(&mut p, key).unwrap(), from_redis, "{key}");
    }
}

#[test]
fn strings_set_in_picket_restore_into_redis() {
    let redis_srv = Proc::redis(&[]);
    let picket = Proc::picket(&[]);
    let mut r = redis_srv.conn();
    let mut p = picket.conn();
    let values: Vec<Vec<u8>> = vec![
        b"plain".to_vec(),
        b"12345".to_vec(),
        b"-9223372036854775808".to_vec(),
        b"xyz".repeat(1000),
        noise(5000, 7),
        Vec::new(),
    ];
    for (i, v) in values.iter().enumerate() {
        let key = format!("k{i}");
        bin(&mut p, &[b"SET", key.as_bytes(), v]).unwrap();
        let payload = dump(&mut p, &key).unwrap();
        restore(&mut r, &key, "0", &payload, &[]).unwrap();
        assert_eq!(
            bin(&mut r, &[b"GET", key.as_bytes()]).unwrap(),
            Value::BulkString(v.clone())
        );
        bin(&mut r, &[b"SET", key.as_bytes(), v]).unwrap();
        assert_eq!(dump(&mut r, &key).unwrap(), payload, "{key}");
    }
}

/// A ziplist of string and small-integer entries, as Redis before 7.0
/// wrote them.
fn ziplist(items: &[&str]) -> Vec<u8> {
    let mut zl = vec![0u8; 10];
    let mut prev = 0usize;
    let mut tail = 10;
    for it in items {
        let start = zl.len();
        tail = start;
        zl.push(prev as u8);
        match it.parse::<i64>() {
            Ok(v) if (0..=12).contains(&v) => zl.push(0xf1 + v as u8),
            Ok(v) if i16::try_from(v).is_ok() => {
                zl.push(0xc0);
                zl.extend_from_slice(&(v as i16).to_le_bytes());
            }
            _ => {
                zl.push(it.len() as u8);
                zl.extend_from_slice(it.as_bytes());
            }
        }
        prev = zl.len() - start;
    }
    zl.push(0xff);
    let n = zl.len() as u32;
    zl[0..4].copy_from_slice(&n.to_le_bytes());
    zl[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
    zl[8..10].copy_from_slice(&(items.len() as u16).to_le_bytes());
    zl
}

/// A DUMP payload with the given body and RDB version, with its CRC.
fn payload(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = picket::persistence::rdb::crc64::crc64(0, &p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

fn rdb_string(out: &mut Vec<u8>, s: &[u8]) {
    assert!(s.len() < 64);
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

#[test]
fn older_encodings_redis_7_still_loads_are_loaded_alike() {
    let redis_srv = Proc::redis(&[]);
    let picket = Proc::picket(&[]);
    let mut r = redis_srv.conn();
    let mut p = picket.conn();
    let mut bodies: Vec<(&str, Vec<u8>)> = Vec::new();
    // RDB_TYPE_LIST_ZIPLIST, HASH_ZIPLIST, ZSET_ZIPLIST: one ziplist blob.
    for (name, ty, items) in [
        ("old:listzl", 10u8, vec!["a", "7", "300", "hello", "-2"]),
        ("old:hashzl", 13, vec!["f", "v", "n", "12"]),
        ("old:zsetzl", 12, vec!["a", "1", "b", "2.5", "c", "300"]),
    ] {
        let zl = ziplist(&items);
        let mut b = vec![ty, zl.len() as u8];
        b.extend_from_slice(&zl);
        bodies.push((name, b));
    }
    // RDB_TYPE_LIST_QUICKLIST: ziplist nodes.
    let mut ql = vec![14u8, 2];
    for node in [vec!["x", "1"], vec!["y", "2", "z"]] {
        let zl = ziplist(&node);
        ql.push(zl.len() as u8);
        ql.extend_from_slice(&zl);
    }
    bodies.push(("old:quicklist", ql));
    // RDB_TYPE_LIST, SET, HASH, ZSET (text scores).
    let mut list = vec![1u8, 3];
    let mut set = vec![2u8, 3];
    for e in [&b"p"[..], b"q", b"15"] {
        rdb_string(&mut list, e);
        rdb_string(&mut set, e);
    }
    bodies.push(("old:list", list));
    bodies.push(("old:set", set));
    let mut hash = vec![4u8, 2];
    for e in [&b"f1"[..], b"v1", b"f2", b"v2"] {
        rdb_string(&mut hash, e);
    }
    bodies.push(("old:hash", hash));
    let mut zset = vec![3u8, 3];
    rdb_string(&mut zset, b"a");
    rdb_string(&mut zset, b"1.5");
    rdb_string(&mut zset, b"b");
    zset.push(254); // +inf
    rdb_string(&mut zset, b"c");
    zset.push(255); // -inf
    bodies.push(("old:zset", zset));
    // RDB_TYPE_HASH_ZIPMAP.
    let zm = [
        2u8, 1, b'f', 2, 0, b'v', b'w', 1, b'g', 1, 1, b'h', b'!', 0xff,
    ];
    let mut zmb = vec![9u8, zm.len() as u8];
    zmb.extend_from_slice(&zm);
    bodies.push(("old:zipmap", zmb));

    for (key, body) in bodies {
        let pl = payload(&body, 9);
        assert_eq!(
            restore(&mut r, key, "0", &pl, &[]).unwrap(),
            Value::Okay,
            "redis {key}"
        );
        assert_eq!(
            restore(&mut p, key, "0", &pl, &[]).unwrap(),
            Value::Okay,
            "picket {key}"
        );
        let from_picket = dump(&mut p, key).unwrap();
        let copy = format!("copy:{key}");
        restore(&mut r, &copy, "0", &from_picket, &[]).unwrap();
        let (ty, _, items) = contents(&mut r, key);
        let (ty2, _, items2) = contents(&mut r, &copy);
        assert_eq!((ty, items), (ty2, items2), "{key}");
    }
}

#[test]
fn restore_errors_match_redis() {
    let redis_srv = Proc::redis(&[]);
    let picket = Proc::picket(&[]);
    let mut r = redis_srv.conn();
    let mut p = picket.conn();
    cmd(&mut r, &["SET", "src", "value"]).unwrap();
    cmd(&mut r, &["XADD", "stream", "*", "f", "v"]).unwrap();
    let good = dump(&mut r, "src").unwrap();
    let stream = dump(&mut r, "stream").unwrap();
    let mut bad_crc = good.clone();
    bad_crc[2] ^= 1;
    let newer = payload(&good[..good.len() - 10], 11);
    let truncated = payload(&[0, 30, b'a'], 10);
    // Shorter than the footer: read from the footer's bytes, accepted by both.
    let into_footer = payload(&[0, 10, b'a'], 10);
    let empty_set = payload(&[2, 0], 10);
    let bad_listpack = payload(&[16, 3, 1, 2, 3], 10);
    for c in [&mut r, &mut p] {
        cmd(c, &["SET", "busy", "x"]).unwrap();
    }
    let cases: Vec<(&str, &str, Vec<u8>, Vec<&str>)> = vec![
        ("busy", "0", good.clone(), vec![]),
        ("k", "-1", good.clone(), vec![]),
        ("k", "abc", good.clone(), vec![]),
        ("k", "0", good.clone(), vec!["IDLETIME", "-1"]),
        ("k", "0", good.clone(), vec!["IDLETIME", "x"]),
        ("k", "0", good.clone(), vec!["FREQ", "256"]),
        ("k", "0", good.clone(), vec!["FREQ", "-1"]),
        ("k", "0", good.clone(), vec!["IDLETIME", "1", "FREQ", "1"]),
        ("k", "0", good.clone(), vec!["FREQ", "1", "IDLETIME", "1"]),
        ("k", "0", good.clone(), vec!["IDLETIME"]),
        ("k", "0", good.clone(), vec!["BOGUS"]),
        ("k", "0", bad_crc, vec![]),
        ("k", "0", newer, vec![]),
        ("k", "0", b"short".to_vec(), vec![]),
        ("k", "0", truncated, vec![]),
        ("k", "0", empty_set, vec![]),
        ("k", "0", bad_listpack, vec![]),
    ];
    for (key, ttl, pl, extra) in &cases {
        eprintln!("case: RESTORE {key} {ttl} <{} bytes> {extra:?}", pl.len());
        let want = restore_err(&mut r, key, ttl, pl, extra);
        let got = restore_err(&mut p, key, ttl, pl, extra);
        assert_eq!(got, want, "RESTORE {key} {ttl} {extra:?}");
    }
    assert_eq!(dump(&mut p, "k"), None);
    // Streams are not supported by picket yet: refused as bad data.
    assert_eq!(
        restore_err(&mut p, "k", "0", &stream, &[]),
        "ERR Bad data format"
    );
    assert_eq!(
        restore(&mut r, "f", "0", &into_footer, &[]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        restore(&mut p, "f", "0", &into_footer, &[]).unwrap(),
        Value::Okay
    );
    assert_eq!(dump(&mut p, "f"), dump(&mut r, "f"));
    assert_eq!(
        err(&mut p, &["RESTORE", "k", "0"]),
        "ERR wrong number of arguments for 'restore' command"
    );
    assert_eq!(
        err(&mut p, &["DUMP"]),
        "ERR wrong number of arguments for 'dump' command"
    );
    // Options that are valid are accepted (REPLACE over the busy key).
    for extra in [
        vec!["REPLACE"],
        vec!["REPLACE", "IDLETIME", "100"],
        vec!["REPLACE", "FREQ", "10", "ABSTTL"],
    ] {
        assert_eq!(
            restore(&mut p, "busy", "0", &good, &extra).unwrap(),
            Value::Okay
        );
    }
    assert_eq!(
        cmd(&mut p, &["GET", "busy"]).unwrap(),
        Value::BulkString(b"value".to_vec())
    );
}

#[test]
fn ttls_expire_restored_keys_and_past_deadlines_create_nothing() {
    let picket = Proc::picket(&[]);
    let mut p = picket.conn();
    cmd(&mut p, &["SET", "src", "v"]).unwrap();
    let pl = dump(&mut p, "src").unwrap();
    // A deadline in the past: OK, but no key.
    assert_eq!(
        restore(&mut p, "past", "1", &pl, &["ABSTTL"]).unwrap(),
        Value::Okay
    );
    assert_eq!(dump(&mut p, "past"), None);
    // REPLACE with a past deadline removes the old key.
    cmd(&mut p, &["SET", "old", "x"]).unwrap();
    assert_eq!(
        restore(&mut p, "old", "1", &pl, &["ABSTTL", "REPLACE"]).unwrap(),
        Value::Okay
    );
    assert_eq!(dump(&mut p, "old"), None);
    // A relative TTL expires; 0 keeps the key.
    assert_eq!(
        restore(&mut p, "soon", "150", &pl, &[]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        restore(&mut p, "forever", "0", &pl, &[]).unwrap(),
        Value::Okay
    );
    let far = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 3_600_000)
        .to_string();
    assert_eq!(
        restore(&mut p, "abs", &far, &pl, &["ABSTTL"]).unwrap(),
        Value::Okay
    );
    assert!(dump(&mut p, "soon").is_some());
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(dump(&mut p, "soon"), None);
    assert!(dump(&mut p, "forever").is_some());
    assert!(dump(&mut p, "abs").is_some());
    assert_eq!(dump(&mut p, "missing"), None);
}
