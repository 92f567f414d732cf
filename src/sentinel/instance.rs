//! The instances a sentinel watches (Redis: sentinelRedisInstance, split
//! by kind): a monitored [`Master`] with its [`Instance`]s (the master
//! server and its replicas) and the other sentinels ([`Peer`]s).
//!
//! Plain data: no connection lives here. A link is a [`LinkState`] that
//! names the driver's connection by id; forgetting an instance or its link
//! makes the driver close that connection (see `driver`).

use std::collections::BTreeMap;

use super::config::{self, MasterConf};
use super::failover::{Failover, FailoverState};
use super::proto::InfoReport;
use super::LinkId;

/// A command connection as the state machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// The driver's connection.
    pub id: LinkId,
    /// An INFO is queued or running on it.
    pub info_pending: bool,
    /// Our address on it once connected (announced in hellos).
    pub local_ip: Option<String>,
}

impl LinkState {
    pub(super) fn new(id: LinkId) -> LinkState {
        LinkState {
            id,
            info_pending: false,
            local_ip: None,
        }
    }
}

/// How far a replica got in being re-pointed during a failover (Redis:
/// the SRI_RECONF_* flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reconf {
    /// Not yet.
    #[default]
    None,
    /// REPLICAOF sent (Redis: SRI_RECONF_SENT).
    Sent,
    /// It reports the new master (Redis: SRI_RECONF_INPROG).
    InProg,
    /// Its link is up (Redis: SRI_RECONF_DONE).
    Done,
}

/// A monitored server: the master or one of its replicas.
#[derive(Debug, Clone)]
pub struct Instance {
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
    /// The command connection, while open.
    pub link: Option<LinkState>,
    /// The hello subscription, while its task runs.
    pub hello_sub: Option<LinkId>,
    /// When a command connection was last opened: at most one a PING
    /// period (Redis: last_reconn_time).
    pub link_tried_ms: i64,
    /// Why it last refused our connection, logged once until it accepts
    /// one again.
    pub refused: Option<String>,
}

impl Instance {
    /// A server first heard of at `now_ms`.
    pub fn new(ip: &str, port: u16, now_ms: i64) -> Instance {
        Instance {
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

    /// Forgets its command connection and hello subscription (the driver
    /// closes them); the timer opens new ones with the current
    /// credentials at its next run.
    pub fn drop_links(&mut self) {
        self.link = None;
        self.hello_sub = None;
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
    /// Last hello published to it (Redis: last_pub_time; sentinels
    /// take hellos by PUBLISH too).
    pub pub_ms: i64,
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
    pub link: Option<LinkState>,
    /// When a command connection was last opened.
    pub link_tried_ms: i64,
    /// Why it last refused our connection (logged once).
    pub refused: Option<String>,
}

impl Peer {
    /// A sentinel first heard of at `now_ms`.
    pub fn new(ip: &str, port: u16, runid: &str, now_ms: i64) -> Peer {
        Peer {
            ip: ip.to_string(),
            port,
            runid: runid.to_string(),
            hello_ms: now_ms,
            pub_ms: 0,
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

    /// Forgets its command connection; the timer opens a new one with the
    /// current credentials at its next run.
    pub fn drop_link(&mut self) {
        self.link = None;
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
    pub inst: Instance,
    /// Objectively down since (0 = not).
    pub odown_since: i64,
    /// Replicas by ip:port.
    pub replicas: BTreeMap<String, Instance>,
    /// Other sentinels by run id.
    pub sentinels: BTreeMap<String, Peer>,
    /// Our vote in `conf.leader_epoch`.
    pub leader: Option<String>,
    /// The failover in progress (None: Redis's
    /// SENTINEL_FAILOVER_STATE_NONE).
    pub failover: Option<Failover>,
    /// When the last failover started or we voted for another leader:
    /// a new one waits twice the failover timeout.
    pub failover_start_ms: i64,
    /// When a sentinel past `max-known-sentinels` was last logged as
    /// refused (once a minute at most).
    pub peers_full_logged_ms: i64,
}

impl Master {
    /// A master as its configuration describes it, with the replicas and
    /// sentinels the configuration remembers.
    pub fn new(conf: MasterConf, addr: impl Fn(&str) -> String, now_ms: i64) -> Master {
        let mut m = Master {
            inst: Instance::new(&addr(&conf.ip), conf.port, now_ms),
            odown_since: 0,
            replicas: BTreeMap::new(),
            sentinels: BTreeMap::new(),
            leader: None,
            failover: None,
            failover_start_ms: 0,
            peers_full_logged_ms: i64::MIN / 2,
            conf,
        };
        for (ip, port) in &m.conf.known_replicas {
            let r = Instance::new(&addr(ip), *port, now_ms);
            m.replicas.insert(r.key(), r);
        }
        for (ip, port, id) in &m.conf.known_sentinels {
            m.sentinels
                .insert(id.clone(), Peer::new(ip, *port, id, now_ms));
        }
        m
    }

    /// The address clients should use: the promoted replica's once it is
    /// master and the others are being re-pointed (Redis:
    /// sentinelGetCurrentMasterAddress).
    pub fn current_addr(&self) -> (String, u16) {
        match &self.failover {
            Some(Failover {
                state: FailoverState::ReconfSlaves | FailoverState::UpdateConfig,
                promoted: Some(k),
                ..
            }) => split_addr(k).unwrap_or((self.inst.ip.clone(), self.inst.port)),
            _ => (self.inst.ip.clone(), self.inst.port),
        }
    }

    /// Forgets the links a change of credentials concerns (Redis:
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

    /// The server `who` names (the master or a replica), if known.
    pub fn server_mut(&mut self, who: &Who) -> Option<&mut Instance> {
        match who {
            Who::Master => Some(&mut self.inst),
            Who::Replica(k) => self.replicas.get_mut(k),
            Who::Peer(_) => None,
        }
    }

    /// The command link slot of `who`, if it is known.
    pub fn link_mut(&mut self, who: &Who) -> Option<&mut Option<LinkState>> {
        match who {
            Who::Peer(id) => self.sentinels.get_mut(id).map(|p| &mut p.link),
            _ => self.server_mut(who).map(|i| &mut i.link),
        }
    }

    /// Every connection this master's instances hold, command links and
    /// hello subscriptions.
    pub fn link_ids(&self) -> impl Iterator<Item = LinkId> + '_ {
        let servers = std::iter::once(&self.inst).chain(self.replicas.values());
        servers
            .flat_map(|i| i.link.as_ref().map(|l| l.id).into_iter().chain(i.hello_sub))
            .chain(
                self.sentinels
                    .values()
                    .filter_map(|p| p.link.as_ref().map(|l| l.id)),
            )
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

/// An instance key `ip:port` back into its parts.
pub fn split_addr(key: &str) -> Option<(String, u16)> {
    let (ip, port) = key.rsplit_once(':')?;
    Some((ip.to_string(), port.parse().ok()?))
}
