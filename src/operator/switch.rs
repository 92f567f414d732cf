//! The fast path of a failover: the operator subscribes to every
//! sentinel's events and, on `+switch-master`, checks that the new master
//! says `role:master` and writes the master Service's EndpointSlice with
//! its address alone: one write replaces the old address with the new
//! one, so the Service never has two masters, and it happens within
//! milliseconds of the event instead of at the next reconcile. Clients
//! still connected to the demoted node are disconnected (CLIENT KILL TYPE
//! normal) so they reconnect through the Service. The periodic reconcile
//! remains the backstop that re-derives the truth from the sentinels.
//!
//! The sentinels' other events that matter to people (a master or replica
//! down, odown, the failover's steps, TILT) become Kubernetes Events on the
//! cache, once however many sentinels report them.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use super::apply;
use super::builder::{self, Names, DATA_PORT, SENTINEL_PORT};
use super::client;
use super::controller::{self, Ctx};
use super::crd::ReplicatedCache;
use super::decide;
use super::observe;
use super::recorder::Kind;

/// Keeps one event subscription per sentinel pod of every cache, checked
/// every two seconds; runs until the process ends.
pub async fn run(ctx: Arc<Ctx>) {
    let mut subs: HashMap<(String, String, String), tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        subs.retain(|_, h| !h.is_finished());
        let mut wanted = Vec::new();
        let mut found = Vec::new();
        for caches in ctx.apis::<ReplicatedCache>() {
            if let Ok(list) = caches.list(&ListParams::default()).await {
                found.extend(list.items);
            }
        }
        for rc in found {
            let names = Names::of(&rc);
            let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &names.namespace);
            let lp = ListParams::default().labels(&builder::list_selector(&names, "sentinel"));
            let Ok(sentinels) = pods.list(&lp).await else {
                continue;
            };
            for p in sentinels.items {
                let Some(ip) = observe::pod_ip(&p) else {
                    continue;
                };
                wanted.push((
                    (names.namespace.clone(), names.cache.clone(), ip),
                    rc.clone(),
                ));
            }
        }
        let keys: Vec<_> = wanted.iter().map(|(k, _)| k.clone()).collect();
        subs.retain(|k, h| {
            let keep = keys.contains(k);
            if !keep {
                h.abort();
            }
            keep
        });
        for (key, rc) in wanted {
            if subs.contains_key(&key) {
                continue;
            }
            let Ok(pw) = observe::password(&rc, &key.0, &ctx).await else {
                continue;
            };
            let ctx = ctx.clone();
            let ip = key.2.clone();
            let h = tokio::spawn(async move {
                if let Err(e) = subscribe(ctx, &rc, &ip, &pw).await {
                    tracing::debug!(sentinel = %ip, "event subscription ended: {e}");
                }
            });
            subs.insert(key, h);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Follows one sentinel's events until its connection ends.
async fn subscribe(
    ctx: Arc<Ctx>,
    rc: &ReplicatedCache,
    ip: &str,
    pw: &str,
) -> Result<(), client::ClientError> {
    let names = Names::of(rc);
    let mut c = client::Conn::open(&format!("{ip}:{SENTINEL_PORT}"), Some(pw)).await?;
    c.call(&["PSUBSCRIBE", "*"]).await?;
    let mut pinged = false;
    loop {
        let msg = match c.read_within(Duration::from_secs(30)).await {
            Ok(m) => m,
            // Quiet is normal; a dead sentinel's link is found by PING,
            // whose pong arrives in order with the messages (never read
            // in their place).
            Err(e) if e.is_reply_timeout() && !pinged => {
                c.send(&["PING"]).await?;
                pinged = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        pinged = false;
        let parts = client::strings(&msg);
        let (channel, payload) = match parts.as_slice() {
            [kind, _, ch, p] if kind == "pmessage" => (ch.clone(), p.clone()),
            _ => continue,
        };
        if channel == "__sentinel__:hello" {
            continue;
        }
        tracing::info!(cache = %names.cache, sentinel = %ip, "{channel} {payload}");
        if channel == "+switch-master" {
            let f: Vec<&str> = payload.split(' ').collect();
            if f.len() == 5 && f[0] == names.master_set() {
                let seen = Instant::now();
                switch(&ctx, rc, &names, f[1], f[3], pw, seen).await;
            }
        } else if let Some((warning, reason)) = decide::sentinel_event(&channel, &payload) {
            // Published off this loop: a +switch-master behind it must not
            // wait for the API server.
            let (ctx, rc) = (ctx.clone(), rc.clone());
            let kind = if warning { Kind::Warning } else { Kind::Normal };
            tokio::spawn(async move {
                let note = format!("sentinel event {channel} {payload}");
                ctx.recorder
                    .publish(&rc, kind, reason, "SentinelEvent", &note)
                    .await;
            });
        }
    }
}

/// Points the master Service at `new_host`'s pod once it says it is
/// master; disconnects the clients of `old_host`.
async fn switch(
    ctx: &Ctx,
    rc: &ReplicatedCache,
    names: &Names,
    old_host: &str,
    new_host: &str,
    pw: &str,
    seen: Instant,
) {
    let caches: Api<ReplicatedCache> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let now = caches.get_opt(&rc.name_any()).await.ok().flatten();
    if now.is_some_and(|c| c.paused()) {
        tracing::info!(cache = %names.cache, "paused: the master Service is not moved");
        return;
    }
    let new_pod = decide::pod_of_host(new_host).to_string();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let Some(ip) = ip_of(&pods, &new_pod).await else {
        return;
    };
    // The password this subscription opened with may have been rotated
    // away since (its own connection stays logged in): the Secret's
    // current one is tried before giving up.
    let fresh;
    let pw = if observe::says_master(&ip, pw).await {
        pw
    } else {
        match observe::password(rc, &names.namespace, ctx).await {
            Ok(p) if p != pw && observe::says_master(&ip, &p).await => {
                fresh = p;
                fresh.as_str()
            }
            _ => return,
        }
    };
    let slice = apply::endpoint_slice(rc, names, &names.cache, &[ip]);
    let api = Api::namespaced(ctx.client.clone(), &names.namespace);
    // One write per switch (every sentinel reports it); held only around
    // the write, so nothing slow (a dead old master) holds other caches.
    let written = {
        let _one_at_a_time = ctx.switch_lock.lock().await;
        apply::apply(&api, slice, &ctx.metrics).await
    };
    match written {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(cache = %names.cache, "switching the master Service: {e}");
            return;
        }
    }
    let ms = seen.elapsed().as_millis() as i64;
    ctx.metrics.failovers.fetch_add(1, Ordering::Relaxed);
    ctx.metrics.record_switch(ms);
    tracing::info!(cache = %names.cache, master = %new_pod, latency_ms = ms, "master Service switched");
    // The demoted node's clients reconnect through the Service.
    let old_pod = decide::pod_of_host(old_host).to_string();
    if let Some(old_ip) = ip_of(&pods, &old_pod).await {
        let _ = client::command(
            &format!("{old_ip}:{DATA_PORT}"),
            Some(pw),
            &["CLIENT", "KILL", "TYPE", "normal"],
        )
        .await;
    }
    let patch = json!({"status": {
        "master": new_pod,
        "masterAddress": format!("{new_host}:{DATA_PORT}"),
        "lastFailoverTime": controller::now_rfc3339(),
        "lastSwitchLatencyMs": ms,
    }});
    let _ = caches
        .patch_status(
            &rc.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await;
    ctx.metrics.writes.fetch_add(1, Ordering::Relaxed);
    let note = format!(
        "the sentinels promoted {new_pod} (was {old_pod}); the master Service points at it alone, {ms} ms after +switch-master"
    );
    ctx.recorder
        .publish(rc, Kind::Normal, "MasterSwitched", "SwitchMaster", &note)
        .await;
}

/// A pod's IP, when it exists and has one.
async fn ip_of(pods: &Api<Pod>, name: &str) -> Option<String> {
    let pod = pods.get_opt(name).await.ok().flatten()?;
    observe::pod_ip(&pod)
}
