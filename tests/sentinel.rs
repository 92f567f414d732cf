//! Sentinel mode with real processes on loopback: one master, two
//! replicas and three sentinels (quorum 2), picket's and Debian's
//! redis-server 7.0 (in `--sentinel` mode) in every mix. Every wait is
//! bounded.

mod common;
use common::data::*;
use common::{free_port, Proc};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A sentinel process on a fixed port with its config file kept across
/// restarts.
struct Sentinel {
    child: Child,
    port: u16,
    conf: PathBuf,
    log: PathBuf,
    redis: bool,
    /// The sentinel's own requirepass, from its config.
    pass: Option<String>,
}

impl Sentinel {
    fn start(dir: &Path, port: u16, body: &str, redis: bool) -> Sentinel {
        let conf = dir.join(format!("sentinel-{port}.conf"));
        if !conf.exists() {
            std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\n{body}")).unwrap();
        }
        Self::spawn(conf, port, redis)
    }

    fn spawn(conf: PathBuf, port: u16, redis: bool) -> Sentinel {
        let log = conf.with_extension("log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let bin = if redis {
            "redis-server"
        } else {
            common::picket_bin()
        };
        let child = Command::new(bin)
            .arg(&conf)
            .arg("--sentinel")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pass = std::fs::read_to_string(&conf)
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix("requirepass ")
                    .map(|p| p.trim().trim_matches('"').to_string())
            });
        let s = Sentinel {
            child,
            port,
            conf,
            log,
            redis,
            pass,
        };
        assert!(
            wait_for(Duration::from_secs(10), || std::net::TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "sentinel on {port} did not start: {}",
            s.log_text()
        );
        s
    }

    fn restart(self) -> Sentinel {
        let (conf, port, redis) = (self.conf.clone(), self.port, self.redis);
        drop(self);
        Self::spawn(conf, port, redis)
    }

    fn conn(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap();
        let mut c = c
            .get_connection_with_timeout(Duration::from_secs(5))
            .unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        if let Some(p) = &self.pass {
            q(&mut c, &["AUTH", p]);
        }
        c
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The master's port as this sentinel reports it.
    fn master_port(&self) -> Option<u16> {
        let mut c = self.conn();
        let v: Option<Vec<String>> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg("mymaster")
            .query(&mut c)
            .ok()?;
        v?.get(1)?.parse().ok()
    }

    /// A field of SENTINEL MASTER mymaster.
    fn master_field(&self, name: &str) -> String {
        let mut c = self.conn();
        let v: Vec<String> = redis::cmd("SENTINEL")
            .arg("master")
            .arg("mymaster")
            .query(&mut c)
            .unwrap();
        v.chunks(2)
            .find(|kv| kv[0] == name)
            .map(|kv| kv[1].clone())
            .unwrap_or_default()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Master, replicas and sentinels of one test.
struct Setup {
    /// Holds the sentinels' config files.
    _dir: tempfile::TempDir,
    master: Proc,
    replicas: Vec<Proc>,
    sentinels: Vec<Sentinel>,
}

fn server(redis: bool, args: &[&str]) -> Proc {
    let mut a = vec!["--repl-diskless-sync-delay", "0"];
    a.extend_from_slice(args);
    if redis {
        Proc::redis(&a)
    } else {
        a.extend_from_slice(&["--save", ""]);
        Proc::picket(&a)
    }
}

/// `kinds`: for each of the three sentinels, whether it is redis-server.
fn setup(
    redis_servers: bool,
    kinds: [bool; 3],
    server_args: &[&str],
    sentinel_extra: &str,
) -> Setup {
    setup_on(
        "127.0.0.1",
        "",
        redis_servers,
        kinds,
        server_args,
        sentinel_extra,
    )
}

/// As `setup`, the servers named `host` (replicas follow the master by
/// that name) and `prelude` before the sentinels' `monitor` line.
fn setup_on(
    host: &str,
    prelude: &str,
    redis_servers: bool,
    kinds: [bool; 3],
    server_args: &[&str],
    sentinel_extra: &str,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let master = server(redis_servers, server_args);
    let mp = master.port.to_string();
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let mut a = vec!["--replicaof", host, &mp];
        a.extend_from_slice(server_args);
        replicas.push(server(redis_servers, &a));
    }
    let body = format!(
        "{prelude}sentinel monitor mymaster {host} {mp} 2\nsentinel down-after-milliseconds mymaster 2000\nsentinel failover-timeout mymaster 10000\nsentinel parallel-syncs mymaster 2\n{sentinel_extra}"
    );
    let sentinels = kinds
        .iter()
        .map(|&redis| Sentinel::start(dir.path(), free_port(), &body, redis))
        .collect();
    let s = Setup {
        _dir: dir,
        master,
        replicas,
        sentinels,
    };
    s.wait_discovery();
    s
}

impl Setup {
    /// Until every sentinel knows both replicas and both other sentinels.
    fn wait_discovery(&self) {
        for s in &self.sentinels {
            assert!(
                wait_for(Duration::from_secs(30), || s.master_field("num-slaves")
                    == "2"
                    && s.master_field("num-other-sentinels") == "2"),
                "sentinel {} did not discover the set-up: {}",
                s.port,
                s.log_text()
            );
        }
    }

    /// Until every live sentinel reports the same master, other than `old`.
    fn wait_new_master(&self, old: u16, limit: Duration) -> u16 {
        let mut got = None;
        let ok = wait_for(limit, || {
            let ports: Vec<Option<u16>> = self.sentinels.iter().map(|s| s.master_port()).collect();
            match ports.first().copied().flatten() {
                Some(p) if p != old && ports.iter().all(|x| *x == Some(p)) => {
                    got = Some(p);
                    true
                }
                _ => false,
            }
        });
        let logs: Vec<String> = self.sentinels.iter().map(|s| s.log_text()).collect();
        assert!(
            ok,
            "no agreement on a new master:\n{}",
            logs.join("\n-----\n")
        );
        got.unwrap()
    }

    fn promotions(&self) -> usize {
        self.sentinels
            .iter()
            .map(|s| s.log_text().matches("+promoted-slave").count())
            .sum()
    }

    /// Kills the master with SIGKILL, waits until the sentinels agree on a
    /// new one and it reports role:master; returns its port.
    fn kill_master_and_wait_promotion(&mut self, auth: Option<&str>) -> u16 {
        let old = self.master.port;
        self.master.signal("KILL");
        self.master.wait_exit(Duration::from_secs(5));
        let new = self.wait_new_master(old, Duration::from_secs(60));
        assert!(wait_for(Duration::from_secs(10), || role_of(
            self.replica_on(new),
            auth
        )
        .0 == "master"));
        new
    }

    fn replica_on(&self, port: u16) -> &Proc {
        self.replicas
            .iter()
            .find(|r| r.port == port)
            .expect("a replica")
    }
}

fn role_of(p: &Proc, auth: Option<&str>) -> (String, String) {
    let mut c = p.conn();
    if let Some(pw) = auth {
        q(&mut c, &["AUTH", pw]);
    }
    let info = q(&mut c, &["INFO", "replication"]);
    let get = |k: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}:")).map(str::to_string))
            .unwrap_or_default()
    };
    (get("role"), get("master_port"))
}

/// Kill -9 the master: one promotion, all sentinels agree, the other
/// replica follows, and the old master restarted becomes a replica.
fn failover_and_return(mut s: Setup, auth: Option<&str>) {
    let mut mc = s.master.conn();
    if let Some(pw) = auth {
        q(&mut mc, &["AUTH", pw]);
    }
    q(&mut mc, &["SET", "before", "failover"]);
    assert_eq!(q(&mut mc, &["WAIT", "2", "5000"]), "2");
    let old = s.master.port;
    let new = s.kill_master_and_wait_promotion(auth);
    let promoted = s.replica_on(new);
    let mut pc = promoted.conn();
    if let Some(pw) = auth {
        q(&mut pc, &["AUTH", pw]);
    }
    assert_eq!(q(&mut pc, &["GET", "before"]), "failover");
    let other = s.replicas.iter().find(|r| r.port != new).unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || role_of(other, auth)
            == ("slave".into(), new.to_string())),
        "the other replica was not re-pointed"
    );
    // The old master comes back and is turned into a replica.
    let mut a = vec!["--repl-diskless-sync-delay", "0", "--save", ""];
    if let Some(pw) = auth {
        a.extend_from_slice(&["--requirepass", pw, "--masterauth", pw]);
    }
    let back = Proc::picket_on(old, &a);
    assert!(
        wait_for(Duration::from_secs(60), || role_of(&back, auth)
            == ("slave".into(), new.to_string())),
        "the old master did not become a replica: {}",
        s.sentinels
            .iter()
            .map(|s| s.log_text())
            .collect::<Vec<_>>()
            .join("\n----\n")
    );
    assert_eq!(s.promotions(), 1, "exactly one failover");
    drop(back);
    drop(s);
}

#[test]
fn picket_sentinels_fail_over_picket_servers_once() {
    failover_and_return(setup(false, [false; 3], &[], ""), None);
}

#[test]
fn redis_sentinels_fail_over_picket_servers() {
    let mut s = setup(false, [true; 3], &[], "");
    let mut mc = s.master.conn();
    q(&mut mc, &["SET", "k", "v"]);
    s.kill_master_and_wait_promotion(None);
}

#[test]
fn picket_sentinels_fail_over_redis_servers() {
    let mut s = setup(true, [false; 3], &[], "");
    let new = s.kill_master_and_wait_promotion(None);
    let other = s.replicas.iter().find(|r| r.port != new).unwrap();
    assert!(wait_for(Duration::from_secs(20), || role_of(other, None)
        == ("slave".into(), new.to_string())));
}

#[test]
fn a_mixed_quorum_of_picket_and_redis_sentinels_fails_over_once() {
    let mut s = setup(false, [false, true, false], &[], "");
    s.kill_master_and_wait_promotion(None);
    // Redis sentinels log "+promoted-slave" too: one promotion in all.
    assert_eq!(s.promotions(), 1);
}

#[test]
fn passwords_on_servers_and_on_sentinels() {
    let s = setup(
        false,
        [false; 3],
        &["--requirepass", "data-pw", "--masterauth", "data-pw"],
        "sentinel auth-pass mymaster data-pw\nrequirepass sentinel-pw\n",
    );
    // The sentinels want their own password (discovery above used it).
    let raw = redis::Client::open(format!("redis://127.0.0.1:{}/", s.sentinels[0].port)).unwrap();
    let mut c = raw.get_connection().unwrap();
    let e = common::err(&mut c, &["SENTINEL", "MYID"]);
    assert!(e.starts_with("NOAUTH"), "{e}");
    failover_and_return(s, Some("data-pw"));
}

#[test]
fn a_lone_sdown_is_no_failover_and_two_of_three_sentinels_suffice() {
    let mut s = setup(
        false,
        [false; 3],
        &["--requirepass", "pw", "--masterauth", "pw"],
        "sentinel auth-pass mymaster pw\n",
    );
    // Sentinel 0 gets a wrong password; once its links are cut it can't
    // reach the master any more, while the others still can.
    q(
        &mut s.sentinels[0].conn(),
        &["SENTINEL", "SET", "mymaster", "auth-pass", "wrong"],
    );
    let mut mc = s.master.conn();
    q(&mut mc, &["AUTH", "pw"]);
    q(
        &mut mc,
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
    );
    assert!(wait_for(Duration::from_secs(15), || s.sentinels[0]
        .master_field("flags")
        .contains("s_down")));
    std::thread::sleep(Duration::from_secs(4));
    let flags = s.sentinels[0].master_field("flags");
    assert!(!flags.contains("o_down"), "{flags}");
    assert!(s
        .sentinels
        .iter()
        .all(|x| !x.log_text().contains("+try-failover")));
    assert!(s
        .sentinels
        .iter()
        .all(|x| x.master_port() == Some(s.master.port)));
    // Now one sentinel is gone and the master dies: the two others agree.
    q(
        &mut s.sentinels[0].conn(),
        &["SENTINEL", "SET", "mymaster", "auth-pass", "pw"],
    );
    drop(s.sentinels.remove(0));
    s.kill_master_and_wait_promotion(Some("pw"));
}

#[test]
fn restarted_sentinels_resume_and_manual_failover_and_reset_work() {
    let mut s = setup(false, [false; 3], &[], "");
    let ids: Vec<String> = s
        .sentinels
        .iter()
        .map(|x| q(&mut x.conn(), &["SENTINEL", "MYID"]))
        .collect();
    let conf = std::fs::read_to_string(&s.sentinels[0].conf).unwrap();
    assert!(
        conf.contains("sentinel known-replica mymaster")
            && conf.contains("sentinel known-sentinel mymaster"),
        "{conf}"
    );
    // All three restarted: they resume from their files (same ids, the
    // replicas and sentinels known before any discovery).
    let olds = std::mem::take(&mut s.sentinels);
    s.sentinels = olds.into_iter().map(Sentinel::restart).collect();
    for (x, id) in s.sentinels.iter().zip(&ids) {
        assert_eq!(&q(&mut x.conn(), &["SENTINEL", "MYID"]), id);
        assert_eq!(x.master_field("num-slaves"), "2");
    }
    s.wait_discovery();
    // A manual failover needs no agreement.
    let old = s.master.port;
    assert_eq!(
        q(
            &mut s.sentinels[1].conn(),
            &["SENTINEL", "FAILOVER", "mymaster"]
        ),
        "OK"
    );
    let new = s.wait_new_master(old, Duration::from_secs(60));
    assert!(wait_for(Duration::from_secs(10), || role_of(
        s.replica_on(new),
        None
    )
    .0 == "master"));
    assert!(wait_for(Duration::from_secs(20), || role_of(
        &s.master, None
    ) == (
        "slave".into(),
        new.to_string()
    )));
    // RESET forgets replicas and sentinels; they are found again.
    assert_eq!(
        q(
            &mut s.sentinels[2].conn(),
            &["SENTINEL", "RESET", "mymaster"]
        ),
        "1"
    );
    s.wait_discovery();
}

#[test]
fn no_acknowledged_write_is_lost_across_the_failover() {
    let mut s = setup(false, [false; 3], &[], "");
    let url = s.master.url();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    // Each write is acknowledged only when WAIT 1 100 saw a replica have it.
    let writer = std::thread::spawn(move || {
        let mut acked = Vec::new();
        let Ok(mut c) = redis::Client::open(url).unwrap().get_connection() else {
            return acked;
        };
        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
        for i in 0..100_000u32 {
            if stop2.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let k = format!("w{i}");
            if redis::cmd("SET")
                .arg(&k)
                .arg(i)
                .query::<()>(&mut c)
                .is_err()
            {
                break;
            }
            match redis::cmd("WAIT").arg(1).arg(100).query::<i64>(&mut c) {
                Ok(n) if n >= 1 => acked.push(k),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(500));
    let old = s.master.port;
    s.master.signal("KILL");
    s.master.wait_exit(Duration::from_secs(5));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = writer.join().unwrap();
    assert!(acked.len() > 10, "only {} writes acknowledged", acked.len());
    let new = s.wait_new_master(old, Duration::from_secs(60));
    let mut c = s.replica_on(new).conn();
    let mut lost = Vec::new();
    for k in &acked {
        if q(&mut c, &["EXISTS", k]) != "1" {
            lost.push(k.clone());
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
}

fn tcp_port(c: &mut redis::Connection) -> String {
    let info = q(c, &["INFO", "server"]);
    info.lines()
        .find_map(|l| l.strip_prefix("tcp_port:").map(str::to_string))
        .unwrap_or_default()
}

#[test]
fn the_redis_crate_finds_the_master_and_replicas_through_picket_sentinels() {
    use redis::sentinel::{SentinelClient, SentinelServerType};
    let s = setup(false, [false; 3], &[], "");
    let urls: Vec<String> = s
        .sentinels
        .iter()
        .map(|x| format!("redis://127.0.0.1:{}/", x.port))
        .collect();
    let mut mc = SentinelClient::build(
        urls.clone(),
        "mymaster".into(),
        None,
        SentinelServerType::Master,
    )
    .unwrap()
    .get_connection()
    .unwrap();
    assert_eq!(tcp_port(&mut mc), s.master.port.to_string());
    q(&mut mc, &["SET", "via", "sentinel"]);
    let mut rc = SentinelClient::build(urls, "mymaster".into(), None, SentinelServerType::Replica)
        .unwrap()
        .get_connection()
        .unwrap();
    let port: u16 = tcp_port(&mut rc).parse().unwrap();
    assert!(s.replicas.iter().any(|r| r.port == port));
}

#[test]
fn sentinel_mode_needs_a_writable_config_file_and_answers_to_its_name() {
    let out = Command::new("timeout")
        .args(["10", common::picket_bin(), "--sentinel", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("Sentinel needs config file on disk to save state"));
    // Invoked as picket-sentinel, the binary is a sentinel.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("picket-sentinel");
    std::os::unix::fs::symlink(common::picket_bin(), &link).unwrap();
    let port = free_port();
    let conf = dir.path().join("s.conf");
    std::fs::write(
        &conf,
        format!("port {port}\nbind 127.0.0.1\nsentinel monitor m 127.0.0.1 1 1\n"),
    )
    .unwrap();
    let mut child = Command::new(&link)
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ok = wait_for(Duration::from_secs(10), || {
        let Ok(c) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else {
            return false;
        };
        let Ok(mut c) = c.get_connection() else {
            return false;
        };
        cmd_role(&mut c) == "sentinel"
    });
    // Its default user's password changes live (ACL SETUSER, as a
    // rotation does it on sentinels), and CLIENT subcommands answer.
    let acl = ok.then(|| {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        let set = common::cmd(&mut c, &["ACL", "SETUSER", "default", ">s3cret"]);
        let id = common::cmd(&mut c, &["CLIENT", "ID"]);
        let open = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .map(|mut c| common::cmd(&mut c, &["PING"]).is_ok())
            .unwrap_or(false);
        let authed = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .is_ok();
        (set.is_ok(), id.is_ok(), open, authed)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok);
    assert_eq!(acl, Some((true, true, false, true)));
    let written = std::fs::read_to_string(&conf).unwrap();
    assert!(
        written.contains("sentinel myid ") && written.contains("sentinel monitor m 127.0.0.1 1 1"),
        "{written}"
    );
}

fn cmd_role(c: &mut redis::Connection) -> String {
    match common::cmd(c, &["ROLE"]) {
        Ok(redis::Value::Array(v)) => match v.first() {
            Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

#[test]
fn redis_py_finds_the_master_and_replicas_through_picket_sentinels() {
    let s = setup(false, [false; 3], &[], "");
    let ports: Vec<String> = s.sentinels.iter().map(|x| x.port.to_string()).collect();
    let script = format!(
        "from redis.sentinel import Sentinel\n\
         s = Sentinel([('127.0.0.1', p) for p in ({},)], socket_timeout=5)\n\
         print('master', s.discover_master('mymaster')[1])\n\
         m = s.master_for('mymaster', socket_timeout=5)\n\
         m.set('py', 'ok')\n\
         print('read', m.get('py').decode())\n\
         print('replicas', sorted(p for _, p in s.discover_slaves('mymaster')))\n",
        ports.join(", ")
    );
    let out = Command::new("timeout")
        .args(["30", "python3", "-c", &script])
        .output()
        .expect("python3 (installed by .ci/run with redis-py)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rp: Vec<u16> = s.replicas.iter().map(|r| r.port).collect();
    rp.sort();
    assert!(
        text.contains(&format!("master {}\n", s.master.port)),
        "{text}"
    );
    assert!(text.contains("read ok\n"), "{text}");
    assert!(
        text.contains(&format!("replicas [{}, {}]", rp[0], rp[1])),
        "{text}"
    );
}

/// Sentinels under resolve-hostnames/announce-hostnames keep and show the
/// servers' names (what the operator's pods announce), find replicas that
/// announce a name, and fail over by name; without resolve-hostnames a
/// name is refused, in the file and in SENTINEL MONITOR.
#[test]
fn hostnames_are_kept_and_announced_and_refused_without_resolve_hostnames() {
    let mut s = setup_on(
        "localhost",
        "sentinel resolve-hostnames yes\nsentinel announce-hostnames yes\n",
        false,
        [false; 3],
        &["--replica-announce-ip", "localhost"],
        "",
    );
    let mut c = s.sentinels[0].conn();
    let replicas = q(&mut c, &["SENTINEL", "REPLICAS", "mymaster"]);
    assert!(
        !replicas.contains("127.0.0.1"),
        "replicas known by name only: {replicas}"
    );
    let conf = std::fs::read_to_string(&s.sentinels[0].conf).unwrap();
    assert!(
        conf.contains(&format!(
            "sentinel monitor mymaster localhost {} 2",
            s.master.port
        )) && conf.contains("sentinel known-replica mymaster localhost "),
        "{conf}"
    );
    let new = s.kill_master_and_wait_promotion(None);
    for x in &s.sentinels {
        let addr = q(
            &mut x.conn(),
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
        );
        assert_eq!(addr, format!("[localhost,{new}]"));
    }
    let other = s.replicas.iter().find(|r| r.port != new).unwrap();
    assert!(wait_for(Duration::from_secs(20), || role_of(other, None)
        == ("slave".into(), new.to_string())));

    // Without resolve-hostnames: SENTINEL MONITOR and the file refuse names.
    assert_eq!(
        q(
            &mut c,
            &["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "no"]
        ),
        "OK"
    );
    let e = common::err(
        &mut c,
        &["SENTINEL", "MONITOR", "other", "localhost", "7000", "1"],
    );
    assert_eq!(e, "ERR Invalid IP address or hostname specified");
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {}\nsentinel monitor m localhost 6379 1\n",
            free_port()
        ),
    )
    .unwrap();
    let out = Command::new(common::picket_bin())
        .arg(&conf)
        .arg("--sentinel")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Can't resolve instance hostname.") && text.contains("line 2"),
        "{text}"
    );
}

/// The notification script gets every warning-level event with Redis's
/// two arguments, the client-reconfig script the failover with its seven.
#[test]
fn notification_and_client_reconfig_scripts_run_with_redis_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let script = |name: &str| {
        let path = dir.path().join(format!("{name}.sh"));
        let log = dir.path().join(format!("{name}.log"));
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho \"$@\" >> {}\n", log.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        (path, log)
    };
    let (notify, notify_log) = script("notify");
    let (reconf, reconf_log) = script("reconf");
    let mut s = setup(
        false,
        [false; 3],
        &[],
        &format!(
            "sentinel notification-script mymaster {}\nsentinel client-reconfig-script mymaster {}\n",
            notify.display(),
            reconf.display()
        ),
    );
    let old = s.master.port;
    let new = s.kill_master_and_wait_promotion(None);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let want = [
        format!("+sdown master mymaster 127.0.0.1 {old}"),
        format!("+odown master mymaster 127.0.0.1 {old}"),
        format!("+switch-master mymaster 127.0.0.1 {old} 127.0.0.1 {new}"),
    ];
    assert!(
        wait_for(Duration::from_secs(10), || {
            let t = read(&notify_log);
            want.iter()
                .all(|w| t.lines().any(|l| l.starts_with(w.as_str())))
        }),
        "notification script calls:\n{}",
        read(&notify_log)
    );
    // The leader runs it as leader, the two others as observers.
    let leader = format!("mymaster leader start 127.0.0.1 {old} 127.0.0.1 {new}");
    let observer = format!("mymaster observer start 127.0.0.1 {old} 127.0.0.1 {new}");
    assert!(
        wait_for(Duration::from_secs(10), || {
            let t = read(&reconf_log);
            t.lines().filter(|l| *l == leader).count() == 1
                && t.lines().filter(|l| *l == observer).count() == 2
        }),
        "client-reconfig script calls:\n{}",
        read(&reconf_log)
    );
    // Scripts can't be changed at run time (deny-scripts-reconfig yes).
    let e = common::err(
        &mut s.sentinels[0].conn(),
        &[
            "SENTINEL",
            "SET",
            "mymaster",
            "notification-script",
            "/bin/true",
        ],
    );
    assert!(e.contains("deny-scripts-reconfig"), "{e}");
}

/// A sentinel frozen past the TILT trigger (SIGSTOP, as a stalled host or
/// a clock jump looks) enters TILT when it runs again, and while in TILT
/// it doesn't act.
#[test]
fn a_frozen_sentinel_enters_tilt() {
    let master = server(false, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut st = Sentinel::start(
        dir.path(),
        free_port(),
        &format!("sentinel monitor mymaster 127.0.0.1 {} 1\n", master.port),
        false,
    );
    let mut c = st.conn();
    assert!(q(&mut c, &["INFO", "sentinel"]).contains("sentinel_tilt:0"));
    let pid = st.child.id().to_string();
    let sig = |s: &str| {
        assert!(Command::new("kill")
            .args([s, &pid])
            .status()
            .unwrap()
            .success())
    };
    sig("-STOP");
    std::thread::sleep(Duration::from_millis(3000));
    sig("-CONT");
    assert!(
        wait_for(Duration::from_secs(5), || q(&mut c, &["INFO", "sentinel"])
            .contains("sentinel_tilt:1")),
        "{}",
        st.log_text()
    );
    assert!(
        st.log_text().contains("+tilt #tilt mode entered"),
        "{}",
        st.log_text()
    );
    // TILT is no reason to fail over: the master is still the master.
    assert_eq!(st.master_port(), Some(master.port));
    let _ = st.child.kill();
}

/// SENTINEL INFO-CACHE shows each server's last INFO; SIMULATE-FAILURE
/// crash-after-promotion makes the failover leader exit (99) right after
/// its promotion; the remaining sentinels still end with one master that
/// every server and sentinel agrees on.
#[test]
fn info_cache_and_a_leader_crashing_after_promotion() {
    let mut s = setup(false, [false; 3], &[], "");
    let mut c = s.sentinels[0].conn();
    let v: redis::Value = common::cmd(&mut c, &["SENTINEL", "INFO-CACHE", "mymaster"]).unwrap();
    let text = format!("{v:?}");
    assert!(
        text.contains("mymaster")
            && text.matches("role:slave").count() == 2
            && text.matches("role:master").count() == 1,
        "{text}"
    );
    assert_eq!(
        q(&mut c, &["SENTINEL", "SIMULATE-FAILURE", "help"]),
        "[crash-after-election,crash-after-promotion]"
    );
    assert_eq!(
        common::err(&mut c, &["SENTINEL", "SIMULATE-FAILURE", "sometimes"]),
        "ERR Unknown failure simulation specified"
    );
    assert_eq!(
        q(
            &mut c,
            &["SENTINEL", "SIMULATE-FAILURE", "crash-after-promotion"]
        ),
        "OK"
    );
    assert_eq!(q(&mut c, &["SENTINEL", "FAILOVER", "mymaster"]), "OK");
    let code = s.sentinels[0].child.wait().unwrap().code();
    assert_eq!(code, Some(99), "{}", s.sentinels[0].log_text());
    drop(s.sentinels.remove(0));
    let servers: Vec<&Proc> = std::iter::once(&s.master).chain(&s.replicas).collect();
    let agreed = wait_for(Duration::from_secs(60), || {
        let masters: Vec<u16> = servers
            .iter()
            .filter(|p| role_of(p, None).0 == "master")
            .map(|p| p.port)
            .collect();
        masters.len() == 1
            && s.sentinels
                .iter()
                .all(|x| x.master_port() == Some(masters[0]))
            && servers
                .iter()
                .filter(|p| p.port != masters[0])
                .all(|p| role_of(p, None) == ("slave".into(), masters[0].to_string()))
    });
    assert!(
        agreed,
        "{}",
        s.sentinels
            .iter()
            .map(|x| x.log_text())
            .collect::<Vec<_>>()
            .join("\n----\n")
    );
}

/// A connection to sentinel `s` logged in with `pw`.
fn conn_with(s: &Sentinel, pw: &str) -> redis::Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{}/", s.port)).unwrap();
    let mut c = c
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    q(&mut c, &["AUTH", pw]);
    c
}

/// `(id, name)` of every client of `c` whose name starts with `prefix`
/// (CLIENT LIST).
fn named_clients(c: &mut redis::Connection, prefix: &str) -> Vec<(String, String)> {
    q(c, &["CLIENT", "LIST"])
        .lines()
        .filter_map(|l| {
            let field = |k: &str| {
                l.split(' ')
                    .find_map(|f| f.strip_prefix(&format!("{k}=")).map(str::to_string))
            };
            let name = field("name")?;
            if !name.starts_with(prefix) {
                return None;
            }
            Some((field("id")?, name))
        })
        .collect()
}

/// The operator's order (MONITOR, then SET ... auth-pass) with the
/// sentinel's links opened in between, unauthenticated: the SET closes
/// them, the next ones log in, the master is not left `s_down` and its
/// replica and the other sentinel are found. Before, picket kept the
/// refused links for good (`s_down`, no replica, no hello). Redis's
/// sentinel is checked the same way, as the reference.
fn auth_pass_set_after_monitor(redis_sentinels: bool) {
    let dir = tempfile::tempdir().unwrap();
    let auth = ["--requirepass", "pw", "--masterauth", "pw"];
    let master = server(false, &auth);
    let mp = master.port.to_string();
    let mut a = vec!["--replicaof", "127.0.0.1", &mp];
    a.extend_from_slice(&auth);
    let replica = server(false, &a);
    let sentinels: Vec<Sentinel> = (0..2)
        .map(|_| Sentinel::start(dir.path(), free_port(), "", redis_sentinels))
        .collect();
    for s in &sentinels {
        q(
            &mut s.conn(),
            &["SENTINEL", "MONITOR", "mymaster", "127.0.0.1", &mp, "2"],
        );
    }
    // The links open (every 100 ms timer run) and are refused, several
    // times a second apart.
    let mut mc = master.conn();
    q(&mut mc, &["AUTH", "pw"]);
    std::thread::sleep(Duration::from_millis(3000));
    let before = named_clients(&mut mc, "sentinel-");
    for s in &sentinels {
        q(
            &mut s.conn(),
            &[
                "SENTINEL",
                "SET",
                "mymaster",
                "down-after-milliseconds",
                "2000",
                "auth-pass",
                "pw",
            ],
        );
    }
    // Within down-after plus one INFO period (and some slack).
    for s in &sentinels {
        assert!(
            wait_for(Duration::from_secs(16), || s.master_field("flags")
                == "master"
                && s.master_field("num-slaves") == "1"
                && s.master_field("num-other-sentinels") == "1"),
            "sentinel {}: flags {}, {} replicas, {} sentinels\n{}",
            s.port,
            s.master_field("flags"),
            s.master_field("num-slaves"),
            s.master_field("num-other-sentinels"),
            s.log_text()
        );
    }
    if !redis_sentinels {
        // Each sentinel holds a command and a hello connection on the
        // master, named as Redis names them, opened after the SET.
        let after = named_clients(&mut mc, "sentinel-");
        for s in &sentinels {
            let id = q(&mut s.conn(), &["SENTINEL", "MYID"]);
            for kind in ["cmd", "pubsub"] {
                let name = format!("sentinel-{}-{kind}", &id[..8]);
                let now: Vec<_> = after.iter().filter(|(_, n)| *n == name).collect();
                assert_eq!(now.len(), 1, "{name} in {after:?}");
                assert!(!before.contains(now[0]), "{name} was not reopened");
            }
            // The refusal before the SET was logged once, not at each
            // attempt, and its end too.
            let log = s.log_text();
            assert_eq!(
                log.matches("can't log in to master mymaster").count(),
                1,
                "{log}"
            );
            assert!(log.contains("NOAUTH"), "{log}");
            assert!(log.contains("logged in to master mymaster"), "{log}");
        }
    }
    drop(replica);
}

#[test]
fn a_picket_sentinel_given_auth_pass_after_its_links_opened_logs_in_with_it() {
    auth_pass_set_after_monitor(false);
}

#[test]
fn a_redis_sentinel_given_auth_pass_after_its_links_opened_logs_in_with_it() {
    auth_pass_set_after_monitor(true);
}

/// A rotation of both passwords in the operator's order: every server
/// and sentinel takes old and new, the sentinels switch `auth-pass` and
/// `sentinel-pass` (replicas `masterauth`), then only the new ones are
/// taken. Each switch reopens the links it concerns (Redis:
/// dropInstanceConnections, sentinelDropConnections), with no `+sdown`
/// and no refused login on the way, and a failover's votes then travel
/// over the new links.
#[test]
fn a_rotation_of_auth_pass_and_sentinel_pass_reopens_the_links_and_keeps_the_votes() {
    let mut s = setup(
        false,
        [false; 3],
        &["--requirepass", "d1", "--masterauth", "d1"],
        "requirepass s1\nsentinel sentinel-pass s1\nsentinel auth-pass mymaster d1\n",
    );
    let ids: Vec<String> = s
        .sentinels
        .iter()
        .map(|x| q(&mut x.conn(), &["SENTINEL", "MYID"]))
        .collect();
    let cmd_of = |i: usize| format!("sentinel-{}-cmd", &ids[i][..8]);
    let data = || std::iter::once(&s.master).chain(&s.replicas);
    let data_conn = |p: &Proc, pw: &str| {
        let mut c = p.conn();
        q(&mut c, &["AUTH", pw]);
        c
    };
    // Sentinel 0's link to sentinel 1 and every sentinel's to the master,
    // before the rotation.
    let mut on1 = conn_with(&s.sentinels[1], "s1");
    let mut on_master = data_conn(&s.master, "d1");
    assert!(wait_for(Duration::from_secs(10), || named_clients(
        &mut on1,
        &cmd_of(0)
    )
    .len()
        == 1));
    let peer_before = named_clients(&mut on1, &cmd_of(0));
    let master_before = named_clients(&mut on_master, "sentinel-");
    assert_eq!(master_before.len(), 6, "{master_before:?}");

    for p in data() {
        q(
            &mut data_conn(p, "d1"),
            &["ACL", "SETUSER", "default", ">d2"],
        );
    }
    for x in &s.sentinels {
        q(
            &mut conn_with(x, "s1"),
            &["ACL", "SETUSER", "default", ">s2"],
        );
    }
    for p in data() {
        q(
            &mut data_conn(p, "d2"),
            &["CONFIG", "SET", "masterauth", "d2"],
        );
    }
    for x in &s.sentinels {
        let mut c = conn_with(x, "s2");
        q(
            &mut c,
            &["SENTINEL", "CONFIG", "SET", "sentinel-pass", "s2"],
        );
        q(&mut c, &["SENTINEL", "SET", "mymaster", "auth-pass", "d2"]);
    }
    // The links were reopened (new connections, so with the new
    // passwords): sentinel 0's to sentinel 1, every one to the master.
    assert!(
        wait_for(Duration::from_secs(5), || {
            let now = named_clients(&mut on1, &cmd_of(0));
            now.len() == 1 && now != peer_before
        }),
        "sentinel 0's link to sentinel 1 was not reopened: {peer_before:?} {:?}",
        named_clients(&mut on1, &cmd_of(0))
    );
    assert!(
        wait_for(Duration::from_secs(5), || {
            let now = named_clients(&mut on_master, "sentinel-");
            now.len() == 6 && now.iter().all(|c| !master_before.contains(c))
        }),
        "the sentinels' links to the master were not reopened: {master_before:?} {:?}",
        named_clients(&mut on_master, "sentinel-")
    );
    for p in data() {
        q(
            &mut data_conn(p, "d2"),
            &["ACL", "SETUSER", "default", "<d1"],
        );
    }
    for x in &s.sentinels {
        q(
            &mut conn_with(x, "s2"),
            &["ACL", "SETUSER", "default", "<s1"],
        );
    }
    for x in &mut s.sentinels {
        x.pass = Some("s2".into());
    }
    std::thread::sleep(Duration::from_secs(3));
    for x in &s.sentinels {
        assert!(
            wait_for(Duration::from_secs(10), || common::cmd(
                &mut x.conn(),
                &["SENTINEL", "CKQUORUM", "mymaster"]
            )
            .is_ok_and(|v| common::data::s(v).starts_with("OK 3 usable"))),
            "sentinel {}: {}",
            x.port,
            x.log_text()
        );
        let log = x.log_text();
        assert!(
            !log.contains("+sdown") && !log.contains("can't log in"),
            "the rotation was seen as a failure: {log}"
        );
    }
    // A failover after it: the votes travel over the new links.
    s.kill_master_and_wait_promotion(Some("d2"));
    assert!(s
        .sentinels
        .iter()
        .any(|x| x.log_text().contains("+elected-leader")));
}

/// A sentinel takes hellos by PUBLISH from the other sentinels, as Redis's
/// does (sentinelPublishCommand), and publishes its own to them as well as
/// to the servers: a fake peer (a plain server a client listens on) hears
/// the sentinel's hellos directly, and a hello with a newer configuration
/// published to the sentinel switches its master.
fn hellos_go_to_and_come_from_sentinels(redis_sentinel: bool) {
    let dir = tempfile::tempdir().unwrap();
    let master = server(false, &[]);
    let mp = master.port.to_string();
    let replica = server(false, &["--replicaof", "127.0.0.1", &mp]);
    let peer = server(false, &[]);
    let s = Sentinel::start(dir.path(), free_port(), "", redis_sentinel);
    let mut sc = s.conn();
    q(
        &mut sc,
        &["SENTINEL", "MONITOR", "mymaster", "127.0.0.1", &mp, "1"],
    );
    let myid = q(&mut sc, &["SENTINEL", "MYID"]);
    let mut listen = peer.conn();
    listen
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut sub = listen.as_pubsub();
    sub.subscribe("__sentinel__:hello").unwrap();
    let fake_id = "f".repeat(40);
    let pp = peer.port.to_string();
    let hello = |epoch: u64, port: &str| {
        format!("127.0.0.1,{pp},{fake_id},{epoch},mymaster,127.0.0.1,{port},{epoch}")
    };
    // Only hellos.
    let err = redis::cmd("PUBLISH")
        .arg("other")
        .arg("x")
        .query::<i64>(&mut sc)
        .unwrap_err();
    assert_eq!(
        (err.code(), err.detail()),
        (
            Some("ERR"),
            Some("Only HELLO messages are accepted by Sentinel instances.")
        ),
        "{err}"
    );
    // A hello makes its sender known...
    let n: i64 = redis::cmd("PUBLISH")
        .arg("__sentinel__:hello")
        .arg(hello(0, &mp))
        .query(&mut sc)
        .unwrap();
    assert_eq!(n, 1);
    assert!(
        wait_for(Duration::from_secs(5), || s
            .master_field("num-other-sentinels")
            == "1"),
        "the peer was not learnt"
    );
    // ... and the sentinel publishes its hellos to it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let heard = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no hello reached the peer directly\n{}",
            s.log_text()
        );
        let Ok(m) = sub.get_message() else { continue };
        let payload: String = m.get_payload().unwrap();
        if payload.contains(&myid) {
            break payload;
        }
    };
    let f: Vec<&str> = heard.split(',').collect();
    assert_eq!(
        (f[1], f[2], f[4]),
        (&*s.port.to_string(), &*myid, "mymaster")
    );
    assert_eq!(f[6], mp, "{heard}");
    // A newer configuration published to the sentinel switches it.
    let rp = replica.port.to_string();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("__sentinel__:hello")
        .arg(hello(5, &rp))
        .query(&mut sc)
        .unwrap();
    assert_eq!(n, 1);
    assert!(
        wait_for(Duration::from_secs(5), || s.master_port()
            == Some(replica.port)),
        "the newer configuration was not adopted\n{}",
        s.log_text()
    );
    assert_eq!(s.master_field("config-epoch"), "5");
    assert!(s.log_text().contains("+config-update-from"));
}

#[test]
fn a_picket_sentinel_hears_and_sends_hellos_to_other_sentinels_directly() {
    hellos_go_to_and_come_from_sentinels(false);
}

#[test]
fn a_redis_sentinel_hears_and_sends_hellos_to_other_sentinels_directly() {
    hellos_go_to_and_come_from_sentinels(true);
}

/// SENTINEL CONFIG SET changes Redis 7.0's six run-time options and
/// nothing else, with Redis's error texts: the scripts' guard
/// (deny-scripts-reconfig) is not among them, so a client cannot turn it
/// off and then point a script at any file. Picket and redis-sentinel
/// answer alike, and CONFIG GET lists the same options.
#[test]
fn sentinel_config_set_takes_redis_s_six_options_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut answers = Vec::new();
    for redis in [false, true] {
        let s = Sentinel::start(dir.path(), free_port(), "", redis);
        let mut c = s.conn();
        let denied = common::err(
            &mut c,
            &["SENTINEL", "CONFIG", "SET", "deny-scripts-reconfig", "no"],
        );
        let bad = common::err(
            &mut c,
            &["SENTINEL", "CONFIG", "SET", "announce-port", "seventy"],
        );
        let ok = q(
            &mut c,
            &["SENTINEL", "CONFIG", "SET", "Announce-Port", "7001"],
        );
        let all = common::cmd(&mut c, &["SENTINEL", "CONFIG", "GET", "*"]).unwrap();
        let mut names: Vec<String> = common::data::strs(all).into_iter().step_by(2).collect();
        names.sort();
        let saved = std::fs::read_to_string(&s.conf).unwrap();
        assert!(saved.contains("sentinel announce-port 7001"), "{saved}");
        answers.push((denied, bad, ok, names));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(
        answers[0].0,
        "ERR Invalid argument 'deny-scripts-reconfig' to SENTINEL CONFIG SET"
    );
}
