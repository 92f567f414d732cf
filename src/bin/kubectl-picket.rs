//! kubectl-picket: the `kubectl picket` plugin (put it on PATH).
//!
//!   kubectl picket status <name>     the topology as picket sees it
//!   kubectl picket failover <name>   a confirmed manual handover
//!   kubectl picket cli <name> [-- redis-cli args]
//!                                    redis-cli on the master, with the
//!                                    password from the Secret
//!
//! kubectl's flags: -n/--namespace, --context, --kubeconfig. Pods are
//! reached at their IPs when this machine can (inside the cluster's
//! network, or on the test bed), else through `kubectl port-forward`.

use std::io::BufRead;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, ResourceExt};
use picket::operator::builder::{self, Names, DATA_PORT, SENTINEL_PORT};
use picket::operator::client::{self, Reply};
use picket::operator::crd::{ReplicatedCache, HANDOVER};
use picket::operator::inspect::{self, DataLine, SentinelLine};
use picket::operator::observe::pod_ready;

#[derive(Parser)]
#[command(
    name = "kubectl picket",
    version,
    about = "Inspect and operate picket's ReplicatedCaches"
)]
struct Cli {
    /// The namespace (default: the kubeconfig context's).
    #[arg(short, long, global = true)]
    namespace: Option<String>,
    /// The kubeconfig context.
    #[arg(long, global = true)]
    context: Option<String>,
    /// The kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or
    /// in-cluster).
    #[arg(long, global = true)]
    kubeconfig: Option<String>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Master, replicas (link, lag), each sentinel's view, quorum, last
    /// failover.
    Status { name: String },
    /// Ask the operator for a confirmed handover (the master fenced, its
    /// replicas caught up, SENTINEL FAILOVER) and wait for the new master.
    Failover {
        name: String,
        /// How long to wait for the new master, in seconds.
        #[arg(long, default_value_t = 90)]
        timeout: u64,
    },
    /// redis-cli on the master (extra arguments after `--` go to
    /// redis-cli: a command, or options).
    Cli {
        name: String,
        #[arg(last = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where the cluster is and how kubectl reaches it.
struct Target {
    client: Client,
    namespace: String,
    /// kubectl's flags for the same cluster and namespace.
    kubectl_flags: Vec<String>,
}

async fn target(cli: &Cli) -> anyhow::Result<Target> {
    let opts = KubeConfigOptions {
        context: cli.context.clone(),
        ..Default::default()
    };
    let config = match &cli.kubeconfig {
        Some(path) => Config::from_custom_kubeconfig(Kubeconfig::read_from(path)?, &opts).await?,
        None if cli.context.is_some() => Config::from_kubeconfig(&opts).await?,
        None => Config::infer().await?,
    };
    let namespace = cli
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let mut kubectl_flags = vec!["--namespace".to_string(), namespace.clone()];
    if let Some(c) = &cli.context {
        kubectl_flags.extend(["--context".to_string(), c.clone()]);
    }
    if let Some(k) = &cli.kubeconfig {
        kubectl_flags.extend(["--kubeconfig".to_string(), k.clone()]);
    }
    Ok(Target {
        client: Client::try_from(config)?,
        namespace,
        kubectl_flags,
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let t = target(&cli).await?;
    let caches: Api<ReplicatedCache> = Api::namespaced(t.client.clone(), &t.namespace);
    let name = match &cli.command {
        Cmd::Status { name } | Cmd::Failover { name, .. } | Cmd::Cli { name, .. } => name,
    };
    let Some(rc) = caches.get_opt(name).await? else {
        anyhow::bail!(
            "replicatedcache {name} not found in namespace {}",
            t.namespace
        );
    };
    match &cli.command {
        Cmd::Status { .. } => {
            let pw = password(&t, &rc).await?;
            let (data, sentinels) = gather(&t, &rc, &pw).await?;
            print!("{}", inspect::render(&rc, &data, &sentinels));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Failover { timeout, .. } => failover(&caches, &rc, *timeout).await,
        Cmd::Cli { args, .. } => {
            let pw = password(&t, &rc).await?;
            let master = rc
                .status
                .as_ref()
                .and_then(|s| s.master.clone())
                .ok_or_else(|| anyhow::anyhow!("{name} has no master yet (see its status)"))?;
            let pods: Api<Pod> = Api::namespaced(t.client.clone(), &t.namespace);
            let ip = pods.get(&master).await?.status.and_then(|s| s.pod_ip);
            let reach = Reach::open(&t, &master, ip.as_deref(), DATA_PORT).await?;
            let (host, port) = reach.addr.rsplit_once(':').unwrap_or(("127.0.0.1", "6379"));
            let status = Command::new("redis-cli")
                .args(["-h", host, "-p", port])
                .args(args)
                .env("REDISCLI_AUTH", &pw)
                .status()
                .map_err(|e| anyhow::anyhow!("running redis-cli: {e} (is it installed?)"))?;
            drop(reach);
            Ok(if status.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// The password from the cache's Secret; during a rotation whose first
/// phase has not reached every pod, the one the pods still require.
async fn password(t: &Target, rc: &ReplicatedCache) -> anyhow::Result<String> {
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &t.namespace);
    let read = |s: &Secret, key: &str| {
        s.data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
    };
    let (name, key) = builder::password_ref(rc);
    let secret = secrets
        .get_opt(&name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("Secret {name} not found"))?;
    let pw = read(&secret, &key).ok_or_else(|| anyhow::anyhow!("Secret {name} has no {key}"))?;
    let rotating = rc
        .status
        .as_ref()
        .and_then(|s| s.password_rotation.as_ref())
        .is_some_and(|r| r.both_accepted_since.is_none());
    if rotating {
        let state = secrets.get_opt(&Names::of(rc).auth_state()).await?;
        if let Some(old) = state.as_ref().and_then(|s| read(s, "password")) {
            return Ok(old);
        }
    }
    Ok(pw)
}

/// A pod's port reached directly, or through `kubectl port-forward` (the
/// child is stopped when dropped).
struct Reach {
    addr: String,
    forward: Option<Child>,
}

impl Reach {
    async fn open(t: &Target, pod: &str, ip: Option<&str>, port: u16) -> anyhow::Result<Reach> {
        if let Some(ip) = ip {
            let addr = format!("{ip}:{port}");
            let direct = tokio::time::timeout(
                Duration::from_millis(700),
                tokio::net::TcpStream::connect(&addr),
            )
            .await;
            if matches!(direct, Ok(Ok(_))) {
                return Ok(Reach {
                    addr,
                    forward: None,
                });
            }
        }
        let mut child = Command::new("kubectl")
            .args(&t.kubectl_flags)
            .args(["port-forward", &format!("pod/{pod}"), &format!(":{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| anyhow::anyhow!("kubectl port-forward: {e}"))?;
        let out = child.stdout.take().expect("piped stdout");
        // "Forwarding from 127.0.0.1:41234 -> 6379"
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(out).read_line(&mut line);
            line
        });
        let line = tokio::time::timeout(Duration::from_secs(10), line).await;
        let local = line.ok().and_then(|l| l.ok()).and_then(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("127.0.0.1:"))
                .map(str::to_string)
        });
        match local {
            Some(addr) => Ok(Reach {
                addr,
                forward: Some(child),
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("{pod}:{port} is not reachable, directly or by kubectl port-forward")
            }
        }
    }
}

impl Drop for Reach {
    fn drop(&mut self) {
        if let Some(c) = &mut self.forward {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What every data pod and sentinel of `rc` says.
async fn gather(
    t: &Target,
    rc: &ReplicatedCache,
    pw: &str,
) -> anyhow::Result<(Vec<DataLine>, Vec<SentinelLine>)> {
    let names = Names::of(rc);
    let pods: Api<Pod> = Api::namespaced(t.client.clone(), &t.namespace);
    let of =
        |component: &str| ListParams::default().labels(&builder::list_selector(&names, component));
    let mut data_pods = pods.list(&of("data")).await?.items;
    data_pods.sort_by_key(|p| ordinal(&p.name_any()));
    let mut sentinel_pods = pods.list(&of("sentinel")).await?.items;
    sentinel_pods.sort_by_key(|p| ordinal(&p.name_any()));
    let ip = |p: &Pod| p.status.as_ref().and_then(|s| s.pod_ip.clone());

    let mut data = Vec::new();
    for p in &data_pods {
        let name = p.name_any();
        let asked = async {
            let reach = Reach::open(t, &name, ip(p).as_deref(), DATA_PORT)
                .await
                .map_err(|e| e.to_string())?;
            let info = client::command(&reach.addr, Some(pw), &["INFO", "replication"]);
            match info.await.map_err(|e| e.to_string())? {
                Reply::Bulk(Some(b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
                other => Err(format!("INFO: {other:?}")),
            }
        };
        data.push(match asked.await {
            Ok(info) => DataLine::from_info(&name, pod_ready(p), &info),
            Err(e) => DataLine {
                name,
                ready: pod_ready(p),
                error: Some(e),
                ..Default::default()
            },
        });
    }

    let set = names.master_set();
    let mut sentinels = Vec::new();
    for p in &sentinel_pods {
        let name = p.name_any();
        let asked = async {
            let reach = Reach::open(t, &name, ip(p).as_deref(), SENTINEL_PORT)
                .await
                .map_err(|e| e.to_string())?;
            let mut c = client::Conn::open(&reach.addr, Some(pw))
                .await
                .map_err(|e| e.to_string())?;
            let master = c.call(&["SENTINEL", "MASTER", &set]).await;
            let kv = match master.map_err(|e| e.to_string())? {
                r @ Reply::Array(Some(_)) => client::strings(&r),
                Reply::Error(e) => return Err(e),
                other => return Err(format!("SENTINEL MASTER: {other:?}")),
            };
            let host = c
                .call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &set])
                .await
                .ok()
                .and_then(|r| client::strings(&r).first().cloned());
            let ck = match c.call(&["SENTINEL", "CKQUORUM", &set]).await {
                Ok(Reply::Status(s)) => Some(s),
                Ok(Reply::Error(e)) => Some(e),
                _ => None,
            };
            Ok::<_, String>((kv, host, ck))
        };
        sentinels.push(match asked.await {
            Ok((kv, host, ck)) => {
                SentinelLine::from_replies(&name, pod_ready(p), &kv, host.as_deref(), ck)
            }
            Err(e) => SentinelLine {
                name,
                ready: pod_ready(p),
                error: Some(e),
                ..Default::default()
            },
        });
    }
    Ok((data, sentinels))
}

fn ordinal(pod: &str) -> i32 {
    pod.rsplit('-')
        .next()
        .and_then(|o| o.parse().ok())
        .unwrap_or(0)
}

/// Sets the handover annotation to a new token and waits until the
/// operator handled it and the status names another master.
async fn failover(
    caches: &Api<ReplicatedCache>,
    rc: &ReplicatedCache,
    timeout: u64,
) -> anyhow::Result<ExitCode> {
    let name = rc.name_any();
    let old = rc
        .status
        .as_ref()
        .and_then(|s| s.master.clone())
        .ok_or_else(|| anyhow::anyhow!("{name} has no master yet: nothing to hand over"))?;
    let token = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .to_string();
    let patch = serde_json::json!({"metadata": {"annotations": {HANDOVER: token}}});
    caches
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    println!("asked for a handover from master {old}");
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < Duration::from_secs(timeout) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(now) = caches.get_opt(&name).await? else {
            anyhow::bail!("{name} was deleted");
        };
        let st = now.status.clone().unwrap_or_default();
        let progressing = st
            .conditions
            .iter()
            .find(|c| c.type_ == "Progressing" && c.status == "True")
            .map(|c| c.message.clone())
            .unwrap_or_default();
        if !progressing.is_empty() && progressing != last {
            println!("  {progressing}");
            last = progressing;
        }
        let handled = st.handover_request.as_deref() == Some(token.as_str());
        if let Some(new) = st.master.as_ref().filter(|m| **m != old && handled) {
            println!(
                "master {old} -> {new} in {:.1} s{}",
                start.elapsed().as_secs_f64(),
                st.last_switch_latency_ms
                    .map(|ms| format!(" (Service switched in {ms} ms)"))
                    .unwrap_or_default()
            );
            return Ok(ExitCode::SUCCESS);
        }
    }
    eprintln!(
        "no new master within {timeout} s (see kubectl describe rcache {name}); the request stays until the operator can hand over"
    );
    Ok(ExitCode::FAILURE)
}
