//! The failover (Redis: sentinelFailoverStateMachine and what it calls):
//! started when the master is objectively down (or by SENTINEL FAILOVER),
//! won by election, then one function per state: choose a replica,
//! promote it, wait for it to say so, re-point the other replicas, and
//! switch the configuration to it (+switch-master). After a switch,
//! `fix_roles` turns a returning old master into a replica.
//!
//! ```text
//! (none) --odown--> WaitStart --elected--> SelectSlave --chosen--> SendSlaveofNoone
//!    ^                  |                      |                          |
//!    |             not elected            no good slave            REPLICAOF NO ONE
//!    |                  v                      v                          v
//!    +---- abort -------+----------------------+                   WaitPromotion
//!    |                                                                    |
//!    |                                                        reports role:master
//!    |                                                                    v
//!    +--- +switch-master <-- UpdateConfig <-- all re-pointed/timeout -- ReconfSlaves
//! ```

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use super::instance::split_addr;
use super::{
    Action, Event, Instance, Reconf, Req, Sentinel, Who, HELLO_PERIOD_MS, INFO_PERIOD_MS,
    MAX_DESYNC_MS, SIMFAILURE_CRASH_AFTER_ELECTION, SIMFAILURE_CRASH_AFTER_PROMOTION,
};

/// Where a failover is (Redis: SENTINEL_FAILOVER_STATE_*; no failover at
/// all, SENTINEL_FAILOVER_STATE_NONE, is `Master::failover == None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverState {
    /// Waiting for the start delay, then to be elected leader (Redis:
    /// SENTINEL_FAILOVER_STATE_WAIT_START).
    WaitStart,
    /// Choosing the replica (SENTINEL_FAILOVER_STATE_SELECT_SLAVE).
    SelectSlave,
    /// Sending it REPLICAOF NO ONE
    /// (SENTINEL_FAILOVER_STATE_SEND_SLAVEOF_NOONE).
    SendSlaveofNoone,
    /// Waiting for it to report role:master
    /// (SENTINEL_FAILOVER_STATE_WAIT_PROMOTION).
    WaitPromotion,
    /// Re-pointing the other replicas, `parallel-syncs` at a time
    /// (SENTINEL_FAILOVER_STATE_RECONF_SLAVES).
    ReconfSlaves,
    /// Done: the configuration switches to the promoted replica in the
    /// same timer run (SENTINEL_FAILOVER_STATE_UPDATE_CONFIG).
    UpdateConfig,
}

impl FailoverState {
    /// Redis's name (SENTINEL MASTER's `failover-state`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// A failover in progress.
#[derive(Debug, Clone)]
pub struct Failover {
    /// The state.
    pub state: FailoverState,
    /// The epoch it runs in.
    pub epoch: u64,
    /// When it started (after the random start delay).
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

/// A replica as replica selection sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its key (ip:port).
    pub key: String,
    /// Subjectively down or disconnected.
    pub down: bool,
    /// Milliseconds since its last PING reply.
    pub ping_age_ms: i64,
    /// Milliseconds since its last INFO.
    pub info_age_ms: i64,
    /// replica-priority (0 = never promote).
    pub priority: i64,
    /// Replication offset.
    pub offset: u64,
    /// Run id.
    pub run_id: String,
    /// Seconds its master link has been down.
    pub link_down_secs: i64,
}

/// Picks the replica to promote (Redis: sentinelSelectSlave): skips down,
/// silent, priority-0 and too-stale replicas, then prefers the lowest
/// priority, the highest offset, the lowest run id.
pub fn select_replica(
    cands: &[Candidate],
    down_after_ms: i64,
    master_down_ms: i64,
    info_period_ms: i64,
) -> Option<&Candidate> {
    let max_data_age_ms = master_down_ms + down_after_ms * 10;
    let mut ok: Vec<&Candidate> = cands
        .iter()
        .filter(|c| {
            !c.down
                && c.ping_age_ms <= 5000
                && c.info_age_ms <= info_period_ms * 3
                && c.priority != 0
                && c.link_down_secs * 1000 <= max_data_age_ms
        })
        .collect();
    ok.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then(b.offset.cmp(&a.offset))
            .then(a.run_id.cmp(&b.run_id))
    });
    ok.first().copied()
}

impl Sentinel {
    pub(super) fn start_failover_if_needed(&mut self, name: &str, now_ms: i64) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        if m.odown_since > 0
            && m.failover.is_none()
            && now_ms - m.failover_start_ms > m.conf.failover_timeout_ms * 2
        {
            self.start_failover(name, now_ms, false);
        }
    }

    /// Starts a failover in a new epoch (Redis: sentinelStartFailover);
    /// `forced` (SENTINEL FAILOVER) skips the start delay and the vote.
    pub fn start_failover(&mut self, name: &str, now_ms: i64, forced: bool) {
        let desync = if forced {
            0
        } else {
            self.rng.i64(0..MAX_DESYNC_MS)
        };
        if self.current_epoch >= super::proto::MAX_EPOCH {
            tracing::warn!(
                master = name,
                "No failover: the current epoch {} leaves no room to count up",
                self.current_epoch
            );
            return;
        }
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        self.current_epoch += 1;
        self.dirty = true;
        let epoch = self.current_epoch;
        m.failover = Some(Failover {
            state: FailoverState::WaitStart,
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
        self.event(Event::NewEpoch, name, &Who::Master, &epoch.to_string());
        self.event(Event::TryFailover, name, &Who::Master, "");
    }

    fn set_failover_state(&mut self, name: &str, st: FailoverState, now_ms: i64) {
        if let Some(f) = self.masters.get_mut(name).and_then(|m| m.failover.as_mut()) {
            f.state = st;
            f.state_change_ms = now_ms;
        }
    }

    fn abort_failover(&mut self, name: &str, why: Event) {
        if let Some(m) = self.masters.get_mut(name) {
            m.failover = None;
        }
        self.event(why, name, &Who::Master, "");
    }

    /// One step of the failover state machine (Redis:
    /// sentinelFailoverStateMachine). Breaks after queueing a
    /// SIMULATE-FAILURE crash.
    pub(super) fn failover_step(&mut self, name: &str, now_ms: i64) -> ControlFlow<()> {
        let Some(m) = self.masters.get(name) else {
            return ControlFlow::Continue(());
        };
        let Some(fo) = m.failover.clone() else {
            return ControlFlow::Continue(());
        };
        let timeout = m.conf.failover_timeout_ms;
        match fo.state {
            FailoverState::WaitStart => return self.wait_start(name, &fo, timeout, now_ms),
            FailoverState::SelectSlave => self.select_slave(name, now_ms),
            FailoverState::SendSlaveofNoone => self.send_slaveof_noone(name, &fo, timeout, now_ms),
            FailoverState::WaitPromotion => return self.wait_promotion(name, &fo, timeout, now_ms),
            FailoverState::ReconfSlaves => self.reconf_slaves(name, &fo, timeout, now_ms),
            FailoverState::UpdateConfig => {}
        }
        if let Some(m) = self.masters.get(name) {
            if let Some(f) = &m.failover {
                if f.state == FailoverState::UpdateConfig {
                    let (ip, port) =
                        split_addr(f.promoted.as_deref().unwrap_or_default()).unwrap_or_default();
                    self.switch_master(name, &ip, port, now_ms);
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// SENTINEL_FAILOVER_STATE_WAIT_START: once the start delay passed,
    /// go on if we are the leader of the failover's epoch; give up when
    /// no leader is elected in time.
    fn wait_start(
        &mut self,
        name: &str,
        fo: &Failover,
        timeout: i64,
        now_ms: i64,
    ) -> ControlFlow<()> {
        if now_ms < fo.start_ms {
            return ControlFlow::Continue(());
        }
        let leader = if fo.forced {
            Some(self.myid.clone())
        } else {
            self.leader(name, fo.epoch, now_ms)
        };
        if leader.as_deref() == Some(self.myid.as_str()) {
            self.event(Event::ElectedLeader, name, &Who::Master, "");
            if self.simfailure & SIMFAILURE_CRASH_AFTER_ELECTION != 0 {
                self.actions.push_back(Action::Crash);
                return ControlFlow::Break(());
            }
            self.event(Event::StateSelectSlave, name, &Who::Master, "");
            self.set_failover_state(name, FailoverState::SelectSlave, now_ms);
        } else if now_ms - fo.start_ms > timeout.min(10_000) {
            self.abort_failover(name, Event::AbortNotElected);
        }
        ControlFlow::Continue(())
    }

    /// SENTINEL_FAILOVER_STATE_SELECT_SLAVE: the best replica, or abort.
    fn select_slave(&mut self, name: &str, now_ms: i64) {
        let Some(m) = self.masters.get(name) else {
            return;
        };
        let master_down_ms = if m.inst.sdown_since > 0 {
            now_ms - m.inst.sdown_since
        } else {
            0
        };
        let cands: Vec<Candidate> = m
            .replicas
            .values()
            .map(|r| Candidate {
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
        let chosen = select_replica(&cands, m.conf.down_after_ms, master_down_ms, info_period)
            .map(|c| c.key.clone());
        match chosen {
            None => self.abort_failover(name, Event::AbortNoGoodSlave),
            Some(k) => {
                self.event(Event::SelectedSlave, name, &Who::Replica(k.clone()), "");
                if let Some(f) = self.masters.get_mut(name).and_then(|m| m.failover.as_mut()) {
                    f.promoted = Some(k.clone());
                }
                self.event(Event::StateSendSlaveofNoone, name, &Who::Replica(k), "");
                self.set_failover_state(name, FailoverState::SendSlaveofNoone, now_ms);
            }
        }
    }

    /// SENTINEL_FAILOVER_STATE_SEND_SLAVEOF_NOONE: REPLICAOF NO ONE to
    /// the chosen replica once it has a link; abort after the failover
    /// timeout.
    fn send_slaveof_noone(&mut self, name: &str, fo: &Failover, timeout: i64, now_ms: i64) {
        let k = fo.promoted.clone().unwrap_or_default();
        let link = self
            .masters
            .get(name)
            .and_then(|m| m.replicas.get(&k))
            .and_then(|r| r.link.as_ref())
            .map(|l| l.id);
        match link {
            Some(id) => {
                self.send(name, &Who::Replica(k.clone()), id, Req::Promote);
                // Look at it again at once, not in a second.
                self.send(name, &Who::Replica(k.clone()), id, Req::Info);
                self.event(Event::StateWaitPromotion, name, &Who::Replica(k), "");
                self.set_failover_state(name, FailoverState::WaitPromotion, now_ms);
            }
            None if now_ms - fo.start_ms > timeout => {
                self.abort_failover(name, Event::AbortSlaveTimeout)
            }
            None => {}
        }
    }

    /// SENTINEL_FAILOVER_STATE_WAIT_PROMOTION: the chosen replica reports
    /// role:master in an INFO newer than the state; then it is the
    /// configuration's master (its epoch is the failover's).
    fn wait_promotion(
        &mut self,
        name: &str,
        fo: &Failover,
        timeout: i64,
        now_ms: i64,
    ) -> ControlFlow<()> {
        let k = fo.promoted.clone().unwrap_or_default();
        let Some(m) = self.masters.get_mut(name) else {
            return ControlFlow::Continue(());
        };
        let promoted = m
            .replicas
            .get(&k)
            .is_some_and(|r| r.info.is_master && r.info_ms > fo.state_change_ms);
        if promoted {
            m.conf.config_epoch = fo.epoch;
            self.dirty = true;
            self.event(Event::PromotedSlave, name, &Who::Replica(k.clone()), "");
            if self.simfailure & SIMFAILURE_CRASH_AFTER_PROMOTION != 0 {
                self.actions.push_back(Action::Crash);
                return ControlFlow::Break(());
            }
            self.event(Event::StateReconfSlaves, name, &Who::Master, "");
            let from = self.masters[name].inst.key();
            self.client_reconfig_script(name, "leader", &from, &k);
            self.set_failover_state(name, FailoverState::ReconfSlaves, now_ms);
            // Tell the other sentinels at once rather than with the next
            // periodic hello.
            if let Some(m) = self.masters.get_mut(name) {
                m.inst.hello_ms = 0;
                for r in m.replicas.values_mut() {
                    r.hello_ms = 0;
                }
                for p in m.sentinels.values_mut() {
                    p.pub_ms = 0;
                }
            }
        } else if now_ms - fo.state_change_ms > timeout {
            self.abort_failover(name, Event::AbortSlaveTimeout);
        } else if let Some(l) = m.replicas.get(&k).and_then(|r| r.link.as_ref()) {
            // Poll the promoted replica quickly.
            if !l.info_pending {
                let id = l.id;
                self.send(name, &Who::Replica(k), id, Req::Info);
            }
        }
        ControlFlow::Continue(())
    }

    /// SENTINEL_FAILOVER_STATE_RECONF_SLAVES: re-points the other
    /// replicas, `parallel-syncs` at a time; when all are done (or the
    /// failover timeout passed), UPDATE_CONFIG.
    fn reconf_slaves(&mut self, name: &str, fo: &Failover, timeout: i64, now_ms: i64) {
        let promoted = fo.promoted.clone().unwrap_or_default();
        let (pip, pport) = split_addr(&promoted).unwrap_or_default();
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let mut events = Vec::new();
        let mut sends = Vec::new();
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
                        sends.push((l.id, Req::ReplicaOf(pip.clone(), pport)));
                        r.reconf = Reconf::Sent;
                        r.reconf_sent_ms = now_ms;
                        in_progress += 1;
                        events.push((Event::SlaveReconfSent, k.clone()));
                    }
                }
                Reconf::Sent | Reconf::InProg => {
                    let points = r.info.master_host == pip
                        && r.info.master_port == pport
                        && r.info_ms > r.reconf_sent_ms;
                    if points && r.reconf == Reconf::Sent {
                        r.reconf = Reconf::InProg;
                        events.push((Event::SlaveReconfInprog, k.clone()));
                    }
                    if points && r.info.link_up {
                        r.reconf = Reconf::Done;
                        in_progress -= 1;
                        events.push((Event::SlaveReconfDone, k.clone()));
                    } else if now_ms - r.reconf_sent_ms > timeout {
                        // Slow ones are left to finish on their own.
                        r.reconf = Reconf::Done;
                        in_progress -= 1;
                        events.push((Event::SlaveReconfSentTimeout, k.clone()));
                    }
                }
                _ => {}
            }
        }
        let all_done = m
            .replicas
            .iter()
            .filter(|(k, _)| **k != promoted)
            .all(|(_, r)| r.reconf == Reconf::Done || r.sdown_since > 0);
        for (id, req) in sends {
            self.actions.push_back(Action::Send { id, req });
        }
        for (kind, k) in events {
            self.event(kind, name, &Who::Replica(k), "");
        }
        if all_done || now_ms - fo.start_ms > timeout {
            if !all_done {
                self.event(Event::FailoverEndForTimeout, name, &Who::Master, "");
            }
            self.event(Event::FailoverEnd, name, &Who::Master, "");
            self.set_failover_state(name, FailoverState::UpdateConfig, now_ms);
        }
    }

    /// Makes `ip:port` the master of `name`: the old master and the other
    /// replicas become its replicas, as fresh instances (Redis:
    /// sentinelResetMasterAndChangeAddress), +switch-master.
    pub fn switch_master(&mut self, name: &str, ip: &str, port: u16, now_ms: i64) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        self.dirty = true;
        let new_key = format!("{ip}:{port}");
        let old = std::mem::replace(&mut m.inst, Instance::new(ip, port, now_ms));
        let mut replicas = BTreeMap::new();
        for (k, r) in std::mem::take(&mut m.replicas) {
            if k != new_key {
                replicas.insert(k, Instance::new(&r.ip, r.port, now_ms));
            }
        }
        let oldr = Instance::new(&old.ip, old.port, now_ms);
        if oldr.key() != new_key {
            replicas.insert(oldr.key(), oldr);
        }
        m.replicas = replicas;
        m.failover = None;
        m.odown_since = 0;
        for p in m.sentinels.values_mut() {
            p.master_down_ms = 0;
        }
        let msg = format!("{name} {} {} {ip} {port}", old.ip, old.port);
        self.event(Event::SwitchMaster, name, &Who::Master, &msg);
    }

    /// Runs the client-reconfig script, if any, as Redis does:
    /// `<master-name> <role> start <from-ip> <from-port> <to-ip> <to-port>`,
    /// by the leader when its replica is promoted and by every other
    /// sentinel when it learns the new master from a hello.
    pub(super) fn client_reconfig_script(&mut self, name: &str, role: &str, from: &str, to: &str) {
        let Some(path) = self
            .masters
            .get(name)
            .and_then(|m| m.conf.client_reconfig_script.clone())
        else {
            return;
        };
        let (Some((fip, fport)), Some((tip, tport))) = (split_addr(from), split_addr(to)) else {
            return;
        };
        let args = [
            name,
            role,
            "start",
            &fip,
            &fport.to_string(),
            &tip,
            &tport.to_string(),
        ];
        self.actions.push_back(Action::RunScript {
            path,
            args: args.iter().map(|a| a.to_string()).collect(),
        });
    }

    /// Re-points servers whose role disagrees with the configuration
    /// (Redis: sentinelRefreshInstanceInfo's role checks): a replica that
    /// reports itself master (the old master coming back,
    /// +convert-to-slave) or follows another master (+fix-slave-config).
    pub(super) fn fix_roles(&mut self, name: &str, now_ms: i64) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        if m.failover.is_some()
            || m.inst.sdown_since > 0
            || m.inst.info_ms == 0
            || !m.inst.info.is_master
        {
            return;
        }
        let mut events = Vec::new();
        let mut sends = Vec::new();
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
                sends.push((l.id, Req::ReplicaOf(mip.clone(), mport)));
                r.reconf_sent_ms = now_ms;
                let kind = if r.info.is_master {
                    Event::ConvertToSlave
                } else {
                    Event::FixSlaveConfig
                };
                events.push((kind, k.clone()));
            }
        }
        for (id, req) in sends {
            self.actions.push_back(Action::Send { id, req });
        }
        for (kind, k) in events {
            self.event(kind, name, &Who::Replica(k), "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(key: &str, priority: i64, offset: u64, run_id: &str) -> Candidate {
        Candidate {
            key: key.into(),
            down: false,
            ping_age_ms: 100,
            info_age_ms: 100,
            priority,
            offset,
            run_id: run_id.into(),
            link_down_secs: 0,
        }
    }

    #[test]
    fn replica_selection_prefers_priority_then_offset_then_run_id_and_skips_the_unfit() {
        // (what is changed on candidate "b", whom selection picks among
        // a: priority 100, offset 10, id z; b: 100, 20, y; c: 50, 5, x)
        type Change = fn(&mut Candidate);
        let table: &[(&str, Change, Option<&str>)] = &[
            ("nothing: lowest priority wins", |_| {}, Some("c")),
            ("b's priority lowest", |b| b.priority = 10, Some("b")),
            ("b priority 0: never", |b| b.priority = 0, Some("c")),
        ];
        for (what, change, want) in table {
            let mut c = vec![
                cand("a", 100, 10, "z"),
                cand("b", 100, 20, "y"),
                cand("c", 50, 5, "x"),
            ];
            change(&mut c[1]);
            let got = select_replica(&c, 1000, 1000, 1000).map(|c| c.key.as_str());
            assert_eq!(got, *want, "{what}");
        }
        // Among equal priorities, with c out of the running.
        let table: &[(&str, Change, Option<&str>)] = &[
            ("highest offset", |_| {}, Some("b")),
            ("same offset: lowest run id", |b| b.offset = 10, Some("b")),
            (
                "same offset, higher run id",
                |b| {
                    b.offset = 10;
                    b.run_id = "zz".into()
                },
                Some("a"),
            ),
            ("down", |b| b.down = true, Some("a")),
            ("no PING reply for 5 s", |b| b.ping_age_ms = 5001, Some("a")),
            (
                "INFO older than 3 periods",
                |b| b.info_age_ms = 3001,
                Some("a"),
            ),
            (
                "master link down too long",
                |b| b.link_down_secs = 12,
                Some("a"),
            ),
            (
                "master link down, within bounds",
                |b| b.link_down_secs = 11,
                Some("b"),
            ),
        ];
        for (what, change, want) in table {
            let mut c = vec![
                cand("a", 100, 10, "z"),
                cand("b", 100, 20, "y"),
                cand("c", 50, 5, "x"),
            ];
            c[2].down = true;
            change(&mut c[1]);
            let got = select_replica(&c, 1000, 1000, 1000).map(|c| c.key.as_str());
            assert_eq!(got, *want, "{what}");
        }
        assert!(select_replica(&[], 1000, 1000, 1000).is_none());
    }
}
