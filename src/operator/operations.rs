//! Day-2 operations on a running cache, called by the reconcile once the
//! sentinels agree on the master: live settings (CONFIG SET, SENTINEL
//! SET), the controlled rollout of changed pods ([`super::rollout`]), and
//! handovers (`SENTINEL FAILOVER`) before a master is restarted or
//! scaled away.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};

use super::builder::{self, Names, DATA_PORT, SENTINEL_PORT};
use super::client::{self, ClientError, Reply};
use super::controller::Ctx;
use super::crd::ReplicatedCache;
use super::decide::{self, DataPod};
use super::observe::SentinelView;
use super::recorder::Kind;
use super::rollout::{self, Member, Step};

/// A replica this many bytes behind its master is not caught up.
pub const MAX_LAG: i64 = 1 << 20;

/// `min-replicas-to-write` on a master being handed over: it refuses
/// writes (`-NOREPLICAS`) from just before `SENTINEL FAILOVER` until its
/// clients are moved, so no write is acknowledged by a replica that the
/// failover then re-points (which would drop it).
pub(crate) const FENCE: &str = "1000000";

/// Whether a handover was asked for this cache within `times` its
/// failover-timeout (within one, its master may be fenced; a new one is
/// asked only after three, so a handover that keeps failing fences the
/// master a third of the time at most).
fn handover_within(ctx: &Ctx, rc: &ReplicatedCache, times: u32) -> bool {
    let gap = Duration::from_millis(rc.spec.sentinel_timings().failover_timeout as u64) * times;
    ctx.failovers_asked
        .lock()
        .unwrap()
        .get(&super::controller::cache_key(rc))
        .is_some_and(|t| t.elapsed() < gap)
}

/// Sets the [`builder::live_settings`] that differ on every answering
/// data pod, except the fence of a pod that says master while a handover
/// or failover is on or after it was demoted (a fence outlives a failed
/// handover by about the failover-timeout); one Event lists what changed.
pub async fn apply_live_settings(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    data: &[DataPod],
    sentinels: &[SentinelView],
    master: &str,
    pw: &str,
) {
    let want = builder::live_settings(&rc.spec);
    let failing_over = sentinels
        .iter()
        .any(|s| s.flags.contains("failover_in_progress"));
    let handing_over = handover_within(ctx, rc, 1) || failing_over;
    let mut changed = Vec::new();
    for p in data {
        let Some(ip) = &p.ip else { continue };
        let Ok(mut c) = client::Conn::open(&format!("{ip}:{DATA_PORT}"), Some(pw)).await else {
            continue;
        };
        for (k, v) in &want {
            // A fence stays while a handover may be on, and on a pod that
            // says master but is no longer the master (being demoted).
            let demoted = p.is_master == Some(true) && p.name != master;
            if *k == "min-replicas-to-write"
                && (demoted || handing_over && p.is_master == Some(true))
            {
                continue;
            }
            let now = c.call(&["CONFIG", "GET", k]).await;
            let now = now.map(|r| client::strings(&r).get(1).cloned());
            if matches!(&now, Ok(Some(cur)) if cur != v) {
                match c.call(&["CONFIG", "SET", k, v]).await {
                    Ok(Reply::Status(_)) => changed.push(format!("{k} {v} on {}", p.name)),
                    other => tracing::warn!(pod = %p.name, "CONFIG SET {k} {v}: {other:?}"),
                }
            }
        }
    }
    if !changed.is_empty() {
        let note = format!("set live, no restart: {}", changed.join(", "));
        ctx.recorder
            .publish(rc, Kind::Normal, "SettingsApplied", "ConfigSet", &note)
            .await;
    }
}

/// Sets the [`builder::sentinel_settings`] that differ on every
/// configured sentinel.
pub async fn apply_sentinel_settings(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    names: &Names,
    sentinels: &[SentinelView],
    pw: &str,
) {
    let want = builder::sentinel_settings(&rc.spec);
    let set = names.master_set();
    let mut changed = Vec::new();
    for s in sentinels.iter().filter(|s| s.configured) {
        let differ: Vec<&(&str, String)> = want
            .iter()
            .filter(|(k, v)| s.settings.get(*k).is_some_and(|cur| cur != v))
            .collect();
        if differ.is_empty() {
            continue;
        }
        let mut cmd = vec!["SENTINEL", "SET", set.as_str()];
        for (k, v) in &differ {
            cmd.push(k);
            cmd.push(v);
        }
        match client::command(&format!("{}:{SENTINEL_PORT}", s.ip), Some(pw), &cmd).await {
            Ok(Reply::Status(_)) => {
                let what: Vec<String> = differ.iter().map(|(k, v)| format!("{k} {v}")).collect();
                changed.push(format!("{} on {}", what.join(" "), s.name));
            }
            other => tracing::warn!(sentinel = %s.name, "SENTINEL SET: {other:?}"),
        }
    }
    if !changed.is_empty() {
        let note = format!("set live, no restart: {}", changed.join(", "));
        ctx.recorder
            .publish(
                rc,
                Kind::Normal,
                "SentinelSettingsApplied",
                "SentinelSet",
                &note,
            )
            .await;
    }
}

/// Why a data pod is not healthy for a rollout step, if it is not: the
/// master says master; a replica is ready, follows the master with its
/// link up and is at most [`MAX_LAG`] behind.
pub fn data_health(p: &DataPod, master: &DataPod, master_host: &str) -> Option<String> {
    if !p.ready {
        return Some("not ready".into());
    }
    let role = p.is_master?;
    if p.name == master.name {
        return (!role).then(|| "does not say master".into());
    }
    if role {
        return Some("says master".into());
    }
    if p.master_host.as_deref() != Some(master_host) {
        return Some("does not follow the master yet".into());
    }
    if !p.link_up {
        return Some("its link to the master is down (syncing)".into());
    }
    let lag = master.offset.unwrap_or(0) - p.offset.unwrap_or(0);
    (lag > MAX_LAG).then(|| format!("{lag} bytes behind the master"))
}

/// Why a sentinel is not healthy for a rollout step, if it is not: ready,
/// monitoring the cache, naming `master`, knowing every other sentinel of
/// `want` and (with replicas) at least one replica.
pub fn sentinel_health(
    s: &SentinelView,
    master: &str,
    want: i32,
    with_replicas: bool,
) -> Option<String> {
    if !s.ready {
        Some("not ready".into())
    } else if !s.configured {
        Some("does not monitor the cache yet".into())
    } else if !s.names_master(master) {
        Some(format!("does not name {master} as master"))
    } else if s.other_sentinels != i64::from(want - 1) {
        Some(format!(
            "knows {} other sentinels, not {}",
            s.other_sentinels,
            want - 1
        ))
    } else if with_replicas && s.replicas.is_empty() {
        Some("knows no replica yet".into())
    } else {
        None
    }
}

/// What the rollout did this reconcile, for the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rolled {
    /// Nothing to roll.
    Done,
    /// In progress (the Progressing message).
    Progressing(String),
    /// A step overran its deadline: stopped, waiting (the Degraded
    /// reason's message).
    Stalled(String),
}

/// Everything [`roll`] looks at.
pub struct RollInput<'a> {
    /// The cache.
    pub rc: &'a ReplicatedCache,
    /// Its names.
    pub names: &'a Names,
    /// The data pods.
    pub data: &'a [DataPod],
    /// The sentinels.
    pub sentinels: &'a [SentinelView],
    /// The master the sentinels agree on.
    pub master: &'a str,
    /// The data StatefulSet's update revision.
    pub data_revision: Option<String>,
    /// The sentinel StatefulSet's update revision.
    pub sentinel_revision: Option<String>,
    /// The master Service points at the master.
    pub service_ok: bool,
    /// The password.
    pub pw: &'a str,
}

/// The rollout's next step (pure): sentinels first, then replicas, then
/// the master by a handover.
pub fn rollout_step(i: &RollInput<'_>) -> Step {
    let want_data = i.rc.spec.replicas;
    let with_replicas = want_data > 1;
    let sentinel_members: Vec<Member> = i
        .sentinels
        .iter()
        .map(|s| Member {
            name: s.name.clone(),
            ordinal: super::observe::ordinal(&s.name),
            current: i.sentinel_revision.is_none() || s.revision == i.sentinel_revision,
            unhealthy: sentinel_health(s, i.master, i.rc.spec.sentinels, with_replicas),
            down: !s.ready,
        })
        .collect();
    let step = rollout::sentinel_step(&sentinel_members, i.rc.spec.sentinels as usize);
    if step != Step::Done {
        return step;
    }
    let Some(master) = i.data.iter().find(|p| p.name == i.master) else {
        return Step::Wait(format!("master {} not observed", i.master));
    };
    let host = i.names.data_host(i.master);
    let data_members: Vec<Member> = i
        .data
        .iter()
        .map(|p| Member {
            name: p.name.clone(),
            ordinal: p.ordinal,
            current: i.data_revision.is_none() || p.revision == i.data_revision,
            unhealthy: data_health(p, master, &host),
            down: !p.ready,
        })
        .collect();
    if rollout::outdated(&data_members) == 0 {
        return Step::Done;
    }
    if let Some(why) =
        rollout::first_unhealthy(&sentinel_members, i.rc.spec.sentinels as usize, "sentinels")
    {
        return Step::Wait(why);
    }
    if !i.service_ok {
        return Step::Wait(format!(
            "the master Service does not point at {} yet",
            i.master
        ));
    }
    // A handover needs an up-to-date replica in sync that every sentinel
    // knows.
    let fresh: Vec<String> = i
        .data
        .iter()
        .zip(&data_members)
        .filter(|(_, m)| m.current && m.unhealthy.is_none() && m.name != i.master)
        .map(|(p, _)| p.name.clone())
        .collect();
    let known: Vec<&[String]> = i.sentinels.iter().map(|s| s.replicas.as_slice()).collect();
    let ready = decide::failover_ready(&known, &fresh, want_data) && !fresh.is_empty();
    rollout::data_step(&data_members, want_data as usize, i.master, ready)
}

/// One step of the rollout ([`rollout_step`]), carried out. A step that
/// waits longer than the spec's `rolloutStepTimeoutSeconds` after the
/// last action is reported Stalled (no further pod is touched until what
/// it waits for happens).
pub async fn roll(ctx: &Ctx, i: RollInput<'_>) -> Rolled {
    let key = super::controller::cache_key(i.rc);
    let step = rollout_step(&i);
    let mut steps = ctx.rollouts.lock().unwrap().get(&key).cloned();
    let rolled = match step {
        Step::Done => {
            ctx.rollouts.lock().unwrap().remove(&key);
            return Rolled::Done;
        }
        Step::Wait(why) => {
            if let Some(stalled) = overdue(i.rc, &steps, &why) {
                return stalled;
            }
            Rolled::Progressing(format!("rolling out: waiting, {why}"))
        }
        Step::Restart { pod, why } => {
            let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &i.names.namespace);
            match pods.delete(&pod, &DeleteParams::default()).await {
                Ok(_) => {
                    ctx.metrics
                        .writes
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    ctx.recorder
                        .publish(i.rc, Kind::Normal, "RollingRestart", "Restart", &why)
                        .await;
                    steps = Some((format!("restarting {pod}"), Instant::now()));
                    Rolled::Progressing(format!("rolling out: restarting {pod}"))
                }
                Err(e) => {
                    let why = format!("deleting {pod} failed: {e}");
                    if let Some(stalled) = overdue(i.rc, &steps, &why) {
                        return stalled;
                    }
                    Rolled::Progressing(format!("rolling out: {why}"))
                }
            }
        }
        Step::Handover { from } => {
            let m = i.data.iter().find(|p| p.name == from).expect("the master");
            match hand_over(ctx, i.rc, i.names, i.sentinels, m, i.pw).await {
                Some(by) => {
                    let note = format!(
                        "master {from} runs an old revision and every replica is up to date and in sync: asked sentinel {by} to hand over before restarting it"
                    );
                    ctx.recorder
                        .publish(i.rc, Kind::Normal, "Handover", "Failover", &note)
                        .await;
                    steps = Some((format!("the handover from {from}"), Instant::now()));
                    Rolled::Progressing(format!("rolling out: handing over from master {from}"))
                }
                None => {
                    let why = format!("the handover from master {from} has not happened");
                    if let Some(stalled) = overdue(i.rc, &steps, &why) {
                        return stalled;
                    }
                    Rolled::Progressing(format!("rolling out: waiting, {why}"))
                }
            }
        }
    };
    if let Some(s) = steps {
        ctx.rollouts.lock().unwrap().insert(key, s);
    } else {
        // The first wait of a rollout starts its clock.
        ctx.rollouts
            .lock()
            .unwrap()
            .insert(key, ("the rollout began".into(), Instant::now()));
    }
    rolled
}

/// Stalled, when the rollout's last action (`steps`) is older than the
/// spec's `rolloutStepTimeoutSeconds` and it still waits (`why`). The
/// rollout goes on by itself if what it waits for happens later.
fn overdue(rc: &ReplicatedCache, steps: &Option<(String, Instant)>, why: &str) -> Option<Rolled> {
    let (last, at) = steps.as_ref()?;
    stalled(rc, last, at.elapsed(), why)
}

/// Stalled, when the rollout's last action (`last`, `elapsed` ago) is
/// older than the spec's `rolloutStepTimeoutSeconds` (pure).
pub fn stalled(rc: &ReplicatedCache, last: &str, elapsed: Duration, why: &str) -> Option<Rolled> {
    let limit = Duration::from_secs(rc.spec.rollout_step_timeout_seconds.max(1) as u64);
    (elapsed > limit).then(|| {
        Rolled::Stalled(format!(
            "rollout stopped: {why}, more than {} s after {last} (rolloutStepTimeoutSeconds)",
            limit.as_secs()
        ))
    })
}

/// Forgets a cache's rollout clock (paused, or busy with a scale-down):
/// a later rollout starts its own.
pub fn forget_rollout(ctx: &Ctx, rc: &ReplicatedCache) {
    ctx.rollouts
        .lock()
        .unwrap()
        .remove(&super::controller::cache_key(rc));
}

/// Sets `min-replicas-to-write` on the server at `addr`: [`FENCE`], or
/// back to a setting.
pub async fn set_fence(addr: &str, pw: Option<&str>, value: &str) -> Result<Reply, ClientError> {
    client::command(addr, pw, &["CONFIG", "SET", "min-replicas-to-write", value]).await
}

/// Why a requested handover (`kubectl picket failover`) did not happen on
/// this pass: it is tried again at the next reconcile, and the text is
/// the Progressing message.
#[derive(Debug, thiserror::Error)]
pub enum HandoverPending {
    /// The master's pod was not among those observed.
    #[error("handover requested: master {0} not observed")]
    MasterNotObserved(String),
    /// No replica is in sync and known to the sentinels yet.
    #[error(
        "handover requested: waiting for a replica in sync with master {0} that the sentinels know"
    )]
    NoTarget(String),
    /// The master could not be fenced with its replicas caught up, or a
    /// failover is under way.
    #[error("handover requested: master {0} could not hand over yet (a replica behind, or a failover under way)")]
    NotYet(String),
}

/// A planned handover from a live `master`: it is fenced (refuses
/// writes), every replica must report its offset (2.5 s at most, see
/// [`all_replicas_caught_up`]), and a sentinel is asked to fail over;
/// without that, the fence is lifted at once.
pub async fn hand_over(
    ctx: &Ctx,
    rc: &ReplicatedCache,
    names: &Names,
    sentinels: &[SentinelView],
    master: &DataPod,
    pw: &str,
) -> Option<String> {
    if handover_within(ctx, rc, 3) {
        return None;
    }
    let addr = format!("{}:{DATA_PORT}", master.ip.as_deref()?);
    let unfenced = rc.spec.min_replicas_to_write.to_string();
    if !matches!(
        set_fence(&addr, Some(pw), FENCE).await,
        Ok(Reply::Status(_))
    ) {
        return None;
    }
    // Every replica reports the master's offset, else no handover: the
    // one promoted must have every write a replica acknowledged.
    if !all_replicas_caught_up(&addr, pw).await {
        let _ = set_fence(&addr, Some(pw), &unfenced).await;
        return None;
    }
    let by = ask_failover(ctx, rc, names, sentinels, &master.name, pw).await;
    if by.is_none() {
        let _ = set_fence(&addr, Some(pw), &unfenced).await;
    }
    by
}

/// Whether every replica of the (fenced) master at `addr` reports its
/// offset within 2.5 s (replicas acknowledge every second; `WAIT` would
/// not do: it waits for the asking client's own last write).
pub async fn all_replicas_caught_up(addr: &str, pw: &str) -> bool {
    let pw = (!pw.is_empty()).then_some(pw);
    let Ok(mut c) = client::Conn::open(addr, pw).await else {
        return false;
    };
    let deadline = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < deadline {
        let Ok(Reply::Bulk(Some(b))) = c.call(&["INFO", "replication"]).await else {
            return false;
        };
        let info = String::from_utf8_lossy(&b);
        let n = client::info_field(&info, "connected_slaves").unwrap_or_default();
        if n.is_empty() || n == "0" {
            return false;
        }
        if replicas_caught_up(&info) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Whether every replica in a master's `INFO replication` has its
/// offset.
pub fn replicas_caught_up(info: &str) -> bool {
    let Some(offset) = client::info_field(info, "master_repl_offset") else {
        return false;
    };
    info.lines()
        .filter(|l| l.starts_with("slave") && l.contains("offset="))
        .all(|l| {
            l.split(',')
                .find_map(|kv| kv.strip_prefix("offset="))
                .is_some_and(|o| o == offset)
        })
}

/// Asks one sentinel that still names `master` for `SENTINEL FAILOVER`,
/// at most once per failover-timeout per cache; the sentinel that
/// accepted, if one did.
pub async fn ask_failover(
    ctx: &Ctx,
    rc: &ReplicatedCache,
    names: &Names,
    sentinels: &[SentinelView],
    master: &str,
    pw: &str,
) -> Option<String> {
    let key = super::controller::cache_key(rc);
    if handover_within(ctx, rc, 1) {
        return None;
    }
    let set = names.master_set();
    let host = names.data_host(master);
    for s in sentinels.iter().filter(|s| s.names_master(master)) {
        // What was observed may be stale: just before asking, this
        // sentinel still names the master (else it already failed over).
        let addr = format!("{}:{SENTINEL_PORT}", s.ip);
        let Ok(mut c) = client::Conn::open(&addr, Some(pw)).await else {
            continue;
        };
        let named = c.call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &set]).await;
        if named
            .ok()
            .and_then(|r| client::strings(&r).first().cloned())
            != Some(host.clone())
        {
            return None;
        }
        match c.call(&["SENTINEL", "FAILOVER", &set]).await {
            Ok(Reply::Status(_)) => {
                ctx.failovers_asked
                    .lock()
                    .unwrap()
                    .insert(key, Instant::now());
                return Some(s.name.clone());
            }
            other => tracing::info!(sentinel = %s.name, "SENTINEL FAILOVER: {other:?}"),
        }
    }
    None
}

/// Whether a handover from master `m` has somewhere to go: a replica
/// among the `eligible` ones, in sync with it, that every sentinel knows.
fn target_ready(
    data: &[DataPod],
    m: &DataPod,
    host: &str,
    sentinels: &[SentinelView],
    eligible: impl Fn(&DataPod) -> bool,
) -> bool {
    let in_sync: Vec<String> = data
        .iter()
        .filter(|p| eligible(p) && p.name != m.name && data_health(p, m, host).is_none())
        .map(|p| p.name.clone())
        .collect();
    let known: Vec<&[String]> = sentinels.iter().map(|s| s.replicas.as_slice()).collect();
    !in_sync.is_empty() && decide::failover_ready(&known, &in_sync, 2)
}

/// A manual handover asked with the `picket.dev/handover` annotation
/// (`kubectl picket failover`): the same confirmed, fenced handover as a
/// rollout's, to a replica in sync that every sentinel knows. `Ok` once a
/// sentinel accepted it (an Event says which); else why not yet (retried
/// at the next reconcile).
pub async fn requested_handover(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    names: &Names,
    data: &[DataPod],
    sentinels: &[SentinelView],
    master: &str,
    pw: &str,
) -> Result<(), HandoverPending> {
    let host = names.data_host(master);
    let Some(m) = data.iter().find(|p| p.name == master) else {
        return Err(HandoverPending::MasterNotObserved(master.to_string()));
    };
    if !target_ready(data, m, &host, sentinels, |_| true) {
        return Err(HandoverPending::NoTarget(master.to_string()));
    }
    let Some(by) = hand_over(ctx, rc, names, sentinels, m, pw).await else {
        return Err(HandoverPending::NotYet(master.to_string()));
    };
    let note = format!(
        "handover requested (kubectl picket failover): master {master} fenced with its replicas caught up; sentinel {by} fails over to a replica in sync"
    );
    ctx.recorder
        .publish(rc, Kind::Normal, "Handover", "Failover", &note)
        .await;
    Ok(())
}

/// A scale-down below the master's ordinal: the pods to be removed are
/// made unpromotable (`replica-priority 0`), and once every sentinel sees
/// that and knows a kept replica in sync, the master hands over to one of
/// the kept. The Progressing message.
pub async fn hand_over_before_scale_down(
    rc: &ReplicatedCache,
    ctx: &Ctx,
    names: &Names,
    data: &[DataPod],
    sentinels: &[SentinelView],
    master: &str,
    pw: &str,
) -> String {
    let keep = rc.spec.replicas;
    let host = names.data_host(master);
    let Some(m) = data.iter().find(|p| p.name == master) else {
        return format!("scaling down: master {master} not observed");
    };
    let doomed: Vec<&DataPod> = data
        .iter()
        .filter(|p| p.ordinal >= keep && p.name != master)
        .collect();
    for p in &doomed {
        let Some(ip) = &p.ip else { continue };
        let addr = format!("{ip}:{DATA_PORT}");
        let prio = client::command(&addr, Some(pw), &["CONFIG", "GET", "replica-priority"]).await;
        if !matches!(prio, Ok(r) if client::strings(&r).get(1).map(String::as_str) == Some("0")) {
            let _ =
                client::command(&addr, Some(pw), &["CONFIG", "SET", "replica-priority", "0"]).await;
        }
    }
    let doomed_hosts: Vec<String> = doomed.iter().map(|p| names.data_host(&p.name)).collect();
    let seen = sentinels.iter().all(|s| {
        s.replicas
            .iter()
            .filter(|h| doomed_hosts.contains(h))
            .all(|h| s.unpromotable.contains(h))
    });
    if !seen {
        return format!(
            "scaling down to {keep}: waiting for the sentinels to see the removed replicas as unpromotable before master {master} hands over"
        );
    }
    if !target_ready(data, m, &host, sentinels, |p| p.ordinal < keep) {
        return format!(
            "scaling down to {keep}: waiting for a kept replica in sync that the sentinels know, to hand master {master} over to"
        );
    }
    if let Some(by) = hand_over(ctx, rc, names, sentinels, m, pw).await {
        let note = format!(
            "master {master} would be removed by the scale-down to {keep} data pods: asked sentinel {by} to hand over to a kept replica first"
        );
        ctx.recorder
            .publish(rc, Kind::Normal, "Handover", "Failover", &note)
            .await;
    }
    format!("scaling down to {keep}: handing over from master {master} first")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::fixtures::*;

    /// The rollout's input for a 3-pod cache with master c-0, three
    /// sentinels knowing both replicas, and the StatefulSets at `rev`.
    fn rolling(
        rc: &ReplicatedCache,
        names: &Names,
        obs: &super::super::observe::Observed,
        service_ok: bool,
    ) -> Step {
        rollout_step(&RollInput {
            rc,
            names,
            data: &obs.data,
            sentinels: &obs.sentinels,
            master: "c-0",
            data_revision: obs.data_revision.clone(),
            sentinel_revision: obs.sentinel_revision.clone(),
            service_ok,
            pw: &obs.pw,
        })
    }

    fn three(rev: &str) -> super::super::observe::Observed {
        let mut o = observed(
            vec![master(0, 10), replica(1, 0, 10), replica(2, 0, 10)],
            vec![
                sentinel(0, 0, &[1, 2], 2),
                sentinel(1, 0, &[1, 2], 2),
                sentinel(2, 0, &[1, 2], 2),
            ],
        );
        o.data_revision = Some(rev.into());
        o.sentinel_revision = Some(rev.into());
        o
    }

    #[test]
    fn a_rollout_restarts_sentinels_first_then_replicas_then_hands_over_the_master() {
        let rc = cache("replicas: 3\nsentinels: 3\n", Some(recorded(0, "r1", 10)));
        let names = Names::of(&rc);
        let mut obs = three("rev2");
        assert!(
            matches!(rolling(&rc, &names, &obs, true), Step::Restart { ref pod, .. } if pod == "c-sentinel-2")
        );
        for s in &mut obs.sentinels {
            s.revision = Some("rev2".into());
        }
        assert!(
            matches!(rolling(&rc, &names, &obs, true), Step::Restart { ref pod, .. } if pod == "c-2")
        );
        for p in &mut obs.data[1..] {
            p.revision = Some("rev2".into());
        }
        assert_eq!(
            rolling(&rc, &names, &obs, true),
            Step::Handover { from: "c-0".into() }
        );
        obs.data[0].revision = Some("rev2".into());
        assert_eq!(rolling(&rc, &names, &obs, true), Step::Done);
    }

    #[test]
    fn a_rollout_waiting_past_its_step_timeout_is_stalled() {
        let rc = cache(
            "replicas: 3\nsentinels: 3\nrolloutStepTimeoutSeconds: 60\n",
            Some(recorded(0, "r1", 10)),
        );
        let names = Names::of(&rc);
        let mut obs = three("rev2");
        for s in &mut obs.sentinels {
            s.revision = Some("rev2".into());
        }
        // The master Service does not point at the master yet: the data
        // pods wait.
        let Step::Wait(why) = rolling(&rc, &names, &obs, false) else {
            panic!("not a wait")
        };
        assert_eq!(why, "the master Service does not point at c-0 yet");
        let last = "restarting c-sentinel-0";
        assert_eq!(stalled(&rc, last, Duration::from_secs(59), &why), None);
        let Some(Rolled::Stalled(msg)) = stalled(&rc, last, Duration::from_secs(61), &why) else {
            panic!("not stalled")
        };
        assert_eq!(
            msg,
            "rollout stopped: the master Service does not point at c-0 yet, more than 60 s after restarting c-sentinel-0 (rolloutStepTimeoutSeconds)"
        );
        // A replica out of sync stops the rollout too.
        obs.data[2].link_up = false;
        assert!(matches!(rolling(&rc, &names, &obs, true), Step::Wait(_)));
    }

    #[test]
    fn replicas_are_caught_up_when_every_offset_is_the_masters() {
        let info = "role:master\r\nconnected_slaves:2\r\n\
            slave0:ip=a,port=6379,state=online,offset=120,lag=0\r\n\
            slave1:ip=b,port=6379,state=online,offset=100,lag=0\r\n\
            master_repl_offset:120\r\n";
        assert!(!replicas_caught_up(info));
        assert!(replicas_caught_up(
            &info.replace("offset=100", "offset=120")
        ));
        assert!(!replicas_caught_up("role:master\r\n"));
    }

    fn pod(name: &str, master: bool, host: &str, link: bool, offset: i64) -> DataPod {
        DataPod {
            name: name.into(),
            ready: true,
            is_master: Some(master),
            master_host: (!master).then(|| host.to_string()),
            link_up: link,
            offset: Some(offset),
            ..Default::default()
        }
    }

    #[test]
    fn a_replica_is_healthy_once_linked_to_the_master_and_caught_up() {
        let h = "c-0.c-headless";
        let m = pod("c-0", true, "", false, 5_000_000);
        assert_eq!(data_health(&m, &m, h), None);
        assert_eq!(
            data_health(&pod("c-1", false, h, true, 4_999_000), &m, h),
            None
        );
        assert!(data_health(&pod("c-1", false, h, false, 0), &m, h).is_some());
        assert!(data_health(&pod("c-1", false, "picket.invalid", false, 0), &m, h).is_some());
        assert!(data_health(&pod("c-1", false, h, true, 1_000), &m, h).is_some());
        assert!(data_health(&pod("c-1", true, h, false, 0), &m, h).is_some());
        let mut not_ready = pod("c-1", false, h, true, 5_000_000);
        not_ready.ready = false;
        assert!(data_health(&not_ready, &m, h).is_some());
    }
}
