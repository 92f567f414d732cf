//! Server-wide behaviour against a real picket-server: INFO, databases,
//! TIME, COMMAND introspection, SLOWLOG, CLIENT, shutdown paths, and the
//! stock tools (redis-cli, redis-cli --pipe, redis-benchmark).
//!
//! Where Redis defines the reply, the check also runs against Debian's
//! redis-server 7.0 (`on_both`).

mod common;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{cmd, err, Proc};
use redis::Value;

fn on_both(args: &[&str], check: impl Fn(&Proc, &str)) {
    let p = Proc::picket(args);
    check(&p, "picket");
    drop(p);
    let r = Proc::redis(args);
    check(&r, "redis");
}

fn info(c: &mut redis::Connection, section: Option<&str>) -> String {
    let mut q = redis::cmd("INFO");
    if let Some(s) = section {
        q.arg(s);
    }
    q.query(c).unwrap()
}

fn field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

fn int(c: &mut redis::Connection, args: &[&str]) -> i64 {
    match cmd(c, args).unwrap() {
        Value::Int(n) => n,
        v => panic!("{args:?} -> {v:?}"),
    }
}

fn string(c: &mut redis::Connection, args: &[&str]) -> String {
    let mut q = redis::cmd(args[0]);
    for a in &args[1..] {
        q.arg(*a);
    }
    q.query(c).unwrap()
}

/// Runs an external tool with a hard time limit (`timeout` from coreutils),
/// feeding `stdin` when given. Returns (exit code, stdout, stderr).
fn tool(args: &[&str], stdin: Option<&std::path::Path>, limit_s: u32) -> (i32, String, String) {
    let mut c = Command::new("timeout");
    c.arg(limit_s.to_string()).args(args);
    c.stdin(match stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
        None => Stdio::null(),
    });
    let out = c.output().expect("coreutils timeout");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn info_has_redis_sections_and_field_names() {
    on_both(&["--maxmemory", "64mb"], |p, who| {
        let mut c = p.conn();
        cmd(&mut c, &["SET", "a", "1"]).unwrap();
        cmd(&mut c, &["SETEX", "b", "100", "1"]).unwrap();
        cmd(&mut c, &["SELECT", "2"]).unwrap();
        cmd(&mut c, &["SET", "c", "1"]).unwrap();
        let all = info(&mut c, None);
        for s in [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Keyspace",
        ] {
            assert!(all.contains(&format!("{s}\r\n")), "{who}: {s} in\n{all}");
        }
        assert_eq!(field(&all, "redis_version").as_deref(), Some("7.0.15"));
        assert!(
            field(&all, "connected_clients")
                .unwrap()
                .parse::<u64>()
                .unwrap()
                >= 1,
            "{who}"
        );
        let used: u64 = field(&all, "used_memory").unwrap().parse().unwrap();
        assert!(used > 0, "{who}");
        assert_eq!(
            field(&all, "maxmemory").as_deref(),
            Some("67108864"),
            "{who}"
        );
        assert_eq!(field(&all, "evicted_keys").as_deref(), Some("0"), "{who}");
        assert_eq!(field(&all, "role").as_deref(), Some("master"), "{who}");
        assert_eq!(field(&all, "tcp_port"), Some(p.port.to_string()), "{who}");
        let db0 = field(&all, "db0").unwrap();
        assert!(db0.starts_with("keys=2,expires=1,avg_ttl="), "{who}: {db0}");
        let db2 = field(&all, "db2").unwrap();
        assert!(db2.starts_with("keys=1,expires=0,avg_ttl="), "{who}: {db2}");
        assert_eq!(field(&all, "db1"), None, "{who}: empty dbs are not listed");

        // One section, case-insensitively, and several at once.
        let mem = info(&mut c, Some("MEMORY"));
        assert!(mem.starts_with("# Memory\r\n"), "{who}: {mem}");
        assert!(!mem.contains("# Server"), "{who}");
        let two: String = redis::cmd("INFO")
            .arg("server")
            .arg("keyspace")
            .query(&mut c)
            .unwrap();
        assert!(
            two.contains("# Server") && two.contains("# Keyspace"),
            "{who}"
        );
        assert!(!two.contains("# Memory"), "{who}");
        let every = info(&mut c, Some("everything"));
        assert!(every.contains("# Commandstats"), "{who}");
        assert!(info(&mut c, Some("nosuchsection")).is_empty(), "{who}");
    });
}

#[test]
fn select_dbsize_flushdb_and_flushall_async_work_per_database() {
    on_both(&[], |p, who| {
        let mut c = p.conn();
        for i in 0..5 {
            cmd(&mut c, &["SET", &format!("k{i}"), "v"]).unwrap();
        }
        assert_eq!(cmd(&mut c, &["SELECT", "1"]).unwrap(), Value::Okay);
        assert_eq!(int(&mut c, &["DBSIZE"]), 0, "{who}");
        cmd(&mut c, &["SET", "x", "y"]).unwrap();
        assert_eq!(int(&mut c, &["DBSIZE"]), 1, "{who}");
        assert_eq!(
            err(&mut c, &["SELECT", "16"]),
            "ERR DB index is out of range",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["SELECT", "x"]),
            "ERR value is not an integer or out of range",
            "{who}"
        );
        assert_eq!(cmd(&mut c, &["FLUSHDB"]).unwrap(), Value::Okay, "{who}");
        assert_eq!(int(&mut c, &["DBSIZE"]), 0, "{who}");
        cmd(&mut c, &["SET", "x", "y"]).unwrap();
        assert_eq!(cmd(&mut c, &["SELECT", "0"]).unwrap(), Value::Okay);
        assert_eq!(int(&mut c, &["DBSIZE"]), 5, "{who}: FLUSHDB is per db");
        assert_eq!(
            err(&mut c, &["FLUSHDB", "NOW"]),
            "ERR syntax error",
            "{who}"
        );
        assert_eq!(
            cmd(&mut c, &["FLUSHDB", "SYNC"]).unwrap(),
            Value::Okay,
            "{who}"
        );
        assert_eq!(int(&mut c, &["DBSIZE"]), 0, "{who}");
        cmd(&mut c, &["SET", "again", "v"]).unwrap();
        assert_eq!(
            cmd(&mut c, &["FLUSHALL", "ASYNC"]).unwrap(),
            Value::Okay,
            "{who}"
        );
        assert_eq!(int(&mut c, &["DBSIZE"]), 0, "{who}");
        cmd(&mut c, &["SELECT", "1"]).unwrap();
        assert_eq!(int(&mut c, &["DBSIZE"]), 0, "{who}: FLUSHALL is every db");
    });
}

#[test]
fn time_returns_unix_seconds_and_microseconds() {
    on_both(&[], |p, who| {
        let mut c = p.conn();
        let t: Vec<String> = redis::cmd("TIME").query(&mut c).unwrap();
        assert_eq!(t.len(), 2, "{who}");
        let secs: u64 = t[0].parse().unwrap();
        let micros: u64 = t[1].parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(secs.abs_diff(now) <= 2, "{who}: {secs} vs {now}");
        assert!(micros < 1_000_000, "{who}");
    });
}

#[test]
fn command_introspection_is_consistent() {
    on_both(&[], |p, who| {
        let mut c = p.conn();
        let count = int(&mut c, &["COMMAND", "COUNT"]);
        let all = match cmd(&mut c, &["COMMAND"]).unwrap() {
            Value::Array(v) => v,
            v => panic!("{who}: {v:?}"),
        };
        assert_eq!(all.len() as i64, count, "{who}");
        let info = match cmd(&mut c, &["COMMAND", "INFO", "get", "nosuch", "SET"]).unwrap() {
            Value::Array(v) => v,
            v => panic!("{who}: {v:?}"),
        };
        assert_eq!(info.len(), 3, "{who}");
        assert_eq!(info[1], Value::Nil, "{who}: unknown command is nil");
        let Value::Array(get) = &info[0] else {
            panic!("{who}: {:?}", info[0])
        };
        assert_eq!(get.len(), 10, "{who}: Redis 7 has 10 fields");
        assert_eq!(get[0], Value::BulkString(b"get".to_vec()), "{who}");
        assert_eq!(get[1], Value::Int(2), "{who}: arity");
        assert_eq!(&get[3..6], &[Value::Int(1), Value::Int(1), Value::Int(1)]);
        let Value::Array(set) = &info[2] else {
            panic!("{who}")
        };
        assert_eq!(set[1], Value::Int(-3), "{who}");

        let docs: Vec<Value> = match cmd(&mut c, &["COMMAND", "DOCS", "get"]).unwrap() {
            Value::Array(v) => v,
            Value::Map(m) => m.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            v => panic!("{who}: {v:?}"),
        };
        assert_eq!(docs[0], Value::BulkString(b"get".to_vec()), "{who}");
        let fields: Vec<Value> = match &docs[1] {
            Value::Array(v) => v.clone(),
            Value::Map(m) => m.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect(),
            v => panic!("{who}: {v:?}"),
        };
        let names: Vec<Vec<u8>> = fields
            .iter()
            .step_by(2)
            .filter_map(|k| match k {
                Value::BulkString(b) => Some(b.clone()),
                _ => None,
            })
            .collect();
        for k in ["summary", "since", "group"] {
            assert!(names.contains(&k.as_bytes().to_vec()), "{who}: {k}");
        }

        let list: Vec<String> = redis::cmd("COMMAND").arg("LIST").query(&mut c).unwrap();
        for n in ["get", "set", "config", "config|get", "client|kill"] {
            assert!(list.iter().any(|x| x == n), "{who}: {n} listed");
        }
        let clients: Vec<String> = redis::cmd("COMMAND")
            .arg("LIST")
            .arg("FILTERBY")
            .arg("PATTERN")
            .arg("client*")
            .query(&mut c)
            .unwrap();
        assert!(clients.iter().any(|x| x == "client|setname"), "{who}");
        assert!(clients.iter().all(|x| x.starts_with("client")), "{who}");
        let keys: Vec<String> = redis::cmd("COMMAND")
            .arg("GETKEYS")
            .arg("MSET")
            .arg("a")
            .arg("1")
            .arg("b")
            .arg("2")
            .query(&mut c)
            .unwrap();
        assert_eq!(keys, vec!["a", "b"], "{who}");
    });
}

#[test]
fn slowlog_records_commands_over_the_threshold() {
    on_both(&[], |p, who| {
        let mut c = p.conn();
        cmd(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]).unwrap();
        cmd(&mut c, &["SLOWLOG", "RESET"]).unwrap();
        cmd(&mut c, &["CLIENT", "SETNAME", "slowpoke"]).unwrap();
        cmd(&mut c, &["SET", "slowkey", "slowval"]).unwrap();
        let long = "z".repeat(200);
        cmd(&mut c, &["SET", "longkey", &long]).unwrap();
        let entries = match cmd(&mut c, &["SLOWLOG", "GET", "2"]).unwrap() {
            Value::Array(v) => v,
            v => panic!("{who}: {v:?}"),
        };
        assert_eq!(entries.len(), 2, "{who}");
        // Newest first: id, time, duration, argv, addr, name.
        let Value::Array(e) = &entries[0] else {
            panic!("{who}")
        };
        assert_eq!(e.len(), 6, "{who}");
        let Value::Array(argv) = &e[3] else { panic!() };
        assert_eq!(argv[1], Value::BulkString(b"longkey".to_vec()), "{who}");
        let truncated = format!("{}... (72 more bytes)", "z".repeat(128));
        assert_eq!(argv[2], Value::BulkString(truncated.into_bytes()), "{who}");
        assert_eq!(e[5], Value::BulkString(b"slowpoke".to_vec()), "{who}");
        let Value::Array(older) = &entries[1] else {
            panic!()
        };
        let (Value::Int(id_new), Value::Int(id_old)) = (&e[0], &older[0]) else {
            panic!("{who}")
        };
        assert_eq!(id_new - id_old, 1, "{who}");
        assert!(int(&mut c, &["SLOWLOG", "LEN"]) >= 3, "{who}");
        cmd(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]).unwrap();
        cmd(&mut c, &["SLOWLOG", "RESET"]).unwrap();
        cmd(&mut c, &["SET", "k", "v"]).unwrap();
        assert_eq!(int(&mut c, &["SLOWLOG", "LEN"]), 0, "{who}: -1 disables");
    });
}

/// The value of `name=` in a CLIENT LIST/INFO line.
fn client_field(line: &str, name: &str) -> String {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} in {line}"))
        .to_string()
}

#[test]
fn client_commands_name_list_and_kill_connections() {
    on_both(&[], |p, who| {
        let mut me = p.conn();
        let mut victim = p.raw();
        assert_eq!(victim.roundtrip(b"CLIENT SETNAME victim\r\n"), b"+OK\r\n");
        let my_id = int(&mut me, &["CLIENT", "ID"]);
        assert!(my_id > 0);
        assert_eq!(
            cmd(&mut me, &["CLIENT", "GETNAME"]).unwrap(),
            Value::Nil,
            "{who}"
        );
        assert_eq!(
            cmd(&mut me, &["CLIENT", "SETNAME", "boss"]).unwrap(),
            Value::Okay
        );
        assert_eq!(
            cmd(&mut me, &["CLIENT", "GETNAME"]).unwrap(),
            Value::BulkString(b"boss".to_vec()),
            "{who}"
        );
        assert_eq!(
            err(&mut me, &["CLIENT", "SETNAME", "a b"]),
            "ERR Client names cannot contain spaces, newlines or special characters.",
            "{who}"
        );
        let mine = string(&mut me, &["CLIENT", "INFO"]);
        assert_eq!(client_field(&mine, "id"), my_id.to_string(), "{who}");
        assert_eq!(client_field(&mine, "name"), "boss", "{who}");
        assert_eq!(client_field(&mine, "cmd"), "client|info", "{who}");
        assert_eq!(client_field(&mine, "db"), "0", "{who}");
        let list = string(&mut me, &["CLIENT", "LIST"]);
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines.len(), 2, "{who}: {list}");
        let v = lines
            .iter()
            .find(|l| client_field(l, "name") == "victim")
            .unwrap();
        let victim_id: i64 = client_field(v, "id").parse().unwrap();
        let victim_addr = client_field(v, "addr");
        assert_eq!(victim_addr, victim.s.local_addr().unwrap().to_string());
        let only_me = string(&mut me, &["CLIENT", "LIST", "ID", &my_id.to_string()]);
        assert_eq!(only_me.lines().count(), 1, "{who}: {only_me}");

        assert_eq!(
            cmd(&mut me, &["CLIENT", "NO-EVICT", "on"]).unwrap(),
            Value::Okay
        );
        assert_eq!(
            err(&mut me, &["CLIENT", "NO-EVICT", "maybe"]),
            "ERR syntax error",
            "{who}"
        );

        // CLIENT KILL ID: the victim's connection is closed.
        assert_eq!(
            int(&mut me, &["CLIENT", "KILL", "ID", &victim_id.to_string()]),
            1,
            "{who}"
        );
        assert!(victim.closed(), "{who}: killed client still open");
        assert_eq!(int(&mut me, &["CLIENT", "KILL", "ID", "999999"]), 0);
        assert_eq!(
            err(&mut me, &["CLIENT", "KILL", "ID", "abc"]),
            "ERR client-id should be greater than 0",
            "{who}"
        );

        // CLIENT KILL ADDR and the old one-argument form.
        let mut v2 = p.raw();
        assert_eq!(v2.roundtrip(b"PING\r\n"), b"+PONG\r\n");
        let addr = v2.s.local_addr().unwrap().to_string();
        assert_eq!(int(&mut me, &["CLIENT", "KILL", "ADDR", &addr]), 1, "{who}");
        assert!(v2.closed(), "{who}");
        let mut v3 = p.raw();
        assert_eq!(v3.roundtrip(b"PING\r\n"), b"+PONG\r\n");
        let addr = v3.s.local_addr().unwrap().to_string();
        assert_eq!(
            cmd(&mut me, &["CLIENT", "KILL", &addr]).unwrap(),
            Value::Okay,
            "{who}"
        );
        assert!(v3.closed(), "{who}");
        assert_eq!(
            err(&mut me, &["CLIENT", "KILL", "1.2.3.4:5"]),
            "ERR No such client",
            "{who}"
        );
        // SKIPME yes (the default) protects the caller.
        assert_eq!(
            int(&mut me, &["CLIENT", "KILL", "ID", &my_id.to_string()]),
            0,
            "{who}"
        );
        assert_eq!(
            cmd(&mut me, &["PING"]).unwrap(),
            Value::SimpleString("PONG".into())
        );
    });
}

/// Waits (bounded) until nothing accepts connections on `port`.
fn port_closed(port: u16) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn shutdown_nosave_exits_zero_and_closes_connections() {
    for mut p in [Proc::picket(&[]), Proc::redis(&[])] {
        let mut other = p.raw();
        assert_eq!(other.roundtrip(b"PING\r\n"), b"+PONG\r\n");
        let mut raw = p.raw();
        raw.send(b"SHUTDOWN NOSAVE\r\n");
        // No reply on success: the connection just closes.
        let mut buf = Vec::new();
        let _ = raw.s.read_to_end(&mut buf);
        assert!(buf.is_empty(), "{:?}", String::from_utf8_lossy(&buf));
        assert_eq!(
            p.wait_exit(Duration::from_secs(10)),
            Some(0),
            "{}",
            p.log_text()
        );
        assert!(other.closed(), "other clients are disconnected");
        assert!(port_closed(p.port));
    }
}

#[test]
fn sigterm_exits_zero_gracefully() {
    for mut p in [Proc::picket(&[]), Proc::redis(&[])] {
        let mut c = p.conn();
        cmd(&mut c, &["SET", "k", "v"]).unwrap();
        p.signal("TERM");
        assert_eq!(
            p.wait_exit(Duration::from_secs(10)),
            Some(0),
            "{}",
            p.log_text()
        );
        assert!(port_closed(p.port));
        let log = p.log_text();
        assert!(log.contains("SIGTERM"), "the log says why: {log}");
    }
}

#[test]
fn redis_cli_talks_to_picket_including_raw_and_pipe_mode() {
    let p = Proc::picket(&[]);
    assert_eq!(p.cli(&["ping"]), "PONG\n");
    assert_eq!(p.cli(&["set", "greeting", "hello world"]), "OK\n");
    assert_eq!(p.cli(&["--no-raw", "get", "greeting"]), "\"hello world\"\n");
    assert_eq!(p.cli(&["--raw", "get", "greeting"]), "hello world\n");
    assert_eq!(p.cli(&["--raw", "incr", "n"]), "1\n");
    assert_eq!(p.cli(&["--no-raw", "get", "missing"]), "(nil)\n");
    assert!(p.cli(&["info", "server"]).contains("redis_version:7.0.15"));

    // Mass insertion: a RESP file through `redis-cli --pipe`.
    let file = p.path().join("mass.txt");
    let mut data = Vec::new();
    for i in 0..20_000 {
        let k = format!("key:{i:06}");
        let v = format!("value-{i}");
        data.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .as_bytes(),
        );
    }
    std::fs::write(&file, &data).unwrap();
    let port = p.port.to_string();
    let (code, out, errout) = tool(
        &["redis-cli", "-p", &port, "--pipe", "--pipe-timeout", "20"],
        Some(&file),
        60,
    );
    assert_eq!(code, 0, "{out}{errout}");
    assert!(out.contains("errors: 0, replies: 20000"), "{out}{errout}");
    let mut c = p.conn();
    assert_eq!(int(&mut c, &["DBSIZE"]), 20_000 + 2, "greeting and n too");
    assert_eq!(string(&mut c, &["GET", "key:012345"]), "value-12345");
}

#[test]
fn redis_benchmark_runs_set_and_get_without_errors() {
    let p = Proc::picket(&[]);
    let port = p.port.to_string();
    let (code, out, errout) = tool(
        &[
            "redis-benchmark",
            "-p",
            &port,
            "-t",
            "set,get",
            "-n",
            "10000",
            "--csv",
        ],
        None,
        120,
    );
    assert_eq!(code, 0, "{out}{errout}");
    assert!(
        !out.contains("rror") && !errout.contains("rror"),
        "{out}{errout}"
    );
    for t in ["\"SET\"", "\"GET\""] {
        let line = out
            .lines()
            .find(|l| l.starts_with(t))
            .unwrap_or_else(|| panic!("{t} in {out}"));
        let rps: f64 = line
            .split(',')
            .nth(1)
            .unwrap()
            .trim_matches('"')
            .parse()
            .unwrap();
        assert!(rps > 1000.0, "{line}");
    }
    let mut c = p.conn();
    assert_eq!(
        int(&mut c, &["STRLEN", "key:__rand_int__"]),
        3,
        "benchmark's SET wrote its 3-byte value"
    );
}

/// Secrets never reach SLOWLOG: AUTH, HELLO ... AUTH, ACL SETUSER and
/// CONFIG SET requirepass/masterauth/masteruser show `(redacted)` where
/// the secret was, as in redis-server 7.0, whose SLOWLOG is compared
/// argument by argument.
#[test]
fn slowlog_redacts_passwords_like_redis() {
    let run = |p: &Proc| -> Vec<Vec<String>> {
        let mut c = p.conn();
        cmd(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]).unwrap();
        cmd(&mut c, &["SLOWLOG", "RESET"]).unwrap();
        cmd(
            &mut c,
            &[
                "CONFIG",
                "SET",
                "masterauth",
                "s3cret-a",
                "maxmemory-samples",
                "5",
            ],
        )
        .unwrap();
        cmd(&mut c, &["ACL", "SETUSER", "default", "on", ">s3cret-b"]).unwrap();
        cmd(&mut c, &["AUTH", "default", "s3cret-b"]).unwrap();
        cmd(&mut c, &["HELLO", "2", "AUTH", "default", "s3cret-b"]).unwrap();
        let log = cmd(&mut c, &["SLOWLOG", "GET", "10"]).unwrap();
        let redis::Value::Array(entries) = log else {
            panic!("{log:?}")
        };
        let mut out: Vec<Vec<String>> = entries
            .into_iter()
            .map(|e| match e {
                redis::Value::Array(f) => common::data::strs(f[3].clone()),
                e => panic!("{e:?}"),
            })
            .filter(|argv| argv[0] != "SLOWLOG")
            .collect();
        out.reverse();
        out
    };
    let picket = run(&Proc::picket(&[]));
    let redis = run(&Proc::redis(&[]));
    let text = format!("{picket:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(picket.len(), 4, "{text}");
    assert_eq!(
        picket[0],
        [
            "CONFIG",
            "SET",
            "masterauth",
            "(redacted)",
            "maxmemory-samples",
            "5"
        ]
    );
    assert_eq!(picket, redis);
}
