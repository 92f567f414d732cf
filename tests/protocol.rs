//! The wire protocol against a real picket-server: malformed RESP, limits,
//! inline commands, pipelining, binary safety, RESP3, authentication,
//! idle timeouts and maxclients.
//!
//! Most checks run against Debian's redis-server 7.0 as well (`on_both`), so
//! the expected bytes are Redis's own, not our reading of its source.

mod common;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{cmd, err, Proc, Raw};
use redis::Value;

/// Runs `check` against picket-server and against redis-server started with
/// the same arguments.
fn on_both(args: &[&str], check: impl Fn(&Proc, &str)) {
    let p = Proc::picket(args);
    check(&p, "picket");
    drop(p);
    let r = Proc::redis(args);
    check(&r, "redis");
}

/// Reads until EOF or `limit`, returning everything that arrived and whether
/// the peer closed.
fn read_to_close(raw: &mut Raw, limit: Duration) -> (Vec<u8>, bool) {
    raw.s
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    let mut acc = Vec::new();
    let mut buf = vec![0u8; 65536];
    while start.elapsed() < limit {
        match raw.s.read(&mut buf) {
            Ok(0) => return (acc, true),
            Ok(n) => acc.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (acc, true),
            Err(_) => {}
        }
    }
    (acc, false)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Sends `req` on a fresh connection and expects exactly `reply` followed by
/// the server closing that connection, while another client keeps working.
fn expect_protocol_error(p: &Proc, who: &str, req: &[u8], reply: &str) {
    let mut bystander = p.raw();
    let mut raw = p.raw();
    raw.send(req);
    let (got, closed) = read_to_close(&mut raw, Duration::from_secs(5));
    assert_eq!(text(&got), reply, "{who}: reply to {:?}", text(req));
    assert!(closed, "{who}: connection stays open after {:?}", text(req));
    // PING answers NOAUTH before AUTH when a password is set: either way the
    // other client is served.
    let pong = text(&bystander.roundtrip(b"PING\r\n"));
    assert!(
        pong == "+PONG\r\n" || pong == "-NOAUTH Authentication required.\r\n",
        "{who}: other clients are still served: {pong:?}"
    );
}

#[test]
fn malformed_requests_get_the_exact_protocol_error_and_only_that_connection_closes() {
    on_both(&[], |p, who| {
        let cases: &[(&[u8], &str)] = &[
            (
                b"*x\r\n",
                "-ERR Protocol error: invalid multibulk length\r\n",
            ),
            (
                b"*1\r\n$x\r\n",
                "-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                b"*1\r\n$-1\r\n",
                "-ERR Protocol error: invalid bulk length\r\n",
            ),
            (
                b"*1\r\nx\r\n",
                "-ERR Protocol error: expected '$', got 'x'\r\n",
            ),
            (
                b"*2\r\n$3\r\nGET\r\n:1\r\n",
                "-ERR Protocol error: expected '$', got ':'\r\n",
            ),
            (
                b"SET k \"abc\r\n",
                "-ERR Protocol error: unbalanced quotes in request\r\n",
            ),
            // A reply for what came before the bad request is still sent.
            (
                b"PING\r\n*1\r\n$x\r\n",
                "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
            ),
        ];
        for (req, reply) in cases {
            expect_protocol_error(p, who, req, reply);
        }
        let inline = vec![b'a'; 70 * 1024];
        expect_protocol_error(
            p,
            who,
            &inline,
            "-ERR Protocol error: too big inline request\r\n",
        );
        let mut mbulk = b"*".to_vec();
        mbulk.extend(std::iter::repeat_n(b'1', 70 * 1024));
        expect_protocol_error(
            p,
            who,
            &mbulk,
            "-ERR Protocol error: too big mbulk count string\r\n",
        );
    });
}

#[test]
fn a_declared_bulk_longer_than_proto_max_bulk_len_is_a_protocol_error() {
    // 1mb is the smallest value Redis accepts for proto-max-bulk-len.
    on_both(&["--proto-max-bulk-len", "1mb"], |p, who| {
        expect_protocol_error(
            p,
            who,
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        );
        // Exactly the limit is accepted.
        let mut c = p.conn();
        let v = "x".repeat(1024 * 1024);
        assert_eq!(
            cmd(&mut c, &["SET", "k", &v]).unwrap(),
            Value::Okay,
            "{who}"
        );
        assert_eq!(
            cmd(&mut c, &["STRLEN", "k"]).unwrap(),
            Value::Int(1024 * 1024),
            "{who}"
        );
    });
}

#[test]
fn unauthenticated_clients_may_send_at_most_ten_arguments_of_sixteen_kib() {
    on_both(&["--requirepass", "s3cret-pw"], |p, who| {
        expect_protocol_error(
            p,
            who,
            b"*11\r\n",
            "-ERR Protocol error: unauthenticated multibulk length\r\n",
        );
        expect_protocol_error(
            p,
            who,
            b"*1\r\n$16385\r\n",
            "-ERR Protocol error: unauthenticated bulk length\r\n",
        );
        // At the limits the request is parsed and then refused for auth.
        let mut raw = p.raw();
        let mut req = b"*10\r\n$4\r\nMGET\r\n".to_vec();
        for _ in 0..9 {
            req.extend_from_slice(b"$1\r\nx\r\n");
        }
        assert_eq!(
            text(&raw.roundtrip(&req)),
            "-NOAUTH Authentication required.\r\n",
            "{who}"
        );
        let big = "y".repeat(16384);
        let req = format!("*2\r\n$3\r\nGET\r\n$16384\r\n{big}\r\n");
        assert_eq!(
            text(&raw.roundtrip(req.as_bytes())),
            "-NOAUTH Authentication required.\r\n",
            "{who}"
        );
        // Once authenticated the limits are the normal ones.
        assert_eq!(text(&raw.roundtrip(b"AUTH s3cret-pw\r\n")), "+OK\r\n");
        let mut req = b"*12\r\n$4\r\nMSET\r\n".to_vec();
        for i in 0..11 {
            let arg = if i == 10 { big.as_str() } else { "v" };
            req.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        // 11 arguments after MSET is odd: wrong arity, but no protocol error.
        assert_eq!(
            text(&raw.roundtrip(&req)),
            "-ERR wrong number of arguments for 'mset' command\r\n",
            "{who}"
        );
    });
}

#[test]
fn inline_commands_are_split_like_redis_cli_input() {
    on_both(&[], |p, who| {
        let mut raw = p.raw();
        assert_eq!(text(&raw.roundtrip(b"PING\r\n")), "+PONG\r\n", "{who}");
        assert_eq!(text(&raw.roundtrip(b"PING\n")), "+PONG\r\n", "{who}");
        assert_eq!(
            text(&raw.roundtrip(b"SET a \"b c\"\r\n")),
            "+OK\r\n",
            "{who}"
        );
        assert_eq!(text(&raw.roundtrip(b"GET a\r\n")), "$3\r\nb c\r\n", "{who}");
        assert_eq!(
            text(&raw.roundtrip(b"SET 'x y' \"\\x41\\n\"\r\nGET 'x y'\r\n")),
            "+OK\r\n$2\r\nA\n\r\n",
            "{who}"
        );
        // Empty lines and empty multibulks are skipped without a reply.
        assert_eq!(
            text(&raw.roundtrip(b"\r\n   \r\n*0\r\n*-1\r\nPING\r\n")),
            "+PONG\r\n",
            "{who}"
        );
    });
}

#[test]
fn ten_thousand_pipelined_commands_in_one_write_get_ten_thousand_replies_in_order() {
    on_both(&[], |p, who| {
        let mut raw = p.raw();
        let mut req = Vec::new();
        for i in 0..10_000 {
            if i % 2 == 0 {
                req.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$3\r\nctr\r\n");
            } else {
                req.extend_from_slice(b"INCR ctr\r\n");
            }
        }
        raw.send(&req);
        let mut expected = String::new();
        for i in 1..=10_000 {
            expected.push_str(&format!(":{i}\r\n"));
        }
        let start = Instant::now();
        let mut got = Vec::new();
        while got.len() < expected.len() && start.elapsed() < Duration::from_secs(10) {
            let chunk = raw.read_some();
            if chunk.is_empty() {
                break;
            }
            got.extend(chunk);
        }
        assert_eq!(got.len(), expected.len(), "{who}: reply bytes");
        assert!(text(&got) == expected, "{who}: replies out of order");
    });
}

#[test]
fn keys_and_values_are_binary_safe() {
    on_both(&[], |p, who| {
        let key = b"k\0\r\n\xff".to_vec();
        let val = b"\r\n\0v\x00\r\n$3\r\n".to_vec();
        let mut raw = p.raw();
        let mut req = format!("*3\r\n$3\r\nSET\r\n${}\r\n", key.len()).into_bytes();
        req.extend_from_slice(&key);
        req.extend_from_slice(format!("\r\n${}\r\n", val.len()).as_bytes());
        req.extend_from_slice(&val);
        req.extend_from_slice(b"\r\n");
        assert_eq!(text(&raw.roundtrip(&req)), "+OK\r\n", "{who}");
        let mut c = p.conn();
        let got: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut c).unwrap();
        assert_eq!(got, val, "{who}");
        let n: i64 = redis::cmd("STRLEN").arg(&key).query(&mut c).unwrap();
        assert_eq!(n, val.len() as i64, "{who}");
        let missing: Option<Vec<u8>> = redis::cmd("GET").arg(b"k\0").query(&mut c).unwrap();
        assert_eq!(missing, None, "{who}");
    });
}

#[test]
fn unknown_commands_and_wrong_arity_get_redis_error_texts() {
    on_both(&[], |p, who| {
        let mut c = p.conn();
        assert_eq!(
            err(&mut c, &["NOSUCHCMD", "a", "b c"]),
            "ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b c' ",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["nosuch"]),
            "ERR unknown command 'nosuch', with args beginning with: ",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["GET"]),
            "ERR wrong number of arguments for 'get' command",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["get", "a", "b"]),
            "ERR wrong number of arguments for 'get' command",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["CONFIG", "NOSUCH"]),
            "ERR unknown subcommand 'NOSUCH'. Try CONFIG HELP.",
            "{who}"
        );
        assert_eq!(
            err(&mut c, &["CONFIG", "GET"]),
            "ERR wrong number of arguments for 'config|get' command",
            "{who}"
        );
        // The connection is still usable after errors.
        assert_eq!(
            cmd(&mut c, &["PING"]).unwrap(),
            Value::SimpleString("PONG".into())
        );
    });
}

#[test]
fn a_client_sending_an_endless_bulk_is_closed_at_the_query_buffer_limit() {
    // 1mb is the smallest client-query-buffer-limit Redis accepts.
    on_both(&["--client-query-buffer-limit", "1mb"], |p, who| {
        let mut bystander = p.conn();
        let mut raw = p.raw();
        raw.s
            .set_write_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let _ = raw
            .s
            .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n");
        let chunk = vec![b'z'; 64 * 1024];
        let start = Instant::now();
        let mut sent = 0usize;
        // Keep sending (up to 64 MiB or 10 s) until the server hangs up.
        while sent < 64 << 20 && start.elapsed() < Duration::from_secs(10) {
            match raw.s.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        let (_, closed) = read_to_close(&mut raw, Duration::from_secs(5));
        assert!(closed, "{who}: still open after {sent} bytes");
        assert!(sent < 64 << 20, "{who}: accepted {sent} bytes");
        assert_eq!(
            cmd(&mut bystander, &["GET", "k"]).unwrap(),
            Value::Nil,
            "{who}"
        );
    });
}

#[test]
fn hello_3_switches_to_resp3_and_hello_4_is_noproto() {
    on_both(&[], |p, who| {
        let mut raw = p.raw();
        let hello = text(&raw.read_until_after(b"HELLO 3\r\n", b"*0\r\n"));
        assert!(
            hello.starts_with("%7\r\n"),
            "{who}: HELLO 3 is a map: {hello}"
        );
        for field in [
            "$6\r\nserver\r\n",
            "$7\r\nversion\r\n",
            "$5\r\nproto\r\n:3\r\n",
            "$2\r\nid\r\n:",
            "$4\r\nmode\r\n$10\r\nstandalone\r\n",
            "$4\r\nrole\r\n$6\r\nmaster\r\n",
            "$7\r\nmodules\r\n*0\r\n",
        ] {
            assert!(
                hello.contains(field),
                "{who}: {field:?} missing from {hello}"
            );
        }
        // RESP3 null.
        assert_eq!(text(&raw.roundtrip(b"GET missing\r\n")), "_\r\n");
        // CONFIG GET is a map in RESP3.
        assert_eq!(
            text(&raw.read_until_after(b"CONFIG GET maxmemory\r\n", b"0\r\n")),
            "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
        );
        // Doubles, where a command returning one is built in.
        let zadd = text(&raw.roundtrip(b"ZADD z 1.5 m\r\n"));
        if !zadd.starts_with("-ERR unknown command") {
            assert_eq!(zadd, ":1\r\n");
            assert_eq!(text(&raw.roundtrip(b"ZSCORE z m\r\n")), ",1.5\r\n");
        }
        assert_eq!(
            text(&raw.roundtrip(b"HELLO 4\r\n")),
            "-NOPROTO unsupported protocol version\r\n"
        );
        // Still RESP3 after the refused HELLO.
        assert_eq!(text(&raw.roundtrip(b"GET missing\r\n")), "_\r\n");
        let hello2 = text(&raw.read_until_after(b"HELLO 2\r\n", b"*0\r\n"));
        assert!(
            hello2.starts_with("*14\r\n"),
            "HELLO 2 is an array: {hello2}"
        );
        assert_eq!(text(&raw.roundtrip(b"GET missing\r\n")), "$-1\r\n");
    });
}

#[test]
fn requirepass_gates_commands_until_auth_and_reset_forgets_it() {
    on_both(&["--requirepass", "s3cret-pw"], |p, who| {
        let mut raw = p.raw();
        assert_eq!(
            text(&raw.roundtrip(b"GET a\r\n")),
            "-NOAUTH Authentication required.\r\n",
            "{who}"
        );
        assert_eq!(
            text(&raw.roundtrip(b"AUTH wrong\r\n")),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "{who}"
        );
        assert_eq!(
            text(&raw.roundtrip(b"AUTH default wrong\r\n")),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "{who}"
        );
        assert_eq!(
            text(&raw.roundtrip(b"HELLO 3\r\n")),
            "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n",
            "{who}"
        );
        assert_eq!(
            text(&raw.roundtrip(b"AUTH default s3cret-pw\r\n")),
            "+OK\r\n",
            "{who}"
        );
        assert_eq!(text(&raw.roundtrip(b"GET a\r\n")), "$-1\r\n", "{who}");
        assert_eq!(text(&raw.roundtrip(b"RESET\r\n")), "+RESET\r\n", "{who}");
        assert_eq!(
            text(&raw.roundtrip(b"GET a\r\n")),
            "-NOAUTH Authentication required.\r\n",
            "{who}"
        );
        assert_eq!(
            text(&raw.roundtrip(b"AUTH s3cret-pw\r\n")),
            "+OK\r\n",
            "{who}"
        );
        assert_eq!(text(&raw.roundtrip(b"GET a\r\n")), "$-1\r\n", "{who}");

        // HELLO 3 AUTH authenticates and switches protocol in one step.
        let mut raw = p.raw();
        let hello = text(&raw.read_until_after(b"HELLO 3 AUTH default s3cret-pw\r\n", b"*0\r\n"));
        assert!(hello.starts_with("%7\r\n"), "{who}: {hello}");
        assert_eq!(text(&raw.roundtrip(b"GET a\r\n")), "_\r\n", "{who}");
        let mut raw = p.raw();
        assert_eq!(
            text(&raw.roundtrip(b"HELLO 3 AUTH default nope\r\n")),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "{who}"
        );
    });
}

#[test]
fn idle_clients_are_closed_after_timeout_seconds() {
    on_both(&["--timeout", "1"], |p, who| {
        let mut idle = p.raw();
        assert_eq!(text(&idle.roundtrip(b"PING\r\n")), "+PONG\r\n");
        let start = Instant::now();
        let (_, closed) = read_to_close(&mut idle, Duration::from_secs(6));
        assert!(closed, "{who}: idle client not closed within 6 s");
        assert!(
            start.elapsed() >= Duration::from_millis(900),
            "{who}: closed too early ({:?})",
            start.elapsed()
        );
        // A client that keeps talking stays.
        let mut busy = p.raw();
        for _ in 0..8 {
            assert_eq!(text(&busy.roundtrip(b"PING\r\n")), "+PONG\r\n", "{who}");
            std::thread::sleep(Duration::from_millis(300));
        }
    });
}

#[test]
fn maxclients_rejects_the_connection_over_the_limit() {
    on_both(&["--maxclients", "2"], |p, who| {
        // The readiness probe's connection may still be counted for a moment:
        // retry until two clients are in (bounded).
        let start = Instant::now();
        let (mut a, b) = loop {
            let mut a = p.raw();
            let mut b = p.raw();
            let ra = text(&a.roundtrip(b"PING\r\n"));
            let rb = text(&b.roundtrip(b"PING\r\n"));
            if ra == "+PONG\r\n" && rb == "+PONG\r\n" {
                break (a, b);
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{who}: two clients never admitted: {ra:?} {rb:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut third = p.raw();
        let (got, closed) = read_to_close(&mut third, Duration::from_secs(5));
        assert_eq!(
            text(&got),
            "-ERR max number of clients reached\r\n",
            "{who}"
        );
        assert!(closed, "{who}");
        assert_eq!(text(&a.roundtrip(b"PING\r\n")), "+PONG\r\n", "{who}");
        drop(b.s.shutdown(std::net::Shutdown::Both));
        drop(b);
        // The freed slot can be taken again (bounded retry while the server
        // notices the close).
        let start = Instant::now();
        loop {
            let mut c = p.raw();
            if text(&c.roundtrip(b"PING\r\n")) == "+PONG\r\n" {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "{who}");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
}

#[test]
fn the_password_never_appears_in_the_log() {
    let p = Proc::picket(&["--requirepass", "Hunter2-pw", "--loglevel", "debug"]);
    let mut raw = p.raw();
    raw.roundtrip(b"AUTH Hunter2-wrong\r\n");
    raw.roundtrip(b"AUTH Hunter2-pw\r\n");
    raw.roundtrip(b"CONFIG SET requirepass Hunter2-new\r\n");
    raw.roundtrip(b"CONFIG GET requirepass\r\n");
    let mut raw2 = p.raw();
    raw2.roundtrip(b"HELLO 3 AUTH default Hunter2-new\r\n");
    raw2.send(b"*1\r\n$x\r\n");
    let _ = read_to_close(&mut raw2, Duration::from_secs(2));
    // Let the log writer catch up (it is synchronous, but be generous).
    std::thread::sleep(Duration::from_millis(200));
    let log = p.log_text();
    assert!(!log.is_empty(), "the server logs something at debug level");
    assert!(
        !log.contains("Hunter2"),
        "password leaked into the log:\n{log}"
    );
    let mut c = p.conn();
    assert_eq!(
        err(&mut c, &["GET", "x"]),
        "NOAUTH Authentication required."
    );
}

/// `Raw` helper for multi-line replies: send and read until the reply ends
/// with `suffix`.
trait ReadUntilAfter {
    fn read_until_after(&mut self, req: &[u8], suffix: &[u8]) -> Vec<u8>;
}

impl ReadUntilAfter for Raw {
    fn read_until_after(&mut self, req: &[u8], suffix: &[u8]) -> Vec<u8> {
        self.send(req);
        self.read_until(suffix)
    }
}

/// A password rotation on the default user, as redis-server 7.0 does it:
/// ACL SETUSER adds the new password beside the old (a connection with
/// either logs in), removes the old; bad rules are refused with Redis's
/// message and change nothing; ACL LIST shows both hashes as Redis does;
/// CONFIG SET requirepass makes it one password again.
#[test]
fn acl_setuser_rotates_the_default_users_password_as_redis_does() {
    on_both(&["--requirepass", "old-pw"], |p, who| {
        let login = |pw: &str| {
            let mut raw = p.raw();
            text(&raw.roundtrip(format!("AUTH {pw}\r\n").as_bytes()))
        };
        let mut admin = p.raw();
        assert_eq!(
            text(&admin.roundtrip(b"AUTH old-pw\r\n")),
            "+OK\r\n",
            "{who}"
        );
        assert_eq!(
            text(&admin.roundtrip(b"ACL SETUSER default >new-pw\r\n")),
            "+OK\r\n",
            "{who}"
        );
        assert_eq!(login("old-pw"), "+OK\r\n", "{who}");
        assert_eq!(login("new-pw"), "+OK\r\n", "{who}");
        // sha256("old-pw") and sha256("new-pw"), in the order added.
        let list = text(&admin.roundtrip(b"ACL LIST\r\n"));
        let hashes: Vec<&str> = list
            .split_whitespace()
            .filter(|w| w.starts_with('#'))
            .collect();
        assert_eq!(hashes.len(), 2, "{who}: {list}");
        assert!(list.contains("user default on #"), "{who}: {list}");
        assert_eq!(
            text(&admin.roundtrip(b"ACL SETUSER default <not-there\r\n")),
            "-ERR Error in ACL SETUSER modifier '<not-there': The password you are trying to remove from the user does not exist\r\n",
            "{who}"
        );
        assert_eq!(
            text(&admin.roundtrip(b"ACL SETUSER default <old-pw\r\n")),
            "+OK\r\n",
            "{who}"
        );
        assert_eq!(
            login("old-pw"),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "{who}"
        );
        assert_eq!(login("new-pw"), "+OK\r\n", "{who}");
        // The connection that logged in with the old one stays logged in.
        assert_eq!(
            text(&admin.roundtrip(b"ACL WHOAMI\r\n")),
            "$7\r\ndefault\r\n",
            "{who}"
        );
        assert_eq!(
            text(&admin.roundtrip(b"CONFIG SET requirepass third-pw\r\n")),
            "+OK\r\n",
            "{who}"
        );
        assert_eq!(
            login("new-pw"),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "{who}"
        );
        assert_eq!(login("third-pw"), "+OK\r\n", "{who}");
        assert_eq!(
            text(&admin.roundtrip(b"ACL DELUSER default\r\n")),
            "-ERR The 'default' user cannot be removed\r\n",
            "{who}"
        );
    });
}

/// A declared bulk length is not trusted for allocation: eight clients
/// that each announce a 512 MB argument (proto-max-bulk-len allows it)
/// and send one byte of it cost kilobytes, not 4 GB, and everyone else is
/// served meanwhile.
#[test]
fn a_declared_bulk_length_reserves_only_what_arrived() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let used = |c: &mut redis::Connection| -> u64 {
        let info: String = redis::cmd("INFO").arg("memory").query(c).unwrap();
        let line = info.lines().find_map(|l| l.strip_prefix("used_memory:"));
        line.expect("used_memory").trim().parse().unwrap()
    };
    let before = used(&mut c);
    let mut raws: Vec<Raw> = (0..8).map(|_| p.raw()).collect();
    for r in &mut raws {
        r.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nx");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        cmd(&mut c, &["PING"]).unwrap(),
        redis::Value::SimpleString("PONG".into())
    );
    let grown = used(&mut c).saturating_sub(before);
    assert!(grown < 16 << 20, "used_memory grew by {grown} bytes");
    // The requests are still pending, not refused.
    let clients: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
    assert_eq!(clients.lines().count(), 9, "{clients}");
}
