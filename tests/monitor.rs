//! MONITOR against real picket-server processes, side by side with
//! redis-server 7.0: which commands a monitor sees, in which order, and
//! how each line is formatted.

mod common;
mod rawresp;

use common::Proc;
use rawresp::Session;

/// Starts a monitor on `port`, runs `cmds` on another connection (each as
/// a command reply read back, optionally after AUTH with `pass`), and
/// returns the monitor lines without their timestamp and client address.
fn monitor_lines(port: u16, pass: Option<&str>, cmds: &[&[&str]]) -> Vec<String> {
    let mut m = Session::connect(port);
    let mut c = Session::connect(port);
    if let Some(pw) = pass {
        assert_eq!(m.call(&["AUTH", pw]), b"+OK\r\n");
    }
    assert_eq!(m.call(&["MONITOR"]), b"+OK\r\n");
    for args in cmds {
        c.call(args);
    }
    c.call(&["ECHO", "end-of-script"]);
    let mut lines = Vec::new();
    loop {
        let frame = String::from_utf8(m.frames(1)).unwrap();
        let line = normalize(&frame);
        let end = line.contains("end-of-script");
        lines.push(line);
        if end {
            return lines;
        }
    }
}

/// `+1700000000.123456 [0 127.0.0.1:5555] "SET" "k"` → `[0] "SET" "k"`,
/// checking the parts it drops have Redis's shape.
fn normalize(frame: &str) -> String {
    let body = frame
        .strip_prefix('+')
        .and_then(|f| f.strip_suffix("\r\n"))
        .unwrap_or_else(|| panic!("not a status line: {frame:?}"));
    let (time, rest) = body.split_once(' ').unwrap();
    let (secs, micros) = time.split_once('.').unwrap();
    assert!(
        secs.parse::<u64>().is_ok() && micros.len() == 6,
        "{frame:?}"
    );
    let (addr, cmd) = rest.split_once("] ").unwrap();
    let (db, ip) = addr.trim_start_matches('[').split_once(' ').unwrap();
    assert!(ip.starts_with("127.0.0.1:"), "{frame:?}");
    format!("[{db}] {cmd}")
}

#[test]
fn a_monitor_sees_other_clients_commands_as_redis_shows_them() {
    let script: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["GET", "quote\"and\\back\nslash\x01"],
        // Rejected before running: never shown.
        &["NOSUCHCOMMAND"],
        &["GET"],
        // Admin commands are hidden.
        &["CONFIG", "GET", "maxmemory"],
        // Queued commands show when EXEC runs them, before EXEC.
        &["MULTI"],
        &["SET", "a", "1"],
        &["INCR", "a"],
        &["EXEC"],
        &["SELECT", "2"],
        &["PING"],
        // A failing command is still shown.
        &["INCR", "nope", "extra"],
        &["SET", "s", "x"],
        &["INCR", "s"],
        &["PUBLISH", "ch", "m"],
    ];
    let picket = Proc::picket(&[]);
    let redis = Proc::redis(&[]);
    let ours = monitor_lines(picket.port, None, script);
    assert_eq!(ours, monitor_lines(redis.port, None, script));
    assert_eq!(ours[0], "[0] \"SET\" \"k\" \"v\"");
    assert_eq!(ours[1], "[0] \"GET\" \"quote\\\"and\\\\back\\nslash\\x01\"");
    assert_eq!(
        &ours[2..6],
        [
            "[0] \"MULTI\"",
            "[0] \"SET\" \"a\" \"1\"",
            "[0] \"INCR\" \"a\"",
            "[0] \"EXEC\""
        ]
    );
    assert_eq!(ours[6], "[2] \"SELECT\" \"2\"");
}

#[test]
fn auth_reaches_a_monitor_only_with_its_arguments_redacted() {
    let script: &[&[&str]] = &[
        &["AUTH", "secret"],
        &["AUTH", "default", "secret"],
        &["AUTH", "wrong"],
        &["HELLO", "2", "AUTH", "default", "secret", "SETNAME", "me"],
        &["SET", "after", "auth"],
    ];
    let picket = Proc::picket(&["--requirepass", "secret"]);
    let redis = Proc::redis(&["--requirepass", "secret"]);
    let ours = monitor_lines(picket.port, Some("secret"), script);
    assert_eq!(ours, monitor_lines(redis.port, Some("secret"), script));
    assert_eq!(ours[0], "[0] \"AUTH\" \"(redacted)\"");
    assert_eq!(ours[2], "[0] \"AUTH\" \"(redacted)\"");
    assert_eq!(
        ours[3],
        "[0] \"HELLO\" \"2\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"me\""
    );
    assert!(ours.iter().all(|l| !l.contains("secret")), "{ours:?}");
}

#[test]
fn a_monitor_sees_its_own_commands_and_stops_after_reset() {
    let p = Proc::picket(&[]);
    let mut m = Session::connect(p.port);
    assert_eq!(m.call(&["MONITOR"]), b"+OK\r\n");
    m.send(&["PING"]);
    // Its own PING reply, then the line for it.
    assert_eq!(m.frames(1), b"+PONG\r\n");
    let line = String::from_utf8(m.frames(1)).unwrap();
    assert_eq!(normalize(&line), "[0] \"PING\"");
    // RESET leaves monitor mode before it would be shown, as in Redis.
    assert_eq!(m.call(&["RESET"]), b"+RESET\r\n");
    let mut c = Session::connect(p.port);
    c.call(&["SET", "k", "v"]);
    assert!(m.quiet_for(std::time::Duration::from_millis(200)));
}
