//! Sentinel mode (Redis: sentinel.c): monitoring, notification and
//! automatic failover, speaking Redis Sentinel's protocol so picket and
//! Redis sentinels and servers mix.
//!
//! - `config` parses the `sentinel` statements and renders the lines the
//!   sentinel writes back to its file; `proto` holds the hello message,
//!   INFO parsing, replica selection, the vote count and a RESP reply
//!   reader. Both are pure.
//! - This module holds the state (masters, their replicas and the other
//!   sentinels) and the timer (Redis: sentinelTimer): PINGs, INFO, hello
//!   messages, sdown/odown, the leader vote and the failover state
//!   machine. Events go out on the sentinel's own pub/sub (`+sdown`,
//!   `+switch-master`, ...) and to the notification scripts.
//! - `link` owns the connections to the monitored servers and to the
//!   other sentinels: one command connection per instance and a hello
//!   subscription per server.

pub mod config;
pub mod link;
pub mod proto;

use std::collections::BTreeMap;
use std::path::PathBuf;

use config::{MasterConf, SentinelConf};
use proto::{Hello, InfoReport};

use crate::server::Server;

/// PING period (Redis: SENTINEL_PING_PERIOD).
const PING_PERIOD_MS: i64 = 1000;
/// INFO period when all is well (SENTINEL_INFO_PERIOD).
const INFO_PERIOD_MS: i64 = 10_000;
/// Hello period (SENTINEL_PUBLISH_PERIOD).
const HELLO_PERIOD_MS: i64 = 2000;
/// How often to ask the others whether the master is down.
const ASK_PERIOD_MS: i64 = 1000;
/// A peer's vote older than this is forgotten (SENTINEL_ASK_FORCED...).
const VOTE_VALIDITY_MS: i64 = 5000;
/// Random delay before a failover starts, so sentinels don't all start at
/// once (SENTINEL_MAX_DESYNC).
const MAX_DESYNC_MS: i64 = 1000;
/// Clock jumps beyond this enter TILT (SENTINEL_TILT_TRIGGER).
const TILT_TRIGGER_MS: i64 = 2000;
/// TILT lasts this long (SENTINEL_TILT_PERIOD).
const TILT_PERIOD_MS: i64 = 30_000;

/// SENTINEL SIMULATE-FAILURE crash-after-election.
pub const SIMFAILURE_CRASH_AFTER_ELECTION: u8 = 1;
/// SENTINEL SIMULATE-FAILURE crash-after-promotion.
pub const SIMFAILURE_CRASH_AFTER_PROMOTION: u8 = 2;

/// The crash SENTINEL SIMULATE-FAILURE asked for (Redis exits with 99).
fn sim_failure_crash() -> ! {
    tracing::warn!("Sentinel CRASH because of SENTINEL simulate-failure");
    std::process::exit(99);
}

/// Where a failover is (Redis: SENTINEL_FAILOVER_STATE_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoState {
    /// Waiting to be elected leader.
    WaitStart,
    /// Choosing the replica.
    SelectSlave,
    /// Sending REPLICAOF NO ONE.
    SendSlaveofNoone,
    /// Waiting for it to report role:master.
    WaitPromotion,
    /// Re-pointing the other replicas.
    ReconfSlaves,
}

/// A failover in progress.
#[derive(Debug, Clone)]
pub struct Failover {
    /// The state.
    pub state: FoState,
    /// The epoch it runs in.
    pub epoch: u64,
    /// When it started.
    pub start_ms: i64,
    /// When the state last changed.
    pub state_change_ms: i64,
    /// The replica being promoted (ip:port).
    pub promoted: Option<String>,
    /// SENTINEL FAILOVER: no agreement needed.
    pub forced: bool,
    /// Our vote requests went out (after the start delay).
    pub votes_asked: bool,
}

/// How far a replica got in being re-pointed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reconf {
    /// Not yet.
    #[default]
    None,
    /// REPLICAOF sent.
    Sent,
    /// It reports the new master.
    InProg,
    /// Its link is up.
    Done,
}

/// A monitored server (the master or one of its replicas).
#[derive(Debug, Clone)]
pub struct Inst {
    /// Address.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// The server's run id (from INFO).
    pub run_id: String,
    /// Last valid PING reply, unix ms.
    pub last_ok_ping_ms: i64,
    /// Last PING sent and not answered yet (0 = none).
    pub ping_pending_ms: i64,
    /// Last INFO reply.
    pub info_ms: i64,
    /// What INFO said.
    pub info: InfoReport,
    /// INFO's text as it came (SENTINEL INFO-CACHE).
    pub info_text: String,
    /// When the INFO role changed.
    pub role_change_ms: i64,
    /// Subjectively down since (0 = up).
    pub sdown_since: i64,
    /// Last hello published to it.
    pub hello_ms: i64,
    /// Where it is in a failover's reconfiguration.
    pub reconf: Reconf,
    /// When REPLICAOF was last sent to it.
    pub reconf_sent_ms: i64,
    /// The command connection, when open.
    pub link: Option<link::LinkHandle>,
    /// The hello subscription, while its task runs.
    pub hello_sub: Option<link::SubHandle>,
    /// When a command connection was last opened: at most one a PING
    /// period (Redis: last_reconn_time).
    pub link_tried_ms: i64,
    /// Why it last refused our connection, logged once until it accepts
    /// one again.
    pub refused: Option<String>,
}

impl Inst {
    fn new(ip: &str, port: u16, now_ms: i64) -> Inst {
        Inst {
            ip: ip.to_string(),
            port,
            run_id: String::new(),
            last_ok_ping_ms: now_ms,
            ping_pending_ms: 0,
            info_ms: 0,
            info: InfoReport::default(),
            info_text: String::new(),
            role_change_ms: now_ms,
            sdown_since: 0,
            hello_ms: 0,
            reconf: Reconf::None,
            reconf_sent_ms: 0,
            link: None,
            hello_sub: None,
            link_tried_ms: 0,
            refused: None,
        }
    }

    /// Closes its command connection and hello subscription; the timer
    /// opens new ones with the current credentials at its next run.
    fn drop_links(&mut self) {
        if let Some(l) = self.link.take() {
            l.close();
        }
        if let Some(h) = self.hello_sub.take() {
            h.close();
        }
        self.link_tried_ms = 0;
        self.ping_pending_ms = 0;
    }

    /// `ip:port`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// Another sentinel watching the same master.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Address it announced.
    pub ip: String,
    /// Port.
    pub port: u16,
    /// Its id.
    pub runid: String,
    /// Last hello heard from it.
    pub hello_ms: i64,
    /// Last valid PING reply.
    pub last_ok_ping_ms: i64,
    /// PING sent, not answered.
    pub ping_pending_ms: i64,
    /// It said the master is down (IS-MASTER-DOWN-BY-ADDR), and when.
    pub master_down_ms: i64,
    /// The leader it voted for, and in which epoch.
    pub leader: Option<(String, u64)>,
    /// Last question sent to it.
    pub asked_ms: i64,
    /// The command connection.
    pub link: Option<link::LinkHandle>,
    /// When a command connection was last opened.
    pub link_tried_ms: i64,
    /// Why it last refused our connection (logged once).
    pub refused: Option<String>,
}

impl Peer {
    /// Closes its command connection; the timer opens a new one with the
    /// current credentials at its next run.
    fn drop_link(&mut self) {
        if let Some(l) = self.link.take() {
            l.close();
        }
        self.link_tried_ms = 0;
        self.ping_pending_ms = 0;
    }
}

/// A monitored master and all that hangs on it.
#[derive(Debug)]
pub struct Master {
    /// Settings (name, quorum, timeouts, auth, scripts, epochs).
    pub conf: MasterConf,
    /// The master server.
    pub inst: Inst,
    /// Objectively down since (0 = not).
    pub odown_since: i64,
    /// Replicas by ip:port.
    pub replicas: BTreeMap<String, Inst>,
    /// Other sentinels by run id.
    pub sentinels: BTreeMap<String, Peer>,
    /// Our vote in `conf.leader_epoch`.
    pub leader: Option<String>,
    /// The failover in progress.
    pub failover: Option<Failover>,
    /// When the last failover started or we voted for another leader:
    /// a new one waits twice the failover timeout.
    pub failover_start_ms: i64,
}

impl Master {
    /// The address clients should use: the promoted replica's once it is
    /// master and the others are being re-pointed (Redis:
    /// sentinelGetCurrentMasterAddress).
    pub fn current_addr(&self) -> (String, u16) {
        match &self.failover {
            Some(Failover {
                state: FoState::ReconfSlaves,
                promoted: Some(k),
                ..
            }) => split_addr(k).unwrap_or((self.inst.ip.clone(), self.inst.port)),
            _ => (self.inst.ip.clone(), self.inst.port),
        }
    }

    /// Closes the links a change of credentials concerns (Redis:
    /// dropInstanceConnections for a master's auth-pass/auth-user,
    /// sentinelDropConnections for sentinel-user/sentinel-pass).
    pub fn drop_links(&mut self, which: config::Links) {
        match which {
            config::Links::Instances => {
                self.inst.drop_links();
                for r in self.replicas.values_mut() {
                    r.drop_links();
                }
            }
            config::Links::Sentinels => {
                for p in self.sentinels.values_mut() {
                    p.drop_link();
                }
            }
        }
    }
}

/// An instance key `ip:port` back into its parts.
fn split_addr(key: &str) -> Option<(String, u16)> {
    let (ip, port) = key.rsplit_once(':')?;
    Some((ip.to_string(), port.parse().ok()?))
}

/// The sentinel (Redis: the `sentinel` global).
pub struct Sentinel {
    /// Everything from the config file (rendered back on flush).
    pub conf: SentinelConf,
    /// Our id.
    pub myid: String,
    /// The current epoch.
    pub current_epoch: u64,
    /// Monitored masters by name.
    pub masters: BTreeMap<String, Master>,
    /// The config file, rewritten to persist state.
    pub config_path: PathBuf,
    /// The config needs writing.
    pub dirty: bool,
    /// Last timer run, for TILT.
    pub last_timer_ms: i64,
    /// TILT since (0 = not in TILT).
    pub tilt_since: i64,
    /// Scripts running or queued (INFO).
    pub running_scripts: usize,
    /// SENTINEL SIMULATE-FAILURE flags.
    pub simfailure: u8,
}

impl Sentinel {
    /// From the parsed statements.
    pub fn new(mut conf: SentinelConf, config_path: PathBuf, now_ms: i64) -> Sentinel {
        let myid = conf
            .myid
            .clone()
            .unwrap_or_else(crate::replication::new_replid);
        conf.myid = Some(myid.clone());
        let mut masters = BTreeMap::new();
        for mc in &conf.masters {
            let mut m = Master {
                conf: mc.clone(),
                inst: Inst::new(&conf.instance_addr(&mc.ip), mc.port, now_ms),
                odown_since: 0,
                replicas: BTreeMap::new(),
                sentinels: BTreeMap::new(),
                leader: None,
                failover: None,
                failover_start_ms: 0,
            };
            for (ip, port) in &mc.known_replicas {
                let r = Inst::new(&conf.instance_addr(ip), *port, now_ms);
                m.replicas.insert(r.key(), r);
            }
            for (ip, port, id) in &mc.known_sentinels {
                m.sentinels
                    .insert(id.clone(), new_peer(ip, *port, id, now_ms));
            }
            masters.insert(mc.name.clone(), m);
        }
        Sentinel {
            current_epoch: conf.current_epoch,
            conf,
            myid,
            masters,
            config_path,
            dirty: true,
            last_timer_ms: now_ms,
            tilt_since: 0,
            running_scripts: 0,
            simfailure: 0,
        }
    }

    /// The statements that describe the current state.
    pub fn render(&self) -> String {
        let mut c = self.conf.clone();
        c.myid = Some(self.myid.clone());
        c.current_epoch = self.current_epoch;
        c.masters = self
            .masters
            .values()
            .map(|m| {
                let mut mc = m.conf.clone();
                mc.ip = m.inst.ip.clone();
                mc.port = m.inst.port;
                mc.known_replicas = m
                    .replicas
                    .values()
                    .map(|r| (r.ip.clone(), r.port))
                    .collect();
                mc.known_sentinels = m
                    .sentinels
                    .values()
                    .map(|p| (p.ip.clone(), p.port, p.runid.clone()))
                    .collect();
                mc
            })
            .collect();
        c.render()
    }

    /// Writes the state into the config file (Redis: sentinelFlushConfig).
    pub fn flush_config(&mut self) -> std::io::Result<()> {
        let old = std::fs::read_to_string(&self.config_path).unwrap_or_default();
        let text = config::rewrite_text(&old, &self.render());
        crate::persistence::aof::write_atomic(&self.config_path, text.as_bytes())?;
        self.dirty = false;
        Ok(())
    }
}

fn new_peer(ip: &str, port: u16, runid: &str, now_ms: i64) -> Peer {
    Peer {
        ip: ip.to_string(),
        port,
        runid: runid.to_string(),
        hello_ms: now_ms,
        last_ok_ping_ms: now_ms,
        ping_pending_ms: 0,
        master_down_ms: 0,
        leader: None,
        asked_ms: 0,
        link: None,
        link_tried_ms: 0,
        refused: None,
    }
}

/// Which instance of a master a reply or event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// The master.
    Master,
    /// A replica, by ip:port.
    Replica(String),
    /// Another sentinel, by run id.
    Peer(String),
}

impl Server {
    fn sentinel(&mut self) -> &mut Sentinel {
        self.sentinel.as_mut().expect("sentinel mode")
    }

    /// Logs an event and publishes it on the channel named after it, in
    /// Redis Sentinel's format (`<type> <name> <ip> <port> @ <master> <ip>
    /// <port>`, or `master <name> <ip> <port>` for a master); the
    /// notification script hears warnings.
    pub fn sentinel_event(&mut self, kind: &str, master: &str, who: &Who, extra: &str) {
        let Some(s) = self.sentinel.as_ref() else {
            return;
        };
        let Some(m) = s.masters.get(master) else {
            return;
        };
        let (mip, mport) = (m.inst.ip.clone(), m.inst.port);
        let script = m.conf.notification_script.clone();
        let mut msg = match who {
            Who::Master => format!("master {master} {mip} {mport}"),
            Who::Replica(k) => {
                let (ip, port) = split_addr(k).unwrap_or((k.clone(), 0));
                format!("slave {k} {ip} {port} @ {master} {mip} {mport}")
            }
            Who::Peer(id) => match m.sentinels.get(id) {
                Some(p) => format!(
                    "sentinel {}:{} {} {} @ {master} {mip} {mport}",
                    p.ip, p.port, p.ip, p.port
                ),
                None => format!("sentinel {id} @ {master} {mip} {mport}"),
            },
        };
        if !extra.is_empty() {
            if extra.starts_with('#') || matches!(who, Who::Master) && kind == "+switch-master" {
                msg = if kind == "+switch-master" {
                    extra.to_string()
                } else {
                    format!("{msg} {extra}")
                };
            } else {
                msg = format!("{msg} {extra}");
            }
        }
        self.sentinel_emit(kind, &msg);
        if let Some(script) = script {
            if kind.starts_with('+') || kind.starts_with('-') {
                link::run_script(&script, &[kind, &msg]);
            }
        }
    }

    /// Logs an event and publishes it on the channel named after it.
    fn sentinel_emit(&mut self, kind: &str, msg: &str) {
        tracing::info!("{kind} {msg}");
        let mut dummy =
            crate::server::client::Client::new(0, String::new(), String::new(), true, 0);
        self.pubsub_publish(&mut dummy, kind.as_bytes(), msg.as_bytes());
    }

    /// The sentinel timer (Redis: sentinelTimer), every 100 ms.
    pub fn sentinel_timer(&mut self, now_ms: i64) {
        if self.sentinel.is_none() {
            return;
        }
        // TILT: the clock jumped (or the process stalled): act on nothing
        // for a while, as the timings can't be trusted.
        {
            let s = self.sentinel();
            let delta = now_ms - s.last_timer_ms;
            s.last_timer_ms = now_ms;
            if !(0..=TILT_TRIGGER_MS).contains(&delta) {
                s.tilt_since = now_ms;
                // About no instance (Redis: sentinelEvent with ri NULL).
                self.sentinel_emit("+tilt", "#tilt mode entered");
            }
        }
        let names: Vec<String> = self.sentinel().masters.keys().cloned().collect();
        let tilt = {
            let s = self.sentinel();
            if s.tilt_since > 0 && now_ms - s.tilt_since > TILT_PERIOD_MS {
                s.tilt_since = 0;
                self.sentinel_emit("-tilt", "#tilt mode exited");
            }
            self.sentinel().tilt_since > 0
        };
        for name in &names {
            self.sentinel_handle_master(name, now_ms, tilt);
        }
        if self.sentinel().dirty {
            if let Err(e) = self.sentinel().flush_config() {
                tracing::warn!(
                    "WARNING: Sentinel was not able to save the new configuration on disk!!!: {e}"
                );
            }
        }
    }

    fn sentinel_handle_master(&mut self, name: &str, now_ms: i64, tilt: bool) {
        self.sentinel_send_periodic(name, now_ms);
        if tilt {
            return;
        }
        self.sentinel_check_sdown(name, now_ms);
        self.sentinel_check_odown(name, now_ms);
        self.sentinel_ask_others(name, now_ms);
        self.sentinel_start_failover_if_needed(name, now_ms);
        self.sentinel_failover_step(name, now_ms);
        self.sentinel_fix_roles(name, now_ms);
    }

    /// Opens missing links (one attempt per instance a PING period) and
    /// queues PING / INFO / hello.
    fn sentinel_send_periodic(&mut self, name: &str, now_ms: i64) {
        let srv = self.self_ref.clone();
        let myid = self.sentinel().myid.clone();
        let epoch = self.sentinel().current_epoch;
        let c = &self.sentinel().conf;
        let peer_auth = match &c.sentinel_pass {
            Some(p) => (c.sentinel_user.clone(), Some(p.clone())),
            None => (
                None,
                self.config
                    .requirepass
                    .as_ref()
                    .map(|p| p.expose().to_string()),
            ),
        };
        let (announce_ip, announce_port) = (
            self.sentinel().conf.announce_ip.clone(),
            self.sentinel().conf.announce_port.unwrap_or(self.tcp_port),
        );
        let Some(m) = self.sentinel().masters.get_mut(name) else {
            return;
        };
        let auth = (m.conf.auth_user.clone(), m.conf.auth_pass.clone());
        // Other sentinels are asked with sentinel-user/sentinel-pass, else
        // with our own requirepass (Redis 6.2+: the sentinels share it).
        let peer_auth = peer_auth.clone();
        let busy = m.failover.is_some() || m.inst.sdown_since > 0 || m.odown_since > 0;
        let info_period = if busy { 1000 } else { INFO_PERIOD_MS };
        // During the reconfiguration the promoted replica is already the
        // master: the hello says so.
        let (hip, hport) = m.current_addr();
        let hello_tail = format!("{},{},{},{}", m.conf.name, hip, hport, m.conf.config_epoch);
        let mut servers: Vec<(Who, &mut Inst)> = vec![(Who::Master, &mut m.inst)];
        let master_down = servers[0].1.sdown_since > 0;
        for (k, r) in m.replicas.iter_mut() {
            servers.push((Who::Replica(k.clone()), r));
        }
        let target = |who: &Who, ip: &str, port: u16, auth: &link::Credentials| link::Target {
            master: name.to_string(),
            who: who.clone(),
            ip: ip.to_string(),
            port,
            auth: auth.clone(),
            myid: myid.clone(),
        };
        for (who, inst) in servers {
            if inst.link.is_none() && now_ms - inst.link_tried_ms >= PING_PERIOD_MS {
                inst.link_tried_ms = now_ms;
                inst.link = link::open(srv.clone(), target(&who, &inst.ip, inst.port, &auth));
            }
            if inst.hello_sub.is_none() {
                inst.hello_sub = Some(link::subscribe(
                    srv.clone(),
                    target(&who, &inst.ip, inst.port, &auth),
                ));
            }
            let Some(l) = &inst.link else { continue };
            let period = if matches!(who, Who::Replica(_)) && master_down {
                1000
            } else {
                info_period
            };
            if now_ms - inst.info_ms >= period && !l.info_pending() {
                l.send(link::Req::Info);
            }
            if inst.ping_pending_ms == 0
                && now_ms - inst.last_ok_ping_ms >= PING_PERIOD_MS.min(m.conf.down_after_ms)
            {
                inst.ping_pending_ms = now_ms;
                l.send(link::Req::Ping);
            }
            if now_ms - inst.hello_ms >= HELLO_PERIOD_MS {
                inst.hello_ms = now_ms;
                let ip = announce_ip.clone().unwrap_or_else(|| l.local_ip());
                let hello = format!("{ip},{announce_port},{myid},{epoch},{hello_tail}");
                l.send(link::Req::Publish(hello));
            }
        }
        for p in m.sentinels.values_mut() {
            if p.link.is_none() && now_ms - p.link_tried_ms >= PING_PERIOD_MS {
                p.link_tried_ms = now_ms;
                let who = Who::Peer(p.runid.clone());
                p.link = link::open(srv.clone(), target(&who, &p.ip, p.port, &peer_auth));
            }
            if let Some(l) = &p.link {
                if p.ping_pending_ms == 0 && now_ms - p.last_ok_ping_ms >= PING_PERIOD_MS {
                    p.ping_pending_ms = now_ms;
                    l.send(link::Req::Ping);
                }
            }
        }
    }

    /// Marks instances subjectively down or up again.
    fn sentinel_check_sdown(&mut self, name: &str, now_ms: i64) {
        let mut events = Vec::new();
        let mut ask_now = false;
        {
            let m = self.sentinel().masters.get_mut(name).unwrap();
            let down_after = m.conf.down_after_ms;
            let mut check = |who: Who, inst: &mut Inst, is_master_slot: bool| {
                let silent = now_ms - inst.last_ok_ping_ms > down_after;
                // A master that says it is a replica for too long is down
                // too (Redis: the role-reported check).
                let wrong_role = is_master_slot
                    && inst.info_ms > 0
                    && !inst.info.is_master
                    && now_ms - inst.role_change_ms > down_after + INFO_PERIOD_MS * 2;
                let down = silent || wrong_role;
                if down && inst.sdown_since == 0 {
                    inst.sdown_since = now_ms;
                    if is_master_slot {
                        ask_now = true;
                    }
                    events.push(("+sdown", who));
                } else if !down && inst.sdown_since > 0 {
                    inst.sdown_since = 0;
                    events.push(("-sdown", who));
                }
            };
            check(Who::Master, &mut m.inst, true);
            for (k, r) in m.replicas.iter_mut() {
                check(Who::Replica(k.clone()), r, false);
            }
            if ask_now {
                // Ask the others at once whether they agree.
                for p in m.sentinels.values_mut() {
                    p.asked_ms = 0;
                }
            }
        }
        for (kind, who) in events {
            self.sentinel_event(kind, name, &who, "");
        }
    }

    /// Counts the sentinels that see the master down (Redis:
    /// sentinelCheckObjectivelyDown).
    fn sentinel_check_odown(&mut self, name: &str, now_ms: i64) {
        let (odown, quorum, votes, was) = {
            let m = self.sentinel().masters.get(name).unwrap();
            let mut votes = 0;
            if m.inst.sdown_since > 0 {
                votes = 1 + m
                    .sentinels
                    .values()
                    .filter(|p| {
                        p.master_down_ms > 0 && now_ms - p.master_down_ms < VOTE_VALIDITY_MS
                    })
                    .count();
            }
            (
                votes >= m.conf.quorum,
                m.conf.quorum,
                votes,
                m.odown_since > 0,
            )
        };
        if odown && !was {
            self.sentinel().masters.get_mut(name).unwrap().odown_since = now_ms;
            self.sentinel_event(
                "+odown",
                name,
                &Who::Master,
                &format!("#quorum {votes}/{quorum}"),
            );
        } else if !odown && was {
            self.sentinel().masters.get_mut(name).unwrap().odown_since = 0;
            self.sentinel_event("-odown", name, &Who::Master, "");
        }
    }

    /// Asks the other sentinels whether they see the master down, and
    /// (when we try a failover) for their vote.
    fn sentinel_ask_others(&mut self, name: &str, now_ms: i64) {
        let myid = self.sentinel().myid.clone();
        let epoch = self.sentinel().current_epoch;
        let m = self.sentinel().masters.get_mut(name).unwrap();
        if m.inst.sdown_since == 0 {
            for p in m.sentinels.values_mut() {
                p.master_down_ms = 0;
            }
            return;
        }
        // Votes are asked for only once the random start delay passed:
        // two sentinels that saw the master fail in the same instant would
        // otherwise each vote for the other and neither be elected. The
        // first whose delay ends asks first and gets the others' votes.
        let want_vote = m
            .failover
            .as_ref()
            .is_some_and(|f| f.state == FoState::WaitStart && now_ms >= f.start_ms);
        if let Some(f) = m.failover.as_mut() {
            if want_vote && !f.votes_asked {
                f.votes_asked = true;
                for p in m.sentinels.values_mut() {
                    p.asked_ms = 0;
                }
            }
        }
        let runid = if want_vote { myid } else { "*".to_string() };
        let (ip, port) = (m.inst.ip.clone(), m.inst.port);
        for p in m.sentinels.values_mut() {
            if now_ms - p.asked_ms < ASK_PERIOD_MS {
                continue;
            }
            if let Some(l) = &p.link {
                p.asked_ms = now_ms;
                l.send(link::Req::IsMasterDown {
                    ip: ip.clone(),
                    port,
                    epoch,
                    runid: runid.clone(),
                });
            }
        }
    }

    fn sentinel_start_failover_if_needed(&mut self, name: &str, now_ms: i64) {
        let start = {
            let m = self.sentinel().masters.get(name).unwrap();
            m.odown_since > 0
                && m.failover.is_none()
                && now_ms - m.failover_start_ms > m.conf.failover_timeout_ms * 2
        };
        if start {
            self.sentinel_start_failover(name, now_ms, false);
        }
    }

    /// Starts a failover in a new epoch (Redis: sentinelStartFailover).
    pub fn sentinel_start_failover(&mut self, name: &str, now_ms: i64, forced: bool) {
        let s = self.sentinel();
        s.current_epoch += 1;
        s.dirty = true;
        let epoch = s.current_epoch;
        let desync = if forced {
            0
        } else {
            fastrand::i64(0..MAX_DESYNC_MS)
        };
        let m = s.masters.get_mut(name).unwrap();
        m.failover = Some(Failover {
            state: FoState::WaitStart,
            epoch,
            start_ms: now_ms + desync,
            state_change_ms: now_ms,
            promoted: None,
            forced,
            votes_asked: false,
        });
        m.failover_start_ms = now_ms + desync;
        for r in m.replicas.values_mut() {
            r.reconf = Reconf::None;
        }
        self.sentinel_event("+new-epoch", name, &Who::Master, &epoch.to_string());
        self.sentinel_event("+try-failover", name, &Who::Master, "");
    }

    /// Our vote in `req_epoch` (Redis: sentinelVoteLeader): the first
    /// candidate asking in an epoch gets it.
    pub fn sentinel_vote(
        &mut self,
        name: &str,
        req_epoch: u64,
        req_runid: &str,
        now_ms: i64,
    ) -> (String, u64) {
        let mut new_epoch = false;
        {
            let s = self.sentinel();
            if req_epoch > s.current_epoch {
                s.current_epoch = req_epoch;
                s.dirty = true;
                new_epoch = true;
            }
        }
        if new_epoch {
            self.sentinel_event("+new-epoch", name, &Who::Master, &req_epoch.to_string());
        }
        let myid = self.sentinel().myid.clone();
        let current = self.sentinel().current_epoch;
        let voted = {
            let m = self.sentinel().masters.get_mut(name).unwrap();
            if m.conf.leader_epoch < req_epoch && current <= req_epoch {
                m.leader = Some(req_runid.to_string());
                m.conf.leader_epoch = current;
                if req_runid != myid {
                    // Give the candidate time before trying ourselves.
                    m.failover_start_ms = now_ms + fastrand::i64(0..MAX_DESYNC_MS);
                }
                true
            } else {
                false
            }
        };
        if voted {
            self.sentinel().dirty = true;
            let e = current.to_string();
            self.sentinel_event(
                "+vote-for-leader",
                name,
                &Who::Master,
                &format!("{req_runid} {e}"),
            );
        }
        let m = self.sentinel().masters.get(name).unwrap();
        (m.leader.clone().unwrap_or_default(), m.conf.leader_epoch)
    }

    fn set_fo_state(&mut self, name: &str, st: FoState, now_ms: i64) {
        if let Some(f) = self
            .sentinel()
            .masters
            .get_mut(name)
            .and_then(|m| m.failover.as_mut())
        {
            f.state = st;
            f.state_change_ms = now_ms;
        }
    }

    fn abort_failover(&mut self, name: &str, why: &str) {
        let m = self.sentinel().masters.get_mut(name).unwrap();
        m.failover = None;
        self.sentinel_event(why, name, &Who::Master, "");
    }

    /// One step of the failover state machine (Redis:
    /// sentinelFailoverStateMachine).
    fn sentinel_failover_step(&mut self, name: &str, now_ms: i64) {
        let Some(fo) = self
            .sentinel()
            .masters
            .get(name)
            .and_then(|m| m.failover.clone())
        else {
            return;
        };
        let timeout = self.sentinel().masters[name].conf.failover_timeout_ms;
        match fo.state {
            FoState::WaitStart => {
                if now_ms < fo.start_ms {
                    return;
                }
                let myid = self.sentinel().myid.clone();
                let leader = if fo.forced {
                    Some(myid.clone())
                } else {
                    self.sentinel_leader(name, fo.epoch, now_ms)
                };
                if leader.as_deref() == Some(myid.as_str()) {
                    self.sentinel_event("+elected-leader", name, &Who::Master, "");
                    if self.sentinel().simfailure & SIMFAILURE_CRASH_AFTER_ELECTION != 0 {
                        sim_failure_crash();
                    }
                    self.sentinel_event("+failover-state-select-slave", name, &Who::Master, "");
                    self.set_fo_state(name, FoState::SelectSlave, now_ms);
                } else if now_ms - fo.start_ms > timeout.min(10_000) {
                    self.abort_failover(name, "-failover-abort-not-elected");
                }
            }
            FoState::SelectSlave => {
                let chosen = {
                    let m = &self.sentinel().masters[name];
                    let master_down_ms = if m.inst.sdown_since > 0 {
                        now_ms - m.inst.sdown_since
                    } else {
                        0
                    };
                    let cands: Vec<proto::Candidate> = m
                        .replicas
                        .values()
                        .map(|r| proto::Candidate {
                            key: r.key(),
                            down: r.sdown_since > 0 || r.link.is_none(),
                            ping_age_ms: now_ms - r.last_ok_ping_ms,
                            info_age_ms: now_ms - r.info_ms,
                            priority: r.info.priority,
                            offset: r.info.repl_offset,
                            run_id: r.info.run_id.clone(),
                            link_down_secs: if r.info.link_up {
                                0
                            } else {
                                r.info.link_down_since_secs.max(0)
                            },
                        })
                        .collect();
                    let info_period = if m.inst.sdown_since > 0 {
                        1000
                    } else {
                        INFO_PERIOD_MS
                    };
                    proto::select_replica(&cands, m.conf.down_after_ms, master_down_ms, info_period)
                        .map(|c| c.key.clone())
                };
                match chosen {
                    None => {
                        self.sentinel_event(
                            "-failover-abort-no-good-slave",
                            name,
                            &Who::Master,
                            "",
                        );
                        self.sentinel().masters.get_mut(name).unwrap().failover = None;
                    }
                    Some(k) => {
                        self.sentinel_event("+selected-slave", name, &Who::Replica(k.clone()), "");
                        let m = self.sentinel().masters.get_mut(name).unwrap();
                        if let Some(f) = m.failover.as_mut() {
                            f.promoted = Some(k.clone());
                        }
                        self.sentinel_event(
                            "+failover-state-send-slaveof-noone",
                            name,
                            &Who::Replica(k),
                            "",
                        );
                        self.set_fo_state(name, FoState::SendSlaveofNoone, now_ms);
                    }
                }
            }
            FoState::SendSlaveofNoone => {
                let k = fo.promoted.clone().unwrap_or_default();
                let sent = {
                    let m = self.sentinel().masters.get_mut(name).unwrap();
                    match m.replicas.get_mut(&k).and_then(|r| r.link.as_ref()) {
                        Some(l) => {
                            l.send(link::Req::Promote);
                            // Look at it again at once, not in a second.
                            l.send(link::Req::Info);
                            true
                        }
                        None => false,
                    }
                };
                if sent {
                    self.sentinel_event(
                        "+failover-state-wait-promotion",
                        name,
                        &Who::Replica(k),
                        "",
                    );
                    self.set_fo_state(name, FoState::WaitPromotion, now_ms);
                } else if now_ms - fo.start_ms > timeout {
                    self.abort_failover(name, "-failover-abort-slave-timeout");
                }
            }
            FoState::WaitPromotion => {
                let k = fo.promoted.clone().unwrap_or_default();
                let promoted = self.sentinel().masters[name]
                    .replicas
                    .get(&k)
                    .is_some_and(|r| r.info.is_master && r.info_ms > fo.state_change_ms);
                if promoted {
                    {
                        let s = self.sentinel();
                        let m = s.masters.get_mut(name).unwrap();
                        m.conf.config_epoch = fo.epoch;
                        s.dirty = true;
                    }
                    self.sentinel_event("+promoted-slave", name, &Who::Replica(k.clone()), "");
                    if self.sentinel().simfailure & SIMFAILURE_CRASH_AFTER_PROMOTION != 0 {
                        sim_failure_crash();
                    }
                    self.sentinel_event("+failover-state-reconf-slaves", name, &Who::Master, "");
                    let from = self.sentinel().masters[name].inst.key();
                    self.client_reconfig_script(name, "leader", &from, &k);
                    self.set_fo_state(name, FoState::ReconfSlaves, now_ms);
                    // Tell the other sentinels at once rather than with the
                    // next periodic hello.
                    let m = self.sentinel().masters.get_mut(name).unwrap();
                    m.inst.hello_ms = 0;
                    for r in m.replicas.values_mut() {
                        r.hello_ms = 0;
                    }
                } else if now_ms - fo.state_change_ms > timeout {
                    self.abort_failover(name, "-failover-abort-slave-timeout");
                } else {
                    // Poll the promoted replica quickly.
                    let m = self.sentinel().masters.get_mut(name).unwrap();
                    if let Some(l) = m.replicas.get(&k).and_then(|r| r.link.as_ref()) {
                        if !l.info_pending() {
                            l.send(link::Req::Info);
                        }
                    }
                }
            }
            FoState::ReconfSlaves => self.sentinel_reconf_replicas(name, &fo, now_ms),
        }
    }

    /// The leader of `epoch`, from our vote and the others' (Redis:
    /// sentinelGetLeader). Votes for ourselves when we did not vote yet.
    fn sentinel_leader(&mut self, name: &str, epoch: u64, now_ms: i64) -> Option<String> {
        let myid = self.sentinel().myid.clone();
        let (mut votes, voters, quorum) = {
            let m = &self.sentinel().masters[name];
            let votes: Vec<String> = m
                .sentinels
                .values()
                .filter_map(|p| p.leader.clone())
                .filter(|(_, e)| *e == epoch)
                .map(|(r, _)| r)
                .collect();
            (votes, m.sentinels.len() + 1, m.conf.quorum)
        };
        let (mine, e) = self.sentinel_vote(name, epoch, &myid, now_ms);
        if e == epoch && !mine.is_empty() {
            votes.push(mine);
        }
        let refs: Vec<&str> = votes.iter().map(String::as_str).collect();
        proto::count_leader(&refs, voters, quorum).map(str::to_string)
    }

    /// Re-points the other replicas, `parallel-syncs` at a time, then
    /// switches the configuration to the promoted one.
    fn sentinel_reconf_replicas(&mut self, name: &str, fo: &Failover, now_ms: i64) {
        let promoted = fo.promoted.clone().unwrap_or_default();
        let (pip, pport) = split_addr(&promoted).unwrap_or_default();
        let timeout = self.sentinel().masters[name].conf.failover_timeout_ms;
        let mut events = Vec::new();
        let all_done = {
            let m = self.sentinel().masters.get_mut(name).unwrap();
            let parallel = m.conf.parallel_syncs.max(1);
            let mut in_progress = m
                .replicas
                .values()
                .filter(|r| matches!(r.reconf, Reconf::Sent | Reconf::InProg))
                .count();
            for (k, r) in m.replicas.iter_mut() {
                if *k == promoted {
                    continue;
                }
                match r.reconf {
                    Reconf::None if in_progress < parallel && r.sdown_since == 0 => {
                        if let Some(l) = &r.link {
                            l.send(link::Req::ReplicaOf(pip.clone(), pport));
                            r.reconf = Reconf::Sent;
                            r.reconf_sent_ms = now_ms;
                            in_progress += 1;
                            events.push(("+slave-reconf-sent", k.clone()));
                        }
                    }
                    Reconf::Sent | Reconf::InProg => {
                        let points = r.info.master_host == pip
                            && r.info.master_port == pport
                            && r.info_ms > r.reconf_sent_ms;
                        if points && r.reconf == Reconf::Sent {
                            r.reconf = Reconf::InProg;
                            events.push(("+slave-reconf-inprog", k.clone()));
                        }
                        if points && r.info.link_up {
                            r.reconf = Reconf::Done;
                            in_progress -= 1;
                            events.push(("+slave-reconf-done", k.clone()));
                        } else if now_ms - r.reconf_sent_ms > timeout {
                            // Slow ones are left to finish on their own.
                            r.reconf = Reconf::Done;
                            in_progress -= 1;
                            events.push(("-slave-reconf-sent-timeout", k.clone()));
                        }
                    }
                    _ => {}
                }
            }
            m.replicas
                .iter()
                .filter(|(k, _)| **k != promoted)
                .all(|(_, r)| r.reconf == Reconf::Done || r.sdown_since > 0)
        };
        for (kind, k) in events {
            self.sentinel_event(kind, name, &Who::Replica(k), "");
        }
        if all_done || now_ms - fo.start_ms > timeout {
            if !all_done {
                self.sentinel_event("+failover-end-for-timeout", name, &Who::Master, "");
            }
            self.sentinel_event("+failover-end", name, &Who::Master, "");
            self.sentinel_switch_master(name, &pip, pport, now_ms);
        }
    }

    /// Makes `ip:port` the master of `name`: the old master and the other
    /// replicas become its replicas (Redis:
    /// sentinelResetMasterAndChangeAddress), +switch-master.
    pub fn sentinel_switch_master(&mut self, name: &str, ip: &str, port: u16, now_ms: i64) {
        let (old_ip, old_port) = {
            let s = self.sentinel();
            s.dirty = true;
            let m = s.masters.get_mut(name).unwrap();
            let old = std::mem::replace(&mut m.inst, Inst::new(ip, port, now_ms));
            let mut replicas = BTreeMap::new();
            for (k, r) in std::mem::take(&mut m.replicas) {
                if k != format!("{ip}:{port}") {
                    replicas.insert(k, Inst::new(&r.ip, r.port, now_ms));
                }
            }
            let oldr = Inst::new(&old.ip, old.port, now_ms);
            if oldr.key() != format!("{ip}:{port}") {
                replicas.insert(oldr.key(), oldr);
            }
            m.replicas = replicas;
            m.failover = None;
            m.odown_since = 0;
            for p in m.sentinels.values_mut() {
                p.master_down_ms = 0;
            }
            (old.ip, old.port)
        };
        let msg = format!("{name} {old_ip} {old_port} {ip} {port}");
        self.sentinel_event("+switch-master", name, &Who::Master, &msg);
    }

    /// Runs the client-reconfig script, if any, as Redis does:
    /// `<master-name> <role> start <from-ip> <from-port> <to-ip> <to-port>`,
    /// by the leader when its replica is promoted and by every other
    /// sentinel when it learns the new master from a hello.
    fn client_reconfig_script(&mut self, name: &str, role: &str, from: &str, to: &str) {
        let Some(script) = self.sentinel().masters[name]
            .conf
            .client_reconfig_script
            .clone()
        else {
            return;
        };
        let (Some((fip, fport)), Some((tip, tport))) = (split_addr(from), split_addr(to)) else {
            return;
        };
        let (fport, tport) = (fport.to_string(), tport.to_string());
        link::run_script(&script, &[name, role, "start", &fip, &fport, &tip, &tport]);
    }

    /// Re-points servers whose role disagrees with the configuration: a
    /// replica that reports itself master (the old master coming back,
    /// +convert-to-slave) or follows another master (+fix-slave-config).
    fn sentinel_fix_roles(&mut self, name: &str, now_ms: i64) {
        let mut events = Vec::new();
        {
            let m = self.sentinel().masters.get_mut(name).unwrap();
            if m.failover.is_some()
                || m.inst.sdown_since > 0
                || m.inst.info_ms == 0
                || !m.inst.info.is_master
            {
                return;
            }
            let (mip, mport) = (m.inst.ip.clone(), m.inst.port);
            for (k, r) in m.replicas.iter_mut() {
                if r.sdown_since > 0
                    || r.info_ms == 0
                    || now_ms - r.reconf_sent_ms < 4 * HELLO_PERIOD_MS
                {
                    continue;
                }
                let Some(l) = &r.link else { continue };
                let wrong = if r.info.is_master {
                    now_ms - r.role_change_ms > 2 * HELLO_PERIOD_MS
                } else {
                    r.info.master_host != mip || r.info.master_port != mport
                };
                if wrong {
                    l.send(link::Req::ReplicaOf(mip.clone(), mport));
                    r.reconf_sent_ms = now_ms;
                    events.push((
                        if r.info.is_master {
                            "+convert-to-slave"
                        } else {
                            "+fix-slave-config"
                        },
                        k.clone(),
                    ));
                }
            }
        }
        for (kind, k) in events {
            self.sentinel_event(kind, name, &Who::Replica(k), "");
        }
    }

    /// A reply from a link, applied to the state.
    pub fn sentinel_reply(
        &mut self,
        name: &str,
        who: &Who,
        req: &link::Req,
        reply: &proto::Reply,
        now_ms: i64,
    ) {
        if matches!(req, link::Req::Ping) && !matches!(reply, proto::Reply::Error(_)) {
            self.sentinel_link_accepted(name, who);
        }
        let mut new_replicas = Vec::new();
        let mut role_events = Vec::new();
        {
            let Some(m) = self.sentinel().masters.get_mut(name) else {
                return;
            };
            match who {
                Who::Peer(id) => {
                    let Some(p) = m.sentinels.get_mut(id) else {
                        return;
                    };
                    match (req, reply) {
                        (link::Req::Ping, proto::Reply::Status(s)) if s == "PONG" => {
                            p.last_ok_ping_ms = now_ms;
                            p.ping_pending_ms = 0;
                        }
                        (link::Req::Ping, _) => p.ping_pending_ms = 0,
                        (link::Req::IsMasterDown { .. }, proto::Reply::Array(Some(a)))
                            if a.len() == 3 =>
                        {
                            if let proto::Reply::Int(d) = a[0] {
                                p.master_down_ms = if d == 1 { now_ms } else { 0 };
                            }
                            let leader = a[1].text();
                            if let proto::Reply::Int(e) = a[2] {
                                if leader != "*" && !leader.is_empty() {
                                    p.leader = Some((leader, e as u64));
                                }
                            }
                        }
                        _ => {}
                    }
                    return;
                }
                Who::Master | Who::Replica(_) => {}
            }
            let inst = match who {
                Who::Master => &mut m.inst,
                Who::Replica(k) => match m.replicas.get_mut(k) {
                    Some(r) => r,
                    None => return,
                },
                Who::Peer(_) => return,
            };
            match (req, reply) {
                (link::Req::Ping, proto::Reply::Status(_)) => {
                    inst.last_ok_ping_ms = now_ms;
                    inst.ping_pending_ms = 0;
                }
                (link::Req::Ping, proto::Reply::Error(e)) => {
                    // LOADING and MASTERDOWN are valid answers (Redis).
                    if e.starts_with("LOADING") || e.starts_with("MASTERDOWN") {
                        inst.last_ok_ping_ms = now_ms;
                    }
                    inst.ping_pending_ms = 0;
                }
                (link::Req::Info, proto::Reply::Bulk(Some(b))) => {
                    let text = String::from_utf8_lossy(b).into_owned();
                    let rep = proto::parse_info(&text);
                    inst.info_text = text;
                    if inst.info_ms > 0 && rep.is_master != inst.info.is_master {
                        inst.role_change_ms = now_ms;
                        role_events.push(rep.is_master);
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
        }
        for is_master in role_events {
            let what = if is_master { "master" } else { "slave" };
            // + when the new role agrees with our configuration, - when not.
            let coherent = matches!(who, Who::Master) == is_master;
            self.sentinel_event(
                if coherent {
                    "+role-change"
                } else {
                    "-role-change"
                },
                name,
                who,
                &format!("new reported role is {what}"),
            );
            // A replica turned master by someone else: another sentinel's
            // failover (its hello will carry the new configuration) or an
            // outside REPLICAOF NO ONE (converted back if no hello comes).
            if let Who::Replica(k) = who {
                let ours = self.sentinel().masters[name]
                    .failover
                    .as_ref()
                    .is_some_and(|f| f.promoted.as_deref() == Some(k.as_str()));
                if is_master && !ours {
                    self.sentinel_event("+failover-detected", name, who, "");
                }
            }
        }

        for (ip, port) in new_replicas {
            let added = {
                let s = self.sentinel();
                if !s.conf.host_allowed(&ip) {
                    continue;
                }
                let ip = s.conf.instance_addr(&ip);
                let key = format!("{ip}:{port}");
                let m = s.masters.get_mut(name).unwrap();
                if m.replicas.contains_key(&key) || key == m.inst.key() {
                    None
                } else {
                    m.replicas.insert(key.clone(), Inst::new(&ip, port, now_ms));
                    s.dirty = true;
                    Some(key)
                }
            };
            if let Some(key) = added {
                self.sentinel_event("+slave", name, &Who::Replica(key), "");
            }
        }
    }

    /// A link closed: the instance gets a new one on the next timer run.
    pub fn sentinel_link_closed(&mut self, name: &str, who: &Who, id: u64) {
        let Some(m) = self.sentinel.as_mut().and_then(|s| s.masters.get_mut(name)) else {
            return;
        };
        let slot = match who {
            Who::Master => Some(&mut m.inst.link),
            Who::Replica(k) => m.replicas.get_mut(k).map(|r| &mut r.link),
            Who::Peer(id) => m.sentinels.get_mut(id).map(|p| &mut p.link),
        };
        if let Some(slot) = slot {
            if slot.as_ref().is_some_and(|l| l.id == id) {
                *slot = None;
            }
        }
        match who {
            Who::Master => m.inst.ping_pending_ms = 0,
            Who::Replica(k) => {
                if let Some(r) = m.replicas.get_mut(k) {
                    r.ping_pending_ms = 0;
                }
            }
            Who::Peer(id) => {
                if let Some(p) = m.sentinels.get_mut(id) {
                    p.ping_pending_ms = 0;
                }
            }
        }
    }

    /// A subscription ended: it is restarted by the timer.
    pub fn sentinel_unsubscribed(&mut self, name: &str, who: &Who, id: u64) {
        let Some(m) = self.sentinel.as_mut().and_then(|s| s.masters.get_mut(name)) else {
            return;
        };
        let slot = match who {
            Who::Master => Some(&mut m.inst.hello_sub),
            Who::Replica(k) => m.replicas.get_mut(k).map(|r| &mut r.hello_sub),
            Who::Peer(_) => None,
        };
        if let Some(slot) = slot {
            if slot.as_ref().is_some_and(|h| h.id == id) {
                *slot = None;
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
        let m = self.sentinel.as_mut()?.masters.get_mut(name)?;
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
    pub fn sentinel_link_refused(&mut self, name: &str, who: &Who, why: &str) {
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
    fn sentinel_link_accepted(&mut self, name: &str, who: &Who) {
        if let Some((what, refused)) = self.refusal_slot(name, who) {
            if refused.take().is_some() {
                tracing::info!(master = name, "Sentinel logged in to {what} again");
            }
        }
    }

    /// A hello heard on a monitored server (Redis:
    /// sentinelProcessHelloMessage): learns sentinels, epochs and newer
    /// configurations.
    pub fn sentinel_hello(&mut self, payload: &str, now_ms: i64) {
        let Some(h) = Hello::parse(payload) else {
            return;
        };
        if self.sentinel.is_none() || h.runid == self.sentinel().myid {
            return;
        }
        let name = h.master_name.clone();
        if !self.sentinel().masters.contains_key(&name) {
            return;
        }
        // Hostnames only under resolve-hostnames (Redis drops the hello).
        let conf = &self.sentinel().conf;
        if !conf.host_allowed(&h.ip) || !conf.host_allowed(&h.master_ip) {
            return;
        }
        // A new sentinel, or one that moved (-dup-sentinel for the old id
        // at the same address).
        let (added, removed) = {
            let s = self.sentinel();
            let m = s.masters.get_mut(&name).unwrap();
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
                    m.sentinels
                        .insert(h.runid.clone(), new_peer(&h.ip, h.port, &h.runid, now_ms));
                    true
                }
            };
            if added || !dup.is_empty() {
                s.dirty = true;
            }
            (added, !dup.is_empty())
        };
        if removed {
            self.sentinel_event(
                "-dup-sentinel",
                &name,
                &Who::Master,
                "#duplicate of a sentinel that changed its id or address",
            );
        }
        if added {
            self.sentinel_event("+sentinel", &name, &Who::Peer(h.runid.clone()), "");
        }
        if h.current_epoch > self.sentinel().current_epoch {
            self.sentinel().current_epoch = h.current_epoch;
            self.sentinel().dirty = true;
            self.sentinel_event(
                "+new-epoch",
                &name,
                &Who::Master,
                &h.current_epoch.to_string(),
            );
        }
        // A newer configuration for this master (Redis: the failover
        // leader's hello after +switch-master).
        let newer = self.sentinel().masters[&name].conf.config_epoch < h.master_config_epoch;
        let master_ip = if newer {
            self.sentinel().conf.instance_addr(&h.master_ip)
        } else {
            h.master_ip.clone()
        };
        let switch = {
            let m = &self.sentinel().masters[&name];
            newer && (m.inst.ip != master_ip || m.inst.port != h.master_port)
        };
        if switch {
            self.sentinel_event(
                "+config-update-from",
                &name,
                &Who::Peer(h.runid.clone()),
                "",
            );
            self.sentinel()
                .masters
                .get_mut(&name)
                .unwrap()
                .conf
                .config_epoch = h.master_config_epoch;
            let from = self.sentinel().masters[&name].inst.key();
            self.sentinel_switch_master(&name, &master_ip, h.master_port, now_ms);
            let to = format!("{master_ip}:{}", h.master_port);
            self.client_reconfig_script(&name, "observer", &from, &to);
        } else if self.sentinel().masters[&name].conf.config_epoch < h.master_config_epoch {
            self.sentinel()
                .masters
                .get_mut(&name)
                .unwrap()
                .conf
                .config_epoch = h.master_config_epoch;
            self.sentinel().dirty = true;
        }
    }

    /// INFO's sentinel section.
    pub fn info_sentinel(&self, _now_ms: i64) -> String {
        let Some(s) = &self.sentinel else {
            return String::new();
        };
        let mut out = format!(
            "sentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\nsentinel_running_scripts:{}\r\nsentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n",
            s.masters.len(),
            (s.tilt_since > 0) as i32,
            if s.tilt_since > 0 { (s.last_timer_ms - s.tilt_since) / 1000 } else { -1 },
            s.running_scripts,
        );
        for (i, m) in s.masters.values().enumerate() {
            let status = if m.odown_since > 0 {
                "odown"
            } else if m.inst.sdown_since > 0 {
                "sdown"
            } else {
                "ok"
            };
            out.push_str(&format!(
                "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                m.conf.name,
                m.inst.ip,
                m.inst.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
        out
    }

    /// SENTINEL IS-MASTER-DOWN-BY-ADDR: whether we see the master at
    /// `ip:port` down, and our vote when `runid` asks for it.
    pub fn sentinel_is_master_down(
        &mut self,
        ip: &str,
        port: u16,
        epoch: u64,
        runid: &str,
        now_ms: i64,
    ) -> (bool, String, u64) {
        let name = self
            .sentinel()
            .masters
            .iter()
            .find(|(_, m)| m.inst.ip == ip && m.inst.port == port)
            .map(|(n, _)| n.clone());
        let Some(name) = name else {
            return (false, "*".into(), 0);
        };
        let down = {
            let s = self.sentinel();
            s.tilt_since == 0 && s.masters[&name].inst.sdown_since > 0
        };
        if runid == "*" {
            return (down, "*".into(), 0);
        }
        let (leader, e) = self.sentinel_vote(&name, epoch, runid, now_ms);
        (
            down,
            if leader.is_empty() {
                "*".into()
            } else {
                leader
            },
            e,
        )
    }
}
