//! RDB snapshot files with real processes: SAVE/BGSAVE/SHUTDOWN/SIGTERM
//! write `dump.rdb`, a restart loads it, and files travel both ways
//! between picket and Debian's redis-server 7.0, compared key by key
//! (contents, TTLs and encodings).

mod common;
use common::data::*;
use common::{cmd, err, Proc};
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn every_type_survives_save_and_a_restart_with_its_ttls() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &[]);
    let mut c = p.conn();
    populate(&mut c);
    let before = snapshot(&mut c);
    assert_eq!(q(&mut c, &["SAVE"]), "OK");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    drop(p); // SIGKILL: only the SAVE persisted anything
    let p = picket_in(dir.path(), &[]);
    let mut c = p.conn();
    assert_eq!(snapshot(&mut c), before);
    assert!(p.log_text().contains("keys loaded: 16"), "{}", p.log_text());
    assert_eq!(info_field(&mut c, "rdb_last_load_keys_loaded"), "16");
}

#[test]
fn bgsave_forks_while_the_server_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &["--save", ""]);
    let mut c = p.conn();
    let mut pipe = redis::pipe();
    for i in 0..200 {
        let mut a: Vec<String> = vec![];
        for j in 0..500 {
            a.push(format!("key:{i}:{j}"));
            a.push(format!("value-{j}"));
        }
        pipe.cmd("MSET").arg(a).ignore();
    }
    let () = pipe.query(&mut c).unwrap();
    assert_eq!(q(&mut c, &["BGSAVE"]), "Background saving started");
    // The parent keeps serving while the child writes.
    let mut w = p.conn();
    for i in 0..50 {
        assert_eq!(q(&mut w, &["SET", &format!("during:{i}"), "x"]), "OK");
    }
    if info_field(&mut c, "rdb_bgsave_in_progress") == "1" {
        assert_eq!(
            err(&mut c, &["BGSAVE"]),
            "ERR Background save already in progress"
        );
        assert_eq!(
            err(&mut c, &["BGSAVE", "SCHEDULE"]),
            "ERR Background save already in progress"
        );
        assert_eq!(
            err(&mut c, &["SAVE"]),
            "ERR Background save already in progress"
        );
    }
    assert!(wait_for(Duration::from_secs(20), || info_field(
        &mut c,
        "rdb_bgsave_in_progress"
    ) == "0"));
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    assert_ne!(info_field(&mut c, "rdb_last_bgsave_time_sec"), "-1");
    // Only the writes after the fork are still unsaved.
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "50");
    assert_eq!(err(&mut c, &["BGSAVE", "NOW"]), "ERR syntax error");
    drop(p);
    let p = picket_in(dir.path(), &["--save", ""]);
    let mut c = p.conn();
    let n: i64 = q(&mut c, &["DBSIZE"]).parse().unwrap();
    assert!((100_000..=100_050).contains(&n), "{n}");
    assert_eq!(q(&mut c, &["GET", "key:199:499"]), "value-499");
}

#[test]
fn a_slow_bgsave_refuses_a_second_save_and_dies_with_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = picket_in(dir.path(), &["--save", "", "--rdb-key-save-delay", "2000"]);
    let mut c = p.conn();
    for i in 0..1000 {
        q(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(q(&mut c, &["BGSAVE"]), "Background saving started");
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
    assert_eq!(
        err(&mut c, &["BGSAVE"]),
        "ERR Background save already in progress"
    );
    assert_eq!(
        err(&mut c, &["BGSAVE", "SCHEDULE"]),
        "ERR Background save already in progress"
    );
    assert_eq!(
        err(&mut c, &["SAVE"]),
        "ERR Background save already in progress"
    );
    // The parent answers while the child writes.
    let start = Instant::now();
    for i in 0..100 {
        assert_eq!(q(&mut c, &["INCR", "counter"]), (i + 1).to_string());
    }
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(info_field(&mut c, "rdb_bgsave_in_progress"), "1");
    let temp = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                let n = e.as_ref().unwrap().file_name();
                n.to_string_lossy().starts_with("temp-")
            })
            .count()
    };
    assert_eq!(temp(), 1);
    let _ = cmd(&mut c, &["SHUTDOWN", "NOSAVE"]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(temp(), 0);
    assert!(!dir.path().join("dump.rdb").exists());
    assert!(p.log_text().contains("Killing it"));
}

#[test]
fn a_save_rule_starts_a_background_save_from_the_cron() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &["--save", "1", "2"]);
    let mut c = p.conn();
    q(&mut c, &["SET", "a", "1"]);
    std::thread::sleep(Duration::from_millis(2200));
    // One change is not enough for "save 1 2".
    assert!(!dir.path().join("dump.rdb").exists());
    q(&mut c, &["SET", "b", "2"]);
    assert!(wait_for(Duration::from_secs(5), || {
        info_field(&mut c, "rdb_changes_since_last_save") == "0"
    }));
    assert!(dir.path().join("dump.rdb").exists());
    assert!(p.log_text().contains("2 changes in 1 seconds. Saving..."));
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
}

#[test]
fn lfu_counters_survive_a_restart_as_freq_records() {
    let dir = tempfile::tempdir().unwrap();
    let lfu = ["--save", "", "--maxmemory-policy", "allkeys-lfu"];
    let p = picket_in(dir.path(), &lfu);
    let mut c = p.conn();
    q(&mut c, &["SET", "hot", "v"]);
    q(&mut c, &["SET", "cold", "v"]);
    for _ in 0..300 {
        q(&mut c, &["GET", "hot"]);
    }
    let hot = q(&mut c, &["OBJECT", "FREQ", "hot"]);
    assert!(hot.parse::<u32>().unwrap() > 5, "{hot}");
    q(&mut c, &["SAVE"]);
    drop(p);
    let p = picket_in(dir.path(), &lfu);
    let mut c = p.conn();
    assert_eq!(q(&mut c, &["OBJECT", "FREQ", "hot"]), hot);
    assert_eq!(q(&mut c, &["OBJECT", "FREQ", "cold"]), "5");
    drop(p);
    // redis-server reads the same counters.
    let mut args = vec!["--dir", dir_arg(dir.path()), "--dbfilename", "dump.rdb"];
    args.extend_from_slice(&lfu[2..]);
    let r = Proc::redis(&args);
    assert_eq!(q(&mut r.conn(), &["OBJECT", "FREQ", "hot"]), hot);
}

#[test]
fn bgsave_inside_exec_is_scheduled_for_the_cron() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &["--save", ""]);
    let mut c = p.conn();
    q(&mut c, &["SET", "k", "v"]);
    q(&mut c, &["MULTI"]);
    q(&mut c, &["BGSAVE"]);
    assert_eq!(q(&mut c, &["EXEC"]), "[Background saving scheduled]");
    let file = dir.path().join("dump.rdb");
    assert!(wait_for(Duration::from_secs(10), || file.exists()));
}

#[test]
fn lastsave_moves_forward_on_save() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &["--save", ""]);
    let mut c = p.conn();
    let t0: i64 = q(&mut c, &["LASTSAVE"]).parse().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    q(&mut c, &["SAVE"]);
    let t1: i64 = q(&mut c, &["LASTSAVE"]).parse().unwrap();
    assert!(t1 > t0, "{t0} {t1}");
    assert_eq!(info_field(&mut c, "rdb_last_save_time"), t1.to_string());
}

#[test]
fn shutdown_saves_with_save_rules_and_not_with_nosave() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.rdb");
    let mut p = picket_in(dir.path(), &["--save", "3600", "1"]);
    let mut c = p.conn();
    q(&mut c, &["SET", "k", "v1"]);
    let _ = cmd(&mut c, &["SHUTDOWN"]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(file.exists());

    let mut p = picket_in(dir.path(), &["--save", "3600", "1"]);
    let mut c = p.conn();
    assert_eq!(q(&mut c, &["GET", "k"]), "v1");
    q(&mut c, &["SET", "k", "v2"]);
    let _ = cmd(&mut c, &["SHUTDOWN", "NOSAVE"]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0));

    // No save rules: no save, unless SHUTDOWN SAVE.
    let mut p = picket_in(dir.path(), &["--save", ""]);
    let mut c = p.conn();
    assert_eq!(q(&mut c, &["GET", "k"]), "v1");
    q(&mut c, &["SET", "k", "v3"]);
    let _ = cmd(&mut c, &["SHUTDOWN"]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0));
    let mut p = picket_in(dir.path(), &["--save", ""]);
    let mut c = p.conn();
    assert_eq!(q(&mut c, &["GET", "k"]), "v1");
    q(&mut c, &["SET", "k", "v4"]);
    let _ = cmd(&mut c, &["SHUTDOWN", "SAVE"]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0));
    let p = picket_in(dir.path(), &["--save", ""]);
    assert_eq!(q(&mut p.conn(), &["GET", "k"]), "v4");
}

#[test]
fn flushall_with_save_rules_saves_the_empty_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &["--save", "3600", "1"]);
    let mut c = p.conn();
    q(&mut c, &["SET", "k", "v"]);
    q(&mut c, &["SAVE"]);
    q(&mut c, &["SET", "k2", "v"]);
    q(&mut c, &["FLUSHALL"]);
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut c, "rdb_saves"), "1");
    drop(p);
    let p = picket_in(dir.path(), &["--save", ""]);
    assert_eq!(q(&mut p.conn(), &["DBSIZE"]), "0");
}

#[test]
fn sigterm_saves_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = picket_in(dir.path(), &["--save", "3600", "1"]);
    let mut c = p.conn();
    q(&mut c, &["RPUSH", "l", "a", "b"]);
    p.signal("TERM");
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0));
    let p = picket_in(dir.path(), &[]);
    assert_eq!(q(&mut p.conn(), &["LRANGE", "l", "0", "-1"]), "[a,b]");
}

#[test]
fn a_failed_bgsave_stops_writes_and_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    std::fs::create_dir(&gone).unwrap();
    let args = ["--save", "3600", "1", "--enable-protected-configs", "yes"];
    let mut p = picket_in(dir.path(), &args);
    let mut c = p.conn();
    q(&mut c, &["SET", "k", "v"]);
    q(&mut c, &["CONFIG", "SET", "dir", dir_arg(&gone)]);
    std::fs::remove_dir(&gone).unwrap();
    assert_eq!(q(&mut c, &["BGSAVE"]), "Background saving started");
    assert!(wait_for(Duration::from_secs(10), || info_field(
        &mut c,
        "rdb_last_bgsave_status"
    ) == "err"));
    let misconf = err(&mut c, &["SET", "k", "w"]);
    assert!(misconf.starts_with("MISCONF Redis is configured to save RDB snapshots"));
    assert!(err(&mut c, &["PING"]).starts_with("MISCONF"));
    assert_eq!(q(&mut c, &["GET", "k"]), "v");
    assert_eq!(err(&mut c, &["SAVE"]), "ERR");
    assert_eq!(
        err(&mut c, &["SHUTDOWN"]),
        "ERR Errors trying to SHUTDOWN. Check logs."
    );
    assert!(p.alive());
    q(
        &mut c,
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
    );
    assert_eq!(q(&mut c, &["SET", "k", "w"]), "OK");
    let _ = cmd(&mut c, &["SHUTDOWN", "NOSAVE"]);
    assert_eq!(p.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn picket_files_load_in_redis_server_with_the_same_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &["--save", ""]);
    let mut c = p.conn();
    populate(&mut c);
    let mine = snapshot(&mut c);
    q(&mut c, &["SAVE"]);
    drop(p);
    let r = Proc::redis(&["--dir", dir_arg(dir.path()), "--dbfilename", "dump.rdb"]);
    let mut rc = r.conn();
    assert_eq!(snapshot(&mut rc), mine, "{}", r.log_text());
}

#[test]
fn redis_server_files_load_in_picket_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let r = Proc::redis(&["--dir", dir_arg(dir.path()), "--dbfilename", "dump.rdb"]);
    let mut rc = r.conn();
    populate(&mut rc);
    let theirs = snapshot(&mut rc);
    q(&mut rc, &["SAVE"]);
    drop(r);
    let p = picket_in(dir.path(), &["--save", ""]);
    assert_eq!(snapshot(&mut p.conn()), theirs, "{}", p.log_text());
}

/// The bytes after the aux fields, without the CRC.
fn body(file: &[u8]) -> &[u8] {
    let marker = b"aof-base\xc0\x00";
    let at = file
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("aof-base aux field");
    &file[at + marker.len()..file.len() - 8]
}

#[test]
fn the_file_body_is_byte_identical_to_redis_server_for_the_same_data() {
    // One key per database, so hash-table order plays no part.
    let fill = |c: &mut redis::Connection| {
        q(c, &["HSET", "h", "f", "v", "n", "12"]);
        q(c, &["SELECT", "1"]);
        q(c, &["RPUSH", "l", "a", "bb", "300"]);
        q(c, &["PEXPIREAT", "l", "4000000000000"]);
        q(c, &["SELECT", "2"]);
        q(c, &["ZADD", "z", "1.5", "m", "2", "n"]);
        q(c, &["SELECT", "3"]);
        q(c, &["SET", "s", &"abc".repeat(40)]);
        q(c, &["SELECT", "4"]);
        q(c, &["SADD", "i", "1", "2", "3"]);
        q(c, &["SAVE"]);
    };
    let pdir = tempfile::tempdir().unwrap();
    let p = picket_in(pdir.path(), &["--save", ""]);
    fill(&mut p.conn());
    let rdir = tempfile::tempdir().unwrap();
    let r = Proc::redis(&["--dir", dir_arg(rdir.path()), "--dbfilename", "dump.rdb"]);
    fill(&mut r.conn());
    let mine = std::fs::read(pdir.path().join("dump.rdb")).unwrap();
    let theirs = std::fs::read(rdir.path().join("dump.rdb")).unwrap();
    assert_eq!(&mine[..9], &theirs[..9]);
    assert_eq!(body(&mine), body(&theirs));
}

#[test]
fn a_corrupt_or_truncated_file_stops_start_up_with_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = picket_in(dir.path(), &["--save", ""]);
    let mut c = p.conn();
    populate(&mut c);
    q(&mut c, &["SAVE"]);
    drop(p);
    let file = dir.path().join("dump.rdb");
    let good = std::fs::read(&file).unwrap();

    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let (code, text) = failed_start(dir.path(), &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("dump.rdb") && text.contains("offset"),
        "{text}"
    );

    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 3] ^= 0xff; // in the checksum
    std::fs::write(&file, &bad).unwrap();
    let (code, text) = failed_start(dir.path(), &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("checksum"), "{text}");

    std::fs::write(&file, b"REDIS0011\xff").unwrap();
    let (code, text) = failed_start(dir.path(), &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("version 11"), "{text}");
}

#[test]
fn a_restarted_server_binds_its_port_while_the_old_save_child_still_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = picket_in(dir.path(), &["--save", "", "--rdb-key-save-delay", "2000"]);
    let mut c = p.conn();
    for i in 0..1000 {
        q(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    // 1000 keys at 2 ms each: the child writes for about two seconds.
    assert_eq!(q(&mut c, &["BGSAVE"]), "Background saving started");
    let mut child = None;
    assert!(wait_for(Duration::from_secs(5), || {
        child = p
            .log_text()
            .split("Background saving started by pid ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u32>().ok());
        child.is_some()
    }));
    let child = child.unwrap();
    // The parent dies (as a crashed or OOM-killed server would); its save
    // child lives on.
    p.signal("KILL");
    assert!(p.wait_exit(Duration::from_secs(5)).is_some());
    assert!(
        Path::new(&format!("/proc/{child}")).exists(),
        "the save child should still run"
    );
    // A new server on the same port starts at once: the child closed the
    // listening socket it inherited.
    let dir2 = tempfile::tempdir().unwrap();
    let mut next = std::process::Command::new(common::picket_bin())
        .args([
            "--port",
            &p.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            dir_arg(dir2.path()),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Only a live server answers PONG (the child's socket, if it were
    // still open, would accept connections but never answer).
    let served = wait_for(Duration::from_secs(5), || {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", p.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let mut buf = [0u8; 7];
        std::io::Write::write_all(&mut s, b"PING\r\n").is_ok()
            && std::io::Read::read_exact(&mut s, &mut buf).is_ok()
            && &buf == b"+PONG\r\n"
    });
    let still_running = matches!(next.try_wait(), Ok(None));
    let _ = next.kill();
    let out = next.wait_with_output().unwrap();
    // The orphaned child is ours too: end it by its pid.
    let _ = std::process::Command::new("kill")
        .args(["-9", &child.to_string()])
        .status();
    assert!(
        served && still_running,
        "restart failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
