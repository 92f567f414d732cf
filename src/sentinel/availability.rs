//! Availability (Redis: sentinelCheckSubjectivelyDown,
//! sentinelCheckObjectivelyDown, sentinelCheckTiltCondition): when an
//! instance counts as down for this sentinel (sdown), when enough
//! sentinels agree about a master (odown), and TILT, when our own clock
//! can't be trusted.

use super::{
    Event, Instance, Sentinel, Who, INFO_PERIOD_MS, TILT_PERIOD_MS, TILT_TRIGGER_MS,
    VOTE_VALIDITY_MS,
};

impl Sentinel {
    /// Enters TILT when the clock jumped (or the process stalled) since
    /// the last run, leaves it after TILT_PERIOD; true while in it.
    pub(super) fn check_tilt(&mut self, now_ms: i64) -> bool {
        let delta = now_ms - self.last_timer_ms;
        self.last_timer_ms = now_ms;
        if !(0..=TILT_TRIGGER_MS).contains(&delta) {
            self.tilt_since = now_ms;
            self.event_global(Event::Tilt, "#tilt mode entered");
        }
        if self.tilt_since > 0 && now_ms - self.tilt_since > TILT_PERIOD_MS {
            self.tilt_since = 0;
            self.event_global(Event::TiltExit, "#tilt mode exited");
        }
        self.tilt_since > 0
    }

    /// Marks instances subjectively down or up again: silent for longer
    /// than down-after-milliseconds, or a master that has reported itself
    /// a replica for too long.
    pub(super) fn check_sdown(&mut self, name: &str, now_ms: i64) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let mut events = Vec::new();
        let down_after = m.conf.down_after_ms;
        let mut check = |who: Who, inst: &mut Instance, is_master_slot: bool| {
            let silent = now_ms - inst.last_ok_ping_ms > down_after;
            let wrong_role = is_master_slot
                && inst.info_ms > 0
                && !inst.info.is_master
                && now_ms - inst.role_change_ms > down_after + INFO_PERIOD_MS * 2;
            let down = silent || wrong_role;
            if down && inst.sdown_since == 0 {
                inst.sdown_since = now_ms;
                events.push((Event::Sdown, who));
            } else if !down && inst.sdown_since > 0 {
                inst.sdown_since = 0;
                events.push((Event::SdownExit, who));
            }
        };
        check(Who::Master, &mut m.inst, true);
        for (k, r) in m.replicas.iter_mut() {
            check(Who::Replica(k.clone()), r, false);
        }
        if events.contains(&(Event::Sdown, Who::Master)) {
            // Ask the others at once whether they agree.
            for p in m.sentinels.values_mut() {
                p.asked_ms = 0;
            }
        }
        for (kind, who) in events {
            self.event(kind, name, &who, "");
        }
    }

    /// Counts the sentinels that see the master down, ourselves included,
    /// against the quorum (Redis: sentinelCheckObjectivelyDown).
    pub(super) fn check_odown(&mut self, name: &str, now_ms: i64) {
        let Some(m) = self.masters.get_mut(name) else {
            return;
        };
        let mut votes = 0;
        if m.inst.sdown_since > 0 {
            votes = 1 + m
                .sentinels
                .values()
                .filter(|p| p.master_down_ms > 0 && now_ms - p.master_down_ms < VOTE_VALIDITY_MS)
                .count();
        }
        let (odown, was, quorum) = (votes >= m.conf.quorum, m.odown_since > 0, m.conf.quorum);
        if odown && !was {
            m.odown_since = now_ms;
            let extra = format!("#quorum {votes}/{quorum}");
            self.event(Event::Odown, name, &Who::Master, &extra);
        } else if !odown && was {
            m.odown_since = 0;
            self.event(Event::OdownExit, name, &Who::Master, "");
        }
    }

    /// SENTINEL IS-MASTER-DOWN-BY-ADDR: whether we see the master at
    /// `ip:port` down (never in TILT), and our vote when `runid` asks for
    /// it (`*` asks nothing): `(down, leader or "*", leader epoch)`.
    pub fn is_master_down(
        &mut self,
        ip: &str,
        port: u16,
        epoch: u64,
        runid: &str,
        now_ms: i64,
    ) -> (bool, String, u64) {
        let Some((name, m)) = self
            .masters
            .iter()
            .find(|(_, m)| m.inst.ip == ip && m.inst.port == port)
        else {
            return (false, "*".into(), 0);
        };
        let name = name.clone();
        let down = self.tilt_since == 0 && m.inst.sdown_since > 0;
        if runid == "*" {
            return (down, "*".into(), 0);
        }
        let (leader, e) = self.vote(&name, epoch, runid, now_ms);
        let leader = if leader.is_empty() {
            "*".into()
        } else {
            leader
        };
        (down, leader, e)
    }
}
