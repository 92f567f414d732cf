//! The append-only file with real processes: every acknowledged write is
//! in the AOF and survives kill -9, rewrites replace the base without
//! losing writes (even when killed half-way), a torn tail loads up to its
//! last complete command, the checker finds and cuts damage, and AOF
//! directories travel both ways between picket and Debian's redis-server
//! 7.0, compared key by key.

mod common;
use common::data::*;
use common::{cmd, picket_bin, Proc};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn aof_dir(dir: &Path) -> PathBuf {
    dir.join("appendonlydir")
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(aof_dir(dir).join("appendonly.aof.manifest")).unwrap()
}

/// The last increment named in the manifest.
fn last_incr(dir: &Path) -> PathBuf {
    let m = manifest(dir);
    let name = m
        .lines()
        .rfind(|l| l.ends_with("type i"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no incr file in {m}"))
        .to_string();
    aof_dir(dir).join(name)
}

fn with_aof<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--appendonly", "yes", "--save", ""];
    v.extend_from_slice(extra);
    v
}

/// Waits until no rewrite runs; panics after 20 s.
fn wait_rewrite_done(c: &mut redis::Connection) {
    assert!(
        wait_for(Duration::from_secs(20), || {
            info_field(c, "aof_rewrite_in_progress") == "0"
                && info_field(c, "aof_rewrite_scheduled") == "0"
        }),
        "rewrite did not finish"
    );
}

fn kill9(p: &mut Proc) {
    p.signal("KILL");
    assert!(p.wait_exit(Duration::from_secs(5)).is_some());
}

/// The pid a log line "… started by pid N" names.
fn child_pid(p: &Proc, what: &str) -> u32 {
    let mut pid = None;
    assert!(wait_for(Duration::from_secs(5), || {
        pid = p
            .log_text()
            .split(what)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u32>().ok());
        pid.is_some()
    }));
    pid.unwrap()
}

/// Kills a fork of a server this test started, by its PID, and waits
/// until it is gone (it is re-parented, so it can't be reaped here).
fn kill_orphan(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    assert!(wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z ") || s.is_empty())
            .unwrap_or(true)
    }));
}

#[test]
fn every_type_survives_kill_9_through_the_aof() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = picket_in(dir.path(), &with_aof(&[]));
    let mut c = p.conn();
    populate(&mut c);
    // A transaction, a rewritten command (SPOP becomes SREM) and a key
    // that lazily expired before it was appended to (its DEL must be
    // written before the APPEND, or the replay would lose the value).
    q(&mut c, &["MULTI"]);
    q(&mut c, &["INCRBY", "int", "10"]);
    q(&mut c, &["LPUSH", "list", "head"]);
    q(&mut c, &["EXEC"]);
    q(&mut c, &["SADD", "popped", "only"]);
    q(&mut c, &["SPOP", "popped"]);
    q(&mut c, &["SET", "short", "old", "PX", "50"]);
    std::thread::sleep(Duration::from_millis(120));
    q(&mut c, &["APPEND", "short", "new"]);
    let before = snapshot(&mut c);
    assert!(before.contains_key("0/short") && !before.contains_key("0/popped"));
    kill9(&mut p);

    let text = std::fs::read(last_incr(dir.path())).unwrap();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("MULTI") && text.contains("EXEC"), "{text}");
    let del = text
        .find("$3\r\nDEL\r\n$5\r\nshort")
        .expect("DEL of the expired key");
    assert!(del < text.find("APPEND").unwrap(), "{text}");

    let p = picket_in(dir.path(), &with_aof(&[]));
    let mut c = p.conn();
    assert_eq!(snapshot(&mut c), before);
    assert_eq!(q(&mut c, &["GET", "short"]), "new");
}

#[test]
fn bgrewriteaof_replaces_the_base_and_keeps_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &with_aof(&[]));
    let mut c = p.conn();
    populate(&mut c);
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    assert_eq!(
        manifest(dir.path()),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    assert_eq!(
        q(&mut c, &["BGREWRITEAOF"]),
        "Background append only file rewriting started"
    );
    wait_rewrite_done(&mut c);
    q(&mut c, &["SET", "after", "rewrite"]);
    assert_eq!(
        manifest(dir.path()),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    let mut files: Vec<String> = std::fs::read_dir(aof_dir(dir.path()))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "appendonly.aof.2.base.rdb",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    assert_eq!(info_field(&mut c, "aof_rewrites"), "1");
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    let base: u64 = info_field(&mut c, "aof_base_size").parse().unwrap();
    let current: u64 = info_field(&mut c, "aof_current_size").parse().unwrap();
    assert!(current > base, "{current} {base}");
    let before = snapshot(&mut c);
    drop(p);
    let p = picket_in(dir.path(), &with_aof(&[]));
    assert_eq!(snapshot(&mut p.conn()), before);
}

#[test]
fn the_aof_grows_past_its_threshold_and_rewrites_itself() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(
        dir.path(),
        &with_aof(&[
            "--auto-aof-rewrite-min-size",
            "64kb",
            "--auto-aof-rewrite-percentage",
            "100",
        ]),
    );
    let mut c = p.conn();
    let v = "v".repeat(1000);
    for i in 0..200 {
        q(&mut c, &["SET", &format!("k{}", i % 10), &v]);
    }
    assert!(wait_for(Duration::from_secs(10), || info_field(
        &mut c,
        "aof_rewrites"
    ) != "0"));
    wait_rewrite_done(&mut c);
    assert!(p.log_text().contains("Starting automatic rewriting of AOF"));
    // Ten keys are far smaller than the 200 writes that were logged.
    let size: u64 = info_field(&mut c, "aof_current_size").parse().unwrap();
    assert!(size < 64 * 1024, "{size}");
}

#[test]
fn appendfsync_always_keeps_every_acknowledged_write_through_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = picket_in(dir.path(), &with_aof(&["--appendfsync", "always"]));
    let url = p.url();
    // Four writers; each remembers the last value the server acknowledged.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                let start = Instant::now();
                let mut acked = 0u64;
                // Bounded: stops at the kill, after 20 000 writes or 20 s.
                for i in 1..=20_000u64 {
                    if start.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                    let r: redis::RedisResult<()> =
                        redis::cmd("SET").arg(format!("w{w}")).arg(i).query(&mut c);
                    if r.is_err() {
                        break;
                    }
                    let r: redis::RedisResult<i64> = redis::cmd("RPUSH")
                        .arg(format!("log{w}"))
                        .arg(i)
                        .query(&mut c);
                    match r {
                        Ok(_) => acked = i,
                        Err(_) => break,
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    kill9(&mut p);
    let acked: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(acked.iter().all(|&a| a > 0), "{acked:?}");

    let p = picket_in(dir.path(), &with_aof(&[]));
    let mut c = p.conn();
    for (w, &a) in acked.iter().enumerate() {
        let v: u64 = q(&mut c, &["GET", &format!("w{w}")]).parse().unwrap();
        let n: u64 = q(&mut c, &["LLEN", &format!("log{w}")]).parse().unwrap();
        // Everything acknowledged is there; at most the one write in
        // flight at the kill may be there too.
        assert!(v >= a && v <= a + 1, "writer {w}: acked {a}, found {v}");
        assert!(n >= a && n <= a + 1, "writer {w}: acked {a}, list has {n}");
    }
}

#[test]
fn kill_9_during_a_rewrite_keeps_the_previous_files_loadable() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = picket_in(dir.path(), &with_aof(&["--rdb-key-save-delay", "2000"]));
    let mut c = p.conn();
    for i in 0..1000 {
        q(&mut c, &["SET", &format!("k{i}"), &i.to_string()]);
    }
    // 1000 keys at 2 ms each: the rewrite child writes for two seconds.
    q(&mut c, &["BGREWRITEAOF"]);
    let child = child_pid(&p, "rewriting started by pid ");
    assert_eq!(info_field(&mut c, "aof_rewrite_in_progress"), "1");
    // Writes during the rewrite go to the new increment.
    q(&mut c, &["SET", "during", "rewrite"]);
    q(&mut c, &["DEL", "k5"]);
    let before = snapshot(&mut c);
    kill9(&mut p);
    kill_orphan(child);
    let m = manifest(dir.path());
    assert!(
        m.contains("appendonly.aof.2.incr.aof") && m.contains("1.base.rdb"),
        "{m}"
    );

    let p = picket_in(dir.path(), &with_aof(&[]));
    let mut c = p.conn();
    assert_eq!(snapshot(&mut c), before);
    // And the next rewrite cleans up after the interrupted one.
    q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrite_done(&mut c);
    drop(p);
    let p = picket_in(dir.path(), &with_aof(&[]));
    assert_eq!(snapshot(&mut p.conn()), before);
}

#[test]
fn kill_9_during_a_bgsave_keeps_the_previous_snapshot_loadable() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = picket_in(dir.path(), &["--save", ""]);
    let mut c = p.conn();
    for i in 0..1000 {
        q(&mut c, &["SET", &format!("k{i}"), "first"]);
    }
    q(&mut c, &["SAVE"]);
    let saved = snapshot(&mut c);
    // 2 ms per key from now on: the BGSAVE below writes for two seconds.
    q(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "2000"]);
    q(&mut c, &["SET", "k1", "second"]);
    q(&mut c, &["BGSAVE"]);
    let child = child_pid(&p, "Background saving started by pid ");
    std::thread::sleep(Duration::from_millis(300));
    kill9(&mut p);
    kill_orphan(child);
    // The half-written temp file is there; dump.rdb is the old one.
    assert!(dir.path().join(format!("temp-{child}.rdb")).exists());
    let p = picket_in(dir.path(), &["--save", ""]);
    assert_eq!(snapshot(&mut p.conn()), saved);
}

/// Appends raw bytes to a file.
fn append(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn a_torn_tail_loads_up_to_the_last_complete_command() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &with_aof(&[]));
    let mut c = p.conn();
    q(&mut c, &["SET", "a", "1"]);
    q(&mut c, &["RPUSH", "l", "x", "y"]);
    drop(p);
    let incr = last_incr(dir.path());
    let good = std::fs::metadata(&incr).unwrap().len();
    // A crash mid-write: half a command, then a transaction without EXEC.
    append(&incr, b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1");
    let (code, text) = failed_start(dir.path(), &with_aof(&["--aof-load-truncated", "no"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("Unexpected end of file") && text.contains(&format!("offset {good}")),
        "{text}"
    );

    let p = picket_in(dir.path(), &with_aof(&[]));
    assert!(
        p.log_text().contains("Truncating the AOF at offset"),
        "{}",
        p.log_text()
    );
    let mut c = p.conn();
    assert_eq!(q(&mut c, &["GET", "a"]), "1");
    assert_eq!(q(&mut c, &["EXISTS", "b"]), "0");
    drop(p);
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), good);

    // A MULTI cut off before EXEC is dropped whole.
    append(
        &incr,
        b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    let p = picket_in(dir.path(), &with_aof(&[]));
    assert_eq!(q(&mut p.conn(), &["EXISTS", "b"]), "0");
    drop(p);
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), good);
}

#[test]
fn garbage_or_a_missing_file_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &with_aof(&[]));
    q(&mut p.conn(), &["SET", "a", "1"]);
    drop(p);
    let incr = last_incr(dir.path());
    let good = std::fs::metadata(&incr).unwrap().len();
    append(&incr, b"this is not a command\r\n");
    let (code, text) = failed_start(dir.path(), &with_aof(&[]));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("Bad file format")
            && text.contains(&format!("offset {good}"))
            && text.contains("--check-aof --fix"),
        "{text}"
    );
    append(&incr, b"");
    std::fs::remove_file(&incr).unwrap();
    let (code, text) = failed_start(dir.path(), &with_aof(&[]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("appendonly.aof.1.incr.aof"), "{text}");
    std::fs::write(
        aof_dir(dir.path()).join("appendonly.aof.manifest"),
        "file x seq one type i\n",
    )
    .unwrap();
    let (code, text) = failed_start(dir.path(), &with_aof(&[]));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("manifest") && text.contains("line 1"),
        "{text}"
    );
}

fn check(args: &[&str]) -> (i32, String) {
    let out = Command::new("timeout")
        .arg("20")
        .arg(picket_bin())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_checker_reports_damage_and_fix_cuts_the_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &with_aof(&[]));
    let mut c = p.conn();
    populate(&mut c);
    q(&mut c, &["SAVE"]);
    drop(p);
    let m = aof_dir(dir.path()).join("appendonly.aof.manifest");
    let m = m.to_str().unwrap();
    let (code, out) = check(&["--check-aof", m]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("RDB preamble is OK") && out.contains("All AOF files and manifest are valid"),
        "{out}"
    );

    let incr = last_incr(dir.path());
    let good = std::fs::metadata(&incr).unwrap().len();
    append(&incr, b"*2\r\n$3\r\nDEL\r\n$3\r\nst");
    let (code, out) = check(&["--check-aof", m]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("ok_up_to={good}")) && out.contains("Use the --fix option"),
        "{out}"
    );
    let (code, out) = check(&["--check-aof", "--fix", m]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Successfully truncated"), "{out}");
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), good);
    // The fixed AOF starts a server without the aof-load-truncated path.
    let p = picket_in(dir.path(), &with_aof(&["--aof-load-truncated", "no"]));
    assert_eq!(q(&mut p.conn(), &["GET", "str"]), "hello");
    drop(p);

    // The RDB checker: a sound file, then one with a flipped byte.
    let rdb = dir.path().join("dump.rdb");
    let (code, out) = check(&["--check-rdb", rdb.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("RDB looks OK"), "{out}");
    let mut bytes = std::fs::read(&rdb).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0x5a;
    std::fs::write(&rdb, &bytes).unwrap();
    let (code, out) = check(&["--check-rdb", rdb.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("RDB ERROR DETECTED") && out.contains("offset"),
        "{out}"
    );
}

#[test]
fn config_set_appendonly_yes_writes_the_whole_dataset_first() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &["--save", ""]);
    let mut c = p.conn();
    populate(&mut c);
    q(&mut c, &["CONFIG", "SET", "appendonly", "yes"]);
    q(&mut c, &["SET", "while", "turning-on"]);
    wait_rewrite_done(&mut c);
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    q(&mut c, &["SET", "after", "on"]);
    let before = snapshot(&mut c);
    drop(p);
    let p = picket_in(dir.path(), &with_aof(&[]));
    let mut c = p.conn();
    assert_eq!(snapshot(&mut c), before);
    // And off again: writes stop reaching the file.
    q(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    let incr = last_incr(dir.path());
    let size = std::fs::metadata(&incr).unwrap().len();
    q(&mut c, &["SET", "ignored", "1"]);
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), size);
}

#[test]
fn picket_aof_directories_load_in_redis_server_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &with_aof(&[]));
    let mut c = p.conn();
    populate(&mut c);
    q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrite_done(&mut c);
    q(&mut c, &["SADD", "after", "1", "2"]);
    q(&mut c, &["SELECT", "3"]);
    q(&mut c, &["HSET", "h3", "f", "v"]);
    let ours = snapshot(&mut c);
    drop(p);
    let r = Proc::redis(&["--dir", dir_arg(dir.path()), "--appendonly", "yes"]);
    assert_eq!(snapshot(&mut r.conn()), ours);
}

#[test]
fn redis_server_aof_directories_load_in_picket_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let r = Proc::redis(&["--dir", dir_arg(dir.path()), "--appendonly", "yes"]);
    let mut c = r.conn();
    populate(&mut c);
    q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrite_done(&mut c);
    q(&mut c, &["MULTI"]);
    q(&mut c, &["INCR", "int"]);
    q(&mut c, &["ZADD", "zset", "9", "z"]);
    q(&mut c, &["EXEC"]);
    q(&mut c, &["SET", "px", "v", "PX", "900000"]);
    let theirs = snapshot(&mut c);
    drop(r);
    let p = picket_in(dir.path(), &with_aof(&[]));
    assert_eq!(snapshot(&mut p.conn()), theirs);
}

#[test]
fn an_old_single_file_aof_is_moved_into_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("appendonly.aof"),
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$3\r\nold\r\n$5\r\nstyle\r\n",
    )
    .unwrap();
    let p = picket_in(dir.path(), &with_aof(&[]));
    let mut c = p.conn();
    assert_eq!(q(&mut c, &["GET", "old"]), "style");
    assert!(!dir.path().join("appendonly.aof").exists());
    assert!(manifest(dir.path()).starts_with("file appendonly.aof seq 1 type b\n"));
}

/// Writes of every family, including the ones whose effect is random or
/// relative to the clock: the AOF must record what they did, not what
/// was asked, so a replay (by picket or by redis-server) rebuilds the
/// same dataset.
fn run_every_kind_of_write(url: &str) {
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    let script: &[&[&str]] = &[
        &["SET", "s", "1"],
        &["APPEND", "s", "23"],
        &["SETRANGE", "s", "1", "xy"],
        &["INCRBYFLOAT", "f", "0.1"],
        &["INCRBYFLOAT", "f", "1e2"],
        &["SET", "s2", "v", "EX", "1000", "GET"],
        &["SET", "s2", "w", "KEEPTTL"],
        &["GETEX", "s", "PX", "800000"],
        &["GETDEL", "missing"],
        &["SETEX", "sx", "500", "v"],
        &["MSET", "m1", "1", "m2", "2"],
        &["EXPIRE", "m1", "300"],
        &["EXPIREAT", "m2", "4000000000"],
        &["PERSIST", "m2"],
        &["RPUSH", "l", "a", "b", "c", "d", "e"],
        &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "l", "l2"],
        &["LMPOP", "2", "nolist", "l", "RIGHT", "COUNT", "2"],
        &["LINSERT", "l2", "BEFORE", "a", "z"],
        &["LSET", "l2", "0", "zz"],
        &["LTRIM", "l2", "0", "1"],
        &["SADD", "set", "a", "b", "c", "d", "e", "f"],
        &["SPOP", "set"],
        &["SPOP", "set", "2"],
        &["SMOVE", "set", "set2", "a"],
        &["SINTERSTORE", "set3", "set", "set"],
        &["HSET", "h", "a", "1", "b", "2"],
        &["HINCRBYFLOAT", "h", "a", "2.5"],
        &["HINCRBY", "h", "b", "-7"],
        &["HDEL", "h", "zz"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZINCRBY", "z", "0.5", "a"],
        &["ZPOPMIN", "z"],
        &["ZPOPMAX", "z", "1"],
        &["ZUNIONSTORE", "z2", "2", "z", "z", "WEIGHTS", "1", "2"],
        &["ZRANGESTORE", "z3", "z2", "0", "-1"],
        &["ZREMRANGEBYSCORE", "z2", "-inf", "0"],
        &["COPY", "h", "hcopy"],
        &["RENAME", "hcopy", "hrenamed"],
        &["MOVE", "hrenamed", "4"],
        &["SELECT", "4"],
        &["SET", "in4", "x"],
        &["SWAPDB", "4", "6"],
        &["SELECT", "7"],
        &["SET", "gone", "x"],
        &["FLUSHDB"],
        &["SELECT", "0"],
        &["UNLINK", "m1"],
        &["PEXPIRE", "sx", "100"],
        &["SET", "counter", "10"],
        &["DECRBY", "counter", "3"],
    ];
    for args in script {
        cmd(&mut c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }
    // A blocked pop served by another client's push.
    let url2 = url.to_string();
    let waiter = std::thread::spawn(move || {
        let mut c = redis::Client::open(url2).unwrap().get_connection().unwrap();
        cmd(&mut c, &["BLPOP", "bq", "5"]).unwrap();
        cmd(&mut c, &["BLMOVE", "bq2", "bq3", "LEFT", "LEFT", "5"]).unwrap();
    });
    std::thread::sleep(Duration::from_millis(200));
    q(&mut c, &["RPUSH", "bq", "one", "two"]);
    std::thread::sleep(Duration::from_millis(100));
    q(&mut c, &["RPUSH", "bq2", "x", "y"]);
    waiter.join().unwrap();
    // DUMP/RESTORE with an absolute TTL.
    let dump = redis::cmd("DUMP")
        .arg("l2")
        .query::<Vec<u8>>(&mut c)
        .unwrap();
    redis::cmd("RESTORE")
        .arg("restored")
        .arg(4_000_000_000_000u64)
        .arg(dump)
        .arg("ABSTTL")
        .query::<()>(&mut c)
        .unwrap();
    std::thread::sleep(Duration::from_millis(150));
    // sx expired: a read deletes it (and the DEL is logged).
    q(&mut c, &["GET", "sx"]);
}

#[test]
fn every_kind_of_write_replays_to_the_same_dataset_in_picket_and_redis() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = picket_in(dir.path(), &with_aof(&[]));
    run_every_kind_of_write(&p.url());
    let before = snapshot(&mut p.conn());
    assert!(before.contains_key("0/restored") && before.contains_key("6/in4"));
    kill9(&mut p);
    let p = picket_in(dir.path(), &with_aof(&[]));
    assert_eq!(snapshot(&mut p.conn()), before);
    drop(p);
    let r = Proc::redis(&["--dir", dir_arg(dir.path()), "--appendonly", "yes"]);
    // redis-server keeps APPEND's and SETRANGE's results "raw" however
    // short; picket reports the encoding its contents call for (a known
    // difference, see the README).
    let short_strings_alike = |m: std::collections::BTreeMap<String, String>| {
        m.into_iter()
            .map(|(k, v)| (k, v.replacen("string raw ", "string embstr ", 1)))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(
        short_strings_alike(snapshot(&mut r.conn())),
        short_strings_alike(before)
    );
}

#[test]
fn a_command_form_base_and_timestamp_annotations_load_in_both_servers() {
    let dir = tempfile::tempdir().unwrap();
    let opts = with_aof(&[
        "--aof-use-rdb-preamble",
        "no",
        "--aof-timestamp-enabled",
        "yes",
    ]);
    let p = picket_in(dir.path(), &opts);
    let mut c = p.conn();
    populate(&mut c);
    q(&mut c, &["BGREWRITEAOF"]);
    wait_rewrite_done(&mut c);
    q(&mut c, &["SET", "after", "rewrite"]);
    let before = snapshot(&mut c);
    drop(p);
    let m = manifest(dir.path());
    assert!(
        m.starts_with("file appendonly.aof.2.base.aof seq 2 type b\n"),
        "{m}"
    );
    let base = std::fs::read(aof_dir(dir.path()).join("appendonly.aof.2.base.aof")).unwrap();
    assert!(base.starts_with(b"*2\r\n$6\r\nSELECT\r\n"));
    let incr = std::fs::read_to_string(last_incr(dir.path())).unwrap();
    assert!(incr.starts_with("#TS:"), "{incr}");
    let p = picket_in(dir.path(), &opts);
    assert_eq!(snapshot(&mut p.conn()), before);
    drop(p);
    let r = Proc::redis(&["--dir", dir_arg(dir.path()), "--appendonly", "yes"]);
    assert_eq!(snapshot(&mut r.conn()), before);
}
