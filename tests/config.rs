//! Configuration end to end: config files (quotes, comments, include),
//! command-line overrides, start-up errors, CONFIG GET/SET/REWRITE/RESETSTAT.
//!
//! Where Redis defines the reply, the check runs against Debian's
//! redis-server 7.0 too (`on_both`).

mod common;
use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{cmd, err, picket_bin, Proc};
use redis::Value;

fn on_both(args: &[&str], check: impl Fn(&Proc, &str)) {
    let p = Proc::picket(args);
    check(&p, "picket");
    drop(p);
    let r = Proc::redis(args);
    check(&r, "redis");
}

/// CONFIG GET as a name -> value map (order is not defined).
fn config_get(c: &mut redis::Connection, pats: &[&str]) -> HashMap<String, String> {
    let mut q = redis::cmd("CONFIG");
    q.arg("GET");
    for p in pats {
        q.arg(*p);
    }
    let v: Vec<String> = q.query(c).unwrap();
    v.chunks(2)
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect()
}

fn get1(c: &mut redis::Connection, name: &str) -> String {
    config_get(c, &[name])
        .remove(name)
        .unwrap_or_else(|| panic!("CONFIG GET {name} returned nothing"))
}

/// Runs a command that must exit by itself within `limit`; returns its exit
/// code and combined output. Kills it (by its own PID) if it does not.
fn run_bounded(mut cmd: Command, limit: Duration) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let start = Instant::now();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut s = String::new();
    std::fs::File::open(&out_path)
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    (code, s)
}

#[test]
fn a_config_file_with_quotes_comments_and_include_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("extra.conf");
    std::fs::write(
        &inc,
        "# included file\nmaxmemory-policy allkeys-lru\nslowlog-max-len 77\n",
    )
    .unwrap();
    let conf = format!(
        "# picket test config\n\
         \n\
         maxmemory 10mb\n\
         \x20  # an indented comment\n\
         save \"\"\n\
         requirepass \"pa ss\\\"word\"\n\
         slowlog-log-slower-than '12345'\n\
         include {}\n\
         hz 20\n",
        inc.display()
    );
    let p = Proc::picket_with_conf(&conf, &["--hz", "15"]);
    let mut c = p.conn();
    assert_eq!(
        err(&mut c, &["GET", "x"]),
        "NOAUTH Authentication required."
    );
    assert_eq!(
        cmd(&mut c, &["AUTH", "pa ss\"word"]).unwrap(),
        Value::Okay,
        "double-quoted value with an escaped quote"
    );
    assert_eq!(get1(&mut c, "maxmemory"), "10485760");
    assert_eq!(get1(&mut c, "save"), "");
    assert_eq!(get1(&mut c, "slowlog-log-slower-than"), "12345");
    assert_eq!(get1(&mut c, "maxmemory-policy"), "allkeys-lru", "include");
    assert_eq!(get1(&mut c, "slowlog-max-len"), "77", "include");
    assert_eq!(get1(&mut c, "hz"), "15", "the command line wins");
    // The harness passes --port/--bind/--dir after the file: they win too.
    assert_eq!(get1(&mut c, "port"), p.port.to_string());
}

#[test]
fn an_unknown_directive_stops_start_up_naming_file_line_and_directive() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "# ok\nport 0\nsave \"\"\nno-such-directive 1 2\n").unwrap();
    let mut c = Command::new(picket_bin());
    c.arg(&conf).current_dir(dir.path());
    let (code, out) = run_bounded(c, Duration::from_secs(10));
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains(conf.to_str().unwrap()),
        "names the file: {out}"
    );
    assert!(out.contains("line 4"), "names the line: {out}");
    assert!(out.contains("no-such-directive 1 2"), "quotes it: {out}");
    assert!(
        out.contains("Bad directive or wrong number of arguments"),
        "{out}"
    );
}

#[test]
fn a_malformed_value_stops_start_up_with_redis_message() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("maxmemory lots\n", "argument must be a memory value"),
        (
            "maxmemory-policy sometimes\n",
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
        ),
        ("requirepass \"unbalanced\n", "Unbalanced quotes in configuration line"),
        ("timeout -5\n", "argument must be between 0 and 2147483647 inclusive"),
    ];
    for (line, msg) in cases {
        let conf = dir.path().join("bad.conf");
        std::fs::write(&conf, format!("port 0\n{line}")).unwrap();
        let mut c = Command::new(picket_bin());
        c.arg(&conf).current_dir(dir.path());
        let (code, out) = run_bounded(c, Duration::from_secs(10));
        assert_ne!(code, Some(0), "{line}: {out}");
        assert!(out.contains("line 2"), "{line}: {out}");
        assert!(out.contains(line.trim_end()), "{line}: {out}");
        assert!(out.contains(msg), "{line}: {out}");
    }
    // A bad command-line override stops start-up as well.
    let mut c = Command::new(picket_bin());
    c.args(["--port", "0", "--maxmemory", "lots"])
        .current_dir(dir.path());
    let (code, out) = run_bounded(c, Duration::from_secs(10));
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("maxmemory lots"), "{out}");
    assert!(out.contains("argument must be a memory value"), "{out}");
    // A missing config file too.
    let mut c = Command::new(picket_bin());
    c.arg(dir.path().join("missing.conf"))
        .current_dir(dir.path());
    let (code, out) = run_bounded(c, Duration::from_secs(10));
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("missing.conf"), "{out}");
}

#[test]
fn config_get_takes_patterns_and_several_names() {
    on_both(&["--maxmemory", "5mb", "--hz", "12"], |p, who| {
        let mut c = p.conn();
        let m = config_get(&mut c, &["maxmemory"]);
        assert_eq!(m.len(), 1, "{who}");
        assert_eq!(m["maxmemory"], "5242880", "{who}");
        let m = config_get(&mut c, &["maxmemory*"]);
        for k in ["maxmemory", "maxmemory-policy", "maxmemory-samples"] {
            assert!(m.contains_key(k), "{who}: {k} in {m:?}");
        }
        assert!(m.keys().all(|k| k.starts_with("maxmemory")), "{who}");
        let m = config_get(&mut c, &["hz", "port", "maxmemory", "HZ"]);
        assert_eq!(m.len(), 3, "{who}: duplicates collapse: {m:?}");
        assert_eq!(m["hz"], "12", "{who}");
        assert_eq!(m["port"], p.port.to_string(), "{who}");
        assert!(config_get(&mut c, &["no-such-param"]).is_empty(), "{who}");
        let m = config_get(&mut c, &["*max-*-entries*"]);
        assert!(!m.is_empty(), "{who}: glob in the middle");
        // Aliases resolve like Redis's.
        let m = config_get(&mut c, &["slave-read-only"]);
        assert_eq!(m.get("slave-read-only").map(String::as_str), Some("yes"));
    });
}

#[test]
fn config_set_applies_several_parameters_atomically_with_redis_errors() {
    on_both(&[], |p, who| {
        let mut c = p.conn();
        assert_eq!(
            cmd(
                &mut c,
                &[
                    "CONFIG",
                    "SET",
                    "maxmemory",
                    "10mb",
                    "maxmemory-policy",
                    "allkeys-lru"
                ]
            )
            .unwrap(),
            Value::Okay,
            "{who}"
        );
        assert_eq!(get1(&mut c, "maxmemory"), "10485760", "{who}");
        // One bad value: nothing changes.
        assert_eq!(
            err(
                &mut c,
                &[
                    "CONFIG",
                    "SET",
                    "maxmemory",
                    "20mb",
                    "maxmemory-policy",
                    "sometimes"
                ]
            ),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
            "{who}"
        );
        assert_eq!(get1(&mut c, "maxmemory"), "10485760", "{who}: atomic");
        assert_eq!(get1(&mut c, "maxmemory-policy"), "allkeys-lru", "{who}");
        assert_eq!(
            err(&mut c, &["CONFIG", "SET", "no-such-param", "1"]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'no-such-param'",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["CONFIG", "SET", "daemonize", "yes"]),
            "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["CONFIG", "SET", "maxmemory", "lots"]),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["CONFIG", "SET", "timeout", "-1"]),
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["CONFIG", "SET", "hz", "10", "hz", "11"]),
            "ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["CONFIG", "SET", "hz"]),
            "ERR wrong number of arguments for 'config|set' command",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["CONFIG", "SET", "hz", "10", "timeout"]),
            "ERR syntax error",
            "{who}"
        );
        // Names are case-insensitive.
        assert_eq!(
            cmd(&mut c, &["CONFIG", "SET", "MaxMemory", "1gb"]).unwrap(),
            Value::Okay,
            "{who}"
        );
        assert_eq!(get1(&mut c, "maxmemory"), "1073741824", "{who}");
    });
}

#[test]
fn config_rewrite_keeps_comments_and_a_restart_reads_the_new_values() {
    let conf = "# top comment\nmaxmemory 10mb\n# before hz\nhz 20\nsave \"\"\n";
    let p = Proc::picket_with_conf(conf, &[]);
    let file = p.path().join("picket.conf");
    let mut c = p.conn();
    assert_eq!(
        cmd(
            &mut c,
            &[
                "CONFIG",
                "SET",
                "hz",
                "33",
                "maxmemory-policy",
                "allkeys-lfu"
            ]
        )
        .unwrap(),
        Value::Okay
    );
    assert_eq!(cmd(&mut c, &["CONFIG", "REWRITE"]).unwrap(), Value::Okay);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("# top comment\n"), "{text}");
    assert!(text.contains("# before hz\n"), "{text}");
    assert!(text.contains("\nhz 33\n"), "{text}");
    assert!(!text.contains("hz 20"), "{text}");
    assert!(text.contains("maxmemory-policy allkeys-lfu"), "{text}");
    // The rewritten hz stays where the old line was: after its comment.
    assert!(
        text.find("# before hz").unwrap() < text.find("hz 33").unwrap(),
        "{text}"
    );
    drop(c);
    drop(p);

    // A new server started from the rewritten file reads the new values.
    let p2 = Proc::picket_with_conf(&text, &[]);
    let mut c = p2.conn();
    assert_eq!(get1(&mut c, "hz"), "33");
    assert_eq!(get1(&mut c, "maxmemory-policy"), "allkeys-lfu");
    assert_eq!(get1(&mut c, "maxmemory"), "10485760");
}

#[test]
fn config_rewrite_without_a_config_file_is_an_error() {
    on_both(&[], |p, who| {
        let mut c = p.conn();
        assert_eq!(
            err(&mut c, &["CONFIG", "REWRITE"]),
            "ERR The server is running without a config file",
            "{who}"
        );
    });
}

fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

#[test]
fn config_resetstat_zeroes_the_counters() {
    on_both(&[], |p, who| {
        let mut c = p.conn();
        for _ in 0..5 {
            cmd(&mut c, &["SET", "k", "v"]).unwrap();
        }
        let _ = cmd(&mut c, &["NOSUCH"]);
        let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
        let before: u64 = info_field(&info, "total_commands_processed")
            .unwrap()
            .parse()
            .unwrap();
        assert!(before >= 5, "{who}: {info}");
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut c)
            .unwrap();
        assert!(info.contains("cmdstat_set:calls=5,"), "{who}: {info}");
        assert_eq!(
            cmd(&mut c, &["CONFIG", "RESETSTAT"]).unwrap(),
            Value::Okay,
            "{who}"
        );
        let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
        let after: u64 = info_field(&info, "total_commands_processed")
            .unwrap()
            .parse()
            .unwrap();
        assert!(after <= 1, "{who}: {after}");
        assert_eq!(
            info_field(&info, "total_error_replies").as_deref(),
            Some("0"),
            "{who}"
        );
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut c)
            .unwrap();
        assert!(!info.contains("cmdstat_set:"), "{who}: {info}");
    });
}

/// `dir` and `dbfilename` are protected configs (Redis 7.0): CONFIG SET
/// refuses them with Redis's text unless `enable-protected-configs` is
/// `yes`, or `local` for a loopback client; the directive itself cannot
/// be changed at run time. Picket and redis-server answer alike.
#[test]
fn protected_configs_need_enable_protected_configs() {
    let elsewhere = tempfile::tempdir().unwrap();
    let path = elsewhere.path().to_str().unwrap().to_string();
    on_both(&[], |p, who| {
        let mut c = p.conn();
        for name in ["dir", "dbfilename"] {
            let value = if name == "dir" {
                path.as_str()
            } else {
                "x.rdb"
            };
            assert_eq!(
                err(&mut c, &["CONFIG", "SET", name, value]),
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - can't set protected config"),
                "{who}"
            );
        }
        assert_ne!(get1(&mut c, "dir"), path, "{who}");
        assert_eq!(get1(&mut c, "enable-protected-configs"), "no", "{who}");
        assert_eq!(
            err(&mut c, &["CONFIG", "SET", "enable-protected-configs", "yes"]),
            "ERR CONFIG SET failed (possibly related to argument 'enable-protected-configs') - can't set immutable config",
            "{who}"
        );
    });
    for setting in ["yes", "local"] {
        on_both(&["--enable-protected-configs", setting], |p, who| {
            let mut c = p.conn();
            let ok = cmd(
                &mut c,
                &["CONFIG", "SET", "dir", &path, "dbfilename", "x.rdb"],
            );
            assert_eq!(ok.unwrap(), Value::Okay, "{who} {setting}");
            // Redis reports the directory it changed into.
            let dir = std::fs::canonicalize(get1(&mut c, "dir")).unwrap();
            assert_eq!(dir, std::fs::canonicalize(&path).unwrap(), "{who}");
            assert_eq!(get1(&mut c, "dbfilename"), "x.rdb", "{who}");
        });
    }
}
