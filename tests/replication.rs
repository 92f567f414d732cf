//! Master/replica replication with real processes on loopback: picket
//! with picket, and picket with Debian's redis-server 7.0 in both
//! directions. Every check compares the whole keyspace of master and
//! replica (types, encodings, contents, TTLs, every database) once the
//! replica's offset has reached the master's.

mod common;
use common::data::*;
use common::{cmd, err, Proc};
use std::time::{Duration, Instant};

/// A picket master that syncs replicas at once (no diskless delay).
fn master(extra: &[&str]) -> Proc {
    let mut a = vec!["--repl-diskless-sync-delay", "0", "--save", ""];
    a.extend_from_slice(extra);
    Proc::picket(&a)
}

fn replica_args(m: &Proc, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--replicaof".into(),
        "127.0.0.1".into(),
        m.port.to_string(),
        "--repl-diskless-sync-delay".into(),
        "0".into(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn picket_replica(m: &Proc, extra: &[&str]) -> Proc {
    let a = replica_args(m, extra);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut v = vec!["--save", ""];
    v.extend_from_slice(&a);
    Proc::picket(&v)
}

fn redis_replica(m: &Proc) -> Proc {
    Proc::redis(&["--replicaof", "127.0.0.1", &m.port.to_string()])
}

fn repl_field(c: &mut redis::Connection, name: &str) -> String {
    let info = q(c, &["INFO", "replication"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
        .unwrap_or_default()
}

fn stat_field(c: &mut redis::Connection, name: &str) -> u64 {
    let info = q(c, &["INFO", "stats"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name}"))
}

/// Waits until the replica's link is up and its offset reached the
/// master's; panics after `limit`.
fn wait_synced(m: &Proc, r: &Proc, limit: Duration) {
    wait_synced_with(&mut m.conn(), r, limit)
}

fn wait_synced_with(mc: &mut redis::Connection, r: &Proc, limit: Duration) {
    let mut rc = r.conn();
    let start = Instant::now();
    loop {
        let up = repl_field(&mut rc, "master_link_status") == "up";
        let mo = repl_field(mc, "master_repl_offset");
        let ro = repl_field(&mut rc, "slave_repl_offset");
        if up && mo == ro {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "replica did not catch up (up={up}, master {mo}, replica {ro})\n{}",
            r.log_text()
        );
        std::thread::sleep(Duration::from_millis(30));
    }
}

const SYNC: Duration = Duration::from_secs(20);

/// Writes after the initial sync: a transaction, TTLs, other databases,
/// deletes and a key that expires on the master.
fn live_writes(c: &mut redis::Connection) {
    q(c, &["MULTI"]);
    q(c, &["INCR", "int"]);
    q(c, &["RPUSH", "list", "tail"]);
    q(c, &["EXEC"]);
    q(c, &["SELECT", "9"]);
    q(c, &["HSET", "h9", "f", "v"]);
    q(c, &["SELECT", "0"]);
    q(c, &["SET", "fresh", "v", "EX", "1000"]);
    q(c, &["DEL", "str"]);
    q(c, &["SET", "soon", "gone", "PX", "100"]);
    q(c, &["SPOP", "smallset"]);
    q(c, &["ZINCRBY", "zset", "2", "a"]);
}

#[test]
fn a_picket_replica_copies_everything_and_follows_every_write() {
    let m = master(&[]);
    let mut mc = m.conn();
    populate(&mut mc);
    let r = picket_replica(&m, &[]);
    wait_synced(&m, &r, SYNC);
    let mut rc = r.conn();
    assert_eq!(snapshot(&mut rc), snapshot(&mut mc));
    live_writes(&mut mc);
    wait_synced(&m, &r, SYNC);
    assert_eq!(snapshot(&mut rc), snapshot(&mut mc));
    // The key with 100 ms to live expires on the master, which sends the
    // DEL; the replica hides it as soon as its deadline passes.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(q(&mut rc, &["EXISTS", "soon"]), "0");
    // Writes are refused; reads are served.
    assert_eq!(
        err(&mut rc, &["SET", "x", "1"]),
        "READONLY You can't write against a read only replica."
    );
    assert_eq!(q(&mut rc, &["GET", "int"]), q(&mut mc, &["GET", "int"]));
    // INFO and ROLE as Sentinel and the operator read them.
    assert_eq!(repl_field(&mut rc, "role"), "slave");
    assert_eq!(repl_field(&mut rc, "master_port"), m.port.to_string());
    assert_eq!(repl_field(&mut rc, "slave_read_only"), "1");
    assert_eq!(repl_field(&mut mc, "connected_slaves"), "1");
    let slave0 = repl_field(&mut mc, "slave0");
    assert!(
        slave0.starts_with(&format!(
            "ip=127.0.0.1,port={},state=online,offset=",
            r.port
        )),
        "{slave0}"
    );
    assert_eq!(
        repl_field(&mut mc, "master_replid"),
        repl_field(&mut rc, "master_replid")
    );
    let role = q(&mut rc, &["ROLE"]);
    assert_eq!(
        role,
        format!(
            "[slave,127.0.0.1,{},connected,{}]",
            m.port,
            repl_field(&mut mc, "master_repl_offset")
        )
    );
    assert!(q(&mut mc, &["ROLE"]).starts_with("[master,"));
    assert_eq!(stat_field(&mut mc, "sync_full"), 1);
}

/// Fills the master, starts the replica, compares after the initial sync
/// and after live writes, and checks WAIT sees the replica's ACKs.
fn sync_and_follow(m: &Proc, start_replica: impl FnOnce(&Proc) -> Proc) {
    let mut mc = m.conn();
    populate(&mut mc);
    let r = start_replica(m);
    wait_synced(m, &r, SYNC);
    let mut rc = r.conn();
    assert_eq!(snapshot(&mut rc), snapshot(&mut mc));
    live_writes(&mut mc);
    wait_synced(m, &r, SYNC);
    assert_eq!(snapshot(&mut rc), snapshot(&mut mc));
    assert_eq!(q(&mut mc, &["WAIT", "1", "2000"]), "1");
}

#[test]
fn redis_server_replicates_from_picket_initial_sync_and_stream() {
    sync_and_follow(&master(&[]), redis_replica);
}

#[test]
fn picket_replicates_from_redis_server_initial_sync_and_stream() {
    let m = Proc::redis(&["--repl-diskless-sync-delay", "0"]);
    sync_and_follow(&m, |m| picket_replica(m, &[]));
}

/// A master waiting out its diskless delay sends a newline a second before
/// +FULLRESYNC (Redis's keepalive): the replica skips them and syncs.
#[test]
fn a_picket_replica_syncs_through_the_keepalives_sent_before_fullresync() {
    for m in [
        Proc::picket(&["--repl-diskless-sync-delay", "3", "--save", ""]),
        Proc::redis(&["--repl-diskless-sync-delay", "3"]),
    ] {
        let mut mc = m.conn();
        populate(&mut mc);
        let r = picket_replica(&m, &[]);
        wait_synced(&m, &r, SYNC);
        assert_eq!(snapshot(&mut r.conn()), snapshot(&mut mc));
        assert_eq!(repl_field(&mut r.conn(), "master_link_status"), "up");
    }
}

#[test]
fn disk_based_sync_and_a_chain_of_replicas_carry_the_same_data() {
    let m = master(&["--repl-diskless-sync", "no"]);
    let mut mc = m.conn();
    populate(&mut mc);
    let r1 = picket_replica(&m, &[]);
    wait_synced(&m, &r1, SYNC);
    // A replica of the replica.
    let r2 = picket_replica(&r1, &[]);
    wait_synced(&r1, &r2, SYNC);
    live_writes(&mut mc);
    wait_synced(&m, &r1, SYNC);
    wait_synced(&r1, &r2, SYNC);
    let want = snapshot(&mut mc);
    assert_eq!(snapshot(&mut r1.conn()), want);
    assert_eq!(snapshot(&mut r2.conn()), want);
    assert!(m.log_text().contains("target: disk"), "{}", m.log_text());
}

#[test]
fn a_restarted_replica_continues_with_a_partial_resync() {
    let m = master(&[]);
    let mut mc = m.conn();
    populate(&mut mc);
    let dir = tempfile::tempdir().unwrap();
    let args = replica_args(&m, &["--save", "3600 1"]);
    let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
    a.extend_from_slice(&["--dir", dir_arg(dir.path())]);
    let r = Proc::picket(&a);
    wait_synced(&m, &r, SYNC);
    // SHUTDOWN saves the dataset with its replication position.
    let _ = cmd(&mut r.conn(), &["SHUTDOWN"]);
    drop(r);
    live_writes(&mut mc);
    let r = Proc::picket(&a);
    wait_synced(&m, &r, SYNC);
    assert_eq!(snapshot(&mut r.conn()), snapshot(&mut mc));
    assert_eq!(stat_field(&mut mc, "sync_full"), 1);
    assert_eq!(stat_field(&mut mc, "sync_partial_ok"), 1);
}

#[test]
fn promoting_a_replica_lets_the_others_continue_partially() {
    let mut m = master(&[]);
    let mut mc = m.conn();
    populate(&mut mc);
    let r1 = picket_replica(&m, &[]);
    let r2 = picket_replica(&m, &[]);
    let r3 = redis_replica(&m);
    wait_synced(&m, &r1, SYNC);
    wait_synced(&m, &r2, SYNC);
    wait_synced(&m, &r3, SYNC);
    live_writes(&mut mc);
    wait_synced(&m, &r1, SYNC);
    wait_synced(&m, &r2, SYNC);
    wait_synced(&m, &r3, SYNC);
    let want = snapshot(&mut mc);
    m.signal("KILL");
    m.wait_exit(Duration::from_secs(5));
    // Failover by hand: r1 becomes the master, the others follow it.
    let mut c1 = r1.conn();
    q(&mut c1, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(repl_field(&mut c1, "role"), "master");
    assert_ne!(repl_field(&mut c1, "master_replid2"), "0".repeat(40));
    let p1 = r1.port.to_string();
    q(&mut r2.conn(), &["REPLICAOF", "127.0.0.1", &p1]);
    q(&mut r3.conn(), &["REPLICAOF", "127.0.0.1", &p1]);
    wait_synced(&r1, &r2, SYNC);
    wait_synced(&r1, &r3, SYNC);
    assert_eq!(stat_field(&mut c1, "sync_full"), 0);
    assert_eq!(stat_field(&mut c1, "sync_partial_ok"), 2);
    q(&mut c1, &["SET", "after", "failover"]);
    wait_synced(&r1, &r2, SYNC);
    wait_synced(&r1, &r3, SYNC);
    let mut want2 = want.clone();
    want2.insert("0/after".into(), "string embstr ttl=-1 failover".into());
    assert_eq!(snapshot(&mut c1), want2);
    assert_eq!(snapshot(&mut r2.conn()), want2);
    assert_eq!(snapshot(&mut r3.conn()), want2);
}

#[test]
fn masterauth_wrong_or_missing_keeps_the_link_down_and_says_why() {
    let m = master(&["--requirepass", "s3cret-pw"]);
    let r = picket_replica(&m, &[]);
    let mut rc = r.conn();
    assert!(wait_for(Duration::from_secs(5), || r
        .log_text()
        .contains("masterauth is not set")));
    assert_eq!(repl_field(&mut rc, "master_link_status"), "down");
    q(&mut rc, &["CONFIG", "SET", "masterauth", "wrong-pw"]);
    assert!(wait_for(Duration::from_secs(5), || r
        .log_text()
        .contains("Unable to AUTH to MASTER")));
    assert_eq!(repl_field(&mut rc, "master_link_status"), "down");
    q(&mut rc, &["CONFIG", "SET", "masterauth", "s3cret-pw"]);
    let mut mc = m.conn();
    q(&mut mc, &["AUTH", "s3cret-pw"]);
    wait_synced_with(&mut mc, &r, SYNC);
    let log = r.log_text();
    assert!(
        !log.contains("s3cret-pw") && !log.contains("wrong-pw"),
        "{log}"
    );
}

#[test]
fn wait_counts_acknowledging_replicas_and_min_replicas_guards_writes() {
    let m = master(&[]);
    let mut mc = m.conn();
    let r = picket_replica(&m, &[]);
    wait_synced(&m, &r, SYNC);
    q(&mut mc, &["SET", "k", "v"]);
    assert_eq!(q(&mut mc, &["WAIT", "1", "5000"]), "1");
    let start = Instant::now();
    assert_eq!(q(&mut mc, &["WAIT", "2", "300"]), "1");
    assert!(start.elapsed() >= Duration::from_millis(250));
    q(&mut mc, &["CONFIG", "SET", "min-replicas-to-write", "2"]);
    assert!(wait_for(Duration::from_secs(3), || cmd(
        &mut mc,
        &["SET", "k", "2"]
    )
    .is_err()));
    assert_eq!(
        err(&mut mc, &["SET", "k", "2"]),
        "NOREPLICAS Not enough good replicas to write."
    );
    assert_eq!(repl_field(&mut mc, "min_slaves_good_slaves"), "1");
    q(&mut mc, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    assert!(wait_for(Duration::from_secs(3), || cmd(
        &mut mc,
        &["SET", "k", "3"]
    )
    .is_ok()));
    assert_eq!(
        err(&mut r.conn(), &["WAIT", "1", "0"]),
        "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."
    );
}

#[test]
fn replicaof_at_run_time_is_persisted_by_config_rewrite() {
    let m = master(&[]);
    let r = Proc::picket_with_conf("port 0\n", &["--save", ""]);
    let mut rc = r.conn();
    q(&mut rc, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]);
    wait_synced(&m, &r, SYNC);
    assert_eq!(
        q(&mut rc, &["REPLICAOF", "127.0.0.1", &m.port.to_string()]),
        "OK Already connected to specified master"
    );
    q(&mut rc, &["CONFIG", "REWRITE"]);
    let conf = std::fs::read_to_string(r.path().join("picket.conf")).unwrap();
    assert!(
        conf.contains(&format!("replicaof 127.0.0.1 {}", m.port)),
        "{conf}"
    );
    q(&mut rc, &["REPLICAOF", "NO", "ONE"]);
    q(&mut rc, &["SET", "writable", "again"]);
}

/// Every (db 0) key and value, for string-only datasets too large for
/// `snapshot`: KEYS, then MGET in batches.
fn digest(c: &mut redis::Connection) -> Vec<(String, String)> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
    keys.sort();
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(1000) {
        let vals: Vec<Option<String>> = redis::cmd("MGET").arg(chunk).query(c).unwrap();
        out.extend(
            chunk
                .iter()
                .cloned()
                .zip(vals.into_iter().map(|v| v.unwrap_or_default())),
        );
    }
    out
}

/// Loads `n` keys through one pipeline.
fn load_keys(c: &mut redis::Connection, n: usize, value_len: usize) {
    let v = "v".repeat(value_len);
    for start in (0..n).step_by(10_000) {
        let mut p = redis::pipe();
        for i in start..(start + 10_000).min(n) {
            p.cmd("SET").arg(format!("key:{i:08}")).arg(&v).ignore();
        }
        p.query::<()>(c).unwrap();
    }
}

/// Writes in a thread until told to stop (bounded: 60 s, 1,000,000 writes).
fn writer(
    url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let start = Instant::now();
        let mut n = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed)
            && start.elapsed() < Duration::from_secs(60)
            && n < 1_000_000
        {
            let mut p = redis::pipe();
            for i in 0..50 {
                p.cmd("SET")
                    .arg(format!("w:{}", (n + i) % 5000))
                    .arg(n + i)
                    .ignore();
                p.cmd("INCR").arg("counter").ignore();
            }
            if p.query::<()>(&mut c).is_err() {
                break;
            }
            n += 50;
        }
        n
    })
}

#[test]
fn a_million_keys_sync_in_full() {
    let m = master(&[]);
    let mut mc = m.conn();
    load_keys(&mut mc, 1_000_000, 16);
    let r = picket_replica(&m, &[]);
    wait_synced(&m, &r, Duration::from_secs(60));
    let mut rc = r.conn();
    assert_eq!(q(&mut rc, &["DBSIZE"]), "1000000");
    assert_eq!(digest(&mut rc), digest(&mut mc));
}

#[test]
fn the_replica_ends_identical_after_kills_cuts_and_an_overrun_backlog() {
    let m = master(&["--repl-backlog-size", "16kb"]);
    let mut mc = m.conn();
    load_keys(&mut mc, 50_000, 32);
    let mut r = picket_replica(&m, &[]);
    wait_synced(&m, &r, SYNC);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = writer(m.url(), stop.clone());

    // 1. The link cut mid-stream, from the master's side.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"]), "1");
    // 2. The replica killed and restarted (same port) under write load.
    std::thread::sleep(Duration::from_millis(500));
    let port = r.port;
    r.signal("KILL");
    r.wait_exit(Duration::from_secs(5));
    drop(r);
    let args = replica_args(&m, &["--save", ""]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = Proc::picket_on(port, &a);
    std::thread::sleep(Duration::from_millis(500));
    // 3. The replica stalls while the master writes far more than its
    // backlog holds, then the link is cut: it must resync in full.
    let full_before = stat_field(&mut mc, "sync_full");
    r.signal("STOP");
    std::thread::sleep(Duration::from_millis(500));
    q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"]);
    r.signal("CONT");
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = w.join().unwrap();
    assert!(written > 1000, "the writer wrote {written}");
    wait_synced(&m, &r, Duration::from_secs(30));
    assert!(stat_field(&mut mc, "sync_full") > full_before);
    let mut rc = r.conn();
    assert_eq!(q(&mut rc, &["DBSIZE"]), q(&mut mc, &["DBSIZE"]));
    assert_eq!(digest(&mut rc), digest(&mut mc));
}

#[test]
fn the_master_killed_mid_transfer_restarts_and_the_replica_ends_identical() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir_arg(dir.path()).to_string();
    let mut m = master(&["--dir", &d]);
    let mut mc = m.conn();
    load_keys(&mut mc, 100_000, 16);
    q(&mut mc, &["SAVE"]);
    // 20 µs per key: the 100,000-key transfer takes about two seconds.
    q(&mut mc, &["CONFIG", "SET", "rdb-key-save-delay", "20"]);
    let port = m.port;
    let r = picket_replica(&m, &[]);
    let mut rc = r.conn();
    assert!(wait_for(Duration::from_secs(10), || repl_field(
        &mut rc,
        "master_sync_in_progress"
    ) == "1"));
    m.signal("KILL");
    m.wait_exit(Duration::from_secs(5));
    assert_eq!(repl_field(&mut rc, "master_link_status"), "down");
    drop(m);
    // The save child, if still writing, ends on the broken pipe.
    let m = Proc::picket_on(
        port,
        &["--repl-diskless-sync-delay", "0", "--save", "", "--dir", &d],
    );
    let mut mc = m.conn();
    q(&mut mc, &["SET", "after", "restart"]);
    wait_synced(&m, &r, Duration::from_secs(60));
    assert_eq!(q(&mut rc, &["DBSIZE"]), "100001");
    assert_eq!(digest(&mut rc), digest(&mut mc));
}

#[test]
fn announced_address_stale_data_and_the_old_sync_command() {
    let m = master(&[]);
    let mut mc = m.conn();
    q(&mut mc, &["SET", "k", "v"]);
    // A replica behind pod networking announces where it is reachable.
    let r = picket_replica(
        &m,
        &[
            "--replica-announce-ip",
            "127.0.0.5",
            "--replica-announce-port",
            "16380",
            "--replica-serve-stale-data",
            "no",
        ],
    );
    wait_synced(&m, &r, SYNC);
    assert!(repl_field(&mut mc, "slave0").starts_with("ip=127.0.0.5,port=16380,"));
    // The link goes down: the replica is pointed at a port where nobody
    // listens.
    let mut rc = r.conn();
    let dead = common::free_port().to_string();
    q(&mut rc, &["REPLICAOF", "127.0.0.1", &dead]);
    assert_eq!(
        err(&mut rc, &["GET", "k"]),
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
    );
    assert_eq!(repl_field(&mut rc, "master_link_status"), "down");
    // SYNC, the pre-PSYNC protocol: the snapshot comes as $<len> + RDB.
    let mut raw = m.raw();
    raw.send(b"SYNC\r\n");
    let mut got = Vec::new();
    let start = Instant::now();
    while !String::from_utf8_lossy(&got).contains("REDIS0010")
        && start.elapsed() < Duration::from_secs(5)
    {
        got.extend(raw.read_some());
    }
    let text = String::from_utf8_lossy(&got);
    let start = text.find('$').expect("a bulk header");
    assert!(text[start..].contains("\r\nREDIS0010"), "{text:?}");
}

/// A password rotation under a running replica: the master accepts both
/// passwords (ACL SETUSER default >new), the replica's masterauth switches
/// live, the old password is removed; the link, torn down, comes back
/// with the new one, and every write reaches the replica.
#[test]
fn a_replica_follows_through_a_password_rotation() {
    let m = master(&["--requirepass", "old-pw"]);
    let r = picket_replica(&m, &["--masterauth", "old-pw", "--requirepass", "old-pw"]);
    let conn = |p: &Proc, pw: &str| {
        redis::Client::open(format!("redis://:{pw}@127.0.0.1:{}/", p.port))
            .unwrap()
            .get_connection()
            .unwrap()
    };
    let synced = |mc: &mut redis::Connection, rc: &mut redis::Connection| {
        let start = Instant::now();
        while start.elapsed() < SYNC {
            if repl_field(rc, "master_link_status") == "up"
                && repl_field(mc, "master_repl_offset") == repl_field(rc, "slave_repl_offset")
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        false
    };
    let (mut mc, mut rc) = (conn(&m, "old-pw"), conn(&r, "old-pw"));
    assert!(synced(&mut mc, &mut rc), "{}", r.log_text());
    q(&mut mc, &["ACL", "SETUSER", "default", ">new-pw"]);
    q(&mut rc, &["ACL", "SETUSER", "default", ">new-pw"]);
    q(&mut rc, &["CONFIG", "SET", "masterauth", "new-pw"]);
    q(&mut mc, &["ACL", "SETUSER", "default", "<old-pw"]);
    q(&mut rc, &["ACL", "SETUSER", "default", "<old-pw"]);
    q(&mut mc, &["SET", "during", "1"]);
    // The link torn down (as a network blip would): the replica comes
    // back with masterauth new-pw.
    q(&mut mc, &["CLIENT", "KILL", "TYPE", "replica"]);
    q(&mut mc, &["SET", "after", "2"]);
    let (mut mc, mut rc) = (conn(&m, "new-pw"), conn(&r, "new-pw"));
    assert!(synced(&mut mc, &mut rc), "{}", r.log_text());
    let got: (String, String) = redis::cmd("MGET")
        .arg("during")
        .arg("after")
        .query(&mut rc)
        .unwrap();
    assert_eq!(got, ("1".into(), "2".into()));
    assert!(
        redis::Client::open(format!("redis://:old-pw@127.0.0.1:{}/", m.port))
            .unwrap()
            .get_connection()
            .is_err()
    );
}

/// A replica's announced address ends up in INFO's `slaveN:` lines, which
/// Sentinel and the operator parse: one with a CR LF in it is refused, so
/// it cannot add an INFO field of its choosing, and one longer than
/// Redis's NET_HOST_STR_LEN gets Redis's error.
#[test]
fn a_replica_cannot_inject_info_fields_through_replconf_ip_address() {
    let master = Proc::picket(&[]);
    let mut fake = master.raw();
    let forged = "10.0.0.7,port=1,state=online,offset=0,lag=0\r\nmaster_repl_offset:999999";
    fake.send(&common::resp(&["REPLCONF", "ip-address", forged]));
    let reply = fake.reply();
    assert_eq!(
        reply.text(),
        "ERR REPLCONF ip-address provided by replica instance is not a host name or an IP address"
    );
    let long = "a".repeat(300);
    fake.send(&common::resp(&["REPLCONF", "ip-address", &long]));
    assert_eq!(
        fake.reply().text(),
        "ERR REPLCONF ip-address provided by replica instance is too long: 300 bytes"
    );
    // A good one is taken and shown.
    fake.send(&common::resp(&[
        "REPLCONF",
        "ip-address",
        "10.0.0.8",
        "listening-port",
        "7000",
    ]));
    assert_eq!(fake.reply().text(), "OK");
    fake.send(&common::resp(&["PSYNC", "?", "-1"]));
    let mut c = master.conn();
    let info = |c: &mut redis::Connection| -> String {
        redis::cmd("INFO").arg("replication").query(c).unwrap()
    };
    assert!(
        common::data::wait_for(Duration::from_secs(5), || info(&mut c)
            .contains("slave0:ip=10.0.0.8,port=7000,")),
        "{}",
        info(&mut c)
    );
    let text = info(&mut c);
    assert_eq!(text.matches("master_repl_offset:").count(), 1, "{text}");
}

/// A replica does not trust its master's declared snapshot size for
/// allocation: a fake master that announces a terabyte (`$1000000000000`)
/// and sends a few bytes leaves the replica running, serving reads and
/// reporting the transfer in INFO.
#[test]
fn a_replica_survives_a_master_declaring_a_terabyte_snapshot() {
    use picket::resp::client::{Reply, ReplyDecoder, ReplyLimits};
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut dec = ReplyDecoder::new(ReplyLimits::default());
        let mut buf = [0u8; 4096];
        loop {
            let req = loop {
                if let Some(r) = dec.next_reply().unwrap() {
                    break r;
                }
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "the replica hung up during the handshake");
                dec.extend(&buf[..n]);
            };
            let Reply::Array(Some(argv)) = req else {
                panic!("{req:?}")
            };
            match argv[0].text().to_ascii_uppercase().as_str() {
                "PING" => s.write_all(b"+PONG\r\n").unwrap(),
                "PSYNC" => {
                    let id = "a".repeat(40);
                    let head = format!("+FULLRESYNC {id} 0\r\n$1000000000000\r\nREDIS0009");
                    s.write_all(head.as_bytes()).unwrap();
                    // Keep the link open while the test looks.
                    std::thread::sleep(Duration::from_secs(3));
                    return;
                }
                _ => s.write_all(b"+OK\r\n").unwrap(),
            }
        }
    });
    let replica = Proc::picket(&["--replicaof", "127.0.0.1", &port.to_string()]);
    let mut c = replica.conn();
    let info = |c: &mut redis::Connection| -> String {
        redis::cmd("INFO").arg("replication").query(c).unwrap()
    };
    assert!(
        wait_for(Duration::from_secs(5), || info(&mut c)
            .contains("master_sync_total_bytes:1000000000000")),
        "{}",
        info(&mut c)
    );
    assert_eq!(q(&mut c, &["PING"]), "PONG");
    let text = info(&mut c);
    assert!(text.contains("master_sync_in_progress:1"), "{text}");
    // Nothing was reserved for the terabyte.
    let mem: String = redis::cmd("INFO").arg("memory").query(&mut c).unwrap();
    let used: u64 = mem
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(used < 1 << 30, "used_memory {used}");
    fake.join().unwrap();
}
