//! The operator's decisions, pure: who is the master, whom to point where
//! at bootstrap, when the sentinels agree, the Ready/Available counts.
//! Everything here takes what was observed and returns what to do.

/// What the operator saw of one data pod.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataPod {
    /// Pod name (`<cache>-<ordinal>`).
    pub name: String,
    /// StatefulSet ordinal.
    pub ordinal: i32,
    /// Pod IP, when it has one.
    pub ip: Option<String>,
    /// Its readiness condition.
    pub ready: bool,
    /// INFO replication, when it answered: role master?
    pub is_master: Option<bool>,
    /// The host it replicates from (a replica).
    pub master_host: Option<String>,
    /// A replica whose link to its master is up.
    pub link_up: bool,
    /// Its replication id.
    pub replid: Option<String>,
    /// Its replication offset.
    pub offset: Option<i64>,
    /// Keys in its dataset (INFO keyspace), when known.
    pub keys: Option<i64>,
    /// The StatefulSet revision it runs (`controller-revision-hash`).
    pub revision: Option<String>,
}

/// The master the operator recorded in status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recorded {
    /// Pod name.
    pub master: Option<String>,
    /// Replication id then.
    pub replid: Option<String>,
    /// Offset then.
    pub offset: Option<i64>,
}

/// What bootstrap should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Wait: the chosen pod isn't answering yet (the reason).
    Wait(String),
    /// Make this pod the master and point the others at it.
    Master(String),
    /// Refuse: no pod has the recorded master's data (the reason); an
    /// empty node is never promoted over it.
    Refuse(String),
}

/// Chooses the first master. A new cache (nothing recorded) takes
/// ordinal 0 once it answers; with persistence (`persistent`: the number
/// of data pods) the pod whose files hold the most, once all answer. With a recorded master (all pods restarted
/// and the sentinels lost, say), the recorded pod if it answers; else the
/// pod with the recorded replication id and the highest offset at least
/// the recorded one; never a pod whose data is older.
pub fn bootstrap_master(
    pods: &[DataPod],
    recorded: &Recorded,
    persistent: Option<usize>,
) -> Bootstrap {
    let answering = |p: &&DataPod| p.is_master.is_some() && p.ip.is_some();
    if let (None, Some(want)) = (&recorded.master, persistent) {
        // Nothing recorded but disks: the claims may hold a cache's data
        // (created again under the same name). Every pod answers first;
        // the one with the most (offset, then keys) wins, ordinal 0 on a
        // tie (all empty: a new cache).
        if pods.iter().filter(answering).count() < want {
            return Bootstrap::Wait("waiting for every data pod to load its files".into());
        }
        return match pods
            .iter()
            .filter(answering)
            .max_by_key(|p| (p.offset.unwrap_or(0), p.keys.unwrap_or(0), -p.ordinal))
        {
            Some(p) => Bootstrap::Master(p.name.clone()),
            None => Bootstrap::Wait("no data pod yet".into()),
        };
    }
    let Some(rec) = &recorded.master else {
        return match pods.iter().find(|p| p.ordinal == 0) {
            Some(p) if answering(&p) => Bootstrap::Master(p.name.clone()),
            Some(p) => Bootstrap::Wait(format!("{} does not answer yet", p.name)),
            None => Bootstrap::Wait("no data pod yet".into()),
        };
    };
    let has_recorded = |p: &&DataPod| {
        (recorded.replid.is_none() || p.replid == recorded.replid)
            && p.offset.unwrap_or(0) >= recorded.offset.unwrap_or(0)
    };
    let rec_pod = pods.iter().find(|p| &p.name == rec).filter(answering);
    if let Some(p) = rec_pod.filter(has_recorded) {
        return Bootstrap::Master(p.name.clone());
    }
    let best = pods
        .iter()
        .filter(answering)
        .filter(has_recorded)
        .max_by_key(|p| (p.offset.unwrap_or(0), -p.ordinal));
    if let Some(p) = best {
        return Bootstrap::Master(p.name.clone());
    }
    if pods.iter().filter(answering).count() < pods.len() {
        return Bootstrap::Wait("waiting for every data pod to answer".into());
    }
    // Nobody continues the recorded history. The recorded master that
    // reloaded its own files (a fresh replication id, but keys) is still
    // the best there is; an empty node never is.
    match rec_pod.filter(|p| p.keys.unwrap_or(0) > 0) {
        Some(p) => Bootstrap::Master(p.name.clone()),
        None => Bootstrap::Refuse(format!(
            "no data pod has the data of the recorded master {rec} (replid {}, offset {}); not promoting an older or empty node",
            recorded.replid.as_deref().unwrap_or("?"),
            recorded.offset.unwrap_or(0)
        )),
    }
}

/// The master a majority of `total` sentinels names (`host` answers, one
/// per sentinel that answered).
pub fn sentinel_majority(answers: &[String], total: usize) -> Option<String> {
    let need = total / 2 + 1;
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for a in answers {
        *counts.entry(a.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .find(|(_, n)| *n >= need)
        .map(|(h, _)| h.to_string())
}

/// The pod a stable host name (`<pod>.<headless>.<ns>.svc.cluster.local`)
/// belongs to.
pub fn pod_of_host(host: &str) -> &str {
    host.split('.').next().unwrap_or(host)
}

/// Whether a data pod waits to be told its master: it started as a
/// replica of [`NO_MASTER`](super::builder::NO_MASTER) and nobody has
/// pointed it anywhere yet.
pub fn unassigned(p: &DataPod) -> bool {
    p.is_master == Some(false) && p.master_host.as_deref() == Some(super::builder::NO_MASTER)
}

/// Whether the sentinels could fail the cache over now: with more than
/// one data pod wanted, every sentinel that monitors the cache (and at
/// least one) knows a replica in `in_sync` (pod names of the master's
/// replicas with their link up). Sentinels learn replicas from the
/// master's INFO, every 10 s: until then a failover ends in
/// `-failover-abort-no-good-slave`, so the cache is not yet Available.
pub fn failover_ready(monitoring: &[&[String]], in_sync: &[String], want: i32) -> bool {
    if want <= 1 {
        return true;
    }
    !monitoring.is_empty()
        && monitoring.iter().all(|known| {
            known
                .iter()
                .any(|h| in_sync.iter().any(|p| p == pod_of_host(h)))
        })
}

/// What one sentinel that monitors the cache reports, as far as a
/// failover is concerned.
#[derive(Debug, Clone, Copy)]
pub struct SentinelReport<'a> {
    /// Its pod's name.
    pub name: &'a str,
    /// Its master's flags (`master`, `s_down`, ...).
    pub flags: &'a str,
    /// The replicas it knows (their announced hosts).
    pub replicas: &'a [String],
}

/// Why the sentinels could not fail the cache over now, one sentence per
/// sentinel that could not, naming it and what it reports; empty exactly
/// when [`failover_ready`] holds. This is the Available condition's
/// message while it is False for this reason.
pub fn failover_blockers(reports: &[SentinelReport], in_sync: &[String], want: i32) -> Vec<String> {
    if want <= 1 {
        return Vec::new();
    }
    if reports.is_empty() {
        return vec!["no sentinel monitors the cache yet".into()];
    }
    reports
        .iter()
        .filter(|r| {
            !r.replicas
                .iter()
                .any(|h| in_sync.iter().any(|p| p == pod_of_host(h)))
        })
        .map(|r| {
            let known: Vec<&str> = r.replicas.iter().map(|h| pod_of_host(h)).collect();
            let knows = if known.is_empty() {
                "knows no replica".to_string()
            } else {
                format!("knows replicas {} but none in sync", known.join(", "))
            };
            let down: Vec<&str> = r
                .flags
                .split(',')
                .filter(|f| matches!(*f, "s_down" | "o_down" | "disconnected"))
                .collect();
            if down.is_empty() {
                format!("sentinel {} {knows}", r.name)
            } else {
                format!(
                    "sentinel {} reports the master {} and {knows}",
                    r.name,
                    down.join(",")
                )
            }
        })
        .collect()
}

/// The sentinels that report the master down (`s_down`/`o_down`), by
/// name with their flags: a fact worth an Event while the operator itself
/// reaches that master (a sentinel that cannot log in, or a cut link).
pub fn sentinels_seeing_master_down<'a>(reports: &[SentinelReport<'a>]) -> Vec<(&'a str, &'a str)> {
    reports
        .iter()
        .filter(|r| r.flags.split(',').any(|f| f == "s_down" || f == "o_down"))
        .map(|r| (r.name, r.flags))
        .collect()
}

/// What to do when the master the sentinels agree on is a pod that
/// restarted before they noticed (it waits unassigned, without the writes
/// it had acknowledged, or with only those its files kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartedMaster {
    /// It is fine (a master), or not this case.
    No,
    /// Ask the sentinels to fail over now (`SENTINEL FAILOVER`): a replica
    /// has the data; the sentinels alone would wait for their role check
    /// (down-after + 20 s) with no master meanwhile.
    Failover,
    /// The cache has one data pod: it is all there is; make it master
    /// again.
    Promote,
    /// No replica that followed this master holds data (they restarted
    /// too, or are still coming back): neither fail over to an empty or
    /// older node nor promote the restarted one over pods that may have
    /// more; wait (the reason).
    Wait(String),
}

/// Decides [`RestartedMaster`] for the `master` pod (stable name
/// `master_host`) among `pods`, in a cache of `want` data pods. A
/// failover is asked for only when a replica that was linked to this
/// master has its data (the sentinels promote the one with the highest
/// offset, so an empty pod never wins over it).
pub fn restarted_master(
    pods: &[DataPod],
    master: &str,
    master_host: &str,
    want: i32,
) -> RestartedMaster {
    let Some(m) = pods.iter().find(|p| p.name == master) else {
        return RestartedMaster::No;
    };
    if !unassigned(m) {
        return RestartedMaster::No;
    }
    if want <= 1 {
        return RestartedMaster::Promote;
    }
    let followed = pods.iter().any(|p| {
        p.name != master
            && p.is_master == Some(false)
            && p.master_host.as_deref() == Some(master_host)
            && p.offset.unwrap_or(0) > 0
    });
    if followed {
        RestartedMaster::Failover
    } else {
        RestartedMaster::Wait(format!(
            "master {master} restarted and no replica that followed it has data yet"
        ))
    }
}

/// How a sentinel event is shown as a Kubernetes Event: (a warning?,
/// the reason), or None for those only logged (hellos, epochs, the
/// reconfiguration steps, and `+switch-master`, which the switch itself
/// reports with its latency). `-failover-abort-not-elected` is a sentinel
/// losing a vote to another, part of a normal failover.
pub fn sentinel_event(channel: &str, payload: &str) -> Option<(bool, &'static str)> {
    let about = payload.split(' ').next().unwrap_or("");
    Some(match (channel, about) {
        ("+sdown", "master") => (true, "MasterDown"),
        ("-sdown", "master") => (false, "MasterUp"),
        ("+sdown", "slave") => (true, "ReplicaDown"),
        ("-sdown", "slave") => (false, "ReplicaUp"),
        ("+sdown", "sentinel") => (true, "SentinelDown"),
        ("-sdown", "sentinel") => (false, "SentinelUp"),
        ("+odown", _) => (true, "MasterObjectivelyDown"),
        ("-odown", _) => (false, "MasterNotObjectivelyDown"),
        ("+try-failover", _) => (false, "FailoverStarted"),
        ("+elected-leader", _) => (false, "FailoverLeaderElected"),
        ("+selected-slave", _) => (false, "ReplicaSelected"),
        ("+promoted-slave", _) => (false, "ReplicaPromoted"),
        ("+failover-end", _) => (false, "FailoverEnded"),
        ("+failover-end-for-timeout", _) => (true, "FailoverTimedOut"),
        ("-failover-abort-not-elected", _) => return None,
        (c, _) if c.starts_with("-failover-abort") => (true, "FailoverAborted"),
        ("+convert-to-slave", _) => (false, "OldMasterDemoted"),
        ("+tilt", _) => (true, "SentinelTilt"),
        ("-tilt", _) => (false, "SentinelTiltEnded"),
        ("+reboot", _) => (false, "InstanceRestarted"),
        _ => return None,
    })
}

/// What one configured sentinel reports about the cache, for the reset
/// decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelCounts {
    /// Pod name.
    pub name: String,
    /// It names the agreed master.
    pub agrees: bool,
    /// Its master's flags say a failover is under way.
    pub in_failover: bool,
    /// `num-other-sentinels`.
    pub other_sentinels: i64,
    /// `num-slaves`.
    pub replicas: i64,
}

/// The one sentinel to `SENTINEL RESET` now, if any. Sentinels never
/// forget: after a scale-down they keep the removed replicas (down
/// forever, handed to clients that ask for replicas) and the removed
/// sentinels (counted in every vote's majority, which can make failover
/// impossible). A sentinel knowing more than the spec has is reset, one
/// at a time as Redis's documentation asks: only while every configured
/// sentinel agrees on the master and none is failing over, only when the
/// previous reset is `since_last` ago at least `gap`, and never while
/// another sentinel still has fewer peers than the spec (it is still
/// rediscovering after a reset).
pub fn sentinel_to_reset(
    views: &[SentinelCounts],
    want_sentinels: i64,
    want_replicas: i64,
    since_last: Option<std::time::Duration>,
    gap: std::time::Duration,
) -> Option<String> {
    if since_last.is_some_and(|d| d < gap) {
        return None;
    }
    if views.is_empty() || views.iter().any(|v| !v.agrees || v.in_failover) {
        return None;
    }
    if views.iter().any(|v| v.other_sentinels < want_sentinels - 1) {
        return None;
    }
    views
        .iter()
        .find(|v| v.other_sentinels > want_sentinels - 1 || v.replicas > want_replicas - 1)
        .map(|v| v.name.clone())
}

/// Why a change to the sentinels is refused, if it is. A change that
/// removes sentinels or raises the quorum must leave, among the sentinels
/// it keeps (ordinals below `new_sentinels`), enough working ones for a
/// failover to still happen: the quorum to agree the master is down and a
/// majority to elect a leader. The majority is counted over the larger of
/// the two counts, since the kept sentinels count the removed ones in
/// every vote until they are reset. `working` lists the ordinals of the
/// sentinels that answer and monitor the cache. Adding sentinels is never
/// refused (whatever quorum comes with it), nor is a change that makes
/// nothing less safe (any other field).
pub fn unsafe_sentinel_change(
    (cur_sentinels, cur_quorum): (i32, i32),
    (new_sentinels, new_quorum): (i32, i32),
    working: &[i32],
) -> Option<String> {
    let fewer = new_sentinels < cur_sentinels;
    let stricter = new_quorum > cur_quorum;
    if new_sentinels > cur_sentinels || (!fewer && !stricter) {
        return None;
    }
    let kept = working.iter().filter(|o| **o < new_sentinels).count() as i32;
    let voters = cur_sentinels.max(new_sentinels);
    let need = new_quorum.max(voters / 2 + 1);
    if kept >= need {
        return None;
    }
    let change = match (fewer, stricter) {
        (true, true) => format!(
            "spec.sentinels {cur_sentinels} -> {new_sentinels} and spec.quorum {cur_quorum} -> {new_quorum}"
        ),
        (true, false) => format!("spec.sentinels {cur_sentinels} -> {new_sentinels}"),
        _ => format!("spec.quorum {cur_quorum} -> {new_quorum}"),
    };
    Some(format!(
        "{change} would leave {kept} working sentinel(s) of the {new_sentinels} kept, and a failover needs {need} (quorum {new_quorum}, a majority of the {voters} the sentinels count until they are reset); nothing of this change is applied until the kept sentinels work again or the change is undone"
    ))
}

/// The retry delay after `failures` reconciles of a cache failed in a
/// row: 1 s doubling up to 30 s (a fixed Secret, or the API server back,
/// is picked up within that).
pub fn backoff(failures: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1u64 << failures.min(5)).min(std::time::Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(i: i32, master: bool, replid: &str, offset: i64) -> DataPod {
        DataPod {
            name: format!("c-{i}"),
            ordinal: i,
            ip: Some(format!("10.0.0.{i}")),
            ready: true,
            is_master: Some(master),
            master_host: None,
            link_up: false,
            replid: Some(replid.into()),
            offset: Some(offset),
            keys: None,
            revision: None,
        }
    }

    #[test]
    fn a_new_cache_takes_ordinal_zero_once_it_answers() {
        let mut pods = vec![pod(0, true, "a", 0), pod(1, true, "b", 0)];
        assert_eq!(
            bootstrap_master(&pods, &Recorded::default(), None),
            Bootstrap::Master("c-0".into())
        );
        pods[0].is_master = None;
        assert!(matches!(
            bootstrap_master(&pods, &Recorded::default(), None),
            Bootstrap::Wait(_)
        ));
    }

    #[test]
    fn a_cache_created_again_on_kept_claims_takes_the_pod_with_the_most_data() {
        let mut pods = vec![
            pod(0, true, "a", 0),
            pod(1, true, "b", 900),
            pod(2, true, "c", 0),
        ];
        pods[2].is_master = None;
        assert!(matches!(
            bootstrap_master(&pods, &Recorded::default(), Some(3)),
            Bootstrap::Wait(_)
        ));
        pods[2].is_master = Some(true);
        assert_eq!(
            bootstrap_master(&pods, &Recorded::default(), Some(3)),
            Bootstrap::Master("c-1".into())
        );
        // All empty (a new cache with disks): ordinal 0.
        pods[1].offset = Some(0);
        assert_eq!(
            bootstrap_master(&pods, &Recorded::default(), Some(3)),
            Bootstrap::Master("c-0".into())
        );
    }

    #[test]
    fn after_a_restart_the_recorded_data_wins_and_an_empty_node_never_does() {
        let rec = Recorded {
            master: Some("c-1".into()),
            replid: Some("r".into()),
            offset: Some(500),
        };
        // The recorded master is back with its data.
        let pods = vec![
            pod(0, true, "x", 0),
            pod(1, true, "r", 500),
            pod(2, true, "r", 400),
        ];
        assert_eq!(
            bootstrap_master(&pods, &rec, None),
            Bootstrap::Master("c-1".into())
        );
        // It came back empty (new replid, offset 0): the replica holding
        // the recorded history at the recorded offset or later wins.
        let pods = vec![
            pod(0, true, "x", 0),
            pod(1, true, "new", 0),
            pod(2, true, "r", 600),
        ];
        assert_eq!(
            bootstrap_master(&pods, &rec, None),
            Bootstrap::Master("c-2".into())
        );
        // Nobody has it: refuse rather than promote older data.
        let pods = vec![
            pod(0, true, "x", 0),
            pod(1, true, "new", 0),
            pod(2, true, "r", 100),
        ];
        assert!(matches!(
            bootstrap_master(&pods, &rec, None),
            Bootstrap::Refuse(_)
        ));
        // Somebody doesn't answer yet: wait, it may be the one.
        let mut waiting = pods.clone();
        waiting[0].is_master = None;
        assert!(matches!(
            bootstrap_master(&waiting, &rec, None),
            Bootstrap::Wait(_)
        ));
        // The recorded master reloaded its files under a new id: it has keys.
        let mut reloaded = pods;
        reloaded[1].keys = Some(42);
        assert_eq!(
            bootstrap_master(&reloaded, &rec, None),
            Bootstrap::Master("c-1".into())
        );
    }

    #[test]
    fn the_sentinels_majority_counts_all_sentinels_not_only_those_that_answered() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sentinel_majority(&a(&["h1", "h1", "h2"]), 3),
            Some("h1".into())
        );
        assert_eq!(sentinel_majority(&a(&["h1", "h2"]), 3), None);
        assert_eq!(sentinel_majority(&a(&["h1", "h1"]), 3), Some("h1".into()));
        assert_eq!(sentinel_majority(&a(&["h1", "h1"]), 5), None);
    }

    #[test]
    fn a_host_names_its_pod() {
        assert_eq!(
            pod_of_host("cache-1.cache-headless.ns.svc.cluster.local"),
            "cache-1"
        );
    }

    #[test]
    fn sentinel_events_become_kubernetes_events_and_a_lost_vote_does_not() {
        let m = "master cache c-0.h 6379";
        assert_eq!(sentinel_event("+sdown", m), Some((true, "MasterDown")));
        assert_eq!(
            sentinel_event("+sdown", "slave c-1.h:6379 c-1.h 6379 @ cache c-0.h 6379"),
            Some((true, "ReplicaDown"))
        );
        assert_eq!(
            sentinel_event("+odown", m),
            Some((true, "MasterObjectivelyDown"))
        );
        assert_eq!(
            sentinel_event("-failover-abort-no-good-slave", m),
            Some((true, "FailoverAborted"))
        );
        assert_eq!(sentinel_event("-failover-abort-not-elected", m), None);
        assert_eq!(sentinel_event("+switch-master", "cache a 1 b 2"), None);
        assert_eq!(sentinel_event("__sentinel__:hello", "x"), None);
        assert_eq!(sentinel_event("+new-epoch", "3"), None);
    }

    fn counts(name: &str, others: i64, replicas: i64) -> SentinelCounts {
        SentinelCounts {
            name: name.into(),
            agrees: true,
            in_failover: false,
            other_sentinels: others,
            replicas,
        }
    }

    #[test]
    fn a_sentinel_change_is_refused_only_when_it_leaves_too_few_working() {
        // 5 -> 3 with sentinels 1 and 2 frozen: one working among the kept.
        let why = unsafe_sentinel_change((5, 2), (3, 2), &[0, 3, 4]).unwrap();
        assert!(
            why.starts_with("spec.sentinels 5 -> 3 would leave 1 working"),
            "{why}"
        );
        // The kept ones still count 5 voters until they are reset.
        assert!(why.contains("needs 3"), "{why}");
        // The same shrink with the kept ones working is fine.
        assert_eq!(unsafe_sentinel_change((5, 2), (3, 2), &[0, 1, 2]), None);
        // A quorum raised past the working sentinels.
        let why = unsafe_sentinel_change((3, 2), (3, 3), &[0, 1]).unwrap();
        assert!(why.starts_with("spec.quorum 2 -> 3"), "{why}");
        // Growing (its default quorum grows too), or keeping the same
        // numbers, is never refused, even with sentinels down.
        assert_eq!(unsafe_sentinel_change((3, 2), (5, 3), &[0]), None);
        assert_eq!(unsafe_sentinel_change((3, 2), (3, 2), &[]), None);
        assert_eq!(unsafe_sentinel_change((3, 3), (3, 2), &[0]), None);
    }

    #[test]
    fn sentinels_that_remember_removed_pods_are_reset_one_at_a_time() {
        use std::time::Duration;
        let gap = Duration::from_secs(30);
        // All as the spec says: nothing to do.
        let ok = vec![
            counts("s-0", 2, 2),
            counts("s-1", 2, 2),
            counts("s-2", 2, 2),
        ];
        assert_eq!(sentinel_to_reset(&ok, 3, 3, None, gap), None);
        // The same sentinels after a scale-down from 3 data pods to 2: all
        // know one replica too many.
        let stale = ok.clone();
        assert_eq!(
            sentinel_to_reset(&stale, 3, 2, None, gap),
            Some("s-0".into())
        );
        // Not again within the gap.
        assert_eq!(
            sentinel_to_reset(&stale, 3, 2, Some(Duration::from_secs(5)), gap),
            None
        );
        // A reset sentinel still finding its peers holds the next back.
        let mut rediscovering = stale.clone();
        rediscovering[0] = counts("s-0", 0, 1);
        assert_eq!(
            sentinel_to_reset(&rediscovering, 3, 2, Some(gap), gap),
            None
        );
        // Once it has them again, the next one.
        let mut done = stale.clone();
        done[0] = counts("s-0", 2, 1);
        assert_eq!(
            sentinel_to_reset(&done, 3, 2, Some(gap), gap),
            Some("s-1".into())
        );
        // A removed sentinel remembered.
        let ghosts = vec![
            counts("s-0", 3, 2),
            counts("s-1", 2, 2),
            counts("s-2", 2, 2),
        ];
        assert_eq!(
            sentinel_to_reset(&ghosts, 3, 3, None, gap),
            Some("s-0".into())
        );
        // Never during a failover or a disagreement.
        let mut busy = ghosts.clone();
        busy[2].in_failover = true;
        assert_eq!(sentinel_to_reset(&busy, 3, 3, None, gap), None);
        let mut split = ghosts;
        split[1].agrees = false;
        assert_eq!(sentinel_to_reset(&split, 3, 3, None, gap), None);
    }

    #[test]
    fn failed_reconciles_back_off_up_to_thirty_seconds() {
        use std::time::Duration;
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(30), Duration::from_secs(30));
    }

    #[test]
    fn a_master_that_restarted_unassigned_is_failed_over_only_to_a_replica_with_its_data() {
        let none = crate::operator::builder::NO_MASTER;
        let mut pods = vec![
            pod(0, true, "r", 10),
            pod(1, false, "r", 10),
            pod(2, false, "r", 10),
        ];
        pods[1].master_host = Some("c-0.h".into());
        pods[2].master_host = Some("c-0.h".into());
        assert_eq!(
            restarted_master(&pods, "c-0", "c-0.h", 3),
            RestartedMaster::No
        );
        pods[0].is_master = Some(false);
        pods[0].master_host = Some(none.into());
        assert!(unassigned(&pods[0]));
        assert!(!unassigned(&pods[1]));
        assert_eq!(
            restarted_master(&pods, "c-0", "c-0.h", 3),
            RestartedMaster::Failover
        );
        // A one-pod cache: it is all there is.
        assert_eq!(
            restarted_master(&pods[..1], "c-0", "c-0.h", 1),
            RestartedMaster::Promote
        );
        // The others missing (being recreated) or unassigned and empty:
        // neither a failover to them nor a promotion over them.
        assert!(matches!(
            restarted_master(&pods[..1], "c-0", "c-0.h", 3),
            RestartedMaster::Wait(_)
        ));
        let mut empty = pods.clone();
        for p in &mut empty[1..] {
            p.master_host = Some(none.into());
            p.offset = Some(0);
        }
        assert!(matches!(
            restarted_master(&empty, "c-0", "c-0.h", 3),
            RestartedMaster::Wait(_)
        ));
        assert_eq!(
            restarted_master(&pods, "c-9", "c-9.h", 3),
            RestartedMaster::No
        );
    }
    #[test]
    fn failover_is_ready_only_when_every_monitoring_sentinel_knows_an_in_sync_replica() {
        let host = |p: &str| format!("{p}.c-headless.ns.svc.cluster.local");
        let both = vec![host("c-1"), host("c-2")];
        let none: Vec<String> = Vec::new();
        let in_sync = vec!["c-1".to_string()];
        assert!(failover_ready(&[&both, &both], &in_sync, 3));
        // One sentinel has not had its INFO yet.
        assert!(!failover_ready(&[&both, &none], &in_sync, 3));
        // They know replicas, but none in sync.
        assert!(!failover_ready(&[&both], &["c-3".to_string()], 3));
        assert!(!failover_ready(&[], &in_sync, 3));
        // A one-pod cache has nothing to fail over to.
        assert!(failover_ready(&[], &[], 1));
    }

    #[test]
    fn the_blockers_name_each_sentinel_that_could_not_fail_over_and_what_it_reports() {
        let host = |p: &str| format!("{p}.c-headless.ns.svc.cluster.local");
        let both = [host("c-1"), host("c-2")];
        let none: Vec<String> = Vec::new();
        let in_sync = vec!["c-1".to_string()];
        let r = |name, flags, replicas| SentinelReport {
            name,
            flags,
            replicas,
        };
        // The CI failure: one sentinel s_down that never learned a replica.
        let reports = [
            r("c-sentinel-0", "master", &both[..]),
            r("c-sentinel-1", "s_down,master", &none[..]),
        ];
        assert_eq!(
            failover_blockers(&reports, &in_sync, 3),
            ["sentinel c-sentinel-1 reports the master s_down and knows no replica"]
        );
        assert_eq!(
            sentinels_seeing_master_down(&reports),
            [("c-sentinel-1", "s_down,master")]
        );
        let stale = [host("c-2")];
        assert_eq!(
            failover_blockers(&[r("c-sentinel-2", "master", &stale[..])], &in_sync, 3),
            ["sentinel c-sentinel-2 knows replicas c-2 but none in sync"]
        );
        assert_eq!(
            failover_blockers(&[], &in_sync, 3),
            ["no sentinel monitors the cache yet"]
        );
        // Blockers are empty exactly when a failover is ready.
        for reps in [
            &reports[..],
            &reports[..1],
            &[][..],
            &[r("x", "master", &stale[..])][..],
        ] {
            for want in [1, 3] {
                let known: Vec<&[String]> = reps.iter().map(|r| r.replicas).collect();
                assert_eq!(
                    failover_blockers(reps, &in_sync, want).is_empty(),
                    failover_ready(&known, &in_sync, want)
                );
            }
        }
        assert!(sentinels_seeing_master_down(&reports[..1]).is_empty());
    }
}
