//! A network partition, in network namespaces this test creates: the old
//! master and one sentinel are cut off from the two replicas and the two
//! other sentinels. The majority fails over; after the partition heals
//! there is exactly one master, the promoted one, and the old master is
//! its replica. Needs root (CI runs as root); skipped with a message
//! otherwise. Addresses are 10.77.<n>.1/2 inside the namespaces only.

mod common;
use common::data::wait_for;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Runs `ip` with `args`; true on success.
fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Two namespaces joined by a veth pair; removed on drop.
struct Net {
    a: String,
    b: String,
    ip_a: String,
    ip_b: String,
}

impl Net {
    fn create() -> Option<Net> {
        let n = std::process::id() % 200 + 20;
        let (a, b) = (format!("pk{n}a"), format!("pk{n}b"));
        let net = Net {
            ip_a: format!("10.77.{n}.1"),
            ip_b: format!("10.77.{n}.2"),
            a,
            b,
        };
        let (va, vb) = (format!("v{n}a"), format!("v{n}b"));
        let ok = ip(&["netns", "add", &net.a])
            && ip(&["netns", "add", &net.b])
            && ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])
            && ip(&["link", "set", &va, "netns", &net.a])
            && ip(&["link", "set", &vb, "netns", &net.b])
            && ip(&[
                "-n",
                &net.a,
                "addr",
                "add",
                &format!("{}/24", net.ip_a),
                "dev",
                &va,
            ])
            && ip(&[
                "-n",
                &net.b,
                "addr",
                "add",
                &format!("{}/24", net.ip_b),
                "dev",
                &vb,
            ])
            && ip(&["-n", &net.a, "link", "set", &va, "up"])
            && ip(&["-n", &net.b, "link", "set", &vb, "up"])
            && ip(&["-n", &net.a, "link", "set", "lo", "up"])
            && ip(&["-n", &net.b, "link", "set", "lo", "up"]);
        if !ok {
            drop(net);
            return None;
        }
        Some(net)
    }

    fn veth_a(&self) -> String {
        format!("v{}a", &self.a[2..self.a.len() - 1])
    }

    /// Cuts (or restores) the link between the namespaces.
    fn set_link(&self, up: bool) {
        assert!(ip(&[
            "-n",
            &self.a,
            "link",
            "set",
            &self.veth_a(),
            if up { "up" } else { "down" }
        ]));
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        ip(&["netns", "del", &self.a]);
        ip(&["netns", "del", &self.b]);
    }
}

/// A process in a namespace, killed on drop.
struct NsProc(Child);

impl Drop for NsProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_in(ns: &str, args: &[&str], log: &std::path::Path) -> NsProc {
    let out = std::fs::File::create(log).unwrap();
    NsProc(
        Command::new("ip")
            .args(["netns", "exec", ns, common::picket_bin()])
            .args(args)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Runs redis-cli inside a namespace.
fn cli(ns: &str, host: &str, port: u16, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args([
            "5",
            "ip",
            "netns",
            "exec",
            ns,
            "redis-cli",
            "-h",
            host,
            "-p",
            &port.to_string(),
        ])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{name}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

#[test]
fn after_a_partition_heals_the_promoted_replica_is_the_only_master() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if !is_root {
        eprintln!("skipped: network namespaces need root");
        return;
    }
    let Some(net) = Net::create() else {
        panic!("could not create the network namespaces (ip netns)");
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (net.a.clone(), net.b.clone());
    let (ipa, ipb) = (net.ip_a.clone(), net.ip_b.clone());
    let common = [
        "--save",
        "",
        "--repl-diskless-sync-delay",
        "0",
        "--protected-mode",
        "no",
    ];
    let mut procs = Vec::new();
    let mut args = vec!["--port", "7000", "--bind", &ipa];
    args.extend_from_slice(&common);
    procs.push(spawn_in(&a, &args, &d.join("m.log")));
    std::thread::sleep(Duration::from_millis(300));
    for port in ["7001", "7002"] {
        let mut args = vec!["--port", port, "--bind", &ipb, "--replicaof", &ipa, "7000"];
        args.extend_from_slice(&common);
        procs.push(spawn_in(&b, &args, &d.join(format!("r{port}.log"))));
    }
    let sentinels = [
        (a.clone(), ipa.clone(), 26379u16),
        (b.clone(), ipb.clone(), 26380),
        (b.clone(), ipb.clone(), 26381),
    ];
    for (ns, host, port) in &sentinels {
        let conf = d.join(format!("s{port}.conf"));
        std::fs::write(
            &conf,
            format!("port {port}\nbind {host}\nprotected-mode no\nsentinel monitor mymaster {ipa} 7000 2\nsentinel down-after-milliseconds mymaster 2000\nsentinel failover-timeout mymaster 10000\n"),
        )
        .unwrap();
        procs.push(spawn_in(
            ns,
            &[conf.to_str().unwrap(), "--sentinel"],
            &d.join(format!("s{port}.log")),
        ));
    }
    let logs = || {
        let mut s = String::new();
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "log") {
                s.push_str(&format!(
                    "== {}\n{}",
                    e.path().display(),
                    std::fs::read_to_string(e.path()).unwrap_or_default()
                ));
            }
        }
        s
    };
    // Everyone sees everyone.
    for (ns, host, port) in &sentinels {
        assert!(
            wait_for(Duration::from_secs(30), || {
                let m = cli(ns, host, *port, &["SENTINEL", "MASTER", "mymaster"]);
                m.contains("num-slaves\n2\n") && m.contains("num-other-sentinels\n2\n")
            }),
            "discovery failed on {port}\n{}",
            logs()
        );
    }
    // The partition: A (master + one sentinel) is cut off.
    net.set_link(false);
    let addr = |ns: &str, host: &str, port: u16| {
        cli(
            ns,
            host,
            port,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
        )
        .lines()
        .map(str::to_string)
        .collect::<Vec<_>>()
    };
    let mut promoted = String::new();
    assert!(
        wait_for(Duration::from_secs(60), || {
            let x = addr(&b, &ipb, 26380);
            let y = addr(&b, &ipb, 26381);
            if x.len() == 2 && x == y && x[1] != "7000" {
                promoted = x[1].clone();
                true
            } else {
                false
            }
        }),
        "the majority did not fail over\n{}",
        logs()
    );
    // The minority's sentinel could not fail over on its own.
    assert_eq!(addr(&a, &ipa, 26379), vec![ipa.clone(), "7000".to_string()]);
    // Heal: one master, the promoted one; the old master follows it.
    net.set_link(true);
    assert!(
        wait_for(Duration::from_secs(60), || {
            let old = cli(&a, &ipa, 7000, &["INFO", "replication"]);
            field(&old, "role") == "slave"
                && field(&old, "master_port") == promoted
                && addr(&a, &ipa, 26379).get(1) == Some(&promoted)
        }),
        "after healing the old master did not follow the promoted one\n{}",
        logs()
    );
    let masters = [("7000", &a, &ipa), ("7001", &b, &ipb), ("7002", &b, &ipb)]
        .iter()
        .filter(|(p, ns, host)| {
            field(
                &cli(ns, host, p.parse().unwrap(), &["INFO", "replication"]),
                "role",
            ) == "master"
        })
        .count();
    assert_eq!(masters, 1, "{}", logs());
    drop(procs);
}
