//! Pub/Sub against real picket-server processes: the redis crate's PubSub
//! API, raw RESP2/RESP3 bytes, and side-by-side scripts with redis-server.

mod common;
mod rawresp;

use std::time::{Duration, Instant};

use common::{cmd, err, Proc};
use rawresp::{run_script, step, Session};
use redis::Value;

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

/// Polls `f` every 20 ms for up to 5 s.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn channel_and_pattern_messages_reach_a_redis_crate_subscriber() {
    let p = Proc::picket(&[]);
    let client = redis::Client::open(p.url()).unwrap();
    let mut sub_conn = client.get_connection().unwrap();
    let mut sub = sub_conn.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sub.subscribe("news").unwrap();
    sub.psubscribe("n*").unwrap();

    let mut c = p.conn();
    assert_eq!(
        cmd(&mut c, &["PUBLISH", "news", "hello"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        cmd(&mut c, &["PUBLISH", "other", "x"]).unwrap(),
        Value::Int(0)
    );
    assert_eq!(
        cmd(&mut c, &["PUBLISH", "nope", "bye"]).unwrap(),
        Value::Int(1)
    );

    let m = sub.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "news");
    assert_eq!(m.get_payload_bytes(), b"hello");
    assert!(!m.from_pattern());
    let m = sub.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "news");
    assert_eq!(m.get_pattern::<String>().unwrap(), "n*");
    let m = sub.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "nope");
    assert_eq!(m.get_payload_bytes(), b"bye");

    sub.unsubscribe("news").unwrap();
    sub.punsubscribe("n*").unwrap();
    assert_eq!(
        cmd(&mut c, &["PUBLISH", "news", "again"]).unwrap(),
        Value::Int(0)
    );
}

#[test]
fn resp2_confirmations_match_redis_byte_for_byte() {
    let script = [
        step(0, &["UNSUBSCRIBE"], 1),
        step(0, &["PUNSUBSCRIBE"], 1),
        step(0, &["SUBSCRIBE", "a", "a", "b"], 3),
        step(0, &["PSUBSCRIBE", "a*", "h?llo"], 2),
        step(0, &["UNSUBSCRIBE", "nope", "a"], 2),
        step(0, &["PUNSUBSCRIBE", "a*"], 1),
        step(1, &["PUBLISH", "b", "msg"], 1),
        step(0, &["PING"], 2),
        step(1, &["PUBLISH", "hello", "m2"], 1),
        step(0, &["PING", "x"], 2),
        step(0, &["GET", "k"], 1),
        step(0, &["PUBLISH", "b", "x"], 1),
        step(0, &["UNSUBSCRIBE"], 1),
        step(0, &["PUNSUBSCRIBE"], 1),
        step(0, &["UNSUBSCRIBE"], 1),
        step(0, &["PING"], 1),
        step(0, &["SUBSCRIBE"], 1),
        step(0, &["PSUBSCRIBE"], 1),
    ];
    let picket = Proc::picket(&[]);
    let redis = Proc::redis(&[]);
    let ours = run_script(picket.port, 2, &script);
    let theirs = run_script(redis.port, 2, &script);
    assert_eq!(ours, theirs);
    // Spot-check the shapes this file is about.
    assert_eq!(ours[0], "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    assert_eq!(
        ours[7],
        "*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$3\r\nmsg\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );
    assert_eq!(
        ours[9],
        "*4\r\n$8\r\npmessage\r\n$5\r\nh?llo\r\n$5\r\nhello\r\n$2\r\nm2\r\n*2\r\n$4\r\npong\r\n$1\r\nx\r\n"
    );
}

#[test]
fn resp3_subscribers_get_pushes_and_may_run_any_command() {
    let script = [
        step(0, &["HELLO", "3"], 1),
        step(0, &["UNSUBSCRIBE"], 1),
        step(0, &["PUNSUBSCRIBE"], 1),
        step(0, &["SUBSCRIBE", "c"], 1),
        step(0, &["PSUBSCRIBE", "c*"], 1),
        step(0, &["SET", "k", "v"], 1),
        step(0, &["GET", "k"], 1),
        step(0, &["PING"], 1),
        // Publishing to itself: both pushes come before the count.
        step(0, &["PUBLISH", "c", "self"], 3),
        step(1, &["PUBLISH", "cx", "other"], 1),
        step(0, &["ECHO", "after"], 2),
        step(0, &["PUBSUB", "NUMSUB", "c", "zz"], 1),
        step(0, &["UNSUBSCRIBE", "c"], 1),
        step(0, &["PUNSUBSCRIBE", "c*"], 1),
        step(0, &["UNSUBSCRIBE"], 1),
    ];
    let picket = Proc::picket(&[]);
    let redis = Proc::redis(&[]);
    let mut ours = run_script(picket.port, 2, &script);
    let mut theirs = run_script(redis.port, 2, &script);
    // HELLO's map names the server and version: compare the rest.
    ours.remove(0);
    theirs.remove(0);
    assert_eq!(ours, theirs);
    assert_eq!(ours[0], ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
    assert_eq!(
        ours[7],
        ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$4\r\nself\r\n>4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$1\r\nc\r\n$4\r\nself\r\n:2\r\n"
    );
}

#[test]
fn resp2_subscriber_context_allows_only_pubsub_commands_ping_quit_reset() {
    let p = Proc::picket(&[]);
    let mut s = Session::connect(p.port);
    s.send(&["SUBSCRIBE", "ch"]);
    s.frames(1);
    assert_eq!(
        String::from_utf8(s.call(&["SET", "k", "v"])).unwrap(),
        "-ERR Can't execute 'set': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(s.call(&["RESET"]), b"+RESET\r\n");
    // RESET dropped the subscription: normal commands work again.
    assert_eq!(s.call(&["SET", "k", "v"]), b"+OK\r\n");
    assert_eq!(
        s.call(&["PUBSUB", "NUMSUB", "ch"]),
        b"*2\r\n$2\r\nch\r\n:0\r\n"
    );
    s.send(&["SUBSCRIBE", "ch"]);
    s.frames(1);
    assert_eq!(s.call(&["QUIT"]), b"+OK\r\n");
    assert!(s.closed_within(Duration::from_secs(5)));
}

#[test]
fn publish_counts_every_matching_subscription() {
    let p = Proc::picket(&[]);
    let mut a = Session::connect(p.port);
    let mut b = Session::connect(p.port);
    a.send(&["SUBSCRIBE", "chan"]);
    a.frames(1);
    a.send(&["PSUBSCRIBE", "c*", "ch*", "nomatch*"]);
    a.frames(3);
    b.send(&["PSUBSCRIBE", "*"]);
    b.frames(1);
    let mut c = p.conn();
    assert_eq!(
        cmd(&mut c, &["PUBLISH", "chan", "m"]).unwrap(),
        Value::Int(4)
    );
    // a gets one message and two pmessages, b one pmessage.
    let got = String::from_utf8(a.frames(3)).unwrap();
    assert!(got.starts_with("*3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$1\r\nm\r\n"));
    assert!(got.contains("$2\r\nc*\r\n$4\r\nchan\r\n$1\r\nm\r\n"));
    assert!(got.contains("$3\r\nch*\r\n$4\r\nchan\r\n$1\r\nm\r\n"));
    assert_eq!(
        b.frames(1),
        b"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$4\r\nchan\r\n$1\r\nm\r\n"
    );
    assert!(a.quiet_for(Duration::from_millis(100)));
}

#[test]
fn pubsub_introspection_reports_channels_subscribers_and_patterns() {
    let p = Proc::picket(&[]);
    let mut a = Session::connect(p.port);
    let mut b = Session::connect(p.port);
    a.send(&["SUBSCRIBE", "news.tech", "news.art", "sport"]);
    a.frames(3);
    a.send(&["PSUBSCRIBE", "news.*"]);
    a.frames(1);
    b.send(&["SUBSCRIBE", "sport"]);
    b.frames(1);
    b.send(&["PSUBSCRIBE", "news.*", "x*"]);
    b.frames(2);

    let mut c = p.conn();
    let mut chans: Vec<String> = redis::cmd("PUBSUB").arg("CHANNELS").query(&mut c).unwrap();
    chans.sort();
    assert_eq!(chans, ["news.art", "news.tech", "sport"]);
    let mut chans: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("news.*")
        .query(&mut c)
        .unwrap();
    chans.sort();
    assert_eq!(chans, ["news.art", "news.tech"]);
    assert_eq!(
        cmd(&mut c, &["PUBSUB", "NUMSUB", "sport", "news.art", "none"]).unwrap(),
        Value::Array(vec![
            bulk("sport"),
            Value::Int(2),
            bulk("news.art"),
            Value::Int(1),
            bulk("none"),
            Value::Int(0),
        ])
    );
    assert_eq!(
        cmd(&mut c, &["PUBSUB", "NUMSUB"]).unwrap(),
        Value::Array(vec![])
    );
    // Distinct patterns, not subscriptions.
    assert_eq!(cmd(&mut c, &["PUBSUB", "NUMPAT"]).unwrap(), Value::Int(2));
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert!(info.contains("pubsub_channels:3\r\n"), "{info}");
    assert!(info.contains("pubsub_patterns:2\r\n"), "{info}");
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut c)
        .unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("sub=3 psub=1"), "{list}");

    assert_eq!(
        err(&mut c, &["PUBSUB"]),
        "ERR wrong number of arguments for 'pubsub' command"
    );
    assert_eq!(
        err(&mut c, &["PUBSUB", "NUMPAT", "x"]),
        "ERR wrong number of arguments for 'pubsub|numpat' command"
    );
    assert_eq!(
        err(&mut c, &["PUBSUB", "CHANNELS", "a", "b"]),
        "ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP."
    );
    assert_eq!(
        err(&mut c, &["PUBSUB", "FOO"]),
        "ERR unknown subcommand 'FOO'. Try PUBSUB HELP."
    );
    assert_eq!(
        err(&mut c, &["PUBLISH", "a"]),
        "ERR wrong number of arguments for 'publish' command"
    );
    assert_eq!(
        err(&mut c, &["SUBSCRIBE"]),
        "ERR wrong number of arguments for 'subscribe' command"
    );

    // Disconnecting drops a client's subscriptions.
    drop(a);
    assert!(eventually(|| {
        cmd(&mut c, &["PUBSUB", "NUMSUB", "sport", "news.tech"]).unwrap()
            == Value::Array(vec![
                bulk("sport"),
                Value::Int(1),
                bulk("news.tech"),
                Value::Int(0),
            ])
    }));
    assert_eq!(cmd(&mut c, &["PUBSUB", "NUMPAT"]).unwrap(), Value::Int(2));
}

#[test]
fn pubsub_help_matches_redis() {
    let picket = Proc::picket(&[]);
    let redis = Proc::redis(&[]);
    let script = [step(0, &["PUBSUB", "HELP"], 1)];
    assert_eq!(
        run_script(picket.port, 1, &script),
        run_script(redis.port, 1, &script)
    );
}

#[test]
fn a_subscriber_that_never_reads_is_closed_at_the_pubsub_hard_limit() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(
        cmd(
            &mut c,
            &[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub 1mb 256kb 60"
            ]
        )
        .unwrap(),
        Value::Okay
    );
    let mut slow = Session::connect(p.port);
    slow.send(&["SUBSCRIBE", "firehose"]);
    slow.frames(1);
    // A reading subscriber on the same channel must survive.
    let client = redis::Client::open(p.url()).unwrap();
    let mut fast_conn = client.get_connection().unwrap();
    let mut fast = fast_conn.as_pubsub();
    fast.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    fast.subscribe("firehose").unwrap();

    // 64 MB in 100 KB messages: far beyond socket buffers plus the 1 MB limit.
    let payload = "x".repeat(100 * 1024);
    let mut closed_seen = false;
    for i in 0..640 {
        let n: i64 = redis::cmd("PUBLISH")
            .arg("firehose")
            .arg(&payload)
            .query(&mut c)
            .unwrap();
        let m = fast.get_message().unwrap();
        assert_eq!(m.get_payload_bytes().len(), payload.len(), "message {i}");
        if n == 1 {
            closed_seen = true;
            break;
        }
        assert_eq!(n, 2);
    }
    assert!(closed_seen, "the slow subscriber was never dropped");
    assert_eq!(
        cmd(&mut c, &["PUBSUB", "NUMSUB", "firehose"]).unwrap(),
        Value::Array(vec![bulk("firehose"), Value::Int(1)])
    );
    assert!(slow.closed_within(Duration::from_secs(5)));
    assert!(p.log_text().contains("output buffer limits"));
}
