//! Fixtures for the operator's unit tests: a cache's spec from YAML, and
//! data pods and sentinels in the states the end-to-end tests produce
//! (a master, a linked replica, a pod waiting to be told its master, a
//! sentinel with no state, one monitoring a master), so that the plan,
//! the status and the rollout are tested per scenario without a cluster.

use super::builder;
use super::crd::ReplicatedCache;
use super::crd::ReplicatedCacheStatus;
use super::decide::DataPod;
use super::observe::Observed;
use super::observe::SentinelView;

/// A cache `c` in namespace `ns` from the spec's YAML, with `status`.
pub fn cache(spec: &str, status: Option<ReplicatedCacheStatus>) -> ReplicatedCache {
    let yaml = format!(
        "apiVersion: picket.dev/v1alpha1\nkind: ReplicatedCache\nmetadata: {{name: c, namespace: ns, uid: u1, generation: 2}}\nspec:\n{}",
        spec.lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    );
    let mut rc: ReplicatedCache = serde_yaml::from_str(&yaml).expect("a valid cache");
    rc.status = status;
    rc
}

/// The stable host of data pod `c-<i>`.
pub fn host(i: i32) -> String {
    format!("c-{i}.c-headless.ns.svc.cluster.local")
}

/// Data pod `c-<i>` answering as a master.
pub fn master(i: i32, offset: i64) -> DataPod {
    DataPod {
        name: format!("c-{i}"),
        ordinal: i,
        ip: Some(format!("10.244.0.{}", 10 + i)),
        ready: true,
        is_master: Some(true),
        replid: Some("r1".into()),
        offset: Some(offset),
        revision: Some("rev1".into()),
        ..Default::default()
    }
}

/// Data pod `c-<i>` replicating from `c-<of>`, its link up.
pub fn replica(i: i32, of: i32, offset: i64) -> DataPod {
    DataPod {
        is_master: Some(false),
        master_host: Some(host(of)),
        link_up: true,
        ..master(i, offset)
    }
}

/// Data pod `c-<i>` just started, waiting to be told its master.
pub fn unassigned(i: i32) -> DataPod {
    DataPod {
        is_master: Some(false),
        master_host: Some(builder::NO_MASTER.into()),
        link_up: false,
        replid: Some(format!("fresh{i}")),
        offset: Some(0),
        ..master(i, 0)
    }
}

/// Sentinel `c-sentinel-<i>` with no state yet.
pub fn fresh_sentinel(i: i32) -> SentinelView {
    SentinelView {
        name: format!("c-sentinel-{i}"),
        ip: format!("10.244.0.{}", 100 + i),
        ready: true,
        revision: Some("rev1".into()),
        ..Default::default()
    }
}

/// Sentinel `c-sentinel-<i>` monitoring `c-<master>` and knowing
/// `replicas`, with `others` other sentinels.
pub fn sentinel(i: i32, master: i32, replicas: &[i32], others: i64) -> SentinelView {
    SentinelView {
        configured: true,
        master_host: Some(host(master)),
        epoch: Some(1),
        replicas: replicas.iter().map(|r| host(*r)).collect(),
        flags: "master".into(),
        other_sentinels: others,
        settings: [("quorum".to_string(), "2".to_string())].into(),
        ..fresh_sentinel(i)
    }
}

/// What was observed: `data` and `sentinels`, all present.
pub fn observed(data: Vec<DataPod>, sentinels: Vec<SentinelView>) -> Observed {
    Observed {
        pw: "pw".into(),
        present: (data.len(), sentinels.len()),
        sentinels_running: sentinels.len() as i32,
        data,
        sentinels,
        data_revision: Some("rev1".into()),
        sentinel_revision: Some("rev1".into()),
    }
}

/// A status recording master `c-<i>`.
pub fn recorded(i: i32, replid: &str, offset: i64) -> ReplicatedCacheStatus {
    ReplicatedCacheStatus {
        master: Some(format!("c-{i}")),
        replid: Some(replid.into()),
        master_repl_offset: Some(offset),
        ..Default::default()
    }
}
