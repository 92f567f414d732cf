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
        let Some(m) = self.masters.get_mut(&name) else {
            return;
        };
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
