//! The reconcile's first stage: everything read from the cluster and the
//! pods, into plain structs that [`plan`](super::plan) decides from.
//!
//! Two reads here: [`pods`] (the Secret's password and the pod lists,
//! from the API server) and [`servers`] (what every data pod's INFO and
//! every sentinel's `SENTINEL MASTER/REPLICAS` say, plus the two
//! StatefulSets' update revisions). The password rotation runs between
//! them, because the password the servers are asked with depends on how
//! far it has gone. Nothing here writes, except [`password`] creating the
//! generated Secret the first time (there is nothing to read before it).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ListParams, PostParams};
use kube::ResourceExt;

use super::builder::{self, Names, DATA_PORT, SENTINEL_PORT};
use super::client::{self, Reply};
use super::controller::{Ctx, Error};
use super::crd::ReplicatedCache;
use super::decide::{self, DataPod};

/// The cache's pods as the API server lists them.
#[derive(Debug, Clone, Default)]
pub struct Pods {
    /// The data pods (terminating ones too).
    pub data: Vec<Pod>,
    /// The sentinel pods (terminating ones too).
    pub sentinels: Vec<Pod>,
}

impl Pods {
    /// (data pods, sentinel pods) present, terminating ones included.
    pub fn present(&self) -> (usize, usize) {
        (self.data.len(), self.sentinels.len())
    }

    /// The sentinel StatefulSet's size as it runs: the highest ordinal
    /// not terminating, plus one (pods already terminating are a change
    /// already made).
    pub fn sentinels_running(&self) -> i32 {
        self.sentinels
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| ordinal(&p.name_any()) + 1)
            .max()
            .unwrap_or(0)
    }
}

/// What one reconcile observed, from which the plan is made.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The password every pod takes now.
    pub pw: String,
    /// Pods present (data, sentinels), terminating ones included.
    pub present: (usize, usize),
    /// The sentinel StatefulSet's size as it runs
    /// ([`Pods::sentinels_running`]).
    pub sentinels_running: i32,
    /// The data pods not terminating, by ordinal, as INFO shows them.
    pub data: Vec<DataPod>,
    /// The sentinels not terminating that have an IP.
    pub sentinels: Vec<SentinelView>,
    /// The data StatefulSet's update revision.
    pub data_revision: Option<String>,
    /// The sentinel StatefulSet's update revision.
    pub sentinel_revision: Option<String>,
}

/// A random password for the generated Secret.
fn new_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    (0..32)
        .map(|_| CHARS[fastrand::usize(..CHARS.len())] as char)
        .collect()
}

/// The password, creating the generated Secret the first time.
pub async fn password(rc: &ReplicatedCache, ns: &str, ctx: &Ctx) -> Result<String, Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let (name, key) = builder::password_ref(rc);
    let secret = match api.get_opt(&name).await.map_err(Error::observe("Secret"))? {
        Some(s) => s,
        None if rc.spec.auth.is_none() => {
            let s = builder::generated_secret(rc, &new_password());
            let made = api
                .create(&PostParams::default(), &s)
                .await
                .map_err(|e| Error::apply(format!("Secret {name}"), e))?;
            ctx.metrics
                .writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            made
        }
        None => {
            return Err(Error::Spec(format!(
                "Secret {name} (spec.auth.secretName) does not exist"
            )))
        }
    };
    let from_data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&key))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned());
    let from_string = secret
        .string_data
        .as_ref()
        .and_then(|d| d.get(&key).cloned());
    from_data
        .or(from_string)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::Spec(format!("Secret {name} has no key {key}")))
}

/// The cache as the API server has it now (a quorum read); `None` once
/// it is deleted.
pub async fn cache(ctx: &Ctx, rc: &ReplicatedCache) -> Result<Option<ReplicatedCache>, Error> {
    let api: Api<ReplicatedCache> =
        Api::namespaced(ctx.client.clone(), &rc.namespace().unwrap_or_default());
    api.get_opt(&rc.name_any())
        .await
        .map_err(Error::observe("ReplicatedCache"))
}

/// The cache's data and sentinel pods.
pub async fn pods(ctx: &Ctx, names: &Names) -> Result<Pods, Error> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let of =
        |component: &str| ListParams::default().labels(&builder::list_selector(names, component));
    Ok(Pods {
        data: api
            .list(&of("data"))
            .await
            .map_err(Error::observe("data pods"))?
            .items,
        sentinels: api
            .list(&of("sentinel"))
            .await
            .map_err(Error::observe("sentinel pods"))?
            .items,
    })
}

/// What the servers in `pods` say, asked with `pw`, and the StatefulSets'
/// update revisions.
pub async fn servers(ctx: &Ctx, names: &Names, pods: &Pods, pw: String) -> Result<Observed, Error> {
    let live = |p: &&Pod| p.metadata.deletion_timestamp.is_none();
    let mut data = Vec::new();
    for p in pods.data.iter().filter(live) {
        data.push(observe_data_pod(p, &pw).await);
    }
    data.sort_by_key(|p| p.ordinal);
    let set = names.master_set();
    let mut sentinels = Vec::new();
    for p in pods.sentinels.iter().filter(live) {
        if let Some(v) = observe_sentinel(p, &set, &pw).await {
            sentinels.push(v);
        }
    }
    let sets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let revision = |s: Option<StatefulSet>| s.and_then(|s| s.status?.update_revision);
    Ok(Observed {
        present: pods.present(),
        sentinels_running: pods.sentinels_running(),
        data,
        sentinels,
        data_revision: revision(
            sets.get_opt(&names.cache)
                .await
                .map_err(Error::observe("the data StatefulSet"))?,
        ),
        sentinel_revision: revision(
            sets.get_opt(&names.sentinel())
                .await
                .map_err(Error::observe("the sentinel StatefulSet"))?,
        ),
        pw,
    })
}

/// Whether the data server at `ip` answers ROLE with `master`.
pub async fn says_master(ip: &str, pw: &str) -> bool {
    matches!(
        client::command(&format!("{ip}:{DATA_PORT}"), Some(pw), &["ROLE"]).await,
        Ok(Reply::Array(Some(a))) if a.first().map(Reply::text).as_deref() == Some("master")
    )
}

/// Whether the pod's Ready condition is True.
pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The pod's IP, once it has one.
pub fn pod_ip(p: &Pod) -> Option<String> {
    p.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .filter(|ip| !ip.is_empty())
}

/// A StatefulSet pod's ordinal (`<set>-<ordinal>`), -1 if none.
pub fn ordinal(name: &str) -> i32 {
    name.rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1)
}

/// A data pod as INFO shows it.
async fn observe_data_pod(p: &Pod, pw: &str) -> DataPod {
    let name = p.name_any();
    let mut d = DataPod {
        ordinal: ordinal(&name),
        name,
        ip: pod_ip(p),
        ready: pod_ready(p),
        revision: revision(p),
        ..Default::default()
    };
    let Some(ip) = &d.ip else { return d };
    let addr = format!("{ip}:{DATA_PORT}");
    if let Ok(Reply::Bulk(Some(b))) = client::command(&addr, Some(pw), &["INFO"]).await {
        let info = String::from_utf8_lossy(&b);
        d.is_master = client::info_field(&info, "role").map(|r| r == "master");
        d.master_host = client::info_field(&info, "master_host");
        d.link_up = client::info_field(&info, "master_link_status").as_deref() == Some("up");
        d.replid = client::info_field(&info, "master_replid");
        d.offset = client::info_field(&info, "master_repl_offset").and_then(|v| v.parse().ok());
        d.keys = client::info_field(&info, "db0")
            .and_then(|v| v.split(',').next()?.strip_prefix("keys=")?.parse().ok());
    }
    d
}

/// The StatefulSet revision a pod runs.
fn revision(p: &Pod) -> Option<String> {
    p.labels().get("controller-revision-hash").cloned()
}

/// What one sentinel says about the cache's master.
#[derive(Debug, Clone, Default)]
pub struct SentinelView {
    /// Pod name.
    pub name: String,
    /// Pod IP.
    pub ip: String,
    /// Its readiness condition.
    pub ready: bool,
    /// It monitors the cache (SENTINEL MASTER answers).
    pub configured: bool,
    /// Its GET-MASTER-ADDR-BY-NAME host.
    pub master_host: Option<String>,
    /// The config epoch it reports.
    pub epoch: Option<i64>,
    /// The replicas it knows (their announced hosts).
    pub replicas: Vec<String>,
    /// Its master's flags (`master`, `s_down`, `failover_in_progress`...).
    pub flags: String,
    /// `num-other-sentinels`.
    pub other_sentinels: i64,
    /// The replicas it knows with `slave-priority` 0 (never promoted).
    pub unpromotable: Vec<String>,
    /// The StatefulSet revision it runs.
    pub revision: Option<String>,
    /// Its settings for the cache (`SENTINEL MASTER` fields).
    pub settings: BTreeMap<String, String>,
}

impl SentinelView {
    /// Whether it names `pod` as the cache's master.
    pub fn names_master(&self, pod: &str) -> bool {
        self.master_host.as_deref().map(decide::pod_of_host) == Some(pod)
    }
}

async fn observe_sentinel(p: &Pod, set: &str, pw: &str) -> Option<SentinelView> {
    let ip = pod_ip(p)?;
    let mut v = SentinelView {
        name: p.name_any(),
        ip: ip.clone(),
        ready: pod_ready(p),
        revision: revision(p),
        ..Default::default()
    };
    let addr = format!("{ip}:{SENTINEL_PORT}");
    let Ok(mut c) = client::Conn::open(&addr, Some(pw)).await else {
        return Some(v);
    };
    if let Ok(r @ Reply::Array(Some(_))) = c.call(&["SENTINEL", "MASTER", set]).await {
        let kv = client::strings(&r);
        let field = |k: &str| client::field(&kv, k);
        v.configured = true;
        v.epoch = field("config-epoch").and_then(|e| e.parse().ok());
        v.flags = field("flags").unwrap_or_default();
        v.other_sentinels = field("num-other-sentinels")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        for k in builder::SENTINEL_SETTINGS {
            if let Some(val) = field(k) {
                v.settings.insert(k.to_string(), val);
            }
        }
    }
    if v.configured {
        if let Ok(r) = c.call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", set]).await {
            v.master_host = client::strings(&r).first().cloned();
        }
        if let Ok(Reply::Array(Some(rs))) = c.call(&["SENTINEL", "REPLICAS", set]).await {
            for r in rs {
                let kv = client::strings(&r);
                let field = |k: &str| client::field(&kv, k);
                if let Some(ip) = field("ip") {
                    if field("slave-priority").as_deref() == Some("0") {
                        v.unpromotable.push(ip.clone());
                    }
                    v.replicas.push(ip);
                }
            }
        }
    }
    Some(v)
}
