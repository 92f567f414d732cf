//! Hello messages (Redis: sentinelProcessHelloMessage): what other
//! sentinels announce on `__sentinel__:hello` of every monitored server.
//! A hello makes its sender known (or moved), carries the current epoch,
//! and, when its master configuration is newer than ours, switches us to
//! the master it names.
//!
//! Hellos come from the network: a hello about a master we don't
//! monitor, with an address we would refuse, or from ourselves is
//! dropped.

use super::proto::Hello;
use super::{Event, Peer, Sentinel, Who};

impl Sentinel {
    /// A hello heard on a monitored server.
    pub fn handle_hello(&mut self, payload: &str, now_ms: i64) {
        let Some(h) = Hello::parse(payload) else {
            return;
        };
        if h.runid == self.myid {
            return;
        }
        let name = h.master_name.clone();
        // Hostnames only under resolve-hostnames (Redis drops the hello).
        if !self.conf.host_allowed(&h.ip) || !self.conf.host_allowed(&h.master_ip) {
            return;
        }
        let cap = self.conf.peer_cap();
        let Some(m) = self.masters.get_mut(&name) else {
            return;
        };
        // Past the cap a new sender is not added (Redis has no cap: forged
        // hellos could add sentinels, and voters, without end).
        let known = m.sentinels.contains_key(&h.runid)
            || m.sentinels
                .values()
                .any(|p| p.ip == h.ip && p.port == h.port);
        if !known && m.sentinels.len() >= cap {
            if now_ms - m.peers_full_logged_ms >= 60_000 {
                m.peers_full_logged_ms = now_ms;
                tracing::warn!(
                    master = %name,
                    sentinel = %h.runid,
                    "Refusing sentinel {}:{} ({}) for master {name}: {cap} sentinels known already (sentinel max-known-sentinels)",
                    h.ip,
                    h.port,
                    h.runid
                );
            }
            return;
        }
        // A new sentinel, or one that moved (-dup-sentinel for the old id
        // at the same address).
        let dup: Vec<String> = m
            .sentinels
            .values()
            .filter(|p| p.runid != h.runid && p.ip == h.ip && p.port == h.port)
            .map(|p| p.runid.clone())
            .collect();
        for id in &dup {
            m.sentinels.remove(id);
        }
        let added = match m.sentinels.get_mut(&h.runid) {
            Some(p) => {
                p.hello_ms = now_ms;
                if p.ip != h.ip || p.port != h.port {
                    p.ip = h.ip.clone();
                    p.port = h.port;
                    p.drop_link();
                }
                false
            }
            None => {
                let p = Peer::new(&h.ip, h.port, &h.runid, now_ms);
                m.sentinels.insert(h.runid.clone(), p);
                true
            }
        };
        if added || !dup.is_empty() {
            self.dirty = true;
        }
        if !dup.is_empty() {
            self.event(
                Event::DupSentinel,
                &name,
                &Who::Master,
                "#duplicate of a sentinel that changed its id or address",
            );
        }
        if added {
            self.event(Event::Sentinel, &name, &Who::Peer(h.runid.clone()), "");
        }
        if h.current_epoch > self.current_epoch {
            self.current_epoch = h.current_epoch;
            self.dirty = true;
            let e = h.current_epoch.to_string();
            self.event(Event::NewEpoch, &name, &Who::Master, &e);
        }
        self.hello_config(&name, &h, now_ms);
    }

    /// A newer configuration for this master (Redis: the failover
    /// leader's hello after +switch-master): adopt its epoch, and switch
    /// when it names another master.
    fn hello_config(&mut self, name: &str, h: &Hello, now_ms: i64) {
        let master_ip = self.conf.instance_addr(&h.master_ip);
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if m.conf.config_epoch >= h.master_config_epoch {
            return;
        }
        m.conf.config_epoch = h.master_config_epoch;
        self.dirty = true;
        if m.inst.ip == master_ip && m.inst.port == h.master_port {
            return;
        }
        let from = m.inst.key();
        self.event(
            Event::ConfigUpdateFrom,
            name,
            &Who::Peer(h.runid.clone()),
            "",
        );
        self.switch_master(name, &master_ip, h.master_port, now_ms);
        let to = format!("{master_ip}:{}", h.master_port);
        self.client_reconfig_script(name, "observer", &from, &to);
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::MAX_EPOCH;
    use super::*;
    use crate::sentinel::config::SentinelConf;

    fn one_master(extra: &[&str]) -> Sentinel {
        let mut conf = SentinelConf::new();
        let line = ["monitor", "cache", "127.0.0.1", "6379", "2"];
        conf.apply(&line.map(String::from)).unwrap();
        if !extra.is_empty() {
            conf.apply(&extra.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        }
        Sentinel::new(conf, "/nonexistent/sentinel.conf".into(), 0)
    }

    fn hello(ip: &str, port: u16, id: usize, epoch: u64) -> String {
        format!("{ip},{port},{id:040x},{epoch},cache,127.0.0.1,6379,0")
    }

    #[test]
    fn a_hello_whose_epoch_leaves_no_room_to_count_up_is_dropped() {
        let mut s = one_master(&[]);
        s.handle_hello(&hello("10.0.0.1", 26379, 1, u64::MAX), 1);
        s.handle_hello(&hello("10.0.0.1", 26379, 1, MAX_EPOCH + 1), 1);
        assert_eq!(s.current_epoch, 0);
        assert!(s.masters["cache"].sentinels.is_empty());
        // The largest accepted epoch is adopted, and a failover from it
        // does not wrap to 0: it does not start.
        s.handle_hello(&hello("10.0.0.1", 26379, 1, MAX_EPOCH), 2);
        assert_eq!(s.current_epoch, MAX_EPOCH);
        s.start_failover("cache", 3, true);
        assert_eq!(s.current_epoch, MAX_EPOCH);
        assert!(s.masters["cache"].failover.is_none());
    }

    #[test]
    fn hellos_past_max_known_sentinels_add_no_sentinel_but_known_ones_still_move() {
        let mut s = one_master(&[]);
        for id in 0..200 {
            s.handle_hello(&hello("10.0.0.1", 20000 + id as u16, id + 1, 0), 1);
        }
        assert_eq!(
            s.masters["cache"].sentinels.len(),
            crate::sentinel::config::DEFAULT_MAX_KNOWN_SENTINELS
        );
        let mut s = one_master(&["max-known-sentinels", "2"]);
        for id in 1..=5 {
            s.handle_hello(&hello("10.0.0.1", 26379 + id as u16, id, 0), 1);
        }
        let ids: Vec<String> = s.masters["cache"].sentinels.keys().cloned().collect();
        assert_eq!(ids, [format!("{:040x}", 1), format!("{:040x}", 2)]);
        // A known sentinel that moved is followed, cap or not.
        s.handle_hello(&hello("10.0.0.9", 26379, 2, 0), 2);
        assert_eq!(
            s.masters["cache"].sentinels[&format!("{:040x}", 2)].ip,
            "10.0.0.9"
        );
        // And the cap persists.
        assert!(s.conf.render().contains("sentinel max-known-sentinels 2\n"));
    }
}
