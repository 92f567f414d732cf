//! The ReplicatedCache controller (kube-runtime): one reconcile is a
//! pipeline of four stages, each in its own module:
//!
//! 1. [`observe`](super::observe): the Secret's password and the pods
//!    from the API server; then (after the password rotation's step,
//!    [`rotation`]) what every data pod and sentinel says;
//! 2. [`plan`](super::plan), pure: the objects, the master, whom to
//!    point where, the Services' endpoints, the day-2 step;
//! 3. [`apply`](super::apply): server-side applies, EndpointSlices, pod
//!    and sentinel commands, in a documented order;
//! 4. [`status`](super::status), pure: the status from what was
//!    observed, planned and applied, then written if it changed.
//!
//! Writes: every object carries the hash of what was last applied
//! (`picket.dev/applied`); an object whose hash matches is not written,
//! so a reconcile that finds nothing to change makes no write call
//! (counted in `writes`). Errors name the stage that failed
//! ([`Error::metric_label`]), and each reconcile runs in a span with the
//! cache's namespace and name.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Client, ResourceExt};

use super::builder::Names;
use super::crd::ReplicatedCache;
use super::recorder::{Kind, Recorder};
use super::{apply, decide, observe, operations, plan, rotation, status};

/// What went wrong in a reconcile, by stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the cluster failed (the Secret, the pods, a StatefulSet,
    /// an EndpointSlice).
    #[error("observing {what}: {source}")]
    Observe {
        /// What was being read.
        what: &'static str,
        /// The API server's error.
        source: kube::Error,
    },
    /// The API server refused a write of the plan.
    #[error("applying {what}: {source}")]
    Apply {
        /// The object (kind and name).
        what: String,
        /// The API server's error.
        source: kube::Error,
    },
    /// Writing the status failed.
    #[error("writing the status: {0}")]
    Status(kube::Error),
    /// The API server failed during a day-2 step (the password rotation).
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    /// The spec can't be served (a missing Secret, say).
    #[error("{0}")]
    Spec(String),
}

impl Error {
    /// The `error` label of `picket_operator_reconcile_errors_total`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Observe { .. } => "observe",
            Error::Apply { .. } => "apply",
            Error::Status(_) => "status",
            Error::Kube(_) => "kubernetes",
            Error::Spec(_) => "invalid_spec",
        }
    }

    /// For `map_err`: a failed read of `what`.
    pub fn observe(what: &'static str) -> impl Fn(kube::Error) -> Error {
        move |source| Error::Observe { what, source }
    }

    /// A refused write of `what`.
    pub fn apply(what: String, source: kube::Error) -> Error {
        Error::Apply { what, source }
    }
}

/// Every [`Error::metric_label`], in the order /metrics lists them.
pub const ERROR_LABELS: [&str; 5] = ["observe", "apply", "status", "kubernetes", "invalid_spec"];

/// Counters for /metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Reconciles run.
    pub reconciles: AtomicU64,
    /// Reconciles that failed.
    pub errors: AtomicU64,
    /// Reconciles that failed, by [`ERROR_LABELS`].
    pub errors_by: [AtomicU64; ERROR_LABELS.len()],
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

    /// Counts a failed reconcile by its [`Error::metric_label`].
    pub fn count_error(&self, label: &str) {
        if let Some(i) = ERROR_LABELS.iter().position(|l| *l == label) {
            self.errors_by[i].fetch_add(1, Ordering::Relaxed);
        }
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
        let e = "picket_operator_reconcile_errors_total";
        s.push_str(&format!(
            "# HELP {e} Reconciles that failed, by the stage that failed.\n# TYPE {e} counter\n"
        ));
        for (label, n) in ERROR_LABELS.iter().zip(&self.errors_by) {
            s.push_str(&format!("{e}{{error=\"{label}\"}} {}\n", g(n)));
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
    /// The last `picket.dev/handover` token carried out, per cache: a
    /// reconcile whose read of the cache does not show the status that
    /// recorded it yet does not hand over again.
    pub handovers: std::sync::Mutex<BTreeMap<String, String>>,
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
            handovers: Default::default(),
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

/// The time now, as Kubernetes writes it.
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// `namespace/name`, the key of a cache's entries in [`Ctx`].
pub(super) fn cache_key(rc: &ReplicatedCache) -> String {
    format!("{}/{}", rc.namespace().unwrap_or_default(), rc.name_any())
}

/// One reconcile of `rc`. A spec the operator can't serve (a missing
/// Secret) becomes the `Degraded` condition and a Warning Event; nothing
/// is applied until it is fixed.
#[tracing::instrument(skip_all, fields(namespace = %rc.namespace().unwrap_or_default(), cache = %rc.name_any()))]
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
    apply::write_condition(rc, ctx, "Degraded", true, "InvalidSpec", msg).await;
}

/// The pipeline: observe, (the rotation's step,) observe the servers,
/// plan, apply, status.
async fn reconcile_cache(rc: &ReplicatedCache, ctx: &Ctx) -> Result<Action, Error> {
    // The cache as the API server has it now: the controller's cache of
    // it can lag this operator's own last status write (kube-runtime runs
    // the next reconcile as soon as the last returns), and a status
    // decided from an older one would drop what that write recorded.
    let Some(fresh) = observe::cache(ctx, rc).await? else {
        return Ok(Action::await_change());
    };
    let rc = &fresh;
    if rc.metadata.deletion_timestamp.is_some() {
        // Garbage collection removes what it owns.
        return Ok(Action::await_change());
    }
    if rc.paused() {
        let msg = format!(
            "paused by the annotation {}: the operator changes nothing of this cache (nor moves its Service) until it is removed",
            super::crd::PAUSED
        );
        apply::write_condition(rc, ctx, "Progressing", false, "Paused", &msg).await;
        operations::forget_rollout(ctx, rc);
        return Ok(Action::requeue(Duration::from_secs(30)));
    }
    let names = Names::of(rc);
    let pw = observe::password(rc, &names.namespace, ctx).await?;
    let pods = observe::pods(ctx, &names).await?;
    // A changed password: every pod accepts both, then only the new one
    // (after this, every pod that did it takes `pw`).
    let auth = rotation::state(rc, ctx, &pw).await?;
    let (password_rotation, rotating) =
        rotation::advance(rc, ctx, &pods.data, &pods.sentinels, &auth, &pw).await?;
    // Until every pod has taken the new password, the old one is the one
    // they all take (a pod that could not be given the new one still
    // requires the old; one started since was given the old back).
    let pw = match &password_rotation {
        Some(r) if r.phase == rotation::ACCEPTING_BOTH && r.both_accepted_since.is_none() => {
            auth.required.clone()
        }
        _ => pw,
    };
    let observed = observe::servers(ctx, &names, &pods, pw).await?;
    let inputs = plan::Inputs {
        default_image: ctx.default_image.clone(),
        plain_rollouts: ctx.plain_rollouts,
        since_reset: ctx
            .resets
            .lock()
            .unwrap()
            .get(&cache_key(rc))
            .map(|t| t.elapsed()),
        rotating,
        handed_over: ctx.handovers.lock().unwrap().get(&cache_key(rc)).cloned(),
    };
    let plan = plan::plan(rc, &observed, &inputs);
    // A handover this operator carried out for the annotation's token is
    // recorded in the status even if the write that first said so lost
    // a race.
    let token = rc.annotations().get(super::crd::HANDOVER);
    let applied = status::Applied {
        password_rotation,
        handed_over: inputs.handed_over.clone().filter(|t| Some(t) == token),
        ..Default::default()
    };
    let applied = apply::run(rc, ctx, &observed, &plan, applied).await?;
    if let Some(t) = plan.day2.as_ref().and_then(|d| d.handover.as_ref()) {
        if applied.handed_over.as_ref() == Some(t) {
            ctx.handovers
                .lock()
                .unwrap()
                .insert(cache_key(rc), t.clone());
        }
    }
    let report = status::report(rc, &observed, &plan, &applied, &now_rfc3339());
    if report.failover {
        ctx.metrics.failovers.fetch_add(1, Ordering::Relaxed);
    }
    if !apply::write_status(rc, ctx, &report).await? {
        // The cache changed since it was read (the status written by the
        // +switch-master follower, a new annotation): decide again from
        // what it is now.
        return Ok(Action::requeue(Duration::from_millis(250)));
    }
    if let Some((reason, msg)) = &applied.degraded {
        tracing::warn!(%reason, "{msg}");
    }
    Ok(Action::requeue(report.requeue()))
}

/// Errors requeue with a back-off that grows per cache (1 s doubling to
/// 30 s; a success starts over).
pub fn error_policy(rc: Arc<ReplicatedCache>, err: &Error, ctx: Arc<Ctx>) -> Action {
    ctx.metrics.errors.fetch_add(1, Ordering::Relaxed);
    ctx.metrics.count_error(err.metric_label());
    let n = {
        let mut f = ctx.failures.lock().unwrap();
        let n = f.entry(cache_key(&rc)).or_insert(0);
        *n += 1;
        *n - 1
    };
    let delay = decide::backoff(n);
    tracing::warn!(
        namespace = %rc.namespace().unwrap_or_default(),
        cache = %rc.name_any(),
        error = err.metric_label(),
        retry_in = ?delay,
        "reconcile failed: {err}"
    );
    Action::requeue(delay)
}

/// Labels of a pod's cache, for the pod watch.
pub fn cache_of(labels: &BTreeMap<String, String>) -> Option<String> {
    labels.get(super::builder::INSTANCE).cloned()
}
