//! `sentinel ...` configuration statements (Redis:
//! sentinelHandleConfiguration) and the lines a sentinel writes back to
//! its file to persist what it learned (sentinelFlushConfig). Pure.

use crate::config::BadValue;

/// One monitored master as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterConf {
    /// Its name (`mymaster`).
    pub name: String,
    /// Address.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// Sentinels that must agree it is down.
    pub quorum: usize,
    /// down-after-milliseconds (default 30000).
    pub down_after_ms: i64,
    /// failover-timeout in ms (default 180000).
    pub failover_timeout_ms: i64,
    /// parallel-syncs (default 1).
    pub parallel_syncs: usize,
    /// auth-pass for the master and its replicas.
    pub auth_pass: Option<String>,
    /// auth-user.
    pub auth_user: Option<String>,
    /// notification-script.
    pub notification_script: Option<String>,
    /// client-reconfig-script.
    pub client_reconfig_script: Option<String>,
    /// config-epoch (persisted).
    pub config_epoch: u64,
    /// leader-epoch (persisted).
    pub leader_epoch: u64,
    /// known-replica lines (persisted).
    pub known_replicas: Vec<(String, u16)>,
    /// known-sentinel lines: ip, port, runid (persisted).
    pub known_sentinels: Vec<(String, u16, String)>,
}

impl MasterConf {
    fn new(name: &str, ip: &str, port: u16, quorum: usize) -> MasterConf {
        MasterConf {
            name: name.to_string(),
            ip: ip.to_string(),
            port,
            quorum,
            down_after_ms: 30_000,
            failover_timeout_ms: 180_000,
            parallel_syncs: 1,
            auth_pass: None,
            auth_user: None,
            notification_script: None,
            client_reconfig_script: None,
            config_epoch: 0,
            leader_epoch: 0,
            known_replicas: Vec::new(),
            known_sentinels: Vec::new(),
        }
    }
}

/// Everything the `sentinel` statements say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentinelConf {
    /// sentinel myid.
    pub myid: Option<String>,
    /// sentinel current-epoch.
    pub current_epoch: u64,
    /// sentinel announce-ip.
    pub announce_ip: Option<String>,
    /// sentinel announce-port.
    pub announce_port: Option<u16>,
    /// sentinel resolve-hostnames.
    pub resolve_hostnames: bool,
    /// sentinel announce-hostnames.
    pub announce_hostnames: bool,
    /// sentinel deny-scripts-reconfig (default yes).
    pub deny_scripts_reconfig: bool,
    /// sentinel sentinel-user: the user to authenticate to other sentinels.
    pub sentinel_user: Option<String>,
    /// sentinel sentinel-pass: the password for other sentinels (else
    /// our own requirepass, as Redis does).
    pub sentinel_pass: Option<String>,
    /// sentinel max-known-sentinels (picket's own; Redis has no bound):
    /// how many other sentinels one master's hellos may add. None is
    /// [`DEFAULT_MAX_KNOWN_SENTINELS`].
    pub max_known_sentinels: Option<usize>,
    /// Masters in file order.
    pub masters: Vec<MasterConf>,
}

/// Other sentinels a master may have by default: far above any real
/// deployment (3 to 7), low enough that forged hellos cannot grow memory
/// or the voter count without bound.
pub const DEFAULT_MAX_KNOWN_SENTINELS: usize = 64;

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, BadValue> {
    s.parse()
        .map_err(|_| BadValue(format!("Invalid {what} '{s}'")))
}

fn yes_no(s: &str) -> Result<bool, BadValue> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("Please specify yes or no".into()),
    }
}

impl SentinelConf {
    /// Defaults (deny-scripts-reconfig yes).
    pub fn new() -> SentinelConf {
        SentinelConf {
            deny_scripts_reconfig: true,
            ..SentinelConf::default()
        }
    }

    /// How many other sentinels one master may have.
    pub fn peer_cap(&self) -> usize {
        self.max_known_sentinels
            .unwrap_or(DEFAULT_MAX_KNOWN_SENTINELS)
    }

    /// An instance address may be `host`: an IP address always, a
    /// hostname only under resolve-hostnames.
    pub fn host_allowed(&self, host: &str) -> bool {
        !host.is_empty() && (self.resolve_hostnames || host.parse::<std::net::IpAddr>().is_ok())
    }

    /// The address to keep for `host` (Redis: createSentinelAddr): a
    /// hostname stays a hostname under announce-hostnames, resolved again
    /// at every connection (so a restarted pod's new IP is found); without
    /// it the name is resolved once, here, and its IP kept and shown, as
    /// Redis does. A name that does not resolve is kept: connecting to it
    /// fails, so the instance counts as down.
    pub fn instance_addr(&self, host: &str) -> String {
        if !self.resolve_hostnames
            || self.announce_hostnames
            || host.parse::<std::net::IpAddr>().is_ok()
        {
            return host.to_string();
        }
        use std::net::ToSocketAddrs;
        match (host, 0).to_socket_addrs() {
            Ok(addrs) => {
                let addrs: Vec<_> = addrs.collect();
                addrs
                    .iter()
                    .find(|a| a.is_ipv4())
                    .or(addrs.first())
                    .map(|a| a.ip().to_string())
                    .unwrap_or_else(|| host.to_string())
            }
            Err(e) => {
                tracing::warn!("Failed to resolve hostname '{host}': {e}");
                host.to_string()
            }
        }
    }

    /// The master named `name`.
    pub fn master_mut(&mut self, name: &str) -> Result<&mut MasterConf, BadValue> {
        self.masters
            .iter_mut()
            .find(|m| m.name == name)
            .ok_or_else(|| "No such master with specified name.".into())
    }

    /// Applies one statement; `args` is everything after `sentinel`.
    pub fn apply(&mut self, args: &[String]) -> Result<(), BadValue> {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let Some(first) = a.first() else {
            return Err("Unrecognized sentinel configuration statement.".into());
        };
        match (first.to_ascii_lowercase().as_str(), a.len()) {
            ("monitor", 5) => {
                let quorum: usize = num(a[4], "quorum")?;
                if quorum == 0 {
                    return Err("Quorum must be 1 or greater.".into());
                }
                if self.masters.iter().any(|m| m.name == a[1]) {
                    return Err("Duplicated master name.".into());
                }
                let port: u16 = num(a[3], "port")?;
                if port == 0 {
                    return Err("Invalid port number".into());
                }
                // A hostname needs resolve-hostnames, set on an earlier
                // line (Redis reads the file in order).
                if !self.host_allowed(a[2]) {
                    return Err("Can't resolve instance hostname.".into());
                }
                self.masters.push(MasterConf::new(a[1], a[2], port, quorum));
            }
            ("down-after-milliseconds", 3) => {
                let v: i64 = num(a[2], "down-after-milliseconds")?;
                if v <= 0 {
                    return Err("negative or zero time parameter.".into());
                }
                self.master_mut(a[1])?.down_after_ms = v;
            }
            ("failover-timeout", 3) => {
                let v: i64 = num(a[2], "failover-timeout")?;
                if v <= 0 {
                    return Err("negative or zero time parameter.".into());
                }
                self.master_mut(a[1])?.failover_timeout_ms = v;
            }
            ("parallel-syncs", 3) => {
                self.master_mut(a[1])?.parallel_syncs = num(a[2], "parallel-syncs")?
            }
            ("auth-pass", 3) => self.master_mut(a[1])?.auth_pass = Some(a[2].to_string()),
            ("auth-user", 3) => self.master_mut(a[1])?.auth_user = Some(a[2].to_string()),
            ("notification-script", 3) => {
                self.master_mut(a[1])?.notification_script = Some(a[2].to_string())
            }
            ("client-reconfig-script", 3) => {
                self.master_mut(a[1])?.client_reconfig_script = Some(a[2].to_string())
            }
            ("config-epoch", 3) => self.master_mut(a[1])?.config_epoch = num(a[2], "epoch")?,
            ("leader-epoch", 3) => self.master_mut(a[1])?.leader_epoch = num(a[2], "epoch")?,
            ("known-replica" | "known-slave", 4) => {
                let port = num(a[3], "port")?;
                self.master_mut(a[1])?
                    .known_replicas
                    .push((a[2].to_string(), port));
            }
            ("known-sentinel", 5) => {
                let port = num(a[3], "port")?;
                self.master_mut(a[1])?.known_sentinels.push((
                    a[2].to_string(),
                    port,
                    a[4].to_string(),
                ));
            }
            ("myid", 2) => {
                if a[1].len() != 40 || !a[1].bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err("Malformed Sentinel id in myid option.".into());
                }
                self.myid = Some(a[1].to_string());
            }
            ("current-epoch", 2) => {
                let e: u64 = num(a[1], "epoch")?;
                if e > super::proto::MAX_EPOCH {
                    return Err(BadValue(format!(
                        "Invalid epoch '{e}': above {}",
                        super::proto::MAX_EPOCH
                    )));
                }
                self.current_epoch = e;
            }
            ("max-known-sentinels", 2) => {
                let n: usize = num(a[1], "count")?;
                if n == 0 {
                    return Err("max-known-sentinels must be 1 or greater".into());
                }
                self.max_known_sentinels = Some(n);
            }
            ("announce-ip", 2) => self.announce_ip = (!a[1].is_empty()).then(|| a[1].to_string()),
            ("announce-port", 2) => {
                let p: u16 = num(a[1], "port")?;
                self.announce_port = (p != 0).then_some(p);
            }
            ("resolve-hostnames", 2) => self.resolve_hostnames = yes_no(a[1])?,
            ("announce-hostnames", 2) => self.announce_hostnames = yes_no(a[1])?,
            ("deny-scripts-reconfig", 2) => self.deny_scripts_reconfig = yes_no(a[1])?,
            ("sentinel-user", 2) => {
                self.sentinel_user = (!a[1].is_empty()).then(|| a[1].to_string())
            }
            ("sentinel-pass", 2) => {
                self.sentinel_pass = (!a[1].is_empty()).then(|| a[1].to_string())
            }
            // Read and ignored, as redis-sentinel 7.0 writes it.
            ("rename-command", 4) => {}
            _ => return Err("Unrecognized sentinel configuration statement.".into()),
        }
        Ok(())
    }

    /// The `sentinel` lines that persist this configuration.
    pub fn render(&self) -> String {
        use crate::config::quote;
        let mut s = String::new();
        if let Some(id) = &self.myid {
            s.push_str(&format!("sentinel myid {id}\n"));
        }
        if let Some(n) = self.max_known_sentinels {
            s.push_str(&format!("sentinel max-known-sentinels {n}\n"));
        }
        if self.resolve_hostnames {
            s.push_str("sentinel resolve-hostnames yes\n");
        }
        if self.announce_hostnames {
            s.push_str("sentinel announce-hostnames yes\n");
        }
        if let Some(ip) = &self.announce_ip {
            s.push_str(&format!("sentinel announce-ip {}\n", quote(ip)));
        }
        if let Some(p) = self.announce_port {
            s.push_str(&format!("sentinel announce-port {p}\n"));
        }
        if !self.deny_scripts_reconfig {
            s.push_str("sentinel deny-scripts-reconfig no\n");
        }
        if let Some(u) = &self.sentinel_user {
            s.push_str(&format!("sentinel sentinel-user {}\n", quote(u)));
        }
        if let Some(p) = &self.sentinel_pass {
            s.push_str(&format!("sentinel sentinel-pass {}\n", quote(p)));
        }
        for m in &self.masters {
            let n = quote(&m.name);
            s.push_str(&format!(
                "sentinel monitor {n} {} {} {}\n",
                quote(&m.ip),
                m.port,
                m.quorum
            ));
            if m.down_after_ms != 30_000 {
                s.push_str(&format!(
                    "sentinel down-after-milliseconds {n} {}\n",
                    m.down_after_ms
                ));
            }
            if m.failover_timeout_ms != 180_000 {
                s.push_str(&format!(
                    "sentinel failover-timeout {n} {}\n",
                    m.failover_timeout_ms
                ));
            }
            if m.parallel_syncs != 1 {
                s.push_str(&format!(
                    "sentinel parallel-syncs {n} {}\n",
                    m.parallel_syncs
                ));
            }
            if let Some(u) = &m.auth_user {
                s.push_str(&format!("sentinel auth-user {n} {}\n", quote(u)));
            }
            if let Some(p) = &m.auth_pass {
                s.push_str(&format!("sentinel auth-pass {n} {}\n", quote(p)));
            }
            if let Some(p) = &m.notification_script {
                s.push_str(&format!("sentinel notification-script {n} {}\n", quote(p)));
            }
            if let Some(p) = &m.client_reconfig_script {
                s.push_str(&format!(
                    "sentinel client-reconfig-script {n} {}\n",
                    quote(p)
                ));
            }
            s.push_str(&format!("sentinel config-epoch {n} {}\n", m.config_epoch));
            s.push_str(&format!("sentinel leader-epoch {n} {}\n", m.leader_epoch));
            for (ip, port) in &m.known_replicas {
                s.push_str(&format!(
                    "sentinel known-replica {n} {} {port}\n",
                    quote(ip)
                ));
            }
            for (ip, port, id) in &m.known_sentinels {
                s.push_str(&format!(
                    "sentinel known-sentinel {n} {} {port} {id}\n",
                    quote(ip)
                ));
            }
        }
        s.push_str(&format!("sentinel current-epoch {}\n", self.current_epoch));
        s
    }
}

/// The connections a change of an option closes, so that the next ones
/// log in with the new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// The master's and its replicas' command links and hello
    /// subscriptions (Redis: dropInstanceConnections).
    Instances,
    /// The links to the other sentinels, of every master (Redis:
    /// sentinelDropConnections).
    Sentinels,
}

/// Which links a change of `option` resets, as redis-sentinel 7.0 does:
/// `SENTINEL SET <master> auth-pass|auth-user` those of that master and
/// its replicas, `SENTINEL CONFIG SET sentinel-user|sentinel-pass` those
/// to the other sentinels. Other options leave the links open (announce
/// addresses and timings are read again at each use).
pub fn links_reset_by(option: &str) -> Option<Links> {
    match option.to_ascii_lowercase().as_str() {
        "auth-pass" | "auth-user" => Some(Links::Instances),
        "sentinel-pass" | "sentinel-user" => Some(Links::Sentinels),
        _ => None,
    }
}

/// The file with its old `sentinel` lines replaced by `lines` (kept after
/// the other directives, as redis-sentinel's rewrite does).
pub fn rewrite_text(old: &str, lines: &str) -> String {
    let mut out = String::new();
    for l in old.lines() {
        let t = l.trim_start();
        let is_sentinel = t
            .split_whitespace()
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("sentinel"));
        if is_sentinel || t == "# Generated by CONFIG REWRITE" {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out.push_str("# Generated by CONFIG REWRITE\n");
    out.push_str(lines);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_reset_the_links_they_are_used_on_and_nothing_else_does() {
        for (option, want) in [
            ("auth-pass", Some(Links::Instances)),
            ("AUTH-USER", Some(Links::Instances)),
            ("sentinel-pass", Some(Links::Sentinels)),
            ("Sentinel-User", Some(Links::Sentinels)),
            ("down-after-milliseconds", None),
            ("quorum", None),
            ("announce-ip", None),
            ("announce-port", None),
            ("resolve-hostnames", None),
            ("notification-script", None),
        ] {
            assert_eq!(links_reset_by(option), want, "{option}");
        }
    }

    fn apply(c: &mut SentinelConf, line: &str) -> Result<(), BadValue> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        c.apply(&args)
    }

    #[test]
    fn the_issue_configuration_and_a_round_trip() {
        let mut c = SentinelConf::new();
        for l in [
            "monitor mymaster 127.0.0.1 6379 1",
            "down-after-milliseconds mymaster 3000",
            "failover-timeout mymaster 10000",
            "parallel-syncs mymaster 2",
            "auth-pass mymaster s3cret",
            "resolve-hostnames yes",
            "announce-hostnames yes",
            "monitor other cache-0.cache-headless.ns.svc.cluster.local 6379 2",
            "sentinel-user watcher",
            "sentinel-pass peer-s3cret",
        ] {
            apply(&mut c, l).unwrap();
        }
        c.myid = Some("a".repeat(40));
        c.masters[0].known_replicas.push(("127.0.0.1".into(), 6380));
        c.masters[0]
            .known_sentinels
            .push(("127.0.0.1".into(), 26380, "b".repeat(40)));
        c.current_epoch = 4;
        let text = c.render();
        let mut back = SentinelConf::new();
        for l in text.lines() {
            let args: Vec<String> = l.split_whitespace().skip(1).map(String::from).collect();
            back.apply(&args).unwrap();
        }
        assert_eq!(back, c);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let mut c = SentinelConf::new();
        assert_eq!(
            apply(&mut c, "monitor m 127.0.0.1 6379 0").unwrap_err(),
            "Quorum must be 1 or greater."
        );
        assert_eq!(
            apply(&mut c, "down-after-milliseconds nope 5").unwrap_err(),
            "No such master with specified name."
        );
        assert_eq!(
            apply(&mut c, "bogus x").unwrap_err(),
            "Unrecognized sentinel configuration statement."
        );
        apply(&mut c, "monitor m 127.0.0.1 6379 2").unwrap();
        assert_eq!(
            apply(&mut c, "monitor m 127.0.0.1 6379 2").unwrap_err(),
            "Duplicated master name."
        );
        assert!(apply(&mut c, "myid xyz").is_err());
        assert_eq!(
            apply(&mut c, "monitor h cache-0.local 6379 2").unwrap_err(),
            "Can't resolve instance hostname."
        );
    }

    #[test]
    fn instance_addresses_follow_the_hostname_settings() {
        let mut c = SentinelConf::new();
        assert!(c.host_allowed("10.0.0.1") && c.host_allowed("::1"));
        assert!(!c.host_allowed("localhost") && !c.host_allowed(""));
        c.resolve_hostnames = true;
        assert!(c.host_allowed("localhost"));
        // Resolved once, the IP kept, without announce-hostnames.
        let ip = c.instance_addr("localhost");
        assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
        c.announce_hostnames = true;
        assert_eq!(c.instance_addr("localhost"), "localhost");
        assert_eq!(c.instance_addr("10.0.0.1"), "10.0.0.1");
    }

    #[test]
    fn rewrite_keeps_other_directives_and_replaces_sentinel_lines() {
        let old = "port 26379\nsentinel monitor m 1.2.3.4 6379 2\n# note\n";
        let out = rewrite_text(old, "sentinel monitor m 5.6.7.8 6379 2\n");
        assert_eq!(out, "port 26379\n# note\n# Generated by CONFIG REWRITE\nsentinel monitor m 5.6.7.8 6379 2\n");
        assert_eq!(
            rewrite_text(&out, "sentinel monitor m 9.9.9.9 6379 2\n")
                .matches("Generated")
                .count(),
            1
        );
    }
}
