//! Sentinel events (Redis: sentinelEvent): one function turns an event
//! about an instance into Redis's exact text, and queues it to be logged,
//! published on the channel named after it and handed to the notification
//! script. The event names are an enum, so a misspelt one does not
//! compile; their text is what clients subscribe to.

use std::fmt;

use super::instance::{split_addr, Who};
use super::{Action, Sentinel};

macro_rules! events {
    ($($(#[$doc:meta])* $v:ident = $s:literal,)*) => {
        /// An event's name, which is also its pub/sub channel.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Event {
            $($(#[$doc])* $v,)*
        }

        impl Event {
            /// Every event, for tests.
            pub const ALL: &'static [Event] = &[$(Event::$v,)*];

            /// Redis's name for it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Event::$v => $s,)*
                }
            }
        }
    };
}

events! {
    /// The clock jumped or the process stalled: acting on nothing.
    Tilt = "+tilt",
    /// TILT is over.
    TiltExit = "-tilt",
    /// An instance stopped answering (or a master says it is a replica).
    Sdown = "+sdown",
    /// It answers again.
    SdownExit = "-sdown",
    /// Enough sentinels see the master down.
    Odown = "+odown",
    /// Not any more.
    OdownExit = "-odown",
    /// The current epoch moved on.
    NewEpoch = "+new-epoch",
    /// A failover starts: votes are asked for.
    TryFailover = "+try-failover",
    /// We voted.
    VoteForLeader = "+vote-for-leader",
    /// We won the election for the epoch.
    ElectedLeader = "+elected-leader",
    /// SENTINEL_FAILOVER_STATE_SELECT_SLAVE entered.
    StateSelectSlave = "+failover-state-select-slave",
    /// Lost or no election in time.
    AbortNotElected = "-failover-abort-not-elected",
    /// No replica fit to promote.
    AbortNoGoodSlave = "-failover-abort-no-good-slave",
    /// The replica to promote.
    SelectedSlave = "+selected-slave",
    /// SENTINEL_FAILOVER_STATE_SEND_SLAVEOF_NOONE entered.
    StateSendSlaveofNoone = "+failover-state-send-slaveof-noone",
    /// SENTINEL_FAILOVER_STATE_WAIT_PROMOTION entered.
    StateWaitPromotion = "+failover-state-wait-promotion",
    /// The chosen replica did not become master in time.
    AbortSlaveTimeout = "-failover-abort-slave-timeout",
    /// The chosen replica reports role:master.
    PromotedSlave = "+promoted-slave",
    /// SENTINEL_FAILOVER_STATE_RECONF_SLAVES entered.
    StateReconfSlaves = "+failover-state-reconf-slaves",
    /// REPLICAOF sent to a replica.
    SlaveReconfSent = "+slave-reconf-sent",
    /// It follows the new master.
    SlaveReconfInprog = "+slave-reconf-inprog",
    /// Its link to the new master is up.
    SlaveReconfDone = "+slave-reconf-done",
    /// It did not finish in time; left to finish on its own.
    SlaveReconfSentTimeout = "-slave-reconf-sent-timeout",
    /// The failover timeout ended the reconfiguration.
    FailoverEndForTimeout = "+failover-end-for-timeout",
    /// The failover is over.
    FailoverEnd = "+failover-end",
    /// The configuration names a new master.
    SwitchMaster = "+switch-master",
    /// A server that says it is master is made a replica.
    ConvertToSlave = "+convert-to-slave",
    /// A replica following the wrong master is re-pointed.
    FixSlaveConfig = "+fix-slave-config",
    /// A reported role agrees with the configuration.
    RoleChange = "+role-change",
    /// A reported role disagrees with it.
    RoleChangeWrong = "-role-change",
    /// A replica became master without our failover.
    FailoverDetected = "+failover-detected",
    /// A replica is discovered.
    Slave = "+slave",
    /// A sentinel is forgotten for a newer one at its address.
    DupSentinel = "-dup-sentinel",
    /// A sentinel is discovered.
    Sentinel = "+sentinel",
    /// A hello carried a newer configuration.
    ConfigUpdateFrom = "+config-update-from",
    /// SENTINEL RESET.
    ResetMaster = "+reset-master",
    /// SENTINEL MONITOR.
    Monitor = "+monitor",
    /// SENTINEL REMOVE.
    MonitorExit = "-monitor",
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Sentinel {
    /// Queues an event about `who` of master `master`, in Redis
    /// Sentinel's format (`<type> <name> <ip> <port> @ <master> <ip>
    /// <port>`, or `master <name> <ip> <port>` for a master) followed by
    /// `extra`; `+switch-master` is `extra` alone. The notification script
    /// hears it too.
    pub fn event(&mut self, kind: Event, master: &str, who: &Who, extra: &str) {
        let Some(m) = self.masters.get(master) else {
            return;
        };
        let (mip, mport) = (&m.inst.ip, m.inst.port);
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
        if kind == Event::SwitchMaster {
            msg = extra.to_string();
        } else if !extra.is_empty() {
            msg = format!("{msg} {extra}");
        }
        let script = m.conf.notification_script.clone();
        self.actions.push_back(Action::Emit {
            kind,
            master: Some(master.to_string()),
            msg: msg.clone(),
        });
        if let Some(path) = script {
            self.actions.push_back(Action::RunScript {
                path,
                args: vec![kind.as_str().to_string(), msg],
            });
        }
    }

    /// Queues an event about no instance (Redis: sentinelEvent with a NULL
    /// instance), e.g. `+tilt #tilt mode entered`.
    pub fn event_global(&mut self, kind: Event, msg: &str) {
        self.actions.push_back(Action::Emit {
            kind,
            master: None,
            msg: msg.to_string(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_is_named_as_redis_names_it_once() {
        let names: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
        for n in &names {
            assert!(n.starts_with('+') || n.starts_with('-'), "{n}");
            assert_eq!(names.iter().filter(|m| *m == n).count(), 1, "{n}");
        }
        assert_eq!(Event::SwitchMaster.to_string(), "+switch-master");
        assert_eq!(
            Event::StateSendSlaveofNoone.as_str(),
            "+failover-state-send-slaveof-noone"
        );
    }
}
