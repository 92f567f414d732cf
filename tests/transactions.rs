//! MULTI/EXEC/DISCARD/WATCH/UNWATCH against real picket-server processes,
//! mostly as multi-client scripts whose reply bytes must equal
//! redis-server 7.0's.

mod common;
mod rawresp;

use std::time::Duration;

use common::{cmd, Proc};
use rawresp::{run_script, step, Session, Step};
use redis::Value;

/// Runs `script` on picket and on redis-server and asserts equal replies;
/// returns picket's.
fn same_as_redis(clients: usize, script: &[Step]) -> Vec<String> {
    let picket = Proc::picket(&[]);
    let redis = Proc::redis(&[]);
    let mut ours = run_script(picket.port, clients, script);
    let mut theirs = run_script(redis.port, clients, script);
    // HELLO's reply carries the client id: compare its shape only.
    for (o, t) in ours.iter_mut().zip(theirs.iter_mut()) {
        if o.starts_with('%') && t.starts_with('%') {
            *o = hide_id(o);
            *t = hide_id(t);
        }
    }
    assert_eq!(ours, theirs);
    ours
}

/// Replaces the `id` value in a HELLO reply.
fn hide_id(s: &str) -> String {
    match s.find("$2\r\nid\r\n:") {
        Some(i) => {
            let start = i + "$2\r\nid\r\n:".len();
            let end = start + s[start..].find("\r\n").unwrap_or(0);
            format!("{}N{}", &s[..start], &s[end..])
        }
        None => s.to_string(),
    }
}

#[test]
fn exec_runs_the_queue_in_order_and_keeps_errors_inside_their_element() {
    let out = same_as_redis(
        1,
        &[
            step(0, &["SET", "s", "abc"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["SET", "a", "1"], 1),
            step(0, &["INCR", "a"], 1),
            step(0, &["INCR", "s"], 1),
            step(0, &["SELECT", "3"], 1),
            step(0, &["SET", "a", "db3"], 1),
            step(0, &["GET", "a"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["GET", "a"], 1),
            step(0, &["SELECT", "0"], 1),
            step(0, &["GET", "a"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
        ],
    );
    assert_eq!(out[2], "+QUEUED\r\n");
    assert_eq!(
        out[8],
        "*6\r\n+OK\r\n:2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n+OK\r\n$3\r\ndb3\r\n"
    );
    assert_eq!(out[11], "$1\r\n2\r\n");
    assert_eq!(out[13], "*0\r\n");
}

#[test]
fn transaction_state_errors_match_redis() {
    let out = same_as_redis(
        1,
        &[
            step(0, &["EXEC"], 1),
            step(0, &["DISCARD"], 1),
            step(0, &["UNWATCH"], 1),
            step(0, &["WATCH"], 1),
            step(0, &["MULTI", "x"], 1),
            step(0, &["EXEC", "x"], 1),
            step(0, &["MULTI"], 1),
            // Neither of these dooms the transaction.
            step(0, &["MULTI"], 1),
            step(0, &["WATCH", "k"], 1),
            step(0, &["SET", "k", "v"], 1),
            step(0, &["UNWATCH"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["SET", "k", "w"], 1),
            step(0, &["DISCARD"], 1),
            step(0, &["GET", "k"], 1),
            step(0, &["EXEC"], 1),
        ],
    );
    assert_eq!(out[0], "-ERR EXEC without MULTI\r\n");
    assert_eq!(out[1], "-ERR DISCARD without MULTI\r\n");
    assert_eq!(
        out[5],
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
    );
    assert_eq!(out[7], "-ERR MULTI calls can not be nested\r\n");
    assert_eq!(out[8], "-ERR WATCH inside MULTI is not allowed\r\n");
    assert_eq!(out[11], "*2\r\n+OK\r\n+OK\r\n");
    assert_eq!(out[15], "$1\r\nv\r\n");
}

#[test]
fn commands_rejected_while_queuing_make_exec_abort() {
    let out = same_as_redis(
        1,
        &[
            step(0, &["MULTI"], 1),
            step(0, &["SET", "k", "v"], 1),
            step(0, &["NOSUCHCOMMAND", "x"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["GET", "k"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["SET", "k"], 1),
            step(0, &["SET", "k", "v"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["EXEC"], 1),
            // EXEC itself with bad arity discards the transaction at once.
            step(0, &["MULTI"], 1),
            step(0, &["SET", "k", "v"], 1),
            step(0, &["EXEC", "now"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["GET", "k"], 1),
        ],
    );
    assert_eq!(
        out[3],
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(out[4], "$-1\r\n");
    assert_eq!(out[9], "-ERR EXEC without MULTI\r\n");
    assert_eq!(
        out[12],
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
    );
    assert_eq!(out[14], "$-1\r\n");
}

#[test]
fn a_watched_key_written_by_anyone_makes_exec_return_nil() {
    let out = same_as_redis(
        2,
        &[
            // Another client writes the watched key.
            step(0, &["SET", "k", "1"], 1),
            step(0, &["WATCH", "k"], 1),
            step(1, &["SET", "k", "2"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["SET", "k", "3"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["GET", "k"], 1),
            // Unchanged: runs; and the watch is gone afterwards.
            step(0, &["WATCH", "k"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["INCR", "k"], 1),
            step(0, &["EXEC"], 1),
            step(1, &["SET", "k", "9"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            // The watcher itself writes the key before MULTI.
            step(0, &["WATCH", "k"], 1),
            step(0, &["SET", "k", "self"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            // Watching a missing key: creating it counts.
            step(0, &["WATCH", "fresh"], 1),
            step(1, &["SET", "fresh", "x"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            // UNWATCH forgets.
            step(0, &["WATCH", "k"], 1),
            step(0, &["UNWATCH"], 1),
            step(1, &["SET", "k", "10"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            // DISCARD unwatches too.
            step(0, &["WATCH", "k"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["DISCARD"], 1),
            step(1, &["SET", "k", "11"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            // The same key name in another db is another key.
            step(0, &["WATCH", "k"], 1),
            step(1, &["SELECT", "5"], 1),
            step(1, &["SET", "k", "db5"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            // A failed EXEC also unwatches.
            step(0, &["WATCH", "k"], 1),
            step(1, &["SELECT", "0"], 1),
            step(1, &["SET", "k", "12"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
        ],
    );
    assert_eq!(out[5], "*-1\r\n");
    assert_eq!(out[6], "$1\r\n2\r\n");
    assert_eq!(out[10], "*1\r\n:3\r\n");
    assert_eq!(out[13], "*0\r\n");
    assert_eq!(out[17], "*-1\r\n");
    assert_eq!(out[21], "*-1\r\n");
    assert_eq!(out[26], "*0\r\n");
    assert_eq!(out[32], "*0\r\n");
    assert_eq!(out[37], "*0\r\n");
    assert_eq!(out[42], "*-1\r\n");
    assert_eq!(out[44], "*0\r\n");
}

#[test]
fn flushall_and_flushdb_touch_watched_keys_that_exist() {
    let out = same_as_redis(
        2,
        &[
            step(0, &["SET", "k", "1"], 1),
            step(0, &["WATCH", "k"], 1),
            step(1, &["FLUSHALL"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            // Flushing while the watched key does not exist changes nothing.
            step(0, &["WATCH", "missing"], 1),
            step(1, &["FLUSHALL"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            // FLUSHDB of another db leaves this one's watch intact.
            step(0, &["SET", "k", "1"], 1),
            step(0, &["WATCH", "k"], 1),
            step(1, &["SELECT", "1"], 1),
            step(1, &["FLUSHDB"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["WATCH", "k"], 1),
            step(1, &["SELECT", "0"], 1),
            step(1, &["FLUSHDB"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
        ],
    );
    assert_eq!(out[4], "*-1\r\n");
    assert_eq!(out[8], "*0\r\n");
    assert_eq!(out[14], "*0\r\n");
    assert_eq!(out[19], "*-1\r\n");
}

/// Runs the expiry scenarios on one server: (live key expiring after
/// WATCH, key already expired at WATCH, stale key deleted by another
/// client's read) → the three EXEC replies.
fn expiry_scenarios(port: u16) -> [Vec<u8>; 3] {
    let mut a = Session::connect(port);
    let mut b = Session::connect(port);
    let exec = |s: &mut Session| {
        assert_eq!(s.call(&["MULTI"]), b"+OK\r\n");
        assert_eq!(s.call(&["PING"]), b"+QUEUED\r\n");
        s.call(&["EXEC"])
    };
    a.call(&["SET", "live", "v", "PX", "300"]);
    a.call(&["WATCH", "live"]);
    std::thread::sleep(Duration::from_millis(800));
    let live = exec(&mut a);

    a.call(&["SET", "stale", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(50));
    a.call(&["WATCH", "stale"]);
    let stale = exec(&mut a);

    a.call(&["SET", "stale2", "v", "PX", "1"]);
    std::thread::sleep(Duration::from_millis(50));
    a.call(&["WATCH", "stale2"]);
    assert_eq!(b.call(&["GET", "stale2"]), b"$-1\r\n");
    let deleted = exec(&mut a);
    [live, stale, deleted]
}

#[test]
fn an_expiring_watched_key_fails_exec_but_one_already_expired_does_not() {
    let picket = Proc::picket(&[]);
    let redis = Proc::redis(&[]);
    let ours = expiry_scenarios(picket.port);
    assert_eq!(ours, expiry_scenarios(redis.port));
    assert_eq!(ours[0], b"*-1\r\n");
    assert_eq!(ours[1], b"*1\r\n+PONG\r\n");
    assert_eq!(ours[2], b"*1\r\n+PONG\r\n");
}

#[test]
fn resp3_aborted_exec_is_a_null_and_subscribe_inside_exec_works() {
    let out = same_as_redis(
        2,
        &[
            step(0, &["HELLO", "3"], 1),
            step(0, &["WATCH", "k"], 1),
            step(1, &["SET", "k", "1"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["SUBSCRIBE", "c"], 1),
            step(0, &["EXEC"], 1),
            step(1, &["PUBLISH", "c", "m"], 1),
            step(0, &["GET", "k"], 2),
        ],
    );
    assert_eq!(out[4], "_\r\n");
    assert_eq!(out[7], "*1\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
}

#[test]
fn resp2_subscribe_inside_exec_enters_subscriber_mode() {
    let out = same_as_redis(
        1,
        &[
            step(0, &["MULTI"], 1),
            step(0, &["SUBSCRIBE", "x"], 1),
            step(0, &["GET", "x"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["GET", "x"], 1),
            step(0, &["EXEC"], 1),
            step(0, &["MULTI"], 1),
            step(0, &["RESET"], 1),
            step(0, &["EXEC"], 1),
        ],
    );
    assert_eq!(
        out[3],
        "*2\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:1\r\n$-1\r\n"
    );
    assert!(out[5].starts_with("-EXECABORT Transaction discarded because of: Can't execute 'exec'"));
}

#[test]
fn blocking_commands_inside_multi_do_not_block() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    // BLPOP and friends live with the list commands; without them on this
    // build there is nothing to check here (the unit test in
    // cmd::transactions covers the mechanism).
    let info = cmd(&mut c, &["COMMAND", "INFO", "blpop"]).unwrap();
    if info == Value::Array(vec![Value::Nil]) {
        eprintln!("BLPOP not available in this build; skipped");
        return;
    }
    let out = same_as_redis(
        1,
        &[
            step(0, &["MULTI"], 1),
            step(0, &["BLPOP", "l", "0"], 1),
            step(0, &["BRPOPLPUSH", "l", "m", "0"], 1),
            step(0, &["EXEC"], 1),
        ],
    );
    assert_eq!(out[3], "*2\r\n*-1\r\n$-1\r\n");
}

#[test]
fn client_list_shows_multi_state() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    assert_eq!(cmd(&mut c, &["MULTI"]).unwrap(), Value::Okay);
    assert_eq!(
        cmd(&mut c, &["SET", "a", "1"]).unwrap(),
        Value::SimpleString("QUEUED".into())
    );
    let mut other = p.conn();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut other).unwrap();
    let line = list
        .lines()
        .find(|l| l.contains(" flags=x "))
        .expect("the MULTI client");
    assert!(line.contains(" flags=x "), "{line}");
    assert!(line.contains(" multi=1 "), "{line}");
    assert_eq!(
        cmd(&mut c, &["EXEC"]).unwrap(),
        Value::Array(vec![Value::Okay])
    );
}
