//! The reconcile's last stage, pure: the status from what was observed,
//! planned and applied. The time comes in as an argument (each
//! condition's `lastTransitionTime` moves only when its status does).

use std::time::Duration;

use serde_json::json;

use super::builder::{Names, DATA_PORT};
use super::crd::{Condition, PasswordRotation, ReplicatedCache, ReplicatedCacheStatus};
use super::decide;
use super::observe::Observed;
use super::plan::{self, Plan};

/// What applying the plan did, as the status reports it.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// The reconcile wrote the master Service's endpoints itself (the
    /// +switch-master fast path had not).
    pub switched_here: bool,
    /// The token of the requested handover carried out.
    pub handed_over: Option<String>,
    /// The Progressing message after the day-2 step.
    pub progressing: Option<String>,
    /// The Degraded (reason, message) after the day-2 step.
    pub degraded: Option<(String, String)>,
    /// The password rotation under way.
    pub password_rotation: Option<PasswordRotation>,
}

/// The status to write and what it means for the next reconcile.
#[derive(Debug, Clone)]
pub struct Report {
    /// The new status.
    pub status: ReplicatedCacheStatus,
    /// Master known, quorum, a failover possible, nothing in progress.
    pub settled: bool,
    /// This reconcile moved the master Service to a new master (a
    /// failover counted in the metrics).
    pub failover: bool,
}

impl Report {
    /// When to reconcile again: soon while converging.
    pub fn requeue(&self) -> Duration {
        Duration::from_secs(if self.settled { 10 } else { 2 })
    }
}

/// One condition, keeping its transition time while its status holds.
pub fn condition(
    old: &[Condition],
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    gen: Option<i64>,
    now: &str,
) -> Condition {
    let status = if ok { "True" } else { "False" };
    let since = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_string());
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: since,
        observed_generation: gen,
    }
}

/// The conditions with one set, or None when it is already so.
pub fn with_condition(
    rc: &ReplicatedCache,
    type_: &str,
    ok: bool,
    reason: &str,
    msg: &str,
    now: &str,
) -> Option<Vec<Condition>> {
    let old = rc.status.clone().unwrap_or_default();
    let status = if ok { "True" } else { "False" };
    if old
        .conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == status && c.reason == reason && c.message == msg)
    {
        return None;
    }
    let mut conditions: Vec<Condition> = old
        .conditions
        .iter()
        .filter(|c| c.type_ != type_)
        .cloned()
        .collect();
    conditions.push(condition(
        &old.conditions,
        type_,
        ok,
        reason,
        msg,
        rc.metadata.generation,
        now,
    ));
    Some(conditions)
}

/// The status after this reconcile.
pub fn report(
    rc: &ReplicatedCache,
    obs: &Observed,
    plan: &Plan,
    applied: &Applied,
    now: &str,
) -> Report {
    let names = Names::of(rc);
    let old = rc.status.clone().unwrap_or_default();
    let (data, sentinels) = (&obs.data, &obs.sentinels);
    let master = &plan.master;
    let ready_replicas = data.iter().filter(|p| p.ready).count() as i32;
    let ready_sentinels = sentinels.iter().filter(|s| s.ready).count() as i32;
    let configured = sentinels.iter().filter(|s| s.configured).count();
    let gen = rc.metadata.generation;
    let quorum_ok = configured as i32 >= rc.spec.quorum() && ready_sentinels >= rc.spec.quorum();
    let master_known = !plan.endpoints.master_ips.is_empty();
    let blockers = decide::failover_blockers(
        &plan::reports(obs),
        &plan.endpoints.in_sync,
        rc.spec.replicas,
    );
    let can_fail_over = blockers.is_empty();
    let progressing_now = applied.progressing.is_some() || ready_replicas < rc.spec.replicas;
    let counts = Counts {
        ready_replicas,
        ready_sentinels,
        configured,
        quorum_ok,
        master_known,
        progressing_now,
    };
    let conditions = conditions(rc, plan, applied, &counts, &blockers, now);
    let master_obs = master
        .as_ref()
        .and_then(|mst| data.iter().find(|p| &p.name == mst))
        .filter(|p| p.is_master == Some(true));
    let mut status = ReplicatedCacheStatus {
        // A refused change is not observed: it is not applied.
        observed_generation: if plan.refused.is_some() {
            old.observed_generation
        } else {
            gen
        },
        master: master.clone(),
        master_address: master
            .as_ref()
            .map(|mst| format!("{}:{DATA_PORT}", names.data_host(mst))),
        replid: master_obs
            .and_then(|p| p.replid.clone())
            .or(old.replid.clone()),
        master_repl_offset: master_obs.and_then(|p| p.offset).or(old.master_repl_offset),
        config_epoch: sentinels
            .iter()
            .filter_map(|s| s.epoch)
            .max()
            .or(old.config_epoch),
        ready_replicas,
        ready_sentinels,
        ready: Some(format!("{ready_replicas}/{}", rc.spec.replicas)),
        sentinels_ready: Some(format!("{ready_sentinels}/{}", rc.spec.sentinels)),
        last_failover_time: old.last_failover_time.clone(),
        last_switch_latency_ms: old.last_switch_latency_ms,
        password_rotation: applied.password_rotation.clone(),
        handover_request: applied.handed_over.clone().or(old.handover_request.clone()),
        conditions,
    };
    let mut failover = false;
    if old.master.is_some() && master.is_some() && old.master != *master {
        failover = applied.switched_here && master_known;
        status.last_failover_time = Some(now.to_string());
    }
    Report {
        status,
        settled: master_known && quorum_ok && can_fail_over && !progressing_now,
        failover,
    }
}

/// What the conditions are made from.
struct Counts {
    ready_replicas: i32,
    ready_sentinels: i32,
    configured: usize,
    quorum_ok: bool,
    master_known: bool,
    progressing_now: bool,
}

/// The five conditions: Available, MasterKnown, SentinelQuorum,
/// Progressing, Degraded.
fn conditions(
    rc: &ReplicatedCache,
    plan: &Plan,
    applied: &Applied,
    c: &Counts,
    blockers: &[String],
    now: &str,
) -> Vec<Condition> {
    let Counts {
        ready_replicas,
        ready_sentinels,
        configured,
        quorum_ok,
        master_known,
        progressing_now,
    } = *c;
    let old = rc.status.clone().unwrap_or_default();
    let gen = rc.metadata.generation;
    let master = &plan.master;
    let can_fail_over = blockers.is_empty();
    let conds = &old.conditions;
    let (areason, amessage) = match master {
        Some(mst) if master_known && can_fail_over => {
            ("MasterServing", format!("master {mst} serves writes"))
        }
        Some(mst) if master_known => (
            "NoFailoverCandidate",
            format!(
                "master {mst} serves writes; no failover could succeed yet: {}",
                blockers.join("; ")
            ),
        ),
        _ => ("NoMaster", "no master serves writes yet".into()),
    };
    let (dreason, dmsg) = applied
        .degraded
        .clone()
        .unwrap_or(("AsExpected".into(), "".into()));
    let known_reason = if plan.agreed.is_some() {
        "SentinelsAgree"
    } else {
        "NotYetAgreed"
    };
    let known_msg = match master {
        Some(mst) => format!("master {mst}"),
        None => "unknown".into(),
    };
    let quorum_reason = if quorum_ok {
        "QuorumReachable"
    } else {
        "QuorumUnreachable"
    };
    let quorum_msg = format!(
        "{ready_sentinels} of {} sentinels ready, {configured} monitoring, quorum {}",
        rc.spec.sentinels,
        rc.spec.quorum()
    );
    let progress_reason = if progressing_now {
        "Converging"
    } else {
        "Converged"
    };
    let progress_msg = applied
        .progressing
        .clone()
        .unwrap_or_else(|| format!("{ready_replicas}/{} data pods ready", rc.spec.replicas));
    let cond = |type_: &str, ok: bool, reason: &str, message: &str| {
        condition(conds, type_, ok, reason, message, gen, now)
    };
    let available = master_known && quorum_ok && can_fail_over;
    vec![
        cond("Available", available, areason, &amessage),
        cond("MasterKnown", master_known, known_reason, &known_msg),
        cond("SentinelQuorum", quorum_ok, quorum_reason, &quorum_msg),
        cond(
            "Progressing",
            progressing_now,
            progress_reason,
            &progress_msg,
        ),
        cond("Degraded", applied.degraded.is_some(), &dreason, &dmsg),
    ]
}

/// The top-level status fields that differ, ignoring the replication
/// offset (it moves with every write: it alone is no reason to write).
pub fn changed_fields(a: &ReplicatedCacheStatus, b: &ReplicatedCacheStatus) -> Vec<String> {
    let (mut a, mut b) = (json!(a), json!(b));
    for s in [&mut a, &mut b] {
        if let Some(o) = s.as_object_mut() {
            o.remove("masterReplOffset");
        }
    }
    let keys: std::collections::BTreeSet<&String> = a
        .as_object()
        .into_iter()
        .chain(b.as_object())
        .flat_map(|o| o.keys())
        .collect();
    keys.into_iter()
        .filter(|k| a.get(k.as_str()) != b.get(k.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::fixtures::*;
    use crate::operator::plan::{plan, Inputs};

    const NOW: &str = "2026-12-05T10:00:00Z";

    fn applied(p: &Plan) -> Applied {
        Applied {
            progressing: p.progressing.clone(),
            degraded: p.degraded.clone(),
            ..Default::default()
        }
    }

    fn cond<'a>(s: &'a ReplicatedCacheStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).expect(t)
    }

    #[test]
    fn a_settled_cache_is_available_and_requeues_slowly() {
        let rc = cache("replicas: 3\nsentinels: 3\n", Some(recorded(0, "r1", 10)));
        let obs = observed(
            vec![master(0, 10), replica(1, 0, 10), replica(2, 0, 10)],
            vec![
                sentinel(0, 0, &[1, 2], 2),
                sentinel(1, 0, &[1, 2], 2),
                sentinel(2, 0, &[1, 2], 2),
            ],
        );
        let p = plan(&rc, &obs, &Inputs::default());
        let r = report(&rc, &obs, &p, &applied(&p), NOW);
        assert!(r.settled);
        assert_eq!(r.requeue(), Duration::from_secs(10));
        assert_eq!(cond(&r.status, "Available").status, "True");
        assert_eq!(cond(&r.status, "Available").reason, "MasterServing");
        assert_eq!(r.status.ready.as_deref(), Some("3/3"));
        assert_eq!(
            r.status.master_address.as_deref(),
            Some("c-0.c-headless.ns.svc.cluster.local:6379")
        );
        assert_eq!(r.status.observed_generation, Some(2));
        assert!(!r.failover);
        assert_eq!(r.status.last_failover_time, None);
    }

    #[test]
    fn a_switch_written_by_the_reconcile_is_counted_and_timed() {
        let rc = cache("replicas: 2\nsentinels: 3\n", Some(recorded(0, "r1", 10)));
        let obs = observed(
            vec![replica(0, 1, 10), master(1, 10)],
            vec![
                sentinel(0, 1, &[0], 2),
                sentinel(1, 1, &[0], 2),
                sentinel(2, 1, &[0], 2),
            ],
        );
        let p = plan(&rc, &obs, &Inputs::default());
        let mut a = applied(&p);
        a.switched_here = true;
        let r = report(&rc, &obs, &p, &a, NOW);
        assert!(r.failover);
        assert_eq!(r.status.master.as_deref(), Some("c-1"));
        assert_eq!(r.status.last_failover_time.as_deref(), Some(NOW));
        // The fast path switched it: timed, not counted twice.
        let r = report(&rc, &obs, &p, &applied(&p), NOW);
        assert!(!r.failover);
        assert_eq!(r.status.last_failover_time.as_deref(), Some(NOW));
    }

    #[test]
    fn no_replica_known_to_every_sentinel_makes_the_cache_unavailable_with_the_reason() {
        let rc = cache("replicas: 2\nsentinels: 3\n", Some(recorded(0, "r1", 10)));
        let obs = observed(
            vec![master(0, 10), replica(1, 0, 10)],
            vec![
                sentinel(0, 0, &[1], 2),
                sentinel(1, 0, &[1], 2),
                sentinel(2, 0, &[], 2),
            ],
        );
        let p = plan(&rc, &obs, &Inputs::default());
        let r = report(&rc, &obs, &p, &applied(&p), NOW);
        let a = cond(&r.status, "Available");
        assert_eq!(
            (a.status.as_str(), a.reason.as_str()),
            ("False", "NoFailoverCandidate")
        );
        assert!(a.message.contains("c-sentinel-2"), "{}", a.message);
        assert!(!r.settled);
        assert_eq!(r.requeue(), Duration::from_secs(2));
    }

    #[test]
    fn a_refused_change_keeps_the_observed_generation_and_reports_degraded() {
        let mut old = recorded(0, "r1", 10);
        old.observed_generation = Some(1);
        let rc = cache("replicas: 2\nsentinels: 2\nquorum: 2\n", Some(old));
        let obs = observed(
            vec![master(0, 10), replica(1, 0, 10)],
            vec![
                sentinel(0, 0, &[1], 2),
                fresh_sentinel(1),
                sentinel(2, 0, &[1], 2),
            ],
        );
        let p = plan(&rc, &obs, &Inputs::default());
        let r = report(&rc, &obs, &p, &applied(&p), NOW);
        assert_eq!(r.status.observed_generation, Some(1));
        let d = cond(&r.status, "Degraded");
        assert_eq!(
            (d.status.as_str(), d.reason.as_str()),
            ("True", "UnsafeQuorum")
        );
    }

    #[test]
    fn a_condition_keeps_its_transition_time_while_its_status_holds() {
        let old = vec![condition(&[], "Available", true, "A", "a", None, "t0")];
        assert_eq!(
            condition(&old, "Available", true, "B", "b", None, "t1").last_transition_time,
            "t0"
        );
        assert_eq!(
            condition(&old, "Available", false, "B", "b", None, "t1").last_transition_time,
            "t1"
        );
    }

    #[test]
    fn only_the_offset_moving_is_no_change_to_write() {
        let a = recorded(0, "r1", 10);
        let mut b = a.clone();
        b.master_repl_offset = Some(99);
        assert!(changed_fields(&a, &b).is_empty());
        b.master = Some("c-1".into());
        assert_eq!(changed_fields(&a, &b), ["master"]);
    }
}
