//! maxmemory eviction (Redis: evict.c) and memory per key, driven over
//! loopback against the built picket-server. Bulk loads go through a raw
//! pipelined socket so a debug build fills 200k keys in seconds.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{cmd, err, Proc};
use picket::resp::client::{encode_command, Reply, ReplyDecoder, ReplyLimits};

/// A pipelining client: sends batches of commands, then reads their
/// replies (picket's client encoder and decoder).
struct Pipe {
    s: TcpStream,
    dec: ReplyDecoder,
}

impl Pipe {
    fn new(p: &Proc) -> Pipe {
        let s = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Pipe {
            s,
            dec: ReplyDecoder::new(ReplyLimits::default()),
        }
    }

    fn read_reply(&mut self) -> Reply {
        let mut buf = [0u8; 64 * 1024];
        loop {
            if let Some(r) = self.dec.next_reply().unwrap() {
                return r;
            }
            let n = self.s.read(&mut buf).unwrap();
            assert!(n > 0, "the server closed the connection");
            self.dec.extend(&buf[..n]);
        }
    }

    /// Sends every command, 1000 at a time, and returns all replies.
    fn run(&mut self, cmds: impl IntoIterator<Item = Vec<Vec<u8>>>) -> Vec<Reply> {
        let mut replies = Vec::new();
        let mut buf = Vec::new();
        let mut pending = 0;
        for c in cmds {
            let args: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
            encode_command(&mut buf, &args);
            pending += 1;
            if pending == 1000 {
                self.flush(&mut buf, &mut pending, &mut replies);
            }
        }
        self.flush(&mut buf, &mut pending, &mut replies);
        replies
    }

    fn flush(&mut self, buf: &mut Vec<u8>, pending: &mut usize, replies: &mut Vec<Reply>) {
        self.s.write_all(buf).unwrap();
        buf.clear();
        for _ in 0..*pending {
            let r = self.read_reply();
            replies.push(r);
        }
        *pending = 0;
    }
}

fn argv(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn set_cmds(prefix: &str, range: std::ops::Range<usize>, val: &[u8]) -> Vec<Vec<Vec<u8>>> {
    range
        .map(|i| argv(&[b"SET", format!("{prefix}{i}").as_bytes(), val]))
        .collect()
}

fn get_cmds(prefix: &str, range: std::ops::Range<usize>) -> Vec<Vec<Vec<u8>>> {
    range
        .map(|i| argv(&[b"GET", format!("{prefix}{i}").as_bytes()]))
        .collect()
}

/// How many of `prefix{range}` still exist.
fn surviving(pipe: &mut Pipe, prefix: &str, range: std::ops::Range<usize>) -> usize {
    pipe.run(
        range
            .map(|i| argv(&[b"STRLEN", format!("{prefix}{i}").as_bytes()]))
            .collect::<Vec<_>>(),
    )
    .iter()
    .filter(|r| !matches!(r, Reply::Int(0)))
    .count()
}

/// A numeric field of INFO.
fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> String {
    let info = match cmd(c, &["INFO", section]).unwrap() {
        redis::Value::BulkString(b) => String::from_utf8(b).unwrap(),
        redis::Value::VerbatimString { text, .. } => text,
        v => panic!("INFO replied {v:?}"),
    };
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
        .to_string()
}

fn info_u64(c: &mut redis::Connection, section: &str, field: &str) -> u64 {
    info_field(c, section, field).parse().unwrap()
}

const MB: u64 = 1024 * 1024;

#[test]
fn allkeys_lru_stays_under_maxmemory_and_keeps_recently_read_keys() {
    let p = Proc::picket(&["--maxmemory-policy", "allkeys-lru"]);
    let mut c = p.conn();
    let mut pipe = Pipe::new(&p);
    let val = vec![b'x'; 100];
    // The LRU clock has Redis's 1 s resolution, so the three generations are
    // written a second apart: cold keys, then fill keys, then the hot keys
    // are read last, so they are the most recently used.
    pipe.run(set_cmds("cold:", 0..10_000, &val));
    pipe.run(set_cmds("hot:", 0..2_000, &val));
    std::thread::sleep(Duration::from_millis(1_100));
    for batch in 0..10 {
        pipe.run(set_cmds(
            "fill:",
            batch * 10_000..(batch + 1) * 10_000,
            &val,
        ));
    }
    std::thread::sleep(Duration::from_millis(1_100));
    pipe.run(get_cmds("hot:", 0..2_000));
    // Halve the memory: about half of the 112k keys must go.
    let used = info_u64(&mut c, "memory", "used_memory");
    let limit = used / 2;
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]).unwrap(),
        redis::Value::Okay
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_u64(&mut c, "memory", "used_memory") > limit && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let settled = info_u64(&mut c, "memory", "used_memory");
    assert!(
        settled <= limit + 512 * 1024,
        "used_memory {settled} over maxmemory {limit} plus slack"
    );
    // Further writes (fewer than the older keys left) keep it there.
    for batch in 0..1 {
        let replies = pipe.run(set_cmds(
            "more:",
            batch * 10_000..(batch + 1) * 10_000,
            &val,
        ));
        assert!(
            replies.iter().all(|r| *r == Reply::Status("OK".into())),
            "a SET was refused under allkeys-lru"
        );
    }
    let used = info_u64(&mut c, "memory", "used_memory");
    assert!(
        used <= limit + 512 * 1024,
        "used_memory {used} over maxmemory {limit} plus slack"
    );
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_policy"),
        "allkeys-lru"
    );
    // Lift the limit before counting, so counting evicts nothing more.
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "maxmemory", "0"]).unwrap(),
        redis::Value::Okay
    );
    let evicted = info_u64(&mut c, "stats", "evicted_keys");
    assert!(evicted > 50_000, "evicted_keys {evicted}");
    let keys = match cmd(&mut c, &["DBSIZE"]).unwrap() {
        redis::Value::Int(n) => n as u64,
        v => panic!("{v:?}"),
    };
    assert_eq!(
        keys + evicted,
        122_000,
        "every key is either kept or evicted"
    );
    let hot = surviving(&mut pipe, "hot:", 0..2_000);
    let cold = surviving(&mut pipe, "cold:", 0..10_000);
    eprintln!("allkeys-lru: limit {limit}, evicted {evicted}, hot kept {hot}/2000, cold kept {cold}/10000");
    // Sampled LRU is approximate: loose bounds, far apart.
    assert!(hot >= 1_800, "only {hot} of 2000 hot keys survived");
    assert!(cold <= 2_000, "{cold} of 10000 cold keys survived");
}

#[test]
fn noeviction_refuses_writes_with_oom_but_serves_reads_and_deletes() {
    let p = Proc::picket(&["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"]);
    let mut c = p.conn();
    let big = "v".repeat(10_000);
    let mut written = 0;
    let mut oom = None;
    for i in 0..2_000 {
        match cmd(&mut c, &["SET", &format!("k{i}"), &big]) {
            Ok(_) => written += 1,
            Err(_) => {
                oom = Some(err(&mut c, &["SET", &format!("k{i}"), &big]));
                break;
            }
        }
    }
    assert_eq!(
        oom.as_deref(),
        Some("OOM command not allowed when used memory > 'maxmemory'."),
        "after {written} writes"
    );
    assert!(written > 100, "only {written} writes fit in 4mb");
    // Reads and deletes are not DENYOOM.
    assert_eq!(
        cmd(&mut c, &["GET", "k0"]).unwrap(),
        redis::Value::BulkString(big.clone().into_bytes())
    );
    assert_eq!(
        cmd(&mut c, &["STRLEN", "k1"]).unwrap(),
        redis::Value::Int(10_000)
    );
    assert_eq!(info_u64(&mut c, "stats", "evicted_keys"), 0);
    // Freeing memory by hand makes writes work again. (GETDEL, as DEL lives
    // in the keys family; both are write commands without DENYOOM.)
    for i in 0..written / 2 {
        assert!(matches!(
            cmd(&mut c, &["GETDEL", &format!("k{i}")]).unwrap(),
            redis::Value::BulkString(_)
        ));
    }
    assert_eq!(
        cmd(&mut c, &["SET", "again", "1"]).unwrap(),
        redis::Value::Okay
    );
    assert_eq!(info_u64(&mut c, "stats", "evicted_keys"), 0);
}

#[test]
fn volatile_policy_without_volatile_keys_answers_oom() {
    let p = Proc::picket(&["--maxmemory", "4mb", "--maxmemory-policy", "volatile-lru"]);
    let mut c = p.conn();
    let big = "v".repeat(10_000);
    let mut refused = None;
    for i in 0..2_000 {
        if let Err(e) = cmd(&mut c, &["SET", &format!("k{i}"), &big]) {
            refused = Some((i, e.code().unwrap_or("").to_string()));
            break;
        }
    }
    let (at, code) = refused.expect("writes beyond maxmemory were refused");
    assert_eq!(code, "OOM");
    assert!(at > 100);
    assert_eq!(info_u64(&mut c, "stats", "evicted_keys"), 0);
}

#[test]
fn volatile_ttl_evicts_the_shortest_ttls_first() {
    let p = Proc::picket(&["--maxmemory-policy", "volatile-ttl"]);
    let mut c = p.conn();
    let mut pipe = Pipe::new(&p);
    let val = vec![b'x'; 1000];
    let mut cmds = Vec::new();
    for i in 0..1_000 {
        cmds.push(argv(&[b"SET", format!("persist:{i}").as_bytes(), &val]));
        cmds.push(argv(&[
            b"SET",
            format!("short:{i}").as_bytes(),
            &val,
            b"EX",
            b"1000",
        ]));
        cmds.push(argv(&[
            b"SET",
            format!("long:{i}").as_bytes(),
            &val,
            b"EX",
            b"100000",
        ]));
    }
    pipe.run(cmds);
    // About 1 KiB per key: shrink the limit by ~600 keys' worth.
    let used = info_u64(&mut c, "memory", "used_memory");
    let limit = used - 600 * 1100;
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "maxmemory", &limit.to_string()]).unwrap(),
        redis::Value::Okay
    );
    // CONFIG SET evicts for a bounded time; the cron finishes the job.
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_u64(&mut c, "memory", "used_memory") > limit && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Lift the limit before counting: the counting itself allocates (query
    // and reply buffers) and would otherwise evict a few more keys mid-count.
    assert_eq!(
        cmd(&mut c, &["CONFIG", "SET", "maxmemory", "0"]).unwrap(),
        redis::Value::Okay
    );
    let evicted = info_u64(&mut c, "stats", "evicted_keys");
    assert!(evicted >= 300, "evicted {evicted}");
    assert_eq!(surviving(&mut pipe, "persist:", 0..1_000), 1_000);
    let long = surviving(&mut pipe, "long:", 0..1_000);
    let short = surviving(&mut pipe, "short:", 0..1_000);
    assert_eq!(short + long + evicted as usize, 2_000);
    eprintln!("volatile-ttl: evicted {evicted}, short kept {short}, long kept {long}");
    assert!(long >= 950, "only {long} of 1000 long-TTL keys survived");
}

#[test]
fn allkeys_lfu_keeps_frequently_accessed_keys() {
    let p = Proc::picket(&["--maxmemory", "10mb", "--maxmemory-policy", "allkeys-lfu"]);
    let mut c = p.conn();
    let mut pipe = Pipe::new(&p);
    let val = vec![b'x'; 100];
    pipe.run(set_cmds("freq:", 0..500, &val));
    for _ in 0..100 {
        pipe.run(get_cmds("freq:", 0..500));
    }
    pipe.run(set_cmds("once:", 0..100_000, &val));
    let evicted = info_u64(&mut c, "stats", "evicted_keys");
    assert!(evicted > 20_000, "evicted {evicted}");
    let freq = surviving(&mut pipe, "freq:", 0..500);
    eprintln!("allkeys-lfu: evicted {evicted}, frequent kept {freq}/500");
    assert!(freq >= 475, "only {freq} of 500 frequent keys survived");
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_policy"),
        "allkeys-lfu"
    );
}

#[test]
fn allkeys_random_and_volatile_random_evict_within_their_sets() {
    let p = Proc::picket(&[
        "--maxmemory",
        "8mb",
        "--maxmemory-policy",
        "volatile-random",
    ]);
    let mut c = p.conn();
    let mut pipe = Pipe::new(&p);
    let val = vec![b'x'; 100];
    pipe.run(set_cmds("persist:", 0..5_000, &val));
    let ttl: Vec<_> = (0..100_000)
        .map(|i| argv(&[b"SET", format!("ttl:{i}").as_bytes(), &val, b"EX", b"1000"]))
        .collect();
    let replies = pipe.run(ttl);
    assert!(replies.iter().all(|r| *r == Reply::Status("OK".into())));
    assert!(info_u64(&mut c, "stats", "evicted_keys") > 10_000);
    assert_eq!(surviving(&mut pipe, "persist:", 0..5_000), 5_000);
    // Switching policy at run time: allkeys-random may take any key.
    cmd(
        &mut c,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
    )
    .unwrap();
    pipe.run(set_cmds("more:", 0..30_000, &val));
    assert!(surviving(&mut pipe, "persist:", 0..5_000) < 5_000);
    let used = info_u64(&mut c, "memory", "used_memory");
    assert!(used <= 8 * MB + 512 * 1024, "used_memory {used}");
}

#[test]
fn one_million_small_keys_cost_under_105_bytes_each() {
    let p = Proc::picket(&[]);
    let mut c = p.conn();
    let mut pipe = Pipe::new(&p);
    let before = info_u64(&mut c, "memory", "used_memory");
    let start = Instant::now();
    // MSET of 100 pairs per command: 10k commands.
    let cmds = (0..10_000usize).map(|b| {
        let mut a: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
        for i in b * 100..(b + 1) * 100 {
            a.push(format!("key:{i:012}").into_bytes());
            a.push(format!("val:{i:012}").into_bytes());
        }
        a
    });
    let replies = pipe.run(cmds);
    assert!(replies.iter().all(|r| *r == Reply::Status("OK".into())));
    let load = start.elapsed();
    assert_eq!(
        cmd(&mut c, &["DBSIZE"]).unwrap(),
        redis::Value::Int(1_000_000)
    );
    let used = info_u64(&mut c, "memory", "used_memory");
    let per_key = used as f64 / 1e6;
    let delta_per_key = (used - before) as f64 / 1e6;
    eprintln!(
        "1M keys: used_memory {used} ({per_key:.1} B/key, {delta_per_key:.1} B/key over the empty server's {before}), loaded in {load:?}"
    );
    assert!(per_key < 105.0, "{per_key:.1} bytes per key");
}

#[test]
fn info_reports_maxmemory_settings_and_eviction_stats() {
    let p = Proc::picket(&["--maxmemory", "100mb", "--maxmemory-policy", "volatile-lfu"]);
    let mut c = p.conn();
    assert_eq!(info_u64(&mut c, "memory", "maxmemory"), 100 * MB);
    assert_eq!(info_field(&mut c, "memory", "maxmemory_human"), "100.00M");
    assert_eq!(
        info_field(&mut c, "memory", "maxmemory_policy"),
        "volatile-lfu"
    );
    assert_eq!(info_u64(&mut c, "stats", "evicted_keys"), 0);
    // Under the limit nothing is evicted.
    cmd(&mut c, &["SET", "a", "1", "EX", "100"]).unwrap();
    assert_eq!(info_u64(&mut c, "stats", "evicted_keys"), 0);
    assert_eq!(
        cmd(&mut c, &["GET", "a"]).unwrap(),
        redis::Value::BulkString(b"1".to_vec())
    );
}
