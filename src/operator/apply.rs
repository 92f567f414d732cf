//! The reconcile's third stage: carries out a [`Plan`], in this order,
//! each step after the one it depends on:
//!
//! 1. The Warning Event of a refused change (nothing else of the change
//!    is written).
//! 2. The objects, by server-side apply: the ConfigMap (the pods read it
//!    at start), the Services, the data StatefulSet, the sentinel
//!    StatefulSet, the PodDisruptionBudgets. An object whose applied
//!    hash matches is not written.
//! 3. The topology: configure sentinels, `REPLICAOF` to data pods, a
//!    restarted master, a stale sentinel's `SENTINEL RESET`.
//! 4. The master and replicas EndpointSlices. The master's is written
//!    only if the planned master still says master and no pod the
//!    Service lists does (the +switch-master fast path may have moved it
//!    since the observation; the reconcile never takes the Service from
//!    a pod that still says master).
//! 5. The day-2 step: live settings, a requested handover, the
//!    scale-down's handover or the rollout (their own modules).
//! 6. Warnings about sentinels calling the serving master down.
//!
//! Then [`write_status`], once the status is made from what was applied.

use std::sync::atomic::Ordering;
use std::time::Instant;

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde_json::json;

use super::builder::{self, Names, DATA_PORT, MANAGER, SENTINEL_PORT};
use super::client::{self, Reply};
use super::controller::{cache_key, Ctx, Error, Metrics};
use super::crd::ReplicatedCache;
use super::decide::{DataPod, RestartedMaster};
use super::observe::{says_master, Observed, SentinelView};
use super::operations::{self, RollInput, Rolled};
use super::plan::{Day2, Day2Mode, Plan, Reset, Stray, Topology};
use super::recorder::Kind;
use super::status::{self, Applied, Report};

/// The annotation holding the hash of what was applied.
pub const APPLIED: &str = "picket.dev/applied";

fn hash_of<T: Serialize>(obj: &T) -> String {
    builder::fnv1a(&serde_json::to_string(obj).unwrap_or_default())
}

/// Server-side applies `obj` unless the live object carries the same
/// applied hash. Returns whether it wrote.
pub async fn apply<K>(api: &Api<K>, mut obj: K, metrics: &Metrics) -> Result<bool, Error>
where
    K: Resource + Clone + Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let name = obj.name_any();
    let what = || format!("{} {name}", K::kind(&Default::default()));
    let hash = hash_of(&obj);
    if let Some(live) = api
        .get_opt(&name)
        .await
        .map_err(|e| Error::apply(what(), e))?
    {
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
    .await
    .map_err(|e| Error::apply(what(), e))?;
    metrics.writes.fetch_add(1, Ordering::Relaxed);
    Ok(true)
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

/// Carries out `plan` (see the module's header for the order).
pub async fn run(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    obs: &Observed,
    plan: &Plan,
    applied: Applied,
) -> Result<Applied, Error> {
    let mut applied = Applied {
        progressing: plan.progressing.clone(),
        degraded: plan.degraded.clone(),
        ..applied
    };
    let names = Names::of(rc);
    if let Some(why) = &plan.refused {
        ctx.recorder
            .publish(rc, Kind::Warning, "UnsafeQuorum", "Refuse", why)
            .await;
    }
    if let Some(d) = &plan.objects {
        let (c, ns, m) = (&ctx.client, &names.namespace, &ctx.metrics);
        apply(&Api::namespaced(c.clone(), ns), d.config.clone(), m).await?;
        for s in d.services.clone() {
            apply(&Api::namespaced(c.clone(), ns), s, m).await?;
        }
        apply(&Api::namespaced(c.clone(), ns), d.data.clone(), m).await?;
        apply(&Api::namespaced(c.clone(), ns), d.sentinels.clone(), m).await?;
        for p in d.pdbs.clone() {
            apply(&Api::namespaced(c.clone(), ns), p, m).await?;
        }
    }
    topology(rc, ctx, &names, obs, plan).await;
    let (switched_here, service_ok) = endpoints(rc, ctx, &names, obs, plan).await?;
    applied.switched_here = switched_here;
    if let Some(day2) = &plan.day2 {
        day_two(rc, ctx, &names, obs, day2, service_ok, &mut applied).await;
    }
    if let Some(mst) = &plan.master {
        for (who, flags) in &plan.master_down {
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
    Ok(applied)
}

/// Step 3: the topology.
async fn topology(rc: &ReplicatedCache, ctx: &Ctx, names: &Names, obs: &Observed, plan: &Plan) {
    let pw = &obs.pw;
    let sentinel = |name: &String| obs.sentinels.iter().find(|s| &s.name == name);
    match (&plan.topology, &plan.master) {
        (
            Topology::Agreed {
                configure,
                strays,
                restarted,
                reset,
            },
            Some(mst),
        ) => {
            // Fresh sentinels (a recreated pod) are told.
            for s in configure.iter().filter_map(sentinel) {
                match configure_sentinel(rc, names, s, mst, pw).await {
                    Ok(()) => {
                        let note = format!(
                            "sentinel {} started with no state; it now monitors master {mst}",
                            s.name
                        );
                        ctx.recorder
                            .publish(rc, Kind::Normal, "SentinelConfigured", "Configure", &note)
                            .await
                    }
                    Err(e) => tracing::warn!(sentinel = %s.name, error = %e, "configuring"),
                }
            }
            repoint_strays(rc, ctx, names, obs, strays, mst).await;
            fix_restarted_master(rc, ctx, names, obs, restarted, mst).await;
            if let Some(reset) = reset {
                reset_stale_sentinel(rc, ctx, names, obs, reset).await;
            }
        }
        (Topology::Bootstrap { master, configure }, _) => {
            point_data_pods(names, &obs.data, master, pw).await;
            let mut told = 0;
            for s in configure.iter().filter_map(sentinel) {
                match configure_sentinel(rc, names, s, master, pw).await {
                    Ok(()) => told += 1,
                    Err(e) => tracing::warn!(sentinel = %s.name, error = %e, "configuring"),
                }
            }
            let note = format!(
                "master {master}; the other data pods pointed at it; {told} sentinels monitor it"
            );
            ctx.recorder
                .publish(rc, Kind::Normal, "Bootstrapped", "Bootstrap", &note)
                .await;
        }
        (Topology::Refuse(why), _) => {
            ctx.recorder
                .publish(rc, Kind::Warning, "RefusingOlderData", "Bootstrap", why)
                .await;
        }
        _ => {}
    }
}

/// Points the planned strays at the master, an Event each.
async fn repoint_strays(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    names: &Names,
    obs: &Observed,
    strays: &[Stray],
    master: &str,
) {
    if strays.is_empty() {
        return;
    }
    let pods: Vec<DataPod> = obs
        .data
        .iter()
        .filter(|p| strays.iter().any(|s| s.pod == p.name))
        .cloned()
        .collect();
    point_data_pods(names, &pods, master, &obs.pw).await;
    for s in strays {
        let note = format!("{} {}; pointed at master {master}", s.pod, s.was);
        ctx.recorder
            .publish(rc, Kind::Normal, "ReplicaRepointed", "Replicaof", &note)
            .await;
    }
}

/// Step 4: the EndpointSlices. Returns (the master's was written here,
/// the master Service points at the master).
async fn endpoints(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    names: &Names,
    obs: &Observed,
    plan: &Plan,
) -> Result<(bool, bool), Error> {
    let pw = &obs.pw;
    let master_ips = &plan.endpoints.master_ips;
    let slices: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &names.namespace);
    // What was observed at the start may be stale by now (the event path
    // may have switched the Service meanwhile): the master is asked again,
    // and a pod that no longer says master is not written back.
    let still_master = match master_ips.first() {
        Some(ip) => says_master(ip, pw).await,
        None => false,
    };
    // The reconcile never moves the Service away from a pod that still
    // says master: during a switch both may, and the move belongs to the
    // +switch-master event (switch.rs); the reconcile catches up once the
    // old one has stepped down (or is gone).
    let live: Vec<String> = slices
        .get_opt(&names.cache)
        .await
        .map_err(Error::observe("the master EndpointSlice"))?
        .map(|sl| {
            sl.endpoints
                .iter()
                .flat_map(|e| e.addresses.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut live_is_master = false;
    for ip in live.iter().filter(|ip| !master_ips.contains(ip)) {
        live_is_master |= says_master(ip, pw).await;
    }
    let m = &ctx.metrics;
    // Written here only when the event path did not do it.
    let switched_here = still_master
        && !live_is_master
        && apply(
            &slices,
            endpoint_slice(rc, names, &names.cache, master_ips),
            m,
        )
        .await?;
    apply(
        &slices,
        endpoint_slice(rc, names, &names.replicas(), &plan.endpoints.replica_ips),
        m,
    )
    .await?;
    let service_ok = (live.len() == 1 && live == *master_ips) || switched_here;
    Ok((switched_here, service_ok))
}

/// Step 5: live settings, a requested handover, then what moves the pods.
async fn day_two(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    names: &Names,
    obs: &Observed,
    day2: &Day2,
    service_ok: bool,
    applied: &mut Applied,
) {
    let (data, sentinels, pw, mst) = (&obs.data, &obs.sentinels, &obs.pw, &day2.master);
    operations::apply_live_settings(rc, ctx, data, sentinels, mst, pw).await;
    operations::apply_sentinel_settings(rc, ctx, names, sentinels, pw).await;
    if let Some(token) = &day2.handover {
        match operations::requested_handover(rc, ctx, names, data, sentinels, mst, pw).await {
            Ok(()) => applied.handed_over = Some(token.clone()),
            Err(why) => applied.progressing = Some(why.to_string()),
        }
    }
    match day2.mode {
        // Kubernetes rolls the pods.
        Day2Mode::Plain => {}
        Day2Mode::ScaleDown => {
            operations::forget_rollout(ctx, rc);
            applied.progressing = Some(
                operations::hand_over_before_scale_down(rc, ctx, names, data, sentinels, mst, pw)
                    .await,
            );
        }
        Day2Mode::Rollout => {
            let input = RollInput {
                rc,
                names,
                data,
                sentinels,
                master: mst,
                data_revision: obs.data_revision.clone(),
                sentinel_revision: obs.sentinel_revision.clone(),
                service_ok,
                pw,
            };
            match operations::roll(ctx, input).await {
                Rolled::Done => {}
                Rolled::Progressing(msg) => applied.progressing = Some(msg),
                Rolled::Stalled(msg) => {
                    ctx.recorder
                        .publish(rc, Kind::Warning, "RolloutStalled", "Rollout", &msg)
                        .await;
                    applied.degraded = Some(("RolloutStalled".into(), msg));
                }
            }
        }
    }
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

/// A sentinel refused a configuration step.
#[derive(Debug, thiserror::Error)]
enum ConfigureError {
    /// It could not be reached or logged in to.
    #[error("{0}")]
    Connect(#[from] client::ClientError),
    /// It answered one of the steps with an error.
    #[error("{step}: {reply}")]
    Refused { step: String, reply: String },
}

/// Configures one sentinel to monitor the cache's master by name.
async fn configure_sentinel(
    rc: &ReplicatedCache,
    names: &Names,
    s: &SentinelView,
    master: &str,
    pw: &str,
) -> Result<(), ConfigureError> {
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
            return Err(ConfigureError::Refused {
                step: format!("{} {}", step[0], step[1]),
                reply: e,
            });
        }
    }
    tracing::info!(sentinel = %s.name, master = %master, "sentinel configured");
    Ok(())
}

/// The master the sentinels agree on restarted before they noticed and
/// waits unassigned (see [`restarted_master`](super::decide::restarted_master)): ask a sentinel to
/// fail over to a replica that followed it and has data (at most once per
/// failover-timeout), promote it again in a one-pod cache, or wait.
async fn fix_restarted_master(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    names: &Names,
    obs: &Observed,
    restarted: &RestartedMaster,
    master: &str,
) {
    let pw = &obs.pw;
    let ip = obs
        .data
        .iter()
        .find(|p| p.name == master)
        .and_then(|p| p.ip.clone());
    let note = match restarted {
        RestartedMaster::No => return,
        RestartedMaster::Wait(why) => why.clone(),
        RestartedMaster::Promote => {
            let Some(ip) = ip else { return };
            let addr = format!("{ip}:{DATA_PORT}");
            if let Err(e) = client::command(&addr, Some(pw), &["REPLICAOF", "NO", "ONE"]).await {
                tracing::warn!(pod = %master, error = %e, "REPLICAOF NO ONE");
                return;
            }
            format!(
                "master {master} restarted and the cache has no other data pod: made master again"
            )
        }
        RestartedMaster::Failover => {
            // Still waiting unassigned just before asking (else the
            // sentinels already failed over, and a second failover would
            // drop the new master's writes).
            let waiting = match ip {
                Some(ip) => matches!(
                    client::command(&format!("{ip}:{DATA_PORT}"), Some(pw), &["ROLE"]).await,
                    Ok(r) if client::strings(&r).get(1).map(String::as_str) == Some(builder::NO_MASTER)
                ),
                None => false,
            };
            if !waiting {
                return;
            }
            let Some(by) =
                operations::ask_failover(ctx, rc, names, &obs.sentinels, master, pw).await
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

/// Resets the planned sentinel that remembers removed pods, recording it
/// as an Event.
async fn reset_stale_sentinel(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    names: &Names,
    obs: &Observed,
    reset: &Reset,
) {
    let Some(s) = obs.sentinels.iter().find(|s| s.name == reset.sentinel) else {
        return;
    };
    let set = names.master_set();
    let addr = format!("{}:{SENTINEL_PORT}", s.ip);
    match client::command(&addr, Some(&obs.pw), &["SENTINEL", "RESET", &set]).await {
        Ok(Reply::Int(_)) => {
            ctx.resets
                .lock()
                .unwrap()
                .insert(cache_key(rc), Instant::now());
            ctx.metrics.sentinel_resets.fetch_add(1, Ordering::Relaxed);
            ctx.recorder
                .publish(
                    rc,
                    Kind::Normal,
                    "SentinelReset",
                    "SentinelReset",
                    &reset.note,
                )
                .await;
        }
        other => tracing::warn!(sentinel = %s.name, reply = ?other, "SENTINEL RESET"),
    }
}

/// Writes `report`'s status unless only the offset moved. `false` when
/// the cache changed since `rc` was read (nothing written).
pub async fn write_status(rc: &ReplicatedCache, ctx: &Ctx, report: &Report) -> Result<bool, Error> {
    let old = rc.status.clone().unwrap_or_default();
    let changed = status::changed_fields(&old, &report.status);
    if changed.is_empty() {
        return Ok(true);
    }
    let api: Api<ReplicatedCache> =
        Api::namespaced(ctx.client.clone(), &rc.namespace().unwrap_or_default());
    // The resourceVersion read is a precondition: the status replaces
    // what this operator wrote before as a whole (server-side apply drops
    // the fields it leaves out), so it must be decided from the latest.
    let patch = json!({
        "apiVersion": "picket.dev/v1alpha1",
        "kind": "ReplicatedCache",
        "metadata": {"resourceVersion": rc.resource_version()},
        "status": report.status,
    });
    match api
        .patch_status(
            &rc.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {
            tracing::debug!(
                ?changed,
                "status not written: the cache changed since it was read"
            );
            return Ok(false);
        }
        Err(e) => return Err(Error::Status(e)),
    }
    ctx.metrics.writes.fetch_add(1, Ordering::Relaxed);
    tracing::info!(?changed, "status written");
    Ok(true)
}

/// Writes one condition (a merge patch of the conditions), unless it is
/// already so. A failure is logged: the condition is a report, not a
/// step of the reconcile.
pub async fn write_condition(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    type_: &str,
    ok: bool,
    reason: &str,
    msg: &str,
) {
    let Some(conditions) = status::with_condition(
        rc,
        type_,
        ok,
        reason,
        msg,
        &super::controller::now_rfc3339(),
    ) else {
        return;
    };
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
        Err(e) => tracing::warn!(condition = type_, error = %e, "writing a condition"),
    }
}
