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
    /// Its replication id.
    pub replid: Option<String>,
    /// Its replication offset.
    pub offset: Option<i64>,
    /// Keys in its dataset (INFO keyspace), when known.
    pub keys: Option<i64>,
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
/// ordinal 0 once it answers. With a recorded master (all pods restarted
/// and the sentinels lost, say), the recorded pod if it answers; else the
/// pod with the recorded replication id and the highest offset at least
/// the recorded one; never a pod whose data is older.
pub fn bootstrap_master(pods: &[DataPod], recorded: &Recorded) -> Bootstrap {
    let answering = |p: &&DataPod| p.is_master.is_some() && p.ip.is_some();
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
            replid: Some(replid.into()),
            offset: Some(offset),
            keys: None,
        }
    }

    #[test]
    fn a_new_cache_takes_ordinal_zero_once_it_answers() {
        let mut pods = vec![pod(0, true, "a", 0), pod(1, true, "b", 0)];
        assert_eq!(
            bootstrap_master(&pods, &Recorded::default()),
            Bootstrap::Master("c-0".into())
        );
        pods[0].is_master = None;
        assert!(matches!(
            bootstrap_master(&pods, &Recorded::default()),
            Bootstrap::Wait(_)
        ));
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
            bootstrap_master(&pods, &rec),
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
            bootstrap_master(&pods, &rec),
            Bootstrap::Master("c-2".into())
        );
        // Nobody has it: refuse rather than promote older data.
        let pods = vec![
            pod(0, true, "x", 0),
            pod(1, true, "new", 0),
            pod(2, true, "r", 100),
        ];
        assert!(matches!(
            bootstrap_master(&pods, &rec),
            Bootstrap::Refuse(_)
        ));
        // Somebody doesn't answer yet: wait, it may be the one.
        let mut waiting = pods.clone();
        waiting[0].is_master = None;
        assert!(matches!(
            bootstrap_master(&waiting, &rec),
            Bootstrap::Wait(_)
        ));
        // The recorded master reloaded its files under a new id: it has keys.
        let mut reloaded = pods;
        reloaded[1].keys = Some(42);
        assert_eq!(
            bootstrap_master(&reloaded, &rec),
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
}
