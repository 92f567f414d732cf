//! picket-operator: runs the ReplicatedCache controller.
//!
//!   picket-operator [--server-image IMAGE] [--http-addr HOST:PORT]
//!
//! `--http-addr` (default 127.0.0.1:8080) serves /metrics, /healthz and
//! /readyz; in a cluster the Deployment sets 0.0.0.0:8080.
//!
//! The cluster comes from KUBECONFIG / ~/.kube/config for local runs, or
//! the in-cluster ServiceAccount. Logs with tracing (RUST_LOG).

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{watcher, Controller};
use kube::{Api, Client, ResourceExt};
use picket::operator::controller::{self, Ctx, Metrics};
use picket::operator::crd::ReplicatedCache;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube=warn".into()),
        )
        .init();
    let mut image = format!("picket.local/picket-server:{}", env!("CARGO_PKG_VERSION"));
    let mut http_addr: std::net::SocketAddr = "127.0.0.1:8080".parse()?;
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
    rt.block_on(run(image, http_addr))
}

async fn run(image: String, http_addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let client = Client::try_default().await?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), server_image = %image, "picket-operator starting");
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        default_image: image,
        metrics: Arc::new(Metrics::default()),
        switch_lock: Default::default(),
    });
    let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bound =
        picket::operator::http::spawn(http_addr, ctx.metrics.clone(), ready.clone()).await?;
    tracing::info!(addr = %bound, "serving /metrics, /healthz, /readyz");
    tokio::spawn(picket::operator::events::run(ctx.clone()));
    let caches: Api<ReplicatedCache> = Api::all(client.clone());
    let wc = watcher::Config::default();
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=picket-operator");
    ready.store(true, std::sync::atomic::Ordering::Relaxed);
    Controller::new(caches, wc.clone())
        .owns(Api::<StatefulSet>::all(client.clone()), owned.clone())
        .owns(Api::<Service>::all(client.clone()), owned.clone())
        .owns(Api::<ConfigMap>::all(client.clone()), owned.clone())
        .watches(
            Api::<Pod>::all(client.clone()),
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
    tracing::info!("picket-operator stopped");
    Ok(())
}
