//! A base file in command form, for `aof-use-rdb-preamble no` (Redis:
//! rewriteAppendOnlyFileRio): SELECT per database, then one command per
//! key (SET, RPUSH, HMSET, SADD, ZADD, batched 64 items a command as
//! Redis does) and PEXPIREAT for keys with a deadline. Keys already past
//! their deadline are left out. Pure: writes to any `Write`.

use std::io::{self, Write};

use crate::keyspace::{Db, Value};
use crate::resp::client::encode_command;
use crate::util::num::fmt_g17;

/// Items per command (Redis: AOF_REWRITE_ITEMS_PER_CMD).
const ITEMS_PER_CMD: usize = 64;

/// Emits `head` + items in commands of at most `ITEMS_PER_CMD` items.
fn batched<'a>(
    out: &mut Vec<u8>,
    cmd: &[u8],
    key: &[u8],
    items: impl Iterator<Item = Vec<&'a [u8]>>,
) {
    let mut argv: Vec<&[u8]> = vec![cmd, key];
    let mut n = 0;
    for item in items {
        argv.extend(item);
        n += 1;
        if n == ITEMS_PER_CMD {
            encode_command(out, &argv);
            argv.truncate(2);
            n = 0;
        }
    }
    if n > 0 {
        encode_command(out, &argv);
    }
}

/// Writes every live key of `dbs` as commands, flushing to `w` as it goes
/// and calling `per_key` after each key.
pub fn write_commands<W: Write>(
    mut w: W,
    dbs: &[Db],
    now_ms: i64,
    mut per_key: impl FnMut(),
) -> io::Result<()> {
    let mut out: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut num = itoa::Buffer::new();
    for (i, db) in dbs.iter().enumerate() {
        if db.dict.is_empty() {
            continue;
        }
        encode_command(&mut out, &[b"SELECT", num.format(i).as_bytes()]);
        for (key, obj) in db.dict.iter() {
            let when = db.expire_of(key);
            if when.is_some_and(|t| t < now_ms) {
                continue;
            }
            let key = key.as_slice();
            match &obj.val {
                Value::Str(s) => encode_command(&mut out, &[b"SET", key, s]),
                Value::Int(n) => {
                    let mut b = itoa::Buffer::new();
                    encode_command(&mut out, &[b"SET", key, b.format(*n).as_bytes()])
                }
                Value::List(l) => batched(
                    &mut out,
                    b"RPUSH",
                    key,
                    l.iter().map(|e| vec![e.as_slice()]),
                ),
                Value::Hash(h) => batched(
                    &mut out,
                    b"HMSET",
                    key,
                    h.iter().map(|(f, v)| vec![f.as_slice(), v.as_slice()]),
                ),
                Value::Set(s) => {
                    batched(&mut out, b"SADD", key, s.iter().map(|m| vec![m.as_slice()]))
                }
                Value::ZSet(z) => {
                    let scored: Vec<(String, &[u8])> =
                        z.iter().map(|(m, s)| (fmt_g17(s), m.as_slice())).collect();
                    batched(
                        &mut out,
                        b"ZADD",
                        key,
                        scored.iter().map(|(s, m)| vec![s.as_bytes(), *m]),
                    )
                }
            }
            if let Some(t) = when {
                let mut b = itoa::Buffer::new();
                encode_command(&mut out, &[b"PEXPIREAT", key, b.format(t).as_bytes()]);
            }
            per_key();
            if out.len() >= 1 << 16 {
                w.write_all(&out)?;
                out.clear();
            }
        }
    }
    w.write_all(&out)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Obj, Sds};
    use crate::persistence::aof::reader::Reader;

    #[test]
    fn writes_each_type_and_batches_big_values() {
        let mut db = Db::default();
        let put = |db: &mut Db, k: &str, v: Value| {
            db.dict
                .insert_new(Sds::from_slice(k.as_bytes()), Obj::new(v, 0));
        };
        put(&mut db, "n", Value::Int(-5));
        let list: crate::keyspace::value::ListValue = (0..130)
            .map(|i| Sds::from_slice(i.to_string().as_bytes()))
            .collect();
        put(&mut db, "l", Value::List(Box::new(list)));
        put(&mut db, "gone", Value::Str(Sds::from_slice(b"x")));
        db.set_expire(b"gone", Some(1000));
        put(&mut db, "kept", Value::Str(Sds::from_slice(b"y")));
        db.set_expire(b"kept", Some(5000));
        let mut out = Vec::new();
        write_commands(&mut out, std::slice::from_ref(&db), 2000, || {}).unwrap();
        let mut r = Reader::new(&out, 0);
        let mut cmds = Vec::new();
        while let Some(c) = r.next_command().unwrap() {
            cmds.push(
                c.argv
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>(),
            );
        }
        assert_eq!(cmds[0], ["SELECT", "0"]);
        assert!(cmds.contains(&vec!["SET".into(), "n".into(), "-5".into()]));
        let pushes: Vec<usize> = cmds
            .iter()
            .filter(|c| c[0] == "RPUSH")
            .map(|c| c.len() - 2)
            .collect();
        assert_eq!(pushes, [64, 64, 2]);
        assert!(!cmds.iter().any(|c| c[1] == "gone"));
        assert!(cmds.contains(&vec!["PEXPIREAT".into(), "kept".into(), "5000".into()]));
    }
}
