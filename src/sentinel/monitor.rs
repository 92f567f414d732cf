//! Monitoring (Redis: sentinelReconnectInstance,
//! sentinelSendPeriodicCommands, sentinelRefreshInstanceInfo and the reply
//! callbacks): which connections to open, when to PING, ask INFO and
//! publish a hello, and what each reply changes.
//!
//! Connections are named by id: the state asks for one with
//! [`Action::Connect`] and forgets it by dropping its [`LinkState`]; the
//! driver reports back what happened to it.

use super::proto;
use super::{
    Action, Credentials, Event, Instance, LinkId, LinkState, Peer, Req, Sentinel, Target, Who,
    HELLO_PERIOD_MS, INFO_PERIOD_MS, PING_PERIOD_MS,
};
use crate::resp::client::Reply;

/// Our hello (Redis: sentinelSendHello): `ip,port,myid,current_epoch,`
/// then the master's `name,ip,port,config_epoch` (`tail`). The address is
/// announce-ip, else ours on the connection it goes out on.
fn hello(
    announce_ip: &Option<String>,
    link: &LinkState,
    port: u16,
    myid: &str,
    epoch: u64,
    tail: &str,
) -> String {
    let ip = announce_ip
        .clone()
        .or_else(|| link.local_ip.clone())
        .unwrap_or_else(|| "127.0.0.1".into());
    format!("{ip},{port},{myid},{epoch},{tail}")
}

/// One master's round of periodic commands: what its servers and the
/// other sentinels share, and the actions it queues.
struct Round<'a> {
    name: &'a str,
    now_ms: i64,
    myid: &'a str,
    epoch: u64,
    /// For the master and its replicas.
    auth: Credentials,
    /// For the other sentinels.
    peer_auth: Credentials,
    announce_ip: Option<String>,
    announce_port: u16,
    /// The master's part of our hello.
    hello_tail: String,
    info_period: i64,
    down_after: i64,
    master_down: bool,
    next_link: LinkId,
    out: Vec<Action>,
}

impl Round<'_> {
    fn new_id(&mut self) -> LinkId {
        self.next_link += 1;
        self.next_link - 1
    }

    fn target(&self, who: Who, ip: &str, port: u16, auth: &Credentials) -> Target {
        Target {
            master: self.name.to_string(),
            who,
            ip: ip.to_string(),
            port,
            auth: auth.clone(),
            myid: self.myid.to_string(),
        }
    }

    fn hello(&self, link: &LinkState) -> Req {
        let hello = hello(
            &self.announce_ip,
            link,
            self.announce_port,
            self.myid,
            self.epoch,
            &self.hello_tail,
        );
        Req::Publish(hello)
    }

    /// The master or a replica: its link and hello subscription, then
    /// INFO (every second for replicas of a master in sdown), PING, hello.
    fn server(&mut self, who: Who, inst: &mut Instance) {
        let now_ms = self.now_ms;
        if inst.link.is_none() && now_ms - inst.link_tried_ms >= PING_PERIOD_MS {
            inst.link_tried_ms = now_ms;
            let id = self.new_id();
            inst.link = Some(LinkState::new(id));
            let target = self.target(who.clone(), &inst.ip, inst.port, &self.auth);
            self.out.push(Action::Connect { id, target });
        }
        if inst.hello_sub.is_none() {
            let id = self.new_id();
            inst.hello_sub = Some(id);
            let target = self.target(who.clone(), &inst.ip, inst.port, &self.auth);
            self.out.push(Action::Subscribe { id, target });
        }
        let Some(l) = &mut inst.link else { return };
        let period = if matches!(who, Who::Replica(_)) && self.master_down {
            1000
        } else {
            self.info_period
        };
        if now_ms - inst.info_ms >= period && !l.info_pending {
            l.info_pending = true;
            self.out.push(Action::Send {
                id: l.id,
                req: Req::Info,
            });
        }
        if inst.ping_pending_ms == 0
            && now_ms - inst.last_ok_ping_ms >= PING_PERIOD_MS.min(self.down_after)
        {
            inst.ping_pending_ms = now_ms;
            self.out.push(Action::Send {
                id: l.id,
                req: Req::Ping,
            });
        }
        if now_ms - inst.hello_ms >= HELLO_PERIOD_MS {
            inst.hello_ms = now_ms;
            let req = self.hello(l);
            self.out.push(Action::Send { id: l.id, req });
        }
    }

    /// Another sentinel: its link, PING, and our hello sent directly.
    fn peer(&mut self, p: &mut Peer) {
        let now_ms = self.now_ms;
        if p.link.is_none() && now_ms - p.link_tried_ms >= PING_PERIOD_MS {
            p.link_tried_ms = now_ms;
            let id = self.new_id();
            p.link = Some(LinkState::new(id));
            let target = self.target(Who::Peer(p.runid.clone()), &p.ip, p.port, &self.peer_auth);
            self.out.push(Action::Connect { id, target });
        }
        let Some(l) = &p.link else { return };
        if p.ping_pending_ms == 0 && now_ms - p.last_ok_ping_ms >= PING_PERIOD_MS {
            p.ping_pending_ms = now_ms;
            self.out.push(Action::Send {
                id: l.id,
                req: Req::Ping,
            });
        }
        // Hellos go to the other sentinels directly as well (Redis:
        // "PUBLISH hello messages to all the three kinds of instances"):
        // one that knows no live server still learns a new configuration.
        if now_ms - p.pub_ms >= HELLO_PERIOD_MS {
            p.pub_ms = now_ms;
            let req = self.hello(l);
            self.out.push(Action::Send { id: l.id, req });
        }
    }
}

impl Sentinel {
    /// Queues `req` on connection `id` of `who`; an INFO is remembered as
    /// pending until its reply or the connection's end.
    pub(super) fn send(&mut self, name: &str, who: &Who, id: LinkId, req: Req) {
        if matches!(req, Req::Info) {
            if let Some(Some(l)) = self.masters.get_mut(name).and_then(|m| m.link_mut(who)) {
                if l.id == id {
                    l.info_pending = true;
                }
            }
        }
        self.actions.push_back(Action::Send { id, req });
    }

    /// Opens missing links (one attempt per instance a PING period) and
    /// queues PING / INFO / hello (Redis: sentinelSendPeriodicCommands).
    pub(super) fn send_periodic(&mut self, name: &str, now_ms: i64) {
        // Other sentinels are asked with sentinel-user/sentinel-pass, else
        // with our own requirepass (Redis 6.2+: the sentinels share it).
        let peer_auth: Credentials = match &self.conf.sentinel_pass {
            Some(p) => (self.conf.sentinel_user.clone(), Some(p.clone())),
            None => (None, self.own_pass.clone()),
        };
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let busy = m.failover.is_some() || m.inst.sdown_since > 0 || m.odown_since > 0;
        // During the reconfiguration the promoted replica is already the
        // master: the hello says so.
        let (hip, hport) = m.current_addr();
        let mut round = Round {
            name,
            now_ms,
            myid: &self.myid,
            epoch: self.current_epoch,
            auth: (m.conf.auth_user.clone(), m.conf.auth_pass.clone()),
            peer_auth,
            announce_ip: self.conf.announce_ip.clone(),
            announce_port: self.conf.announce_port.unwrap_or(self.own_port),
            hello_tail: format!("{},{},{},{}", m.conf.name, hip, hport, m.conf.config_epoch),
            info_period: if busy { 1000 } else { INFO_PERIOD_MS },
            down_after: m.conf.down_after_ms,
            master_down: m.inst.sdown_since > 0,
            next_link: self.next_link,
            out: Vec::new(),
        };
        round.server(Who::Master, &mut m.inst);
        for (k, r) in m.replicas.iter_mut() {
            round.server(Who::Replica(k.clone()), r);
        }
        for p in m.sentinels.values_mut() {
            round.peer(p);
        }
        let Round { next_link, out, .. } = round;
        self.next_link = next_link;
        self.actions.extend(out);
    }

    /// Connection `id` of `who` is up, with `local_ip` as our address on
    /// it.
    pub fn handle_link_up(&mut self, name: &str, who: &Who, id: LinkId, local_ip: String) {
        if let Some(Some(l)) = self.masters.get_mut(name).and_then(|m| m.link_mut(who)) {
            if l.id == id {
                l.local_ip = Some(local_ip);
            }
        }
    }

    /// Connection `id` of `who` ended: the instance gets a new one on a
    /// later timer run.
    pub fn handle_link_closed(&mut self, name: &str, who: &Who, id: LinkId) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if let Some(slot) = m.link_mut(who) {
            if slot.as_ref().is_some_and(|l| l.id == id) {
                *slot = None;
            }
        }
        match who {
            Who::Peer(p) => {
                if let Some(p) = m.sentinels.get_mut(p) {
                    p.ping_pending_ms = 0;
                }
            }
            _ => {
                if let Some(i) = m.server_mut(who) {
                    i.ping_pending_ms = 0;
                }
            }
        }
    }

    /// Hello subscription `id` of `who` ended: the timer starts another.
    pub fn handle_unsubscribed(&mut self, name: &str, who: &Who, id: LinkId) {
        if let Some(i) = self.masters.get_mut(name).and_then(|m| m.server_mut(who)) {
            if i.hello_sub == Some(id) {
                i.hello_sub = None;
            }
        }
    }

    /// Where a link of master `name` goes, and the slot that remembers
    /// its refusal: `(description, refused)`.
    fn refusal_slot<'a>(
        &'a mut self,
        name: &str,
        who: &Who,
    ) -> Option<(String, &'a mut Option<String>)> {
        let m = self.masters.get_mut(name)?;
        Some(match who {
            Who::Master => (
                format!("master {name} {} {}", m.inst.ip, m.inst.port),
                &mut m.inst.refused,
            ),
            Who::Replica(k) => {
                let r = m.replicas.get_mut(k)?;
                (
                    format!("slave {k} {} {} @ {name}", r.ip, r.port),
                    &mut r.refused,
                )
            }
            Who::Peer(id) => {
                let p = m.sentinels.get_mut(id)?;
                (
                    format!("sentinel {id} {} {} @ {name}", p.ip, p.port),
                    &mut p.refused,
                )
            }
        })
    }

    /// An instance refused a link's credentials (an error to AUTH or
    /// SUBSCRIBE, `-NOAUTH`, `-WRONGPASS`): logged once, not at every
    /// attempt, until it accepts one again or says something else.
    pub fn handle_link_refused(&mut self, name: &str, who: &Who, why: &str) {
        if let Some((what, refused)) = self.refusal_slot(name, who) {
            if refused.as_deref() != Some(why) {
                tracing::warn!(
                    master = name,
                    "Sentinel can't log in to {what}: {why} (check auth-pass/auth-user, or sentinel-pass/sentinel-user for sentinels)"
                );
                *refused = Some(why.to_string());
            }
        }
    }

    /// A link got a valid PING reply: a refusal logged before is over.
    fn link_accepted(&mut self, name: &str, who: &Who) {
        if let Some((what, refused)) = self.refusal_slot(name, who) {
            if refused.take().is_some() {
                tracing::info!(master = name, "Sentinel logged in to {what} again");
            }
        }
    }

    /// A reply to `req` on connection `id` of `who`, applied to the state
    /// (Redis: sentinelPingReplyCallback, sentinelInfoReplyCallback,
    /// sentinelReceiveIsMasterDownReply).
    pub fn handle_reply(
        &mut self,
        name: &str,
        who: &Who,
        id: LinkId,
        req: &Req,
        reply: &Reply,
        now_ms: i64,
    ) {
        if matches!(req, Req::Info) {
            if let Some(Some(l)) = self.masters.get_mut(name).and_then(|m| m.link_mut(who)) {
                if l.id == id {
                    l.info_pending = false;
                }
            }
        }
        if matches!(req, Req::Ping) && !matches!(reply, Reply::Error(_)) {
            self.link_accepted(name, who);
        }
        match who {
            Who::Peer(p) => self.peer_reply(name, p, req, reply, now_ms),
            Who::Master | Who::Replica(_) => self.server_reply(name, who, req, reply, now_ms),
        }
    }

    fn peer_reply(&mut self, name: &str, id: &str, req: &Req, reply: &Reply, now_ms: i64) {
        let Some(p) = self
            .masters
            .get_mut(name)
            .and_then(|m| m.sentinels.get_mut(id))
        else {
            return;
        };
        match (req, reply) {
            (Req::Ping, Reply::Status(s)) if s == "PONG" => {
                p.last_ok_ping_ms = now_ms;
                p.ping_pending_ms = 0;
            }
            (Req::Ping, _) => p.ping_pending_ms = 0,
            (Req::IsMasterDown { .. }, Reply::Array(Some(a))) if a.len() == 3 => {
                if let Reply::Int(d) = a[0] {
                    p.master_down_ms = if d == 1 { now_ms } else { 0 };
                }
                let leader = a[1].text();
                if let Reply::Int(e) = a[2] {
                    if leader != "*" && !leader.is_empty() {
                        p.leader = Some((leader, e as u64));
                    }
                }
            }
            _ => {}
        }
    }

    fn server_reply(&mut self, name: &str, who: &Who, req: &Req, reply: &Reply, now_ms: i64) {
        let Some(inst) = self.masters.get_mut(name).and_then(|m| m.server_mut(who)) else {
            return;
        };
        let mut new_replicas = Vec::new();
        let mut role_change = None;
        match (req, reply) {
            (Req::Ping, Reply::Status(_)) => {
                inst.last_ok_ping_ms = now_ms;
                inst.ping_pending_ms = 0;
            }
            (Req::Ping, Reply::Error(e)) => {
                // LOADING and MASTERDOWN are valid answers (Redis).
                if e.starts_with("LOADING") || e.starts_with("MASTERDOWN") {
                    inst.last_ok_ping_ms = now_ms;
                }
                inst.ping_pending_ms = 0;
            }
            (Req::Info, Reply::Bulk(Some(b))) => {
                let text = String::from_utf8_lossy(b).into_owned();
                let rep = proto::parse_info(&text);
                inst.info_text = text;
                if inst.info_ms > 0 && rep.is_master != inst.info.is_master {
                    inst.role_change_ms = now_ms;
                    role_change = Some(rep.is_master);
                }
                if inst.info_ms == 0 {
                    inst.role_change_ms = now_ms;
                }
                inst.run_id = rep.run_id.clone();
                if matches!(who, Who::Master) && rep.is_master {
                    new_replicas = rep.replicas.clone();
                }
                inst.info = rep;
                inst.info_ms = now_ms;
            }
            _ => {}
        }
        if let Some(is_master) = role_change {
            self.role_changed(name, who, is_master);
        }
        for (ip, port) in new_replicas {
            self.discover_replica(name, &ip, port, now_ms);
        }
    }

    /// A server's INFO reports a new role: +role-change when it agrees with
    /// the configuration, -role-change when not; a replica turned master
    /// by someone else is +failover-detected (another sentinel's failover,
    /// whose hello will carry the new configuration, or an outside
    /// REPLICAOF NO ONE, converted back if no hello comes).
    fn role_changed(&mut self, name: &str, who: &Who, is_master: bool) {
        let what = if is_master { "master" } else { "slave" };
        let coherent = matches!(who, Who::Master) == is_master;
        let kind = if coherent {
            Event::RoleChange
        } else {
            Event::RoleChangeWrong
        };
        self.event(kind, name, who, &format!("new reported role is {what}"));
        if let Who::Replica(k) = who {
            let ours = self.masters[name]
                .failover
                .as_ref()
                .is_some_and(|f| f.promoted.as_deref() == Some(k.as_str()));
            if is_master && !ours {
                self.event(Event::FailoverDetected, name, who, "");
            }
        }
    }

    /// A replica the master's INFO lists: +slave when new.
    fn discover_replica(&mut self, name: &str, ip: &str, port: u16, now_ms: i64) {
        if !self.conf.host_allowed(ip) {
            return;
        }
        let ip = self.conf.instance_addr(ip);
        let key = format!("{ip}:{port}");
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if m.replicas.contains_key(&key) || key == m.inst.key() {
            return;
        }
        m.replicas
            .insert(key.clone(), Instance::new(&ip, port, now_ms));
        self.dirty = true;
        self.event(Event::Slave, name, &Who::Replica(key), "");
    }
}
