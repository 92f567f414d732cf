//! Sentinel's wire formats (Redis: sentinel.c): the hello message and
//! what a monitored server's INFO says. No I/O; unit-tested here. Replies
//! are read by [`crate::resp::client`].

/// The channel sentinels announce themselves on.
pub const HELLO_CHANNEL: &str = "__sentinel__:hello";

/// A hello message: `ip,port,runid,current_epoch,master_name,master_ip,
/// master_port,master_config_epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The announcing sentinel's address.
    pub ip: String,
    /// Its port.
    pub port: u16,
    /// Its id.
    pub runid: String,
    /// Its current epoch.
    pub current_epoch: u64,
    /// The master it speaks about.
    pub master_name: String,
    /// That master's address as it knows it.
    pub master_ip: String,
    /// Port.
    pub master_port: u16,
    /// The epoch of that configuration.
    pub master_config_epoch: u64,
}

/// The largest epoch picket accepts from a peer, a file or a vote
/// request. Redis takes any u64, so one forged hello with 2^64-1 makes the
/// next `+1` wrap to 0, after which no failover can win a vote; picket
/// refuses anything that leaves no room to count up.
pub const MAX_EPOCH: u64 = i64::MAX as u64;

impl Hello {
    /// Parses a hello payload; `None` if it is not one, or if an epoch
    /// is beyond [`MAX_EPOCH`].
    pub fn parse(s: &str) -> Option<Hello> {
        let f: Vec<&str> = s.split(',').collect();
        if f.len() != 8 {
            return None;
        }
        let h = Hello {
            ip: f[0].to_string(),
            port: f[1].parse().ok()?,
            runid: f[2].to_string(),
            current_epoch: f[3].parse().ok()?,
            master_name: f[4].to_string(),
            master_ip: f[5].to_string(),
            master_port: f[6].parse().ok()?,
            master_config_epoch: f[7].parse().ok()?,
        };
        (h.current_epoch <= MAX_EPOCH && h.master_config_epoch <= MAX_EPOCH).then_some(h)
    }

    /// The payload.
    pub fn format(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{}",
            self.ip,
            self.port,
            self.runid,
            self.current_epoch,
            self.master_name,
            self.master_ip,
            self.master_port,
            self.master_config_epoch
        )
    }
}

/// What a monitored server's INFO says (Redis: sentinelRefreshInstanceInfo).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoReport {
    /// run_id.
    pub run_id: String,
    /// role: master or slave.
    pub is_master: bool,
    /// Replicas listed by a master (ip, port).
    pub replicas: Vec<(String, u16)>,
    /// A replica's master_host / master_port.
    pub master_host: String,
    /// Port.
    pub master_port: u16,
    /// master_link_status:up.
    pub link_up: bool,
    /// master_link_down_since_seconds, when down.
    pub link_down_since_secs: i64,
    /// slave_priority (100 when absent).
    pub priority: i64,
    /// slave_repl_offset.
    pub repl_offset: u64,
    /// replica_announced (true when absent).
    pub announced: bool,
}

/// Parses INFO output.
pub fn parse_info(text: &str) -> InfoReport {
    let mut r = InfoReport {
        priority: 100,
        announced: true,
        ..InfoReport::default()
    };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k {
            "run_id" => r.run_id = v.to_string(),
            "role" => r.is_master = v == "master",
            "master_host" => r.master_host = v.to_string(),
            "master_port" => r.master_port = v.parse().unwrap_or(0),
            "master_link_status" => r.link_up = v == "up",
            "master_link_down_since_seconds" => r.link_down_since_secs = v.parse().unwrap_or(-1),
            "slave_priority" | "replica_priority" => r.priority = v.parse().unwrap_or(100),
            "slave_repl_offset" => r.repl_offset = v.parse().unwrap_or(0),
            "replica_announced" => r.announced = v != "0",
            k if k.starts_with("slave")
                && k[5..].chars().all(|c| c.is_ascii_digit())
                && k.len() > 5 =>
            {
                // slave0:ip=127.0.0.1,port=6380,state=online,offset=..,lag=..
                let mut ip = None;
                let mut port = None;
                for kv in v.split(',') {
                    match kv.split_once('=') {
                        Some(("ip", x)) => ip = Some(x.to_string()),
                        Some(("port", x)) => port = x.parse().ok(),
                        _ => {}
                    }
                }
                if let (Some(ip), Some(port)) = (ip, port) {
                    r.replicas.push((ip, port));
                }
            }
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_round_trip() {
        let s = "127.0.0.1,26379,abcd,3,mymaster,10.0.0.1,6379,2";
        let h = Hello::parse(s).unwrap();
        assert_eq!(h.master_port, 6379);
        assert_eq!(h.current_epoch, 3);
        assert_eq!(h.format(), s);
        assert_eq!(Hello::parse("a,b"), None);
        assert_eq!(Hello::parse("1,x,3,4,5,6,7,8"), None);
    }

    #[test]
    fn info_of_a_master_and_a_replica() {
        let m = parse_info("# Server\r\nrun_id:abc\r\n# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=10,lag=0\r\nslave1:ip=127.0.0.2,port=6381,state=online,offset=10,lag=1\r\n");
        assert!(m.is_master);
        assert_eq!(m.run_id, "abc");
        assert_eq!(
            m.replicas,
            vec![("127.0.0.1".into(), 6380), ("127.0.0.2".into(), 6381)]
        );
        let r = parse_info("role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:up\r\nslave_repl_offset:99\r\nslave_priority:10\r\n");
        assert!(!r.is_master && r.link_up);
        assert_eq!((r.master_port, r.repl_offset, r.priority), (6379, 99, 10));
    }
}
