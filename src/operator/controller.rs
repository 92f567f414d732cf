//! The ReplicatedCache controller (kube-runtime): applies the builder's
//! objects, bootstraps the topology (first master, replicas pointed at
//! it, sentinels configured), follows the master the sentinels agree on
//! with the master and replicas EndpointSlices, and reports status.
//!
//! Writes: every object carries the hash of what was last applied
//! (`picket.dev/applied`); an object whose hash matches is not written,
//! so a reconcile that finds nothing to change makes no write call
//! (counted in `writes`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde_json::json;

use super::builder::{self, Names, DATA_PORT, MANAGER, SENTINEL_PORT};
use super::client::{self, Reply};
use super::crd::{Condition, ReplicatedCache, ReplicatedCacheStatus};
use super::decide::{self, Bootstrap, DataPod, Recorded, SentinelCounts};
use super::operations::{self, RollInput, Rolled};
use super::recorder::{Kind, Recorder};
use super::rotation;

/// The annotation holding the hash of what was applied.
pub const APPLIED: &str = "picket.dev/applied";

/// What went wrong in a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed.
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// The spec can't be served (a missing Secret, say).
    #[error("{0}")]
    Spec(String),
}

/// Counters for /metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Reconciles run.
    pub reconciles: AtomicU64,
    /// Reconciles that failed.
    pub errors: AtomicU64,
    /// Create/patch calls made.
    pub writes: AtomicU64,
    /// Master changes seen.
    pub failovers: AtomicU64,
    /// Sentinels reset (stale replicas or sentinels forgotten).
    pub sentinel_resets: AtomicU64,
    /// 1 while this process holds the leader Lease (or runs without
    /// leader election), else 0.
    pub leader: AtomicU64,
    /// Switch latencies (ms, from +switch-master to the EndpointSlice
    /// written), as a histogram: counts per bucket bound.
    pub switch_buckets: [AtomicU64; SWITCH_BUCKETS_MS.len()],
    /// Their sum (ms) and count.
    pub switch_sum_ms: AtomicU64,
    /// How many switches.
    pub switch_count: AtomicU64,
}

/// The bucket bounds of the switch latency histogram (ms).
pub const SWITCH_BUCKETS_MS: [u64; 8] = [10, 25, 50, 100, 250, 500, 1000, 5000];

impl Metrics {
    /// Records one switch's latency.
    pub fn record_switch(&self, ms: i64) {
        let ms = ms.max(0) as u64;
        for (i, b) in SWITCH_BUCKETS_MS.iter().enumerate() {
            if ms <= *b {
                self.switch_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.switch_sum_ms.fetch_add(ms, Ordering::Relaxed);
        self.switch_count.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        for (name, help, v) in [
            (
                "picket_operator_reconciles_total",
                "Reconciles run.",
                g(&self.reconciles),
            ),
            (
                "picket_operator_reconcile_errors_total",
                "Reconciles that failed.",
                g(&self.errors),
            ),
            (
                "picket_operator_writes_total",
                "Create and patch calls made.",
                g(&self.writes),
            ),
            (
                "picket_operator_failovers_total",
                "Master switches applied to the master Service.",
                g(&self.failovers),
            ),
            (
                "picket_operator_sentinel_resets_total",
                "SENTINEL RESETs sent to sentinels remembering removed pods.",
                g(&self.sentinel_resets),
            ),
        ] {
            s.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
            ));
        }
        s.push_str(&format!(
            "# HELP picket_operator_leader Whether this replica is the active one.\n# TYPE picket_operator_leader gauge\npicket_operator_leader {}\n",
            g(&self.leader)
        ));
        let h = "picket_operator_switch_latency_seconds";
        s.push_str(&format!("# HELP {h} From +switch-master to the master Service showing only the new master.\n# TYPE {h} histogram\n"));
        for (i, b) in SWITCH_BUCKETS_MS.iter().enumerate() {
            s.push_str(&format!(
                "{h}_bucket{{le=\"{}\"}} {}\n",
                *b as f64 / 1000.0,
                g(&self.switch_buckets[i])
            ));
        }
        s.push_str(&format!(
            "{h}_bucket{{le=\"+Inf\"}} {}\n",
            g(&self.switch_count)
        ));
        s.push_str(&format!(
            "{h}_sum {}\n{h}_count {}\n",
            g(&self.switch_sum_ms) as f64 / 1000.0,
            g(&self.switch_count)
        ));
        s
    }
}

/// Shared by every reconcile.
pub struct Ctx {
    /// The API client.
    pub client: Client,
    /// The picket-server image when the spec names none.
    pub default_image: String,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Serializes master switches: every sentinel reports the same
    /// +switch-master, and only the first should write.
    pub switch_lock: tokio::sync::Mutex<()>,
    /// Kubernetes Events.
    pub recorder: Recorder,
    /// Failed reconciles in a row, per cache (namespace/name).
    pub failures: std::sync::Mutex<BTreeMap<String, u32>>,
    /// The last SENTINEL RESET, per cache.
    pub resets: std::sync::Mutex<BTreeMap<String, Instant>>,
    /// The last SENTINEL FAILOVER asked (a restarted master, a handover),
    /// per cache.
    pub failovers_asked: std::sync::Mutex<BTreeMap<String, Instant>>,
    /// A rollout's last action and when, per cache (for its deadline).
    pub rollouts: std::sync::Mutex<BTreeMap<String, (String, Instant)>>,
    /// `--plain-rollouts`: Kubernetes rolls the pods
    /// ([`builder::plain_rollouts`]), for the benchmark's comparison.
    pub plain_rollouts: bool,
    /// `--namespace`: the namespaces watched; empty for every namespace.
    pub namespaces: Vec<String>,
}

impl Ctx {
    /// A context for `client`, reporting Events as `instance`.
    pub fn new(client: Client, default_image: String, instance: String) -> Self {
        Ctx {
            recorder: Recorder::new(client.clone(), instance),
            client,
            default_image,
            metrics: Arc::new(Metrics::default()),
            switch_lock: Default::default(),
            failures: Default::default(),
            resets: Default::default(),
            rollouts: Default::default(),
            plain_rollouts: false,
            failovers_asked: Default::default(),
            namespaces: Vec::new(),
        }
    }

    /// The API for `K` in every watched namespace: one per namespace, or
    /// one for the whole cluster.
    pub fn apis<K>(&self) -> Vec<Api<K>>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        if self.namespaces.is_empty() {
            return vec![Api::all(self.client.clone())];
        }
        self.namespaces
            .iter()
            .map(|ns| Api::namespaced(self.client.clone(), ns))
            .collect()
    }
}

/// The minimum time between two SENTINEL RESETs of one cache's sentinels
/// (Redis's documentation: at least 30 seconds).
pub const RESET_GAP: Duration = Duration::from_secs(30);

fn hash_of<T: Serialize>(obj: &T) -> String {
    builder::fnv1a(&serde_json::to_string(obj).unwrap_or_default())
}

/// Whether the data server at `ip` answers ROLE with `master`.
pub async fn says_master(ip: &str, pw: &str) -> bool {
    matches!(
        client::command(&format!("{ip}:{DATA_PORT}"), Some(pw), &["ROLE"]).await,
        Ok(Reply::Array(Some(a))) if a.first().map(Reply::text).as_deref() == Some("master")
    )
}

/// Server-side applies `obj` unless the live object carries the same
/// applied hash. Returns whether it wrote.
pub async fn apply<K>(api: &Api<K>, mut obj: K, metrics: &Metrics) -> Result<bool, Error>
where
    K: Resource + Clone + Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = obj.name_any();
    let hash = hash_of(&obj);
    if let Some(live) = api.get_opt(&name).await? {
        if live.annotations().get(APPLIED) == Some(&hash) {
            return Ok(false);
        }
    }
    obj.annotations_mut().insert(APPLIED.into(), hash);
    api.patch(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&obj),
    )
    .await?;
    metrics.writes.fetch_add(1, Ordering::Relaxed);
    Ok(true)
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
    let secret = match api.get_opt(&name).await? {
        Some(s) => s,
        None if rc.spec.auth.is_none() => {
            let s = builder::generated_secret(rc, &new_password());
            let made = api.create(&PostParams::default(), &s).await?;
            ctx.metrics.writes.fetch_add(1, Ordering::Relaxed);
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

/// Whether the pod's Ready condition is True.
pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn pod_ip(p: &Pod) -> Option<String> {
    p.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .filter(|ip| !ip.is_empty())
}

pub(super) fn ordinal(name: &str) -> i32 {
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
#[derive(Debug, Clone)]
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
        configured: false,
        master_host: None,
        epoch: None,
        replicas: Vec::new(),
        flags: String::new(),
        other_sentinels: 0,
        unpromotable: Vec::new(),
        revision: revision(p),
        settings: BTreeMap::new(),
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

/// Makes `master` the master and points the other answering pods at it.
async fn point_data_pods(names: &Names, pods: &[DataPod], master: &str, pw: &str) {
    let host = names.data_host(master);
    for p in pods {
        let Some(ip) = &p.ip else { continue };
        let addr = format!("{ip}:{DATA_PORT}");
        if p.name == master {
            if p.is_master == Some(false) {
                let _ = client::command(&addr, Some(pw), &["REPLICAOF", "NO", "ONE"]).await;
                tracing::info!(pod = %p.name, "promoted to master (bootstrap)");
            }
        } else if p.is_master.is_some() && p.master_host.as_deref() != Some(host.as_str()) {
            let port = DATA_PORT.to_string();
            let _ = client::command(&addr, Some(pw), &["REPLICAOF", &host, &port]).await;
            tracing::info!(pod = %p.name, master = %master, "pointed at the master");
        }
    }
}

/// Configures one sentinel to monitor the cache's master by name.
async fn configure_sentinel(
    rc: &ReplicatedCache,
    names: &Names,
    s: &SentinelView,
    master: &str,
    pw: &str,
) -> Result<(), String> {
    let addr = format!("{}:{SENTINEL_PORT}", s.ip);
    let mut c = client::Conn::open(&addr, Some(pw)).await?;
    let me = names.sentinel_host(&s.name);
    let set = names.master_set();
    let t = rc.spec.sentinel_timings();
    let quorum = rc.spec.quorum().to_string();
    let port = DATA_PORT.to_string();
    let host = names.data_host(master);
    let (down, fo, ps) = (
        t.down_after_milliseconds.to_string(),
        t.failover_timeout.to_string(),
        t.parallel_syncs.to_string(),
    );
    let steps: Vec<Vec<&str>> = vec![
        vec!["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "yes"],
        vec!["SENTINEL", "CONFIG", "SET", "announce-hostnames", "yes"],
        vec!["SENTINEL", "CONFIG", "SET", "announce-ip", &me],
        vec!["SENTINEL", "MONITOR", &set, &host, &port, &quorum],
        vec![
            "SENTINEL",
            "SET",
            &set,
            "down-after-milliseconds",
            &down,
            "failover-timeout",
            &fo,
            "parallel-syncs",
            &ps,
            "auth-pass",
            pw,
        ],
    ];
    for step in steps {
        if let Reply::Error(e) = c.call(&step).await? {
            return Err(format!("{} {}: {e}", step[0], step[1]));
        }
    }
    tracing::info!(sentinel = %s.name, master = %master, "sentinel configured");
    Ok(())
}

/// The EndpointSlice backing a selector-less Service.
pub fn endpoint_slice(
    rc: &ReplicatedCache,
    names: &Names,
    service: &str,
    ips: &[String],
) -> EndpointSlice {
    let mut labels = builder::labels(names, Some("data"));
    labels.insert("kubernetes.io/service-name".into(), service.into());
    labels.insert(
        "endpointslice.kubernetes.io/managed-by".into(),
        MANAGER.into(),
    );
    let endpoints: Vec<_> = ips
        .iter()
        .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": service, "namespace": names.namespace, "labels": labels,
            "ownerReferences": [{
                "apiVersion": "picket.dev/v1alpha1", "kind": "ReplicatedCache",
                "name": rc.name_any(), "uid": rc.metadata.uid, "controller": true,
            }],
        },
        "addressType": "IPv4",
        "ports": [{"name": "redis", "port": DATA_PORT, "protocol": "TCP"}],
        "endpoints": endpoints,
    }))
    .expect("a valid EndpointSlice")
}

fn condition(
    old: &[Condition],
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    gen: Option<i64>,
) -> Condition {
    let status = if ok { "True" } else { "False" };
    let since = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(now_rfc3339);
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: since,
        observed_generation: gen,
    }
}

pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

pub(super) fn cache_key(rc: &ReplicatedCache) -> String {
    format!("{}/{}", rc.namespace().unwrap_or_default(), rc.name_any())
}

/// One reconcile of `rc`. A spec the operator can't serve (a missing
/// Secret) becomes the `Degraded` condition and a Warning Event; nothing
/// is applied until it is fixed.
pub async fn reconcile(rc: Arc<ReplicatedCache>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    ctx.metrics.reconciles.fetch_add(1, Ordering::Relaxed);
    let r = reconcile_cache(&rc, &ctx).await;
    match &r {
        Ok(_) => {
            ctx.failures.lock().unwrap().remove(&cache_key(&rc));
        }
        Err(Error::Spec(msg)) => report_invalid(&rc, &ctx, msg).await,
        Err(_) => {}
    }
    r
}

/// The `Degraded` condition and an Event for a spec that can't be served.
async fn report_invalid(rc: &ReplicatedCache, ctx: &Ctx, msg: &str) {
    ctx.recorder
        .publish(rc, Kind::Warning, "InvalidSpec", "Reconcile", msg)
        .await;
    set_condition(rc, ctx, "Degraded", true, "InvalidSpec", msg).await;
}

/// Writes one condition (a merge patch of the conditions), unless it is
/// already so.
async fn set_condition(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    type_: &str,
    ok: bool,
    reason: &str,
    msg: &str,
) {
    let old = rc.status.clone().unwrap_or_default();
    let status = if ok { "True" } else { "False" };
    if old
        .conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == status && c.reason == reason && c.message == msg)
    {
        return;
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
    ));
    let api: Api<ReplicatedCache> =
        Api::namespaced(ctx.client.clone(), &rc.namespace().unwrap_or_default());
    let patch = json!({"status": {"conditions": conditions}});
    match api
        .patch_status(
            &rc.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => {
            ctx.metrics.writes.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tracing::warn!(cache = %rc.name_any(), "writing the {type_} condition: {e}"),
    }
}

async fn reconcile_cache(rc: &ReplicatedCache, ctx: &Ctx) -> Result<Action, Error> {
    if rc.metadata.deletion_timestamp.is_some() {
        // Garbage collection removes what it owns.
        return Ok(Action::await_change());
    }
    if rc.paused() {
        let msg = format!(
            "paused by the annotation {}: the operator changes nothing of this cache (nor moves its Service) until it is removed",
            super::crd::PAUSED
        );
        set_condition(rc, ctx, "Progressing", false, "Paused", &msg).await;
        operations::forget_rollout(ctx, rc);
        return Ok(Action::requeue(Duration::from_secs(30)));
    }
    let names = Names::of(rc);
    let ns = names.namespace.clone();
    let m = &ctx.metrics;
    let pw = password(rc, &ns, ctx).await?;
    let old = rc.status.clone().unwrap_or_default();

    // What runs.
    let c = ctx.client.clone();
    let pods: Api<Pod> = Api::namespaced(c.clone(), &ns);
    let of =
        |component: &str| ListParams::default().labels(&builder::list_selector(&names, component));
    let data_pods = pods.list(&of("data")).await?.items;
    let sentinel_pods = pods.list(&of("sentinel")).await?.items;
    // A changed password: every pod accepts both, then only the new one
    // (after this, every pod that did it takes `pw`).
    let auth = rotation::state(rc, ctx, &pw).await?;
    let (password_rotation, rotating) =
        rotation::advance(rc, ctx, &data_pods, &sentinel_pods, &auth, &pw).await?;
    // Until every pod has taken the new password, the old one is the one
    // they all take (a pod that could not be given the new one still
    // requires the old; one started since was given the old back).
    let pw = match &password_rotation {
        Some(r) if r.phase == rotation::ACCEPTING_BOTH && r.both_accepted_since.is_none() => {
            auth.required.clone()
        }
        _ => pw,
    };
    let mut data = Vec::new();
    for p in data_pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        data.push(observe_data_pod(p, &pw).await);
    }
    data.sort_by_key(|p| p.ordinal);
    let set = names.master_set();
    let mut sentinels = Vec::new();
    for p in sentinel_pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        if let Some(v) = observe_sentinel(p, &set, &pw).await {
            sentinels.push(v);
        }
    }
    // A change that would leave too few working sentinels is held whole
    // (pods already terminating are a change already made).
    let cur_sentinels = sentinel_pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| ordinal(&p.name_any()) + 1)
        .max()
        .unwrap_or(0);
    let cur_quorum = sentinels
        .iter()
        .filter_map(|s| s.settings.get("quorum")?.parse().ok())
        .max()
        .unwrap_or(rc.spec.quorum());
    let working: Vec<i32> = sentinels
        .iter()
        .filter(|s| s.configured && s.master_host.is_some())
        .map(|s| ordinal(&s.name))
        .collect();
    // Refused: no object is written and no day-2 step taken (the change
    // is held whole), but the rest goes on (sentinels recreated empty
    // are configured, so they can count as working again).
    let refused = decide::unsafe_sentinel_change(
        (cur_sentinels, cur_quorum),
        (rc.spec.sentinels, rc.spec.quorum()),
        &working,
    );
    if let Some(why) = &refused {
        ctx.recorder
            .publish(rc, Kind::Warning, "UnsafeQuorum", "Refuse", why)
            .await;
    }

    // The objects.
    let mut d = builder::desired(rc, &ctx.default_image);
    if ctx.plain_rollouts {
        builder::plain_rollouts(&mut d);
    }
    // A scale-down never removes the master: the StatefulSet keeps the
    // master's ordinal until it has handed over (below).
    let scale_hold = old
        .master
        .as_deref()
        .filter(|_| !ctx.plain_rollouts)
        .map(ordinal)
        .filter(|o| *o >= rc.spec.replicas)
        .map(|o| o + 1);
    if let (Some(n), Some(spec)) = (scale_hold, d.data.spec.as_mut()) {
        spec.replicas = Some(n);
    }
    if refused.is_none() {
        apply(&Api::namespaced(c.clone(), &ns), d.config.clone(), m).await?;
        for s in d.services.clone() {
            apply(&Api::namespaced(c.clone(), &ns), s, m).await?;
        }
        apply(&Api::namespaced(c.clone(), &ns), d.data.clone(), m).await?;
        apply(&Api::namespaced(c.clone(), &ns), d.sentinels.clone(), m).await?;
        for p in d.pdbs.clone() {
            apply(&Api::namespaced(c.clone(), &ns), p, m).await?;
        }
    }

    let recorded = Recorded {
        master: old.master.clone(),
        replid: old.replid.clone(),
        offset: old.master_repl_offset,
    };

    // Who is master: the sentinels' majority once they are configured;
    // before that, bootstrap.
    let answers: Vec<String> = sentinels
        .iter()
        .filter_map(|s| s.master_host.clone())
        .collect();
    let total = rc.spec.sentinels.max(sentinels.len() as i32) as usize;
    let configured = sentinels.iter().filter(|s| s.configured).count();
    // A majority of all sentinels, or, while some are still unconfigured
    // (bootstrap interrupted, a sentinel pod recreated), a majority of
    // those that monitor the cache: they are the ones that know.
    let agreed = decide::sentinel_majority(&answers, total)
        .or_else(|| decide::sentinel_majority(&answers, configured))
        .map(|h| decide::pod_of_host(&h).to_string());
    let mut degraded: Option<(String, String)> =
        refused.clone().map(|why| ("UnsafeQuorum".into(), why));
    let mut progressing: Option<String> = rotating;
    let master = if let Some(mst) = agreed.clone() {
        // Sentinels decide. Fresh sentinels (a recreated pod) are told.
        for s in sentinels.iter().filter(|s| !s.configured && s.ready) {
            match configure_sentinel(rc, &names, s, &mst, &pw).await {
                Ok(()) => {
                    let note = format!(
                        "sentinel {} started with no state; it now monitors master {mst}",
                        s.name
                    );
                    ctx.recorder
                        .publish(rc, Kind::Normal, "SentinelConfigured", "Configure", &note)
                        .await
                }
                Err(e) => tracing::warn!(sentinel = %s.name, "configuring: {e}"),
            }
        }
        // A data pod no sentinel knows that stands alone as a master (it
        // started after bootstrap, or a scale-up) is pointed at the master;
        // pods the sentinels know are theirs to fix.
        // So is a pod waiting unassigned (new, or restarted): the
        // sentinels would fix a replica they know, but only at their next
        // INFO, and not one they don't know.
        let known: Vec<&String> = sentinels.iter().flat_map(|s| &s.replicas).collect();
        let strays: Vec<DataPod> = data
            .iter()
            .filter(|p| p.name != mst)
            .filter(|p| {
                decide::unassigned(p)
                    || (p.is_master == Some(true) && !known.contains(&&names.data_host(&p.name)))
            })
            .cloned()
            .collect();
        if !strays.is_empty() {
            point_data_pods(&names, &strays, &mst, &pw).await;
            for p in &strays {
                let was = if decide::unassigned(p) {
                    "started and waited to be told its master"
                } else {
                    "stood alone as a master no sentinel knows"
                };
                let note = format!("{} {was}; pointed at master {mst}", p.name);
                ctx.recorder
                    .publish(rc, Kind::Normal, "ReplicaRepointed", "Replicaof", &note)
                    .await;
            }
        }
        fix_restarted_master(rc, ctx, &names, &data, &sentinels, &mst, &pw).await;
        let present = (data_pods.len(), sentinel_pods.len());
        if refused.is_none() {
            // (While refused, the spec's counts are not what runs.)
            reset_stale_sentinel(rc, ctx, &names, &sentinels, &mst, present, &pw).await;
        }
        Some(mst)
    } else if configured == 0 {
        let persistent = rc
            .spec
            .persistence
            .as_ref()
            .filter(|p| p.enabled)
            .map(|_| rc.spec.replicas.max(1) as usize);
        match decide::bootstrap_master(&data, &recorded, persistent) {
            Bootstrap::Master(mst) => {
                point_data_pods(&names, &data, &mst, &pw).await;
                let mut told = 0;
                for s in sentinels.iter().filter(|s| s.ready) {
                    match configure_sentinel(rc, &names, s, &mst, &pw).await {
                        Ok(()) => told += 1,
                        Err(e) => tracing::warn!(sentinel = %s.name, "configuring: {e}"),
                    }
                }
                let note = format!(
                    "master {mst}; the other data pods pointed at it; {told} sentinels monitor it"
                );
                ctx.recorder
                    .publish(rc, Kind::Normal, "Bootstrapped", "Bootstrap", &note)
                    .await;
                progressing = Some(format!("bootstrapped with master {mst}"));
                Some(mst)
            }
            Bootstrap::Wait(why) => {
                progressing = Some(why);
                None
            }
            Bootstrap::Refuse(why) => {
                ctx.recorder
                    .publish(rc, Kind::Warning, "RefusingOlderData", "Bootstrap", &why)
                    .await;
                degraded = Some(("RefusingOlderData".into(), why));
                None
            }
        }
    } else {
        // Configured sentinels without a majority answer: keep the last
        // known master until they agree.
        progressing = Some("waiting for the sentinels to agree on the master".into());
        old.master.clone()
    };

    // The master and replicas Services' endpoints.
    let master_pod = master
        .as_ref()
        .and_then(|mst| data.iter().find(|p| &p.name == mst));
    let master_ips: Vec<String> = master_pod
        .filter(|p| p.is_master == Some(true))
        .and_then(|p| p.ip.clone())
        .into_iter()
        .collect();
    // Replicas of the master with their link up: not one still waiting
    // to be told its master (it has no data), nor one mid-sync.
    let master_host = master.as_ref().map(|mst| names.data_host(mst));
    let in_sync: Vec<&DataPod> = data
        .iter()
        .filter(|p| Some(&p.name) != master.as_ref() && p.ready && p.is_master == Some(false))
        .filter(|p| p.link_up && p.master_host.is_some() && p.master_host == master_host)
        .collect();
    let replica_ips: Vec<String> = in_sync.iter().filter_map(|p| p.ip.clone()).collect();
    let in_sync: Vec<String> = in_sync.iter().map(|p| p.name.clone()).collect();
    let slices: Api<EndpointSlice> = Api::namespaced(c.clone(), &ns);
    // What was observed at the start may be stale by now (the event path
    // may have switched the Service meanwhile): the master is asked again,
    // and a pod that no longer says master is not written back.
    let still_master = match master_ips.first() {
        Some(ip) => says_master(ip, &pw).await,
        None => false,
    };
    // The reconcile never moves the Service away from a pod that still
    // says master: during a switch both may, and the move belongs to the
    // +switch-master event (events.rs); the reconcile catches up once the
    // old one has stepped down (or is gone).
    let live: Vec<String> = slices
        .get_opt(&names.cache)
        .await?
        .map(|sl| {
            sl.endpoints
                .iter()
                .flat_map(|e| e.addresses.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut live_is_master = false;
    for ip in live.iter().filter(|ip| !master_ips.contains(ip)) {
        live_is_master |= says_master(ip, &pw).await;
    }
    // Written here only when the event path did not do it.
    let switched_here = still_master
        && !live_is_master
        && apply(
            &slices,
            endpoint_slice(rc, &names, &names.cache, &master_ips),
            m,
        )
        .await?;
    apply(
        &slices,
        endpoint_slice(rc, &names, &names.replicas(), &replica_ips),
        m,
    )
    .await?;

    // Day-2: live settings, a requested handover, a scale-down's
    // handover, the rollout.
    let mut handed_over: Option<String> = None;
    if let (Some(mst), true) = (
        agreed.as_deref(),
        !master_ips.is_empty() && refused.is_none(),
    ) {
        operations::apply_live_settings(rc, ctx, &data, &sentinels, mst, &pw).await;
        operations::apply_sentinel_settings(rc, ctx, &names, &sentinels, &pw).await;
        let service_ok = (live.len() == 1 && live == master_ips) || switched_here;
        if let Some(token) = rc.handover_requested() {
            match operations::requested_handover(rc, ctx, &names, &data, &sentinels, mst, &pw).await
            {
                Ok(()) => handed_over = Some(token),
                Err(why) => progressing = Some(why),
            }
        }
        if ctx.plain_rollouts {
            // Kubernetes rolls the pods.
        } else if scale_hold.is_some() {
            operations::forget_rollout(ctx, rc);
            progressing = Some(
                operations::hand_over_before_scale_down(
                    rc, ctx, &names, &data, &sentinels, mst, &pw,
                )
                .await,
            );
        } else {
            let sets: Api<StatefulSet> = Api::namespaced(c.clone(), &ns);
            let revision = |s: Option<StatefulSet>| s.and_then(|s| s.status?.update_revision);
            let input = RollInput {
                rc,
                names: &names,
                data: &data,
                sentinels: &sentinels,
                master: mst,
                data_revision: revision(sets.get_opt(&names.cache).await?),
                sentinel_revision: revision(sets.get_opt(&names.sentinel()).await?),
                service_ok,
                pw: &pw,
            };
            match operations::roll(ctx, input).await {
                Rolled::Done => {}
                Rolled::Progressing(msg) => progressing = Some(msg),
                Rolled::Stalled(msg) => {
                    ctx.recorder
                        .publish(rc, Kind::Warning, "RolloutStalled", "Rollout", &msg)
                        .await;
                    degraded = Some(("RolloutStalled".into(), msg));
                }
            }
        }
    }

    // Status.
    let ready_replicas = data.iter().filter(|p| p.ready).count() as i32;
    let ready_sentinels = sentinels.iter().filter(|s| s.ready).count() as i32;
    let gen = rc.metadata.generation;
    let quorum_ok = configured as i32 >= rc.spec.quorum() && ready_sentinels >= rc.spec.quorum();
    let master_known = !master_ips.is_empty();
    let monitoring: Vec<decide::SentinelReport> = sentinels
        .iter()
        .filter(|s| s.configured && s.ready)
        .map(|s| decide::SentinelReport {
            name: &s.name,
            flags: &s.flags,
            replicas: &s.replicas,
        })
        .collect();
    let blockers = decide::failover_blockers(&monitoring, &in_sync, rc.spec.replicas);
    let can_fail_over = blockers.is_empty();
    if let (true, Some(mst)) = (master_known, &master) {
        // The operator reaches this master; a sentinel that calls it down
        // cannot (a refused login, a cut link): worth a look.
        for (who, flags) in decide::sentinels_seeing_master_down(&monitoring) {
            let note = format!(
                "sentinel {who} reports master {mst} down (flags {flags}) while it serves writes"
            );
            ctx.recorder
                .publish(
                    rc,
                    Kind::Warning,
                    "SentinelSeesMasterDown",
                    "Observe",
                    &note,
                )
                .await;
        }
    }
    let conds = &old.conditions;
    let (areason, amessage) = match &master {
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
    let mut conditions = vec![
        condition(
            conds,
            "Available",
            master_known && quorum_ok && can_fail_over,
            areason,
            &amessage,
            gen,
        ),
        condition(
            conds,
            "MasterKnown",
            master_known,
            if agreed.is_some() {
                "SentinelsAgree"
            } else {
                "NotYetAgreed"
            },
            &master
                .clone()
                .map(|mst| format!("master {mst}"))
                .unwrap_or_else(|| "unknown".into()),
            gen,
        ),
        condition(
            conds,
            "SentinelQuorum",
            quorum_ok,
            if quorum_ok {
                "QuorumReachable"
            } else {
                "QuorumUnreachable"
            },
            &format!(
                "{ready_sentinels} of {} sentinels ready, {configured} monitoring, quorum {}",
                rc.spec.sentinels,
                rc.spec.quorum()
            ),
            gen,
        ),
    ];
    let progressing_now = progressing.is_some() || ready_replicas < rc.spec.replicas;
    conditions.push(condition(
        conds,
        "Progressing",
        progressing_now,
        if progressing_now {
            "Converging"
        } else {
            "Converged"
        },
        &progressing
            .unwrap_or_else(|| format!("{ready_replicas}/{} data pods ready", rc.spec.replicas)),
        gen,
    ));
    let (dreason, dmsg) = degraded.clone().unwrap_or(("AsExpected".into(), "".into()));
    conditions.push(condition(
        conds,
        "Degraded",
        degraded.is_some(),
        &dreason,
        &dmsg,
        gen,
    ));
    let master_obs = master_pod.filter(|p| p.is_master == Some(true));
    let mut status = ReplicatedCacheStatus {
        // A refused change is not observed: it is not applied.
        observed_generation: if refused.is_some() {
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
        password_rotation,
        handover_request: handed_over.or(old.handover_request.clone()),
        conditions,
    };
    if old.master.is_some() && master.is_some() && old.master != master {
        if switched_here && !master_ips.is_empty() {
            m.failovers.fetch_add(1, Ordering::Relaxed);
        }
        status.last_failover_time = Some(now_rfc3339());
    }
    // The offset moves with every write: it alone is no reason to write.
    let mut cmp_old = old.clone();
    let mut cmp_new = status.clone();
    cmp_old.master_repl_offset = None;
    cmp_new.master_repl_offset = None;
    if cmp_old != cmp_new {
        let api: Api<ReplicatedCache> = Api::namespaced(c.clone(), &ns);
        let patch = json!({"apiVersion": "picket.dev/v1alpha1", "kind": "ReplicatedCache", "status": status});
        api.patch_status(
            &rc.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
        m.writes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(cache = %names.cache, "status written: {:?}", diff_fields(&cmp_old, &cmp_new));
    }
    if let Some((reason, msg)) = degraded {
        tracing::warn!(cache = %names.cache, %reason, "{msg}");
    }
    let settled = master_known && quorum_ok && can_fail_over && !progressing_now;
    Ok(Action::requeue(if settled {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(2)
    }))
}

/// The top-level status fields that differ (for the log).
fn diff_fields(a: &ReplicatedCacheStatus, b: &ReplicatedCacheStatus) -> Vec<String> {
    let (a, b) = (json!(a), json!(b));
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

/// Errors requeue with a back-off that grows per cache (1 s doubling to
/// 30 s; a success starts over).
pub fn error_policy(rc: Arc<ReplicatedCache>, err: &Error, ctx: Arc<Ctx>) -> Action {
    ctx.metrics.errors.fetch_add(1, Ordering::Relaxed);
    let n = {
        let mut f = ctx.failures.lock().unwrap();
        let n = f.entry(cache_key(&rc)).or_insert(0);
        *n += 1;
        *n - 1
    };
    let delay = decide::backoff(n);
    tracing::warn!(cache = %rc.name_any(), retry_in = ?delay, "reconcile failed: {err}");
    Action::requeue(delay)
}

/// The master the sentinels agree on restarted before they noticed and
/// waits unassigned (see [`decide::restarted_master`]): ask a sentinel to
/// fail over to a replica that followed it and has data (at most once per
/// failover-timeout), promote it again in a one-pod cache, or wait.
async fn fix_restarted_master(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    names: &Names,
    data: &[DataPod],
    sentinels: &[SentinelView],
    master: &str,
    pw: &str,
) {
    let host = names.data_host(master);
    let note = match decide::restarted_master(data, master, &host, rc.spec.replicas) {
        decide::RestartedMaster::No => return,
        decide::RestartedMaster::Wait(why) => why,
        decide::RestartedMaster::Promote => {
            let Some(ip) = data
                .iter()
                .find(|p| p.name == master)
                .and_then(|p| p.ip.clone())
            else {
                return;
            };
            let addr = format!("{ip}:{DATA_PORT}");
            if let Err(e) = client::command(&addr, Some(pw), &["REPLICAOF", "NO", "ONE"]).await {
                tracing::warn!(pod = %master, "REPLICAOF NO ONE: {e}");
                return;
            }
            format!(
                "master {master} restarted and the cache has no other data pod: made master again"
            )
        }
        decide::RestartedMaster::Failover => {
            // Still waiting unassigned just before asking (else the
            // sentinels already failed over, and a second failover would
            // drop the new master's writes).
            let waiting = match data
                .iter()
                .find(|p| p.name == master)
                .and_then(|p| p.ip.clone())
            {
                Some(ip) => matches!(
                    client::command(&format!("{ip}:{DATA_PORT}"), Some(pw), &["ROLE"]).await,
                    Ok(r) if client::strings(&r).get(1).map(String::as_str) == Some(builder::NO_MASTER)
                ),
                None => false,
            };
            if !waiting {
                return;
            }
            let Some(by) = operations::ask_failover(ctx, rc, names, sentinels, master, pw).await
            else {
                return;
            };
            format!(
                "master {master} restarted before the sentinels noticed and waits without its data; asked sentinel {by} to fail over to the most up-to-date replica"
            )
        }
    };
    ctx.recorder
        .publish(rc, Kind::Warning, "MasterRestarted", "Failover", &note)
        .await;
}

/// Resets one sentinel that remembers removed pods (see
/// [`decide::sentinel_to_reset`]), recording it as an Event.
async fn reset_stale_sentinel(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    names: &Names,
    sentinels: &[SentinelView],
    master: &str,
    present: (usize, usize),
    pw: &str,
) {
    let views: Vec<SentinelCounts> = sentinels
        .iter()
        .filter(|s| s.configured)
        .map(|s| SentinelCounts {
            name: s.name.clone(),
            agrees: s.names_master(master),
            in_failover: s.flags.contains("failover_in_progress"),
            other_sentinels: s.other_sentinels,
            replicas: s.replicas.len() as i64,
        })
        .collect();
    let key = cache_key(rc);
    let since = ctx.resets.lock().unwrap().get(&key).map(|t| t.elapsed());
    // Not before the removed pods are gone: one still terminating may
    // still be in the master's INFO, and a reset sentinel would learn it
    // again.
    let want_s = i64::from(rc.spec.sentinels).max(present.1 as i64);
    let want_r = i64::from(rc.spec.replicas).max(present.0 as i64);
    let Some(name) = decide::sentinel_to_reset(&views, want_s, want_r, since, RESET_GAP) else {
        return;
    };
    let (Some(s), Some(v)) = (
        sentinels.iter().find(|s| s.name == name),
        views.iter().find(|v| v.name == name),
    ) else {
        return;
    };
    let set = names.master_set();
    let addr = format!("{}:{SENTINEL_PORT}", s.ip);
    match client::command(&addr, Some(pw), &["SENTINEL", "RESET", &set]).await {
        Ok(Reply::Int(_)) => {
            ctx.resets.lock().unwrap().insert(key, Instant::now());
            ctx.metrics.sentinel_resets.fetch_add(1, Ordering::Relaxed);
            let note = format!(
                "sentinel {name} knew {} other sentinels and {} replicas where the spec has {} and {}: SENTINEL RESET {set}; it finds the live ones again from the master and the other sentinels' hellos",
                v.other_sentinels,
                v.replicas,
                want_s - 1,
                want_r - 1
            );
            ctx.recorder
                .publish(rc, Kind::Normal, "SentinelReset", "SentinelReset", &note)
                .await;
        }
        other => tracing::warn!(sentinel = %name, "SENTINEL RESET: {other:?}"),
    }
}

/// Labels of a pod's cache, for the pod watch.
pub fn cache_of(labels: &BTreeMap<String, String>) -> Option<String> {
    labels.get(builder::INSTANCE).cloned()
}
