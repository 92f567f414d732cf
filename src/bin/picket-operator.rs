//! picket-operator: runs the ReplicatedCache controller.
//!
//!   picket-operator [--server-image IMAGE] [--http-addr HOST:PORT]
//!                   [--no-leader-elect] [--lease-namespace NS]
//!                   [--no-sentinel-events] [--plain-rollouts]
//!                   [--namespace NS[,NS...]]...
//!
//! `--http-addr` (default 127.0.0.1:8080) serves /metrics, /healthz and
//! /readyz; in a cluster the Deployment sets 0.0.0.0:8080.
//!
//! Leader election: replicas compete for the Lease `picket-operator` (in
//! `--lease-namespace`, else $POD_NAMESPACE, else `default`); only the
//! holder reconciles and follows the sentinels, the others wait ready to
//! take over within the Lease's 10 s. A leader that loses the Lease, or
//! can't confirm it with the API server for 7 s, exits at once (its pod
//! restarts as a standby); one that is stopped releases it. The identity
//! is $POD_NAME (else host name and PID).
//!
//! `--no-sentinel-events` leaves out the sentinels' event subscriptions:
//! the master Service then moves only when a reconcile finds the change,
//! as polling operators do (benches/operator-failover.sh compares both).
//!
//! `--plain-rollouts` leaves pod changes to Kubernetes: both StatefulSets
//! `RollingUpdate`, no orchestrated steps, no preStop handover (what the
//! same pods give without picket's day-2 orchestration;
//! benches/day2.sh compares both).
//!
//! `--namespace` (repeatable, or a comma-separated list; also
//! $WATCH_NAMESPACES) limits the operator to those namespaces, so it
//! needs a Role in each instead of a ClusterRole (the Helm chart's
//! `watchNamespaces`); without it every namespace is watched.
//!
//! The cluster comes from KUBECONFIG / ~/.kube/config for local runs, or
//! the in-cluster ServiceAccount. Logs with tracing (RUST_LOG).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, ResourceExt};
use kube_lease_manager::LeaseManagerBuilder;
use picket::operator::controller::{self, Ctx};
use picket::operator::crd::ReplicatedCache;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube=warn".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let mut image = format!("picket.local/picket-server:{}", env!("CARGO_PKG_VERSION"));
    let mut http_addr: std::net::SocketAddr = "127.0.0.1:8080".parse()?;
    let mut leader_elect = true;
    let mut sentinel_events = true;
    let mut plain_rollouts = false;
    let mut lease_ns = std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into());
    let mut namespaces: Vec<String> = std::env::var("WATCH_NAMESPACES")
        .unwrap_or_default()
        .split(',')
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--server-image" => {
                image = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--server-image needs a value"))?
            }
            "--http-addr" => {
                let v = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--http-addr needs HOST:PORT"))?;
                http_addr = v
                    .parse()
                    .map_err(|e| anyhow::anyhow!("--http-addr {v}: {e}"))?;
            }
            "--no-leader-elect" => leader_elect = false,
            "--no-sentinel-events" => sentinel_events = false,
            "--plain-rollouts" => plain_rollouts = true,
            "--lease-namespace" => {
                lease_ns = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--lease-namespace needs a value"))?
            }
            "--namespace" => {
                let v = args
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("--namespace needs a value"))?;
                namespaces.extend(
                    v.split(',')
                        .map(|n| n.trim().to_string())
                        .filter(|n| !n.is_empty()),
                );
            }
            "--version" => {
                println!("picket-operator {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let lease = leader_elect.then_some(lease_ns);
    namespaces.sort();
    namespaces.dedup();
    rt.block_on(run(
        image,
        http_addr,
        lease,
        sentinel_events,
        plain_rollouts,
        namespaces,
    ))
}

/// The Lease the operator's replicas compete for.
const LEASE: &str = "picket-operator";
/// Its duration; the holder renews it `GRACE_SECS` before it ends.
const LEASE_SECS: u64 = 10;
const GRACE_SECS: u64 = 3;

/// SIGTERM or SIGINT.
async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn identity() -> String {
    if let Some(pod) = std::env::var("POD_NAME").ok().filter(|s| !s.is_empty()) {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}-{}", std::process::id())
}

async fn run(
    image: String,
    http_addr: std::net::SocketAddr,
    lease_ns: Option<String>,
    sentinel_events: bool,
    plain_rollouts: bool,
    namespaces: Vec<String>,
) -> anyhow::Result<()> {
    let client = Client::try_default().await?;
    let me = identity();
    let watching = if namespaces.is_empty() {
        "all".to_string()
    } else {
        namespaces.join(",")
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), server_image = %image, identity = %me, namespaces = %watching, "picket-operator starting");
    let mut ctx = Ctx::new(client.clone(), image, me.clone());
    ctx.plain_rollouts = plain_rollouts;
    ctx.namespaces = namespaces;
    let ctx = Arc::new(ctx);
    let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bound =
        picket::operator::http::spawn(http_addr, ctx.metrics.clone(), ready.clone()).await?;
    tracing::info!(addr = %bound, "serving /metrics, /healthz, /readyz");

    // Leader election: a standby is ready (it serves and waits) but does
    // nothing else until it holds the Lease.
    let mut lease = None;
    if let Some(ns) = lease_ns {
        let manager = LeaseManagerBuilder::new(client.clone(), LEASE)
            .with_namespace(&ns)
            .with_identity(&me)
            .with_duration(LEASE_SECS)
            .with_grace(GRACE_SECS)
            .build()
            .await?;
        let (mut held, task) = manager.watch().await;
        ready.store(true, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(lease = LEASE, namespace = %ns, "waiting for the leader Lease");
        while !*held.borrow_and_update() {
            tokio::select! {
                r = held.changed() => r.map_err(|_| anyhow::anyhow!("the Lease manager stopped"))?,
                _ = stop_signal() => {
                    drop(held);
                    let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
                    tracing::info!("picket-operator stopped (standby)");
                    return Ok(());
                }
            }
        }
        tracing::info!(lease = LEASE, "leading");
        // Losing the Lease ends the process: a standby holds it now, and
        // two active operators must never act at once.
        let mut lost = held.clone();
        let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
        let me2 = me.clone();
        let watch = tokio::spawn(async move {
            // The Lease manager keeps retrying a renewal the API server
            // doesn't answer; a leader cut off that way must stop before
            // the Lease expires and a standby takes it.
            let mut confirmed = tokio::time::Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            loop {
                tokio::select! {
                    r = lost.changed() => if r.is_err() || !*lost.borrow_and_update() {
                        tracing::error!("lost the leader Lease; exiting");
                        std::process::exit(1);
                    },
                    _ = tick.tick() => match leases.get(LEASE).await {
                        Ok(l) if l.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(me2.as_str()) => {
                            confirmed = tokio::time::Instant::now();
                        }
                        Ok(_) => {
                            tracing::error!("the leader Lease names another holder; exiting");
                            std::process::exit(1);
                        }
                        Err(e) if confirmed.elapsed() > Duration::from_secs(LEASE_SECS - GRACE_SECS) => {
                            tracing::error!("the leader Lease could not be confirmed for {} s ({e}); exiting", LEASE_SECS - GRACE_SECS);
                            std::process::exit(1);
                        }
                        Err(_) => {}
                    },
                }
            }
        });
        lease = Some((held, task, watch));
    }
    ctx.metrics
        .leader
        .store(1, std::sync::atomic::Ordering::Relaxed);
    if sentinel_events {
        tokio::spawn(picket::operator::switch::run(ctx.clone()));
    }
    ready.store(true, std::sync::atomic::Ordering::Relaxed);
    // One controller per watched namespace (or one for all), sharing the
    // context: a cache's reconciles never run twice at once, as each cache
    // is in exactly one namespace.
    let targets: Vec<Option<String>> = if ctx.namespaces.is_empty() {
        vec![None]
    } else {
        ctx.namespaces.iter().cloned().map(Some).collect()
    };
    let controllers = targets
        .into_iter()
        .map(|ns| controller_for(client.clone(), ns, ctx.clone()));
    futures::future::join_all(controllers).await;
    if let Some((held, task, watch)) = lease {
        // Stopped (SIGTERM): hand the Lease back.
        watch.abort();
        drop(held);
        let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
    }
    tracing::info!("picket-operator stopped");
    Ok(())
}

/// The ReplicatedCache controller for namespace `ns` (every namespace
/// when none); runs until SIGTERM.
async fn controller_for(client: Client, ns: Option<String>, ctx: Arc<Ctx>) {
    fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=picket-operator");
    Controller::new(
        api::<ReplicatedCache>(&client, &ns),
        watcher::Config::default(),
    )
    .owns(api::<StatefulSet>(&client, &ns), owned.clone())
    .owns(api::<Service>(&client, &ns), owned.clone())
    .owns(api::<ConfigMap>(&client, &ns), owned.clone())
    .watches(
        api::<Pod>(&client, &ns),
        watcher::Config::default().labels("app.kubernetes.io/name=picket"),
        |pod: Pod| {
            let ns = pod.namespace()?;
            controller::cache_of(pod.labels()).map(|n| ObjectRef::new(&n).within(&ns))
        },
    )
    .shutdown_on_signal()
    .run(controller::reconcile, controller::error_policy, ctx)
    .for_each(|r| async move {
        if let Err(e) = r {
            tracing::debug!("reconcile: {e}");
        }
    })
    .await;
}
